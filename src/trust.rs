//! Which files and directories the module trusts: who may own them, who may
//! write them, and how they are opened (no symlink, no FIFO, a bound). One
//! place for the rule so that the config file, the secrets files, the
//! remembered grants, the log file and `wpam check` all apply the same one;
//! it depends on nothing but `sys.rs`, so every module can use it without
//! an import circle.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Who may own the config file and the log file: root, or the user the
/// process runs as (which, for every privileged caller, is root too; it lets
/// the tests and unprivileged applications use files of their own).
pub fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == crate::sys::euid()
}

/// Opens a file that holds secrets (the config file, `offline_secrets` and
/// its state): a regular file, not a symlink, owned by root, with no group
/// or other bits, at most `max` bytes. Returns the file and its size, or
/// why it is refused, in words an admin can act on.
pub fn open_root_only(path: &Path, max: u64) -> Result<(std::fs::File, u64), String> {
    let (file, size) =
        crate::sys::open_regular(path, libc::O_NOFOLLOW, max).map_err(|e| unreadable(&e))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    owned_by_root_only(&meta)?;
    Ok((file, size))
}

/// The ownership and mode rule of [`open_root_only`], for a file opened
/// some other way (one the module creates).
pub fn owned_by_root_only(meta: &std::fs::Metadata) -> Result<(), String> {
    if !trusted_owner(meta.uid()) {
        return Err(format!("owned by uid {}, must be root", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:04o} lets group or others read it; chmod 0600",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// A directory in which the module replaces files (rename): whoever may
/// write to it could swap them, so it must be owned by root and writable by
/// no one else. Symlinks on the way are followed, like /etc/security itself
/// may be one on some systems.
pub fn trusted_dir(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| crate::sys::describe("cannot open", &e))?;
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    if !trusted_owner(meta.uid()) {
        return Err(format!("owned by uid {}, must be root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "mode {:04o} lets group or others create and replace files in it; chmod go-w",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Why the config file cannot be opened, with what an admin should do when
/// the reason is that this PAM application does not run as root.
fn unreadable(e: &std::io::Error) -> String {
    let euid = crate::sys::euid();
    if e.kind() == std::io::ErrorKind::PermissionDenied && euid != 0 {
        format!(
            "{e}: this PAM application runs as uid {euid}, not root (a screen locker or \
             another program that authenticates as the user?), and cannot read the root-only \
             file; such services cannot use config= or offline_secrets= (docs/admin.md, \"pam.d\")"
        )
    } else {
        crate::sys::describe("cannot open", e)
    }
}
