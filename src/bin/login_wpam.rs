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
use pam_wpam::flow::{self, Who};
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
        let echo = tty::no_echo(self.input.as_raw_fd());
        self.say(prompt);
        let line = tty::read_line(&mut self.input);
        if let Some(restore) = echo {
            drop(restore);
            self.say("\n");
        }
        line
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
    // The test suite's way to prove the panic guard (debug builds only).
    #[cfg(debug_assertions)]
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
    if !bsdauth::plausible_login(&inv.user) {
        log.warn("not a login name (sshd passes NOUSER for unknown users); denied");
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
        if let Some(t) = tty {
            t.say(&format!("{}\n", bsdauth::U2F_NOTICE));
        }
    }
    let wid = bsdauth::werbot_id_for(&inv.user, &settings.werbot_ids);
    let who = Who {
        user: inv.user.clone(),
        // BSD Authentication passes no client address.
        rhost: String::new(),
        setuid_caller: pam_wpam::sys::setuid_caller(),
    };
    flow::verify(&config, &mut log, &who, wid, &factor) == Outcome::Success
}

fn run() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let inv = match bsdauth::parse_args(&argv) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("login_-wpam: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(mut back) = BackChannel::open(inv.debug) else {
        eprintln!("login_-wpam: no back channel on fd 3 (run by BSD Authentication, or use -d)");
        return ExitCode::FAILURE;
    };
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
                let _ = back.send(bsdauth::REJECT);
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
    let sent = back.send(if ok {
        bsdauth::AUTHORIZE
    } else {
        bsdauth::REJECT
    });
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
