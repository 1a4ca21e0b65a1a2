#![allow(dead_code)] // each target uses its own check only
//! What each fuzz target does with one input: call the parser an outsider
//! can feed and assert its own invariants (never panicking is the least).
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`) and the stable
//! replay of the corpus and the regressions (`tests/fuzz_corpus.rs`), so
//! that both run the same code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use pam_wpam::{bsdauth, client, config, input, wire};

/// The `wpam check` PAM stack reader, from the binary crate as it is.
#[allow(dead_code)]
#[path = "../src/bin/wpam/pamstack.rs"]
pub mod pamstack;
/// What pamstack.rs takes from its sibling module (`super::services`).
#[path = "../src/bin/wpam/services.rs"]
pub mod services;

/// One target's check of one input.
pub type Check = fn(&[u8]);

/// The targets, by the names of `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("wire", wire),
    ("config", config),
    ("input", input),
    ("pamstack", pamstack),
    ("bsdauth", bsdauth),
    ("connect_answer", connect_answer),
];

/// The Werbot API's answer body: only exactly `"status":"success"` grants,
/// and what was parsed survives a JSON round trip.
pub fn wire(data: &[u8]) {
    let Ok(r) = wire::Response::parse(data) else {
        return;
    };
    assert_eq!(r.is_success(), r.status == "success");
    let again = serde_json::json!({"status": r.status, "reason": r.reason, "intent": r.intent});
    let bytes = serde_json::to_vec(&again).expect("a parsed answer serializes");
    let back = wire::Response::parse(&bytes).expect("a re-serialized answer parses");
    assert_eq!(back, r);
}

/// A private directory for the files a check writes (config file, PAM
/// policies): one per process and call, removed by the caller.
fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wpam-fuzz-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("scratch file");
    f.write_all(bytes).expect("scratch write");
}

/// The config file and the pam.d arguments: input is `FILE\0ARG\0ARG...`;
/// the file (when not empty) is read through `config=` as a root-only file
/// (`read_config_file`), the arguments as the pam.d line gives them. Each
/// argument's value is also fed to the value parsers on its own.
pub fn config(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let file = parts.next().unwrap_or_default();
    // PAM hands arguments over as C strings; the module takes them as UTF-8.
    let mut args: Vec<String> = parts
        .filter_map(|a| std::str::from_utf8(a).ok())
        // Only the file of this input, never a path the input names.
        .filter(|a| !a.starts_with("config="))
        .map(str::to_string)
        .collect();
    for a in &args {
        let v = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
        let _ = config::parse_server_url(v);
        if let Ok(p) = config::parse_proxy(v, true) {
            assert!(
                p.basic_auth.is_none(),
                "credentials taken from the pam.d line"
            );
        }
        let _ = config::parse_proxy(v, false);
        let _ = config::parse_duration(v);
        if let Some(d) = config::parse_remember(v) {
            assert!(d <= config::MAX_REMEMBER);
        }
    }
    let dir = if file.is_empty() {
        None
    } else {
        let d = scratch("config");
        let path = d.join("wpam.conf");
        write_private(&path, file);
        args.insert(0, format!("config={}", path.display()));
        Some(d)
    };
    let parsed = config::parse(&args);
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
    assert!(parsed.log_file.is_absolute());
    if let Ok(c) = parsed.config {
        assert_eq!(c.debug, parsed.debug);
    }
}

/// The two answers a user types: the Werbot ID and the code.
pub fn input(data: &[u8]) {
    if let Ok(id) = input::werbot_id(data) {
        assert!(!id.is_empty() && id.len() <= input::MAX_ID_BYTES);
        assert_eq!(id.trim_ascii(), id);
        assert_eq!(input::werbot_id(id.as_bytes()).as_deref(), Ok(id.as_str()));
    }
    match input::factor(data) {
        Ok(input::Factor::U2f) => assert!(data.is_empty(), "only an empty answer is U2F"),
        Ok(input::Factor::Totp(code)) => {
            assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
        }
        Err(_) => {}
    }
}

/// `wpam check`'s PAM stack reader: input is `FLAVOR SERVICE\0OTHER\0FILE...`
/// (first byte: even Linux-PAM, odd OpenPAM; bit 1 wpam may ignore; bits 2-7
/// what pam_rootok does), written as the files `svc`,
/// `other`, `a`, `b` of a policy directory, then loaded and walked.
pub fn pamstack(data: &[u8]) {
    use pamstack::{Assume, Flavor, Phase, RootOk};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let flavor = if first % 2 == 0 {
        Flavor::LinuxPam
    } else {
        Flavor::OpenPam
    };
    let d = scratch("pamstack");
    for (name, text) in ["svc", "other", "a", "b"]
        .iter()
        .zip(rest.split(|&b| b == 0))
    {
        write_private(&d.join(name), text);
    }
    let policy = pamstack::load("svc", std::slice::from_ref(&d), flavor);
    let _ = std::fs::remove_dir_all(&d);
    let Ok(policy) = policy else {
        return;
    };
    let _ = policy.broken().count();
    let assume = Assume {
        rootok: [RootOk::Always, RootOk::RootCallerOnly, RootOk::Either]
            [usize::from(first >> 2) % 3],
        wpam_ignores: first & 2 != 0,
        factors_decide: false,
    };
    for phase in Phase::ALL {
        let stack = policy.stack(phase);
        let _ = pamstack::without_a_factor(stack, phase, &assume);
        for (at, e) in stack.iter().enumerate() {
            if e.is_wpam() {
                let _ = pamstack::skippers(stack, phase, at, &assume);
                let _ = pamstack::refusal_overridden(stack, phase, at, &assume);
            }
        }
    }
}

/// The BSD Auth login style: its command line (`\0`-separated), the
/// `challenge\0response\0` back channel, and the value escaping.
pub fn bsdauth(data: &[u8]) {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let args: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    if let Ok(inv) = bsdauth::parse_args(&args) {
        assert!(!inv.user.is_empty() || args.iter().any(|a| a.is_empty()));
        let _ = inv.wheel_refused();
    }
    if let Ok(resp) = bsdauth::read_response(&mut &data[..]) {
        assert!(resp.len() < bsdauth::MAX_RESPONSE);
        assert!(!resp.contains(&0));
    }
    let _ = bsdauth::unvalue(&String::from_utf8_lossy(data));
    if let Ok(s) = std::str::from_utf8(data) {
        let escaped = bsdauth::mkvalue(s);
        assert!(!escaped.contains(['\n', '\r']));
        assert_eq!(bsdauth::unvalue(&escaped), s.as_bytes());
    }
}

/// The proxy's answer to CONNECT: a code only from an `HTTP/1.x NNN`
/// status line.
pub fn connect_answer(data: &[u8]) {
    let (line, code) = client::connect_answer(data);
    assert!(!line.contains('\n'));
    if let Some(c) = code {
        assert!(line.starts_with("HTTP/1."), "{line:?}");
        if c == 200 {
            assert_eq!(line.get(9..12), Some("200"), "{line:?}");
        }
    }
}
