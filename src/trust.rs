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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{chown, PermissionsExt};

    /// What `probe` returns here, and what it returns in a process running
    /// as uid 65534 (a forked child that drops its effective uid) when this
    /// one is root: the rules that depend on who runs them, seen from both
    /// sides in one run.
    fn here_and_as_nobody(probe: fn() -> Vec<bool>) -> (Vec<bool>, Option<Vec<bool>>) {
        let here = probe();
        if crate::sys::euid() != 0 {
            return (here, None);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // SAFETY: the child runs seteuid and our own code, then _exit.
        let mut child = unsafe {
            crate::fork::spawn(move |_| {
                // SAFETY: no preconditions; checked below through euid().
                let dropped = libc::seteuid(65534) == 0 && crate::sys::euid() == 65534;
                // 2: the child could not drop its uid.
                zeroize::Zeroizing::new(if dropped {
                    probe().into_iter().map(u8::from).collect()
                } else {
                    vec![2]
                })
            })
        }
        .expect("fork");
        let read = child.read_until(deadline, 64);
        child.finish(read.is_ok());
        let got = read.expect("the child's answer");
        assert!(!got.contains(&2), "the child could not drop to uid 65534");
        (here, Some(got.iter().map(|&b| b == 1).collect()))
    }

    /// trusted_owner(0), (65534), (4242).
    fn owners_seen() -> (Vec<bool>, Option<Vec<bool>>) {
        here_and_as_nobody(|| [0, 65534, 4242].map(trusted_owner).to_vec())
    }

    #[test]
    fn root_and_the_process_own_user_are_trusted_no_one_else() {
        let (here, as_nobody) = owners_seen();
        let me = crate::sys::euid();
        assert_eq!(here, [true, me == 65534, me == 4242]);
        if let Some(n) = as_nobody {
            assert_eq!(n, [true, true, false], "as uid 65534");
        }
    }

    #[test]
    fn the_not_root_hint_only_for_a_permission_error_of_a_non_root_process() {
        // Whether the hint comes for a permission error, then for a missing file.
        let hints = || {
            [
                std::io::ErrorKind::PermissionDenied,
                std::io::ErrorKind::NotFound,
            ]
            .map(|k| unreadable(&std::io::Error::from(k)).contains("not root"))
            .to_vec()
        };
        let (here, as_nobody) = here_and_as_nobody(hints);
        let root = crate::sys::euid() == 0;
        assert_eq!(here, [!root, false]);
        if let Some(n) = as_nobody {
            assert_eq!(n, [true, false], "as uid 65534");
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("wpam-trust-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn secrets_files_must_be_ours_and_private() {
        let d = scratch("files");
        let f = d.join("secret");
        fs::write(&f, "k=v\n").expect("write");
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).expect("chmod");
        let (_, size) = open_root_only(&f, 64).expect("0600, ours");
        assert_eq!(size, 4);
        for mode in [0o640, 0o604, 0o620] {
            fs::set_permissions(&f, fs::Permissions::from_mode(mode)).expect("chmod");
            let e = open_root_only(&f, 64).expect_err("group or others");
            assert!(e.contains(&format!("mode {mode:04o}")), "{e}");
        }
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).expect("chmod");
        if crate::sys::euid() == 0 {
            chown(&f, Some(4242), None).expect("chown");
            let e = open_root_only(&f, 64).expect_err("another owner");
            assert!(e.contains("owned by uid 4242"), "{e}");
        }
        fs::remove_dir_all(d).ok();
    }

    #[test]
    fn directories_must_be_ours_and_not_writable_by_others() {
        let d = scratch("dirs");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
        trusted_dir(&d).expect("0755, ours");
        for mode in [0o775, 0o757, 0o777] {
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).expect("chmod");
            let e = trusted_dir(&d).expect_err("writable by others");
            assert!(e.contains(&format!("mode {mode:04o}")), "{e}");
        }
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).expect("chmod");
        let f = d.join("file");
        fs::write(&f, "").expect("write");
        assert_eq!(trusted_dir(&f), Err("not a directory".into()));
        if crate::sys::euid() == 0 {
            chown(&d, Some(4242), None).expect("chown");
            let e = trusted_dir(&d).expect_err("another owner");
            assert!(e.contains("owned by uid 4242"), "{e}");
        }
        fs::remove_dir_all(d).ok();
    }
}
