//! Reading an answer from a terminal: echo off for secrets, one line, with
//! a bound, into memory that is wiped. Used by the front-ends that talk to a
//! terminal themselves: the OpenBSD login style (`login` service) and
//! `wpam test`'s PAM conversation. The PAM module never does.

use std::io::{self, Read};
use std::os::fd::RawFd;

use zeroize::Zeroizing;

/// Longest line read.
pub const MAX_LINE: usize = 1024;

/// Terminal settings saved by [`no_echo`], put back by [`Echo::drop`].
pub struct Echo {
    fd: RawFd,
    saved: libc::termios,
}

impl Drop for Echo {
    fn drop(&mut self) {
        // SAFETY: restores the settings read from the same descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

/// Turns echo off on `fd` if it is a terminal; echo comes back when the
/// returned value is dropped. None when `fd` is not a terminal.
pub fn no_echo(fd: RawFd) -> Option<Echo> {
    // SAFETY: isatty/tcgetattr/tcsetattr on a descriptor the caller owns,
    // with a zero-initialised termios that tcgetattr fills.
    unsafe {
        if libc::isatty(fd) != 1 {
            return None;
        }
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return None;
        }
        let saved = t;
        t.c_lflag &= !(libc::ECHO | libc::ECHONL);
        (libc::tcsetattr(fd, libc::TCSAFLUSH, &t) == 0).then_some(Echo { fd, saved })
    }
}

/// One line (without its `\n` or `\r\n`), at most [`MAX_LINE`] bytes.
/// End of input before any byte is an error.
pub fn read_line<R: Read>(r: &mut R) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE));
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) if line.is_empty() => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no answer"))
            }
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => {
                if line.len() >= MAX_LINE {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                }
                line.push(b[0]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_newline_and_are_bounded() {
        let mut r: &[u8] = b"abc\r\ndef\nxyz";
        assert_eq!(read_line(&mut r).unwrap().as_slice(), b"abc");
        assert_eq!(read_line(&mut r).unwrap().as_slice(), b"def");
        assert_eq!(read_line(&mut r).unwrap().as_slice(), b"xyz");
        assert!(read_line(&mut r).is_err());
        let long = vec![b'1'; MAX_LINE + 1];
        assert!(read_line(&mut long.as_slice()).is_err());
        // Not a terminal: nothing to turn off.
        assert!(no_echo(-1).is_none());
    }
}
