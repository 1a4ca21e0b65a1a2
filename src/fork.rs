//! A short-lived child process (fork, no exec) that answers over a pipe: the
//! name lookup that must end by the call's deadline (`resolve.rs`), and the
//! API call of a setuid caller, run out of that caller's reach
//! (`isolate.rs`).
//!
//! The host's SIGCHLD disposition is never touched. Instead:
//! - SIGCHLD is blocked in the calling thread while the child lives, so a
//!   host handler cannot run on this thread and reap our child first;
//! - on Linux the child is held by a pidfd: a kill or a wait can never reach
//!   a recycled pid, even when another thread of a multithreaded host reaps
//!   the child (its `waitpid(-1)` then takes our child's status, which we do
//!   not need: the answer comes through the pipe).
//!
//! Reaping is bounded ([`REAP_BOUND`]): a child stuck in uninterruptible
//! sleep after SIGKILL is left behind (reaped later by the kernel's
//! reparenting or the host) rather than holding the login.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// How long we wait for a child to be gone after it closed its pipe or was
/// killed.
pub const REAP_BOUND: Duration = Duration::from_secs(2);

/// The thread's signal mask before SIGCHLD was blocked; put back on drop.
struct SigchldBlocked(libc::sigset_t);

impl SigchldBlocked {
    fn block() -> io::Result<SigchldBlocked> {
        // SAFETY: zeroed sigset_t values are valid input to sigemptyset and
        // pthread_sigmask, which only write them.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            let mut old: libc::sigset_t = std::mem::zeroed();
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(SigchldBlocked(old))
        }
    }

    fn restore(&self) {
        // SAFETY: puts back the mask saved in block().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

impl Drop for SigchldBlocked {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(not(target_os = "macos"))]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 fills two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// macOS has no pipe2: pipe, then close-on-exec on each end. Another thread
/// of the host that forks and execs between the two calls can pass the ends
/// to its program; that program could hold the write end open (the reader
/// then waits for the deadline, never longer) but learns nothing, because
/// the answer is written after the flags are set.
#[cfg(target_os = "macos")]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe fills two descriptors on success.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here (closed
    // on drop if setting the flag fails).
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [fds[0], fds[1]] {
        // SAFETY: fcntl on a descriptor owned above.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(ends)
}

/// How the child ended, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Reaped here: the wait status.
    Status(libc::c_int),
    /// Gone, but reaped by someone else (a host thread's `waitpid(-1)`, or
    /// SIGCHLD ignored by the host).
    Gone,
    /// Still there after [`REAP_BOUND`].
    NotReaped,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exit::Status(s) if libc::WIFSIGNALED(s) => {
                write!(f, "killed by signal {}", libc::WTERMSIG(s))
            }
            Exit::Status(s) if libc::WIFEXITED(s) => {
                write!(f, "exit status {}", libc::WEXITSTATUS(s))
            }
            Exit::Status(s) => write!(f, "wait status {s}"),
            Exit::Gone => f.write_str("reaped by the host process"),
            Exit::NotReaped => f.write_str("not reaped: still running after SIGKILL"),
        }
    }
}

/// Why [`Child::read_until`] has no complete answer.
#[derive(Debug)]
pub enum ReadError {
    /// The deadline passed with the pipe idle; what came before it.
    Deadline(Zeroizing<Vec<u8>>),
    /// More than the caller's cap.
    Oversized,
    Io(io::Error),
}

/// A running child. Dropping it kills and reaps it (bounded).
pub struct Child {
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    read: OwnedFd,
    exit: Option<Exit>,
    _mask: SigchldBlocked,
}

/// Forks a child that runs `work` with the write end of the pipe (for
/// progress bytes of its own) and then writes the message `work` returns.
/// The child never returns into the host's code: it ends in `_exit`.
///
/// # Safety
/// Between fork and `_exit` the child runs `work` in a copy of the host: in
/// a multithreaded host only what the other threads did not hold locked at
/// the fork works there. Callers run only their own code and libc there.
pub unsafe fn spawn<F>(work: F) -> io::Result<Child>
where
    F: FnOnce(RawFd) -> Zeroizing<Vec<u8>>,
{
    let (read_end, write_end) = pipe()?;
    let mask = SigchldBlocked::block()?;
    // SAFETY: see this function's contract; the child branch ends in _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        mask.restore();
        drop(read_end);
        let fd = write_end.as_raw_fd();
        let message =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(fd))).unwrap_or_default();
        write_all(fd, &message);
        // SAFETY: ends the child without running the host's exit handlers.
        unsafe { libc::_exit(0) }
    }
    drop(write_end);
    Ok(Child {
        pid,
        pidfd: pidfd_open(pid),
        read: read_end,
        exit: None,
        _mask: mask,
    })
}

/// Writes everything, retrying on EINTR; gives up on any other error (the
/// parent then reads a short message and says so).
pub fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: data is valid for its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n > 0 {
            data = &data[n as usize..];
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return;
        }
    }
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None; // ENOSYS before Linux 5.3: plain pids, as on the BSDs
    }
    // SAFETY: a descriptor just returned by the kernel, owned here.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_: libc::pid_t) -> Option<OwnedFd> {
    None
}

/// poll(2) one descriptor for input, retrying on EINTR. True when ready.
fn ready(fd: RawFd, wait: Duration) -> io::Result<bool> {
    let end = Instant::now() + wait;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up so that a sub-millisecond rest still waits.
        let ms = if left.is_zero() {
            0
        } else {
            left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return Ok(true);
        }
        if n == 0 {
            if Instant::now() >= end {
                return Ok(false);
            }
            continue;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Child {
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Everything the child writes, up to EOF. The deadline ends the wait
    /// only while the pipe is idle: an answer already written (say while
    /// this process was stopped past its deadline) is still read whole.
    /// `cap` bounds what is read.
    pub fn read_until(
        &mut self,
        deadline: Instant,
        cap: usize,
    ) -> Result<Zeroizing<Vec<u8>>, ReadError> {
        let mut out = Zeroizing::new(Vec::with_capacity(cap.min(4096)));
        let mut buf = Zeroizing::new([0u8; 4096]);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready(self.read.as_raw_fd(), left) {
                Ok(true) => {}
                Ok(false) => return Err(ReadError::Deadline(out)),
                Err(e) => return Err(ReadError::Io(e)),
            }
            // SAFETY: buf is valid for its length.
            let got =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            match got {
                0 => return Ok(out),
                n if n > 0 => {
                    out.extend_from_slice(&buf[..n as usize]);
                    if out.len() > cap {
                        return Err(ReadError::Oversized);
                    }
                }
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(ReadError::Io(e));
                    }
                }
            }
        }
    }

    /// Linux: whether the child holds a socket now (it is talking to a name
    /// server, nscd or systemd-resolved). None where that cannot be seen.
    pub fn holds_socket(&self) -> Option<bool> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let dir = std::fs::read_dir(format!("/proc/{}/fd", self.pid)).ok()?;
        Some(dir.flatten().any(|e| {
            std::fs::read_link(e.path())
                .map(|t| t.as_os_str().as_encoded_bytes().starts_with(b"socket:"))
                .unwrap_or(false)
        }))
    }

    fn kill(&self) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.pidfd {
            // SAFETY: pidfd_send_signal on our own pidfd, no siginfo.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
                return;
            }
        }
        // SAFETY: our own child, not reaped by us (SIGCHLD is blocked here).
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// Kills the child unless it has already closed its pipe (`done`), and
    /// reaps it within [`REAP_BOUND`].
    pub fn finish(mut self, done: bool) -> Exit {
        self.end(done)
    }

    fn end(&mut self, done: bool) -> Exit {
        if let Some(e) = self.exit {
            return e;
        }
        if !done {
            self.kill();
        }
        let e = self.reap(Instant::now() + REAP_BOUND);
        self.exit = Some(e);
        e
    }

    fn reap(&self, end: Instant) -> Exit {
        if let Some(fd) = &self.pidfd {
            // A pidfd turns readable when the process has ended, whoever
            // reaps it.
            let left = end.saturating_duration_since(Instant::now());
            if !matches!(ready(fd.as_raw_fd(), left), Ok(true)) {
                return Exit::NotReaped;
            }
        }
        loop {
            let mut status = 0;
            // SAFETY: waits for our own child only, without blocking.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                return Exit::Status(status);
            }
            if r < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    _ => return Exit::Gone,
                }
            }
            if Instant::now() >= end {
                return Exit::NotReaped;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // `mask` is dropped after this: SIGCHLD is unblocked only once the
        // child is reaped (or given up on).
        self.end(false);
    }
}

/// Raises a resource limit in this process: the soft limit up to the hard
/// one, and as root both up to `want`. Failures are left to the probes and
/// checks that follow.
pub fn raise_limit(resource: LimitResource, want: libc::rlim_t) {
    // SAFETY: getrlimit/setrlimit on this process only.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(resource, &mut r) != 0 {
            return;
        }
        let target = libc::rlimit {
            rlim_cur: want.max(r.rlim_cur),
            rlim_max: want.max(r.rlim_max),
        };
        if libc::setrlimit(resource, &target) != 0 {
            let soft_only = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            libc::setrlimit(resource, &soft_only);
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub type LimitResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub type LimitResource = libc::c_int;

#[cfg(test)]
mod tests {
    use super::*;

    fn message(b: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(b.to_vec())
    }

    #[test]
    fn the_answer_arrives_and_the_child_is_reaped() {
        // SAFETY: the child only builds a vector.
        let mut c = unsafe { spawn(|_| message(b"hello")) }.unwrap();
        let m = c.read_until(Instant::now() + Duration::from_secs(10), 64);
        assert_eq!(m.unwrap().as_slice(), b"hello");
        assert_eq!(c.finish(true), Exit::Status(0));
    }

    #[test]
    fn a_silent_child_is_killed_at_the_deadline_and_reaped() {
        // SAFETY: the child only sleeps.
        let mut c = unsafe {
            spawn(|fd| {
                write_all(fd, b"S");
                std::thread::sleep(Duration::from_secs(60));
                message(b"late")
            })
        }
        .unwrap();
        let started = Instant::now();
        match c.read_until(Instant::now() + Duration::from_millis(200), 64) {
            Err(ReadError::Deadline(partial)) => assert_eq!(partial.as_slice(), b"S"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.holds_socket(), cfg!(target_os = "linux").then_some(false));
        let e = c.finish(false);
        assert!(
            matches!(e, Exit::Status(s) if libc::WIFSIGNALED(s) && libc::WTERMSIG(s) == libc::SIGKILL),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn an_answer_written_before_a_late_read_is_read_whole() {
        // SAFETY: the child only builds a vector.
        let mut c = unsafe { spawn(|_| message(&[7u8; 3000])) }.unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // The deadline has long passed: the answer waiting in the pipe wins.
        let m = c.read_until(Instant::now() - Duration::from_secs(1), 4096);
        assert_eq!(m.unwrap().len(), 3000);
        c.finish(true);
    }

    #[test]
    fn the_sigchld_disposition_and_mask_are_left_as_they_were() {
        // SAFETY: reads the current action and mask only.
        let before = unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut a);
            a.sa_sigaction
        };
        // SAFETY: the child only builds a vector.
        let mut c = unsafe { spawn(|_| message(b"x")) }.unwrap();
        // SAFETY: as above.
        let during = unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut a);
            a.sa_sigaction
        };
        assert_eq!(before, during);
        let _ = c.read_until(Instant::now() + Duration::from_secs(10), 64);
        c.finish(true);
        // SAFETY: reads this thread's mask.
        let blocked = unsafe {
            let mut m: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut m);
            libc::sigismember(&m, libc::SIGCHLD)
        };
        assert_eq!(blocked, 0, "SIGCHLD left blocked");
    }
}
