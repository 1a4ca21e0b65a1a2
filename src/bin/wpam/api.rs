//! `api.*`: the path to the Werbot API, step by step, with the module's own
//! code — the same steps, in the same order and under one deadline (the
//! TOTP `timeout`), as `client::deliver` and `client::ask` take for a login,
//! each timed: name resolution, TCP connect, the proxy's CONNECT (with
//! `proxy=`), the TLS handshake with the module's trust settings, then one
//! request that authenticates nobody.
//!
//! That request is the real POST with the configured service credentials,
//! an empty Werbot ID, an empty login and an empty code (`tfaMethod`
//! "totp"): no user can be approved by it and no push is sent. What its
//! answer means is decided by `crate::rules::api_answer`.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::rules::{self as rules, Item};
use pam_wpam::client::{self, CallError, Step};
use pam_wpam::config::Config;
use pam_wpam::resolve;
use pam_wpam::tls;
use pam_wpam::wire::{Request, METHOD_TOTP};

/// The fix for a failed step, from what the module's client says.
fn fix_for(e: &CallError, config: &Config) -> String {
    let server = format!("{}:{}", config.server.host, config.server.port);
    match e {
        CallError::Undelivered {
            step: Step::Resolve,
            ..
        } => format!(
            "check the host name in server_url ({}) and this host's resolver (/etc/resolv.conf)",
            config
                .proxy
                .as_ref()
                .map_or(config.server.host.clone(), |p| p.host.clone())
        ),
        CallError::Undelivered {
            step: Step::Connect,
            ..
        } => match &config.proxy {
            Some(p) => format!("check that the proxy {p} is running and reachable from this host"),
            None => format!(
                "check that the API is up and that no firewall blocks {server} from this host"
            ),
        },
        CallError::Undelivered {
            step: Step::Proxy, ..
        } => format!("check the proxy (proxy=): it must allow CONNECT to {server}"),
        CallError::Undelivered {
            step: Step::Handshake,
            detail,
            ..
        } => {
            if detail.contains("xpired") || detail.contains("NotValidYet") {
                "the server's certificate is expired or not yet valid: renew it (or fix this host's clock)".into()
            } else if detail.contains("NotValidForName") {
                format!(
                    "the certificate does not name {}: use the name it was issued for in server_url",
                    config.server.host
                )
            } else if detail.contains("invalid peer certificate") {
                "the server's certificate chain is not trusted here: set ca_file= to the CA that issued it (or add that CA to the OS trust store)".into()
            } else {
                format!("check that {server} speaks HTTPS (TLS) and is the Werbot API")
            }
        }
        CallError::NoAnswer(_) => {
            "the API took the request and did not answer in time: check the server".into()
        }
        CallError::Local(d)
            if d.contains("TLS setup") || d.contains("ca_file") || d.contains("CA bundle") =>
        {
            "make ca_file (or the OS CA bundle) a readable PEM file of certificates".into()
        }
        CallError::Local(_) => {
            "a failure on this host (see the message: SELinux, a firewall OUTPUT rule, limits?)"
                .into()
        }
    }
}

fn failed(name: &str, e: &CallError, config: &Config, started: Instant) -> Item {
    Item::fail(name, e.to_string(), fix_for(e, config)).timed(started.elapsed())
}

fn not_attempted(name: &str, because: &str) -> Item {
    Item::fail(
        name,
        format!("not attempted ({because} failed)"),
        "fix the failed step above first",
    )
}

/// The timed steps; one item each (`api.proxy` only with a proxy).
pub fn probe(config: &Config) -> Vec<Item> {
    let mut items = Vec::new();
    let deadline = Instant::now() + config.timeout;
    let server = &config.server;
    let proxy = config.proxy.as_ref();
    let rest = |items: &mut Vec<Item>, from: usize, because: &str| {
        let names = [
            "api.resolve",
            "api.connect",
            "api.proxy",
            "api.tls",
            "api.request",
        ];
        for n in &names[from..] {
            if *n == "api.proxy" && proxy.is_none() {
                continue;
            }
            items.push(not_attempted(n, because));
        }
    };

    // 1. name resolution (of the proxy, when there is one), in a child.
    let (host, port) = match proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (server.host.as_str(), server.port),
    };
    let t = Instant::now();
    let addrs = match resolve::resolve(host, port, deadline) {
        Ok(a) => a,
        Err(e) => {
            items.push(failed(
                "api.resolve",
                &client::resolve_failure(e),
                config,
                t,
            ));
            rest(&mut items, 1, "name resolution");
            return items;
        }
    };
    items.push(
        Item::pass(
            "api.resolve",
            format!(
                "{host} → {}{}",
                addrs
                    .iter()
                    .map(SocketAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if proxy.is_some() { " (the proxy)" } else { "" }
            ),
        )
        .timed(t.elapsed()),
    );

    // 2. TCP connect.
    let t = Instant::now();
    let mut tcp = match client::connect(&addrs, deadline) {
        Ok(s) => s,
        Err(e) => {
            items.push(failed("api.connect", &e, config, t));
            rest(&mut items, 2, "TCP connect");
            return items;
        }
    };
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    items.push(Item::pass("api.connect", format!("connected to {peer}")).timed(t.elapsed()));

    // 3. The proxy's tunnel.
    if let Some(p) = proxy {
        let t = Instant::now();
        if let Err(e) = client::tunnel(&mut tcp, server, p, deadline) {
            items.push(failed("api.proxy", &e, config, t));
            rest(&mut items, 3, "proxy CONNECT");
            return items;
        }
        items.push(
            Item::pass(
                "api.proxy",
                format!(
                    "{p} opened a tunnel to {}:{} (TLS stays end to end)",
                    server.host, server.port
                ),
            )
            .timed(t.elapsed()),
        );
    }

    // 4. TLS, with the module's trust settings.
    let t = Instant::now();
    let tls_config =
        match tls::client_config(config.ca_file.as_deref(), config.insecure_skip_verify) {
            Ok(c) => c,
            Err(e) => {
                items.push(failed(
                    "api.tls",
                    &CallError::Local(format!("TLS setup: {e}")),
                    config,
                    t,
                ));
                rest(&mut items, 4, "TLS setup");
                return items;
            }
        };
    let name = match rustls::pki_types::ServerName::try_from(server.host.clone()) {
        Ok(n) => n,
        Err(e) => {
            let e = CallError::Local(format!("server name {}: {e}", server.host));
            items.push(failed("api.tls", &e, config, t));
            rest(&mut items, 4, "TLS setup");
            return items;
        }
    };
    let stream = match tls::handshake(tcp, tls_config, name, deadline) {
        Ok(s) => s,
        Err(e) => {
            items.push(failed("api.tls", &client::handshake_failure(e), config, t));
            rest(&mut items, 4, "TLS handshake");
            return items;
        }
    };
    items.push(tls_item(config, &stream).timed(t.elapsed()));

    // 5. One request that authenticates nobody.
    let t = Instant::now();
    let request = Request {
        service_id: &config.service_id,
        service_key: &config.service_key,
        user: "",
        tfa_method: METHOD_TOTP,
        totp_code: "",
        user_ip: "",
        werbot_id: "",
    };
    let body = request.to_body();
    let endpoint = server.endpoint();
    items.push(match client::ask(stream, &endpoint, &body, deadline) {
        Ok(answer) => match rules::api_answer(&endpoint, answer.status, &answer.body) {
            Ok(d) => Item::pass("api.request", format!("POST {endpoint}: {d}")),
            Err((d, fix)) => Item::fail("api.request", format!("POST {endpoint}: {d}"), fix),
        }
        .timed(t.elapsed()),
        Err(e) => failed("api.request", &e, config, t),
    });
    items
}

/// The handshake's result: version, the chain's subjects, the leaf's days
/// to expiry, and how it was verified.
fn tls_item(config: &Config, stream: &tls::TlsTransport) -> Item {
    let chain = stream.peer_certificates();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut subjects = Vec::new();
    let mut leaf_days = None;
    for (i, der) in chain.iter().enumerate() {
        match cert_info(der) {
            Some((subject, not_after)) => {
                if i == 0 {
                    leaf_days = Some(rules::days_left(not_after, now));
                }
                subjects.push(subject);
            }
            None => subjects.push("(unparsable certificate)".into()),
        }
    }
    let trust = match (&config.ca_file, config.insecure_skip_verify) {
        (_, true) => "NOT verified (insecure_skip_verify)".to_string(),
        (Some(ca), false) => format!("verified against {} and the OS trust store", ca.display()),
        (None, false) => "verified against the OS trust store".to_string(),
    };
    let detail = format!(
        "{}; chain: {}; leaf expires in {} days; {trust}",
        stream.protocol_version().unwrap_or_else(|| "TLS".into()),
        subjects.join(" ← "),
        leaf_days.map_or_else(|| "?".into(), |d| d.to_string()),
    );
    if config.insecure_skip_verify {
        return Item::fail(
            "api.tls",
            detail,
            "remove insecure_skip_verify (set ca_file= to the server's CA instead): anyone on the path can answer for the API",
        );
    }
    match leaf_days {
        Some(d) if d < rules::CERT_WARN_DAYS => Item::fail(
            "api.tls",
            detail,
            format!(
                "renew the server certificate: it expires in {d} days, and then every login fails (offline users excepted)"
            ),
        ),
        _ => Item::pass("api.tls", detail),
    }
}

/// A certificate's subject and its notAfter (Unix seconds).
fn cert_info(der: &[u8]) -> Option<(String, i64)> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    let subject = tbs.subject.to_string();
    let subject = if subject.is_empty() {
        "(empty subject)".to_string()
    } else {
        subject
    };
    Some((subject, i64::try_from(not_after).unwrap_or(i64::MAX)))
}
