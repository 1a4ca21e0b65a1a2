//! The module through the real Linux-PAM library, against the development
//! Werbot API over real TLS: one test per row of the behaviour table and per
//! fault mode of the server.

#[path = "support/child.rs"]
mod child;
#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/devserver.rs"]
mod devserver;
#[path = "support/pamdrv.rs"]
mod pamdrv;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/socket.rs"]
mod socket;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use devserver::{Fault, Options, Refusals, Running, Shape, Strict, User, ALICE_SECRET};
use pamdrv::{
    login, Answer, Event, Login, Pam, ServiceDir, PAM_AUTHINFO_UNAVAIL, PAM_AUTH_ERR, PAM_CONV_ERR,
    PAM_IGNORE, PAM_SERVICE_ERR, PAM_SILENT, PAM_SUCCESS, PAM_SYSTEM_ERR,
};

const PROMPT_ID: &str = "Enter your Werbot ID (email or username): ";
const PROMPT_CODE: &str = "Enter your totp code (submit empty for U2F): ";
const KEY: &str = "dev-key-not-secret";
const ALICE: &str = "alice@example.com";
/// For logins without PAM_RHOST: the real server refuses an empty userIP under
/// every IP policy (IP_POLICY_FAILED).
const LOCAL: &str = "local_user_ip=127.0.0.1";

/// A dev server, a log file and a service directory, all removed on drop.
struct Env {
    server: Option<Running>,
    /// After stop_server: the socket that keeps the new address refused.
    held: Option<std::os::fd::OwnedFd>,
    addr: String,
    ca: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    codes: std::cell::Cell<usize>,
}

impl Env {
    /// A server as strict as the real one could be (one-time codes, minimal
    /// JSON), unless `opts` already chose how strict.
    fn new(mut opts: Options) -> Env {
        if opts.strict == Strict::default() {
            opts.strict = Strict::for_main_tests();
        }
        // Logins named after a Werbot ID (werbot_id_from_login, the account
        // phase's ID) are mapped to every user, as the tests' accounts are.
        opts.map_logins(&[
            ALICE,
            "bob@example.com",
            "carol@example.com",
            "dave@example.com",
        ]);
        let dir = devserver::fresh_temp_dir("wpam-it").expect("tmp");
        let server = devserver::start(opts).expect("dev server");
        // Keep our own copy of the CA: some tests stop the server.
        let ca = dir.join("ca.pem");
        std::fs::copy(server.ca_path(), &ca).expect("copy ca");
        Env {
            addr: server.server_url(),
            server: Some(server),
            held: None,
            ca,
            log: dir.join("wpam.log"),
            dir,
            codes: std::cell::Cell::new(0),
        }
    }

    /// A valid TOTP code of alice that this server has not seen yet: the
    /// current step's, then the next step's (both stay valid for at least
    /// 30 s; the previous step's could expire at once). One-time codes allow
    /// no more per test.
    fn code(&self) -> String {
        let n = self.codes.get();
        assert!(n < 2, "a test gets two fresh TOTP codes of alice");
        self.codes.set(n + 1);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        devserver::totp_at(ALICE_SECRET, now + 30 * n as u64)
    }

    fn server(&self) -> &Running {
        self.server.as_ref().expect("server running")
    }

    /// Stops the server and points the module at a port that refuses every
    /// connection for the rest of the test: bound by this process, never
    /// listened on. (The stopped server's own port, once freed, could be
    /// taken by another test's server on this busy machine.)
    fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            let url = s.server_url();
            let path = url.find('/').map_or("", |i| &url[i..]).to_string();
            s.stop();
            let (port, fd) = socket::bound_port(false);
            self.addr = format!("127.0.0.1:{port}{path}");
            self.held = Some(fd);
        }
    }

    /// The module's arguments; `extra` is appended (and wins).
    fn args(&self, extra: &str) -> String {
        format!(
            "server_url={} service_id=dev-service service_key={KEY} ca_file={} log_file={} \
             remember_dir={} debug=true timeout=2 u2f_timeout=3 {extra}",
            self.addr,
            self.ca.display(),
            self.log.display(),
            self.dir.join("state").display()
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

    /// alice's TOTP login through `dir` without PAM_RHOST.
    fn local_totp(&self, dir: &ServiceDir) -> Login {
        let answers = vec![Answer::text(ALICE), Answer::text(self.code())];
        login(dir, "alice", None, answers, 0)
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
        if let Some(s) = self.server.take() {
            s.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
    let code = env.code();
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
    // The login is spelled as in the password database: nothing to report.
    let log = env.log_text();
    assert!(
        !log.contains("in the password database; using that"),
        "{log}"
    );
}

#[test]
fn totp_wrong_code_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.totp("", &devserver::wrong_totp(ALICE_SECRET));
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["WARN", "access denied", r#"reason="INVALID_TOTP""#]);
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
    // carol approves after 2 s: a wide margin for a loaded machine.
    let env = Env::new(Options::default());
    let start = Instant::now();
    let l = env.login("u2f_timeout=15", "carol", &[b"carol@example.com", b""]);
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // The module waited for the approval, which comes 2 s after the push.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(
        (j["tfaMethod"].as_str(), j["wID"].as_str()),
        (Some("U2F"), Some("carol@example.com"))
    );
}

#[test]
fn u2f_denied_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.login("offline_users=bob", "bob", &[b"bob@example.com", b""]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    // The server said no (a local refusal gives the same code).
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["WARN", "access denied", r#"reason="U2F_FAILED""#]);
}

#[test]
fn u2f_never_approved_is_denied_even_for_an_offline_user() {
    // The attacker holds dave's first factor, dave is an offline user, and
    // nobody approves the push: the wait ends in a denial, not an outage.
    let env = Env::new(Options::default());
    let t = Instant::now();
    let l = env.login(
        "u2f_timeout=2 offline_users=dave",
        "dave",
        &[b"dave@example.com", b""],
    );
    let took = t.elapsed();
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(2) + SLACK, "{took:?}");
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["WARN", "timed out", "not an outage"]);
}

#[test]
fn account_phase_u2f_never_approved_is_denied_even_for_an_offline_user() {
    // A publickey-only SSH login runs the account phase alone.
    let env = Env::new(Options::default());
    let dir = env.service("u2f_timeout=2 offline_users=dave@example.com");
    let mut pam = Pam::start(&dir, "dave@example.com", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR, "{}", env.log_text());
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["account", "not an outage"]);
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
    // Still asked both questions, and admitted on the server's U2F answer.
    let prompts = l
        .events
        .iter()
        .filter(|e| matches!(e, Event::Prompt { .. }))
        .count();
    assert_eq!(prompts, 2, "{:?}", l.events);
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(j["tfaMethod"].as_str(), Some("U2F"));
}

#[test]
fn api_down_admits_offline_user_and_refuses_others() {
    let mut env = Env::new(Options::default());
    env.stop_server();
    let l = env.totp("offline_users=root,alice", &env.code());
    assert_eq!((l.auth, l.account), (PAM_SUCCESS, Some(PAM_SUCCESS)));
    let l = env.totp("offline_users=root", &env.code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL);
    let log = env.log_text();
    assert!(log.contains(" INFO ") && log.contains("offline"), "{log}");
}

#[test]
fn offline_users_match_the_login_name_exactly() {
    // Unix login names are case-sensitive: "ALICE" or "Alice" listed is not
    // alice, nor is a prefix or a longer name.
    let mut env = Env::new(Options::default());
    env.stop_server();
    let code = env.code();
    for list in ["ALICE", "Alice", "alic", "alice2", "alice@example.com"] {
        let l = env.totp(&format!("offline_users={list}"), &code);
        assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{list}: {}", env.log_text());
    }
    assert!(!env.log_text().contains("admitted"), "{}", env.log_text());
}

/// What a loaded 2-core machine may add to a module timeout.
const SLACK: Duration = Duration::from_secs(6);

fn assert_logged(env: &Env, parts: &[&str]) {
    let log = env.log_text();
    assert!(
        log.lines().any(|l| parts.iter().all(|p| l.contains(p))),
        "no log line with {parts:?}:\n{log}"
    );
}

/// The API could not be reached: offline users get in, others are told
/// the information is unavailable; each call bounded by timeout=2.
fn assert_outage(opts: Options, extra: &str) {
    let env = Env::new(opts);
    let t = Instant::now();
    let l = env.totp(extra, &env.code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
    assert!(
        t.elapsed() < Duration::from_secs(2) + SLACK,
        "{:?}",
        t.elapsed()
    );
    let l = env.totp(&format!("{extra} offline_users=alice"), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(&env, &[" INFO ", "unavailable", "admitted as offline user"]);
}

/// The request reached the server and no exact success came back: denied,
/// offline users included, and the log says it was not an outage.
/// Returns the log, for the caller's checks of what it says.
fn assert_denied_even_offline(opts: Options) -> String {
    let env = Env::new(opts);
    let t = Instant::now();
    let l = env.totp("offline_users=alice", &env.code());
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert!(
        t.elapsed() < Duration::from_secs(2) + SLACK,
        "{:?}",
        t.elapsed()
    );
    assert_eq!(env.api_requests(), 1, "the request must have been sent");
    assert_logged(&env, &[" WARN ", "denied"]);
    assert!(!env.log_text().contains("admitted"), "{}", env.log_text());
    env.log_text()
}

#[test]
fn only_the_exact_status_success_grants_even_for_an_offline_user() {
    // Another case, a longer word that contains it, padding: each a refusal
    // the server answered (never an outage), for an offline user too.
    for status in [
        "Success",
        "SUCCESS",
        "unsuccessful",
        "successful",
        " success",
        "success ",
    ] {
        assert_denied_even_offline(with_fault(Fault::Status(status.into())));
    }
}

#[test]
fn fault_http_500_is_denied_even_for_an_offline_user() {
    assert_denied_even_offline(with_fault(Fault::Status500));
}

#[test]
fn a_werbot_id_that_makes_the_api_fail_is_denied_for_an_offline_user() {
    // Any server bug an ID can trigger (here: HTTP 500 {"status":"failed"}).
    let mut opts = Options::default();
    opts.users.push(User {
        fault: Some(Fault::Status500),
        ..User::new("crash@example.com", ALICE_SECRET)
    });
    let env = Env::new(opts);
    let l = env.login(
        "offline_users=alice",
        "alice",
        &[b"crash@example.com", env.code().as_bytes()],
    );
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert_logged(&env, &["HTTP 500", "denied"]);
}

#[test]
fn fault_slow_answer_after_the_request_is_denied_even_for_an_offline_user() {
    let log = assert_denied_even_offline(with_fault(Fault::Slow(Duration::from_secs(30))));
    // The log says why: the answer did not come in time.
    assert!(log.contains("timed out waiting for the answer"), "{log}");
}

#[test]
fn fault_reset_after_the_request_is_denied_even_for_an_offline_user() {
    let log = assert_denied_even_offline(with_fault(Fault::Reset));
    // The log says why, and a reset is not told as a timeout.
    assert!(log.contains("request: "), "{log}");
    assert!(!log.contains("timed out"), "{log}");
}

#[test]
fn fault_body_that_stalls_after_the_headers_is_denied_even_for_an_offline_user() {
    let log = assert_denied_even_offline(with_fault(Fault::StallBody));
    assert!(log.contains("then timed out reading the body"), "{log}");
}

#[test]
fn fault_malformed_content_length_is_denied_even_for_an_offline_user() {
    assert_denied_even_offline(with_fault(Fault::BadLength));
}

#[test]
fn api_down_is_an_outage() {
    let mut env = Env::new(Options::default());
    env.stop_server();
    let l = env.totp("offline_users=alice", &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(&env, &["TCP connect failed", "admitted as offline user"]);
}

/// What a loaded 2-core machine may add to a deadline the module keeps.
const DEADLINE_SLACK: Duration = Duration::from_millis(1500);

#[test]
fn fault_answer_trickled_byte_by_byte_ends_by_the_deadline_and_is_denied() {
    // One byte of the (successful) answer every 0.5 s: a socket timeout
    // re-armed by every byte never fires, and the login used to wait for
    // the whole answer (and then grant it). timeout=2.
    let env = Env::new(with_fault(Fault::Trickle {
        handshake: false,
        every: Duration::from_millis(500),
    }));
    let t = Instant::now();
    let l = env.totp("offline_users=alice", &env.code());
    let took = t.elapsed();
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert!(took < Duration::from_secs(2) + DEADLINE_SLACK, "{took:?}");
    assert_logged(&env, &[" WARN ", "timed out", "denied"]);
    assert!(!env.log_text().contains("admitted"), "{}", env.log_text());
}

#[test]
fn fault_handshake_trickled_byte_by_byte_ends_by_the_deadline() {
    // The server's first flight one byte every 0.5 s: the request is never
    // sent, so an outage, within timeout=2.
    let env = Env::new(with_fault(Fault::Trickle {
        handshake: true,
        every: Duration::from_millis(500),
    }));
    let t = Instant::now();
    let l = env.totp("", &env.code());
    let took = t.elapsed();
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
    assert!(took < Duration::from_secs(2) + DEADLINE_SLACK, "{took:?}");
    assert_logged(&env, &["TLS handshake timed out"]);
}

#[test]
fn fault_tls_handshake_that_never_completes_is_an_outage() {
    // Not one byte of the request was written: it could not be delivered.
    assert_outage(with_fault(Fault::StallHandshake), "");
}

#[test]
fn fault_certificate_for_another_name_is_an_outage() {
    let opts = Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    };
    assert_outage(opts, "");
}

#[test]
fn fault_expired_certificate_is_an_outage() {
    let opts = Options {
        cert_expired: true,
        ..Options::default()
    };
    assert_outage(opts, "");
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
    let l = env.totp("insecure_skip_verify=true", &env.code());
    assert_eq!(l.auth, PAM_SUCCESS);
    assert!(env.log_text().contains("WARN") && env.log_text().contains("NOT verified"));
}

#[test]
fn insecure_skip_verify_false_refuses_a_wrong_name() {
    // The default, said explicitly: a certificate for another name is a
    // failed handshake, so the request (code included) is never sent.
    let opts = Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    };
    let env = Env::new(opts);
    for args in ["insecure_skip_verify=false", ""] {
        let l = env.totp(args, &env.code());
        assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{args}: {}", env.log_text());
    }
    assert_eq!(
        env.api_requests(),
        0,
        "a request went to a wrong-name server"
    );
    assert!(
        !env.log_text().contains("NOT verified"),
        "{}",
        env.log_text()
    );
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
    // Denied on the server's word, not before asking (offline_users names
    // alice: a refusal must not be taken for an outage either).
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(j["wID"].as_str(), Some("nobody@example.com"));
    assert_logged(
        &env,
        &["WARN", "access denied", r#"reason="user not found""#],
    );
}

#[test]
fn wrong_service_key_is_auth_err() {
    let env = Env::new(Options::default());
    let l = env.totp("service_key=not-the-key offline_users=alice", &env.code());
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 1);
    assert_logged(
        &env,
        &[
            "WARN",
            "access denied",
            "invalid service integration details",
        ],
    );
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
    // The user is told that the second factor is unavailable...
    let told = |l: &pamdrv::Login| {
        l.events.iter().any(
            |e| matches!(e, Event::Error(m) if m.starts_with("Werbot second factor unavailable")),
        )
    };
    assert!(told(&l), "{:?}", l.events);
    let log = env.log_text();
    assert!(
        log.contains("ERROR") && log.contains("missing required argument service_key"),
        "{log}"
    );
    // ...unless the application asked for silence.
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text("123456")],
        PAM_SILENT,
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert!(l.events.is_empty(), "{:?}", l.events);
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn clear_text_server_url_is_refused() {
    let env = Env::new(Options::default());
    let l = env.totp(&format!("server_url=http://{}", env.addr), &env.code());
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn server_url_with_scheme_and_prefix() {
    let env = Env::new(Options {
        prefix: "/api".into(),
        ..Options::default()
    });
    let l = env.totp(&format!("server_url=https://{}/", env.addr), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_eq!(env.server().requests()[0].path, "/api/auth/agent/nix");
}

#[test]
fn ipv6_server_url() {
    // One server on [::1]:0, its own port: no stop-and-rebind race.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no IPv6 loopback, and CI=true forbids skipping"
        );
        eprintln!("SKIPPED ipv6_server_url: no IPv6 loopback here");
        return;
    }
    let env = Env::new(Options {
        listen: "[::1]:0".parse().expect("addr"),
        ..Options::default()
    });
    let port = env.server().addr().port();
    let l = env.totp(&format!("server_url=[::1]:{port}"), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_eq!(env.api_requests(), 1);
}

#[test]
fn no_rhost_sends_an_empty_user_ip() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(env.code())],
        0,
    );
    // The real server refuses an empty userIP under every IP policy.
    assert_eq!(l.auth, PAM_AUTH_ERR);
    let j = env.server().requests()[0].json.clone().expect("json");
    assert_eq!(j["userIP"], "");
    assert!(env.log_text().contains("no PAM_RHOST"));
    assert_logged(&env, &["WARN", "access denied", "IP_POLICY_FAILED"]);
    // local_user_ip is sent instead, and fits the default policy.
    let l = env.local_totp(&env.service(LOCAL));
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    let j = env.server().requests()[1].json.clone().expect("json");
    assert_eq!(j["userIP"], "127.0.0.1");
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
fn hostile_login_name_and_rhost_reach_the_log_escaped_never_as_lines() {
    // The typed ID above is never logged whole (so its forgery check alone
    // could not fail); the login name and PAM_RHOST are logged, from the
    // application and the network: a newline there must not start a line.
    let env = Env::new(Options::default());
    let forged = "\n2026-01-01T00:00:00Z INFO forged";
    let dir = env.service("");
    let l = login(
        &dir,
        &format!("mallory{forged}"),
        Some(&format!("192.0.2.7{forged}\r")),
        vec![Answer::text(ALICE), Answer::text("123456")],
        0,
    );
    assert_ne!(l.auth, PAM_SUCCESS);
    assert_eq!(env.api_requests(), 0);
    let log = env.log_text();
    // Positive control: both values were logged, escaped.
    assert!(
        log.contains(r"mallory\n2026-01-01T00:00:00Z INFO forged"),
        "the login name was not logged: {log}"
    );
    assert!(
        log.contains(r"192.0.2.7\n2026-01-01T00:00:00Z INFO forged\r"),
        "PAM_RHOST was not logged: {log}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "{log}"
    );
    assert!(!log.contains('\r'), "{log}");
}

#[test]
fn account_phase_alone_asks_u2f_for_the_login_name() {
    let env = Env::new(Options::default());
    let dir = env.service(LOCAL);
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
    let dir = env.service(LOCAL);
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
    let args = env.args(LOCAL);
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
        vec![Answer::text(ALICE), Answer::text(env.code())],
    );
    assert_eq!(pam.authenticate(0), PAM_SUCCESS);
    // The authentication was wpam's: the code went to the server.
    assert_eq!(env.api_requests(), 1);
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
        .args(&format!("config={} {LOCAL}", conf.display()))
        .replace(&format!("service_key={KEY}"), "");
    let dir = ServiceDir::wpam("it", &pamdrv::module_path(), &args);
    let l = login(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(env.code())],
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // Readable or writable by its group or others: refused before any
    // request, and said why.
    let asked = env.api_requests();
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(mode)).expect("chmod");
        // (never sent: any code will do)
        let l = login(
            &dir,
            "alice",
            None,
            vec![Answer::text(ALICE), Answer::text("123456")],
            0,
        );
        assert_eq!(l.auth, PAM_SERVICE_ERR, "mode {mode:o}: {}", env.log_text());
    }
    assert_eq!(
        env.api_requests(),
        asked,
        "a request with a readable config"
    );
    assert!(env.log_text().contains("chmod 0600"));
}

#[test]
fn unknown_argument_is_a_warning_not_a_failure() {
    let env = Env::new(Options::default());
    let l = env.totp("sevrer_url=x", &env.code());
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
    // The lenient dialect: its success carries data.session_token.
    let env = Env::new(Options::default().lenient());
    let code = env.code();
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
    assert_eq!(env.totp("debug=false", &env.code()).auth, PAM_SUCCESS);
    let log = env.log_text();
    assert!(!log.contains("DEBUG") && log.contains(" INFO "), "{log}");
}

#[test]
fn unwritable_log_file_does_not_change_the_outcome() {
    let env = Env::new(Options::default());
    let l = env.totp("log_file=/nonexistent-dir/wpam.log", &env.code());
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
    let dir = env.service(LOCAL);
    // Two live handles, interleaved: no shared state between them.
    let mut a = Pam::start(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(env.code())],
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
    let args = env.args(LOCAL);
    let m1 = pamdrv::module_path();
    let lines = [
        format!("auth required {} {args}", m1.display()),
        format!("auth required {} {args}", copy.display()),
        format!("account required {} {args}", m1.display()),
        format!("account required {} {args}", copy.display()),
    ];
    let dir2 = ServiceDir::new("twice", &lines);
    // Each copy makes its own call with its own code (one-time codes: the
    // same code twice would be refused, as a real server may).
    let (code, bob_code) = (env.code(), devserver::totp_now(devserver::BOB_SECRET));
    let answers = [ALICE, &code, "bob@example.com", &bob_code]
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
        &env.code(),
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
    let l = env.totp(&format!("ca_file={}", other_ca.display()), &env.code());
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
}

#[test]
fn certificate_failure_is_logged_as_a_tls_failure() {
    let env = Env::new(Options {
        cert_names: vec!["wrong.example".into()],
        ..Options::default()
    });
    assert_eq!(env.totp("", &env.code()).auth, PAM_AUTHINFO_UNAVAIL);
    let log = env.log_text();
    assert!(
        log.contains("TLS handshake failed") && log.contains("certificate"),
        "{log}"
    );
}

#[test]
fn a_server_url_that_cannot_be_requested_is_refused_at_parse() {
    // Passed the old checks, then failed every call: offline users were
    // admitted forever.
    let env = Env::new(Options::default());
    // (pam.d splits arguments at spaces: "/a b" cannot be written there.)
    for bad in ["/a<b", "/a%zz", "/a\"b", "/a{b}"] {
        let extra = format!("server_url={}{bad} offline_users=alice", env.addr);
        let dir = env.service(&extra);
        let answers = vec![Answer::text(ALICE), Answer::text("123456")];
        let l = login(&dir, "alice", None, answers, 0);
        assert_eq!(l.auth, PAM_SERVICE_ERR, "{bad}: {}", env.log_text());
        assert_eq!(l.unused_answers, 2, "no prompt with a broken config");
    }
    assert_eq!(env.api_requests(), 0);
    assert_logged(&env, &["ERROR", "invalid server_url"]);
}

#[test]
fn a_null_conversation_function_is_conv_err_in_both_phases() {
    // struct pam_conv {NULL, NULL}: crashed the host with SIGSEGV before.
    let env = Env::new(Options::default());
    let dir = env.service("offline_users=alice");
    let mut pam = Pam::start_without_conversation(&dir, "alice", Some("192.0.2.10"));
    assert_eq!(pam.authenticate(0), PAM_CONV_ERR);
    assert_eq!(pam.acct_mgmt(0), PAM_CONV_ERR);
    assert_eq!(env.api_requests(), 0);
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("c");
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_as_log_file_or_config_never_hangs_the_login() {
    let env = Env::new(Options::default());
    let fifo = env.dir.join("fifo");
    mkfifo(&fifo);
    // The log: not used (syslog alone), the login goes on.
    let l = env.totp(&format!("log_file={}", fifo.display()), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS);
    // The config: refused.
    let l = env.totp(&format!("config={}", fifo.display()), &env.code());
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_logged(&env, &["ERROR", "not a regular file"]);
}

#[test]
fn separators_bidi_and_invisible_characters_are_escaped_in_the_log() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let user = "al\u{2028}ice\u{202e}\u{200b}";
    let mut pam = Pam::start(
        &dir,
        user,
        Some("192.0.2.10\u{2029}"),
        vec![Answer::text(ALICE), Answer::text(env.code())],
    );
    pam.authenticate(0);
    drop(pam);
    let log = env.log_text();
    for c in ['\u{2028}', '\u{2029}', '\u{202e}', '\u{200b}'] {
        assert!(!log.contains(c), "{:x} in the log: {log}", c as u32);
    }
    assert!(
        log.contains(r#"user="al\u{2028}ice\u{202e}\u{200b}""#),
        "{log}"
    );
}

#[test]
fn a_ca_file_that_is_a_device_or_huge_is_a_service_error_at_once() {
    let env = Env::new(Options::default());
    let huge = env.dir.join("huge.pem");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(64 << 20))
        .expect("sparse file");
    for ca in [std::path::Path::new("/dev/zero"), &huge] {
        let t = Instant::now();
        let l = env.totp(
            &format!("ca_file={} offline_users=alice", ca.display()),
            &env.code(),
        );
        assert_eq!(l.auth, PAM_SERVICE_ERR, "{}", env.log_text());
        assert!(t.elapsed() < SLACK, "{:?}", t.elapsed());
    }
    assert_eq!(env.api_requests(), 0);
    assert_logged(&env, &["ERROR", "not a regular file"]);
    assert_logged(&env, &["ERROR", "larger than"]);
}

#[test]
fn an_empty_login_name_is_denied_before_any_request() {
    // PAM_USER set to "" (not NULL: no prompt): no login, nothing to ask
    // about, even with a valid ID and code typed and the API up.
    let env = Env::new(Options::default());
    let code = env.code();
    for extra in ["", "offline_users=alice", "werbot_id_from_login=true"] {
        let l = env.login(extra, "", &[ALICE.as_bytes(), code.as_bytes()]);
        assert_ne!(l.auth, PAM_SUCCESS, "{extra}: {}", env.log_text());
        assert_ne!(l.auth, PAM_IGNORE, "{extra}: {}", env.log_text());
    }
    assert_eq!(env.api_requests(), 0, "{}", env.log_text());
    // Said as what it is, not as an unknown login.
    assert_logged(&env, &["WARN", "no user name from the application; denied"]);
}

#[test]
fn a_code_of_spaces_is_refused_not_a_u2f_push() {
    let env = Env::new(Options::default());
    for blank in [" ", "      ", "\t"] {
        let l = env.login("", "alice", &[ALICE.as_bytes(), blank.as_bytes()]);
        assert_eq!(l.auth, PAM_AUTH_ERR, "{blank:?}");
        assert!(
            matches!(l.events.last(), Some(Event::Error(m)) if m.contains("6 digits")),
            "{:?}",
            l.events
        );
    }
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn werbot_id_is_trimmed_and_bounded_at_254_bytes() {
    let env = Env::new(Options::default());
    let l = env.login(
        "",
        "alice",
        &[b"  alice@example.com\t", env.code().as_bytes()],
    );
    assert_eq!(l.auth, PAM_SUCCESS);
    assert_eq!(env.server().requests()[0].field("wID"), Some(ALICE));
    let long = format!("{}@example.com", "a".repeat(254 - 12));
    assert_eq!(long.len(), 254);
    let l = env.login("", "alice", &[long.as_bytes(), env.code().as_bytes()]);
    assert_eq!(l.auth, PAM_AUTH_ERR, "unknown to the API, but sent");
    assert_eq!(env.api_requests(), 2);
    let l = env.login("", "alice", &[format!("a{long}").as_bytes(), b"123456"]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 2, "255 bytes: refused locally");
}

#[test]
fn account_phase_of_a_silent_local_caller_pushes_nothing() {
    // cron, at, systemd --user, a cached sudo: PAM_SILENT and no PAM_RHOST.
    let env = Env::new(Options::default());
    let m = pamdrv::module_path();
    let dir = ServiceDir::new(
        "cron",
        &[
            format!("account required {} {}", m.display(), env.args(LOCAL)),
            "account required pam_permit.so".to_string(),
        ],
    );
    let mut pam = Pam::start(&dir, "alice@example.com", None, vec![]);
    assert_eq!(pam.acct_mgmt(PAM_SILENT), PAM_SUCCESS);
    assert_eq!(
        env.api_requests(),
        0,
        "no push for a non-interactive caller"
    );
    assert_logged(&env, &["INFO", "no U2F push"]);
    // The module alone answers PAM_IGNORE.
    let dir = ServiceDir::new(
        "cron-only",
        &[format!(
            "account sufficient {} {}",
            m.display(),
            env.args(LOCAL)
        )],
    );
    let mut pam = Pam::start(&dir, "alice@example.com", None, vec![]);
    assert_ne!(pam.acct_mgmt(PAM_SILENT), PAM_SUCCESS);
    // Remote, or not silent: the push happens.
    let dir = env.service(LOCAL);
    let mut pam = Pam::start(&dir, "alice@example.com", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(PAM_SILENT), PAM_SUCCESS);
    let mut pam = Pam::start(&dir, "alice@example.com", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    assert_eq!(env.api_requests(), 2);
    let _ = PAM_IGNORE;
}

#[test]
fn a_remote_host_that_is_not_utf8_is_refused_not_sent_as_local() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let mut pam = Pam::start(
        &dir,
        "alice",
        None,
        vec![Answer::text(ALICE), Answer::text(env.code())],
    );
    pam.set_rhost_bytes(b"192.0.2.\xff");
    assert_eq!(pam.authenticate(0), PAM_AUTH_ERR);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 0);
    assert_logged(
        &env,
        &[
            "WARN",
            "PAM_RHOST is not valid UTF-8",
            r#"rhost="192.0.2.\xff""#,
        ],
    );
}

#[test]
fn a_host_name_server_url_resolves_and_verifies_by_name() {
    // The name goes through the bounded resolver and SNI/verification use
    // the DNS name (the dev certificate names "localhost").
    let env = Env::new(Options::default());
    let port = env.server().addr().port();
    let l = env.totp(&format!("server_url=localhost:{port}"), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // A name that does not exist: an outage.
    let l = env.totp(
        "server_url=no-such-host.invalid offline_users=alice",
        &env.code(),
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(
        &env,
        &["name resolution failed", "admitted as offline user"],
    );
}

// --- in a child process: resource limits, stderr, LD_PRELOAD ---------------

#[test]
fn child_login_entry() {
    child::entry();
}

#[test]
fn a_panic_is_system_err_and_prints_nothing_on_stderr() {
    // Under su, stderr is the user's terminal and RUST_BACKTRACE theirs.
    // The trigger exists in debug builds and in the release build of
    // feature test-panic-trigger, which make test-dist runs this test
    // against with WPAM_REQUIRE_PANIC_TRIGGER=1; the module that ships has
    // none, so there is nothing to run against it.
    let module = std::fs::read(pamdrv::module_path()).expect("read the module");
    if !module.windows(13).any(|w| w == b"debug_panic=1") {
        assert!(
            std::env::var_os("WPAM_REQUIRE_PANIC_TRIGGER").is_none(),
            "WPAM_REQUIRE_PANIC_TRIGGER: {} has no debug_panic trigger",
            pamdrv::module_path().display()
        );
        eprintln!("SKIPPED: this module is a release build without the debug_panic trigger");
        return;
    }
    let env = Env::new(Options::default());
    let dir = env.service("debug_panic=1");
    let run = child::login_in_child(
        &dir,
        "alice",
        &[ALICE, &env.code()],
        child::How {
            env: &[("RUST_BACKTRACE", "full"), ("RUST_LIB_BACKTRACE", "1")],
            ..child::How::default()
        },
    );
    assert_eq!(run.auth, Some(PAM_SYSTEM_ERR), "{run:?}");
    assert!(
        !run.stderr.contains("panic") && !run.stderr.contains("debug_panic"),
        "the panic reached stderr: {}",
        run.stderr
    );
    assert_logged(&env, &["ERROR", "internal error (panic", "PAM_SYSTEM_ERR"]);
}

#[test]
fn descriptor_exhaustion_is_a_local_error_never_an_outage() {
    // `prlimit --nofile=N su ...`: EMFILE used to surface as "name not
    // found" or a trust-store read error, both taken as an outage. The
    // code is wrong, the user an offline one: no limit may admit.
    let env = Env::new(Options::default());
    let port = env.server().addr().port();
    let dir = env.service(&format!("server_url=localhost:{port} offline_users=alice"));
    let wrong = devserver::wrong_totp(ALICE_SECRET);
    let mut seen = Vec::new();
    for n in 3..=24u64 {
        let how = child::How {
            nofile: Some(n),
            ..child::How::default()
        };
        let run = child::login_in_child(&dir, "alice", &[ALICE, &wrong], how);
        assert_ne!(
            run.auth,
            Some(PAM_SUCCESS),
            "RLIMIT_NOFILE={n} admitted the login: {}",
            env.log_text()
        );
        seen.push((n, run.auth));
    }
    // Some limit reaches the module and makes it fail locally, with the
    // cause in the log; a generous one reaches the API (wrong code).
    assert!(
        seen.iter().any(|(_, a)| *a == Some(PAM_SERVICE_ERR)),
        "{seen:?}\n{}",
        env.log_text()
    );
    assert!(
        seen.iter().any(|(_, a)| *a == Some(PAM_AUTH_ERR)),
        "{seen:?}"
    );
    assert_logged(&env, &["ERROR", "local error", "RLIMIT_NOFILE"]);
    eprintln!("RLIMIT_NOFILE -> auth: {seen:?}");
}

#[test]
fn secrets_do_not_survive_in_freed_memory() {
    // An LD_PRELOAD free()/realloc() hook reports every freed block that
    // still holds the service key or the serialized code (the child login
    // process is the module's host; the dev API runs here, in the parent).
    let key = format!("wpam-freescan-key-{:016x}", {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos());
        h.finish()
    });
    let env = Env::new(Options {
        service_key: key.clone(),
        ..Options::default()
    });
    let so = env.dir.join("freescan.so");
    let cc = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&so)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/freescan.c"
        ))
        .output()
        .expect("run cc");
    assert!(
        cc.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let conf = env.dir.join("wpam.conf");
    std::fs::write(&conf, format!("service_key={key}\n")).expect("write conf");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let args = env
        .args(&format!("config={}", conf.display()))
        .replace(&format!("service_key={KEY}"), "");
    let dir = ServiceDir::wpam("it", &pamdrv::module_path(), &args);
    let code = env.code();
    let needles = env.dir.join("needles");
    std::fs::write(
        &needles,
        format!("{key}\n\"totpCode\":\"{code}\"\n{}\n", child::CANARY),
    )
    .expect("write needles");
    let out = env.dir.join("freescan.out");
    // After nss_wrapper, which answers for alice (tests/support/with-test-users.sh).
    let so_s = match std::env::var("LD_PRELOAD") {
        Ok(pre) if !pre.is_empty() => format!("{pre}:{}", so.display()),
        _ => so.display().to_string(),
    };
    let needles_s = needles.display().to_string();
    let out_s = out.display().to_string();
    let env_vars = [
        ("LD_PRELOAD", so_s.as_str()),
        ("WPAM_FREESCAN_NEEDLES", needles_s.as_str()),
        ("WPAM_FREESCAN_OUT", out_s.as_str()),
        (child::CANARY_ENV, "1"),
    ];
    let how = child::How {
        env: &env_vars,
        ..child::How::default()
    };
    let run = child::login_in_child(&dir, "alice", &[ALICE, &code], how);
    assert_eq!(run.auth, Some(PAM_SUCCESS), "{run:?}\n{}", env.log_text());
    // The secrets were really used: the key and the code went to the server.
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let j = reqs[0].json.as_ref().expect("json");
    assert_eq!(
        (j["serviceKey"].as_str(), j["totpCode"].as_str()),
        (Some(key.as_str()), Some(code.as_str()))
    );
    let report = std::fs::read_to_string(&out).expect("scanner report");
    let scanned: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("scanned "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(scanned > 100, "the scanner did not run: {report}");
    // Needle 3 is the canary the child freed on purpose: the scanner sees.
    assert!(
        report.contains("hit 3 "),
        "positive control missed: {report}"
    );
    for (i, what) in [(1, "the service key"), (2, "the serialized code")] {
        assert!(
            !report.lines().any(|l| l.starts_with(&format!("hit {i} "))),
            "{what} survived in freed memory: {report}"
        );
    }
}

/// alice (an offline user) logs in while every connect fails with one of
/// `errnos` (a seccomp filter in a child): a local error each time, never
/// an outage, and nothing reaches the API. Returns the env for its log.
fn connects_failing_with(errnos: &[i32]) -> Env {
    let env = Env::new(Options::default());
    let dir = env.service("offline_users=alice");
    for &errno in errnos {
        let how = child::How {
            connect_errno: Some(errno),
            ..child::How::default()
        };
        let run = child::login_in_child(&dir, "alice", &[ALICE, &env.code()], how);
        assert_eq!(run.auth, Some(PAM_SERVICE_ERR), "{errno}: {run:?}");
        assert!(
            run.shown
                .iter()
                .any(|m| m.contains("second factor unavailable")),
            "{run:?}"
        );
    }
    assert_eq!(env.api_requests(), 0);
    env
}

#[test]
fn a_connection_refused_by_a_security_policy_is_a_local_error() {
    // SELinux on RHEL refuses sshd's connect with EACCES, a firewall OUTPUT
    // rule with EPERM: this host's doing, never an outage.
    let env = connects_failing_with(&[libc::EACCES, libc::EPERM]);
    assert_logged(
        &env,
        &["ERROR", "local error", "Permission denied", "SELinux"],
    );
    assert_logged(&env, &["ERROR", "Operation not permitted", "SELinux"]);
}

/// A loopback listener whose accept queue is full and never served: Linux
/// drops further SYNs (tcp_conn_request: sk_acceptq_is_full), so a connect
/// to it waits until the client gives up — a real TCP connect timeout,
/// without a firewall. Returns the port and what must stay open.
fn silent_listener() -> (u16, std::os::fd::OwnedFd, Vec<std::net::TcpStream>) {
    let (port, fd) = socket::bound_port(true);
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    let mut held = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (port, fd, held),
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!(
        "the accept queue of a backlog-0 listener never filled ({} connections)",
        held.len()
    );
}

#[test]
fn a_connect_that_times_out_is_an_outage_never_a_refusal() {
    let env = Env::new(Options::default());
    let (port, _listener, _held) = silent_listener();
    let dir = |extra: &str| {
        let args = env.args(extra).replace(
            &format!("server_url={}", env.addr),
            &format!("server_url=127.0.0.1:{port}"),
        );
        ServiceDir::wpam("it", &pamdrv::module_path(), &args)
    };
    let answers = || vec![Answer::text(ALICE), Answer::text(env.code())];
    let t = Instant::now();
    let l = login(&dir(""), "alice", Some("192.0.2.10"), answers(), 0);
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
    // It waited for its deadline (timeout=2): a timeout, not a refusal.
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(
        t.elapsed() < Duration::from_secs(2) + SLACK,
        "{:?}",
        t.elapsed()
    );
    let l = login(
        &dir("offline_users=alice"),
        "alice",
        Some("192.0.2.10"),
        answers(),
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(&env, &[" INFO ", "admitted as offline user"]);
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn an_address_this_host_cannot_use_is_a_local_error_never_an_outage() {
    // No IPv6 here, no local address for the route: when every address is
    // unusable the request could never leave this host, which an attacker
    // who controls its configuration must not turn into offline admission.
    let env = connects_failing_with(&[libc::EADDRNOTAVAIL, libc::EAFNOSUPPORT]);
    assert_logged(&env, &["ERROR", "no usable address for the API"]);
    assert!(!env.log_text().contains("admitted"), "{}", env.log_text());
}

// --- rows and shapes a stricter or differently shaped server brings --------

#[test]
fn a_redirect_is_an_answer_never_followed() {
    // A 302 with a success body: neither followed (a second request) nor read.
    let env = Env::new(with_fault(Fault::Redirect));
    let l = env.totp("offline_users=alice", &env.code());
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert_eq!(env.api_requests(), 1, "the redirect was followed");
    assert_logged(&env, &["WARN", "HTTP 302"]);
}

#[test]
fn the_answer_cap_is_64_kib_exactly() {
    let env = Env::new(with_fault(Fault::Size(64 * 1024)));
    assert_eq!(
        env.totp("", &env.code()).auth,
        PAM_SUCCESS,
        "{}",
        env.log_text()
    );
    let env = Env::new(with_fault(Fault::Size(64 * 1024 + 1)));
    assert_eq!(
        env.totp("offline_users=alice", &env.code()).auth,
        PAM_AUTH_ERR
    );
    assert_logged(&env, &["WARN", "larger than 64 KiB"]);
}

#[test]
fn no_proxy_is_taken_from_the_environment() {
    // Under su the environment is the user's: a dead proxy must not make
    // the API unreachable (and an outage of it).
    let env = Env::new(Options::default());
    let dir = env.service("");
    let dead = "http://127.0.0.1:1";
    let vars = [
        ("HTTPS_PROXY", dead),
        ("https_proxy", dead),
        ("ALL_PROXY", dead),
        ("all_proxy", dead),
        ("HTTP_PROXY", dead),
    ];
    let how = child::How {
        env: &vars,
        ..child::How::default()
    };
    let run = child::login_in_child(&dir, "alice", &[ALICE, &env.code()], how);
    assert_eq!(run.auth, Some(PAM_SUCCESS), "{run:?}\n{}", env.log_text());
    assert_eq!(env.api_requests(), 1);
}

#[test]
fn account_phase_checks_again_for_another_user() {
    // The auth phase passed for alice; PAM_USER is then changed: the mark is
    // for alice only, so the account phase asks for bob.
    let env = Env::new(Options::default());
    let dir = env.service("");
    let mut pam = Pam::start(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text(env.code())],
    );
    assert_eq!(pam.authenticate(0), PAM_SUCCESS);
    pam.set_user("bob@example.com");
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR, "bob denies U2F");
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[1].field("wID"), Some("bob@example.com"));
    assert_eq!(reqs[1].field("tfaMethod"), Some("U2F"));
}

#[test]
fn account_phase_follows_the_offline_rule() {
    let mut env = Env::new(Options::default());
    env.stop_server();
    let dir = env.service("offline_users=root");
    let mut pam = Pam::start(&dir, "root", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS, "{}", env.log_text());
    let mut pam = Pam::start(&dir, "alice", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTHINFO_UNAVAIL);
    assert_logged(&env, &["account", "admitted as offline user"]);
    assert_logged(&env, &["account", "denied (not an offline user)"]);
}

#[test]
fn a_server_that_refuses_an_empty_user_ip_denies_local_logins() {
    // The reference module never sends an empty userIP (it refuses logins
    // without PAM_RHOST); a real server may refuse one. That is a denial
    // with the server's reason, never an outage.
    for refusals in [Refusals::HttpCodes, Refusals::Ok200, Refusals::Status500] {
        let env = Env::new(Options {
            strict: Strict {
                require_ip: true,
                refusals,
                ..Strict::for_main_tests()
            },
            dialect: devserver::Dialect::Lenient,
            ..Options::default()
        });
        let dir = env.service("offline_users=alice");
        let answers = vec![Answer::text(ALICE), Answer::text(env.code())];
        let l = login(&dir, "alice", None, answers, 0);
        assert_eq!(l.auth, PAM_AUTH_ERR, "{refusals:?}: {}", env.log_text());
        assert_logged(&env, &["WARN", "userIP is not an IP address"]);
        // With PAM_RHOST the same server admits.
        let l = env.totp("", &env.code());
        assert_eq!(l.auth, PAM_SUCCESS, "{refusals:?}: {}", env.log_text());
    }
}

#[test]
fn every_way_a_server_may_refuse_denies_an_offline_user() {
    // Bad credentials and bad requests as 400/401, as 200 + failed, as 500.
    for refusals in [Refusals::HttpCodes, Refusals::Ok200, Refusals::Status500] {
        let env = Env::new(Options {
            strict: Strict {
                refusals,
                ..Strict::for_main_tests()
            },
            ..Options::default()
        });
        let l = env.totp("service_key=wrong offline_users=alice", &env.code());
        assert_eq!(l.auth, PAM_AUTH_ERR, "{refusals:?}: {}", env.log_text());
        assert_eq!(env.api_requests(), 1);
        assert_logged(&env, &["WARN", "invalid service integration details"]);
        assert!(!env.log_text().contains("admitted"), "{}", env.log_text());
    }
}

#[test]
fn a_code_is_sent_once() {
    // The one-time server: the module never submits a code twice, and a
    // replay (the same code in a second login) is refused by the server.
    let env = Env::new(Options::default());
    let code = env.code();
    assert_eq!(env.totp("", &code).auth, PAM_SUCCESS);
    assert_eq!(env.api_requests(), 1);
    assert_eq!(env.totp("", &code).auth, PAM_AUTH_ERR);
    assert_logged(&env, &["WARN", "already used"]);
}

#[test]
fn transport_shapes_chunked_keep_alive_intermediate_ca_rsa() {
    for (what, shape) in [
        (
            "chunked",
            Shape {
                chunked: true,
                ..Shape::default()
            },
        ),
        (
            "keep-alive",
            Shape {
                keep_alive: true,
                ..Shape::default()
            },
        ),
        (
            "intermediate CA",
            Shape {
                intermediate_ca: true,
                ..Shape::default()
            },
        ),
        (
            "RSA leaf",
            Shape {
                rsa_leaf: true,
                ..Shape::default()
            },
        ),
        (
            "all at once",
            Shape {
                chunked: true,
                keep_alive: true,
                intermediate_ca: true,
                rsa_leaf: true,
            },
        ),
    ] {
        let env = Env::new(Options {
            shape,
            ..Options::default()
        });
        let t = Instant::now();
        let l = env.totp("", &env.code());
        assert_eq!(l.auth, PAM_SUCCESS, "{what}: {}", env.log_text());
        // keep-alive: the module reads the answer and closes; it does not
        // wait for the server to close.
        assert!(t.elapsed() < SLACK, "{what}: {:?}", t.elapsed());
        let l = env.totp("", &devserver::wrong_totp(ALICE_SECRET));
        assert_eq!(l.auth, PAM_AUTH_ERR, "{what}");
    }
}

// --- through an HTTP CONNECT proxy (tinyproxy) ------------------------------

#[test]
fn through_a_proxy_tls_stays_end_to_end() {
    let env = Env::new(Options::default());
    let port = env.server().addr().port();
    let p = proxy::Proxy::start(proxy::Rules {
        connect_ports: &[port],
        basic_auth: None,
    });
    let l = env.totp(&format!("proxy={}", p.url(None)), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_eq!(env.api_requests(), 1);
    // Verified end to end: a CA that does not know the API's certificate
    // fails through the tunnel as it does without one.
    let other = devserver::start(Options::default()).expect("another server");
    let other_ca = env.dir.join("other-ca.pem");
    std::fs::copy(other.ca_path(), &other_ca).expect("copy");
    let l = env.totp(
        &format!("proxy={} ca_file={}", p.url(None), other_ca.display()),
        &env.code(),
    );
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL, "{}", env.log_text());
    assert_logged(&env, &["TLS handshake failed", "invalid peer certificate"]);
}

#[test]
fn a_proxy_that_is_down_or_refuses_the_connect_is_an_outage() {
    let env = Env::new(Options::default());
    // Refuses: CONNECT to the API's port is not allowed (403).
    let p = proxy::Proxy::start(proxy::Rules {
        connect_ports: &[1],
        basic_auth: None,
    });
    let url = p.url(None);
    let l = env.totp(&format!("proxy={url} offline_users=alice"), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    let l = env.totp(&format!("proxy={url}"), "123456");
    assert_eq!(l.auth, PAM_AUTHINFO_UNAVAIL);
    assert_logged(
        &env,
        &["proxy CONNECT failed", "refused the CONNECT: HTTP 403"],
    );
    // Down.
    drop(p);
    let l = env.totp(&format!("proxy={url} offline_users=alice"), "123456");
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(&env, &["TCP connect failed", "Connection refused"]);
    assert_eq!(env.api_requests(), 0);
}

#[test]
fn the_timeout_covers_the_proxy() {
    let env = Env::new(Options::default());
    let silent = proxy::Silent::start();
    let t = Instant::now();
    let l = env.totp(
        &format!("proxy=http://{} offline_users=alice", silent.addr),
        "123456",
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert!(
        t.elapsed() < Duration::from_secs(2) + SLACK,
        "{:?}",
        t.elapsed()
    );
    assert_logged(
        &env,
        &["proxy CONNECT timed out", "admitted as offline user"],
    );
}

#[test]
fn proxy_credentials_come_from_the_config_file_only_and_are_never_logged() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Options::default());
    let port = env.server().addr().port();
    let (user, password) = ("wpam-proxy-user", "proxy-password-not-secret");
    let p = proxy::Proxy::start(proxy::Rules {
        connect_ports: &[port],
        basic_auth: Some((user, password)),
    });
    // In the config file: admitted.
    let conf = env.dir.join("wpam.conf");
    std::fs::write(&conf, format!("proxy={}\n", p.url(Some((user, password))))).expect("conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let l = env.totp(&format!("config={}", conf.display()), &env.code());
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    // On the pam.d line, which every local user can read: refused.
    let l = env.totp(
        &format!("proxy={}", p.url(Some((user, password)))),
        "123456",
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_logged(&env, &["ERROR", "invalid proxy", "config file"]);
    // None given, the proxy asks (407): our configuration, not an outage.
    let l = env.totp(
        &format!("proxy={} offline_users=alice", p.url(None)),
        "123456",
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR, "{}", env.log_text());
    assert_logged(&env, &["ERROR", "asks for credentials (407)"]);
    let log = env.log_text();
    assert!(
        !log.contains(password) && !log.contains(user),
        "credentials in the log: {log}"
    );
    assert_eq!(env.api_requests(), 1);
}

// --- logins tied to a Werbot ID ---------------------------------------------

fn tied_config(env: &Env, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let conf = env.dir.join("tied.conf");
    std::fs::write(&conf, body).expect("conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    format!("config={}", conf.display())
}

#[test]
fn a_tied_login_is_asked_only_for_the_code_and_cannot_pick_another_id() {
    let env = Env::new(Options::default());
    let extra = tied_config(&env, "wid.alice=alice@example.com\n");
    let dir = env.service(&extra);
    // One prompt, the code; the ID is the tied one.
    let code = env.code();
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(&code)],
        0,
    );
    assert_eq!(
        (l.auth, l.account),
        (PAM_SUCCESS, Some(PAM_SUCCESS)),
        "{}",
        env.log_text()
    );
    assert_eq!(
        l.events,
        [Event::Prompt {
            text: PROMPT_CODE.into(),
            echo: false,
            answer: code.clone()
        }]
    );
    // Answering as if asked for an ID does not choose one: the first answer
    // is taken as the code (and refused), bob's push is never sent.
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text("bob@example.com"), Answer::text("")],
        0,
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(l.unused_answers, 1);
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs.iter().all(|r| r.field("wID") == Some(ALICE)),
        "{reqs:?}"
    );
    // Others still get both prompts.
    let l = login(
        &dir,
        "bob",
        Some("192.0.2.10"),
        vec![Answer::text("bob@example.com"), Answer::text("")],
        0,
    );
    assert_eq!(l.auth, PAM_AUTH_ERR, "bob denies U2F");
    assert_eq!(
        l.events
            .iter()
            .filter(|e| matches!(e, Event::Prompt { .. }))
            .count(),
        2
    );
}

#[test]
fn the_login_name_can_be_the_werbot_id_and_the_account_phase_uses_the_tie() {
    let env = Env::new(Options::default());
    let dir = env.service("werbot_id_from_login=true");
    let mut pam = Pam::start(
        &dir,
        ALICE,
        Some("192.0.2.10"),
        vec![Answer::text(env.code())],
    );
    assert_eq!(pam.authenticate(0), PAM_SUCCESS, "{}", env.log_text());
    drop(pam);
    // A publickey-only login (account phase alone) asks the tied ID.
    let extra = tied_config(&env, "wid.root=alice@example.com\n");
    let dir = env.service(&extra);
    let mut pam = Pam::start(&dir, "root", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    let reqs = env.server().requests();
    assert_eq!(reqs.last().and_then(|r| r.field("wID")), Some(ALICE));
    // Ties on the world-readable pam.d line are ignored, with a warning.
    let dir = env.service("wid.root=bob@example.com");
    let l = login(
        &dir,
        "root",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text("123456")],
        0,
    );
    assert_eq!(
        l.events
            .iter()
            .filter(|e| matches!(e, Event::Prompt { .. }))
            .count(),
        2
    );
    assert_logged(&env, &["WARN", "root-only config file only"]);
}

// --- Offline codes (offline_secrets): an offline user admitted for an
// outage gives a code of their own secret as well.

/// The offline secret of alice in these tests: RFC 6238's SHA-1 seed, not
/// her Werbot secret. Codes are computed by the dev server's own TOTP.
const OFFLINE_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const OFFLINE_PROMPT: &str = "Werbot is unreachable. Offline code for alice: ";

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Env {
    /// Writes the offline secrets file with `mode`; returns the arguments
    /// that make alice an offline user who needs a code.
    fn offline(&self, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let p = self.offline_file();
        std::fs::write(&p, text).expect("write offline secrets");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        format!("offline_users=alice offline_secrets={}", p.display())
    }

    fn offline_file(&self) -> PathBuf {
        self.dir.join("wpam-offline")
    }

    fn alice_offline(&self) -> String {
        self.offline(&format!("# break-glass\nalice {OFFLINE_SECRET}\n"), 0o600)
    }
}

fn offline_code() -> String {
    devserver::totp_at(OFFLINE_SECRET, now_unix())
}

fn offline_prompt_shown(l: &Login) -> bool {
    l.events
        .iter()
        .any(|e| matches!(e, Event::Prompt { text, echo: false, .. } if text == OFFLINE_PROMPT))
}

#[test]
fn offline_code_right_then_the_same_again_then_a_wrong_one() {
    let mut env = Env::new(Options::default());
    let args = env.alice_offline();
    let werbot_code = env.code();
    env.stop_server();
    let code = offline_code();
    let l = env.login(
        &args,
        "alice",
        &[ALICE.as_bytes(), werbot_code.as_bytes(), code.as_bytes()],
    );
    assert_eq!(
        (l.auth, l.account),
        (PAM_SUCCESS, Some(PAM_SUCCESS)),
        "{:?}\n{}",
        l.events,
        env.log_text()
    );
    assert_eq!(
        l.events.last(),
        Some(&Event::Prompt {
            text: OFFLINE_PROMPT.into(),
            echo: false,
            answer: code.clone()
        })
    );
    assert_logged(&env, &[" INFO ", "asking for the offline code"]);
    assert_logged(
        &env,
        &[" INFO ", "valid offline code", "admitted as offline user"],
    );
    // The same code again (its time step is used): denied.
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert_logged(&env, &[" WARN ", "offline code already used"]);
    // A wrong code: denied.
    let wrong = devserver::wrong_totp(OFFLINE_SECRET);
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", wrong.as_bytes()]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_logged(&env, &[" WARN ", "wrong offline code"]);
    let log = env.log_text();
    assert!(!log.contains(OFFLINE_SECRET), "{log}");
    assert!(!log.contains(&format!("\"{code}\"")), "{log}");
    check_log_lines(&log);
    // The state beside the file is root-only.
    let state = std::fs::metadata(env.dir.join("wpam-offline.state/state")).expect("state file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(state.permissions().mode() & 0o777, 0o600);
}

#[test]
fn offline_codes_are_rate_limited_and_the_right_one_waits_out_the_window() {
    let mut env = Env::new(Options::default());
    let args = env.alice_offline();
    env.stop_server();
    let wrong = devserver::wrong_totp(OFFLINE_SECRET);
    for _ in 0..3 {
        let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", wrong.as_bytes()]);
        assert_eq!(l.auth, PAM_AUTH_ERR);
    }
    let code = offline_code();
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_AUTH_ERR, "{}", env.log_text());
    assert!(
        matches!(l.events.last(), Some(Event::Error(m)) if m.contains("Too many wrong offline codes")),
        "{:?}",
        l.events
    );
    assert_logged(
        &env,
        &[" WARN ", "rate-limited", "denied without checking the code"],
    );
}

#[test]
fn an_offline_user_without_a_secret_is_denied_and_the_error_names_the_file() {
    let mut env = Env::new(Options::default());
    let args = env.offline(&format!("root {OFFLINE_SECRET}\n"), 0o600);
    env.stop_server();
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"123456", b"123456"]);
    assert_eq!(l.auth, PAM_SERVICE_ERR, "{}", env.log_text());
    assert!(!offline_prompt_shown(&l), "{:?}", l.events);
    let file = env.offline_file().display().to_string();
    assert_logged(&env, &[" ERROR ", "has no secret", &file]);
}

#[test]
fn u2f_during_an_outage_still_needs_the_offline_code() {
    let mut env = Env::new(Options::default());
    let args = env.alice_offline();
    env.stop_server();
    // Nothing to give at the offline prompt: the conversation fails.
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b""]);
    assert_eq!(l.auth, PAM_CONV_ERR, "{:?}", l.events);
    assert!(offline_prompt_shown(&l));
    let code = offline_code();
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert!(
        matches!(&l.events[2], Event::Info(m) if m.contains("approve")),
        "{:?}",
        l.events
    );
    assert!(offline_prompt_shown(&l));
}

#[test]
fn while_the_api_answers_it_decides_and_no_offline_prompt_appears() {
    let env = Env::new(Options::default());
    let args = env.alice_offline();
    let code = offline_code();
    // The offline code at the Werbot prompt: the server says no.
    let l = env.login(
        &args,
        "alice",
        &[ALICE.as_bytes(), code.as_bytes(), code.as_bytes()],
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(l.unused_answers, 1, "{:?}", l.events);
    assert!(!offline_prompt_shown(&l));
    // A right Werbot code: granted by the server, no offline prompt.
    let werbot = env.code();
    let l = env.login(
        &args,
        "alice",
        &[ALICE.as_bytes(), werbot.as_bytes(), code.as_bytes()],
    );
    assert_eq!(l.auth, PAM_SUCCESS);
    assert!(!offline_prompt_shown(&l));
    // A U2F push the server denies (bob), with an offline code ready.
    let args = env
        .offline(&format!("bob {OFFLINE_SECRET}\n"), 0o600)
        .replace("alice", "bob");
    let l = env.login(&args, "bob", &[b"bob@example.com", b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(l.unused_answers, 1);
    assert!(!std::path::Path::new(&env.dir.join("wpam-offline.state")).exists());
}

#[test]
fn an_offline_secrets_file_others_can_read_is_refused() {
    let mut env = Env::new(Options::default());
    let args = env.offline(&format!("alice {OFFLINE_SECRET}\n"), 0o644);
    env.stop_server();
    let code = offline_code();
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert!(!offline_prompt_shown(&l));
    assert_logged(&env, &[" ERROR ", "offline_secrets", "chmod 0600"]);
    // A malformed line: the file and the line are named, not the secret.
    let args = env.offline(&format!("alice {OFFLINE_SECRET}\nbob\n"), 0o600);
    let l = env.login(&args, "alice", &[ALICE.as_bytes(), b"", code.as_bytes()]);
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_logged(&env, &[" ERROR ", "wpam-offline", "line 2"]);
    // A relative path is a configuration error, whatever the API does.
    let l = env.login(
        "offline_users=alice offline_secrets=wpam-offline",
        "alice",
        &[ALICE.as_bytes(), b""],
    );
    assert_eq!(l.auth, PAM_SERVICE_ERR);
    assert_logged(&env, &[" ERROR ", "invalid offline_secrets"]);
    assert!(!env.log_text().contains(OFFLINE_SECRET));
}

#[test]
fn the_account_phase_of_an_offline_user_needs_the_code_too() {
    let mut env = Env::new(Options::default());
    let args = env.alice_offline();
    env.stop_server();
    let dir = env.service(&args);
    // No answer to give (sshd's account phase cannot prompt): denied.
    let mut pam = Pam::start(&dir, "alice", Some("192.0.2.10"), vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_CONV_ERR, "{}", env.log_text());
    let mut pam = Pam::start(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(offline_code())],
    );
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS, "{}", env.log_text());
    assert_logged(&env, &["account", "valid offline code"]);
}

// --- the login as the password database spells it ----------------------------

#[test]
fn a_login_that_is_no_user_here_is_denied_before_any_call() {
    // `ALICE` while wid.alice= ties alice: the ID prompt used to come back,
    // the attacker's typed ID was sent with user "ALICE", and TRASA
    // lower-cases the login and grants under alice's privileges. A name the
    // password database does not know is denied before anything is asked.
    let env = Env::new(Options::default());
    let extra = tied_config(&env, "wid.alice=alice@example.com\n");
    let dir = env.service(&extra);
    for user in ["ALICE", "Alice", "alice ", "no-such-login"] {
        let l = login(
            &dir,
            user,
            Some("192.0.2.10"),
            vec![Answer::text("mallory@example.com"), Answer::text("123456")],
            0,
        );
        assert_eq!(l.auth, PAM_AUTH_ERR, "{user:?}: {}", env.log_text());
        assert!(l.events.is_empty(), "{user:?} was asked: {:?}", l.events);
    }
    assert_eq!(env.api_requests(), 0, "a request was sent");
    assert_logged(&env, &[" WARN ", "is not a user of this system", "ALICE"]);
    // alice herself still gets in, asked only for the code.
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(env.code())],
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
}

// --- what the real server decides, as the module logs and waits for it -------

#[test]
fn a_passthru_grant_says_so_in_the_log() {
    // A passthru service grants a login mapped to no Werbot user without
    // any second factor; the INFO line must say so, not look like a TOTP.
    let env = Env::new(Options {
        passthru: true,
        ..Options::default()
    });
    let l = env.login("", "erin", &[b"nobody@example.com", b"123456"]);
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert_logged(
        &env,
        &[
            " INFO ",
            "access granted",
            r#"reason="passthru authentication""#,
        ],
    );
}

#[test]
fn a_push_approved_at_59_9_s_after_2_s_of_sending_is_granted_with_the_defaults() {
    // The server spends 2 s sending the push, then waits its 60 s; the user
    // approves 59.9 s into that wait. With the default u2f_timeout (90 s)
    // the module is still waiting when the server grants.
    let mut opts = Options {
        push_send_delay: Duration::from_secs(2),
        ..Options::default()
    };
    opts.users.push(User {
        u2f: devserver::U2f::ApproveAfter(Duration::from_millis(59_900)),
        ..User::new("late@example.com", ALICE_SECRET).with_logins(&["alice"])
    });
    let env = Env::new(opts);
    // The defaults: no u2f_timeout of the test's own.
    let args = env.args("").replace("u2f_timeout=3", "");
    let dir = ServiceDir::wpam("it", &pamdrv::module_path(), &args);
    let t = Instant::now();
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text("late@example.com"), Answer::text("")],
        0,
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{}", env.log_text());
    assert!(
        t.elapsed() >= Duration::from_millis(61_900),
        "{:?}",
        t.elapsed()
    );
    assert_logged(&env, &[" INFO ", "method=U2F", "access granted"]);
}

// --- who must present a second factor (groups=, account_phase=, unenrolled=,
// remember=) and what a retry looks like --------------------------------------

/// The recommended SSH stack: wpam decides, except for a user outside
/// `groups=`, whom pam_permit lets through (their key was the factor).
fn exempt_stack(env: &Env, extra: &str) -> ServiceDir {
    let m = pamdrv::module_path();
    let m = m.display();
    let args = env.args(extra);
    ServiceDir::new(
        "groups",
        &[
            format!("auth [success=done ignore=ignore default=die] {m} {args}"),
            "auth required pam_permit.so".to_string(),
            "account required pam_permit.so".to_string(),
        ],
    )
}

#[test]
fn groups_exclusion_skips_a_supplementary_member_and_nobody_else() {
    let env = Env::new(Options::default());
    let dir = exempt_stack(&env, "groups=!wpam-exempt");
    // erin is in wpam-exempt as a supplementary group only.
    let l = login(&dir, "erin", Some("192.0.2.10"), vec![], 0);
    assert_eq!((l.auth, l.events.len()), (PAM_SUCCESS, 0), "{l:?}");
    assert_eq!(env.api_requests(), 0);
    assert_logged(
        &env,
        &["INFO", "user=\"erin\"", "not asked: outside groups="],
    );
    // alice is asked, and a refusal ends the stack: pam_permit is never
    // reached by anyone the module asked.
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text("000000")],
        0,
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 1);
}

#[test]
fn groups_inclusion_asks_only_members_and_an_unknown_group_denies_everyone() {
    let env = Env::new(Options::default());
    let pilot = exempt_stack(&env, "groups=wpam-pilot");
    let l = login(&pilot, "carol", Some("192.0.2.10"), vec![], 0);
    assert_eq!(l.auth, PAM_SUCCESS, "carol is outside the pilot group");
    let l = login(
        &pilot,
        "bob",
        Some("192.0.2.10"),
        vec![Answer::text("bob@example.com"), Answer::text("")],
        0,
    );
    assert_eq!(
        l.auth, PAM_AUTH_ERR,
        "bob is in the pilot group: asked, push denied"
    );
    assert_eq!(env.api_requests(), 1);
    // A typo in an included group must not exempt everyone.
    let typo = exempt_stack(&env, "groups=wpam-pilto");
    for user in ["alice", "erin", "root"] {
        let l = login(&typo, user, Some("192.0.2.10"), vec![], 0);
        assert_eq!(l.auth, PAM_SERVICE_ERR, "{user}");
    }
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["ERROR", "no group \"wpam-pilto\""]);
    // No setuid caller here: the lookups ran in this process (tests/su.rs
    // proves the root child under su).
    let log = env.log_text();
    assert!(!log.contains("looked up in a root child"), "{log}");
}

/// An account stack of wpam (without PAM_RHOST: `local_user_ip`) and
/// pam_permit: what a key-only login's account phase runs.
fn account_stack(env: &Env, extra: &str) -> ServiceDir {
    let m = pamdrv::module_path();
    let args = env.args(&format!("{LOCAL} {extra}"));
    ServiceDir::new(
        "acct",
        &[
            format!("account required {} {args}", m.display()),
            "account required pam_permit.so".to_string(),
        ],
    )
}

#[test]
fn account_phase_skip_asks_nothing_and_verify_still_pushes() {
    let env = Env::new(Options::default());
    let stack = |extra: &str| account_stack(&env, extra);
    // bob's push is denied: under verify the key-only login fails...
    let mut pam = Pam::start(&stack(""), "bob", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 1);
    // ...under skip nothing is asked.
    let mut pam = Pam::start(&stack("account_phase=skip"), "bob", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    assert!(pam.events().is_empty());
    assert_eq!(env.api_requests(), 1);
    // groups= applies to the account phase too.
    let mut pam = Pam::start(&stack("groups=!wpam-exempt"), "erin", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    assert_eq!(env.api_requests(), 1);
}

#[test]
fn unenrolled_allow_admits_a_tied_login_and_never_a_typed_id() {
    let env = Env::new(Options::default());
    // erin has no Werbot user; tied by werbot_id_from_login.
    let tied = "werbot_id_from_login=true unenrolled=allow";
    let l = env.login(tied, "erin", &[b"123456"]);
    assert_eq!(l.auth, PAM_SUCCESS, "{l:?}");
    assert_logged(
        &env,
        &["WARN", "WITHOUT a second factor", "unenrolled=allow"],
    );
    // deny (the default): refused.
    let l = env.login("werbot_id_from_login=true", "erin", &[b"123456"]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    // A typed ID the server does not know: refused under allow.
    let l = env.login(
        "unenrolled=allow",
        "erin",
        &[b"made-up@example.com", b"123456"],
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
    // A known user's refusal stays a refusal under allow.
    let l = env.login(
        "werbot_id_from_login=true unenrolled=allow",
        "alice@example.com",
        &[b"000000"],
    );
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_eq!(env.api_requests(), 4);
}

#[test]
fn unenrolled_allow_never_admits_the_account_phase_of_an_untied_login() {
    // A key-only login (account phase alone) of erin, who has no Werbot
    // user named erin. Without a tie in the config her Werbot ID is what
    // she types in the auth phase; the login name the account phase falls
    // back to is no tie, and "user not found" for it is no rollout case.
    let env = Env::new(Options::default());
    let stack = |extra: &str| account_stack(&env, extra);
    let mut pam = Pam::start(&stack("unenrolled=allow"), "erin", None, vec![]);
    assert_eq!(pam.acct_mgmt(0), PAM_AUTH_ERR);
    // Tied by werbot_id_from_login: admitted, as docs/admin.md's outcomes table says.
    let mut pam = Pam::start(
        &stack("unenrolled=allow werbot_id_from_login=true"),
        "erin",
        None,
        vec![],
    );
    assert_eq!(pam.acct_mgmt(0), PAM_SUCCESS);
    assert_eq!(env.api_requests(), 2);
}

#[test]
fn remember_admits_the_same_login_address_and_service_without_asking() {
    let env = Env::new(Options::default());
    let state = env.dir.join("remember");
    let extra = format!("remember=600 remember_dir={}", state.display());
    let dir = env.service(&extra);
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text(env.code())],
        0,
    );
    assert_eq!((l.auth, l.account), (PAM_SUCCESS, Some(PAM_SUCCESS)));
    assert_eq!(env.api_requests(), 1);
    let l = login(&dir, "alice", Some("192.0.2.10"), vec![], 0);
    assert_eq!(
        (l.auth, l.account),
        (PAM_SUCCESS, Some(PAM_SUCCESS)),
        "{l:?}"
    );
    assert!(l.events.is_empty());
    assert_eq!(env.api_requests(), 1);
    assert_logged(&env, &["INFO", "admitted without asking"]);
    // Another address, another login, or no address: asked as usual.
    for (user, rhost) in [
        ("alice", Some("192.0.2.11")),
        ("bob", Some("192.0.2.10")),
        ("alice", None),
    ] {
        let l = login(&dir, user, rhost, vec![], 0);
        assert_eq!(l.auth, PAM_CONV_ERR, "{user} {rhost:?}: {l:?}");
    }
    // The state is root-only (or the test user's): others cannot plant one.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state)
        .expect("state")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn a_retry_on_the_same_handle_asks_only_for_the_code_and_a_refusal_is_told() {
    let env = Env::new(Options::default());
    let dir = env.service("");
    let mut pam = Pam::start(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text("000000")],
    );
    assert_eq!(pam.authenticate(0), PAM_AUTH_ERR);
    assert!(
        matches!(pam.events().last(), Some(Event::Error(m)) if m == "Werbot: code not accepted."),
        "{:?}",
        pam.events()
    );
    pam.push_answers(vec![Answer::text(env.code())]);
    assert_eq!(pam.authenticate(0), PAM_SUCCESS);
    let id_prompts = pam
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Prompt { text, .. } if text == PROMPT_ID))
        .count();
    assert_eq!(id_prompts, 1, "{:?}", pam.events());
    let reqs = env.server().requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].field("wID"), Some(ALICE));
    // PAM_SILENT: the refusal is not shown.
    let l = env.login("", "alice", &[ALICE.as_bytes(), b"000000"]);
    assert!(l.events.iter().any(|e| matches!(e, Event::Error(_))));
    let l = login(
        &dir,
        "alice",
        Some("192.0.2.10"),
        vec![Answer::text(ALICE), Answer::text("000000")],
        PAM_SILENT,
    );
    assert!(
        !l.events.iter().any(|e| matches!(e, Event::Error(_))),
        "{l:?}"
    );
}

#[test]
fn a_password_typed_at_the_id_prompt_is_never_logged_in_full() {
    let env = Env::new(Options::default());
    let secret = "correct-horse-battery-7";
    let l = env.login("", "alice", &[secret.as_bytes(), b"123456"]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    let l = env.login("", "alice", &[secret.as_bytes(), b"12"]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    let log = env.log_text();
    assert!(!log.contains(secret) && !log.contains("horse"), "{log}");
    assert!(
        log.contains("(typed, 23 bytes, not known to the server)"),
        "{log}"
    );
    // Once the server knows the ID, it is logged in full.
    let l = env.login("", "alice", &[ALICE.as_bytes(), b"000000"]);
    assert_eq!(l.auth, PAM_AUTH_ERR);
    assert_logged(&env, &[&format!("wID=\"{ALICE}\""), "INVALID_TOTP"]);
}

#[test]
fn prompts_are_reworded_with_linux_pam_brackets() {
    let env = Env::new(Options::default());
    let l = env.login(
        "[prompt_id=Werbot user: ] [prompt_code=Code (empty: push): ]",
        "alice",
        &[ALICE.as_bytes(), env.code().as_bytes()],
    );
    assert_eq!(l.auth, PAM_SUCCESS, "{l:?}");
    let prompts: Vec<&str> = l
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Prompt { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(prompts, ["Werbot user: ", "Code (empty: push): "]);
}
