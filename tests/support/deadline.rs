//! Bounded waits for the tests. The project rule: no test waits without a
//! bound. Every wait on a child process, a pipe, a socket or a thread goes
//! through here and ends by a deadline that kills what it waited for (the
//! child, and its process group when it made one), reaps it, and fails the
//! test with a report naming what hung and what it had printed so far.
//!
//! `output(cmd, limit, what)` and `wait_output(child, limit, what)` stand in
//! for `Command::output` and `Child::wait_with_output`; `wait_status` and
//! `wait_or_kill` for `Child::wait`; `join` for `JoinHandle::join`;
//! `read_to_end` for `Read::read_to_end` on a socket with a read timeout.
#![allow(dead_code)]

use std::fmt;
use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a wait looks at the clock.
const TICK: Duration = Duration::from_millis(10);
/// How long the output pipes may stay open once the child is gone.
const DRAIN: Duration = Duration::from_secs(5);
/// How much of each stream a report shows (its end).
const REPORT_TAIL: usize = 4000;

/// A child that had to be killed at its deadline (it has been reaped).
#[derive(Debug)]
pub struct Killed {
    pub pid: u32,
    pub limit: Duration,
    /// It led a process group of its own, and the whole group was killed.
    pub group: bool,
}

impl fmt::Display for Killed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "still running after {:?}: killed pid {}{}",
            self.limit,
            self.pid,
            if self.group {
                " and its process group"
            } else {
                ""
            }
        )
    }
}

/// The child (not reaped yet) leads a process group of its own (setsid,
/// setpgid), which its descendants may share.
fn leads_group(child: &Child) -> bool {
    let pid = child.id() as libc::pid_t;
    // SAFETY: getpgid only takes a number; an unreaped child's pid is ours.
    unsafe { libc::getpgid(pid) == pid }
}

/// SIGKILL to the process group the child led. Its id is not reused while
/// a member lives, even once the child itself is reaped.
fn kill_group(child: &Child) {
    // SAFETY: kill only takes numbers; see above for why the group is ours.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
}

/// SIGKILL to the child and, when it leads a process group of its own, to
/// the whole group; then reaps it.
fn kill_and_reap(child: &mut Child, limit: Duration) -> Killed {
    let group = leads_group(child);
    if group {
        kill_group(child);
    }
    let _ = child.kill();
    // After SIGKILL the wait ends (a process stuck in the kernel aside).
    let _ = child.wait();
    Killed {
        pid: child.id(),
        limit,
        group,
    }
}

/// Waits up to `limit` for the child to exit; at the limit kills it (and its
/// process group when it leads one), reaps it and returns what was done.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Result<ExitStatus, Killed> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            // ECHILD and the like: nothing left to wait for.
            Err(e) => panic!("waiting for pid {}: {e}", child.id()),
        }
        if Instant::now() >= end {
            return Err(kill_and_reap(child, limit));
        }
        thread::sleep(TICK);
    }
}

/// [`wait_or_kill`] for a child whose output is not piped to the test;
/// panics naming `what` when it had to be killed.
pub fn wait_status(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    wait_or_kill(child, limit).unwrap_or_else(|k| panic!("{what}: {k}"))
}

/// A pipe read on its own thread into a buffer the test can see at any time.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start(pipe: Option<impl Read + Send + 'static>, name: &str) -> Collector {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let thread = pipe.map(|mut p| {
            let b = Arc::clone(&buf);
            thread::Builder::new()
                .name(format!("deadline-{name}"))
                .spawn(move || {
                    let mut chunk = [0u8; 8192];
                    loop {
                        match p.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => lock(&b).extend_from_slice(&chunk[..n]),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                })
                .expect("start a pipe reader thread")
        });
        Collector { buf, thread }
    }

    fn done(&self) -> bool {
        self.thread.as_ref().map_or(true, JoinHandle::is_finished)
    }

    /// Everything read so far (all of it once `done`).
    fn take(&mut self) -> Vec<u8> {
        if self.done() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        std::mem::take(&mut *lock(&self.buf))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The end of a captured stream, as text, for a report.
pub fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= REPORT_TAIL {
        return text.into_owned();
    }
    let rest: String = chars[chars.len() - REPORT_TAIL..].iter().collect();
    format!("[... {} chars before]{rest}", chars.len() - REPORT_TAIL)
}

fn report(what: &str, problem: &str, out: &[u8], err: &[u8]) -> String {
    format!(
        "{what}: {problem}\n--- stdout so far ---\n{}\n--- stderr so far ---\n{}",
        tail(out),
        tail(err)
    )
}

/// Like `Child::wait_with_output`, bounded: stdout and stderr (when piped)
/// are read concurrently, so a full pipe cannot stall the child. At `limit`
/// the child (and its process group, when it leads one) is killed and
/// reaped, and the test fails with `what` and the output captured so far;
/// likewise when the child exits but something it started keeps the pipes
/// open.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let end = Instant::now() + limit;
    drop(child.stdin.take());
    let mut out = Collector::start(child.stdout.take(), "stdout");
    let mut err = Collector::start(child.stderr.take(), "stderr");
    let group = leads_group(&child);
    let status = match wait_or_kill(&mut child, limit) {
        Ok(s) => s,
        Err(killed) => {
            let drain = Instant::now() + DRAIN;
            while !(out.done() && err.done()) && Instant::now() < drain {
                thread::sleep(TICK);
            }
            panic!(
                "{}",
                report(what, &killed.to_string(), &out.take(), &err.take())
            );
        }
    };
    let drain = end.max(Instant::now() + DRAIN);
    while !(out.done() && err.done()) {
        if Instant::now() >= drain {
            if group {
                kill_group(&child);
            }
            panic!(
                "{}",
                report(
                    what,
                    &format!(
                        "exited ({status}) but its stdout/stderr stayed open: a process \
                         it started still holds them{}",
                        if group {
                            " (its process group was killed)"
                        } else {
                            ""
                        }
                    ),
                    &out.take(),
                    &err.take()
                )
            );
        }
        thread::sleep(TICK);
    }
    Output {
        status,
        stdout: out.take(),
        stderr: err.take(),
    }
}

/// Like `Command::output` (stdin /dev/null, stdout and stderr captured),
/// bounded as [`wait_output`]. Err only when the command cannot be started.
pub fn output(cmd: &mut Command, limit: Duration, what: &str) -> io::Result<Output> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    Ok(wait_output(child, limit, what))
}

/// Joins a thread, failing the test when it has not ended within `limit`
/// (a thread cannot be killed: it is left behind, the report names it). A
/// panic in the thread is passed on.
pub fn join<T>(handle: JoinHandle<T>, limit: Duration, what: &str) -> T {
    let end = Instant::now() + limit;
    while !handle.is_finished() {
        assert!(
            Instant::now() < end,
            "{what}: thread still running after {limit:?}"
        );
        thread::sleep(TICK);
    }
    match handle.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Reads to end of stream by `end`. The reader must have a read timeout
/// (`set_read_timeout`), so that a silent peer returns control here and the
/// deadline is looked at between reads; at the deadline the test fails with
/// `what` and the bytes read so far. A read error (a reset, a TLS stream cut
/// short) ends the stream like EOF: what arrived is returned.
pub fn read_to_end(r: &mut impl Read, end: Instant, what: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return seen,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return seen,
        }
        assert!(
            Instant::now() < end,
            "{what}: no end of stream by the deadline; read so far: {}",
            tail(&seen)
        );
    }
}
