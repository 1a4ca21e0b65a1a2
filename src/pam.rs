//! The PAM skin: the exported `pam_sm_*` functions and the [`Host`]
//! implementation over a real PAM handle (Linux-PAM or OpenPAM, through
//! `nonstick`, which takes each implementation's own numbers for return codes
//! and flags). Nothing here decides anything; it converts and delegates.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::unix::ffi::OsStringExt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use zeroize::Zeroizing;

use nonstick::constants::{RawFlags, ReturnCode};
use nonstick::{AuthnFlags, ErrorCode, LibPamHandle, ModuleClient};

use crate::decision::Outcome;
use crate::flow::{self, ConvFailure, Host};

/// Key under which the auth phase records, on this handle, the login it
/// passed. nonstick adds the data type and this module's address to the key,
/// so two copies of the module in one stack cannot see each other's mark.
const PASSED_AUTH: &str = "wpam.passed_auth";
/// The Werbot ID typed on this handle, kept for a retry in the same SSH
/// connection (sshd keeps one handle per connection); wiped when libpam
/// frees the data (nonstick drops it at pam_end).
const KEPT_ID: &str = "wpam.kept_id";

struct KeptId {
    login: String,
    id: Zeroizing<String>,
}

struct PamHost<'a> {
    h: &'a mut LibPamHandle,
}

/// The application's `struct pam_conv`, with the function pointer allowed
/// to be NULL: Linux-PAM and OpenPAM accept `{NULL, NULL}` from an
/// application that never converses, and calling through it would crash the
/// host. (libpam-sys declares the pointer non-nullable.)
#[repr(C)]
struct RawConv {
    conv: Option<
        unsafe extern "C" fn(
            c_int,
            *const *const libpam_sys::pam_message,
            *mut *mut libpam_sys::pam_response,
            *mut c_void,
        ) -> c_int,
    >,
    appdata_ptr: *mut c_void,
}

fn raw_handle(h: &mut LibPamHandle) -> *mut libpam_sys::pam_handle {
    (h as *mut LibPamHandle).cast::<libpam_sys::pam_handle>()
}

/// The application's conversation, if it has a callable one.
fn conversation(h: &mut LibPamHandle) -> Option<&RawConv> {
    let mut item: *const c_void = std::ptr::null();
    // SAFETY: h is the live handle PAM gave us; PAM_CONV is a pointer item.
    let rc = unsafe { libpam_sys::pam_get_item(raw_handle(h), libpam_sys::PAM_CONV, &mut item) };
    // SAFETY: a non-null PAM_CONV item points to the application's pam_conv,
    // which lives as long as the handle.
    let conv = unsafe { item.cast::<RawConv>().as_ref() }?;
    (rc == libpam_sys::PAM_SUCCESS && conv.conv.is_some()).then_some(conv)
}

/// A string item as raw bytes (PAM_USER, PAM_RHOST, PAM_SERVICE).
fn item_bytes(h: &mut LibPamHandle, item: c_int) -> Option<Vec<u8>> {
    let mut p: *const c_void = std::ptr::null();
    // SAFETY: live handle; string items are NUL-terminated C strings.
    let rc = unsafe { libpam_sys::pam_get_item(raw_handle(h), item, &mut p) };
    if rc != libpam_sys::PAM_SUCCESS || p.is_null() {
        return None;
    }
    // SAFETY: as above; copied before PAM can change it.
    Some(unsafe { CStr::from_ptr(p.cast()) }.to_bytes().to_vec())
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
    use libpam_sys::{pam_message, pam_response};
    let conv = conversation(h).ok_or(ConvFailure)?;
    let (Some(function), appdata) = (conv.conv, conv.appdata_ptr) else {
        return Err(ConvFailure);
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
    let rc = unsafe { function(1, messages.as_ptr(), &mut resp, appdata) };
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
    fn can_converse(&mut self) -> bool {
        conversation(self.h).is_some()
    }
    fn user(&mut self) -> Option<Vec<u8>> {
        if let Some(u) = item_bytes(self.h, libpam_sys::PAM_USER) {
            return Some(u);
        }
        // pam_get_user asks through the conversation, which libpam calls
        // without checking it for NULL.
        conversation(self.h)?;
        self.h.username(None).ok().map(|u| u.into_vec())
    }
    fn rhost(&mut self) -> Option<Vec<u8>> {
        item_bytes(self.h, libpam_sys::PAM_RHOST)
    }
    fn service(&mut self) -> Option<Vec<u8>> {
        item_bytes(self.h, libpam_sys::PAM_SERVICE)
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
    fn kept_id(&self, login: &str) -> Option<Zeroizing<String>> {
        self.h
            .get_module_data::<KeptId>(KEPT_ID)
            .filter(|k| k.login == login && !k.id.is_empty())
            .map(|k| k.id.clone())
    }
    fn keep_id(&mut self, login: &str, id: Option<&str>) {
        // Failing to keep it only means asking again.
        let _ = self.h.set_module_data(
            KEPT_ID,
            KeptId {
                login: login.to_string(),
                id: Zeroizing::new(id.unwrap_or_default().to_string()),
            },
        );
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
        Outcome::Ignore => Err(ErrorCode::Ignore),
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
unsafe fn args(argc: c_int, argv: *const *const c_char) -> Vec<Zeroizing<String>> {
    if argv.is_null() {
        return Vec::new();
    }
    (0..argc.max(0) as usize)
        .filter_map(|i| {
            // SAFETY: i < argc, and PAM passes argc valid pointers.
            let p = unsafe { *argv.add(i) };
            // SAFETY: each non-null entry is a NUL-terminated string.
            // Wiped when dropped: `service_key=` may be one of them.
            (!p.is_null()).then(|| {
                Zeroizing::new(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            })
        })
        .collect()
}

type Phase = fn(&mut PamHost<'_>, &[&str], bool) -> Outcome;

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
    crate::sys::quiet_panics();
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: PAM hands us its handle; nonstick's LibPamHandle is a
        // transparent wrapper of it.
        let Some(h) = (unsafe { pamh.cast::<LibPamHandle>().as_mut() }) else {
            return Outcome::SystemErr;
        };
        // SAFETY: forwarded from PAM.
        let owned = unsafe { args(argc, argv) };
        let args: Vec<&str> = owned.iter().map(|a| a.as_str()).collect();
        // The test suite's way to prove the panic guard (debug builds, and
        // the release build of feature test-panic-trigger; never shipped).
        #[cfg(any(debug_assertions, feature = "test-panic-trigger"))]
        if args.contains(&"debug_panic=1") {
            #[allow(clippy::panic)]
            {
                panic!("debug_panic=1 was given");
            }
        }
        let silent = AuthnFlags::from(RawFlags::from(flags)).contains(AuthnFlags::SILENT);
        phase(&mut PamHost { h }, &args, silent)
    }));
    match result {
        Ok(outcome) => to_code(outcome),
        Err(_) => {
            let what = crate::sys::take_panic_message();
            // Logging may be what panicked; a second panic must not escape.
            let _ = catch_unwind(|| {
                // SAFETY: as above.
                let owned = unsafe { args(argc, argv) };
                let args: Vec<&str> = owned.iter().map(|a| a.as_str()).collect();
                let parsed = crate::config::parse(&args);
                crate::log::Logger::open(&parsed.log_file, false).error(&format!(
                    "internal error (panic: {}); denied with PAM_SYSTEM_ERR",
                    crate::log::quote(&what)
                ));
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
