//! wpam — a PAM module (and, on OpenBSD, a BSD Auth login style) that adds a
//! Werbot second factor, TOTP or U2F, to SSH and other logins.
//!
//! Where to look:
//! - `pam.rs`: the exported `pam_sm_*` entry points (thin, panic-guarded);
//! - `flow.rs`: the auth and account phases, over a small `Host` trait;
//! - `input.rs`: the prompts and what a user may type;
//! - `wire.rs`: the Werbot API request/response format;
//! - `client.rs`: the HTTPS call in its steps (deliver, then ask), and which
//!   failure is an outage, an answer or a local error;
//! - `resolve.rs`: name resolution bounded by the deadline (a forked child);
//! - `fork.rs`: the forked helper child (pipe, pidfd, bounded reaping);
//! - `isolate.rs`: a setuid caller's API call, run in a root child out of
//!   that caller's reach;
//! - `tls.rs`: trust anchors (`ca_file`, then the OS bundle) and the TLS layer;
//! - `decision.rs`: the table from API answer to login outcome (offline mode);
//! - `offline.rs`: offline users' own codes (`offline_secrets`): the file,
//!   RFC 6238, replay and rate-limit state;
//! - `sys.rs`: facts about the process (setuid caller), bounded file reads;
//! - `config/`: arguments and the root-only config file (`file.rs`), the
//!   server and proxy URLs (`url.rs`), the policy keys (`policy.rs`);
//! - `trust.rs`: which files and directories are trusted (owner, mode, no
//!   symlink), for the config, secrets and log files and `wpam check`;
//! - `log.rs`: the log file, syslog, escaping and redaction.
//!
//! For the front-ends that talk to a terminal (the OpenBSD login style and
//! the `wpam` command; the module never does): `tty.rs` reads an answer with
//! echo off. The `wpam` command's own code lives in `src/bin/wpam/`.
//!
//! Nothing runs at load time: no thread, no runtime, no global state.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod bsdauth;
pub mod client;
pub mod config;
pub mod decision;
pub mod flow;
pub mod fork;
pub mod input;
pub mod isolate;
pub mod log;
pub mod offline;
pub mod remember;
pub mod resolve;
pub mod sys;
pub mod tls;
pub mod trust;
pub mod tty;
pub mod wire;

#[cfg(not(target_os = "openbsd"))]
pub mod pam;
