//! The soak's first part (`soak.rs` says what it measures): one address holding 4 × the cap
//! in idle and in stalled connections while another makes 200 handshakes.

use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use crate::hostile::{self, Counts, Ctx, Herd};
use crate::report::f;
use crate::watch::Watched;

use crate::soak::{failures, pct, sorted, Checks, Plan, MEASURER};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One thread per attacking connection; each reopens a second after the server ends
    /// its connection: a client that holds what it can.
    Threads,
    /// Two threads polling all the attacking connections, reopening at once.
    Poll,
    /// One thread per attacking connection, each reopening at once: 2,048 threads
    /// connecting as fast as they can, on the server's own CPUs.
    Flood,
}

pub(crate) fn lockout(
    plan: &Plan,
    config: &Arc<ClientConfig>,
    shape: Shape,
    checks: &mut Checks,
) -> Result<(), String> {
    let cap = plan.lockout_cap;
    let part = match shape {
        Shape::Threads => format!(
            "lockout, cap {cap}, attacker: a thread per connection, reopening after 1 s"
        ),
        Shape::Poll => format!(
            "lockout, cap {cap}, attacker: one polling thread per kind, reopening at once"
        ),
        Shape::Flood => format!(
            "connection flood, cap {cap}, attacker: a thread per connection, reopening at once (no target)"
        ),
    };
    println!("\n== {part}");
    let log = plan.out.join(match shape {
        Shape::Threads => "lockout-threads.log",
        Shape::Poll => "lockout-poll.log",
        Shape::Flood => "flood.log",
    });
    let server = Watched::start(
        &plan.program,
        &["--max-connections".into(), cap.to_string()],
        &[],
        &log,
    )?;
    let attack = Arc::new(Ctx::new(server.addr, config.clone()));
    let idle = Arc::new(Counts::default());
    let stalled = Arc::new(Counts::default());
    let mut threads = Vec::new();
    match shape {
        Shape::Threads | Shape::Flood => {
            let reopen = match shape {
                Shape::Threads => Duration::from_secs(1),
                _ => Duration::ZERO,
            };
            for (counts, secure) in [(&idle, true), (&stalled, false)] {
                threads.extend(hostile::hold_with_threads(
                    &attack,
                    counts,
                    4 * cap,
                    secure,
                    reopen,
                ));
            }
        }
        Shape::Poll => {
            for (counts, secure) in [(&idle, true), (&stalled, false)] {
                let (ctx, counts) = (Arc::clone(&attack), Arc::clone(counts));
                threads.push(std::thread::spawn(move || {
                    Herd { n: 4 * cap, secure }.run(&ctx, &counts)
                }));
            }
        }
    }
    // The server is under siege once it is full and turning the attacker away.
    let full = server.wait_for(Duration::from_secs(60), |t| {
        t.open.len() >= cap * 3 / 4 && t.count("refused") + t.count("evicted") > 0
    });
    let measurer = Ctx::new(server.addr, config.clone());
    let measured = Counts::default();
    let latencies = hostile::measure(&measurer, &measured, MEASURER, Duration::ZERO, Some(200));
    let tally = server.tally();
    attack
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let (ms, connect) = sorted(&latencies);
    let ok = ms.len();
    checks.note(&part, "siege", format!(
        "server full and refusing before measuring: {full}; {} open at the end; idle attacker {} connections ({} turned away), stalled attacker {} ({} turned away); server refused {:?}, evicted {:?}",
        tally.open.len(),
        idle.connects.load(std::sync::atomic::Ordering::Relaxed),
        idle.turned_away.load(std::sync::atomic::Ordering::Relaxed),
        stalled.connects.load(std::sync::atomic::Ordering::Relaxed),
        stalled.turned_away.load(std::sync::atomic::Ordering::Relaxed),
        tally.refused,
        tally.evicted,
    ));
    checks.add(
        &part,
        "handshakes from 127.0.0.2",
        format!("{ok}/200{}", failures(&measured)),
        "200/200",
        ok == 200 && full,
    );
    let latency = format!(
        "p50 {} ms, p99 {} ms, max {} ms (of which TCP connect: p50 {} ms, p99 {} ms, max {} ms)",
        f(pct(&ms, 0.5)),
        f(pct(&ms, 0.99)),
        f(pct(&ms, 1.0)),
        f(pct(&connect, 0.5)),
        f(pct(&connect, 0.99)),
        f(pct(&connect, 1.0))
    );
    match shape {
        // Measured and told, not a target: when thousands of threads on the server's own
        // two cores connect as fast as they can, the accept thread's share of the CPU is
        // what limits it, and the kernel's accept queue overflows (a dropped SYN is sent
        // again after 1 s, then 3 s). Rate limits belong in front of the server.
        Shape::Flood => checks.note(&part, "handshake latency from 127.0.0.2", latency),
        _ => checks.add(
            &part,
            "handshake latency from 127.0.0.2",
            latency,
            "p99 < 100 ms",
            pct(&ms, 0.99) < 100.0,
        ),
    }
    let panics = server.panics();
    checks.add(
        &part,
        "panics in the log",
        panics.len().to_string(),
        "0",
        panics.is_empty(),
    );
    Ok(())
}
