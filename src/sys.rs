//! Facts about the process the module runs in, asked of the kernel.
//!
//! Kept apart so that the decision table can stay a pure function of its
//! inputs: the flow asks here once per call and passes the answers down.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Whether the process runs with credentials its invoking user does not
/// have: a setuid or setgid program such as su, sudo or pkexec.
///
/// Such a user can stop the process (SIGSTOP), shrink its resource limits
/// and fill its environment, so a timeout there proves nothing about the
/// network (DESIGN.md §3: "under a setuid caller a timeout in any phase is
/// not an outage").
pub fn setuid_caller() -> bool {
    // SAFETY: these getters have no preconditions and cannot fail.
    let ids_differ =
        unsafe { libc::getuid() != libc::geteuid() || libc::getgid() != libc::getegid() };
    ids_differ || secure_exec()
}

/// The kernel's own record that the program was started with raised
/// credentials (AT_SECURE on Linux, issetugid(2) on the BSDs and macOS). It stays set
/// after a program drops back to equal ids, which the id comparison misses.
#[cfg(target_os = "linux")]
fn secure_exec() -> bool {
    // SAFETY: getauxval has no preconditions; 0 means "not set".
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

#[cfg(any(
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "macos"
))]
fn secure_exec() -> bool {
    // SAFETY: issetugid has no preconditions.
    unsafe { libc::issetugid() != 0 }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "macos"
)))]
fn secure_exec() -> bool {
    false
}

/// The login's own spelling in the password database (`pw_name` of
/// getpwnam_r), or None when there is no such user. A case-insensitive NSS
/// source (SSSD's AD provider) answers `ALICE` with the entry of `alice`:
/// every rule keyed by login name must see `alice`. An error of the lookup
/// itself (not "no such user") is returned as such.
pub fn canonical_login(name: &str) -> io::Result<Option<String>> {
    lookup_login(name).map(|o| o.map(|l| l.name))
}

/// A login as the password database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `pw_name`: the canonical spelling (see [`canonical_login`]).
    pub name: String,
    /// `pw_gid`: the primary group.
    pub gid: u32,
}

/// getpwnam_r: the login's entry, None when no source knows it, an error
/// when the lookup itself failed.
pub fn lookup_login(name: &str) -> io::Result<Option<Login>> {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return Ok(None);
    };
    let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
    loop {
        // SAFETY: zeroed is a valid passwd (null pointers, zero ids) that
        // getpwnam_r fills; buf is writable for buf.len() bytes and outlives
        // every use of pw; found is set to &pw or null.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        // POSIX: "not found" is rc 0 with no result; glibc also reports
        // ENOENT/ESRCH/EBADF/EPERM for a name no source knows.
        if found.is_null() {
            return not_found(rc);
        }
        if pw.pw_name.is_null() {
            return Ok(None);
        }
        // SAFETY: pw_name points into buf, NUL-terminated by getpwnam_r.
        let canonical = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return Ok(canonical.to_str().ok().map(|n| Login {
            name: n.to_string(),
            gid: pw.pw_gid,
        }));
    }
}

/// The "no such entry" answers of the get*_r functions, else the error.
fn not_found<T>(rc: libc::c_int) -> io::Result<Option<T>> {
    match rc {
        0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => Ok(None),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A group as getgrnam_r gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub gid: u32,
    /// `gr_mem`: the logins listed as supplementary members.
    pub members: Vec<String>,
}

/// getgrnam_r: the group with this name, None when there is none; an
/// error of the lookup itself (a source that cannot be read) as such.
pub fn group(name: &str) -> io::Result<Option<Group>> {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return Ok(None);
    };
    let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
    loop {
        // SAFETY: as in lookup_login, for struct group and getgrnam_r.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                &mut gr,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        // Groups with many members need big buffers (AD groups via SSSD).
        if rc == libc::ERANGE && buf.len() < 1 << 24 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if found.is_null() {
            return not_found(rc);
        }
        let mut members = Vec::new();
        let mut p = gr.gr_mem;
        // SAFETY: gr_mem is a NULL-terminated array of NUL-terminated
        // strings inside buf, filled by getgrnam_r.
        unsafe {
            while !p.is_null() && !(*p).is_null() {
                members.push(std::ffi::CStr::from_ptr(*p).to_string_lossy().into_owned());
                p = p.add(1);
            }
        }
        return Ok(Some(Group {
            gid: gr.gr_gid,
            members,
        }));
    }
}

/// The id of the group with this name (see [`group`]).
pub fn group_gid(name: &str) -> io::Result<Option<u32>> {
    group(name).map(|g| g.map(|g| g.gid))
}

/// getgrouplist: every group the login belongs to, its primary group
/// `gid` and the supplementary ones of every NSS source (what initgroups
/// would give its processes). glibc leaves out, without an error, the
/// groups of a source it could not read (too few descriptors under a
/// setuid caller): a group missing here is not proof of non-membership.
// The casts are no-ops except on macOS, whose ids are ints.
#[allow(clippy::unnecessary_cast)]
pub fn group_ids(login: &str, gid: u32) -> io::Result<Vec<u32>> {
    let c_name =
        std::ffi::CString::new(login).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut n: libc::c_int = 64;
    loop {
        let mut groups: Vec<GroupListId> = vec![0; n as usize];
        let want = n;
        // SAFETY: groups holds n writable ids; getgrouplist writes at most n
        // and stores the number found (or needed) in n.
        let rc = unsafe {
            libc::getgrouplist(
                c_name.as_ptr(),
                gid as GroupListId,
                groups.as_mut_ptr(),
                &mut n,
            )
        };
        if rc >= 0 {
            groups.truncate(usize::try_from(n).unwrap_or(0).min(want as usize));
            return Ok(groups.into_iter().map(|g| g as u32).collect());
        }
        // -1: too small. glibc stores the number needed in n; the BSDs
        // store how many they wrote, so grow by doubling when n did not.
        if want >= 1 << 16 {
            return Err(io::Error::other("getgrouplist: more than 65536 groups"));
        }
        n = if n > want { n } else { want * 2 };
    }
}

/// macOS declares getgrouplist with `int` ids.
#[cfg(target_vendor = "apple")]
type GroupListId = libc::c_int;
#[cfg(not(target_vendor = "apple"))]
type GroupListId = libc::gid_t;

/// The sshd process that holds this connection's PAM handle, as "pid:start
/// time" (unique while it lives), when the parent process is sshd's:
/// portable OpenSSH runs each keyboard-interactive attempt's
/// pam_authenticate in a child it forks from that process (auth-pam.c
/// emulates `pthread_create` with fork), so data set on the handle is lost
/// between attempts. Recognised by its command name (`sshd`, OpenSSH 9.8's
/// `sshd-session`, or any name sshd was started under that begins so).
/// None elsewhere (other applications keep the handle's data; the BSDs).
pub fn sshd_connection() -> Option<String> {
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() };
    if ppid <= 1 {
        return None;
    }
    process_start_if_sshd(ppid).map(|t| format!("{ppid}:{t}"))
}

#[cfg(target_os = "linux")]
fn process_start_if_sshd(pid: libc::pid_t) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 is "(comm)", which may hold spaces and ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    if !stat.get(open + 1..close)?.starts_with("sshd") {
        return None;
    }
    // After the name: field 3 (state) onwards; starttime is field 22.
    stat[close + 1..].split_whitespace().nth(19)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn process_start_if_sshd(_pid: libc::pid_t) -> Option<u64> {
    None
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// What an OS error most likely means for an admin, in one clause, for the
/// local failures the module reports as PAM_SERVICE_ERR. None when the
/// error text says it all. For a refusal (EACCES/EPERM) it looks whether
/// SELinux is enforcing: only then is SELinux named as the likely cause.
pub fn local_cause_hint(e: &io::Error) -> Option<&'static str> {
    let errno = e.raw_os_error()?;
    let refused = errno == libc::EACCES || errno == libc::EPERM;
    cause_hint(errno, refused && selinux_enforcing())
}

/// Where Linux mounts selinuxfs; `enforce` reads "1" when enforcing.
const SELINUX_ENFORCE: &str = "/sys/fs/selinux/enforce";

/// Whether SELinux is enforcing. Read only on the error path (one small
/// read); anything but "1" (no SELinux, permissive, unreadable) is false.
fn selinux_enforcing() -> bool {
    cfg!(target_os = "linux")
        && std::fs::read(SELINUX_ENFORCE).is_ok_and(|b| b.trim_ascii() == b"1")
}

/// The hint for an errno, given whether SELinux is enforcing.
fn cause_hint(errno: i32, selinux_enforcing: bool) -> Option<&'static str> {
    match errno {
        libc::EMFILE => Some("the process's descriptor limit (RLIMIT_NOFILE) is exhausted"),
        libc::ENFILE => Some("the system's file table is full"),
        libc::ENOMEM | libc::ENOBUFS => Some("the process is out of memory (RLIMIT_AS?)"),
        libc::EAGAIN => Some("a process or resource limit (RLIMIT_NPROC?) was reached"),
        libc::EACCES | libc::EPERM if selinux_enforcing => Some(
            "SELinux is enforcing and most likely refused it: is the wpam policy module \
             loaded (semodule -l) and its boolean on (getsebool -a | grep wpam_permit)? \
             ausearch -m avc -ts recent shows the denial",
        ),
        libc::EACCES | libc::EPERM => Some(
            "a security policy (SELinux, AppArmor, a seccomp filter or a firewall OUTPUT rule) \
             may be refusing it",
        ),
        _ => None,
    }
}

/// `"<what>: <error>"`, with the hint for local causes appended.
pub fn describe(what: &str, e: &io::Error) -> String {
    match local_cause_hint(e) {
        Some(hint) => format!("{what}: {e} ({hint})"),
        None => format!("{what}: {e}"),
    }
}

/// Opens a file for reading that must be a regular file: O_NONBLOCK so that
/// a FIFO put in its place cannot hang the login, the type checked on the
/// opened descriptor (no check-then-open race), the size bounded by `max`.
/// Returns the file and its size.
pub fn open_regular(path: &Path, extra_flags: i32, max: u64) -> io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY | extra_flags)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.size() > max {
        return Err(too_large(max));
    }
    Ok((file, meta.size()))
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {} KiB", max / 1024),
    )
}

/// Appends at most `max` bytes of an opened file to `into`; more is an error
/// (the file grew after the size check). `into` should have the capacity
/// already, so that no reallocation leaves a copy behind.
pub fn read_bounded(file: &mut File, max: u64, into: &mut Vec<u8>) -> io::Result<()> {
    let start = into.len();
    file.take(max + 1).read_to_end(into)?;
    if (into.len() - start) as u64 > max {
        return Err(too_large(max));
    }
    Ok(())
}

std::thread_local! {
    /// The last panic's message and place, for the log line.
    static PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once) a panic hook that prints nothing and keeps the message
/// for [`take_panic_message`]. The default hook writes to the host's stderr
/// (the user's terminal under su) and reads RUST_BACKTRACE from an
/// environment the invoking user controls. In the PAM module the hook
/// belongs to the library's own copy of std: the host's is untouched.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let _ = PANIC.try_with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    *p = Some(format!("{message}{place}"));
                }
            });
        }));
    });
}

/// The message of the last panic on this thread (empty if none was kept).
pub fn take_panic_message() -> String {
    PANIC
        .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.take()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

#[cfg(test)]
mod canonical_tests {
    use super::canonical_login;

    #[test]
    fn root_is_root_and_a_stranger_is_nobody() {
        assert_eq!(canonical_login("root").unwrap().as_deref(), Some("root"));
        assert_eq!(canonical_login("no-such-user-wpam-test").unwrap(), None);
        assert_eq!(canonical_login("a\0b").unwrap(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_process_is_not_a_setuid_caller() {
        assert!(!setuid_caller());
    }

    #[test]
    fn hints_name_the_local_cause() {
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(describe("connect", &e).contains("RLIMIT_NOFILE"));
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert!(describe("connect", &e).contains("SELinux"));
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(local_cause_hint(&e), None);
    }

    #[test]
    fn a_refusal_under_enforcing_selinux_names_selinux_and_how_to_confirm() {
        for errno in [libc::EACCES, libc::EPERM] {
            let enforcing = cause_hint(errno, true).unwrap_or_default();
            assert!(enforcing.starts_with("SELinux is enforcing"), "{enforcing}");
            for what in [
                "wpam policy module",
                "semodule -l",
                "wpam_permit",
                "ausearch -m avc",
            ] {
                assert!(enforcing.contains(what), "{what}: {enforcing}");
            }
            let other = cause_hint(errno, false).unwrap_or_default();
            assert!(!other.contains("enforcing"), "{other}");
            assert!(other.contains("a security policy"), "{other}");
        }
        // Other errors never mention SELinux, enforcing or not.
        for errno in [libc::EMFILE, libc::ENOMEM, libc::ECONNREFUSED] {
            assert!(!cause_hint(errno, true)
                .unwrap_or_default()
                .contains("SELinux"));
        }
        assert_eq!(cause_hint(libc::ECONNREFUSED, true), None);
    }
}
