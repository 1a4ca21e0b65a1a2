//! The pure half of `wpam check` (kept in the command, out of the library,
//! so that the module links none of it): one [`Item`] per check and how it is
//! printed, and the rules that turn facts (file modes, sshd's effective
//! configuration, the PAM stack, the API's answer) into a verdict and a fix.
//! The facts are gathered by `src/bin/wpam/`; nothing here touches the system.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::services::LOCAL_SERVICES;

#[cfg(not(target_os = "openbsd"))]
use crate::pamstack::{Entry, Phase, Policy};

/// How bad a check's finding is. The exit status of `wpam check` is the
/// worst of them ([`Severity::exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Works, but with a consequence the admin should know (and may accept).
    Warning,
    /// Logins fail, or get in without what the setup claims.
    Failure,
}

impl Severity {
    /// The name in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Failure => "failure",
        }
    }

    /// The mark in the text report.
    pub fn mark(self) -> char {
        match self {
            Severity::Ok => '✓',
            Severity::Warning => '!',
            Severity::Failure => '✗',
        }
    }

    /// `wpam check`'s exit status: 0 every check ok, 1 warnings but no
    /// failure, 2 at least one failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Failure => 2,
        }
    }
}

/// The worst severity of a report (ok for none).
pub fn worst(items: &[Item]) -> Severity {
    items
        .iter()
        .map(|i| i.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// One line of the report. `name` is stable (scripts key on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub severity: Severity,
    pub detail: String,
    /// What to do, in one sentence; None when ok.
    pub fix: Option<String>,
    /// For timed steps (the API path).
    pub elapsed_ms: Option<u64>,
}

impl Item {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Item {
        Item {
            name: name.into(),
            severity: Severity::Ok,
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
            severity: Severity::Failure,
            detail: detail.into(),
            fix: Some(fix.into()),
            elapsed_ms: None,
        }
    }

    /// A warning: what it means, and what to change if that is not meant.
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Item {
        Item {
            severity: Severity::Warning,
            ..Item::fail(name, detail, fix)
        }
    }

    /// Nothing failed (ok or a warning).
    pub fn passed(&self) -> bool {
        self.severity != Severity::Failure
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

/// The report for people: one line per check, ✓ ok, ! warning, ✗ failure,
/// the fix under a warning or a failure, then a summary line.
pub fn render_text(title: &str, items: &[Item]) -> String {
    let width = items.iter().map(|i| i.name.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n");
    for i in items {
        let time = i
            .elapsed_ms
            .map(|ms| format!(" ({ms} ms)"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {:<width$}  {}{time}",
            i.severity.mark(),
            i.name,
            one_line(&i.detail)
        );
        if let Some(fix) = &i.fix {
            let _ = writeln!(out, "  {:<width$}  fix: {}", "", one_line(fix));
        }
    }
    let count = |s: Severity| items.iter().filter(|i| i.severity == s).count();
    let (failed, warned) = (count(Severity::Failure), count(Severity::Warning));
    let warnings = match warned {
        0 => String::new(),
        1 => " (1 with a warning)".to_string(),
        n => format!(" ({n} with a warning)"),
    };
    let _ = if failed == 0 {
        writeln!(out, "all {} checks passed{warnings}", items.len())
    } else {
        writeln!(out, "{failed} of {} checks failed{warnings}", items.len())
    };
    out
}

/// The `--json` schema's version: 2 added `severity` (1 had only `ok`).
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// The report for machines: `{"schema_version": 2, "service", "severity",
/// "ok", "checks": [{"name", "severity", "ok", "detail", "fix",
/// "elapsed_ms"}]}`. `severity` is "ok", "warning" or "failure" (the
/// top-level one is the worst, and gives the exit status 0, 1 or 2); `ok`
/// is false only for a failure (as in schema 1, where warnings passed);
/// `fix` and `elapsed_ms` are null when they do not apply. These keys are
/// stable.
pub fn render_json(service: &str, items: &[Item]) -> serde_json::Value {
    serde_json::json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "service": service,
        "severity": worst(items).as_str(),
        "ok": items.iter().all(Item::passed),
        "checks": items.iter().map(|i| serde_json::json!({
            "name": i.name,
            "severity": i.severity.as_str(),
            "ok": i.passed(),
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
/// group write and nothing for others. `group` is the packages' group for
/// it (`facts::log_group`), for the fix.
pub fn log_file_problem(
    path: &str,
    f: &FileFacts,
    trusted: impl Fn(u32) -> bool,
    group: &str,
) -> Option<(String, String)> {
    if !f.is_file {
        return Some((
            "not a regular file: the module logs to syslog only".into(),
            format!(
                "replace it with a regular file: install -m 0640 -o root -g {group} /dev/null {path}"
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
/// `pam.enforced`: every wpam line fails the stack when wpam fails (every
/// failure value of its control is `bad` or `die`, and nothing later forgets
/// it), and no earlier line can bring the stack to success without wpam
/// being asked ([`crate::pamstack::skippers`]).
pub fn enforcement_item(service: &str, policy: &Policy) -> Item {
    use crate::pamstack::{self, Action, Assume};
    let name = "pam.enforced";
    let assume = Assume::for_service(service, true);
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
            if let Some(s) = pamstack::skippers(stack, phase, i, &assume).first() {
                let jumps = s.control.is_some_and(|c| {
                    (0..pamstack::RETURNS.len()).any(|r| matches!(c.action(r), Action::Jump(_)))
                });
                let how = if jumps {
                    "one of its return values jumps over wpam"
                } else {
                    "its success ends the stack"
                };
                let rootok = if pamstack::module_name(&s.module) == "pam_rootok" {
                    format!(
                        " (pam_rootok succeeds for every login of {service}, which runs as root)"
                    )
                } else {
                    String::new()
                };
                return Item::fail(
                    name,
                    format!(
                        "{} ({} {}) can bring the {phase} stack to success without wpam at {} \
                         being asked: {how}{rootok}",
                        s.place(),
                        s.control_text,
                        s.module,
                        e.place()
                    ),
                    format!(
                        "move wpam above {0}, or give {0} a control none of whose values jumps \
                         over wpam or ends the stack (e.g. `required`), so that wpam is always asked",
                        s.place()
                    ),
                );
            }
            if pamstack::refusal_overridden(stack, phase, i, &assume) {
                return Item::fail(
                    name,
                    format!(
                        "a refusal by wpam at {} can still end the {phase} stack in success \
                         (a later `reset` forgets it)",
                        e.place()
                    ),
                    "remove the `reset` actions after wpam's line",
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
        format!(
            "a wpam refusal denies the login, and no line lets a login past wpam ({})",
            ok.join(", ")
        ),
    )
}

/// What the settings rules ask of the system (`check.rs` answers from it,
/// the unit tests for it).
pub trait Lookups {
    /// getgrnam: whether a group of this name exists.
    fn group_exists(&self, name: &str) -> Result<bool, String>;
    /// The fix for a config file the module cannot use ([`config_file_fix`]).
    fn config_file_fix(&self, path: &str) -> String;
}

/// A config file the module cannot use: a missing one is made from the
/// installed example (`example`); an existing one gets root's owner and
/// mode 0600.
pub fn config_file_fix(path: &str, missing: bool, example: &str) -> String {
    if missing {
        format!(
            "install -m 0600 -o root -g 0 {example} {path}, then set service_key= (and the \
             other settings) in it"
        )
    } else {
        format!(
            "make {path} a regular file owned by root, mode 0600 (chown root:0 {path}; chmod 0600 {path})"
        )
    }
}

/// A log file that does not exist, in a directory that does: the module
/// creates it root:root 0640 at the first login; this makes it now with the
/// packages' group. `parent_missing`: the directory must be made first.
pub fn log_file_create(path: &str, group: &str, parent: Option<&str>) -> String {
    let file = format!("install -m 0640 -o root -g {group} /dev/null {path}");
    match parent {
        Some(d) => format!("install -d -m 0755 -o root -g 0 {d} && {file}"),
        None => file,
    }
}

#[cfg(not(target_os = "openbsd"))]
/// `pam.args.<phase>`: what `config::parse` says about a wpam line — the
/// same warnings and errors a login logs — plus the secret on the pam.d line.
pub fn args_item(
    name: &str,
    e: &Entry,
    parsed: &pam_wpam::config::Parsed,
    sys: &dyn Lookups,
) -> Item {
    settings_item(name, &e.place(), &e.args, parsed, sys)
}

/// [`args_item`] for settings read from `place` (a pam.d line, or OpenBSD's
/// config file), whose own words are `line_args`.
///
/// Then the policy arguments (shown on the line): `unenrolled=allow` is a
/// warning while logins are tied to Werbot IDs and a failure when none is
/// (it applies only to tied logins); a `groups=` group that does not exist
/// ([`Lookups::group_exists`]) is a failure when included (the module denies
/// every login it would ask) and a warning when excluded (it excludes
/// nobody).
pub fn settings_item(
    name: &str,
    place: &str,
    line_args: &[String],
    parsed: &pam_wpam::config::Parsed,
    sys: &dyn Lookups,
) -> Item {
    if let Err(err) = &parsed.config {
        return Item::fail(
            name,
            format!("{}: configuration error: {err}", place),
            match err {
                pam_wpam::config::ConfigError::ConfigFile { path, .. } => sys.config_file_fix(path),
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
    let mut findings: Vec<(Severity, String, String)> = Vec::new();
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
        let _ = write!(detail, "; {}", policy_text(c));
        findings = policy_findings(c, sys);
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.0));
    let Some(severity) = findings.first().map(|f| f.0) else {
        return Item::pass(name, detail);
    };
    for (_, d, _) in &findings {
        let _ = write!(detail, "; {d}");
    }
    let fix = findings
        .iter()
        .map(|(_, _, f)| f.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Item {
        severity,
        ..Item::fail(name, detail, fix)
    }
}

/// The policy arguments as a login sees them: who is asked, the account
/// phase, unenrolled users, the remember window, reworded prompts.
fn policy_text(c: &pam_wpam::config::Config) -> String {
    use pam_wpam::config::{AccountPhase, Unenrolled};
    let g = &c.groups;
    let asks = match (g.include.is_empty(), g.exclude.is_empty()) {
        (true, true) => "asks every login".to_string(),
        (false, true) => format!("asks members of {} only", g.include.join(",")),
        (true, false) => format!("asks every login but members of {}", g.exclude.join(",")),
        (false, false) => format!(
            "asks members of {} but not of {}",
            g.include.join(","),
            g.exclude.join(",")
        ),
    };
    let mut out = format!(
        "{asks}; account_phase {}; unenrolled {}; remember {}",
        match c.account_phase {
            AccountPhase::Verify => "verify (a U2F push for a login that skipped the auth phase)",
            AccountPhase::Skip => "skip (logins that skipped the auth phase are not asked)",
        },
        match c.unenrolled {
            Unenrolled::Deny => "deny",
            Unenrolled::Allow => "allow",
        },
        match c.remember {
            Some(d) => format!(
                "{} s (a second factor is not asked again within it for the same login, address and service)",
                d.as_secs()
            ),
            None => "off".to_string(),
        }
    );
    if c.prompt_id != pam_wpam::input::PROMPT_ID {
        let _ = write!(out, "; prompt_id {}", pam_wpam::log::quote(&c.prompt_id));
    }
    if c.prompt_code != pam_wpam::input::PROMPT_CODE {
        let _ = write!(
            out,
            "; prompt_code {}",
            pam_wpam::log::quote(&c.prompt_code)
        );
    }
    if c.second_factor_only {
        out.push_str("; second_factor_only (the second factor is meant to be the only one)");
    }
    out
}

/// What the policy arguments mean for logins that the admin should hear
/// of: (severity, what, fix).
fn policy_findings(
    c: &pam_wpam::config::Config,
    sys: &dyn Lookups,
) -> Vec<(Severity, String, String)> {
    let mut out = Vec::new();
    if c.unenrolled == pam_wpam::config::Unenrolled::Allow {
        if c.werbot_ids.is_empty() && !c.werbot_id_from_login {
            out.push((
                Severity::Failure,
                "unenrolled=allow, but no login is tied to a Werbot ID (no wid. entries, no \
                 werbot_id_from_login=true): allow applies to tied logins only, so it changes \
                 nothing here (a typed Werbot ID the server does not know is always denied)"
                    .to_string(),
                "tie the logins (wid.<login>=<Werbot ID> in the config file, or \
                 werbot_id_from_login=true), or remove unenrolled=allow"
                    .to_string(),
            ));
        } else {
            out.push((
                Severity::Warning,
                "unenrolled=allow: rollout mode: a tied login whose Werbot user does not exist \
                 is admitted without a second factor (a WARN line each)"
                    .to_string(),
                "set unenrolled=deny (or remove it) once every tied login's Werbot user exists"
                    .to_string(),
            ));
        }
    }
    let named = c.groups.include.iter().map(|g| (g, true));
    for (g, included) in named.chain(c.groups.exclude.iter().map(|g| (g, false))) {
        match sys.group_exists(g) {
            Ok(true) => {}
            Ok(false) if included => out.push((
                Severity::Failure,
                format!(
                    "groups={g}: there is no group {g} on this system: the module denies every \
                     login it is asked about"
                ),
                format!("correct groups= or create the group {g} (getent group {g})"),
            )),
            Ok(false) => out.push((
                Severity::Warning,
                format!("groups=!{g}: there is no group {g} on this system: it excludes nobody"),
                format!("correct groups= or create the group {g} (getent group {g})"),
            )),
            Err(e) => out.push((
                Severity::Warning,
                format!("groups=: looking up group {g} failed ({e}); the module denies logins while it does"),
                format!("check the group database (getent group {g})"),
            )),
        }
    }
    out
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

/// What the sshd checks need to know of the PAM side (or of OpenBSD's
/// style): where wpam is, and what its lines say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WpamPhases {
    pub auth: bool,
    pub account: bool,
    /// `account_phase` of the account stack's wpam line.
    pub account_phase: pam_wpam::config::AccountPhase,
    /// `groups=!…` of the account stack's wpam line: not asked there.
    pub account_exempt: Vec<String>,
    /// The auth stack's ways to success without a first factor; None when
    /// not known (no auth stack read, OpenBSD).
    pub first_factor: Option<FirstFactor>,
    /// `second_factor_only=true` on an auth line: the admin states that the
    /// second factor is meant to be the only one.
    pub second_factor_only: bool,
}

/// The auth stack's first factor (`pamstack::without_a_factor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstFactor {
    /// A login passes on wpam's code (or an approved push) alone.
    pub wpam_alone: bool,
    /// A login wpam ignores (`groups=`) passes with nothing at all.
    pub nothing: bool,
    /// The modules that ask for a factor of their own, with their place.
    pub modules: Vec<String>,
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

/// `sshd.use_pam`, `sshd.kbd_interactive`, `sshd.key_login` and
/// `sshd.first_factor`.
pub fn sshd_items(cfg: &SshdConfig, wpam: &WpamPhases, frontend: Frontend) -> Vec<Item> {
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
    if frontend == Frontend::Pam {
        out.extend(first_factor_item(cfg, wpam, kbd));
    }
    out
}

/// sshd's AuthenticationMethods: each alternative list of methods that
/// completes a login; empty for `any` (or none set).
fn method_lists(cfg: &SshdConfig) -> (String, Vec<Vec<String>>) {
    let methods = cfg.get("authenticationmethods").unwrap_or("any");
    let lists = if methods.eq_ignore_ascii_case("any") {
        Vec::new()
    } else {
        methods
            .split_whitespace()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    (format!("AuthenticationMethods {methods}"), lists)
}

fn is_kbd(m: &str) -> bool {
    m.starts_with("keyboard-interactive")
}

/// Whether a key login also gets the second factor, and through which
/// phase: a key alone runs only the account phase, where wpam
/// (account_phase=verify) sends a U2F push — or nothing is asked at all.
/// Either way a warning that names the consequence.
fn key_login(cfg: &SshdConfig, wpam: &WpamPhases, frontend: Frontend, kbd: bool) -> Item {
    let name = "sshd.key_login";
    let (shown, lists) = method_lists(cfg);
    let pubkey = cfg.yes("pubkeyauthentication").unwrap_or(true);
    let has_key = |l: &Vec<String>| l.iter().any(|m| m.starts_with("publickey"));
    // A list that logs in with a key and never asks keyboard-interactive.
    let key_only: Option<String> = if lists.is_empty() {
        pubkey.then(|| "publickey".to_string())
    } else {
        lists
            .iter()
            .find(|l| has_key(l) && !l.iter().any(|m| is_kbd(m)))
            .map(|l| l.join(","))
    };
    let both = lists
        .iter()
        .find(|l| has_key(l) && l.iter().any(|m| is_kbd(m)))
        .map(|l| l.join(","));
    if !pubkey {
        return Item::pass(
            name,
            format!("{shown}; PubkeyAuthentication no: no key logins"),
        );
    }
    let require =
        "require it with `AuthenticationMethods publickey,keyboard-interactive` in sshd_config";
    match (frontend, key_only) {
        (Frontend::BsdAuth, Some(l)) => Item::warn(
            name,
            format!(
                "{shown}: `{l}` logs in with a key alone, and BSD Authentication has no account \
                 phase: key-only logins get no second factor"
            ),
            "require it with `AuthenticationMethods publickey,keyboard-interactive:bsdauth` in sshd_config",
        ),
        (Frontend::Pam, Some(l))
            if wpam.account
                && wpam.account_phase == pam_wpam::config::AccountPhase::Verify =>
        {
            let exempt = if wpam.account_exempt.is_empty() {
                String::new()
            } else {
                format!(
                    " (members of {} are not asked: groups=!{})",
                    wpam.account_exempt.join(","),
                    wpam.account_exempt.join(",!")
                )
            };
            Item::warn(
                name,
                format!(
                    "{shown}: `{l}` alone runs only the account phase, where wpam \
                     (account_phase=verify) asks for a U2F approval: every key-only login (scp, \
                     rsync, Ansible, root) gets a U2F push for the Werbot user named like the login \
                     (or its wid. entry){exempt}; automation fails unless excluded with \
                     groups=!<group> or account_phase=skip{}",
                    if wpam.auth && kbd {
                        "; keyboard-interactive logins answer wpam's prompts in the auth phase"
                    } else {
                        ""
                    }
                ),
                format!(
                    "exclude automation accounts with groups=!<group> on the account line, or set \
                     account_phase=skip and {require}"
                ),
            )
        }
        (Frontend::Pam, Some(l)) => Item::warn(
            name,
            format!(
                "{shown}: `{l}` alone runs only the account phase, and {}: key-only logins get no \
                 second factor",
                if wpam.account {
                    "wpam's account_phase=skip asks nothing there"
                } else {
                    "wpam is not in the account stack"
                }
            ),
            require,
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

/// `sshd.first_factor`: when sshd lets PAM alone complete a login
/// (keyboard-interactive alone, or password, which with UsePAM runs the same
/// auth stack) and the auth stack asks no first factor besides wpam, the
/// second factor is the only factor: a failure, unless the admin says so
/// with `second_factor_only=true` (then a warning that names it). A login
/// that wpam ignores (`groups=`) and the stack lets through with nothing
/// is a failure either way.
fn first_factor_item(cfg: &SshdConfig, wpam: &WpamPhases, kbd: bool) -> Option<Item> {
    let name = "sshd.first_factor";
    let ff = wpam.first_factor.as_ref().filter(|_| wpam.auth)?;
    let (shown, lists) = method_lists(cfg);
    let password =
        cfg.yes("passwordauthentication").unwrap_or(true) && cfg.yes("usepam").unwrap_or(false);
    let by_pam = |m: &str| (is_kbd(m) && kbd) || (m == "password" && password);
    let pam_alone: Option<String> = if lists.is_empty() {
        if kbd {
            Some("keyboard-interactive".into())
        } else if password {
            Some("password".into())
        } else {
            None
        }
    } else {
        lists
            .iter()
            .find(|l| !l.is_empty() && l.iter().all(|m| by_pam(m)))
            .map(|l| l.join(","))
    };
    let Some(l) = pam_alone else {
        return Some(Item::pass(
            name,
            format!("{shown}: no login completes through PAM alone (a key comes first)"),
        ));
    };
    let alone = format!("{shown}: `{l}` alone completes a login, through the PAM auth stack alone");
    let require = "set `AuthenticationMethods publickey,keyboard-interactive` in sshd_config (a key \
                   first), or let the auth stack ask for a password too (e.g. `@include common-auth` \
                   before wpam)";
    if ff.nothing {
        return Some(Item::fail(
            name,
            format!(
                "{alone}, and a login that wpam does not ask (outside groups=, PAM_IGNORE) passes \
                 that stack with no factor at all"
            ),
            format!("{require}; or make a login wpam ignores fail the stack (no pam_permit.so after wpam)"),
        ));
    }
    if ff.wpam_alone {
        let what = "the second factor is the only factor: wpam's code (or an approved push) alone \
                    logs in, no key, no password";
        return Some(if wpam.second_factor_only {
            Item::warn(
                name,
                format!("{alone}: {what} — as second_factor_only=true states"),
                format!("to require more, {require}"),
            )
        } else {
            Item::fail(
                name,
                format!("{alone}, and the stack asks nothing else: {what}"),
                format!(
                    "{require}; if the code alone is meant, say so with second_factor_only=true"
                ),
            )
        });
    }
    Some(Item::pass(
        name,
        if ff.modules.is_empty() {
            format!("{alone}; wpam's answer alone lets no login through")
        } else {
            format!("{alone}, which also asks {}", ff.modules.join(", "))
        },
    ))
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
        assert_eq!(i.severity, Severity::Warning);
        assert!(i.fix.as_deref().unwrap_or("").contains("local_user_ip"));
        assert!(render_text("t", &[i]).contains("! user_ip"));
        let i = local_user_ip_item("sudo", Some("192.0.2.1".parse().unwrap())).unwrap();
        assert!(i.severity == Severity::Ok && i.fix.is_none(), "{i:?}");
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
        assert!(
            i.severity == Severity::Warning && i.fix.is_some(),
            "{}",
            i.detail
        );
        assert!(i.detail.contains("skip the second factor during an outage"));
        assert!(render_text("t", &[i]).contains("! offline"));
        let f = OfflineFacts {
            secrets_file: Some("/etc/security/wpam-offline"),
            secrets: Ok(vec!["root".into()]),
            ..base
        };
        let i = offline_item("offline", &f).unwrap();
        assert!(!i.passed() && i.detail.contains("admin"), "{}", i.detail);
        let f = OfflineFacts {
            secrets: Ok(vec!["root".into(), "admin".into()]),
            ..f
        };
        assert_eq!(offline_item("offline", &f).unwrap().severity, Severity::Ok);
        let f = OfflineFacts {
            secrets: Err("mode 0644".into()),
            ..f
        };
        assert!(!offline_item("offline", &f).unwrap().passed());
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

    /// wpam in auth and account (account_phase=verify), the auth stack
    /// asking a password too.
    fn both() -> WpamPhases {
        WpamPhases {
            auth: true,
            account: true,
            first_factor: Some(FirstFactor {
                modules: vec!["pam_unix.so (/etc/pam.d/common-auth:17)".into()],
                ..FirstFactor::default()
            }),
            ..WpamPhases::default()
        }
    }

    fn auth_only() -> WpamPhases {
        WpamPhases {
            account: false,
            ..both()
        }
    }

    /// The shipped Debian template: `# @include common-auth`, wpam alone.
    fn wpam_alone() -> WpamPhases {
        WpamPhases {
            first_factor: Some(FirstFactor {
                wpam_alone: true,
                ..FirstFactor::default()
            }),
            ..both()
        }
    }

    fn by_name<'a>(items: &'a [Item], name: &str) -> &'a Item {
        items.iter().find(|i| i.name == name).unwrap()
    }

    const DOCUMENTED: &str =
        "usepam yes\nkbdinteractiveauthentication yes\npubkeyauthentication yes\n\
                              authenticationmethods publickey,keyboard-interactive\n";

    #[test]
    fn the_documented_sshd_config_passes() {
        let items = sshd_items(&cfg(DOCUMENTED), &both(), Frontend::Pam);
        assert!(
            items.iter().all(|i| i.severity == Severity::Ok),
            "{items:?}"
        );
        assert!(by_name(&items, "sshd.key_login")
            .detail
            .contains("auth phase"));
        // A key comes first: the code alone is no login, even with wpam alone.
        let items = sshd_items(&cfg(DOCUMENTED), &wpam_alone(), Frontend::Pam);
        let f = by_name(&items, "sshd.first_factor");
        assert!(
            f.severity == Severity::Ok && f.detail.contains("a key comes first"),
            "{f:?}"
        );
    }

    #[test]
    fn usepam_no_and_kbd_no_fail_with_their_fix() {
        let c = cfg("usepam no\nkbdinteractiveauthentication no\n");
        let items = sshd_items(&c, &both(), Frontend::Pam);
        let u = by_name(&items, "sshd.use_pam");
        assert!(!u.passed() && u.fix.as_deref().unwrap().contains("UsePAM yes"));
        let k = by_name(&items, "sshd.kbd_interactive");
        assert!(
            !k.passed()
                && k.fix
                    .as_deref()
                    .unwrap()
                    .contains("KbdInteractiveAuthentication yes")
        );
        // The pre-8.7 name counts too.
        let c = cfg("usepam yes\nchallengeresponseauthentication yes\n");
        let k = sshd_items(&c, &both(), Frontend::Pam);
        assert_eq!(by_name(&k, "sshd.kbd_interactive").severity, Severity::Ok);
    }

    #[test]
    fn a_key_alone_is_a_warning_that_names_its_consequence() {
        let c =
            cfg("usepam yes\nkbdinteractiveauthentication yes\nauthenticationmethods publickey\n");
        // Not in the account stack: no second factor at all.
        let k = by_name(
            &sshd_items(&c, &auth_only(), Frontend::Pam),
            "sshd.key_login",
        )
        .clone();
        assert_eq!(k.severity, Severity::Warning, "{k:?}");
        assert!(
            k.detail.contains("key-only logins get no second factor")
                && k.fix
                    .as_deref()
                    .unwrap()
                    .contains("publickey,keyboard-interactive"),
            "{k:?}"
        );
        // account_phase=skip: the same.
        let skip = WpamPhases {
            account_phase: pam_wpam::config::AccountPhase::Skip,
            ..both()
        };
        let k = by_name(&sshd_items(&c, &skip, Frontend::Pam), "sshd.key_login").clone();
        assert!(
            k.severity == Severity::Warning && k.detail.contains("account_phase=skip"),
            "{k:?}"
        );
        // account_phase=verify: a push for every key login, automation fails.
        let k = by_name(&sshd_items(&c, &both(), Frontend::Pam), "sshd.key_login").clone();
        assert_eq!(k.severity, Severity::Warning, "{k:?}");
        assert!(
            k.detail
                .contains("every key-only login (scp, rsync, Ansible, root) gets a U2F push")
                && k.detail.contains("groups=!<group> or account_phase=skip"),
            "{k:?}"
        );
        let exempt = WpamPhases {
            account_exempt: vec!["automation".into()],
            ..both()
        };
        let k = by_name(&sshd_items(&c, &exempt, Frontend::Pam), "sshd.key_login").clone();
        assert!(k.detail.contains("groups=!automation"), "{k:?}");
        // "any" with keys allowed: the same.
        let c = cfg("usepam yes\nkbdinteractiveauthentication yes\nauthenticationmethods any\n");
        let k = sshd_items(&c, &auth_only(), Frontend::Pam);
        assert_eq!(by_name(&k, "sshd.key_login").severity, Severity::Warning);
        // OpenBSD has no account phase.
        let c = cfg("kbdinteractiveauthentication yes\nauthenticationmethods any\n");
        let items = sshd_items(&c, &both(), Frontend::BsdAuth);
        assert_eq!(
            by_name(&items, "sshd.key_login").severity,
            Severity::Warning
        );
        assert!(items.iter().all(|i| i.name != "sshd.use_pam"));
        assert!(items.iter().all(|i| i.name != "sshd.first_factor"));
    }

    #[test]
    fn the_second_factor_as_the_only_factor_fails_unless_stated() {
        // No AuthenticationMethods, the Debian template: the code alone.
        let c = cfg("usepam yes\nkbdinteractiveauthentication yes\npasswordauthentication no\n");
        let f = by_name(
            &sshd_items(&c, &wpam_alone(), Frontend::Pam),
            "sshd.first_factor",
        )
        .clone();
        assert_eq!(f.severity, Severity::Failure, "{f:?}");
        assert!(
            f.detail.contains("the second factor is the only factor")
                && f.fix
                    .as_deref()
                    .unwrap()
                    .contains("second_factor_only=true"),
            "{f:?}"
        );
        // A list with keyboard-interactive and nothing that is not PAM.
        let c = cfg("usepam yes\nkbdinteractiveauthentication yes\n\
             authenticationmethods publickey,keyboard-interactive keyboard-interactive:pam\n");
        let f = by_name(
            &sshd_items(&c, &wpam_alone(), Frontend::Pam),
            "sshd.first_factor",
        )
        .clone();
        assert!(
            f.severity == Severity::Failure && f.detail.contains("`keyboard-interactive:pam`"),
            "{f:?}"
        );
        // Password with UsePAM runs the same stack.
        let c = cfg(
            "usepam yes\nkbdinteractiveauthentication yes\npasswordauthentication yes\n\
             authenticationmethods publickey,keyboard-interactive password\n",
        );
        let f = by_name(
            &sshd_items(&c, &wpam_alone(), Frontend::Pam),
            "sshd.first_factor",
        )
        .clone();
        assert_eq!(f.severity, Severity::Failure, "{f:?}");
        // Stated: a warning that names it.
        let stated = WpamPhases {
            second_factor_only: true,
            ..wpam_alone()
        };
        let f = by_name(&sshd_items(&c, &stated, Frontend::Pam), "sshd.first_factor").clone();
        assert!(
            f.severity == Severity::Warning && f.detail.contains("second_factor_only=true"),
            "{f:?}"
        );
        // Logins wpam ignores get in with nothing: a failure even if stated.
        let nothing = WpamPhases {
            first_factor: Some(FirstFactor {
                wpam_alone: true,
                nothing: true,
                modules: Vec::new(),
            }),
            ..stated
        };
        let f = by_name(
            &sshd_items(&c, &nothing, Frontend::Pam),
            "sshd.first_factor",
        )
        .clone();
        assert!(
            f.severity == Severity::Failure && f.detail.contains("no factor at all"),
            "{f:?}"
        );
        // A password module in the stack: fine, and named.
        let f = by_name(&sshd_items(&c, &both(), Frontend::Pam), "sshd.first_factor").clone();
        assert!(
            f.severity == Severity::Ok && f.detail.contains("pam_unix.so"),
            "{f:?}"
        );
    }

    struct Fake;
    impl Lookups for Fake {
        fn group_exists(&self, name: &str) -> Result<bool, String> {
            match name {
                "broken" => Err("NSS is down".into()),
                n => Ok(matches!(n, "wheel" | "automation")),
            }
        }
        fn config_file_fix(&self, path: &str) -> String {
            config_file_fix(path, true, "/usr/share/doc/wpam/examples/wpam.conf")
        }
    }

    fn settings(args: &[&str]) -> Item {
        let mut all = vec![
            "server_url=https://api.example.com".to_string(),
            "service_id=s".to_string(),
            "service_key=k".to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let parsed = pam_wpam::config::parse(&all);
        settings_item("pam.args.auth", "sshd:1", &[], &parsed, &Fake)
    }

    #[test]
    fn policy_arguments_are_shown_and_judged() {
        let i = settings(&[]);
        assert_eq!(i.severity, Severity::Ok, "{i:?}");
        assert!(
            i.detail.contains("asks every login; account_phase verify")
                && i.detail.contains("unenrolled deny; remember off"),
            "{i:?}"
        );
        let i = settings(&[
            "groups=wheel,!automation",
            "remember=8h",
            "account_phase=skip",
        ]);
        assert_eq!(i.severity, Severity::Ok, "{i:?}");
        assert!(
            i.detail
                .contains("asks members of wheel but not of automation")
                && i.detail.contains("account_phase skip")
                && i.detail.contains("remember 28800 s"),
            "{i:?}"
        );
        // Only exclusions: ok.
        assert_eq!(settings(&["groups=!automation"]).severity, Severity::Ok);
        // An included group that does not exist: everyone is denied.
        let i = settings(&["groups=wheel,nosuch"]);
        assert!(
            i.severity == Severity::Failure && i.detail.contains("no group nosuch"),
            "{i:?}"
        );
        // An excluded one: excludes nobody.
        let i = settings(&["groups=!nosuch"]);
        assert!(
            i.severity == Severity::Warning && i.detail.contains("excludes nobody"),
            "{i:?}"
        );
        assert_eq!(settings(&["groups=broken"]).severity, Severity::Warning);
        // unenrolled=allow: a warning with tied logins, a failure without.
        let i = settings(&["unenrolled=allow", "werbot_id_from_login=true"]);
        assert!(
            i.severity == Severity::Warning && i.detail.contains("rollout mode"),
            "{i:?}"
        );
        let i = settings(&["unenrolled=allow"]);
        assert!(
            i.severity == Severity::Failure && i.fix.as_deref().unwrap().contains("wid."),
            "{i:?}"
        );
        // Both: the failure wins, both are said.
        let i = settings(&[
            "unenrolled=allow",
            "werbot_id_from_login=true",
            "groups=nosuch",
        ]);
        assert_eq!(i.severity, Severity::Failure);
        assert!(i.detail.contains("rollout mode") && i.detail.contains("no group nosuch"));
        assert!(settings(&["second_factor_only=true"])
            .detail
            .contains("second_factor_only"));
    }

    #[test]
    fn missing_files_get_a_command_that_makes_them() {
        assert_eq!(
            config_file_fix(
                "/etc/security/wpam.conf",
                true,
                "/usr/share/doc/wpam/examples/wpam.conf"
            ),
            "install -m 0600 -o root -g 0 /usr/share/doc/wpam/examples/wpam.conf \
             /etc/security/wpam.conf, then set service_key= (and the other settings) in it"
        );
        assert!(config_file_fix("/x", false, "/e").contains("chmod 0600 /x"));
        assert_eq!(
            log_file_create("/var/log/wpam.log", "adm", None),
            "install -m 0640 -o root -g adm /dev/null /var/log/wpam.log"
        );
        assert!(log_file_create("/l/w.log", "wheel", Some("/l")).starts_with("install -d -m 0755"));
        // A config file error on the pam.d line gets the same fix.
        let parsed = pam_wpam::config::parse(&[
            "server_url=https://a".to_string(),
            "service_id=s".to_string(),
            "config=/nonexistent/wpam.conf".to_string(),
        ]);
        let i = settings_item("pam.args.auth", "sshd:1", &[], &parsed, &Fake);
        assert!(
            i.fix
                .as_deref()
                .unwrap()
                .starts_with("install -m 0600 -o root -g 0 "),
            "{i:?}"
        );
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
        assert_eq!(log_file_problem("l", &f, root, "adm"), None);
        assert!(log_file_problem("l", &FileFacts { uid: 1000, ..f }, root, "adm").is_some());
        let (_, fix) =
            log_file_problem("/l", &FileFacts { mode: 0o644, ..f }, root, "adm").unwrap();
        assert_eq!(fix, "chmod 0640 /l");
        assert!(log_file_problem("l", &FileFacts { nlink: 2, ..f }, root, "adm").is_some());
        // The fix names the group it is given (the caller asks the system).
        let (_, fix) = log_file_problem(
            "/l",
            &FileFacts {
                is_file: false,
                ..f
            },
            root,
            "wheel",
        )
        .unwrap();
        assert!(fix.contains("-g wheel /dev/null /l"), "{fix}");
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
        assert_eq!(style_copy_item(copy, b"new", b"new").severity, Severity::Ok);
        let i = style_copy_item(copy, b"old", b"new");
        assert_eq!(i.severity, Severity::Failure);
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
            Item::warn("d", "works, but", "consider"),
        ];
        let t = render_text("title", &items);
        assert!(
            t.contains("✓ a") && t.contains("✗ b.c") && t.contains("fix: fix it"),
            "{t}"
        );
        assert!(
            t.contains("(7 ms)") && t.contains("1 of 3 checks failed (1 with a warning)"),
            "{t}"
        );
        assert!(t.contains("! d") && t.contains("fix: consider"), "{t}");
        let j = render_json("sshd", &items);
        assert_eq!(j["schema_version"], 2);
        assert_eq!(j["ok"], false);
        assert_eq!(j["severity"], "failure");
        assert_eq!(j["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(j["checks"][0]["severity"], "ok");
        assert_eq!(j["checks"][1]["elapsed_ms"], 7);
        assert_eq!(j["checks"][1]["severity"], "failure");
        assert_eq!(j["checks"][2]["severity"], "warning");
        assert_eq!(j["checks"][2]["ok"], true, "a warning passes");
        assert_eq!(worst(&items).exit_code(), 2);
        assert_eq!(worst(&items[..1]).exit_code(), 0);
        assert_eq!(worst(&[items[0].clone(), items[2].clone()]).exit_code(), 1);
        let t = render_text("t", &[items[0].clone(), items[2].clone()]);
        assert!(t.contains("all 2 checks passed (1 with a warning)"), "{t}");
        let j = render_json("sshd", &[items[0].clone(), items[2].clone()]);
        assert_eq!(
            (j["severity"].as_str(), j["ok"].as_bool()),
            (Some("warning"), Some(true))
        );
        assert_eq!(days_left(86_400 * 10, 0), 10);
        assert_eq!(days_left(-1, 0), -1);
    }
}
