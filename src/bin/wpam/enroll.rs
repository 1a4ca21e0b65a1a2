//! `wpam offline-enroll LOGIN` / `wpam offline-enroll --remove LOGIN`: the
//! `offline_secrets` file's lines, written the way the module reads them
//! (root-only, replaced atomically), and the new secret shown once as an
//! otpauth:// URI and a QR code for the admin's authenticator app.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use pam_wpam::offline::{self, Secrets};
use pam_wpam::trust;
use zeroize::Zeroizing;

use crate::EnrollArgs;

/// Largest file this command rewrites: the module's own limit is larger.
const MAX_FILE: u64 = 128 * 1024;

pub fn run(a: &EnrollArgs) -> ExitCode {
    match enroll(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wpam offline-enroll: {e}");
            ExitCode::FAILURE
        }
    }
}

fn enroll(a: &EnrollArgs) -> Result<(), String> {
    if pam_wpam::sys::euid() != 0 {
        return Err(format!(
            "must run as root: {} is root-only (sudo wpam offline-enroll …)",
            a.file.display()
        ));
    }
    if !offline::plausible_login(&a.login) {
        return Err(format!(
            "{} is not a login name",
            pam_wpam::log::quote(&a.login)
        ));
    }
    if !a.file.is_absolute() {
        return Err(format!("--file {}: must be absolute", a.file.display()));
    }
    let dir = a.file.parent().unwrap_or(Path::new("/"));
    trust::trusted_dir(dir).map_err(|e| format!("directory {}: {e}", dir.display()))?;
    // Logins check their codes under the same lock; an enrolment waits for
    // them, and two enrolments do not lose each other's line.
    let _lock = offline::lock_state(&a.file).map_err(|e| e.to_string())?;
    let old = read_existing(&a.file)?;
    Secrets::parse(&old).map_err(|e| {
        format!(
            "{}: {e}; correct that line first (nothing was changed)",
            a.file.display()
        )
    })?;
    let (mut text, found) = without_login(&old, &a.login);
    if a.remove {
        if !found {
            return Err(format!(
                "{} has no secret for {} (nothing was changed)",
                a.file.display(),
                a.login
            ));
        }
        write(&a.file, &text)?;
        println!(
            "removed {}'s offline secret from {}",
            a.login,
            a.file.display()
        );
        return Ok(());
    }
    let mut secret = Zeroizing::new([0u8; offline::NEW_SECRET_BYTES]);
    getrandom::getrandom(&mut secret[..])
        .map_err(|e| format!("the OS random number generator failed: {e}"))?;
    let b32 = offline::encode_secret(&secret[..]);
    if text.is_empty() {
        text.push_str(HEADER);
    }
    for part in [a.login.as_str(), " ", b32.as_str(), "\n"] {
        text.push_str(part);
    }
    write(&a.file, &text)?;
    let uri = Zeroizing::new(otpauth_uri(&a.login, &hostname(), &b32));
    let qr = qr_text(&uri);
    let mut out = io::stdout().lock();
    let shown = writeln!(
        out,
        "{} {}'s offline secret in {} (RFC 6238: SHA-1, 6 digits, 30 s)\n\n{qr}\n{}\n\n\
         Scan the QR code (or enter the URI) in the authenticator app of whoever holds\n\
         {}'s break-glass access, then remove this output from your screen and scrollback:\n\
         anyone who saw it can make codes. The module asks for a code only with\n\
         offline_secrets={} on its line or in its config file, and only for users in\n\
         offline_users while the Werbot API cannot be reached.",
        if found { "replaced" } else { "created" },
        a.login,
        a.file.display(),
        uri.as_str(),
        a.login,
        a.file.display(),
    )
    .and_then(|()| out.flush());
    shown.map_err(|e| format!("the secret was written but could not be shown: {e}"))
}

const HEADER: &str = "# wpam offline secrets (pam_wpam(8), offline_secrets=): LOGIN BASE32SECRET\n\
                      # Written by wpam offline-enroll; root:root 0600.\n";

/// The file's text, or empty when it does not exist yet. Read under the
/// module's own rules: a file it would refuse is not silently replaced.
fn read_existing(path: &Path) -> Result<Zeroizing<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Zeroizing::new(String::new())),
        _ => {}
    }
    let (mut file, size) = trust::open_root_only(path, MAX_FILE)
        .map_err(|e| format!("{}: {e} (nothing was changed)", path.display()))?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(size as usize + 1));
    pam_wpam::sys::read_bounded(&mut file, MAX_FILE, &mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// The text without `login`'s line (comments and other lines kept), and
/// whether there was one.
fn without_login(text: &str, login: &str) -> (Zeroizing<String>, bool) {
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 80));
    let mut found = false;
    for line in text.lines() {
        let t = line.trim();
        if !t.starts_with('#') && t.split_ascii_whitespace().next() == Some(login) {
            found = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, found)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    offline::replace_file(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e} (nothing was changed)", path.display()))?;
    relabel(path);
    Ok(())
}

/// Under SELinux, files this command creates take the type of the admin's
/// shell's transition (etc_t), which the login domains may not write: the
/// policy's labels (wpam_conf_t, wpam_state_t) are put back with
/// restorecon, or the command says how.
fn relabel(path: &Path) {
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return;
    }
    let state = offline::state_dir(path);
    let ok = std::process::Command::new("restorecon")
        .arg("-RF")
        .arg(path)
        .arg(&state)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "wpam offline-enroll: SELinux is on and restorecon failed: run \
             restorecon -RF {} {} (until then offline logins are refused)",
            path.display(),
            state.display()
        );
    }
}

/// `otpauth://totp/wpam:LOGIN@HOST?secret=…&issuer=wpam&algorithm=SHA1&digits=6&period=30`,
/// the Key URI Format authenticator apps read.
pub fn otpauth_uri(login: &str, host: &str, secret_b32: &str) -> String {
    format!(
        "otpauth://totp/wpam:{}%40{}?secret={secret_b32}&issuer=wpam&algorithm=SHA1&digits={}&period={}",
        percent(login),
        percent(host),
        offline::DIGITS,
        offline::STEP
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Light modules on dark, two rows per character: what most terminals show
/// and phone cameras read. Empty when the URI does not fit a QR code.
fn qr_text(uri: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length; gethostname NUL-terminates within
    // it when the name fits.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if r != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_labels_are_percent_encoded() {
        let u = otpauth_uri("r oot", "h/1", "ABC");
        assert_eq!(
            u,
            "otpauth://totp/wpam:r%20oot%40h%2F1?secret=ABC&issuer=wpam&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn only_the_logins_own_line_goes() {
        let (t, found) = without_login("# root X\nroot A\nrooty B\n  root C\n", "root");
        assert!(found);
        assert_eq!(t.as_str(), "# root X\nrooty B\n");
        let (_, found) = without_login("alice A\n", "root");
        assert!(!found);
    }

    #[test]
    fn a_qr_code_is_drawn() {
        let q = qr_text(&otpauth_uri(
            "root",
            "host",
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        ));
        assert!(q.lines().count() > 10, "{q}");
    }
}
