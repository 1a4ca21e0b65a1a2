//! The module through the real Linux-PAM library, against the development
//! Werbot API over real TLS: one test per row of the behaviour table and per
//! fault mode of the server.

#[path = "support/devserver.rs"]
mod devserver;
#[path = "support/pamdrv.rs"]
mod pamdrv;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use devserver::{Fault, Options, Running, ALICE_SECRET};
use pamdrv::{
    login, Answer, Event, Login, Pam, ServiceDir, PAM_AUTHINFO_UNAVAIL, PAM_AUTH_ERR, PAM_CONV_ERR,
    PAM_SERVICE_ERR, PAM_SILENT, PAM_SUCCESS,
};

const PROMPT_ID: &str = "Enter your Werbot ID (email or username): ";
const PROMPT_CODE: &str = "Enter your totp code (submit empty for U2F): ";
const KEY: &str = "dev-key-not-secret";
const ALICE: &str = "alice@example.com";

/// A dev server, a log file and a service directory, all removed on drop.
struct Env {
    server: Option<Running>,
    addr: String,
    ca: PathBuf,
    dir: PathBuf,
    log: PathBuf,
}

impl Env {
    fn new(opts: Options) -> Env {
        let dir = devserver::fresh_temp_dir("wpam-it").expect("tmp");
        let server = devserver::start(opts).expect("dev server");
        // Keep our own copy of the CA: some tests stop the server.
        let ca = dir.join("ca.pem");
        std::fs::copy(server.ca_path(), &ca).expect("copy ca");
        Env {
            addr: server.server_url(),
            server: Some(server),
            ca,
            log: dir.join("wpam.log"),
            dir,
        }
    }

    fn server(&self) -> &Running {
        self.server.as_ref().expect("server running")
    }

    fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }

    /// The module's arguments; `extra` is appended (and wins).
    fn args(&self, extra: &str) -> String {
        format!(
            "server_url={} service_id=dev-service service_key={KEY} ca_file={} log_file={} \
             debug=true timeout=2 u2f_timeout=3 {extra}",
            self.addr,
            self.ca.display(),
            self.log.display()
        )
    }

    fn service(&self, extra: &str) -> ServiceDir {
        ServiceDir::wpam("it", &pamdrv::module_path(), &self.args(extra))
    }

    fn login(&self, extra: &str, user: &str, answers: &[&[u8]]) -> Login {
        let dir = self.service(extra);
        let answers = answers.iter().map(Answer::text).collect();
        login(&dir, user, Some("192.0.2.10"), answers, 0)
    }

    fn totp(&self, extra: &str, code: &str) -> Login {
        self.login(extra, "alice", &[ALICE.as_bytes(), code.as_bytes()])
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn api_requests(&self) -> usize {
        self.server().requests().len()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop_server();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alice_code() -> String {
    devserver::totp_now(ALICE_SECRET)
}

fn with_fault(f: Fault) -> Options {
    Options {
        fault: Some(f),
        ..Options::default()
    }
}

#[test]
fn totp_correct_code_succeeds_with_every_wire_field() {
    let env = Env::new(Options::default());
    let code = alice_code();
    let l = env.totp("", &code);
    assert_eq!(
        (l.auth, l.account),
        (PAM_SUCCESS, Some(PAM_SUCCESS)),
        "{l:?}"
    );
    assert_eq!(
        l.events,
        [
            Event::Prompt {
                text: PROMPT_ID.into(),
                echo: true,
                answer: ALICE.into()
            },
            Event::Prompt {
                text: PROMPT_CODE.into(),
                echo: false,
                answer: code.clone()
            },
        ]
    );
    // The account phase made no second call: the auth phase already passed.
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/auth/agent/nix")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("user-agent"),
        Some(concat!("wpam/", env!("CARGO_PKG_VERSION")))
    );
    let want = serde_json::json!({"serviceID":"dev-service","serviceKey":KEY,"user":"alice",
        "tfaMethod":"totp","totpCode":code,"userIP":"192.0.2.10","wID":ALICE});
    assert_eq!(r.json.as_ref(), Some(&want));
}

#[test]
fn totp_wrong_code_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.totp("", &devserver::wrong_totp(ALICE_SECRET));
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert!(
        env.log_text().contains("invalid totp code"),
        "{}",
        env.log_text()
    );
}

#[test]
fn totp_malformed_code_is_refused_locally_without_a_call() {
    let env = Env::new(Options::default());
    for bad in ["12345", "1234567", "12a456", "123 456"] {
        let l = env.totp("", bad);
        assert_eq!(l.auth, PAM_AUTH_ERR, "{bad}");
        assert!(
            matches!(l.events.last(), Some(Event::Error(m)) if m.contains("6 digits")),
            "{bad}: {:?}",
            l.events
        );
    }
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn u2f_approved_succeeds_after_an_info_message() {
    let env = Env::new(Options::default());
    let l = env.login("", "alice", &[ALICE.as_bytes(), b""]);
    assert_eq!((l.auth, l.account), (PAM_SUCCESS, Some(PAM_SUCCESS)));
    assert!(
        matches!(&l.events[2], Event::Info(m) if m.contains("approve")),
        "{:?}",
        l.events
    );
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1);
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(
        (j["tfaMethod"].as_str(), j["totpCode"].as_str()),
        (Some("U2F"), Some(""))
    );
}

#[test]
fn u2f_approved_after_a_delay_succeeds_within_u2f_timeout() {
    let env = Env::new(Options::default());
    let l = env.login("", "carol", &[b"carol@example.com", b""]);
    assert_eq!(l.auth, PAM_SUCCESS);
}

#[test]
fn u2f_denied_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.login("offline_users=bob", "bob", &[b"bob@example.com", b""]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
}

#[test]
fn u2f_never_answered_is_unavailable_after_u2f_timeout() {
    let env = Env::new(Options::default());
    let t = Instant::now();
    let l = env.login("u2f_timeout=2", "dave", &[b"dave@example.com", b""]);
    let took = t.elapsed();
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn silent_flag_suppresses_the_u2f_message() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let answers = vec![Answer::text(ALICE), Answer::text("")];
    let l = login(&dir, "alice", Some("192.0.2.10"), answers, PAM_SILENT);
    assert_eq!(l.auth, PAM_SUCCESS);
    assert!(
        !l.events.iter().any(|e| matches!(e, Event::Info(_))),
        "{:?}",
        l.events
    );
}

#[test]
fn api_down_admits_offline_user_and_refuses_others() {
    let mut env = Env::new(Options::default());
    env.stop_server();
    let l = env.totp("offline_users=root,alice", &alice_code());
    assert_eq!((l.auth, l.account), (PAM_SUCCESS, Some(PAM_SUCCESS)));
    let l = env.totp("offline_users=root", &alice_code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL);
    let log = env.log_text();
    assert!(log.contains(" INFO ") && log.contains("offline"), "{log}");
}

fn assert_unavailable(opts: Options, extra: &str) {
    let env = Env::new(opts);
    let t = Instant::now();
    let l = env.totp(extra, &alice_code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
    let l = env.totp(&format!("{extra} offline_users=alice"), &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // Two calls, each bounded by timeout=2 plus a margin.
    assert!(t.elapsed() < Duration::from_secs(7), "{:?}", t.elapsed());
}

fn assert_denied_even_offline(opts: Options) {
    let env = Env::new(opts);
    let l = env.totp("offline_users=alice", &alice_code());
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
}

#[test]
fn fault_http_500_is_unavailable() {
    assert_unavailable(with_fault(Fault::Status500), "");
}

#[test]
fn fault_slow_answer_times_out_as_unavailable() {
    assert_unavailable(with_fault(Fault::Slow(Duration::from_secs(5))), "");
}

#[test]
fn fault_reset_connection_is_unavailable() {
    assert_unavailable(with_fault(Fault::Reset), "");
}

#[test]
fn fault_certificate_for_another_name_is_unavailable() {
    let opts = Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    };
    assert_unavailable(opts, "");
}

#[test]
fn fault_expired_certificate_is_unavailable() {
    let opts = Options {
        cert_expired: true,
        ..Options::default()
    };
    assert_unavailable(opts, "");
}

#[test]
fn untrusted_ca_is_unavailable() {
    let env = Env::new(Options::default());
    // The OS trust store does not know the throwaway CA.
    let dir = ServiceDir::wpam(
        "it",
        &pamdrv::module_path(),
        &env.args("").replace("ca_file=", "x_ca_file="),
    );
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
        0,
    );
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL);
}

#[test]
fn fault_non_json_body_is_auth_err() {
    assert_denied_even_offline(with_fault(Fault::NonJson));
}

#[test]
fn fault_huge_body_is_auth_err() {
    assert_denied_even_offline(with_fault(Fault::Huge));
}

#[test]
fn insecure_skip_verify_accepts_a_wrong_name_and_warns() {
    let opts = Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    };
    let env = Env::new(opts);
    let l = env.totp("insecure_skip_verify=true", &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS);
    assert!(env.log_text().contains("WARN") && env.log_text().contains("NOT verified"));
}

#[test]
fn unknown_werbot_user_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.login(
        "offline_users=alice",
        "alice",
        &[b"nobody@example.com", b"123456"],
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
}

#[test]
fn wrong_service_key_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.totp("service_key=not-the-key offline_users=alice", &alice_code());
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert!(env.log_text().contains("HTTP 401"), "{}", env.log_text());
    assert!(!env.log_text().contains("not-the-key"));
}

#[test]
fn missing_service_key_is_service_err_naming_the_key() {
    let env = Env::new(Options::default());
    let args = env.args("").replace(&format!("service_key={KEY}"), "");
    let dir = ServiceDir::wpam("it", &pamdrv::module_path(), &args);
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text("123456")],
        0,
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_eq!(l.unused_answers, 2, "no prompt with a broken config");
    let log = env.log_text();
    assert!(
        log.contains("ERROR") && log.contains("missing required argument service_key"),
        "{log}"
    );
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn clear_text_server_url_is_refused() {
    let env = Env::new(Options::default());
    let l = env.totp(&format!("server_url=http://{}", env.addr), &alice_code());
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn server_url_with_scheme_and_prefix() {
    let env = Env::new(Options {
        prefix: "/api".into(),
        ..Options::default()
    });
    let l = env.totp(&format!("server_url=https://{}/", env.addr), &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_eq!(env.server().requests()[0].path, "/api/auth/agent/nix");
}

#[test]
fn ipv6_server_url() {
    let opts = Options {
        listen: "[::1]:0".parse().expect("addr"),
        ..Options::default()
    };
    let Ok(server) = std::panic::catch_unwind(|| devserver::start(opts.clone())) else {
        return;
    };
    let Ok(server) = server else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let port = server.addr().port();
    server.stop();
    let env = Env::new(Options {
        listen: format!("[::1]:{port}").parse().expect("addr"),
        ..Options::default()
    });
    let l = env.totp(&format!("server_url=[::1]:{port}"), &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
}

#[test]
fn no_rhost_sends_an_empty_user_ip() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS);
    let j = env.server().requests()[0].json.clone().expect("json");
    assert_eq!(j["userIP"], "");
    assert!(env.log_text().contains("no PAM_RHOST"));
}

#[test]
fn conversation_failure_and_null_answer_are_conv_err() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    for answers in [
        vec![Answer::Fail],
        vec![Answer::Null],
        vec![Answer::text(ALICE), Answer::Fail],
        vec![Answer::text(ALICE), Answer::Null],
    ] {
        let l = login(&dir, "alice", None, answers.clone(), 0);
        assert_eq!(l.auth, PAM_CONV_ERR, "{answers:?}");
    }
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn hostile_werbot_ids_are_refused_without_a_call() {
    let env = Env::new(Options::default());
    let huge = vec![b'a'; 100_000];
    for id in [
        &huge[..],
        b"alice\n2026-01-01T00:00:00Z INFO forged",
        b"\xff\xfe\xfd",
        b"a\x1b[2Jb",
        b"",
    ] {
        let l = env.login("", "alice", &[id, b"123456"]);
        assert_eq!(l.auth, PAM_AUTH_ERR);
        assert!(
            matches!(l.events.last(), Some(Event::Error(_))),
            "{:?}",
            l.events
        );
    }
    assert_eq!(env.api_requests(), 0);
    let log = env.log_text();
    assert!(
        !log.contains("\nforged") && !log.lines().any(|l| l.contains("INFO forged")),
        "{log}"
    );
}

#[test]
fn account_phase_alone_asks_u2f_for_the_login_name() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let mut pam = Pam::start(&dir, "alice@example.com", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1);
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(
        (j["wID"].as_str(), j["tfaMethod"].as_str()),
        (Some(ALICE), Some("U2F"))
    );
    // Denied U2F in the account phase denies the account.
    let mut pam = Pam::start(&dir, "bob@example.com", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR);
}

#[test]
fn failed_auth_then_account_makes_its_own_check() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let mut pam = Pam::start(
        &dir,
        "bob",
        None,
        vec![Answer::text("bob@example.com"), Answer::text("")],
    );
    assert_eq!(pam.authenticate(0), PAM_AUTH_ERR);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 2);
}

#[test]
fn setcred_succeeds_so_a_wpam_only_stack_opens_sessions() {
    let env = Env::new(Options::default());
    let m = pamdrv::module_path();
    let m = m.display();
    let args = env.args("");
    let dir = ServiceDir::new(
        "only",
        &[
            format!("auth required {m} {args}"),
            format!("account required {m} {args}"),
        ],
    );
    let mut pam = Pam::start(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
    );
    assert_eq!(pam.authenticate(0), PAM_SUCCESS);
    assert_eq!(pam.setcred(0), PAM_SUCCESS);
}

#[test]
fn config_file_holds_the_service_key() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Options::default());
    let conf = env.dir.join("wpam.conf");
    std::fs::write(&conf, format!("# secrets\nservice_key={KEY}\n")).expect("write");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let args = env
        .args(&format!("config={}", conf.display()))
        .replace(&format!("service_key={KEY}"), "");
    let dir = ServiceDir::wpam("it", &pamdrv::module_path(), &args);
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // Readable by others: refused, and said why.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
        0,
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert!(env.log_text().contains("chmod 0600"));
}

#[test]
fn unknown_argument_is_a_warning_not_a_failure() {
    let env = Env::new(Options::default());
    let l = env.totp("sevrer_url=x", &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS);
    assert!(env.log_text().contains("WARN") && env.log_text().contains("sevrer_url"));
}

fn check_log_lines(text: &str) {
    for line in text.lines() {
        let (ts, rest) = line.split_once(' ').expect("timestamp");
        assert_eq!(ts.len(), 20, "{line}");
        assert!(ts.ends_with('Z') && &ts[10..11] == "T", "{line}");
        let level = rest.split(' ').next().unwrap_or("");
        assert!(
            ["DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
    }
}

#[test]
fn debug_log_redacts_every_secret() {
    let env = Env::new(Options::default());
    let code = alice_code();
    assert_eq!(env.totp("", &code).auth, PAM_SUCCESS);
    assert_eq!(
        env.login("", "alice", &[ALICE.as_bytes(), b""]).auth,
        PAM_SUCCESS
    );
    let log = env.log_text();
    check_log_lines(&log);
    assert!(log.contains("DEBUG") && log.contains("[REDACTED]"), "{log}");
    assert!(!log.contains(KEY), "service key leaked: {log}");
    assert!(!log.contains(&code), "TOTP code leaked: {log}");
    assert!(log.contains("session_token\":\"[REDACTED]"), "{log}");
    assert!(log.contains("\"serviceID\":\"dev-service\""), "{log}");
    assert!(log.contains("user=\"alice\"") && log.contains("rhost=\"192.0.2.10\""));
}

#[test]
fn without_debug_only_info_and_above() {
    let env = Env::new(Options::default());
    assert_eq!(env.totp("debug=false", &alice_code()).auth, PAM_SUCCESS);
    let log = env.log_text();
    assert!(!log.contains("DEBUG") && log.contains(" INFO "), "{log}");
}

#[test]
fn unwritable_log_file_does_not_change_the_outcome() {
    let env = Env::new(Options::default());
    let l = env.totp("log_file=/nonexistent-dir/wpam.log", &alice_code());
    assert_eq!(l.auth, PAM_SUCCESS);
    let l = env.totp(
        "log_file=/nonexistent-dir/wpam.log",
        &devserver::wrong_totp(ALICE_SECRET),
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
}

#[test]
fn two_handles_at_once_and_two_copies_in_one_stack() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    // Two live handles, interleaved: no shared state between them.
    let mut a = Pam::start(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(alice_code())],
    );
    let mut b = Pam::start(
        &dir,
        "bob",
        None,
        vec![Answer::text("bob@example.com"), Answer::text("")],
    );
    assert_eq!(b.authenticate(0), PAM_AUTH_ERR);
    assert_eq!(a.authenticate(0), PAM_SUCCESS);
    assert_eq!(a.acct_mgmt(0), PAM_SUCCESS);
    assert_eq!(env.api_requests(), 2);
    drop(a);
    drop(b);
    // The same file loaded twice under two names: two independent modules,
    // each passing its own auth phase and skipping its own account call.
    let copy = env.dir.join("pam_wpam_copy.so");
    std::fs::copy(pamdrv::module_path(), &copy).expect("copy module");
    let args = env.args("");
    let m1 = pamdrv::module_path();
    let lines = [
        format!("auth required {} {args}", m1.display()),
        format!("auth required {} {args}", copy.display()),
        format!("account required {} {args}", m1.display()),
        format!("account required {} {args}", copy.display()),
    ];
    let dir2 = ServiceDir::new("twice", &lines);
    let code = alice_code();
    let answers = [ALICE, &code, ALICE, &code]
        .iter()
        .map(Answer::text)
        .collect();
    let l = login(&dir2, "alice", None, answers, 0);
    assert_eq!(
        (l.auth, l.account),
        (PAM_SUCCESS, Some(PAM_SUCCESS)),
        "{}",
        env.log_text()
    );
    assert_eq!(env.api_requests(), 4);
}

#[test]
fn ca_file_that_is_not_pem_is_a_service_error() {
    let env = Env::new(Options::default());
    let bogus = env.dir.join("not-a-ca.pem");
    std::fs::write(&bogus, "not a certificate\n").expect("write");
    let l = env.totp(
        &format!("ca_file={} offline_users=alice", bogus.display()),
        &alice_code(),
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert!(
        env.log_text().contains("no certificate found"),
        "{}",
        env.log_text()
    );
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn ca_file_of_another_ca_falls_back_to_the_os_store_and_fails() {
    // A second dev server's CA is a valid trust anchor, but not the issuer.
    let other = devserver::start(Options::default()).expect("second server");
    let env = Env::new(Options::default());
    let other_ca = env.dir.join("other-ca.pem");
    std::fs::copy(other.ca_path(), &other_ca).expect("copy");
    other.stop();
    let l = env.totp(&format!("ca_file={}", other_ca.display()), &alice_code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
}

#[test]
fn certificate_failure_is_logged_as_a_tls_failure() {
    let env = Env::new(Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    });
    assert_eq!(env.totp("", &alice_code()).auth, PAM_AUTHINFO_UNAVAIL);
    let log = env.log_text();
    assert!(
        log.contains("TLS failed") && log.contains("certificate"),
        "{log}"
    );
}
