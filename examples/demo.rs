//! `make demo`: the module's main job on one machine, no root and no Werbot
//! account needed. Starts the bundled development Werbot API (real TLS, a
//! throwaway CA), writes a PAM service file into a temporary directory and
//! drives the real Linux-PAM library through it (`pam_start_confdir`),
//! printing each conversation and the log lines each login produced. The API
//! answers as the real Werbot server (TRASA's `AgentLogin`) does: its refusals
//! read `INVALID_TOTP`, `U2F_FAILED`, `IP_POLICY_FAILED`.

#[path = "../tests/support/devserver.rs"]
mod devserver;
#[path = "../tests/support/pamdrv.rs"]
mod pamdrv;

use std::path::Path;

use devserver::{Fault, Options, User, ALICE_SECRET};
use pamdrv::{Answer, Event, ServiceDir};

struct Scenario {
    title: &'static str,
    user: &'static str,
    werbot_id: &'static str,
    code: Code,
    api_down: bool,
    offline_users: &'static str,
    /// PAM_RHOST; `None` is a local login (su, console).
    rhost: Option<&'static str>,
    expect: i32,
}

enum Code {
    Alice,
    Wrong,
    Literal(&'static str),
}

fn main() {
    let module = pamdrv::module_path();
    let work = devserver::fresh_temp_dir("wpam-demo").expect("temp dir");
    let log = work.join("wpam.log");
    // The demo users, plus one whose every request makes the API fail.
    let mut opts = Options::default();
    opts.users.push(User {
        fault: Some(Fault::Status500),
        ..User::new("crash@example.com", ALICE_SECRET)
    });
    let server = devserver::start(opts).expect("start the development Werbot API");
    let ca = work.join("ca.pem");
    std::fs::copy(server.ca_path(), &ca).expect("copy CA");
    let url = server.server_url();
    println!("wpam demo");
    println!("  module      {}", module.display());
    println!(
        "  Werbot API  https://{url} (development server, CA {})",
        ca.display()
    );
    println!("  log file    {}", log.display());
    println!();

    let mut server = Some(server);
    let scenarios = [
        Scenario {
            title: "TOTP with the correct code",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Alice,
            api_down: false,
            offline_users: "",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_SUCCESS,
        },
        Scenario {
            title: "TOTP with a wrong code",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Wrong,
            api_down: false,
            offline_users: "",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_AUTH_ERR,
        },
        Scenario {
            title: "malformed code (5 digits): refused locally, no API call",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Literal("12345"),
            api_down: false,
            offline_users: "",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_AUTH_ERR,
        },
        Scenario {
            title: "U2F, approved on the device",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Literal(""),
            api_down: false,
            offline_users: "",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_SUCCESS,
        },
        Scenario {
            title: "U2F, denied on the device",
            user: "bob",
            werbot_id: "bob@example.com",
            code: Code::Literal(""),
            api_down: false,
            offline_users: "",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_AUTH_ERR,
        },
        Scenario {
            title: "local login (no PAM_RHOST) without local_user_ip: the server's IP policy refuses an empty userIP",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Alice,
            api_down: false,
            offline_users: "",
            rhost: None,
            expect: pamdrv::PAM_AUTH_ERR,
        },
        Scenario {
            title:
                "API answers HTTP 500 for this Werbot ID, offline user: an answer, not an outage",
            user: "alice",
            werbot_id: "crash@example.com",
            code: Code::Alice,
            api_down: false,
            offline_users: "alice",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_AUTH_ERR,
        },
        Scenario {
            title: "API down, offline user (offline_users=alice)",
            user: "alice",
            werbot_id: "alice@example.com",
            code: Code::Alice,
            api_down: true,
            offline_users: "alice",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_SUCCESS,
        },
        Scenario {
            title: "API down, any other user",
            user: "bob",
            werbot_id: "bob@example.com",
            code: Code::Literal("123456"),
            api_down: true,
            offline_users: "alice",
            rhost: Some("192.0.2.10"),
            expect: pamdrv::PAM_AUTHINFO_UNAVAIL,
        },
    ];

    let mut failures = 0;
    for (n, s) in scenarios.iter().enumerate() {
        if s.api_down {
            if let Some(srv) = server.take() {
                srv.stop();
                println!("(the development Werbot API is now stopped)\n");
            }
        }
        let code = match s.code {
            Code::Alice => devserver::totp_now(ALICE_SECRET),
            Code::Wrong => devserver::wrong_totp(ALICE_SECRET),
            Code::Literal(c) => c.to_string(),
        };
        let mut args = format!(
            "server_url={url} service_id=dev-service service_key=dev-key-not-secret ca_file={} log_file={} timeout=3",
            ca.display(),
            log.display()
        );
        if !s.offline_users.is_empty() {
            args.push_str(&format!(" offline_users={}", s.offline_users));
        }
        let dir = ServiceDir::wpam("demo", &module, &args);
        let before = std::fs::read_to_string(&log).unwrap_or_default().len();
        println!("── {}. {} ──", n + 1, s.title);
        match s.rhost {
            Some(r) => println!("   login {} from {r}", s.user),
            None => println!("   login {} locally (no PAM_RHOST)", s.user),
        }
        let result = pamdrv::login(
            &dir,
            s.user,
            s.rhost,
            vec![Answer::text(s.werbot_id), Answer::text(&code)],
            0,
        );
        for e in &result.events {
            match e {
                Event::Prompt { text, answer, .. } => {
                    let shown = if answer.is_empty() {
                        "(empty)".to_string()
                    } else {
                        answer.clone()
                    };
                    println!("   PROMPT  {text}→ {shown}");
                }
                Event::Info(m) => println!("   INFO    {m}"),
                Event::Error(m) => println!("   ERROR   {m}"),
            }
        }
        let name = |c: i32| format!("{} ({})", pamdrv::strerror(c), c);
        print!("   pam_authenticate: {}", name(result.auth));
        if let Some(a) = result.account {
            print!("; pam_acct_mgmt: {}", name(a));
        }
        let ok = result.auth == s.expect;
        println!("   [{}]", if ok { "as expected" } else { "UNEXPECTED" });
        if !ok {
            failures += 1;
        }
        show_new_log_lines(&log, before);
        println!();
    }
    if let Some(srv) = server.take() {
        srv.stop();
    }
    let _ = std::fs::remove_dir_all(&work);
    if failures > 0 {
        eprintln!("{failures} scenario(s) did not behave as documented");
        std::process::exit(1);
    }
    println!("All {} scenarios behaved as documented.", scenarios.len());
    println!(
        "Offline users are admitted only when the request could not be delivered \
         (docs/admin.md: What the module does)."
    );
}

fn show_new_log_lines(log: &Path, from: usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in text.get(from..).unwrap_or("").lines() {
        println!("   log: {line}");
    }
}
