//! The auth and account phases, written against two small traits — [`Host`]
//! (the PAM handle: conversation, items, per-handle data) and
//! [`Transport`] (the API call) — so that every path can be tested with a
//! scripted conversation and a scripted server. No raw pointer here.

use std::time::Duration;

use crate::client::{Https, Transport};
use zeroize::Zeroizing;

use crate::config::{self, AccountPhase, Config, Unenrolled};
use crate::decision::{decide, Basis, Context, Outcome, UserIp};
use crate::input::{self, Factor};
use crate::log::{quote, quote_bytes, redact_body, Logger};
use crate::offline::{self, Verdict};
use crate::wire::{Request, METHOD_TOTP, METHOD_U2F};

pub const U2F_INFO: &str =
    "Werbot: approve this login on your security key or device (waiting for the approval)...";
/// Shown (unless silent) when the module cannot work at all: the reason is in
/// the log, not on the screen of someone who has not authenticated yet.
pub const SERVICE_ERR_INFO: &str =
    "Werbot second factor unavailable (configuration or system error; see the system log).";

/// The offline-code prompt; `{login}` is the canonical login name.
pub fn offline_prompt(login: &str) -> String {
    format!("Werbot is unreachable. Offline code for {login}: ")
}
/// Shown (unless silent) when the server refused the code or the push:
/// the same words for every reason, so that the prompt tells nobody
/// whether a typed Werbot ID exists.
pub const REFUSED_MSG: &str = "Werbot: code not accepted.";
/// Shown (unless silent) to an offline user admitted without a code.
pub const OFFLINE_ADMITTED_INFO: &str =
    "Werbot is unreachable: admitted as an offline user without a second factor.";

/// Shown when the offline code is not six digits (nothing is counted).
pub const OFFLINE_CODE_FORMAT: &str = "The offline code must be 6 digits.";

/// Where an offline user's code comes from when the API is down: the PAM
/// conversation, the OpenBSD style's terminal, or its one sshd answer.
pub trait OfflineAsk {
    /// Asks with echo off.
    fn ask(&mut self, prompt: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, ConvFailure>;
    /// Tells the user why the answer was refused.
    fn tell(&mut self, text: &str);
}

/// [`OfflineAsk`] through the PAM conversation.
struct HostAsk<'a, H: Host>(&'a mut H);

impl<H: Host> OfflineAsk for HostAsk<'_, H> {
    fn ask(&mut self, prompt: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, ConvFailure> {
        self.0.prompt(prompt, false).map(zeroize::Zeroizing::new)
    }
    fn tell(&mut self, text: &str) {
        self.0.error_msg(text);
    }
}

/// The conversation failed or the application returned no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvFailure;

/// What the flow needs from the PAM handle.
pub trait Host {
    /// Asks a question; `echo` false for secrets.
    fn prompt(&mut self, text: &str, echo: bool) -> Result<Vec<u8>, ConvFailure>;
    fn error_msg(&mut self, text: &str);
    fn info_msg(&mut self, text: &str);
    /// Whether the application gave a conversation function at all.
    fn can_converse(&mut self) -> bool;
    /// PAM_USER (asking the application for it if unset), as raw bytes.
    fn user(&mut self) -> Option<Vec<u8>>;
    /// PAM_RHOST, as raw bytes.
    fn rhost(&mut self) -> Option<Vec<u8>>;
    /// PAM_SERVICE.
    fn service(&mut self) -> Option<Vec<u8>>;
    /// The login that passed this module's auth phase on this handle.
    fn passed_auth(&self) -> Option<String>;
    fn set_passed_auth(&mut self, user: Option<&str>);
    /// The Werbot ID `login` typed earlier on this handle (a retry in the
    /// same SSH connection), if the server knew it.
    fn kept_id(&self, login: &str) -> Option<Zeroizing<String>>;
    /// Keeps (or, with None, forgets) the typed Werbot ID for retries.
    fn keep_id(&mut self, login: &str, id: Option<&str>);
}

/// Parses the arguments and opens the log: the common start of both phases.
/// Returns the logger even when the config is unusable, so the error is logged.
pub fn setup<S: AsRef<str>>(args: &[S]) -> (Logger, Result<Config, config::ConfigError>) {
    let parsed = config::parse(args);
    let mut log = Logger::open(&parsed.log_file, parsed.debug);
    for w in &parsed.warnings {
        log.warn(&format!("config: {w}"));
    }
    (log, parsed.config)
}

/// Who is logging in, from where, through what.
pub struct Who {
    pub user: String,
    /// The login's primary group (`pw_gid`), for `groups=`.
    pub gid: u32,
    /// Empty when unknown (console, su, sudo, OpenBSD's BSD Auth).
    pub rhost: String,
    /// PAM_SERVICE (lossy UTF-8; only keys `remember=`).
    pub service: String,
    /// The process runs setuid/setgid (su, sudo), see `sys::setuid_caller`.
    pub setuid_caller: bool,
}

/// How a PAM item that must be text is shown in a log line.
fn shown(b: &[u8]) -> String {
    quote_bytes(b, 256)
}

fn identify<H: Host>(host: &mut H, log: &mut Logger, phase: &str) -> Result<Who, Outcome> {
    let service = host.service().unwrap_or_default();
    let rhost = host.rhost().unwrap_or_default();
    let user = host.user().unwrap_or_default();
    log.set_context(format!(
        "{phase} service={} user={} rhost={}",
        shown(&service),
        shown(&user),
        shown(&rhost)
    ));
    let user = match String::from_utf8(user) {
        Ok(u) if !u.is_empty() => u,
        Ok(_) => {
            log.warn("no user name from the application; denied");
            return Err(Outcome::AuthErr);
        }
        Err(_) => {
            log.warn("the user name is not valid UTF-8; denied");
            return Err(Outcome::AuthErr);
        }
    };
    // One spelling for every rule keyed by login name (wid.<login>,
    // werbot_id_from_login, offline_users) and for the request's user: the
    // password database's. `ALICE` on a case-insensitive NSS source is
    // alice's account, and must not escape alice's tie to a Werbot ID.
    let (user, gid) = match crate::sys::lookup_login(&user) {
        Ok(Some(c)) => {
            if c.name != user {
                log.info(&format!(
                    "login {} is {} in the password database; using that",
                    quote(&user),
                    quote(&c.name)
                ));
            }
            (c.name, c.gid)
        }
        Ok(None) => {
            log.warn(&format!(
                "login {} is not a user of this system (getpwnam); denied before any API call",
                quote(&user)
            ));
            return Err(Outcome::AuthErr);
        }
        Err(e) => {
            log.error(&format!(
                "looking up login {} in the password database failed: {}; denied",
                quote(&user),
                crate::sys::describe("getpwnam_r", &e)
            ));
            return Err(Outcome::ServiceErr);
        }
    };
    // Sent as userIP: a value that cannot be sent as it is must not become
    // an empty userIP, which would make a remote login look local.
    let Ok(rhost) = String::from_utf8(rhost) else {
        log.warn("PAM_RHOST is not valid UTF-8 and cannot be sent as userIP; denied");
        return Err(Outcome::AuthErr);
    };
    if rhost.is_empty() {
        log.debug("no PAM_RHOST (console, su, sudo?); sending an empty userIP");
    }
    let service = String::from_utf8_lossy(&service).into_owned();
    Ok(Who {
        user,
        gid,
        rhost,
        service,
        setuid_caller: crate::sys::setuid_caller(),
    })
}

/// Whether `groups=` asks this login at all: Err(Ignore) when it does not,
/// Err(ServiceErr) when it cannot tell.
fn in_scope(config: &Config, who: &Who, log: &mut Logger) -> Result<(), Outcome> {
    if !config.groups.is_set() {
        return Ok(());
    }
    // Under su or sudo, the user who started it can make an NSS source
    // unreadable (a descriptor or memory limit), and getgrouplist drops such
    // a source without an error: a member of an included group would look
    // like a non-member and skip the factor. The lookups run in a root
    // child whose limits are put back, as the API call does.
    let found = if crate::isolate::wanted() && !config.groups.include.is_empty() {
        log.debug("groups=: membership looked up in a root child (setuid caller)");
        let deadline = std::time::Instant::now() + config.timeout;
        crate::isolate::run_raw(
            || encode_membership(&membership(config, &who.user, who.gid)),
            deadline,
            64 * 1024,
        )
        .map_err(|e| format!("groups=: {e}; denied"))
        .and_then(|m| {
            decode_membership(&m)
                .ok_or_else(|| "groups=: garbled answer of the lookup's child; denied".to_string())
        })
        .and_then(|r| r)
    } else {
        membership(config, &who.user, who.gid)
    };
    let (member_of, warnings) = match found {
        Ok(f) => f,
        Err(e) => {
            log.error(&e);
            return Err(Outcome::ServiceErr);
        }
    };
    for w in &warnings {
        log.warn(w);
    }
    if config.groups.asks(&member_of) {
        return Ok(());
    }
    log.info(&format!(
        "not asked: outside groups= (member of {}); PAM_IGNORE",
        if member_of.is_empty() {
            "none of the listed groups".to_string()
        } else {
            member_of.join(",")
        }
    ));
    Err(Outcome::Ignore)
}

/// Which of the `groups=` groups `login` belongs to, and warnings to log;
/// Err with the line to log when it cannot be told (the login is denied).
type Membership = Result<(Vec<String>, Vec<String>), String>;

fn membership(config: &Config, login: &str, gid: u32) -> Membership {
    let ids = crate::sys::group_ids(login, gid).map_err(|e| {
        format!(
            "groups=: listing the groups of {} failed: {}; denied",
            quote(login),
            crate::sys::describe("getgrouplist", &e)
        )
    })?;
    let (mut member_of, mut warnings) = (Vec::new(), Vec::new());
    let named = config.groups.include.iter().map(|g| (g, true));
    for (name, included) in named.chain(config.groups.exclude.iter().map(|g| (g, false))) {
        let group = match crate::sys::group(name) {
            Ok(Some(g)) => g,
            // A typo in an included group would exempt everyone.
            Ok(None) if included => {
                return Err(format!(
                    "groups=: there is no group {} on this system; denied (correct groups= \
                     in the config)",
                    quote(name)
                ))
            }
            Ok(None) => {
                warnings.push(format!(
                    "groups=: there is no group {} on this system; nobody is excluded by it",
                    quote(name)
                ));
                continue;
            }
            Err(e) => {
                return Err(format!(
                    "groups=: looking up group {} failed: {}; denied",
                    quote(name),
                    crate::sys::describe("getgrnam_r", &e)
                ))
            }
        };
        if is_member(&ids, &group, login, gid) {
            member_of.push(name.clone());
        }
    }
    Ok((member_of, warnings))
}

/// `M` then `m NAME` / `w TEXT` lines, or `E` then the error line. Group
/// names are printable ASCII (config/policy.rs); log lines hold no newline.
fn encode_membership(m: &Membership) -> Zeroizing<Vec<u8>> {
    let text = match m {
        Ok((member_of, warnings)) => {
            let mut t = String::from("M");
            for g in member_of {
                t.push_str(&format!("\nm {g}"));
            }
            for w in warnings {
                t.push_str(&format!("\nw {}", w.replace('\n', " ")));
            }
            t
        }
        Err(e) => format!("E{}", e.replace('\n', " ")),
    };
    Zeroizing::new(text.into_bytes())
}

fn decode_membership(b: &[u8]) -> Option<Membership> {
    let text = std::str::from_utf8(b).ok()?;
    if let Some(e) = text.strip_prefix('E') {
        return Some(Err(e.to_string()));
    }
    let mut lines = text.split('\n');
    if lines.next()? != "M" {
        return None;
    }
    let (mut member_of, mut warnings) = (Vec::new(), Vec::new());
    for l in lines {
        match l.split_at_checked(2)? {
            ("m ", g) => member_of.push(g.to_string()),
            ("w ", w) => warnings.push(w.to_string()),
            _ => return None,
        }
    }
    Some(Ok((member_of, warnings)))
}

/// The state key of a remote login: a remote IP address and a plain
/// service name (never su, sudo or the console, which have no address).
fn remote_key(who: &Who) -> Option<crate::remember::Key<'_>> {
    let plain = |s: &str| !s.is_empty() && !s.chars().any(char::is_control);
    (who.rhost.parse::<std::net::IpAddr>().is_ok() && plain(&who.service)).then_some(
        crate::remember::Key {
            service: &who.service,
            login: &who.user,
            rhost: &who.rhost,
        },
    )
}

/// Whether `who` belongs to `group`: by `ids` (getgrouplist), or by the
/// group's own entry. getgrouplist leaves out, without an error, a source
/// it could not read (an LDAP or SSSD source, or systemd's, under a setuid
/// caller's descriptor limit), and "not a member" of an included group is
/// what skips the factor: the group entry, whose lookup reports its
/// errors, has a say too.
fn is_member(ids: &[u32], group: &crate::sys::Group, login: &str, gid: u32) -> bool {
    ids.contains(&group.gid) || group.gid == gid || group.members.iter().any(|m| m == login)
}

/// The `remember=` key of this login, when it may be remembered.
fn remember_key<'a>(config: &Config, who: &'a Who) -> Option<crate::remember::Key<'a>> {
    config.remember?;
    remote_key(who)
}

/// The Werbot ID typed earlier for this login on this handle, or, under
/// sshd (which forks a child per attempt and so loses the handle's data),
/// in this SSH connection.
fn kept_id<H: Host>(host: &H, config: &Config, who: &Who) -> Option<Zeroizing<String>> {
    if let Some(id) = host.kept_id(&who.user) {
        return Some(id);
    }
    let process = crate::sys::sshd_connection()?;
    let conn = crate::remember::Connection {
        process: &process,
        key: remote_key(who)?,
    };
    crate::remember::kept_id(&config.remember_dir, &conn, offline::unix_now())
}

fn keep_id<H: Host>(host: &mut H, config: &Config, who: &Who, log: &mut Logger, id: Option<&str>) {
    host.keep_id(&who.user, id);
    let (Some(process), Some(key)) = (crate::sys::sshd_connection(), remote_key(who)) else {
        return;
    };
    let conn = crate::remember::Connection {
        process: &process,
        key,
    };
    if let Err(e) = crate::remember::keep_id(&config.remember_dir, &conn, id, offline::unix_now()) {
        log.debug(&format!("the typed Werbot ID is not kept for a retry: {e}"));
    }
}

/// A grant of the server for this login, address and service within the
/// `remember=` window.
fn remembered(config: &Config, who: &Who, log: &mut Logger) -> bool {
    let (Some(window), Some(key)) = (config.remember, remember_key(config, who)) else {
        return false;
    };
    match crate::remember::fresh(&config.remember_dir, &key, window, offline::unix_now()) {
        Ok(Some(age)) => {
            log.info(&format!(
                "second factor granted by the server {age} s ago for this login, address and \
                 service (remember={} s); admitted without asking",
                window.as_secs()
            ));
            true
        }
        Ok(None) => false,
        Err(e) => {
            log.warn(&format!("remember=: {e}; asking as usual"));
            false
        }
    }
}

fn remember_grant(config: &Config, who: &Who, log: &mut Logger) {
    if let Some(key) = remember_key(config, who) {
        if let Err(e) = crate::remember::record(&config.remember_dir, &key, offline::unix_now()) {
            log.warn(&format!("remember=: {e}; this grant is not remembered"));
        }
    }
}

/// The configuration, or the logged reason why there is none.
fn usable<H: Host>(
    host: &mut H,
    log: &mut Logger,
    config: Result<Config, config::ConfigError>,
    silent: bool,
) -> Result<Config, Outcome> {
    config.map_err(|e| {
        log.error(&format!("configuration error: {e}; denied"));
        if !silent {
            host.error_msg(SERVICE_ERR_INFO);
        }
        Outcome::ServiceErr
    })
}

/// `pam_sm_authenticate`.
pub fn authenticate_entry<H: Host>(host: &mut H, args: &[&str], silent: bool) -> Outcome {
    let (mut log, config) = setup(args);
    let who = match identify(host, &mut log, "auth") {
        Ok(w) => w,
        Err(o) => return o,
    };
    let config = match usable(host, &mut log, config, silent) {
        Ok(c) => c,
        Err(o) => return o,
    };
    let outcome = authenticate(
        host,
        &config,
        &Https { config: &config },
        &mut log,
        &who,
        silent,
    );
    host.set_passed_auth((outcome == Outcome::Success).then_some(who.user.as_str()));
    outcome
}

fn authenticate<H: Host, T: Transport>(
    host: &mut H,
    config: &Config,
    transport: &T,
    log: &mut Logger,
    who: &Who,
    silent: bool,
) -> Outcome {
    if let Err(o) = in_scope(config, who, log) {
        return o;
    }
    if remembered(config, who, log) {
        return Outcome::Success;
    }
    // A login tied to a Werbot ID by the config file is not asked for one:
    // whoever is at the prompt cannot pick another Werbot user to approve.
    let (werbot_id, source) = match config.tied_werbot_id(&who.user) {
        Some(id) => {
            log.debug("Werbot ID tied to this login by the config file; no ID prompt");
            (Zeroizing::new(id.to_string()), IdSource::Tied)
        }
        None => match kept_id(host, config, who) {
            Some(id) => {
                log.debug("Werbot ID typed earlier in this connection; not asked again");
                (id, IdSource::Typed)
            }
            None => {
                // Wiped: someone may type their password here.
                let raw_id = match host.prompt(&config.prompt_id, true) {
                    Ok(a) => Zeroizing::new(a),
                    Err(ConvFailure) => {
                        log.warn("conversation failed at the Werbot ID prompt");
                        return Outcome::ConvErr;
                    }
                };
                match input::werbot_id(&raw_id) {
                    Ok(id) => (Zeroizing::new(id), IdSource::Typed),
                    Err(e) => {
                        host.error_msg(&e.to_string());
                        log.warn(&format!("Werbot ID refused locally: {e}"));
                        return Outcome::AuthErr;
                    }
                }
            }
        },
    };
    let raw_code = match host.prompt(&config.prompt_code, false) {
        Ok(a) => Zeroizing::new(a),
        Err(ConvFailure) => {
            log.warn("conversation failed at the code prompt");
            return Outcome::ConvErr;
        }
    };
    let factor = match input::factor(&raw_code) {
        Ok(f) => f,
        Err(e) => {
            host.error_msg(&e.to_string());
            log.warn(&format!(
                "wID={} code refused locally: {e}",
                shown_id(&werbot_id, source, false)
            ));
            return Outcome::AuthErr;
        }
    };
    if factor == Factor::U2f && !silent {
        host.info_msg(U2F_INFO);
    }
    let called = call(
        config,
        transport,
        log,
        who,
        (&werbot_id, source),
        &factor,
        &mut HostAsk(host),
    );
    if source == IdSource::Typed {
        // Kept for a retry only once the server knew it, and only while
        // the login has not succeeded.
        let retry = matches!(called.basis, Some(Basis::Refused { id_known: true }));
        keep_id(host, config, who, log, retry.then_some(werbot_id.as_str()));
    }
    finish(host, config, log, who, &called, silent)
}

/// What the user is told, and what is remembered, after a call.
fn finish<H: Host>(
    host: &mut H,
    config: &Config,
    log: &mut Logger,
    who: &Who,
    called: &Called,
    silent: bool,
) -> Outcome {
    if !silent {
        match (called.outcome, called.basis) {
            (Outcome::ServiceErr, _) => host.error_msg(SERVICE_ERR_INFO),
            (Outcome::AuthErr, Some(Basis::Refused { .. })) => host.error_msg(REFUSED_MSG),
            // (Only without offline codes: with them, call() gives the
            // offline code's outcome with no basis.)
            (Outcome::Success, Some(Basis::Offline)) => host.info_msg(OFFLINE_ADMITTED_INFO),
            _ => {}
        }
    }
    if called.outcome == Outcome::Success && called.basis == Some(Basis::Granted) {
        remember_grant(config, who, log);
    }
    called.outcome
}

/// `pam_sm_acct_mgmt`.
pub fn account_entry<H: Host>(host: &mut H, args: &[&str], silent: bool) -> Outcome {
    let (mut log, config) = setup(args);
    let who = match identify(host, &mut log, "account") {
        Ok(w) => w,
        Err(o) => return o,
    };
    let config = match usable(host, &mut log, config, silent) {
        Ok(c) => c,
        Err(o) => return o,
    };
    account(
        host,
        &config,
        &Https { config: &config },
        &mut log,
        &who,
        silent,
    )
}

fn account<H: Host, T: Transport>(
    host: &mut H,
    config: &Config,
    transport: &T,
    log: &mut Logger,
    who: &Who,
    silent: bool,
) -> Outcome {
    if host.passed_auth().as_deref() == Some(who.user.as_str()) {
        log.debug("auth phase already passed on this handle; no second call");
        return Outcome::Success;
    }
    if config.account_phase == AccountPhase::Skip {
        log.info(
            "account phase without this module's auth phase (a key-only login?): \
             account_phase=skip; PAM_IGNORE",
        );
        return Outcome::Ignore;
    }
    if let Err(o) = in_scope(config, who, log) {
        return o;
    }
    // cron, at, systemd --user and a cached sudo run the account phase for a
    // local user with PAM_SILENT and nobody to approve a push. Remote
    // logins (PAM_RHOST set) and interactive local ones still get the check.
    if silent && who.rhost.is_empty() {
        log.info(
            "account phase of a non-interactive local caller (PAM_SILENT, no PAM_RHOST): \
             no U2F push; PAM_IGNORE",
        );
        return Outcome::Ignore;
    }
    if remembered(config, who, log) {
        return Outcome::Success;
    }
    // No second factor was given through this module (e.g. a publickey-only
    // SSH login): the reference's account check, a U2F approval for the
    // Werbot user tied to the login, or named like it. The user must be told
    // to approve.
    if !silent {
        if !host.can_converse() {
            log.warn("no conversation function to announce the U2F approval; PAM_CONV_ERR");
            return Outcome::ConvErr;
        }
        host.info_msg(U2F_INFO);
    }
    // Without a tie, the login name (the reference's rule): not chosen by
    // the user, but no tie either, so `unenrolled=allow` does not apply.
    let (werbot_id, source) = match config.tied_werbot_id(&who.user) {
        Some(id) => (id, IdSource::Tied),
        None => (who.user.as_str(), IdSource::LoginName),
    };
    // An offline admission here (a publickey-only login during an outage)
    // needs the offline code too: sshd's account-phase conversation cannot
    // prompt, so there it fails and the login is denied.
    let called = call(
        config,
        transport,
        log,
        who,
        (werbot_id, source),
        &Factor::U2f,
        &mut HostAsk(host),
    );
    finish(host, config, log, who, &called, silent)
}

/// Where the Werbot ID of a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// The config: `wid.<login>` or `werbot_id_from_login`.
    Tied,
    /// The login name, for want of a tie (the account phase, the OpenBSD
    /// style): logged in full, but no tie for `unenrolled=allow`.
    LoginName,
    /// Typed by whoever is at the prompt.
    Typed,
}

/// How a Werbot ID is written in the log: a typed one in full only once
/// the server has shown that it knows it; before that it may be a
/// password typed at the wrong prompt, so only its start and length.
fn shown_id(id: &str, source: IdSource, known: bool) -> String {
    if source != IdSource::Typed || known {
        return quote(id);
    }
    let start: String = id.chars().take(2).collect();
    format!(
        "{}…(typed, {} bytes, not known to the server)",
        quote(&start),
        id.len()
    )
}

/// The result of one call: the outcome, and what it rests on (None when no
/// decision of the table was reached, e.g. a local offline-code error).
struct Called {
    outcome: Outcome,
    basis: Option<Basis>,
}

/// One API check over HTTPS and its decision, logged, with the offline
/// code asked through `ask` when that decision is an offline admission:
/// the core shared by the PAM module and the OpenBSD login style (whose
/// Werbot ID comes from its config, [`IdSource::Tied`], or is the login
/// name, [`IdSource::LoginName`]; never typed).
pub fn verify(
    config: &Config,
    log: &mut Logger,
    who: &Who,
    werbot_id: (&str, IdSource),
    factor: &Factor,
    ask: &mut dyn OfflineAsk,
) -> Outcome {
    call(config, &Https { config }, log, who, werbot_id, factor, ask).outcome
}

fn call<T: Transport>(
    config: &Config,
    transport: &T,
    log: &mut Logger,
    who: &Who,
    (werbot_id, source): (&str, IdSource),
    factor: &Factor,
    ask: &mut dyn OfflineAsk,
) -> Called {
    let (method, code, timeout): (&'static str, &str, Duration) = match factor {
        Factor::Totp(c) => (METHOD_TOTP, c.as_str(), config.timeout),
        Factor::U2f => (METHOD_U2F, "", config.u2f_timeout),
    };
    // No remote host (su, sudo, console): the configured address of this
    // host, as TRASA refuses an empty userIP under every IP policy.
    let (user_ip, user_ip_kind) = if who.rhost.is_empty() {
        match config.local_user_ip {
            Some(ip) => (ip.to_string(), UserIp::Ip),
            None => (String::new(), UserIp::Empty),
        }
    } else if who.rhost.parse::<std::net::IpAddr>().is_ok() {
        (who.rhost.clone(), UserIp::Ip)
    } else {
        (who.rhost.clone(), UserIp::Name)
    };
    let request = Request {
        service_id: &config.service_id,
        service_key: &config.service_key,
        user: &who.user,
        tfa_method: method,
        totp_code: code,
        user_ip: &user_ip,
        werbot_id,
    };
    let body = request.to_body();
    if config.insecure_skip_verify {
        log.warn("insecure_skip_verify is set: the server's TLS certificate is NOT verified");
    }
    if log.debug_enabled() {
        let shown = shown_id(werbot_id, source, false);
        log.debug(&format!(
            "request POST {} body={}",
            config.server.endpoint(),
            Request {
                werbot_id: &shown,
                ..request
            }
            .redacted()
        ));
    }
    let started = std::time::Instant::now();
    let result = transport.post(&config.server, &body, timeout);
    drop(body);
    if log.debug_enabled() {
        let elapsed = started.elapsed().as_millis();
        match &result {
            Ok(a) => log.debug(&format!(
                "response HTTP {} in {elapsed} ms body={}",
                a.status,
                redact_body(&a.body)
            )),
            Err(e) => log.debug(&format!(
                "no response after {elapsed} ms: {}",
                quote(&format!("{e:?}"))
            )),
        }
    }
    let ctx = Context {
        offline_user: config.is_offline_user(&who.user),
        setuid_caller: who.setuid_caller,
        user_ip: user_ip_kind,
        admit_unenrolled: config.unenrolled == Unenrolled::Allow && source == IdSource::Tied,
    };
    let d = decide(&result, ctx);
    let known = matches!(d.basis, Basis::Granted | Basis::Refused { id_known: true });
    let prefix = format!("wID={} method={method}", shown_id(werbot_id, source, known));
    match (&config.offline_secrets, &result) {
        // Only an undelivered request admits offline (the table's rule).
        (Some(path), Err(e)) if d.basis == Basis::Offline => {
            log.info(&format!(
                "{prefix} Werbot API unavailable ({}); offline user: asking for the offline code",
                quote(&e.to_string())
            ));
            Called {
                outcome: offline_code(path, log, &who.user, &prefix, ask),
                basis: None,
            }
        }
        _ => {
            log.log(d.level, &format!("{prefix} {}", d.message));
            Called {
                outcome: d.outcome,
                basis: Some(d.basis),
            }
        }
    }
}

/// An offline user during an outage with `offline_secrets` set: in only
/// with a valid, unused code of their own secret, not rate-limited. The
/// file is read before the prompt: without a secret there is nothing to ask.
fn offline_code(
    path: &std::path::Path,
    log: &mut Logger,
    login: &str,
    prefix: &str,
    ask: &mut dyn OfflineAsk,
) -> Outcome {
    let secrets = match offline::Secrets::load(path) {
        Ok(s) => s,
        Err(e) => {
            log.error(&format!("{prefix} configuration error: {e}; denied"));
            return Outcome::ServiceErr;
        }
    };
    let Some(secret) = secrets.get(login) else {
        log.error(&format!(
            "{prefix} offline user {} has no secret in offline_secrets {} \
             (wpam offline-enroll {login}); denied",
            quote(login),
            path.display()
        ));
        return Outcome::ServiceErr;
    };
    let raw = match ask.ask(&offline_prompt(login)) {
        Ok(a) => a,
        Err(ConvFailure) => {
            log.warn(&format!(
                "{prefix} conversation failed at the offline-code prompt; denied"
            ));
            return Outcome::ConvErr;
        }
    };
    let Some(code) = offline::parse_code(&raw) else {
        ask.tell(OFFLINE_CODE_FORMAT);
        log.warn(&format!(
            "{prefix} offline code refused locally: not 6 digits; denied"
        ));
        return Outcome::AuthErr;
    };
    match offline::check(path, login, secret, &code, offline::unix_now()) {
        Ok(Verdict::Granted { step }) => {
            log.info(&format!(
                "{prefix} valid offline code (time step {step}); admitted as offline user"
            ));
            Outcome::Success
        }
        Ok(Verdict::Wrong { failures }) => {
            log.warn(&format!(
                "{prefix} wrong offline code ({failures} of {} failures allowed in {} s); denied",
                offline::MAX_FAILURES,
                offline::WINDOW
            ));
            Outcome::AuthErr
        }
        Ok(Verdict::Replayed { failures }) => {
            log.warn(&format!(
                "{prefix} offline code already used (its time step was accepted before; \
                 counted as failure {failures} of {}); denied",
                offline::MAX_FAILURES
            ));
            Outcome::AuthErr
        }
        Ok(Verdict::RateLimited { retry_in }) => {
            ask.tell(&format!(
                "Too many wrong offline codes: try again in {retry_in} seconds."
            ));
            log.warn(&format!(
                "{prefix} offline codes rate-limited: {} failures within {} s; \
                 denied without checking the code (retry in {retry_in} s)",
                offline::MAX_FAILURES,
                offline::WINDOW
            ));
            Outcome::AuthErr
        }
        Err(e) => {
            log.error(&format!("{prefix} {e}; denied"));
            Outcome::ServiceErr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{CallError, HttpAnswer, Step};
    use crate::config::ServerUrl;
    use crate::input::{PROMPT_CODE, PROMPT_ID};
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// A scripted conversation: expected prompts with their answers, used up
    /// in order; messages are recorded.
    #[derive(Default)]
    struct Script {
        answers: VecDeque<(&'static str, Result<Vec<u8>, ConvFailure>)>,
        messages: Vec<String>,
        passed: Option<String>,
        rhost: Option<String>,
        kept: Option<(String, String)>,
    }

    impl Script {
        fn new(answers: &[(&'static str, Result<&[u8], ConvFailure>)]) -> Script {
            Script {
                answers: answers
                    .iter()
                    .map(|(p, a)| (*p, a.map(<[u8]>::to_vec)))
                    .collect(),
                rhost: Some("192.0.2.7".into()),
                ..Script::default()
            }
        }
        fn done(&self) {
            assert!(
                self.answers.is_empty(),
                "unused answers: {:?}",
                self.answers.len()
            );
        }
    }

    impl Host for Script {
        fn prompt(&mut self, text: &str, _echo: bool) -> Result<Vec<u8>, ConvFailure> {
            let (want, answer) = self.answers.pop_front().expect("unexpected prompt");
            assert_eq!(text, want);
            answer
        }
        fn error_msg(&mut self, text: &str) {
            self.messages.push(format!("error: {text}"));
        }
        fn info_msg(&mut self, text: &str) {
            self.messages.push(format!("info: {text}"));
        }
        fn can_converse(&mut self) -> bool {
            true
        }
        fn user(&mut self) -> Option<Vec<u8>> {
            Some(b"alice".to_vec())
        }
        fn rhost(&mut self) -> Option<Vec<u8>> {
            self.rhost.clone().map(String::into_bytes)
        }
        fn service(&mut self) -> Option<Vec<u8>> {
            Some(b"sshd".to_vec())
        }
        fn passed_auth(&self) -> Option<String> {
            self.passed.clone()
        }
        fn set_passed_auth(&mut self, user: Option<&str>) {
            self.passed = user.map(str::to_string);
        }
        fn kept_id(&self, login: &str) -> Option<Zeroizing<String>> {
            self.kept
                .as_ref()
                .filter(|(l, _)| l == login)
                .map(|(_, id)| Zeroizing::new(id.clone()))
        }
        fn keep_id(&mut self, login: &str, id: Option<&str>) {
            self.kept = id.map(|i| (login.to_string(), i.to_string()));
        }
    }

    /// A scripted server: records each request body and answers in turn.
    struct Server {
        calls: RefCell<Vec<(serde_json::Value, Duration)>>,
        answer: fn() -> Result<HttpAnswer, CallError>,
    }

    impl Transport for Server {
        fn post(
            &self,
            _: &ServerUrl,
            body: &[u8],
            timeout: Duration,
        ) -> Result<HttpAnswer, CallError> {
            let v = serde_json::from_slice(body).expect("json body");
            self.calls.borrow_mut().push((v, timeout));
            (self.answer)()
        }
    }

    fn server(answer: fn() -> Result<HttpAnswer, CallError>) -> Server {
        Server {
            calls: RefCell::new(Vec::new()),
            answer,
        }
    }
    fn success() -> Result<HttpAnswer, CallError> {
        Ok(HttpAnswer {
            status: 200,
            body: zeroize::Zeroizing::new(br#"{"status":"success"}"#.to_vec()),
        })
    }
    fn unreachable() -> Result<HttpAnswer, CallError> {
        Err(CallError::Undelivered {
            step: Step::Connect,
            timed_out: false,
            detail: "refused".into(),
        })
    }

    fn config(extra: &[&str]) -> Config {
        let mut args = vec![
            "server_url=h",
            "service_id=sid",
            "service_key=skey",
            "timeout=7",
            "u2f_timeout=42",
        ];
        // Never /run/wpam: tests share a parent process, which would look
        // like one SSH connection keeping a typed ID.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let state = format!(
            "remember_dir={}",
            std::env::temp_dir()
                .join(format!(
                    "wpam-flow-state-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ))
                .display()
        );
        args.push(&state);
        args.extend_from_slice(extra);
        config::parse(&args).config.expect("config")
    }
    fn who() -> Who {
        Who {
            user: "alice".into(),
            gid: 0,
            rhost: "192.0.2.7".into(),
            service: "sshd".into(),
            setuid_caller: false,
        }
    }
    #[test]
    fn only_a_remote_address_and_a_plain_service_make_a_remember_key() {
        let with = |rhost: &str, service: &str| {
            remote_key(&Who {
                rhost: rhost.into(),
                service: service.into(),
                ..who()
            })
            .is_some()
        };
        assert!(with("192.0.2.7", "sshd"));
        assert!(with("2001:db8::7", "sshd"));
        // su, sudo, the console: no address, never remembered.
        assert!(!with("", "su"));
        assert!(!with("tty1", "login"));
        assert!(!with("host.example", "sshd"));
        // A service name that is empty or carries a control character.
        assert!(!with("192.0.2.7", ""));
        assert!(!with("192.0.2.7", "ss\nhd"));
    }

    fn auth(script: &mut Script, srv: &Server, extra: &[&str], silent: bool) -> Outcome {
        authenticate(
            script,
            &config(extra),
            srv,
            &mut Logger::discard(),
            &who(),
            silent,
        )
    }

    #[test]
    fn totp_sends_the_reference_request() {
        let mut s = Script::new(&[
            (PROMPT_ID, Ok(b" a@example.com ")),
            (PROMPT_CODE, Ok(b"123456")),
        ]);
        let srv = server(success);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::Success);
        s.done();
        let calls = srv.calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].0,
            serde_json::json!({"serviceID":"sid","serviceKey":"skey","user":"alice",
            "tfaMethod":"totp","totpCode":"123456","userIP":"192.0.2.7","wID":"a@example.com"})
        );
        assert_eq!(calls[0].1, Duration::from_secs(7));
        assert!(s.messages.is_empty());
    }

    #[test]
    fn empty_code_is_u2f_with_its_own_timeout_and_a_notice() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@example.com")), (PROMPT_CODE, Ok(b""))]);
        let srv = server(success);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::Success);
        let calls = srv.calls.borrow();
        assert_eq!(calls[0].0["tfaMethod"], "U2F");
        assert_eq!(calls[0].0["totpCode"], "");
        assert_eq!(calls[0].1, Duration::from_secs(42));
        assert_eq!(s.messages, [format!("info: {U2F_INFO}")]);
    }

    #[test]
    fn silent_suppresses_the_u2f_notice() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@example.com")), (PROMPT_CODE, Ok(b""))]);
        assert_eq!(auth(&mut s, &server(success), &[], true), Outcome::Success);
        assert!(s.messages.is_empty());
    }

    #[test]
    fn malformed_code_is_refused_without_a_call() {
        let mut s = Script::new(&[
            (PROMPT_ID, Ok(b"a@example.com")),
            (PROMPT_CODE, Ok(b"12345")),
        ]);
        let srv = server(success);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::AuthErr);
        assert!(srv.calls.borrow().is_empty());
        assert!(s.messages[0].starts_with("error: The code must be"));
    }

    #[test]
    fn bad_id_is_refused_before_the_code_prompt() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a\nb"))]);
        let srv = server(success);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::AuthErr);
        s.done();
        assert!(srv.calls.borrow().is_empty());
    }

    #[test]
    fn conversation_failure_is_conv_err() {
        let mut s = Script::new(&[(PROMPT_ID, Err(ConvFailure))]);
        assert_eq!(auth(&mut s, &server(success), &[], false), Outcome::ConvErr);
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Err(ConvFailure))]);
        assert_eq!(auth(&mut s, &server(success), &[], false), Outcome::ConvErr);
    }

    #[test]
    fn offline_user_is_admitted_only_when_listed() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        assert_eq!(
            auth(
                &mut s,
                &server(unreachable),
                &["offline_users=bob,alice"],
                false
            ),
            Outcome::Success
        );
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        assert_eq!(
            auth(&mut s, &server(unreachable), &["offline_users=bob"], false),
            Outcome::AuthInfoUnavail
        );
    }

    /// A root-only temp directory with an `offline_secrets` file for alice
    /// (RFC 6238's SHA-1 seed), removed on drop.
    struct Offline {
        dir: std::path::PathBuf,
        file: std::path::PathBuf,
    }

    impl Offline {
        const SEED: &'static [u8] = b"12345678901234567890";

        fn new(text: &str) -> Offline {
            use std::os::unix::fs::PermissionsExt;
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "wpam-flow-offline-{}-{}",
                std::process::id(),
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            let file = dir.join("wpam-offline");
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            Offline { dir, file }
        }
        fn alice() -> Offline {
            Offline::new("alice GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n")
        }
        fn arg(&self) -> String {
            format!("offline_secrets={}", self.file.display())
        }
        fn code(&self) -> String {
            String::from_utf8(offline::code_at(Self::SEED, offline::unix_now()).to_vec()).unwrap()
        }
    }

    impl Drop for Offline {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const OFFLINE_PROMPT: &str = "Werbot is unreachable. Offline code for alice: ";

    /// A login of alice, an offline user, while the API cannot be reached:
    /// the Werbot prompts, then the offline one answered with `offline`.
    fn through_outage(
        o: &Offline,
        werbot_code: &'static [u8],
        offline: Result<&[u8], ConvFailure>,
        silent: bool,
    ) -> (Outcome, Script) {
        let arg = o.arg();
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(werbot_code))]);
        s.answers
            .push_back((OFFLINE_PROMPT, offline.map(<[u8]>::to_vec)));
        let extra = ["offline_users=alice", arg.as_str()];
        let outcome = auth(&mut s, &server(unreachable), &extra, silent);
        s.done();
        (outcome, s)
    }

    #[test]
    fn offline_user_needs_an_unused_offline_code_when_secrets_are_set() {
        let o = Offline::alice();
        let code = o.code();
        let ok = Ok(code.as_bytes());
        assert_eq!(through_outage(&o, b"123456", ok, false).0, Outcome::Success);
        // The same code again, after a U2F attempt: replayed.
        assert_eq!(through_outage(&o, b"", ok, false).0, Outcome::AuthErr);
        // Not six digits: said so, nothing counted.
        let (outcome, s) = through_outage(&o, b"123456", Ok(b""), true);
        assert_eq!(outcome, Outcome::AuthErr);
        assert_eq!(s.messages, [format!("error: {OFFLINE_CODE_FORMAT}")]);
        let (outcome, _) = through_outage(&o, b"123456", Err(ConvFailure), false);
        assert_eq!(outcome, Outcome::ConvErr);
    }

    #[test]
    fn the_server_decides_while_it_answers_and_others_are_never_asked() {
        let o = Offline::alice();
        let arg = o.arg();
        // The API answers: no offline prompt (an extra one would panic).
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        let extra = ["offline_users=alice", arg.as_str()];
        assert_eq!(
            auth(&mut s, &server(success), &extra, false),
            Outcome::Success
        );
        s.done();
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        let denied = || {
            Ok(HttpAnswer {
                status: 200,
                body: zeroize::Zeroizing::new(br#"{"status":"failed"}"#.to_vec()),
            })
        };
        assert_eq!(
            auth(&mut s, &server(denied), &extra, false),
            Outcome::AuthErr
        );
        s.done();
        // Not an offline user: unavailable, no prompt.
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        let extra = ["offline_users=bob", arg.as_str()];
        assert_eq!(
            auth(&mut s, &server(unreachable), &extra, false),
            Outcome::AuthInfoUnavail
        );
    }

    #[test]
    fn an_offline_user_without_a_secret_or_a_broken_file_is_denied_unasked() {
        for text in [
            "bob GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n",
            "alice not-base32!\n",
        ] {
            let o = Offline::new(text);
            let arg = o.arg();
            let extra = ["offline_users=alice", arg.as_str()];
            let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
            assert_eq!(
                auth(&mut s, &server(unreachable), &extra, false),
                Outcome::ServiceErr,
                "{text}"
            );
            s.done();
        }
    }

    #[test]
    fn the_account_phase_asks_for_the_offline_code_too() {
        let o = Offline::alice();
        let c = config(&["offline_users=alice", &o.arg()]);
        let code = o.code();
        let mut s = Script::new(&[(OFFLINE_PROMPT, Ok(code.as_bytes()))]);
        let mut log = Logger::discard();
        assert_eq!(
            account(&mut s, &c, &server(unreachable), &mut log, &who(), true),
            Outcome::Success
        );
        s.done();
        // sshd's account phase cannot prompt: denied.
        let mut s = Script::new(&[(OFFLINE_PROMPT, Err(ConvFailure))]);
        assert_eq!(
            account(&mut s, &c, &server(unreachable), &mut log, &who(), true),
            Outcome::ConvErr
        );
    }

    #[test]
    fn a_relative_offline_secrets_path_is_a_configuration_error() {
        let p = config::parse(&[
            "server_url=h",
            "service_id=sid",
            "service_key=skey",
            "offline_secrets=etc/wpam-offline",
        ]);
        let e = p.config.expect_err("relative path");
        assert!(e.to_string().contains("offline_secrets"), "{e}");
    }

    #[test]
    fn missing_rhost_sends_empty_user_ip() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"123456"))]);
        s.rhost = None;
        let srv = server(success);
        let w = Who {
            user: "alice".into(),
            gid: 0,
            rhost: String::new(),
            service: "sshd".into(),
            setuid_caller: false,
        };
        assert_eq!(
            authenticate(
                &mut s,
                &config(&[]),
                &srv,
                &mut Logger::discard(),
                &w,
                false
            ),
            Outcome::Success
        );
        assert_eq!(srv.calls.borrow()[0].0["userIP"], "");
    }

    #[test]
    fn account_after_auth_makes_no_second_call() {
        let mut s = Script::new(&[]);
        s.passed = Some("alice".into());
        let srv = server(success);
        assert_eq!(
            account(
                &mut s,
                &config(&[]),
                &srv,
                &mut Logger::discard(),
                &who(),
                false
            ),
            Outcome::Success
        );
        assert!(srv.calls.borrow().is_empty());
    }

    #[test]
    fn account_without_auth_asks_u2f_for_the_login_name() {
        let mut s = Script::new(&[]);
        s.passed = Some("mallory".into());
        let srv = server(success);
        assert_eq!(
            account(
                &mut s,
                &config(&[]),
                &srv,
                &mut Logger::discard(),
                &who(),
                true
            ),
            Outcome::Success
        );
        let calls = srv.calls.borrow();
        assert_eq!(calls[0].0["wID"], "alice");
        assert_eq!(calls[0].0["tfaMethod"], "U2F");
    }

    #[test]
    fn account_uses_the_same_offline_rule() {
        let mut s = Script::new(&[]);
        let c = config(&["offline_users=alice"]);
        assert_eq!(
            account(
                &mut s,
                &c,
                &server(unreachable),
                &mut Logger::discard(),
                &who(),
                true
            ),
            Outcome::Success
        );
        let c = config(&[]);
        assert_eq!(
            account(
                &mut s,
                &c,
                &server(unreachable),
                &mut Logger::discard(),
                &who(),
                true
            ),
            Outcome::AuthInfoUnavail
        );
    }

    #[test]
    fn account_of_a_silent_local_caller_pushes_nothing() {
        let mut s = Script::new(&[]);
        let srv = server(success);
        let local = Who {
            rhost: String::new(),
            ..who()
        };
        let c = config(&[]);
        let mut log = Logger::discard();
        assert_eq!(
            account(&mut s, &c, &srv, &mut log, &local, true),
            Outcome::Ignore
        );
        assert!(srv.calls.borrow().is_empty());
        // Not silent, or remote: the check happens.
        assert_eq!(
            account(&mut s, &c, &srv, &mut log, &local, false),
            Outcome::Success
        );
        assert_eq!(
            account(&mut s, &c, &srv, &mut log, &who(), true),
            Outcome::Success
        );
        assert_eq!(srv.calls.borrow().len(), 2);
    }

    #[test]
    fn a_code_of_spaces_is_refused_not_pushed() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"a@b")), (PROMPT_CODE, Ok(b"   "))]);
        let srv = server(success);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::AuthErr);
        assert!(srv.calls.borrow().is_empty());
    }

    #[test]
    fn a_tied_login_is_not_asked_for_a_werbot_id() {
        let mut c = config(&[]);
        c.werbot_ids
            .insert("alice".into(), "alice@example.com".into());
        // Only the code prompt: an ID answer would be an unexpected prompt.
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"123456"))]);
        let srv = server(success);
        let o = authenticate(&mut s, &c, &srv, &mut Logger::discard(), &who(), false);
        assert_eq!(o, Outcome::Success);
        s.done();
        assert_eq!(srv.calls.borrow()[0].0["wID"], "alice@example.com");
        // The account phase asks for the tied ID too.
        let mut s = Script::new(&[]);
        let o = account(&mut s, &c, &srv, &mut Logger::discard(), &who(), true);
        assert_eq!(o, Outcome::Success);
        assert_eq!(srv.calls.borrow()[1].0["wID"], "alice@example.com");
    }

    fn refusal(reason: &'static str) -> Result<HttpAnswer, CallError> {
        Ok(HttpAnswer {
            status: 200,
            body: zeroize::Zeroizing::new(
                format!(r#"{{"status":"failed","reason":"{reason}","intent":"AgentLogin"}}"#)
                    .into_bytes(),
            ),
        })
    }
    fn wrong_code() -> Result<HttpAnswer, CallError> {
        refusal("INVALID_TOTP")
    }
    fn no_such_user() -> Result<HttpAnswer, CallError> {
        refusal(crate::decision::USER_NOT_FOUND)
    }
    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wpam-flow-{tag}-{}-{}",
            std::process::id(),
            offline::unix_now()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_refusal_is_told_unless_silent_and_a_known_typed_id_is_kept_for_the_retry() {
        let mut s = Script::new(&[
            (PROMPT_ID, Ok(b"a@example.com")),
            (PROMPT_CODE, Ok(b"111111")),
        ]);
        let srv = server(wrong_code);
        assert_eq!(auth(&mut s, &srv, &[], false), Outcome::AuthErr);
        assert_eq!(s.messages, [format!("error: {REFUSED_MSG}")]);
        // The retry on the same handle asks for the code only.
        s.answers.push_back((PROMPT_CODE, Ok(b"222222".to_vec())));
        s.messages.clear();
        assert_eq!(auth(&mut s, &srv, &[], true), Outcome::AuthErr);
        s.done();
        assert!(s.messages.is_empty(), "silent: {:?}", s.messages);
        let calls = srv.calls.borrow();
        assert_eq!(calls[1].0["wID"], "a@example.com");
        assert_eq!(calls[1].0["totpCode"], "222222");
    }

    #[test]
    fn an_id_the_server_does_not_know_is_asked_again_and_never_logged_in_full() {
        let dir = temp("typed-id");
        std::fs::create_dir_all(&dir).expect("dir");
        let log_path = dir.join("wpam.log");
        let mut log = Logger::open(&log_path, true);
        let password = "Tr0ub4dor&3-not-an-id";
        let mut s = Script::new(&[
            (PROMPT_ID, Ok(password.as_bytes())),
            (PROMPT_CODE, Ok(b"111111")),
        ]);
        let srv = server(no_such_user);
        let c = config(&[]);
        assert_eq!(
            authenticate(&mut s, &c, &srv, &mut log, &who(), false),
            Outcome::AuthErr
        );
        assert_eq!(s.messages, [format!("error: {REFUSED_MSG}")]);
        // A malformed code after a typed ID: refused locally, never sent.
        s.answers
            .push_back((PROMPT_ID, Ok(password.as_bytes().to_vec())));
        s.answers.push_back((PROMPT_CODE, Ok(b"12".to_vec())));
        assert_eq!(
            authenticate(&mut s, &c, &srv, &mut log, &who(), false),
            Outcome::AuthErr
        );
        s.done();
        drop(log);
        let text = std::fs::read_to_string(&log_path).expect("log");
        assert!(!text.contains(password), "{text}");
        assert!(!text.contains("Tr0ub4dor"), "{text}");
        assert!(text.contains(r#"wID="Tr"…(typed, 21 bytes"#), "{text}");
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn unenrolled_allow_admits_only_a_tied_login() {
        // Typed ID: denied whatever unenrolled says.
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"made-up")), (PROMPT_CODE, Ok(b"111111"))]);
        let srv = server(no_such_user);
        assert_eq!(
            auth(&mut s, &srv, &["unenrolled=allow"], false),
            Outcome::AuthErr
        );
        // Tied by the config: admitted under allow, denied under deny.
        let tied = ["unenrolled=allow", "werbot_id_from_login=true"];
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
        assert_eq!(auth(&mut s, &srv, &tied, false), Outcome::Success);
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
        assert_eq!(
            auth(&mut s, &srv, &["werbot_id_from_login=true"], false),
            Outcome::AuthErr
        );
        // Any other refusal of a tied login stays a refusal.
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
        assert_eq!(
            auth(&mut s, &server(wrong_code), &tied, false),
            Outcome::AuthErr
        );
        // The account phase of a tied login: allow applies there too (an
        // untied one: unenrolled_allow_never_admits_an_untied_login_in_the_account_phase).
        let mut s = Script::new(&[]);
        let c = config(&tied);
        assert_eq!(
            account(&mut s, &c, &srv, &mut Logger::discard(), &who(), false),
            Outcome::Success
        );
    }

    #[test]
    fn unenrolled_allow_never_admits_an_untied_login_in_the_account_phase() {
        // No wid.<login>, no werbot_id_from_login: the account phase's ID
        // is the login name by the reference's fallback, not a tie of the
        // config. Its Werbot user may well exist under another name (the
        // ID such users type), so "user not found" is no rollout case.
        let srv = server(no_such_user);
        let mut s = Script::new(&[]);
        let c = config(&["unenrolled=allow"]);
        assert_eq!(
            account(&mut s, &c, &srv, &mut Logger::discard(), &who(), false),
            Outcome::AuthErr
        );
        // Tied by the config: the rollout mode applies.
        let mut s = Script::new(&[]);
        let c = config(&["unenrolled=allow", "werbot_id_from_login=true"]);
        assert_eq!(
            account(&mut s, &c, &srv, &mut Logger::discard(), &who(), false),
            Outcome::Success
        );
    }

    #[test]
    fn account_phase_skip_ignores_without_a_call() {
        let mut s = Script::new(&[]);
        let srv = server(success);
        let c = config(&["account_phase=skip"]);
        assert_eq!(
            account(&mut s, &c, &srv, &mut Logger::discard(), &who(), false),
            Outcome::Ignore
        );
        assert!(srv.calls.borrow().is_empty());
        assert!(s.messages.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn groups_decide_who_is_asked_and_an_unknown_included_group_denies() {
        let root = Who {
            user: "root".into(),
            gid: 0,
            ..who()
        };
        let run = |extra: &[&str]| {
            let mut s = Script::new(&[(PROMPT_ID, Ok(b"r@example.com")), (PROMPT_CODE, Ok(b""))]);
            let srv = server(success);
            let o = authenticate(
                &mut s,
                &config(extra),
                &srv,
                &mut Logger::discard(),
                &root,
                true,
            );
            let asked = !srv.calls.borrow().is_empty();
            (o, asked)
        };
        assert_eq!(run(&["groups=root"]), (Outcome::Success, true));
        assert_eq!(run(&["groups=!root"]), (Outcome::Ignore, false));
        assert_eq!(run(&["groups=root,!root"]), (Outcome::Ignore, false));
        assert_eq!(
            run(&["groups=wpam-no-such-group-x"]),
            (Outcome::ServiceErr, false)
        );
        assert_eq!(
            run(&["groups=!wpam-no-such-group-x"]),
            (Outcome::Success, true)
        );
        // The account phase too.
        let mut s = Script::new(&[]);
        let srv = server(success);
        let c = config(&["groups=!root"]);
        assert_eq!(
            account(&mut s, &c, &srv, &mut Logger::discard(), &root, false),
            Outcome::Ignore
        );
        assert!(srv.calls.borrow().is_empty());
    }

    #[test]
    fn remember_skips_the_factor_only_after_a_server_grant_for_the_same_key() {
        let dir = temp("remember");
        let rdir = format!("remember_dir={}", dir.display());
        let args = ["remember=600", rdir.as_str(), "werbot_id_from_login=true"];
        // Refused, offline-admitted or unenrolled-admitted: nothing remembered.
        for (answer, extra) in [
            (wrong_code as fn() -> _, None),
            (unreachable, Some("offline_users=alice")),
            (no_such_user, Some("unenrolled=allow")),
        ] {
            let mut a = args.to_vec();
            a.extend(extra);
            let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
            auth(&mut s, &server(answer), &a, true);
            let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
            let srv = server(wrong_code);
            assert_eq!(auth(&mut s, &srv, &args, true), Outcome::AuthErr);
            assert_eq!(srv.calls.borrow().len(), 1, "remembered after {extra:?}");
        }
        // Granted: the next login of this key is not asked.
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
        assert_eq!(
            auth(&mut s, &server(success), &args, true),
            Outcome::Success
        );
        let mut s = Script::new(&[]);
        let srv = server(wrong_code);
        assert_eq!(auth(&mut s, &srv, &args, true), Outcome::Success);
        assert!(srv.calls.borrow().is_empty());
        // Another address, no address, or without remember=: asked.
        for w in [
            Who {
                rhost: "192.0.2.8".into(),
                ..who()
            },
            Who {
                rhost: String::new(),
                ..who()
            },
        ] {
            let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
            let srv = server(wrong_code);
            let o = authenticate(
                &mut s,
                &config(&args),
                &srv,
                &mut Logger::discard(),
                &w,
                true,
            );
            assert_eq!(o, Outcome::AuthErr);
        }
        let mut s = Script::new(&[(PROMPT_CODE, Ok(b"111111"))]);
        assert_eq!(
            auth(&mut s, &server(wrong_code), &[rdir.as_str(), args[2]], true),
            Outcome::AuthErr
        );
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn prompts_can_be_reworded() {
        let mut s = Script::new(&[(PROMPT_ID, Ok(b"x"))]);
        s.answers.clear();
        s.answers
            .push_back(("Werbot user: ", Ok(b"a@example.com".to_vec())));
        s.answers.push_back(("Code: ", Ok(b"123456".to_vec())));
        let srv = server(success);
        assert_eq!(
            auth(
                &mut s,
                &srv,
                &["prompt_id=Werbot user: ", "prompt_code=Code: "],
                false
            ),
            Outcome::Success
        );
        s.done();
    }

    #[test]
    fn an_offline_admission_without_a_code_is_told() {
        let mut s = Script::new(&[
            (PROMPT_ID, Ok(b"a@example.com")),
            (PROMPT_CODE, Ok(b"000000")),
        ]);
        assert_eq!(
            auth(
                &mut s,
                &server(unreachable),
                &["offline_users=alice"],
                false
            ),
            Outcome::Success
        );
        assert_eq!(s.messages, [format!("info: {OFFLINE_ADMITTED_INFO}")]);
    }

    #[test]
    fn membership_by_the_group_entry_counts_when_getgrouplist_left_it_out() {
        let g = crate::sys::Group {
            gid: 27,
            members: vec!["bob".into(), "alice".into()],
        };
        let none = crate::sys::Group {
            members: vec![],
            ..g.clone()
        };
        assert!(is_member(&[0], &g, "alice", 0), "listed in gr_mem");
        assert!(is_member(&[27], &none, "alice", 0), "by getgrouplist");
        assert!(is_member(&[], &none, "alice", 27), "the primary group");
        assert!(!is_member(&[0], &g, "carol", 0));
        let other = crate::sys::Group {
            members: vec!["alice2".into()],
            ..g
        };
        assert!(!is_member(&[0], &other, "alice", 0));
    }

    #[test]
    fn membership_crosses_the_pipe_intact_and_garbage_is_refused() {
        for m in [
            Ok((
                vec!["wheel".to_string(), "ops".into()],
                vec!["a warn".to_string()],
            )),
            Ok((vec![], vec![])),
            Err("groups=: there is no group \"x\"; denied".to_string()),
        ] {
            assert_eq!(decode_membership(&encode_membership(&m)), Some(m));
        }
        for bad in [&b""[..], b"X", b"M\nz wheel", b"M\nm", b"\xff"] {
            assert_eq!(decode_membership(bad), None, "{bad:?}");
        }
    }
}
