//! What a user may type. Everything the two prompts return passes through
//! here before it can reach the network or a log line.
//!
//! Rules: surrounding ASCII whitespace is trimmed; the Werbot ID is 1–254
//! bytes of UTF-8 with no control, format (bidi, zero-width), separator or
//! unassigned characters; the code is an empty answer (U2F) or exactly six
//! ASCII digits (TOTP). Anything else — a typo, a code of spaces — is refused
//! locally instead of becoming a U2F push.

use std::fmt;

use zeroize::Zeroizing;

pub const PROMPT_ID: &str = "Enter your Werbot ID (email or username): ";
pub const PROMPT_CODE: &str = "Enter your totp code (submit empty for U2F): ";
pub const MAX_ID_BYTES: usize = 254;

/// The second factor the user chose.
#[derive(PartialEq, Eq)]
pub enum Factor {
    Totp(Zeroizing<String>),
    U2f,
}

impl fmt::Debug for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Factor::Totp(_) => f.write_str("Totp([REDACTED])"),
            Factor::U2f => f.write_str("U2f"),
        }
    }
}

/// Why an answer was refused; the Display text is shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    IdEmpty,
    IdTooLong,
    IdNotUtf8,
    IdControl,
    CodeMalformed,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputError::IdEmpty => "The Werbot ID may not be empty.",
            InputError::IdTooLong => "The Werbot ID is too long (254 bytes at most).",
            InputError::IdNotUtf8 => "The Werbot ID is not valid text (UTF-8).",
            InputError::IdControl => {
                "The Werbot ID may not contain control or invisible formatting characters."
            }
            InputError::CodeMalformed => {
                "The code must be exactly 6 digits, or empty to approve with U2F."
            }
        })
    }
}

fn trim(raw: &[u8]) -> &[u8] {
    raw.trim_ascii()
}

/// Validates the answer to [`PROMPT_ID`].
pub fn werbot_id(raw: &[u8]) -> Result<String, InputError> {
    let t = trim(raw);
    if t.is_empty() {
        return Err(InputError::IdEmpty);
    }
    if t.len() > MAX_ID_BYTES {
        return Err(InputError::IdTooLong);
    }
    let s = std::str::from_utf8(t).map_err(|_| InputError::IdNotUtf8)?;
    if s.chars().any(|c| c != ' ' && crate::log::is_unsafe_char(c)) {
        return Err(InputError::IdControl);
    }
    Ok(s.to_string())
}

/// Validates the answer to [`PROMPT_CODE`]. Only a truly empty answer is
/// U2F: a code of spaces is a typo, not a request for a push.
pub fn factor(raw: &[u8]) -> Result<Factor, InputError> {
    if raw.is_empty() {
        return Ok(Factor::U2f);
    }
    let t = trim(raw);
    if t.len() == 6 && t.iter().all(u8::is_ascii_digit) {
        // Six ASCII digits are valid UTF-8 by construction.
        let code = String::from_utf8_lossy(t).into_owned();
        return Ok(Factor::Totp(Zeroizing::new(code)));
    }
    Err(InputError::CodeMalformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_trimmed() {
        assert_eq!(
            werbot_id(b"  alice@example.com\t\n").as_deref(),
            Ok("alice@example.com")
        );
    }

    #[test]
    fn id_empty_or_blank_is_refused() {
        assert_eq!(werbot_id(b""), Err(InputError::IdEmpty));
        assert_eq!(werbot_id(b" \t "), Err(InputError::IdEmpty));
    }

    #[test]
    fn id_length_bound_is_254_bytes() {
        assert!(werbot_id(&[b'a'; 254]).is_ok());
        assert_eq!(werbot_id(&[b'a'; 255]), Err(InputError::IdTooLong));
        assert_eq!(werbot_id(&vec![b'a'; 100_000]), Err(InputError::IdTooLong));
    }

    #[test]
    fn id_with_control_bytes_is_refused() {
        for bad in [
            &b"al\nice"[..],
            b"al\rice",
            b"a\x1b[2Jb",
            b"a\x00b",
            b"a\x7fb",
            "a\u{85}b".as_bytes(),
            "a\u{2028}b".as_bytes(),
            "a\u{2029}b".as_bytes(),
            "evil\u{202e}moc.elpmaxe@".as_bytes(),
            "a\u{2066}b".as_bytes(),
            "a\u{200b}b".as_bytes(),
            "a\u{feff}b".as_bytes(),
        ] {
            assert_eq!(werbot_id(bad), Err(InputError::IdControl), "{bad:?}");
        }
    }

    #[test]
    fn id_not_utf8_is_refused() {
        assert_eq!(werbot_id(b"\xff\xfe"), Err(InputError::IdNotUtf8));
    }

    #[test]
    fn id_unicode_is_accepted() {
        assert_eq!(
            werbot_id("jürgen@example.com".as_bytes()).as_deref(),
            Ok("jürgen@example.com")
        );
    }

    #[test]
    fn only_an_empty_code_means_u2f() {
        assert_eq!(factor(b""), Ok(Factor::U2f));
        for blank in [&b" "[..], b"   ", b"\t", b"\n", b" \r\n"] {
            assert_eq!(factor(blank), Err(InputError::CodeMalformed), "{blank:?}");
        }
    }

    #[test]
    fn six_digits_mean_totp() {
        assert_eq!(
            factor(b" 012345 "),
            Ok(Factor::Totp(Zeroizing::new("012345".into())))
        );
    }

    #[test]
    fn debug_output_never_shows_the_code() {
        // Debug is what a `{:?}` in a log line or a panic message prints:
        // it names the factor and hides the code.
        let totp = factor(b"012345").expect("totp");
        assert_eq!(format!("{totp:?}"), "Totp([REDACTED])");
        assert_eq!(format!("{:?}", Factor::U2f), "U2f");
    }

    #[test]
    fn anything_else_is_refused_not_pushed() {
        for bad in [
            &b"12345"[..],
            b"1234567",
            b"12345a",
            b"12 345",
            b"\xd9\xa1\xd9\xa2\xd9\xa3",
            b"+12345",
            b"abcdef",
        ] {
            assert_eq!(factor(bad), Err(InputError::CodeMalformed), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_code() {
        assert!(!format!("{:?}", factor(b"123456")).contains("123456"));
    }
}
