//! Facts about files and the PAM library, asked of the system: `stat`,
//! group names, SELinux labels, where libpam looks for modules, and whether
//! a module loads.

use std::ffi::CStr;
#[cfg(not(target_os = "openbsd"))]
use std::ffi::CString;
#[cfg(not(target_os = "openbsd"))]
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::rules::FileFacts;

/// `lstat` of a path.
pub fn lstat(path: &Path) -> std::io::Result<(FileFacts, bool)> {
    let m = std::fs::symlink_metadata(path)?;
    Ok((
        FileFacts {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
            nlink: m.nlink(),
            is_file: m.file_type().is_file(),
            is_dir: m.file_type().is_dir(),
        },
        m.file_type().is_symlink(),
    ))
}

/// A group's name, or its number.
pub fn group_name(gid: u32) -> String {
    // SAFETY: getgrgid returns NULL or a pointer to a static entry, read
    // at once (this program is single-threaded where it asks).
    unsafe {
        let g = libc::getgrgid(gid);
        if g.is_null() || (*g).gr_name.is_null() {
            return gid.to_string();
        }
        CStr::from_ptr((*g).gr_name).to_string_lossy().into_owned()
    }
}

/// The group the packages give the log file: `adm` where it exists (the
/// .deb and .rpm scripts), else `root` on Linux; `wheel` on the BSDs, which
/// have no `adm` and no group `root`; `admin` on macOS (the tarball's
/// install.sh: the group of the Mac's administrators, as for Apple's own
/// logs in /var/log).
pub fn log_group() -> &'static str {
    if cfg!(target_os = "macos") {
        return "admin";
    }
    if !cfg!(target_os = "linux") {
        return "wheel";
    }
    // SAFETY: getgrnam returns NULL or a pointer to a static entry, only
    // tested for NULL here.
    let adm = unsafe { !libc::getgrnam(c"adm".as_ptr()).is_null() };
    if adm {
        "adm"
    } else {
        "root"
    }
}

/// Where this system's wpam package puts the example config file: the
/// first that exists of the packages' places (Debian's .deb, the .rpm;
/// FreeBSD's @sample, pkgsrc's and OpenBSD's examples), else this
/// platform's.
pub fn config_example() -> PathBuf {
    let candidates: &[&str] = if cfg!(target_os = "freebsd") {
        &["/usr/local/etc/wpam.conf.sample"]
    } else if cfg!(target_os = "netbsd") {
        &["/usr/pkg/share/examples/wpam/wpam.conf"]
    } else if cfg!(any(target_os = "openbsd", target_os = "macos")) {
        &["/usr/local/share/examples/wpam/wpam.conf"]
    } else {
        &[
            "/usr/share/doc/wpam/examples/wpam.conf",
            "/usr/share/doc/wpam/wpam.conf.example",
        ]
    };
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(candidates[0]))
}

/// A user's name, or its number.
pub fn user_name(uid: u32) -> String {
    // SAFETY: as for group_name.
    unsafe {
        let p = libc::getpwuid(uid);
        if p.is_null() || (*p).pw_name.is_null() {
            return uid.to_string();
        }
        CStr::from_ptr((*p).pw_name).to_string_lossy().into_owned()
    }
}

/// `user:group mode`, for a report line.
pub fn owner_text(f: &FileFacts) -> String {
    format!("{}:{} {:04o}", user_name(f.uid), group_name(f.gid), f.mode)
}

/// [`owner_text`] of a path (empty if it cannot be read).
pub fn owner_and_mode(path: &Path) -> String {
    lstat(path).map(|(f, _)| owner_text(&f)).unwrap_or_default()
}

/// The SELinux label of a file (`security.selinux`), if it has one.
#[cfg(target_os = "linux")]
pub fn selinux_label(path: &Path) -> Option<String> {
    let c = CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = c"security.selinux";
    let mut buf = [0u8; 512];
    // SAFETY: valid C strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?;
    let label = buf.get(..n)?;
    Some(
        String::from_utf8_lossy(label)
            .trim_end_matches('\0')
            .to_string(),
    )
}

/// Each directory above `path` (canonical), outermost first, then the file.
pub fn path_chain(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let canon = std::fs::canonicalize(path)?;
    let mut chain: Vec<PathBuf> = canon.ancestors().map(Path::to_path_buf).collect();
    chain.reverse();
    Ok(chain)
}

/// The directories this system's Linux-PAM tries for a module named
/// without a path, default first: read from the libpam the command runs
/// with (the strings it was built with), else the usual ones.
#[cfg(not(any(
    target_os = "openbsd",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "macos"
)))]
pub fn module_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = libpam_path()
        .and_then(|p| {
            let (mut f, size) = pam_wpam::sys::open_regular(&p, 0, 16 << 20).ok()?;
            let mut bytes = Vec::with_capacity(size as usize + 1);
            pam_wpam::sys::read_bounded(&mut f, 16 << 20, &mut bytes).ok()?;
            Some(security_dirs(&bytes))
        })
        .unwrap_or_default();
    if dirs.is_empty() {
        let triplet = format!("{}-linux-gnu", std::env::consts::ARCH);
        dirs = [
            format!("/lib/{triplet}/security"),
            "/usr/lib64/security".to_string(),
            "/lib/security".to_string(),
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
    }
    dirs
}

/// OpenPAM's module directories (PLATFORMS.md §3, §4, macOS). Apple's:
/// openpam.xcodeproj, OPENPAM_MODULES_DIR (since OpenPAM-21).
#[cfg(any(target_os = "freebsd", target_os = "netbsd", target_os = "macos"))]
pub fn module_dirs() -> Vec<PathBuf> {
    let dirs: &[&str] = if cfg!(target_os = "freebsd") {
        &["/usr/lib", "/usr/local/lib"]
    } else if cfg!(target_os = "macos") {
        &["/usr/lib/pam", "/usr/local/lib/pam"]
    } else {
        &["/usr/lib/security"]
    };
    dirs.iter().map(PathBuf::from).collect()
}

/// NUL-terminated absolute paths ending in `/security` or `/security/` in
/// a binary; those with the trailing slash (Linux-PAM's DEFAULT_MODULE_PATH)
/// first.
#[cfg(not(any(
    target_os = "openbsd",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "macos"
)))]
pub fn security_dirs(bytes: &[u8]) -> Vec<PathBuf> {
    let mut with_slash = Vec::new();
    let mut without = Vec::new();
    for s in bytes.split(|&b| b == 0) {
        let Ok(t) = std::str::from_utf8(s) else {
            continue;
        };
        if !t.starts_with('/') || t.contains(char::is_whitespace) || t.contains('%') {
            continue;
        }
        let list = if t.ends_with("/security/") {
            &mut with_slash
        } else if t.ends_with("/security") {
            &mut without
        } else {
            continue;
        };
        let p = PathBuf::from(t.trim_end_matches('/'));
        if !list.contains(&p) {
            list.push(p);
        }
    }
    with_slash.extend(without);
    with_slash
}

/// The file of the libpam this process uses.
#[cfg(not(any(
    target_os = "openbsd",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "macos"
)))]
fn libpam_path() -> Option<PathBuf> {
    let f: unsafe extern "C" fn(
        *const std::ffi::c_char,
        *const std::ffi::c_char,
        *mut libpam_sys::pam_conv,
        *mut *mut libpam_sys::pam_handle,
    ) -> std::ffi::c_int = libpam_sys::pam_start;
    // SAFETY: dladdr only reads the address and fills the struct.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::dladdr(f as *const libc::c_void, &mut info) };
    if rc == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr filled a NUL-terminated path owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// Loads a module the way libpam does (`dlopen`, `RTLD_NOW`) and looks up
/// the functions wpam's PAM phases need. Err: what fails.
#[cfg(not(target_os = "openbsd"))]
pub fn module_loads(path: &Path) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a valid path; dlerror's string is copied at once.
    unsafe {
        let h = libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            let e = libc::dlerror();
            return Err(if e.is_null() {
                "dlopen failed".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            });
        }
        let missing: Vec<&str> = ["pam_sm_authenticate", "pam_sm_acct_mgmt", "pam_sm_setcred"]
            .into_iter()
            .filter(|s| CString::new(*s).map_or(true, |n| libc::dlsym(h, n.as_ptr()).is_null()))
            .collect();
        libc::dlclose(h);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("it does not export {}", missing.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn security_dirs_default_first() {
        let bin = b"x\0/lib/security\0$ISA\0/lib/x86_64-linux-gnu/security/\0/etc/pam.d/%s\0";
        assert_eq!(
            super::security_dirs(bin),
            [
                std::path::PathBuf::from("/lib/x86_64-linux-gnu/security"),
                std::path::PathBuf::from("/lib/security")
            ]
        );
    }
}
