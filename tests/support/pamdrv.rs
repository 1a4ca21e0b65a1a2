//! A tiny PAM application for tests and the demo: drives the real Linux-PAM
//! library (`pam_start_confdir`, so no root and no /etc/pam.d edit is needed)
//! with a scripted conversation, and records what the module said.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

// Linux-PAM's numbers (security/_pam_types.h); these tests run on Linux only.
pub const PAM_SUCCESS: c_int = 0;
pub const PAM_SERVICE_ERR: c_int = 3;
pub const PAM_SYSTEM_ERR: c_int = 4;
pub const PAM_PERM_DENIED: c_int = 6;
pub const PAM_AUTH_ERR: c_int = 7;
pub const PAM_AUTHINFO_UNAVAIL: c_int = 9;
pub const PAM_CONV_ERR: c_int = 19;
pub const PAM_IGNORE: c_int = 25;
pub const PAM_SILENT: c_int = 0x8000;
const PAM_RHOST: c_int = 4;
const PAM_USER: c_int = 2;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = unsafe extern "C" fn(
    c_int,
    *mut *const PamMessage,
    *mut *mut PamResponse,
    *mut c_void,
) -> c_int;

/// `struct pam_conv`; the function may be NULL (Linux-PAM and OpenPAM accept
/// `{NULL, NULL}` from an application that never converses).
#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
extern "C" {
    fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        confdir: *const c_char,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_setcred(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
    fn pam_strerror(pamh: *mut c_void, errnum: c_int) -> *const c_char;
}

/// How the scripted user answers one prompt.
#[derive(Clone, Debug)]
pub enum Answer {
    Text(Vec<u8>),
    /// A response whose string pointer is NULL.
    Null,
    /// The conversation function itself fails.
    Fail,
}

impl Answer {
    pub fn text(s: impl AsRef<[u8]>) -> Answer {
        Answer::Text(s.as_ref().to_vec())
    }
}

/// What passed through the conversation, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Prompt {
        text: String,
        echo: bool,
        answer: String,
    },
    Error(String),
    Info(String),
}

struct Script {
    answers: VecDeque<Answer>,
    events: Vec<Event>,
}

unsafe extern "C" fn conversation(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    let script = &mut *(appdata as *mut Script);
    let n = num_msg.max(0) as usize;
    let out = libc::calloc(n.max(1), std::mem::size_of::<PamResponse>()) as *mut PamResponse;
    if out.is_null() {
        return 5; // PAM_BUF_ERR
    }
    for i in 0..n {
        let m = &**msg.add(i);
        let text = CStr::from_ptr(m.msg).to_string_lossy().into_owned();
        match m.msg_style {
            PAM_PROMPT_ECHO_ON | PAM_PROMPT_ECHO_OFF => {
                let answer = script.answers.pop_front().unwrap_or(Answer::Fail);
                let shown = match &answer {
                    Answer::Text(b) => String::from_utf8_lossy(b).into_owned(),
                    Answer::Null => "<NULL>".into(),
                    Answer::Fail => "<conversation error>".into(),
                };
                script.events.push(Event::Prompt {
                    text,
                    echo: m.msg_style == PAM_PROMPT_ECHO_ON,
                    answer: shown,
                });
                match answer {
                    Answer::Text(b) => {
                        let p = libc::malloc(b.len() + 1) as *mut u8;
                        ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
                        *p.add(b.len()) = 0;
                        (*out.add(i)).resp = p as *mut c_char;
                    }
                    Answer::Null => {}
                    Answer::Fail => {
                        for j in 0..i {
                            libc::free((*out.add(j)).resp as *mut c_void);
                        }
                        libc::free(out as *mut c_void);
                        return PAM_CONV_ERR;
                    }
                }
            }
            PAM_ERROR_MSG => script.events.push(Event::Error(text)),
            PAM_TEXT_INFO => script.events.push(Event::Info(text)),
            _ => {}
        }
    }
    *resp = out;
    PAM_SUCCESS
}

pub fn strerror(code: c_int) -> String {
    // SAFETY: Linux-PAM ignores the handle and returns a static string.
    unsafe { CStr::from_ptr(pam_strerror(ptr::null_mut(), code)) }
        .to_string_lossy()
        .into_owned()
}

/// Path of the module under test: `WPAM_TEST_MODULE` when set (e.g. the
/// release build in dist/, or an older build to show a test fails on it),
/// else the freshly built module next to the running test or example
/// binary: target/<profile>/libpam_wpam.so.
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("WPAM_TEST_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    while !dir.join("libpam_wpam.so").exists() {
        dir = dir
            .parent()
            .expect("libpam_wpam.so not built")
            .to_path_buf();
    }
    dir.join("libpam_wpam.so")
}

/// A service directory for `pam_start_confdir` holding one service file.
pub struct ServiceDir {
    pub dir: PathBuf,
    pub service: String,
}

impl ServiceDir {
    /// `lines` are full pam.d lines (e.g. `auth required /x/pam_wpam.so k=v`).
    pub fn new(tag: &str, lines: &[String]) -> ServiceDir {
        start_watchdog();
        let dir = std::env::temp_dir().join(format!(
            "wpam-pamd-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let service = "wpam-test".to_string();
        std::fs::write(dir.join(&service), lines.join("\n") + "\n").expect("write service");
        ServiceDir { dir, service }
    }

    /// The usual stack: wpam for auth and account.
    pub fn wpam(tag: &str, module: &Path, args: &str) -> ServiceDir {
        let m = module.display();
        ServiceDir::new(
            tag,
            &[
                format!("auth required {m} {args}"),
                format!("account required {m} {args}"),
            ],
        )
    }
}

impl Drop for ServiceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One PAM transaction (a handle), driven step by step.
pub struct Pam {
    handle: *mut c_void,
    script: Box<Script>,
    _conv: Box<PamConv>,
    last: c_int,
    /// The service and its directory, for the watchdog's report.
    service: String,
}

impl Pam {
    pub fn start(dir: &ServiceDir, user: &str, rhost: Option<&str>, answers: Vec<Answer>) -> Pam {
        Pam::start_with(dir, user, rhost, answers, true)
    }

    /// A transaction whose application passed `struct pam_conv {NULL, NULL}`.
    pub fn start_without_conversation(dir: &ServiceDir, user: &str, rhost: Option<&str>) -> Pam {
        Pam::start_with(dir, user, rhost, Vec::new(), false)
    }

    fn start_with(
        dir: &ServiceDir,
        user: &str,
        rhost: Option<&str>,
        answers: Vec<Answer>,
        converse: bool,
    ) -> Pam {
        let mut script = Box::new(Script {
            answers: answers.into(),
            events: Vec::new(),
        });
        let conv = Box::new(PamConv {
            conv: converse.then_some(conversation as ConvFn),
            appdata_ptr: if converse {
                &mut *script as *mut Script as *mut c_void
            } else {
                ptr::null_mut()
            },
        });
        let service = CString::new(dir.service.as_str()).expect("service");
        let user = CString::new(user).expect("user");
        let confdir = CString::new(dir.dir.to_str().expect("utf8 dir")).expect("confdir");
        let mut handle = ptr::null_mut();
        // SAFETY: all pointers are valid C strings / live boxes for the call;
        // conv and script outlive the handle (dropped after pam_end).
        let rc = unsafe {
            pam_start_confdir(
                service.as_ptr(),
                user.as_ptr(),
                &*conv,
                confdir.as_ptr(),
                &mut handle,
            )
        };
        assert_eq!(rc, PAM_SUCCESS, "pam_start_confdir: {}", strerror(rc));
        if let Some(r) = rhost {
            let r = CString::new(r).expect("rhost");
            // SAFETY: PAM copies the item.
            let rc = unsafe { pam_set_item(handle, PAM_RHOST, r.as_ptr() as *const c_void) };
            assert_eq!(rc, PAM_SUCCESS);
        }
        Pam {
            handle,
            script,
            _conv: conv,
            last: PAM_SUCCESS,
            service: format!("{} in {}", dir.service, dir.dir.display()),
        }
    }

    pub fn authenticate(&mut self, flags: c_int) -> c_int {
        let _watch = Watched::start("pam_authenticate", &self.service);
        // SAFETY: live handle.
        self.last = unsafe { pam_authenticate(self.handle, flags) };
        self.last
    }

    pub fn acct_mgmt(&mut self, flags: c_int) -> c_int {
        let _watch = Watched::start("pam_acct_mgmt", &self.service);
        // SAFETY: live handle.
        self.last = unsafe { pam_acct_mgmt(self.handle, flags) };
        self.last
    }

    pub fn setcred(&mut self, flags: c_int) -> c_int {
        let _watch = Watched::start("pam_setcred", &self.service);
        // SAFETY: live handle. PAM_ESTABLISH_CRED = 0x2.
        self.last = unsafe { pam_setcred(self.handle, flags | 0x2) };
        self.last
    }

    /// Changes PAM_USER (as an application may between phases).
    pub fn set_user(&mut self, user: &str) {
        let u = CString::new(user).expect("no NUL in user");
        // SAFETY: live handle; PAM copies the item.
        let rc = unsafe { pam_set_item(self.handle, PAM_USER, u.as_ptr() as *const c_void) };
        assert_eq!(rc, PAM_SUCCESS);
    }

    /// Sets PAM_RHOST to raw bytes (which need not be UTF-8).
    pub fn set_rhost_bytes(&mut self, rhost: &[u8]) {
        let r = CString::new(rhost).expect("no NUL in rhost");
        // SAFETY: live handle; PAM copies the item.
        let rc = unsafe { pam_set_item(self.handle, PAM_RHOST, r.as_ptr() as *const c_void) };
        assert_eq!(rc, PAM_SUCCESS);
    }

    pub fn push_answers(&mut self, answers: Vec<Answer>) {
        self.script.answers.extend(answers);
    }

    pub fn events(&self) -> &[Event] {
        &self.script.events
    }

    pub fn unused_answers(&self) -> usize {
        self.script.answers.len()
    }
}

impl Drop for Pam {
    fn drop(&mut self) {
        // SAFETY: live handle, ended once.
        unsafe { pam_end(self.handle, self.last) };
    }
}

/// Result of a whole login (auth, then account if auth succeeded).
#[derive(Debug)]
pub struct Login {
    pub auth: c_int,
    pub account: Option<c_int>,
    pub events: Vec<Event>,
    pub unused_answers: usize,
}

pub fn login(
    dir: &ServiceDir,
    user: &str,
    rhost: Option<&str>,
    answers: Vec<Answer>,
    flags: c_int,
) -> Login {
    let mut pam = Pam::start(dir, user, rhost, answers);
    let auth = pam.authenticate(flags);
    let account = (auth == PAM_SUCCESS).then(|| pam.acct_mgmt(flags));
    Login {
        auth,
        account,
        events: pam.events().to_vec(),
        unused_answers: pam.unused_answers(),
    }
}

// --- the watchdog -------------------------------------------------------------

/// Longest one PAM call may take. The module's own limits are seconds
/// (timeout, u2f_timeout); a call still running after this has hung (a
/// regressed timeout) and would hang the whole suite.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// PAM calls in progress: (id, deadline, which call on which service).
static CALLS: Mutex<Vec<(u64, Instant, String)>> = Mutex::new(Vec::new());
static NEXT_CALL: AtomicU64 = AtomicU64::new(0);

fn calls() -> MutexGuard<'static, Vec<(u64, Instant, String)>> {
    CALLS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts, once per process, the thread that aborts the process when a PAM
/// call is past its deadline: a call into the module cannot be interrupted,
/// so abort is the bound that ends it, after saying which call hung. Started
/// with the first ServiceDir, before any PAM call, so that tests counting
/// threads around PAM calls (lifecycle.rs) have it in their baseline.
fn start_watchdog() {
    static START: Once = Once::new();
    START.call_once(|| {
        std::thread::Builder::new()
            .name("pamdrv-watchdog".into())
            .spawn(|| loop {
                std::thread::sleep(Duration::from_millis(500));
                let now = Instant::now();
                if let Some((_, _, what)) = calls().iter().find(|(_, end, _)| now >= *end) {
                    // Straight to fd 2: the test harness's output capture
                    // would lose it in the abort.
                    let _ = writeln!(
                        std::io::stderr(),
                        "pamdrv: {what} has not returned after {CALL_LIMIT:?}: \
                         the module hangs; aborting the test process"
                    );
                    std::process::abort();
                }
            })
            .expect("start the PAM call watchdog");
    });
}

/// A PAM call in progress, watched until dropped.
struct Watched(u64);

impl Watched {
    fn start(call: &str, service: &str) -> Watched {
        start_watchdog();
        let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
        let what = format!("{call} on PAM service {service}");
        calls().push((id, Instant::now() + CALL_LIMIT, what));
        Watched(id)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        calls().retain(|(id, _, _)| *id != self.0);
    }
}
