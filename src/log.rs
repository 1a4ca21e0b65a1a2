//! The log writer: `/var/log/wpam.log` plus syslog (authpriv, ident `wpam`),
//! escaping and redaction.
//!
//! Guarantees: every string from a user or a server goes through [`quote`],
//! so no newline, control byte, line or paragraph separator, bidi control or
//! invisible format character reaches a line as itself (no forged entries, no
//! lines that read differently in a terminal); secrets never reach a line
//! (requests are logged only in their redacted form, answers through
//! [`redact_json`]); logging never changes an authentication outcome — every
//! failure to log is swallowed.
//!
//! The file is opened per PAM call and closed when the [`Logger`] drops, so no
//! descriptor outlives the call. It is used only if it is a regular file with
//! one link, owned by root (or by the process's own user, see
//! `trust::trusted_owner`), reached without a symlink; it is opened without
//! blocking (a FIFO in its place cannot hang the login) and, when the module
//! creates it, made root-owned (under su the process's group is the invoking
//! user's). Otherwise syslog alone is used, with a WARN there saying why.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
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

// The non-ASCII ranges of those categories, generated from the crate
// `unicode-properties` (a dev-dependency only): its whole general-category
// table cost the module ~43 KB for a yes/no answer (issue 26). The test
// `unsafe_ranges_are_generated_from_unicode_properties` regenerates the file
// and fails if it differs, so the two cannot drift.
mod unsafe_ranges;

/// Characters that may not appear as themselves in a log line: controls
/// (Cc), format characters (Cf: bidi controls U+202A–202E and U+2066–2069,
/// zero-width characters, the BOM), line and paragraph separators (Zl, Zp),
/// spaces other than U+0020 (Zs: they hide in plain sight), private-use and
/// unassigned code points (Co, Cn: the latter may be assigned as format
/// characters in a later Unicode version).
pub fn is_unsafe_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    let c = c as u32;
    unsafe_ranges::UNSAFE_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Escapes a string for a log line and wraps it in double quotes:
/// backslash, quote and every [unsafe character](is_unsafe_char) become
/// visible escapes.
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
            c if is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Quoted rendering of bytes that may not be UTF-8 (or may be huge): text
/// as [`quote`] shows it, each byte that is not UTF-8 as `\xNN`.
pub fn quote_bytes(b: &[u8], max: usize) -> String {
    let cut = &b[..b.len().min(max)];
    let mut q = String::with_capacity(cut.len() + 2);
    q.push('"');
    for chunk in cut.utf8_chunks() {
        let valid = quote(chunk.valid());
        q.push_str(&valid[1..valid.len() - 1]);
        for byte in chunk.invalid() {
            let _ = write!(q, "\\x{byte:02x}");
        }
    }
    q.push('"');
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
    /// A write to the file failed once (said once, on syslog).
    write_failed: bool,
}

/// Runs `write` with RLIMIT_FSIZE lifted, then puts the limit back. The user
/// who runs su sets its limits: `prlimit --fsize=1` (SIGXFSZ ignored) would
/// otherwise drop every line of the attempt. Only root can lift the hard
/// limit; the session su opens afterwards keeps the user's limit.
fn without_file_size_limit<T>(write: impl FnOnce() -> T) -> T {
    // SAFETY: getrlimit/setrlimit on this process; the old value is restored.
    unsafe {
        let mut old: libc::rlimit = std::mem::zeroed();
        let lifted = crate::sys::euid() == 0
            && libc::getrlimit(libc::RLIMIT_FSIZE, &mut old) == 0
            && (old.rlim_cur != libc::RLIM_INFINITY || old.rlim_max != libc::RLIM_INFINITY)
            && libc::setrlimit(
                libc::RLIMIT_FSIZE,
                &libc::rlimit {
                    rlim_cur: libc::RLIM_INFINITY,
                    rlim_max: libc::RLIM_INFINITY,
                },
            ) == 0;
        let r = write();
        if lifted {
            libc::setrlimit(libc::RLIMIT_FSIZE, &old);
        }
        r
    }
}

impl Logger {
    pub fn open(log_file: &Path, debug: bool) -> Logger {
        let (file, refused) = match open_log_file(log_file) {
            Ok(f) => (Some(f), None),
            Err(why) => (None, Some(why)),
        };
        let mut logger = Logger {
            debug,
            file,
            syslog: open_syslog(),
            context: String::new(),
            write_failed: false,
        };
        if let Some(why) = refused {
            logger.warn(&format!(
                "log file {} not used ({why}); logging to syslog only",
                quote(&log_file.display().to_string())
            ));
        }
        logger
    }

    /// A logger that writes nowhere (tests of pure flow logic).
    pub fn discard() -> Logger {
        Logger {
            debug: true,
            file: None,
            syslog: None,
            context: String::new(),
            write_failed: false,
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
            .map(|c| if is_unsafe_char(c) { ' ' } else { c })
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
            let written = without_file_size_limit(|| f.write_all(line.as_bytes()));
            if let (Err(e), false) = (written, self.write_failed) {
                self.write_failed = true;
                if let Some(s) = &self.syslog {
                    s.send(
                        Level::Error,
                        &format!(
                            "{} writing the log file failed ({e}); this login's lines go to \
                             syslog only",
                            self.context
                        ),
                    );
                }
            }
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

/// Opens (or creates) the log file for appending; Err says why it is not used.
fn open_log_file(path: &Path) -> Result<File, String> {
    let open = |create: bool| {
        let mut o = OpenOptions::new();
        o.append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK);
        if create {
            o.create_new(true).mode(0o640);
        }
        o.open(path)
    };
    let (file, created) = match open(true) {
        Ok(f) => (f, true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (
            open(false).map_err(|e| crate::sys::describe("cannot open", &e))?,
            false,
        ),
        Err(e) => return Err(crate::sys::describe("cannot create", &e)),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if created && crate::sys::euid() == 0 && (meta.uid() != 0 || meta.gid() != 0) {
        // Created under su, the file would belong to the invoking user's
        // group; the packages create it root:adm, the module root:root.
        // SAFETY: fchown on a descriptor we own.
        if unsafe { libc::fchown(file.as_raw_fd(), 0, 0) } != 0 {
            return Err(crate::sys::describe("chown", &io::Error::last_os_error()));
        }
        return Ok(file);
    }
    if !crate::trust::trusted_owner(meta.uid()) {
        return Err(format!("owned by uid {}, must be root", meta.uid()));
    }
    if meta.nlink() != 1 {
        // A hard link to another file (someone who can write the directory
        // could link /etc/shadow here): appending would write into it.
        return Err(format!("{} hard links, must be 1", meta.nlink()));
    }
    Ok(file)
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

    /// The rule `is_unsafe_char` implements, from unicode-properties' own
    /// general-category table (what the module used before issue 26).
    fn unsafe_by_category(c: char) -> bool {
        use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
        if c.is_ascii() {
            return c.is_ascii_control();
        }
        matches!(
            c.general_category(),
            G::Control
                | G::Format
                | G::LineSeparator
                | G::ParagraphSeparator
                | G::SpaceSeparator
                | G::PrivateUse
                | G::Unassigned
                | G::Surrogate
        )
    }

    /// src/log/unsafe_ranges.rs as unicode-properties says it must read.
    /// Surrogates (Cs, never a `char`) count as unsafe so that the ranges
    /// either side of them merge.
    fn render_unsafe_ranges() -> String {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for u in 0x80..=0x10ffff_u32 {
            if !char::from_u32(u).map_or(true, unsafe_by_category) {
                continue;
            }
            match ranges.last_mut() {
                Some((_, hi)) if *hi + 1 == u => *hi = u,
                _ => ranges.push((u, u)),
            }
        }
        let (major, minor, patch) = unicode_properties::UNICODE_VERSION;
        let mut out = format!(
            "//! Generated from unicode-properties (Unicode {major}.{minor}.{patch}) by the test\n\
             //! `log::tests::unsafe_ranges_are_generated_from_unicode_properties`;\n\
             //! do not edit: `WPAM_REGENERATE=1 cargo test --lib unsafe_ranges` rewrites it.\n\
             //! The non-ASCII code points in general categories Cc, Cf, Zl, Zp, Zs,\n\
             //! Co, Cn and Cs, as sorted, disjoint, inclusive ranges.\n\
             \n\
             #[rustfmt::skip]\n\
             pub(super) const UNSAFE_RANGES: &[(u32, u32)] = &[\n"
        );
        for (lo, hi) in ranges {
            writeln!(out, "    (0x{lo:04x}, 0x{hi:04x}),").unwrap();
        }
        out.push_str("];\n");
        out
    }

    #[test]
    fn unsafe_ranges_are_generated_from_unicode_properties() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/log/unsafe_ranges.rs");
        let want = render_unsafe_ranges();
        if std::env::var_os("WPAM_REGENERATE").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap();
        assert!(
            have == want,
            "{path} is stale: regenerate it with WPAM_REGENERATE=1 cargo test --lib unsafe_ranges"
        );
    }

    #[test]
    fn unsafe_chars_are_exactly_those_of_the_categories() {
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            assert_eq!(
                is_unsafe_char(c),
                unsafe_by_category(c),
                "U+{:04X}",
                c as u32
            );
        }
    }

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
    fn quote_escapes_separators_bidi_and_invisible_characters() {
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{200b}',
            '\u{200d}',
            '\u{feff}',
            '\u{00ad}',
            '\u{061c}',
            '\u{00a0}',
            '\u{3000}',
            '\u{e000}',
            '\u{10ffff}',
            '\u{e0001}',
        ] {
            let q = quote(&format!("a{c}b"));
            assert!(!q.contains(c), "{:x} in {q}", c as u32);
            assert!(q.contains(&format!("\\u{{{:x}}}", c as u32)), "{q}");
        }
        // Letters of any script stay readable.
        assert_eq!(quote("jürgen Ωμέγα 日本"), "\"jürgen Ωμέγα 日本\"");
    }

    #[test]
    fn quote_bytes_caps_and_survives_invalid_utf8() {
        let q = quote_bytes(&[0xff; 10_000], 16);
        assert!(q.contains("(10000 bytes)") && q.len() < 100, "{q}");
        assert_eq!(quote_bytes(b"a\xffb\n\"", 64), r#""a\xffb\n\"""#);
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
        // A hard link is not used either.
        let hard = dir.join("hard.log");
        let _ = std::fs::remove_file(&hard);
        std::fs::hard_link(&target, &hard).expect("link");
        assert!(open_log_file(&hard).unwrap_err().contains("hard links"));
        // Nor a FIFO, and opening it does not block.
        let fifo = dir.join("fifo.log");
        let _ = std::fs::remove_file(&fifo);
        let c = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("c");
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Without a reader, O_NONBLOCK|O_WRONLY fails with ENXIO; either way
        // the FIFO is refused at once.
        assert!(open_log_file(&fifo).is_err());
        l.syslog = None;
        l.error("not written");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "");
        std::fs::remove_dir_all(dir).ok();
    }
}
