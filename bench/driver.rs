//! `bench run`: starts every peer server in turn on the same certificates, drives each with
//! the same client, interleaves them (A B C D, A B C D, ...), reads their CPU time and
//! memory from /proc, and prints and writes the results.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::client::{self, Chan, Groups};
use crate::floor;
use crate::procfs;
use crate::report::{num, summary, Better, Results};

/// The repository root (certificates, bench/node_server.js).
/// The repository (the workspace root, one above this crate).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the repository")
        .to_path_buf()
}

/// How long and how big.
#[derive(Clone, Debug)]
pub struct Plan {
    pub quick: bool,
    pub rounds: usize,
    pub warmup: Duration,
    pub window: Duration,
    pub bulk_mib: u64,
    pub idle: Vec<usize>,
    pub pq: bool,
    pub threads: usize,
    pub only: Option<Vec<String>>,
    pub out: PathBuf,
    /// Before each server start, wait up to this long for other processes to leave the
    /// machine alone (under 10% of it); zero: don't wait. At most `quiet_budget` in all.
    pub quiet_wait: Duration,
    pub quiet_budget: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Plan {
        Plan {
            quick,
            rounds: 3,
            warmup: Duration::from_millis(if quick { 200 } else { 500 }),
            window: Duration::from_millis(if quick { 700 } else { 3000 }),
            bulk_mib: if quick { 32 } else { 256 },
            idle: if quick { vec![1000] } else { vec![1000, 5000] },
            pq: !quick,
            threads: 4,
            only: None,
            out: root().join("target/bench"),
            quiet_wait: Duration::from_secs(if quick { 5 } else { 20 }),
            quiet_budget: Duration::from_secs(if quick { 15 } else { 90 }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    TlsServer,
    Naive,
    Node,
    Tcp,
}

#[derive(Clone, Debug)]
struct Peer {
    id: &'static str,
    label: &'static str,
    kind: Kind,
    program: PathBuf,
}

impl Peer {
    fn tls(&self) -> bool {
        self.kind != Kind::Tcp
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cert {
    Ecdsa,
    Rsa,
}

// ----- child processes --------------------------------------------------------------------

/// PIDs of the servers we started, for the Ctrl-C handler.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn kill_pid(pid: u32) {
    // SAFETY: kill(2) on a PID we started and have not reaped yet.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// A running peer server; killed (by PID) when dropped.
struct Running {
    child: Child,
    pid: u32,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        CHILDREN.lock().unwrap().retain(|p| *p != self.pid);
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn start(
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

// ----- the run ----------------------------------------------------------------------------

struct Configs {
    full: Arc<ClientConfig>,
    pq: Arc<ClientConfig>,
    resume: Arc<ClientConfig>,
}

fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to an rlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn peers(res: &mut Results, plan: &Plan) -> Vec<Peer> {
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

fn environment(res: &mut Results, plan: &Plan, peers: &[Peer], fd_limit: u64) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut env = vec![
        ("unix_time".to_string(), secs.to_string()),
        ("cpu".into(), cpu),
        ("cores".into(), cores.to_string()),
        ("kernel".into(), kernel.trim().to_string()),
        ("quick".into(), plan.quick.to_string()),
        ("rounds".into(), plan.rounds.to_string()),
        ("window_s".into(), plan.window.as_secs_f64().to_string()),
        ("warmup_s".into(), plan.warmup.as_secs_f64().to_string()),
        ("bulk_mib_per_connection".into(), plan.bulk_mib.to_string()),
        ("client_threads".into(), plan.threads.to_string()),
        ("client_provider".into(), client::PROVIDER.to_string()),
        (
            "client".into(),
            "rustls 0.23, TLS 1.3 only, TLS_AES_128_GCM_SHA256 only, X25519 only (the -pq scenario: the provider's default groups), SNI localhost, demo CA".into(),
        ),
        ("fd_limit".into(), fd_limit.to_string()),
    ];
    for p in peers {
        let version = match p.kind {
            Kind::TlsServer => command_output(p.program.to_str().unwrap_or(""), &["--version"]),
            Kind::Node => command_output("node", &["--version"]).map(|v| {
                let openssl = command_output("node", &["-p", "process.versions.openssl"]);
                format!("node {v}, OpenSSL {}", openssl.unwrap_or_default())
            }),
            Kind::Naive => Some("rustls 0.23.35 (this repository's Cargo.lock), aws-lc-rs".into()),
            Kind::Tcp => None,
        };
        if let Some(v) = version {
            env.push((format!("version.{}", p.id), v.replace('\n', "; ")));
        }
    }
    res.env = env;
}

/// Runs everything and prints the report. Returns the process exit code.
pub fn run(plan: Plan) -> i32 {
    let started = Instant::now();
    let _ = ctrlc::set_handler(|| {
        for pid in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
            kill_pid(pid);
        }
        eprintln!("\ninterrupted: every server this run started has been killed");
        std::process::exit(130);
    });
    let fd_limit = raise_fd_limit();
    let logs = plan.out.join("logs");
    if let Err(e) = std::fs::create_dir_all(&logs) {
        eprintln!("bench: cannot create {}: {e}", logs.display());
        return 1;
    }
    let mut res = Results::default();
    let peers = peers(&mut res, &plan);
    res.servers = peers
        .iter()
        .map(|p| (p.id.to_string(), p.label.to_string()))
        .collect();
    environment(&mut res, &plan, &peers, fd_limit);
    let needed = plan.idle.iter().max().copied().unwrap_or(0) as u64 * 2 + 200;
    if fd_limit < needed {
        let m = format!(
            "the file-descriptor limit is {fd_limit}; the idle scenarios need about {needed} — raise `ulimit -n`"
        );
        println!("NOTE: {m}");
        res.notes.push(m);
    }
    let ca = root().join("certs/ca.crt");
    let configs = match (|| -> Result<Configs, String> {
        Ok(Configs {
            full: client::client_config(&ca, Groups::X25519, false)?,
            pq: client::client_config(&ca, Groups::Default, false)?,
            resume: client::client_config(&ca, Groups::X25519, true)?,
        })
    })() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench: client configuration: {e}");
            return 1;
        }
    };

    println!(
        "== make bench{}: {} rounds, servers: {}",
        if plan.quick { " QUICK=1" } else { "" },
        plan.rounds,
        peers.iter().map(|p| p.label).collect::<Vec<_>>().join(", ")
    );
    run_floor(&mut res, &plan);

    for round in 1..=plan.rounds {
        println!(
            "== round {round}/{} (at {:.0} s)",
            plan.rounds,
            started.elapsed().as_secs_f64()
        );
        for peer in &peers {
            group_ecdsa(&mut res, &plan, &configs, peer, round, &logs);
        }
        for peer in peers.iter().filter(|p| p.tls()) {
            group_rsa(&mut res, &plan, &configs, peer, round, &logs);
        }
        for &n in &plan.idle {
            for peer in peers.iter().filter(|p| p.tls()) {
                group_idle(&mut res, &plan, &configs, peer, round, n, &logs);
            }
        }
    }
    server_logs(&mut res, &logs);
    let wall = started.elapsed().as_secs_f64();
    res.env.push(("bench_wall_s".into(), format!("{wall:.1}")));

    let mut text = String::new();
    text.push_str(&format!(
        "\n## Results ({} rounds{}; median (min–max) over rounds; ×ratio = peer / {})\n",
        plan.rounds,
        if plan.quick { ", QUICK" } else { "" },
        res.servers.first().map_or("-", |s| s.1.as_str())
    ));
    text.push_str(&res.tables());
    text.push_str(&floor_section(&res));
    text.push_str(&targets_section(&res));
    if !res.notes.is_empty() {
        text.push_str("\n## Notes\n\n");
        for n in &res.notes {
            text.push_str(&format!("- {n}\n"));
        }
    }
    text.push_str(&format!("\nwall time of the measurement: {wall:.0} s\n"));
    print!("{text}");
    let name = if plan.quick {
        "results-quick"
    } else {
        "results"
    };
    let json = plan.out.join(format!("{name}.json"));
    let md = plan.out.join(format!("{name}.md"));
    let written = std::fs::write(&json, res.json()).and_then(|_| std::fs::write(&md, &text));
    match written {
        Ok(()) => println!("written: {} and {}", json.display(), md.display()),
        Err(e) => {
            eprintln!("bench: writing {}: {e}", json.display());
            return 1;
        }
    }
    0
}

/// Waits (up to `plan.quiet_wait`) until other processes use less than 10% of the machine.
fn wait_quiet(res: &mut Results, plan: &Plan) {
    static WAITED_MS: AtomicU64 = AtomicU64::new(0);
    let left = plan
        .quiet_budget
        .saturating_sub(Duration::from_millis(WAITED_MS.load(Ordering::Relaxed)));
    let max_wait = plan.quiet_wait.min(left);
    if max_wait.is_zero() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let start = Instant::now();
    let mut told = false;
    loop {
        let (b0, c0) = (procfs::machine_busy(), procfs::self_cpu());
        std::thread::sleep(Duration::from_millis(500));
        let (b1, c1) = (procfs::machine_busy(), procfs::self_cpu());
        let pct = 100.0 * ((b1 - b0) - (c1 - c0)).max(0.0) / (0.5 * cores);
        if pct < 10.0 {
            WAITED_MS.fetch_add(start.elapsed().as_millis() as u64, Ordering::Relaxed);
            if told {
                println!("   … quiet after {:.0} s", start.elapsed().as_secs_f64());
            }
            return;
        }
        if start.elapsed() >= max_wait {
            WAITED_MS.fetch_add(start.elapsed().as_millis() as u64, Ordering::Relaxed);
            note(
                res,
                format!(
                    "other processes still used {pct:.0}% of the machine after waiting {:.0} s; measured anyway (see the others % figures)",
                    max_wait.as_secs_f64()
                ),
            );
            return;
        }
        if !told {
            println!(
                "   … other processes use {pct:.0}% of the machine: waiting up to {:.0} s for quiet",
                max_wait.as_secs_f64()
            );
            told = true;
        }
    }
}

fn log_path(logs: &Path, peer: &Peer, group: &str, round: usize) -> PathBuf {
    logs.join(format!("{}-{group}-r{round}.log", peer.id))
}

fn note(res: &mut Results, m: String) {
    println!("   ! {m}");
    res.notes.push(m);
}

/// The figures of a handshake-rate scenario.
fn record_rate(res: &mut Results, scenario: &str, peer: &Peer, rate: &client::Rate, round: usize) {
    if rate.ops == 0 {
        note(
            res,
            format!(
                "{} {scenario} round {round}: no session completed ({} errors; first: {})",
                peer.label,
                rate.errors,
                rate.first_error.as_deref().unwrap_or("-")
            ),
        );
        return;
    }
    let ops = rate.ops as f64;
    let w = &rate.window;
    res.add(
        scenario,
        "handshakes/s",
        Better::Higher,
        peer.id,
        ops / w.secs,
    );
    res.add(
        scenario,
        "server CPU µs/hs",
        Better::Lower,
        peer.id,
        w.server.total / ops * 1e6,
    );
    res.add(
        scenario,
        "server sys %",
        Better::Neither,
        peer.id,
        100.0 * w.server.sys / (w.server.user + w.server.sys).max(1e-9),
    );
    res.add(
        scenario,
        "client CPU µs/hs",
        Better::Neither,
        peer.id,
        w.client / ops * 1e6,
    );
    res.add(
        scenario,
        "others %",
        Better::Neither,
        peer.id,
        w.others_pct(),
    );
    if scenario == "hs-resumed" {
        res.add(
            scenario,
            "resumed %",
            Better::Higher,
            peer.id,
            100.0 * rate.resumed as f64 / ops,
        );
    }
    let neg = &rate.negotiated;
    res.fact(
        peer.id,
        scenario,
        "negotiated",
        format!("{} {}", neg.suite, neg.group),
    );
    if rate.errors > 0 || rate.unclean > 0 {
        note(
            res,
            format!(
                "{} {scenario} round {round}: {} errors, {} closes without close_notify (first error: {})",
                peer.label,
                rate.errors,
                rate.unclean,
                rate.first_error.as_deref().unwrap_or("-")
            ),
        );
    }
    println!(
        "   {:<26} {scenario:<16} {:>9}/s  server {:>6} µs/hs  client {:>6} µs/hs  others {:.0}%{}",
        peer.label,
        num(ops / w.secs),
        num(w.server.total / ops * 1e6),
        num(w.client / ops * 1e6),
        w.others_pct(),
        if scenario == "hs-resumed" {
            format!("  resumed {:.0}%", 100.0 * rate.resumed as f64 / ops)
        } else {
            String::new()
        }
    );
}

fn group_ecdsa(
    res: &mut Results,
    plan: &Plan,
    c: &Configs,
    peer: &Peer,
    round: usize,
    logs: &Path,
) {
    wait_quiet(res, plan);
    let probe = peer.tls().then_some(&c.full);
    let server = match start(
        peer,
        Cert::Ecdsa,
        &log_path(logs, peer, "ecdsa", round),
        probe,
    ) {
        Ok(s) => s,
        Err(e) => return note(res, e),
    };
    let (addr, pid) = (server.addr, server.pid);
    if peer.tls() {
        let about = format!(
            "full TLS 1.3 handshakes: connect, handshake, 1-byte echo, close_notify both ways; ECDSA P-256, X25519, {} client threads",
            plan.threads
        );
        res.scenario("hs-full-ecdsa", &about);
        let rate = client::handshakes(addr, &c.full, plan.threads, plan.warmup, plan.window, pid);
        record_rate(res, "hs-full-ecdsa", peer, &rate, round);
        if plan.pq {
            res.scenario(
                "hs-full-ecdsa-pq",
                "as hs-full-ecdsa, but the client offers its provider's default groups (aws-lc-rs: X25519MLKEM768 first); servers that support it pick it, Node picks X25519",
            );
            let rate = client::handshakes(addr, &c.pq, plan.threads, plan.warmup, plan.window, pid);
            record_rate(res, "hs-full-ecdsa-pq", peer, &rate, round);
        }
        res.scenario(
            "hs-resumed",
            "resumed TLS 1.3 handshakes (the client keeps the server's tickets; PSK with X25519), otherwise as hs-full-ecdsa",
        );
        let rate = client::handshakes(addr, &c.resume, plan.threads, plan.warmup, plan.window, pid);
        record_rate(res, "hs-resumed", peer, &rate, round);
    }
    let config = peer.tls().then_some(&c.full);
    for conns in [1usize, 8] {
        let scenario = format!("bulk-{conns}");
        res.scenario(
            &scenario,
            &format!(
                "bulk echo, {conns} connection(s), {} MiB each way per connection, sent and read back at once",
                plan.bulk_mib
            ),
        );
        match client::bulk(addr, config, conns, plan.bulk_mib << 20, pid) {
            Ok(b) => {
                let w = &b.window;
                let mib = b.bytes as f64 / (1u64 << 20) as f64;
                res.add(
                    &scenario,
                    "MB/s each way",
                    Better::Higher,
                    peer.id,
                    b.bytes as f64 / w.secs / 1e6,
                );
                res.add(
                    &scenario,
                    "server CPU µs/MiB",
                    Better::Lower,
                    peer.id,
                    w.server.total * 1e6 / mib,
                );
                res.add(
                    &scenario,
                    "server cores",
                    Better::Neither,
                    peer.id,
                    w.server.total / w.secs,
                );
                res.add(
                    &scenario,
                    "client CPU µs/MiB",
                    Better::Neither,
                    peer.id,
                    w.client * 1e6 / mib,
                );
                res.add(
                    &scenario,
                    "others %",
                    Better::Neither,
                    peer.id,
                    w.others_pct(),
                );
                println!(
                    "   {:<26} {scenario:<16} {:>9} MB/s  server {:>6} µs/MiB  others {:.0}%",
                    peer.label,
                    num(b.bytes as f64 / w.secs / 1e6),
                    num(w.server.total * 1e6 / mib),
                    w.others_pct()
                );
            }
            Err(e) => note(res, format!("{} {scenario} round {round}: {e}", peer.label)),
        }
    }
    res.scenario(
        "pingpong-100",
        "ping-pong: 100 connections, one 64-byte message in flight on each, 2 client threads (poll)",
    );
    match client::pingpong(addr, config, 100, 2, 64, plan.warmup, plan.window, pid) {
        Ok(mut p) => {
            p.latencies_ns.sort_unstable();
            let w = &p.window;
            let us = |q: f64| client::percentile(&p.latencies_ns, q) / 1000.0;
            let s = "pingpong-100";
            res.add(
                s,
                "rounds/s",
                Better::Higher,
                peer.id,
                p.rounds as f64 / w.secs,
            );
            res.add(s, "p50 µs", Better::Lower, peer.id, us(0.5));
            res.add(s, "p99 µs", Better::Lower, peer.id, us(0.99));
            res.add(s, "p99.9 µs", Better::Lower, peer.id, us(0.999));
            res.add(
                s,
                "server CPU µs/round",
                Better::Lower,
                peer.id,
                w.server.total * 1e6 / p.rounds as f64,
            );
            res.add(
                s,
                "client CPU µs/round",
                Better::Neither,
                peer.id,
                w.client * 1e6 / p.rounds as f64,
            );
            res.add(s, "others %", Better::Neither, peer.id, w.others_pct());
            println!(
                "   {:<26} {s:<16} {:>9} rounds/s  p50 {} µs  p99 {} µs  server {} µs/round  others {:.0}%",
                peer.label,
                num(p.rounds as f64 / w.secs),
                num(us(0.5)),
                num(us(0.99)),
                num(w.server.total * 1e6 / p.rounds as f64),
                w.others_pct()
            );
        }
        Err(e) => note(
            res,
            format!("{} pingpong-100 round {round}: {e}", peer.label),
        ),
    }
    drop(server);
}

fn group_rsa(res: &mut Results, plan: &Plan, c: &Configs, peer: &Peer, round: usize, logs: &Path) {
    wait_quiet(res, plan);
    let server = match start(
        peer,
        Cert::Rsa,
        &log_path(logs, peer, "rsa", round),
        Some(&c.full),
    ) {
        Ok(s) => s,
        Err(e) => return note(res, e),
    };
    res.scenario(
        "hs-full-rsa",
        &format!("as hs-full-ecdsa, with the RSA-2048 certificate (RSA-PSS signatures), {} client threads", plan.threads),
    );
    let rate = client::handshakes(
        server.addr,
        &c.full,
        plan.threads,
        plan.warmup,
        plan.window,
        server.pid,
    );
    record_rate(res, "hs-full-rsa", peer, &rate, round);
}

#[allow(clippy::too_many_arguments)]
fn group_idle(
    res: &mut Results,
    plan: &Plan,
    c: &Configs,
    peer: &Peer,
    round: usize,
    n: usize,
    logs: &Path,
) {
    let scenario = format!("idle-{n}");
    res.scenario(
        &scenario,
        &format!("{n} handshaken idle connections (each echoed 1 byte) held open; a fresh server process; RSS and threads from /proc/PID/status"),
    );
    wait_quiet(res, plan);
    let server = match start(
        peer,
        Cert::Ecdsa,
        &log_path(logs, peer, &scenario, round),
        Some(&c.full),
    ) {
        Ok(s) => s,
        Err(e) => return note(res, e),
    };
    // Warm up: lazy initialisation is not per-connection memory.
    for _ in 0..16 {
        let _ = client::session(server.addr, &c.full);
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = procfs::mem(server.pid).unwrap_or_default();
    let cpu0 = procfs::cpu(server.pid).unwrap_or_default();
    let (held, errors, first) = client::hold(server.addr, &c.full, n, plan.threads);
    std::thread::sleep(Duration::from_millis(if plan.quick { 500 } else { 1000 }));
    let after = procfs::mem(server.pid).unwrap_or_default();
    let cpu1 = procfs::cpu(server.pid).unwrap_or_default();
    let open = held.len();
    if errors > 0 {
        note(
            res,
            format!(
                "{} {scenario} round {round}: {errors} of {n} connections failed (first: {})",
                peer.label,
                first.unwrap_or_default()
            ),
        );
    }
    if open > 0 {
        let kib = (after.rss_kib as f64 - before.rss_kib as f64) / open as f64;
        res.add(&scenario, "KiB/conn (RSS)", Better::Lower, peer.id, kib);
        res.add(
            &scenario,
            "server RSS MiB",
            Better::Lower,
            peer.id,
            after.rss_kib as f64 / 1024.0,
        );
        res.add(
            &scenario,
            "threads",
            Better::Neither,
            peer.id,
            after.threads as f64,
        );
        res.add(
            &scenario,
            "server CPU µs/conn",
            Better::Lower,
            peer.id,
            cpu0.since(&cpu1).total * 1e6 / open as f64,
        );
        println!(
            "   {:<26} {scenario:<16} {:>6.1} KiB/conn  RSS {} → {} MiB  threads {} → {}",
            peer.label,
            kib,
            num(before.rss_kib as f64 / 1024.0),
            num(after.rss_kib as f64 / 1024.0),
            before.threads,
            after.threads
        );
    }
    // Kill the server first: closing thousands of connections politely is not measured.
    drop(server);
    drop(held);
}

fn run_floor(res: &mut Results, plan: &Plan) {
    let certs = root().join("certs");
    match floor::measure(&certs, floor::Sizes::new(plan.quick)) {
        Ok(f) => {
            res.floor.insert(client::PROVIDER.to_string(), f);
        }
        Err(e) => note(res, format!("floor ({}): {e}", client::PROVIDER)),
    }
    let ring = root().join("target/bench-ring/release/bench");
    if client::PROVIDER != "ring" && ring.exists() {
        let mut cmd = Command::new(&ring);
        cmd.arg("floor");
        if plan.quick {
            cmd.arg("--quick");
        }
        match cmd.output() {
            Ok(out) if out.status.success() => {
                let figures = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| {
                        let (k, v) = l.split_once(' ')?;
                        Some((k.to_string(), v.trim().parse::<f64>().ok()?))
                    })
                    .collect();
                res.floor.insert("ring".into(), figures);
            }
            Ok(out) => note(
                res,
                format!(
                    "floor (ring): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ),
            Err(e) => note(res, format!("floor (ring): {e}")),
        }
    }
    for (provider, figures) in &res.floor {
        let line: Vec<String> = figures
            .iter()
            .map(|(k, v)| format!("{k} {}", num(*v)))
            .collect();
        println!("   floor {provider}: {}", line.join(", "));
    }
}

fn floor_value(res: &Results, provider: &str, key: &str) -> Option<f64> {
    res.floor
        .get(provider)?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
}

fn floor_section(res: &Results) -> String {
    let mut out = String::from(
        "\n### floor — in memory, no sockets: the server side of one connection as rustls + provider do it (ServerConnection::new, handshake, tickets, 1-byte echo, close_notify, drop), and the record layer\n\n",
    );
    out.push_str("| figure | aws-lc-rs | ring |\n|---|---|---|\n");
    let keys = [
        (
            "hs_full_ecdsa_us",
            "full handshake, ECDSA P-256, X25519: server µs",
        ),
        (
            "hs_full_ecdsa_pq_us",
            "full handshake, ECDSA, X25519MLKEM768: server µs",
        ),
        ("hs_full_rsa_us", "full handshake, RSA-2048: server µs"),
        (
            "hs_resumed_us",
            "resumed handshake (PSK + X25519): server µs",
        ),
        ("hs_resumed_share", "share of sessions that resumed"),
        (
            "aead_open_MBps",
            "decrypt 16 KiB records (AES-128-GCM): MB/s",
        ),
        (
            "aead_seal_MBps",
            "encrypt 16 KiB records (AES-128-GCM): MB/s",
        ),
        (
            "echo_us_per_MiB",
            "echo 1 MiB (decrypt + encrypt): server µs",
        ),
        (
            "pingpong_us_per_round",
            "echo one 64-byte message: server µs",
        ),
    ];
    for (k, label) in keys {
        let cell = |p: &str| floor_value(res, p, k).map_or("-".to_string(), num);
        out.push_str(&format!(
            "| {label} | {} | {} |\n",
            cell("aws-lc-rs"),
            cell("ring")
        ));
    }
    out.push_str("\n### measured server CPU as a multiple of the floor (same provider; Node and naive against aws-lc-rs)\n\n");
    let pairs = [
        ("hs-full-ecdsa", "server CPU µs/hs", "hs_full_ecdsa_us"),
        (
            "hs-full-ecdsa-pq",
            "server CPU µs/hs",
            "hs_full_ecdsa_pq_us",
        ),
        ("hs-full-rsa", "server CPU µs/hs", "hs_full_rsa_us"),
        ("hs-resumed", "server CPU µs/hs", "hs_resumed_us"),
        ("bulk-1", "server CPU µs/MiB", "echo_us_per_MiB"),
        ("bulk-8", "server CPU µs/MiB", "echo_us_per_MiB"),
        (
            "pingpong-100",
            "server CPU µs/round",
            "pingpong_us_per_round",
        ),
    ];
    out.push_str("| scenario |");
    let mut rule = String::from("|---|");
    for (_, label) in &res.servers {
        out.push_str(&format!(" {label} |"));
        rule.push_str("---|");
    }
    out.push_str(&format!("\n{rule}\n"));
    for (scenario, figure, key) in pairs {
        let mut line = format!("| {scenario} ({figure}) |");
        let mut any = false;
        for (id, _) in &res.servers {
            let provider = if id == "tls-server-ring" {
                "ring"
            } else {
                "aws-lc-rs"
            };
            let cell = match (
                res.median(scenario, figure, id),
                floor_value(res, provider, key),
            ) {
                (Some(m), Some(fl)) if fl > 0.0 => {
                    any = true;
                    format!("{} µs = {:.1}× floor", num(m), m / fl)
                }
                _ => "-".into(),
            };
            line.push_str(&format!(" {cell} |"));
        }
        if any {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The claims: tls-server (aws-lc-rs) against Node and the naive server, and the
/// issue's reference numbers.
fn targets_section(res: &Results) -> String {
    let me = "tls-server-aws-lc-rs";
    let mut out = String::from(
        "\n### claims: tls-server (aws-lc-rs) against each peer (medians), and the issue's reference numbers\n\n| scenario | figure | tls-server | naive rustls | Node | issue's reference | verdict |\n|---|---|---|---|---|---|---|\n",
    );
    let figures = [
        ("hs-full-ecdsa", "handshakes/s", "Node ~3,200, naive ~5,500"),
        (
            "hs-full-ecdsa",
            "server CPU µs/hs",
            "Node ~350, naive ~190, in-memory ~67",
        ),
        ("hs-full-rsa", "handshakes/s", ""),
        ("hs-full-rsa", "server CPU µs/hs", ""),
        ("hs-resumed", "handshakes/s", ""),
        ("hs-resumed", "server CPU µs/hs", ""),
        ("bulk-1", "MB/s each way", "Node ~850, naive ~1,350"),
        ("bulk-1", "server CPU µs/MiB", ""),
        ("bulk-8", "MB/s each way", ""),
        ("bulk-8", "server CPU µs/MiB", ""),
        (
            "pingpong-100",
            "rounds/s",
            "Node ~81,000, naive ~112,000, TCP ~119,000",
        ),
        ("pingpong-100", "p99 µs", ""),
        ("pingpong-100", "server CPU µs/round", ""),
        ("idle-1000", "KiB/conn (RSS)", "Node ~33–41, naive ~50"),
        ("idle-5000", "KiB/conn (RSS)", "Node ~33–41, naive ~50"),
    ];
    for (scenario, figure, reference) in figures {
        let Some(row) = res
            .rows
            .iter()
            .find(|r| r.scenario == scenario && r.figure == figure)
        else {
            continue;
        };
        let m = |id: &str| res.median(scenario, figure, id);
        let range = |id: &str| row.values.get(id).and_then(|v| summary(v));
        let Some((mine, my_lo, my_hi)) = range(me) else {
            continue;
        };
        let mut misses = Vec::new();
        let mut ties = Vec::new();
        for (id, name) in [("naive-rustls", "naive"), ("node", "Node")] {
            if let Some((other, lo, hi)) = range(id) {
                let worse = match row.better {
                    Better::Higher => mine < other,
                    Better::Lower => mine > other,
                    Better::Neither => false,
                };
                if worse {
                    let by = format!("{name} by {:.0}%", 100.0 * (mine - other).abs() / other);
                    // Overlapping min–max ranges: the rounds cannot tell them apart.
                    if my_lo <= hi && lo <= my_hi {
                        ties.push(by);
                    } else {
                        misses.push(by);
                    }
                }
            }
        }
        let verdict = match (misses.is_empty(), ties.is_empty()) {
            (true, true) => "beats both".to_string(),
            (true, false) => format!("tie: behind {} within the rounds' spread", ties.join(", ")),
            _ => format!("MISS: behind {}", misses.join(", ")),
        };
        let cell = |v: Option<f64>| v.map_or("-".into(), num);
        out.push_str(&format!(
            "| {scenario} | {figure} | {} | {} | {} | {reference} | {verdict} |\n",
            num(mine),
            cell(m("naive-rustls")),
            cell(m("node")),
        ));
    }
    out
}

/// Servers that wrote to stderr (with --log-level warn, tls-server should write nothing).
fn server_logs(res: &mut Results, logs: &Path) {
    let Ok(dir) = std::fs::read_dir(logs) else {
        return;
    };
    let mut noisy: Vec<(String, usize, String)> = Vec::new();
    for entry in dir.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let lines = text.lines().count();
        if lines > 0 {
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            noisy.push((
                entry.file_name().to_string_lossy().into_owned(),
                lines,
                first,
            ));
        }
    }
    noisy.sort();
    for (name, lines, first) in noisy {
        res.notes.push(format!(
            "server stderr {name}: {lines} line(s), first: {first}"
        ));
    }
}
