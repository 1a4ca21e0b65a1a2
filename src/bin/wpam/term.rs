//! The terminal side of `wpam test`: output, and answers read from
//! standard input with echo off for secrets.

use std::io::Write;

use zeroize::Zeroizing;

/// Prints and flushes (prompts have no newline).
pub fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Standard input, unbuffered: no copy of an answer stays in a buffer.
struct Stdin;

impl std::io::Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: reads into a buffer of the given length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
    }
}

/// Shows `prompt` and reads one answer; echo off unless `echo` when
/// standard input is a terminal. None at the end of input.
pub fn ask(prompt: &str, echo: bool) -> Option<Zeroizing<Vec<u8>>> {
    // SAFETY: isatty only looks at the descriptor.
    let terminal = unsafe { libc::isatty(0) } == 1;
    let quiet = if echo {
        None
    } else {
        pam_wpam::tty::no_echo(0)
    };
    say(prompt);
    let line = pam_wpam::tty::read_line(&mut Stdin).ok();
    drop(quiet);
    // The terminal showed the Enter key only if it echoed it.
    if !(terminal && echo) {
        say("\n");
    }
    line
}
