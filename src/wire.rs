//! The Werbot API wire format (the reference module's, unchanged):
//!
//! ```text
//! POST https://{server_url}/auth/agent/nix     Content-Type: application/json
//! {"serviceID","serviceKey","user","tfaMethod":"totp"|"U2F","totpCode","userIP","wID"}
//! → 200 {"status":"success"|"failed","reason","intent","data"}
//! ```
//!
//! Only `status == "success"` grants access; everything about what a status
//! *means* for the login lives in `decision.rs`.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const PATH: &str = "/auth/agent/nix";
pub const METHOD_TOTP: &str = "totp";
pub const METHOD_U2F: &str = "U2F";
pub const STATUS_SUCCESS: &str = "success";

#[derive(Serialize)]
pub struct Request<'a> {
    #[serde(rename = "serviceID")]
    pub service_id: &'a str,
    #[serde(rename = "serviceKey")]
    pub service_key: &'a str,
    /// The unix login name.
    pub user: &'a str,
    #[serde(rename = "tfaMethod")]
    pub tfa_method: &'static str,
    /// Six digits for TOTP, empty for U2F.
    #[serde(rename = "totpCode")]
    pub totp_code: &'a str,
    /// PAM_RHOST, empty when the application gave none (console, su, sudo).
    #[serde(rename = "userIP")]
    pub user_ip: &'a str,
    /// The Werbot ID as typed.
    #[serde(rename = "wID")]
    pub werbot_id: &'a str,
}

/// Counts the bytes a serialization would write.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Request<'_> {
    /// The JSON body, in memory that is wiped when dropped: it holds the
    /// service key and the code. Its size is measured first so that the
    /// buffer is allocated once: a growing buffer would leave copies of the
    /// key in freed memory.
    pub fn to_body(&self) -> Zeroizing<Vec<u8>> {
        // Serializing plain string fields cannot fail; an empty body would be
        // refused by the server, never accepted.
        let mut count = Count(0);
        let _ = serde_json::to_writer(&mut count, self);
        let mut body = Zeroizing::new(Vec::with_capacity(count.0));
        if serde_json::to_writer(&mut *body, self).is_err() {
            body.clear();
        }
        body
    }

    /// The request as debug logs show it: the service key and the code
    /// replaced by `[REDACTED]`. Built from the fields, not by parsing the
    /// body, so that no parsed copy of a secret is made.
    pub fn redacted(&self) -> String {
        let shown = Request {
            service_id: self.service_id,
            service_key: crate::log::REDACTED,
            user: self.user,
            tfa_method: self.tfa_method,
            totp_code: crate::log::REDACTED,
            user_ip: self.user_ip,
            werbot_id: self.werbot_id,
        };
        serde_json::to_string(&shown).unwrap_or_default()
    }
}

/// The fields the module reads. `data` (tokens, profile) is skipped, not
/// copied: the module has no use for it.
#[derive(Deserialize, Debug, PartialEq)]
pub struct Response {
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub intent: String,
}

impl Response {
    pub fn parse(body: &[u8]) -> Result<Response, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    pub fn is_success(&self) -> bool {
        self.status == STATUS_SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_field_names_match_the_reference() {
        let r = Request {
            service_id: "sid",
            service_key: "key",
            user: "alice",
            tfa_method: METHOD_TOTP,
            totp_code: "123456",
            user_ip: "192.0.2.1",
            werbot_id: "a@example.com",
        };
        let body = r.to_body();
        assert_eq!(body.len(), body.capacity(), "allocated once, exactly");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let want = serde_json::json!({"serviceID":"sid","serviceKey":"key","user":"alice",
            "tfaMethod":"totp","totpCode":"123456","userIP":"192.0.2.1","wID":"a@example.com"});
        assert_eq!(v, want);
        let shown = r.redacted();
        assert!(
            !shown.contains("\"key\"") && !shown.contains("123456"),
            "{shown}"
        );
        assert!(shown.contains("\"serviceKey\":\"[REDACTED]\""), "{shown}");
    }

    #[test]
    fn request_bytes_match_the_golden_fixtures() {
        let totp = Request {
            service_id: "fixture-service",
            service_key: "fixture-key-not-secret",
            user: "alice",
            tfa_method: METHOD_TOTP,
            totp_code: "123456",
            user_ip: "192.0.2.1",
            werbot_id: "alice@example.com",
        };
        assert_eq!(
            std::str::from_utf8(&totp.to_body()).expect("utf8"),
            include_str!("../tests/fixtures/request-totp.json")
        );
        let u2f = Request {
            tfa_method: METHOD_U2F,
            totp_code: "",
            user_ip: "",
            werbot_id: "alice",
            ..totp
        };
        assert_eq!(
            std::str::from_utf8(&u2f.to_body()).expect("utf8"),
            include_str!("../tests/fixtures/request-u2f.json")
        );
    }

    #[test]
    fn response_needs_only_status() {
        let r = Response::parse(br#"{"status":"success"}"#).expect("parse");
        assert!(r.is_success());
        assert!(!Response::parse(br#"{"status":"Success"}"#)
            .expect("parse")
            .is_success());
        assert!(Response::parse(b"<html>").is_err());
        assert!(Response::parse(br#"{"reason":"x"}"#).is_err());
    }
}
