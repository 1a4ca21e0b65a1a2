//! The OpenBSD BSD Authentication protocol, as the `login_-wpam` style
//! program speaks it: argument vector, back-channel replies, the value
//! escaping of `auth_mkvalue(3)`, and how the single prompt maps onto the
//! Werbot flow. Pure functions only; the I/O lives in `src/bin/login_wpam.rs`.
//!
//! Protocol (login.conf(5), libc `auth_subr.c`): the style is run as
//! `login_-wpam [-d] [-v name=value]... -s service [--] user [class]` with a
//! socketpair on fd 3 (stdout with `-d`) and an environment of PATH and SHELL
//! only. Services:
//! - `challenge`: reply `value challenge <escaped prompt>` + `reject challenge`;
//! - `response`: read `challenge\0response\0` from fd 3, reply `authorize`
//!   or `reject` (sshd's keyboard-interactive *and* password authentication
//!   both end here; for a password the challenge is empty);
//! - `login`: ask on the terminal ourselves, then reply.
//!
//! Single-prompt design (sshd gives a style exactly one prompt and one
//! answer, and no client address): the Werbot ID is not asked. It is the
//! config file's `wid.<login>=<Werbot ID>` entry for the login, or the login
//! name itself. The one answer is the 6-digit TOTP code, or empty for a U2F
//! approval. `userIP` is sent empty.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::config::{self, ConfigError};

/// The one prompt, shown by sshd (keyboard-interactive) or on the terminal.
/// It does not name the Werbot ID: the login's mapping is not shown to
/// someone who has not authenticated yet.
pub const PROMPT: &str = "Werbot code (6 digits, or empty to approve on your security key): ";
/// Shown on the terminal (service `login` only) before a U2F call.
pub const U2F_NOTICE: &str = "Werbot: approve this login on your security key or device...";
/// sshd and login use this name for a user that does not exist.
pub const NOUSER: &str = "NOUSER";
/// Config file of the style (root-owned, 0600).
pub const CONFIG_FILE: &str = "/etc/wpam.conf";
/// Prefix of the per-user Werbot ID entries in the config file.
pub const WID_PREFIX: &str = "wid.";
/// Upper bound of `challenge\0response\0` read from the back channel.
pub const MAX_RESPONSE: usize = 4096;

pub const AUTHORIZE: &str = "authorize\n";
pub const REJECT: &str = "reject\n";
pub const REJECT_SILENT: &str = "reject silent\n";
pub const REJECT_CHALLENGE: &str = "reject challenge\n";
/// What base styles tell su(1) when it passes `-v wheel=no` (the caller is
/// not in group wheel): login_passwd, login_radius, login_krb5 word for word.
pub const NOT_IN_WHEEL: &str = "you are not in group wheel";
/// The reason given with every other reject. One text for all of them: the
/// caller may not have authenticated yet, so it tells nothing about the
/// user, the code or the API (the log says which it was).
pub const REFUSED: &str = "Werbot second factor refused";

/// A reject with its reason, as `auth_getvalue(as, "errormsg")` reads it:
/// su(1) prints it after "su: ".
pub fn reject_with(reason: &str) -> String {
    format!("value errormsg {}\n{REJECT}", mkvalue(reason))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Login,
    Challenge,
    Response,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Login => "login",
            Service::Challenge => "challenge",
            Service::Response => "response",
        }
    }
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub service: Service,
    pub user: String,
    pub class: Option<String>,
    /// `-v name=value` pairs. Only `wheel` changes the decision; the others
    /// (`lastchance`, `invokinguser`, a value without `=`) are ignored, as
    /// base styles ignore the variables they do not use.
    pub options: Vec<(String, String)>,
    /// `-d`: replies go to stdout instead of fd 3.
    pub debug: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; usage: login_-wpam [-d] [-v name=value] [-s service] [--] user [class]",
            self.0
        )
    }
}

fn usage(s: impl Into<String>) -> UsageError {
    UsageError(s.into())
}

/// Parses the arguments after argv[0], getopt(3) style (`-s x` or `-sx`,
/// options before operands, `--` ends options). Without `-s` the service is
/// `login`, as in the base styles.
pub fn parse_args(args: &[OsString]) -> Result<Invocation, UsageError> {
    let mut service = None;
    let mut options = Vec::new();
    let mut debug = false;
    let mut i = 0;
    let text = |a: &OsString| {
        a.to_str()
            .map(str::to_string)
            .ok_or_else(|| usage("argument is not UTF-8"))
    };
    while i < args.len() {
        let a = text(&args[i])?;
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let chars = a[1..].char_indices();
        for (at, c) in chars {
            match c {
                'd' => debug = true,
                's' | 'v' => {
                    let rest = &a[1 + at + 1..];
                    let value = if rest.is_empty() {
                        i += 1;
                        text(
                            args.get(i)
                                .ok_or_else(|| usage(format!("-{c} needs a value")))?,
                        )?
                    } else {
                        rest.to_string()
                    };
                    if c == 's' {
                        service = Some(match value.as_str() {
                            "login" => Service::Login,
                            "challenge" => Service::Challenge,
                            "response" => Service::Response,
                            other => return Err(usage(format!("unknown service {other:?}"))),
                        });
                    } else {
                        // login_passwd: "Silently ignore unsupported
                        // variables"; a future libc may pass new ones.
                        if let Some((k, v)) = value.split_once('=') {
                            options.push((k.to_string(), v.to_string()));
                        }
                    }
                    break;
                }
                other => return Err(usage(format!("unknown option -{other}"))),
            }
        }
        i += 1;
    }
    let operands = args[i.min(args.len())..]
        .iter()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    let (user, class) = match operands.as_slice() {
        [u] => (u.clone(), None),
        [u, c] => (u.clone(), Some(c.clone())),
        [] => return Err(usage("no user name")),
        _ => return Err(usage("too many arguments")),
    };
    Ok(Invocation {
        service: service.unwrap_or(Service::Login),
        user,
        class,
        options,
        debug,
    })
}

impl Invocation {
    /// The value of the last `-v name=...` given.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// su(1) passes `-v wheel=no` when its caller is not in group wheel
    /// (and the target is root, or the class asks for it): base styles
    /// refuse then, whatever the answer.
    pub fn wheel_refused(&self) -> bool {
        self.option("wheel").is_some_and(|v| v != "yes")
    }
}

/// Escapes a value the way libc's `auth_mkvalue(3)` does, so that
/// `auth_getvalue(3)` gives back the original: `\r`, `\n`, `\\`, a leading
/// blank, and every non-printable byte as `\ooo`.
pub fn mkvalue(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            b'\t' | b' ' => {
                if out.is_empty() {
                    out.push('\\');
                }
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                out.push((b'0' + ((b >> 6) & 0x3)) as char);
                out.push((b'0' + ((b >> 3) & 0x7)) as char);
                out.push((b'0' + (b & 0x7)) as char);
            }
        }
    }
    out
}

/// The inverse of [`mkvalue`], as `auth_getvalue(3)` decodes (for tests and
/// for reading replies back).
pub fn unvalue(escaped: &str) -> Vec<u8> {
    let b = escaped.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let n = b[i + 1];
        match n {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b'0'..=b'3'
                if i + 3 < b.len()
                    && (b'0'..=b'7').contains(&b[i + 2])
                    && (b'0'..=b'7').contains(&b[i + 3]) =>
            {
                out.push(((n - b'0') << 6) | ((b[i + 2] - b'0') << 3) | (b[i + 3] - b'0'));
                i += 4;
                continue;
            }
            other => out.push(other),
        }
        i += 2;
    }
    out
}

/// The reply to `-s challenge`: the prompt, then "a challenge was given".
pub fn challenge_reply() -> String {
    format!("value challenge {}\n{REJECT_CHALLENGE}", mkvalue(PROMPT))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error on the back channel: {}", self.0)
    }
}

/// Reads `challenge\0response\0` (at most [`MAX_RESPONSE`] bytes) and
/// returns the response. Stops reading at the second NUL.
pub fn read_response<R: Read>(r: &mut R) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    // Full size at once: a growing buffer would leave copies of the code.
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_RESPONSE));
    let mut nuls = 0;
    let mut byte = [0u8; 1];
    while nuls < 2 {
        if buf.len() >= MAX_RESPONSE {
            return Err(ProtocolError(format!("more than {MAX_RESPONSE} bytes")));
        }
        match r.read(&mut byte) {
            Ok(0) => {
                return Err(ProtocolError(format!(
                    "end of data after {nuls} of 2 strings"
                )))
            }
            Ok(_) => {
                if byte[0] == 0 {
                    nuls += 1;
                }
                buf.push(byte[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ProtocolError(e.to_string())),
        }
    }
    let start = buf.iter().position(|&b| b == 0).map_or(0, |p| p + 1);
    Ok(Zeroizing::new(buf[start..buf.len() - 1].to_vec()))
}

/// Settings of the style, from its config file.
pub struct Settings {
    /// `key=value` strings for [`config::parse`] (every key but `wid.*`).
    pub args: Vec<Zeroizing<String>>,
    /// `wid.<login>` → Werbot ID.
    pub werbot_ids: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Reads the style's config file (root-owned, not group/world-readable:
/// [`config::read_config_file`] refuses anything else) and splits the
/// per-user Werbot IDs from the module settings.
pub fn load_settings(path: &Path) -> Result<Settings, ConfigError> {
    let pairs = config::read_config_file(path)?;
    let mut s = Settings {
        args: Vec::new(),
        werbot_ids: BTreeMap::new(),
        warnings: Vec::new(),
    };
    for (k, v) in pairs {
        if let Some(login) = k.strip_prefix(WID_PREFIX) {
            match crate::input::werbot_id(v.as_bytes()) {
                Ok(id) if !login.is_empty() => {
                    s.werbot_ids.insert(login.to_string(), id);
                }
                _ => s.warnings.push(format!(
                    "ignoring {}: not a usable Werbot ID",
                    crate::log::quote(&k)
                )),
            }
        } else if k == "config" {
            s.warnings
                .push("config= is not allowed inside the config file".into());
        } else {
            // Sized once: the value may be the service key.
            let mut arg = Zeroizing::new(String::with_capacity(k.len() + 1 + v.len()));
            arg.push_str(&k);
            arg.push('=');
            arg.push_str(&v);
            s.args.push(arg);
        }
    }
    Ok(s)
}

/// The Werbot ID for a login: its `wid.<login>` entry, else the login name.
pub fn werbot_id_for<'a>(login: &'a str, ids: &'a BTreeMap<String, String>) -> &'a str {
    ids.get(login).map_or(login, String::as_str)
}

/// A login name we are willing to put in a request: what sshd/login pass,
/// minus names that are clearly not one.
pub fn plausible_login(user: &str) -> bool {
    !user.is_empty()
        && user != NOUSER
        && user.len() <= 255
        && !user.starts_with('-')
        && !user.chars().any(|c| c.is_control() || c == '/' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_what_libc_passes() {
        let inv = parse_args(&args(&[
            "-v",
            "wheel=yes",
            "-vlastchance=no",
            "-s",
            "response",
            "--",
            "alice",
            "default",
        ]))
        .unwrap();
        assert_eq!(inv.service, Service::Response);
        assert_eq!(inv.user, "alice");
        assert_eq!(inv.class.as_deref(), Some("default"));
        assert_eq!(
            inv.options,
            [
                ("wheel".to_string(), "yes".to_string()),
                ("lastchance".to_string(), "no".to_string())
            ]
        );
        assert!(!inv.debug);
        let inv = parse_args(&args(&["-d", "-schallenge", "bob"])).unwrap();
        assert_eq!((inv.service, inv.debug), (Service::Challenge, true));
        assert_eq!(inv.class, None);
        assert_eq!(
            parse_args(&args(&["carol"])).unwrap().service,
            Service::Login
        );
    }

    #[test]
    fn refuses_bad_command_lines() {
        for a in [
            &[][..],
            &["-s"],
            &["-s", "passwd", "alice"],
            &["-x", "alice"],
            &["-s", "login", "a", "b", "c"],
            &["-s", "login", "--"],
        ] {
            assert!(parse_args(&args(a)).is_err(), "{a:?}");
        }
    }

    #[test]
    fn unknown_variables_are_ignored_and_wheel_no_refuses() {
        let inv = parse_args(&args(&[
            "-v",
            "novalue",
            "-v",
            "invokinguser=carol",
            "-v",
            "somefuture=1",
            "alice",
        ]))
        .unwrap();
        assert_eq!(inv.user, "alice");
        assert!(!inv.wheel_refused());
        for (w, refused) in [("wheel=yes", false), ("wheel=no", true), ("wheel=", true)] {
            let inv = parse_args(&args(&["-v", w, "-s", "response", "alice"])).unwrap();
            assert_eq!(inv.wheel_refused(), refused, "{w}");
        }
        assert_eq!(
            reject_with(NOT_IN_WHEEL),
            "value errormsg you are not in group wheel\nreject\n"
        );
    }

    #[test]
    fn a_user_named_like_an_option_after_dashes_is_an_operand() {
        let inv = parse_args(&args(&["-s", "login", "--", "-v"])).unwrap();
        assert_eq!(inv.user, "-v");
        assert!(!plausible_login(&inv.user));
    }

    #[test]
    fn mkvalue_matches_libc() {
        assert_eq!(mkvalue("abc"), "abc");
        assert_eq!(mkvalue(" a b"), "\\ a b");
        assert_eq!(mkvalue("\ta"), "\\\ta");
        assert_eq!(mkvalue("a\nb\rc\\"), "a\\nb\\rc\\\\");
        assert_eq!(mkvalue("\x01\x7f"), "\\001\\177");
        assert_eq!(mkvalue("é"), "\\303\\251");
        for s in [PROMPT, " x\n\\y\x07", "é"] {
            assert_eq!(unvalue(&mkvalue(s)), s.as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn challenge_reply_is_value_then_reject_challenge() {
        let r = challenge_reply();
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines.len(), 2);
        let v = lines[0].strip_prefix("value challenge ").unwrap();
        assert_eq!(unvalue(v), PROMPT.as_bytes());
        assert_eq!(lines[1], "reject challenge");
    }

    #[test]
    fn reads_the_response_after_the_challenge() {
        let mut data: &[u8] = b"Password:\x00123456\x00trailing";
        assert_eq!(read_response(&mut data).unwrap().as_slice(), b"123456");
        assert_eq!(data, b"trailing");
        let mut empty: &[u8] = b"\0\0";
        assert_eq!(read_response(&mut empty).unwrap().as_slice(), b"");
    }

    #[test]
    fn short_or_huge_back_channel_data_is_a_protocol_error() {
        assert!(read_response(&mut &b"challenge\x00123456"[..]).is_err());
        assert!(read_response(&mut &b""[..]).is_err());
        let big = vec![b'1'; MAX_RESPONSE + 10];
        assert!(read_response(&mut big.as_slice()).is_err());
    }

    #[test]
    fn werbot_id_defaults_to_the_login() {
        let mut ids = BTreeMap::new();
        ids.insert("alice".to_string(), "alice@example.com".to_string());
        assert_eq!(werbot_id_for("alice", &ids), "alice@example.com");
        assert_eq!(werbot_id_for("bob", &ids), "bob");
    }

    #[test]
    fn nouser_and_odd_names_are_not_logins() {
        for u in ["", NOUSER, "a\nb", "a/b", "-x", "a:b"] {
            assert!(!plausible_login(u), "{u:?}");
        }
        assert!(plausible_login("alice"));
    }

    #[test]
    fn settings_split_werbot_ids_from_module_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wpam-bsdauth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wpam.conf");
        std::fs::write(
            &path,
            "server_url=h\nservice_key = k=v\nwid.alice = alice@example.com\nwid.bob=\nconfig=/x\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = load_settings(&path).unwrap();
        assert_eq!(
            s.args.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            ["server_url=h", "service_key=k=v"]
        );
        assert_eq!(s.werbot_ids.len(), 1);
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load_settings(&path).is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
