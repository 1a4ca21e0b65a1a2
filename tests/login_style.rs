//! The OpenBSD login style `login_-wpam`, run as BSD Authentication runs it:
//! environment reduced to PATH and SHELL, a socketpair on fd 3, `-s
//! challenge|response|login`, against the development Werbot API over TLS.

#[path = "support/devserver.rs"]
mod devserver;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devserver::{Options, Running, User, ALICE_SECRET, BOB_SECRET};
use pam_wpam::bsdauth::{unvalue, PROMPT};

const STYLE: &str = env!("CARGO_BIN_EXE_login_-wpam");
const KEY: &str = "dev-key-not-secret";

struct Env {
    server: Option<Running>,
    dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
}

impl Env {
    /// The demo users plus `erin`, whose Werbot ID equals her login.
    fn new() -> Env {
        let mut opts = Options::default();
        opts.users.push(User::new("erin", ALICE_SECRET));
        let server = devserver::start(opts).expect("dev server");
        let dir = devserver::fresh_temp_dir("wpam-style").expect("tmp");
        let ca = dir.join("ca.pem");
        std::fs::copy(server.ca_path(), &ca).expect("copy ca");
        let env = Env {
            conf: dir.join("wpam.conf"),
            log: dir.join("wpam.log"),
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
             wid.alice = alice@example.com\nwid.bob=bob@example.com\n{extra}",
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
            .env("WPAM_LOG_FILE", &self.log);
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
}

impl Run {
    fn authorized(&self) -> bool {
        self.status == Some(0) && self.back.lines().next() == Some("authorize")
    }
    fn rejected(&self) -> bool {
        !self.authorized() && self.back.lines().any(|l| l.starts_with("reject"))
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
    ours.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut back = String::new();
    let _ = ours.read_to_string(&mut back);
    back
}

fn run_with_fd3(mut c: Command, data: &[u8]) -> Run {
    c.stdin(Stdio::null()).stdout(Stdio::piped());
    let (child, mut ours) = spawn_with_fd3(c);
    ours.write_all(data).expect("write fd 3");
    // libc writes all its data at once; EOF makes a short write visible.
    ours.shutdown(std::net::Shutdown::Write).expect("shutdown");
    finish(child, ours)
}

fn finish(child: std::process::Child, ours: UnixStream) -> Run {
    let out = child.wait_with_output().expect("wait");
    Run {
        status: out.status.code(),
        back: read_back(ours),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
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
    assert_eq!(req["userIP"], "");
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
    assert_eq!(r.back, "reject\n");
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
    // Usage errors: no reply at all, non-zero exit.
    for args in [
        &["-s", "passwd", "alice"][..],
        &["-s", "response"],
        &["-q", "alice"],
    ] {
        let r = env.run(args, b"");
        assert_ne!(r.status, Some(0), "{args:?}");
        assert_eq!(r.back, "", "{args:?}");
    }
    assert!(env.server().requests().is_empty());
}

#[test]
fn without_fd3_it_refuses_unless_debug() {
    let env = Env::new();
    let out = env
        .command(&["-s", "challenge", "alice"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    // -d: replies on stdout.
    let out = env
        .command(&["-d", "-s", "challenge", "alice"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("reject challenge\n"));
}

#[test]
fn login_service_reads_stdin_without_a_terminal() {
    let env = Env::new();
    let mut c = env.command(&["-s", "login", "alice", "default"]);
    // No controlling terminal: /dev/tty cannot be opened.
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
    let code = totp(ALICE_SECRET);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{code}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let back = read_back(ours);
    assert_eq!(back, "authorize\n", "log: {}", env.log_text());
    assert!(String::from_utf8_lossy(&out.stderr).contains(PROMPT));
}

/// Opens a pseudo-terminal pair (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty fills two descriptors; NULL name/termios/winsize.
    let rc = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

fn read_until(master: &mut std::fs::File, needle: &str, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < end && !String::from_utf8_lossy(&seen).contains(needle) {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 100) } > 0 {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

fn login_on_tty(env: &Env, user: &str, answer: &str) -> (Run, String) {
    let (master, slave) = openpty();
    let mut c = env.command(&["-s", "login", "--", user, "default"]);
    let slave_fd = slave.as_raw_fd();
    // SAFETY: setsid/ioctl are async-signal-safe; the slave becomes the
    // controlling terminal, so /dev/tty is this pty.
    unsafe {
        c.pre_exec(move || {
            libc::setsid();
            if libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (mut child, ours) = spawn_with_fd3(c);
    drop(slave);
    let mut master = std::fs::File::from(master);
    let mut screen = read_until(&mut master, PROMPT, Duration::from_secs(10));
    master
        .write_all(format!("{answer}\n").as_bytes())
        .expect("type the answer");
    let status = child.wait().expect("wait");
    screen.push_str(&read_until(
        &mut master,
        "\u{0}",
        Duration::from_millis(300),
    ));
    let back = read_back(ours);
    (
        Run {
            status: status.code(),
            back,
            stdout: String::new(),
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
