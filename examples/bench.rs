//! `make bench`: what wpam costs a login, measured against the development
//! Werbot API on loopback. Prints a table and writes `target/bench.json`.
//!
//! (a) one TOTP login through libpam with the release module (fresh TLS
//!     connection per login, as in sshd), (b) interleaved with it, the same
//!     HTTPS request by a minimal rustls client (same trust: the dev CA as
//!     ca_file; a fresh connection each time), (c) dlopen + first call,
//!     (d) memory added to the loading process, (g) threads left after
//!     pam_end — (c), (d), (g) in a fresh child process — (e) the stripped
//!     module's size, (f) SSH logins per second through a real sshd at 1, 8
//!     and 32 concurrent clients (root only; skipped otherwise).
//!
//! `WPAM_BENCH_RUNS` (default 300) sets the number of runs of (a) and (b).

#[path = "../tests/support/devserver.rs"]
mod devserver;
#[path = "../tests/support/pamdrv.rs"]
mod pamdrv;
#[path = "../tests/support/sshd.rs"]
mod sshd;

use std::ffi::{c_char, c_int, c_void, CString};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devserver::{Options, ALICE_SECRET};
use pamdrv::{Answer, Pam, ServiceDir, PAM_SUCCESS};
use serde_json::{json, Value};

const ALICE: &str = "alice@example.com";
const KEY: &str = "bench-service-key";
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--probe") {
        probe(&args[2], Path::new(&args[3]), Path::new(&args[4]));
        return;
    }
    let runs: usize = std::env::var("WPAM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
        .max(200);
    let module = pamdrv::module_path();
    let load_before = uptime();
    println!("wpam bench: module {}", module.display());
    println!("load before: {load_before}");

    let work = sshd::WorkDir::new("bench");
    let api = devserver::start(Options {
        service_key: KEY.into(),
        ..Options::with_state_dir(work.0.join("api"))
    })
    .expect("start the dev API");
    let log = work.0.join("wpam.log");
    let margs = module_args(&api.server_url(), &api.ca_path(), &log);

    let (auth, txn, client, bare) = login_vs_bare(&module, &margs, &api, runs);
    let probe = run_probe(&api, &log);
    let size = module_size(&module, &work.0);
    let ssh = ssh_rates(&module, &margs);
    let load_after = uptime();

    let ratio = median(&auth) / median(&bare);
    let dl_ms = probe["dlopen_first_call_ms"].as_f64().unwrap_or(f64::NAN);
    let dl_mib = probe["rss_added_by_dlopen_kib"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / 1024.0;
    let rss_mib = probe["rss_added_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
    let hwm_mib = probe["peak_rss_added_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
    let threads = probe["threads_left"].as_i64().unwrap_or(-1);
    let mut rows: Vec<(String, String, String)> = vec![
        row_ms("(a) TOTP login via libpam: pam_authenticate", &auth, ""),
        row_ms("(a') whole transaction: pam_start..pam_end", &txn, ""),
        row_ms("(a'') its HTTPS client alone (no PAM, no log)", &client, ""),
        row_ms("(b) bare rustls HTTPS request", &bare, ""),
        (
            "(a)/(b) module overhead ratio (medians)".into(),
            format!("{ratio:.2}"),
            goal(ratio <= 1.2, "<= 1.2"),
        ),
        (
            "(c) dlopen + first call".into(),
            format!("{dl_ms:.3} ms"),
            goal(dl_ms <= 0.5, "<= 0.5 ms"),
        ),
        (
            "(d) RSS added by dlopen + first call".into(),
            format!("{dl_mib:.2} MiB"),
            String::new(),
        ),
        (
            "(d) RSS added (dlopen + one login)".into(),
            format!("{rss_mib:.2} MiB"),
            goal(rss_mib <= 2.0, "<= 2 MiB"),
        ),
        (
            "(d) peak RSS added (VmHWM)".into(),
            format!("{hwm_mib:.2} MiB"),
            goal(hwm_mib <= 2.0, "<= 2 MiB"),
        ),
        (
            "(e) stripped module size".into(),
            format!("{:.2} MiB ({} bytes)", size as f64 / MIB, size),
            goal(size as f64 <= 1.5 * MIB, "<= 1.5 MiB"),
        ),
    ];
    match &ssh {
        Some(rates) => {
            for (c, r) in rates {
                rows.push((
                    match c {
                        0 => "(f) baseline, pam_permit instead: 8 concurrent".to_string(),
                        c => format!("(f) SSH logins/s, {c} concurrent"),
                    },
                    format!("{r:.1}"),
                    String::new(),
                ));
            }
        }
        None => rows.push((
            "(f) SSH logins/s".into(),
            "skipped (needs root)".into(),
            String::new(),
        )),
    }
    rows.push((
        "(g) threads left after pam_end".into(),
        threads.to_string(),
        goal(threads == 0, "0"),
    ));

    println!();
    println!("{:<46} {:>34}  goal", "measure", "value");
    println!("{}", "-".repeat(96));
    for (name, value, g) in &rows {
        println!("{name:<46} {value:>34}  {g}");
    }
    println!("{}", "-".repeat(96));
    println!("runs: {runs}; load after: {load_after}");

    let report = json!({
        "runs": runs,
        "load_before": load_before,
        "load_after": load_after,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "a_pam_authenticate_ms": stats(&auth),
        "a_pam_transaction_ms": stats(&txn),
        "a_module_https_client_only_ms": stats(&client),
        "b_bare_https_ms": stats(&bare),
        "overhead_ratio": ratio,
        "overhead_ratio_of_minimums": percentile(&auth, 0.0) / percentile(&bare, 0.0),
        "probe": probe,
        "module_stripped_bytes": size,
        "ssh_logins_per_second": ssh.map(|r| r.into_iter().map(|(c, v)| (c.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
        "goals": {
            "overhead_ratio_max": 1.2, "dlopen_first_call_ms_max": 0.5,
            "stripped_mib_max": 1.5, "rss_added_mib_max": 2.0, "threads_left": 0
        }
    });
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&report).expect("json") + "\n",
    )
    .expect("write bench.json");
    println!("written: {}", out.display());
}

fn module_args(url: &str, ca: &Path, log: &Path) -> String {
    format!(
        "server_url={url} service_id=dev-service service_key={KEY} ca_file={} log_file={}",
        ca.display(),
        log.display()
    )
}

fn goal(met: bool, text: &str) -> String {
    format!("{text} {}", if met { "(met)" } else { "(NOT met)" })
}

fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| std::fs::read_to_string("/proc/loadavg").unwrap_or_default())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(v: &[f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    s[i]
}

fn stats(v: &[f64]) -> Value {
    json!({"median": median(v), "p99": percentile(v, 0.99), "min": percentile(v, 0.0), "n": v.len()})
}

fn row_ms(name: &str, v: &[f64], g: &str) -> (String, String, String) {
    (
        name.into(),
        format!(
            "median {:.2} ms, p99 {:.2} ms",
            median(v),
            percentile(v, 0.99)
        ),
        g.into(),
    )
}

/// (a), the module's HTTPS client alone and (b), interleaved so that all
/// see the same machine load.
fn login_vs_bare(
    module: &Path,
    margs: &str,
    api: &devserver::Running,
    runs: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    use pam_wpam::client::Transport;
    let dir = ServiceDir::wpam("bench", module, margs);
    let bare = BareClient::new(api.addr(), &api.ca_path());
    let args: Vec<&str> = margs.split_whitespace().collect();
    let config = pam_wpam::config::parse(&args)
        .config
        .expect("module config");
    let https = pam_wpam::client::Https { config: &config };
    let (mut auth, mut txn, mut client, mut raw) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs + 10 {
        let code = devserver::totp_now(ALICE_SECRET);
        let t0 = Instant::now();
        let mut pam = Pam::start(
            &dir,
            "alice",
            Some("127.0.0.1"),
            vec![Answer::text(ALICE), Answer::text(&code)],
        );
        let t1 = Instant::now();
        let rc = pam.authenticate(0);
        let t2 = Instant::now();
        assert_eq!(rc, PAM_SUCCESS, "login {i}: {}", pamdrv::strerror(rc));
        assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
        drop(pam);
        let t3 = Instant::now();
        let c0 = Instant::now();
        let answer = https.post(
            &config.server,
            bare.body(&code).as_bytes(),
            Duration::from_secs(10),
        );
        let c1 = Instant::now();
        assert!(
            matches!(answer, Ok(ref a) if a.status == 200),
            "client {i}: {answer:?}"
        );
        let b0 = Instant::now();
        let status = bare.post(&code);
        let b1 = Instant::now();
        assert_eq!(status, "success", "bare request {i}");
        if i >= 10 {
            // The first ten warm caches (page cache, allocator, dev server).
            auth.push(ms(t2 - t1));
            txn.push(ms(t3 - t0));
            client.push(ms(c1 - c0));
            raw.push(ms(b1 - b0));
        }
    }
    api.clear_requests();
    (auth, txn, client, raw)
}

/// The bare cost of the module's one HTTPS call: same request, same trust
/// (the module verifies against ca_file first), a fresh TCP + TLS connection
/// each time; the client config built once.
struct BareClient {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

impl BareClient {
    fn new(addr: SocketAddr, ca: &Path) -> BareClient {
        let pem = std::fs::read(ca).expect("read CA");
        let mut config = (*devserver::client_config(&pem).expect("client config")).clone();
        // A full handshake every time, as the module does (it keeps nothing
        // between logins): no TLS session resumption.
        config.resumption = rustls::client::Resumption::disabled();
        BareClient {
            addr,
            config: Arc::new(config),
        }
    }

    /// The module's request body.
    fn body(&self, code: &str) -> String {
        json!({"serviceID":"dev-service","serviceKey":KEY,"user":"alice",
            "tfaMethod":"totp","totpCode":code,"userIP":"127.0.0.1","wID":ALICE})
        .to_string()
    }

    /// Returns the answer's `status` field.
    fn post(&self, code: &str) -> String {
        let body = self.body(code);
        let host = self.addr.ip().to_string();
        let name = rustls::pki_types::ServerName::try_from(host.clone()).expect("name");
        let conn = rustls::ClientConnection::new(Arc::clone(&self.config), name).expect("tls");
        let tcp = TcpStream::connect(self.addr).expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let head = format!(
            "POST /auth/agent/nix HTTP/1.1\r\nHost: {}\r\nUser-Agent: bench\r\n\
             Accept: application/json\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        tls.write_all(head.as_bytes()).expect("write");
        tls.write_all(body.as_bytes()).expect("write");
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        let at = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of head");
        let v: Value = serde_json::from_slice(&raw[at + 4..]).expect("JSON answer");
        v["status"].as_str().unwrap_or_default().to_string()
    }
}

/// (c), (d), (g) in a fresh process, so that nothing of the module is
/// loaded or cached before.
fn run_probe(api: &devserver::Running, log: &Path) -> Value {
    let out = Command::new(std::env::current_exe().expect("exe"))
        .arg("--probe")
        .arg(api.server_url())
        .arg(api.ca_path())
        .arg(log)
        .output()
        .expect("run the probe");
    assert!(
        out.status.success(),
        "probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("probe JSON")
}

/// Fields of /proc/self/status in kB (VmRSS, VmHWM) or counts (Threads).
fn status(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1)
}

extern "C" {
    fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
    fn dlclose(handle: *mut c_void) -> c_int;
}

type SmFn = unsafe extern "C" fn(*mut c_void, c_int, c_int, *const *const c_char) -> c_int;

fn probe(url: &str, ca: &Path, log: &Path) {
    let module = pamdrv::module_path();
    // Warm libpam itself first (a pam_permit transaction), so that what is
    // measured below is the module's share.
    let permit = ServiceDir::new("probe-permit", &["auth required pam_permit.so".into()]);
    let warm = pamdrv::login(&permit, "alice", Some("127.0.0.1"), Vec::new(), 0);
    assert_eq!(warm.auth, PAM_SUCCESS, "pam_permit");
    let rss0 = status("VmRSS");
    let threads0 = status("Threads");
    let path = CString::new(module.to_str().expect("utf8")).expect("path");
    let sym = CString::new("pam_sm_setcred").expect("sym");
    let t0 = Instant::now();
    // SAFETY: loading our own module; RTLD_NOW as libpam does.
    let handle = unsafe { dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen failed");
    // SAFETY: the symbol is pam_sm_setcred, which touches none of its arguments.
    let rc = unsafe {
        let f: SmFn = std::mem::transmute(dlsym(handle, sym.as_ptr()));
        f(std::ptr::null_mut(), 0, 0, std::ptr::null())
    };
    let first_call = t0.elapsed();
    assert_eq!(rc, PAM_SUCCESS);
    let rss_loaded = status("VmRSS");

    // One whole login through libpam (which dlopens the same, already
    // loaded, object).
    let dir = ServiceDir::wpam("probe", &module, &module_args(url, ca, log));
    let code = devserver::totp_now(ALICE_SECRET);
    let login = pamdrv::login(
        &dir,
        "alice",
        Some("127.0.0.1"),
        vec![Answer::text(ALICE), Answer::text(&code)],
        0,
    );
    assert_eq!(login.auth, PAM_SUCCESS, "{login:?}");
    // pam_end has run: count what the module left running.
    std::thread::sleep(Duration::from_millis(100));
    let threads = status("Threads");
    let rss1 = status("VmRSS");
    let hwm = status("VmHWM");
    let fds_open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    // SAFETY: our handle from above.
    unsafe { dlclose(handle) };
    let still_mapped = std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .contains("libpam_wpam");
    let v = json!({
        "dlopen_first_call_ms": ms(first_call),
        "rss_before_kib": rss0,
        "rss_after_dlopen_kib": rss_loaded,
        "rss_after_login_kib": rss1,
        "rss_added_by_dlopen_kib": rss_loaded - rss0,
        "rss_added_kib": rss1 - rss0,
        "peak_rss_added_kib": hwm - rss0,
        "threads_before": threads0,
        "threads_left": threads - threads0,
        "fds_after_login": fds_open,
        "module_mapped_after_dlclose": still_mapped,
    });
    println!("{v}");
}

/// (e): the size after `strip --strip-all` (the release profile already strips).
fn module_size(module: &Path, dir: &Path) -> u64 {
    let copy = dir.join("pam_wpam.so");
    std::fs::copy(module, &copy).expect("copy module");
    let _ = Command::new("strip").arg("--strip-all").arg(&copy).status();
    std::fs::metadata(&copy).expect("stat").len()
}

/// (f): SSH logins per second through a real sshd (TOTP, wpam alone in the
/// auth stack), or None when not root.
fn ssh_rates(module: &Path, margs: &str) -> Option<Vec<(usize, f64)>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let work = sshd::WorkDir::new("bench-ssh");
    let user = sshd::TestUser::create();
    let wpam = sshd::documented_stack(module, margs);
    let server = sshd::Sshd::start(&work.0, &wpam, &[]);
    let mut out = Vec::new();
    // (clients, logins); clients 0 = the baseline: 8 clients, pam_permit
    // instead of wpam (sshd and ssh alone), so the module's share shows.
    for (label, total) in [(1usize, 30usize), (8, 64), (32, 128), (0, 64)] {
        let clients = if label == 0 { 8 } else { label };
        if label == 0 {
            let permit = sshd::documented_stack(Path::new("pam_permit.so"), "");
            server.pam.set(&permit);
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..clients {
                s.spawn(|| {
                    while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < total {
                        let code = devserver::totp_now(ALICE_SECRET);
                        let o = server.ssh(&sshd::Login::kbdint(
                            &user.name,
                            ALICE.as_bytes(),
                            code.as_bytes(),
                        ));
                        assert!(o.logged_in(), "{o:?}");
                    }
                });
            }
        });
        out.push((label, total as f64 / t0.elapsed().as_secs_f64()));
        server.wait_idle(Duration::from_secs(15));
    }
    Some(out)
}
