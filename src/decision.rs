//! The decision table: what the API's answer (or its absence) means for the
//! login. This file is the whole policy, offline mode included (DESIGN.md §3).
//!
//! | what happened                                              | outcome                                   |
//! |------------------------------------------------------------|-------------------------------------------|
//! | HTTP 200, JSON, `status == "success"`                       | Success                                   |
//! | HTTP 200, a refusal with reason `user not found`, for a login tied to its Werbot ID by the config, under `unenrolled=allow` | Success (WARN: rollout mode) |
//! | HTTP 200 with anything else; any other HTTP status (4xx, 5xx, 3xx) | AuthErr, offline users included    |
//! | request sent, then no valid answer: timeout, reset, malformed, stalled or oversized | AuthErr, offline users included |
//! | not delivered: no address / no DNS answer, connect refused, unreachable or timed out, a proxy that refused the CONNECT or did not answer, TLS handshake failed | offline user: Success (INFO); else AuthInfoUnavail |
//! | not delivered, under a setuid caller (su, sudo), for any reason but a negative DNS answer or a refused/unreachable connect (a timeout, a handshake or proxy failure) | AuthErr for everyone (its user can stop the process until a peer gives up) |
//! | local failure (descriptors, memory, permission, trust store, URL, a proxy asking for credentials) | ServiceErr (ERROR), offline users included |
//!
//! Offline users are admitted only when the request could not be
//! delivered: once it may have reached the server, whatever follows is the
//! server's answer, and only an exact success grants.

use crate::client::{CallError, HttpAnswer, Step};
use crate::log::{quote, Level};
use crate::wire::Response;

/// PAM-implementation-neutral result; `pam.rs` maps it to the numbers of
/// Linux-PAM or OpenPAM, `bin/login_wpam.rs` to BSD Auth replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    AuthErr,
    AuthInfoUnavail,
    ConvErr,
    ServiceErr,
    SystemErr,
    /// The module takes no part (the account phase of a non-interactive
    /// local caller, see `flow.rs`).
    Ignore,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub level: Level,
    pub message: String,
    /// What the outcome rests on.
    pub basis: Basis,
}

/// What a decision rests on: the flow remembers only a server's grant,
/// keeps a typed ID for a retry only once the server knew it, and tells
/// the user of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The server answered `success`.
    Granted,
    /// `unenrolled=allow` admitted a tied login the server does not know.
    Unenrolled,
    /// Admitted as an offline user: the server was not reached.
    Offline,
    /// The server answered, and not with a success.
    Refused {
        /// Its reason is one TRASA gives only after it found the user.
        id_known: bool,
    },
    /// No usable answer (not delivered, no answer, local error).
    NoAnswer,
}

/// Who is asking, as far as the table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// The login is listed in `offline_users`.
    pub offline_user: bool,
    /// The process runs setuid/setgid (su, sudo): its invoking user can stop
    /// it and shrink its limits, so a timeout proves nothing.
    pub setuid_caller: bool,
    /// What was sent as userIP, for the hint on an IP policy refusal.
    pub user_ip: UserIp,
    /// `unenrolled=allow` and the Werbot ID came from the config (a tied
    /// login), never from what the user typed.
    pub admit_unenrolled: bool,
}

/// The kind of userIP a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserIp {
    #[default]
    Ip,
    /// No PAM_RHOST and no `local_user_ip`.
    Empty,
    /// PAM_RHOST is a host name (sshd with `UseDNS yes`).
    Name,
}

/// TRASA's reason when the userIP fails the user's IP policy; an empty or
/// non-IP userIP fails every policy (server/utils/ipfilter.go).
pub const IP_POLICY_FAILED: &str = "IP_POLICY_FAILED";

/// TRASA's reason when no Werbot user has the ID (handlers.go:97-106).
pub const USER_NOT_FOUND: &str = "user not found";

/// TRASA's reasons that come after it found the Werbot user
/// (handlers.go:110-190, tfa.go): the ID was a real one.
const AFTER_USER_LOOKUP: &[&str] = &[
    "User Disabled",
    "policy not assigned",
    IP_POLICY_FAILED,
    "TIME_POLICY_FAILED",
    "DAY_POLICY_FAILED",
    "COUNTRY_POLICY_FAILED",
    "INVALID_TOTP",
    "U2F_FAILED",
];

fn decision(outcome: Outcome, level: Level, message: String) -> Decision {
    Decision {
        outcome,
        level,
        message,
        basis: Basis::NoAnswer,
    }
}

fn denied(message: String) -> Decision {
    decision(Outcome::AuthErr, Level::Warn, message)
}

fn on(basis: Basis, d: Decision) -> Decision {
    Decision { basis, ..d }
}

fn refused(reason: &str) -> Basis {
    Basis::Refused {
        id_known: AFTER_USER_LOOKUP.contains(&reason),
    }
}

pub fn decide(result: &Result<HttpAnswer, CallError>, ctx: Context) -> Decision {
    match result {
        Ok(answer) => decide_answer(answer, ctx),
        Err(e @ CallError::NoAnswer(_)) => denied(format!(
            "{}; denied (the request may have reached the server, so this is not an outage)",
            quote(&e.to_string())
        )),
        Err(CallError::Local(d)) => decision(
            Outcome::ServiceErr,
            Level::Error,
            format!("local error: {}; denied", quote(d)),
        ),
        Err(
            e @ CallError::Undelivered {
                step, timed_out, ..
            },
        ) if ctx.setuid_caller && !undeniable(*step, *timed_out) => denied(format!(
            "Werbot API not reached ({}) under a setuid caller (su, sudo), whose user can \
                 stop, slow or limit the process: only a refused or unreachable connection or \
                 a negative DNS answer counts as an outage there; denied",
            quote(&e.to_string())
        )),
        Err(e @ CallError::Undelivered { .. }) if ctx.offline_user => on(
            Basis::Offline,
            decision(
                Outcome::Success,
                Level::Info,
                format!(
                    "Werbot API unavailable ({}); admitted as offline user",
                    quote(&e.to_string())
                ),
            ),
        ),
        Err(e @ CallError::Undelivered { .. }) => decision(
            Outcome::AuthInfoUnavail,
            Level::Warn,
            format!(
                "Werbot API unavailable ({}); denied (not an offline user)",
                quote(&e.to_string())
            ),
        ),
    }
}

/// Under a setuid caller, the failures of delivery that no delay of the
/// caller's can cause: a negative DNS answer (NXDOMAIN, SERVFAIL) and a
/// refused or unreachable `connect()` (to the API or to the proxy). Once a
/// TCP connection exists, its end (EOF, reset, alert, a proxy's answer) can
/// be timed by stopping the process until a peer gives up; and a timeout is
/// the clock, which that user controls.
fn undeniable(step: Step, timed_out: bool) -> bool {
    !timed_out && matches!(step, Step::Resolve | Step::Connect)
}

fn decide_answer(a: &HttpAnswer, ctx: Context) -> Decision {
    let parsed = Response::parse(&a.body);
    match (a.status, parsed) {
        // The reason too: a passthru service grants with "passthru
        // authentication" and no second factor, which an admin must see.
        (200, Ok(r)) if r.is_success() => on(
            Basis::Granted,
            decision(
                Outcome::Success,
                Level::Info,
                format!(
                    "access granted (reason={} intent={})",
                    quote(&r.reason),
                    quote(&r.intent)
                ),
            ),
        ),
        // Exactly TRASA's words: anything else stays a refusal.
        (200, Ok(r)) if ctx.admit_unenrolled && r.reason == USER_NOT_FOUND => on(
            Basis::Unenrolled,
            decision(
                Outcome::Success,
                Level::Warn,
                format!(
                    "the server has no such Werbot user (status={} reason={}); admitted \
                     WITHOUT a second factor: unenrolled=allow (rollout mode) and the login is \
                     tied to this Werbot ID by the config",
                    quote(&r.status),
                    quote(&r.reason)
                ),
            ),
        ),
        (200, Ok(r)) => on(
            refused(&r.reason),
            denied(format!(
                "access denied: status={} reason={}{}",
                quote(&r.status),
                quote(&r.reason),
                ip_policy_hint(&r.reason, ctx.user_ip)
            )),
        ),
        (200, Err(e)) => on(
            refused(""),
            denied(format!(
                "denied: answer is not the expected JSON: {}",
                quote(&e)
            )),
        ),
        (status, Ok(r)) => on(
            refused(&r.reason),
            denied(format!(
                "denied: HTTP {status} status={} reason={}",
                quote(&r.status),
                quote(&r.reason)
            )),
        ),
        (status, Err(_)) => on(
            refused(""),
            denied(format!("denied: HTTP {status} (no JSON reason)")),
        ),
    }
}

/// Why the server's IP policy refused a login it could not have admitted.
fn ip_policy_hint(reason: &str, user_ip: UserIp) -> &'static str {
    if reason != IP_POLICY_FAILED {
        return "";
    }
    match user_ip {
        UserIp::Ip => "",
        UserIp::Empty => {
            " (this login has no remote host (su, sudo, console), so userIP was empty, which \
             the server refuses under every IP policy: set local_user_ip=<this host's IP>)"
        }
        UserIp::Name => {
            " (PAM_RHOST is a host name, not an IP address, which no IP policy admits: set \
             `UseDNS no` in sshd_config)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Result<HttpAnswer, CallError> {
        Ok(HttpAnswer {
            status,
            body: zeroize::Zeroizing::new(body.as_bytes().to_vec()),
        })
    }
    fn down(step: Step, timed_out: bool) -> Result<HttpAnswer, CallError> {
        Err(CallError::Undelivered {
            step,
            timed_out,
            detail: "x".into(),
        })
    }
    const OFFLINE: Context = Context {
        offline_user: true,
        setuid_caller: false,
        user_ip: UserIp::Ip,
        admit_unenrolled: false,
    };
    const OTHER: Context = Context {
        offline_user: false,
        setuid_caller: false,
        user_ip: UserIp::Ip,
        admit_unenrolled: false,
    };
    const OFFLINE_SU: Context = Context {
        offline_user: true,
        setuid_caller: true,
        user_ip: UserIp::Ip,
        admit_unenrolled: false,
    };
    fn outcome(r: &Result<HttpAnswer, CallError>, ctx: Context) -> Outcome {
        decide(r, ctx).outcome
    }

    #[test]
    fn row_200_success_grants() {
        let r = http(200, r#"{"status":"success","intent":"totp"}"#);
        assert_eq!(outcome(&r, OTHER), Outcome::Success);
        assert_eq!(decide(&r, OTHER).level, Level::Info);
    }

    #[test]
    fn every_grant_shows_the_servers_reason() {
        let r = http(
            200,
            r#"{"status":"success","reason":"passthru authentication","intent":"AgentLogin"}"#,
        );
        let d = decide(&r, OTHER);
        assert_eq!(d.outcome, Outcome::Success);
        assert!(
            d.message.contains(r#"reason="passthru authentication""#),
            "{}",
            d.message
        );
    }

    #[test]
    fn an_ip_policy_refusal_says_why_when_userip_was_not_an_ip() {
        let r = http(200, r#"{"status":"failed","reason":"IP_POLICY_FAILED"}"#);
        let with = |user_ip| decide(&r, Context { user_ip, ..OTHER }).message;
        assert!(with(UserIp::Empty).contains("local_user_ip"));
        assert!(with(UserIp::Name).contains("UseDNS no"));
        assert!(!with(UserIp::Ip).contains("local_user_ip"));
        let other = http(200, r#"{"status":"failed","reason":"INVALID_TOTP"}"#);
        let d = decide(
            &other,
            Context {
                user_ip: UserIp::Empty,
                ..OTHER
            },
        );
        assert!(!d.message.contains("local_user_ip"), "{}", d.message);
    }

    #[test]
    fn row_200_failed_denies_with_reason() {
        let d = decide(
            &http(200, r#"{"status":"failed","reason":"invalid totp code"}"#),
            OFFLINE,
        );
        assert_eq!(d.outcome, Outcome::AuthErr);
        assert_eq!(d.level, Level::Warn);
        assert!(d.message.contains("invalid totp code"), "{}", d.message);
    }

    #[test]
    fn row_200_other_status_values_deny() {
        for s in ["Success", "ok", "", "pending"] {
            let body = format!(r#"{{"status":"{s}"}}"#);
            assert_eq!(outcome(&http(200, &body), OFFLINE), Outcome::AuthErr, "{s}");
        }
    }

    #[test]
    fn row_200_not_json_denies_even_offline_users() {
        assert_eq!(
            outcome(&http(200, "<html>upstream error</html>"), OFFLINE),
            Outcome::AuthErr
        );
        assert_eq!(
            outcome(&http(200, r#"{"status":"success""#), OFFLINE),
            Outcome::AuthErr
        );
    }

    #[test]
    fn row_every_other_http_status_denies_even_offline_users() {
        for s in [
            201, 204, 301, 302, 400, 401, 403, 404, 429, 500, 502, 503, 504,
        ] {
            for body in [r#"{"status":"success"}"#, r#"{"status":"failed"}"#, ""] {
                assert_eq!(
                    outcome(&http(s, body), OFFLINE),
                    Outcome::AuthErr,
                    "{s} {body}"
                );
            }
        }
    }

    #[test]
    fn row_no_answer_after_sending_denies_even_offline_users() {
        let r = Err(CallError::NoAnswer("timed out".into()));
        let d = decide(&r, OFFLINE);
        assert_eq!((d.outcome, d.level), (Outcome::AuthErr, Level::Warn));
        assert!(d.message.contains("not an outage"), "{}", d.message);
    }

    #[test]
    fn row_undelivered_admits_offline_users_only() {
        for step in [Step::Resolve, Step::Connect, Step::Proxy, Step::Handshake] {
            for timed_out in [false, true] {
                let r = down(step, timed_out);
                assert_eq!(outcome(&r, OTHER), Outcome::AuthInfoUnavail);
                let d = decide(&r, OFFLINE);
                assert_eq!((d.outcome, d.level), (Outcome::Success, Level::Info));
                assert!(d.message.contains("offline"));
            }
        }
    }

    #[test]
    fn row_under_a_setuid_caller_only_a_refusal_or_negative_dns_is_an_outage() {
        for step in [Step::Resolve, Step::Connect, Step::Proxy, Step::Handshake] {
            for timed_out in [false, true] {
                let d = decide(&down(step, timed_out), OFFLINE_SU);
                if !timed_out && matches!(step, Step::Resolve | Step::Connect) {
                    // A refusal or NXDOMAIN is not the clock: an outage under su.
                    assert_eq!(d.outcome, Outcome::Success, "{step} {timed_out}");
                } else {
                    assert_eq!(
                        (d.outcome, d.level),
                        (Outcome::AuthErr, Level::Warn),
                        "{step} {timed_out}"
                    );
                    assert!(d.message.contains("setuid"), "{}", d.message);
                }
            }
        }
    }

    #[test]
    fn row_local_error_is_a_service_error_even_offline() {
        let r = Err(CallError::Local("connect: Too many open files".into()));
        let d = decide(&r, OFFLINE);
        assert_eq!((d.outcome, d.level), (Outcome::ServiceErr, Level::Error));
        assert!(d.message.contains("Too many open files"));
    }

    #[test]
    fn server_text_is_escaped() {
        let d = decide(
            &http(
                200,
                r#"{"status":"failed","reason":"a\nFAKE INFO granted\u2028x"}"#,
            ),
            OTHER,
        );
        assert!(!d.message.contains('\n'), "{}", d.message);
        assert!(!d.message.contains('\u{2028}'), "{}", d.message);
    }
}
