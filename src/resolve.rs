//! Name resolution that ends by the call's deadline and leaves nothing behind.
//!
//! getaddrinfo(3) cannot be bounded: with a nameserver that swallows queries
//! it blocks for resolv.conf's `timeout` × `attempts` × nameservers (10 s to
//! 30 s by default), whatever the module's `timeout`. A thread could be
//! abandoned at the deadline, but it would go on holding the resolver's locks
//! inside sshd, and a child sshd forks later would inherit them locked. So the
//! lookup runs in a short-lived child process (fork, no exec): the parent
//! waits on a pipe until the deadline, then kills and reaps the child. No
//! thread is ever started and nothing outlives the call.
//!
//! The answer is sorted for the decision table (DESIGN.md §3):
//! - the resolver answered that the name has no address, or could not get an
//!   answer (NXDOMAIN, no A/AAAA record, SERVFAIL, no reply): [`ResolveError::NotFound`];
//! - the deadline passed while the child was asking a name server:
//!   [`ResolveError::TimedOut`];
//! - anything local (pipe, fork, memory, descriptors, a child that died, a
//!   child that made no progress): [`ResolveError::Local`] — never an outage.
//!   In a multithreaded host a lock another thread held at the fork can
//!   freeze the child inside libc: it then never writes its "started" byte,
//!   or (Linux, seen in /proc) holds no socket at the deadline.
//!
//! glibc reports a lookup that could not open /etc/hosts or a socket
//! (EMFILE) as "name not found", which would look like an outage. The user
//! who runs a setuid program (su, sudo) sets its resource limits, so the
//! child first raises its own limits (allowed as root; the host process is
//! untouched) and then checks that it can open descriptors and map memory
//! before it asks; if it cannot, the answer is Local.
//!
//! The child is forked, held and reaped by `fork.rs`, which leaves the
//! host's SIGCHLD disposition alone.

use std::ffi::{CStr, CString};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use zeroize::Zeroizing;

use crate::fork::{self, ReadError};

/// At most this many addresses are tried.
pub const MAX_ADDRS: usize = 16;
/// Descriptors the child must be able to open before it trusts a "not
/// found" (hosts file, nsswitch.conf, resolv.conf, a socket or two).
const FD_PROBE: usize = 8;
/// Memory the child must be able to map before it asks.
const MEM_PROBE: usize = 16 << 20;
/// One address in the child's answer: family, 16 address bytes, scope id.
const ADDR_LEN: usize = 1 + 16 + 4;
/// The child's answer fits in one pipe write (PIPE_BUF is at least 512).
const MAX_MESSAGE: usize = 2 + MAX_ADDRS * ADDR_LEN;
const _: () = assert!(ADDR_LEN == 21);
const _: () = assert!(MAX_MESSAGE <= 512);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The name has no address, or the resolver got no answer: an outage.
    NotFound(String),
    /// No answer by the deadline: an outage, except under setuid callers.
    TimedOut,
    /// A local failure; never an outage.
    Local(String),
}

/// The addresses of `host` (a name or an IP literal), tried in order.
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = CString::new(host)
        .map_err(|_| ResolveError::Local("host name contains a NUL byte".into()))?;
    // No budget left: nothing to ask (a child with no time to start would
    // look like one that made no progress).
    if Instant::now() >= deadline {
        return Err(ResolveError::TimedOut);
    }
    let message = ask_child(&name, deadline)?;
    parse_message(&message, port)
}

fn local(what: &str, e: &io::Error) -> ResolveError {
    ResolveError::Local(crate::sys::describe(what, e))
}

/// Forks the lookup, reads its answer until `deadline`, reaps the child.
fn ask_child(name: &CStr, deadline: Instant) -> Result<Zeroizing<Vec<u8>>, ResolveError> {
    ask_with(deadline, |fd| lookup(name, fd))
}

/// The parent's side of `ask_child`, with the child's work as a parameter
/// (the tests give it children that answer the most a lookup can, or stall).
/// `work` runs in the forked child: only our own code and libc.
fn ask_with<F>(deadline: Instant, work: F) -> Result<Zeroizing<Vec<u8>>, ResolveError>
where
    F: FnOnce(RawFd) -> Vec<u8>,
{
    // SAFETY: the child runs `work` (ask_child: libc's resolver and our own
    // code) and ends in _exit.
    let mut child = unsafe { fork::spawn(|fd| Zeroizing::new(work(fd))) }
        .map_err(|e| local("name resolution: fork", &e))?;
    let read = child.read_until(deadline, MAX_MESSAGE + 1);
    // Looked at before the kill: was the child waiting on a name server?
    let querying = match &read {
        Err(ReadError::Deadline(_)) => child.holds_socket(),
        _ => None,
    };
    let exit = child.finish(read.is_ok());
    verdict(read, querying, exit)
}

/// What the child's answer, or its silence, means. `querying`: whether it
/// held a socket at the deadline, where that can be seen.
fn verdict(
    read: Result<Zeroizing<Vec<u8>>, ReadError>,
    querying: Option<bool>,
    exit: fork::Exit,
) -> Result<Zeroizing<Vec<u8>>, ResolveError> {
    match read {
        Ok(mut m) => {
            if m.first() == Some(&TAG_STARTED) {
                m.remove(0);
            }
            if m.is_empty() {
                return Err(ResolveError::Local(format!(
                    "name resolution: the resolver process ended without an answer ({exit})"
                )));
            }
            Ok(m)
        }
        // The child never reached getaddrinfo, or sits in it without a
        // socket: not a silent name server but a lookup that cannot run
        // (a lock another thread of a multithreaded host held at the fork).
        Err(ReadError::Deadline(partial)) if partial.first() != Some(&TAG_STARTED) => {
            Err(ResolveError::Local(
                "name resolution: the resolver process made no progress by the deadline \
                 (it never started its lookup)"
                    .into(),
            ))
        }
        Err(ReadError::Deadline(_)) if querying == Some(false) => Err(ResolveError::Local(
            "name resolution: the resolver process made no progress by the deadline \
             (no query to a name server was open; a lock held at the fork in a \
             multithreaded host?)"
                .into(),
        )),
        Err(ReadError::Deadline(_)) => Err(ResolveError::TimedOut),
        Err(ReadError::Oversized) => Err(ResolveError::Local(
            "name resolution: oversized answer from the resolver process".into(),
        )),
        Err(ReadError::Io(e)) => Err(local("name resolution: reading the answer", &e)),
    }
}

// --- the child ------------------------------------------------------------
//
// Message: b'A' count [family addr16 scope_le32]*  |  b'G' code_le32 errno_le32
//          | b'L' errno_le32 what

const TAG_ADDRS: u8 = b'A';
const TAG_GAI: u8 = b'G';
const TAG_LOCAL: u8 = b'L';
/// Written alone, just before getaddrinfo.
const TAG_STARTED: u8 = b'S';
const LOCAL_FDS: u8 = 1;
const LOCAL_MEMORY: u8 = 2;

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn local_message(what: u8) -> Vec<u8> {
    let mut m = vec![TAG_LOCAL];
    m.extend_from_slice(&errno().to_le_bytes());
    m.push(what);
    m
}

fn lookup(name: &CStr, fd: RawFd) -> Vec<u8> {
    fork::raise_limit(libc::RLIMIT_NOFILE, 1024);
    // OpenBSD has no RLIMIT_AS; RLIMIT_DATA bounds its heap.
    #[cfg(not(target_os = "openbsd"))]
    fork::raise_limit(libc::RLIMIT_AS, libc::RLIM_INFINITY);
    fork::raise_limit(libc::RLIMIT_DATA, libc::RLIM_INFINITY);
    // Descriptors: open FD_PROBE at once, then give them back.
    let mut probes = Vec::with_capacity(FD_PROBE);
    for _ in 0..FD_PROBE {
        // SAFETY: duplicates our own pipe end.
        let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if d < 0 {
            return local_message(LOCAL_FDS);
        }
        // SAFETY: d was just created.
        probes.push(unsafe { OwnedFd::from_raw_fd(d) });
    }
    drop(probes);
    // Memory: a mapping the size of a resolver's worst day.
    // SAFETY: an anonymous private mapping, unmapped at once.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            MEM_PROBE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return local_message(LOCAL_MEMORY);
        }
        libc::munmap(p, MEM_PROBE);
    }
    // SAFETY: a zeroed addrinfo is a valid hints struct.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // Progress: the parent tells a lookup that never started (a lock held
    // at the fork) from a name server that does not answer.
    fork::write_all(fd, &[TAG_STARTED]);
    // SAFETY: valid C strings and out pointer; freed below.
    let rc = unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        let mut m = vec![TAG_GAI];
        m.extend_from_slice(&rc.to_le_bytes());
        m.extend_from_slice(&errno().to_le_bytes());
        return m;
    }
    let mut m = vec![TAG_ADDRS, 0];
    let mut count = 0u8;
    let mut cur = res;
    while !cur.is_null() && (count as usize) < MAX_ADDRS {
        // SAFETY: a node of the list getaddrinfo returned.
        let ai = unsafe { &*cur };
        if let Some(entry) = encode(ai) {
            m.extend_from_slice(&entry);
            count += 1;
        }
        cur = ai.ai_next;
    }
    m[1] = count;
    // SAFETY: res came from getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    m
}

fn encode(ai: &libc::addrinfo) -> Option<[u8; ADDR_LEN]> {
    let mut e = [0u8; ADDR_LEN];
    if ai.ai_addr.is_null() {
        return None;
    }
    match ai.ai_family {
        libc::AF_INET => {
            // SAFETY: AF_INET entries carry a sockaddr_in.
            let sa = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in>() };
            e[0] = 4;
            e[1..5].copy_from_slice(&sa.sin_addr.s_addr.to_ne_bytes());
        }
        libc::AF_INET6 => {
            // SAFETY: AF_INET6 entries carry a sockaddr_in6.
            let sa = unsafe { &*ai.ai_addr.cast::<libc::sockaddr_in6>() };
            e[0] = 6;
            e[1..17].copy_from_slice(&sa.sin6_addr.s6_addr);
            e[17..21].copy_from_slice(&sa.sin6_scope_id.to_le_bytes());
        }
        _ => return None,
    }
    Some(e)
}

// --- back in the parent ---------------------------------------------------

fn le_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn parse_message(m: &[u8], port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let bad = || {
        ResolveError::Local("name resolution: malformed answer from the resolver process".into())
    };
    match m.first() {
        Some(&TAG_ADDRS) => {
            let count = *m.get(1).ok_or_else(bad)? as usize;
            let body = &m[2..];
            if body.len() != count * ADDR_LEN {
                return Err(bad());
            }
            let mut addrs: Vec<SocketAddr> = Vec::with_capacity(count);
            for e in body.chunks_exact(ADDR_LEN) {
                let a = match e[0] {
                    4 => {
                        let o: [u8; 4] = e[1..5].try_into().map_err(|_| bad())?;
                        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(o), port))
                    }
                    6 => {
                        let o: [u8; 16] = e[1..17].try_into().map_err(|_| bad())?;
                        let scope = le_i32(&e[17..21]).ok_or_else(bad)? as u32;
                        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(o), port, 0, scope))
                    }
                    _ => return Err(bad()),
                };
                if !addrs.contains(&a) {
                    addrs.push(a);
                }
            }
            if addrs.is_empty() {
                return Err(ResolveError::NotFound("no IPv4 or IPv6 address".into()));
            }
            Ok(addrs)
        }
        Some(&TAG_GAI) => {
            let code = le_i32(&m[1..]).ok_or_else(bad)?;
            let errno = le_i32(&m[5..]).ok_or_else(bad)?;
            Err(gai_error(code, errno))
        }
        Some(&TAG_LOCAL) => {
            let errno = le_i32(&m[1..]).ok_or_else(bad)?;
            let e = io::Error::from_raw_os_error(errno);
            Err(match m.get(5) {
                Some(&LOCAL_FDS) => local("name resolution: cannot open file descriptors", &e),
                Some(&LOCAL_MEMORY) => local("name resolution: cannot map memory", &e),
                _ => ResolveError::Local(
                    "name resolution: internal error in the resolver process".into(),
                ),
            })
        }
        _ => Err(bad()),
    }
}

/// glibc's EAI_ADDRFAMILY (not in the libc crate for Linux).
#[cfg(target_os = "linux")]
const EAI_ADDRFAMILY: i32 = -9;
#[cfg(target_os = "linux")]
const NEGATIVE_ANSWERS: [i32; 5] = [
    libc::EAI_NONAME,
    libc::EAI_NODATA,
    EAI_ADDRFAMILY,
    libc::EAI_AGAIN,
    libc::EAI_FAIL,
];
#[cfg(not(target_os = "linux"))]
const NEGATIVE_ANSWERS: [i32; 3] = [libc::EAI_NONAME, libc::EAI_AGAIN, libc::EAI_FAIL];

fn gai_error(code: i32, errno: i32) -> ResolveError {
    if code == libc::EAI_SYSTEM {
        return local("name resolution", &io::Error::from_raw_os_error(errno));
    }
    // SAFETY: gai_strerror returns a static string for any code.
    let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) }
        .to_string_lossy()
        .into_owned();
    if NEGATIVE_ANSWERS.contains(&code) {
        ResolveError::NotFound(text)
    } else {
        // EAI_MEMORY, EAI_BADFLAGS, EAI_SERVICE, ...: our side.
        ResolveError::Local(format!("name resolution: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn ip_literals_need_no_lookup() {
        assert_eq!(
            resolve("127.0.0.1", 8443, soon()),
            Ok(vec!["127.0.0.1:8443".parse().unwrap()])
        );
        assert_eq!(
            resolve("::1", 443, soon()),
            Ok(vec!["[::1]:443".parse().unwrap()])
        );
    }

    #[test]
    fn localhost_resolves_through_the_child() {
        let addrs = resolve("localhost", 99, soon()).expect("localhost");
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 99),
            "{addrs:?}"
        );
    }

    #[test]
    fn an_invalid_name_is_not_found() {
        // RFC 6761: .invalid never resolves; glibc refuses it locally or the
        // resolver answers NXDOMAIN, both "not found". Without a network the
        // resolver may fail to get an answer at all: also "not found".
        match resolve("no-such-host.invalid", 1, soon()) {
            Err(ResolveError::NotFound(_)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_past_deadline_times_out() {
        let r = resolve("localhost", 1, Instant::now());
        assert_eq!(r, Err(ResolveError::TimedOut));
    }

    #[test]
    fn a_child_that_made_no_progress_is_local_never_an_outage() {
        let deadline = |b: &[u8]| Err(ReadError::Deadline(Zeroizing::new(b.to_vec())));
        let exit = fork::Exit::Status(9);
        // Never wrote "started": stuck before getaddrinfo.
        for q in [None, Some(true), Some(false)] {
            assert!(matches!(
                verdict(deadline(b""), q, exit),
                Err(ResolveError::Local(_))
            ));
        }
        // Started, and no socket at the deadline: stuck inside libc.
        assert!(matches!(
            verdict(deadline(b"S"), Some(false), exit),
            Err(ResolveError::Local(_))
        ));
        // Started and waiting on a name server (or unknown: the BSDs).
        for q in [None, Some(true)] {
            assert_eq!(
                verdict(deadline(b"S"), q, exit),
                Err(ResolveError::TimedOut)
            );
        }
        // The marker is not part of the answer; a bare marker is no answer.
        let ok = |b: &[u8]| Ok(Zeroizing::new(b.to_vec()));
        assert_eq!(
            verdict(ok(b"SA\x00"), None, exit).unwrap().as_slice(),
            b"A\x00"
        );
        assert!(matches!(
            verdict(ok(b"S"), None, exit),
            Err(ResolveError::Local(_))
        ));
    }

    #[test]
    fn messages_are_checked() {
        assert!(matches!(parse_message(b"", 1), Err(ResolveError::Local(_))));
        assert!(matches!(
            parse_message(b"A\x01", 1),
            Err(ResolveError::Local(_))
        ));
        assert!(matches!(
            parse_message(b"A\x00", 1),
            Err(ResolveError::NotFound(_))
        ));
        let mut m = vec![TAG_GAI];
        m.extend_from_slice(&libc::EAI_NONAME.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        assert!(matches!(
            parse_message(&m, 1),
            Err(ResolveError::NotFound(_))
        ));
        let mut m = vec![TAG_GAI];
        m.extend_from_slice(&libc::EAI_SYSTEM.to_le_bytes());
        m.extend_from_slice(&libc::EMFILE.to_le_bytes());
        match parse_message(&m, 1) {
            Err(ResolveError::Local(s)) => assert!(s.contains("RLIMIT_NOFILE"), "{s}"),
            other => panic!("{other:?}"),
        }
        let mut m = vec![TAG_GAI];
        m.extend_from_slice(&libc::EAI_MEMORY.to_le_bytes());
        m.extend_from_slice(&0i32.to_le_bytes());
        assert!(matches!(parse_message(&m, 1), Err(ResolveError::Local(_))));
        // getaddrinfo's "no address of that family" (glibc's -9) is a
        // negative answer.
        #[cfg(target_os = "linux")]
        assert!(matches!(gai_error(-9, 0), ResolveError::NotFound(_)));
    }

    #[test]
    fn local_failures_of_the_child_say_which() {
        for (what, want) in [
            (LOCAL_FDS, "cannot open file descriptors"),
            (LOCAL_MEMORY, "cannot map memory"),
            (9, "internal error in the resolver process"),
        ] {
            let mut m = vec![TAG_LOCAL];
            m.extend_from_slice(&libc::EMFILE.to_le_bytes());
            m.push(what);
            match parse_message(&m, 1) {
                Err(ResolveError::Local(s)) => assert!(s.contains(want), "{s}"),
                other => panic!("{other:?}"),
            }
        }
    }

    /// An answer of `n` distinct IPv6 addresses, scope id 3.
    fn v6_answer(n: u8) -> Vec<u8> {
        let mut m = vec![TAG_ADDRS, n];
        for i in 0..n {
            let mut e = [0u8; ADDR_LEN];
            e[0] = 6;
            e[1] = 0xfe;
            e[2] = 0x80;
            e[16] = i + 1;
            e[17..21].copy_from_slice(&3i32.to_le_bytes());
            m.extend_from_slice(&e);
        }
        m
    }

    #[test]
    fn ipv6_answers_keep_their_scope() {
        let addrs = parse_message(&v6_answer(2), 443).expect("two addresses");
        assert_eq!(
            addrs,
            [
                "[fe80::1%3]:443".parse::<SocketAddr>().unwrap(),
                "[fe80::2%3]:443".parse().unwrap()
            ]
        );
    }

    #[test]
    fn the_largest_answer_a_lookup_can_give_is_read_whole() {
        // MAX_ADDRS entries after the progress byte: the most the child
        // writes, and exactly MAX_MESSAGE bytes of answer.
        let full = v6_answer(MAX_ADDRS as u8);
        assert_eq!(full.len(), MAX_MESSAGE);
        let m = ask_with(soon(), move |fd| {
            fork::write_all(fd, &[TAG_STARTED]);
            full
        })
        .expect("the whole answer");
        assert_eq!(parse_message(&m, 1).expect("addresses").len(), MAX_ADDRS);
    }

    #[test]
    fn a_child_that_stalls_without_a_query_open_is_local_with_one_a_timeout() {
        let stall = |fd: RawFd| {
            fork::write_all(fd, &[TAG_STARTED]);
            std::thread::sleep(Duration::from_secs(30));
            Vec::new()
        };
        let deadline = || Instant::now() + Duration::from_millis(500);
        // Started, and no socket open at the deadline: a lookup stuck in
        // libc (a lock held at the fork), never an outage.
        match ask_with(deadline(), stall) {
            Err(ResolveError::Local(s)) => assert!(s.contains("no query"), "{s}"),
            other => panic!("{other:?}"),
        }
        // Started and holding a socket (waiting on a name server): a
        // timeout. Only Linux shows the child's sockets.
        if cfg!(target_os = "linux") {
            let r = ask_with(deadline(), |fd| {
                let _sock = std::net::UdpSocket::bind("127.0.0.1:0");
                stall(fd)
            });
            assert_eq!(r, Err(ResolveError::TimedOut));
        }
    }
}
