//! A real HTTP CONNECT proxy for the tests: Debian's tinyproxy, started on a
//! free loopback port with a config of the test's, stopped (and reaped) on
//! drop. `ci/install-deps.sh` installs it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::deadline;

pub struct Proxy {
    child: Option<Child>,
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// What the proxy lets through.
pub struct Rules<'a> {
    /// Ports CONNECT may reach (tinyproxy's ConnectPort): others get 403.
    pub connect_ports: &'a [u16],
    /// `BasicAuth user password`: without them, 407.
    pub basic_auth: Option<(&'a str, &'a str)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Proxy {
    pub fn start(rules: Rules<'_>) -> Proxy {
        let dir =
            std::env::temp_dir().join(format!("wpam-proxy-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("proxy dir");
        // The port may be taken between here and tinyproxy's bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let mut conf = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nDisableViaHeader Yes\n\
                 LogLevel Info\n"
            );
            for p in rules.connect_ports {
                conf.push_str(&format!("ConnectPort {p}\n"));
            }
            if let Some((u, p)) = rules.basic_auth {
                conf.push_str(&format!("BasicAuth {u} {p}\n"));
            }
            let path = dir.join("tinyproxy.conf");
            std::fs::write(&path, conf).expect("write tinyproxy.conf");
            let mut child = Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run tinyproxy (apt-get install tinyproxy)");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Proxy {
                        child: Some(child),
                        addr,
                        dir,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = deadline::wait_or_kill(&mut child, Duration::from_millis(10));
        }
        panic!("tinyproxy did not start listening");
    }

    /// `proxy=` value, optionally with credentials.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("http://{u}:{p}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = deadline::wait_or_kill(&mut c, Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A "proxy" that accepts connections and never answers, until dropped.
pub struct Silent {
    pub addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    pub fn start() -> Silent {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !s.load(Ordering::SeqCst) {
                if let Ok((c, _)) = listener.accept() {
                    held.push(c);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Silent {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            deadline::join(t, Duration::from_secs(5), "the silent proxy");
        }
    }
}
