//! The BSD packages, checked against each format's specification with
//! readers independent of the builders (run through the build-all.sh hooks
//! packaging/<os>/build.sh: FreeBSD's own `pkg create` for FreeBSD, packaging/common/bsdpkg.py for
//! NetBSD and OpenBSD): archive member order, metadata fields, checksums,
//! sizes, scripts, messages, reproducibility.
//!
//! No BSD runs here: these prove the format, not an install. The release CI
//! (.github/workflows/bsd.yml) installs the same files on real VMs.
//!
//! Inputs: the cross-built artifacts in dist/<os>-amd64/ when present, else
//! placeholder bytes (the format does not depend on them).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

const EPOCH: u64 = 1_700_000_000;
const VERSION: &str = env!("CARGO_PKG_VERSION");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Longest a package hook (packaging/<os>/build.sh, python) or package script may take.
const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
/// Building FreeBSD's pkg (first run only; packaging/freebsd/pkg-tool.sh bounds its own steps).
const PKG_BUILD_LIMIT: Duration = Duration::from_secs(1080);

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/elf.rs"]
mod elf;

struct Entry {
    name: String,
    data: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    gname: String,
    mtime: u64,
    ustar: bool,
}

fn entries(tar_bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for e in archive.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        let h = e.header().clone();
        let name = String::from_utf8(e.path_bytes().to_vec()).expect("utf-8 name");
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("read entry");
        assert_eq!(h.entry_type(), tar::EntryType::Regular, "{name}");
        out.push(Entry {
            name,
            data,
            mode: h.mode().expect("mode"),
            uid: h.uid().expect("uid"),
            gid: h.gid().expect("gid"),
            gname: h.groupname().ok().flatten().unwrap_or_default().to_string(),
            mtime: h.mtime().expect("mtime"),
            ustar: h.as_ustar().is_some(),
        });
    }
    out
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn unxz(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &b[..], &mut out).expect("xz");
    out
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wpam-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// The artifacts for `os`: dist/<os>-amd64 when built, else placeholders.
fn artifacts(os: &str, dir: &Path) -> PathBuf {
    let art = dir.join(format!("{os}-amd64"));
    std::fs::create_dir_all(&art).expect("art dir");
    let dist = Path::new(ROOT).join("dist").join(format!("{os}-amd64"));
    let name = if os == "openbsd" {
        "login_-wpam"
    } else {
        "pam_wpam.so"
    };
    // The module (or login style), and the wpam command every package ships.
    for name in [name, "wpam"] {
        let bytes = std::fs::read(dist.join(name)).unwrap_or_else(|_| {
            // ci/test/bsd.sh sets this once dist/ is built: the packages of
            // the real objects are what it checks, never placeholders.
            assert!(
                std::env::var("WPAM_REQUIRE_DIST").as_deref() != Ok("1"),
                "no dist/{os}-amd64/{name}, and WPAM_REQUIRE_DIST=1 requires the real artifact"
            );
            eprintln!("note: no dist/{os}-amd64/{name}; packaging placeholder bytes");
            format!("\x7fELF placeholder for {name}\n").into_bytes()
        });
        std::fs::write(art.join(name), bytes).expect("write artifact");
    }
    art
}

/// The wpam command in the artifact directory of `build`.
fn command(os: &str, dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join(format!("{os}-amd64/wpam"))).expect("wpam artifact")
}

/// Whether FreeBSD's pkg, which makes the FreeBSD package (packaging/freebsd/build.sh:
/// `pkg create`), is built or can be (packaging/freebsd/pkg-tool.sh, once, about 80 s on
/// 2 cores). When it cannot, the FreeBSD checks skip with a note, except
/// under CI=true, where they fail (as tests/freebsd_pkg.rs does).
fn freebsd_pkg_available() -> bool {
    let out = deadline::output(
        &mut Command::new(format!("{ROOT}/packaging/freebsd/pkg-tool.sh")),
        PKG_BUILD_LIMIT,
        "packaging/freebsd/pkg-tool.sh",
    )
    .expect("run packaging/freebsd/pkg-tool.sh");
    if out.status.success() {
        return true;
    }
    let why = format!(
        "packaging/freebsd/pkg-tool.sh could not build FreeBSD's pkg ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("SKIPPED the FreeBSD package (CI=true would fail): {why}");
    false
}

/// Runs the build-all.sh hook; returns the package bytes and its artifact.
fn build(os: &str, dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let art = artifacts(os, dir);
    let out = deadline::output(
        Command::new(format!("{ROOT}/packaging/{os}/build.sh"))
            .arg(&art)
            .arg(dir)
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .env("VERSION", VERSION),
        SCRIPT_LIMIT,
        &format!("packaging/{os}/build.sh"),
    )
    .expect("run the package hook");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).expect("path");
    let path = PathBuf::from(path.trim());
    let ext = if os == "freebsd" { "pkg" } else { "tgz" };
    assert_eq!(
        path,
        dir.join(format!("{os}-amd64/wpam-{VERSION}.{ext}")),
        "package path"
    );
    let name = if os == "openbsd" {
        "login_-wpam"
    } else {
        "pam_wpam.so"
    };
    (
        std::fs::read(&path).expect("read package"),
        std::fs::read(art.join(name)).expect("artifact"),
    )
}

fn man_page() -> Vec<u8> {
    std::fs::read(format!("{ROOT}/packaging/man/pam_wpam.8")).expect("man page")
}

/// fnmatch(3) with `*`, `?` and a bracket range `[a-b]` or set `[ab]`,
/// FNM_CASEFOLD as pkg calls it.
fn fnmatch(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(b'['), Some(c)) => {
                let Some(end) = p.iter().position(|&b| b == b']') else {
                    return false;
                };
                let set = &p[1..end];
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        hit |= (set[i]..=set[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit && go(&p[end + 1..], &s[1..])
            }
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// pkg's is_valid_abi (libpkg/utils.c): prefix or glob, case-insensitive.
fn pkg_accepts_abi(pkg_abi: &str, host_abi: &str) -> bool {
    host_abi
        .to_ascii_lowercase()
        .starts_with(&pkg_abi.to_ascii_lowercase())
        || fnmatch(pkg_abi, host_abi)
}

/// The files OpenPAM tries for a module named in pam.d, in order
/// (openpam_dynamic(), contrib/openpam/lib/libpam/openpam_dynamic.c): a
/// name with a `/` is used as written (absolute only); otherwise, in each
/// directory of openpam_module_path, `<dir>/<name>.so.<LIB_MAJ>` (".so"
/// appended when missing) and, if that file does not exist, the same
/// without the version suffix.
fn openpam_candidates(name: &str, module_path: &[&str], lib_maj: u32) -> Vec<String> {
    if name.contains('/') {
        return if name.starts_with('/') {
            vec![name.to_string()]
        } else {
            Vec::new() // relative paths are refused
        };
    }
    let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let has_ver = digits.len() < name.len() && digits.ends_with('.');
    let stem = if has_ver || name.ends_with(".so") {
        name.to_string()
    } else {
        format!("{name}.so")
    };
    let mut out = Vec::new();
    for dir in module_path {
        if has_ver {
            out.push(format!("{dir}/{stem}"));
        } else {
            out.push(format!("{dir}/{stem}.{lib_maj}"));
            out.push(format!("{dir}/{stem}"));
        }
    }
    out
}

/// FreeBSD's openpam_module_path (contrib/openpam/lib/libpam/openpam_constants.c,
/// no OPENPAM_MODULES_DIRECTORY in FreeBSD's build) and LIB_MAJ (libpam's
/// major, 6).
const FREEBSD_MODULE_PATH: &[&str] = &["/usr/lib", "/usr/local/lib"];
const FREEBSD_LIB_MAJ: u32 = 6;
/// NetBSD builds OpenPAM with OPENPAM_MODULES_DIRECTORY=/usr/lib/security
/// and libpam's SHLIB_MAJOR=4 shared with the modules
/// (lib/libpam/Makefile.inc rev 1.17, 2013-12-27).
const NETBSD_MODULE_PATH: &[&str] = &["/usr/lib/security"];
const NETBSD_LIB_MAJ: u32 = 4;

#[test]
fn openpam_search_model_matches_its_source() {
    assert_eq!(
        openpam_candidates("pam_unix", FREEBSD_MODULE_PATH, 6),
        [
            "/usr/lib/pam_unix.so.6",
            "/usr/lib/pam_unix.so",
            "/usr/local/lib/pam_unix.so.6",
            "/usr/local/lib/pam_unix.so"
        ]
    );
    assert_eq!(
        openpam_candidates("pam_unix.so.4", NETBSD_MODULE_PATH, 4),
        ["/usr/lib/security/pam_unix.so.4"]
    );
    assert_eq!(
        openpam_candidates("/opt/pam_x.so", NETBSD_MODULE_PATH, 4),
        ["/opt/pam_x.so"]
    );
    assert!(openpam_candidates("lib/pam_x.so", NETBSD_MODULE_PATH, 4).is_empty());
}

/// Runs a package script on this host with /var/log redirected to `root`.
fn run_script(script: &str, root: &Path, args: &[&str], prefix: &Path) {
    let log_dir = root.join("var/log");
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let script = script.replace("/var/log/", &format!("{}/", log_dir.display()));
    let path = root.join("script.sh");
    std::fs::write(&path, script).expect("write script");
    let out = deadline::output(
        Command::new("sh")
            .arg(&path)
            .args(args)
            .env("PKG_PREFIX", prefix)
            // +DEINSTALL reads the PAM policies under PKG_DESTDIR (pkg_delete -P):
            // the scratch root's, not this host's.
            .env("PKG_DESTDIR", root),
        SCRIPT_LIMIT,
        &format!("package script {} {args:?}", path.display()),
    )
    .expect("sh");
    assert!(
        out.status.success(),
        "script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

// --- FreeBSD -------------------------------------------------------------

#[test]
fn freebsd_pkg_follows_the_pkg_format() {
    if !freebsd_pkg_available() {
        return;
    }
    let dir = tmp("fbsd");
    let (pkg, module) = build("freebsd", &dir);
    // xz magic: packaging/freebsd/build.sh asks pkg create for txz (-f txz).
    assert_eq!(&pkg[..6], b"\xfd7zXZ\x00");
    let es = entries(&unxz(&pkg));
    let names: Vec<&str> = es.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[..2], ["+COMPACT_MANIFEST", "+MANIFEST"]);
    let payload = &es[2..];
    for e in payload {
        assert!(e.name.starts_with("/usr/local/"), "{}", e.name);
        assert!(!e.name.contains("/+"), "{}", e.name);
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, EPOCH), "{}", e.name);
    }

    let manifest: serde_json::Value = serde_json::from_slice(&es[1].data).expect("+MANIFEST JSON");
    let compact: serde_json::Value =
        serde_json::from_slice(&es[0].data).expect("+COMPACT_MANIFEST JSON");
    // pkg_is_valid(): these must be non-empty strings.
    for key in [
        "name",
        "origin",
        "version",
        "comment",
        "desc",
        "maintainer",
        "www",
        "prefix",
    ] {
        let v = manifest[key].as_str().unwrap_or_default();
        assert!(!v.is_empty(), "+MANIFEST {key}");
        assert_eq!(compact[key], manifest[key], "compact {key}");
    }
    assert_eq!(manifest["name"], "wpam");
    assert_eq!(manifest["version"], VERSION);
    assert_eq!(manifest["origin"], "security/wpam");
    assert_eq!(manifest["prefix"], "/usr/local");

    let abi = manifest["abi"].as_str().expect("abi");
    for host in ["FreeBSD:14:amd64", "FreeBSD:15:amd64"] {
        assert!(pkg_accepts_abi(abi, host), "{abi} vs {host}");
    }
    // Only the supported majors we build for and test: not 13 (end of life
    // 2026-04-30) or an older one, not the next.
    for host in [
        "FreeBSD:12:amd64",
        "FreeBSD:13:amd64",
        "FreeBSD:16:amd64",
        "FreeBSD:14:aarch64",
        "FreeBSD:14:i386",
        "Linux:6:amd64",
    ] {
        assert!(!pkg_accepts_abi(abi, host), "{abi} must not match {host}");
    }
    assert_eq!(compact["abi"], manifest["abi"]);
    // pkg add asks for IGNORE_OSVERSION when the package's FreeBSD_version
    // annotation is newer than the running system (PLATFORMS.md: libpkg
    // pkg_add.c): none, or no newer than 13.0-RELEASE (1300139): the
    // sysroot it is built against, older than 14.0 (1400097), the oldest
    // system the package's ABI FreeBSD:1[45]:amd64 is meant for.
    for m in [&manifest, &compact] {
        if let Some(v) = m["annotations"].get("FreeBSD_version") {
            let v: u64 = v.as_str().and_then(|v| v.parse().ok()).expect("number");
            assert!(v <= 1_300_139, "FreeBSD_version {v} newer than 13.0");
        }
    }

    // files: exactly the payload, each with the owner, group and mode of its
    // archive entry and the checksum pkg create computed: "2$" + base32 of
    // BLAKE2b (PKG_HASH_TYPE_BLAKE2_BASE32). That the sums are right is
    // pkg's own check: tests/freebsd_pkg.rs runs `pkg check -s`.
    let files = manifest["files"].as_object().expect("files");
    let listed: BTreeSet<&str> = files.keys().map(String::as_str).collect();
    let present: BTreeSet<&str> = payload.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(listed, present);
    for e in payload {
        let f = &files[&e.name];
        let sum = f["sum"].as_str().unwrap_or_default();
        assert!(
            sum.strip_prefix("2$").is_some_and(|b| b.len() >= 100
                && b.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "{}: sum {sum}",
            e.name
        );
        assert_eq!(
            (f["uname"].as_str(), f["gname"].as_str()),
            (Some("root"), Some("wheel")),
            "{}",
            e.name
        );
        assert_eq!(e.gname, "wheel", "{}", e.name);
        assert_eq!(
            f["perm"].as_str(),
            Some(format!("{:04o}", e.mode & 0o7777).as_str()),
            "{}",
            e.name
        );
    }
    let flat: u64 = payload.iter().map(|e| e.data.len() as u64).sum();
    assert_eq!(manifest["flatsize"].as_u64(), Some(flat));
    assert_eq!(compact["flatsize"].as_u64(), Some(flat));
    // The compact manifest (what `pkg repo` and `pkg info -F` read first)
    // leaves out what only an install needs; pkg keeps the messages in it.
    for key in ["files", "scripts", "lua_scripts", "directories"] {
        assert!(compact.get(key).is_none(), "compact manifest has {key}");
    }

    let by_name: BTreeMap<&str, &Entry> = payload.iter().map(|e| (e.name.as_str(), e)).collect();
    let so = by_name["/usr/local/lib/pam_wpam.so"];
    assert_eq!(so.data, module);
    // The bare name in /etc/pam.d reaches it (4th candidate) …
    assert!(
        openpam_candidates("pam_wpam.so", FREEBSD_MODULE_PATH, FREEBSD_LIB_MAJ).contains(&so.name)
    );
    // … and OpenPAM (VERIFY_MODULE_FILE, openpam_check_owner_perms.c) loads
    // it only root-owned and not group/other-writable.
    assert_eq!(so.uid, 0);
    assert_eq!(
        so.mode & 0o022,
        0,
        "module must not be group/other-writable"
    );
    let man = by_name["/usr/local/share/man/man8/pam_wpam.8.gz"];
    assert_eq!(gunzip(&man.data), man_page());
    let cmd = by_name["/usr/local/bin/wpam"];
    assert_eq!(
        (cmd.data.as_slice(), cmd.mode),
        (command("freebsd", &dir).as_slice(), 0o555)
    );
    assert!(by_name.contains_key("/usr/local/share/man/man8/wpam.8.gz"));
    assert!(by_name.contains_key("/usr/local/etc/wpam.conf.sample"));

    let msg = manifest["messages"][0]["message"]
        .as_str()
        .expect("message");
    for line in [
        "auth required pam_wpam.so config=/usr/local/etc/wpam.conf",
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "AuthenticationMethods publickey,keyboard-interactive",
    ] {
        assert!(
            msg.lines().any(|l| l.trim() == line),
            "message lacks {line}"
        );
    }

    // The config is the plist's @sample (Lua scripts pkg runs in the root it
    // installs into), 0600 like the copy it becomes; the post-install shell
    // script makes the log file under PKG_ROOTDIR, never this host's
    // /var/log (run here; tests/freebsd_pkg.rs runs it through pkg itself).
    assert_eq!(by_name["/usr/local/etc/wpam.conf.sample"].mode, 0o600);
    for phase in ["post-install", "pre-deinstall"] {
        let lua = manifest["lua_scripts"][phase][0]
            .as_str()
            .unwrap_or_default();
        assert!(
            lua.starts_with("-- @sample etc/wpam.conf.sample\n"),
            "{phase}: {lua}"
        );
    }
    // The shell pre-deinstall: the warning while PAM still names the module
    // (ci/test/scripts.sh runs it; ci/test/packages.sh through pkg itself).
    // pkg create keeps a script as its file says, less the final newline
    // (pkg trims the strings of a manifest, every package's alike).
    let script = |name: &str| {
        let s =
            std::fs::read_to_string(format!("{ROOT}/packaging/freebsd/{name}")).expect("script");
        s.trim_end_matches('\n').to_string()
    };
    assert_eq!(
        pkg_url_decode(
            manifest["scripts"]["pre-deinstall"]
                .as_str()
                .expect("pre-deinstall")
        ),
        script("pre-deinstall")
    );
    // pkg url-decodes shell scripts when it reads a manifest (%xx).
    let post = manifest["scripts"]["post-install"]
        .as_str()
        .expect("post-install");
    let post = pkg_url_decode(post);
    assert_eq!(post, script("post-install"));
    std::fs::create_dir_all(dir.join("var/log")).expect("var/log");
    let out = deadline::output(
        Command::new("sh")
            .args(["-c", &post])
            .env("PKG_ROOTDIR", &dir),
        SCRIPT_LIMIT,
        "post-install",
    )
    .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode_of(&dir.join("var/log/wpam.log")), 0o640);
    std::fs::remove_dir_all(dir).ok();
}

/// libpkg's url_decode (pkg_manifest.c): %xx with two hex digits is a byte.
fn pkg_url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

// --- NetBSD --------------------------------------------------------------

/// pkg_install's order of the metadata after +CONTENTS, +COMMENT, +DESC
/// (pkgsrc pkgtools/pkg_install add/perform.c, pkg_meta_descriptors[]).
const NETBSD_META_ORDER: &[&str] = &[
    "+INSTALL",
    "+DEINSTALL",
    "+DISPLAY",
    "+MTREE_DIRS",
    "+BUILD_VERSION",
    "+BUILD_INFO",
    "+SIZE_PKG",
    "+SIZE_ALL",
    "+PRESERVE",
    "+VIEWS",
    "+REQUIRED_BY",
    "+INSTALLED_INFO",
];

#[test]
fn netbsd_tgz_follows_the_pkgsrc_binary_format() {
    let dir = tmp("nbsd");
    let (tgz, module) = build("netbsd", &dir);
    assert_eq!(&tgz[..2], b"\x1f\x8b");
    let es = entries(&gunzip(&tgz));
    let names: Vec<&str> = es.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[..3], ["+CONTENTS", "+COMMENT", "+DESC"]);
    let meta_end = names
        .iter()
        .position(|n| !n.starts_with('+'))
        .expect("payload");
    let optional = &names[3..meta_end];
    let positions: Vec<usize> = optional
        .iter()
        .map(|n| {
            NETBSD_META_ORDER
                .iter()
                .position(|m| m == n)
                .unwrap_or_else(|| panic!("unknown metadata {n}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "misordered: {optional:?}"
    );
    let meta: BTreeMap<&str, &Entry> = es[..meta_end]
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let text = |n: &str| String::from_utf8(meta[n].data.clone()).expect("utf-8");

    // +CONTENTS: @name, @cwd, file + @comment MD5 pairs.
    let contents = text("+CONTENTS");
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines[0], format!("@name wpam-{VERSION}"));
    let mut cwd = None;
    let mut files = Vec::new();
    let mut i = 0;
    let mut ignore_next = false;
    while i < lines.len() {
        let l = lines[i];
        if let Some(d) = l.strip_prefix("@cwd ") {
            cwd = Some(d);
        } else if l == "@ignore" {
            ignore_next = true;
        } else if !l.starts_with('@') {
            if ignore_next {
                assert!(meta.contains_key(l), "@ignore {l} is not a metadata file");
                ignore_next = false;
            } else {
                assert_eq!(cwd, Some("/usr/pkg"), "{l}");
                let md5 = lines[i + 1]
                    .strip_prefix("@comment MD5:")
                    .expect("MD5 line");
                files.push((l, md5));
                i += 1;
            }
        }
        i += 1;
    }
    // Payload: exactly the +CONTENTS files, in that order, with their MD5.
    let payload = &es[meta_end..];
    assert_eq!(
        payload.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        files.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    for (e, (_, md5)) in payload.iter().zip(&files) {
        assert_eq!(md5_hex(&e.data), *md5, "{}", e.name);
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, EPOCH));
        assert!(!e.name.starts_with('/'), "{}", e.name);
    }
    let so = payload
        .iter()
        .find(|e| e.name == "lib/security/pam_wpam.so")
        .expect("module");
    assert_eq!(so.data, module);
    assert_eq!(so.mode & 0o022, 0);
    let man = payload
        .iter()
        .find(|e| e.name == "man/man8/pam_wpam.8")
        .expect("man page");
    assert_eq!(man.data, man_page());
    let cmd = payload
        .iter()
        .find(|e| e.name == "bin/wpam")
        .expect("the wpam command");
    assert_eq!(
        (cmd.data.as_slice(), cmd.mode),
        (command("netbsd", &dir).as_slice(), 0o555)
    );
    assert!(payload.iter().any(|e| e.name == "man/man8/wpam.8"));

    // +BUILD_INFO: the keys pkg_add checks.
    let bi: BTreeMap<String, String> = text("+BUILD_INFO")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(bi["OPSYS"], "NetBSD");
    assert_eq!(bi["MACHINE_ARCH"], "x86_64");
    assert!(bi["OS_VERSION"]
        .split('.')
        .all(|p| p.parse::<u32>().is_ok()));
    let tools = &bi["PKGTOOLS_VERSION"];
    assert!(tools.len() == 8 && tools.parse::<u32>().is_ok(), "{tools}");
    assert!(
        tools.as_str() < "20200101",
        "PKGTOOLS_VERSION must be old: {tools}"
    );
    assert_eq!(bi["LICENSE"], "mit");
    let size: usize = payload.iter().map(|e| e.data.len()).sum();
    assert_eq!(text("+SIZE_PKG").trim(), size.to_string());

    let display = text("+DISPLAY");
    assert!(
        display.lines().any(|l| l.trim()
            == "auth required /usr/pkg/lib/security/pam_wpam.so config=/usr/pkg/etc/wpam.conf"),
        "{display}"
    );
    // Why +DISPLAY gives the absolute path: NetBSD's OpenPAM looks for a bare
    // name in /usr/lib/security only, never where pkg_add puts the module.
    let installed = format!("/usr/pkg/{}", so.name); // @cwd of every payload line
    let bare = openpam_candidates("pam_wpam.so", NETBSD_MODULE_PATH, NETBSD_LIB_MAJ);
    assert_eq!(
        bare,
        [
            "/usr/lib/security/pam_wpam.so.4",
            "/usr/lib/security/pam_wpam.so"
        ]
    );
    assert!(!bare.contains(&installed));
    assert_eq!(
        openpam_candidates(&installed, NETBSD_MODULE_PATH, NETBSD_LIB_MAJ),
        [installed]
    );

    // +INSTALL POST-INSTALL, run here with /var/log redirected.
    assert_eq!(meta["+INSTALL"].mode & 0o111, 0o111);
    let prefix = dir.join("prefix");
    let ex = prefix.join("share/examples/wpam");
    std::fs::create_dir_all(&ex).expect("examples");
    let conf = payload
        .iter()
        .find(|e| e.name == "share/examples/wpam/wpam.conf")
        .expect("example conf");
    std::fs::write(ex.join("wpam.conf"), &conf.data).expect("write");
    let pkgname = format!("wpam-{VERSION}");
    run_script(
        &text("+INSTALL"),
        &dir,
        &[&pkgname, "POST-INSTALL"],
        &prefix,
    );
    assert_eq!(mode_of(&dir.join("var/log/wpam.log")), 0o640);
    assert_eq!(mode_of(&prefix.join("etc/wpam.conf")), 0o600);
    run_script(&text("+DEINSTALL"), &dir, &[&pkgname, "DEINSTALL"], &prefix);
    assert!(!prefix.join("etc/wpam.conf").exists());
    std::fs::remove_dir_all(dir).ok();
}

// --- OpenBSD -------------------------------------------------------------

#[test]
fn openbsd_tgz_follows_the_package_format() {
    use data_encoding::BASE64;
    let dir = tmp("obsd");
    let (tgz, style) = build("openbsd", &dir);
    assert_eq!(&tgz[..2], b"\x1f\x8b");
    let es = entries(&gunzip(&tgz));
    assert!(es.iter().all(|e| e.ustar), "pkg_add reads ustar");
    assert_eq!(es[0].name, "+CONTENTS");
    let by_name: BTreeMap<&str, &Entry> = es.iter().map(|e| (e.name.as_str(), e)).collect();
    let plist = String::from_utf8(es[0].data.clone()).expect("utf-8");
    let lines: Vec<&str> = plist.lines().collect();
    assert_eq!(lines[0], format!("@name wpam-{VERSION}"));
    assert!(lines.contains(&"@comment pkgpath=security/wpam cdrom=yes ftp=yes"));
    assert!(lines.contains(&"@arch amd64"));

    // Each listed file: @sha (base64 sha256), @size, and @ts for payload.
    let mut listed = BTreeSet::new();
    let mut cwd = "";
    let (mut mode, mut group) = ("", "");
    for (i, l) in lines.iter().enumerate() {
        if let Some(d) = l.strip_prefix("@cwd ") {
            cwd = d;
            continue;
        }
        if let Some(m) = l.strip_prefix("@mode") {
            mode = m.trim();
            continue;
        }
        if let Some(g) = l.strip_prefix("@group") {
            group = g.trim();
            continue;
        }
        let file = match l.split_once(' ') {
            Some(("@bin" | "@man" | "@file", f)) => f,
            _ if !l.starts_with('@') && !l.ends_with('/') => l,
            _ => continue,
        };
        let e = by_name
            .get(file)
            .unwrap_or_else(|| panic!("{file} listed but not in the archive"));
        listed.insert(file);
        assert_eq!(
            lines[i + 1],
            format!("@sha {}", BASE64.encode(&Sha256::digest(&e.data))),
            "{file}"
        );
        assert_eq!(lines[i + 2], format!("@size {}", e.data.len()), "{file}");
        if !file.starts_with('+') {
            let want_cwd = if file == "login_-wpam" {
                "/usr/libexec/auth"
            } else {
                "/usr/local"
            };
            assert_eq!(cwd, want_cwd, "{file}");
            assert_eq!(lines[i + 3], format!("@ts {EPOCH}"), "{file}");
            assert_eq!(e.mtime, EPOCH);
        }
        if file == "login_-wpam" {
            // secure_path() (lib/libc/gen/auth_subr.c) runs a style only if it
            // is a regular file owned by root and not group/other-writable.
            // Not setuid or setgid: sshd, login and su (setuid root) run it
            // with euid 0, which reads /etc/wpam.conf; a caller running as
            // the user (a screen locker: setgid auth, since /usr/libexec/auth
            // is root:auth 0750) cannot, and is refused with a log line, as
            // such callers are on Linux (docs/admin.md, Security notes: "Services
            // that run PAM as the user"). A setuid-root TLS client is not worth that caller.
            assert_eq!((mode, group), ("0555", "auth"));
            assert_eq!(e.mode, 0o555);
            assert_eq!(e.mode & 0o7022, 0, "setuid/setgid or writable");
            assert_eq!(e.uid, 0);
            assert_eq!(e.gname, "auth");
            assert_eq!(e.data, style);
            // An ordinary file where BSD Authentication runs it (only
            // /usr/libexec/auth), so pkg_add -u replaces it: a @sample copy
            // is made once and then kept, and the old style would go on
            // running after every update (issue 24, item 8).
            assert_eq!(l.split_once(' '), Some(("@bin", "login_-wpam")));
            assert!(
                !lines
                    .iter()
                    .any(|l| l.starts_with("@sample") && l.contains("login_-wpam")),
                "the style is a @sample"
            );
        } else if !file.starts_with('+') {
            // A special mode or owner must be annotated: everything else is plain.
            assert_eq!((mode, group), ("", ""), "{file}");
            assert_eq!((e.uid, e.gid), (0, 0), "{file}");
        }
    }
    let present: BTreeSet<&str> = es[1..].iter().map(|e| e.name.as_str()).collect();
    assert_eq!(listed, present, "every archive member is listed");
    assert_eq!(by_name["bin/wpam"].data, command("openbsd", &dir));
    assert!(plist.contains("@bin bin/wpam\n") && plist.contains("@man man/man8/wpam.8\n"));
    // +DESC, +DISPLAY and +UNDISPLAY come right after +CONTENTS.
    assert_eq!(es[1].name, "+DESC");
    assert_eq!(es[2].name, "+DISPLAY");
    assert_eq!(es[3].name, "+UNDISPLAY");
    // pkg_delete removes the style while login.conf may still name it: the
    // message it shows says so.
    let undisplay = String::from_utf8(by_name["+UNDISPLAY"].data.clone()).expect("utf-8");
    for needle in ["/etc/login.conf", "-wpam", "cap_mkdb"] {
        assert!(undisplay.contains(needle), "+UNDISPLAY lacks {needle}");
    }
    // The only @sample is the config; base's /usr/libexec/auth (root:auth
    // 0750 in mtree) is neither listed (pkg_delete would try to remove it)
    // nor duplicated under /usr/local.
    let samples: Vec<&&str> = lines.iter().filter(|l| l.starts_with("@sample")).collect();
    assert_eq!(samples, [&"@sample /etc/wpam.conf"]);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("libexec/auth") && *l != "@cwd /usr/libexec/auth"),
        "a libexec/auth entry besides @cwd: {lines:?}"
    );
    assert!(lines.contains(&"@cwd /usr/libexec/auth"));
    // The @mode/@group of the style end with it: nothing after inherits them.
    let style_at = lines.iter().position(|l| *l == "@bin login_-wpam").unwrap();
    assert_eq!(&lines[style_at + 4..], ["@mode", "@group"]);

    // @wantlib: one line `NAME.MAJOR.MINOR` per versioned DT_NEEDED
    // (libNAME.so.MAJOR.MINOR) of the binaries, as pkg_create writes them,
    // and none else. An unversioned DT_NEEDED (libc.so: zig's stubs) has no
    // @wantlib: there is no version for pkg_add to check
    // (docs/bsd-loaders.md, "@wantlib").
    let wantlib: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("@wantlib "))
        .map(str::to_string)
        .collect();
    let mut want = BTreeSet::new();
    for bin in ["bin/wpam", "login_-wpam"] {
        let Ok(e) = elf::Elf::parse(by_name[bin].data.clone()) else {
            // Placeholder bytes (no dist/): no DT_NEEDED to compare.
            assert!(
                std::env::var("WPAM_REQUIRE_DIST").as_deref() != Ok("1"),
                "{bin} is not ELF"
            );
            continue;
        };
        for n in e.needed() {
            let (lib, ver) = n
                .split_once(".so")
                .unwrap_or_else(|| panic!("{bin}: DT_NEEDED {n} is no libNAME.so[.M.m]"));
            let lib = lib.strip_prefix("lib").expect("libNAME");
            match ver
                .strip_prefix('.')
                .map(|v| v.split('.').collect::<Vec<_>>())
            {
                None if ver.is_empty() => {}
                Some(v) if v.len() == 2 && v.iter().all(|x| x.parse::<u32>().is_ok()) => {
                    want.insert(format!("{lib}.{}.{}", v[0], v[1]));
                }
                _ => panic!("{bin}: DT_NEEDED {n} is no libNAME.so[.MAJOR.MINOR]"),
            }
        }
    }
    assert_eq!(
        wantlib, want,
        "@wantlib lines are not the binaries' DT_NEEDED"
    );
    let cwd_at = lines.iter().position(|l| l.starts_with("@cwd")).unwrap();
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| !l.starts_with("@wantlib") || i < cwd_at),
        "@wantlib after @cwd"
    );

    let display = String::from_utf8(by_name["+DISPLAY"].data.clone()).expect("utf-8");
    for needle in [
        ":auth-ssh=-wpam:",
        "cap_mkdb /etc/login.conf",
        "KbdInteractiveAuthentication yes",
        "AuthenticationMethods publickey,keyboard-interactive:bsdauth",
        "/etc/wpam.conf",
    ] {
        assert!(display.contains(needle), "+DISPLAY lacks {needle}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// ci/release/sign-openbsd.sh signs as pkg_sign(1) does: `signify -Sz` puts the
/// signature into the gzip header (comment "verify with NAME.pub", NAME
/// ending in -pkg, what pkg_add's `signify -Vz -t pkg` looks up in
/// /etc/signify), over the same tar; signify -Vz accepts it with that key
/// and refuses it with another; signing twice gives the same bytes; an
/// already signed package and a key name without -pkg are refused.
#[test]
fn openbsd_package_is_signed_as_pkg_sign_does() {
    let signify = "signify-openbsd";
    if Command::new(signify).arg("-h").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "signify-openbsd missing (ci/install-deps.sh installs it)"
        );
        eprintln!("skip: {signify} not installed (apt-get install signify-openbsd)");
        return;
    }
    let dir = tmp("obsd-sign");
    let (tgz, _) = build("openbsd", &dir);
    let pkg = dir.join(format!("openbsd-amd64/wpam-{VERSION}.tgz"));
    let sign = |args: &[&Path]| {
        deadline::output(
            Command::new(format!("{ROOT}/ci/release/sign-openbsd.sh")).args(args),
            SCRIPT_LIMIT,
            "ci/release/sign-openbsd.sh",
        )
        .expect("run ci/release/sign-openbsd.sh")
    };
    let keys = dir.join("keys");
    let out = sign(&[Path::new("--throwaway"), &keys, &pkg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read(&pkg).expect("signed package");
    // gzip header with FCOMMENT (0x10): the signify block, then the same
    // tar as the unsigned package.
    assert_eq!(&signed[..4], b"\x1f\x8b\x08\x10");
    let end = 10
        + signed[10..]
            .iter()
            .position(|&b| b == 0)
            .expect("comment NUL");
    let comment = String::from_utf8(signed[10..end].to_vec()).expect("comment");
    let mut lines = comment.lines();
    assert_eq!(
        lines.next(),
        Some("untrusted comment: verify with wpam-throwaway-pkg.pub")
    );
    assert!(
        comment.contains("\nkey=wpam-throwaway-pkg.sec\n"),
        "{comment}"
    );
    assert!(comment.contains("\nalgorithm=SHA512/256\n"), "{comment}");
    assert_eq!(
        gunzip(&signed),
        gunzip(&tgz),
        "the signed package holds another tar"
    );
    let pubkey = keys.join("wpam-throwaway-pkg.pub");
    let verify = |key: &Path| {
        Command::new(signify)
            .args(["-V", "-z", "-q", "-p"])
            .arg(key)
            .arg("-x")
            .arg(&pkg)
            .args(["-m", "/dev/null"])
            .status()
            .expect("signify -Vz")
            .success()
    };
    assert!(verify(&pubkey), "signify -Vz refuses the signed package");
    // Another key of the same name is refused.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let st = Command::new(signify)
        .args(["-G", "-n", "-p"])
        .arg(other.join("wpam-throwaway-pkg.pub"))
        .arg("-s")
        .arg(other.join("wpam-throwaway-pkg.sec"))
        .status()
        .expect("signify -G");
    assert!(st.success());
    assert!(
        !verify(&other.join("wpam-throwaway-pkg.pub")),
        "another key verifies"
    );
    // Signed again: refused (the header already holds a signature).
    let again = sign(&[Path::new("--throwaway"), &dir.join("keys2"), &pkg]);
    assert!(
        !again.status.success(),
        "an already signed package was signed again"
    );
    assert_eq!(
        std::fs::read(&pkg).unwrap(),
        signed,
        "a refused run changed the package"
    );
    // SECKEY PUBKEY form: the same key and bytes give the same signed file
    // (signify -n: no time stamp); a public key not named *-pkg is refused.
    std::fs::write(&pkg, &tgz).unwrap();
    let sec = other.join("wpam-throwaway-pkg.sec");
    let opub = other.join("wpam-throwaway-pkg.pub");
    let a = sign(&[&sec, &opub, &pkg]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let first = std::fs::read(&pkg).unwrap();
    std::fs::write(&pkg, &tgz).unwrap();
    assert!(sign(&[&sec, &opub, &pkg]).status.success());
    assert_eq!(
        std::fs::read(&pkg).unwrap(),
        first,
        "signing is not deterministic"
    );
    std::fs::write(&pkg, &tgz).unwrap();
    let badname = other.join("wpam.pub");
    std::fs::copy(&opub, &badname).unwrap();
    let bad = sign(&[&sec, &badname, &pkg]);
    assert!(!bad.status.success(), "a key not named *-pkg was accepted");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not end in -pkg"));
    // A secret key that is not the public key's half fails the verification.
    let wrong = sign(&[&sec, &pubkey, &pkg]);
    assert!(
        !wrong.status.success(),
        "signed with a key PUBKEY does not verify"
    );
    assert_eq!(
        std::fs::read(&pkg).unwrap(),
        tgz,
        "a failed signing changed the package"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn packages_are_reproducible() {
    for os in ["freebsd", "netbsd", "openbsd"] {
        if os == "freebsd" && !freebsd_pkg_available() {
            continue;
        }
        let a = tmp(&format!("repro-a-{os}"));
        let b = tmp(&format!("repro-b-{os}"));
        let (pa, _) = build(os, &a);
        let (pb, _) = build(os, &b);
        assert!(pa == pb, "{os}: two builds differ");
        std::fs::remove_dir_all(a).ok();
        std::fs::remove_dir_all(b).ok();
    }
}
