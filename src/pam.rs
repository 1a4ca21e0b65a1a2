//! The PAM skin: the exported `pam_sm_*` functions and the [`Host`]
//! implementation over a real PAM handle (Linux-PAM or OpenPAM, through
//! `nonstick`, which takes each implementation's own numbers for return codes
//! and flags). Nothing here decides anything; it converts and delegates.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::unix::ffi::OsStringExt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use nonstick::constants::{RawFlags, ReturnCode};
use nonstick::{AuthnFlags, ErrorCode, LibPamHandle, ModuleClient, PamShared};

use crate::decision::Outcome;
use crate::flow::{self, ConvFailure, Host};

/// Key under which the auth phase records, on this handle, the login it
/// passed. nonstick adds the data type and this module's address to the key,
/// so two copies of the module in one stack cannot see each other's mark.
const PASSED_AUTH: &str = "wpam.passed_auth";

struct PamHost<'a> {
    h: &'a mut LibPamHandle,
}

fn os_to_string(s: std::ffi::OsString) -> Option<String> {
    String::from_utf8(s.into_vec()).ok()
}

/// One message through the application's conversation function.
///
/// Called directly rather than through nonstick, which maps a NULL answer to
/// "" and refuses non-UTF-8 bytes: here a NULL answer is a conversation
/// failure and raw bytes reach the input rules, which explain the refusal.
fn converse(
    h: &mut LibPamHandle,
    style: c_int,
    text: &str,
) -> Result<Option<Vec<u8>>, ConvFailure> {
    use libpam_sys::{pam_conv, pam_message, pam_response};
    let pamh = (h as *mut LibPamHandle).cast::<libpam_sys::pam_handle>();
    let mut item: *const c_void = std::ptr::null();
    // SAFETY: pamh is the live handle PAM gave us; PAM_CONV is a pointer item.
    let rc = unsafe { libpam_sys::pam_get_item(pamh, libpam_sys::PAM_CONV, &mut item) };
    // SAFETY: a non-null PAM_CONV item points to the application's pam_conv.
    let conv = match (rc, unsafe { item.cast::<pam_conv>().as_ref() }) {
        (libpam_sys::PAM_SUCCESS, Some(c)) => c,
        _ => return Err(ConvFailure),
    };
    let text = std::ffi::CString::new(text).map_err(|_| ConvFailure)?;
    let message = pam_message {
        msg_style: style,
        msg: text.as_ptr(),
    };
    // One message: the Linux-PAM and OpenPAM layouts of the array agree.
    let messages = [&message as *const pam_message];
    let mut resp: *mut pam_response = std::ptr::null_mut();
    // SAFETY: the arguments follow pam_conv(3); resp is ours to free after.
    let rc = unsafe { (conv.conv)(1, messages.as_ptr(), &mut resp, conv.appdata_ptr) };
    if resp.is_null() {
        return if rc == libpam_sys::PAM_SUCCESS && !is_prompt(style) {
            Ok(None)
        } else {
            Err(ConvFailure)
        };
    }
    // SAFETY: the application allocated one pam_response (and its string)
    // with malloc; we copy, wipe and free both.
    let answer = unsafe {
        let s = (*resp).resp;
        let bytes = (!s.is_null()).then(|| {
            let len = libc::strlen(s);
            let copy = std::slice::from_raw_parts(s.cast::<u8>(), len).to_vec();
            std::ptr::write_bytes(s, 0, len);
            libc::free(s.cast());
            copy
        });
        libc::free(resp.cast());
        bytes
    };
    match (rc, answer) {
        (libpam_sys::PAM_SUCCESS, Some(a)) => Ok(Some(a)),
        (libpam_sys::PAM_SUCCESS, None) if !is_prompt(style) => Ok(None),
        _ => Err(ConvFailure),
    }
}

fn is_prompt(style: c_int) -> bool {
    style == libpam_sys::PAM_PROMPT_ECHO_ON || style == libpam_sys::PAM_PROMPT_ECHO_OFF
}

impl Host for PamHost<'_> {
    fn prompt(&mut self, text: &str, echo: bool) -> Result<Vec<u8>, ConvFailure> {
        let style = if echo {
            libpam_sys::PAM_PROMPT_ECHO_ON
        } else {
            libpam_sys::PAM_PROMPT_ECHO_OFF
        };
        converse(self.h, style, text)?.ok_or(ConvFailure)
    }
    fn error_msg(&mut self, text: &str) {
        let _ = converse(self.h, libpam_sys::PAM_ERROR_MSG, text);
    }
    fn info_msg(&mut self, text: &str) {
        let _ = converse(self.h, libpam_sys::PAM_TEXT_INFO, text);
    }
    fn user(&mut self) -> Option<String> {
        self.h.username(None).ok().and_then(os_to_string)
    }
    fn rhost(&mut self) -> Option<String> {
        use nonstick::items::Items;
        self.h
            .items()
            .remote_host()
            .ok()
            .flatten()
            .and_then(os_to_string)
    }
    fn service(&mut self) -> Option<String> {
        use nonstick::items::Items;
        self.h
            .items()
            .service()
            .ok()
            .flatten()
            .and_then(os_to_string)
    }
    fn passed_auth(&self) -> Option<String> {
        self.h
            .get_module_data::<String>(PASSED_AUTH)
            .filter(|u| !u.is_empty())
            .cloned()
    }
    fn set_passed_auth(&mut self, user: Option<&str>) {
        // Failing to record only costs a second API call in the account phase.
        let _ = self
            .h
            .set_module_data(PASSED_AUTH, user.unwrap_or_default().to_string());
    }
}

fn to_code(o: Outcome) -> c_int {
    let r: nonstick::Result<()> = match o {
        Outcome::Success => Ok(()),
        Outcome::AuthErr => Err(ErrorCode::AuthenticationError),
        Outcome::AuthInfoUnavail => Err(ErrorCode::AuthInfoUnavailable),
        Outcome::ConvErr => Err(ErrorCode::ConversationError),
        Outcome::ServiceErr => Err(ErrorCode::ServiceError),
        Outcome::SystemErr => Err(ErrorCode::SystemError),
    };
    ReturnCode::from(r).into()
}

/// The numeric value this build returns for each outcome (for tests that
/// compare against the PAM headers).
pub fn outcome_code(o: Outcome) -> c_int {
    to_code(o)
}

/// The PAM_SILENT bit as this build's PAM implementation numbers it.
pub fn silent_flag() -> c_int {
    RawFlags::from(AuthnFlags::SILENT).into()
}

/// # Safety
/// `argv` must hold `argc` valid C strings (PAM guarantees it).
unsafe fn args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    if argv.is_null() {
        return Vec::new();
    }
    (0..argc.max(0) as usize)
        .filter_map(|i| {
            // SAFETY: i < argc, and PAM passes argc valid pointers.
            let p = unsafe { *argv.add(i) };
            // SAFETY: each non-null entry is a NUL-terminated string.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        })
        .collect()
}

type Phase = fn(&mut PamHost<'_>, &[String], bool) -> Outcome;

/// Runs one phase with every panic caught: since Rust 1.81 a panic leaving an
/// `extern "C"` function aborts the host process (sshd's auth child).
///
/// # Safety
/// The arguments must be those PAM passed to the `pam_sm_*` function.
unsafe fn guarded(
    pamh: *mut c_void,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
    phase: Phase,
) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: PAM hands us its handle; nonstick's LibPamHandle is a
        // transparent wrapper of it.
        let Some(h) = (unsafe { pamh.cast::<LibPamHandle>().as_mut() }) else {
            return Outcome::SystemErr;
        };
        // SAFETY: forwarded from PAM.
        let args = unsafe { args(argc, argv) };
        let silent = AuthnFlags::from(RawFlags::from(flags)).contains(AuthnFlags::SILENT);
        phase(&mut PamHost { h }, &args, silent)
    }));
    match result {
        Ok(outcome) => to_code(outcome),
        Err(_) => {
            // Logging may be what panicked; a second panic must not escape.
            let _ = catch_unwind(|| {
                // SAFETY: as above.
                let args = unsafe { args(argc, argv) };
                let parsed = crate::config::parse(&args);
                crate::log::Logger::open(&parsed.log_file, false)
                    .error("internal error (panic) in wpam; denied with PAM_SYSTEM_ERR");
            });
            to_code(Outcome::SystemErr)
        }
    }
}

/// # Safety
/// Called by libpam with a valid handle and argument vector.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_authenticate(
    pamh: *mut c_void,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: forwarded unchanged from libpam.
    unsafe {
        guarded(pamh, flags, argc, argv, |h, a, s| {
            flow::authenticate_entry(h, a, s)
        })
    }
}

/// # Safety
/// Called by libpam with a valid handle and argument vector.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_acct_mgmt(
    pamh: *mut c_void,
    flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: forwarded unchanged from libpam.
    unsafe {
        guarded(pamh, flags, argc, argv, |h, a, s| {
            flow::account_entry(h, a, s)
        })
    }
}

/// PAM_SUCCESS, not PAM_IGNORE: when wpam is the only auth module, an
/// all-ignored setcred stack makes Linux-PAM answer PAM_PERM_DENIED and sshd
/// drops the session after a successful second factor.
///
/// # Safety
/// Called by libpam; touches none of its arguments.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_setcred(
    _pamh: *mut c_void,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    to_code(Outcome::Success)
}
