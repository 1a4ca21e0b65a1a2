//! One HTTPS POST to the Werbot API, and nothing that outlives it.
//!
//! Guarantees: TLS is verified against the OS trust store plus `ca_file`
//! (unless `insecure_skip_verify`); no redirect is followed; no proxy from the
//! environment is honoured (a user running `su` must not be able to make the
//! API "unreachable" and ride offline mode); the answer body is capped; the
//! whole call, DNS included, is bounded by its timeout; no thread is started
//! (ureq resolves names on a helper thread when a timeout is set, so name
//! resolution is done here, synchronously).

use std::fmt;
use std::io::ErrorKind;
use std::net::ToSocketAddrs;
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Connector, NextTimeout, TcpConnector};

use crate::config::Config;

/// Larger answers are not a Werbot answer (the real ones are a few hundred bytes).
pub const MAX_BODY: u64 = 64 * 1024;
const BUFFER: usize = 16 * 1024;
pub const USER_AGENT: &str = concat!("wpam/", env!("CARGO_PKG_VERSION"));

/// What came back over HTTP, whatever the status.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Result<Vec<u8>, BodyError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Unreadable(String),
}

/// The server could not be asked: the cases offline mode is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    Dns(String),
    Connect(String),
    Tls(String),
    Timeout,
    Io(String),
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreachable::Dns(e) => write!(f, "name resolution failed: {e}"),
            Unreachable::Connect(e) => write!(f, "connection failed: {e}"),
            Unreachable::Tls(e) => write!(f, "TLS failed: {e}"),
            Unreachable::Timeout => write!(f, "timed out"),
            Unreachable::Io(e) => write!(f, "transport error: {e}"),
        }
    }
}

/// A local problem that no server answer could fix (bad `ca_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

#[derive(Debug)]
pub enum CallError {
    Setup(SetupError),
    Unreachable(Unreachable),
}

/// The seam between the login flow and the network, so the flow can be
/// tested with a scripted server.
pub trait Transport {
    fn post(&self, endpoint: &str, body: &[u8], timeout: Duration)
        -> Result<HttpAnswer, CallError>;
}

/// The real HTTPS transport, configured from the module settings.
pub struct Https<'a> {
    pub config: &'a Config,
}

impl Transport for Https<'_> {
    fn post(
        &self,
        endpoint: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<HttpAnswer, CallError> {
        let tls = crate::tls::client_config(
            self.config.ca_file.as_deref(),
            self.config.insecure_skip_verify,
        )
        .map_err(|e| CallError::Setup(SetupError(format!("TLS setup: {e}"))))?;
        let agent_config = ureq::Agent::config_builder()
            .proxy(None)
            .https_only(true)
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .accept("application/json")
            // ureq's defaults (128 KiB each way, per layer) are sized for
            // downloads; a Werbot answer is a few hundred bytes.
            .input_buffer_size(BUFFER)
            .output_buffer_size(BUFFER)
            .max_response_header_size(BUFFER)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .build();
        let connector = ().chain(TcpConnector::default()).chain(crate::tls::TlsConnector(tls));
        let agent = ureq::Agent::with_parts(agent_config, connector, SyncResolver);
        let result = agent
            .post(endpoint)
            .header("Content-Type", "application/json")
            .send(body);
        let mut response = result.map_err(|e| CallError::Unreachable(classify(e)))?;
        let status = response.status().as_u16();
        let body = match response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
        {
            Ok(b) => Ok(b),
            Err(ureq::Error::BodyExceedsLimit(_)) => Err(BodyError::TooLarge),
            // A timeout or reset while reading the body is still the server
            // being unavailable, not an answer.
            Err(e) => match transport_failure(&e) {
                Some(u) => return Err(CallError::Unreachable(u)),
                None => Err(BodyError::Unreadable(e.to_string())),
            },
        };
        Ok(HttpAnswer { status, body })
    }
}

fn transport_failure(e: &ureq::Error) -> Option<Unreachable> {
    match e {
        ureq::Error::Timeout(_) => Some(Unreachable::Timeout),
        ureq::Error::Io(io) if matches!(io.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Some(Unreachable::Timeout)
        }
        ureq::Error::Io(io) if io.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
            Some(Unreachable::Tls(io.to_string()))
        }
        ureq::Error::Io(io) => Some(match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable => Unreachable::Connect(io.to_string()),
            _ => Unreachable::Io(io.to_string()),
        }),
        _ => None,
    }
}

fn classify(e: ureq::Error) -> Unreachable {
    if let Some(u) = transport_failure(&e) {
        return u;
    }
    match e {
        ureq::Error::HostNotFound => Unreachable::Dns("host not found".into()),
        ureq::Error::ConnectionFailed => Unreachable::Connect("connection failed".into()),
        ureq::Error::Tls(m) => Unreachable::Tls(m.to_string()),
        ureq::Error::Rustls(r) => Unreachable::Tls(r.to_string()),
        other => Unreachable::Io(other.to_string()),
    }
}

/// Name resolution on the calling thread (getaddrinfo, bounded by the
/// resolver's own timeouts in resolv.conf).
#[derive(Debug)]
struct SyncResolver;

impl Resolver for SyncResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let authority = uri.authority().ok_or(ureq::Error::HostNotFound)?;
        let port = authority.port_u16().unwrap_or(443);
        // Uri keeps IPv6 literals bracketed; ToSocketAddrs wants them bare.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let mut out = self.empty();
        for addr in (host, port).to_socket_addrs()?.take(16) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}
