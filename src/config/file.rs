//! The root-only config file (`config=PATH`): `key=value` lines, read
//! under the file-trust rules of `trust.rs`, every copy of the text wiped.

use std::path::Path;

use zeroize::Zeroizing;

use super::ConfigError;
use crate::trust::open_root_only;

/// A config file is a handful of lines; anything bigger is not ours.
const MAX_CONFIG_FILE: u64 = 64 * 1024;

/// A config file's `key=value` pairs; values are wiped when dropped (the
/// service key is one of them).
pub type Pairs = Vec<(String, Zeroizing<String>)>;

/// Reads a `key=value` file, refusing one that others could read or replace:
/// it holds the service key. Opened without following a symlink and without
/// blocking (a FIFO in its place is refused, not waited on); read with a
/// bound; every copy of the text is wiped.
pub fn read_config_file(path: &Path) -> Result<Pairs, ConfigError> {
    let err = |why: String| ConfigError::ConfigFile {
        path: path.display().to_string(),
        why,
    };
    if !path.is_absolute() {
        return Err(err("path must be absolute".into()));
    }
    let (mut file, size) = open_root_only(path, MAX_CONFIG_FILE).map_err(err)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(size as usize + 1));
    crate::sys::read_bounded(&mut file, MAX_CONFIG_FILE, &mut bytes)
        .map_err(|e| err(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| err("not UTF-8 text".into()))?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => pairs.push((
                k.trim().to_string(),
                Zeroizing::new(unquote(v.trim()).to_string()),
            )),
            None => return Err(err(format!("line {}: expected key=value", n + 1))),
        }
    }
    Ok(pairs)
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::read_config_file;
    use crate::config::parse;
    use crate::config::tests::{write_conf, BASE};
    use std::fs;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn config_file_supplies_secrets_and_line_overrides() {
        let (path, dir) = write_conf(
            0o600,
            "# wpam\nservice_key = \"from-file\"\nservice_id=fid\ntimeout=5\n",
        );
        let arg = format!("config={}", path.display());
        let p = parse(&["server_url=h", "service_id=line", arg.as_str()]);
        let c = p.config.expect("config");
        assert_eq!(c.service_key.as_str(), "from-file");
        assert_eq!(c.service_id, "line");
        assert_eq!(c.timeout, Duration::from_secs(5));
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_files_up_to_64_kib() {
        // Comments count: a long commented example file is still read.
        let pad = "#".repeat(99) + "\n";
        let body = |lines: usize| format!("{}service_key=k\n", pad.repeat(lines));
        let (path, dir) = write_conf(0o600, &body(600)); // 60,014 bytes
        let arg = format!("config={}", path.display());
        let p = parse(&[BASE[0], BASE[1], arg.as_str()]);
        assert_eq!(p.config.expect("60 KB").service_key.as_str(), "k");
        fs::write(&path, body(656)).expect("write"); // 65,614 bytes
        let p = parse(&[BASE[0], BASE[1], arg.as_str()]);
        assert!(p.config.is_err(), "more than 64 KiB read");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_file_readable_by_others_is_refused() {
        let (path, dir) = write_conf(0o644, "service_key=k\n");
        let arg = format!("config={}", path.display());
        let p = parse(&[BASE[0], BASE[1], arg.as_str()]);
        let e = p.config.expect_err("refused").to_string();
        assert!(e.contains("0644"), "{e}");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_file_fifo_is_refused_without_blocking() {
        let (path, dir) = write_conf(0o600, "");
        fs::remove_file(&path).expect("rm");
        let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("c");
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_config_file(&path).expect_err("refused").to_string();
        assert!(e.contains("not a regular file"), "{e}");
        fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn config_file_symlink_and_missing_are_refused() {
        let (path, dir) = write_conf(0o600, "service_key=k\n");
        let link = dir.join("link.conf");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        assert!(read_config_file(&link).is_err());
        assert!(read_config_file(&dir.join("absent")).is_err());
        assert!(read_config_file(Path::new("relative.conf")).is_err());
        fs::remove_dir_all(dir).ok();
    }
}
