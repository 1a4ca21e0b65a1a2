//! `login_-wpam`: the OpenBSD BSD Authentication login style of wpam.
//!
//! Installed as `/usr/libexec/auth/login_-wpam` and enabled per login class
//! with `auth-ssh=-wpam` in /etc/login.conf. It shares the PAM module's core
//! (config parser, API client, decision table, logging); the protocol and the
//! single-prompt design are described in `pam_wpam::bsdauth`.
//!
//! Settings come only from `/etc/wpam.conf` (root-owned, mode 0600; a file
//! others can read is refused and every login denied). Builds with debug
//! assertions (the test builds) also honour `WPAM_CONFIG` and, for the log of
//! an unreadable config, `WPAM_LOG_FILE`; BSD Authentication runs styles with
//! an environment of PATH and SHELL only, and release builds ignore both.
//!
//! Portable Rust: it builds and runs on Linux too, which is how
//! `tests/login_style.rs` exercises it.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use pam_wpam::bsdauth::{self, Invocation, Service};
use pam_wpam::config::DEFAULT_LOG_FILE;
use pam_wpam::decision::Outcome;
use pam_wpam::flow::{self, ConvFailure, IdSource, OfflineAsk, Who};
use pam_wpam::input::{self, Factor};
use pam_wpam::log::{quote, Logger};
use pam_wpam::tty;
use zeroize::Zeroizing;

/// The back-channel descriptor BSD Authentication gives a style.
const BACK_FD: i32 = 3;

fn config_path() -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("WPAM_CONFIG") {
        return PathBuf::from(p);
    }
    PathBuf::from(bsdauth::CONFIG_FILE)
}

/// Where to log when the config file (which may name a log file) is unusable.
fn fallback_log_file() -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os("WPAM_LOG_FILE") {
        return PathBuf::from(p);
    }
    PathBuf::from(DEFAULT_LOG_FILE)
}

fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// fd 3 (or stdout with `-d`) for replies; fd 3 (or stdin with `-d`) for
/// the `response` data.
struct BackChannel {
    reply: Box<dyn Write>,
    data: Box<dyn Read>,
}

impl BackChannel {
    fn open(debug: bool) -> Option<BackChannel> {
        let fd3 = fd_is_open(BACK_FD).then(|| {
            // SAFETY: fd 3 is open and handed to this process by its caller
            // for exactly this use; nothing else in the program owns it.
            unsafe { File::from_raw_fd(BACK_FD) }
        });
        match (fd3, debug) {
            (Some(f), false) => {
                let r = f.try_clone().ok()?;
                Some(BackChannel {
                    reply: Box::new(f),
                    data: Box::new(r),
                })
            }
            (Some(f), true) => Some(BackChannel {
                reply: Box::new(io::stdout()),
                data: Box::new(f),
            }),
            (None, true) => Some(BackChannel {
                reply: Box::new(io::stdout()),
                data: Box::new(io::stdin()),
            }),
            (None, false) => None,
        }
    }

    fn send(&mut self, text: &str) -> bool {
        self.reply.write_all(text.as_bytes()).is_ok() && self.reply.flush().is_ok()
    }
}

/// The terminal of `login` mode: /dev/tty, else stdin + stderr.
struct Terminal {
    input: File,
    output: Box<dyn Write>,
}

impl Terminal {
    fn open() -> io::Result<Terminal> {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open("/dev/tty")
        {
            Ok(tty) => Ok(Terminal {
                output: Box::new(tty.try_clone()?),
                input: tty,
            }),
            Err(_) => {
                // SAFETY: dup of stdin gives a descriptor we own.
                let fd = unsafe { libc::dup(0) };
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: fd was just created by dup and is owned here.
                let input = unsafe { File::from_raw_fd(fd) };
                Ok(Terminal {
                    input,
                    output: Box::new(io::stderr()),
                })
            }
        }
    }

    fn say(&mut self, text: &str) {
        let _ = self.output.write_all(text.as_bytes());
        let _ = self.output.flush();
    }

    /// Prompts and reads one line with echo off (when the input is a tty).
    fn ask_secret(&mut self, prompt: &str) -> io::Result<Zeroizing<Vec<u8>>> {
        // Echo off first, then the prompt: TCSAFLUSH drops input typed
        // before it, so nothing typed after the prompt can be lost.
        let fd = self.input.as_raw_fd();
        // SAFETY: isatty/tcgetattr on our descriptor into a zeroed termios.
        let before = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::isatty(fd) == 1 && libc::tcgetattr(fd, &mut t) == 0).then_some(t)
        };
        if let Some(b) = &before {
            restore::arm(fd, b);
        }
        let echo = tty::no_echo(fd);
        self.say(prompt);
        let line = tty::read_line(&mut self.input);
        if let Some(restore) = echo {
            drop(restore);
            self.say("\n");
        }
        if before.is_some() {
            restore::disarm();
        }
        line
    }
}

/// Whether `user` is in the password database. Any failure of the lookup
/// counts as "no": the caller is refused before the API is asked.
fn user_exists(user: &str) -> bool {
    #[cfg(debug_assertions)]
    if in_test_passwd(user) {
        return true;
    }
    matches!(pam_wpam::sys::canonical_login(user), Ok(Some(_)))
}

/// Debug builds (the tests) also count the names of the passwd(5)-format
/// file `WPAM_PASSWD` as users, next to the system's own: the tests' users
/// exist only at the Werbot API. Release builds have no such path.
#[cfg(debug_assertions)]
fn in_test_passwd(user: &str) -> bool {
    std::env::var_os("WPAM_PASSWD")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .is_some_and(|t| t.lines().any(|l| l.split(':').next() == Some(user)))
}

/// pledge(2) and unveil(2), as OpenBSD's own styles restrict themselves
/// (login_passwd pledges "stdio rpath"; login_radius, login_yubikey unveil
/// their files). Elsewhere nothing to do.
#[cfg(target_os = "openbsd")]
mod sandbox {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    fn pledge(promises: &str) -> Result<(), String> {
        let p = CString::new(promises).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated string; null execpromises keeps them.
        if unsafe { libc::pledge(p.as_ptr(), std::ptr::null()) } == 0 {
            Ok(())
        } else {
            Err(format!("pledge: {}", std::io::Error::last_os_error()))
        }
    }

    fn unveil(path: &Path, perms: &str) -> Result<(), String> {
        let p = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        let m = CString::new(perms).map_err(|e| e.to_string())?;
        // SAFETY: two NUL-terminated strings.
        match unsafe { libc::unveil(p.as_ptr(), m.as_ptr()) } {
            0 => Ok(()),
            // A path that does not exist (an absent CA bundle location)
            // simply stays invisible.
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) => Ok(()),
            _ => Err(format!(
                "unveil {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            )),
        }
    }

    /// From the start: files (config, log, CA bundle, /dev/tty), the API
    /// connection (inet dns), the terminal (tty), the password database
    /// (getpw), syslog's socket (unix), the log file's owner (chown fattr).
    pub fn start() -> Result<(), String> {
        pledge("stdio rpath wpath cpath fattr chown flock inet dns tty getpw unix unveil")
    }

    /// Once the config has named its files: only these stay visible, and
    /// no more unveil. The password database was read before.
    /// `offline_dir`: the directory of `offline_secrets`, where the state
    /// file is replaced and its lock taken (flock).
    pub fn confine(
        logs: &[&Path],
        ca_file: Option<&Path>,
        offline_dir: Option<&Path>,
    ) -> Result<(), String> {
        for l in logs {
            unveil(l, "rwc")?;
        }
        if let Some(d) = offline_dir {
            unveil(d, "rwc")?;
        }
        if let Some(ca) = ca_file {
            unveil(ca, "r")?;
        }
        for (p, perms) in [
            ("/etc/ssl", "r"),
            ("/etc/resolv.conf", "r"),
            ("/etc/hosts", "r"),
            ("/dev/log", "rw"),
        ] {
            unveil(Path::new(p), perms)?;
        }
        // SAFETY: two null pointers lock the unveil list.
        if unsafe { libc::unveil(std::ptr::null(), std::ptr::null()) } != 0 {
            return Err(format!("unveil lock: {}", std::io::Error::last_os_error()));
        }
        pledge("stdio rpath wpath cpath fattr chown flock inet dns tty unix")
    }
}

#[cfg(not(target_os = "openbsd"))]
mod sandbox {
    use std::path::Path;

    pub fn start() -> Result<(), String> {
        Ok(())
    }

    pub fn confine(
        _logs: &[&Path],
        _ca_file: Option<&Path>,
        _offline_dir: Option<&Path>,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// The terminal settings to put back if a signal ends or stops the style
/// while echo is off (readpassphrase(3) does the same): without this, a
/// Ctrl-C at the prompt leaves the user's terminal without echo.
mod restore {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicI32, Ordering};

    struct Saved(UnsafeCell<[libc::termios; 2]>);
    // SAFETY: written only by `arm` while no handler is installed, read by
    // the handler afterwards; the style is single-threaded.
    unsafe impl Sync for Saved {}

    static FD: AtomicI32 = AtomicI32::new(-1);
    // SAFETY: termios is plain data; all zero is a valid value.
    static SAVED: Saved = Saved(UnsafeCell::new(unsafe { std::mem::zeroed() }));
    const SIGNALS: [libc::c_int; 5] = [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGTSTP,
    ];

    fn install(sig: libc::c_int, handler: libc::sighandler_t) {
        // SAFETY: a zeroed sigaction with an empty mask and a handler that
        // only makes async-signal-safe calls (or SIG_DFL).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }

    extern "C" fn on_signal(sig: libc::c_int) {
        let fd = FD.load(Ordering::SeqCst);
        let saved = SAVED.0.get() as *const libc::termios;
        // SAFETY: tcsetattr, sigaction, sigprocmask and raise are
        // async-signal-safe; SAVED was written before the handler existed.
        unsafe {
            if fd >= 0 {
                libc::tcsetattr(fd, libc::TCSAFLUSH, saved);
            }
            install(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            // Stops (SIGTSTP) or ends the process, as the default would.
            libc::raise(sig);
            // Continued after a stop: prompt state again (echo off).
            install(sig, on_signal as *const () as libc::sighandler_t);
            if fd >= 0 {
                libc::tcsetattr(fd, libc::TCSAFLUSH, saved.add(1));
            }
        }
    }

    /// Before echo goes off on `fd`: a signal from now on puts `before`
    /// back (and after a stop, `before` without echo again, as
    /// `tty::no_echo` sets it).
    pub fn arm(fd: libc::c_int, before: &libc::termios) {
        let mut quiet = *before;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        // SAFETY: no handler is installed yet, so nothing reads SAVED while
        // it is written.
        unsafe { *SAVED.0.get() = [*before, quiet] };
        FD.store(fd, Ordering::SeqCst);
        for sig in SIGNALS {
            install(sig, on_signal as *const () as libc::sighandler_t);
        }
    }

    /// Echo is back on: the default actions again.
    pub fn disarm() {
        for sig in SIGNALS {
            install(sig, libc::SIG_DFL);
        }
        FD.store(-1, Ordering::SeqCst);
    }
}

fn context(inv: &Invocation) -> String {
    format!(
        "bsdauth service={} user={} class={}",
        inv.service.as_str(),
        quote(&inv.user),
        quote(inv.class.as_deref().unwrap_or(""))
    )
}

/// Checks the answer with the Werbot API: true only for "authorize".
fn verify(inv: &Invocation, answer: &[u8], mut tty: Option<&mut Terminal>) -> bool {
    let settings = match bsdauth::load_settings(&config_path()) {
        Ok(s) => s,
        Err(e) => {
            let mut log = Logger::open(&fallback_log_file(), false);
            log.set_context(context(inv));
            log.error(&format!("configuration error: {e}; denied"));
            return false;
        }
    };
    let args: Vec<&str> = settings.args.iter().map(|a| a.as_str()).collect();
    // The test suite's way to prove the panic guard (debug builds, and
    // the release build of feature test-panic-trigger; never shipped).
    #[cfg(any(debug_assertions, feature = "test-panic-trigger"))]
    if args.contains(&"debug_panic=1") {
        #[allow(clippy::panic)]
        {
            panic!("debug_panic=1 was given");
        }
    }
    let (mut log, config) = flow::setup(&args);
    log.set_context(context(inv));
    for w in &settings.warnings {
        log.warn(&format!("config: {w}"));
    }
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            log.error(&format!("configuration error: {e}; denied"));
            return false;
        }
    };
    // The PAM-only policy keys: groups= would need PAM_IGNORE, which BSD
    // Authentication has no word for, and there is no account phase and
    // no client address to remember. Everyone is asked, which is the safe
    // reading of each.
    if config.groups.is_set() || config.remember.is_some() {
        log.warn("config: groups= and remember= are PAM-only; the login style asks everyone");
    }
    if !bsdauth::plausible_login(&inv.user) {
        log.warn("not a login name (sshd passes NOUSER for unknown users); denied");
        return false;
    }
    // sshd turns an unknown name into NOUSER, but auth_userokay(3) callers
    // (smtpd's auth, a web login through it) pass what they were given: an
    // unknown name must not become a U2F push to whoever has that Werbot ID.
    if !user_exists(&inv.user) {
        log.warn("no such user in the password database; denied without asking the API");
        return false;
    }
    let fallback = fallback_log_file();
    if let Err(e) = sandbox::confine(
        &[config.log_file.as_path(), fallback.as_path()],
        config.ca_file.as_deref(),
        config.offline_secrets.as_deref().and_then(|p| p.parent()),
    ) {
        log.error(&format!("{e}; denied"));
        return false;
    }
    let factor = match input::factor(answer) {
        Ok(f) => f,
        Err(e) => {
            if let Some(t) = tty.as_deref_mut() {
                t.say(&format!("{e}\n"));
            }
            log.warn(&format!("code refused locally: {e}"));
            return false;
        }
    };
    if factor == Factor::U2f {
        if let Some(t) = tty.as_deref_mut() {
            t.say(&format!("{}\n", bsdauth::U2F_NOTICE));
        }
    }
    let wid = bsdauth::werbot_id_for(&inv.user, &settings.werbot_ids);
    // The login name without a wid. line or werbot_id_from_login is no tie:
    // unenrolled=allow does not apply to it.
    let source = if settings.werbot_ids.contains_key(&inv.user) || config.werbot_id_from_login {
        IdSource::Tied
    } else {
        IdSource::LoginName
    };
    let who = Who {
        user: inv.user.clone(),
        // Only groups= reads it, which the style does not apply (see above).
        gid: 0,
        // BSD Authentication passes no client address.
        rhost: String::new(),
        service: String::new(),
        setuid_caller: pam_wpam::sys::setuid_caller(),
    };
    let mut offline = match tty {
        Some(t) => OfflineSource::Terminal(t),
        None => OfflineSource::SameAnswer(answer),
    };
    flow::verify(
        &config,
        &mut log,
        &who,
        (wid, source),
        &factor,
        &mut offline,
    ) == Outcome::Success
}

/// Where an offline user's code comes from during an outage, when
/// `offline_secrets` is set.
enum OfflineSource<'a> {
    /// sshd gives a style one prompt and one answer: the code typed there
    /// is taken as the offline code. It never reached the API (an outage
    /// is a request that could not be delivered).
    SameAnswer(&'a [u8]),
    /// `login` mode asks once more on the terminal.
    Terminal(&'a mut Terminal),
}

impl OfflineAsk for OfflineSource<'_> {
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, ConvFailure> {
        match self {
            OfflineSource::SameAnswer(a) => Ok(Zeroizing::new(a.to_vec())),
            OfflineSource::Terminal(t) => t.ask_secret(prompt).map_err(|_| ConvFailure),
        }
    }
    fn tell(&mut self, text: &str) {
        if let OfflineSource::Terminal(t) = self {
            t.say(&format!("{text}\n"));
        }
    }
}

/// A failure before there is anyone to answer: logged (the log file and
/// syslog), never printed. The caller's terminal is the user's (su, login),
/// and base styles send such errors to syslog alone.
fn fail_early(inv: Option<&Invocation>, what: &str) -> ExitCode {
    let mut log = Logger::open(&fallback_log_file(), false);
    if let Some(inv) = inv {
        log.set_context(context(inv));
    }
    log.error(what);
    ExitCode::FAILURE
}

fn run() -> ExitCode {
    if let Err(e) = sandbox::start() {
        return fail_early(None, &format!("{e}; denied"));
    }
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let inv = match bsdauth::parse_args(&argv) {
        Ok(i) => i,
        Err(e) => return fail_early(None, &format!("login_-wpam: {e}")),
    };
    let Some(mut back) = BackChannel::open(inv.debug) else {
        return fail_early(
            Some(&inv),
            "no back channel on fd 3 (run by BSD Authentication, or use -d); denied",
        );
    };
    // su(1) says its caller is not in group wheel: refused as base styles
    // do, before any prompt or request.
    if inv.wheel_refused() {
        let mut log = Logger::open(&fallback_log_file(), false);
        log.set_context(context(&inv));
        log.warn("-v wheel=no (su's caller is not in group wheel); denied");
        let _ = back.send(&bsdauth::reject_with(bsdauth::NOT_IN_WHEEL));
        return ExitCode::FAILURE;
    }
    let ok = match inv.service {
        // Needs nothing but the prompt: the same for every user (no hint
        // whether the login exists or has a Werbot mapping).
        Service::Challenge => {
            return if back.send(&bsdauth::challenge_reply()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Service::Response => match bsdauth::read_response(&mut back.data) {
            Ok(answer) => verify(&inv, &answer, None),
            Err(e) => {
                let mut log = Logger::open(&fallback_log_file(), false);
                log.set_context(context(&inv));
                log.error(&format!("{e}; denied"));
                let _ = back.send(&bsdauth::reject_with(bsdauth::REFUSED));
                return ExitCode::FAILURE;
            }
        },
        Service::Login => match Terminal::open() {
            Ok(mut tty) => match tty.ask_secret(bsdauth::PROMPT) {
                Ok(answer) => verify(&inv, &answer, Some(&mut tty)),
                Err(_) => false,
            },
            Err(_) => false,
        },
    };
    // Every reject carries its reason: su(1) prints it.
    let sent = if ok {
        back.send(bsdauth::AUTHORIZE)
    } else {
        back.send(&bsdauth::reject_with(bsdauth::REFUSED))
    };
    if sent {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    // A panic prints nothing on the caller's terminal (su's, under BSD Auth)
    // and depends on no environment variable; it is logged, and the
    // style exits without authorizing.
    pam_wpam::sys::quiet_panics();
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => {
            let what = pam_wpam::sys::take_panic_message();
            Logger::open(&fallback_log_file(), false)
                .error(&format!("internal error (panic: {}); denied", quote(&what)));
            ExitCode::FAILURE
        }
    }
}
