//! Module settings: the `key=value` arguments of the pam.d line, optionally
//! merged with a root-only config file, parsed once into a typed [`Config`].
//!
//! Guarantees: a malformed value or unknown key becomes a warning and the
//! *secure* default (never "skip TLS verification because the value was
//! garbled"); a missing required key or an unusable `server_url` is a
//! [`ConfigError`] that names the key, and the caller denies the login.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

// The file-trust rules live in trust.rs; re-exported here because they were
// `config::` API before (offline.rs and the `wpam` command still say so).
pub use crate::trust::{open_root_only, owned_by_root_only, trusted_dir};

pub const DEFAULT_LOG_FILE: &str = "/var/log/wpam.log";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server (TRASA's tfa.go) waits 60 s for the approval *after* it has
/// sent the push: a shorter wait here refuses a push the server grants. 90 s
/// leaves 30 s for sending it, and stays under sshd's LoginGraceTime (120 s).
pub const DEFAULT_U2F_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest call we allow: a U2F approval is a person walking to a device,
/// not an excuse to pin an sshd child forever.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// A config file is a handful of lines; anything bigger is not ours.
const MAX_CONFIG_FILE: u64 = 64 * 1024;

/// Where the Werbot API lives: `https://{authority}{prefix}/auth/agent/nix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// `host`, `host:port` or `[v6]:port`, exactly as it goes into the URL.
    pub authority: String,
    /// The host name or IP address alone (no brackets): what is resolved
    /// and what the certificate must name.
    pub host: String,
    pub port: u16,
    /// Empty or `/something` without a trailing slash.
    pub prefix: String,
}

impl ServerUrl {
    pub fn endpoint(&self) -> String {
        format!("https://{}{}/auth/agent/nix", self.authority, self.prefix)
    }
}

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

/// `groups=wheel,ops,!automation`: only members (primary or supplementary)
/// of an included group are asked; a member of an excluded group never is.
/// Only exclusions: everyone else is asked. Empty: everyone is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Groups {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Groups {
    pub fn is_set(&self) -> bool {
        !self.include.is_empty() || !self.exclude.is_empty()
    }

    /// Whether a login that belongs to exactly `member_of` is asked.
    pub fn asks(&self, member_of: &[String]) -> bool {
        let has = |g: &String| member_of.iter().any(|m| m == g);
        if self.exclude.iter().any(has) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(has)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccountPhase {
    /// A U2F push for a login that skipped the auth phase (the reference's
    /// account check).
    #[default]
    Verify,
    /// PAM_IGNORE: the admin requires the factor elsewhere (sshd's
    /// `AuthenticationMethods publickey,keyboard-interactive`).
    Skip,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unenrolled {
    #[default]
    Deny,
    /// A rollout mode: a tied login whose Werbot user the server does not
    /// know is admitted (WARN). Never for a typed ID.
    Allow,
}

/// The longest `remember=` window.
pub const MAX_REMEMBER: Duration = Duration::from_secs(24 * 3600);
/// Longest prompt, in bytes.
const MAX_PROMPT: usize = 200;

/// `http://[user:password@]host:port` of an HTTP CONNECT proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Host name or IP address (no brackets).
    pub host: String,
    pub port: u16,
    /// `Basic` credentials (base64 of `user:password`), from the config file
    /// only; wiped when dropped, never logged.
    pub basic_auth: Option<Zeroizing<String>>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl fmt::Display for ProxyUrl {
    /// Without the credentials: what a log line may show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
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
            "config" if allow_config => {}
            // The test suite's panic trigger (pam.rs); release builds do not know it.
            #[cfg(debug_assertions)]
            "debug_panic" => {}
            "config" => return Some("config= is not allowed inside a config file".into()),
            _ => return Some(format!("unknown argument {}", crate::log::quote(key))),
        }
        None
    }
}

/// A config file's `key=value` pairs; values are wiped when dropped (the
/// service key is one of them).
pub type Pairs = Vec<(String, Zeroizing<String>)>;

/// Reads a `key=value` file, refusing one that others could read or replace:
/// it holds the service key. Opened without following a symlink and without
/// blocking (a FIFO in its place is refused, not waited on); read with a
/// bound; every copy of the text is wiped.
pub fn read_config_file(path: &Path) -> Result<Pairs, ConfigError> {
    let err = |why: String| ConfigError::ConfigFile {
        path: path.display().to_string(),
        why,
    };
    if !path.is_absolute() {
        return Err(err("path must be absolute".into()));
    }
    let (mut file, size) = open_root_only(path, MAX_CONFIG_FILE).map_err(err)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(size as usize + 1));
    crate::sys::read_bounded(&mut file, MAX_CONFIG_FILE, &mut bytes)
        .map_err(|e| err(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| err("not UTF-8 text".into()))?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => pairs.push((
                k.trim().to_string(),
                Zeroizing::new(unquote(v.trim()).to_string()),
            )),
            None => return Err(err(format!("line {}: expected key=value", n + 1))),
        }
    }
    Ok(pairs)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
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
    let groups = parse_groups(raw.groups.as_deref())?;
    let account_phase = match raw.account_phase.as_deref().map(str::trim) {
        None | Some("verify") => AccountPhase::Verify,
        Some("skip") => AccountPhase::Skip,
        Some(v) => {
            return Err(ConfigError::Invalid {
                key: "account_phase",
                why: format!("{} is not verify or skip", crate::log::quote(v)),
            })
        }
    };
    let unenrolled = match raw.unenrolled.as_deref().map(str::trim) {
        None | Some("deny") => Unenrolled::Deny,
        Some("allow") => Unenrolled::Allow,
        Some(v) => {
            return Err(ConfigError::Invalid {
                key: "unenrolled",
                why: format!("{} is not deny or allow", crate::log::quote(v)),
            })
        }
    };
    let remember = match raw.remember.as_deref().map(str::trim) {
        None | Some("0" | "off" | "") => None,
        Some(v) => Some(parse_remember(v).ok_or_else(|| ConfigError::Invalid {
            key: "remember",
            why: format!(
                "{} is not a duration between 1s and 24h (e.g. 600, 30m, 8h)",
                crate::log::quote(v)
            ),
        })?),
    };
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
    let prompt_id = prompt_arg("prompt_id", raw.prompt_id, crate::input::PROMPT_ID)?;
    let prompt_code = prompt_arg("prompt_code", raw.prompt_code, crate::input::PROMPT_CODE)?;
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

/// `groups=a,b,!c`. A policy key is an error when garbled, never a warning:
/// a wrong reading would exempt people.
fn parse_groups(v: Option<&str>) -> Result<Groups, ConfigError> {
    let mut g = Groups::default();
    let Some(v) = v else { return Ok(g) };
    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (list, name) = match item.strip_prefix('!') {
            Some(n) => (&mut g.exclude, n.trim()),
            None => (&mut g.include, item),
        };
        let valid = !name.is_empty()
            && name.len() <= 256
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b',' | b'!' | b':'));
        if !valid {
            return Err(ConfigError::Invalid {
                key: "groups",
                why: format!("{} is not a group name", crate::log::quote(item)),
            });
        }
        list.push(name.to_string());
    }
    if !g.is_set() {
        return Err(ConfigError::Invalid {
            key: "groups",
            why: "names no group (leave it out to ask everyone)".into(),
        });
    }
    Ok(g)
}

/// `600`, `600s`, `30m`, `8h`: 1 s to [`MAX_REMEMBER`].
pub fn parse_remember(v: &str) -> Option<Duration> {
    span(
        v,
        &[("h", 3_600_000), ("m", 60_000), ("s", 1000)],
        MAX_REMEMBER,
    )
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

/// A prompt: printable text (spaces included), at most [`MAX_PROMPT`] bytes.
fn prompt_arg(key: &'static str, v: Option<String>, default: &str) -> Result<String, ConfigError> {
    let Some(v) = v else {
        return Ok(default.to_string());
    };
    if v.trim().is_empty() || v.len() > MAX_PROMPT || v.chars().any(char::is_control) {
        return Err(ConfigError::Invalid {
            key,
            why: format!(
                "must be 1 to {MAX_PROMPT} bytes of printable text, got {}",
                crate::log::quote(&v)
            ),
        });
    }
    Ok(v)
}

/// `http://[user:password@]host:port`. Credentials are refused on the
/// pam.d line (which every local user can read): the config file only.
pub fn parse_proxy(v: &str, on_pam_line: bool) -> Result<ProxyUrl, ConfigError> {
    let bad = |why: &str| ConfigError::Invalid {
        key: "proxy",
        why: why.to_string(),
    };
    let rest = match v.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &v[7..],
        _ => return Err(bad("expected http://host:port (an HTTP CONNECT proxy)")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['/', '?', '#']) {
        return Err(bad("expected http://host:port, without a path"));
    }
    let (userinfo, authority) = match rest.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    if userinfo.is_some() && on_pam_line {
        return Err(bad(
            "credentials are accepted only in the root-only config file (config=), \
             never on the pam.d line",
        ));
    }
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address inside [ ]"))?;
        (ip, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !host_ok {
        return Err(bad("bad host"));
    }
    let port = match port.map(str::parse::<u16>) {
        Some(Ok(p)) if p > 0 => p,
        _ => return Err(bad("a port is required (http://host:port)")),
    };
    let basic_auth = userinfo.map(|u| Zeroizing::new(base64(u.as_bytes())));
    Ok(ProxyUrl {
        host: host.to_string(),
        port,
        basic_auth,
    })
}

/// Standard base64 (RFC 4648), for one Proxy-Authorization header: not
/// worth a dependency.
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

fn invalid(why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: "server_url",
        why: why.into(),
    }
}

/// `host`, `host:port`, `[v6]:port`, each with an optional `/prefix` and an
/// optional leading `https://`. `http://` is refused: the service key must not
/// travel in clear.
pub fn parse_server_url(v: &str) -> Result<ServerUrl, ConfigError> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &v[8..]
    } else if lower.starts_with("http://") {
        return Err(invalid(
            "http:// is refused; the service key must not travel in clear",
        ));
    } else if v.contains("://") {
        return Err(invalid("only https:// is supported"));
    } else {
        v
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    if authority.contains('@') {
        return Err(invalid("credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or_else(|| invalid("unclosed ["))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| invalid("not an IPv6 address inside [ ]"))?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or_else(|| invalid("junk after ]"))?),
        };
        (ip, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[') {
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !ok {
            return Err(invalid(format!("bad host {}", crate::log::quote(host))));
        }
    }
    // What the certificate must name: a DNS name or an IP address.
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| {
        invalid(format!(
            "{} is not a valid host name",
            crate::log::quote(host)
        ))
    })?;
    let port = match port {
        None => 443,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(invalid(format!("bad port {}", crate::log::quote(p)))),
        },
    };
    // The prefix becomes part of a request line: only characters a URL
    // path may hold (RFC 3986 pchar and "/"), percent escapes complete.
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
        && path
            .split('%')
            .skip(1)
            .all(|t| t.len() >= 2 && t.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !path_ok {
        return Err(invalid(
            "the path prefix may hold only URL path characters (no query, fragment, spaces, \
             quotes, < > or incomplete % escapes)",
        ));
    }
    let url = ServerUrl {
        authority: authority.to_string(),
        host: host.to_string(),
        port,
        prefix: path.trim_end_matches('/').to_string(),
    };
    // The HTTP client must accept the URL as written; a URL that passes the
    // checks above but not this one would fail every call.
    let endpoint = url.endpoint();
    match endpoint.parse::<ureq::http::Uri>() {
        Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() => Ok(url),
        _ => Err(invalid(format!(
            "{} is not a URL the client can request",
            crate::log::quote(&endpoint)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn ok(args: &[&str]) -> (Config, Vec<String>) {
        let p = parse(args);
        (p.config.expect("config"), p.warnings)
    }
    const BASE: [&str; 3] = [
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
    fn policy_keys_parse_and_garbled_ones_are_errors() {
        let (c, w) = ok(&[
            BASE[0],
            BASE[1],
            BASE[2],
            "groups=wheel, ops,!automation",
            "account_phase=skip",
            "unenrolled=allow",
            "remember=8h",
            "prompt_id=Werbot user: ",
            "prompt_code=Code: ",
            "second_factor_only=true",
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.groups.include, ["wheel", "ops"]);
        assert_eq!(c.groups.exclude, ["automation"]);
        assert_eq!(c.account_phase, AccountPhase::Skip);
        assert_eq!(c.unenrolled, Unenrolled::Allow);
        assert_eq!(c.remember, Some(Duration::from_secs(8 * 3600)));
        assert_eq!(c.prompt_id, "Werbot user: ");
        assert_eq!(c.prompt_code, "Code: ");
        assert!(c.second_factor_only);

        let (d, _) = ok(&BASE);
        assert!(!d.groups.is_set());
        assert_eq!(d.account_phase, AccountPhase::Verify);
        assert_eq!(d.unenrolled, Unenrolled::Deny);
        assert_eq!(d.remember, None);
        assert_eq!(d.prompt_id, crate::input::PROMPT_ID);
        assert_eq!(d.prompt_code, crate::input::PROMPT_CODE);
        assert!(!d.second_factor_only);

        for bad in [
            "groups=",
            "groups=,",
            "groups=!",
            "groups=a:b",
            "groups=-x",
            "account_phase=Skip",
            "account_phase=no",
            "unenrolled=yes",
            "remember=25h",
            "remember=forever",
            "remember=-1",
            "prompt_id=",
            "prompt_code=a\nb",
        ] {
            let mut args = vec!["server_url=h", "service_id=s", "service_key=k"];
            args.push(bad);
            assert!(
                matches!(parse(&args).config, Err(ConfigError::Invalid { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn groups_exclusion_wins_and_inclusion_narrows() {
        let g = |v: &str| parse_groups(Some(v)).expect("groups");
        let m = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(g("wheel").asks(&m(&["users", "wheel"])));
        assert!(!g("wheel").asks(&m(&["users"])));
        assert!(!g("wheel,!bots").asks(&m(&["wheel", "bots"])));
        assert!(g("!bots").asks(&m(&["users"])));
        assert!(!g("!bots").asks(&m(&["bots"])));
        assert!(!g("!bots").asks(&m(&["Bots", "bots"])));
        // Names are exact: no case folding, no prefixes.
        assert!(!g("wheel").asks(&m(&["Wheel", "wheel2"])));
        assert!(Groups::default().asks(&[]));
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
    fn server_url_forms() {
        let cases = [
            ("host", "https://host/auth/agent/nix"),
            ("host:8443", "https://host:8443/auth/agent/nix"),
            ("[::1]:8443", "https://[::1]:8443/auth/agent/nix"),
            ("[::1]", "https://[::1]/auth/agent/nix"),
            ("host/api/", "https://host/api/auth/agent/nix"),
            ("https://host:1/p/q", "https://host:1/p/q/auth/agent/nix"),
            ("HTTPS://host", "https://host/auth/agent/nix"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_server_url(input).expect(input).endpoint(), want);
        }
    }

    #[test]
    fn server_url_rejects_clear_text_and_junk() {
        for bad in [
            "http://host",
            "ftp://host",
            "",
            "/path",
            "host:0",
            "host:99999",
            "host:x",
            "[::1",
            "[nothost]:1",
            "user@host",
            "ho st",
            "host/p?q=1",
            "[::1]x",
            "host:1/a<b",
            "host/a b",
            "host/a\"b",
            "host/%zz",
            "host/%4",
            "host/a{b}",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad} accepted");
        }
        let p = parse(&["server_url=http://h", "service_id=a", "service_key=b"]);
        let e = p.config.expect_err("refused").to_string();
        assert!(e.contains("server_url") && e.contains("http://"), "{e}");
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
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let (c, _) = ok(&BASE);
        assert!(!format!("{c:?}").contains("skey"));
    }

    fn write_conf(mode: u32, body: &str) -> (PathBuf, std::path::PathBuf) {
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
    fn config_file_supplies_secrets_and_line_overrides() {
        let (path, dir) = write_conf(
            0o600,
            "# wpam\nservice_key = \"from-file\"\nservice_id=fid\ntimeout=5\n",
        );
        let arg = format!("config={}", path.display());
        let p = parse(&["server_url=h", "service_id=line", arg.as_str()]);
        let c = p.config.expect("config");
        assert_eq!(c.service_key.as_str(), "from-file");
        assert_eq!(c.service_id, "line");
        assert_eq!(c.timeout, Duration::from_secs(5));
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_file_readable_by_others_is_refused() {
        let (path, dir) = write_conf(0o644, "service_key=k\n");
        let arg = format!("config={}", path.display());
        let p = parse(&[BASE[0], BASE[1], arg.as_str()]);
        let e = p.config.expect_err("refused").to_string();
        assert!(e.contains("0644"), "{e}");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_file_fifo_is_refused_without_blocking() {
        let (path, dir) = write_conf(0o600, "");
        fs::remove_file(&path).expect("rm");
        let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("c");
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_config_file(&path).expect_err("refused").to_string();
        assert!(e.contains("not a regular file"), "{e}");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn proxy_urls_and_where_credentials_may_be() {
        let p = parse_proxy("http://proxy.example:3128", true).expect("plain");
        assert_eq!(
            (p.host.as_str(), p.port, p.basic_auth.is_none()),
            ("proxy.example", 3128, true)
        );
        assert_eq!(p.to_string(), "http://proxy.example:3128");
        let p = parse_proxy("http://user:pa:ss@[::1]:8080/", false).expect("with credentials");
        assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
        assert_eq!(
            p.basic_auth.as_deref().map(String::as_str),
            Some("dXNlcjpwYTpzcw==")
        );
        assert!(!format!("{p:?}").contains("dXNl") && !p.to_string().contains("user"));
        let e = parse_proxy("http://user:pw@proxy:3128", true).expect_err("on the pam.d line");
        assert!(e.to_string().contains("config file"), "{e}");
        for bad in [
            "https://proxy:3128",
            "proxy:3128",
            "http://proxy",
            "http://proxy:0",
            "http://pr oxy:1",
            "http://proxy:1/x",
        ] {
            assert!(parse_proxy(bad, false).is_err(), "{bad}");
        }
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn logins_are_tied_to_werbot_ids_in_the_config_file_only() {
        let (path, dir) = write_conf(
            0o600,
            "service_key=k\nwid.alice = alice@example.com\nwid.bob=bad\u{202e}id\n",
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
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        let (c, _) = ok(&[BASE[0], BASE[1], BASE[2], "werbot_id_from_login=true"]);
        assert_eq!(c.tied_werbot_id("carol"), Some("carol"));
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn server_url_keeps_host_and_port_apart() {
        let u = parse_server_url("https://[::1]:8443/api").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
        let u = parse_server_url("api.example.com").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("api.example.com", 443));
    }

    #[test]
    fn config_file_symlink_and_missing_are_refused() {
        let (path, dir) = write_conf(0o600, "service_key=k\n");
        let link = dir.join("link.conf");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        assert!(read_config_file(&link).is_err());
        assert!(read_config_file(&dir.join("absent")).is_err());
        assert!(read_config_file(Path::new("relative.conf")).is_err());
        fs::remove_dir_all(dir).ok();
    }
}
