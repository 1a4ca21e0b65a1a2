//! `wpam test` on OpenBSD: one real BSD Authentication through the login
//! style sshd would use (`auth_userchallenge(3)` with the login class's
//! `auth-ssh` styles, then `auth_userresponse(3)`), on this terminal; then
//! the lines the style added to its log file.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::process::ExitCode;

use crate::term::{ask, say};
use crate::TestArgs;

extern "C" {
    fn auth_userchallenge(
        name: *const c_char,
        style: *const c_char,
        type_: *const c_char,
        challengep: *mut *mut c_char,
    ) -> *mut c_void;
    fn auth_userresponse(session: *mut c_void, response: *const c_char, more: c_int) -> c_int;
    fn auth_close(session: *mut c_void) -> c_int;
}

pub fn run(a: &TestArgs) -> ExitCode {
    // The login.conf capability: auth-ssh for sshd, auth-<service> otherwise.
    let kind = match a.service.as_str() {
        "sshd" | "ssh" => "auth-ssh".to_string(),
        s => format!("auth-{s}"),
    };
    let (Ok(user), Ok(kind_c)) = (CString::new(a.user.as_str()), CString::new(kind.as_str()))
    else {
        eprintln!("wpam test: a name contains a NUL byte");
        return ExitCode::from(2);
    };
    let log = pam_wpam::bsdauth::load_settings(&a.config).ok().map(|s| {
        let args: Vec<&str> = s.args.iter().map(|x| x.as_str()).collect();
        pam_wpam::config::parse(&args).log_file
    });
    let from = log
        .as_ref()
        .and_then(|l| std::fs::metadata(l).ok())
        .map_or(0, |m| m.len());
    say(&format!(
        "wpam test: BSD Authentication {kind}, user {}\n",
        a.user
    ));
    let mut challenge: *mut c_char = std::ptr::null_mut();
    // SAFETY: valid C strings; the session is closed by auth_userresponse.
    let session = unsafe {
        auth_userchallenge(
            user.as_ptr(),
            std::ptr::null(),
            kind_c.as_ptr(),
            &mut challenge,
        )
    };
    if session.is_null() {
        say("auth_userchallenge: failed (unknown user, or no such style)\n");
        return ExitCode::FAILURE;
    }
    let prompt = if challenge.is_null() {
        pam_wpam::bsdauth::PROMPT.to_string()
    } else {
        // SAFETY: a NUL-terminated string owned by the session.
        unsafe { CStr::from_ptr(challenge) }
            .to_string_lossy()
            .into_owned()
    };
    // The end of input or a NUL byte is no answer: sending an empty one
    // instead would ask for a U2F approval the operator never chose.
    let Some(answer) = ask(&prompt, false).and_then(|a| CString::new(a.to_vec()).ok()) else {
        // SAFETY: the live session, closed without running the style again.
        let _ = unsafe { auth_close(session) };
        say("wpam test: no answer (end of input or a NUL byte): nothing sent\n");
        return ExitCode::FAILURE;
    };
    // SAFETY: the live session and a C string; more=0 closes the session.
    let ok = unsafe { auth_userresponse(session, answer.as_ptr(), 0) } != 0;
    say(&format!(
        "auth_userresponse: {}\n",
        if ok { "authorize" } else { "reject" }
    ));
    if let Some(l) = log {
        let text = std::fs::read(&l)
            .map(|b| String::from_utf8_lossy(b.get(from as usize..).unwrap_or(&[])).into_owned())
            .unwrap_or_default();
        say(&format!("log {}:\n", l.display()));
        for line in text.lines() {
            say(&format!("  {line}\n"));
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
