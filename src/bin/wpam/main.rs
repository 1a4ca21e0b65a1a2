//! `wpam`: the operator command of wpam (wpam(8)).
//!
//! - `wpam check [--service NAME] [--json]`: reads the service's PAM policy
//!   the way the PAM library does, validates wpam's arguments with the
//!   module's own parser, and checks the files, sshd's effective
//!   configuration, SELinux and the path to the Werbot API (timed step by
//!   step with the module's own client); one line per check, each ok, a
//!   warning or a failure. Exit status: 0 every check ok, 1 warnings but no
//!   failure, 2 at least one failure (`--json` carries `schema_version` 2
//!   and each check's `severity`).
//! - `wpam test [--service NAME] USER`: one real PAM transaction on this
//!   terminal (pam_authenticate, then pam_acct_mgmt), each result by name,
//!   then the log lines the module wrote meanwhile.
//! - `wpam offline-enroll [--file PATH] [--remove] LOGIN`: an offline user's
//!   own TOTP secret in the `offline_secrets` file, shown once as an
//!   otpauth:// URI and a QR code (or taken out).
//!
//! On OpenBSD the same commands look at the BSD Authentication login style
//! instead of PAM. A third front-end over the module's code (config parser,
//! trust loader, HTTPS client): it re-implements none of them.
//!
//! A usage error (an unknown option, a missing argument) exits with 64
//! (EX_USAGE), not clap's 2, which `wpam check` gives a failed check; an
//! error writing the report exits with 74 (EX_IOERR).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod api;
#[cfg(target_os = "openbsd")]
mod bsdtest;
mod check;
mod enroll;
mod facts;
#[cfg(not(target_os = "openbsd"))]
mod pamstack;
#[cfg(not(target_os = "openbsd"))]
mod pamtest;
#[cfg_attr(target_os = "openbsd", allow(dead_code))]
mod rules;
mod run;
mod services;
mod term;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wpam",
    version,
    about = "Check a wpam setup, or try a login through it, before logging out",
    after_help = "Exit status of `wpam check`: 0 every check ok, 1 warnings but no failure, \
                  2 at least one failure. A usage error exits with 64. See wpam(8)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the PAM policy, files, sshd, SELinux and the API path of a
    /// service. Exit status: 0 every check ok, 1 warnings but no failure,
    /// 2 at least one failure (64: a usage error).
    #[command(
        after_help = "Each check is ok (✓), a warning (!: works, with a consequence to know) or a \
                      failure (✗). Exit status: 0 every check ok, 1 warnings but no failure, 2 at \
                      least one failure, 64 a usage error. --json: schema_version 2, each check's \
                      severity (\"ok\", \"warning\", \"failure\"). See wpam(8)."
    )]
    Check(CheckArgs),
    /// One real login through the service on this terminal:
    /// authenticate, then account management; each PAM result by name.
    Test(TestArgs),
    /// Create (or replace) LOGIN's offline secret in the offline_secrets
    /// file and show it once as a QR code, or take it out with --remove.
    OfflineEnroll(EnrollArgs),
}

#[derive(Args)]
#[command(args_override_self = true)]
pub struct EnrollArgs {
    /// The offline_secrets file (created root:root 0600 if missing).
    #[arg(long, value_name = "PATH", default_value = pam_wpam::offline::DEFAULT_FILE)]
    pub file: PathBuf,
    /// Take LOGIN's secret out of the file instead.
    #[arg(long)]
    pub remove: bool,
    /// The login name (as in offline_users).
    pub login: String,
}

#[derive(Args)]
#[command(args_override_self = true)]
pub struct CheckArgs {
    /// The PAM service to check (its policy file's name).
    #[arg(long, default_value = "sshd")]
    pub service: String,
    /// Print the checks as JSON (stable keys: schema_version (2), service,
    /// severity, ok, checks[name, severity, ok, detail, fix, elapsed_ms];
    /// severity is ok, warning or failure, ok is false only for a failure).
    #[arg(long)]
    pub json: bool,
    /// Read the PAM policy from this directory only (as pam_start_confdir
    /// does) instead of the system's.
    #[arg(long, value_name = "DIR")]
    pub pam_dir: Option<PathBuf>,
    /// Where a module named without a path is looked for (repeatable),
    /// instead of the directories this system's libpam searches.
    #[arg(long = "module-dir", value_name = "DIR")]
    pub module_dirs: Vec<PathBuf>,
    /// The sshd whose effective configuration (`sshd -T`) is checked.
    #[arg(long, value_name = "PATH", default_value = "/usr/sbin/sshd")]
    pub sshd: PathBuf,
    /// An sshd_config to check instead of sshd's default (`sshd -T -f`).
    #[arg(long, value_name = "FILE")]
    pub sshd_config: Option<PathBuf>,
    /// Evaluate sshd's Match blocks for this connection (`sshd -T -C`),
    /// e.g. user=alice,host=example.com,addr=192.0.2.10.
    #[arg(long, value_name = "SPEC")]
    pub sshd_match: Option<String>,
    /// Skip the sshd checks (they run by default for services named sshd*).
    #[arg(long)]
    pub no_sshd: bool,
    /// Linux: where selinuxfs is mounted.
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/selinux")]
    pub selinuxfs: PathBuf,
    /// Linux: the semodule program that lists the loaded policy modules.
    #[arg(long, value_name = "PATH", default_value = "semodule")]
    pub semodule: PathBuf,
    /// OpenBSD: the login.conf that names the login style.
    #[arg(long, value_name = "FILE", default_value = "/etc/login.conf")]
    pub login_conf: PathBuf,
    /// OpenBSD: the login style program.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/usr/libexec/auth/login_-wpam"
    )]
    pub style: PathBuf,
    /// OpenBSD: the login style's config file.
    #[arg(long, value_name = "FILE", default_value = "/etc/wpam.conf")]
    pub config: PathBuf,
}

#[derive(Args)]
#[command(args_override_self = true)]
pub struct TestArgs {
    /// The PAM service to log in through.
    #[arg(long, default_value = "sshd")]
    pub service: String,
    /// Read the PAM policy from this directory (Linux-PAM's
    /// pam_start_confdir) instead of the system's.
    #[arg(long, value_name = "DIR")]
    pub pam_dir: Option<PathBuf>,
    /// The client address to give the modules (PAM_RHOST), as sshd would.
    #[arg(long, value_name = "HOST")]
    pub rhost: Option<String>,
    /// Skip pam_authenticate, as sshd does for a login with a key alone:
    /// only the account phase runs.
    #[arg(long)]
    pub account_only: bool,
    /// OpenBSD: the login style's config file (for its log lines).
    #[arg(long, value_name = "FILE", default_value = "/etc/wpam.conf")]
    pub config: PathBuf,
    /// The login name to authenticate.
    pub user: String,
}

/// sysexits.h: a usage error, and an error writing the output.
const EX_USAGE: u8 = 64;
const EX_IOERR: u8 = 74;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to stdout and succeed.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check(a) => {
            let (title, items) = check::run(&a);
            let out = if a.json {
                let v = crate::rules::render_json(&a.service, &items);
                format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
            } else {
                crate::rules::render_text(&title, &items)
            };
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(EX_IOERR);
            }
            ExitCode::from(crate::rules::worst(&items).exit_code())
        }
        #[cfg(not(target_os = "openbsd"))]
        Command::Test(a) => pamtest::run(&a),
        #[cfg(target_os = "openbsd")]
        Command::Test(a) => bsdtest::run(&a),
        Command::OfflineEnroll(a) => enroll::run(&a),
    }
}
