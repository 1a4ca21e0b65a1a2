//! `wpam test`: one real PAM transaction through a service, on this
//! terminal. `pam_start` (or Linux-PAM's `pam_start_confdir` with
//! `--pam-dir`), `pam_authenticate`, then `pam_acct_mgmt`, as sshd calls
//! them; each result printed by name; then the lines the module added to
//! its log file meanwhile.
//!
//! The conversation reads answers from standard input — with echo off for
//! `PAM_PROMPT_ECHO_OFF` when it is a terminal — and prints prompts and
//! messages on standard output.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use libpam_sys::{pam_conv, pam_handle, pam_message, pam_response};
use zeroize::Zeroize;

use crate::term::{ask, say};
use crate::TestArgs;

/// A PAM result's name, as this system's PAM numbers them.
pub fn code_name(rc: c_int) -> String {
    use libpam_sys::*;
    let names: &[(c_int, &str)] = &[
        (PAM_SUCCESS, "PAM_SUCCESS"),
        (PAM_OPEN_ERR, "PAM_OPEN_ERR"),
        (PAM_SYMBOL_ERR, "PAM_SYMBOL_ERR"),
        (PAM_SERVICE_ERR, "PAM_SERVICE_ERR"),
        (PAM_SYSTEM_ERR, "PAM_SYSTEM_ERR"),
        (PAM_BUF_ERR, "PAM_BUF_ERR"),
        (PAM_CONV_ERR, "PAM_CONV_ERR"),
        (PAM_PERM_DENIED, "PAM_PERM_DENIED"),
        (PAM_MAXTRIES, "PAM_MAXTRIES"),
        (PAM_AUTH_ERR, "PAM_AUTH_ERR"),
        (PAM_NEW_AUTHTOK_REQD, "PAM_NEW_AUTHTOK_REQD"),
        (PAM_CRED_INSUFFICIENT, "PAM_CRED_INSUFFICIENT"),
        (PAM_AUTHINFO_UNAVAIL, "PAM_AUTHINFO_UNAVAIL"),
        (PAM_USER_UNKNOWN, "PAM_USER_UNKNOWN"),
        (PAM_CRED_UNAVAIL, "PAM_CRED_UNAVAIL"),
        (PAM_CRED_EXPIRED, "PAM_CRED_EXPIRED"),
        (PAM_CRED_ERR, "PAM_CRED_ERR"),
        (PAM_ACCT_EXPIRED, "PAM_ACCT_EXPIRED"),
        (PAM_AUTHTOK_EXPIRED, "PAM_AUTHTOK_EXPIRED"),
        (PAM_SESSION_ERR, "PAM_SESSION_ERR"),
        (PAM_AUTHTOK_ERR, "PAM_AUTHTOK_ERR"),
        (PAM_AUTHTOK_RECOVERY_ERR, "PAM_AUTHTOK_RECOVERY_ERR"),
        (PAM_AUTHTOK_LOCK_BUSY, "PAM_AUTHTOK_LOCK_BUSY"),
        (PAM_AUTHTOK_DISABLE_AGING, "PAM_AUTHTOK_DISABLE_AGING"),
        (PAM_NO_MODULE_DATA, "PAM_NO_MODULE_DATA"),
        (PAM_IGNORE, "PAM_IGNORE"),
        (PAM_ABORT, "PAM_ABORT"),
        (PAM_TRY_AGAIN, "PAM_TRY_AGAIN"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == rc)
        .map_or_else(|| format!("PAM error {rc}"), |(_, s)| s.to_string())
}

fn strerror(rc: c_int) -> String {
    // SAFETY: every PAM implementation ignores the handle and returns a
    // static string (or NULL).
    let p = unsafe { libpam_sys::pam_strerror(std::ptr::null(), rc) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated static string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Copies an answer into memory PAM frees, and wipes the original.
fn to_c(mut answer: zeroize::Zeroizing<Vec<u8>>) -> *mut c_char {
    // SAFETY: malloc of len+1 bytes, filled and NUL-terminated below.
    unsafe {
        let p = libc::malloc(answer.len() + 1).cast::<u8>();
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(answer.as_ptr(), p, answer.len());
            *p.add(answer.len()) = 0;
        }
        answer.zeroize();
        p.cast()
    }
}

/// The conversation function: prompts and messages on this terminal.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *const *const pam_message,
    resp: *mut *mut pam_response,
    _appdata: *mut c_void,
) -> c_int {
    let n = usize::try_from(num_msg).unwrap_or(0);
    if n == 0 || msg.is_null() || resp.is_null() {
        return libpam_sys::PAM_CONV_ERR;
    }
    // SAFETY: PAM passes num_msg message pointers; the responses are
    // allocated here with calloc and freed by PAM (or here on failure).
    unsafe {
        let out = libc::calloc(n, std::mem::size_of::<pam_response>()).cast::<pam_response>();
        if out.is_null() {
            return libpam_sys::PAM_BUF_ERR;
        }
        for i in 0..n {
            let m = &**msg.add(i);
            let text = if m.msg.is_null() {
                String::new()
            } else {
                CStr::from_ptr(m.msg).to_string_lossy().into_owned()
            };
            let style = m.msg_style;
            if style == libpam_sys::PAM_PROMPT_ECHO_OFF || style == libpam_sys::PAM_PROMPT_ECHO_ON {
                match ask(&text, style == libpam_sys::PAM_PROMPT_ECHO_ON) {
                    Some(a) => (*out.add(i)).resp = to_c(a),
                    None => {
                        for j in 0..i {
                            let r = (*out.add(j)).resp;
                            if !r.is_null() {
                                std::slice::from_raw_parts_mut(r.cast::<u8>(), libc::strlen(r))
                                    .zeroize();
                                libc::free(r.cast());
                            }
                        }
                        libc::free(out.cast());
                        say("\n(no answer)\n");
                        return libpam_sys::PAM_CONV_ERR;
                    }
                }
            } else if style == libpam_sys::PAM_ERROR_MSG || style == libpam_sys::PAM_TEXT_INFO {
                say(&format!("{text}\n"));
            }
        }
        *resp = out;
    }
    libpam_sys::PAM_SUCCESS
}

type StartConfdir = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *mut pam_conv,
    *const c_char,
    *mut *mut pam_handle,
) -> c_int;

/// Linux-PAM ≥ 1.4's `pam_start_confdir`, looked up at run time so that
/// `wpam` still starts with an older libpam (RHEL 8's 1.3).
fn start_confdir() -> Option<StartConfdir> {
    if cfg!(any(target_os = "freebsd", target_os = "netbsd")) {
        return None;
    }
    // SAFETY: dlsym with a NUL-terminated name; the symbol, when present,
    // has this signature (pam_appl.h).
    unsafe {
        let p = libc::dlsym(libc::RTLD_DEFAULT, c"pam_start_confdir".as_ptr());
        (!p.is_null()).then(|| std::mem::transmute::<*mut c_void, StartConfdir>(p))
    }
}

/// The log files of the service's wpam lines, with their sizes now.
fn log_files(a: &TestArgs) -> Vec<(PathBuf, u64)> {
    use crate::pamstack::{self, Flavor};
    let flavor = Flavor::native();
    let dirs = a
        .pam_dir
        .as_ref()
        .map_or_else(|| flavor.default_dirs(), |d| vec![d.clone()]);
    let Ok(policy) = pamstack::load(&a.service, &dirs, flavor) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, u64)> = Vec::new();
    for e in policy.all_wpam_lines() {
        let log = pam_wpam::config::parse(&e.args).log_file;
        if !out.iter().any(|(p, _)| *p == log) {
            let size = std::fs::metadata(&log).map_or(0, |m| m.len());
            out.push((log, size));
        }
    }
    out
}

/// What was appended to `path` after `from` (at most 1 MiB).
fn appended(path: &Path, from: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok((mut f, _)) = pam_wpam::sys::open_regular(path, libc::O_NOFOLLOW, u64::MAX) else {
        return String::new();
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err() || f.take(1 << 20).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

pub fn run(a: &TestArgs) -> ExitCode {
    let logs = log_files(a);
    let Ok(service) = CString::new(a.service.as_str()) else {
        eprintln!("wpam test: the service name contains a NUL byte");
        return ExitCode::from(2);
    };
    let Ok(user) = CString::new(a.user.as_str()) else {
        eprintln!("wpam test: the user name contains a NUL byte");
        return ExitCode::from(2);
    };
    let mut conv = pam_conv {
        conv: converse,
        appdata_ptr: std::ptr::null_mut(),
    };
    let mut h: *mut pam_handle = std::ptr::null_mut();
    let where_ = match &a.pam_dir {
        Some(d) => d.display().to_string(),
        None => "the system's PAM policy".to_string(),
    };
    say(&format!(
        "wpam test: service {}, user {} ({where_})\n",
        a.service, a.user
    ));
    let rc = match &a.pam_dir {
        None => {
            // SAFETY: valid C strings and a conversation that outlives h.
            unsafe { libpam_sys::pam_start(service.as_ptr(), user.as_ptr(), &mut conv, &mut h) }
        }
        Some(d) => {
            let Some(start) = start_confdir() else {
                eprintln!(
                    "wpam test: --pam-dir needs Linux-PAM 1.4 or later (pam_start_confdir); this PAM library has none"
                );
                return ExitCode::from(2);
            };
            let Ok(dir) = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(d.as_os_str()))
            else {
                eprintln!("wpam test: the directory name contains a NUL byte");
                return ExitCode::from(2);
            };
            // SAFETY: as above; dir outlives the call (PAM copies it).
            unsafe {
                start(
                    service.as_ptr(),
                    user.as_ptr(),
                    &mut conv,
                    dir.as_ptr(),
                    &mut h,
                )
            }
        }
    };
    say(&format!("pam_start: {}\n", code_name(rc)));
    if rc != libpam_sys::PAM_SUCCESS || h.is_null() {
        say(&format!("  {}\n", strerror(rc)));
        return ExitCode::FAILURE;
    }
    if let Some(r) = &a.rhost {
        if let Ok(r) = CString::new(r.as_str()) {
            // SAFETY: live handle; PAM copies the item.
            unsafe { libpam_sys::pam_set_item(h, libpam_sys::PAM_RHOST, r.as_ptr().cast()) };
        }
    }
    let mut ok = true;
    let mut last = libpam_sys::PAM_SUCCESS;
    if a.account_only {
        say(
            "pam_authenticate: not called (--account-only: as sshd for a login with a key alone)\n",
        );
    } else {
        // SAFETY: live handle.
        last = unsafe { libpam_sys::pam_authenticate(h, 0) };
        say(&format!("pam_authenticate: {}\n", code_name(last)));
        ok = last == libpam_sys::PAM_SUCCESS;
    }
    if ok {
        // SAFETY: live handle.
        last = unsafe { libpam_sys::pam_acct_mgmt(h, 0) };
        say(&format!("pam_acct_mgmt: {}\n", code_name(last)));
        ok = last == libpam_sys::PAM_SUCCESS;
    } else {
        say("pam_acct_mgmt: not called (authentication failed)\n");
    }
    // SAFETY: live handle, ended once.
    unsafe { libpam_sys::pam_end(h, last) };
    for (path, from) in &logs {
        let text = appended(path, *from);
        say(&format!("log {}:\n", path.display()));
        if text.is_empty() {
            say("  (nothing written)\n");
        }
        for line in text.lines() {
            say(&format!("  {line}\n"));
        }
    }
    say(if ok {
        "wpam test: the login succeeded\n"
    } else {
        "wpam test: the login failed\n"
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_have_names() {
        assert_eq!(super::code_name(libpam_sys::PAM_SUCCESS), "PAM_SUCCESS");
        assert_eq!(super::code_name(libpam_sys::PAM_AUTH_ERR), "PAM_AUTH_ERR");
        assert_eq!(super::code_name(9999), "PAM error 9999");
    }
}
