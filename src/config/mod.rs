//! Module settings: the `key=value` arguments of the pam.d line, optionally
//! merged with a root-only config file, parsed once into a typed [`Config`].
//!
//! Guarantees: a malformed value or unknown key becomes a warning and the
//! *secure* default (never "skip TLS verification because the value was
//! garbled"); a missing required key or an unusable `server_url` is a
//! [`ConfigError`] that names the key, and the caller denies the login.
//!
//! Here: the [`Config`] it yields, the table of keys ([`KEYS`], `Raw::set`)
//! and the merge of file and line; the values with rules of their own are
//! parsed next door:
//! - `file.rs`: the root-only config file (`config=`);
//! - `url.rs`: `server_url=` and `proxy=`;
//! - `policy.rs`: who is asked and how (`groups=`, `account_phase=`,
//!   `unenrolled=`, `remember=`, the prompts).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

mod file;
mod policy;
mod url;

pub use file::{read_config_file, Pairs};
pub use policy::{parse_remember, AccountPhase, Groups, Unenrolled, MAX_REMEMBER};
pub use url::{parse_proxy, parse_server_url, ProxyUrl, ServerUrl};

pub const DEFAULT_LOG_FILE: &str = "/var/log/wpam.log";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server (TRASA's tfa.go) waits 60 s for the approval *after* it has
/// sent the push: a shorter wait here refuses a push the server grants. 90 s
/// leaves 30 s for sending it, and stays under sshd's LoginGraceTime (120 s).
pub const DEFAULT_U2F_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest call we allow: a U2F approval is a person walking to a device,
/// not an excuse to pin an sshd child forever.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

pub struct Config {
    pub server: ServerUrl,
    pub service_id: String,
    pub service_key: Zeroizing<String>,
    pub offline_users: Vec<String>,
    pub debug: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub u2f_timeout: Duration,
    pub log_file: PathBuf,
    /// An HTTP CONNECT proxy to reach the API through (never from the
    /// environment).
    pub proxy: Option<ProxyUrl>,
    /// `wid.<login>=<Werbot ID>` entries of the config file: these logins are
    /// tied to that Werbot ID (no ID prompt; the typed-ID path is closed).
    pub werbot_ids: std::collections::BTreeMap<String, String>,
    /// `werbot_id_from_login=true`: every login's Werbot ID is its login name.
    pub werbot_id_from_login: bool,
    /// `offline_secrets=PATH`: offline users admitted for an outage must
    /// also give a valid code of their own secret in this file
    /// (`offline.rs`). Without it they get in on the first factor alone.
    pub offline_secrets: Option<PathBuf>,
    /// Sent as userIP when there is no PAM_RHOST (su, sudo, console): TRASA
    /// refuses an empty userIP under every IP policy.
    pub local_user_ip: Option<std::net::IpAddr>,
    /// `groups=`: who is asked at all (automation accounts, staged rollouts).
    pub groups: Groups,
    /// `account_phase=`: what the account phase does for a login that did
    /// not pass this module's auth phase on the handle (a key-only login).
    pub account_phase: AccountPhase,
    /// `unenrolled=`: a tied login whose Werbot user does not exist.
    pub unenrolled: Unenrolled,
    /// `remember=`: how long a server-granted second factor is remembered
    /// for the same login, remote address and service (`remember.rs`).
    pub remember: Option<Duration>,
    /// `remember_dir=`: where remembered grants are kept (root-only).
    pub remember_dir: PathBuf,
    /// `prompt_id=` / `prompt_code=`: the questions asked.
    pub prompt_id: String,
    pub prompt_code: String,
    /// `second_factor_only=true`: the admin states that the second factor is
    /// meant to be the only factor; read by `wpam check`, not by the module.
    pub second_factor_only: bool,
}

impl fmt::Debug for Config {
    // Hand-written so that no `{:?}` anywhere can print the service key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("service_id", &self.service_id)
            .field("service_key", &"[REDACTED]")
            .field("offline_users", &self.offline_users)
            .field("debug", &self.debug)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("u2f_timeout", &self.u2f_timeout)
            .field("log_file", &self.log_file)
            .field("proxy", &self.proxy)
            .field("werbot_ids", &self.werbot_ids)
            .field("werbot_id_from_login", &self.werbot_id_from_login)
            .field("offline_secrets", &self.offline_secrets)
            .field("local_user_ip", &self.local_user_ip)
            .field("groups", &self.groups)
            .field("account_phase", &self.account_phase)
            .field("unenrolled", &self.unenrolled)
            .field("remember", &self.remember)
            .field("remember_dir", &self.remember_dir)
            .field("prompt_id", &self.prompt_id)
            .field("prompt_code", &self.prompt_code)
            .field("second_factor_only", &self.second_factor_only)
            .finish()
    }
}

impl Config {
    pub fn is_offline_user(&self, user: &str) -> bool {
        self.offline_users.iter().any(|u| u == user)
    }

    /// The Werbot ID a login is tied to, if the config ties it: its
    /// `wid.<login>` entry, else the login name with `werbot_id_from_login`.
    pub fn tied_werbot_id<'a>(&'a self, login: &'a str) -> Option<&'a str> {
        self.werbot_ids
            .get(login)
            .map(String::as_str)
            .or(self.werbot_id_from_login.then_some(login))
    }
}

/// Why a configuration cannot be used. Each names the key an admin must fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Invalid { key: &'static str, why: String },
    ConfigFile { path: String, why: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing(key) => write!(f, "missing required argument {key}"),
            ConfigError::Invalid { key, why } => write!(f, "invalid {key}: {why}"),
            ConfigError::ConfigFile { path, why } => write!(f, "config file {path}: {why}"),
        }
    }
}

/// The parse result: settings (or why there are none) plus the warnings to log
/// whatever the outcome, so that a typo is visible even when the login works.
pub struct Parsed {
    pub config: Result<Config, ConfigError>,
    pub warnings: Vec<String>,
    /// Known before the rest is validated, so that even a broken config can log.
    pub debug: bool,
    pub log_file: PathBuf,
}

/// Every key an admin may set (the `match` of `Raw::set` below, and its
/// `wid.` prefix as `wid.<login>`): docs/admin.md's table and pam_wpam(8)
/// list exactly these (tests/docs_keys.rs). Not `debug_panic`, the test
/// suite's panic trigger.
pub const KEYS: &[&str] = &[
    "server_url",
    "service_id",
    "service_key",
    "config",
    "offline_users",
    "offline_secrets",
    "timeout",
    "u2f_timeout",
    "ca_file",
    "insecure_skip_verify",
    "debug",
    "log_file",
    "local_user_ip",
    "proxy",
    "wid.<login>",
    "werbot_id_from_login",
    "groups",
    "account_phase",
    "unenrolled",
    "remember",
    "remember_dir",
    "prompt_id",
    "prompt_code",
    "second_factor_only",
];

/// Values as strings, before typing. Later sources override earlier ones.
#[derive(Default)]
struct Raw {
    server_url: Option<String>,
    service_id: Option<String>,
    service_key: Option<Zeroizing<String>>,
    offline_users: Option<String>,
    debug: Option<String>,
    insecure_skip_verify: Option<String>,
    ca_file: Option<String>,
    timeout: Option<String>,
    u2f_timeout: Option<String>,
    log_file: Option<String>,
    /// Wiped: may hold proxy credentials.
    proxy: Option<Zeroizing<String>>,
    /// The proxy came from the world-readable pam.d line.
    proxy_on_line: bool,
    werbot_ids: std::collections::BTreeMap<String, String>,
    werbot_id_from_login: Option<String>,
    offline_secrets: Option<String>,
    local_user_ip: Option<String>,
    groups: Option<String>,
    account_phase: Option<String>,
    unenrolled: Option<String>,
    remember: Option<String>,
    remember_dir: Option<String>,
    prompt_id: Option<String>,
    prompt_code: Option<String>,
    second_factor_only: Option<String>,
}

impl Raw {
    /// Takes one `key=value`; returns a warning for anything it cannot use.
    fn set(&mut self, key: &str, value: &str, allow_config: bool) -> Option<String> {
        if key == "service_key" {
            // Only ever copied into memory that is wiped.
            self.service_key = Some(Zeroizing::new(value.to_string()));
            return None;
        }
        if key == "proxy" {
            self.proxy = Some(Zeroizing::new(value.to_string()));
            self.proxy_on_line = allow_config;
            return None;
        }
        if let Some(login) = key.strip_prefix("wid.") {
            if allow_config {
                return Some(format!(
                    "{} ignored: logins are tied to Werbot IDs in the root-only config file only",
                    crate::log::quote(key)
                ));
            }
            return match crate::input::werbot_id(value.as_bytes()) {
                Ok(id) if !login.is_empty() => {
                    self.werbot_ids.insert(login.to_string(), id);
                    None
                }
                _ => Some(format!(
                    "{} ignored: not a usable Werbot ID",
                    crate::log::quote(key)
                )),
            };
        }
        let v = Some(value.to_string());
        match key {
            "server_url" => self.server_url = v,
            "service_id" => self.service_id = v,
            "offline_users" => self.offline_users = v,
            "debug" => self.debug = v,
            "insecure_skip_verify" => self.insecure_skip_verify = v,
            "ca_file" => self.ca_file = v,
            "timeout" => self.timeout = v,
            "u2f_timeout" => self.u2f_timeout = v,
            "log_file" => self.log_file = v,
            "werbot_id_from_login" => self.werbot_id_from_login = v,
            "offline_secrets" => self.offline_secrets = v,
            "local_user_ip" => self.local_user_ip = v,
            "groups" => self.groups = v,
            "account_phase" => self.account_phase = v,
            "unenrolled" => self.unenrolled = v,
            "remember" => self.remember = v,
            "remember_dir" => self.remember_dir = v,
            "prompt_id" => self.prompt_id = v,
            "prompt_code" => self.prompt_code = v,
            "second_factor_only" => self.second_factor_only = v,
            // The test suite's panic trigger (pam.rs); release builds do not know it.
            #[cfg(debug_assertions)]
            "debug_panic" => {}
            // (A config= on the pam.d line never gets here: parse takes it.)
            "config" => return Some("config= is not allowed inside a config file".into()),
            _ => return Some(format!("unknown argument {}", crate::log::quote(key))),
        }
        None
    }
}

/// Parses the pam.d arguments. A `config=PATH` argument loads that file first;
/// arguments on the pam.d line then override it.
pub fn parse<S: AsRef<str>>(args: &[S]) -> Parsed {
    let mut raw = Raw::default();
    let mut warnings = Vec::new();
    let mut config_path: Option<String> = None;
    let mut line_pairs: Pairs = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        match arg.split_once('=') {
            Some(("config", v)) => config_path = Some(v.to_string()),
            Some((k, v)) => line_pairs.push((k.to_string(), Zeroizing::new(v.to_string()))),
            // Bare flags are a PAM convention (`debug`); accept the booleans.
            None if arg == "debug" || arg == "insecure_skip_verify" => {
                line_pairs.push((arg.to_string(), Zeroizing::new("true".to_string())))
            }
            None => warnings.push(format!(
                "ignoring argument {} (expected key=value)",
                crate::log::quote(arg)
            )),
        }
    }
    let mut file_error = None;
    if let Some(path) = &config_path {
        match read_config_file(Path::new(path)) {
            Ok(pairs) => {
                for (k, v) in &pairs {
                    warnings.extend(raw.set(k, v, false));
                }
            }
            Err(e) => file_error = Some(e),
        }
    }
    for (k, v) in &line_pairs {
        if k == "service_key" && config_path.is_some() {
            warnings.push("service_key on the pam.d line overrides the config file".into());
        }
        warnings.extend(raw.set(k, v, true));
    }

    let debug = bool_arg("debug", raw.debug.as_deref(), &mut warnings);
    let log_file = raw
        .log_file
        .as_deref()
        .filter(|p| {
            let ok = Path::new(p).is_absolute();
            if !ok {
                warnings.push(format!(
                    "log_file {} is not absolute; using {DEFAULT_LOG_FILE}",
                    crate::log::quote(p)
                ));
            }
            ok
        })
        .map_or_else(|| PathBuf::from(DEFAULT_LOG_FILE), PathBuf::from);

    let config = match file_error {
        Some(e) => Err(e),
        None => build(raw, debug, log_file.clone(), &mut warnings),
    };
    Parsed {
        config,
        warnings,
        debug,
        log_file,
    }
}

fn build(
    raw: Raw,
    debug: bool,
    log_file: PathBuf,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    let server = parse_server_url(
        raw.server_url
            .as_deref()
            .ok_or(ConfigError::Missing("server_url"))?,
    )?;
    let service_id = raw
        .service_id
        .filter(|s| !s.is_empty())
        .ok_or(ConfigError::Missing("service_id"))?;
    let service_key = raw
        .service_key
        .filter(|s| !s.is_empty())
        .ok_or(ConfigError::Missing("service_key"))?;
    let offline_users = raw
        .offline_users
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let insecure_skip_verify = bool_arg(
        "insecure_skip_verify",
        raw.insecure_skip_verify.as_deref(),
        warnings,
    );
    let ca_file = match raw.ca_file.filter(|s| !s.is_empty()) {
        Some(p) if Path::new(&p).is_absolute() => Some(PathBuf::from(p)),
        Some(p) => {
            return Err(ConfigError::Invalid {
                key: "ca_file",
                why: format!("{} is not an absolute path", crate::log::quote(&p)),
            })
        }
        None => None,
    };
    let timeout = duration_arg("timeout", raw.timeout.as_deref(), DEFAULT_TIMEOUT, warnings);
    let u2f_timeout = duration_arg(
        "u2f_timeout",
        raw.u2f_timeout.as_deref(),
        DEFAULT_U2F_TIMEOUT,
        warnings,
    );
    let proxy = match raw.proxy.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(parse_proxy(p, raw.proxy_on_line)?),
        None => None,
    };
    let werbot_id_from_login = bool_arg(
        "werbot_id_from_login",
        raw.werbot_id_from_login.as_deref(),
        warnings,
    );
    // An unusable path is an error, not a warning: falling back to "no
    // file" would let offline users in without their code.
    let offline_secrets = match raw.offline_secrets.as_deref() {
        Some(p) if Path::new(p).is_absolute() => Some(PathBuf::from(p)),
        Some(p) => {
            return Err(ConfigError::Invalid {
                key: "offline_secrets",
                why: format!("{} is not an absolute path", crate::log::quote(p)),
            })
        }
        None => None,
    };
    let local_user_ip = match raw.local_user_ip.as_deref() {
        Some(v) => Some(
            v.parse::<std::net::IpAddr>()
                .map_err(|_| ConfigError::Invalid {
                    key: "local_user_ip",
                    why: format!("{} is not an IP address", crate::log::quote(v)),
                })?,
        ),
        None => None,
    };
    let groups = policy::groups(raw.groups.as_deref())?;
    let account_phase = policy::account_phase(raw.account_phase.as_deref())?;
    let unenrolled = policy::unenrolled(raw.unenrolled.as_deref())?;
    let remember = policy::remember(raw.remember.as_deref())?;
    let remember_dir = match raw.remember_dir.as_deref() {
        None => PathBuf::from(crate::remember::DEFAULT_DIR),
        Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
        Some(p) => {
            return Err(ConfigError::Invalid {
                key: "remember_dir",
                why: format!("{} is not an absolute path", crate::log::quote(p)),
            })
        }
    };
    let prompt_id = policy::prompt("prompt_id", raw.prompt_id, crate::input::PROMPT_ID)?;
    let prompt_code = policy::prompt("prompt_code", raw.prompt_code, crate::input::PROMPT_CODE)?;
    let second_factor_only = bool_arg(
        "second_factor_only",
        raw.second_factor_only.as_deref(),
        warnings,
    );
    Ok(Config {
        server,
        service_id,
        service_key,
        offline_users,
        debug,
        insecure_skip_verify,
        ca_file,
        timeout,
        u2f_timeout,
        log_file,
        proxy,
        werbot_ids: raw.werbot_ids,
        werbot_id_from_login,
        offline_secrets,
        local_user_ip,
        groups,
        account_phase,
        unenrolled,
        remember,
        remember_dir,
        prompt_id,
        prompt_code,
        second_factor_only,
    })
}

/// A number with one of `units` (suffix, milliseconds; tried in order, so
/// `ms` before `s`) or none (seconds), from 1 ms to `max`.
fn span(v: &str, units: &[(&str, u64)], max: Duration) -> Option<Duration> {
    let v = v.trim();
    let (num, unit_ms) = units
        .iter()
        .find_map(|(suffix, ms)| v.strip_suffix(suffix).map(|n| (n, *ms)))
        .unwrap_or((v, 1000));
    let n: u64 = num.trim().parse().ok()?;
    let d = Duration::from_millis(n.checked_mul(unit_ms)?);
    (!d.is_zero() && d <= max).then_some(d)
}

/// true/false/1/0/yes/no (any case). Anything else warns and yields `false`,
/// which for both boolean keys is the safe side.
fn bool_arg(key: &str, value: Option<&str>, warnings: &mut Vec<String>) -> bool {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => false,
        Some("true" | "1" | "yes" | "on") => true,
        Some("false" | "0" | "no" | "off") => false,
        Some(_) => {
            warnings.push(format!(
                "{key}={} is not a boolean (true/false/1/0/yes/no); using false",
                crate::log::quote(value.unwrap_or_default())
            ));
            false
        }
    }
}

/// Seconds as a bare integer or with a unit: `10`, `10s`, `1500ms`, `2m`.
pub fn parse_duration(v: &str) -> Option<Duration> {
    span(v, &[("ms", 1), ("s", 1000), ("m", 60_000)], MAX_TIMEOUT)
}

fn duration_arg(
    key: &str,
    value: Option<&str>,
    default: Duration,
    warnings: &mut Vec<String>,
) -> Duration {
    match value {
        None => default,
        Some(v) => parse_duration(v).unwrap_or_else(|| {
            warnings.push(format!(
                "{key}={} is not a duration between 1ms and 600s; using {}s",
                crate::log::quote(v),
                default.as_secs()
            ));
            default
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    // ok, BASE and write_conf serve the submodules' tests too.
    pub(super) fn ok(args: &[&str]) -> (Config, Vec<String>) {
        let p = parse(args);
        (p.config.expect("config"), p.warnings)
    }
    pub(super) const BASE: [&str; 3] = [
        "server_url=api.example.com",
        "service_id=sid",
        "service_key=skey",
    ];

    #[test]
    fn defaults_when_only_required_keys() {
        let (c, w) = ok(&BASE);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            c.server.endpoint(),
            "https://api.example.com/auth/agent/nix"
        );
        assert_eq!(c.timeout, Duration::from_secs(10));
        // Longer than the server's 60 s push wait plus the time to send it.
        assert_eq!(c.u2f_timeout, Duration::from_secs(90));
        assert_eq!(c.log_file, PathBuf::from("/var/log/wpam.log"));
        assert!(!c.debug && !c.insecure_skip_verify && c.ca_file.is_none());
        assert!(c.offline_users.is_empty());
        assert_eq!(c.local_user_ip, None);
    }

    #[test]
    fn local_user_ip_must_be_an_ip_address() {
        let (c, _) = ok(&[&BASE[..], &["local_user_ip=192.0.2.5"]].concat());
        assert_eq!(c.local_user_ip, Some("192.0.2.5".parse().unwrap()));
        let (c, _) = ok(&[&BASE[..], &["local_user_ip=::1"]].concat());
        assert_eq!(c.local_user_ip, Some("::1".parse().unwrap()));
        for bad in ["host.example", "", "192.0.2.5/24", "1.2.3"] {
            let arg = format!("local_user_ip={bad}");
            let p = parse(&[&BASE[..], &[arg.as_str()]].concat());
            assert!(
                matches!(
                    p.config,
                    Err(ConfigError::Invalid {
                        key: "local_user_ip",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_missing_required_key_is_named() {
        for (i, key) in ["server_url", "service_id", "service_key"]
            .iter()
            .enumerate()
        {
            let args: Vec<&str> = BASE
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, a)| *a)
                .collect();
            let p = parse(&args);
            assert_eq!(p.config.err(), Some(ConfigError::Missing(key)));
        }
    }

    #[test]
    fn booleans_accept_every_spelling_and_garbage_is_secure() {
        for (v, want) in [
            ("true", true),
            ("1", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("no", false),
        ] {
            let a = format!("insecure_skip_verify={v}");
            let (c, w) = ok(&[BASE[0], BASE[1], BASE[2], &a]);
            assert_eq!(c.insecure_skip_verify, want, "{v}");
            assert!(w.is_empty());
        }
        let (c, w) = ok(&[
            BASE[0],
            BASE[1],
            BASE[2],
            "insecure_skip_verify=maybe",
            "debug=2",
        ]);
        assert!(!c.insecure_skip_verify && !c.debug);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().any(|m| m.contains("insecure_skip_verify")));
    }

    /// KEYS and the parser agree: each entry is known to `Raw::set`, a
    /// misspelt one is not, and every key name the parser matches on is in
    /// KEYS (read from `Raw::set`'s own text, so a new arm without a KEYS
    /// entry fails here).
    #[test]
    fn keys_is_the_parsers_table() {
        let unknown = |k: &str| {
            [true, false].iter().all(|&line| {
                Raw::default()
                    .set(k, "alice@example.com", line)
                    .is_some_and(|w| w.starts_with("unknown argument"))
            })
        };
        for k in KEYS {
            let k = k.replace("<login>", "root");
            assert!(!unknown(&k), "{k}: in KEYS but unknown to the parser");
            assert!(unknown(&format!("x{k}")), "x{k}: known to the parser");
        }
        let src = include_str!("mod.rs");
        let body = &src[src.find("    fn set(&mut self").unwrap()..];
        let body = &body[..body.find("\n    }\n}").unwrap()];
        let mut matched: Vec<String> = body
            .split('"')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .filter(|k| {
                let name =
                    |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.".contains(&b);
                !k.is_empty() && k.bytes().all(name) && k != "debug_panic"
            })
            .map(|k| if k == "wid." { "wid.<login>".into() } else { k })
            .collect();
        matched.sort();
        matched.dedup();
        let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        keys.sort();
        assert_eq!(matched, keys, "Raw::set's key names and KEYS differ");
    }

    #[test]
    fn unknown_keys_and_bare_words_warn() {
        let (_, w) = ok(&[
            BASE[0],
            BASE[1],
            BASE[2],
            "sevrer_url=x",
            "whatever",
            "debug",
        ]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w.iter().any(|m| m.contains("sevrer_url")));
        assert!(
            w.iter()
                .any(|m| m.contains("\"whatever\" (expected key=value)")),
            "{w:?}"
        );
    }

    #[test]
    fn bare_debug_and_insecure_skip_verify_are_flags() {
        let (c, w) = ok(&[BASE[0], BASE[1], BASE[2], "debug"]);
        assert!(w.is_empty(), "{w:?}");
        assert!(c.debug && !c.insecure_skip_verify);
        let (c, w) = ok(&[BASE[0], BASE[1], BASE[2], "insecure_skip_verify"]);
        assert!(w.is_empty(), "{w:?}");
        assert!(!c.debug && c.insecure_skip_verify);
    }

    #[test]
    fn config_inside_a_config_file_is_ignored_with_a_warning() {
        let (path, dir) = write_conf(0o600, "service_key=k\nconfig=/etc/other.conf\n");
        let arg = format!("config={}", path.display());
        let (c, w) = ok(&[BASE[0], BASE[1], arg.as_str()]);
        assert_eq!(c.service_key.as_str(), "k");
        assert_eq!(w, ["config= is not allowed inside a config file"]);
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_panic_trigger_is_known_to_test_builds_only() {
        let (_, w) = ok(&[BASE[0], BASE[1], BASE[2], "debug_panic=1"]);
        if cfg!(debug_assertions) {
            assert!(w.is_empty(), "{w:?}");
        } else {
            assert_eq!(w, ["unknown argument \"debug_panic\""]);
        }
    }

    #[test]
    fn offline_users_list_is_trimmed() {
        let (c, _) = ok(&[BASE[0], BASE[1], BASE[2], "offline_users=root, admin,,ops "]);
        assert_eq!(c.offline_users, ["root", "admin", "ops"]);
        assert!(c.is_offline_user("admin") && !c.is_offline_user("adm"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        for bad in ["0", "-1", "abc", "601", "11m", ""] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let (c, w) = ok(&[BASE[0], BASE[1], BASE[2], "timeout=soon", "u2f_timeout=90"]);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.u2f_timeout, Duration::from_secs(90));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn relative_paths_are_refused() {
        let p = parse(&[BASE[0], BASE[1], BASE[2], "ca_file=ca.pem"]);
        assert!(matches!(
            p.config,
            Err(ConfigError::Invalid { key: "ca_file", .. })
        ));
        let p = parse(&[BASE[0], BASE[1], BASE[2], "log_file=wpam.log"]);
        assert_eq!(p.log_file, PathBuf::from(DEFAULT_LOG_FILE));
        assert_eq!(p.warnings.len(), 1);
        for key in ["offline_secrets", "remember_dir"] {
            let arg = format!("{key}=dir/file");
            let p = parse(&[BASE[0], BASE[1], BASE[2], arg.as_str()]);
            assert!(
                matches!(&p.config, Err(ConfigError::Invalid { key: k, .. }) if *k == key),
                "{key}: {:?}",
                p.config
            );
        }
        let (c, w) = ok(&[
            BASE[0],
            BASE[1],
            BASE[2],
            "ca_file=/etc/wpam/ca.pem",
            "offline_secrets=/etc/wpam/offline",
            "remember_dir=/run/wpam-x",
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.ca_file, Some(PathBuf::from("/etc/wpam/ca.pem")));
        assert_eq!(c.offline_secrets, Some(PathBuf::from("/etc/wpam/offline")));
        assert_eq!(c.remember_dir, PathBuf::from("/run/wpam-x"));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let (c, _) = ok(&BASE);
        let shown = format!("{c:?}");
        assert!(!shown.contains("skey"), "{shown}");
        // Redacted, not left out: the rest of the config is still shown.
        assert!(shown.contains(r#"service_key: "[REDACTED]""#), "{shown}");
        assert!(
            shown.contains(&format!("service_id: {:?}", c.service_id)),
            "{shown}"
        );
        assert!(shown.contains("second_factor_only: false"), "{shown}");
    }

    pub(super) fn write_conf(mode: u32, body: &str) -> (PathBuf, std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "wpam-conf-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&dir).expect("tmp");
        let path = dir.join("wpam.conf");
        fs::write(&path, body).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        (path, dir)
    }

    #[test]
    fn logins_are_tied_to_werbot_ids_in_the_config_file_only() {
        let (path, dir) = write_conf(
            0o600,
            "service_key=k\nwid.alice = alice@example.com\nwid.bob=bad\u{202e}id\nwid.=e@example.com\n",
        );
        let arg = format!("config={}", path.display());
        let p = parse(&[BASE[0], BASE[1], arg.as_str(), "wid.mallory=m@example.com"]);
        let c = p.config.expect("config");
        assert_eq!(c.tied_werbot_id("alice"), Some("alice@example.com"));
        assert_eq!(c.tied_werbot_id("bob"), None, "an unusable ID is not tied");
        assert_eq!(
            c.tied_werbot_id("mallory"),
            None,
            "the pam.d line cannot tie"
        );
        assert_eq!(
            c.werbot_ids.len(),
            1,
            "an entry without a login is not tied"
        );
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
        assert!(
            p.warnings.iter().any(|w| w.contains("\"wid.\" ignored")),
            "{:?}",
            p.warnings
        );
        let (c, _) = ok(&[BASE[0], BASE[1], BASE[2], "werbot_id_from_login=true"]);
        assert_eq!(c.tied_werbot_id("carol"), Some("carol"));
        fs::remove_dir_all(dir).ok();
    }
}
