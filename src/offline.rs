//! Offline codes: the second factor of an offline user while the Werbot API
//! cannot be reached (`offline_secrets=PATH`, issue 22 part 2).
//!
//! - The secrets file: `LOGIN BASE32SECRET` lines, `#` comments, blank
//!   lines; root-only like the config file.
//! - RFC 6238 TOTP: HMAC-SHA-1, 6 digits, 30 s steps, one step either side.
//! - Replay: a login's accepted time step only grows, so a code (and every
//!   earlier one) is accepted at most once.
//! - Rate limit: after [`MAX_FAILURES`] failed codes within [`WINDOW`]
//!   seconds, a login's codes are refused unchecked until the window passes.
//!   An outage can last hours and sshd takes new connections all the while.
//!
//! The state lives beside the secrets file, in a root-only directory of its
//! own, `<file>.state/` (created 0700 at first use): `state` (replaced
//! whole: temp file, fsync, rename, fsync of the directory) and `lock`,
//! never replaced, which concurrent logins flock(2) (a lock on the state
//! file itself would be lost with each rename). A directory of its own, so
//! that the module writes nowhere else: /etc/security itself stays
//! read-only to the login (and a MAC policy can say so). Each sshd login is
//! a new process, so nothing is kept in memory. Every error here denies:
//! the caller logs it as an ERROR.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::log::quote;
use crate::trust;

/// The TOTP time step, seconds.
pub const STEP: u64 = 30;
pub const DIGITS: usize = 6;
/// Failed codes a login may give within [`WINDOW`] seconds.
pub const MAX_FAILURES: usize = 3;
pub const WINDOW: u64 = 30;
/// RFC 4226 §4 asks for 128 bits and recommends 160; authenticator apps
/// still hand out 80-bit secrets, the least this accepts.
pub const MIN_SECRET_BYTES: usize = 10;
/// What `wpam offline-enroll` creates: RFC 4226's recommended 160 bits.
pub const NEW_SECRET_BYTES: usize = 20;
/// Where `wpam offline-enroll` writes by default, beside the config file.
pub const DEFAULT_FILE: &str = "/etc/security/wpam-offline";
const MAX_SECRETS_FILE: u64 = 256 * 1024;
const MAX_STATE_FILE: u64 = 1024 * 1024;
/// How long a login waits for another one that holds the state lock. A
/// setuid caller's user can stop the process that holds it: waiting for
/// ever would hang every other offline login.
const LOCK_WAIT: Duration = Duration::from_secs(5);
const STATE_HEADER: &str = "# wpam offline-code state (used time steps, failed attempts); \
                            written by pam_wpam, do not edit\n";

/// Why the offline check could not be done; the text names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn file_error(path: &Path, why: impl fmt::Display) -> Error {
    Error(format!("offline_secrets {}: {why}", path.display()))
}

/// The secrets file, parsed. Secrets are wiped when dropped.
pub struct Secrets {
    entries: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(l, _)| l))
            .finish()
    }
}

impl Secrets {
    /// Reads the file under the config file's rules (regular, no symlink,
    /// root-owned, 0600) in a directory only root may write to (the state
    /// file is replaced there).
    pub fn load(path: &Path) -> Result<Secrets, Error> {
        if !path.is_absolute() {
            return Err(file_error(path, "path must be absolute"));
        }
        let dir = path.parent().unwrap_or(Path::new("/"));
        trust::trusted_dir(dir)
            .map_err(|e| file_error(path, format!("directory {}: {e}", dir.display())))?;
        let (mut file, size) =
            trust::open_root_only(path, MAX_SECRETS_FILE).map_err(|e| file_error(path, e))?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(size as usize + 1));
        crate::sys::read_bounded(&mut file, MAX_SECRETS_FILE, &mut bytes)
            .map_err(|e| file_error(path, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| file_error(path, "not UTF-8 text"))?;
        Secrets::parse(text).map_err(|e| file_error(path, e))
    }

    /// Parses the text; an error names the line, never the secret.
    pub fn parse(text: &str) -> Result<Secrets, String> {
        let mut entries: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace();
            let (Some(login), Some(secret), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!("line {n}: expected LOGIN BASE32SECRET"));
            };
            if !plausible_login(login) {
                return Err(format!("line {n}: {} is not a login name", quote(login)));
            }
            let secret = decode_secret(secret).map_err(|why| format!("line {n}: {why}"))?;
            if entries.iter().any(|(l, _)| l == login) {
                return Err(format!("line {n}: {} appears twice", quote(login)));
            }
            entries.push((login.to_string(), secret));
        }
        Ok(Secrets { entries })
    }

    pub fn get(&self, login: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(l, _)| l == login)
            .map(|(_, s)| s.as_slice())
    }

    pub fn logins(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(l, _)| l.as_str())
    }
}

/// A name that can be a field of these files: printable ASCII-free of
/// whitespace and `#` at its start, as login names are.
pub fn plausible_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && !s.starts_with('#')
        && s.chars()
            .all(|c| !c.is_whitespace() && !crate::log::is_unsafe_char(c))
}

/// Base32 (RFC 4648), as authenticator apps write it: any case, spaces
/// taken out before, `=` padding optional.
pub fn decode_secret(s: &str) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let mut upper = Zeroizing::new(s.trim_end_matches('=').to_ascii_uppercase());
    let decoded = base32_decode(upper.as_bytes()).ok_or("the secret is not base32 (A-Z, 2-7)");
    zeroize::Zeroize::zeroize(&mut *upper);
    let decoded = decoded?;
    if decoded.len() < MIN_SECRET_BYTES {
        return Err("the secret is shorter than 80 bits (16 base32 characters)");
    }
    Ok(decoded)
}

/// RFC 4648 base32 without padding, decoded as `data_encoding::BASE32_NOPAD`
/// decodes (the test `base32_decode_is_data_encodings` compares them): only
/// A-Z and 2-7, no length that leaves a partial byte of 5 bits or more (8n+1,
/// 8n+3, 8n+6 characters), and the bits left over at the end all zero. By
/// hand because data-encoding's generic decoder cost the module ~25 KB
/// (issue 26); the `wpam` command still encodes with it.
fn base32_decode(s: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if matches!(s.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() * 5 / 8));
    let (mut acc, mut bits) = (0u16, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u16::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Base32 without padding: the form otpauth:// URIs carry.
pub fn encode_secret(secret: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(data_encoding::BASE32_NOPAD.encode(secret))
}

/// RFC 4226 HOTP value of `counter` (RFC 6238: the time step), as
/// [`DIGITS`] ASCII digits.
pub fn hotp(secret: &[u8], counter: u64) -> [u8; DIGITS] {
    // HMAC takes keys of any length: new_from_slice cannot fail for it.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0; DIGITS],
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    let mut v = bin % 10u32.pow(DIGITS as u32);
    let mut out = [b'0'; DIGITS];
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out
}

/// The code of the step that contains `unix_time`.
pub fn code_at(secret: &[u8], unix_time: u64) -> [u8; DIGITS] {
    hotp(secret, unix_time / STEP)
}

/// The time step whose code `code` is, among the current one and one
/// either side; None for a code of none of them. Every candidate is
/// computed and compared in constant time, so how long this takes says
/// nothing about which one (or how many digits) matched.
pub fn matching_step(secret: &[u8], code: &[u8; DIGITS], unix_time: u64) -> Option<u64> {
    let now = unix_time / STEP;
    let mut found = subtle::Choice::from(0);
    let mut step = 0u64;
    for candidate in [now.saturating_sub(1), now, now.saturating_add(1)] {
        let hit = hotp(secret, candidate).ct_eq(code);
        // The latest matching step wins: replay protection compares it.
        step = u64::conditional_select(&step, &candidate, hit);
        found |= hit;
    }
    bool::from(found).then_some(step)
}

/// Exactly six ASCII digits after trimming, or None.
pub fn parse_code(raw: &[u8]) -> Option<Zeroizing<[u8; DIGITS]>> {
    let t = raw.trim_ascii();
    if t.len() != DIGITS || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut out = Zeroizing::new([0u8; DIGITS]);
    out.copy_from_slice(t);
    Some(out)
}

/// What the check made of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A valid code of a time step later than any accepted before.
    Granted { step: u64 },
    /// Not a code of this login's secret near this time.
    Wrong { failures: usize },
    /// A valid code of a step already accepted (or earlier).
    Replayed { failures: usize },
    /// Too many failures within the window; the code was not checked.
    RateLimited { retry_in: u64 },
}

/// One login's line in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    /// The last accepted time step; 0 when none.
    last_step: u64,
    /// Unix times of recent failed codes.
    failures: Vec<u64>,
}

impl Entry {
    /// Failures that still count at `now`. A time in the future (the clock
    /// went back) counts until it is a window old, but no longer than a
    /// window ahead: a clock set far back must not lock a login for days.
    fn recent(&self, now: u64) -> Vec<u64> {
        self.failures
            .iter()
            .copied()
            .filter(|&t| t.saturating_add(WINDOW) > now && t <= now.saturating_add(WINDOW))
            .collect()
    }
}

/// The state file, all logins.
#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    entries: Vec<(String, Entry)>,
}

impl State {
    fn parse(text: &str) -> Result<State, String> {
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("line {}: malformed", n + 1);
            let mut f = line.split_ascii_whitespace();
            let (Some(login), Some(step), Some(fails), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(bad());
            };
            if !plausible_login(login) || entries.iter().any(|(l, _)| l == login) {
                return Err(bad());
            }
            let last_step = step.parse::<u64>().map_err(|_| bad())?;
            let failures = if fails == "-" {
                Vec::new()
            } else {
                fails
                    .split(',')
                    .map(str::parse::<u64>)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| bad())?
            };
            entries.push((
                login.to_string(),
                Entry {
                    last_step,
                    failures,
                },
            ));
        }
        Ok(State { entries })
    }

    fn render(&self) -> String {
        let mut out = String::from(STATE_HEADER);
        for (login, e) in &self.entries {
            let fails = if e.failures.is_empty() {
                "-".to_string()
            } else {
                e.failures
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            out.push_str(&format!("{login} {} {fails}\n", e.last_step));
        }
        out
    }

    fn entry(&mut self, login: &str) -> &mut Entry {
        let i = match self.entries.iter().position(|(l, _)| l == login) {
            Some(i) => i,
            None => {
                self.entries.push((login.to_string(), Entry::default()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Drops failures that no longer count and lines that hold nothing.
    fn prune(&mut self, now: u64) {
        for (_, e) in &mut self.entries {
            e.failures = e.recent(now);
        }
        self.entries
            .retain(|(_, e)| e.last_step != 0 || !e.failures.is_empty());
    }
}

/// The rules, on a state in memory: the whole decision without any I/O.
fn judge(state: &mut State, login: &str, secret: &[u8], code: &[u8; DIGITS], now: u64) -> Verdict {
    let entry = state.entry(login);
    let recent = entry.recent(now);
    if recent.len() >= MAX_FAILURES {
        // The window passes when the oldest failure that still counts is a
        // window old.
        let oldest = recent.iter().copied().min().unwrap_or(now);
        return Verdict::RateLimited {
            retry_in: oldest.saturating_add(WINDOW).saturating_sub(now).max(1),
        };
    }
    match matching_step(secret, code, now) {
        Some(step) if step > entry.last_step => {
            entry.last_step = step;
            entry.failures.clear();
            Verdict::Granted { step }
        }
        matched => {
            entry.failures = recent;
            entry.failures.push(now);
            let failures = entry.failures.len();
            if matched.is_some() {
                Verdict::Replayed { failures }
            } else {
                Verdict::Wrong { failures }
            }
        }
    }
}

/// The state directory beside the secrets file.
pub fn state_dir(secrets: &Path) -> PathBuf {
    with_suffix(secrets, ".state")
}

pub fn state_path(secrets: &Path) -> PathBuf {
    state_dir(secrets).join("state")
}

pub fn lock_path(secrets: &Path) -> PathBuf {
    state_dir(secrets).join("lock")
}

/// The state directory, created root-only if missing; one that is a
/// symlink, or that others could write to, is refused.
fn ensure_state_dir(secrets: &Path) -> Result<PathBuf, Error> {
    let dir = state_dir(secrets);
    let err = |why: String| Error(format!("offline-code state {}: {why}", dir.display()));
    if let Err(e) = std::fs::symlink_metadata(&dir) {
        if e.kind() != io::ErrorKind::NotFound {
            return Err(err(e.to_string()));
        }
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        match b.create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(crate::sys::describe("cannot create", &e))),
        }
    }
    check_state_dir(&dir).map_err(err)?;
    Ok(dir)
}

fn check_state_dir(dir: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("a symbolic link, not a directory".into());
    }
    trust::trusted_dir(dir)
}

/// Takes the lock of `secrets`' state (creating its directory if need be):
/// what a login holds while it checks a code, and what `wpam
/// offline-enroll` holds while it rewrites the file.
pub fn lock_state(secrets: &Path) -> Result<Lock, Error> {
    ensure_state_dir(secrets)?;
    lock(&lock_path(secrets))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Checks `code` for `login` at `now` (unix seconds) and records the
/// result, under the lock: the state is on disk before a grant is
/// returned, so a process killed half way never grants a code twice.
pub fn check(
    secrets_path: &Path,
    login: &str,
    secret: &[u8],
    code: &[u8; DIGITS],
    now: u64,
) -> Result<Verdict, Error> {
    let state_file = state_path(secrets_path);
    let _lock = lock_state(secrets_path)?;
    let mut state = read_state(&state_file)?;
    state.prune(now);
    let verdict = judge(&mut state, login, secret, code, now);
    if !matches!(verdict, Verdict::RateLimited { .. }) {
        write_state(&state_file, &state.render())?;
    }
    Ok(verdict)
}

/// Holds the exclusive lock until dropped (closing the descriptor frees it).
pub struct Lock(#[allow(dead_code)] File);

/// Takes the exclusive lock of `path`, waiting at most [`LOCK_WAIT`] for
/// another holder.
fn lock(path: &Path) -> Result<Lock, Error> {
    let err = |why: String| Error(format!("offline-code lock {}: {why}", path.display()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| err(crate::sys::describe("cannot open", &e)))?;
    let meta = file.metadata().map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    trust::owned_by_root_only(&meta).map_err(err)?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        // SAFETY: flock on a descriptor we own; no pointers.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Lock(file));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) | Some(libc::EINTR) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(libc::EWOULDBLOCK) => {
                return Err(err(format!(
                    "still held by another login after {} s",
                    LOCK_WAIT.as_secs()
                )))
            }
            _ => return Err(err(crate::sys::describe("flock", &e))),
        }
    }
}

fn read_state(path: &Path) -> Result<State, Error> {
    let err = |why: String| {
        Error(format!(
            "offline-code state {}: {why}; denied until it is fixed (removing it forgets \
             which codes were used: the last 90 s of codes would work once more)",
            path.display()
        ))
    };
    let (mut file, size) = match trust::open_root_only(path, MAX_STATE_FILE) {
        Ok(f) => f,
        Err(_) if matches!(std::fs::symlink_metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound) => {
            return Ok(State::default())
        }
        Err(e) => return Err(err(e)),
    };
    let mut bytes = Vec::with_capacity(size as usize + 1);
    crate::sys::read_bounded(&mut file, MAX_STATE_FILE, &mut bytes)
        .map_err(|e| err(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| err("not UTF-8 text".into()))?;
    State::parse(text).map_err(err)
}

/// Replaces `path` with `text`, crash-safe: a temp file beside it (never
/// through a symlink, 0600), fsync, rename over, fsync of the directory.
/// The caller holds the lock, so the temp name is ours alone; one left by
/// a killed process is removed first.
pub fn replace_file(path: &Path, text: &[u8]) -> io::Result<()> {
    let tmp = with_suffix(path, ".tmp");
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(&tmp)
    };
    let mut file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            open()?
        }
        r => r?,
    };
    let written = file.write_all(text).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    File::open(dir)?.sync_all()
}

fn write_state(path: &Path, text: &str) -> Result<(), Error> {
    replace_file(path, text.as_bytes()).map_err(|e| {
        Error(format!(
            "offline-code state {}: {}; denied",
            path.display(),
            crate::sys::describe("cannot write", &e)
        ))
    })
}

/// Whether the state is usable, for `wpam check`: absent is fine.
pub fn check_state_file(secrets_path: &Path) -> Result<(), Error> {
    let dir = state_dir(secrets_path);
    if std::fs::symlink_metadata(&dir).is_err() {
        return Ok(());
    }
    check_state_dir(&dir)
        .map_err(|e| Error(format!("offline-code state {}: {e}", dir.display())))?;
    let p = state_path(secrets_path);
    read_state(&p).map(drop)?;
    match std::fs::symlink_metadata(lock_path(secrets_path)) {
        Ok(m) if !m.is_file() => Err(Error(format!(
            "offline-code lock {}: not a regular file",
            lock_path(secrets_path).display()
        ))),
        Ok(m) => trust::owned_by_root_only(&m).map_err(|e| {
            Error(format!(
                "offline-code lock {}: {e}",
                lock_path(secrets_path).display()
            ))
        }),
        Err(_) => Ok(()),
    }
}

/// Unix seconds now; 0 before 1970 (no code is near it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn file_uid(p: &Path) -> Option<u32> {
        std::fs::metadata(p).ok().map(|m| m.uid())
    }

    /// RFC 6238 Appendix B's SHA-1 seed, "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // The RFC prints 8 digits; a 6-digit code is the same value mod 10^6,
        // so its last six digits.
        for (t, eight) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(&code_at(RFC_SEED, t), &eight.as_bytes()[2..], "T={t}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let want = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(&hotp(RFC_SEED, c as u64), w.as_bytes(), "count {c}");
        }
    }

    #[test]
    fn one_step_either_side_and_no_further() {
        let t = 1_111_111_111;
        for (offset, ok) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = code_at(RFC_SEED, (t as i64 + offset) as u64);
            let got = matching_step(RFC_SEED, &code, t);
            assert_eq!(got.is_some(), ok, "offset {offset}");
            if ok {
                assert_eq!(got, Some(((t as i64 + offset) as u64) / STEP));
            }
        }
    }

    #[test]
    fn base32_decode_is_data_encodings() {
        let same = |s: &[u8]| {
            let want = data_encoding::BASE32_NOPAD.decode(s).ok();
            assert_eq!(
                base32_decode(s).map(|v| v.to_vec()),
                want,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        };
        // Every string of up to 3 characters over the alphabet and its
        // neighbours (every value of a last, partial character included).
        let chars: Vec<u8> = (b'A'..=b'Z')
            .chain(b'2'..=b'7')
            .chain(*b"a1=8@[ ")
            .collect();
        same(b"");
        for &a in &chars {
            same(&[a]);
            for &b in &chars {
                same(&[a, b]);
                for &c in &chars {
                    same(&[a, b, c]);
                }
            }
        }
        // Longer ones from a fixed-seed generator, each length to 40, with
        // an invalid character now and then.
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..=40 {
            for _ in 0..500 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        chars[(x % if x % 97 == 0 { chars.len() } else { 32 } as u64) as usize]
                    })
                    .collect();
                same(&s);
            }
        }
    }

    #[test]
    fn base32_secrets_in_the_forms_apps_write() {
        let want = RFC_SEED.to_vec();
        let b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(encode_secret(RFC_SEED).as_str(), b32);
        for s in [
            b32,
            &b32.to_lowercase(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
        ] {
            assert_eq!(
                decode_secret(s).map(|v| v.to_vec()),
                Ok(want.clone()),
                "{s}"
            );
        }
        assert!(
            decode_secret("GEZDGNBVGY3TQOJ1").is_err(),
            "1 is not base32"
        );
        assert!(decode_secret("GEZDGNBV").is_err(), "40 bits is too short");
        assert!(decode_secret("").is_err());
    }

    #[test]
    fn secrets_file_format_and_errors_name_the_line_not_the_secret() {
        let s = Secrets::parse(
            "# break-glass\n\nroot GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n  admin\tJBSWY3DPEHPK3PXPJBSWY3DP  \n",
        )
        .unwrap();
        assert_eq!(s.get("root"), Some(RFC_SEED));
        assert!(s.get("admin").is_some());
        assert!(s.get("alice").is_none());
        assert_eq!(s.logins().collect::<Vec<_>>(), ["root", "admin"]);
        for (text, want) in [
            ("root\n", "line 1: expected LOGIN BASE32SECRET"),
            ("# c\nroot A B\n", "line 2: expected LOGIN BASE32SECRET"),
            (
                "root SECRETWITH1INIT0000\n",
                "line 1: the secret is not base32",
            ),
            ("root JBSWY3DP\n", "line 1: the secret is shorter"),
            (
                "root JBSWY3DPEHPK3PXP\nroot JBSWY3DPEHPK3PXP\n",
                "line 2: \"root\" appears twice",
            ),
        ] {
            let e = Secrets::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains("JBSWY") && !e.contains("WITH1"), "{e}");
        }
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(parse_code(b" 123456\n").as_deref(), Some(b"123456"));
        for bad in [&b""[..], b"12345", b"1234567", b"12a456", b"123 456"] {
            assert!(parse_code(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        let mut st = State::default();
        let t = 1_700_000_000;
        let now_code = code_at(RFC_SEED, t);
        assert_eq!(
            judge(&mut st, "root", RFC_SEED, &now_code, t),
            Verdict::Granted { step: t / STEP }
        );
        assert_eq!(
            judge(&mut st, "root", RFC_SEED, &now_code, t + 1),
            Verdict::Replayed { failures: 1 }
        );
        // The previous step's code is still in the window, but earlier.
        let prev = code_at(RFC_SEED, t - STEP);
        assert_eq!(
            judge(&mut st, "root", RFC_SEED, &prev, t + 2),
            Verdict::Replayed { failures: 2 }
        );
        // Another login has its own steps.
        assert!(matches!(
            judge(&mut st, "admin", RFC_SEED, &now_code, t + 2),
            Verdict::Granted { .. }
        ));
        // The next step is new.
        let next = code_at(RFC_SEED, t + STEP);
        assert!(matches!(
            judge(&mut st, "root", RFC_SEED, &next, t + 3),
            Verdict::Granted { .. }
        ));
    }

    #[test]
    fn three_failures_in_a_window_refuse_even_the_right_code_until_it_passes() {
        let mut st = State::default();
        let t = 1_700_000_000;
        let wrong = *b"000000";
        assert_ne!(code_at(RFC_SEED, t), wrong);
        for (i, dt) in [0, 5, 10].iter().enumerate() {
            assert_eq!(
                judge(&mut st, "root", RFC_SEED, &wrong, t + dt),
                Verdict::Wrong { failures: i + 1 }
            );
        }
        let right = code_at(RFC_SEED, t + 12);
        assert_eq!(
            judge(&mut st, "root", RFC_SEED, &right, t + 12),
            Verdict::RateLimited { retry_in: 18 }
        );
        // Others are not limited by root's failures.
        assert!(matches!(
            judge(&mut st, "admin", RFC_SEED, &right, t + 12),
            Verdict::Granted { .. }
        ));
        // Once the first failure is a window old, two remain: one more try.
        let right = code_at(RFC_SEED, t + 30);
        assert!(matches!(
            judge(&mut st, "root", RFC_SEED, &right, t + 30),
            Verdict::Granted { .. }
        ));
    }

    #[test]
    fn a_clock_set_back_does_not_lock_a_login_for_long() {
        let e = Entry {
            last_step: 0,
            failures: vec![2_000_000_000, 2_000_000_001, 2_000_000_002],
        };
        assert_eq!(e.recent(1_000_000_000).len(), 0);
        assert_eq!(e.recent(2_000_000_010).len(), 3);
    }

    #[test]
    fn state_text_round_trips_and_malformed_state_is_an_error() {
        let st = State {
            entries: vec![
                (
                    "root".into(),
                    Entry {
                        last_step: 56666666,
                        failures: vec![1, 2],
                    },
                ),
                (
                    "admin".into(),
                    Entry {
                        last_step: 7,
                        failures: vec![],
                    },
                ),
            ],
        };
        assert_eq!(State::parse(&st.render()), Ok(st));
        for bad in [
            "root 1\n",
            "root x -\n",
            "root 1 2,x\n",
            "root 1 - extra\n",
            "r 1 -\nr 2 -\n",
        ] {
            assert!(State::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wpam-offline-unit-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    fn secrets_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let p = dir.join("wpam-offline");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn state_on_disk_survives_processes_and_is_root_only() {
        let dir = temp_dir();
        let p = secrets_file(&dir, "root GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", 0o600);
        let s = Secrets::load(&p).unwrap();
        let secret = s.get("root").unwrap();
        let t = unix_now();
        let code = code_at(secret, t);
        assert!(matches!(
            check(&p, "root", secret, &code, t),
            Ok(Verdict::Granted { .. })
        ));
        assert_eq!(
            check(&p, "root", secret, &code, t),
            Ok(Verdict::Replayed { failures: 1 })
        );
        let meta = std::fs::symlink_metadata(state_path(&p)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(Some(meta.uid()), file_uid(&dir));
        assert!(!with_suffix(&state_path(&p), ".tmp").exists());
        assert_eq!(check_state_file(&p), Ok(()));
        let d = std::fs::symlink_metadata(state_dir(&p)).unwrap();
        assert_eq!(d.mode() & 0o7777, 0o700);
        // A state file others can read is refused (and so the login).
        std::fs::set_permissions(state_path(&p), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check(&p, "root", secret, &code, t).unwrap_err();
        assert!(e.0.contains("chmod 0600"), "{e}");
        // A symlink in its place is not followed.
        std::fs::remove_file(state_path(&p)).unwrap();
        std::os::unix::fs::symlink(&p, state_path(&p)).unwrap();
        assert!(check(&p, "root", secret, &code, t).is_err());
        // So is a state directory others may write to, or a link to one.
        std::fs::remove_file(state_path(&p)).unwrap();
        std::fs::set_permissions(state_dir(&p), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check(&p, "root", secret, &code, t).unwrap_err();
        assert!(e.0.contains("chmod go-w"), "{e}");
        assert!(check_state_file(&p).is_err());
        std::fs::remove_dir_all(state_dir(&p)).unwrap();
        let elsewhere = dir.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, state_dir(&p)).unwrap();
        let e = check(&p, "root", secret, &code, t).unwrap_err();
        assert!(e.0.contains("symbolic link"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_logins_with_the_same_code_get_in_once() {
        let dir = temp_dir();
        let p = secrets_file(&dir, "root GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", 0o600);
        let t = unix_now();
        let code = code_at(RFC_SEED, t);
        // Each thread opens the lock on its own: flock(2) locks belong to
        // the open file, so they exclude each other as processes would.
        let verdicts: Vec<Verdict> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..8)
                .map(|_| sc.spawn(|| check(&p, "root", RFC_SEED, &code, t).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let granted = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Granted { .. }))
            .count();
        assert_eq!(granted, 1, "{verdicts:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_file_trust_rules() {
        let dir = temp_dir();
        let p = secrets_file(&dir, "root JBSWY3DPEHPK3PXP\n", 0o640);
        let e = Secrets::load(&p).unwrap_err();
        assert!(
            e.0.contains("chmod 0600") && e.0.contains("wpam-offline"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Secrets::load(&p).is_ok());
        // A directory others may write to: they could swap the files.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Secrets::load(&p).unwrap_err();
        assert!(e.0.contains("directory"), "{e}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A symlink to a good file is refused.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        assert!(Secrets::load(&link).is_err());
        // A malformed line names the file and the line.
        let p = secrets_file(&dir, "root JBSWY3DPEHPK3PXP\noops\n", 0o600);
        let e = Secrets::load(&p).unwrap_err();
        assert!(
            e.0.contains("wpam-offline") && e.0.contains("line 2"),
            "{e}"
        );
        assert!(Secrets::load(Path::new("relative")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
