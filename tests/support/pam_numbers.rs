//! The PAM numbers this build of the module uses: the return code of each
//! outcome (`pam::outcome_code`), the PAM_SILENT bit it tests
//! (`pam::silent_flag`), and the message styles and item number its
//! conversation code passes (the `libpam_sys` constants `src/pam.rs` uses).
//! Shared by `tests/openpam_constants.rs` (in-process, host numbering) and
//! `examples/pam_constants.rs` (built with `LIBPAMSYS_IMPL=OpenPam`).

use pam_wpam::decision::Outcome;
use pam_wpam::pam::{outcome_code, silent_flag};

pub fn module_numbers() -> Vec<(&'static str, i64)> {
    let mut v: Vec<(&'static str, i64)> = [
        ("PAM_SUCCESS", Outcome::Success),
        ("PAM_AUTH_ERR", Outcome::AuthErr),
        ("PAM_AUTHINFO_UNAVAIL", Outcome::AuthInfoUnavail),
        ("PAM_CONV_ERR", Outcome::ConvErr),
        ("PAM_SERVICE_ERR", Outcome::ServiceErr),
        ("PAM_SYSTEM_ERR", Outcome::SystemErr),
    ]
    .into_iter()
    .map(|(name, o)| (name, i64::from(outcome_code(o))))
    .collect();
    v.extend([
        ("PAM_SILENT", i64::from(silent_flag())),
        ("PAM_IGNORE", i64::from(libpam_sys::PAM_IGNORE)),
        (
            "PAM_PROMPT_ECHO_OFF",
            i64::from(libpam_sys::PAM_PROMPT_ECHO_OFF),
        ),
        (
            "PAM_PROMPT_ECHO_ON",
            i64::from(libpam_sys::PAM_PROMPT_ECHO_ON),
        ),
        ("PAM_ERROR_MSG", i64::from(libpam_sys::PAM_ERROR_MSG)),
        ("PAM_TEXT_INFO", i64::from(libpam_sys::PAM_TEXT_INFO)),
        ("PAM_CONV", i64::from(libpam_sys::PAM_CONV)),
    ]);
    v
}

/// The implementation libpam-sys was built for ("LinuxPam", "OpenPam").
pub fn implementation() -> &'static str {
    libpam_sys::pam_impl_name!()
}
