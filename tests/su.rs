//! The attacks of the fail-closed review, through the setuid `su` of
//! util-linux, against the development API: the attacker holds the first
//! factor of an offline user (`root`, as in the README's example) and
//! controls what the invoking user of a setuid program controls — its
//! resource limits, signals to it, and the answers it types.
//!
//! su's PAM stack is replaced, in a private mount namespace, by wpam alone
//! (the first factor is taken as held). The attacker is a throwaway user
//! who runs `su -c 'echo WPAM-GRANTED' root` through `setpriv`.
//!
//! Needs root (useradd, unshare --mount), so the tests are `#[ignore]`d in a
//! plain `cargo test` and run by `make test-e2e`. Not root: skipped with a
//! note, except under `CI=true`, where that fails.

#[path = "support/child.rs"]
mod child;
#[path = "support/devserver.rs"]
mod devserver;
#[path = "support/pamdrv.rs"]
mod pamdrv;
#[path = "support/sshd.rs"]
mod sshd;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use devserver::{Fault, Options, Running, User, ALICE_SECRET};
use sshd::{deadline, TestUser, WorkDir};

const ALICE: &str = "alice@example.com";
const GRANTED: &str = "WPAM-GRANTED";
const TIMEOUT: u64 = 2;
/// What a busy 2-core machine may add to a module timeout.
const SLACK: Duration = Duration::from_secs(8);

/// One at a time: several measure time, and all share the dev users.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn child_login_entry() {
    child::entry();
}

struct Su {
    api: Running,
    attacker: TestUser,
    work: WorkDir,
    stack: PathBuf,
    log: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

struct Outcome {
    granted: bool,
    output: String,
    elapsed: Duration,
}

impl Su {
    fn start(test: &str, opts: Options) -> Option<Su> {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        if !sshd::root_or_skip(test) {
            return None;
        }
        let work = WorkDir::new("su");
        let api = devserver::start(opts).expect("dev API");
        std::fs::copy(api.ca_path(), work.0.join("ca.pem")).expect("copy ca");
        Some(Su {
            stack: work.0.join("pam.d-su"),
            log: work.0.join("wpam.log"),
            attacker: TestUser::create(),
            api,
            work,
            _serial: serial,
        })
    }

    /// Writes su's stack: wpam alone for auth; `server_url` may be
    /// overridden in `extra`.
    fn configure(&self, extra: &str) {
        let module = pamdrv::module_path();
        let stack = format!(
            "auth required {} server_url={} service_id=dev-service service_key=dev-key-not-secret \
             ca_file={} log_file={} debug timeout={TIMEOUT} u2f_timeout={TIMEOUT} \
             offline_users=root {extra}\n\
             account required pam_permit.so\nsession required pam_permit.so\n",
            module.display(),
            self.api.server_url(),
            self.work.0.join("ca.pem").display(),
            self.log.display(),
        );
        std::fs::write(&self.stack, stack).expect("write su stack");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `su -c 'echo WPAM-GRANTED' root` as the attacker, with `answers` on
    /// stdin, under `prlimit --nofile=N:N` when given. `meanwhile` runs
    /// with su's pid while it runs.
    fn run(&self, answers: &str, nofile: Option<u32>, meanwhile: impl FnOnce(u32)) -> Outcome {
        let u = &self.attacker.name;
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/pam.d/su && shift && exec "$@""#)
            .arg("sh")
            .arg(&self.stack)
            .args(["setpriv", &format!("--reuid={u}"), &format!("--regid={u}")])
            .args(["--init-groups", "--"]);
        if let Some(n) = nofile {
            cmd.args(["prlimit", &format!("--nofile={n}:{n}"), "--"]);
        }
        cmd.args(["su", "-c", &format!("echo {GRANTED}"), "root"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn su");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(answers.as_bytes());
        }
        meanwhile(child.id());
        let out = deadline::wait_output(child, Duration::from_secs(90), "su");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Outcome {
            granted: output.contains(GRANTED),
            output,
            elapsed: started.elapsed(),
        }
    }

    fn totp(&self, code: &str) -> Outcome {
        self.run(&format!("{ALICE}\n{code}\n"), None, |_| {})
    }
}

fn alice_code() -> String {
    devserver::totp_now(ALICE_SECRET)
}

fn wrong_code() -> String {
    devserver::wrong_totp(ALICE_SECRET)
}

#[test]
#[ignore = "needs root (useradd, unshare --mount): run by `make test-e2e`"]
fn su_asks_the_second_factor_of_an_offline_user_while_the_api_answers() {
    // The harness itself: a wrong code is refused, the right one admits.
    let Some(su) = Su::start("su_asks_the_second_factor", Options::default()) else {
        return;
    };
    su.configure("");
    let o = su.totp(&wrong_code());
    assert!(!o.granted, "{}\n{}", o.output, su.log_text());
    let o = su.totp(&alice_code());
    assert!(o.granted, "{}\n{}", o.output, su.log_text());
    // The module knew it ran under a setuid program, as the invoking user.
    assert!(su.log_text().contains(r#"service="su" user="root""#));
}

#[test]
#[ignore = "needs root (useradd, unshare --mount): run by `make test-e2e`"]
fn su_with_few_descriptors_never_admits_an_offline_user() {
    // `prlimit --nofile=5 su`: EMFILE used to surface as "name not found"
    // or a trust-store read error, both taken as an outage.
    let Some(su) = Su::start("su_with_few_descriptors", Options::default()) else {
        return;
    };
    let port = su.api.addr().port();
    let mut seen = Vec::new();
    for url in [su.api.server_url(), format!("localhost:{port}")] {
        su.configure(&format!("server_url={url}"));
        for n in 4..=12 {
            let o = su.run(&format!("{ALICE}\n{}\n", wrong_code()), Some(n), |_| {});
            assert!(
                !o.granted,
                "{url} nofile={n} admitted: {}\n{}",
                o.output,
                su.log_text()
            );
            seen.push((
                url.clone(),
                n,
                o.output.lines().last().unwrap_or("").to_string(),
            ));
        }
    }
    let log = su.log_text();
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains("local error")
            && l.contains("RLIMIT_NOFILE")),
        "no ERROR naming the descriptor limit: {seen:#?}\n{log}"
    );
    assert!(!log.contains("admitted as offline user"), "{log}");
}

#[test]
#[ignore = "needs root (useradd, unshare --mount): run by `make test-e2e`"]
fn su_stopped_during_the_handshake_and_resumed_after_the_timeout_is_denied() {
    // The TLS handshake never completes (the request is not delivered), and
    // the attacker stops su meanwhile: a timeout under a setuid caller is
    // not an outage, so the offline user is not admitted.
    let Some(su) = Su::start(
        "su_stopped_during_the_handshake",
        Options {
            fault: Some(Fault::StallHandshake),
            ..Options::default()
        },
    ) else {
        return;
    };
    su.configure("");
    let api = &su.api;
    let o = su.run(&format!("{ALICE}\n{}\n", alice_code()), None, |pid| {
        let end = Instant::now() + Duration::from_secs(20);
        while api.active_connections() == 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(api.active_connections() > 0, "su never connected");
        // SAFETY: kill only takes numbers; pid is our child, not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        std::thread::sleep(Duration::from_secs(TIMEOUT + 1));
        // SAFETY: as above.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
    });
    assert!(!o.granted, "{}\n{}", o.output, su.log_text());
    let log = su.log_text();
    assert!(
        log.contains("TLS handshake timed out") && log.contains("setuid caller"),
        "{log}"
    );
    assert!(!log.contains("admitted"), "{log}");
    // Not stopped: the same timeout, the same answer.
    let o = su.totp(&alice_code());
    assert!(!o.granted, "{}", o.output);
    assert!(
        o.elapsed < Duration::from_secs(TIMEOUT) + SLACK,
        "{:?}",
        o.elapsed
    );
}

#[test]
#[ignore = "needs root (useradd, unshare --mount): run by `make test-e2e`"]
fn su_offline_user_is_denied_when_the_api_fails_after_the_request() {
    // A Werbot ID that makes the API answer 500, a push nobody approves, a
    // TOTP answer that never comes, a stalled body: answers, not outages.
    let mut opts = Options::default();
    opts.users.push(User {
        fault: Some(Fault::Status500),
        ..User::new("crash@example.com", ALICE_SECRET)
    });
    let Some(su) = Su::start("su_offline_user_is_denied_when_the_api_fails", opts) else {
        return;
    };
    su.configure("");
    let code = alice_code();
    for (what, answers) in [
        (
            "HTTP 500 for this ID",
            format!("crash@example.com\n{code}\n"),
        ),
        ("U2F never approved", "dave@example.com\n\n".to_string()),
    ] {
        let o = su.run(&answers, None, |_| {});
        assert!(!o.granted, "{what}: {}\n{}", o.output, su.log_text());
    }
    for fault in [Fault::Slow(Duration::from_secs(30)), Fault::StallBody] {
        su.api.set_fault(Some(fault.clone()));
        let o = su.totp(&code);
        assert!(!o.granted, "{fault}: {}\n{}", o.output, su.log_text());
    }
    su.api.set_fault(None);
    assert!(!su.log_text().contains("admitted"), "{}", su.log_text());
}

#[test]
#[ignore = "needs root (useradd, unshare --mount): run by `make test-e2e`"]
fn su_creates_a_missing_log_file_owned_by_root() {
    // Created under su, the file used to get the invoking user's group.
    let Some(su) = Su::start("su_creates_a_missing_log_file", Options::default()) else {
        return;
    };
    su.configure("");
    let _ = std::fs::remove_file(&su.log);
    let o = su.totp(&alice_code());
    assert!(o.granted, "{}", o.output);
    let m = std::fs::metadata(&su.log).expect("log file created");
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (0, 0, 0o640));
    // A log file owned by the attacker is not used.
    std::os::unix::fs::chown(&su.log, Some(attacker_uid(&su)), None).expect("chown");
    let before = su.log_text();
    let o = su.totp(&alice_code());
    assert!(o.granted, "{}", o.output);
    assert_eq!(
        su.log_text(),
        before,
        "a log file owned by the user was written"
    );
}

fn attacker_uid(su: &Su) -> u32 {
    std::fs::metadata(&su.attacker.home)
        .expect("attacker home")
        .uid()
}

#[test]
#[ignore = "needs root (to run a login as nobody): run by `make test-e2e`"]
fn an_unprivileged_caller_that_cannot_read_the_config_gets_a_clear_error() {
    // A screen locker runs PAM as the user: the root-only config file is
    // out of its reach. It must say so, not lock the user out silently.
    let Some(su) = Su::start("an_unprivileged_caller", Options::default()) else {
        return;
    };
    let conf = su.work.0.join("wpam.conf");
    std::fs::write(&conf, "service_key=dev-key-not-secret\n").expect("write conf");
    // A log directory and file the unprivileged caller may use.
    let logdir = sshd::WorkDir::new("su-log");
    std::fs::set_permissions(
        &logdir.0,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let log = logdir.0.join("wpam.log");
    std::fs::write(&log, "").expect("create log");
    std::os::unix::fs::chown(&log, Some(65534), Some(65534)).expect("chown log");
    let args = format!(
        "server_url={} service_id=dev-service config={} ca_file=/etc/ssl/certs/ca-certificates.crt \
         log_file={}",
        su.api.server_url(),
        conf.display(),
        log.display()
    );
    let dir = pamdrv::ServiceDir::wpam("nobody", &pamdrv::module_path(), &args);
    std::fs::set_permissions(
        &dir.dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod service dir");
    let how = child::How {
        ids: Some((65534, 65534)),
        ..child::How::default()
    };
    let run = child::login_in_child(&dir, "nobody", &[ALICE, &alice_code()], how);
    assert_eq!(run.auth, Some(pamdrv::PAM_SERVICE_ERR), "{run:?}");
    assert!(
        run.shown
            .iter()
            .any(|m| m.contains("second factor unavailable")),
        "the user was told nothing: {run:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("ERROR")
            && text.contains("runs as uid 65534, not root")
            && text.contains("cannot use config="),
        "{text}"
    );
    assert!(su.api.requests().is_empty());
}
