//! The API call of a setuid caller (su, sudo), run where that caller's user
//! cannot reach it (DESIGN.md §3).
//!
//! The user who runs su owns its real uid: they may stop it (SIGSTOP), slow
//! it (nice, SCHED_IDLE), shrink its limits (prlimit) and time its signals
//! to the moment a TLS handshake is in flight. So the whole call — name
//! resolution, connect, proxy CONNECT, TLS, request, answer — runs in a
//! child that first takes root's ids for all of real, effective and saved
//! uid (the user may no longer signal it), leaves the terminal's session
//! (no ^C or ^Z from the tty), and puts limits, priority and scheduling
//! back to sane values. The parent only waits, bounded, and reads the
//! result from a pipe: an answer written while the parent was stopped is
//! still read whole.
//!
//! Only used where the process runs with euid 0; a setuid program of
//! another user cannot take these ids, and there the decision table's
//! setuid rule alone keeps delays from counting as an outage.

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::client::{CallError, HttpAnswer, Step, MAX_BODY};
use crate::fork::{self, ReadError};

/// What the child may need beyond the call's own deadline to write its
/// answer on a busy machine.
const GRACE: Duration = Duration::from_secs(2);
/// Longest detail text carried back.
const MAX_DETAIL: usize = 2048;
const MAX_MESSAGE: usize = 1 + 2 + MAX_BODY as usize + MAX_DETAIL + 16;

const TAG_HTTP: u8 = b'H';
const TAG_UNDELIVERED: u8 = b'U';
const TAG_NO_ANSWER: u8 = b'N';
const TAG_LOCAL: u8 = b'L';

/// Whether this process should run its call in an isolated child: a setuid
/// or setgid program (the caller's user differs) running as root.
pub fn wanted() -> bool {
    crate::sys::setuid_caller() && crate::sys::euid() == 0
}

/// Runs `call` in a root child and returns its result. `deadline` is the
/// call's own; the child is killed [`GRACE`] after it.
pub fn run<F>(call: F, deadline: Instant) -> Result<HttpAnswer, CallError>
where
    F: FnOnce() -> Result<HttpAnswer, CallError>,
{
    // SAFETY: a setuid program's PAM conversation is single-threaded (su,
    // sudo); the child runs our own code and libc and ends in _exit.
    let spawned = unsafe {
        fork::spawn(|_| {
            let result = match take_root() {
                Ok(()) => call(),
                Err(e) => Err(CallError::Local(e)),
            };
            encode(&result)
        })
    };
    let mut child = spawned.map_err(|e| {
        CallError::Local(crate::sys::describe(
            "API call: fork of its child process",
            &e,
        ))
    })?;
    let read = child.read_until(deadline + GRACE, MAX_MESSAGE);
    let exit = child.finish(read.is_ok());
    match read {
        Ok(m) => decode(&m).unwrap_or_else(|| {
            Err(CallError::Local(format!(
                "API call: its child process ended without a complete answer ({exit})"
            )))
        }),
        Err(ReadError::Deadline(_)) => Err(CallError::Local(format!(
            "API call: its child process did not answer by the deadline ({exit})"
        ))),
        Err(ReadError::Oversized) => Err(CallError::Local(
            "API call: oversized answer from its child process".into(),
        )),
        Err(ReadError::Io(e)) => Err(CallError::Local(crate::sys::describe(
            "API call: reading its child process",
            &e,
        ))),
    }
}

/// Runs `work` in a root child (as [`run`] does the API call) and returns
/// the bytes it produced, at most `cap`; Err says why there are none.
pub fn run_raw<F>(work: F, deadline: Instant, cap: usize) -> Result<Zeroizing<Vec<u8>>, String>
where
    F: FnOnce() -> Zeroizing<Vec<u8>>,
{
    // SAFETY: as in `run`.
    let spawned = unsafe {
        fork::spawn(|_| match take_root() {
            Ok(()) => {
                let mut m = Zeroizing::new(vec![b'O']);
                m.extend_from_slice(&work());
                m
            }
            Err(e) => Zeroizing::new(format!("E{e}").into_bytes()),
        })
    };
    let mut child = spawned.map_err(|e| crate::sys::describe("fork of a child process", &e))?;
    let read = child.read_until(deadline + GRACE, cap + 1);
    let exit = child.finish(read.is_ok());
    match read {
        Ok(m) => match m.split_first() {
            Some((b'O', rest)) => Ok(Zeroizing::new(rest.to_vec())),
            Some((b'E', e)) => Err(String::from_utf8_lossy(e).into_owned()),
            _ => Err(format!(
                "its child process ended without an answer ({exit})"
            )),
        },
        Err(ReadError::Deadline(_)) => Err(format!(
            "its child process did not answer by the deadline ({exit})"
        )),
        Err(ReadError::Oversized) => Err("oversized answer from its child process".into()),
        Err(ReadError::Io(e)) => Err(crate::sys::describe("reading its child process", &e)),
    }
}

/// In the child: root's ids everywhere, out of the terminal's session, and
/// the limits and scheduling its user may have set put back.
fn take_root() -> Result<(), String> {
    // SAFETY: process-level calls on this (child) process only.
    unsafe {
        // A forked child is never a process group leader, so this works;
        // it also leaves the group that `kill -STOP -PGID` would reach.
        libc::setsid();
        // With euid 0, setuid(0) sets the real, effective and saved uid.
        if libc::setuid(0) != 0 || libc::getuid() != 0 || libc::geteuid() != 0 {
            return Err(crate::sys::describe(
                "API call: its child process could not take root's uid",
                &std::io::Error::last_os_error(),
            ));
        }
        libc::setpriority(libc::PRIO_PROCESS, 0, 0);
        #[cfg(target_os = "linux")]
        {
            let param = libc::sched_param { sched_priority: 0 };
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
        }
        // No core file of a process that holds the service key.
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    fork::raise_limit(libc::RLIMIT_NOFILE, 1024);
    fork::raise_limit(libc::RLIMIT_CPU, libc::RLIM_INFINITY);
    fork::raise_limit(libc::RLIMIT_FSIZE, libc::RLIM_INFINITY);
    fork::raise_limit(libc::RLIMIT_DATA, libc::RLIM_INFINITY);
    fork::raise_limit(libc::RLIMIT_NPROC, libc::RLIM_INFINITY);
    #[cfg(not(target_os = "openbsd"))]
    fork::raise_limit(libc::RLIMIT_AS, libc::RLIM_INFINITY);
    Ok(())
}

fn push_detail(m: &mut Vec<u8>, d: &str) {
    let mut end = d.len().min(MAX_DETAIL);
    while !d.is_char_boundary(end) {
        end -= 1;
    }
    m.extend_from_slice(&d.as_bytes()[..end]);
}

fn step_code(s: Step) -> u8 {
    match s {
        Step::Resolve => 1,
        Step::Connect => 2,
        Step::Proxy => 3,
        Step::Handshake => 4,
    }
}

fn step_of(c: u8) -> Option<Step> {
    Some(match c {
        1 => Step::Resolve,
        2 => Step::Connect,
        3 => Step::Proxy,
        4 => Step::Handshake,
        _ => return None,
    })
}

/// `H status_le16 body` | `U step timed_out detail` | `N detail` | `L detail`.
fn encode(r: &Result<HttpAnswer, CallError>) -> Zeroizing<Vec<u8>> {
    let mut m = Zeroizing::new(Vec::new());
    match r {
        Ok(a) => {
            m.reserve(3 + a.body.len());
            m.push(TAG_HTTP);
            m.extend_from_slice(&a.status.to_le_bytes());
            m.extend_from_slice(&a.body);
        }
        Err(CallError::Undelivered {
            step,
            timed_out,
            detail,
        }) => {
            m.extend_from_slice(&[TAG_UNDELIVERED, step_code(*step), u8::from(*timed_out)]);
            push_detail(&mut m, detail);
        }
        Err(CallError::NoAnswer(d)) => {
            m.push(TAG_NO_ANSWER);
            push_detail(&mut m, d);
        }
        Err(CallError::Local(d)) => {
            m.push(TAG_LOCAL);
            push_detail(&mut m, d);
        }
    }
    m
}

/// None for anything malformed (an empty message: the child died).
fn decode(m: &[u8]) -> Option<Result<HttpAnswer, CallError>> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (&tag, rest) = m.split_first()?;
    Some(match tag {
        TAG_HTTP => {
            let status = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?);
            Ok(HttpAnswer {
                status,
                body: Zeroizing::new(rest.get(2..)?.to_vec()),
            })
        }
        TAG_UNDELIVERED => {
            let step = step_of(*rest.first()?)?;
            let timed_out = match *rest.get(1)? {
                0 => false,
                1 => true,
                _ => return None,
            };
            Err(CallError::Undelivered {
                step,
                timed_out,
                detail: text(rest.get(2..)?),
            })
        }
        TAG_NO_ANSWER => Err(CallError::NoAnswer(text(rest))),
        TAG_LOCAL => Err(CallError::Local(text(rest))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: Result<HttpAnswer, CallError>) {
        let back = decode(&encode(&r)).expect("decodes");
        match (r, back) {
            (Ok(a), Ok(b)) => assert_eq!((a.status, &*a.body), (b.status, &*b.body)),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("{a:?} came back as {b:?}"),
        }
    }

    #[test]
    fn every_result_survives_the_pipe() {
        round_trip(Ok(HttpAnswer {
            status: 200,
            body: Zeroizing::new(br#"{"status":"success"}"#.to_vec()),
        }));
        round_trip(Ok(HttpAnswer {
            status: 503,
            body: Zeroizing::new(vec![0xff; MAX_BODY as usize]),
        }));
        for step in [Step::Resolve, Step::Connect, Step::Proxy, Step::Handshake] {
            for timed_out in [false, true] {
                round_trip(Err(CallError::Undelivered {
                    step,
                    timed_out,
                    detail: "x: é".into(),
                }));
            }
        }
        round_trip(Err(CallError::NoAnswer("reset".into())));
        round_trip(Err(CallError::Local("EMFILE".into())));
    }

    #[test]
    fn malformed_messages_are_refused() {
        for m in [
            &b""[..],
            b"H",
            b"H\x01",
            b"U",
            b"U\x09\x00",
            b"U\x01\x02",
            b"Z",
        ] {
            assert!(decode(m).is_none(), "{m:?}");
        }
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        let r = Err(CallError::Local("é".repeat(MAX_DETAIL)));
        match decode(&encode(&r)) {
            Some(Err(CallError::Local(d))) => assert!(d.len() <= MAX_DETAIL && d.len() > 2000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_call_runs_in_the_child_and_its_result_comes_back() {
        // Not root in every test run: take_root fails there, and says so.
        let parent = std::process::id();
        let r = run(
            || {
                // In the child: a different pid.
                assert_ne!(std::process::id(), parent);
                Ok(HttpAnswer {
                    status: 200,
                    body: Zeroizing::new(b"ok".to_vec()),
                })
            },
            Instant::now() + Duration::from_secs(10),
        );
        if crate::sys::euid() == 0 {
            let a = r.expect("answer");
            assert_eq!((a.status, a.body.as_slice()), (200, &b"ok"[..]));
        } else {
            assert!(matches!(r, Err(CallError::Local(d)) if d.contains("root's uid")));
        }
    }

    #[test]
    fn a_call_that_panics_or_hangs_is_local() {
        let r = run(|| panic!("boom"), Instant::now() + Duration::from_secs(10));
        if crate::sys::euid() == 0 {
            assert!(
                matches!(r, Err(CallError::Local(d)) if d.contains("without a complete answer"))
            );
        }
        let started = Instant::now();
        let r = run(
            || {
                std::thread::sleep(Duration::from_secs(60));
                Err(CallError::NoAnswer("late".into()))
            },
            Instant::now(),
        );
        if crate::sys::euid() == 0 {
            assert!(
                matches!(r, Err(CallError::Local(d)) if d.contains("did not answer by the deadline"))
            );
            assert!(started.elapsed() < GRACE + Duration::from_secs(4));
        }
    }
}
