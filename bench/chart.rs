//! The results as a picture: `results.svg` next to `results.md`. One line per figure, two
//! bars each — tls-server against Node and against the naive rustls server — drawn around
//! 1.0 on a logarithmic scale, oriented so that a bar to the right always means tls-server
//! is ahead (for "lower is better" figures the ratio is turned over). The number at the end
//! of each bar is the plain ratio of medians, tls-server / other, as in the tables.

use std::fmt::Write as _;

use crate::report::{summary, Better, Results};

/// The figures drawn, in order: (scenario, figure, label).
const FIGURES: &[(&str, &str, &str)] = &[
    ("hs-full-ecdsa", "handshakes/s", "full handshakes/s (ECDSA)"),
    (
        "hs-full-ecdsa",
        "server CPU µs/hs",
        "server CPU per full handshake",
    ),
    ("hs-resumed", "handshakes/s", "resumed handshakes/s"),
    (
        "bulk-1",
        "MB/s each way",
        "bulk, 1 connection: MB/s (poll client)",
    ),
    (
        "bulk-8",
        "MB/s each way",
        "bulk, 8 connections: MB/s (poll client)",
    ),
    (
        "bulk-8",
        "server CPU µs/MiB",
        "bulk, 8 connections: server CPU per MiB",
    ),
    (
        "bulk-8-threads",
        "MB/s each way",
        "bulk, 8 connections: MB/s (thread per connection)",
    ),
    (
        "bulk-8-threads",
        "server CPU µs/MiB",
        "bulk, 8 (threads): server CPU per MiB",
    ),
    (
        "pingpong-100",
        "rounds/s",
        "ping-pong rounds/s (poll client)",
    ),
    ("pingpong-100", "p99.9 µs", "ping-pong p99.9 (poll client)"),
    (
        "pingpong-100-threads",
        "rounds/s",
        "ping-pong rounds/s (thread per connection)",
    ),
    (
        "pingpong-100-threads",
        "p99 µs",
        "ping-pong p99 (thread per connection)",
    ),
    (
        "pingpong-100-threads",
        "p99.9 µs",
        "ping-pong p99.9 (thread per connection)",
    ),
    (
        "idle-1000",
        "KiB/conn (RSS)",
        "memory per idle connection, 1,000",
    ),
    (
        "idle-5000",
        "KiB/conn (RSS)",
        "memory per idle connection, 5,000",
    ),
];

const OURS: &str = "tls-server-aws-lc-rs";
const OTHERS: [(&str, &str, &str); 2] = [
    ("node", "Node", "#4c8bd6"),
    ("naive-rustls", "naive rustls", "#e0892b"),
];

/// The ratio scale: bars end at 1/4 and at 4 (clamped beyond, with the value printed).
const SPAN: f64 = 4.0;

/// The chart as SVG text; `None` when no figure has a reference and a peer to compare.
pub fn svg(res: &Results, title: &str) -> Option<String> {
    let lines: Vec<Line> = FIGURES
        .iter()
        .filter_map(|&(scenario, figure, label)| line(res, scenario, figure, label))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let (left, width, row, bar) = (330.0, 420.0, 34.0, 12.0);
    let top = 70.0;
    let height = top + row * lines.len() as f64 + 40.0;
    let total = left + width + 90.0;
    let x_of = |advantage: f64| {
        let l = advantage.clamp(1.0 / SPAN, SPAN).log(SPAN); // -1 ..= 1
        left + width / 2.0 + l * width / 2.0
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        o,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        o,
        r#"<text x="10" y="40" fill="dimgray">Bar to the right of 1.0: tls-server ahead (log scale, clamped at ×{SPAN:.0}). Numbers: tls-server / other, medians.</text>"#
    );
    for (i, (_, name, colour)) in OTHERS.iter().enumerate() {
        let x = 10.0 + 170.0 * i as f64;
        let _ = writeln!(
            o,
            r#"<rect x="{x}" y="50" width="12" height="12" fill="{colour}"/><text x="{}" y="60">tls-server / {name}</text>"#,
            x + 16.0
        );
    }
    // Grid: 1/4, 1/2, 1, 2, 4.
    for g in [0.25, 0.5, 1.0, 2.0, 4.0] {
        let x = x_of(g);
        let stroke = if g == 1.0 { "black" } else { "lightgray" };
        let _ = writeln!(
            o,
            r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="{stroke}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="dimgray">{}</text>"#,
            height - 30.0,
            height - 16.0,
            if g < 1.0 {
                format!("1/{:.0}", 1.0 / g)
            } else {
                format!("{g:.0}")
            }
        );
    }
    for (i, l) in lines.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + row / 2.0 + 4.0,
            esc(&l.label)
        );
        for (k, (_, _, colour)) in OTHERS.iter().enumerate() {
            let Some(ratio) = l.ratios[k] else { continue };
            let advantage = match l.better {
                Better::Lower => 1.0 / ratio,
                _ => ratio,
            };
            let (x0, x1) = (x_of(1.0), x_of(advantage));
            let by = y + 4.0 + k as f64 * (bar + 1.0);
            let _ = writeln!(
                o,
                r#"<rect x="{:.1}" y="{by:.1}" width="{:.1}" height="{bar}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="{}">×{}</text>"#,
                x0.min(x1),
                (x1 - x0).abs().max(1.0),
                if x1 >= x0 { x1 + 3.0 } else { x1 - 3.0 },
                by + bar - 2.0,
                if x1 >= x0 { "start" } else { "end" },
                ratio_text(ratio)
            );
        }
    }
    o.push_str("</svg>\n");
    Some(o)
}

struct Line {
    label: String,
    better: Better,
    /// tls-server / other, per entry of [`OTHERS`].
    ratios: [Option<f64>; 2],
}

fn line(res: &Results, scenario: &str, figure: &str, label: &str) -> Option<Line> {
    let row = res.row(scenario, figure)?;
    let median = |id: &str| row.values.get(id).and_then(|v| summary(v)).map(|s| s.0);
    let ours = median(OURS).filter(|v| *v > 0.0)?;
    let ratios = OTHERS.map(|(id, _, _)| median(id).filter(|v| *v > 0.0).map(|v| ours / v));
    ratios.iter().any(Option::is_some).then(|| Line {
        label: label.to_string(),
        better: row.better,
        ratios,
    })
}

fn ratio_text(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.2}")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
