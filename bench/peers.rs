//! The servers under test: which ones (tls-server with each provider, the naive rustls
//! server, Node, a TCP echo), how to start each on a free port, and stopping them by PID.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::chan::Chan;
use crate::client;
use crate::driver::{command_output, root, Plan};
use crate::report::Results;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    TlsServer,
    Naive,
    Node,
    Tcp,
}

#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) kind: Kind,
    pub(crate) program: PathBuf,
}

impl Peer {
    pub(crate) fn tls(&self) -> bool {
        self.kind != Kind::Tcp
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cert {
    Ecdsa,
    Rsa,
}

// ----- child processes --------------------------------------------------------------------

/// PIDs of the servers we started, for the Ctrl-C handler.
pub(crate) static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub(crate) fn kill_pid(pid: u32) {
    // SAFETY: kill(2) on a PID we started and have not reaped yet.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// A running peer server; killed (by PID) when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        CHILDREN.lock().unwrap().retain(|p| *p != self.pid);
    }
}

pub(crate) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

pub(crate) fn start(
    peer: &Peer,
    cert: Cert,
    log: &Path,
    probe: Option<&Arc<ClientConfig>>,
) -> Result<Running, String> {
    let certs = root().join("certs");
    let (crt, key) = match cert {
        Cert::Ecdsa => (certs.join("server.crt"), certs.join("server.key")),
        Cert::Rsa => (certs.join("server-rsa.crt"), certs.join("server-rsa.key")),
    };
    let port = free_port()?;
    let mut cmd = match peer.kind {
        Kind::TlsServer => {
            let mut c = Command::new(&peer.program);
            c.arg("serve")
                .args(["--port", &port.to_string()])
                .args(["--events", "none", "--log-level", "warn"])
                .args(["--max-connections", "10000"])
                .arg("--cert")
                .arg(&crt)
                .arg("--key")
                .arg(&key);
            c
        }
        Kind::Naive => {
            let mut c = Command::new(&peer.program);
            c.arg(port.to_string()).arg(&crt).arg(&key);
            c
        }
        Kind::Node => {
            let mut c = Command::new("node");
            c.arg(&peer.program)
                .arg(port.to_string())
                .arg(&crt)
                .arg(&key);
            c
        }
        Kind::Tcp => {
            let mut c = Command::new(&peer.program);
            c.args(["tcp-echo", &port.to_string()]);
            c
        }
    };
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    cmd.current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    // SAFETY: prctl is async-signal-safe; the server dies with us, whatever kills us.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", peer.label))?;
    let pid = child.id();
    CHILDREN.lock().unwrap().push(pid);
    let mut running = Running {
        child,
        pid,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    // Ready when a whole session succeeds (no half-open probe for the server to log).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "{} exited at start ({status}): {}",
                peer.label,
                tail.trim()
            ));
        }
        if TcpStream::connect(running.addr).is_ok() {
            // That connect reached the listener: now a real session.
            let ok = match probe {
                Some(config) => client::session(running.addr, config).map(|_| ()),
                None => Chan::open(running.addr, None).and_then(|c| c.close()),
            };
            match ok {
                Ok(()) => return Ok(running),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("{}: first session failed: {e}", peer.label))
                }
                Err(_) => {}
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not accept within 15 s", peer.label));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn peers(res: &mut Results, plan: &Plan) -> Vec<Peer> {
    let exe = std::env::current_exe().expect("current_exe");
    let release = exe.parent().expect("profile dir").to_path_buf();
    let ring_dir = root().join("target/bench-ring/release");
    let mut all = vec![
        Peer {
            id: "tls-server-aws-lc-rs",
            label: "tls-server (aws-lc-rs)",
            kind: Kind::TlsServer,
            program: release.join("tls-server"),
        },
        Peer {
            id: "tls-server-ring",
            label: "tls-server (ring)",
            kind: Kind::TlsServer,
            program: ring_dir.join("tls-server"),
        },
        Peer {
            id: "naive-rustls",
            label: "naive rustls (StreamOwned)",
            kind: Kind::Naive,
            program: release.join("bench-naive-server"),
        },
        Peer {
            id: "node",
            label: "Node.js tls.Server",
            kind: Kind::Node,
            program: root().join("bench/node_server.js"),
        },
        Peer {
            id: "tcp",
            label: "plain TCP echo (no TLS)",
            kind: Kind::Tcp,
            program: exe.clone(),
        },
    ];
    all.retain(|p| {
        if let Some(only) = &plan.only {
            if !only.iter().any(|o| o == p.id) {
                return false;
            }
        }
        let missing = match p.kind {
            Kind::Node => command_output("node", &["--version"])
                .is_none()
                .then(|| "node not found on PATH: the Node.js peer is skipped".to_string()),
            _ => (!p.program.exists()).then(|| {
                format!(
                    "{} not found ({}): that peer is skipped — `make bench` builds it",
                    p.label,
                    p.program.display()
                )
            }),
        };
        if let Some(m) = missing {
            println!("NOTE: {m}");
            res.notes.push(m);
            return false;
        }
        true
    });
    all
}
