//! The soak's second and third parts (`soak.rs` says what they measure): good and hostile
//! clients mixed, then SIGTERM with clients connected.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::hostile::{self, Counts, Ctx, Herd};
use crate::procfs;
use crate::report::f;
use crate::watch::{Sample, Watched};

use crate::soak::{failures, pct, sorted, Checks, Plan, MEASURER, SETTLE};

// ----- 2. mix -------------------------------------------------------------------------------

/// The peers of the mix: name, how many threads run it.
type Mixed = (&'static str, hostile::Peer, usize);

const PEERS: [Mixed; 5] = [
    ("good clients", hostile::good, 2),
    ("resets in the handshake", hostile::reset_in_handshake, 1),
    ("resets in a write", hostile::reset_in_write, 1),
    ("garbage", hostile::garbage, 1),
    ("slow readers", hostile::slow_reader, 2),
];

pub(crate) fn mix(
    plan: &Plan,
    config: &Arc<ClientConfig>,
    checks: &mut Checks,
) -> Result<(), String> {
    let part = format!("mix, cap {}, {} s", plan.cap, plan.seconds);
    println!("\n== {part}");
    // glibc keeps a cache of freed blocks in each thread (tcache): with 128 busy
    // connection threads it fills for many minutes and the resident memory creeps up with
    // it, bounded but looking like a leak. Turned off here, what the memory check sees is
    // ours; `--allocator-defaults` measures with it (bench/README.md has both figures).
    let env: &[(&str, &str)] = match plan.allocator_defaults {
        true => &[],
        false => &[("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")],
    };
    println!(
        "  allocator: {}",
        match plan.allocator_defaults {
            true => "glibc defaults",
            false => "glibc without per-thread caches (GLIBC_TUNABLES=glibc.malloc.tcache_count=0)",
        }
    );
    let mut server = Watched::start(
        &plan.program,
        &["--max-connections".into(), plan.cap.to_string()],
        env,
        &plan.out.join("mix.log"),
    )?;
    let before = server.sample();
    let drops_before = procfs::listen_drops();
    let ctx = Arc::new(Ctx::new(server.addr, config.clone()));
    let mut counts: BTreeMap<&str, Arc<Counts>> = BTreeMap::new();
    let mut threads = Vec::new();
    for (name, peer, n) in PEERS {
        let c = counts.entry(name).or_default().clone();
        for _ in 0..n {
            let (ctx, c) = (Arc::clone(&ctx), Arc::clone(&c));
            threads.push(std::thread::spawn(move || peer(&ctx, &c)));
        }
    }
    // Stalled handshakes and idle holders, a quarter of the cap each: with the handshakes
    // of the other peers, more than the handshake limit (a quarter of the cap), so that
    // stalled ones are evicted; the per-address limit (three quarters) is not reached.
    for (name, secure) in [("stalled handshakes", false), ("idle holders", true)] {
        let c = counts.entry(name).or_default().clone();
        let (ctx, n) = (Arc::clone(&ctx), plan.cap / 4);
        threads.push(std::thread::spawn(move || Herd { n, secure }.run(&ctx, &c)));
    }
    let measured = counts
        .entry("measuring client (127.0.0.2)")
        .or_default()
        .clone();
    let measurer = {
        let (ctx, c) = (Arc::clone(&ctx), Arc::clone(&measured));
        std::thread::spawn(move || {
            hostile::measure(&ctx, &c, MEASURER, Duration::from_millis(50), None)
        })
    };

    let start = Instant::now();
    let total = Duration::from_secs(plan.seconds);
    let warmup = (total / 10).max(Duration::from_secs(5)).min(total);
    std::thread::sleep(warmup);
    let warm = server.sample();
    let mut samples: Vec<(u64, Sample)> = vec![(start.elapsed().as_secs(), warm)];
    println!("  after warm-up ({} s): {}", warmup.as_secs(), show(&warm));
    while start.elapsed() < total {
        let step = Duration::from_secs(30).min(total.saturating_sub(start.elapsed()));
        std::thread::sleep(step);
        let s = server.sample();
        println!("  {:>4} s: {}", start.elapsed().as_secs(), show(&s));
        samples.push((start.elapsed().as_secs(), s));
        if !server.alive() {
            break;
        }
    }
    let loaded = server.sample();
    ctx.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let (ms, _) = sorted(
        &measurer
            .join()
            .map_err(|_| "the measuring client panicked")?,
    );

    // Every connection made has been accepted and ended — except those the kernel
    // dropped from a full accept queue, which the server never saw (their clients saw a
    // successful connect; the kernel counts them as ListenDrops).
    let connects: u64 = counts
        .values()
        .map(|c| c.connects.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let settled = server.wait_for(SETTLE, |t| {
        t.open.is_empty()
            && t.accepted() + procfs::listen_drops().saturating_sub(drops_before) >= connects
    });
    let dropped = procfs::listen_drops().saturating_sub(drops_before);
    let tally = server.tally();
    // Threads end 30 s after their last connection; wait for them.
    let until = Instant::now() + SETTLE;
    let mut after = server.sample();
    while (after.threads > before.threads || after.fds > before.fds) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(500));
        after = server.sample();
    }

    for (name, c) in &counts {
        let r = std::sync::atomic::Ordering::Relaxed;
        checks.note(
            &part,
            name,
            format!(
                "{} connections, {} as expected, {} turned away by a limit, {} failed{}",
                c.connects.load(r),
                c.ok.load(r),
                c.turned_away.load(r),
                c.failure_count(),
                failures(c)
            ),
        );
    }
    checks.note(&part, "events", format!("{:?}", tally.counts));
    checks.note(&part, "refused, by limit", format!("{:?}", tally.refused));
    checks.note(&part, "evicted, by limit", format!("{:?}", tally.evicted));
    checks.note(
        &part,
        "failed handshakes, by cause",
        format!("{:?}", tally.causes),
    );
    checks.note(
        &part,
        "memory over the run",
        samples
            .iter()
            .map(|(t, s)| format!("{t} s {} KiB", s.rss_kib))
            .collect::<Vec<_>>()
            .join(", "),
    );

    checks.add(
        &part,
        "server alive",
        server.alive().to_string(),
        "true",
        server.alive(),
    );
    checks.add(
        &part,
        "measuring client (127.0.0.2)",
        format!(
            "{} handshakes, {} failed, p50 {} ms, p99 {} ms, max {} ms{}",
            ms.len(),
            measured.failure_count(),
            f(pct(&ms, 0.5)),
            f(pct(&ms, 0.99)),
            f(pct(&ms, 1.0)),
            failures(&measured)
        ),
        "0 failed",
        measured.failure_count() == 0 && !ms.is_empty(),
    );
    let accounted = settled
        && tally.accepted() <= connects
        && tally.accepted() + dropped >= connects
        && tally.ended_twice == 0
        && tally.ended_unknown == 0
        && tally.bad_lines == 0;
    checks.add(
        &part,
        "connections accounted for",
        format!(
            "{connects} made by the clients; {} accepted ({} announced + {} refused), {dropped} dropped by the kernel from a full accept queue; {} still open; {} ended twice, {} ended unannounced; {} unreadable event lines",
            tally.accepted(), tally.count("connection"), tally.count("refused"), tally.open.len(), tally.ended_twice, tally.ended_unknown, tally.bad_lines
        ),
        "every one accepted (or dropped by the kernel) and ended once",
        accounted,
    );
    checks.add(
        &part,
        "descriptors",
        format!("{} before, {} after", before.fds, after.fds),
        "back to the value before",
        after.fds <= before.fds,
    );
    checks.add(
        &part,
        "threads",
        format!("{} before, {} after", before.threads, after.threads),
        "back to the value before",
        after.threads <= before.threads,
    );
    let growth = loaded.rss_kib as f64 / warm.rss_kib.max(1) as f64 - 1.0;
    checks.add(
        &part,
        "resident memory under load",
        format!(
            "{} KiB after warm-up, {} KiB at the end ({:+.1} %)",
            warm.rss_kib,
            loaded.rss_kib,
            growth * 100.0
        ),
        "within 10 % of the value after warm-up",
        growth.abs() <= 0.10,
    );
    checks.add(
        &part,
        "resident memory once the load has gone",
        format!(
            "{} KiB ({:+.1} % from after warm-up; {} KiB before any load)",
            after.rss_kib,
            (after.rss_kib as f64 / warm.rss_kib.max(1) as f64 - 1.0) * 100.0,
            before.rss_kib
        ),
        "no more than 10 % above the value after warm-up",
        after.rss_kib as f64 <= warm.rss_kib as f64 * 1.10,
    );
    let panics = server.panics();
    checks.add(
        &part,
        "panics in the log",
        format!(
            "{}{}",
            panics.len(),
            panics.first().map(|p| format!(": {p}")).unwrap_or_default()
        ),
        "0",
        panics.is_empty(),
    );

    sigterm(&mut server, plan.cap, config, checks)
}

fn show(s: &Sample) -> String {
    format!(
        "{} descriptors, {} threads, {} KiB resident",
        s.fds, s.threads, s.rss_kib
    )
}

// ----- 3. SIGTERM ---------------------------------------------------------------------------

fn sigterm(
    server: &mut Watched,
    cap: usize,
    config: &Arc<ClientConfig>,
    checks: &mut Checks,
) -> Result<(), String> {
    // As many as the per-address limit (three quarters of the cap) lets in, up to 64.
    let n = (cap * 3 / 4).min(64);
    let part = &format!("SIGTERM with {n} idle clients");
    println!("\n== {part}");
    let ctx = Ctx::new(server.addr, config.clone());
    let mut held = Vec::new();
    for _ in 0..n {
        let sock = hostile::connect(server.addr, Some(MEASURER)).map_err(|e| e.to_string())?;
        held.push(
            hostile::handshake(&ctx, sock).map_err(|e| format!("opening an idle client: {e}"))?,
        );
    }
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    // Each client reads until the server closes: with close_notify (Ok(0) from rustls),
    // or without (an error).
    let notified: usize = std::thread::scope(|s| {
        let readers: Vec<_> = held
            .into_iter()
            .map(|(mut conn, mut sock)| {
                s.spawn(move || -> bool {
                    let _ = sock.set_read_timeout(Some(Duration::from_secs(15)));
                    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
                    let mut sink = [0u8; 256];
                    loop {
                        match tls.read(&mut sink) {
                            Ok(0) => return true,
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return false,
                        }
                    }
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().unwrap_or(false) as usize)
            .sum()
    });
    let status = server.wait_exit(Duration::from_secs(15));
    let took = signalled.elapsed();
    let closed = server.wait_for(Duration::from_secs(5), |t| t.closed);
    let code = status.and_then(|s| s.code());
    checks.add(
        part,
        "exit",
        format!("status {code:?} after {} ms", took.as_millis()),
        "status 0 within the 5 s grace period",
        code == Some(0) && took < Duration::from_secs(5),
    );
    checks.add(
        part,
        "close_notify received",
        format!("{notified}/{n}"),
        &format!("{n}/{n}"),
        notified == n,
    );
    checks.add(part, "closed event", closed.to_string(), "true", closed);
    Ok(())
}
