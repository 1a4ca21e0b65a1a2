//! A real OpenSSH server and client for end-to-end tests (needs root).
//!
//! [`Sshd`] runs Debian's `/usr/sbin/sshd` on a loopback port with its own
//! sshd_config, host key, pid file and log, under its own PAM service
//! `/etc/pam.d/sshd-wpam-XXXX`, which this helper writes and removes again
//! (the system's /etc/pam.d/sshd is never touched). OpenSSH ≤ 9.7 names the
//! PAM service after argv[0]'s basename, so sshd is started through a symlink
//! `DIR/sshd-wpam-XXXX`; 9.8 and later ignore argv[0] (PAM runs in
//! sshd-session) and reads the name from `PAMServiceName`, which the
//! sshd_config then sets. [`TestUser`] is a throwaway Unix account. [`ssh`] runs the
//! real `ssh` client with an askpass program that answers keyboard-interactive
//! prompts by their text and records every prompt it was shown.
//!
//! Every guard removes what it made when dropped, also when a test panics.
//!
//! All of it runs on the host, or inside the Debian root named by
//! `WPAM_E2E_ROOT` ([`root`]): sshd, ssh, ssh-keygen, useradd and the PAM
//! service file are then the root's own, reached through `chroot`, so the
//! same tests prove another release's OpenSSH and Linux-PAM (ci/test/roots.sh).
#![allow(dead_code)]

#[path = "deadline.rs"]
pub mod deadline;

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PROMPT_ID: &str = "Enter your Werbot ID (email or username): ";
pub const PROMPT_CODE: &str = "Enter your totp code (submit empty for U2F): ";
pub const SSHD: &str = "/usr/sbin/sshd";
/// Longest a helper command (ssh-keygen, useradd, userdel, chown) may take.
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// Where sshd, ssh, the test users and /etc/pam.d are: the host (`/`), or
/// the chroot `WPAM_E2E_ROOT` names. Paths handed to a program that runs
/// there are [`Root::inside`] paths; the tests read and write files through
/// the host path of the same file.
pub struct Root {
    dir: Option<PathBuf>,
}

/// The root of this test process, from `WPAM_E2E_ROOT` (unset or empty: the host).
pub fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::var_os("WPAM_E2E_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(d) = &dir {
            assert!(
                d.is_absolute() && d.join("usr/sbin/sshd").exists(),
                "WPAM_E2E_ROOT={}: not an absolute path to a root with /usr/sbin/sshd",
                d.display()
            );
        }
        Root { dir }
    })
}

impl Root {
    /// The chroot directory, None on the host.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The host path of `inner`, a path as programs in the root see it.
    pub fn outside(&self, inner: impl AsRef<Path>) -> PathBuf {
        let inner = inner.as_ref();
        match &self.dir {
            None => inner.to_path_buf(),
            Some(d) => d.join(inner.strip_prefix("/").unwrap_or(inner)),
        }
    }

    /// The path programs in the root see for `host`, a host path inside it.
    pub fn inside(&self, host: &Path) -> PathBuf {
        match &self.dir {
            None => host.to_path_buf(),
            Some(d) => {
                let rel = host.strip_prefix(d).unwrap_or_else(|_| {
                    panic!("{} is outside the root {}", host.display(), d.display())
                });
                Path::new("/").join(rel)
            }
        }
    }

    /// `program` (a path or a name on the root's PATH) run in the root.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.dir {
            None => Command::new(program),
            Some(d) => {
                // chroot(8) execs the program, so the child's pid is the
                // program's own (sshd's pid, its children, signals).
                let mut c = Command::new("chroot");
                c.arg(d).arg(program);
                c
            }
        }
    }
}

/// True when the test may run. Not root: skipped with a note, except under
/// `CI=true`, where a skipped end-to-end suite would hide a broken runner.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: needs root (sshd, useradd, /etc/pam.d) and CI=true forbids skipping"
    );
    eprintln!("SKIPPED {test}: needs root (sshd, useradd, /etc/pam.d)");
    false
}

/// Eight random hex digits (names of users, services, directories).
pub fn random_suffix() -> String {
    let mut b = [0u8; 4];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("read /dev/urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let out = deadline::output(cmd, TOOL_LIMIT, &what).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Process ids are written into what a run creates (the GECOS field of
/// users, the name of PAM services) so that a later run can remove what a
/// killed one (SIGKILL, Ctrl-C: no destructor runs) left behind.
const GECOS_MARK: &str = "wpam-e2e pid=";
const SERVICE_PREFIX: &str = "sshd-wpam-";
const GROUP_PREFIX: &str = "wpe2eg-";

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Once per process: removes users and PAM services of dead runs.
fn sweep_leftovers() {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        let passwd = fs::read_to_string(root().outside("/etc/passwd")).unwrap_or_default();
        for f in passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()) {
            let pid = f
                .get(4)
                .and_then(|g| g.strip_prefix(GECOS_MARK)?.parse().ok());
            if pid.is_some_and(|p| !alive(p)) {
                eprintln!("removing user {} left by a killed run", f[0]);
                let _ = deadline::output(
                    root().command("userdel").args(["-f", "-r", f[0]]),
                    TOOL_LIMIT,
                    "userdel of a leftover user",
                );
            }
        }
        let group = fs::read_to_string(root().outside("/etc/group")).unwrap_or_default();
        for name in group.lines().filter_map(|l| l.split(':').next()) {
            let pid = name
                .strip_prefix(GROUP_PREFIX)
                .and_then(|r| r.split_once('-')?.0.parse().ok());
            if pid.is_some_and(|p| !alive(p)) {
                eprintln!("removing group {name} left by a killed run");
                let _ = deadline::output(
                    root().command("groupdel").arg(name),
                    TOOL_LIMIT,
                    "groupdel of a leftover group",
                );
            }
        }
        for e in fs::read_dir(root().outside("/etc/pam.d"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix(SERVICE_PREFIX)
                .and_then(|r| r.split_once('-')?.0.parse().ok());
            if pid.is_some_and(|p| !alive(p)) {
                eprintln!("removing /etc/pam.d/{name} left by a killed run");
                let _ = fs::remove_file(e.path());
            }
        }
    });
}

/// A private working directory, removed on drop.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(tag: &str) -> WorkDir {
        // In a root, under its /tmp: sshd and the module there open these files.
        let tmp = match root().dir() {
            None => std::env::temp_dir(),
            Some(_) => root().outside("/tmp"),
        };
        let dir = tmp.join(format!("wpam-{tag}-{}", random_suffix()));
        fs::create_dir(&dir).expect("create work dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod work dir");
        WorkDir(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `ssh-keygen -t ed25519` into `path` (and `path.pub`); returns the public line.
pub fn keygen(path: &Path) -> String {
    run(root()
        .command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "wpam-e2e", "-f"])
        .arg(root().inside(path)));
    fs::read_to_string(path.with_extension("pub")).expect("read public key")
}

/// A throwaway Unix account (`useradd -m`, shell /bin/sh), deleted on drop.
pub struct TestUser {
    pub name: String,
    pub home: PathBuf,
}

impl TestUser {
    pub fn create() -> TestUser {
        sweep_leftovers();
        let name = format!("wpe2e{}", random_suffix());
        let mark = format!("{GECOS_MARK}{}", std::process::id());
        run(root()
            .command("useradd")
            .args(["-m", "-s", "/bin/sh", "-c", &mark, &name]));
        let home = root().outside(format!("/home/{name}"));
        TestUser { name, home }
    }

    /// Installs `~/.ssh/authorized_keys` with the modes sshd's StrictModes wants.
    pub fn authorize(&self, public_key: &str) {
        let ssh = self.home.join(".ssh");
        fs::create_dir_all(&ssh).expect("mkdir ~/.ssh");
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).expect("chmod ~/.ssh");
        let keys = ssh.join("authorized_keys");
        fs::write(&keys, public_key).expect("write authorized_keys");
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).expect("chmod keys");
        run(root()
            .command("chown")
            .args(["-R", &format!("{0}:{0}", self.name)])
            .arg(root().inside(&ssh)));
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = deadline::output(
            root().command("userdel").args(["-f", "-r", &self.name]),
            TOOL_LIMIT,
            "userdel of a test user",
        );
    }
}

/// A throwaway group (`groupadd`), with supplementary members; removed on
/// drop.
pub struct TestGroup {
    pub name: String,
}

impl TestGroup {
    /// `members` are login names; root may be one (removed with the group).
    pub fn create(members: &[&str]) -> TestGroup {
        sweep_leftovers();
        let suffix: String = random_suffix().chars().take(4).collect();
        let name = format!("{GROUP_PREFIX}{}-{suffix}", std::process::id());
        run(root().command("groupadd").arg(&name));
        let group = TestGroup { name };
        for m in members {
            run(root().command("usermod").args(["-aG", &group.name, m]));
        }
        group
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = deadline::output(
            root().command("groupdel").arg(&self.name),
            TOOL_LIMIT,
            "groupdel of a test group",
        );
    }
}

/// `/etc/pam.d/<service>`, removed on drop.
pub struct PamService {
    pub name: String,
    pub path: PathBuf,
}

impl PamService {
    fn create(name: String) -> PamService {
        let path = root().outside("/etc/pam.d").join(&name);
        assert!(!path.exists(), "{} exists already", path.display());
        PamService { name, path }
    }

    /// Replaces the whole stack (atomically: sshd reads it per connection).
    pub fn set(&self, stack: &str) {
        let tmp = self.path.with_extension("tmp");
        fs::write(&tmp, stack).expect("write pam.d service");
        fs::rename(&tmp, &self.path).expect("install pam.d service");
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(self.path.with_extension("tmp"));
    }
}

/// The setup the README documents, built from the system's /etc/pam.d/sshd:
/// `@include common-auth` commented out, wpam alone in the auth stack, wpam in
/// the account stack, every session line of the distribution kept.
pub fn documented_stack(module: &Path, args: &str) -> String {
    let system = fs::read_to_string(root().outside("/etc/pam.d/sshd")).unwrap_or_default();
    let auth = format!("auth       required     {} {args}\n", module.display());
    let account = format!("account    required     {} {args}\n", module.display());
    let mut out = String::from("# written by wpam's end-to-end tests; removed at the end\n");
    let (mut auth_done, mut account_done) = (false, false);
    for line in system.lines() {
        let t = line.trim_start();
        if t.starts_with("@include common-auth") {
            out.push_str("# @include common-auth\n");
            out.push_str(&auth);
            auth_done = true;
            continue;
        }
        if !account_done && (t.starts_with("account") || t.starts_with("@include common-account")) {
            if !auth_done {
                out.push_str(&auth);
                auth_done = true;
            }
            out.push_str(&account);
            account_done = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !auth_done {
        out.push_str(&auth);
    }
    if !account_done {
        out.push_str(&account);
    }
    out
}

/// A process killed (TERM, then KILL) and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        let pid = self.0.id() as libc::pid_t;
        // SAFETY: signalling our own, not yet reaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        // Killed (SIGKILL) and reaped if TERM did not end it in 5 s.
        let _ = deadline::wait_or_kill(&mut self.0, Duration::from_secs(5));
    }
}

/// True when the sshd knows the sshd_config keyword `option` (lower case),
/// from its `sshd -T` (every keyword it has, with its default).
fn sshd_knows(option: &str, host_key: &Path) -> bool {
    static DEFAULTS: OnceLock<String> = OnceLock::new();
    let out = DEFAULTS.get_or_init(|| {
        run(root()
            .command(SSHD)
            .args(["-T", "-f", "/dev/null", "-h"])
            .arg(root().inside(host_key)))
    });
    out.lines()
        .any(|l| l.split_whitespace().next() == Some(option))
}

/// Pids whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// Open descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A running sshd with its own config, host key, log and PAM service.
pub struct Sshd {
    // Field order is drop order: the daemon stops before its PAM service and
    // its directory go away.
    proc: Proc,
    pub pam: PamService,
    pub port: u16,
    pub log: PathBuf,
    pub config: PathBuf,
    pub dir: PathBuf,
    askpass: PathBuf,
    ask_counter: AtomicUsize,
}

impl Sshd {
    /// Starts sshd under `dir` with PAM `stack`; `extra` lines end sshd_config
    /// (after the defaults, so a `Match` block may follow).
    pub fn start(dir: &Path, stack: &str, extra: &[&str]) -> Sshd {
        sweep_leftovers();
        let service = format!("{SERVICE_PREFIX}{}-{}", std::process::id(), random_suffix());
        let pam = PamService::create(service.clone());
        pam.set(stack);
        // Debian's sshd refuses to start without its privilege separation
        // directory; the systemd unit normally creates it.
        fs::create_dir_all(root().outside("/run/sshd")).expect("mkdir /run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        if !host_key.exists() {
            keygen(&host_key);
        }
        let link = dir.join(&service);
        std::os::unix::fs::symlink(SSHD, &link).expect("symlink sshd");
        let askpass = dir.join("askpass");
        fs::write(&askpass, ASKPASS).expect("write askpass");
        fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)).expect("chmod askpass");
        let log = dir.join("sshd.log");
        let config = dir.join("sshd_config");
        for attempt in 0.. {
            let port = free_port();
            let mut text = format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {}\n\
                 PidFile {}\n",
                root().inside(&host_key).display(),
                root().inside(&dir.join("sshd.pid")).display()
            );
            if sshd_knows("pamservicename", &host_key) {
                // OpenSSH 9.8+ names the PAM service in sshd_config (default
                // "sshd") and no longer after argv[0].
                text.push_str(&format!("PAMServiceName {service}\n"));
            }
            if sshd_knows("persourcepenalties", &host_key) {
                // OpenSSH 9.8+ refuses, for seconds, connections from an
                // address whose logins failed or that left early, and every
                // test login comes from 127.0.0.1: after the first wrong
                // code sshd itself would refuse the next, correct one.
                text.push_str("PerSourcePenalties no\n");
            }
            text.push_str(SSHD_CONFIG);
            for l in extra {
                text.push_str(l);
                text.push('\n');
            }
            fs::write(&config, text).expect("write sshd_config");
            // Absolute argv[0]: sshd re-executes itself for every connection.
            let mut cmd = root().command(root().inside(&link));
            // SAFETY: prctl is async-signal-safe. If the test process dies
            // without running destructors, the daemon goes with it.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = cmd
                .arg("-D")
                .arg("-f")
                .arg(root().inside(&config))
                .arg("-E")
                .arg(root().inside(&log))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sshd");
            let mut proc = Proc(child);
            if wait_banner(port, &mut proc.0) {
                if let Some(d) = root().dir() {
                    // The daemon that answers is the root's, not the host's.
                    let seen = fs::read_link(format!("/proc/{}/root", proc.0.id()));
                    assert_eq!(seen.ok().as_deref(), Some(d), "sshd's root directory");
                }
                return Sshd {
                    proc,
                    pam,
                    port,
                    log,
                    config,
                    dir: dir.to_path_buf(),
                    askpass,
                    ask_counter: AtomicUsize::new(0),
                };
            }
            drop(proc);
            assert!(
                attempt < 4,
                "sshd did not start; its log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        unreachable!()
    }

    pub fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    /// Still running and still greeting new connections.
    pub fn healthy(&self) -> bool {
        banner(self.port).is_some()
    }

    /// Descendant processes (connection handlers and sessions) right now.
    pub fn children(&self) -> Vec<u32> {
        children_of(self.pid())
    }

    /// Waits until sshd has no child left; returns those still there.
    pub fn wait_idle(&self, timeout: Duration) -> Vec<u32> {
        let end = Instant::now() + timeout;
        loop {
            let c = self.children();
            if c.is_empty() || Instant::now() >= end {
                return c;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// One login with the real ssh client.
    pub fn ssh(&self, req: &Login) -> Outcome {
        let n = self.ask_counter.fetch_add(1, Ordering::Relaxed);
        let ask = self.dir.join(format!("ask-{n}"));
        fs::create_dir(&ask).expect("mkdir ask dir");
        fs::write(ask.join("id"), req.id).expect("write id answer");
        fs::write(ask.join("code"), req.code).expect("write code answer");
        if let Some(c) = req.then_code {
            fs::write(ask.join("code.0"), req.code).expect("write code answer");
            fs::write(ask.join("code.1"), c).expect("write second code answer");
        }
        let stdout = fs::File::create(ask.join("stdout")).expect("stdout file");
        let stderr = fs::File::create(ask.join("stderr")).expect("stderr file");
        let mut cmd = root().command("ssh");
        cmd.args([
            "-F",
            "/dev/null",
            "-p",
            &self.port.to_string(),
            "-l",
            req.user,
        ])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=no"])
        .args([
            "-o",
            if req.then_code.is_some() {
                "NumberOfPasswordPrompts=2"
            } else {
                "NumberOfPasswordPrompts=1"
            },
        ])
        .args(["-o", "ConnectTimeout=20"])
        .args(["-o", &format!("PreferredAuthentications={}", req.methods)]);
        match req.key {
            Some(k) => cmd
                .args(["-o", "IdentitiesOnly=yes", "-i"])
                .arg(root().inside(k)),
            None => cmd.args(["-o", "PubkeyAuthentication=no"]),
        };
        cmd.arg("127.0.0.1")
            .arg(req.command)
            .env_remove("SSH_AUTH_SOCK")
            .env("SSH_ASKPASS", root().inside(&self.askpass))
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("WPAM_ASK_DIR", root().inside(&ask))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // SAFETY: setsid and prctl are async-signal-safe. No controlling
        // tty, as under a real askpass setup; gone if the test process dies.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn ssh");
        // At req.timeout ssh and its session (askpass) are killed: a
        // timed-out outcome, for the test to judge.
        let (status, timed_out) = match deadline::wait_or_kill(&mut child, req.timeout) {
            Ok(s) => (Some(s), false),
            Err(_) => (None, true),
        };
        let elapsed = started.elapsed();
        let read = |f: &str| {
            String::from_utf8_lossy(&fs::read(ask.join(f)).unwrap_or_default()).into_owned()
        };
        let prompts = fs::read(ask.join("prompts"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let out = Outcome {
            code: status.and_then(|s| s.code()),
            stdout: read("stdout"),
            stderr: read("stderr"),
            prompts,
            elapsed,
            timed_out,
        };
        let _ = fs::remove_dir_all(&ask);
        out
    }

    /// The prompts the client must see for one complete keyboard-interactive
    /// round: the documented texts, as ssh shows them (`(user@host) ` first).
    pub fn expected_prompts(user: &str) -> Vec<String> {
        vec![
            format!("({user}@127.0.0.1) {PROMPT_ID}"),
            format!("({user}@127.0.0.1) {PROMPT_CODE}"),
        ]
    }
}

/// What one ssh client run is asked to do.
pub struct Login<'a> {
    pub user: &'a str,
    /// Answer to the Werbot ID prompt (raw bytes; ssh's askpass transport
    /// cuts at the first CR/LF and at 1023 bytes).
    pub id: &'a [u8],
    /// Answer to the code prompt (empty = U2F).
    pub code: &'a [u8],
    /// `PreferredAuthentications`.
    pub methods: &'a str,
    pub key: Option<&'a Path>,
    pub command: &'a str,
    pub timeout: Duration,
    /// A second keyboard-interactive round in the same connection, answered
    /// with this code (the first round gets `code`).
    pub then_code: Option<&'a [u8]>,
}

impl<'a> Login<'a> {
    /// keyboard-interactive only, `echo ok`, 60 s.
    pub fn kbdint(user: &'a str, id: &'a [u8], code: &'a [u8]) -> Login<'a> {
        Login {
            user,
            id,
            code,
            methods: "keyboard-interactive",
            key: None,
            command: "echo ok",
            timeout: Duration::from_secs(60),
            then_code: None,
        }
    }
}

/// How one ssh client run ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Every prompt askpass was shown, in order.
    pub prompts: Vec<String>,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl Outcome {
    /// Logged in and the command's output came back.
    pub fn logged_in(&self) -> bool {
        self.code == Some(0) && self.stdout.lines().next() == Some("ok")
    }
    /// Refused by the server (not a client or transport problem).
    pub fn refused(&self) -> bool {
        self.code == Some(255) && self.stderr.contains("Permission denied")
    }
}

/// The SSH identification string, if a server greets on `port` within 10 s.
fn banner(port: u16) -> Option<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let _ = s.write_all(b"SSH-2.0-wpam-e2e-probe\r\n");
    text.starts_with("SSH-2.0-").then_some(text)
}

fn wait_banner(port: u16, child: &mut Child) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if banner(port).is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The fixed part of every test sshd_config.
const SSHD_CONFIG: &str = "\
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin no
LogLevel DEBUG
PrintMotd no
PrintLastLog no
UseDNS no
MaxStartups 100:30:200
MaxAuthTries 6
LoginGraceTime 120
X11Forwarding no
AllowTcpForwarding no
";

/// Answers ssh's prompts by their text, from files the test wrote into
/// $WPAM_ASK_DIR, and appends every prompt (NUL-terminated) to its record.
/// Exits 0 even when ssh stops reading early (a long answer), so that ssh
/// uses what it read instead of discarding it.
const ASKPASS: &str = r#"#!/bin/sh
trap '' PIPE
printf '%s\0' "$1" >> "$WPAM_ASK_DIR/prompts"
case "$1" in
  *"Enter your Werbot ID"*) cat "$WPAM_ASK_DIR/id" 2>/dev/null ;;
  *"Enter your totp code"*)
    # code.N answers the N-th code prompt when the test wrote one.
    n=$(cat "$WPAM_ASK_DIR/count" 2>/dev/null || echo 0)
    echo $((n + 1)) > "$WPAM_ASK_DIR/count"
    if [ -f "$WPAM_ASK_DIR/code.$n" ]; then cat "$WPAM_ASK_DIR/code.$n"; else cat "$WPAM_ASK_DIR/code" 2>/dev/null; fi ;;
esac
exit 0
"#;
