//! The log writer: `/var/log/wpam.log` plus syslog (authpriv, ident `wpam`),
//! escaping and redaction.
//!
//! Guarantees: every string from a user or a server goes through [`quote`],
//! so no newline or control byte reaches a line (no forged entries); secrets
//! never reach a line (request bodies are logged only through [`redact_json`]);
//! logging never changes an authentication outcome — every failure to log is
//! swallowed. The file is opened per PAM call without following symlinks and
//! closed when the [`Logger`] drops, so no descriptor outlives the call.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use std::os::unix::net::UnixDatagram;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

pub const REDACTED: &str = "[REDACTED]";

/// Escapes a string for a log line and wraps it in double quotes:
/// backslash, quote and every control character become visible escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Lossy, quoted rendering of bytes that may not be UTF-8 (or may be huge).
pub fn quote_bytes(b: &[u8], max: usize) -> String {
    let cut = &b[..b.len().min(max)];
    let mut q = quote(&String::from_utf8_lossy(cut));
    if b.len() > max {
        let _ = write!(q, "…({} bytes)", b.len());
    }
    q
}

/// Whether a JSON field name carries a secret: the wire's serviceKey and
/// totpCode, and any key/token/secret/password field a server might send.
fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key", "token", "secret", "password", "passwd", "totp", "code", "otp", "cookie", "auth",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A copy of `v` with every secret field's value replaced by `[REDACTED]`,
/// at any depth.
pub fn redact_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_field(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_json).collect()),
        other => other.clone(),
    }
}

/// A body for a debug line: redacted if it is JSON; otherwise only its size,
/// since an unparseable body cannot be proven free of secrets.
pub fn redact_body(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        // serde_json escapes C0 controls; Logger::log blanks any other.
        Ok(v) => redact_json(&v).to_string(),
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

/// RFC 3339 UTC timestamp, second precision.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant), valid for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The local syslog socket, written directly (RFC 3164 framing, facility
/// authpriv): openlog(3) would change the ident of the host process (sshd)
/// for the rest of its life, and a syslog crate costs more than it does here.
struct Syslog {
    sock: UnixDatagram,
    pid: u32,
}

/// Linux (/dev/log), FreeBSD and NetBSD (/var/run/log), macOS (/var/run/syslog).
const SYSLOG_SOCKETS: [&str; 3] = ["/dev/log", "/var/run/log", "/var/run/syslog"];
const LOG_AUTHPRIV: u8 = 10 << 3;

impl Syslog {
    fn send(&self, level: Level, text: &str) {
        let severity = match level {
            Level::Debug => 7,
            Level::Info => 6,
            Level::Warn => 4,
            Level::Error => 3,
        };
        let msg = format!("<{}>wpam[{}]: {text}", LOG_AUTHPRIV | severity, self.pid);
        // Non-blocking: a stuck syslog daemon loses lines, never logins.
        let _ = self.sock.send(msg.as_bytes());
    }
}

/// One PAM call's logger. Opened lazily, closed on drop.
pub struct Logger {
    debug: bool,
    file: Option<File>,
    syslog: Option<Syslog>,
    /// Added to every line: who and where, so lines of concurrent logins can
    /// be told apart.
    context: String,
}

impl Logger {
    pub fn open(log_file: &Path, debug: bool) -> Logger {
        Logger {
            debug,
            file: open_log_file(log_file),
            syslog: open_syslog(),
            context: String::new(),
        }
    }

    /// A logger that writes nowhere (tests of pure flow logic).
    pub fn discard() -> Logger {
        Logger {
            debug: true,
            file: None,
            syslog: None,
            context: String::new(),
        }
    }

    pub fn set_context(&mut self, context: String) {
        self.context = context;
    }

    pub fn debug_enabled(&self) -> bool {
        self.debug
    }

    pub fn log(&mut self, level: Level, message: &str) {
        if level == Level::Debug && !self.debug {
            return;
        }
        // Callers quote untrusted parts; this is the last line of defence
        // for anything that slipped through.
        let message: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let text = if self.context.is_empty() {
            message
        } else {
            format!("{} {}", self.context, message)
        };
        if let Some(f) = &mut self.file {
            let line = format!(
                "{} {} {}\n",
                rfc3339(SystemTime::now()),
                level.as_str(),
                text
            );
            // One write() per line on an O_APPEND file: concurrent logins
            // never interleave within a line.
            let _ = f.write_all(line.as_bytes());
        }
        if let Some(s) = &self.syslog {
            s.send(level, &text);
        }
    }

    pub fn debug(&mut self, m: &str) {
        self.log(Level::Debug, m)
    }
    pub fn info(&mut self, m: &str) {
        self.log(Level::Info, m)
    }
    pub fn warn(&mut self, m: &str) {
        self.log(Level::Warn, m)
    }
    pub fn error(&mut self, m: &str) {
        self.log(Level::Error, m)
    }
}

fn open_log_file(path: &Path) -> Option<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .ok()
        // Only a regular file: never block on a FIFO or write to a device.
        .filter(|f| f.metadata().map(|m| m.is_file()).unwrap_or(false))
}

fn open_syslog() -> Option<Syslog> {
    let sock = UnixDatagram::unbound().ok()?;
    SYSLOG_SOCKETS.iter().find(|p| sock.connect(p).is_ok())?;
    sock.set_nonblocking(true).ok()?;
    Some(Syslog {
        sock,
        pid: std::process::id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn quote_escapes_everything_that_could_forge_a_line() {
        assert_eq!(quote("alice"), "\"alice\"");
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
        assert_eq!(quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(quote("\x1b[31m"), "\"\\u{1b}[31m\"");
        assert_eq!(quote("a\u{85}b"), "\"a\\u{85}b\"");
        for c in (0u8..0x20).chain([0x7f]) {
            let q = quote(&(c as char).to_string());
            assert!(!q.chars().any(char::is_control), "{c:#x}");
        }
    }

    #[test]
    fn quote_bytes_caps_and_survives_invalid_utf8() {
        let q = quote_bytes(&[0xff; 10_000], 16);
        assert!(q.contains("(10000 bytes)") && q.len() < 100, "{q}");
    }

    #[test]
    fn redaction_hides_wire_secrets() {
        let v = serde_json::json!({"serviceID":"sid","serviceKey":"k","user":"alice",
            "tfaMethod":"totp","totpCode":"123456","userIP":"1.2.3.4","wID":"a@b"});
        let r = redact_json(&v);
        assert_eq!(r["serviceKey"], REDACTED);
        assert_eq!(r["totpCode"], REDACTED);
        assert_eq!(r["serviceID"], "sid");
        assert_eq!(r["tfaMethod"], "totp");
        assert_eq!(r["wID"], "a@b");
    }

    #[test]
    fn redaction_reaches_nested_response_tokens() {
        let v = serde_json::json!({"status":"success","data":{"session_token":"t0k","list":[{"apiKey":"x","name":"n"}],"refreshToken":"r"}});
        let s = redact_json(&v).to_string();
        for secret in ["t0k", "\"x\"", "\"r\""] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert!(s.contains("\"n\""));
    }

    #[test]
    fn non_json_body_is_not_echoed() {
        assert_eq!(redact_body(b"serviceKey=abc"), "<14 bytes, not JSON>");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_749_349)),
            "2026-11-27T03:15:49Z"
        );
    }

    #[test]
    fn file_is_created_0640_and_symlinks_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wpam-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let path = dir.join("wpam.log");
        let _ = std::fs::remove_file(&path);
        let mut l = Logger::open(&path, false);
        l.syslog = None;
        l.set_context("user=\"alice\"".into());
        l.info("hello\nINFO forged");
        l.debug("hidden");
        drop(l);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(" INFO user=\"alice\" hello INFO forged"),
            "{text}"
        );
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "{mode:o}");

        let target = dir.join("target");
        std::fs::write(&target, "").expect("write");
        let link = dir.join("link.log");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let mut l = Logger::open(&link, false);
        assert!(l.file.is_none());
        l.syslog = None;
        l.error("not written");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "");
        std::fs::remove_dir_all(dir).ok();
    }
}
