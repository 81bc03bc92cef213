//! The in-memory floor, the floor and targets sections of the report, and the servers'
//! own logs.

use std::path::Path;
use std::process::Command;

use crate::client::{self};
use crate::driver::{note, root, Plan};
use crate::floor;
use crate::report::{num, summary, Better, Results};

pub(crate) fn run_floor(res: &mut Results, plan: &Plan) {
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

pub(crate) fn floor_value(res: &Results, provider: &str, key: &str) -> Option<f64> {
    res.floor
        .get(provider)?
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
}

pub(crate) fn floor_section(res: &Results) -> String {
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
pub(crate) fn targets_section(res: &Results) -> String {
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
        let Some(row) = res.row(scenario, figure) else {
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
pub(crate) fn server_logs(res: &mut Results, logs: &Path) {
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

/// The performance targets, each checked on the medians of this run: tls-server
/// (aws-lc-rs) against Node and the naive server, with both client shapes.
pub(crate) fn perf_targets_section(res: &Results) -> String {
    let me = "tls-server-aws-lc-rs";
    // (scenario, figure, peer, factor): ours must be ≥ factor × peer's for figures where
    // higher is better, ≤ factor × peer's where lower is.
    let targets: [(&str, &str, &str, f64); 18] = [
        ("pingpong-100", "rounds/s", "node", 1.3),
        ("pingpong-100", "rounds/s", "naive-rustls", 0.9),
        ("pingpong-100", "p99.9 µs", "node", 1.0),
        ("pingpong-100-threads", "rounds/s", "node", 1.3),
        ("pingpong-100-threads", "rounds/s", "naive-rustls", 0.9),
        ("pingpong-100-threads", "p99.9 µs", "node", 1.0),
        ("bulk-8", "MB/s each way", "node", 1.2),
        ("bulk-8", "MB/s each way", "naive-rustls", 1.0),
        ("bulk-8", "server CPU µs/MiB", "naive-rustls", 1.0),
        ("bulk-8-threads", "MB/s each way", "node", 1.2),
        ("bulk-8-threads", "MB/s each way", "naive-rustls", 1.0),
        ("bulk-8-threads", "server CPU µs/MiB", "naive-rustls", 1.0),
        ("idle-1000", "KiB/conn (RSS)", "node", 1.0),
        ("idle-1000", "KiB/conn (RSS)", "naive-rustls", 0.5),
        ("idle-5000", "KiB/conn (RSS)", "node", 1.0),
        ("idle-5000", "KiB/conn (RSS)", "naive-rustls", 0.5),
        ("hs-full-ecdsa", "handshakes/s", "naive-rustls", 1.0),
        ("hs-full-ecdsa", "server CPU µs/hs", "naive-rustls", 1.0),
    ];
    let mut out = String::from(
        "\n### performance targets (medians of this run; ratio = tls-server (aws-lc-rs) / peer)\n\n| scenario | figure | tls-server | peer | peer's | target | ratio | met |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (scenario, figure, peer, factor) in targets {
        let Some(row) = res.row(scenario, figure) else {
            continue;
        };
        let (Some(mine), Some(theirs)) = (
            res.median(scenario, figure, me),
            res.median(scenario, figure, peer),
        ) else {
            continue;
        };
        let ratio = mine / theirs;
        let (target, met) = match row.better {
            Better::Lower => (format!("≤ {factor}×"), ratio <= factor),
            _ => (format!("≥ {factor}×"), ratio >= factor),
        };
        let name = if peer == "node" { "Node" } else { "naive" };
        out.push_str(&format!(
            "| {scenario} | {figure} | {} | {name} | {} | {target} | {ratio:.2} | {} |\n",
            num(mine),
            num(theirs),
            if met { "yes" } else { "**no**" }
        ));
    }
    out
}
