//! Running a helper program (`sshd -T`, `semodule -l`) with a time limit:
//! its output read on threads (a full pipe cannot stall it), killed and
//! reaped at the limit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one helper may take.
pub const LIMIT: Duration = Duration::from_secs(15);
/// Largest output kept of a helper.
const MAX_OUTPUT: u64 = 1 << 20;

pub struct Output {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Option<thread::JoinHandle<Vec<u8>>> {
    pipe.map(|p| {
        thread::spawn(move || {
            let mut out = Vec::new();
            let _ = p.take(MAX_OUTPUT).read_to_end(&mut out);
            out
        })
    })
}

fn text(h: Option<thread::JoinHandle<Vec<u8>>>) -> String {
    h.and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Runs `cmd` (stdin /dev/null) for at most `limit`. Err: it could not be
/// started, or it was killed at the limit.
pub fn bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let shown = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let end = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < end => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {limit:?}; killed"));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    Ok(Output {
        success: status.success(),
        status: status.to_string(),
        stdout: text(out),
        stderr: text(err),
    })
}
