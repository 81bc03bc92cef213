//! One round of each scenario group against one peer: ECDSA handshakes and data, RSA
//! handshakes, idle connections; and how a handshake rate becomes figures.

use std::path::Path;
use std::time::Duration;

use crate::client::{self};
use crate::driver::{log_path, note, wait_quiet, Configs, Plan};
use crate::peers::{start, Cert, Peer};
use crate::procfs;
use crate::report::{num, Better, Results};
use crate::{chan, pingpong, rate};

/// The figures of a handshake-rate scenario.
pub(crate) fn record_rate(
    res: &mut Results,
    scenario: &str,
    peer: &Peer,
    rate: &rate::Rate,
    round: usize,
) {
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

pub(crate) fn group_ecdsa(
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
        let rate = rate::handshakes(addr, &c.full, plan.threads, plan.warmup, plan.window, pid);
        record_rate(res, "hs-full-ecdsa", peer, &rate, round);
        if plan.pq {
            res.scenario(
                "hs-full-ecdsa-pq",
                "as hs-full-ecdsa, but the client offers its provider's default groups (aws-lc-rs: X25519MLKEM768 first); servers that support it pick it, Node picks X25519",
            );
            let rate = rate::handshakes(addr, &c.pq, plan.threads, plan.warmup, plan.window, pid);
            record_rate(res, "hs-full-ecdsa-pq", peer, &rate, round);
        }
        res.scenario(
            "hs-resumed",
            "resumed TLS 1.3 handshakes (the client keeps the server's tickets; PSK with X25519), otherwise as hs-full-ecdsa",
        );
        let rate = rate::handshakes(addr, &c.resume, plan.threads, plan.warmup, plan.window, pid);
        record_rate(res, "hs-resumed", peer, &rate, round);
    }
    let config = peer.tls().then_some(&c.full);
    let bulks = [
        (
            1usize,
            chan::Shape::Poll,
            "bulk-1",
            "one client thread per connection, non-blocking, poll, 64 KiB writes",
        ),
        (
            8,
            chan::Shape::Poll,
            "bulk-8",
            "one client thread per connection, non-blocking, poll, 64 KiB writes",
        ),
        (
            8,
            chan::Shape::Blocking,
            "bulk-8-threads",
            "a blocking writer thread (16 KiB writes) and a blocking reader thread per connection",
        ),
    ];
    for (conns, shape, scenario, how) in bulks {
        let scenario = scenario.to_string();
        res.scenario(
            &scenario,
            &format!(
                "bulk echo, {conns} connection(s), {} MiB each way per connection, sent and read back at once; {how}",
                plan.bulk_mib
            ),
        );
        match chan::bulk(addr, config, conns, plan.bulk_mib << 20, pid, shape) {
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
    let shapes: [(&str, &str); 2] = [
        (
            "pingpong-100",
            "ping-pong: 100 connections, one 64-byte message in flight on each, 2 client threads (poll)",
        ),
        (
            "pingpong-100-threads",
            "ping-pong: 100 connections, one 64-byte message in flight on each, one blocking client thread per connection (write_all, read_exact)",
        ),
    ];
    for (s, about) in shapes {
        res.scenario(s, about);
        let result = match s {
            "pingpong-100" => {
                pingpong::pingpong(addr, config, 100, 2, 64, plan.warmup, plan.window, pid)
            }
            _ => pingpong::pingpong_threads(addr, config, 100, 64, plan.warmup, plan.window, pid),
        };
        match result {
            Ok(p) => record_pingpong(res, peer, s, p),
            Err(e) => note(res, format!("{} {s} round {round}: {e}", peer.label)),
        }
    }
    drop(server);
}

pub(crate) fn group_rsa(
    res: &mut Results,
    plan: &Plan,
    c: &Configs,
    peer: &Peer,
    round: usize,
    logs: &Path,
) {
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
    let rate = rate::handshakes(
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
pub(crate) fn group_idle(
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
        &format!("{n} handshaken idle connections (each echoed 1 byte) held open; a fresh server process; RSS and threads from /proc/PID/status, RSS by kind from /proc/PID/smaps"),
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
    let kinds0 = procfs::rss_kinds(server.pid).unwrap_or_default();
    let cpu0 = procfs::cpu(server.pid).unwrap_or_default();
    let (held, errors, first) = client::hold(server.addr, &c.full, n, plan.threads);
    std::thread::sleep(Duration::from_millis(if plan.quick { 500 } else { 1000 }));
    let after = procfs::mem(server.pid).unwrap_or_default();
    let kinds1 = procfs::rss_kinds(server.pid).unwrap_or_default();
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
        // The same growth by kind (/proc/PID/smaps): what the connections' threads touched
        // of their stacks, and what they hold on the heap.
        let per_conn = |a: u64, b: u64| (b as f64 - a as f64) / open as f64;
        let stack = per_conn(kinds0.stack_kib, kinds1.stack_kib);
        let heap = per_conn(kinds0.heap_kib, kinds1.heap_kib);
        res.add(&scenario, "stack KiB/conn", Better::Lower, peer.id, stack);
        res.add(&scenario, "heap KiB/conn", Better::Lower, peer.id, heap);
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
            "   {:<26} {scenario:<16} {:>6.1} KiB/conn (stack {stack:.1}, heap {heap:.1})  RSS {} → {} MiB  threads {} → {}",
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

/// The figures of one ping-pong run, in the table and on the console.
fn record_pingpong(res: &mut Results, peer: &Peer, s: &str, mut p: pingpong::PingPong) {
    p.latencies_ns.sort_unstable();
    let w = &p.window;
    let us = |q: f64| client::percentile(&p.latencies_ns, q) / 1000.0;
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
        "   {:<26} {s:<20} {:>9} rounds/s  p50 {} µs  p99 {} µs  p99.9 {} µs  server {} µs/round  others {:.0}%",
        peer.label,
        num(p.rounds as f64 / w.secs),
        num(us(0.5)),
        num(us(0.99)),
        num(us(0.999)),
        num(w.server.total * 1e6 / p.rounds as f64),
        w.others_pct()
    );
}
