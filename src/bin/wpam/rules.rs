//! The pure half of `wpam check` (kept in the command, out of the library,
//! so that the module links none of it): one [`Item`] per check and how it is
//! printed, and the rules that turn facts (file modes, sshd's effective
//! configuration, the PAM stack, the API's answer) into a verdict and a fix.
//! The facts are gathered by `src/bin/wpam/`; nothing here touches the system.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[cfg(not(target_os = "openbsd"))]
use crate::pamstack::{Entry, Phase, Policy};

/// One line of the report. `name` is stable (scripts key on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// What to do, in one sentence; None when `ok`.
    pub fix: Option<String>,
    /// For timed steps (the API path).
    pub elapsed_ms: Option<u64>,
}

impl Item {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Item {
        Item {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
            elapsed_ms: None,
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
            elapsed_ms: None,
        }
    }

    /// Passes (the exit status stays 0) but says what to change.
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            fix: Some(fix.into()),
            ..Item::pass(name, detail)
        }
    }

    pub fn timed(mut self, elapsed: std::time::Duration) -> Item {
        self.elapsed_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        self
    }
}

/// Where the OpenBSD package puts the style; pkg_add's `@sample` copies it to
/// /usr/libexec/auth, the only place BSD Authentication looks.
pub const PACKAGED_STYLE: &str = "/usr/local/libexec/auth/login_-wpam";

/// `style_copy`: the style BSD Authentication runs is the package's. On
/// `pkg_add -u` an existing `@sample` copy is kept, so after an update the
/// old program may still be the one that runs.
#[cfg_attr(not(target_os = "openbsd"), allow(dead_code))]
pub fn style_copy_item(copy: &str, copy_bytes: &[u8], packaged_bytes: &[u8]) -> Item {
    if copy_bytes == packaged_bytes {
        Item::pass(
            "style_copy",
            format!("{copy} is the installed package's {PACKAGED_STYLE}"),
        )
    } else {
        Item::fail(
            "style_copy",
            format!(
                "{copy} differs from the installed package's {PACKAGED_STYLE} \
                 (pkg_add -u keeps an existing copy)"
            ),
            format!("install -o root -g auth -m 0555 {PACKAGED_STYLE} {copy}"),
        )
    }
}

/// The report for people: one line per check, ✓ or ✗, the fix under a ✗.
pub fn render_text(title: &str, items: &[Item]) -> String {
    let width = items.iter().map(|i| i.name.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n");
    for i in items {
        let mark = match (i.ok, &i.fix) {
            (false, _) => '✗',
            (true, Some(_)) => '!',
            (true, None) => '✓',
        };
        let time = i
            .elapsed_ms
            .map(|ms| format!(" ({ms} ms)"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{mark} {:<width$}  {}{time}",
            i.name,
            one_line(&i.detail)
        );
        if let Some(fix) = &i.fix {
            let _ = writeln!(out, "  {:<width$}  fix: {}", "", one_line(fix));
        }
    }
    let failed = items.iter().filter(|i| !i.ok).count();
    let warned = items.iter().filter(|i| i.ok && i.fix.is_some()).count();
    let _ = if failed == 0 && warned > 0 {
        writeln!(
            out,
            "all {} checks passed ({warned} with a warning)",
            items.len()
        )
    } else if failed == 0 {
        writeln!(out, "all {} checks passed", items.len())
    } else {
        writeln!(out, "{failed} of {} checks failed", items.len())
    };
    out
}

/// The report for machines: `{"service", "ok", "checks": [{"name", "ok",
/// "detail", "fix", "elapsed_ms"}]}`; `fix` and `elapsed_ms` are null when
/// they do not apply. These keys are stable.
pub fn render_json(service: &str, items: &[Item]) -> serde_json::Value {
    serde_json::json!({
        "service": service,
        "ok": items.iter().all(|i| i.ok),
        "checks": items.iter().map(|i| serde_json::json!({
            "name": i.name,
            "ok": i.ok,
            "detail": i.detail,
            "fix": i.fix,
            "elapsed_ms": i.elapsed_ms,
        })).collect::<Vec<_>>(),
    })
}

/// Text from files and servers on one terminal line, escaped as log lines are.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if pam_wpam::log::is_unsafe_char(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

// --- files ------------------------------------------------------------------

/// What `stat` says about a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (st_mode & 0o7777).
    pub mode: u32,
    pub nlink: u64,
    pub is_file: bool,
    pub is_dir: bool,
}

/// The module file and each directory above it: owned by root (or by the
/// user running the check, as the module accepts for its own files) and not
/// writable by group or others — OpenPAM refuses a module otherwise, and on
/// Linux whoever can write them can replace what sshd loads.
pub fn module_path_problem(
    path: &str,
    f: &FileFacts,
    trusted: impl Fn(u32) -> bool,
) -> Option<String> {
    if !trusted(f.uid) {
        return Some(format!("{path} is owned by uid {}, not root", f.uid));
    }
    if f.mode & 0o022 != 0 {
        return Some(format!(
            "{path} is writable by {} (mode {:04o})",
            if f.mode & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            f.mode
        ));
    }
    None
}

/// The module's own rules for its log file (`log.rs`): a regular file with
/// one link, owned by root; and what the packages make of it: 0640, so no
/// group write and nothing for others.
pub fn log_file_problem(
    path: &str,
    f: &FileFacts,
    trusted: impl Fn(u32) -> bool,
) -> Option<(String, String)> {
    if !f.is_file {
        return Some((
            "not a regular file: the module logs to syslog only".into(),
            format!(
                "replace it with a regular file: install -m 0640 -o root -g {} /dev/null {path}",
                crate::facts::log_group()
            ),
        ));
    }
    if !trusted(f.uid) {
        return Some((
            format!(
                "owned by uid {}: the module refuses it and logs to syslog only",
                f.uid
            ),
            format!("chown root {path} (the module writes only to a root-owned log)"),
        ));
    }
    if f.nlink != 1 {
        return Some((
            format!(
                "{} hard links: the module refuses it and logs to syslog only",
                f.nlink
            ),
            format!("remove the other links to {path} (or the file: the module creates it)"),
        ));
    }
    if f.mode & 0o027 != 0 {
        return Some((
            format!(
                "mode {:04o}: others may read it or the group may write it",
                f.mode
            ),
            format!("chmod 0640 {path}"),
        ));
    }
    None
}

// --- the PAM stack ------------------------------------------------------------

#[cfg(not(target_os = "openbsd"))]
/// `pam.stack`: the policy was read, no line of it fails every login, and
/// wpam is in it.
pub fn stack_item(service: &str, policy: &Policy) -> Item {
    let name = "pam.stack";
    let where_ = policy
        .file
        .as_ref()
        .map_or_else(|| "\"other\"".to_string(), |p| p.display().to_string());
    if let Some(e) = policy.broken().next() {
        return Item::fail(
            name,
            format!(
                "{}: {} — PAM fails every {} call of {service} through this line",
                e.place(),
                e.broken.as_deref().unwrap_or("broken line"),
                e.phase
            ),
            format!("correct or remove line {} of {}", e.line, e.file.display()),
        );
    }
    if let Some(p) = policy.problems.first() {
        return Item::fail(name, p.clone(), "correct the include in the PAM policy");
    }
    let mut parts = Vec::new();
    for phase in [Phase::Auth, Phase::Account] {
        for e in policy.wpam_lines(phase) {
            parts.push(format!("{phase} {} {}", e.place(), e.control_text));
        }
    }
    if parts.is_empty() {
        return Item::fail(
            name,
            format!("no pam_wpam.so line in the auth or account stack of {service} ({where_})"),
            format!(
                "add `auth required pam_wpam.so server_url=… service_id=… config=/etc/security/wpam.conf` \
                 (and the same `account` line) to {where_}; see pam_wpam(8)"
            ),
        );
    }
    let mut detail = parts.join("; ");
    if !policy.from_other.is_empty() {
        let _ = write!(
            detail,
            " (from \"other\": {})",
            policy
                .from_other
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Item::pass(name, detail)
}

#[cfg(not(target_os = "openbsd"))]
/// `pam.enforced`: every wpam line fails the stack when wpam fails, and no
/// earlier line can end the stack before wpam is asked.
pub fn enforcement_item(policy: &Policy) -> Item {
    let name = "pam.enforced";
    let mut ok = Vec::new();
    for phase in [Phase::Auth, Phase::Account] {
        let stack = policy.stack(phase);
        for (i, e) in stack.iter().enumerate().filter(|(_, e)| e.is_wpam()) {
            if !e.control.is_some_and(|c| c.enforces()) {
                return Item::fail(
                    name,
                    format!(
                        "{}: control {} lets a login through when wpam refuses it",
                        e.place(),
                        e.control_text
                    ),
                    format!("use `{phase} required pam_wpam.so …` at {}", e.place()),
                );
            }
            if let Some(s) = crate::pamstack::skippers(stack, i).first() {
                return Item::fail(
                    name,
                    format!(
                        "{} ({} {}) can end the {phase} stack with success before wpam at {} is asked",
                        s.place(),
                        s.control_text,
                        s.module,
                        e.place()
                    ),
                    format!(
                        "make {} `required` (or move wpam above it) so that wpam is always asked",
                        s.place()
                    ),
                );
            }
            ok.push(format!("{phase} {}", e.control_text));
        }
    }
    if ok.is_empty() {
        return Item::fail(
            name,
            "no wpam line to check",
            "add wpam to the PAM policy first",
        );
    }
    Item::pass(
        name,
        format!("a wpam refusal denies the login ({})", ok.join(", ")),
    )
}

#[cfg(not(target_os = "openbsd"))]
/// `pam.args.<phase>`: what `config::parse` says about a wpam line — the
/// same warnings and errors a login logs — plus the secret on the pam.d line.
pub fn args_item(name: &str, e: &Entry, parsed: &pam_wpam::config::Parsed) -> Item {
    settings_item(name, &e.place(), &e.args, parsed)
}

/// [`args_item`] for settings read from `place` (a pam.d line, or OpenBSD's
/// config file), whose own words are `line_args`.
pub fn settings_item(
    name: &str,
    place: &str,
    line_args: &[String],
    parsed: &pam_wpam::config::Parsed,
) -> Item {
    if let Err(err) = &parsed.config {
        return Item::fail(
            name,
            format!("{}: configuration error: {err}", place),
            match err {
                pam_wpam::config::ConfigError::ConfigFile { path, .. } => format!(
                    "make {path} a regular file owned by root, mode 0600 (chown root {path}; chmod 0600 {path})"
                ),
                pam_wpam::config::ConfigError::Missing(k) => {
                    format!("add {k}=… to the pam.d line or the config file")
                }
                pam_wpam::config::ConfigError::Invalid { key, .. } => {
                    format!("correct {key}= (see pam_wpam(8))")
                }
            },
        );
    }
    if line_args.iter().any(|a| a.starts_with("service_key=")) {
        let logged = parsed
            .warnings
            .iter()
            .find(|w| w.contains("service_key"))
            .map(|w| format!(" (config: {w})"))
            .unwrap_or_default();
        return Item::fail(
            name,
            format!(
                "{}: service_key is on the pam.d line, which every local user can read{logged}",
                place
            ),
            "move service_key into the root-only config file (config=/etc/security/wpam.conf, mode 0600)",
        );
    }
    if let Some(w) = parsed.warnings.first() {
        return Item::fail(
            name,
            format!("{}: config: {w}", place),
            "correct or remove that argument (a login logs the same WARN line)",
        );
    }
    let mut detail = format!("{}: valid", place);
    if let Ok(c) = &parsed.config {
        let _ = write!(detail, " (server {}", c.server.endpoint());
        if let Some(p) = &c.proxy {
            let _ = write!(detail, " via proxy {p}");
        }
        if !c.offline_users.is_empty() {
            let _ = write!(detail, ", offline_users {}", c.offline_users.join(","));
        }
        if c.werbot_id_from_login {
            detail.push_str(", Werbot ID = login name");
        } else if !c.werbot_ids.is_empty() {
            let _ = write!(
                detail,
                ", {} login(s) tied to a Werbot ID",
                c.werbot_ids.len()
            );
        }
        detail.push(')');
    }
    Item::pass(name, detail)
}

// --- sshd -----------------------------------------------------------------------

/// `sshd -T` output: lower-case keyword → value (the first of repeated ones).
#[derive(Debug, Default, Clone)]
pub struct SshdConfig(BTreeMap<String, String>);

impl SshdConfig {
    pub fn parse(text: &str) -> SshdConfig {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let mut it = line.trim().splitn(2, char::is_whitespace);
            if let (Some(k), v) = (it.next(), it.next()) {
                if !k.is_empty() {
                    map.entry(k.to_ascii_lowercase())
                        .or_insert_with(|| v.unwrap_or("").trim().to_string());
                }
            }
        }
        SshdConfig(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn yes(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| v.eq_ignore_ascii_case("yes"))
    }

    /// KbdInteractiveAuthentication (OpenSSH ≥ 8.7), or its old name.
    fn kbd_interactive(&self) -> Option<bool> {
        self.yes("kbdinteractiveauthentication")
            .or_else(|| self.yes("challengeresponseauthentication"))
    }
}

/// Where wpam is, for the sshd checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WpamPhases {
    pub auth: bool,
    pub account: bool,
}

/// How sshd reaches the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontend {
    /// PAM: keyboard-interactive runs the auth stack; every login runs the
    /// account stack.
    Pam,
    /// OpenBSD: keyboard-interactive (device bsdauth) runs the login style;
    /// there is no account phase.
    BsdAuth,
}

/// `sshd.use_pam`, `sshd.kbd_interactive` and `sshd.key_login`.
pub fn sshd_items(cfg: &SshdConfig, wpam: WpamPhases, frontend: Frontend) -> Vec<Item> {
    let mut out = Vec::new();
    if frontend == Frontend::Pam {
        out.push(match cfg.yes("usepam") {
            Some(true) => Item::pass("sshd.use_pam", "UsePAM yes"),
            _ => Item::fail(
                "sshd.use_pam",
                "UsePAM no: sshd never calls PAM, so wpam is never asked",
                "set `UsePAM yes` in sshd_config and reload sshd",
            ),
        });
    }
    let kbd = cfg.kbd_interactive().unwrap_or(false);
    let needs_kbd = frontend == Frontend::BsdAuth || wpam.auth;
    out.push(if kbd {
        Item::pass("sshd.kbd_interactive", "KbdInteractiveAuthentication yes")
    } else if needs_kbd {
        Item::fail(
            "sshd.kbd_interactive",
            "KbdInteractiveAuthentication no: sshd shows no prompt, so nobody can answer wpam's questions",
            "set `KbdInteractiveAuthentication yes` in sshd_config and reload sshd",
        )
    } else if wpam.account {
        Item::pass(
            "sshd.kbd_interactive",
            "KbdInteractiveAuthentication no (wpam is only in the account stack, which needs no prompt)",
        )
    } else {
        Item::pass("sshd.kbd_interactive", "KbdInteractiveAuthentication no")
    });
    out.push(key_login(cfg, wpam, frontend, kbd));
    out
}

/// Whether a key login also gets the second factor, and through which phase.
fn key_login(cfg: &SshdConfig, wpam: WpamPhases, frontend: Frontend, kbd: bool) -> Item {
    let name = "sshd.key_login";
    let methods = cfg.get("authenticationmethods").unwrap_or("any");
    let pubkey = cfg.yes("pubkeyauthentication").unwrap_or(true);
    // Each alternative list of methods that completes a login.
    let lists: Vec<Vec<&str>> = if methods.eq_ignore_ascii_case("any") {
        Vec::new()
    } else {
        methods
            .split_whitespace()
            .map(|l| l.split(',').collect())
            .collect()
    };
    let kbd_in = |l: &Vec<&str>| l.iter().any(|m| m.starts_with("keyboard-interactive"));
    // A list that logs in with a key and never asks keyboard-interactive.
    let key_only: Option<String> = if lists.is_empty() {
        pubkey.then(|| "publickey".to_string())
    } else {
        lists
            .iter()
            .find(|l| l.iter().any(|m| m.starts_with("publickey")) && !kbd_in(l))
            .map(|l| l.join(","))
    };
    let both = lists
        .iter()
        .find(|l| l.iter().any(|m| m.starts_with("publickey")) && kbd_in(l))
        .map(|l| l.join(","));
    let shown = format!("AuthenticationMethods {methods}");
    if !pubkey {
        return Item::pass(
            name,
            format!("{shown}; PubkeyAuthentication no: no key logins"),
        );
    }
    match (frontend, key_only) {
        (Frontend::BsdAuth, Some(l)) => Item::fail(
            name,
            format!(
                "{shown}: `{l}` logs in with a key alone, and BSD Authentication has no account phase: no second factor"
            ),
            "set `AuthenticationMethods publickey,keyboard-interactive:bsdauth` in sshd_config",
        ),
        (Frontend::Pam, Some(l)) if !wpam.account => Item::fail(
            name,
            format!(
                "{shown}: `{l}` alone: only the account phase runs — wpam is not in the account stack, so a key login gets no second factor"
            ),
            "add `account required pam_wpam.so …` to the PAM policy, or set \
             `AuthenticationMethods publickey,keyboard-interactive` in sshd_config",
        ),
        (Frontend::Pam, Some(l)) => Item::pass(
            name,
            format!(
                "{shown}: `{l}` alone runs only the account phase: wpam asks for a U2F approval there \
                 (Werbot ID = the login name, or its wid. entry){}",
                if wpam.auth && kbd {
                    "; keyboard-interactive logins answer wpam's prompts in the auth phase"
                } else {
                    ""
                }
            ),
        ),
        (_, None) => match both {
            Some(l) if kbd => Item::pass(
                name,
                format!("{shown}: a key login continues with keyboard-interactive (`{l}`): wpam asks in the auth phase"),
            ),
            Some(l) => Item::fail(
                name,
                format!("{shown}: `{l}` needs keyboard-interactive, which is off: key logins fail"),
                "set `KbdInteractiveAuthentication yes` in sshd_config and reload sshd",
            ),
            None => Item::pass(name, format!("{shown}: no login completes with a key alone")),
        },
    }
}

// --- the API ---------------------------------------------------------------------

/// What the answer to the request that authenticates nobody (the configured
/// service credentials, an empty Werbot ID, no code) says about the setup.
/// Pass: HTTP 200 and a JSON answer whose status is not "success" and whose
/// reason is not about the service credentials — the server took the
/// credentials and refused the empty ID ("user not found"). Anything else is
/// a failure with its fix: 401/403 (or a 200 refusal naming the
/// credentials) means the service key is refused, 404 a wrong path prefix.
pub fn api_answer(endpoint: &str, status: u16, body: &[u8]) -> Result<String, (String, String)> {
    let parsed = pam_wpam::wire::Response::parse(body);
    let reason = parsed
        .as_ref()
        .map(|r| r.reason.clone())
        .unwrap_or_default();
    let shown_reason = if reason.is_empty() {
        String::new()
    } else {
        format!(", reason {}", pam_wpam::log::quote(&reason))
    };
    let credentials = "check service_id and service_key (the config file's service_key) against \
                       this server's entry in Werbot";
    match (status, &parsed) {
        (200, Ok(r)) if r.status == pam_wpam::wire::STATUS_SUCCESS => Err((
            format!("HTTP 200 \"success\" for an empty Werbot ID{shown_reason}: this server grants a login to nobody in particular"),
            "do not use this server: report it to your Werbot administrator".into(),
        )),
        (200, Ok(r)) => {
            let lower = reason.to_ascii_lowercase();
            if ["credential", "service", "unauthori", "forbidden", "api key"]
                .iter()
                .any(|w| lower.contains(w))
            {
                Err((
                    format!("HTTP 200 {:?}{shown_reason}: the service credentials are refused", r.status),
                    credentials.into(),
                ))
            } else {
                Ok(format!(
                    "HTTP 200 {:?}{shown_reason}: the service credentials are accepted (the request named no user)",
                    r.status
                ))
            }
        }
        (200, Err(e)) => Err((
            format!("HTTP 200 but not a Werbot answer ({e})"),
            format!("check that server_url points at the Werbot API ({endpoint})"),
        )),
        (401 | 403, _) => Err((
            format!("HTTP {status}{shown_reason}: the service credentials are refused"),
            credentials.into(),
        )),
        (404, _) => Err((
            format!("HTTP 404: no Werbot API at {endpoint}"),
            "check server_url, including its path prefix".into(),
        )),
        (s, _) => Err((
            format!("HTTP {s}{shown_reason}"),
            if s >= 500 {
                "the Werbot server has a problem: ask its administrator (logins are denied meanwhile, offline users included)".into()
            } else {
                format!("check server_url ({endpoint}) and the service credentials")
            },
        )),
    }
}

/// Days from `now` to `not_after` (negative once expired), and whether that
/// is too close: a leaf that expires within this many days fails the check.
pub const CERT_WARN_DAYS: i64 = 14;

pub fn days_left(not_after_unix: i64, now_unix: i64) -> i64 {
    (not_after_unix - now_unix).div_euclid(86_400)
}

/// PAM services whose logins have no remote host (PAM_RHOST): the console,
/// su, sudo, runuser, polkit. `wpam check` of such a service looks for
/// `local_user_ip`.
pub const LOCAL_SERVICES: [&str; 9] = [
    "login",
    "su",
    "su-l",
    "sudo",
    "sudo-i",
    "runuser",
    "runuser-l",
    "polkit-1",
    "doas",
];

/// `user_ip`: a service without a remote host sends an empty userIP unless
/// `local_user_ip` is set, and the server refuses an empty userIP under
/// every IP policy (TRASA's ipfilter.go): every login there would fail.
pub fn local_user_ip_item(service: &str, local_user_ip: Option<std::net::IpAddr>) -> Option<Item> {
    if !LOCAL_SERVICES.contains(&service) {
        return None;
    }
    Some(match local_user_ip {
        Some(ip) => Item::pass(
            "user_ip",
            format!("{service} has no remote host: userIP {ip} (local_user_ip)"),
        ),
        None => Item::warn(
            "user_ip",
            format!(
                "{service} has no remote host: userIP is sent empty, which the Werbot server \
                 refuses under every IP policy (IP_POLICY_FAILED)"
            ),
            "add local_user_ip=<this host's IP address, as your Werbot IP policy knows it> \
             to the config file or the pam.d line",
        ),
    })
}

/// What `wpam check` found for one configuration's offline mode.
pub struct OfflineFacts<'a> {
    pub offline_users: &'a [String],
    pub secrets_file: Option<&'a str>,
    /// The logins with a secret, or why the file cannot be used.
    pub secrets: Result<Vec<String>, String>,
    /// Whether the state and lock files beside it are usable.
    pub state: Result<(), String>,
    pub owner: String,
}

/// `offline`: offline users skip the second factor during an outage unless
/// `offline_secrets` gives each of them a secret the module can use.
pub fn offline_item(name: &str, f: &OfflineFacts) -> Option<Item> {
    let users = f.offline_users.join(",");
    let Some(file) = f.secrets_file else {
        if f.offline_users.is_empty() {
            return None;
        }
        return Some(Item::warn(
            name,
            format!(
                "offline_users {users} without offline_secrets: these accounts skip the second \
                 factor during an outage (the first factor alone lets them in)"
            ),
            format!(
                "give each a secret (wpam offline-enroll LOGIN) and add offline_secrets={}",
                pam_wpam::offline::DEFAULT_FILE
            ),
        ));
    };
    if f.offline_users.is_empty() {
        return Some(Item::warn(
            name,
            format!("offline_secrets={file} but no offline_users: the file is never read"),
            "list the break-glass accounts in offline_users, or remove offline_secrets",
        ));
    }
    let logins = match &f.secrets {
        Ok(l) => l,
        Err(e) => {
            return Some(Item::fail(
                name,
                format!("{e}: offline users are denied during an outage"),
                format!(
                    "make {file} a regular file owned by root, mode 0600, in a directory only \
                     root can write, with LOGIN BASE32SECRET lines (wpam offline-enroll writes it)"
                ),
            ))
        }
    };
    let missing: Vec<&str> = f
        .offline_users
        .iter()
        .map(String::as_str)
        .filter(|u| !logins.iter().any(|l| l == u))
        .collect();
    if !missing.is_empty() {
        return Some(Item::fail(
            name,
            format!(
                "{file}: no secret for offline user(s) {}: they are denied during an outage",
                missing.join(",")
            ),
            format!(
                "wpam offline-enroll --file {file} LOGIN, for each of {}",
                missing.join(",")
            ),
        ));
    }
    if let Err(e) = &f.state {
        return Some(Item::fail(
            name,
            e.clone(),
            "make the state directory beside it root:root 0700 and its files root:root 0600 regular files",
        ));
    }
    Some(Item::pass(
        name,
        format!(
            "{file} ({}): offline users {users} need their own code during an outage",
            f.owner
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_service_without_local_user_ip_warns() {
        let i = local_user_ip_item("su", None).unwrap();
        assert!(i.ok && i.fix.as_deref().unwrap_or("").contains("local_user_ip"));
        assert!(render_text("t", &[i]).contains("! user_ip"));
        let i = local_user_ip_item("sudo", Some("192.0.2.1".parse().unwrap())).unwrap();
        assert!(i.ok && i.fix.is_none(), "{i:?}");
        assert!(local_user_ip_item("sshd", None).is_none());
    }

    #[test]
    fn offline_users_without_secrets_warn_and_missing_secrets_fail() {
        let users = vec!["root".to_string(), "admin".to_string()];
        let base = OfflineFacts {
            offline_users: &users,
            secrets_file: None,
            secrets: Ok(vec![]),
            state: Ok(()),
            owner: "root:root 0600".into(),
        };
        let i = offline_item("offline", &base).unwrap();
        assert!(i.ok && i.fix.is_some(), "{}", i.detail);
        assert!(i.detail.contains("skip the second factor during an outage"));
        assert!(render_text("t", &[i]).contains("! offline"));
        let f = OfflineFacts {
            secrets_file: Some("/etc/security/wpam-offline"),
            secrets: Ok(vec!["root".into()]),
            ..base
        };
        let i = offline_item("offline", &f).unwrap();
        assert!(!i.ok && i.detail.contains("admin"), "{}", i.detail);
        let f = OfflineFacts {
            secrets: Ok(vec!["root".into(), "admin".into()]),
            ..f
        };
        assert!(offline_item("offline", &f).unwrap().ok);
        let f = OfflineFacts {
            secrets: Err("mode 0644".into()),
            ..f
        };
        assert!(!offline_item("offline", &f).unwrap().ok);
        let none: Vec<String> = vec![];
        let f = OfflineFacts {
            offline_users: &none,
            secrets_file: None,
            secrets: Ok(vec![]),
            state: Ok(()),
            owner: String::new(),
        };
        assert!(offline_item("offline", &f).is_none());
    }

    fn cfg(text: &str) -> SshdConfig {
        SshdConfig::parse(text)
    }
    const BOTH: WpamPhases = WpamPhases {
        auth: true,
        account: true,
    };
    const AUTH_ONLY: WpamPhases = WpamPhases {
        auth: true,
        account: false,
    };

    fn by_name<'a>(items: &'a [Item], name: &str) -> &'a Item {
        items.iter().find(|i| i.name == name).unwrap()
    }

    #[test]
    fn the_documented_sshd_config_passes() {
        let c = cfg(
            "usepam yes\nkbdinteractiveauthentication yes\npubkeyauthentication yes\n\
                     authenticationmethods publickey,keyboard-interactive\n",
        );
        let items = sshd_items(&c, BOTH, Frontend::Pam);
        assert!(items.iter().all(|i| i.ok), "{items:?}");
        assert!(by_name(&items, "sshd.key_login")
            .detail
            .contains("auth phase"));
    }

    #[test]
    fn usepam_no_and_kbd_no_fail_with_their_fix() {
        let c = cfg("usepam no\nkbdinteractiveauthentication no\n");
        let items = sshd_items(&c, BOTH, Frontend::Pam);
        let u = by_name(&items, "sshd.use_pam");
        assert!(!u.ok && u.fix.as_deref().unwrap().contains("UsePAM yes"));
        let k = by_name(&items, "sshd.kbd_interactive");
        assert!(
            !k.ok
                && k.fix
                    .as_deref()
                    .unwrap()
                    .contains("KbdInteractiveAuthentication yes")
        );
        // The pre-8.7 name counts too.
        let c = cfg("usepam yes\nchallengeresponseauthentication yes\n");
        assert!(by_name(&sshd_items(&c, BOTH, Frontend::Pam), "sshd.kbd_interactive").ok);
    }

    #[test]
    fn a_key_alone_needs_wpam_in_the_account_stack() {
        let c =
            cfg("usepam yes\nkbdinteractiveauthentication yes\nauthenticationmethods publickey\n");
        let k = by_name(&sshd_items(&c, AUTH_ONLY, Frontend::Pam), "sshd.key_login").clone();
        assert!(
            !k.ok && k.detail.contains("only the account phase runs"),
            "{k:?}"
        );
        let k = by_name(&sshd_items(&c, BOTH, Frontend::Pam), "sshd.key_login").clone();
        assert!(k.ok && k.detail.contains("account phase"), "{k:?}");
        // "any" with keys allowed: the same.
        let c = cfg("usepam yes\nkbdinteractiveauthentication yes\nauthenticationmethods any\n");
        assert!(!by_name(&sshd_items(&c, AUTH_ONLY, Frontend::Pam), "sshd.key_login").ok);
        // OpenBSD has no account phase.
        let c = cfg("kbdinteractiveauthentication yes\nauthenticationmethods any\n");
        let items = sshd_items(&c, BOTH, Frontend::BsdAuth);
        assert!(!by_name(&items, "sshd.key_login").ok);
        assert!(items.iter().all(|i| i.name != "sshd.use_pam"));
    }

    #[test]
    fn api_answers() {
        let e = "https://h/auth/agent/nix";
        assert!(api_answer(e, 200, br#"{"status":"failed","reason":"user not found"}"#).is_ok());
        let (d, f) = api_answer(
            e,
            401,
            br#"{"status":"failed","reason":"invalid service credentials"}"#,
        )
        .unwrap_err();
        assert!(d.contains("401") && f.contains("service_key"), "{d} {f}");
        assert!(api_answer(
            e,
            200,
            br#"{"status":"failed","reason":"invalid service credentials"}"#
        )
        .is_err());
        assert!(api_answer(e, 200, br#"{"status":"success"}"#).is_err());
        assert!(api_answer(e, 200, b"<html>").is_err());
        assert!(api_answer(e, 404, b"").unwrap_err().1.contains("prefix"));
        assert!(api_answer(e, 500, b"").is_err());
    }

    #[test]
    fn file_rules() {
        let f = FileFacts {
            uid: 0,
            gid: 4,
            mode: 0o640,
            nlink: 1,
            is_file: true,
            is_dir: false,
        };
        let root = |u: u32| u == 0;
        assert_eq!(log_file_problem("l", &f, root), None);
        assert!(log_file_problem("l", &FileFacts { uid: 1000, ..f }, root).is_some());
        let (_, fix) = log_file_problem("/l", &FileFacts { mode: 0o644, ..f }, root).unwrap();
        assert_eq!(fix, "chmod 0640 /l");
        assert!(log_file_problem("l", &FileFacts { nlink: 2, ..f }, root).is_some());
        assert_eq!(
            module_path_problem("m", &FileFacts { mode: 0o755, ..f }, root),
            None
        );
        assert!(module_path_problem("m", &FileFacts { mode: 0o775, ..f }, root).is_some());
        assert!(module_path_problem("m", &FileFacts { uid: 5, ..f }, root).is_some());
    }

    #[test]
    fn an_old_style_copy_fails_with_the_copy_command() {
        let copy = "/usr/libexec/auth/login_-wpam";
        assert!(style_copy_item(copy, b"new", b"new").ok);
        let i = style_copy_item(copy, b"old", b"new");
        assert!(!i.ok);
        assert_eq!(
            i.fix.as_deref(),
            Some("install -o root -g auth -m 0555 /usr/local/libexec/auth/login_-wpam /usr/libexec/auth/login_-wpam")
        );
    }

    #[test]
    fn renderings() {
        let items = vec![
            Item::pass("a", "fine"),
            Item::fail("b.c", "broken\nline", "fix it").timed(std::time::Duration::from_millis(7)),
        ];
        let t = render_text("title", &items);
        assert!(
            t.contains("✓ a") && t.contains("✗ b.c") && t.contains("fix: fix it"),
            "{t}"
        );
        assert!(
            t.contains("(7 ms)") && t.contains("1 of 2 checks failed"),
            "{t}"
        );
        let j = render_json("sshd", &items);
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(j["checks"][1]["elapsed_ms"], 7);
        assert_eq!(days_left(86_400 * 10, 0), 10);
        assert_eq!(days_left(-1, 0), -1);
    }
}
