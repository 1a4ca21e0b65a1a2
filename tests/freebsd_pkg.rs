//! FreeBSD's own `pkg` (2.8.4, built for this Linux host by
//! packaging/freebsd/pkg-tool.sh) over our .pkg and over the release's repository
//! (ci/release/freebsd-repo.sh), as a FreeBSD host would use them:
//!
//! - `pkg info -F` prints the package's manifest as pkg reads it, and that
//!   manifest is the one inside the package (packaging/freebsd/build.sh, through
//!   `pkg create`), key by key;
//! - `pkg -r ROOT add` of the bare file, `pkg info -l`, `pkg check -s`,
//!   `pkg delete`: the module lands where FreeBSD's OpenPAM looks
//!   (/usr/local/lib/pam_wpam.so), the log file gets 0640, the config comes
//!   from its sample (@sample) 0600 and leaves with it while unchanged, and
//!   this host's own /var/log and /usr/local are not touched (with -r, pkg
//!   runs the package's scripts on this host with PKG_ROOTDIR=ROOT);
//! - `pkg install wpam` from the signed repository over HTTP on loopback,
//!   for FreeBSD 14 and 15 (amd64), with the repository configuration
//!   the release publishes; a repository signed by another key, an unsigned
//!   one and a package changed after signing are refused.
//!
//! pkg is built once (about 80 s on 2 cores) into build/freebsd-pkg-2.8.4
//! and reused. When it cannot be built the tests skip with a note, except
//! under CI=true, where they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[path = "support/deadline.rs"]
mod deadline;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EPOCH: &str = "1700000000";
/// Building pkg (first run only; packaging/freebsd/pkg-tool.sh bounds its own steps).
const BUILD_LIMIT: Duration = Duration::from_secs(1080);
/// One pkg command, a package hook, openssl.
const STEP_LIMIT: Duration = Duration::from_secs(180);
/// Longest the loopback HTTP server lives, whatever the test does.
const SERVER_LIFETIME: Duration = Duration::from_secs(900);
/// The ABIs the release publishes a repository for, with an OSVERSION each.
const ABIS: &[(&str, &str)] = &[
    ("FreeBSD:14:amd64", "1402000"),
    ("FreeBSD:15:amd64", "1500000"),
];
const PAGES_URL: &str = "https://werbot.github.io/wpam";
/// The libraries of FreeBSD 14's and 15's base system that the module and
/// the command link (their shlibs_required, when built from dist/).
const BASE_SHLIBS: &[&str] = &["/lib/libc.so.7", "/lib/libthr.so.3", "/usr/lib/libpam.so.6"];

// --- helpers -----------------------------------------------------------------

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wpam-fpkg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command to its end (bounded); returns its output, whatever the status.
fn run(cmd: &mut Command, what: &str, limit: Duration) -> Output {
    deadline::output(cmd, limit, what).unwrap_or_else(|e| panic!("{what}: cannot start: {e}"))
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = run(cmd, what, STEP_LIMIT);
    assert!(
        out.status.success(),
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The real pkg, built when missing; None (after a note) when it cannot be
/// built outside CI.
fn pkg_binary() -> Option<PathBuf> {
    let out = run(
        &mut Command::new(format!("{ROOT}/packaging/freebsd/pkg-tool.sh")),
        "packaging/freebsd/pkg-tool.sh",
        BUILD_LIMIT,
    );
    if out.status.success() {
        return Some(PathBuf::from(text(&out.stdout).trim()));
    }
    let why = format!(
        "packaging/freebsd/pkg-tool.sh could not build FreeBSD's pkg ({}):\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("SKIPPED (CI=true would fail): {why}");
    None
}

/// Our .pkg, made by the build-all.sh hook in `dir`: the FreeBSD module
/// from dist/ when built, else placeholder bytes (pkg does not load it).
fn build_package(dir: &Path) -> PathBuf {
    let art = dir.join("freebsd-amd64");
    std::fs::create_dir_all(&art).expect("artifact dir");
    let module =
        std::fs::read(format!("{ROOT}/dist/freebsd-amd64/pam_wpam.so")).unwrap_or_else(|_| {
            // ci/test/bsd.sh sets it under CI=true: the real object only.
            assert!(
                std::env::var("WPAM_REQUIRE_DIST").as_deref() != Ok("1"),
                "no dist/freebsd-amd64/pam_wpam.so, and WPAM_REQUIRE_DIST=1"
            );
            b"\x7fELF placeholder for pam_wpam.so\n".to_vec()
        });
    std::fs::write(art.join("pam_wpam.so"), module).expect("artifact");
    // The wpam command, in every package since it exists.
    let command = std::fs::read(format!("{ROOT}/dist/freebsd-amd64/wpam")).unwrap_or_else(|_| {
        assert!(
            std::env::var("WPAM_REQUIRE_DIST").as_deref() != Ok("1"),
            "no dist/freebsd-amd64/wpam, and WPAM_REQUIRE_DIST=1"
        );
        b"\x7fELF placeholder for wpam\n".to_vec()
    });
    std::fs::write(art.join("wpam"), command).expect("artifact");
    let out = run_ok(
        Command::new(format!("{ROOT}/packaging/freebsd/build.sh"))
            .arg(&art)
            .arg(dir)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env("VERSION", VERSION),
        "packaging/freebsd/build.sh",
    );
    PathBuf::from(out.trim())
}

/// pkg, a temporary directory and our package in it; None when pkg cannot
/// be built (outside CI).
fn prepare(tag: &str) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let bin = pkg_binary()?;
    let dir = tmp(tag);
    let pkgfile = build_package(&dir);
    Some((bin, dir, pkgfile))
}

/// The +MANIFEST pkg create wrote into the package.
fn our_manifest(pkgfile: &Path) -> serde_json::Value {
    let xz = std::fs::read(pkgfile).expect("read package");
    let mut tar_bytes = Vec::new();
    lzma_rs::xz_decompress(&mut &xz[..], &mut tar_bytes).expect("xz");
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for e in archive.entries().expect("tar") {
        let mut e = e.expect("entry");
        if e.path().expect("path").to_str() == Some("+MANIFEST") {
            let mut s = String::new();
            e.read_to_string(&mut s).expect("+MANIFEST");
            return serde_json::from_str(&s).expect("+MANIFEST JSON");
        }
    }
    panic!("no +MANIFEST in {}", pkgfile.display());
}

/// pkg with nothing from this host's configuration: no pkg.conf, only the
/// repositories in `repos`, the ABI of a FreeBSD host, installing into `root`.
struct Pkg {
    bin: PathBuf,
    root: PathBuf,
    repos: PathBuf,
    abi: &'static str,
    osversion: &'static str,
}

impl Pkg {
    fn new(bin: &Path, root: &Path) -> Pkg {
        // A FreeBSD root has /var/log, and base's libraries: pkg add looks
        // for the package's shlibs_required (pkg create reads them from the
        // module's and the command's DT_NEEDED) by file name in ROOT/lib and
        // ROOT/usr/lib (libpkg pkgbase.c scan_system_shlibs). pkg makes the rest.
        std::fs::create_dir_all(root.join("var/log")).expect("root");
        for lib in BASE_SHLIBS {
            let p = root.join(lib.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().expect("dir")).expect("lib dir");
            std::fs::write(p, b"").expect("base shlib");
        }
        Pkg {
            bin: bin.to_path_buf(),
            root: root.to_path_buf(),
            repos: PathBuf::from("/nonexistent"),
            abi: "FreeBSD:14:amd64",
            osversion: "1402000",
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .arg("-C")
            .arg("/dev/null")
            .arg("-R")
            .arg(&self.repos)
            .args(["-o", &format!("ABI={}", self.abi)])
            .args(["-o", &format!("OSVERSION={}", self.osversion)])
            .arg("-r")
            .arg(&self.root)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = run(&mut self.cmd(args), &format!("pkg {args:?}"), STEP_LIMIT);
        eprintln!(
            "$ pkg -r {} {} ({})\n{}{}",
            self.root.display(),
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "pkg {args:?} failed: {}", out.status);
        text(&out.stdout)
    }

    fn at(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// What a script that ignored PKG_ROOTDIR would have changed on this host.
const HOST_PATHS: &[&str] = &[
    "/var/log/wpam.log",
    "/usr/local/lib/pam_wpam.so",
    "/usr/local/etc/wpam.conf",
    "/usr/local/etc/wpam.conf.sample",
];

fn host_state() -> Vec<String> {
    HOST_PATHS
        .iter()
        .map(|p| match std::fs::symlink_metadata(p) {
            Ok(m) => format!(
                "{p}: ino {} mode {:o} size {} mtime {}.{}",
                m.ino(),
                m.mode(),
                m.size(),
                m.mtime(),
                m.mtime_nsec()
            ),
            Err(_) => format!("{p}: absent"),
        })
        .collect()
}

/// Checks the installed package in `p.root`: the files of pkg-plist where
/// FreeBSD looks for them, modes, the log file and the config from its sample.
fn check_installed(p: &Pkg) {
    let module = p.at("/usr/local/lib/pam_wpam.so");
    assert!(
        module.is_file(),
        "OpenPAM looks for /usr/local/lib/pam_wpam.so"
    );
    assert_eq!(
        mode_of(&module) & 0o022,
        0,
        "module writable by group/other"
    );
    let log = p.at("/var/log/wpam.log");
    assert_eq!(mode_of(&log), 0o640, "{}", log.display());
    let meta = std::fs::metadata(&log).expect("log");
    if nix_root() {
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "log owner");
    }
    let conf = p.at("/usr/local/etc/wpam.conf");
    let sample = p.at("/usr/local/etc/wpam.conf.sample");
    assert_eq!(mode_of(&sample), 0o600, "sample mode (pkg-plist @sample)");
    assert_eq!(
        mode_of(&conf),
        0o600,
        "config copied from the sample keeps 0600"
    );
    assert_eq!(
        std::fs::read(&conf).expect("conf"),
        std::fs::read(&sample).expect("sample")
    );
    let listed: BTreeSet<String> = p
        .ok(&["info", "-q", "-l", "wpam"])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| l.starts_with('/'))
        .collect();
    let want: BTreeSet<String> = [
        "/usr/local/bin/wpam",
        "/usr/local/lib/pam_wpam.so",
        "/usr/local/share/man/man8/pam_wpam.8.gz",
        "/usr/local/share/man/man8/wpam.8.gz",
        "/usr/local/etc/wpam.conf.sample",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(listed, want, "pkg info -l");
    p.ok(&["check", "-s", "wpam"]);
}

fn nix_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

// --- a static HTTP server on loopback, stopped on drop -------------------------

struct Http {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Http {
    fn serve(dir: &Path) -> Http {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(Vec::new()));
        let (dir, s, log) = (dir.to_path_buf(), Arc::clone(&stop), Arc::clone(&served));
        let thread = thread::spawn(move || {
            let end = Instant::now() + SERVER_LIFETIME;
            while !s.load(Ordering::SeqCst) && Instant::now() < end {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(line) = answer(conn, &dir) {
                            log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Http {
            addr,
            stop,
            served,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn served(&self) -> Vec<String> {
        self.served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            deadline::join(t, Duration::from_secs(30), "loopback HTTP server");
        }
    }
}

/// One request (GET or HEAD of a file under `dir`), one answer, then close.
/// Returns "<status> <path>".
fn answer(mut conn: TcpStream, dir: &Path) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    conn.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut req = Vec::new();
    let mut buf = [0u8; 2048];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65536 {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let head = text(&req);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    let path = target.split('?').next().unwrap_or_default();
    let file = dir.join(path.trim_start_matches('/'));
    let body = if path.split('/').any(|c| c == "..") {
        None
    } else {
        std::fs::read(&file).ok()
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", Vec::new()),
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        reply.extend_from_slice(&body);
    }
    conn.write_all(&reply).ok()?;
    Some(format!("{} {path}", &status[..3]))
}

/// GET url over HTTP/1.0 (our own server's files): the body.
fn http_get(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut c = TcpStream::connect(host).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(c, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("request");
    let got = deadline::read_to_end(
        &mut c,
        Instant::now() + Duration::from_secs(30),
        &format!("GET {url}"),
    );
    let split = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "GET {url}: {}",
        text(&got[..split])
    );
    got[split + 4..].to_vec()
}

/// The release's repositories (ci/release/freebsd-repo.sh) of `pkgfile` under `site`,
/// signed with `key`; returns the ABIs it printed.
fn make_repo(pkgfile: &Path, site: &Path, key: &Path) -> String {
    run_ok(
        Command::new(format!("{ROOT}/ci/release/freebsd-repo.sh"))
            .arg(pkgfile)
            .arg(site)
            .arg(key)
            .arg(PAGES_URL)
            .env("SOURCE_DATE_EPOCH", EPOCH),
        "ci/release/freebsd-repo.sh",
    )
}

fn openssl_key(path: &Path) {
    run_ok(
        Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(path)
            .arg("2048"),
        "openssl genrsa",
    );
}

// --- tests -----------------------------------------------------------------------

#[test]
fn pkg_reads_our_package_as_it_was_made() {
    let Some((bin, dir, pkgfile)) = prepare("info") else {
        return;
    };
    let p = Pkg::new(&bin, &dir.join("root"));

    // The manifest as pkg shows it to a person ...
    let shown = p.ok(&["info", "-F", pkgfile.to_str().expect("path")]);
    eprintln!("pkg info -F {}:\n{shown}", pkgfile.display());
    for line in [
        format!("wpam-{VERSION}"),
        "Name           : wpam".to_string(),
        format!("Version        : {VERSION}"),
        "Origin         : security/wpam".to_string(),
        "Architecture   : FreeBSD:1[45]:amd64".to_string(),
        "Prefix         : /usr/local".to_string(),
        "Licenses       : MIT".to_string(),
    ] {
        assert!(
            shown.lines().any(|l| l.trim_end() == line),
            "pkg info -F lacks {line:?}"
        );
    }

    // ... and as pkg parsed it, against the +MANIFEST in the package.
    let raw = p.ok(&[
        "info",
        "-R",
        "--raw-format",
        "json",
        "-F",
        pkgfile.to_str().expect("path"),
    ]);
    let theirs: serde_json::Value = serde_json::from_str(&raw).expect("pkg info -R JSON");
    let ours = our_manifest(&pkgfile);
    let ours = ours.as_object().expect("manifest object");
    // pkg trims the ends of the strings it emits.
    let trimmed = |v: &serde_json::Value| -> serde_json::Value {
        match v {
            serde_json::Value::String(s) => serde_json::Value::String(s.trim().to_string()),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| serde_json::Value::String(x.as_str().expect("string").trim().to_string()))
                .collect(),
            other => other.clone(),
        }
    };
    for (key, want) in ours {
        let got = &theirs[key.as_str()];
        match key.as_str() {
            "files" => {
                let want = want.as_object().expect("files");
                let got = got.as_object().expect("pkg's files");
                assert_eq!(
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>(),
                    "files"
                );
                for (f, attrs) in want {
                    for key in ["sum", "uname", "gname", "perm"] {
                        assert_eq!(&got[f][key], &attrs[key], "{key} of {f}");
                    }
                }
            }
            "scripts" | "lua_scripts" => {
                let want = want.as_object().expect("scripts");
                assert_eq!(
                    got.as_object().map(|o| o.keys().collect::<Vec<_>>()),
                    Some(want.keys().collect::<Vec<_>>()),
                    "{key}"
                );
                for (k, v) in want {
                    assert_eq!(trimmed(&got[k]), trimmed(v), "{key}.{k}");
                }
            }
            "messages" => {
                let want: Vec<_> = want
                    .as_array()
                    .expect("messages")
                    .iter()
                    .map(|m| trimmed(&m["message"]))
                    .collect();
                let got: Vec<_> = got
                    .as_array()
                    .expect("pkg's messages")
                    .iter()
                    .map(|m| trimmed(&m["message"]))
                    .collect();
                assert_eq!(got, want, "messages");
            }
            // Empty in ours; pkg leaves empty maps out.
            "deps" | "annotations" => {
                assert_eq!(want.as_object().map(|o| o.len()), Some(0), "{key}");
                assert!(
                    got.is_null() || got.as_object().is_some_and(|o| o.is_empty()),
                    "{key}: {got}"
                );
            }
            _ => assert_eq!(trimmed(got), trimmed(want), "{key}"),
        }
    }
    // Nothing of pkg's view is missing from ours either.
    let extra: Vec<_> = theirs
        .as_object()
        .expect("pkg's manifest")
        .keys()
        .filter(|k| !ours.contains_key(k.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "pkg reads keys the package's +MANIFEST lacks: {extra:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn pkg_add_into_a_scratch_root_then_check_and_delete() {
    let Some((bin, dir, pkgfile)) = prepare("add") else {
        return;
    };
    let file = pkgfile.to_str().expect("path");
    let p = Pkg::new(&bin, &dir.join("root"));
    let host_before = host_state();

    // The package names the supported majors it was tested on: pkg on a
    // future one refuses it (the ABI FreeBSD:*:amd64 once let it in), and so
    // does pkg on 13, out of support since 2026-04-30 (FreeBSD:1[3-5] let it in).
    for (abi, osversion) in [
        ("FreeBSD:16:amd64", "1600000"),
        ("FreeBSD:13:amd64", "1305000"),
    ] {
        let mut other = Pkg::new(&bin, &dir.join(format!("root-{}", &abi[8..10])));
        other.abi = abi;
        other.osversion = osversion;
        let refused = other.run(&["add", file]);
        assert!(
            !refused.status.success(),
            "pkg add on {abi} accepted the package"
        );
        assert!(!other.at("/usr/local/lib/pam_wpam.so").exists());
    }

    let out = p.ok(&["add", file]);
    assert_eq!(
        host_state(),
        host_before,
        "pkg -r ROOT add changed this host: a script ignored PKG_ROOTDIR"
    );
    assert!(
        out.contains("auth required pam_wpam.so"),
        "the message is shown"
    );
    check_installed(&p);
    assert_eq!(
        p.ok(&["query", "%n %v", "wpam"]).trim(),
        format!("wpam {VERSION}")
    );

    // pkg check -s notices a changed file.
    let man = p.at("/usr/local/share/man/man8/pam_wpam.8.gz");
    let original = std::fs::read(&man).expect("man page");
    std::fs::write(&man, b"changed").expect("change");
    let out = p.run(&["check", "-s", "wpam"]);
    assert!(!out.status.success(), "pkg check -s passed a changed file");
    assert!(
        text(&out.stderr).contains("checksum mismatch for /usr/local/share/man/man8/pam_wpam.8.gz")
    );
    std::fs::write(&man, original).expect("restore");
    p.ok(&["check", "-s", "wpam"]);

    // A config the admin changed stays; the package's files go.
    let conf = p.at("/usr/local/etc/wpam.conf");
    let mut edited = std::fs::read(&conf).expect("conf");
    edited.extend_from_slice(b"service_id=web-01\n");
    std::fs::write(&conf, &edited).expect("edit conf");
    let out = p.run(&["delete", "-y", "wpam"]);
    assert!(out.status.success(), "pkg delete");
    assert!(text(&out.stdout)
        .contains("/usr/local/etc/wpam.conf differs from /usr/local/etc/wpam.conf.sample: kept"));
    assert_eq!(std::fs::read(&conf).expect("kept conf"), edited);
    for f in [
        "/usr/local/lib/pam_wpam.so",
        "/usr/local/share/man/man8/pam_wpam.8.gz",
        "/usr/local/etc/wpam.conf.sample",
    ] {
        assert!(!p.at(f).exists(), "{f} left behind");
    }
    assert!(
        p.at("/var/log/wpam.log").is_file(),
        "the log is the admin's"
    );

    // Again, over a log file with a wrong mode and with the config unchanged.
    std::fs::remove_file(&conf).expect("rm conf");
    std::fs::set_permissions(
        p.at("/var/log/wpam.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    p.ok(&["add", file]);
    check_installed(&p);
    p.ok(&["delete", "-y", "wpam"]);
    assert!(
        !conf.exists(),
        "an unchanged config leaves with the package"
    );
    assert_eq!(
        p.ok(&["query", "-a", "%n"]).trim(),
        "",
        "nothing left installed"
    );

    assert_eq!(host_state(), host_before, "pkg -r changed this host");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn pkg_install_from_the_signed_repository() {
    let Some((bin, dir, pkgfile)) = prepare("repo") else {
        return;
    };
    let site = dir.join("site");
    let key = dir.join("repo-key.pem");
    openssl_key(&key);
    let made = make_repo(&pkgfile, &site, &key);
    let want: Vec<&str> = ABIS.iter().map(|(abi, _)| *abi).collect();
    assert_eq!(
        made.lines().collect::<Vec<_>>(),
        want,
        "the repositories made"
    );

    // Broken copies: unsigned, and a package changed after signing.
    let base = site.join("freebsd");
    for (variant, sign) in [("unsigned", false), ("tampered", true)] {
        let d = base.join(variant).join("14/amd64");
        std::fs::create_dir_all(d.join("All")).expect("variant dir");
        std::fs::copy(
            &pkgfile,
            d.join("All").join(pkgfile.file_name().expect("name")),
        )
        .expect("copy");
        let mut c = Command::new(&bin);
        c.args(["-C", "/dev/null", "-R", "/nonexistent", "repo", "-q"])
            .arg(&d);
        if sign {
            c.arg(&key);
        }
        run_ok(&mut c, "pkg repo (variant)");
    }
    let tampered = base
        .join("tampered/14/amd64/All")
        .join(pkgfile.file_name().expect("name"));
    let mut bytes = std::fs::read(&tampered).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&tampered, bytes).expect("tamper");

    let server = Http::serve(&site);
    // docs/packaging.md's FreeBSD steps, against this server: the key and the repository
    // configuration, fetched; only the address (and where the key is kept
    // on this host) differ from what a FreeBSD host writes.
    let etc = dir.join("etc");
    let repos = etc.join("repos");
    std::fs::create_dir_all(&repos).expect("etc");
    let pubkey = etc.join("wpam.pub");
    std::fs::write(
        &pubkey,
        http_get(&format!("{}/freebsd/wpam.pub", server.url())),
    )
    .expect("key");
    let conf = text(&http_get(&format!("{}/freebsd/wpam.conf", server.url())));
    assert!(
        conf.contains(&format!(
            "url: \"{PAGES_URL}/freebsd/${{VERSION_MAJOR}}/${{ARCH}}\""
        )),
        "{conf}"
    );
    assert!(conf.contains("signature_type: \"pubkey\""), "{conf}");
    assert!(
        conf.contains("pubkey: \"/usr/local/etc/pkg/keys/wpam.pub\""),
        "{conf}"
    );
    let local = |url_tail: &str, key: &Path| {
        conf.replace(PAGES_URL, &server.url())
            .replace(
                "/freebsd/${VERSION_MAJOR}",
                &format!("/freebsd{url_tail}/${{VERSION_MAJOR}}"),
            )
            .replace(
                "/usr/local/etc/pkg/keys/wpam.pub",
                key.to_str().expect("key path"),
            )
    };
    std::fs::write(repos.join("wpam.conf"), local("", &pubkey)).expect("conf");

    let host_before = host_state();
    for (i, (abi, osversion)) in ABIS.iter().enumerate() {
        let mut p = Pkg::new(&bin, &dir.join(format!("root-{i}")));
        p.repos = repos.clone();
        p.abi = abi;
        p.osversion = osversion;
        p.ok(&["install", "-y", "wpam"]);
        assert_eq!(
            p.ok(&["query", "%n %v %R", "wpam"]).trim(),
            format!("wpam {VERSION} wpam"),
            "{abi}: installed from the wpam repository"
        );
        check_installed(&p);
        p.ok(&["delete", "-y", "wpam"]);
        assert!(!p.at("/usr/local/lib/pam_wpam.so").exists());
    }
    let served = server.served();
    for want in [
        "200 /freebsd/14/amd64/meta.conf",
        "200 /freebsd/14/amd64/data.pkg",
    ] {
        assert!(
            served.iter().any(|s| s == want),
            "not served: {want}: {served:?}"
        );
    }
    assert!(
        served
            .iter()
            .any(|s| s.starts_with("200 /freebsd/15/amd64/All/wpam-")),
        "{served:?}"
    );

    // Refused: another key, no signature, a package changed after signing.
    let other = dir.join("other-key.pem");
    openssl_key(&other);
    let other_pub = etc.join("other.pub");
    run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&other)
            .arg("-out")
            .arg(&other_pub),
        "openssl pkey -pubout",
    );
    for (case, conf_text, says) in [
        (
            "another key",
            local("", &other_pub),
            "Invalid signature, removing repository",
        ),
        (
            "unsigned",
            local("/unsigned", &pubkey),
            "Invalid signature, removing repository",
        ),
        (
            "changed package",
            local("/tampered", &pubkey),
            "failed checksum from repository",
        ),
    ] {
        let d = dir.join(format!("refused-{}", case.replace(' ', "-")));
        let rdir = d.join("repos");
        std::fs::create_dir_all(&rdir).expect("repos");
        std::fs::write(rdir.join("wpam.conf"), conf_text).expect("conf");
        let mut p = Pkg::new(&bin, &d.join("root"));
        p.repos = rdir;
        let out = p.run(&["install", "-y", "wpam"]);
        assert!(!out.status.success(), "{case}: pkg install succeeded");
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(said.contains(says), "{case}: pkg did not say {says:?}");
        assert!(
            !p.at("/usr/local/lib/pam_wpam.so").exists(),
            "{case}: installed anyway"
        );
    }
    drop(server);
    assert_eq!(host_state(), host_before, "pkg -r changed this host");
    std::fs::remove_dir_all(dir).ok();
}

/// Two runs of ci/release/freebsd-repo.sh over the same package and key write the
/// same bytes (SOURCE_DATE_EPOCH; RSA PKCS#1 v1.5 signatures are
/// deterministic), so a release can be rebuilt and compared.
#[test]
fn the_repository_is_reproducible() {
    let Some((_, dir, pkgfile)) = prepare("repro") else {
        return;
    };
    let key = dir.join("repo-key.pem");
    openssl_key(&key);
    let mut trees = Vec::new();
    for n in ["a", "b"] {
        let site = dir.join(n);
        make_repo(&pkgfile, &site, &key);
        let mut files = BTreeMap::new();
        let mut stack = vec![site.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir") {
                let path = e.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&site).expect("rel").to_path_buf();
                    files.insert(rel, std::fs::read(&path).expect("read"));
                }
            }
        }
        trees.push(files);
    }
    assert_eq!(
        trees[0].keys().collect::<Vec<_>>(),
        trees[1].keys().collect::<Vec<_>>()
    );
    for (path, a) in &trees[0] {
        assert!(
            *a == trees[1][path],
            "{} differs between two runs",
            path.display()
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
