//! Whom the module trusts, the TLS handshake, and the TLS transport ureq
//! speaks HTTP over.
//!
//! Trust anchors are `ca_file` plus the OS bundle, read with a size bound
//! and without blocking on a FIFO. The OS bundle is read from its well-known
//! path for the platform, never from `SSL_CERT_FILE`/`SSL_CERT_DIR`: under su
//! or sudo those belong to the user being authenticated.
//!
//! What is certain to be needed is read before any connection is made, so
//! that its failure (EMFILE, EACCES, a missing bundle) is a setup error:
//! `ca_file` always, the OS bundle when there is no `ca_file`. With a
//! `ca_file`, the OS bundle is only the fallback for a chain `ca_file` does
//! not know (UnknownIssuer): it is read then, during the handshake, and its
//! failure surfaces as `rustls::Error::General`, which `client.rs` counts as
//! local, never as an outage. (Reading it on every login cost 0.24 MiB of
//! peak memory in sshd's process for nothing when `ca_file` verifies.)
//!
//! The handshake is driven here step by step against the call's deadline;
//! what its failures mean is decided by `client.rs`. The transport owns the
//! buffers ureq writes the request into (service key, code) and reads the
//! answer from, and wipes them when dropped.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use ureq::unversioned::transport::{Buffers, NextTimeout, Transport};
use zeroize::Zeroize;

/// The system CA bundle, by platform: Debian/Ubuntu, RHEL/Fedora, SUSE,
/// FreeBSD/OpenBSD/Alpine, FreeBSD's ca_root_nss, NetBSD.
pub const OS_BUNDLES: [&str; 7] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
    "/etc/openssl/certs/ca-certificates.crt",
];

/// A PEM trust file larger than this is not a CA bundle (Debian's, with
/// every Mozilla root, is about 220 KiB).
pub const MAX_PEM_FILE: u64 = 4 << 20;

/// Certificates of a PEM file; an error names the file.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let named = |e: &dyn fmt::Display| format!("{}: {e}", path.display());
    let io_err = |e: io::Error| crate::sys::describe(&path.display().to_string(), &e);
    let (mut file, size) = crate::sys::open_regular(path, 0, MAX_PEM_FILE).map_err(io_err)?;
    let mut pem = Vec::with_capacity(size as usize + 1);
    crate::sys::read_bounded(&mut file, MAX_PEM_FILE, &mut pem).map_err(io_err)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(&e))?;
    if certs.is_empty() {
        return Err(named(&"no certificate found"));
    }
    Ok(certs)
}

fn verifier(
    certs: Vec<CertificateDer<'static>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err("no usable trust anchor".into());
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())
}

/// The verifier: `ca_file` first, the OS bundle when it does not know the
/// issuer — or, with `insecure_skip_verify`, nothing at all (the caller
/// logs a WARN).
pub struct Trust {
    provider: Arc<CryptoProvider>,
    insecure: bool,
    ca_file: Option<Arc<WebPkiServerVerifier>>,
    os: OnceLock<Result<Arc<WebPkiServerVerifier>, String>>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("insecure", &self.insecure)
            .field("ca_file", &self.ca_file.is_some())
            .field("os_loaded", &self.os.get().is_some())
            .finish()
    }
}

/// The OS bundle's verifier.
fn os_verifier(provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
    let path = OS_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "no system CA bundle found (looked for {}); install the CA certificates \
                 package or set ca_file",
                OS_BUNDLES.join(", ")
            )
        })?;
    verifier(read_pem_certs(path)?, provider).map_err(|e| format!("{}: {e}", path.display()))
}

impl Trust {
    /// Reads `ca_file`, and the OS bundle unless `ca_file` is given (see the
    /// module documentation). Errors are setup errors.
    pub fn new(
        ca_file: Option<&Path>,
        insecure: bool,
        provider: Arc<CryptoProvider>,
    ) -> Result<Trust, String> {
        let ca = match ca_file {
            Some(p) => Some(
                verifier(read_pem_certs(p)?, &provider)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            ),
            None => None,
        };
        let trust = Trust {
            provider,
            insecure,
            ca_file: ca,
            os: OnceLock::new(),
        };
        if !insecure && trust.ca_file.is_none() {
            if let Err(e) = trust.os() {
                return Err(e.to_string());
            }
        }
        Ok(trust)
    }

    fn os(&self) -> Result<&Arc<WebPkiServerVerifier>, rustls::Error> {
        self.os
            .get_or_init(|| os_verifier(&self.provider))
            .as_ref()
            .map_err(|e| rustls::Error::General(format!("system trust store: {e}")))
    }
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if let Some(v) = &self.ca_file {
            match v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {}
                other => return other,
            }
        }
        self.os()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    // Handshake signatures are checked even when the certificate is not:
    // they bind the session to the key the server presented.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls client configuration for one call; reads the trust files.
pub fn client_config(ca_file: Option<&Path>, insecure: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // With insecure_skip_verify a broken ca_file is still reported: the
    // admin asked for it.
    let verifier = Arc::new(Trust::new(ca_file, insecure, provider.clone())?);
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why a handshake did not complete; `client.rs` decides what each means.
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed.
    TimedOut,
    /// The server closed the connection.
    Closed,
    /// A TLS protocol failure (certificate, alert, malformed message...).
    Tls(rustls::Error),
    /// A socket error.
    Io(io::Error),
}

fn left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
}

/// Runs the TLS handshake on `tcp` until it is complete and our last
/// handshake bytes are written, or `deadline`.
pub fn handshake(
    mut tcp: TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    deadline: Instant,
) -> Result<TlsTransport, HandshakeError> {
    let mut conn = ClientConnection::new(config, name).map_err(HandshakeError::Tls)?;
    while conn.is_handshaking() || conn.wants_write() {
        let rest = left(deadline).ok_or(HandshakeError::TimedOut)?;
        tcp.set_read_timeout(Some(rest))
            .map_err(HandshakeError::Io)?;
        tcp.set_write_timeout(Some(rest))
            .map_err(HandshakeError::Io)?;
        let step = if conn.wants_write() {
            conn.write_tls(&mut tcp).map(|_| ())
        } else if conn.wants_read() {
            match conn.read_tls(&mut tcp) {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(_) => {
                    conn.process_new_packets().map_err(HandshakeError::Tls)?;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            return Err(HandshakeError::Io(io::Error::other(
                "TLS handshake stalled (nothing to read or write)",
            )));
        };
        match step {
            Ok(()) => {}
            // A signal handler of the host ran; the deadline still holds.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HandshakeError::TimedOut)
            }
            Err(e) => return Err(HandshakeError::Io(e)),
        }
    }
    Ok(TlsTransport {
        conn,
        tcp,
        buffers: WipedBuffers::new(BUFFER),
        deadline,
    })
}

/// The longest single kernel wait: each wait is re-armed to the time left,
/// and this cap keeps timer slack from adding to the deadline.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// Each way: a Werbot request or answer is a few hundred bytes.
pub const BUFFER: usize = 16 * 1024;

/// An established TLS connection as a ureq transport.
pub struct TlsTransport {
    conn: ClientConnection,
    tcp: TcpStream,
    buffers: WipedBuffers,
    /// The whole call's: no read or write goes past it, however the server
    /// trickles its bytes (each socket wait is armed with the time left,
    /// never with a fresh relative timeout).
    deadline: Instant,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl TlsTransport {
    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp.peer_addr()
    }

    /// The certificate chain the server presented, leaf first (for `wpam
    /// check`; the module does not look at it beyond verifying it).
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        self.conn.peer_certificates().unwrap_or_default()
    }

    /// The negotiated TLS version, e.g. "TLSv1_3".
    pub fn protocol_version(&self) -> Option<String> {
        self.conn.protocol_version().map(|v| format!("{v:?}"))
    }

    /// The earlier of the call's deadline and ureq's own for this step.
    fn end(&self, timeout: &NextTimeout) -> Instant {
        self.deadline.min(Instant::now() + *timeout.after)
    }

    /// Arms both socket timeouts with the time left before `end`, capped.
    fn arm(&mut self, end: Instant, timeout: &NextTimeout) -> Result<(), ureq::Error> {
        let d = end.saturating_duration_since(Instant::now());
        if d.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let d = d.min(MAX_WAIT);
        self.tcp.set_read_timeout(Some(d))?;
        self.tcp.set_write_timeout(Some(d))?;
        Ok(())
    }

    /// Writes what rustls has queued, by `end`.
    fn flush_tls(&mut self, end: Instant, timeout: &NextTimeout) -> Result<(), ureq::Error> {
        while self.conn.wants_write() {
            self.arm(end, timeout)?;
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if retry(&e) => {}
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
        Ok(())
    }
}

/// A wait that ran out its (capped) slice, or a signal: the loop re-checks
/// the deadline and goes on.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let end = self.end(&timeout);
        self.arm(end, &timeout)?;
        // Into rustls's own buffer (bounded by BUFFER), then out by `end`.
        let output = &self.buffers.output[..amount];
        self.conn.writer().write_all(output)?;
        self.flush_tls(end, &timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let end = self.end(&timeout);
        loop {
            let input = self.buffers.input_append_buf();
            match self.conn.reader().read(input) {
                Ok(amount) => {
                    self.buffers.input_appended(amount);
                    return Ok(amount > 0);
                }
                // No plaintext yet: read more records below.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(ureq::Error::Io(e)),
            }
            self.flush_tls(end, &timeout)?;
            self.arm(end, &timeout)?;
            match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => {
                    // EOF: rustls now reports a clean close (Ok(0) from
                    // the reader) or a truncation (UnexpectedEof).
                    let input = self.buffers.input_append_buf();
                    return match self.conn.reader().read(input) {
                        Ok(amount) => {
                            self.buffers.input_appended(amount);
                            Ok(amount > 0)
                        }
                        Err(e) => Err(ureq::Error::Io(e)),
                    };
                }
                Ok(_) => {
                    self.conn.process_new_packets().map_err(|e| {
                        ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, e))
                    })?;
                }
                Err(e) if retry(&e) => {}
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        // Never reused: every call has its own agent and connection.
        false
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// ureq's buffers, allocated once at full size (so that nothing is copied
/// by a reallocation and left behind) and wiped on drop: the output buffer
/// holds the request (service key, code), and ureq also uses the free part
/// of the input buffer as scratch space for the request body.
pub struct WipedBuffers {
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    output: Vec<u8>,
    progress: bool,
}

impl WipedBuffers {
    pub fn new(size: usize) -> WipedBuffers {
        WipedBuffers {
            input: vec![0; size],
            filled: 0,
            consumed: 0,
            output: vec![0; size],
            progress: false,
        }
    }

    /// Moves unconsumed input to the front when that frees space (as
    /// ureq's own buffers do).
    fn shift(&mut self) {
        if self.consumed == 0 {
            return;
        }
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        } else if self.filled > self.input.len() / 2 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
    }
}

impl Drop for WipedBuffers {
    fn drop(&mut self) {
        self.input.zeroize();
        self.output.zeroize();
    }
}

impl Buffers for WipedBuffers {
    fn output(&mut self) -> &mut [u8] {
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.shift();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = (self.filled + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        self.shift();
        (&mut self.input[self.filled..], &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.filled > self.consumed && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_consume_and_shift_like_ureqs() {
        let mut b = WipedBuffers::new(8);
        b.input_append_buf()[..6].copy_from_slice(b"abcdef");
        b.input_appended(6);
        assert_eq!(b.input(), b"abcdef");
        assert!(!b.can_use_input());
        b.input_consume(5);
        assert!(b.can_use_input());
        assert_eq!(b.input(), b"f");
        // More than half filled: the rest moves to the front.
        assert_eq!(b.input_append_buf().len(), 7);
        assert_eq!(b.input(), b"f");
        b.input_consume(0);
        assert!(!b.can_use_input());
    }

    #[test]
    fn fifo_and_oversized_trust_files_are_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("wpam-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("ca.fifo");
        let _ = std::fs::remove_file(&fifo);
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_pem_certs(&fifo).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_pem_certs(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.join("big.pem");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_PEM_FILE + 1).unwrap();
        let e = read_pem_certs(&big).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
