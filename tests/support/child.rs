//! One PAM login run by a child process — the test binary itself again —
//! for what cannot happen inside the test process: its own resource limits,
//! its own stderr, its own environment (LD_PRELOAD), or a private mount
//! namespace with another /etc/resolv.conf.
//!
//! A test binary that uses this defines the entry point the child runs:
//!
//! ```ignore
//! #[test]
//! fn child_login_entry() {
//!     child::entry();
//! }
//! ```
//!
//! In an ordinary run that test does nothing. Needs `deadline` and `pamdrv`
//! as sibling modules of the test crate.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::deadline;
use crate::pamdrv::{login, Answer, Event, ServiceDir};

const SPEC_ENV: &str = "WPAM_TEST_CHILD_LOGIN";
const RESULT: &str = "WPAM_CHILD_RESULT";
const SHOWN: &str = "WPAM_CHILD_SHOWN";
/// Set to make the child free an unwiped copy of [`CANARY`] first (the
/// positive control of the freed-memory scan).
pub const CANARY_ENV: &str = "WPAM_FREESCAN_CANARY";
pub const CANARY: &str = "wpam-freescan-canary-0f1e2d3c";

/// What the child does.
#[derive(serde::Serialize, serde::Deserialize)]
struct Spec {
    dir: PathBuf,
    service: String,
    user: String,
    rhost: Option<String>,
    answers: Vec<String>,
}

/// The body of the child process; a no-op in an ordinary test run.
pub fn entry() {
    let Ok(spec) = std::env::var(SPEC_ENV) else {
        return;
    };
    let spec: Spec = serde_json::from_str(&spec).expect("child spec");
    if std::env::var_os(CANARY_ENV).is_some() {
        drop(std::hint::black_box(CANARY.as_bytes().to_vec()));
    }
    let dir = ServiceDir {
        dir: spec.dir,
        service: spec.service,
    };
    let answers = spec.answers.iter().map(Answer::text).collect();
    let l = login(&dir, &spec.user, spec.rhost.as_deref(), answers, 0);
    // The parent owns the directory.
    std::mem::forget(dir);
    for e in &l.events {
        if let Event::Error(m) | Event::Info(m) = e {
            println!("\n{SHOWN} {m}");
        }
    }
    println!("\n{RESULT} {}", l.auth);
}

#[derive(Debug)]
pub struct Run {
    /// The auth phase's PAM code, when the child got that far.
    pub auth: Option<i32>,
    /// The messages the module showed (PAM_ERROR_MSG, PAM_TEXT_INFO).
    pub shown: Vec<String>,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit, child start-up included.
    pub elapsed: Duration,
}

/// How to run the child.
#[derive(Default)]
pub struct How<'a> {
    /// RLIMIT_NOFILE (soft and hard) of the child.
    pub nofile: Option<u64>,
    pub env: &'a [(&'a str, &'a str)],
    /// A program and arguments the child is run under (it must exec its
    /// last arguments), e.g. `unshare --mount ... sh -c '...; exec "$@"' sh`.
    pub wrapper: &'a [String],
    pub rhost: Option<&'a str>,
    /// A seccomp filter makes every connect(2) of the child fail with this
    /// errno (as SELinux's EACCES or a firewall's EPERM would).
    pub connect_errno: Option<i32>,
    /// Run as this user and group (the parent must be root).
    pub ids: Option<(u32, u32)>,
}

/// Runs `login(dir, user, rhost, answers)` in a child process; fails the
/// test if it does not end within a minute.
pub fn login_in_child(dir: &ServiceDir, user: &str, answers: &[&str], how: How<'_>) -> Run {
    let spec = Spec {
        dir: dir.dir.clone(),
        service: dir.service.clone(),
        user: user.into(),
        rhost: Some(how.rhost.unwrap_or("192.0.2.10").to_string()),
        answers: answers.iter().map(|a| a.to_string()).collect(),
    };
    let exe = std::env::current_exe().expect("exe");
    let mut cmd = match how.wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        "child_login_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SPEC_ENV, serde_json::to_string(&spec).expect("json"))
    .envs(how.env.iter().copied())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(errno) = how.connect_errno {
        // SAFETY: prctl is async-signal-safe; the filter lives on the stack
        // of the closure until the call that copies it into the kernel.
        unsafe { cmd.pre_exec(move || deny_connect(errno)) };
    }
    if let Some((uid, gid)) = how.ids {
        // SAFETY: setgroups/setgid/setuid are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    if let Some(n) = how.nofile {
        // SAFETY: setrlimit is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn the child login");
    let out = deadline::wait_output(child, Duration::from_secs(60), "child login");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let auth = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT))
        .and_then(|v| v.trim().parse().ok());
    let shown = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(SHOWN))
        .map(|m| m.trim().to_string())
        .collect();
    Run {
        auth,
        shown,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    }
}

/// Installs a seccomp filter on this process (after fork, before exec) that
/// fails every connect(2) with `errno`. x86_64 and aarch64.
fn deny_connect(errno: i32) -> std::io::Result<()> {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
    const SECCOMP_RET_KILL: u32 = 0;
    let ld = |k: u32| libc::sock_filter {
        code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ret = |k: u32| libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    // struct seccomp_data { int nr; __u32 arch; ... }
    let filter = [
        ld(4),
        jeq(ARCH, 1, 0),
        ret(SECCOMP_RET_KILL),
        ld(0),
        jeq(libc::SYS_connect as u32, 0, 1),
        ret(SECCOMP_RET_ERRNO | (errno as u32 & 0xffff)),
        ret(SECCOMP_RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with valid arguments; prog points to live memory.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
