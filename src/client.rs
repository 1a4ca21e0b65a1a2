//! One HTTPS POST to the Werbot API, made in the order that decides what a
//! failure means (DESIGN.md §3):
//!
//! 1. **deliver** — resolve the name (`resolve.rs`), connect (through an
//!    HTTP CONNECT tunnel when `proxy=` is set), complete the TLS handshake. A failure the network or the server caused here means
//!    the request could not be delivered: [`CallError::Undelivered`], the
//!    only case in which offline users may be admitted.
//! 2. **ask** — from the moment the request can be written, whatever happens
//!    is the server's answer: a timeout, a reset, a malformed, stalled or
//!    oversized reply is [`CallError::NoAnswer`] (a denial for everyone).
//! 3. Anything that failed on this machine, at any step — descriptors,
//!    memory, a permission (SELinux refusing the connect), the trust store,
//!    anything not recognised — is [`CallError::Local`], never an outage.
//!
//! Guarantees: TLS is verified against the OS trust store plus `ca_file`
//! (unless `insecure_skip_verify`), both read before connecting; no redirect
//! is followed and no proxy from the environment honoured (the connection is
//! made here and handed to ureq, which speaks HTTP over it); the answer is
//! capped at [`MAX_BODY`]; the whole call, name resolution included, ends by
//! its deadline; no thread is started; the buffers that held the request
//! (service key, code) or the answer are wiped.
//!
//! The steps of delivery are public ([`resolve_failure`], [`connect`],
//! [`tunnel`], [`handshake_failure`]) so that `wpam check` can time each one
//! with the very code a login runs.

use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectionDetails, Connector, NextTimeout};
use zeroize::Zeroizing;

use crate::config::{Config, ProxyUrl, ServerUrl};
use crate::resolve::{self, ResolveError};
use crate::tls::{self, HandshakeError, TlsTransport};

/// Larger answers are not a Werbot answer (the real ones are a few hundred bytes).
pub const MAX_BODY: u64 = 64 * 1024;
pub const USER_AGENT: &str = concat!("wpam/", env!("CARGO_PKG_VERSION"));

/// What came back over HTTP, whatever the status.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    /// Wiped when dropped: answers may carry tokens.
    pub body: Zeroizing<Vec<u8>>,
}

/// The step of delivery that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resolve,
    Connect,
    /// The HTTP CONNECT exchange with the configured proxy.
    Proxy,
    Handshake,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Resolve => "name resolution",
            Step::Connect => "TCP connect",
            Step::Proxy => "proxy CONNECT",
            Step::Handshake => "TLS handshake",
        })
    }
}

/// Why there is no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The request could not be delivered: the name has no address or no
    /// answer, the connection was refused, unreachable or timed out, or the
    /// TLS handshake failed. `timed_out` tells the decision table that the
    /// cause was the clock, which a setuid caller's user controls.
    Undelivered {
        step: Step,
        timed_out: bool,
        detail: String,
    },
    /// The request was sent (or could have been): no valid answer followed.
    NoAnswer(String),
    /// A failure on this machine.
    Local(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Undelivered {
                step,
                timed_out: true,
                ..
            } => write!(f, "{step} timed out"),
            CallError::Undelivered { step, detail, .. } => write!(f, "{step} failed: {detail}"),
            CallError::NoAnswer(d) => write!(f, "no valid answer after the request was sent: {d}"),
            CallError::Local(d) => f.write_str(d),
        }
    }
}

/// The seam between the login flow and the network, so the flow can be
/// tested with a scripted server.
pub trait Transport {
    fn post(
        &self,
        server: &ServerUrl,
        body: &[u8],
        timeout: Duration,
    ) -> Result<HttpAnswer, CallError>;
}

/// The real HTTPS transport, configured from the module settings.
pub struct Https<'a> {
    pub config: &'a Config,
}

impl Transport for Https<'_> {
    fn post(
        &self,
        server: &ServerUrl,
        body: &[u8],
        timeout: Duration,
    ) -> Result<HttpAnswer, CallError> {
        let deadline = Instant::now() + timeout;
        let call = || self.post_by(server, body, deadline);
        if crate::isolate::wanted() {
            crate::isolate::run(call, deadline)
        } else {
            call()
        }
    }
}

impl Https<'_> {
    /// The call itself, in this process.
    fn post_by(
        &self,
        server: &ServerUrl,
        body: &[u8],
        deadline: Instant,
    ) -> Result<HttpAnswer, CallError> {
        let tls = tls::client_config(
            self.config.ca_file.as_deref(),
            self.config.insecure_skip_verify,
        )
        .map_err(|e| CallError::Local(format!("TLS setup: {e}")))?;
        let stream = deliver(server, self.config.proxy.as_ref(), tls, deadline)?;
        ask(stream, &server.endpoint(), body, deadline)
    }
}

/// Steps 1–3: an established, verified TLS connection to the API, through
/// the proxy when one is configured (its name resolved, a TCP connection to
/// it, a CONNECT tunnel; TLS is still end to end with the API).
pub fn deliver(
    server: &ServerUrl,
    proxy: Option<&ProxyUrl>,
    tls: Arc<rustls::ClientConfig>,
    deadline: Instant,
) -> Result<TlsTransport, CallError> {
    let (host, port) = match proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (server.host.as_str(), server.port),
    };
    let addrs = resolve::resolve(host, port, deadline).map_err(resolve_failure)?;
    let mut tcp = connect(&addrs, deadline)?;
    if let Some(p) = proxy {
        tunnel(&mut tcp, server, p, deadline)?;
    }
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| CallError::Local(format!("server name {}: {e}", server.host)))?;
    let stream = tls::handshake(tcp, tls, name, deadline).map_err(handshake_failure)?;
    // Not one byte of the request is written yet: a budget spent here is
    // still a delivery that timed out.
    if Instant::now() >= deadline {
        return Err(undelivered(Step::Handshake, true, String::new()));
    }
    Ok(stream)
}

/// What a failed name resolution means (step 1 of [`deliver`]).
pub fn resolve_failure(e: ResolveError) -> CallError {
    match e {
        ResolveError::NotFound(d) => undelivered(Step::Resolve, false, d),
        ResolveError::TimedOut => undelivered(Step::Resolve, true, String::new()),
        ResolveError::Local(d) => CallError::Local(d),
    }
}

/// What a failed TLS handshake means (the last step of [`deliver`]).
pub fn handshake_failure(e: HandshakeError) -> CallError {
    match e {
        HandshakeError::TimedOut => undelivered(Step::Handshake, true, String::new()),
        HandshakeError::Closed => undelivered(
            Step::Handshake,
            false,
            "the server closed the connection".into(),
        ),
        HandshakeError::Tls(t) => tls_failure(t),
        HandshakeError::Io(e) => match io_class(&e) {
            Class::Network => undelivered(Step::Handshake, false, e.to_string()),
            Class::TimedOut => undelivered(Step::Handshake, true, String::new()),
            Class::Unusable | Class::Local => {
                CallError::Local(crate::sys::describe("TLS handshake", &e))
            }
        },
    }
}

fn undelivered(step: Step, timed_out: bool, detail: String) -> CallError {
    CallError::Undelivered {
        step,
        timed_out,
        detail,
    }
}

/// How a socket error is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The network or the peer refused, reset or could not be reached.
    Network,
    TimedOut,
    /// This address cannot be used from here (no IPv6, no local address).
    Unusable,
    /// Anything else: this machine's problem.
    Local,
}

fn io_class(e: &io::Error) -> Class {
    match e.raw_os_error() {
        Some(
            libc::ECONNREFUSED
            | libc::ECONNRESET
            | libc::ECONNABORTED
            | libc::EPIPE
            | libc::ENETUNREACH
            | libc::EHOSTUNREACH
            | libc::ENETDOWN
            | libc::EHOSTDOWN,
        ) => Class::Network,
        Some(libc::ETIMEDOUT) => Class::TimedOut,
        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT) => Class::Unusable,
        Some(_) => Class::Local,
        // std's own connect_timeout reports its deadline without an errno.
        None if e.kind() == io::ErrorKind::TimedOut => Class::TimedOut,
        None if e.kind() == io::ErrorKind::UnexpectedEof => Class::Network,
        None => Class::Local,
    }
}

/// Each address in turn, until one accepts or the deadline passes. Outage
/// only when every usable address failed for a network reason; one local
/// failure makes the whole attempt local. (Step 2 of [`deliver`].)
pub fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, CallError> {
    let mut network: Option<String> = None;
    let mut unusable: Option<String> = None;
    let mut timed_out = false;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let e = match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                // The request goes out in more than one TLS record: without
                // TCP_NODELAY, Nagle waits for the server's delayed ACK
                // (40 ms) before the second one. Best effort, as in ureq.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => e,
        };
        match io_class(&e) {
            Class::Network => network = Some(format!("{addr}: {e}")),
            Class::TimedOut => timed_out = true,
            Class::Unusable => unusable = Some(format!("{addr}: {e}")),
            Class::Local => {
                return Err(CallError::Local(crate::sys::describe(
                    &format!("connect to {addr}"),
                    &e,
                )))
            }
        }
    }
    match (network, timed_out, unusable) {
        (Some(d), _, _) => Err(undelivered(Step::Connect, false, d)),
        (None, true, _) => Err(undelivered(Step::Connect, true, String::new())),
        (None, false, Some(d)) => Err(CallError::Local(format!(
            "no usable address for the API from this host ({d})"
        ))),
        (None, false, None) => Err(CallError::Local("no address to connect to".into())),
    }
}

/// The CONNECT request head. The credentials are in it: its buffer is
/// sized exactly, once, because a reallocation would free a copy of them
/// that Zeroizing (which wipes only the last buffer) never sees.
fn connect_head(target: &str, basic_auth: Option<&str>) -> Zeroizing<String> {
    const AUTH: &str = "Proxy-Authorization: Basic ";
    let lines = ["CONNECT ", target, " HTTP/1.1\r\nHost: ", target, "\r\n"];
    let auth = basic_auth.map(|a| [AUTH, a, "\r\n"]);
    let parts = || {
        lines
            .iter()
            .chain(auth.iter().flatten())
            .chain(std::iter::once(&"\r\n"))
    };
    let mut head = Zeroizing::new(String::with_capacity(parts().map(|p| p.len()).sum()));
    parts().for_each(|p| head.push_str(p));
    head
}

/// The largest CONNECT answer head we read from a proxy.
const MAX_PROXY_HEAD: usize = 8 * 1024;

/// Opens a tunnel to the API through an HTTP CONNECT proxy (RFC 9110
/// §9.3.6). Everything here happens before a byte of the request reaches
/// the API: a proxy that is down, refuses the CONNECT (403, 502...) or does
/// not answer could not deliver the request (an outage, as for the API
/// itself); a proxy that asks for credentials (407) is our configuration.
/// Written here rather than with ureq's proxy support, which runs inside its
/// own connector where these cases cannot be told apart. (Step 3 of
/// [`deliver`], with a proxy.)
pub fn tunnel(
    tcp: &mut TcpStream,
    server: &ServerUrl,
    proxy: &ProxyUrl,
    deadline: Instant,
) -> Result<(), CallError> {
    use std::io::Write;
    let target = if server.host.contains(':') {
        format!("[{}]:{}", server.host, server.port)
    } else {
        format!("{}:{}", server.host, server.port)
    };
    let head = connect_head(&target, proxy.basic_auth.as_deref().map(String::as_str));
    let io_failure = |e: io::Error| match io_class(&e) {
        Class::Network => undelivered(Step::Proxy, false, format!("{proxy}: {e}")),
        Class::TimedOut => undelivered(Step::Proxy, true, String::new()),
        Class::Unusable | Class::Local => {
            CallError::Local(crate::sys::describe(&format!("proxy {proxy}"), &e))
        }
    };
    let timed_out = || undelivered(Step::Proxy, true, String::new());
    let left = |deadline: Instant| {
        Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
    };
    let rest = left(deadline).ok_or_else(timed_out)?;
    tcp.set_write_timeout(Some(rest)).map_err(io_failure)?;
    // write_all itself retries a write that a signal interrupted. The head
    // (well under a KiB) goes into the send buffer of a fresh connection:
    // the write timeout cannot expire, and if it ever did, io_class reads
    // EAGAIN as a local error, which denies.
    tcp.write_all(head.as_bytes()).map_err(io_failure)?;
    // The answer head, byte by byte: nothing after it may be consumed (the
    // TLS handshake with the API follows on the same stream).
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_PROXY_HEAD {
            return Err(undelivered(
                Step::Proxy,
                false,
                format!("{proxy}: an answer head larger than {MAX_PROXY_HEAD} bytes"),
            ));
        }
        let rest = left(deadline).ok_or_else(timed_out)?;
        tcp.set_read_timeout(Some(rest)).map_err(io_failure)?;
        match tcp.read(&mut byte) {
            Ok(0) => {
                return Err(undelivered(
                    Step::Proxy,
                    false,
                    format!("{proxy} closed the connection"),
                ))
            }
            Ok(_) => answer.push(byte[0]),
            Err(e) => match e.kind() {
                // A signal to the host process (sshd, su): read on.
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Err(timed_out()),
                _ => return Err(io_failure(e)),
            },
        }
    }
    let (status_line, code) = connect_answer(&answer);
    match code {
        Some(200) => Ok(()),
        Some(407) => Err(CallError::Local(format!(
            "proxy {proxy} asks for credentials (407): put them in the config file as \
             proxy=http://user:password@host:port"
        ))),
        Some(c) => Err(undelivered(
            Step::Proxy,
            false,
            format!("{proxy} refused the CONNECT: HTTP {c}"),
        )),
        None => Err(undelivered(
            Step::Proxy,
            false,
            format!(
                "{proxy} sent no HTTP answer: {}",
                crate::log::quote(&status_line)
            ),
        )),
    }
}

/// The proxy's CONNECT answer head (read by [`tunnel`] up to its blank
/// line): its status line, trimmed, and the status code when that line is
/// `HTTP/1.x NNN`. Pure, for the fuzz target `connect_answer`.
pub fn connect_answer(head: &[u8]) -> (String, Option<u16>) {
    let status_line = head
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .unwrap_or_default();
    let code = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse::<u16>().ok());
    (status_line, code)
}

/// A TLS failure during the handshake: the server's side (certificate,
/// alert, malformed or unexpected message) is an outage; ours (no random
/// bytes, no clock, a trust store that cannot be used) is local.
fn tls_failure(e: rustls::Error) -> CallError {
    use rustls::Error as E;
    match e {
        E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::InvalidMessage(_)
        | E::NoCertificatesPresented
        | E::UnsupportedNameType
        | E::DecryptError
        | E::PeerIncompatible(_)
        | E::PeerMisbehaved(_)
        | E::AlertReceived(_)
        | E::InvalidCertificate(_)
        | E::PeerSentOversizedRecord => undelivered(Step::Handshake, false, e.to_string()),
        other => CallError::Local(format!("TLS handshake: {other}")),
    }
}

/// Step 4: the request and its answer, over the established connection.
/// Every failure here is [`CallError::NoAnswer`].
pub fn ask(
    stream: TlsTransport,
    endpoint: &str,
    body: &[u8],
    deadline: Instant,
) -> Result<HttpAnswer, CallError> {
    let no_answer = |what: &str, e: &dyn fmt::Display| CallError::NoAnswer(format!("{what}: {e}"));
    let timed_out = |e: &ureq::Error| matches!(e, ureq::Error::Timeout(_));
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(CallError::NoAnswer(
            "the time ran out before the request was written".into(),
        ));
    }
    let peer = stream
        .peer_addr()
        .map_err(|e| no_answer("connection lost", &e))?;
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .https_only(true)
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .accept("application/json")
        .max_response_header_size(tls::BUFFER)
        .timeout_global(Some(left))
        .build();
    let agent =
        ureq::Agent::with_parts(config, Handover(Mutex::new(Some(stream))), Connected(peer));
    let mut response = agent
        .post(endpoint)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| match e {
            ref t if timed_out(t) => CallError::NoAnswer("timed out waiting for the answer".into()),
            e => no_answer("request", &e),
        })?;
    let status = response.status().as_u16();
    let answer = read_wiped(&mut response.body_mut().as_reader(), MAX_BODY + 1).map_err(|e| {
        // ureq's reader reports its own deadline as an io::Error that
        // carries ureq::Error::Timeout; a socket timeout has the kind.
        let ureq_timeout = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<ureq::Error>())
            .is_some_and(timed_out);
        if ureq_timeout
            || matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            )
        {
            CallError::NoAnswer(format!("HTTP {status}, then timed out reading the body"))
        } else {
            no_answer(&format!("HTTP {status}, then the body"), &e)
        }
    })?;
    if answer.len() as u64 > MAX_BODY {
        return Err(CallError::NoAnswer(format!(
            "HTTP {status} with an answer larger than {} KiB",
            MAX_BODY / 1024
        )));
    }
    Ok(HttpAnswer {
        status,
        body: answer,
    })
}

/// Reads to the end, or `max` bytes, into memory that is wiped when dropped
/// — including the smaller buffers it outgrows (a Vec's own growth would
/// free them with the answer's bytes still in them). Starts at 4 KiB: real
/// answers are a few hundred bytes, and touching 64 KiB for each of them
/// shows in sshd's memory.
fn read_wiped(r: &mut impl Read, max: u64) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(4096));
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        let room = (max - out.len() as u64).min(chunk.len() as u64) as usize;
        if room == 0 {
            return Ok(out);
        }
        let n = match r.read(&mut chunk[..room]) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.len() + n > out.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(out.capacity() * 2));
            bigger.extend_from_slice(&out);
            out = bigger;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Hands ureq the connection made by [`deliver`]; there is no second one
/// (no redirect, no retry, no proxy).
#[derive(Debug)]
struct Handover(Mutex<Option<TlsTransport>>);

impl<In: ureq::unversioned::transport::Transport> Connector<In> for Handover {
    type Out = TlsTransport;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        _chained: Option<In>,
    ) -> Result<Option<TlsTransport>, ureq::Error> {
        let mut slot = self.0.lock().map_err(|_| ureq::Error::ConnectionFailed)?;
        slot.take().map(Some).ok_or(ureq::Error::ConnectionFailed)
    }
}

/// The address already connected to: ureq asks a resolver before it asks
/// the connector.
#[derive(Debug)]
struct Connected(SocketAddr);

impl Resolver for Connected {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        out.push(self.0);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(n: i32) -> io::Error {
        io::Error::from_raw_os_error(n)
    }

    #[test]
    fn socket_errors_are_sorted_for_the_outage_rule() {
        for n in [libc::ECONNREFUSED, libc::ENETUNREACH, libc::EHOSTUNREACH] {
            assert_eq!(io_class(&err(n)), Class::Network, "{n}");
        }
        assert_eq!(io_class(&err(libc::ETIMEDOUT)), Class::TimedOut);
        assert_eq!(
            io_class(&io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out"
            )),
            Class::TimedOut
        );
        for n in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::ENOBUFS,
            libc::EACCES,
            libc::EPERM,
            libc::EINTR,
            libc::EINVAL,
        ] {
            assert_eq!(io_class(&err(n)), Class::Local, "{n}");
        }
        assert_eq!(io_class(&io::Error::other("?")), Class::Local);
        // A stream that ended early without an errno (rustls, std's
        // read_exact): the peer went away.
        assert_eq!(
            io_class(&io::Error::from(io::ErrorKind::UnexpectedEof)),
            Class::Network
        );
    }

    #[test]
    fn a_refused_port_is_undelivered_and_a_local_failure_is_not() {
        let (addr, _held) = refused_addr();
        let soon = Instant::now() + Duration::from_secs(5);
        match connect(&[addr], soon) {
            Err(CallError::Undelivered {
                step: Step::Connect,
                timed_out: false,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        // Deadline already spent: a timeout, not a refusal.
        assert!(matches!(
            connect(&[addr], Instant::now()),
            Err(CallError::Undelivered {
                timed_out: true,
                ..
            })
        ));
    }

    /// A port of 127.0.0.1 that refuses every connection while the
    /// descriptor lives: bound, never listened on (a port merely freed
    /// could be taken meanwhile by another test).
    fn refused_addr() -> (SocketAddr, std::os::fd::OwnedFd) {
        use std::os::fd::FromRawFd;
        // SAFETY: socket calls on a descriptor owned here; a zeroed
        // sockaddr_in filled in below.
        unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(raw >= 0, "socket");
            let fd = std::os::fd::OwnedFd::from_raw_fd(raw);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let sp = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
            assert_eq!(libc::bind(raw, sp, len), 0, "bind");
            assert_eq!(libc::getsockname(raw, sp, &mut len), 0, "getsockname");
            let port = u16::from_be(sa.sin_port);
            (SocketAddr::from(([127, 0, 0, 1], port)), fd)
        }
    }

    const SERVER: &str = "api.example.com";

    fn server() -> ServerUrl {
        ServerUrl {
            authority: SERVER.into(),
            host: SERVER.into(),
            port: 443,
            prefix: String::new(),
        }
    }

    /// A proxy on loopback: reads one CONNECT head (bounded by a read
    /// timeout), then hands the connection to `then`. The client's stream
    /// is connected before this returns.
    fn fake_proxy(
        then: impl FnOnce(TcpStream) + Send + 'static,
    ) -> (TcpStream, ProxyUrl, std::thread::JoinHandle<String>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut conn, _) = l.accept().unwrap();
        let h = std::thread::spawn(move || {
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            then(conn);
            String::from_utf8_lossy(&head).into_owned()
        });
        let proxy = ProxyUrl {
            host: "127.0.0.1".into(),
            port,
            basic_auth: None,
        };
        (client, proxy, h)
    }

    fn answer_after(delay: Duration, answer: Vec<u8>) -> impl FnOnce(TcpStream) + Send {
        move |mut conn| {
            use std::io::Write;
            std::thread::sleep(delay);
            let _ = conn.write_all(&answer);
            // Held open a moment: the client reads the head, not an EOF.
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    #[test]
    fn the_connect_head_is_sized_once() {
        let head = connect_head("api.example.com:443", Some("dXNlcjpwdw=="));
        assert_eq!(
            head.as_str(),
            "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\
             Proxy-Authorization: Basic dXNlcjpwdw==\r\n\r\n"
        );
        // No reallocation left a copy of the credentials behind.
        assert_eq!(head.capacity(), head.len());
        let head = connect_head("[::1]:8443", None);
        assert_eq!(
            head.as_str(),
            "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"
        );
        assert_eq!(head.capacity(), head.len());
    }

    fn padded_200(len: usize) -> Vec<u8> {
        let start = b"HTTP/1.1 200 Connection established\r\nX-Pad: ";
        let mut a = start.to_vec();
        a.resize(len - 4, b'a');
        a.extend_from_slice(b"\r\n\r\n");
        a
    }

    #[test]
    fn an_answer_head_up_to_8_kib_is_read_and_a_longer_one_refused() {
        let soon = || Instant::now() + Duration::from_secs(5);
        let (mut tcp, proxy, h) = fake_proxy(answer_after(Duration::ZERO, padded_200(8000)));
        assert!(tunnel(&mut tcp, &server(), &proxy, soon()).is_ok());
        assert!(h
            .join()
            .unwrap()
            .starts_with("CONNECT api.example.com:443 HTTP/1.1\r\n"));
        let (mut tcp, proxy, h) = fake_proxy(answer_after(Duration::ZERO, padded_200(9000)));
        match tunnel(&mut tcp, &server(), &proxy, soon()) {
            Err(CallError::Undelivered {
                step: Step::Proxy,
                timed_out: false,
                detail,
            }) => assert!(detail.contains("larger than 8192 bytes"), "{detail}"),
            other => panic!("{other:?}"),
        }
        h.join().unwrap();
    }

    #[test]
    fn a_proxy_that_never_answers_is_a_timeout() {
        let (mut tcp, proxy, h) = fake_proxy(|_conn| std::thread::sleep(Duration::from_secs(2)));
        let r = tunnel(
            &mut tcp,
            &server(),
            &proxy,
            Instant::now() + Duration::from_millis(500),
        );
        assert!(
            matches!(
                r,
                Err(CallError::Undelivered {
                    step: Step::Proxy,
                    timed_out: true,
                    ..
                })
            ),
            "{r:?}"
        );
        h.join().unwrap();
    }

    #[test]
    fn a_proxy_that_resets_the_connection_is_an_outage_at_once() {
        use std::os::fd::AsRawFd;
        let (mut tcp, proxy, h) = fake_proxy(|conn| {
            // SO_LINGER 0: the close sends a reset, not a FIN.
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on a live descriptor with a linger struct.
            let rc = unsafe {
                libc::setsockopt(
                    conn.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &l as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_LINGER");
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let r = tunnel(&mut tcp, &server(), &proxy, deadline);
        h.join().unwrap();
        // Not a wait until the deadline: the reset is the answer.
        assert!(
            matches!(
                r,
                Err(CallError::Undelivered {
                    step: Step::Proxy,
                    timed_out: false,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    static SIGNALS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    extern "C" fn count_signal(_: libc::c_int) {
        SIGNALS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn a_signal_while_waiting_for_the_proxy_is_not_an_error() {
        // sshd and su deliver signals to the process that hosts the module;
        // a handler without SA_RESTART makes a blocked read return EINTR.
        // SAFETY: a zeroed sigaction with a handler that only counts.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = count_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
        }
        let answer = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
        let (mut tcp, proxy, h) = fake_proxy(answer_after(Duration::from_millis(600), answer));
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let kicker = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(5);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(50));
                    // SAFETY: `me` is the test thread, alive until `stop`.
                    unsafe { libc::pthread_kill(me, libc::SIGUSR2) };
                }
            })
        };
        let r = tunnel(
            &mut tcp,
            &server(),
            &proxy,
            Instant::now() + Duration::from_secs(5),
        );
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        kicker.join().unwrap();
        h.join().unwrap();
        assert!(
            SIGNALS.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "no signal came"
        );
        assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn read_wiped_reads_to_the_end_or_the_bound() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let got = read_wiped(&mut &data[..], 1 << 20).unwrap();
        assert_eq!(&got[..], &data[..]);
        let got = read_wiped(&mut &data[..], 5000).unwrap();
        assert_eq!(&got[..], &data[..5000]);
    }

    #[test]
    fn tls_errors_of_ours_are_local() {
        assert!(matches!(
            tls_failure(rustls::Error::FailedToGetRandomBytes),
            CallError::Local(_)
        ));
        assert!(matches!(
            tls_failure(rustls::Error::General("x".into())),
            CallError::Local(_)
        ));
        assert!(matches!(
            tls_failure(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired
            )),
            CallError::Undelivered { .. }
        ));
    }
}
