//! The development Werbot API server as a process, for end-to-end tests with a real sshd.
//!
//! ```text
//! cargo run --example werbot-dev-server -- --users examples/dev-users.toml \
//!     --listen 127.0.0.1:8443 --state-dir /tmp/wpam-dev [--prefix /api] \
//!     [--fault 500|nonjson|huge|slow|reset] [--slow-secs N] [--cert-name NAME]... \
//!     [--cert-expired] [--service-id ID --service-key KEY] [--map-login LOGIN]... \
//!     [--ip-policy LIST] [--passthru] [--push-send-delay SECS] [--push-wait SECS] [--lenient]
//! ```
//!
//! It answers as the real server (TRASA's `AgentLogin`) does: see the module doc of
//! `tests/support/devserver.rs`. `--lenient` brings back the emulator's older, kinder
//! answers (HTTP 400/401 refusals, any account for a user without `logins`, no IP policy).
//!
//! Prints `werbot-dev-server listening on https://ADDR ca=PATH` once ready, appends every
//! request to STATE_DIR/requests.jsonl, and runs until killed (SIGTERM/SIGINT).

#[path = "../tests/support/devserver.rs"]
mod devserver;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use devserver::{Fault, Options};

const USAGE: &str = "\
usage: werbot-dev-server [options]
  --users FILE          users file (TOML, see examples/dev-users.toml); default: demo users
  --listen ADDR         listen address (default 127.0.0.1:8443; port 0 = ephemeral)
  --state-dir DIR       where ca.pem and requests.jsonl go (default: a fresh temp dir)
  --prefix PATH         path prefix before /auth/agent/nix, e.g. /api (default none)
  --fault F             global fault: 500 | nonjson | huge | slow[:SECS] | reset
  --slow-secs N         delay of --fault slow (default 30)
  --cert-name NAME      SAN of the server certificate; repeatable
                        (default localhost, 127.0.0.1, ::1)
  --cert-expired        serve a certificate that expired yesterday
  --service-id ID       override the users file's service_id
  --service-key KEY     override the users file's service_key
  --map-login LOGIN     map this unix login to every user as well; repeatable
  --ip-policy LIST      every user's IP allow-list, comma-separated IPs and CIDRs
                        (default per user: 0.0.0.0/0, IPv4 only, as TRASA's default)
  --passthru            a passthru service: a login mapped to nobody is granted
                        with no second factor (reason \"passthru authentication\")
  --push-send-delay S   seconds the server spends sending a push before its wait
  --push-wait S         the server's wait for the push answer (default 60)
  --lenient             the emulator's older answers instead of the real server's
  -h, --help            this text";

fn value(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut users_file: Option<PathBuf> = None;
    let mut listen: SocketAddr = "127.0.0.1:8443"
        .parse()
        .map_err(|e| format!("default listen address: {e}"))?;
    let mut state_dir: Option<PathBuf> = None;
    let mut prefix = String::new();
    let mut fault: Option<Fault> = None;
    let mut slow_secs: Option<f64> = None;
    let mut cert_names: Vec<String> = Vec::new();
    let mut cert_expired = false;
    let mut service_id: Option<String> = None;
    let mut service_key: Option<String> = None;
    let mut map_logins: Vec<String> = Vec::new();
    let mut ip_policy: Option<String> = None;
    let mut passthru = false;
    let mut push_send_delay: Option<Duration> = None;
    let mut push_wait: Option<Duration> = None;
    let mut lenient = false;
    let secs = |flag: &str, v: String| -> Result<Duration, String> {
        v.parse::<f64>()
            .ok()
            .filter(|n: &f64| n.is_finite() && (0.0..=86_400.0).contains(n))
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("{flag} {v:?}: want seconds (0..86400)"))
    };

    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // Accept --flag=value as well as --flag value.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let take = |args: &mut std::iter::Skip<std::env::Args>| match inline.clone() {
            Some(v) => Ok(v),
            None => value(args, &flag),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--users" => users_file = Some(PathBuf::from(take(&mut args)?)),
            "--listen" => {
                let v = take(&mut args)?;
                listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (want IP:PORT)"))?;
            }
            "--state-dir" => state_dir = Some(PathBuf::from(take(&mut args)?)),
            "--prefix" => prefix = take(&mut args)?,
            "--fault" => {
                let v = take(&mut args)?;
                fault = Some(v.parse().map_err(|e| format!("--fault: {e}"))?);
            }
            "--slow-secs" => {
                let v = take(&mut args)?;
                let n: f64 = v
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite() && (0.0..=86_400.0).contains(n))
                    .ok_or_else(|| format!("--slow-secs {v:?}: want seconds (0..86400)"))?;
                slow_secs = Some(n);
            }
            "--cert-name" => cert_names.push(take(&mut args)?),
            "--cert-expired" => cert_expired = true,
            "--service-id" => service_id = Some(take(&mut args)?),
            "--service-key" => service_key = Some(take(&mut args)?),
            "--map-login" => map_logins.push(take(&mut args)?),
            "--ip-policy" => ip_policy = Some(take(&mut args)?),
            "--passthru" => passthru = true,
            "--push-send-delay" => push_send_delay = Some(secs(&flag, take(&mut args)?)?),
            "--push-wait" => push_wait = Some(secs(&flag, take(&mut args)?)?),
            "--lenient" => lenient = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }

    let mut opts = match state_dir {
        // Options::default() makes a temp dir; only pay for it when it is used.
        None => Options::default(),
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Options::with_state_dir(dir)
        }
    };
    opts.listen = listen;
    opts.prefix = prefix;
    opts.cert_expired = cert_expired;
    if !cert_names.is_empty() {
        opts.cert_names = cert_names;
    }
    if let Some(path) = users_file {
        let file = devserver::load_users_file(&path)?;
        opts.users = file.users;
        if let Some(id) = file.service_id {
            opts.service_id = id;
        }
        if let Some(key) = file.service_key {
            opts.service_key = key;
        }
        if let Some(p) = file.passthru {
            opts.passthru = p;
        }
        if let Some(d) = file.push_send_delay {
            opts.push_send_delay = d;
        }
    }
    let logins: Vec<&str> = map_logins.iter().map(String::as_str).collect();
    opts.map_logins(&logins);
    if let Some(list) = ip_policy {
        for u in &mut opts.users {
            u.ip_policy = list.clone();
        }
    }
    opts.passthru |= passthru;
    if let Some(d) = push_send_delay {
        opts.push_send_delay = d;
    }
    if let Some(d) = push_wait {
        opts.push_wait = d;
    }
    if lenient {
        opts = opts.lenient();
    }
    if let Some(id) = service_id {
        opts.service_id = id;
    }
    if let Some(key) = service_key {
        opts.service_key = key;
    }
    if let Some(secs) = slow_secs {
        match &mut fault {
            Some(Fault::Slow(d)) => *d = Duration::from_secs_f64(secs),
            _ => return Err("--slow-secs needs --fault slow".into()),
        }
    }
    opts.fault = fault;
    Ok(Some(opts))
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("werbot-dev-server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let summary: Vec<String> = opts
        .users
        .iter()
        .map(|u| {
            format!(
                "{} (u2f {}, logins {}, ip {}{})",
                u.werbot_id,
                u.u2f,
                u.logins.join("/"),
                u.ip_policy,
                if u.disabled { ", disabled" } else { "" }
            )
        })
        .collect();
    let state_dir = opts.state_dir.clone();
    let fault = opts.fault.clone();
    let dialect = format!(
        "{:?}{}",
        opts.dialect,
        if opts.passthru { " passthru" } else { "" }
    );
    let running = match devserver::start(opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("werbot-dev-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "werbot-dev-server: server_url={} dialect={dialect} state_dir={} requests={} fault={} users: {}",
        running.server_url(),
        state_dir.display(),
        state_dir.join("requests.jsonl").display(),
        fault.map_or_else(|| "none".to_string(), |f| f.to_string()),
        summary.join(", ")
    );
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", devserver::ready_line(&running))
        .and_then(|()| out.flush())
        .is_err()
    {
        eprintln!("werbot-dev-server: stdout is closed");
    }
    drop(out);
    // Serve until a signal ends the process (default disposition of SIGTERM/SIGINT).
    loop {
        std::thread::park();
    }
}
