//! The numbers the module hands to PAM, per implementation, against the
//! values in each implementation's header — and the cross-built BSD objects
//! checked with readelf/nm.
//!
//! Linux-PAM and OpenPAM number return codes and PAM_SILENT differently, so
//! a module built with Linux-PAM's numbers would, on FreeBSD or NetBSD,
//! answer PAM_AUTH_ERR (Linux 7) as OpenPAM's PAM_PERM_DENIED (7) and
//! PAM_CONV_ERR (Linux 19) as PAM_SESSION_ERR (19), and never see PAM_SILENT.
//!
//! - This test binary is built with the host's (Linux-PAM) numbering: the
//!   module's values are checked in-process.
//! - `examples/pam_constants.rs` is built with `LIBPAMSYS_IMPL=OpenPam` (what
//!   libpam-sys picks by default for target_os freebsd/netbsd) in a target
//!   dir of its own and its output compared with OpenPAM's values (first run
//!   about 1-2 min, cached after).
//! - libpam-sys's build script is run for the real BSD targets to show that
//!   the cross builds select OpenPAM without any override.

#![cfg(not(target_os = "openbsd"))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/pam_numbers.rs"]
mod pam_numbers;
mod support {
    pub(crate) use super::deadline;
    #[path = "artifacts.rs"]
    pub mod artifacts;
}

use support::artifacts::{artifact, tool, TOOL_LIMIT};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Longest a nested cargo run may take: the first one builds the crate and
/// its dependencies in a target dir of its own (1-2 min on 2 cores, cached
/// after); the margin is for a cold, loaded machine. Under the 10 min that
/// .config/nextest.toml gives each test here, so this one reports first.
const CARGO_LIMIT: Duration = Duration::from_secs(8 * 60);

/// OpenPAM, `include/security/pam_constants.h` (freebsd-src
/// contrib/openpam/include/security/pam_constants.h, the same file in
/// NetBSD's external/bsd/openpam): enums "XSSO 5.2" (return codes),
/// "XSSO 5.3" (message styles), "XSSO 5.4" (flags), "XSSO 5.5" (items).
const OPENPAM: &[(&str, i64)] = &[
    ("PAM_SUCCESS", 0),
    ("PAM_SERVICE_ERR", 3),
    ("PAM_SYSTEM_ERR", 4),
    ("PAM_CONV_ERR", 6),
    ("PAM_AUTH_ERR", 9),
    ("PAM_AUTHINFO_UNAVAIL", 12),
    ("PAM_IGNORE", 25),
    // PAM_SILENT = 0x80000000 in an int enum: INT_MIN as the int the
    // module receives in `flags`.
    ("PAM_SILENT", 0x8000_0000u32 as i32 as i64),
    ("PAM_PROMPT_ECHO_OFF", 1),
    ("PAM_PROMPT_ECHO_ON", 2),
    ("PAM_ERROR_MSG", 3),
    ("PAM_TEXT_INFO", 4),
    ("PAM_CONV", 5),
];

/// Linux-PAM, `libpam/include/security/_pam_types.h` (linux-pam/linux-pam;
/// Debian 12: /usr/include/security/_pam_types.h from libpam0g-dev).
const LINUX_PAM: &[(&str, i64)] = &[
    ("PAM_SUCCESS", 0),
    ("PAM_SERVICE_ERR", 3),
    ("PAM_SYSTEM_ERR", 4),
    ("PAM_AUTH_ERR", 7),
    ("PAM_AUTHINFO_UNAVAIL", 9),
    ("PAM_CONV_ERR", 19),
    ("PAM_IGNORE", 25),
    ("PAM_SILENT", 0x8000),
    ("PAM_PROMPT_ECHO_OFF", 1),
    ("PAM_PROMPT_ECHO_ON", 2),
    ("PAM_ERROR_MSG", 3),
    ("PAM_TEXT_INFO", 4),
    ("PAM_CONV", 5),
];

fn table(t: &[(&str, i64)]) -> BTreeMap<String, i64> {
    t.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// What examples/pam_constants.rs prints, as a map.
fn parse(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn compare(got: &BTreeMap<String, String>, want: &[(&str, i64)], what: &str) {
    for (name, value) in want {
        assert_eq!(
            got.get(*name).map(String::as_str),
            Some(value.to_string().as_str()),
            "{what}: {name}"
        );
    }
}

/// `NAME = value` of the enums in Apple's OpenPAM header
/// (tests/fixtures/apple-openpam/pam_constants.h: OpenPAM-34, unchanged).
fn apple_header() -> BTreeMap<String, i64> {
    let path = Path::new(ROOT).join("tests/fixtures/apple-openpam/pam_constants.h");
    let text = std::fs::read_to_string(&path).expect("Apple's pam_constants.h");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim().trim_end_matches(','));
        if !name.starts_with("PAM_") {
            continue;
        }
        let v = if let Some(hex) = value.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).ok()
        } else if value == "(-0x7fffffff - 1)" {
            // PAM_SILENT, written so "because some compilers promote
            // 0x80000000 to long": INT_MIN.
            Some(-0x7fff_ffff - 1)
        } else {
            value.parse().ok()
        };
        if let Some(v) = v {
            out.insert(name.to_string(), v);
        }
    }
    out
}

/// libpam-sys builds the OpenPAM numbering for target_os macos (checked in
/// bsd_and_macos_builds_select_openpam), so wpam hands Apple's libpam the
/// numbers of [`OPENPAM`]: they must be Apple's too.
#[test]
fn apples_header_has_openpams_numbers() {
    let apple = apple_header();
    assert!(apple.len() > 40, "parsed only {} names", apple.len());
    for (name, value) in OPENPAM {
        assert_eq!(apple.get(*name), Some(value), "{name}");
    }
}

#[test]
fn header_tables_differ_where_it_matters() {
    let (o, l) = (table(OPENPAM), table(LINUX_PAM));
    for name in [
        "PAM_AUTH_ERR",
        "PAM_AUTHINFO_UNAVAIL",
        "PAM_CONV_ERR",
        "PAM_SILENT",
    ] {
        assert_ne!(o[name], l[name], "{name}");
    }
}

#[test]
fn linux_pam_table_matches_the_installed_header() {
    let header = Path::new("/usr/include/security/_pam_types.h");
    let Ok(text) = std::fs::read_to_string(header) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} not installed (libpam0g-dev, ci/install-deps.sh), and CI=true forbids skipping",
            header.display()
        );
        eprintln!("skipped: {} not installed (libpam0g-dev)", header.display());
        return;
    };
    let defines: BTreeMap<&str, i64> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "#define").then_some(())?;
            let name = w.next()?;
            let v = w.next()?.trim_end_matches('U');
            let v = match v.strip_prefix("0x") {
                Some(hex) => i64::from_str_radix(hex, 16).ok()?,
                None => v.parse().ok()?,
            };
            Some((name, v))
        })
        .collect();
    for (name, value) in LINUX_PAM {
        assert_eq!(defines.get(name), Some(value), "{name}");
    }
}

#[test]
fn this_linux_build_returns_linux_pam_numbers() {
    assert_eq!(pam_numbers::implementation(), "LinuxPam");
    let got = pam_numbers::module_numbers()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    compare(&got, LINUX_PAM, "Linux-PAM build");
}

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(ROOT).env_remove("LIBPAMSYS_IMPL");
    c
}

#[test]
fn openpam_build_returns_openpam_numbers() {
    let out = deadline::output(
        cargo()
            .args(["run", "--locked", "--quiet", "--example", "pam_constants"])
            .env("LIBPAMSYS_IMPL", "OpenPam")
            .env(
                "CARGO_TARGET_DIR",
                Path::new(ROOT).join("target/pam-impl-openpam"),
            ),
        CARGO_LIMIT,
        "cargo run --example pam_constants (OpenPAM numbering)",
    )
    .expect("cargo run --example pam_constants");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        got.get("IMPL").map(String::as_str),
        Some("OpenPam"),
        "{got:?}"
    );
    compare(&got, OPENPAM, "OpenPAM build");
}

fn installed_targets() -> String {
    deadline::output(
        Command::new("rustup").args(["target", "list", "--installed"]),
        TOOL_LIMIT,
        "rustup target list --installed",
    )
    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    .unwrap_or_default()
}

/// libpam-sys's build script for a cross target, as the release builds run it
/// (no LIBPAMSYS_IMPL): its cfg lines.
fn libpam_sys_cfg(triple: &str) -> Option<String> {
    if !installed_targets().lines().any(|t| t == triple) {
        // make test-bsd built every target first: there, a missing one is
        // a broken setup, not a reason to check nothing.
        assert!(
            std::env::var_os("WPAM_REQUIRE_BSD_ARTIFACTS").is_none(),
            "rust target {triple} not installed after the BSD builds (ci/build/setup-cross.sh)"
        );
        eprintln!("skipped {triple}: rust target not installed (ci/build/setup-cross.sh adds it)");
        return None;
    }
    let dir = Path::new(ROOT).join("target/pam-impl-check");
    let out = deadline::output(
        cargo()
            .args([
                "check",
                "--locked",
                "--quiet",
                "-p",
                "libpam-sys",
                "--target",
                triple,
            ])
            .env("CARGO_TARGET_DIR", &dir),
        CARGO_LIMIT,
        &format!("cargo check -p libpam-sys --target {triple}"),
    )
    .expect("cargo check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build = dir.join(triple).join("debug/build");
    let mut outputs: Vec<PathBuf> = std::fs::read_dir(&build)
        .expect("build dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libpam-sys-"))
        })
        .map(|p| p.join("output"))
        .filter(|p| p.is_file())
        .collect();
    outputs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let newest = outputs.pop().expect("libpam-sys build script output");
    Some(std::fs::read_to_string(newest).expect("read output"))
}

#[test]
fn bsd_and_macos_builds_select_openpam() {
    for triple in [
        "x86_64-unknown-freebsd",
        "x86_64-unknown-netbsd",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
    ] {
        if let Some(cfg) = libpam_sys_cfg(triple) {
            assert!(
                cfg.contains("cargo:rustc-cfg=pam_impl=\"OpenPam\""),
                "{triple}: {cfg}"
            );
        }
    }
}

// --- the cross-built objects -------------------------------------------------

struct Elf {
    header: String,
    needed: Vec<String>,
    defined: String,
    undefined: String,
    versions: String,
}

fn elf(p: &Path) -> Elf {
    let dynamic = tool("readelf", &["-dW"], p);
    Elf {
        header: tool("readelf", &["-hW"], p),
        needed: dynamic
            .lines()
            .filter(|l| l.contains("(NEEDED)"))
            .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
            .collect(),
        defined: tool("nm", &["-D", "--defined-only"], p),
        undefined: tool("nm", &["-D", "--undefined-only"], p),
        versions: tool("readelf", &["-VW"], p),
    }
}

/// A PAM module for an x86-64 BSD: a shared object exporting the three
/// entry points, needing only libraries from `base`, libpam by `soname`.
fn check_module(e: &Elf, soname: &str, libc: &str, base: &[&str]) {
    assert!(
        e.header.contains("DYN (Shared object file)"),
        "{}",
        e.header
    );
    assert!(e.header.contains("X86-64"), "{}", e.header);
    // The linker writes OS/ABI 0 (SYSV); neither FreeBSD's rtld nor NetBSD's
    // ld.elf_so checks it for shared objects (rtld-elf map_object.c checks
    // class, data, version, type and machine only).
    assert!(
        e.header.contains("UNIX - System V")
            || e.header.contains("FreeBSD")
            || e.header.contains("NetBSD"),
        "{}",
        e.header
    );
    for f in ["pam_sm_authenticate", "pam_sm_acct_mgmt", "pam_sm_setcred"] {
        assert!(
            e.defined.lines().any(|l| l.ends_with(&format!(" T {f}"))),
            "{f} not exported"
        );
    }
    assert!(e.needed.iter().any(|n| n == soname), "{:?}", e.needed);
    assert!(e.needed.iter().any(|n| n == libc), "{:?}", e.needed);
    for n in &e.needed {
        assert!(
            base.contains(&n.as_str()),
            "{n} is not a base library: {:?}",
            e.needed
        );
    }
    assert!(!e.versions.contains("GLIBC_"), "glibc symbol versions");
    assert!(!e.undefined.contains("GLIBC"), "glibc symbols");
}

#[test]
fn freebsd_module_is_a_freebsd_openpam_module() {
    let Some(p) = artifact("freebsd-amd64", "pam_wpam.so") else {
        return;
    };
    let e = elf(&p);
    // FreeBSD base: libpam.so.6 (lib/libpam/libpam, SHLIB_MAJOR 6 since
    // FreeBSD 10), libc.so.7, libthr.so.3, libgcc_s.so.1, libm.so.5.
    check_module(
        &e,
        "libpam.so.6",
        "libc.so.7",
        &[
            "libpam.so.6",
            "libc.so.7",
            "libthr.so.3",
            "libgcc_s.so.1",
            "libm.so.5",
        ],
    );
    // Symbol versions no newer than FreeBSD 13's libc (FBSD_1.6): the
    // FreeBSD:1[45]:amd64 package ABI holds for 14 and 15 (FBSD_1.6 is
    // older than 14's FBSD_1.7).
    for l in e.versions.lines() {
        if let Some(v) = l.split("Name: FBSD_1.").nth(1) {
            let minor: u32 = v
                .split_whitespace()
                .next()
                .and_then(|m| m.parse().ok())
                .expect("FBSD version");
            assert!(minor <= 6, "needs FBSD_1.{minor} (newer than FreeBSD 13)");
        }
    }
    assert!(e.versions.contains("FBSD_1."), "no FreeBSD symbol versions");
}

#[test]
fn netbsd_module_is_a_netbsd_openpam_module() {
    let Some(p) = artifact("netbsd-amd64", "pam_wpam.so") else {
        return;
    };
    let e = elf(&p);
    // NetBSD base: libc.so.12, libpthread.so.1 (lib/libpthread/shlib_version
    // major=1), libgcc_s.so.1, libm.so.0; libpam's major from
    // lib/libpam/Makefile.inc (SHLIB_MAJOR=4 since rev 1.17, 2013-12-27,
    // shared with ci/build/build-target.sh: WPAM_NETBSD_LIBPAM_SONAME overrides both).
    let soname =
        std::env::var("WPAM_NETBSD_LIBPAM_SONAME").unwrap_or_else(|_| "libpam.so.4".into());
    check_module(
        &e,
        &soname,
        "libc.so.12",
        &[
            soname.as_str(),
            "libc.so.12",
            "libpthread.so.1",
            "libgcc_s.so.1",
            "libm.so.0",
        ],
    );
    // NetBSD's versioned libc entry points (64-bit time_t renames) prove the
    // object was built against NetBSD's libc, not another BSD's.
    assert!(
        e.undefined.contains("__fstat50") || e.undefined.contains("__clock_gettime50"),
        "no NetBSD-renamed libc symbols"
    );
}

#[test]
fn openbsd_style_is_an_openbsd_executable() {
    let Some(p) = artifact("openbsd-amd64", "login_-wpam") else {
        return;
    };
    let e = elf(&p);
    assert!(
        e.header
            .contains("DYN (Position-Independent Executable file)")
            || e.header.contains("EXEC")
    );
    let notes = tool("readelf", &["-nW"], &p);
    assert!(notes.contains("OpenBSD"), "no .note.openbsd.ident: {notes}");
    let interp = tool("readelf", &["-lW"], &p);
    assert!(interp.contains("/usr/libexec/ld.so"), "{interp}");
    for n in &e.needed {
        assert!(
            n.starts_with("libc.so") || n.starts_with("libpthread.so") || n.starts_with("libm.so"),
            "{n}: not in OpenBSD base"
        );
    }
    assert!(
        !e.needed.iter().any(|n| n.starts_with("libpam")),
        "OpenBSD has no libpam"
    );
}
