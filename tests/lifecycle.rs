//! What the module leaves in its host process: nothing. A test binary of its
//! own, with one test, so that thread and descriptor counts are not disturbed
//! by other tests running in parallel.

#[path = "support/devserver.rs"]
mod devserver;
#[path = "support/pamdrv.rs"]
mod pamdrv;

use std::ffi::CString;
use std::time::Duration;

use devserver::{Options, ALICE_SECRET};
use pamdrv::{Answer, ServiceDir, PAM_AUTH_ERR, PAM_SUCCESS};

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Threads:")
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn mapped(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .contains(name)
}

#[test]
fn module_loads_twice_and_leaves_no_thread_descriptor_or_mapping() {
    let server = devserver::start(Options::default()).expect("dev server");
    let dir = devserver::fresh_temp_dir("wpam-life").expect("tmp");
    let ca = dir.join("ca.pem");
    std::fs::copy(server.ca_path(), &ca).expect("ca");
    let args = format!(
        "server_url={} service_id=dev-service service_key=dev-key-not-secret ca_file={} log_file={} \
         remember_dir={}",
        server.server_url(),
        ca.display(),
        dir.join("wpam.log").display(),
        dir.join("state").display()
    );
    let module = pamdrv::module_path();
    let service = ServiceDir::wpam("life", &module, &args);
    let login = |code: String| {
        let answers = vec![Answer::text("alice@example.com"), Answer::text(code)];
        pamdrv::login(&service, "alice", Some("192.0.2.1"), answers, 0).auth
    };

    // The server's own threads are running; measure around the module only.
    std::thread::sleep(Duration::from_millis(300));
    // The password database is the C library's, not the module's: the NSS
    // source may keep its file open after the first lookup (nss_wrapper
    // does, as glibc's files source may). Look alice up once first, so that
    // descriptor is in the baseline.
    let name = CString::new("alice").expect("name");
    // SAFETY: getpwnam with a valid C string; the result is not kept.
    assert!(
        !unsafe { libc::getpwnam(name.as_ptr()) }.is_null(),
        "alice is no user here"
    );
    let (fd0, th0) = (fds(), threads());
    assert!(
        !mapped("libpam_wpam.so"),
        "module mapped before any PAM call"
    );

    // dlopen the module twice by hand while PAM also loads it: reference
    // counts, no constructor side effects.
    let path = CString::new(module.to_str().expect("utf8")).expect("path");
    // SAFETY: plain dlopen/dlclose of a shared object with no constructors.
    let h1 = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    let h2 = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h1.is_null() && h1 == h2);
    assert_eq!(threads(), th0, "loading the module started a thread");

    for _ in 0..10 {
        assert_eq!(login(devserver::totp_now(ALICE_SECRET)), PAM_SUCCESS);
        assert_eq!(login(devserver::wrong_totp(ALICE_SECRET)), PAM_AUTH_ERR);
    }
    // SAFETY: handles from dlopen above, closed once each.
    unsafe {
        libc::dlclose(h1);
        libc::dlclose(h2);
    }
    // The in-process server's side of each connection closes on its own
    // thread, and that thread lingers a moment after it says it is done;
    // wait (bounded) for both, so only what the module left is compared.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while (server.active_connections() > 0 || fds() != fd0 || threads() != th0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        fds(),
        fd0,
        "descriptors left open by the module: {}",
        fd_list()
    );
    assert_eq!(threads(), th0, "threads left running by the module");
    // pam_end dlclosed it and nothing pinned it (no TLS destructors, no
    // threads): the module is unmapped again.
    assert!(
        !mapped("libpam_wpam.so"),
        "module still mapped after pam_end"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

fn fd_list() -> String {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    format!(
                        "{:?}->{:?}",
                        e.file_name(),
                        std::fs::read_link(e.path()).ok()
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
