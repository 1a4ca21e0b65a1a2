//! The decision table: what the API's answer (or its absence) means for the
//! login. This file is the whole policy, offline mode included.
//!
//! | answer                                           | outcome                                  |
//! |--------------------------------------------------|------------------------------------------|
//! | HTTP 200, JSON, `status == "success"`            | Success                                  |
//! | HTTP 200, JSON, any other status                 | AuthErr (WARN with the server's reason)  |
//! | HTTP 200, body not the expected JSON / too large | AuthErr                                  |
//! | HTTP 4xx, or any other non-5xx status            | AuthErr                                  |
//! | HTTP 5xx, DNS/connect/TLS failure, timeout, reset| offline user: Success (INFO); else AuthInfoUnavail |
//! | local setup error (unreadable `ca_file`)         | ServiceErr (ERROR)                       |

use crate::client::{BodyError, CallError, HttpAnswer};
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
}

#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub level: Level,
    pub message: String,
}

fn decision(outcome: Outcome, level: Level, message: String) -> Decision {
    Decision {
        outcome,
        level,
        message,
    }
}

/// The server's `reason`, if the body is JSON carrying one.
fn reason_of(body: &Result<Vec<u8>, BodyError>) -> String {
    match body {
        Ok(b) => Response::parse(b)
            .map(|r| quote(&r.reason))
            .unwrap_or_else(|_| "(no JSON reason)".into()),
        Err(_) => "(unreadable body)".into(),
    }
}

pub fn decide(result: &Result<HttpAnswer, CallError>, offline_user: bool) -> Decision {
    let unavailable = |why: String| {
        if offline_user {
            decision(
                Outcome::Success,
                Level::Info,
                format!("Werbot API unavailable ({why}); admitted as offline user"),
            )
        } else {
            decision(
                Outcome::AuthInfoUnavail,
                Level::Warn,
                format!("Werbot API unavailable ({why}); denied (not an offline user)"),
            )
        }
    };
    match result {
        Err(CallError::Setup(e)) => decision(Outcome::ServiceErr, Level::Error, quote(&e.0)),
        Err(CallError::Unreachable(u)) => unavailable(quote(&u.to_string())),
        Ok(HttpAnswer { status, .. }) if (500..600).contains(status) => {
            unavailable(format!("HTTP {status}"))
        }
        Ok(HttpAnswer { status: 200, body }) => match body {
            Err(BodyError::TooLarge) => decision(
                Outcome::AuthErr,
                Level::Warn,
                "denied: answer larger than 64 KiB".into(),
            ),
            Err(BodyError::Unreadable(e)) => decision(
                Outcome::AuthErr,
                Level::Warn,
                format!("denied: unreadable answer: {}", quote(e)),
            ),
            Ok(b) => match Response::parse(b) {
                Ok(r) if r.is_success() => decision(
                    Outcome::Success,
                    Level::Info,
                    format!("access granted (intent={})", quote(&r.intent)),
                ),
                Ok(r) => decision(
                    Outcome::AuthErr,
                    Level::Warn,
                    format!(
                        "access denied: status={} reason={}",
                        quote(&r.status),
                        quote(&r.reason)
                    ),
                ),
                Err(e) => decision(
                    Outcome::AuthErr,
                    Level::Warn,
                    format!("denied: answer is not the expected JSON: {}", quote(&e)),
                ),
            },
        },
        Ok(HttpAnswer { status, body }) => decision(
            Outcome::AuthErr,
            Level::Warn,
            format!("denied: HTTP {status} reason={}", reason_of(body)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{SetupError, Unreachable};

    fn http(status: u16, body: &str) -> Result<HttpAnswer, CallError> {
        Ok(HttpAnswer {
            status,
            body: Ok(body.as_bytes().to_vec()),
        })
    }
    fn down(u: Unreachable) -> Result<HttpAnswer, CallError> {
        Err(CallError::Unreachable(u))
    }
    fn outcome(r: &Result<HttpAnswer, CallError>, offline: bool) -> Outcome {
        decide(r, offline).outcome
    }

    #[test]
    fn row_200_success_grants() {
        let r = http(200, r#"{"status":"success","intent":"totp"}"#);
        assert_eq!(outcome(&r, false), Outcome::Success);
        assert_eq!(decide(&r, false).level, Level::Info);
    }

    #[test]
    fn row_200_failed_denies_with_reason() {
        let d = decide(
            &http(200, r#"{"status":"failed","reason":"invalid totp code"}"#),
            true,
        );
        assert_eq!(d.outcome, Outcome::AuthErr);
        assert_eq!(d.level, Level::Warn);
        assert!(d.message.contains("invalid totp code"), "{}", d.message);
    }

    #[test]
    fn row_200_other_status_values_deny() {
        for s in ["Success", "ok", "", "pending"] {
            let body = format!(r#"{{"status":"{s}"}}"#);
            assert_eq!(outcome(&http(200, &body), true), Outcome::AuthErr, "{s}");
        }
    }

    #[test]
    fn row_200_not_json_denies_even_offline_users() {
        assert_eq!(
            outcome(&http(200, "<html>upstream error</html>"), true),
            Outcome::AuthErr
        );
        assert_eq!(
            outcome(&http(200, r#"{"status":"success""#), true),
            Outcome::AuthErr
        );
    }

    #[test]
    fn row_200_too_large_denies() {
        let r = Ok(HttpAnswer {
            status: 200,
            body: Err(BodyError::TooLarge),
        });
        assert_eq!(outcome(&r, true), Outcome::AuthErr);
    }

    #[test]
    fn row_4xx_denies_even_offline_users() {
        for s in [400, 401, 403, 404, 429] {
            assert_eq!(
                outcome(&http(s, r#"{"status":"failed"}"#), true),
                Outcome::AuthErr,
                "{s}"
            );
        }
    }

    #[test]
    fn row_other_status_denies() {
        for s in [201, 204, 301, 302, 307] {
            assert_eq!(
                outcome(&http(s, r#"{"status":"success"}"#), true),
                Outcome::AuthErr,
                "{s}"
            );
        }
    }

    #[test]
    fn row_5xx_is_unavailable() {
        for s in [500, 502, 503, 504] {
            assert_eq!(
                outcome(&http(s, ""), false),
                Outcome::AuthInfoUnavail,
                "{s}"
            );
            assert_eq!(outcome(&http(s, ""), true), Outcome::Success, "{s}");
        }
    }

    #[test]
    fn row_transport_failures_are_unavailable() {
        for u in [
            Unreachable::Dns("x".into()),
            Unreachable::Connect("refused".into()),
            Unreachable::Tls("bad cert".into()),
            Unreachable::Timeout,
            Unreachable::Io("reset".into()),
        ] {
            assert_eq!(outcome(&down(u.clone()), false), Outcome::AuthInfoUnavail);
            let d = decide(&down(u), true);
            assert_eq!((d.outcome, d.level), (Outcome::Success, Level::Info));
            assert!(d.message.contains("offline"));
        }
    }

    #[test]
    fn row_setup_error_is_a_service_error_even_offline() {
        let r = Err(CallError::Setup(SetupError("ca_file /x: missing".into())));
        let d = decide(&r, true);
        assert_eq!((d.outcome, d.level), (Outcome::ServiceErr, Level::Error));
    }

    #[test]
    fn server_text_is_escaped() {
        let d = decide(
            &http(
                200,
                r#"{"status":"failed","reason":"a\nFAKE INFO granted"}"#,
            ),
            false,
        );
        assert!(!d.message.contains('\n'), "{}", d.message);
    }
}
