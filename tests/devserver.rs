//! The development Werbot API server, exercised over real HTTPS: with ureq (the module's
//! own HTTP client) and with the raw client in the support module.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/devserver.rs"]
mod devserver;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devserver::{Fault, Options, Running, U2f, User};
use serde_json::{json, Value};

fn server(opts: Options) -> Running {
    devserver::start(opts).expect("start the dev server")
}

fn agent(r: &Running, timeout: Duration) -> ureq::Agent {
    let pem = std::fs::read(r.ca_path()).expect("read ca.pem");
    let ca = ureq::tls::Certificate::from_pem(&pem).expect("parse ca.pem");
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn body(wid: &str, method: &str, code: &str) -> Value {
    json!({
        "serviceID": "dev-service",
        "serviceKey": "dev-key-not-secret",
        "user": "alice",
        "tfaMethod": method,
        "totpCode": code,
        "userIP": "192.0.2.7",
        "wID": wid,
    })
}

/// POST through ureq; (status, body text) or the transport error as text.
fn post(r: &Running, b: &Value, timeout: Duration) -> Result<(u16, String), String> {
    let mut resp = agent(r, timeout)
        .post(r.api_url())
        .header("Content-Type", "application/json")
        .send(b.to_string().as_bytes())
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(8 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((status, text))
}

fn post_json(r: &Running, b: &Value) -> (u16, Value) {
    let (status, text) = post(r, b, Duration::from_secs(10)).expect("request");
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

fn raw(r: &Running, method: &str, path: &str, b: Option<&[u8]>) -> devserver::HttpResponse {
    devserver::https_request(
        r.addr(),
        "127.0.0.1",
        r.ca_pem().as_bytes(),
        method,
        path,
        b,
        Duration::from_secs(10),
    )
    .expect("raw request")
}

#[test]
fn totp_success_and_recording() {
    let r = server(Options::default().lenient());
    assert!(r.server_url().starts_with("127.0.0.1:"));
    assert!(r.ca_path().starts_with(r.state_dir()));
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    let (status, v) = post_json(&r, &body("alice@example.com", "totp", &code));
    assert_eq!(status, 200);
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["reason"], "");
    assert_eq!(v["intent"], "totp");
    assert_eq!(v["data"]["user"], "alice@example.com");
    let token = v["data"]["session_token"].as_str().expect("token");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

    // Keys in the order of the reference's Go struct; this lenient default
    // writes empty fields, `Strict::minimal_json` leaves them out (`omitempty`),
    // as the reference's own types would.
    let (_, text) = post(
        &r,
        &body("alice@example.com", "totp", &code),
        Duration::from_secs(10),
    )
    .expect("again");
    assert!(
        text.starts_with(r#"{"status":"success","reason":"","intent":"totp","data":{"#),
        "{text}"
    );
    let (_, text) = post(
        &r,
        &body("alice@example.com", "totp", "12345x"),
        Duration::from_secs(10),
    )
    .expect("failed");
    assert!(
        text.starts_with(
            r#"{"status":"failed","reason":"invalid totp code","intent":"totp","data":null}"#
        ),
        "{text}"
    );

    // Case-insensitive Werbot ID.
    let (_, v) = post_json(&r, &body("ALICE@example.COM", "totp", &code));
    assert_eq!(v["status"], "success", "{v}");

    let reqs = r.requests();
    assert_eq!(reqs.len(), 4);
    let q = &reqs[0];
    assert_eq!(q.method, "POST");
    assert_eq!(q.path, "/auth/agent/nix");
    assert_eq!(q.field("wID"), Some("alice@example.com"));
    assert_eq!(q.field("totpCode"), Some(code.as_str()));
    assert_eq!(q.field("userIP"), Some("192.0.2.7"));
    assert!(q.header("Content-Type").is_some_and(|c| c.contains("json")));
    assert!(q.headers.iter().all(|(n, _)| *n == n.to_ascii_lowercase()));
    assert_eq!(serde_json::from_slice::<Value>(&q.body).ok(), q.json);

    // The JSON-lines log has the same requests.
    let log = std::fs::read_to_string(r.state_dir().join("requests.jsonl")).expect("jsonl");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["json"]["wID"], "ALICE@example.COM");

    r.clear_requests();
    assert!(r.requests().is_empty());
    let dir = r.state_dir().to_path_buf();
    r.stop();
    assert!(!dir.exists(), "auto temp dir removed on stop");
}

#[test]
fn totp_failures_users_and_logins() {
    let mut opts = Options::default().lenient();
    opts.users.push(User {
        logins: vec!["erin".into()],
        ..User::new("erin", devserver::ALICE_SECRET)
    });
    let r = server(opts);
    let good = devserver::totp_now(devserver::ALICE_SECRET);
    let wrong = format!(
        "{:06}",
        (good.parse::<u32>().expect("digits") + 500_000) % 1_000_000
    );
    for code in [wrong.as_str(), "", "12345", "abcdef", "1234567"] {
        let (status, v) = post_json(&r, &body("alice@example.com", "totp", code));
        assert_eq!(status, 200);
        assert_eq!(v["status"], "failed", "code {code:?}: {v}");
        assert_eq!(v["reason"], "invalid totp code");
    }
    let (status, v) = post_json(&r, &body("nobody@example.com", "totp", &good));
    assert_eq!(
        (status, v["reason"].as_str()),
        (200, Some("user not found"))
    );

    // erin may only enter the unix account "erin"; body() logs in as "alice".
    let (status, v) = post_json(&r, &body("erin", "totp", &good));
    assert_eq!((status, v["reason"].as_str()), (200, Some("access denied")));
    let mut b = body("erin", "totp", &good);
    b["user"] = json!("erin");
    let (_, v) = post_json(&r, &b);
    assert_eq!(v["status"], "success", "{v}");
}

#[test]
fn u2f_behaviours() {
    let mut opts = Options::default().lenient();
    for u in &mut opts.users {
        if u.werbot_id.starts_with("carol") {
            u.u2f = U2f::ApproveAfter(Duration::from_secs(1));
        }
    }
    let r = server(opts);
    let (_, v) = post_json(&r, &body("alice@example.com", "U2F", ""));
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["intent"], "u2f");
    let (_, v) = post_json(&r, &body("bob@example.com", "U2F", ""));
    assert_eq!(
        (v["status"].as_str(), v["reason"].as_str()),
        (Some("failed"), Some("u2f denied"))
    );

    let t = Instant::now();
    let (_, v) = post_json(&r, &body("carol@example.com", "U2F", ""));
    assert_eq!(v["status"], "success", "{v}");
    assert!(t.elapsed() >= Duration::from_secs(1));

    // dave never answers: the client times out, the server notices the close.
    let t = Instant::now();
    let e = post(
        &r,
        &body("dave@example.com", "U2F", ""),
        Duration::from_secs(1),
    )
    .expect_err("dave never answers");
    assert!(t.elapsed() < Duration::from_secs(5), "{e}");
    let end = Instant::now() + Duration::from_secs(5);
    while r.active_connections() > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(r.active_connections(), 0, "held connection released");

    // A code with tfaMethod U2F is a malformed request.
    let (status, _) = post_json(&r, &body("alice@example.com", "U2F", "123456"));
    assert_eq!(status, 400);
}

#[test]
fn never_does_not_block_stop() {
    let r = server(Options::default());
    let addr = r.addr();
    let pem = r.ca_pem().as_bytes().to_vec();
    let b = body("dave@example.com", "U2F", "").to_string();
    let client = std::thread::spawn(move || {
        devserver::https_request(
            addr,
            "localhost",
            &pem,
            "POST",
            "/auth/agent/nix",
            Some(b.as_bytes()),
            Duration::from_secs(30),
        )
    });
    let seen = r.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(seen.len(), 1, "dave's request never arrived: {seen:?}");
    let t = Instant::now();
    r.stop();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stop took {:?}",
        t.elapsed()
    );
    // https_request gives up after its 30 s, so 60 s bounds the join.
    let res = deadline::join(
        client,
        Duration::from_secs(60),
        "the client of dave's request",
    );
    assert!(res.is_err(), "no answer for dave: {res:?}");
}

#[test]
fn protocol_errors() {
    let r = server(Options::default().lenient());
    let mut b = body("alice@example.com", "totp", "000000");
    b["serviceKey"] = json!("wrong");
    let (status, v) = post_json(&r, &b);
    assert_eq!(status, 401);
    assert_eq!(
        v,
        json!({"status": "failed", "reason": "invalid service credentials"})
    );
    let mut b = body("alice@example.com", "totp", "000000");
    b["serviceID"] = json!("other");
    assert_eq!(post_json(&r, &b).0, 401);

    let res = raw(&r, "POST", "/auth/agent/nix", Some(b"not json"));
    assert_eq!(res.status, 400);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("connection"), Some("close"));
    let mut b = body("alice@example.com", "totp", "000000");
    b.as_object_mut().expect("object").remove("userIP");
    assert_eq!(post_json(&r, &b).0, 400);
    let b = body("alice@example.com", "sms", "");
    assert_eq!(post_json(&r, &b).0, 400);

    let res = raw(&r, "POST", "/auth/agent/other", Some(b"{}"));
    assert_eq!(res.status, 404);
    assert_eq!(
        res.json(),
        Some(json!({"status": "failed", "reason": "not found"}))
    );
    let res = raw(&r, "GET", "/auth/agent/nix", None);
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("POST"));
    // Unknown paths are recorded too.
    let paths: Vec<String> = r.requests().into_iter().map(|q| q.path).collect();
    assert!(
        paths.contains(&"/auth/agent/other".to_string()),
        "{paths:?}"
    );
}

#[test]
fn prefix() {
    let r = server(Options {
        prefix: "/api".into(),
        ..Options::default()
    });
    assert!(r.server_url().ends_with("/api"));
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    let (_, v) = post_json(&r, &body("alice@example.com", "totp", &code));
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(r.requests()[0].path, "/api/auth/agent/nix");
    let b = body("alice@example.com", "totp", &code).to_string();
    assert_eq!(
        raw(&r, "POST", "/auth/agent/nix", Some(b.as_bytes())).status,
        404
    );
}

#[test]
fn faults() {
    let r = server(Options::default());
    let code = || devserver::totp_now(devserver::ALICE_SECRET);
    let alice = || body("alice@example.com", "totp", &code());

    r.set_fault(Some(Fault::Status500));
    let (status, v) = post_json(&r, &alice());
    assert_eq!(status, 500);
    assert_eq!(v["status"], "failed");

    r.set_fault(Some(Fault::NonJson));
    let (status, text) = post(&r, &alice(), Duration::from_secs(10)).expect("nonjson");
    assert_eq!((status, text.as_str()), (200, devserver::NON_JSON_BODY));

    r.set_fault(Some(Fault::Huge));
    let (status, text) = post(&r, &alice(), Duration::from_secs(20)).expect("huge");
    assert_eq!(status, 200);
    assert_eq!(text.len(), devserver::HUGE_BODY_LEN);
    assert!(text.starts_with(r#"{"status":"success","reason":""#));
    // With ureq's default 10 MB cap it is read whole; a 64 KiB cap must fail.
    let mut resp = agent(&r, Duration::from_secs(20))
        .post(r.api_url())
        .header("Content-Type", "application/json")
        .send(alice().to_string().as_bytes())
        .expect("huge again");
    assert!(resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .is_err());

    r.set_fault(Some(Fault::Slow(Duration::from_secs(1))));
    let t = Instant::now();
    let (_, v) = post_json(&r, &alice());
    assert!(t.elapsed() >= Duration::from_secs(1));
    assert_eq!(v["status"], "success", "slow then normal: {v}");

    r.set_fault(Some(Fault::Reset));
    let e = post(&r, &alice(), Duration::from_secs(10)).expect_err("reset");
    assert!(!e.is_empty());

    // Global faults apply to unknown users too.
    r.set_fault(Some(Fault::Status500));
    assert_eq!(post_json(&r, &body("nobody", "totp", "000000")).0, 500);
    assert_eq!(r.fault(), Some(Fault::Status500));

    r.set_fault(None);
    let (status, v) = post_json(&r, &alice());
    assert_eq!((status, v["status"].as_str()), (200, Some("success")));
    assert_eq!(r.requests().len(), 8, "every faulted request is recorded");
}

#[test]
fn per_user_fault_and_global_wins() {
    let mut opts = Options::default();
    opts.users.push(User {
        fault: Some(Fault::NonJson),
        ..User::new("flaky", devserver::ALICE_SECRET)
    });
    let r = server(opts);
    let b = body("flaky", "U2F", "");
    let (status, text) = post(&r, &b, Duration::from_secs(10)).expect("per-user");
    assert_eq!((status, text.as_str()), (200, devserver::NON_JSON_BODY));
    // Other users are unaffected.
    assert_eq!(
        post_json(&r, &body("alice@example.com", "U2F", "")).1["status"],
        "success"
    );
    r.set_fault(Some(Fault::Status500));
    assert_eq!(
        post(&r, &b, Duration::from_secs(10)).expect("global").0,
        500
    );
}

#[test]
fn control_endpoints() {
    let r = server(Options::default());
    let remote = devserver::Remote::new(r.addr(), &r.ca_path()).expect("remote");
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    post_json(&r, &body("alice@example.com", "totp", &code));

    let recs = remote.requests().expect("GET /_dev/requests");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].field("wID"), Some("alice@example.com"));
    let res = raw(&r, "GET", "/_dev/requests", None);
    let list = res.json().expect("json array");
    assert_eq!(list[0]["method"], "POST");
    assert!(list[0]["body"]
        .as_str()
        .is_some_and(|b| b.contains("alice@example.com")));
    assert!(list[0]["headers"]["content-type"].is_string());

    remote
        .set_fault(Some(&Fault::Status500))
        .expect("set fault");
    assert_eq!(r.fault(), Some(Fault::Status500));
    // Control requests are never faulted.
    assert_eq!(remote.requests().expect("still works").len(), 1);
    let res = raw(&r, "POST", "/_dev/fault", Some(br#"{"fault":"slow:1"}"#));
    assert_eq!(res.status, 200);
    assert_eq!(r.fault(), Some(Fault::Slow(Duration::from_secs(1))));
    let res = raw(&r, "POST", "/_dev/fault", Some(br#"{"fault":"teapot"}"#));
    assert_eq!(res.status, 400);
    remote.set_fault(None).expect("clear fault");
    assert_eq!(r.fault(), None);

    remote.clear().expect("clear");
    assert!(r.requests().is_empty());
    assert!(
        remote.requests().expect("empty").is_empty(),
        "control requests not recorded"
    );
}

#[test]
fn certificates() {
    let r = server(Options::default());
    // Every default SAN verifies.
    for name in ["localhost", "127.0.0.1"] {
        let res = devserver::https_request(
            r.addr(),
            name,
            r.ca_pem().as_bytes(),
            "GET",
            "/x",
            None,
            Duration::from_secs(5),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(res.status, 404);
    }
    let e = devserver::https_request(
        r.addr(),
        "other.example",
        r.ca_pem().as_bytes(),
        "GET",
        "/x",
        None,
        Duration::from_secs(5),
    )
    .expect_err("wrong name");
    assert!(e.to_string().contains("certificate"), "{e}");
    // Another server's CA is not trusted.
    let other = server(Options::default());
    let e = devserver::https_request(
        r.addr(),
        "localhost",
        other.ca_pem().as_bytes(),
        "GET",
        "/x",
        None,
        Duration::from_secs(5),
    )
    .expect_err("unknown CA");
    assert!(e.to_string().contains("certificate"), "{e}");

    let expired = server(Options {
        cert_expired: true,
        cert_names: vec!["127.0.0.1".into()],
        ..Options::default()
    });
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    let e = post(
        &expired,
        &body("alice@example.com", "totp", &code),
        Duration::from_secs(5),
    )
    .expect_err("expired certificate");
    assert!(e.to_lowercase().contains("expired"), "{e}");
    assert!(expired.requests().is_empty(), "no request got through");
}

#[test]
fn robust_against_bad_clients() {
    let r = server(Options::default());
    // Plain TCP: connect and leave; send garbage; half a TLS handshake.
    drop(TcpStream::connect(r.addr()).expect("connect"));
    let mut s = TcpStream::connect(r.addr()).expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = Instant::now() + Duration::from_secs(10);
    deadline::read_to_end(&mut s, end, "the server's answer to plain-text HTTP");
    drop(s);

    // TLS, then disconnect mid-request.
    let cfg = devserver::client_config(r.ca_pem().as_bytes()).expect("client config");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(cfg, name).expect("client");
    let tcp = TcpStream::connect(r.addr()).expect("connect");
    // The handshake inside write_all reads from the server.
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"POST /auth/agent/nix HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"se")
        .expect("write");
    tls.flush().expect("flush");
    drop(tls);

    // Oversized header and body are refused with status codes.
    let big = format!("/{}", "a".repeat(20_000));
    assert_eq!(raw(&r, "GET", &big, None).status, 431);
    let body2 = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(raw(&r, "POST", "/auth/agent/nix", Some(&body2)).status, 413);

    // Still serving.
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    assert_eq!(
        post_json(&r, &body("alice@example.com", "totp", &code)).1["status"],
        "success"
    );
    let end = Instant::now() + Duration::from_secs(5);
    while r.active_connections() > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(r.active_connections(), 0);
}

#[test]
fn chunked_request_body() {
    let r = server(Options::default());
    let code = devserver::totp_now(devserver::ALICE_SECRET);
    let b = body("alice@example.com", "totp", &code).to_string();
    let (a, z) = b.split_at(10);
    let cfg = devserver::client_config(r.ca_pem().as_bytes()).expect("client config");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(cfg, name).expect("client");
    let tcp = TcpStream::connect(r.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let req = format!(
        "POST /auth/agent/nix HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{z}\r\n0\r\n\r\n",
        a.len(),
        z.len()
    );
    tls.write_all(req.as_bytes()).expect("write");
    // Short reads from here on, so that read_to_end looks at its deadline.
    tls.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let end = Instant::now() + Duration::from_secs(10);
    let out = deadline::read_to_end(&mut tls, end, "the answer to a chunked request");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains(r#""status":"success""#), "{text}");
    assert_eq!(r.requests()[0].field("wID"), Some("alice@example.com"));
}

#[test]
fn strict_modes() {
    use devserver::{Refusals, Strict};
    let code = || devserver::totp_now(devserver::ALICE_SECRET);
    // minimal_json: empty reason/intent and a null data are left out.
    let r = server(Options {
        strict: Strict {
            minimal_json: true,
            one_time_codes: true,
            ..Strict::default()
        },
        dialect: devserver::Dialect::Lenient,
        ..Options::default()
    });
    let c = code();
    let (_, text) = post(
        &r,
        &body("alice@example.com", "totp", &c),
        Duration::from_secs(10),
    )
    .expect("totp");
    assert!(
        text.starts_with(r#"{"status":"success","intent":"totp","data":{"#),
        "{text}"
    );
    // one_time_codes: the same code again is refused.
    let (status, v) = post_json(&r, &body("alice@example.com", "totp", &c));
    assert_eq!((status, v["status"].as_str()), (200, Some("failed")));
    assert_eq!(v["reason"], "totp code already used");
    // Refusals, three ways, and require_ip.
    for (refusals, want) in [
        (Refusals::HttpCodes, 400),
        (Refusals::Ok200, 200),
        (Refusals::Status500, 500),
    ] {
        let r = server(Options {
            strict: Strict {
                refusals,
                require_ip: true,
                ..Strict::default()
            },
            dialect: devserver::Dialect::Lenient,
            ..Options::default()
        });
        let mut b = body("alice@example.com", "totp", &code());
        b["userIP"] = "".into();
        let (status, v) = post_json(&r, &b);
        assert_eq!(status, want, "{refusals:?}");
        assert_eq!(v["status"], "failed", "{refusals:?}");
        assert!(
            v["reason"].as_str().unwrap_or("").contains("userIP"),
            "{refusals:?}: {v}"
        );
    }
}

#[test]
fn transport_shapes() {
    use devserver::Shape;
    let r = server(Options {
        shape: Shape {
            chunked: true,
            keep_alive: true,
            intermediate_ca: true,
            rsa_leaf: true,
        },
        ..Options::default()
    });
    // ureq with the dev CA as the only root: the chain through the
    // intermediate verifies, the chunked body is put together.
    let (status, v) = post_json(
        &r,
        &body(
            "alice@example.com",
            "totp",
            &devserver::totp_now(devserver::ALICE_SECRET),
        ),
    );
    assert_eq!((status, v["status"].as_str()), (200, Some("success")));
    let pem = std::fs::read_to_string(r.ca_path()).expect("ca");
    assert_eq!(
        pem.matches("BEGIN CERTIFICATE").count(),
        1,
        "ca.pem holds the root only"
    );
}

/// The default dialect answers as TRASA's `serviceauth.AgentLogin` does (module doc of
/// tests/support/devserver.rs, with file and line of each rule).
#[test]
fn trasa_answers_by_default() {
    let mut opts = Options::default();
    opts.users.push(User {
        ip_policy: "192.0.2.0/24,2001:db8::1".into(),
        ..User::new("erin", devserver::ALICE_SECRET).with_logins(&["erin"])
    });
    opts.users.push(User {
        disabled: true,
        ..User::new("frank", devserver::ALICE_SECRET).with_logins(&["frank"])
    });
    let r = server(opts);
    let code = || devserver::totp_now(devserver::ALICE_SECRET);
    let text = |b: &Value| {
        let (status, t) = post(&r, b, Duration::from_secs(10)).expect("request");
        assert_eq!(status, 200, "{t}");
        t
    };
    const NULL: &str = r#""data":[null]}"#;
    // A success: no reason, intent agent-login; tfaMethod is ignored.
    let c = code();
    let ok = format!(r#"{{"status":"success","intent":"agent-login",{NULL}"#);
    assert_eq!(text(&body("alice@example.com", "totp", &c)), ok);
    assert_eq!(
        text(&body("alice@example.com", "U2F", &c)),
        ok,
        "a code is TOTP"
    );
    // Accepted again (no replay protection in the ±30 s window).
    assert_eq!(text(&body("alice@example.com", "whatever", &c)), ok);
    // An empty code is a push whatever tfaMethod says.
    assert_eq!(
        text(&body("bob@example.com", "totp", "")),
        format!(r#"{{"status":"failed","reason":"U2F_FAILED","intent":"agent-login",{NULL}"#)
    );
    assert_eq!(text(&body("alice@example.com", "", "")), ok);
    let failed = |reason: &str, intent: &str| {
        format!(r#"{{"status":"failed","reason":"{reason}","intent":"{intent}",{NULL}"#)
    };
    assert_eq!(
        text(&body(
            "alice@example.com",
            "totp",
            &devserver::wrong_totp(devserver::ALICE_SECRET)
        )),
        failed("INVALID_TOTP", "agent-login")
    );
    // Refusals: all HTTP 200.
    let res = raw(&r, "POST", "/auth/agent/nix", Some(b"not json"));
    assert_eq!(res.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&res.body),
        failed("invalid request", "AgentLogin")
    );
    assert_eq!(res.header("cache-control"), Some("no-store, pragma"));
    let mut b = body("alice@example.com", "totp", &code());
    b["user"] = json!(5);
    assert_eq!(text(&b), failed("invalid request", "AgentLogin"));
    let mut b = body("alice@example.com", "totp", &code());
    b["serviceKey"] = json!("wrong");
    assert_eq!(
        text(&b),
        failed("invalid service integration details", "AgentLogin")
    );
    // Missing fields are empty ones; keys match case-insensitively.
    let mut b = body("alice@example.com", "totp", &code());
    b.as_object_mut().expect("object").remove("userIP");
    assert_eq!(text(&b), failed("IP_POLICY_FAILED", "agent-login"));
    let mut b = body("alice@example.com", "totp", &code());
    let ip = b.as_object_mut().expect("object").remove("userIP");
    b["USERIP"] = ip.expect("userIP");
    assert_eq!(text(&b), ok);
    // The ID matches exactly.
    assert_eq!(
        text(&body("ALICE@example.com", "totp", &code())),
        failed("user not found", "AgentLogin")
    );
    assert_eq!(
        text(&body("", "totp", &code())),
        failed("user not found", "AgentLogin")
    );
    assert_eq!(
        text(&body("frank", "totp", &code())),
        failed("User Disabled", "AgentLogin")
    );
    // The login: lower-cased, a leading backslash dropped, then it must be mapped.
    for (login, want) in [
        ("ALICE", ok.clone()),
        ("\\alice", ok.clone()),
        (
            "DOMAIN\\alice",
            failed("policy not assigned", "agent-login"),
        ),
        ("erin", failed("policy not assigned", "agent-login")),
        ("", failed("policy not assigned", "agent-login")),
    ] {
        let mut b = body("alice@example.com", "totp", &code());
        b["user"] = json!(login);
        assert_eq!(text(&b), want, "login {login:?}");
    }
    // IP policies: the default 0.0.0.0/0 holds IPv4 only; empty and host names fail.
    for (wid, login, ip, good) in [
        ("alice@example.com", "alice", "203.0.113.9", true),
        ("alice@example.com", "alice", "203.0.113.9:2222", true),
        ("alice@example.com", "alice", "::ffff:203.0.113.9", true),
        ("alice@example.com", "alice", "2001:db8::5", false),
        ("alice@example.com", "alice", "", false),
        ("alice@example.com", "alice", "host.example", false),
        ("erin", "erin", "192.0.2.200", true),
        ("erin", "erin", "198.51.100.1", false),
        ("erin", "erin", "2001:db8::1", true),
        ("erin", "erin", "[2001:db8::1]:22", true),
        ("erin", "erin", "2001:db8::2", false),
    ] {
        let mut b = body(wid, "totp", &code());
        b["user"] = json!(login);
        b["userIP"] = json!(ip);
        let want = if good {
            ok.clone()
        } else {
            failed("IP_POLICY_FAILED", "agent-login")
        };
        assert_eq!(text(&b), want, "{wid} from {ip:?}");
    }
    assert!(!devserver::trasa_ip_allowed("0.0.0.0/0,bogus", "192.0.2.1"));
}

#[test]
fn trasa_passthru_and_push_wait() {
    let mut opts = Options {
        passthru: true,
        push_send_delay: Duration::from_millis(400),
        push_wait: Duration::from_secs(1),
        ..Options::default()
    };
    for u in &mut opts.users {
        if u.werbot_id.starts_with("carol") {
            // Approved after 0.9 s of the 1 s wait, which starts after 0.4 s sending.
            u.u2f = U2f::ApproveAfter(Duration::from_millis(900));
        }
    }
    let r = server(opts);
    // A login mapped to nobody: granted, no second factor, whatever the ID.
    let mut b = body("nobody", "totp", "");
    b["user"] = json!("postgres");
    let (status, v) = post_json(&r, &b);
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"status":"success","reason":"passthru authentication","intent":"agent-login","data":[null]})
    );
    // A mapped login still needs the user and the factor.
    let (_, v) = post_json(&r, &body("nobody", "totp", ""));
    assert_eq!(v["reason"], "user not found");

    let t = Instant::now();
    let (_, v) = post_json(&r, &body("carol@example.com", "U2F", ""));
    assert_eq!(v["status"], "success", "{v}");
    assert!(
        t.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        t.elapsed()
    );
    // dave never answers: U2F_FAILED once the wait after sending is over.
    let t = Instant::now();
    let (_, v) = post_json(&r, &body("dave@example.com", "U2F", ""));
    assert_eq!(v["reason"], "U2F_FAILED", "{v}");
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(1400) && e < Duration::from_secs(5),
        "{e:?}"
    );
}
