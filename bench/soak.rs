//! `bench soak` (`make soak`): does the server keep its bounds under hostile load? Loopback
//! only, bounded in time. Three parts, each against a fresh `tls-server serve` process with
//! default options apart from the connection cap:
//!
//! 1. **Lockout** (twice: the attacker as one thread per connection, then as one polling
//!    thread). 127.0.0.1 holds 4 × the cap in idle secure connections and 4 × the cap in
//!    stalled handshakes, reopening each the server closes; meanwhile a client from
//!    127.0.0.2 makes 200 handshakes, one after another. Target: all complete, p99 under
//!    100 ms.
//! 2. **Mix**, for `--seconds`: good clients, resets in the handshake and in the middle of a
//!    write, garbage, stalled handshakes, idle holders and slow readers from 127.0.0.1,
//!    and a measuring client from 127.0.0.2. Afterwards: descriptors and threads back to
//!    their values before the load, resident memory at the end of the load within 10 % of
//!    its value after warm-up, no panic in the log, every connection accounted for in the
//!    events (each accepted connection announced or refused, each announced one ended
//!    exactly once), the measuring client never failed.
//! 3. **SIGTERM** on the mix's server with 64 idle clients (fewer if the cap is small): exit status 0 within the grace
//!    period (5 s), close_notify to every client, a `closed` event.
//!
//! Prints each figure next to its target and writes `target/soak/results.json`; exits 1
//! if a target is missed.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{self, Groups};
use crate::driver::{raise_fd_limit, root};
use crate::hostile::{self, Counts};
use crate::lockout::{lockout, Shape};
use crate::mix::mix;
use crate::report::q;

/// The measuring client's address: another loopback address than the attackers'.
pub(crate) const MEASURER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How long a stopped load may take to drain: the server's longest deadline (the 10 s
/// handshake timeout) plus the idle connection threads' lifetime (30 s), with room.
pub(crate) const SETTLE: Duration = Duration::from_secs(60);

pub struct Plan {
    /// How long the mix runs.
    pub seconds: u64,
    /// The connection cap of the mix's server.
    pub cap: usize,
    /// The connection cap of the lockout's server.
    pub lockout_cap: usize,
    pub out: PathBuf,
    pub program: PathBuf,
    /// Which parts run (`--only lockout` or `--only mix`; the mix includes SIGTERM).
    pub lockout: bool,
    pub mix: bool,
    /// Run the mix's server with glibc's per-thread caches (see mix.rs).
    pub allocator_defaults: bool,
}

impl Plan {
    pub fn new() -> Plan {
        let exe = std::env::current_exe().expect("current_exe");
        Plan {
            seconds: 600,
            cap: 128,
            lockout_cap: 256,
            out: root().join("target/soak"),
            program: exe.parent().expect("profile dir").join("tls-server"),
            lockout: true,
            mix: true,
            allocator_defaults: false,
        }
    }
}

/// One figure, its target, and whether it was met.
pub(crate) struct Check {
    part: String,
    name: String,
    value: String,
    target: String,
    pass: bool,
}

#[derive(Default)]
pub(crate) struct Checks(Vec<Check>);

impl Checks {
    pub(crate) fn add(&mut self, part: &str, name: &str, value: String, target: &str, pass: bool) {
        println!(
            "  {} {name}: {value}   [target: {target}]",
            if pass { "ok  " } else { "FAIL" }
        );
        self.0.push(Check {
            part: part.into(),
            name: name.into(),
            value,
            target: target.into(),
            pass,
        });
    }

    pub(crate) fn note(&mut self, part: &str, name: &str, value: String) {
        println!("       {name}: {value}");
        self.0.push(Check {
            part: part.into(),
            name: name.into(),
            value,
            target: String::new(),
            pass: true,
        });
    }

    fn json(&self) -> String {
        let rows: Vec<String> = self
            .0
            .iter()
            .map(|c| {
                format!(
                    "{{\"part\":{},\"name\":{},\"value\":{},\"target\":{},\"pass\":{}}}",
                    q(&c.part),
                    q(&c.name),
                    q(&c.value),
                    q(&c.target),
                    c.pass
                )
            })
            .collect();
        format!("{{\"checks\":[\n{}\n]}}\n", rows.join(",\n"))
    }
}

pub fn run(plan: Plan) -> i32 {
    match soak(&plan) {
        Ok(checks) => {
            let _ = std::fs::create_dir_all(&plan.out);
            let path = plan.out.join("results.json");
            if let Err(e) = std::fs::write(&path, checks.json()) {
                eprintln!("soak: {}: {e}", path.display());
            }
            let failed: Vec<&Check> = checks.0.iter().filter(|c| !c.pass).collect();
            println!("\nwrote {}", path.display());
            if failed.is_empty() {
                println!("soak: every target met");
                0
            } else {
                for c in &failed {
                    println!(
                        "soak: MISSED {} / {}: {} (target {})",
                        c.part, c.name, c.value, c.target
                    );
                }
                1
            }
        }
        Err(e) => {
            eprintln!("soak: {e}");
            2
        }
    }
}

fn soak(plan: &Plan) -> Result<Checks, String> {
    if !plan.program.exists() {
        return Err(format!(
            "{} not found: `make soak` builds it (cargo build --release -p tls-server-cli)",
            plan.program.display()
        ));
    }
    std::fs::create_dir_all(&plan.out).map_err(|e| format!("{}: {e}", plan.out.display()))?;
    let fd_limit = raise_fd_limit();
    let needed = (plan.lockout_cap * 8 + 256) as u64;
    if fd_limit < needed {
        return Err(format!(
            "the lockout needs {needed} descriptors in this process, the limit is {fd_limit}: raise `ulimit -n` or lower --lockout-cap"
        ));
    }
    let config = client::client_config(&root().join("certs/ca.crt"), Groups::X25519, false)?;
    let mut checks = Checks::default();
    if plan.lockout {
        for shape in [Shape::Threads, Shape::Poll, Shape::Flood] {
            lockout(plan, &config, shape, &mut checks)?;
        }
    }
    if plan.mix {
        mix(plan, &config, &mut checks)?;
    }
    Ok(checks)
}

pub(crate) fn failures(counts: &Counts) -> String {
    let f = counts.failures();
    match f.is_empty() {
        true => String::new(),
        false => format!(" (failures: {f:?})"),
    }
}

/// The totals and the connect times, each sorted.
pub(crate) fn sorted(latencies: &[hostile::Latency]) -> (Vec<f64>, Vec<f64>) {
    let mut total: Vec<f64> = latencies.iter().map(|l| l.total).collect();
    let mut connect: Vec<f64> = latencies.iter().map(|l| l.connect).collect();
    total.sort_by(f64::total_cmp);
    connect.sort_by(f64::total_cmp);
    (total, connect)
}

/// Percentile `q` (0..=1) of sorted values; NaN when there are none.
pub(crate) fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * q).round() as usize]
}
