//! The OpenBSD login style `login_-wpam`, run as BSD Authentication runs it:
//! environment reduced to PATH and SHELL, a socketpair on fd 3, `-s
//! challenge|response|login`, against the development Werbot API over TLS.
//!
//! Debug builds only: a release build of the style ignores `WPAM_CONFIG`
//! (it reads /etc/wpam.conf alone: a user who runs it must not point it at
//! a config of their own), so under `cargo test --release` this file is empty.
#![cfg(debug_assertions)]

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/devserver.rs"]
mod devserver;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devserver::{Fault, Options, Running, User, ALICE_SECRET, BOB_SECRET};
use pam_wpam::bsdauth::{unvalue, PROMPT};

const STYLE: &str = env!("CARGO_BIN_EXE_login_-wpam");
const KEY: &str = "dev-key-not-secret";
/// Longest a run of the style may take: its own limits are timeout=3 and
/// u2f_timeout=10 (see `write_conf`); the rest is a loaded machine's margin.
const STYLE_LIMIT: Duration = Duration::from_secs(60);

struct Env {
    server: Option<Running>,
    dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    /// passwd(5) lines of the tests' users (`WPAM_PASSWD`): the style
    /// refuses a name the password database does not know, and these users
    /// exist only at the dev API. Debug builds read it besides getpwnam.
    passwd: PathBuf,
}

impl Env {
    /// The demo users plus `erin`, whose Werbot ID equals her login.
    fn new() -> Env {
        Env::with(|_| {})
    }

    /// As `new`, with the dev API's options changed by `f` first.
    fn with(f: impl FnOnce(&mut Options)) -> Env {
        let mut opts = Options::default();
        opts.users
            .push(User::new("erin", ALICE_SECRET).with_logins(&["erin"]));
        f(&mut opts);
        let server = devserver::start(opts).expect("dev server");
        let dir = devserver::fresh_temp_dir("wpam-style").expect("tmp");
        let ca = dir.join("ca.pem");
        std::fs::copy(server.ca_path(), &ca).expect("copy ca");
        let passwd = dir.join("passwd");
        let lines: String = ["alice", "bob", "erin", "dave"]
            .iter()
            .enumerate()
            .map(|(i, u)| format!("{u}:*:{}:{}::/home/{u}:/bin/sh\n", 2000 + i, 2000 + i))
            .collect();
        std::fs::write(&passwd, lines).expect("write passwd");
        let env = Env {
            conf: dir.join("wpam.conf"),
            log: dir.join("wpam.log"),
            passwd,
            server: Some(server),
            dir,
        };
        env.write_conf("offline_users=alice\n", 0o600);
        env
    }

    fn server(&self) -> &Running {
        self.server.as_ref().expect("server running")
    }

    fn write_conf(&self, extra: &str, mode: u32) {
        let addr = self
            .server
            .as_ref()
            .map_or("127.0.0.1:1".to_string(), Running::server_url);
        let text = format!(
            "# test config\nserver_url={addr}\nservice_id=dev-service\nservice_key={KEY}\n\
             ca_file={}\nlog_file={}\ntimeout=3\nu2f_timeout=10\ndebug=true\n\
             wid.alice = alice@example.com\nwid.bob=bob@example.com\n\
             # BSD Authentication has no remote host: the server's IP policy needs one\n\
             local_user_ip=127.0.0.1\n{extra}",
            self.dir.join("ca.pem").display(),
            self.log.display()
        );
        std::fs::write(&self.conf, text).expect("write conf");
        std::fs::set_permissions(&self.conf, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The style's command with the environment BSD Authentication gives it.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(STYLE);
        c.args(args)
            .env_clear()
            .env("PATH", "/bin:/usr/bin:/sbin:/usr/sbin")
            .env("SHELL", "/bin/sh")
            .env("WPAM_CONFIG", &self.conf)
            .env("WPAM_LOG_FILE", &self.log)
            .env("WPAM_PASSWD", &self.passwd);
        c
    }

    /// Runs the style with a socketpair as fd 3; writes `data` to it first.
    fn run(&self, args: &[&str], data: &[u8]) -> Run {
        run_with_fd3(self.command(args), data)
    }

    fn respond(&self, user: &str, answer: &str) -> Run {
        let data = format!("{PROMPT}\0{answer}\0");
        self.run(&["-s", "response", "--", user, "default"], data.as_bytes())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Run {
    status: Option<i32>,
    /// What the style wrote on fd 3.
    back: String,
    stdout: String,
    stderr: String,
}

impl Run {
    fn authorized(&self) -> bool {
        self.status == Some(0) && self.back.lines().next() == Some("authorize")
    }
    /// A reject, and (as base styles send, and su prints) its reason just
    /// before it: `value errormsg <reason>` then `reject`.
    fn rejected(&self) -> bool {
        let lines: Vec<&str> = self.back.lines().collect();
        !self.authorized()
            && lines.len() == 2
            && lines[0].starts_with("value errormsg ")
            && lines[1] == "reject"
    }
    /// The reason given with the reject.
    fn errormsg(&self) -> String {
        self.back
            .lines()
            .find_map(|l| l.strip_prefix("value errormsg "))
            .map(|v| String::from_utf8_lossy(&unvalue(v)).into_owned())
            .unwrap_or_default()
    }
}

/// Puts `fd` on descriptor 3 of the child (dup2 clears close-on-exec).
fn put_on_fd3(c: &mut Command, fd: i32) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Spawns with one end of a socketpair as fd 3; returns the other end.
fn spawn_with_fd3(mut c: Command) -> (std::process::Child, UnixStream) {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    put_on_fd3(&mut c, theirs.as_raw_fd());
    let child = c.spawn().expect("spawn login_-wpam");
    (child, ours)
}

/// Everything the style wrote on fd 3 (it has exited: EOF ends the read).
fn read_back(mut ours: UnixStream) -> String {
    ours.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = Instant::now() + Duration::from_secs(10);
    let back = deadline::read_to_end(&mut ours, end, "the style's back channel (fd 3)");
    String::from_utf8_lossy(&back).into_owned()
}

fn run_with_fd3(mut c: Command, data: &[u8]) -> Run {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{c:?}");
    let (child, mut ours) = spawn_with_fd3(c);
    ours.write_all(data).expect("write fd 3");
    // libc writes all its data at once; EOF makes a short write visible.
    ours.shutdown(std::net::Shutdown::Write).expect("shutdown");
    finish(child, ours, &what)
}

fn finish(child: std::process::Child, ours: UnixStream, what: &str) -> Run {
    let out = deadline::wait_output(child, STYLE_LIMIT, what);
    Run {
        status: out.status.code(),
        back: read_back(ours),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn totp(secret: &str) -> String {
    devserver::totp_now(secret)
}

fn last_request(env: &Env) -> serde_json::Value {
    let r = env.server().wait_for_requests(1, Duration::from_secs(5));
    r.last()
        .and_then(|r| r.json.clone())
        .expect("a JSON request")
}

#[test]
fn challenge_gives_the_single_prompt_and_no_api_call() {
    let env = Env::new();
    let r = env.run(
        &[
            "-v",
            "wheel=yes",
            "-s",
            "challenge",
            "--",
            "alice",
            "default",
        ],
        b"",
    );
    assert_eq!(r.status, Some(0), "{}", r.back);
    let lines: Vec<&str> = r.back.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.back);
    let v = lines[0]
        .strip_prefix("value challenge ")
        .expect("value line");
    assert_eq!(unvalue(v), PROMPT.as_bytes());
    assert_eq!(lines[1], "reject challenge");
    // Same answer for a user that does not exist: nothing to enumerate.
    let r2 = env.run(&["-s", "challenge", "NOUSER"], b"");
    assert_eq!(r2.back, r.back);
    assert!(env.server().requests().is_empty());
}

#[test]
fn response_totp_ok_authorizes_with_the_mapped_werbot_id() {
    let env = Env::new();
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(
        r.authorized(),
        "{:?} {} log: {}",
        r.status,
        r.back,
        env.log_text()
    );
    assert_eq!(r.back, "authorize\n");
    let req = last_request(&env);
    assert_eq!(req["user"], "alice");
    assert_eq!(req["wID"], "alice@example.com");
    assert_eq!(req["tfaMethod"], "totp");
    // No remote host in BSD Authentication: local_user_ip of the config.
    assert_eq!(req["userIP"], "127.0.0.1");
    assert_eq!(req["serviceKey"], KEY);
    let log = env.log_text();
    assert!(
        log.contains("bsdauth service=response user=\"alice\""),
        "{log}"
    );
    assert!(!log.contains(KEY), "service key in the log: {log}");
}

#[test]
fn response_without_mapping_uses_the_login_as_werbot_id() {
    let env = Env::new();
    let r = env.respond("erin", &totp(ALICE_SECRET));
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    assert_eq!(last_request(&env)["wID"], "erin");
}

#[test]
fn response_wrong_totp_rejects() {
    let env = Env::new();
    let good = totp(ALICE_SECRET);
    let wrong = format!(
        "{:06}",
        (good.parse::<u32>().expect("digits") + 500_000) % 1_000_000
    );
    let r = env.respond("alice", &wrong);
    assert!(r.rejected(), "{:?} {}", r.status, r.back);
    assert_eq!(
        r.back,
        "value errormsg Werbot second factor refused\nreject\n"
    );
    assert_eq!(env.server().requests().len(), 1);
}

#[test]
fn malformed_code_is_refused_without_a_call() {
    let env = Env::new();
    for answer in ["12345", "1234567", "abcdef", "12 34 56"] {
        let r = env.respond("alice", answer);
        assert!(r.rejected(), "{answer}: {}", r.back);
    }
    assert!(env.server().requests().is_empty());
}

#[test]
fn empty_answer_is_u2f_approve_and_deny() {
    let env = Env::new();
    let r = env.respond("alice", "");
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    let req = last_request(&env);
    assert_eq!(req["tfaMethod"], "U2F");
    assert_eq!(req["totpCode"], "");
    let r = env.respond("bob", "");
    assert!(r.rejected(), "{}", r.back);
}

#[test]
fn password_style_call_with_empty_challenge_works() {
    // auth_userokay(3) / sshd's password authentication: "\0code\0".
    let env = Env::new();
    let data = format!("\0{}\0", totp(ALICE_SECRET));
    let r = env.run(&["-s", "response", "alice"], data.as_bytes());
    assert!(r.authorized(), "{}", r.back);
}

#[test]
fn nouser_is_rejected_without_a_call() {
    let env = Env::new();
    let r = env.respond("NOUSER", &totp(ALICE_SECRET));
    assert!(r.rejected(), "{}", r.back);
    assert!(env.server().requests().is_empty());
    assert!(env.log_text().contains("NOUSER"));
}

/// auth_userokay(3) callers pass any name they were given; one the password
/// database does not know is refused before the API hears of it, even with
/// a Werbot ID mapped and the right code.
#[test]
fn unknown_user_is_rejected_before_any_api_call() {
    let env = Env::new();
    env.write_conf(
        "offline_users=alice\nwid.nosuchuser=alice@example.com\n",
        0o600,
    );
    let r = env.respond("nosuchuser", &totp(ALICE_SECRET));
    assert!(r.rejected(), "{}", r.back);
    assert_eq!(r.errormsg(), "Werbot second factor refused");
    assert!(env.server().requests().is_empty());
    assert!(
        env.log_text().contains("no such user"),
        "{}",
        env.log_text()
    );
}

/// The lookup is the system's (getpwnam): root exists everywhere.
#[test]
fn a_user_of_the_system_password_database_is_accepted() {
    let env = Env::new();
    env.write_conf("wid.root=alice@example.com\n", 0o600);
    let r = env.respond("root", &totp(ALICE_SECRET));
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    let req = last_request(&env);
    assert_eq!(req["user"], "root");
    assert_eq!(req["wID"], "alice@example.com");
}

/// su(1) passes `-v wheel=no` when its caller is not in group wheel: refused
/// with base styles' words, before any prompt or request; other `-v`
/// variables, known or not, change nothing.
#[test]
fn wheel_no_is_refused_and_other_variables_are_ignored() {
    let env = Env::new();
    let data = format!("\0{}\0", totp(ALICE_SECRET));
    for service in ["response", "login"] {
        // Nothing written to fd 3: the style answers before reading it.
        let r = env.run(
            &[
                "-v",
                "wheel=no",
                "-v",
                "lastchance=yes",
                "-s",
                service,
                "alice",
            ],
            b"",
        );
        assert!(r.rejected(), "{service}: {}", r.back);
        assert_eq!(r.errormsg(), "you are not in group wheel");
        assert_eq!(r.stderr, "", "{service}");
    }
    assert!(env.server().requests().is_empty());
    let r = env.run(
        &[
            "-v",
            "wheel=yes",
            "-v",
            "invokinguser=carol",
            "-v",
            "no-equals-sign",
            "-v",
            "future=1",
            "-s",
            "response",
            "alice",
        ],
        data.as_bytes(),
    );
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
}

#[test]
fn offline_user_is_admitted_when_the_api_is_down_and_others_are_not() {
    let mut env = Env::new();
    env.server.take().expect("server").stop();
    // server_url still points at the now closed port.
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    let r = env.respond("bob", &totp(BOB_SECRET));
    assert!(r.rejected(), "{}", r.back);
    let log = env.log_text();
    assert!(log.contains("offline"), "{log}");
}

#[test]
fn group_or_world_readable_config_is_refused() {
    let env = Env::new();
    for mode in [0o640, 0o604, 0o644] {
        env.write_conf("", mode);
        let r = env.respond("alice", &totp(ALICE_SECRET));
        assert!(r.rejected(), "mode {mode:o}: {}", r.back);
    }
    assert!(env.server().requests().is_empty());
    assert!(env.log_text().contains("chmod 0600"), "{}", env.log_text());
}

#[test]
fn config_owned_by_someone_else_is_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "needs root to chown the config file, and CI=true forbids skipping"
        );
        eprintln!("skipped: needs root to chown the config file");
        return;
    }
    let env = Env::new();
    std::os::unix::fs::chown(&env.conf, Some(65534), None).expect("chown");
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(r.rejected(), "{}", r.back);
    assert!(
        env.log_text().contains("must be root"),
        "{}",
        env.log_text()
    );
}

#[test]
fn missing_config_is_refused() {
    let env = Env::new();
    std::fs::remove_file(&env.conf).expect("rm");
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(r.rejected(), "{}", r.back);
}

#[test]
fn protocol_errors_never_authorize() {
    let env = Env::new();
    // Only one string on the back channel.
    let r = env.run(&["-s", "response", "alice"], b"challenge\0");
    assert!(!r.authorized());
    assert_ne!(r.status, Some(0));
    // Usage errors: no reply at all, non-zero exit, nothing on stderr (the
    // caller's terminal); the reason goes to the log and syslog.
    for args in [
        &["-s", "passwd", "alice"][..],
        &["-s", "response"],
        &["-q", "alice"],
    ] {
        let r = env.run(args, b"");
        assert_ne!(r.status, Some(0), "{args:?}");
        assert_eq!(r.back, "", "{args:?}");
        assert_eq!(r.stderr, "", "{args:?}");
    }
    assert!(env.log_text().contains("usage"), "{}", env.log_text());
    assert!(env.server().requests().is_empty());
}

#[test]
fn without_fd3_it_refuses_unless_debug() {
    let env = Env::new();
    let out = deadline::output(
        &mut env.command(&["-s", "challenge", "alice"]),
        STYLE_LIMIT,
        "login_-wpam without fd 3",
    )
    .expect("run");
    assert!(!out.status.success());
    // -d: replies on stdout.
    let out = deadline::output(
        &mut env.command(&["-d", "-s", "challenge", "alice"]),
        STYLE_LIMIT,
        "login_-wpam -d without fd 3",
    )
    .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("reject challenge\n"));
}

/// `-s login` for alice with no controlling terminal (/dev/tty cannot be
/// opened): prompts on stderr, `answers` on stdin. Its output and what it
/// wrote on fd 3.
fn login_without_terminal(env: &Env, answers: &str) -> (std::process::Output, String) {
    let mut c = env.command(&["-s", "login", "alice", "default"]);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, ours) = spawn_with_fd3(c);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("write");
    let out = deadline::wait_output(child, STYLE_LIMIT, "login_-wpam -s login, no terminal");
    (out, read_back(ours))
}

#[test]
fn login_service_reads_stdin_without_a_terminal() {
    let env = Env::new();
    let (out, back) = login_without_terminal(&env, &format!("{}\n", totp(ALICE_SECRET)));
    assert_eq!(back, "authorize\n", "log: {}", env.log_text());
    assert!(String::from_utf8_lossy(&out.stderr).contains(PROMPT));
}

/// Opens a pseudo-terminal pair (master, slave), both ends close-on-exec
/// from the moment they exist (`openpty` has no such flag): tests run in
/// parallel threads, and a pty end inherited by another test's child once
/// sat on that child's fd 3 and passed for its back channel.
fn openpty() -> (OwnedFd, OwnedFd) {
    let err = std::io::Error::last_os_error;
    // SAFETY: opens a new descriptor; no pointer arguments.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(m >= 0, "posix_openpt: {}", err());
    // SAFETY: m was just opened and is owned here.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt/unlockpt take the master descriptor.
    assert_eq!(unsafe { libc::grantpt(m) }, 0, "grantpt: {}", err());
    assert_eq!(unsafe { libc::unlockpt(m) }, 0, "unlockpt: {}", err());
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes a NUL-terminated name of at most name.len().
    let rc = unsafe { libc::ptsname_r(m, name.as_mut_ptr(), name.len()) };
    assert_eq!(
        rc,
        0,
        "ptsname_r: {}",
        std::io::Error::from_raw_os_error(rc)
    );
    // SAFETY: name is NUL-terminated (ptsname_r succeeded).
    let s = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    assert!(s >= 0, "open the pty slave: {}", err());
    // SAFETY: s was just opened and is owned here.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    for fd in [m, s] {
        // SAFETY: F_GETFD only queries the descriptor table.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(
            flags & libc::FD_CLOEXEC != 0,
            "pty fd {fd} not close-on-exec"
        );
    }
    (master, slave)
}

/// Echo is on for the terminal whose slave is `fd`.
fn echo_on(fd: impl AsFd) -> bool {
    // SAFETY: tcgetattr fills a zero-initialised termios from an open fd.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(
            libc::tcgetattr(fd.as_fd().as_raw_fd(), &mut t),
            0,
            "tcgetattr: {}",
            std::io::Error::last_os_error()
        );
        t.c_lflag & libc::ECHO != 0
    }
}

/// Why `read_screen` stopped.
#[derive(Debug, PartialEq)]
enum Stop {
    /// `done` said so.
    Done,
    /// End of file, or EIO: no slave is open any more.
    Closed,
    Deadline,
}

/// Reads the pty master until `done(screen so far)`, its end, or `limit`.
fn read_screen(
    master: &mut std::fs::File,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, Stop) {
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if done(&text) {
            return (text, Stop::Done);
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (text, Stop::Deadline);
        }
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let wait_ms = left.as_millis().clamp(1, 100) as libc::c_int;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, wait_ms) } > 0 {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => return (text, Stop::Closed),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// The style's process; killed and reaped if the test fails before it ends.
struct Style(std::process::Child);

impl Drop for Style {
    fn drop(&mut self) {
        // Returns at once when it was reaped already (the status is kept).
        let _ = deadline::wait_or_kill(&mut self.0, Duration::ZERO);
    }
}

/// The style started with `-s login` on a pseudo-terminal that is its
/// controlling terminal, at its prompt, with echo checked off.
struct AtPrompt {
    style: Style,
    master: std::fs::File,
    slave: OwnedFd,
    ours: UnixStream,
    screen: String,
}

/// The child leads a new session whose controlling terminal is `slave`, so
/// /dev/tty is this pty (and, with `stdin`, so is its standard input). This
/// closure runs before put_on_fd3's (in the order they were added), whose
/// dup2 may replace whatever descriptor 3 was — possibly this slave.
fn on_own_terminal(c: &mut Command, slave: &OwnedFd, stdin: bool) {
    let slave_fd = slave.as_raw_fd();
    // SAFETY: setsid, ioctl and dup2 are async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            libc::setsid();
            if libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if stdin && libc::dup2(slave_fd, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn login_prompt_on_tty(env: &Env, user: &str) -> AtPrompt {
    let (master, slave) = openpty();
    let mut c = env.command(&["-s", "login", "--", user, "default"]);
    on_own_terminal(&mut c, &slave, false);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (child, ours) = spawn_with_fd3(c);
    let style = Style(child);
    // The test holds the slave open until the style has exited. The style
    // has no slave descriptor until it opens /dev/tty, and while no slave is
    // open a read on the master fails at once: the answer was then typed
    // before the prompt, and the style's TCSAFLUSH (echo off) discarded it,
    // leaving the style waiting for a line forever.
    let mut master = std::fs::File::from(master);
    let (screen, stop) = read_screen(&mut master, Duration::from_secs(30), |s| s.contains(PROMPT));
    assert_eq!(
        stop,
        Stop::Done,
        "no prompt from {user}'s login: {screen:?}"
    );
    // Echo off (TCSAFLUSH) first, then the prompt, as readpassphrase(3)
    // does: what is typed once the prompt shows is never flushed.
    assert!(
        !echo_on(&slave),
        "the prompt showed while echo was still on; its TCSAFLUSH may eat the answer: {screen:?}"
    );
    AtPrompt {
        style,
        master,
        slave,
        ours,
        screen,
    }
}

/// `-s login` on a pseudo-terminal that is the style's controlling terminal:
/// waits for the prompt, checks that echo is off by then, types `answer`.
fn login_on_tty(env: &Env, user: &str, answer: &str) -> (Run, String) {
    let AtPrompt {
        mut style,
        mut master,
        slave,
        ours,
        mut screen,
    } = login_prompt_on_tty(env, user);
    master
        .write_all(format!("{answer}\n").as_bytes())
        .expect("type the answer");
    let status = deadline::wait_status(
        &mut style.0,
        STYLE_LIMIT,
        &format!("login_-wpam -s login {user}, answer {answer:?} typed, screen {screen:?}"),
    );
    // The style has exited: with the last slave closed, the master reads
    // what is left on the screen, then ends.
    drop(slave);
    let (rest, stop) = read_screen(&mut master, Duration::from_secs(10), |_| false);
    screen.push_str(&rest);
    assert_eq!(stop, Stop::Closed, "the pty stayed open: {screen:?}");
    let back = read_back(ours);
    (
        Run {
            status: status.code(),
            back,
            stdout: String::new(),
            stderr: String::new(),
        },
        screen,
    )
}

#[test]
fn login_service_on_a_terminal_prompts_without_echo() {
    let env = Env::new();
    let code = totp(ALICE_SECRET);
    let (r, screen) = login_on_tty(&env, "alice", &code);
    assert!(
        r.authorized(),
        "{} screen: {screen:?} log: {}",
        r.back,
        env.log_text()
    );
    assert!(screen.contains(PROMPT), "{screen:?}");
    assert!(!screen.contains(&code), "the code was echoed: {screen:?}");
    assert_eq!(r.stdout, "");
}

#[test]
fn login_service_u2f_shows_the_notice_and_bad_code_the_rule() {
    let env = Env::new();
    let (r, screen) = login_on_tty(&env, "alice", "");
    assert!(r.authorized(), "{} {screen:?}", r.back);
    assert!(screen.contains("security key or device"), "{screen:?}");
    let (r, screen) = login_on_tty(&env, "alice", "123");
    assert!(r.rejected(), "{}", r.back);
    assert!(screen.contains("exactly 6 digits"), "{screen:?}");
}

/// Ctrl-C at the prompt ends the style (no reply: nothing authorized) and
/// leaves the terminal as it found it, echo on, as readpassphrase(3) does.
#[test]
fn ctrl_c_at_the_prompt_restores_echo() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new();
    let AtPrompt {
        mut style,
        mut master,
        slave,
        ours,
        screen,
    } = login_prompt_on_tty(&env, "alice");
    // VINTR (^C) on the pty: SIGINT to its foreground process group, the
    // style's (it leads the pty's session).
    master.write_all(b"\x03").expect("type ^C");
    let status = deadline::wait_status(&mut style.0, STYLE_LIMIT, "login_-wpam after ^C");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?} {screen:?}");
    assert!(echo_on(&slave), "echo left off after ^C at the prompt");
    drop(slave);
    assert_eq!(read_back(ours), "");
    assert!(env.server().requests().is_empty());
}

/// ^Z at the prompt: the terminal gets its echo back while the style is
/// stopped. The style runs under a job-control shell (`sh -m`), so its
/// process group is not orphaned and the stop really happens; the shell then
/// exits, and the kernel's SIGHUP for the orphaned stopped job ends it.
#[test]
fn ctrl_z_at_the_prompt_restores_echo() {
    let env = Env::new();
    let (master, slave) = openpty();
    let mut c = Command::new("/bin/sh");
    c.args(["-mc", "\"$0\" -s login -- alice default; sleep 2", STYLE])
        .env_clear()
        .env("PATH", "/bin:/usr/bin:/sbin:/usr/sbin")
        .env("SHELL", "/bin/sh")
        .env("WPAM_CONFIG", &env.conf)
        .env("WPAM_LOG_FILE", &env.log)
        .env("WPAM_PASSWD", &env.passwd);
    // The shell's job control wants the terminal on its stdin.
    on_own_terminal(&mut c, &slave, true);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let (child, ours) = spawn_with_fd3(c);
    let mut shell = Style(child);
    let mut master = std::fs::File::from(master);
    let (screen, stop) = read_screen(&mut master, Duration::from_secs(30), |s| s.contains(PROMPT));
    assert_eq!(stop, Stop::Done, "no prompt: {screen:?}");
    assert!(!echo_on(&slave), "echo on at the prompt: {screen:?}");
    // VSUSP (^Z): SIGTSTP to the terminal's foreground group, the style's.
    master.write_all(b"\x1a").expect("type ^Z");
    let end = Instant::now() + Duration::from_secs(10);
    while !echo_on(&slave) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(echo_on(&slave), "echo left off after ^Z at the prompt");
    let _ = deadline::wait_status(&mut shell.0, STYLE_LIMIT, "sh -m running the style");
    drop(slave);
    let back = read_back(ours);
    assert!(!back.contains("authorize"), "{back}");
    assert!(env.server().requests().is_empty());
}

// --- the fail-closed rule, through the style ---------------------------------

/// alice is an offline user (see `Env::new`); with the right code, each
/// fault must still reject her: the request reached the server.
#[test]
fn offline_user_is_rejected_when_the_api_fails_after_the_request() {
    for fault in [
        Fault::Status500,
        Fault::Slow(Duration::from_secs(30)),
        Fault::Reset,
        Fault::StallBody,
        Fault::BadLength,
    ] {
        let env = Env::with(|o| o.fault = Some(fault.clone()));
        let t = Instant::now();
        let r = env.respond("alice", &totp(ALICE_SECRET));
        assert!(r.rejected(), "{fault}: {} log: {}", r.back, env.log_text());
        assert!(
            t.elapsed() < Duration::from_secs(3 + 8),
            "{fault}: {:?}",
            t.elapsed()
        );
        assert_eq!(
            env.server().requests().len(),
            1,
            "{fault}: the request was sent"
        );
        let log = env.log_text();
        assert!(
            log.contains("denied") && !log.contains("admitted"),
            "{fault}: {log}"
        );
    }
}

#[test]
fn offline_user_is_rejected_when_nobody_approves_the_push() {
    let env = Env::new();
    env.write_conf(
        "offline_users=dave\nwid.dave=dave@example.com\nu2f_timeout=2\n",
        0o600,
    );
    let r = env.respond("dave", "");
    assert!(r.rejected(), "{} log: {}", r.back, env.log_text());
    assert!(
        env.log_text().contains("not an outage"),
        "{}",
        env.log_text()
    );
}

#[test]
fn a_handshake_that_never_completes_is_an_outage() {
    let env = Env::with(|o| o.fault = Some(Fault::StallHandshake));
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    let r = env.respond("bob", &totp(BOB_SECRET));
    assert!(r.rejected(), "{}", r.back);
    assert!(
        env.log_text().contains("TLS handshake timed out"),
        "{}",
        env.log_text()
    );
}

#[test]
fn a_code_of_spaces_is_refused_without_a_call() {
    let env = Env::new();
    for answer in [" ", "      "] {
        let r = env.respond("alice", answer);
        assert!(r.rejected(), "{answer:?}: {}", r.back);
    }
    assert!(env.server().requests().is_empty());
}

#[test]
fn a_panic_rejects_and_prints_nothing_on_stderr() {
    let env = Env::new();
    env.write_conf("debug_panic=1\n", 0o600);
    let mut c = env.command(&["-s", "response", "--", "alice", "default"]);
    c.env("RUST_BACKTRACE", "full");
    let data = format!("{PROMPT}\0{}\0", totp(ALICE_SECRET));
    let r = run_with_fd3(c, data.as_bytes());
    assert!(!r.authorized(), "{}", r.back);
    assert_ne!(r.status, Some(0));
    assert_eq!(r.stderr, "", "the panic reached stderr");
    assert!(
        env.log_text().contains("internal error (panic"),
        "{}",
        env.log_text()
    );
}

#[test]
fn no_proxy_is_taken_from_the_environment() {
    let env = Env::new();
    let mut c = env.command(&["-s", "response", "--", "alice", "default"]);
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        c.env(var, "http://127.0.0.1:1");
    }
    let data = format!("{PROMPT}\0{}\0", totp(ALICE_SECRET));
    let r = run_with_fd3(c, data.as_bytes());
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    assert_eq!(env.server().requests().len(), 1);
}

// --- offline_secrets: during an outage, an offline user's own code ---------

/// alice's offline secret (not her Werbot one): RFC 6238's SHA-1 seed.
const OFFLINE_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

impl Env {
    /// Makes alice an offline user who needs her own code; stops the API.
    fn offline_outage(&mut self) {
        let file = self.dir.join("wpam-offline");
        std::fs::write(&file, format!("alice {OFFLINE_SECRET}\n")).expect("write secrets");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if let Some(s) = self.server.take() {
            s.stop();
        }
        // server_url points at the now closed port.
        self.write_conf(
            &format!("offline_users=alice\noffline_secrets={}\n", file.display()),
            0o600,
        );
    }
}

#[test]
fn response_during_an_outage_takes_the_one_answer_as_the_offline_code() {
    let mut env = Env::new();
    env.offline_outage();
    // Her Werbot code is not her offline code: rejected.
    let r = env.respond("alice", &totp(ALICE_SECRET));
    assert!(r.rejected(), "{} log: {}", r.back, env.log_text());
    let code = totp(OFFLINE_SECRET);
    let r = env.respond("alice", &code);
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    // Once only.
    let r = env.respond("alice", &code);
    assert!(r.rejected(), "{}", r.back);
    // An empty answer (U2F) has no offline code in it.
    let r = env.respond("alice", "");
    assert!(r.rejected(), "{}", r.back);
    let log = env.log_text();
    assert!(log.contains("wrong offline code"), "{log}");
    assert!(log.contains("valid offline code"), "{log}");
    assert!(log.contains("offline code already used"), "{log}");
    assert!(!log.contains(OFFLINE_SECRET), "{log}");
}

#[test]
fn login_service_during_an_outage_asks_for_the_offline_code() {
    let mut env = Env::new();
    env.offline_outage();
    let answers = format!("{}\n{}\n", totp(ALICE_SECRET), totp(OFFLINE_SECRET));
    let (out, back) = login_without_terminal(&env, &answers);
    assert_eq!(back, "authorize\n", "log: {}", env.log_text());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Werbot is unreachable. Offline code for alice: "),
        "{err}"
    );
}

#[test]
fn unenrolled_allow_admits_only_a_tied_login() {
    // dave has no wid. line and no Werbot user named dave: the style's
    // fallback to the login name is no tie, so "user not found" denies.
    let env = Env::new();
    env.write_conf("unenrolled=allow\n", 0o600);
    let r = env.respond("dave", "123456");
    assert!(r.rejected(), "{} log: {}", r.back, env.log_text());
    // Tied by werbot_id_from_login: the rollout mode admits.
    env.write_conf("unenrolled=allow\nwerbot_id_from_login=true\n", 0o600);
    let r = env.respond("dave", "123456");
    assert!(r.authorized(), "{} log: {}", r.back, env.log_text());
    assert_eq!(env.server().requests().len(), 2);
}
