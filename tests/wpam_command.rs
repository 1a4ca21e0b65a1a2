//! `wpam check` and `wpam test`, run as the built program against a PAM
//! policy in a directory of the test's own (`--pam-dir`: Linux-PAM's
//! pam_start_confdir, no root needed), the real module, the development
//! Werbot API over TLS, the real `sshd -T` on a generated sshd_config, and a
//! real HTTP CONNECT proxy (tinyproxy). One test per check item: a good
//! setup passes with exit status 0; each misconfiguration docs/admin.md's
//! troubleshooting lists is reported ✗ with its fix and exit status 2, each
//! setup that works with a consequence ! with exit status 1. The stacks that
//! `wpam check` says skip wpam are run through the real libpam too (`wpam
//! test`), to show the login it lets through.

#[path = "support/devserver.rs"]
mod devserver;
#[path = "support/pamdrv.rs"]
mod pamdrv;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/sshd.rs"]
mod sshd;

use sshd::{deadline, root_or_skip};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use devserver::{Options, Running, ALICE_SECRET, BOB_SECRET};
use serde_json::Value;

const WPAM: &str = env!("CARGO_BIN_EXE_wpam");
const KEY: &str = "dev-key-not-secret";
/// Longest one `wpam` run may take (its API steps are bounded by timeout=2).
const LIMIT: Duration = Duration::from_secs(60);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn totp(secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    devserver::totp_at(secret, now)
}

/// Whether no directory from `/` down to `dir` is writable by its group or
/// others (the rule `wpam check` applies to the module's directories).
fn chain_is_safe(dir: &Path) -> bool {
    dir.ancestors().all(|d| {
        std::fs::metadata(d)
            .map(|m| m.permissions().mode() & 0o022 == 0)
            .unwrap_or(false)
    })
}

/// Where the setups go: below the target directory, unless the clone lies
/// under a directory others may write (a clone in /tmp, as CI's): then a
/// directory of the test's own in /run (root) or in ~/.cache.
fn safe_base() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if chain_is_safe(&target) {
        return target;
    }
    let base = if is_root() {
        PathBuf::from("/run/wpam-test-cmd")
    } else {
        let home = std::env::var_os("HOME").expect("HOME for a safe test directory");
        PathBuf::from(home).join(".cache/wpam-test-cmd")
    };
    std::fs::create_dir_all(&base).expect("mkdir the test base");
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(
        chain_is_safe(&base),
        "{} and {} both lie under a directory others may write: wpam check would \
         (rightly) refuse any module there",
        target.display(),
        base.display()
    );
    base
}

/// A complete setup as the README describes it, in a directory of its own
/// below the target directory (every directory above the module must be
/// root's — or the test user's — and not writable by others, as on a real
/// system): the module, a pam.d directory with `sshd`, the root-only config
/// file, the log file's directory, an sshd_config with its host key, and
/// the development API. Removed on drop.
struct Setup {
    dir: PathBuf,
    api: Option<Running>,
    addr: String,
    ca: PathBuf,
    module: PathBuf,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        Setup::with(tag, Options::default())
    }

    fn with(tag: &str, opts: Options) -> Setup {
        let base = safe_base();
        let dir = base.join(format!(
            "wpam-cmd-{tag}-{}-{}",
            std::process::id(),
            sshd::random_suffix()
        ));
        std::fs::create_dir_all(dir.join("pam.d")).expect("mkdir");
        std::fs::create_dir_all(dir.join("lib")).expect("mkdir lib");
        for d in [&dir, &dir.join("lib"), &dir.join("pam.d")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let module = dir.join("lib/pam_wpam.so");
        std::fs::copy(pamdrv::module_path(), &module).expect("copy the module");
        std::fs::set_permissions(&module, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let api = devserver::start(opts).expect("dev API");
        let ca = dir.join("ca.pem");
        std::fs::copy(api.ca_path(), &ca).expect("copy ca");
        let s = Setup {
            addr: api.server_url(),
            api: Some(api),
            ca,
            module,
            dir,
        };
        s.write_conf(
            0o600,
            &format!("service_key={KEY}\nwid.alice=alice@example.com\n"),
        );
        s.pam(&s.stack(""));
        s.sshd_config(&[
            "UsePAM yes",
            "KbdInteractiveAuthentication yes",
            "AuthenticationMethods publickey,keyboard-interactive",
        ]);
        s
    }

    fn api(&self) -> &Running {
        self.api.as_ref().expect("API running")
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("wpam.conf")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("wpam.log")
    }

    fn write_conf(&self, mode: u32, text: &str) {
        std::fs::write(self.conf(), text).expect("write wpam.conf");
        std::fs::set_permissions(self.conf(), std::fs::Permissions::from_mode(mode))
            .expect("chmod wpam.conf");
    }

    /// The documented module arguments; `extra` is appended (and wins).
    fn args(&self, extra: &str) -> String {
        format!(
            "server_url={} service_id=dev-service config={} ca_file={} log_file={} timeout=2 \
             u2f_timeout=3 {extra}",
            self.addr,
            self.conf().display(),
            self.ca.display(),
            self.log().display()
        )
    }

    /// wpam in auth and account, as the README's key-plus-second-factor setup.
    fn stack(&self, extra: &str) -> String {
        let m = self.module.display();
        let a = self.args(extra);
        format!("auth required {m} {a}\naccount required {m} {a}\n")
    }

    fn pam(&self, text: &str) {
        std::fs::write(self.dir.join("pam.d/sshd"), text).expect("write pam.d/sshd");
    }

    fn pam_file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join("pam.d").join(name), text).expect("write pam.d file");
    }

    /// An sshd_config with a host key of its own (so that `sshd -T -f` runs
    /// without root) and these lines.
    fn sshd_config(&self, lines: &[&str]) {
        let key = self.dir.join("ssh_host_ed25519_key");
        if !key.exists() {
            let out = deadline::output(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&key),
                LIMIT,
                "ssh-keygen",
            )
            .expect("run ssh-keygen (apt-get install openssh-client)");
            assert!(out.status.success(), "ssh-keygen: {out:?}");
        }
        let mut text = format!("HostKey {}\n", key.display());
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(self.dir.join("sshd_config"), text).expect("write sshd_config");
        // As root, sshd -T wants its privilege separation directory.
        if is_root() {
            std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
        }
    }

    /// `wpam check --service sshd` against this setup, plus `extra` flags.
    fn check(&self, extra: &[&str]) -> Output {
        let mut cmd = Command::new(WPAM);
        cmd.arg("check")
            .arg("--pam-dir")
            .arg(self.dir.join("pam.d"))
            .arg("--sshd-config")
            .arg(self.dir.join("sshd_config"))
            // No SELinux here, whatever the host runs (selinux tests fake one).
            .arg("--selinuxfs")
            .arg(self.dir.join("no-selinuxfs"))
            .args(extra);
        deadline::output(&mut cmd, LIMIT, "wpam check").expect("run wpam")
    }

    /// `wpam check --json`: (exit status 0, the report).
    fn check_json(&self, extra: &[&str]) -> (bool, Value) {
        let (code, v) = self.check_code(extra);
        (code == 0, v)
    }

    /// `wpam check --json`: (exit status, the report), which agree: 0 when
    /// every check is ok, 1 with warnings only, 2 with a failure.
    fn check_code(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.check(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "wpam check --json: {e}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(v["schema_version"], 2, "{v:#}");
        let checks = v["checks"].as_array().cloned().unwrap_or_default();
        let worst = ["failure", "warning", "ok"]
            .into_iter()
            .find(|s| checks.iter().any(|c| c["severity"] == *s))
            .unwrap_or("ok");
        assert_eq!(v["severity"], worst, "{v:#}");
        let expected = match worst {
            "ok" => 0,
            "warning" => 1,
            _ => 2,
        };
        assert_eq!(code, expected, "exit status and severity agree: {v:#}");
        assert_eq!(
            v["ok"].as_bool(),
            Some(code != 2),
            "\"ok\": no failure: {v:#}"
        );
        for c in &checks {
            assert_eq!(c["ok"].as_bool(), Some(c["severity"] != "failure"), "{c:#}");
            assert_eq!(c["fix"].is_null(), c["severity"] == "ok", "{c:#}");
        }
        (code, v)
    }

    /// `wpam test --pam-dir … USER`, answers on stdin.
    fn test(&self, user: &str, extra: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(WPAM)
            .arg("test")
            .arg("--pam-dir")
            .arg(self.dir.join("pam.d"))
            .args(extra)
            .arg(user)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run wpam test");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        deadline::wait_output(child, LIMIT, "wpam test")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(a) = self.api.take() {
            a.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The item of that name (it must be there).
fn item<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {v:#}"))
}

/// The check failed, with a fix that says `fix_has`; the run exits with 2
/// (`check_code` holds the exit status to the worst severity).
fn assert_fails(run: (bool, Value), name: &str, fix_has: &str) -> Value {
    let (ok, v) = run;
    assert!(!ok, "exit status 0 despite a failed check: {v:#}");
    let i = item(&v, name);
    assert_eq!(i["severity"], "failure", "{name} should fail: {v:#}");
    let fix = i["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains(fix_has),
        "{name}: fix {fix:?} lacks {fix_has:?}"
    );
    v
}

fn names(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

// --- a good setup -------------------------------------------------------------

#[test]
fn a_good_setup_passes_every_check_with_exit_status_0() {
    let s = Setup::new("good");
    let (ok, v) = s.check_json(&[]);
    assert!(ok, "{v:#}");
    assert_eq!(v["service"], "sshd");
    assert_eq!(
        names(&v),
        [
            "pam.stack",
            "pam.enforced",
            "pam.args.auth",
            "pam.args.account",
            "module",
            "config_file",
            "log_file",
            "sshd.use_pam",
            "sshd.kbd_interactive",
            "sshd.key_login",
            "sshd.first_factor",
            "selinux",
            "api.resolve",
            "api.connect",
            "api.tls",
            "api.request"
        ]
    );
    for i in v["checks"].as_array().into_iter().flatten() {
        assert_eq!(i["fix"], Value::Null, "{i}");
        let timed = i["name"].as_str().unwrap_or_default().starts_with("api.");
        assert_eq!(i["elapsed_ms"].is_u64(), timed, "{i}");
    }
    let tls = item(&v, "api.tls")["detail"].as_str().unwrap_or_default();
    assert!(
        tls.contains("CN=localhost") && tls.contains("expires in"),
        "{tls}"
    );
    let req = item(&v, "api.request")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        req.contains("user not found") && req.contains("accepted"),
        "{req}"
    );
    // The request authenticated nobody: no ID, no login, no code.
    let r = s.api().requests();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].field("wID"), Some(""));
    assert_eq!(r[0].field("user"), Some(""));
    assert_eq!(r[0].field("serviceKey"), Some(KEY));

    // The text form: a ✓ per line, exit status 0.
    let out = s.check(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("✓ pam.stack") && !text.contains('✗'),
        "{text}"
    );
    assert!(text.contains("all 16 checks passed"), "{text}");
}

#[test]
fn includes_bracket_controls_and_a_module_found_by_name() {
    let s = Setup::new("include");
    let a = s.args("");
    s.pam_file(
        "wpam-auth",
        &format!(
            "# pam-auth-update style\nauth [success=ok default=bad] \\\n    pam_wpam.so {a}\n"
        ),
    );
    s.pam("@include wpam-auth\naccount substack wpam-account\nsession optional pam_permit.so\n");
    s.pam_file(
        "wpam-account",
        &format!("account requisite pam_wpam.so {a}\n"),
    );
    let lib = s.dir.join("lib");
    let (ok, v) = s.check_json(&["--module-dir", lib.to_str().unwrap_or_default()]);
    assert!(ok, "{v:#}");
    let m = item(&v, "module")["detail"].as_str().unwrap_or_default();
    assert!(m.contains("pam_wpam.so is found at"), "{m}");
    let stack = item(&v, "pam.stack")["detail"].as_str().unwrap_or_default();
    assert!(
        stack.contains("wpam-auth:2") && stack.contains("wpam-account:1"),
        "{stack}"
    );
}

// --- the PAM stack --------------------------------------------------------------

#[test]
fn no_wpam_line_in_the_stack() {
    let s = Setup::new("nowpam");
    s.pam("auth required pam_permit.so\naccount required pam_permit.so\n");
    assert_fails(s.check_json(&[]), "pam.stack", "pam_wpam.so");
}

#[test]
fn an_include_that_does_not_exist_fails_the_stack() {
    let s = Setup::new("badinclude");
    s.pam(&format!("auth include common-missing\n{}", s.stack("")));
    assert_fails(s.check_json(&[]), "pam.stack", "correct or remove line 1");
}

#[test]
fn wpam_as_optional_does_not_enforce_the_second_factor() {
    let s = Setup::new("optional");
    let m = s.module.display();
    let a = s.args("");
    s.pam(&format!(
        "auth optional {m} {a}\naccount required {m} {a}\n"
    ));
    assert_fails(s.check_json(&[]), "pam.enforced", "required");
}

#[test]
fn a_sufficient_module_before_wpam_skips_it() {
    let s = Setup::new("sufficient");
    s.pam(&format!("auth sufficient pam_unix.so\n{}", s.stack("")));
    let v = assert_fails(s.check_json(&[]), "pam.enforced", "required");
    let d = item(&v, "pam.enforced")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("pam_unix.so"), "{d}");
}

/// `wpam test USER` (real libpam) on this stack: (its output, exit 0).
fn login(s: &Setup, user: &str, stdin: &str) -> (String, bool) {
    let out = s.test(user, &[], stdin);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

#[test]
fn a_jump_of_one_right_above_wpam_lets_root_in_without_wpam() {
    let s = Setup::new("jump1");
    let m = s.module.display();
    let a = s.args("local_user_ip=127.0.0.1");
    s.pam(&format!(
        "auth [success=1 default=ignore] pam_succeed_if.so user = root\n\
         auth required {m} {a}\nauth required pam_permit.so\n\
         account required pam_permit.so\n"
    ));
    // The real libpam: root is authenticated with nothing typed, and wpam
    // never ran (it would have asked for a Werbot ID, and it writes a log
    // line for every login it handles).
    let (text, ok) = login(&s, "root", "");
    assert!(ok, "{text}");
    assert!(text.contains("pam_authenticate: PAM_SUCCESS"), "{text}");
    assert!(
        !text.contains("Werbot ID") && text.contains("(nothing written)"),
        "{text}"
    );
    assert!(s.api().requests().is_empty());
    // Anyone else: wpam asks (and refuses a wrong code): the line is live.
    let (text, ok) = login(
        &s,
        "carol",
        &format!("bob@example.com\n{}\n", devserver::wrong_totp(BOB_SECRET)),
    );
    assert!(
        !ok && text.contains("pam_authenticate: PAM_AUTH_ERR"),
        "{text}"
    );
    assert_eq!(s.api().requests().len(), 1);
    // wpam check fails it (it passed it before: `l > at`).
    let v = assert_fails(s.check_json(&[]), "pam.enforced", "move wpam above");
    let d = item(&v, "pam.enforced")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        d.contains("pam_succeed_if.so") && d.contains("jumps over wpam"),
        "{d}"
    );
}

#[test]
fn a_failure_jump_over_wpam_lets_everyone_but_root_in_without_wpam() {
    let s = Setup::new("jumpfail");
    let m = s.module.display();
    let a = s.args("local_user_ip=127.0.0.1");
    s.pam(&format!(
        "auth [success=ok default=1] pam_succeed_if.so user = root\n\
         auth required {m} {a}\nauth required pam_permit.so\n\
         account required pam_permit.so\n"
    ));
    // The real libpam: carol fails pam_succeed_if, whose failure jumps over
    // wpam onto pam_permit: authenticated with nothing typed.
    let (text, ok) = login(&s, "carol", "");
    assert!(ok, "{text}");
    assert!(
        text.contains("pam_authenticate: PAM_SUCCESS") && text.contains("(nothing written)"),
        "{text}"
    );
    assert!(s.api().requests().is_empty());
    // Root is asked by wpam (and has nothing to answer).
    let (text, ok) = login(&s, "root", "");
    assert!(!ok && text.contains("Werbot ID"), "{text}");
    // wpam check fails it (it counted only `success` before).
    let v = assert_fails(s.check_json(&[]), "pam.enforced", "move wpam above");
    let d = item(&v, "pam.enforced")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("[success=ok default=1]"), "{d}");
}

#[test]
fn the_exit_status_is_the_worst_severity_and_a_usage_error_is_64() {
    let s = Setup::new("exit");
    let (code, v) = s.check_code(&[]);
    assert_eq!((code, v["severity"].as_str()), (0, Some("ok")), "{v:#}");
    // A warning: offline users without secrets. Exit status 1.
    s.pam(&s.stack("offline_users=carol"));
    let (code, v) = s.check_code(&[]);
    assert_eq!(
        (code, v["severity"].as_str()),
        (1, Some("warning")),
        "{v:#}"
    );
    let out = s.check(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("! offline") && !text.contains('✗'), "{text}");
    // A failure besides: 2, and the text shows both marks.
    s.pam(&s.stack("offline_users=carol timout=5"));
    let (code, v) = s.check_code(&[]);
    assert_eq!(
        (code, v["severity"].as_str()),
        (2, Some("failure")),
        "{v:#}"
    );
    let out = s.check(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("✗ pam.args.auth") && text.contains("! offline"),
        "{text}"
    );
    assert!(text.contains("checks failed (1 with a warning)"), "{text}");
    // A usage error is not a failed check.
    let out = deadline::output(
        Command::new(WPAM).args(["check", "--no-such-option"]),
        LIMIT,
        "wpam check --no-such-option",
    )
    .expect("run wpam");
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let out = deadline::output(
        Command::new(WPAM).args(["check", "--help"]),
        LIMIT,
        "wpam check --help",
    )
    .expect("run wpam");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    assert!(
        help.contains("0 every check ok, 1 warnings but no failure, 2 at least one failure")
            && help.contains("64 a usage error"),
        "{help}"
    );
}

#[test]
fn policy_arguments_are_shown_and_checked_against_this_system() {
    let s = Setup::new("policy");
    s.pam(&s.stack("groups=root,!daemon remember=10m"));
    let (code, v) = s.check_code(&[]);
    assert_eq!(code, 0, "{v:#}");
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(
        d.contains("asks members of root but not of daemon") && d.contains("remember 600 s"),
        "{d}"
    );
    // An included group this system does not have: the module denies all.
    s.pam(&s.stack("groups=wpam-no-such-group"));
    let v = assert_fails(
        s.check_json(&[]),
        "pam.args.auth",
        "getent group wpam-no-such-group",
    );
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("denies every login"), "{d}");
    // An excluded one: it excludes nobody.
    s.pam(&s.stack("groups=!wpam-no-such-group"));
    assert_warns(s.check_code(&[]), "pam.args.auth", "excludes nobody");
    // unenrolled=allow: rollout mode while logins are tied (wid.alice)...
    s.pam(&s.stack("unenrolled=allow"));
    assert_warns(s.check_code(&[]), "pam.args.auth", "rollout mode");
    // ...and a failure without any tie.
    s.write_conf(0o600, &format!("service_key={KEY}\n"));
    let v = assert_fails(s.check_json(&[]), "pam.args.auth", "wid.");
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("no login is tied"), "{d}");
}

#[test]
fn a_missing_config_file_or_log_file_gets_a_command_that_makes_it() {
    let s = Setup::new("missing-files");
    // The log file is not there yet (its directory is): fine, and how to
    // make it now with the packages' group.
    let (_, v) = s.check_code(&[]);
    let l = item(&v, "log_file");
    assert_eq!(l["severity"], "ok");
    let d = l["detail"].as_str().unwrap_or_default();
    assert!(
        d.contains("install -m 0640 -o root -g ")
            && d.contains(&format!("/dev/null {}", s.log().display())),
        "{d}"
    );
    // No config file: install it from the example, not chown it.
    std::fs::remove_file(s.conf()).expect("rm wpam.conf");
    let v = assert_fails(
        s.check_json(&[]),
        "config_file",
        "install -m 0600 -o root -g 0 ",
    );
    let fix = item(&v, "config_file")["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains(&format!(" {}, then set service_key=", s.conf().display()))
            && fix.contains("wpam.conf")
            && !fix.contains("chown"),
        "{fix}"
    );
    assert_eq!(
        item(&v, "pam.args.auth")["fix"],
        item(&v, "config_file")["fix"]
    );
}

#[test]
fn an_argument_typo_is_the_warning_a_login_logs() {
    let s = Setup::new("typo");
    s.pam(&s.stack("timout=5"));
    let v = assert_fails(s.check_json(&[]), "pam.args.auth", "correct or remove");
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("config: unknown argument \"timout\""), "{d}");
}

#[test]
fn a_missing_required_argument_is_a_configuration_error() {
    let s = Setup::new("missing");
    s.write_conf(0o600, "# no key\n");
    let v = assert_fails(s.check_json(&[]), "pam.args.auth", "service_key");
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("missing required argument service_key"), "{d}");
    assert_eq!(item(&v, "api")["ok"], false);
}

#[test]
fn the_service_key_on_the_pam_d_line_is_reported() {
    let s = Setup::new("keyonline");
    s.pam(&s.stack(&format!("service_key={KEY}")));
    let v = assert_fails(s.check_json(&[]), "pam.args.auth", "config file");
    let d = item(&v, "pam.args.auth")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("overrides the config file"), "{d}");
}

// --- files ------------------------------------------------------------------------

#[test]
fn a_missing_module_is_reported_where_libpam_looks() {
    let s = Setup::new("nomodule");
    std::fs::remove_file(&s.module).expect("rm module");
    assert_fails(s.check_json(&[]), "module", "install");
}

#[test]
fn a_group_writable_module_is_reported() {
    let s = Setup::new("gwmodule");
    std::fs::set_permissions(&s.module, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    let v = assert_fails(s.check_json(&[]), "module", "chmod go-w");
    let d = item(&v, "module")["detail"].as_str().unwrap_or_default();
    assert!(d.contains("writable by its group"), "{d}");
}

#[test]
fn a_config_file_readable_by_group_is_refused() {
    let s = Setup::new("confmode");
    s.write_conf(0o640, &format!("service_key={KEY}\n"));
    let v = assert_fails(s.check_json(&[]), "config_file", "chmod 0600");
    let d = item(&v, "config_file")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("0640"), "{d}");
    // The same refusal a login logs, on the pam.d line's check.
    assert_eq!(item(&v, "pam.args.auth")["ok"], false);
}

#[test]
fn a_log_file_owned_by_a_user_is_refused() {
    if !root_or_skip("a_log_file_owned_by_a_user_is_refused") {
        return;
    }
    let s = Setup::new("logowner");
    std::fs::write(s.log(), "").expect("create log");
    std::fs::set_permissions(s.log(), std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::os::unix::fs::chown(s.log(), Some(65534), None).expect("chown nobody");
    let v = assert_fails(s.check_json(&[]), "log_file", "chown root");
    let d = item(&v, "log_file")["detail"].as_str().unwrap_or_default();
    assert!(d.contains("owned by uid 65534"), "{d}");
}

#[test]
fn a_world_readable_or_linked_log_file_is_reported() {
    let s = Setup::new("logmode");
    std::fs::write(s.log(), "").expect("create log");
    std::fs::set_permissions(s.log(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_fails(s.check_json(&[]), "log_file", "chmod 0640");
    std::fs::set_permissions(s.log(), std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::fs::hard_link(s.log(), s.dir.join("other-name")).expect("link");
    assert_fails(s.check_json(&[]), "log_file", "remove the other links");
}

#[test]
fn a_log_file_in_a_missing_directory_is_reported() {
    let s = Setup::new("logdir");
    s.pam(&s.stack(&format!("log_file={}/nowhere/wpam.log", s.dir.display())));
    let v = assert_fails(
        s.check_json(&[]),
        "log_file",
        "install -d -m 0755 -o root -g 0 ",
    );
    let fix = item(&v, "log_file")["fix"].as_str().unwrap_or_default();
    assert!(
        fix.contains(&format!("/dev/null {}/nowhere/wpam.log", s.dir.display())),
        "{fix}"
    );
}

// --- sshd (the real sshd -T) --------------------------------------------------------

#[test]
fn kbd_interactive_no_means_no_prompts() {
    let s = Setup::new("kbdno");
    s.sshd_config(&["UsePAM yes", "KbdInteractiveAuthentication no"]);
    assert_fails(
        s.check_json(&[]),
        "sshd.kbd_interactive",
        "KbdInteractiveAuthentication yes",
    );
}

#[test]
fn use_pam_no_means_wpam_is_never_asked() {
    let s = Setup::new("usepamno");
    s.sshd_config(&["UsePAM no", "KbdInteractiveAuthentication yes"]);
    assert_fails(s.check_json(&[]), "sshd.use_pam", "UsePAM yes");
}

/// A check with this severity ("warning"), and the run's exit status 1.
fn assert_warns(run: (i32, Value), name: &str, detail_has: &str) -> Value {
    let (code, v) = run;
    assert_eq!(code, 1, "a warning (and no failure) exits with 1: {v:#}");
    let i = item(&v, name);
    assert_eq!(i["severity"], "warning", "{name}: {v:#}");
    let d = i["detail"].as_str().unwrap_or_default();
    assert!(d.contains(detail_has), "{name}: {d:?} lacks {detail_has:?}");
    v
}

#[test]
fn a_key_alone_is_a_warning_that_names_what_happens() {
    let s = Setup::new("keyonly");
    s.sshd_config(&[
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "AuthenticationMethods publickey",
    ]);
    let m = s.module.display();
    // wpam only in the auth stack: a key login gets no second factor.
    s.pam(&format!("auth required {m} {}\n", s.args("")));
    let v = assert_warns(
        s.check_code(&[]),
        "sshd.key_login",
        "key-only logins get no second factor",
    );
    let fix = item(&v, "sshd.key_login")["fix"]
        .as_str()
        .unwrap_or_default();
    assert!(fix.contains("publickey,keyboard-interactive"), "{fix}");
    // In the account stack (account_phase=verify): a push for every key login.
    s.pam(&s.stack(""));
    assert_warns(
        s.check_code(&[]),
        "sshd.key_login",
        "every key-only login (scp, rsync, Ansible, root) gets a U2F push",
    );
    // account_phase=skip: nothing asked again.
    s.pam(&s.stack("account_phase=skip"));
    assert_warns(s.check_code(&[]), "sshd.key_login", "account_phase=skip");
}

#[test]
fn the_code_alone_fails_unless_second_factor_only_says_so() {
    let s = Setup::new("codealone");
    // The shipped Debian template and no AuthenticationMethods: a login
    // needs only the 6-digit code.
    s.sshd_config(&[
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "PasswordAuthentication no",
    ]);
    let m = s.module.display();
    let a = s.args("");
    s.pam(&format!(
        "# @include common-auth\nauth required {m} {a}\naccount required {m} {a}\n"
    ));
    let v = assert_fails(
        s.check_json(&[]),
        "sshd.first_factor",
        "second_factor_only=true",
    );
    let d = item(&v, "sshd.first_factor")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("the second factor is the only factor"), "{d}");
    // The admin says so: a warning that names it.
    s.write_conf(
        0o600,
        &format!("service_key={KEY}\nwid.alice=alice@example.com\nsecond_factor_only=true\n"),
    );
    assert_warns(
        s.check_code(&[]),
        "sshd.first_factor",
        "as second_factor_only=true states",
    );
    // A password module before wpam: ok, and named.
    s.write_conf(
        0o600,
        &format!("service_key={KEY}\nwid.alice=alice@example.com\n"),
    );
    s.pam(&format!(
        "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\n\
         auth required pam_permit.so\nauth required {m} {a}\naccount required {m} {a}\n"
    ));
    let (_, v) = s.check_code(&[]);
    let f = item(&v, "sshd.first_factor");
    assert_eq!(f["severity"], "ok", "{v:#}");
    assert!(
        f["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("pam_unix.so"),
        "{f:#}"
    );
}

#[test]
fn a_broken_sshd_config_is_reported() {
    let s = Setup::new("sshdbroken");
    s.sshd_config(&["UsePAM yes", "NoSuchKeyword yes"]);
    assert_fails(s.check_json(&[]), "sshd.config", "-t");
}

// --- SELinux (a selinuxfs and semodule of the test's) ----------------------------------

#[test]
fn selinux_enforcing_without_the_wpam_policy_module() {
    let s = Setup::new("selinux");
    let fs = s.dir.join("selinuxfs");
    std::fs::create_dir_all(&fs).expect("mkdir");
    std::fs::write(fs.join("enforce"), "1").expect("enforce");
    let semodule = s.dir.join("semodule");
    std::fs::write(
        &semodule,
        "#!/bin/sh\nprintf 'abrt\\nsshd\\nunconfined\\n'\n",
    )
    .expect("script");
    std::fs::set_permissions(&semodule, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let flags = [
        "--selinuxfs",
        fs.to_str().unwrap_or_default(),
        "--semodule",
        semodule.to_str().unwrap_or_default(),
    ];
    assert_fails(s.check_json(&flags), "selinux", "policy module");
    // Permissive: reported, not failed.
    std::fs::write(fs.join("enforce"), "0").expect("permissive");
    assert_eq!(item(&s.check_json(&flags).1, "selinux")["ok"], true);
    // Enforcing with the module loaded: passes.
    std::fs::write(fs.join("enforce"), "1").expect("enforce");
    std::fs::write(&semodule, "#!/bin/sh\nprintf 'sshd\\nwpam\\n'\n").expect("script");
    let (ok, v) = s.check_json(&flags);
    assert!(ok, "{v:#}");
    // The module's booleans (packaging/selinux/wpam.cil), as selinuxfs shows
    // them ("current pending"): reported, and an sshd service with every
    // sshd boolean off fails with the setsebool that fixes it.
    let booleans = fs.join("booleans");
    std::fs::create_dir_all(&booleans).expect("mkdir");
    std::fs::write(booleans.join("wpam_permit_sshd"), "1 1").expect("bool");
    std::fs::write(booleans.join("wpam_permit_local_login"), "0 0").expect("bool");
    let (ok, v) = s.check_json(&flags);
    assert!(ok, "{v:#}");
    let d = item(&v, "selinux")["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        d.contains("wpam_permit_sshd on, wpam_permit_local_login off"),
        "{d}"
    );
    std::fs::write(booleans.join("wpam_permit_sshd"), "0 0").expect("bool");
    std::fs::write(booleans.join("wpam_permit_sshd_session"), "0 0").expect("bool");
    let v = assert_fails(
        s.check_json(&flags),
        "selinux",
        "setsebool -P wpam_permit_sshd on",
    );
    let d = item(&v, "selinux")["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(d.contains("sshd booleans off"), "{d}");
    let fix = item(&v, "selinux")["fix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(fix.contains("setsebool -P wpam_permit_sshd on"), "{fix}");
    assert!(
        fix.contains("setsebool -P wpam_permit_sshd_session on"),
        "{fix}"
    );
    // One sshd boolean on (OpenSSH >= 9.8 runs PAM in sshd_session_t): passes.
    std::fs::write(booleans.join("wpam_permit_sshd_session"), "1 1").expect("bool");
    let (ok, v) = s.check_json(&flags);
    assert!(ok, "{v:#}");
}

// --- the API path ------------------------------------------------------------------------

#[test]
fn an_unreachable_api_fails_at_the_connect_step() {
    let mut s = Setup::new("down");
    if let Some(a) = s.api.take() {
        a.stop();
    }
    let v = assert_fails(s.check_json(&[]), "api.connect", "firewall");
    assert_eq!(item(&v, "api.resolve")["ok"], true);
    for n in ["api.tls", "api.request"] {
        let d = item(&v, n)["detail"].as_str().unwrap_or_default();
        assert!(d.starts_with("not attempted"), "{n}: {d}");
    }
}

#[test]
fn a_name_that_does_not_resolve_fails_at_the_first_step() {
    let s = Setup::new("nxdomain");
    s.pam(&s.stack("server_url=wpam-check-test.invalid:443"));
    assert_fails(s.check_json(&[]), "api.resolve", "server_url");
}

#[test]
fn a_wrong_service_key_is_refused_by_the_api() {
    let s = Setup::new("badkey");
    s.write_conf(0o600, "service_key=not-the-key\n");
    let v = assert_fails(s.check_json(&[]), "api.request", "service_key");
    let d = item(&v, "api.request")["detail"]
        .as_str()
        .unwrap_or_default();
    // The real server refuses with HTTP 200 and this reason.
    assert!(
        d.contains("HTTP 200") && d.contains("invalid service integration details"),
        "{d}"
    );
    assert_eq!(item(&v, "api.tls")["ok"], true);
}

#[test]
fn a_certificate_the_trust_store_does_not_know() {
    let s = Setup::new("untrusted");
    // Another server's CA: the chain is not the one ca_file vouches for.
    let other = devserver::start(Options::default()).expect("other API");
    let other_ca = s.dir.join("other-ca.pem");
    std::fs::copy(other.ca_path(), &other_ca).expect("copy ca");
    other.stop();
    s.pam(&s.stack(&format!("ca_file={}", other_ca.display())));
    let v = assert_fails(s.check_json(&[]), "api.tls", "ca_file");
    let d = item(&v, "api.tls")["detail"].as_str().unwrap_or_default();
    assert!(d.contains("invalid peer certificate"), "{d}");
}

#[test]
fn an_expired_certificate_fails_the_handshake() {
    let s = Setup::with(
        "expired",
        Options {
            cert_expired: true,
            ..Options::default()
        },
    );
    assert_fails(s.check_json(&[]), "api.tls", "renew");
}

#[test]
fn insecure_skip_verify_is_reported() {
    let s = Setup::new("insecure");
    s.pam(&s.stack("insecure_skip_verify=true"));
    let v = assert_fails(s.check_json(&[]), "api.tls", "remove insecure_skip_verify");
    let d = item(&v, "api.tls")["detail"].as_str().unwrap_or_default();
    assert!(d.contains("NOT verified"), "{d}");
}

#[test]
fn through_a_proxy_and_a_proxy_that_refuses_the_connect() {
    let s = Setup::new("proxy");
    let port = s.api().addr().port();
    let p = proxy::Proxy::start(proxy::Rules {
        connect_ports: &[port],
        basic_auth: None,
    });
    s.pam(&s.stack(&format!("proxy={}", p.url(None))));
    let (ok, v) = s.check_json(&[]);
    assert!(ok, "{v:#}");
    assert!(names(&v).contains(&"api.proxy".to_string()), "{v:#}");
    let d = item(&v, "api.resolve")["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(d.contains("(the proxy)"), "{d}");
    drop(p);
    // A proxy that allows CONNECT to another port only: 403.
    let p = proxy::Proxy::start(proxy::Rules {
        connect_ports: &[1],
        basic_auth: None,
    });
    s.pam(&s.stack(&format!("proxy={}", p.url(None))));
    let v = assert_fails(s.check_json(&[]), "api.proxy", "CONNECT");
    let d = item(&v, "api.proxy")["detail"].as_str().unwrap_or_default();
    assert!(d.contains("403"), "{d}");
}

// --- wpam test ------------------------------------------------------------------------------

#[test]
fn wpam_test_logs_in_with_totp_and_prints_each_result_and_the_log() {
    let s = Setup::new("test-totp");
    let out = s.test(
        "carol",
        &["--rhost", "192.0.2.10"],
        &format!("alice@example.com\n{}\n", totp(ALICE_SECRET)),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Enter your Werbot ID (email or username): "),
        "{text}"
    );
    assert!(text.contains("pam_authenticate: PAM_SUCCESS"), "{text}");
    assert!(text.contains("pam_acct_mgmt: PAM_SUCCESS"), "{text}");
    assert!(
        text.contains("INFO auth service=\"sshd\" user=\"carol\" rhost=\"192.0.2.10\"")
            && text.contains("access granted"),
        "{text}"
    );
    assert_eq!(
        s.api().requests().len(),
        1,
        "the account phase reused the auth result"
    );
}

#[test]
fn wpam_test_reports_a_refusal_by_name_and_exits_non_zero() {
    let s = Setup::new("test-wrong");
    // No --rhost: the server's IP policy needs local_user_ip.
    s.pam(&s.stack("local_user_ip=127.0.0.1"));
    let out = s.test(
        "carol",
        &[],
        &format!("bob@example.com\n{}\n", devserver::wrong_totp(BOB_SECRET)),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("pam_authenticate: PAM_AUTH_ERR"), "{text}");
    assert!(text.contains("pam_acct_mgmt: not called"), "{text}");
    assert!(text.contains("INVALID_TOTP"), "{text}");
}

#[test]
fn wpam_test_account_only_is_a_key_login() {
    let s = Setup::new("test-account");
    s.pam(&s.stack("local_user_ip=127.0.0.1"));
    // alice is tied to alice@example.com (wid.alice), who approves.
    let out = s.test("alice", &["--account-only"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("pam_authenticate: not called"), "{text}");
    assert!(text.contains("pam_acct_mgmt: PAM_SUCCESS"), "{text}");
    assert!(text.contains("approve this login"), "{text}");
    let r = s.api().requests();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].field("tfaMethod"), Some("U2F"));
    assert_eq!(r[0].field("wID"), Some("alice@example.com"));
}

#[test]
fn wpam_test_on_a_terminal_echoes_the_id_but_not_the_code() {
    let s = Setup::new("test-pty");
    s.pam(&s.stack("local_user_ip=127.0.0.1"));
    let code = totp(ALICE_SECRET);
    let out = pty_session(
        Command::new(WPAM)
            .arg("test")
            .arg("--pam-dir")
            .arg(s.dir.join("pam.d"))
            .arg("carol"),
        &[
            ("Werbot ID (email or username): ", "alice@example.com\n"),
            ("(submit empty for U2F): ", &format!("{code}\n")),
        ],
    );
    assert!(out.contains("alice@example.com"), "the ID is echoed: {out}");
    assert!(!out.contains(&code), "the code is not echoed: {out}");
    assert!(out.contains("pam_acct_mgmt: PAM_SUCCESS"), "{out}");
}

/// Runs `cmd` on a new pseudo-terminal as its controlling terminal, answers
/// each prompt when it appears, and returns everything the terminal showed.
/// Every wait is bounded; the child is killed at the limit.
fn pty_session(cmd: &mut Command, script: &[(&str, &str)]) -> String {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, slave) = {
        let (mut m, mut sl) = (-1, -1);
        // SAFETY: openpty fills two descriptors on success.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut sl,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both were just opened and are owned here.
        unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(sl)) }
    };
    let (i, o, e) = (
        slave.try_clone().expect("dup"),
        slave.try_clone().expect("dup"),
        slave.try_clone().expect("dup"),
    );
    // SAFETY: setsid and TIOCSCTTY are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .stdin(Stdio::from(i))
        .stdout(Stdio::from(o))
        .stderr(Stdio::from(e))
        .spawn()
        .expect("spawn on the pty");
    drop(slave);
    let end = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    let mut step = 0;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&master);
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n > 0 {
            let mut buf = [0u8; 4096];
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break, // EIO: the child closed the terminal
                Ok(k) => seen.extend_from_slice(&buf[..k]),
            }
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((prompt, answer)) = script.get(step) {
            if text.ends_with(prompt) {
                master.write_all(answer.as_bytes()).expect("answer");
                step += 1;
            }
        }
        if let Ok(Some(_)) = child.try_wait() {
            if n <= 0 {
                break;
            }
        }
        assert!(
            Instant::now() < end,
            "the pty session did not end within {LIMIT:?}; it showed: {text}"
        );
    }
    let _ = deadline::wait_or_kill(&mut child, Duration::from_secs(10));
    String::from_utf8_lossy(&seen).into_owned()
}

// --- wpam offline-enroll ------------------------------------------------------

/// `wpam offline-enroll ARGS`, bounded.
fn offline_enroll(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = Command::new(WPAM);
    cmd.arg("offline-enroll").args(args);
    deadline::output(&mut cmd, LIMIT, "wpam offline-enroll").expect("run wpam")
}

/// The otpauth:// URI's secret, after checking every other part of it.
fn secret_from_uri(stdout: &str, login: &str) -> String {
    let uri = stdout
        .lines()
        .find(|l| l.starts_with("otpauth://"))
        .unwrap_or_else(|| panic!("no otpauth URI in {stdout}"));
    let rest = uri
        .strip_prefix(&format!("otpauth://totp/wpam:{login}%40"))
        .unwrap_or_else(|| panic!("label: {uri}"));
    let (_host, query) = rest.split_once('?').expect("a query");
    let params: std::collections::BTreeMap<&str, &str> =
        query.split('&').filter_map(|p| p.split_once('=')).collect();
    assert_eq!(params.get("issuer"), Some(&"wpam"), "{uri}");
    assert_eq!(params.get("algorithm"), Some(&"SHA1"), "{uri}");
    assert_eq!(params.get("digits"), Some(&"6"), "{uri}");
    assert_eq!(params.get("period"), Some(&"30"), "{uri}");
    params.get("secret").expect("secret=").to_string()
}

#[test]
fn offline_enroll_round_trip_and_a_login_during_an_outage_needs_the_code() {
    if !root_or_skip("offline_enroll_round_trip_and_a_login_during_an_outage_needs_the_code") {
        return;
    }
    let mut s = Setup::new("offline-enroll");
    let file = s.dir.join("wpam-offline");
    let out = offline_enroll(&["--file".as_ref(), file.as_os_str(), "carol".as_ref()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains('█') && text.contains('▀'),
        "a QR code: {text}"
    );
    let b32 = secret_from_uri(&text, "carol");
    let key = data_encoding::BASE32_NOPAD
        .decode(b32.as_bytes())
        .expect("base32 secret");
    assert_eq!(key.len(), 20, "160 bits");
    let meta = std::fs::symlink_metadata(&file).expect("the file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    // The module's own reader and verifier agree with the printed URI.
    let secrets = pam_wpam::offline::Secrets::load(&file).expect("the module reads it");
    assert_eq!(secrets.get("carol"), Some(key.as_slice()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let code = devserver::totp_at(&b32, now);
    let mut six = [0u8; 6];
    six.copy_from_slice(code.as_bytes());
    assert!(pam_wpam::offline::matching_step(&key, &six, now).is_some());
    // A second login keeps the first one's line.
    let out = offline_enroll(&["--file".as_ref(), file.as_os_str(), "dave".as_ref()]);
    assert!(out.status.success());
    let both = pam_wpam::offline::Secrets::load(&file).expect("reads");
    assert_eq!(both.get("carol"), Some(key.as_slice()));
    assert!(both.get("dave").is_some());

    // Through the real module, the API down: the offline prompt, this code.
    let extra = format!("offline_users=carol offline_secrets={}", file.display());
    s.pam(&s.stack(&extra));
    let (ok, v) = s.check_json(&["--no-sshd"]);
    assert!(ok, "{v:#}");
    assert_eq!(item(&v, "offline")["ok"], true, "{v:#}");
    if let Some(api) = s.api.take() {
        api.stop();
    }
    let out = s.test("carol", &[], &format!("bob@example.com\n\n{code}\n"));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{t}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.contains("Werbot is unreachable. Offline code for carol: "),
        "{t}"
    );
    assert!(t.contains("pam_authenticate: PAM_SUCCESS"), "{t}");

    // Removed: gone from the file, and wpam check says carol has no secret.
    let out = offline_enroll(&[
        "--remove".as_ref(),
        "--file".as_ref(),
        file.as_os_str(),
        "carol".as_ref(),
    ]);
    assert!(out.status.success(), "{:?}", out);
    let left = pam_wpam::offline::Secrets::load(&file).expect("reads");
    assert!(left.get("carol").is_none() && left.get("dave").is_some());
    let v = assert_fails(
        s.check_json(&["--no-sshd"]),
        "offline",
        "wpam offline-enroll",
    );
    assert!(
        item(&v, "offline")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("carol")),
        "{v:#}"
    );
    // Removing it again changes nothing and says so.
    let out = offline_enroll(&[
        "--remove".as_ref(),
        "--file".as_ref(),
        file.as_os_str(),
        "carol".as_ref(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret for carol"));
}

#[test]
fn offline_enroll_refuses_to_run_as_another_user_than_root() {
    if !root_or_skip("offline_enroll_refuses_to_run_as_another_user_than_root") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy nobody can run: the build's own may lie under a directory
    // only root may enter (a clone in /root).
    let dir = devserver::fresh_temp_dir("wpam-enroll-nobody").expect("tmp");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let wpam = dir.join("wpam");
    std::fs::copy(WPAM, &wpam).expect("copy wpam");
    std::fs::set_permissions(&wpam, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = Command::new(&wpam);
    cmd.args([
        "offline-enroll",
        "--file",
        "/nonexistent/wpam-offline",
        "root",
    ])
    .uid(65534)
    .gid(65534);
    let out = deadline::output(&mut cmd, LIMIT, "wpam offline-enroll").expect("run wpam");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must run as root"), "{err}");
    assert!(!Path::new("/nonexistent/wpam-offline").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn offline_users_without_offline_secrets_is_a_warning_not_a_failure() {
    let s = Setup::new("offline-warn");
    s.pam(&s.stack("offline_users=carol"));
    let (code, v) = s.check_code(&["--no-sshd"]);
    assert_eq!(code, 1, "a warning, no failure: exit status 1: {v:#}");
    let i = item(&v, "offline");
    assert_eq!(
        (i["ok"].as_bool(), i["severity"].as_str()),
        (Some(true), Some("warning"))
    );
    assert!(
        i["detail"]
            .as_str()
            .is_some_and(|d| d.contains("skip the second factor during an outage")),
        "{i:#}"
    );
    assert!(i["fix"]
        .as_str()
        .is_some_and(|f| f.contains("offline-enroll")));
    let text = String::from_utf8_lossy(&s.check(&["--no-sshd"]).stdout).into_owned();
    assert!(text.contains("! offline"), "{text}");
    assert!(text.contains("checks passed (1 with a warning)"), "{text}");
    // A secrets file others can read fails the check.
    let file = s.dir.join("wpam-offline");
    std::fs::write(&file, "carol JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    s.pam(&s.stack(&format!(
        "offline_users=carol offline_secrets={}",
        file.display()
    )));
    let v = assert_fails(s.check_json(&["--no-sshd"]), "offline", "mode 0600");
    assert!(
        item(&v, "offline")["detail"]
            .as_str()
            .is_some_and(|d| d.contains("chmod 0600")),
        "{v:#}"
    );
}
