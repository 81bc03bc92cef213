//! `bench run`: starts every peer server in turn on the same certificates, drives each with
//! the same client, interleaves them (A B C D, A B C D, ...), reads their CPU time and
//! memory from /proc, and prints and writes the results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::client::{self, Groups};
use crate::groups::{group_ecdsa, group_idle, group_rsa};
use crate::peers::{kill_pid, peers, Kind, Peer, CHILDREN};
use crate::procfs;
use crate::report::Results;
use crate::sections::{
    floor_section, perf_targets_section, run_floor, server_logs, targets_section,
};

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

// ----- the run ----------------------------------------------------------------------------

pub(crate) struct Configs {
    pub(crate) full: Arc<ClientConfig>,
    pub(crate) pq: Arc<ClientConfig>,
    pub(crate) resume: Arc<ClientConfig>,
}

pub(crate) fn raise_fd_limit() -> u64 {
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

pub(crate) fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn environment(res: &mut Results, plan: &Plan, peers: &[Peer], fd_limit: u64) {
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
    text.push_str(&perf_targets_section(&res));
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
    let svg = plan.out.join(format!("{name}.svg"));
    let chart = crate::chart::svg(
        &res,
        &format!(
            "tls-server against Node and a naive rustls server ({} rounds{}, medians)",
            plan.rounds,
            if plan.quick { ", QUICK" } else { "" }
        ),
    );
    let written = std::fs::write(&json, res.json())
        .and_then(|_| std::fs::write(&md, &text))
        .and_then(|_| chart.map_or(Ok(()), |c| std::fs::write(&svg, c)));
    match written {
        Ok(()) => println!(
            "written: {}, {} and {}",
            json.display(),
            md.display(),
            svg.display()
        ),
        Err(e) => {
            eprintln!("bench: writing {}: {e}", json.display());
            return 1;
        }
    }
    0
}

/// Waits (up to `plan.quiet_wait`) until other processes use less than 10% of the machine.
pub(crate) fn wait_quiet(res: &mut Results, plan: &Plan) {
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

pub(crate) fn log_path(logs: &Path, peer: &Peer, group: &str, round: usize) -> PathBuf {
    logs.join(format!("{}-{group}-r{round}.log", peer.id))
}

pub(crate) fn note(res: &mut Results, m: String) {
    println!("   ! {m}");
    res.notes.push(m);
}
