//! The development Werbot API server: a faithful emulator of the one endpoint the
//! module talks to (`POST {prefix}/auth/agent/nix`, DESIGN.md §2), served over real TLS
//! with a throwaway CA, plus fault injection and request recording for tests.
//!
//! Built from dev-dependencies only. Used in-process by the integration tests and
//! `examples/demo.rs` (`#[path = "../tests/support/devserver.rs"] mod devserver;`) and
//! out-of-process through `examples/werbot-dev-server.rs`.
//!
//! Control endpoints on the same listener (never recorded, never faulted):
//! `GET /_dev/requests`, `POST /_dev/fault` (`{"fault":"500"}` / `{"fault":null}`),
//! `POST /_dev/clear`.
//!
//! # The real server: TRASA
//!
//! The Werbot API's `POST /auth/agent/nix` is TRASA's `serviceauth.AgentLogin`
//! (github.com/seknox/trasa, `server/api/auth/serviceauth/handlers.go`). By default
//! ([`Dialect::Trasa`]) the emulator answers as that handler does, in its order:
//! HTTP 200 for every answer; the body `{"status","reason"?,"intent"?,"data":[null]}`
//! (`server/utils/httputils.go:48-67`, `server/models/models.go:45-51`); bad JSON →
//! `invalid request` (46); `user` with a leading `\` dropped and lower-cased (62-67);
//! wrong service ID or key → `invalid service integration details` (72-81); a passthru
//! service grants a login mapped to nobody with `passthru authentication`, no second
//! factor (91-95); the Werbot ID matched exactly → else `user not found` (97-106,
//! `server/api/auth/store.go:10-35`); a disabled user → `User Disabled` (110-118); the
//! login not mapped to that user → `policy not assigned` (129-138); the user's IP
//! allow-list → `IP_POLICY_FAILED`, and an empty or non-IP `userIP` fails every list,
//! even `0.0.0.0/0`, TRASA's default, which holds no IPv6 address (152-160,
//! `server/api/accesscontrol/uac.go:64-76`, `server/utils/ipfilter.go:36-97`,
//! `server/initdb/init.go:181`); `tfaMethod` ignored, a push iff `totpCode` is empty
//! (163-166); a TOTP code of now or ±30 s, accepted again while valid → else
//! `INVALID_TOTP` (`server/api/auth/tfa/tfa.go:30-45,265-279`,
//! `server/utils/totp.go:37-50`); a push sent (taking [`Options::push_send_delay`]),
//! then answered within 60 s → success, else or when denied `U2F_FAILED`
//! (`tfa.go:327-355,382-384`); a success has no reason (192). Intents: `AgentLogin`
//! up to the user check, `agent-login` from the policy on (as TRASA sets them).
//!
//! Differences that remain, on purpose or because the emulator has no such state:
//! - The ID is read from `wID`, which the Werbot reference module sends; TRASA's struct
//!   reads `trasaID` (`handlers.go:30`). We assume the deployed Werbot API reads `wID`.
//! - Policies hold an IP list only: no day/time windows, expiry or country list
//!   (`uac.go:45-62,78-93`), no adhoc permissions (`uac.go:175-205`), no device policy,
//!   no user groups (`policies/store.go:170-182`).
//! - No organisation lookup (`INVALID_ORG_ID`, `handlers.go:122-127`), no login
//!   logging, no RDP `userIP` override (`handlers.go:82-84`).
//! - A user has one TOTP secret and one push device (`tfa.go:37-44,338-345` loop over
//!   all devices); a push's answer is configured ([`U2f`]), not signed by a device
//!   (`tfa.go:358-380`, `DEVICE_NOT_FOUND` never happens); the cloud-proxy path
//!   (`tfa.go:311-326`) is not emulated.
//! - The Werbot ID is looked up as one string; TRASA queries by email when it contains
//!   `@`, by username otherwise (`auth/store.go:12-29`).
//! - JSON keys are matched case-insensitively by ASCII only (Go also folds a few
//!   Unicode letters); duplicate keys keep serde's choice; `publicKey` is not decoded
//!   (Go refuses a non-base64 string there, `handlers.go:25`).
//! - Unknown paths and methods get the emulator's JSON 404/405, not TRASA's router's.
//! - A policy entry that is neither an IP nor a CIDR fails the check; TRASA's
//!   `NewChecker` errors and the next call dereferences a nil checker
//!   (`uac.go:68-72`), which panics that request.
//! - The transport (TLS versions, certificates, faults, chunking) is the emulator's.
//!
//! Named variants a test opts into: [`Dialect::Lenient`] (the emulator before it
//! followed TRASA: see its doc), [`Options::lenient`] (that, with HTTP 400/401
//! refusals), [`Refusals`] (`HttpCodes`, `Status500`), [`Strict::one_time_codes`]
//! (stricter than TRASA), [`Options::passthru`], [`Options::push_send_delay`] and
//! [`Options::push_wait`], and per user [`User::ip_policy`], [`User::disabled`],
//! [`User::logins`].
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

/// The API path below the prefix.
pub const API_PATH: &str = "/auth/agent/nix";
/// Delay of `Fault::Slow` when parsed from plain `"slow"`.
pub const DEFAULT_SLOW: Duration = Duration::from_secs(30);
/// Size of the `Fault::Huge` body.
pub const HUGE_BODY_LEN: usize = 4 * 1024 * 1024;
/// Body of the `Fault::NonJson` answer.
pub const NON_JSON_BODY: &str = "<html>upstream error</html>";

const MAX_HEADER: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;
const NEVER_CAP: Duration = Duration::from_secs(3600);
/// How long a client may take to send its whole request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop()` waits for connection threads to finish.
const STOP_GRACE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------
// Public model
// ---------------------------------------------------------------------------------------

/// What happens when this user is asked to approve a U2F push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum U2f {
    Approve,
    Deny,
    /// Sleep this long (interruptible by `stop`), then approve.
    ApproveAfter(Duration),
    /// Never answer: hold the connection until the client gives up or the server stops.
    Never,
}

impl FromStr for U2f {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "approve" => Ok(U2f::Approve),
            "deny" => Ok(U2f::Deny),
            "never" => Ok(U2f::Never),
            _ => match t.strip_prefix("approve-after:") {
                Some(secs) => Ok(U2f::ApproveAfter(parse_secs(secs)?)),
                None => Err(format!(
                    "invalid u2f behaviour {s:?}: expected approve, deny, never or approve-after:SECONDS"
                )),
            },
        }
    }
}

impl fmt::Display for U2f {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            U2f::Approve => f.write_str("approve"),
            U2f::Deny => f.write_str("deny"),
            U2f::ApproveAfter(d) => write!(f, "approve-after:{}", d.as_secs_f64()),
            U2f::Never => f.write_str("never"),
        }
    }
}

/// A server misbehaviour, per user or global (global wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with a JSON error body.
    Status500,
    /// HTTP 200 with `<html>upstream error</html>`.
    NonJson,
    /// HTTP 200 with a 4 MiB body that is a well-formed *successful* answer: a client that
    /// does not cap the body admits the user, one that parses a truncated prefix fails.
    Huge,
    /// Sleep (interruptible by `stop`), then answer normally.
    Slow(Duration),
    /// Read the request, then close the socket with SO_LINGER 0 (the client sees a reset).
    Reset,
    /// Accept the TCP connection and never speak TLS: the client waits in its handshake
    /// until it gives up (global only: it happens before any request is read).
    StallHandshake,
    /// A load balancer's handshake timeout (nginx `ssl_handshake_timeout`): wait `delay`
    /// before answering the ClientHello (an emulated round trip), then close the TCP
    /// connection if the TLS handshake is not complete `limit` after the accept. A client
    /// that keeps pace gets a normal answer (global only).
    DropHandshake { delay: Duration, limit: Duration },
    /// Trickle the raw TLS bytes, one every `every`: of the server's handshake flight
    /// (`handshake`), or of a successful answer. A client whose socket timeout is re-armed
    /// by every byte never times out (global only).
    Trickle { handshake: bool, every: Duration },
    /// Send the status line, headers and the first bytes of a successful answer, then
    /// nothing until the client gives up.
    StallBody,
    /// A malformed answer: HTTP 200 with an invalid `Content-Length` and a success body
    /// (a client that ignores the header and reads to the end would admit the user).
    BadLength,
    /// HTTP 302 to the API's own URL, with a success body: a client that followed it
    /// would ask again; one that read the body would admit.
    Redirect,
    /// HTTP 200 with a successful answer padded to exactly this many bytes (the body
    /// cap's boundary).
    Size(usize),
    /// HTTP 200, well-formed JSON whose `status` is this text (`"Success"`,
    /// `"unsuccessful"`…): only the exact `"success"` may grant.
    Status(String),
}

impl FromStr for Fault {
    type Err = String;
    /// `"500"`, `"nonjson"`, `"huge"`, `"slow"` (30 s), `"slow:SECONDS"`, `"reset"`,
    /// `"stall-handshake"`, `"stall-body"`, `"bad-length"`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "500" | "status500" => Ok(Fault::Status500),
            "nonjson" | "non-json" => Ok(Fault::NonJson),
            "huge" => Ok(Fault::Huge),
            "slow" => Ok(Fault::Slow(DEFAULT_SLOW)),
            "reset" => Ok(Fault::Reset),
            "stall-handshake" => Ok(Fault::StallHandshake),
            "stall-body" => Ok(Fault::StallBody),
            "bad-length" => Ok(Fault::BadLength),
            "redirect" => Ok(Fault::Redirect),
            _ => {
                if let Some(rest) = t.strip_prefix("trickle-handshake:") {
                    return Ok(Fault::Trickle {
                        handshake: true,
                        every: parse_secs(rest)?,
                    });
                }
                if let Some(rest) = t.strip_prefix("trickle-answer:") {
                    return Ok(Fault::Trickle {
                        handshake: false,
                        every: parse_secs(rest)?,
                    });
                }
                if let Some(rest) = t.strip_prefix("drop-handshake:") {
                    let (d, l) = rest.split_once(':').ok_or_else(|| {
                        format!("invalid fault {s:?}: drop-handshake:DELAY:LIMIT")
                    })?;
                    return Ok(Fault::DropHandshake {
                        delay: parse_secs(d)?,
                        limit: parse_secs(l)?,
                    });
                }
                if let Some(secs) = t.strip_prefix("slow:") {
                    return Ok(Fault::Slow(parse_secs(secs)?));
                }
                // The status keeps its case (`t` is lowercased).
                if t.starts_with("status:") {
                    return Ok(Fault::Status(s.trim()["status:".len()..].to_string()));
                }
                if let Some(n) = t.strip_prefix("size:") {
                    return n
                        .parse()
                        .map(Fault::Size)
                        .map_err(|_| format!("invalid size {n:?}"));
                }
                Err(format!(
                    "invalid fault {s:?}: expected 500, nonjson, huge, slow, slow:SECONDS, \
                     reset, stall-handshake, drop-handshake:DELAY:LIMIT, trickle-handshake:SECONDS, \
                     trickle-answer:SECONDS, stall-body, bad-length, redirect, size:BYTES or status:TEXT"
                ))
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status500 => f.write_str("500"),
            Fault::NonJson => f.write_str("nonjson"),
            Fault::Huge => f.write_str("huge"),
            Fault::Slow(d) => write!(f, "slow:{}", d.as_secs_f64()),
            Fault::Reset => f.write_str("reset"),
            Fault::StallHandshake => f.write_str("stall-handshake"),
            Fault::DropHandshake { delay, limit } => write!(
                f,
                "drop-handshake:{}:{}",
                delay.as_secs_f64(),
                limit.as_secs_f64()
            ),
            Fault::Trickle { handshake, every } => write!(
                f,
                "trickle-{}:{}",
                if *handshake { "handshake" } else { "answer" },
                every.as_secs_f64()
            ),
            Fault::StallBody => f.write_str("stall-body"),
            Fault::BadLength => f.write_str("bad-length"),
            Fault::Redirect => f.write_str("redirect"),
            Fault::Size(n) => write!(f, "size:{n}"),
            Fault::Status(text) => write!(f, "status:{text}"),
        }
    }
}

/// How the emulator answers a request it refuses (malformed JSON, bad service
/// credentials; in the lenient dialect also a missing field or a `userIP` it does not
/// accept). TRASA answers HTTP 200 (`handlers.go:46,79`); the other modes are ways
/// another server could do it, and the module's outage rule must hold under every one
/// (a refusal is never an outage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Refusals {
    /// 400 for a malformed request, 401 for bad credentials.
    HttpCodes,
    /// Every refusal is HTTP 200 with `"status":"failed"`, as TRASA does (the default).
    #[default]
    Ok200,
    /// Every refusal is HTTP 500 with `"status":"failed"`.
    Status500,
}

/// Switchable variations on top of the dialect: `refusals` and `one_time_codes` apply
/// to both dialects, `minimal_json` and `require_ip` to the lenient one only (TRASA's
/// answers are always `omitempty`, and its IP policy refuses an empty or non-IP
/// `userIP`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strict {
    pub refusals: Refusals,
    /// Lenient dialect: leave out empty `reason`, `intent` and a null `data`, as Go's
    /// `omitempty` does.
    pub minimal_json: bool,
    /// Lenient dialect: refuse a `userIP` that is not an IP address.
    pub require_ip: bool,
    /// Accept each TOTP code once per user (a module that sends a code twice is
    /// caught). Stricter than TRASA, which accepts a code again while it is valid.
    pub one_time_codes: bool,
}

impl Strict {
    /// What the main libpam tests run against: TRASA's answers, plus one-time codes.
    pub fn for_main_tests() -> Strict {
        Strict {
            refusals: Refusals::Ok200,
            minimal_json: true,
            require_ip: false,
            one_time_codes: true,
        }
    }
}

/// Which server the emulator is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// TRASA's `serviceauth.AgentLogin`, the code of the Werbot API (the default; see
    /// the module doc).
    #[default]
    Trasa,
    /// The emulator as it was before it followed TRASA: `tfaMethod` must be `totp` or
    /// `U2F`, intents `totp`/`u2f`, a Werbot ID matched case-insensitively as a
    /// fallback, empty `logins` = any account, no IP policy, no disabled users, no
    /// passthru, a success carrying `data.session_token`, its own reason wording, and a
    /// `never` push held until the client gives up.
    Lenient,
}

/// TRASA's default policy's IP source (`server/initdb/init.go:181`): every IPv4
/// address and nothing else.
pub const DEFAULT_IP_POLICY: &str = "0.0.0.0/0";
/// How long TRASA waits for the push answer once it is sent
/// (`server/api/auth/tfa/tfa.go:347`).
pub const PUSH_WAIT: Duration = Duration::from_secs(60);

/// Transport shapes the module must handle, each switchable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// API answers with `Transfer-Encoding: chunked` instead of a Content-Length.
    pub chunked: bool,
    /// `Connection: keep-alive`: the server keeps the connection open after the
    /// answer (until the client closes it).
    pub keep_alive: bool,
    /// The leaf is signed by an intermediate CA, sent in the chain; `ca.pem` holds
    /// the root only.
    pub intermediate_ca: bool,
    /// An RSA-2048 leaf key (generated with `openssl genpkey`) instead of ECDSA P-256.
    pub rsa_leaf: bool,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of seconds {s:?}"))?;
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        return Err(format!("seconds out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A Werbot user known to the development server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub werbot_id: String,
    /// Unix accounts mapped to this Werbot user (TRASA's privileges of the user's
    /// access map, lower case). TRASA dialect: only these, and none when empty
    /// (`policy not assigned`); lenient dialect: empty = any.
    pub logins: Vec<String>,
    /// Base32 (RFC 4648; lower case, spaces and missing padding accepted).
    pub totp_secret: String,
    pub u2f: U2f,
    pub fault: Option<Fault>,
    /// The policy's IP source: comma-separated IPs and CIDRs (TRASA dialect).
    pub ip_policy: String,
    /// A disabled user is refused with `User Disabled` (TRASA dialect).
    pub disabled: bool,
}

impl User {
    /// A user that approves U2F at once, with TRASA's default IP policy and no login
    /// mapped (see [`User::with_logins`]).
    pub fn new(werbot_id: &str, totp_secret: &str) -> User {
        User {
            werbot_id: werbot_id.to_string(),
            logins: Vec::new(),
            totp_secret: totp_secret.to_string(),
            u2f: U2f::Approve,
            fault: None,
            ip_policy: DEFAULT_IP_POLICY.to_string(),
            disabled: false,
        }
    }

    /// This user with these logins mapped (added to those already mapped).
    pub fn with_logins(mut self, logins: &[&str]) -> User {
        self.map_logins(logins);
        self
    }

    /// Map these logins to this user too.
    pub fn map_logins(&mut self, logins: &[&str]) {
        for l in logins {
            if !self.logins.iter().any(|m| m == l) {
                self.logins.push(l.to_string());
            }
        }
    }

    /// The current TOTP code of this user.
    pub fn totp_now(&self) -> String {
        totp_now(&self.totp_secret)
    }
}

/// Secrets of the demo users. Obviously fake; never use them anywhere real.
pub const ALICE_SECRET: &str = "JBSWY3DPEHPK3PXP";
pub const BOB_SECRET: &str = "O5YGC3JNMRSW23ZNMJXWELLTMVRXEZLU";
pub const CAROL_SECRET: &str = "O5YGC3JNMRSW23ZNMNQXE33MFVZWG4TU";
pub const DAVE_SECRET: &str = "O5YGC3JNMRSW23ZNMRQXMZJNONSWG4TU";

/// The logins mapped to every demo user: the accounts the tests and the demo log in as.
pub const DEMO_LOGINS: &[&str] = &["alice", "bob", "carol", "dave", "root"];

/// The demo users (the same as `examples/dev-users.toml`): alice approves, bob denies,
/// carol approves after 2 s, dave never answers. Each may enter the accounts in
/// [`DEMO_LOGINS`], from any IPv4 address.
pub fn demo_users() -> Vec<User> {
    vec![
        User {
            u2f: U2f::Approve,
            ..User::new("alice@example.com", ALICE_SECRET).with_logins(DEMO_LOGINS)
        },
        User {
            u2f: U2f::Deny,
            ..User::new("bob@example.com", BOB_SECRET).with_logins(DEMO_LOGINS)
        },
        User {
            u2f: U2f::ApproveAfter(Duration::from_secs(2)),
            ..User::new("carol@example.com", CAROL_SECRET).with_logins(DEMO_LOGINS)
        },
        User {
            u2f: U2f::Never,
            ..User::new("dave@example.com", DAVE_SECRET).with_logins(DEMO_LOGINS)
        },
    ]
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Port 0 = ephemeral.
    pub listen: SocketAddr,
    pub service_id: String,
    pub service_key: String,
    /// `""` or e.g. `"/api"` (a missing leading slash and trailing slashes are tolerated).
    pub prefix: String,
    pub users: Vec<User>,
    /// Applies to every API request (not to `/_dev/` control requests).
    pub fault: Option<Fault>,
    /// Subject alternative names of the server certificate: IP SANs for IP strings,
    /// DNS names otherwise.
    pub cert_names: Vec<String>,
    /// Leaf certificate valid from 2 days ago until 1 day ago.
    pub cert_expired: bool,
    /// The emulator's leniencies (default: all lenient).
    pub strict: Strict,
    /// Transport shapes (default: Content-Length, Connection: close, ECDSA leaf
    /// signed by the root).
    pub shape: Shape,
    /// TRASA (default) or the lenient emulator.
    pub dialect: Dialect,
    /// A passthru service: an unmapped login is granted with no second factor
    /// (TRASA dialect, `handlers.go:91-95`).
    pub passthru: bool,
    /// How long sending the push takes before the server's own wait starts.
    pub push_send_delay: Duration,
    /// The server's wait for the push answer once sent (TRASA: 60 s).
    pub push_wait: Duration,
    /// `ca.pem` and `requests.jsonl` go here (created if missing).
    pub state_dir: PathBuf,
    /// The one TLS version the server speaks (`None`: 1.2 and 1.3).
    pub tls_version: Option<TlsVersion>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);
/// State directories made by `Options::default()`; `Running` removes these on stop.
static AUTO_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh, empty directory under the system temp dir (mode 0700).
pub fn fresh_temp_dir(tag: &str) -> io::Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("{tag}-{}-{n}-{nanos:08x}", std::process::id()));
        let mut b = fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        match b.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("could not create a temporary directory"))
}

impl Options {
    /// The defaults, with this state directory (created by `start` if missing; kept).
    pub fn with_state_dir(state_dir: PathBuf) -> Options {
        Options {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            service_id: "dev-service".to_string(),
            service_key: "dev-key-not-secret".to_string(),
            prefix: String::new(),
            users: demo_users(),
            fault: None,
            cert_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            cert_expired: false,
            strict: Strict::default(),
            shape: Shape::default(),
            dialect: Dialect::Trasa,
            passthru: false,
            push_send_delay: Duration::ZERO,
            push_wait: PUSH_WAIT,
            state_dir,
            tls_version: None,
        }
    }
}

impl Options {
    /// Map these logins to every user (fixtures whose accounts have made-up names).
    pub fn map_logins(&mut self, logins: &[&str]) {
        for u in &mut self.users {
            u.map_logins(logins);
        }
    }

    /// The emulator as it was before it answered as TRASA does ([`Dialect::Lenient`],
    /// HTTP 400/401 for refused requests).
    pub fn lenient(mut self) -> Options {
        self.dialect = Dialect::Lenient;
        self.strict.refusals = Refusals::HttpCodes;
        self
    }
}

impl Default for Options {
    /// 127.0.0.1:0, `dev-service` / `dev-key-not-secret`, no prefix, the demo users, no
    /// fault, SANs localhost/127.0.0.1/::1, and a fresh temp state dir that is removed
    /// again when the server stops.
    fn default() -> Options {
        let state_dir = fresh_temp_dir("wpam-devserver").expect("create a temp state dir");
        lock(&AUTO_DIRS).push(state_dir.clone());
        Options::with_state_dir(state_dir)
    }
}

/// One request the server received (API requests and unknown paths; not `/_dev/`).
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl Recorded {
    /// First header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A string field of the JSON body, e.g. `field("tfaMethod")`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.json.as_ref()?.get(name)?.as_str()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The form used by `GET /_dev/requests` and `requests.jsonl`: method, path, headers
    /// (object; repeated names joined with ", "), body (string), json.
    pub fn to_json(&self) -> Value {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (n, v) in &self.headers {
            headers
                .entry(n.clone())
                .and_modify(|old| {
                    old.push_str(", ");
                    old.push_str(v);
                })
                .or_insert_with(|| v.clone());
        }
        json!({
            "method": self.method,
            "path": self.path,
            "headers": headers,
            "body": self.body_str(),
            "json": self.json,
        })
    }

    /// Inverse of `to_json` (header order becomes alphabetical).
    pub fn from_json(v: &Value) -> Option<Recorded> {
        let body = v.get("body")?.as_str()?.as_bytes().to_vec();
        let headers = v
            .get("headers")?
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect::<Option<Vec<_>>>()?;
        Some(Recorded {
            method: v.get("method")?.as_str()?.to_string(),
            path: v.get("path")?.as_str()?.to_string(),
            headers,
            json: serde_json::from_slice(&body).ok(),
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 30 s step, 6 digits)
// ---------------------------------------------------------------------------------------

/// Decode a base32 secret: case-insensitive, spaces/dashes and `=` padding ignored,
/// non-canonical trailing bits accepted.
pub fn decode_secret(secret_b32: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = secret_b32
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '-' | '='))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if cleaned.is_empty() {
        return Err("empty TOTP secret".into());
    }
    let mut spec = data_encoding::Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.check_trailing_bits = false;
    let enc = spec
        .encoding()
        .map_err(|e| format!("base32 specification: {e}"))?;
    let key = enc
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("TOTP secret is not valid base32: {e}"))?;
    if key.is_empty() {
        return Err("TOTP secret decodes to nothing".into());
    }
    Ok(key)
}

fn hotp(key: &[u8], counter: u64) -> u32 {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bin % 1_000_000
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The RFC 6238 code (6 digits, zero-padded) for `unix_time`.
/// Panics on a secret that is not base32 (test helper; the server validates at start).
pub fn totp_at(secret_b32: &str, unix_time: u64) -> String {
    let key = decode_secret(secret_b32).expect("totp_at: a valid base32 secret");
    format!("{:06}", hotp(&key, unix_time / 30))
}

/// A six-digit code that is valid for `secret_b32` in none of the steps around
/// now (±2), for tests and the demo that need a wrong code.
pub fn wrong_totp(secret_b32: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let valid: Vec<String> = (0..5)
        .map(|k| totp_at(secret_b32, (now + 30 * k).saturating_sub(60)))
        .collect();
    (0..1000u32)
        .map(|n| format!("{:06}", (n * 7919 + 13) % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap_or_else(|| "000000".into())
}

/// The current code.
pub fn totp_now(secret_b32: &str) -> String {
    totp_at(secret_b32, now_unix())
}

fn totp_matches(key: &[u8], code: &str, unix_time: u64) -> bool {
    totp_step(key, code, unix_time).is_some()
}

/// The time step (±1 around now) whose code `code` is.
fn totp_step(key: &[u8], code: &str, unix_time: u64) -> Option<u64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted = code.parse::<u32>().ok()?;
    let step = unix_time / 30;
    [step.wrapping_sub(1), step, step + 1]
        .into_iter()
        .find(|&c| hotp(key, c) == wanted)
}

/// Whether `code` is valid for the secret at `unix_time`, ±1 step.
pub fn verify_totp(secret_b32: &str, code: &str, unix_time: u64) -> bool {
    match decode_secret(secret_b32) {
        Ok(key) => totp_matches(&key, code, unix_time),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------
// Users file (TOML)
// ---------------------------------------------------------------------------------------

/// Everything in a users file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsersFile {
    pub service_id: Option<String>,
    pub service_key: Option<String>,
    pub passthru: Option<bool>,
    pub push_send_delay: Option<Duration>,
    pub users: Vec<User>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr {
    service_id: Option<String>,
    service_key: Option<String>,
    passthru: Option<bool>,
    push_send_delay: Option<f64>,
    #[serde(default)]
    user: Vec<UserRepr>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRepr {
    werbot_id: String,
    #[serde(default)]
    logins: Vec<String>,
    totp_secret: String,
    u2f: Option<String>,
    fault: Option<String>,
    ip_policy: Option<String>,
    #[serde(default)]
    disabled: bool,
}

/// Parse the users-file format (see `examples/dev-users.toml`).
pub fn parse_users_toml(text: &str) -> Result<UsersFile, String> {
    let repr: FileRepr = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut users = Vec::with_capacity(repr.user.len());
    for (i, u) in repr.user.into_iter().enumerate() {
        let at = |msg: String| format!("user #{} ({}): {msg}", i + 1, u.werbot_id);
        if u.werbot_id.trim().is_empty() {
            return Err(format!("user #{}: empty werbot_id", i + 1));
        }
        decode_secret(&u.totp_secret).map_err(at)?;
        let u2f = match &u.u2f {
            Some(s) => s.parse().map_err(at)?,
            None => U2f::Approve,
        };
        let fault = match &u.fault {
            Some(s) => Some(s.parse().map_err(at)?),
            None => None,
        };
        if users.iter().any(|o: &User| o.werbot_id == u.werbot_id) {
            return Err(at("duplicate werbot_id".into()));
        }
        users.push(User {
            werbot_id: u.werbot_id,
            logins: u.logins,
            totp_secret: u.totp_secret,
            u2f,
            fault,
            ip_policy: u.ip_policy.unwrap_or_else(|| DEFAULT_IP_POLICY.to_string()),
            disabled: u.disabled,
        });
    }
    let push_send_delay = match repr.push_send_delay {
        Some(v) => Some(parse_secs(&v.to_string()).map_err(|e| format!("push_send_delay: {e}"))?),
        None => None,
    };
    Ok(UsersFile {
        service_id: repr.service_id,
        service_key: repr.service_key,
        passthru: repr.passthru,
        push_send_delay,
        users,
    })
}

pub fn load_users_file(path: &Path) -> Result<UsersFile, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_users_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn load_users(path: &Path) -> Result<Vec<User>, String> {
    load_users_file(path).map(|f| f.users)
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

struct Entry {
    user: User,
    key: Vec<u8>,
}

struct Inner {
    stop: AtomicBool,
    active: AtomicUsize,
    tls: Arc<rustls::ServerConfig>,
    service_id: String,
    service_key: String,
    prefix: String,
    users: Vec<Entry>,
    fault: Mutex<Option<Fault>>,
    requests: Mutex<Vec<Recorded>>,
    jsonl: PathBuf,
    strict: Strict,
    shape: Shape,
    dialect: Dialect,
    passthru: bool,
    push_send_delay: Duration,
    push_wait: Duration,
    /// (Werbot ID, time step) of every TOTP code accepted, for `one_time_codes`.
    used_codes: Mutex<std::collections::HashSet<(String, u64)>>,
}

impl Inner {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleep `d` in small steps; false when the server stopped meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep(POLL.min(end - now));
        }
    }

    fn record(&self, r: Recorded) {
        let mut list = lock(&self.requests);
        // Append under the lock so the file keeps the arrival order.
        if let Ok(mut f) = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.jsonl)
        {
            let _ = writeln!(f, "{}", r.to_json());
        }
        list.push(r);
    }

    /// TRASA's `GetLoginDetails` (`server/api/auth/store.go:10-35`): the ID matched
    /// exactly, as an email or a username.
    fn find_user_exact(&self, wid: &str) -> Option<&Entry> {
        self.users.iter().find(|e| e.user.werbot_id == wid)
    }

    fn find_user(&self, wid: &str) -> Option<&Entry> {
        self.users
            .iter()
            .find(|e| e.user.werbot_id == wid)
            .or_else(|| {
                self.users
                    .iter()
                    .find(|e| e.user.werbot_id.eq_ignore_ascii_case(wid))
            })
    }
}

/// A running server. Dropping it stops it.
pub struct Running {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    ca_path: PathBuf,
    ca_pem: String,
    state_dir: PathBuf,
    remove_state_dir: bool,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` + prefix, no scheme: the module's `server_url=` argument.
    /// A wildcard listen address is reported as loopback.
    pub fn server_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!(
            "{}{}",
            SocketAddr::new(ip, self.addr.port()),
            self.inner.prefix
        )
    }

    /// `https://` + `server_url()`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.server_url())
    }

    /// Full URL of the API endpoint.
    pub fn api_url(&self) -> String {
        format!("{}{API_PATH}", self.base_url())
    }

    /// The CA certificate (PEM) in the state dir: the module's `ca_file=`.
    pub fn ca_path(&self) -> PathBuf {
        self.ca_path.clone()
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Every recorded request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.inner.requests).clone()
    }

    /// Wait until at least `n` requests were recorded (or `timeout`); returns them all.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let end = Instant::now() + timeout;
        loop {
            let r = self.requests();
            if r.len() >= n || Instant::now() >= end {
                return r;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    pub fn set_fault(&self, f: Option<Fault>) {
        *lock(&self.inner.fault) = f;
    }

    pub fn fault(&self) -> Option<Fault> {
        lock(&self.inner.fault).clone()
    }

    /// Connections currently being served.
    pub fn active_connections(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }

    /// Stop accepting, join the accept thread, give connection threads a moment to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(handle) = self.accept.take() else {
            return;
        };
        self.inner.stop.store(true, Ordering::SeqCst);
        // The accept loop looks at `stop` at least every 20 ms; bounded anyway
        // (tests/support/deadline.rs is not used here: this file is also
        // built into the examples and tests/pam.rs, which do not carry it).
        let end = Instant::now() + Duration::from_secs(10);
        while !handle.is_finished() {
            assert!(
                Instant::now() < end,
                "dev server: accept thread still running after 10 s"
            );
            thread::sleep(Duration::from_millis(5));
        }
        let _ = handle.join();
        let end = Instant::now() + STOP_GRACE;
        while self.inner.active.load(Ordering::SeqCst) > 0 && Instant::now() < end {
            thread::sleep(Duration::from_millis(10));
        }
        if self.remove_state_dir {
            let mut auto = lock(&AUTO_DIRS);
            auto.retain(|d| d != &self.state_dir);
            let _ = fs::remove_dir_all(&self.state_dir);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("server_url", &self.server_url())
            .field("ca_path", &self.ca_path)
            .finish()
    }
}

fn normalize_prefix(p: &str) -> String {
    let t = p.trim().trim_end_matches('/');
    if t.is_empty() {
        String::new()
    } else if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/{t}")
    }
}

struct Certs {
    ca_pem: String,
    /// Leaf first, then an intermediate when there is one.
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// An RSA-2048 key from `openssl genpkey` (rcgen's ring backend signs with RSA
/// keys but cannot generate them).
fn rsa_key() -> Result<rcgen::KeyPair, rcgen::Error> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .map_err(|_| rcgen::Error::KeyGenerationUnavailable)?;
    if !out.status.success() {
        return Err(rcgen::Error::KeyGenerationUnavailable);
    }
    let pem = String::from_utf8(out.stdout).map_err(|_| rcgen::Error::KeyGenerationUnavailable)?;
    rcgen::KeyPair::from_pem(&pem)
}

fn make_certs(names: &[String], expired: bool, shape: Shape) -> Result<Certs, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let day = Duration::from_secs(86_400);
    let now = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(now_unix());
    let ca_params = |name: &str| -> Result<CertificateParams, rcgen::Error> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = now - day;
        ca.not_after = now + 365 * day;
        Ok(ca)
    };
    let ca = CertifiedIssuer::self_signed(
        ca_params("wpam development CA (throwaway)")?,
        KeyPair::generate()?,
    )?;
    let intermediate = if shape.intermediate_ca {
        let mut p = ca_params("wpam development intermediate CA (throwaway)")?;
        p.use_authority_key_identifier_extension = true;
        Some(CertifiedIssuer::signed_by(p, KeyPair::generate()?, &ca)?)
    } else {
        None
    };

    let leaf_key = if shape.rsa_leaf {
        rsa_key()?
    } else {
        KeyPair::generate()?
    };
    let mut leaf = CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("wpam dev server", |s| s.as_str()),
    );
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.use_authority_key_identifier_extension = true;
    if expired {
        leaf.not_before = now - 2 * day;
        leaf.not_after = now - day;
    } else {
        leaf.not_before = now - day;
        leaf.not_after = now + 30 * day;
    }
    let mut chain = Vec::new();
    match &intermediate {
        Some(i) => {
            chain.push(leaf.signed_by(&leaf_key, i)?.der().clone());
            chain.push(i.der().clone());
        }
        None => chain.push(leaf.signed_by(&leaf_key, &ca)?.der().clone()),
    }
    Ok(Certs {
        ca_pem: ca.pem(),
        chain,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    })
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Start a server; it listens once this returns.
pub fn start(opts: Options) -> io::Result<Running> {
    let remove_state_dir = lock(&AUTO_DIRS).contains(&opts.state_dir);
    let mut users: Vec<Entry> = Vec::with_capacity(opts.users.len());
    for u in &opts.users {
        let key = decode_secret(&u.totp_secret)
            .map_err(|e| invalid(format!("user {}: {e}", u.werbot_id)))?;
        if users.iter().any(|e| e.user.werbot_id == u.werbot_id) {
            return Err(invalid(format!("duplicate user {}", u.werbot_id)));
        }
        users.push(Entry {
            user: u.clone(),
            key,
        });
    }
    if opts.cert_names.is_empty() {
        return Err(invalid("cert_names is empty".into()));
    }

    fs::create_dir_all(&opts.state_dir)?;
    let certs = make_certs(&opts.cert_names, opts.cert_expired, opts.shape)
        .map_err(|e| io::Error::other(format!("certificate generation: {e}")))?;
    let ca_path = opts.state_dir.join("ca.pem");
    fs::write(&ca_path, &certs.ca_pem)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match opts.tls_version {
        None => rustls::DEFAULT_VERSIONS,
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
    };
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs.chain, certs.key)
        .map_err(io::Error::other)?;

    let listener = TcpListener::bind(opts.listen)?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;

    let inner = Arc::new(Inner {
        stop: AtomicBool::new(false),
        active: AtomicUsize::new(0),
        tls: Arc::new(tls),
        service_id: opts.service_id,
        service_key: opts.service_key,
        prefix: normalize_prefix(&opts.prefix),
        users,
        fault: Mutex::new(opts.fault),
        requests: Mutex::new(Vec::new()),
        jsonl: opts.state_dir.join("requests.jsonl"),
        strict: opts.strict,
        shape: opts.shape,
        dialect: opts.dialect,
        passthru: opts.passthru,
        push_send_delay: opts.push_send_delay,
        push_wait: opts.push_wait,
        used_codes: Mutex::new(std::collections::HashSet::new()),
    });
    let inner2 = Arc::clone(&inner);
    let accept = thread::Builder::new()
        .name("devserver-accept".into())
        .spawn(move || accept_loop(listener, inner2))?;
    Ok(Running {
        inner,
        addr,
        accept: Some(accept),
        ca_path,
        ca_pem: certs.ca_pem,
        state_dir: opts.state_dir,
        remove_state_dir,
    })
}

struct ActiveGuard(Arc<Inner>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    while !inner.stopped() {
        match listener.accept() {
            Ok((stream, _peer)) => {
                inner.active.fetch_add(1, Ordering::SeqCst);
                let guard = ActiveGuard(Arc::clone(&inner));
                let spawned =
                    thread::Builder::new()
                        .name("devserver-conn".into())
                        .spawn(move || {
                            let g = guard;
                            serve_connection(&g.0, stream);
                        });
                // On spawn failure the closure (guard and stream) is dropped: the
                // connection closes and the counter goes back down.
                drop(spawned);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

// --- connection I/O --------------------------------------------------------------------

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

struct Conn {
    tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
}

impl Conn {
    /// Read some plaintext, polling the stop flag; Ok(0) = clean end of stream.
    fn read_some(&mut self, buf: &mut [u8], inner: &Inner, deadline: Instant) -> io::Result<usize> {
        loop {
            match self.tls.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    if inner.stopped() || Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.tls.conn.wants_write() {
            match self.tls.conn.write_tls(&mut self.tls.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn send(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.tls.conn.writer().write(data)?;
            data = &data[n..];
            self.flush_tls()?;
        }
        Ok(())
    }

    fn respond(&mut self, status: u16, extra: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        self.send(&response_head(status, extra, body.len()))?;
        self.send(body)
    }

    /// close_notify, half-close, then drain what the client still sends (briefly) so
    /// the kernel does not answer unread data with a reset.
    fn finish(mut self) {
        self.tls.conn.send_close_notify();
        let _ = self.flush_tls();
        let sock = &mut self.tls.sock;
        let _ = sock.shutdown(Shutdown::Write);
        let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
        let end = Instant::now() + Duration::from_secs(1);
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Close with SO_LINGER 0: the peer gets a TCP reset, no TLS close_notify.
    fn reset(self) {
        let fd = self.tls.sock.as_raw_fd();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: fd is a valid, open socket owned by self.tls.sock for the whole call;
        // the option value is a properly initialised `linger` of the size passed.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::addr_of!(linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self);
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "Unknown",
    }
}

/// An API answer in the server's transport shape: chunked or with a
/// Content-Length; then the connection kept open until the client closes it
/// (keep-alive), or closed.
fn respond_api(mut conn: Conn, inner: &Inner, status: u16, extra: &[(&str, &str)], body: &[u8]) {
    let shape = inner.shape;
    let connection = if shape.keep_alive {
        "keep-alive"
    } else {
        "close"
    };
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nConnection: {connection}\r\n",
        reason_phrase(status)
    );
    if shape.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut sent = conn.send(head.as_bytes());
    if shape.chunked {
        // Small chunks, so that a client must put them together.
        for piece in body.chunks(7) {
            sent = sent
                .and_then(|()| conn.send(format!("{:x}\r\n", piece.len()).as_bytes()))
                .and_then(|()| conn.send(piece))
                .and_then(|()| conn.send(b"\r\n"));
        }
        sent = sent.and_then(|()| conn.send(b"0\r\n\r\n"));
    } else {
        sent = sent.and_then(|()| conn.send(body));
    }
    if sent.is_ok() && shape.keep_alive {
        hold(conn, inner);
    } else {
        conn.finish();
    }
}

fn response_head(status: u16, extra: &[(&str, &str)], len: usize) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n",
        reason_phrase(status)
    );
    for (n, v) in extra {
        h.push_str(n);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

// --- request parsing -------------------------------------------------------------------

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

enum ReadErr {
    /// The client went away, timed out or broke TLS: nothing to answer.
    Gone,
    /// Answer with this status and reason, then close.
    Reject(u16, &'static str),
}

struct Wire<'a> {
    conn: &'a mut Conn,
    inner: &'a Inner,
    buf: Vec<u8>,
    pos: usize,
    deadline: Instant,
}

impl Wire<'_> {
    fn fill(&mut self) -> Result<(), ReadErr> {
        let mut chunk = [0u8; 8192];
        match self.conn.read_some(&mut chunk, self.inner, self.deadline) {
            Ok(0) | Err(_) => Err(ReadErr::Gone),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    fn take_line(&mut self, limit: usize) -> Result<Vec<u8>, ReadErr> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.buf.len() - self.pos > limit {
                return Err(ReadErr::Reject(400, "malformed chunked body"));
            }
            self.fill()?;
        }
    }

    fn take_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadErr> {
        while self.buf.len() - self.pos < n {
            self.fill()?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_request(conn: &mut Conn, inner: &Inner) -> Result<Request, ReadErr> {
    let mut w = Wire {
        conn,
        inner,
        buf: Vec::with_capacity(4096),
        pos: 0,
        deadline: Instant::now() + REQUEST_DEADLINE,
    };
    let head_end = loop {
        if let Some(i) = find(&w.buf, b"\r\n\r\n") {
            if i + 4 > MAX_HEADER {
                return Err(ReadErr::Reject(431, "request header too large"));
            }
            break i;
        }
        if w.buf.len() > MAX_HEADER {
            return Err(ReadErr::Reject(431, "request header too large"));
        }
        w.fill()?;
    };
    let head = std::str::from_utf8(&w.buf[..head_end])
        .map_err(|_| ReadErr::Reject(400, "request header is not UTF-8"))?
        .to_string();
    w.pos = head_end + 4;

    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadErr::Reject(400, "malformed request line"));
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
        || !version.starts_with("HTTP/1.")
    {
        return Err(ReadErr::Reject(400, "malformed request line"));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            return Err(ReadErr::Reject(400, "obsolete header folding"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadErr::Reject(400, "malformed header line"));
        };
        if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ReadErr::Reject(400, "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: Vec::new(),
    };

    let chunked = match req.header("transfer-encoding") {
        None => false,
        Some(te) if te.eq_ignore_ascii_case("chunked") => true,
        Some(_) => return Err(ReadErr::Reject(501, "unsupported transfer-encoding")),
    };
    let mut length: Option<usize> = None;
    for (n, v) in &req.headers {
        if n == "content-length" {
            let l: usize = v
                .parse()
                .map_err(|_| ReadErr::Reject(400, "invalid content-length"))?;
            if length.is_some_and(|old| old != l) {
                return Err(ReadErr::Reject(400, "conflicting content-length"));
            }
            length = Some(l);
        }
    }
    if chunked && length.is_some() {
        return Err(ReadErr::Reject(400, "both content-length and chunked"));
    }
    if length.is_some_and(|l| l > MAX_BODY) {
        return Err(ReadErr::Reject(413, "request body too large"));
    }
    let expects_body = chunked || length.is_some_and(|l| l > 0);
    if expects_body
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && w.buf.len() == w.pos
    {
        w.conn
            .send(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| ReadErr::Gone)?;
    }

    if chunked {
        let mut body = Vec::new();
        loop {
            let line = w.take_line(1024)?;
            let line = String::from_utf8_lossy(&line);
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| ReadErr::Reject(400, "malformed chunk size"))?;
            if size == 0 {
                // Trailer section up to the empty line.
                let mut trailer_bytes = 0usize;
                loop {
                    let t = w.take_line(MAX_HEADER)?;
                    if t.is_empty() {
                        break;
                    }
                    trailer_bytes += t.len();
                    if trailer_bytes > MAX_HEADER {
                        return Err(ReadErr::Reject(431, "trailers too large"));
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadErr::Reject(413, "request body too large"));
            }
            body.extend_from_slice(&w.take_exact(size)?);
            if w.take_exact(2)? != b"\r\n" {
                return Err(ReadErr::Reject(400, "malformed chunk"));
            }
        }
        req.body = body;
    } else if let Some(l) = length {
        req.body = w.take_exact(l)?;
    } else if req.method == "POST" || req.method == "PUT" {
        return Err(ReadErr::Reject(411, "content-length required"));
    }
    Ok(req)
}

// --- request handling ------------------------------------------------------------------

fn serve_connection(inner: &Inner, tcp: TcpStream) {
    if tcp.set_nonblocking(false).is_err()
        || tcp.set_read_timeout(Some(POLL * 4)).is_err()
        || tcp.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = tcp.set_nodelay(true);
    if lock(&inner.fault).as_ref() == Some(&Fault::StallHandshake) {
        hold_tcp(tcp, inner);
        return;
    }
    let Ok(sc) = rustls::ServerConnection::new(Arc::clone(&inner.tls)) else {
        return;
    };
    let mut conn = Conn {
        tls: rustls::StreamOwned::new(sc, tcp),
    };
    let fault = lock(&inner.fault).clone();
    if let Some(Fault::Trickle {
        handshake: true,
        every,
    }) = fault
    {
        trickle_handshake(&mut conn, inner, every);
        return;
    }
    if let Some(Fault::DropHandshake { delay, limit }) = fault {
        if !handshake_within(&mut conn, inner, delay, limit) {
            let _ = conn.tls.sock.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
    let req = match read_request(&mut conn, inner) {
        Ok(r) => r,
        Err(ReadErr::Gone) => return,
        Err(ReadErr::Reject(status, reason)) => {
            let _ = conn.respond(status, &[], error_json(reason).as_bytes());
            conn.finish();
            return;
        }
    };

    if req.path().starts_with("/_dev/") || req.path() == "/_dev" {
        let (status, body) = control(inner, &req);
        let _ = conn.respond(status, &[], body.to_string().as_bytes());
        conn.finish();
        return;
    }

    inner.record(Recorded {
        method: req.method.clone(),
        path: req.target.clone(),
        headers: req.headers.clone(),
        json: serde_json::from_slice(&req.body).ok(),
        body: req.body.clone(),
    });

    let global = lock(&inner.fault).clone();
    if let Some(f) = global {
        match run_fault(conn, inner, &f) {
            Some(c) => conn = c,
            None => return,
        }
    }

    let plan = route(inner, &req);
    if let Some(f) = &plan.fault {
        match run_fault(conn, inner, f) {
            Some(c) => conn = c,
            None => return,
        }
    }
    match plan.wait {
        Wait::None => {}
        Wait::Sleep(d) => {
            if !inner.sleep(d) {
                return;
            }
        }
        Wait::Forever => {
            hold(conn, inner);
            return;
        }
    }
    let extra: Vec<(&str, &str)> = plan.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    respond_api(conn, inner, plan.status, &extra, plan.body.as_bytes());
}

/// Performs a fault. Returns the connection when processing should go on (Slow).
fn run_fault(mut conn: Conn, inner: &Inner, fault: &Fault) -> Option<Conn> {
    match fault {
        Fault::Status500 => {
            let body = error_json("internal server error");
            let _ = conn.respond(500, &[], body.as_bytes());
            conn.finish();
            None
        }
        Fault::NonJson => {
            let _ = conn.respond(200, &[], NON_JSON_BODY.as_bytes());
            conn.finish();
            None
        }
        Fault::Huge => {
            let _ = send_huge(&mut conn);
            conn.finish();
            None
        }
        Fault::Slow(d) => {
            if inner.sleep(*d) {
                Some(conn)
            } else {
                None
            }
        }
        Fault::Reset => {
            conn.reset();
            None
        }
        // The handshake was in time: a normal answer.
        Fault::DropHandshake { .. } => Some(conn),
        Fault::Trickle {
            handshake: true, ..
        } => None,
        Fault::Trickle {
            handshake: false,
            every,
        } => {
            let body = api_json("success", "", "totp", &Value::Null);
            let mut plain = response_head(200, &[], body.len());
            plain.extend_from_slice(body.as_bytes());
            if conn.tls.conn.writer().write_all(&plain).is_ok() {
                let mut raw = Vec::new();
                while conn.tls.conn.wants_write() {
                    if conn.tls.conn.write_tls(&mut raw).is_err() {
                        break;
                    }
                }
                trickle(&mut conn.tls.sock, inner, &raw, *every);
            }
            None
        }
        Fault::StallHandshake => {
            // Per user the handshake is over: hold the request unanswered.
            hold(conn, inner);
            None
        }
        Fault::StallBody => {
            let body = api_json("success", "", "totp", &Value::Null);
            let head = response_head(200, &[], body.len());
            if conn.send(&head).is_ok() && conn.send(&body.as_bytes()[..8]).is_ok() {
                hold(conn, inner);
            }
            None
        }
        Fault::Redirect => {
            let location = format!("{}{API_PATH}", inner.prefix);
            let body = api_json("success", "", "totp", &Value::Null);
            let _ = conn.respond(302, &[("Location", &location)], body.as_bytes());
            conn.finish();
            None
        }
        Fault::Size(n) => {
            let _ = conn.respond(200, &[], &padded_success(*n));
            conn.finish();
            None
        }
        Fault::Status(text) => {
            let body = api_json(text, "", "totp", &Value::Null);
            let _ = conn.respond(200, &[], body.as_bytes());
            conn.finish();
            None
        }
        Fault::BadLength => {
            let body = api_json("success", "", "totp", &Value::Null);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}x\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = conn
                .send(head.as_bytes())
                .and_then(|()| conn.send(body.as_bytes()));
            conn.finish();
            None
        }
    }
}

/// `{"status":"success","reason":"xx…","intent":"totp"}`, exactly `len` bytes (at
/// least the bytes without padding).
fn padded_success(len: usize) -> Vec<u8> {
    const HEAD: &str = r#"{"status":"success","reason":""#;
    const TAIL: &str = r#"","intent":"totp"}"#;
    let pad = len.saturating_sub(HEAD.len() + TAIL.len());
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(HEAD.as_bytes());
    body.resize(HEAD.len() + pad, b'x');
    body.extend_from_slice(TAIL.as_bytes());
    body
}

/// `Fault::DropHandshake`: answer the ClientHello after `delay`; false when the handshake
/// is not complete `limit` after the accept, or the client went away.
fn handshake_within(conn: &mut Conn, inner: &Inner, delay: Duration, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    if !inner.sleep(delay) {
        return false;
    }
    while conn.tls.conn.is_handshaking() {
        if Instant::now() >= end || inner.stopped() {
            return false;
        }
        match conn.tls.conn.complete_io(&mut conn.tls.sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Writes `raw` one byte every `every` (the first at once), until done, the client goes
/// away or the server stops.
fn trickle(sock: &mut TcpStream, inner: &Inner, raw: &[u8], every: Duration) {
    for (i, b) in raw.iter().enumerate() {
        if i > 0 && !inner.sleep(every) {
            return;
        }
        if sock.write_all(std::slice::from_ref(b)).is_err() {
            return;
        }
    }
}

/// `Fault::Trickle { handshake: true }`: read the ClientHello, then trickle the server's
/// first flight.
fn trickle_handshake(conn: &mut Conn, inner: &Inner, every: Duration) {
    let end = Instant::now() + Duration::from_secs(10);
    while !conn.tls.conn.wants_write() {
        if Instant::now() >= end || inner.stopped() {
            return;
        }
        match conn.tls.conn.read_tls(&mut conn.tls.sock) {
            Ok(0) => return,
            Ok(_) => {
                if conn.tls.conn.process_new_packets().is_err() {
                    return;
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    let mut raw = Vec::new();
    while conn.tls.conn.wants_write() {
        if conn.tls.conn.write_tls(&mut raw).is_err() {
            return;
        }
    }
    trickle(&mut conn.tls.sock, inner, &raw, every);
}

/// `Fault::StallHandshake`: read and ignore whatever the client sends, never answer,
/// until it closes, the server stops, or an hour passes.
fn hold_tcp(mut tcp: TcpStream, inner: &Inner) {
    let end = Instant::now() + NEVER_CAP;
    let mut buf = [0u8; 1024];
    while !inner.stopped() && Instant::now() < end {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

/// `{"status":"success","reason":"xxxx…","intent":"totp","data":null}`, exactly
/// HUGE_BODY_LEN bytes, streamed.
fn send_huge(conn: &mut Conn) -> io::Result<()> {
    const HEAD: &str = r#"{"status":"success","reason":""#;
    const TAIL: &str = r#"","intent":"totp","data":null}"#;
    conn.send(&response_head(200, &[], HUGE_BODY_LEN))?;
    conn.send(HEAD.as_bytes())?;
    let pad = [b'x'; 64 * 1024];
    let mut left = HUGE_BODY_LEN - HEAD.len() - TAIL.len();
    while left > 0 {
        let n = left.min(pad.len());
        conn.send(&pad[..n])?;
        left -= n;
    }
    conn.send(TAIL.as_bytes())
}

/// U2F `Never`: keep the connection open, unanswered, until the client closes it, the
/// server stops, or an hour passes.
fn hold(mut conn: Conn, inner: &Inner) {
    let end = Instant::now() + NEVER_CAP;
    let mut buf = [0u8; 1024];
    while !inner.stopped() && Instant::now() < end {
        match conn.tls.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

enum Wait {
    None,
    Sleep(Duration),
    Forever,
}

struct Plan {
    fault: Option<Fault>,
    wait: Wait,
    status: u16,
    /// Extra response headers.
    headers: Vec<(&'static str, String)>,
    /// JSON text, keys in the wire order of the real server.
    body: String,
}

impl Plan {
    fn answer(status: u16, body: String) -> Plan {
        Plan {
            fault: None,
            wait: Wait::None,
            status,
            headers: Vec::new(),
            body,
        }
    }
    fn error(status: u16, reason: &str) -> Plan {
        Plan::answer(status, error_json(reason))
    }

    /// A refused request, answered as the server's `refusals` mode says.
    fn refuse(strict: &Strict, status: u16, reason: &str) -> Plan {
        match strict.refusals {
            Refusals::HttpCodes => Plan::error(status, reason),
            Refusals::Ok200 => Plan::answer(
                200,
                api_json_for(strict, "failed", reason, "", &Value::Null),
            ),
            Refusals::Status500 => Plan::answer(
                500,
                api_json_for(strict, "failed", reason, "", &Value::Null),
            ),
        }
    }
}

/// `{"status":…,"reason":…,"intent":…,"data":…}` in this order (like the real server,
/// whose answers are serialised structs), not serde_json's alphabetical order.
fn api_json(status: &str, reason: &str, intent: &str, data: &Value) -> String {
    format!(
        r#"{{"status":{},"reason":{},"intent":{},"data":{}}}"#,
        Value::from(status),
        Value::from(reason),
        Value::from(intent),
        data
    )
}

/// [`api_json`], or with `minimal_json` the reference's Go `omitempty` form:
/// empty `reason`/`intent` and a null `data` left out.
fn api_json_for(strict: &Strict, status: &str, reason: &str, intent: &str, data: &Value) -> String {
    if !strict.minimal_json {
        return api_json(status, reason, intent, data);
    }
    let mut fields = vec![format!(r#""status":{}"#, Value::from(status))];
    if !reason.is_empty() {
        fields.push(format!(r#""reason":{}"#, Value::from(reason)));
    }
    if !intent.is_empty() {
        fields.push(format!(r#""intent":{}"#, Value::from(intent)));
    }
    if !data.is_null() {
        fields.push(format!(r#""data":{data}"#));
    }
    format!("{{{}}}", fields.join(","))
}

fn error_json(reason: &str) -> String {
    format!(r#"{{"status":"failed","reason":{}}}"#, Value::from(reason))
}

fn session_token() -> String {
    let mut b = [0u8; 16];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut b).is_err() {
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = n.to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn route(inner: &Inner, req: &Request) -> Plan {
    let api = format!("{}{API_PATH}", inner.prefix);
    if req.path() != api {
        return Plan::error(404, "not found");
    }
    if req.method != "POST" {
        let mut p = Plan::error(405, "method not allowed");
        p.headers.push(("Allow", "POST".into()));
        return p;
    }
    match inner.dialect {
        Dialect::Trasa => route_trasa(inner, req),
        Dialect::Lenient => route_lenient(inner, req),
    }
}

/// TRASA's `TrasaResponse` (`server/utils/httputils.go:48-67`) for a call with `nil`
/// data: `{"status","reason"?,"intent"?,"data":[null]}` (`server/models/models.go:45-51`:
/// reason and intent `omitempty`, data not), with its headers.
fn trasa_plan(status: u16, result: &str, reason: &str, intent: &str) -> Plan {
    let mut fields = vec![format!(r#""status":{}"#, Value::from(result))];
    if !reason.is_empty() {
        fields.push(format!(r#""reason":{}"#, Value::from(reason)));
    }
    if !intent.is_empty() {
        fields.push(format!(r#""intent":{}"#, Value::from(intent)));
    }
    fields.push(r#""data":[null]"#.to_string());
    let mut p = Plan::answer(status, format!("{{{}}}", fields.join(",")));
    p.headers = vec![
        ("trailDescription", intent.to_string()),
        ("trailStatus", result.to_string()),
        ("Cache-Control", "no-store, pragma".to_string()),
    ];
    p
}

/// The fields of TRASA's `ServiceAgentLogin` (`handlers.go:20-38`) that it reads, as
/// Go's `json.Decoder` fills them: keys matched exactly, else case-insensitively; a
/// missing key or `null` leaves the field empty; a JSON `null` body is an empty
/// request; anything but a string (or null) for a field is a decode error. The ID is
/// read from `wID` (see the module doc).
fn trasa_fields(body: &[u8]) -> Option<BTreeMap<&'static str, String>> {
    // json.Decoder.Decode reads one value and ignores what follows it.
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let obj = match stream.next()? {
        Ok(Value::Object(o)) => o,
        Ok(Value::Null) => serde_json::Map::new(),
        _ => return None,
    };
    let mut out = BTreeMap::new();
    for name in [
        "serviceID",
        "serviceKey",
        "user",
        "password",
        "tfaMethod",
        "totpCode",
        "userIP",
        "workstation",
        "wID",
        "sessionID",
        "serviceType",
        "orgID",
        "hostname",
    ] {
        let v = obj
            .get(name)
            .or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .unwrap_or(&Value::Null);
        match v {
            Value::Null => {}
            Value::String(s) => {
                out.insert(name, s.clone());
            }
            _ => return None,
        }
    }
    Some(out)
}

/// TRASA's IP check (`server/utils/ipfilter.go`): the policy's comma-separated IPs and
/// CIDRs; `userIP` may carry a port (`SplitHostPort`, line 48); empty or not an IP
/// fails (lines 65-71). An IPv4 network also holds IPv4-mapped IPv6 addresses and an
/// IPv6 one no IPv4 address (Go's `net.IPNet.Contains`).
pub fn trasa_ip_allowed(policy: &str, user_ip: &str) -> bool {
    let host = match user_ip.parse::<SocketAddr>() {
        Ok(sa) => sa.ip().to_string(),
        Err(_) => user_ip.to_string(),
    };
    let Ok(ip) = host.parse::<IpAddr>() else {
        return false;
    };
    let v4 = match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    let mut allowed = false;
    for entry in policy.split(',') {
        if let Ok(a) = entry.parse::<IpAddr>() {
            let same = match a {
                IpAddr::V4(a4) => v4 == Some(a4),
                IpAddr::V6(a6) => match a6.to_ipv4_mapped() {
                    Some(m) => v4 == Some(m),
                    None => ip == a,
                },
            };
            allowed |= same;
            continue;
        }
        // Go's NewChecker fails on one bad entry; the check then cannot pass.
        let Some((net, bits)) = entry.split_once('/') else {
            return false;
        };
        let Ok(bits) = bits.parse::<u32>() else {
            return false;
        };
        match net.parse::<IpAddr>() {
            Ok(IpAddr::V4(n)) if bits <= 32 => {
                if let Some(a) = v4 {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    allowed |= u32::from(a) & mask == u32::from(n) & mask;
                }
            }
            Ok(IpAddr::V6(n)) if bits <= 128 => {
                if let IpAddr::V6(a) = ip {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    allowed |= u128::from(a) & mask == u128::from(n) & mask;
                }
            }
            _ => return false,
        }
    }
    allowed
}

/// The TRASA dialect: `serviceauth.AgentLogin`, `server/api/auth/serviceauth/handlers.go`
/// at seknox/trasa HEAD, step by step (line numbers in the comments).
fn route_trasa(inner: &Inner, req: &Request) -> Plan {
    const AGENT_LOGIN: &str = "AgentLogin";
    const AGENT_LOGIN_LC: &str = "agent-login";
    let strict = &inner.strict;
    let refuse = |http: u16, reason: &str| {
        let status = match strict.refusals {
            Refusals::Ok200 => 200,
            Refusals::HttpCodes => http,
            Refusals::Status500 => 500,
        };
        trasa_plan(status, "failed", reason, AGENT_LOGIN)
    };
    // 45-49
    let Some(fields) = trasa_fields(&req.body) else {
        return refuse(400, "invalid request");
    };
    let get = |n: &str| fields.get(n).map(String::as_str).unwrap_or("");
    // 62-67: a leading `\` dropped (DOMAIN\user keeps its domain), then lower case.
    let mut login = get("user").to_string();
    let parts: Vec<&str> = login.split('\\').collect();
    if parts.len() > 1 && parts[0].is_empty() {
        login = parts[1].to_string();
    }
    let login = login.to_lowercase();
    // 72-81
    if get("serviceID") != inner.service_id || get("serviceKey") != inner.service_key {
        return refuse(401, "invalid service integration details");
    }
    // 91-95: CheckIfPrivilegeExist (accessmap/mapstore.go:11): the login as sent.
    let mapped = |u: &User, l: &str| u.logins.iter().any(|m| m.to_lowercase() == l);
    if inner.passthru && !inner.users.iter().any(|e| mapped(&e.user, &login)) {
        return trasa_plan(200, "success", "passthru authentication", AGENT_LOGIN_LC);
    }
    // 97-106
    let Some(entry) = inner.find_user_exact(get("wID")) else {
        return trasa_plan(200, "failed", "user not found", AGENT_LOGIN);
    };
    let user = &entry.user;
    // The user's fault, if any, replaces whatever is decided for them.
    let with_fault = |mut p: Plan| {
        p.fault = user.fault.clone();
        p
    };
    // 110-118
    if user.disabled {
        return with_fault(trasa_plan(200, "failed", "User Disabled", AGENT_LOGIN));
    }
    // 129-138: GetAccessPolicy by the NormalizeString'd login (utils/strings.go:10).
    if !mapped(user, login.trim()) {
        return with_fault(trasa_plan(
            200,
            "failed",
            "policy not assigned",
            AGENT_LOGIN_LC,
        ));
    }
    // 152-160: CheckPolicy -> accesscontrol.CheckTrasaUAC (uac.go:64-76).
    if !trasa_ip_allowed(&user.ip_policy, get("userIP")) {
        return with_fault(trasa_plan(
            200,
            "failed",
            "IP_POLICY_FAILED",
            AGENT_LOGIN_LC,
        ));
    }
    // 163-166: tfaMethod ignored; a push iff totpCode is empty.
    let code = get("totpCode");
    let success = || trasa_plan(200, "success", "", AGENT_LOGIN_LC);
    let failed = |reason: &str| trasa_plan(200, "failed", reason, AGENT_LOGIN_LC);
    if !code.is_empty() {
        // tfa.go:265-279, VerifyTotpCode (tfa.go:30-45): the codes of now and ±30 s
        // (utils/totp.go:37-50), compared as strings; a code is accepted again.
        let plan = match totp_step(&entry.key, code, now_unix()) {
            None => failed("INVALID_TOTP"),
            Some(step) if strict.one_time_codes => {
                if lock(&inner.used_codes).insert((user.werbot_id.clone(), step)) {
                    success()
                } else {
                    // Not TRASA's: the variant's own reason, so a test can tell.
                    failed("totp code already used")
                }
            }
            Some(_) => success(),
        };
        return with_fault(plan);
    }
    // tfa.go:327-355: send the push to every device, then wait 60 s for the answer.
    let send = inner.push_send_delay;
    let wait = inner.push_wait;
    let mut plan = match &user.u2f {
        U2f::Approve => success(),
        U2f::Deny => failed("U2F_FAILED"),
        U2f::ApproveAfter(d) if *d < wait => {
            let mut p = success();
            p.wait = Wait::Sleep(send + *d);
            return with_fault(p);
        }
        U2f::ApproveAfter(_) | U2f::Never => {
            let mut p = failed("U2F_FAILED");
            p.wait = Wait::Sleep(send + wait);
            return with_fault(p);
        }
    };
    if !send.is_zero() {
        plan.wait = Wait::Sleep(send);
    }
    with_fault(plan)
}

/// The lenient dialect (the emulator before it followed TRASA).
fn route_lenient(inner: &Inner, req: &Request) -> Plan {
    let strict = &inner.strict;
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return Plan::refuse(strict, 400, "invalid request: body is not a JSON object");
    };
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for name in [
        "serviceID",
        "serviceKey",
        "user",
        "tfaMethod",
        "totpCode",
        "userIP",
        "wID",
    ] {
        match body.get(name).and_then(Value::as_str) {
            Some(v) => {
                fields.insert(name, v);
            }
            None => {
                return Plan::refuse(
                    strict,
                    400,
                    &format!("invalid request: missing string field {name}"),
                )
            }
        }
    }
    let get = |n: &str| fields.get(n).copied().unwrap_or("");
    if get("serviceID") != inner.service_id || get("serviceKey") != inner.service_key {
        return Plan::refuse(strict, 401, "invalid service credentials");
    }
    if strict.require_ip && get("userIP").parse::<IpAddr>().is_err() {
        return Plan::refuse(strict, 400, "invalid request: userIP is not an IP address");
    }
    let method = get("tfaMethod");
    let code = get("totpCode");
    let intent = match method {
        "totp" => "totp",
        "U2F" => {
            if !code.is_empty() {
                return Plan::refuse(
                    strict,
                    400,
                    "invalid request: totpCode must be empty for U2F",
                );
            }
            "u2f"
        }
        _ => {
            return Plan::refuse(
                strict,
                400,
                "invalid request: tfaMethod must be \"totp\" or \"U2F\"",
            )
        }
    };
    let failed = |reason: &str| api_json_for(strict, "failed", reason, intent, &Value::Null);
    let wid = get("wID");
    let Some(entry) = inner.find_user(wid) else {
        return Plan::answer(200, failed("user not found"));
    };
    let user = &entry.user;
    let mut plan = Plan::answer(200, String::new());
    plan.fault = user.fault.clone();
    let login = get("user");
    if !user.logins.is_empty() && !user.logins.iter().any(|l| l == login) {
        plan.body = failed("access denied");
        return plan;
    }
    let success = api_json_for(
        strict,
        "success",
        "",
        intent,
        &json!({"session_token": session_token(), "user": wid}),
    );
    if intent == "totp" {
        plan.body = match totp_step(&entry.key, code, now_unix()) {
            None => failed("invalid totp code"),
            Some(step) if strict.one_time_codes => {
                if lock(&inner.used_codes).insert((user.werbot_id.clone(), step)) {
                    success
                } else {
                    failed("totp code already used")
                }
            }
            Some(_) => success,
        };
        return plan;
    }
    match &user.u2f {
        U2f::Approve => plan.body = success,
        U2f::Deny => plan.body = failed("u2f denied"),
        U2f::ApproveAfter(d) => {
            plan.wait = Wait::Sleep(*d);
            plan.body = success;
        }
        U2f::Never => plan.wait = Wait::Forever,
    }
    plan
}

fn control(inner: &Inner, req: &Request) -> (u16, Value) {
    let ok = || json!({"status": "success"});
    match (req.method.as_str(), req.path()) {
        ("GET", "/_dev/requests") => {
            let list: Vec<Value> = lock(&inner.requests)
                .iter()
                .map(Recorded::to_json)
                .collect();
            (200, Value::Array(list))
        }
        ("POST", "/_dev/clear") => {
            lock(&inner.requests).clear();
            (200, ok())
        }
        ("POST", "/_dev/fault") => {
            let parsed: Option<Value> = serde_json::from_slice(&req.body).ok();
            let fault = match parsed.as_ref().and_then(|v| v.get("fault")) {
                Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => s.parse::<Fault>().map(Some),
                _ => Err(
                    r#"expected {"fault":"500"|"nonjson"|"huge"|"slow[:SECONDS]"|"reset"|null}"#
                        .to_string(),
                ),
            };
            match fault {
                Ok(f) => {
                    let shown = f.as_ref().map(Fault::to_string);
                    *lock(&inner.fault) = f;
                    (200, json!({"status": "success", "fault": shown}))
                }
                Err(e) => (400, json!({"status": "failed", "reason": e})),
            }
        }
        (_, "/_dev/requests" | "/_dev/clear" | "/_dev/fault") => (
            405,
            json!({"status": "failed", "reason": "method not allowed"}),
        ),
        _ => (404, json!({"status": "failed", "reason": "not found"})),
    }
}

// ---------------------------------------------------------------------------------------
// A tiny HTTPS client (tests, out-of-process control)
// ---------------------------------------------------------------------------------------

/// A raw HTTP answer.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// rustls client config (ring) trusting only the CA certificates in `ca_pem`.
pub fn client_config(ca_pem: &[u8]) -> io::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| invalid(format!("CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| invalid(format!("CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(invalid("no certificate in CA PEM".into()));
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// One HTTPS/1.1 request over a fresh connection (`Connection: close`); reads the whole
/// answer (at most 16 MiB). `server_name` is what the certificate is checked against.
/// `timeout` bounds each socket operation and, from the connect, the whole request
/// (Err(TimedOut) past it).
pub fn https_request(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &[u8],
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let cfg = client_config(ca_pem)?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
        .map_err(|e| invalid(format!("server name: {e}")))?;
    let conn = rustls::ClientConnection::new(cfg, name).map_err(io::Error::other)?;
    let end = Instant::now() + timeout;
    let tcp = TcpStream::connect_timeout(&addr, timeout)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = body.unwrap_or(b"");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server_name}\r\nUser-Agent: devserver-client\r\nConnection: close\r\n"
    );
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()?;

    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() >= end {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no complete answer within {timeout:?}"),
            ));
        }
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > 16 * 1024 * 1024 {
                    return Err(io::Error::other("answer larger than 16 MiB"));
                }
            }
            // A server that closes without close_notify after a complete answer.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<HttpResponse> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| bad("no end of header"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(l) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        if body.len() < l {
            return Err(bad("truncated body"));
        }
        body.truncate(l);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Drive a server in another process through its control endpoints.
#[derive(Clone, Debug)]
pub struct Remote {
    pub addr: SocketAddr,
    pub ca_pem: Vec<u8>,
    pub timeout: Duration,
}

impl Remote {
    pub fn new(addr: SocketAddr, ca_path: &Path) -> io::Result<Remote> {
        Ok(Remote {
            addr,
            ca_pem: fs::read(ca_path)?,
            timeout: Duration::from_secs(10),
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> io::Result<HttpResponse> {
        let name = self.addr.ip().to_string();
        let r = https_request(
            self.addr,
            &name,
            &self.ca_pem,
            method,
            path,
            body,
            self.timeout,
        )?;
        if r.status != 200 {
            return Err(io::Error::other(format!(
                "{method} {path}: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            )));
        }
        Ok(r)
    }

    pub fn requests(&self) -> io::Result<Vec<Recorded>> {
        let r = self.call("GET", "/_dev/requests", None)?;
        let v: Value = serde_json::from_slice(&r.body).map_err(io::Error::other)?;
        v.as_array()
            .ok_or_else(|| io::Error::other("not an array"))?
            .iter()
            .map(|x| Recorded::from_json(x).ok_or_else(|| io::Error::other("bad record")))
            .collect()
    }

    pub fn clear(&self) -> io::Result<()> {
        self.call("POST", "/_dev/clear", Some(b"{}")).map(|_| ())
    }

    pub fn set_fault(&self, f: Option<&Fault>) -> io::Result<()> {
        let body = json!({"fault": f.map(Fault::to_string)}).to_string();
        self.call("POST", "/_dev/fault", Some(body.as_bytes()))
            .map(|_| ())
    }
}

/// Parse the CLI's ready line `werbot-dev-server listening on https://ADDR ca=PATH`.
pub fn parse_ready_line(line: &str) -> Option<(SocketAddr, PathBuf)> {
    let rest = line
        .trim()
        .strip_prefix("werbot-dev-server listening on https://")?;
    let (addr, ca) = rest.split_once(" ca=")?;
    Some((addr.parse().ok()?, PathBuf::from(ca)))
}

/// The ready line the CLI prints.
pub fn ready_line(r: &Running) -> String {
    format!(
        "werbot-dev-server listening on https://{} ca={}",
        r.addr(),
        r.ca_path().display()
    )
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn totp_rfc6238_sha1_vectors() {
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(totp_at(RFC_SECRET, t), code, "t={t}");
        }
        assert_eq!(
            decode_secret(RFC_SECRET).expect("decode"),
            b"12345678901234567890"
        );
    }

    #[test]
    fn secret_decoding_is_lenient() {
        let want = decode_secret("JBSWY3DPEHPK3PXP").expect("canonical");
        for s in [
            "jbswy3dpehpk3pxp",
            "JBSW Y3DP EHPK 3PXP",
            "JBSWY3DPEHPK3PXP====",
        ] {
            assert_eq!(decode_secret(s).expect(s), want, "{s}");
        }
        assert!(decode_secret("").is_err());
        assert!(decode_secret("not base32!").is_err());
        assert!(decode_secret("18").is_err());
    }

    #[test]
    fn totp_window_is_one_step() {
        let t = 1_700_000_000;
        let key = decode_secret(ALICE_SECRET).expect("key");
        assert!(totp_matches(&key, &totp_at(ALICE_SECRET, t), t));
        assert!(totp_matches(&key, &totp_at(ALICE_SECRET, t - 30), t));
        assert!(totp_matches(&key, &totp_at(ALICE_SECRET, t + 30), t));
        // Codes two steps away differ (with this secret and time) and are refused.
        let far = totp_at(ALICE_SECRET, t - 90);
        assert!(!totp_matches(&key, &far, t));
        assert!(!totp_matches(&key, "12345", t));
        assert!(!totp_matches(&key, "12345a", t));
        assert!(!totp_matches(&key, "+12345", t));
    }

    #[test]
    fn fault_and_u2f_strings() {
        assert_eq!("500".parse::<Fault>(), Ok(Fault::Status500));
        assert_eq!("nonjson".parse::<Fault>(), Ok(Fault::NonJson));
        assert_eq!("huge".parse::<Fault>(), Ok(Fault::Huge));
        assert_eq!("slow".parse::<Fault>(), Ok(Fault::Slow(DEFAULT_SLOW)));
        assert_eq!(
            "slow:1.5".parse::<Fault>(),
            Ok(Fault::Slow(Duration::from_millis(1500)))
        );
        assert_eq!("reset".parse::<Fault>(), Ok(Fault::Reset));
        assert!("teapot".parse::<Fault>().is_err());
        assert!("slow:-1".parse::<Fault>().is_err());
        assert_eq!(
            "status:Success".parse::<Fault>(),
            Ok(Fault::Status("Success".into()))
        );
        for f in [
            Fault::Status500,
            Fault::NonJson,
            Fault::Huge,
            Fault::Slow(Duration::from_secs(3)),
            Fault::Reset,
            Fault::Status("unsuccessful".into()),
        ] {
            assert_eq!(f.to_string().parse::<Fault>(), Ok(f.clone()));
        }
        assert_eq!("approve".parse::<U2f>(), Ok(U2f::Approve));
        assert_eq!("deny".parse::<U2f>(), Ok(U2f::Deny));
        assert_eq!("never".parse::<U2f>(), Ok(U2f::Never));
        assert_eq!(
            "approve-after:5".parse::<U2f>(),
            Ok(U2f::ApproveAfter(Duration::from_secs(5)))
        );
        assert!("maybe".parse::<U2f>().is_err());
    }

    #[test]
    fn users_toml() {
        let f = parse_users_toml(
            r#"
service_id = "s"
service_key = "k"
[[user]]
werbot_id = "x@example.com"
logins = ["x", "root"]
totp_secret = "jbswy3dpehpk3pxp"
u2f = "approve-after:1"
fault = "slow:2"
[[user]]
werbot_id = "y"
totp_secret = "JBSWY3DPEHPK3PXP"
"#,
        )
        .expect("parse");
        assert_eq!(f.service_id.as_deref(), Some("s"));
        assert_eq!(f.service_key.as_deref(), Some("k"));
        assert_eq!(f.users.len(), 2);
        assert_eq!(f.users[0].logins, ["x", "root"]);
        assert_eq!(f.users[0].u2f, U2f::ApproveAfter(Duration::from_secs(1)));
        assert_eq!(f.users[0].fault, Some(Fault::Slow(Duration::from_secs(2))));
        assert_eq!(f.users[1].u2f, U2f::Approve);
        assert_eq!(f.users[1].fault, None);

        for bad in [
            "[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"!!\"\n",
            "[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"JBSWY3DP\"\nu2f = \"maybe\"\n",
            "[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"JBSWY3DP\"\nfault = \"teapot\"\n",
            "[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"JBSWY3DP\"\ntypo = 1\n",
            "[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"JBSWY3DP\"\n[[user]]\nwerbot_id = \"a\"\ntotp_secret = \"JBSWY3DP\"\n",
            "[[user]]\nwerbot_id = \"\"\ntotp_secret = \"JBSWY3DP\"\n",
        ] {
            assert!(parse_users_toml(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn shipped_users_file_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dev-users.toml");
        let f = load_users_file(&path).expect("examples/dev-users.toml");
        assert_eq!(f.users, demo_users());
        assert_eq!(f.service_id.as_deref(), Some("dev-service"));
        assert_eq!(f.service_key.as_deref(), Some("dev-key-not-secret"));
    }

    #[test]
    fn ready_line_round_trip() {
        let (a, p) = parse_ready_line(
            "werbot-dev-server listening on https://127.0.0.1:8443 ca=/tmp/x/ca.pem\n",
        )
        .expect("parse");
        assert_eq!(a, "127.0.0.1:8443".parse::<SocketAddr>().expect("addr"));
        assert_eq!(p, PathBuf::from("/tmp/x/ca.pem"));
        assert!(parse_ready_line("something else").is_none());
    }

    #[test]
    fn prefix_normalisation() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("/api"), "/api");
        assert_eq!(normalize_prefix("api/"), "/api");
    }
}
