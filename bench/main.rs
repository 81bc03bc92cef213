//! `make bench` — tls-server against Node's tls.Server and a naive rustls server, on the same
//! machine, certificates and client, in one run. See bench/README.md.
//!
//! ```text
//! bench run [--quick] [--rounds N] [--only ID,ID] [--threads N] [--out DIR] [--quiet-wait S]
//!                                the whole benchmark (bench/run.sh builds and calls this)
//! bench floor [--quick]          the in-memory floor of this build's provider, `name value`
//! bench load --port P [--pid PID] [--scenario S] [--seconds S] [--threads N] [--plain]
//!                                one scenario against a server you started (for profiling):
//!                                hs | hs-pq | resumed | bulk1 | bulk8 | bulk8-threads |
//!                                pingpong | pingpong-threads | idle:N
//! bench soak [--seconds S] [--cap N] [--lockout-cap N] [--only lockout|mix]
//!            [--allocator-defaults] [--out DIR]
//!                                the hostile-load soak (make soak; see soak.rs)
//! bench tcp-echo PORT            plain TCP echo server (the no-TLS reference)
//! ```

mod chan;
mod chart;
mod client;
mod driver;
mod floor;
mod groups;
mod hostile;
mod lockout;
mod mix;
mod peers;
mod pingpong;
mod procfs;
mod rate;
mod report;
mod sections;
mod soak;
mod watch;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use lexopt::prelude::*;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let cmd = args
        .next()
        .and_then(|a| a.into_string().ok())
        .unwrap_or_default();
    let rest: Vec<_> = args.collect();
    let code = match cmd.as_str() {
        "run" => parse_run(rest).map(driver::run),
        "floor" => floor_main(rest),
        "load" => load_main(rest),
        "soak" => parse_soak(rest).map(soak::run),
        "tcp-echo" => tcp_echo(rest),
        _ => Err(USAGE.into()),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}

const USAGE: &str = "usage: bench run [--quick] [--rounds N] [--only ID,..] [--threads N] [--out DIR] [--quiet-wait S] | bench floor [--quick] | bench load --port P [--pid PID] [--scenario S] [--seconds S] [--threads N] [--plain] | bench soak [--seconds S] [--cap N] [--lockout-cap N] [--only lockout|mix] [--allocator-defaults] [--out DIR] | bench tcp-echo PORT";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn parse_run(args: Vec<std::ffi::OsString>) -> Res<driver::Plan> {
    let mut p = lexopt::Parser::from_args(args);
    let mut quick = false;
    let mut rounds = None;
    let mut only = None;
    let mut threads = None;
    let mut out = None;
    let mut quiet_wait = None;
    while let Some(arg) = p.next()? {
        match arg {
            Long("quick") => quick = true,
            Long("rounds") => rounds = Some(p.value()?.parse()?),
            Long("only") => {
                let list: String = p.value()?.string()?;
                only = Some(list.split(',').map(|s| s.trim().to_string()).collect());
            }
            Long("threads") => threads = Some(p.value()?.parse()?),
            Long("out") => out = Some(p.value()?.into()),
            Long("quiet-wait") => quiet_wait = Some(p.value()?.parse::<f64>()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut plan = driver::Plan::new(quick);
    if let Some(r) = rounds {
        plan.rounds = r;
    }
    if let Some(t) = threads {
        plan.threads = t;
    }
    plan.only = only;
    if let Some(q) = quiet_wait {
        plan.quiet_wait = Duration::from_secs_f64(q);
    }
    if let Some(o) = out {
        plan.out = o;
    }
    Ok(plan)
}

fn parse_soak(args: Vec<std::ffi::OsString>) -> Res<soak::Plan> {
    let mut p = lexopt::Parser::from_args(args);
    let mut plan = soak::Plan::new();
    while let Some(arg) = p.next()? {
        match arg {
            Long("seconds") => plan.seconds = p.value()?.parse()?,
            Long("cap") => plan.cap = p.value()?.parse()?,
            Long("lockout-cap") => plan.lockout_cap = p.value()?.parse()?,
            Long("out") => plan.out = p.value()?.into(),
            Long("allocator-defaults") => plan.allocator_defaults = true,
            Long("only") => match p.value()?.string()?.as_str() {
                "lockout" => plan.mix = false,
                "mix" => plan.lockout = false,
                other => return Err(format!("--only: {other:?} is not lockout or mix").into()),
            },
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(plan)
}

fn floor_main(args: Vec<std::ffi::OsString>) -> Res<i32> {
    let quick = args.iter().any(|a| a == "--quick");
    let figures = floor::measure(&driver::root().join("certs"), floor::Sizes::new(quick))?;
    for (k, v) in figures {
        println!("{k} {v:.4}");
    }
    Ok(0)
}

fn load_main(args: Vec<std::ffi::OsString>) -> Res<i32> {
    let mut p = lexopt::Parser::from_args(args);
    let (mut port, mut pid, mut threads, mut plain) = (None::<u16>, 0u32, 4usize, false);
    let mut scenario = String::from("hs");
    let mut seconds = 5.0f64;
    while let Some(arg) = p.next()? {
        match arg {
            Long("port") => port = Some(p.value()?.parse()?),
            Long("pid") => pid = p.value()?.parse()?,
            Long("scenario") => scenario = p.value()?.string()?,
            Long("seconds") => seconds = p.value()?.parse()?,
            Long("threads") => threads = p.value()?.parse()?,
            Long("plain") => plain = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port.ok_or("--port is required")?));
    let ca = driver::root().join("certs/ca.crt");
    let groups = if scenario == "hs-pq" {
        client::Groups::Default
    } else {
        client::Groups::X25519
    };
    let config = client::client_config(&ca, groups, scenario == "resumed")?;
    let window = Duration::from_secs_f64(seconds);
    let warmup = Duration::from_millis(300);
    let tls = (!plain).then_some(&config);
    match scenario.as_str() {
        "hs" | "hs-pq" | "resumed" => {
            let r = rate::handshakes(addr, &config, threads, warmup, window, pid);
            let ops = r.ops.max(1) as f64;
            println!(
                "{scenario}: {:.0}/s, server CPU {:.1} µs/hs (user {:.2} s, sys {:.2} s), client {:.1} µs/hs, resumed {}/{}, errors {} ({}), negotiated {} {}",
                ops / r.window.secs,
                r.window.server.total / ops * 1e6,
                r.window.server.user,
                r.window.server.sys,
                r.window.client / ops * 1e6,
                r.resumed,
                r.ops,
                r.errors,
                r.first_error.unwrap_or_default(),
                r.negotiated.suite,
                r.negotiated.group
            );
        }
        "bulk1" | "bulk8" | "bulk8-threads" => {
            let conns = if scenario == "bulk1" { 1 } else { 8 };
            let shape = match scenario.as_str() {
                "bulk8-threads" => chan::Shape::Blocking,
                _ => chan::Shape::Poll,
            };
            let mib = (seconds * 100.0) as u64;
            let b = chan::bulk(addr, tls, conns, mib << 20, pid, shape)?;
            let total_mib = b.bytes as f64 / (1u64 << 20) as f64;
            println!(
                "{scenario}: {:.0} MB/s each way, server CPU {:.0} µs/MiB (user {:.2} s, sys {:.2} s), client {:.0} µs/MiB",
                b.bytes as f64 / b.window.secs / 1e6,
                b.window.server.total * 1e6 / total_mib,
                b.window.server.user,
                b.window.server.sys,
                b.window.client * 1e6 / total_mib
            );
        }
        "pingpong" | "pingpong-threads" => {
            let mut r = match scenario.as_str() {
                "pingpong" => pingpong::pingpong(addr, tls, 100, 2, 64, warmup, window, pid)?,
                _ => pingpong::pingpong_threads(addr, tls, 100, 64, warmup, window, pid)?,
            };
            r.latencies_ns.sort_unstable();
            let rounds = r.rounds.max(1) as f64;
            println!(
                "pingpong: {:.0} rounds/s, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, server CPU {:.2} µs/round (user {:.2} s, sys {:.2} s), client {:.2} µs/round",
                rounds / r.window.secs,
                client::percentile(&r.latencies_ns, 0.5) / 1e3,
                client::percentile(&r.latencies_ns, 0.99) / 1e3,
                client::percentile(&r.latencies_ns, 0.999) / 1e3,
                r.window.server.total * 1e6 / rounds,
                r.window.server.user,
                r.window.server.sys,
                r.window.client * 1e6 / rounds
            );
        }
        s if s.starts_with("idle:") => {
            let n: usize = s[5..].parse()?;
            let before = procfs::mem(pid).unwrap_or_default();
            let (held, errors, first) = client::hold(addr, &config, n, threads);
            std::thread::sleep(Duration::from_secs(1));
            let after = procfs::mem(pid).unwrap_or_default();
            println!(
                "idle: {} open ({errors} failed: {}), server RSS {} → {} KiB ({:.1} KiB/conn), threads {} → {}; holding for {seconds} s",
                held.len(),
                first.unwrap_or_default(),
                before.rss_kib,
                after.rss_kib,
                (after.rss_kib as f64 - before.rss_kib as f64) / held.len().max(1) as f64,
                before.threads,
                after.threads
            );
            std::thread::sleep(window);
        }
        other => return Err(format!("unknown scenario {other:?}").into()),
    }
    Ok(0)
}

/// A plain TCP echo server, thread per connection: the ceiling without TLS.
fn tcp_echo(args: Vec<std::ffi::OsString>) -> Res<i32> {
    let port: u16 = args
        .first()
        .and_then(|a| a.to_str())
        .ok_or("usage: bench tcp-echo PORT")?
        .parse()?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    for sock in listener.incoming() {
        let Ok(mut sock) = sock else { continue };
        std::thread::spawn(move || {
            let _ = sock.set_nodelay(true);
            let mut buf = [0u8; 16 * 1024];
            loop {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if sock.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sock.shutdown(std::net::Shutdown::Write);
        });
    }
    Ok(0)
}

#[cfg(test)]
mod tests;
