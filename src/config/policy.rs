//! Who is asked and how: `groups=`, `account_phase=`, `unenrolled=`,
//! `remember=`, `prompt_id=` / `prompt_code=`. A policy key is an error when
//! garbled, never a warning and a default: a wrong reading would exempt
//! people or let an unknown user in.

use std::time::Duration;

use super::ConfigError;

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

/// `groups=a,b,!c`.
pub(super) fn groups(v: Option<&str>) -> Result<Groups, ConfigError> {
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

/// `account_phase=verify|skip`, `verify` when absent.
pub(super) fn account_phase(v: Option<&str>) -> Result<AccountPhase, ConfigError> {
    either(
        "account_phase",
        v,
        ("verify", AccountPhase::Verify),
        ("skip", AccountPhase::Skip),
    )
}

/// `unenrolled=deny|allow`, `deny` when absent.
pub(super) fn unenrolled(v: Option<&str>) -> Result<Unenrolled, ConfigError> {
    either(
        "unenrolled",
        v,
        ("deny", Unenrolled::Deny),
        ("allow", Unenrolled::Allow),
    )
}

/// A key with two words: the first is also the value when the key is
/// absent; anything else is an error.
fn either<T>(
    key: &'static str,
    v: Option<&str>,
    default: (&str, T),
    other: (&str, T),
) -> Result<T, ConfigError> {
    match v.map(str::trim) {
        None => Ok(default.1),
        Some(v) if v == default.0 => Ok(default.1),
        Some(v) if v == other.0 => Ok(other.1),
        Some(v) => Err(ConfigError::Invalid {
            key,
            why: format!(
                "{} is not {} or {}",
                crate::log::quote(v),
                default.0,
                other.0
            ),
        }),
    }
}

/// `remember=`: the window, or None for off (absent, `0`, `off`, empty).
pub(super) fn remember(v: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    match v.map(str::trim) {
        None | Some("0" | "off" | "") => Ok(None),
        Some(v) => parse_remember(v)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid {
                key: "remember",
                why: format!(
                    "{} is not a duration between 1s and 24h (e.g. 600, 30m, 8h)",
                    crate::log::quote(v)
                ),
            }),
    }
}

/// `600`, `600s`, `30m`, `8h`: 1 s to [`MAX_REMEMBER`].
pub fn parse_remember(v: &str) -> Option<Duration> {
    super::span(
        v,
        &[("h", 3_600_000), ("m", 60_000), ("s", 1000)],
        MAX_REMEMBER,
    )
}

/// A prompt: printable text (spaces included), at most [`MAX_PROMPT`] bytes.
pub(super) fn prompt(
    key: &'static str,
    v: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::config::tests::{ok, BASE};

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
    fn the_default_word_may_be_written_out() {
        assert_eq!(account_phase(Some("verify")), Ok(AccountPhase::Verify));
        assert_eq!(account_phase(Some(" skip ")), Ok(AccountPhase::Skip));
        assert_eq!(unenrolled(Some("deny")), Ok(Unenrolled::Deny));
        assert_eq!(unenrolled(Some("allow")), Ok(Unenrolled::Allow));
    }

    #[test]
    fn prompts_up_to_the_limit() {
        let p = |n: usize| prompt("prompt_id", Some("x".repeat(n)), "d");
        assert_eq!(p(MAX_PROMPT), Ok("x".repeat(MAX_PROMPT)));
        assert!(matches!(
            p(MAX_PROMPT + 1),
            Err(ConfigError::Invalid {
                key: "prompt_id",
                ..
            })
        ));
        assert_eq!(prompt("prompt_id", None, "d"), Ok("d".to_string()));
    }

    #[test]
    fn groups_exclusion_wins_and_inclusion_narrows() {
        let g = |v: &str| groups(Some(v)).expect("groups");
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
}
