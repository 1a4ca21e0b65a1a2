//! `remember=<window>`: after the server granted a second factor, the same
//! login from the same remote address through the same PAM service is not
//! asked again within the window.
//!
//! One file per (service, login, remote address) in a root-only directory
//! (`remember_dir=`, default /run/wpam: a tmpfs, so a reboot forgets),
//! named by the SHA-1 of the three (no name an outsider could steer into a
//! path) and holding the unix time of the grant and the three in clear, which
//! a check compares (a hash collision cannot stand in for another login).
//! Only a grant of the server is recorded: never an offline or `unenrolled`
//! admission, never a login without a remote IP address (su, sudo, console,
//! a host name from `UseDNS yes`).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::{Digest, Sha1};

pub const DEFAULT_DIR: &str = "/run/wpam";
const MAX_FILE: u64 = 4096;

/// Who a remembered grant is for.
pub struct Key<'a> {
    pub service: &'a str,
    pub login: &'a str,
    /// An IP address (the caller checks).
    pub rhost: &'a str,
}

impl Key<'_> {
    fn text(&self) -> String {
        format!(
            "service={}\nlogin={}\nrhost={}\n",
            self.service, self.login, self.rhost
        )
    }

    fn file(&self, dir: &Path) -> PathBuf {
        let mut h = Sha1::new();
        h.update(b"wpam-remember\0");
        h.update(self.text().as_bytes());
        let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        dir.join(name)
    }
}

/// The directory, created root-only when missing; refused when others
/// could write to it (they could plant a grant).
fn ensure_dir(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{}: a symbolic link, not a directory",
                dir.display()
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(format!(
                        "{}: {}",
                        dir.display(),
                        crate::sys::describe("cannot create", &e)
                    ))
                }
            }
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    crate::trust::trusted_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Seconds since the remembered grant for `key`, if there is one within
/// `window` at `now`. A file in the future, garbled, for another key, or
/// that others could have written is no grant.
pub fn fresh(dir: &Path, key: &Key, window: Duration, now: u64) -> Result<Option<u64>, String> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{}: a symbolic link, not a directory",
            dir.display()
        ));
    }
    crate::trust::trusted_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = key.file(dir);
    let (mut file, _) = match crate::trust::open_root_only(&path, MAX_FILE) {
        Ok(f) => f,
        Err(_) if matches!(std::fs::symlink_metadata(&path), Err(e) if e.kind() == io::ErrorKind::NotFound) => {
            return Ok(None)
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    crate::sys::read_bounded(&mut file, MAX_FILE, &mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    let Some((first, rest)) = text.split_once('\n') else {
        return Ok(None);
    };
    let Some(granted) = first
        .strip_prefix("granted=")
        .and_then(|t| t.parse::<u64>().ok())
    else {
        return Ok(None);
    };
    if rest != key.text() || granted > now {
        return Ok(None);
    }
    let age = now - granted;
    Ok((age < window.as_secs()).then_some(age))
}

/// Records a grant of the server for `key` at `now`: a new file beside
/// the old one, renamed over it (a reader sees the old or the new).
pub fn record(dir: &Path, key: &Key, now: u64) -> Result<(), String> {
    ensure_dir(dir)?;
    write_new(
        &key.file(dir),
        format!("granted={now}\n{}", key.text()).as_bytes(),
    )
}

/// Writes `path` whole: a new 0600 file beside it, renamed over it.
fn write_new(path: &Path, text: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let err = |e: io::Error| format!("{}: {}", tmp.display(), e);
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(&tmp)
        .map_err(err)?;
    let written = f.write_all(text);
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// How long a Werbot ID typed in one SSH connection is kept for its
/// retries: sshd's default LoginGraceTime.
pub const CONNECTION_KEEP: u64 = 120;

/// Who a kept Werbot ID is for: one SSH connection (its privileged sshd
/// process, by pid and start time, so that a reused pid is another
/// connection), one service, login and remote address.
pub struct Connection<'a> {
    pub process: &'a str,
    pub key: Key<'a>,
}

impl Connection<'_> {
    fn file(&self, dir: &Path) -> PathBuf {
        let mut h = Sha1::new();
        h.update(b"wpam-connection\0");
        h.update(self.process.as_bytes());
        h.update(b"\0");
        h.update(self.key.text().as_bytes());
        let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        dir.join(format!("conn-{name}"))
    }
}

/// The Werbot ID kept for this connection, if one was kept within
/// [`CONNECTION_KEEP`] seconds of `now`.
///
/// Why a file: sshd runs each keyboard-interactive attempt's
/// pam_authenticate in a child it forks from the process that holds the
/// handle (OpenSSH's auth-pam.c, the `pthread_create` it emulates with
/// fork), so what the module stores on the handle is gone at the next
/// attempt of the same connection.
pub fn kept_id(dir: &Path, conn: &Connection, now: u64) -> Option<zeroize::Zeroizing<String>> {
    let path = conn.file(dir);
    crate::trust::trusted_dir(dir).ok()?;
    let (mut file, _) = crate::trust::open_root_only(&path, MAX_FILE).ok()?;
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    crate::sys::read_bounded(&mut file, MAX_FILE, &mut bytes).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (first, id) = text.split_once('\n')?;
    let written: u64 = first.strip_prefix("written=")?.parse().ok()?;
    let id = id.strip_prefix("id=")?.strip_suffix('\n')?;
    (written <= now && now - written < CONNECTION_KEEP && !id.is_empty())
        .then(|| zeroize::Zeroizing::new(id.to_string()))
}

/// Keeps `id` for this connection's next attempt, or forgets it (None).
/// Files of connections older than [`CONNECTION_KEEP`] are removed on the
/// way, at most a bounded number per call.
pub fn keep_id(dir: &Path, conn: &Connection, id: Option<&str>, now: u64) -> Result<(), String> {
    let path = conn.file(dir);
    let Some(id) = id else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("{}: {e}", path.display()))
            }
            _ => Ok(()),
        };
    };
    ensure_dir(dir)?;
    sweep(dir, now);
    let text = zeroize::Zeroizing::new(format!("written={now}\nid={id}\n"));
    write_new(&path, text.as_bytes())
}

/// Removes kept IDs of connections that ended long ago.
fn sweep(dir: &Path, now: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten().take(1000) {
        let stale = e.file_name().to_string_lossy().starts_with("conn-")
            && e.metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| {
                    let at = t
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    at + CONNECTION_KEEP < now
                });
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wpam-remember-{tag}-{}-{}",
            std::process::id(),
            crate::offline::unix_now()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
    const K: Key = Key {
        service: "sshd",
        login: "alice",
        rhost: "192.0.2.7",
    };
    const W: Duration = Duration::from_secs(600);

    #[test]
    fn a_grant_is_remembered_for_its_key_and_window_only() {
        let d = dir("window");
        assert_eq!(fresh(&d, &K, W, 1000), Ok(None));
        record(&d, &K, 1000).expect("record");
        let mode = std::fs::metadata(&d).expect("dir").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(fresh(&d, &K, W, 1000), Ok(Some(0)));
        assert_eq!(fresh(&d, &K, W, 1599), Ok(Some(599)));
        assert_eq!(fresh(&d, &K, W, 1600), Ok(None));
        // Before the grant (the clock went back): no grant.
        assert_eq!(fresh(&d, &K, W, 999), Ok(None));
        for other in [
            Key {
                service: "sudo",
                ..K
            },
            Key { login: "bob", ..K },
            Key {
                rhost: "192.0.2.8",
                ..K
            },
        ] {
            assert_eq!(fresh(&d, &other, W, 1000), Ok(None));
        }
        std::fs::remove_dir_all(&d).expect("clean");
    }

    #[test]
    fn a_file_others_could_write_is_refused_not_believed() {
        let d = dir("modes");
        record(&d, &K, 1000).expect("record");
        let f = K.file(&d);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(fresh(&d, &K, W, 1000).is_err());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(fresh(&d, &K, W, 1000).is_err());
        assert!(record(&d, &K, 1000).is_err());
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        // Garbled or planted for another key under this key's name.
        std::fs::write(
            &f,
            "granted=1000\nservice=sshd\nlogin=bob\nrhost=192.0.2.7\n",
        )
        .expect("write");
        assert_eq!(fresh(&d, &K, W, 1000), Ok(None));
        std::fs::write(&f, "junk").expect("write");
        assert_eq!(fresh(&d, &K, W, 1000), Ok(None));
        std::fs::remove_dir_all(&d).expect("clean");
    }

    #[test]
    fn an_id_is_kept_for_one_connection_and_key_for_a_while() {
        let d = dir("conn");
        let c = Connection {
            process: "4242:99",
            key: K,
        };
        assert!(kept_id(&d, &c, 1000).is_none());
        keep_id(&d, &c, Some("alice@example.com"), 1000).expect("keep");
        assert_eq!(
            kept_id(&d, &c, 1000).as_deref().map(String::as_str),
            Some("alice@example.com")
        );
        assert!(kept_id(&d, &c, 1000 + CONNECTION_KEEP).is_none());
        let other = Connection {
            process: "4242:100",
            key: K,
        };
        assert!(kept_id(&d, &other, 1000).is_none());
        let other = Connection {
            process: "4242:99",
            key: Key { login: "bob", ..K },
        };
        assert!(kept_id(&d, &other, 1000).is_none());
        keep_id(&d, &c, None, 1000).expect("forget");
        assert!(kept_id(&d, &c, 1000).is_none());
        std::fs::remove_dir_all(&d).expect("clean");
    }
}
