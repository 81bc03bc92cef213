//! Drawing a [`Ladder`]: an inline SVG (client on the left, server on the right, one arrow
//! per flight, time on the left margin, size on the right) and the same ladder as an
//! ordered list, for screen readers, text browsers and copying.
//!
//! Labels are monospace so their widths can be counted; each is cut to fit between the
//! lanes. Every piece of text goes through [`esc`]: SNI, ALPN and certificate names come
//! from the peer.

use std::fmt::Write as _;
use std::time::Duration;

use super::html::{esc, fit};
use super::ladder::{Arrow, Ending, Ladder, Message};
use super::words::Words;

const WIDTH: u32 = 820;
const CLIENT_X: u32 = 130;
const SERVER_X: u32 = 700;
/// Monospace columns between the lanes at 12 px (about 7.2 px a column).
const LABEL_COLUMNS: usize = 76;
const LINE: u32 = 15;
const TOP: u32 = 58;

/// Milliseconds with one decimal: `12.3 ms`.
pub(super) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The line a message gets: `Certificate* — CN=localhost ← CN=demo CA`.
fn message_line(m: &Message) -> String {
    let star = if m.encrypted { "*" } else { "" };
    if m.note.is_empty() {
        format!("{}{star}", m.name)
    } else {
        format!("{}{star} — {}", m.name, m.note)
    }
}

/// `line` in lines of at most `columns`, broken after ` · ` where it can be, cut with `…`
/// where it cannot.
fn wrap(line: &str, columns: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in line.split(" · ") {
        let joined = if current.is_empty() {
            piece.to_string()
        } else {
            format!("{current} · {piece}")
        };
        if current.is_empty() || super::html::columns(&joined) <= columns {
            current = joined;
        } else {
            out.push(fit(&current, columns));
            current = format!("  {piece}");
        }
    }
    out.push(fit(&current, columns));
    out
}

/// The ladder as one `<svg>` element. `id` makes its ids unique on the page; `client` and
/// `server` are the addresses shown under each side's name.
pub(super) fn svg(ladder: &Ladder, words: &Words, id: &str, client: &str, server: &str) -> String {
    let mut body = String::new();
    let mut y = TOP + 8;
    let mid = (CLIENT_X + SERVER_X) / 2;
    let mut summary = Vec::new();
    for (n, arrow) in ladder.arrows.iter().enumerate() {
        let _ = write!(
            body,
            "<g class=\"flight\" data-from=\"{}\" data-n=\"{}\">",
            if arrow.from_client {
                "client"
            } else {
                "server"
            },
            n + 1
        );
        if let Some(gap) = arrow.gap {
            y += LINE;
            let note = if arrow.from_client {
                words.client_took
            } else {
                words.server_took
            };
            let _ = write!(
                body,
                "<text class=\"gap\" x=\"{mid}\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
                esc(&note.replace("{}", &ms(gap)))
            );
        }
        y += 6;
        for m in &arrow.messages {
            let class = if m.encrypted { "msg enc" } else { "msg" };
            for line in wrap(&message_line(m), LABEL_COLUMNS) {
                y += LINE;
                let _ = write!(
                    body,
                    "<text class=\"{class}\" x=\"{mid}\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
                    esc(&line)
                );
            }
        }
        y += 9;
        draw_arrow(&mut body, arrow, y);
        if let Some(wire) = &arrow.wire {
            let _ = write!(
                body,
                "<text class=\"small\" x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                y + 14,
                esc(&fit(
                    &format!("{}: {wire}", words.on_the_wire),
                    LABEL_COLUMNS + 6
                ))
            );
            y += 14;
        }
        body.push_str("</g>\n");
        summary.push(
            arrow
                .messages
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        y += 6;
    }
    y += 26;
    match &ladder.ending {
        Ending::Secure(took) => {
            let _ = writeln!(
                body,
                "<g class=\"ending\" data-ending=\"secure\">\
<text class=\"oktext\" x=\"{mid}\" y=\"{y}\" text-anchor=\"middle\">✓ {}</text></g>",
                esc(&words.secure_after.replace("{}", &ms(*took)))
            );
        }
        Ending::Failed { at, what } => {
            let (cx, cy) = (mid, y - 4);
            let _ = writeln!(
                body,
                "<g class=\"ending\" data-ending=\"failed\"><line class=\"fail\" x1=\"{CLIENT_X}\" y1=\"{cy}\" x2=\"{SERVER_X}\" y2=\"{cy}\" stroke-dasharray=\"6 4\"/>\
<line class=\"fail\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><line class=\"fail\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\
<text class=\"failtext\" x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
                cx - 9,
                cy - 9,
                cx + 9,
                cy + 9,
                cx - 9,
                cy + 9,
                cx + 9,
                cy - 9,
                cy + 24,
                esc(&fit(
                    &format!("{}: {what}", words.failed_after.replace("{}", &ms(*at))),
                    LABEL_COLUMNS
                ))
            );
            y += 24;
        }
    }
    let height = y + 18;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\n\
<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>\n",
        esc(words.ladder),
        esc(&summary.join(" | "))
    );
    lanes(&mut out, words, client, server, height);
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// The two sides: names, addresses, and their vertical lanes.
fn lanes(out: &mut String, words: &Words, client: &str, server: &str, height: u32) {
    for (x, name, address) in [
        (CLIENT_X, words.client, client),
        (SERVER_X, words.server, server),
    ] {
        let _ = writeln!(
            out,
            "<text class=\"who\" x=\"{x}\" y=\"22\" text-anchor=\"middle\">{}</text>\
<text class=\"small\" x=\"{x}\" y=\"40\" text-anchor=\"middle\">{}</text>\
<line class=\"lane\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{}\"/>",
            esc(name),
            esc(&fit(address, 30)),
            height - 10
        );
    }
}

/// One arrow at height `y`, from the sender's lane to the receiver's, with its time on
/// the left margin and its size on the right.
fn draw_arrow(out: &mut String, arrow: &Arrow, y: u32) {
    let (from, to) = if arrow.from_client {
        (CLIENT_X, SERVER_X)
    } else {
        (SERVER_X, CLIENT_X)
    };
    // The head: a triangle pointing at the receiver.
    let (tip, back) = if arrow.from_client {
        (to, to - 12)
    } else {
        (to, to + 12)
    };
    let _ = write!(
        out,
        "<line class=\"arrow\" x1=\"{from}\" y1=\"{y}\" x2=\"{back}\" y2=\"{y}\"/>\
<polygon class=\"head\" points=\"{tip},{y} {back},{} {back},{}\"/>",
        y - 5,
        y + 5
    );
    if let Some(at) = arrow.at {
        let _ = write!(
            out,
            "<text class=\"time\" x=\"{}\" y=\"{}\" text-anchor=\"end\">+{}</text>",
            CLIENT_X - 8,
            y + 4,
            esc(&ms(at))
        );
    }
    if let Some(bytes) = arrow.bytes {
        let _ = write!(
            out,
            "<text class=\"time\" x=\"{}\" y=\"{}\">{bytes} B</text>",
            SERVER_X + 8,
            y + 4
        );
    }
}

/// The same ladder as an ordered list.
pub(super) fn steps(ladder: &Ladder, words: &Words) -> String {
    let mut out = String::from("<ol class=\"steps\">\n");
    for arrow in &ladder.arrows {
        let who = if arrow.from_client {
            words.flight_from_client
        } else {
            words.flight_from_server
        };
        let mut when = Vec::new();
        if let Some(at) = arrow.at {
            when.push(format!("+{}", ms(at)));
        }
        if let Some(bytes) = arrow.bytes {
            when.push(format!("{bytes} B"));
        }
        let when = if when.is_empty() {
            String::new()
        } else {
            format!(" ({})", when.join(", "))
        };
        let messages = arrow
            .messages
            .iter()
            .map(|m| esc(&message_line(m)))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = write!(
            out,
            "<li><strong>{}</strong>{}: {messages}",
            esc(who),
            esc(&when)
        );
        if let Some(wire) = &arrow.wire {
            let _ = write!(
                out,
                " <span class=\"note\">[{}: <code>{}</code>]</span>",
                esc(words.on_the_wire),
                esc(wire)
            );
        }
        out.push_str("</li>\n");
    }
    let end = match &ladder.ending {
        Ending::Secure(took) => format!("✓ {}", words.secure_after.replace("{}", &ms(*took))),
        Ending::Failed { at, what } => {
            format!("✗ {}: {what}", words.failed_after.replace("{}", &ms(*at)))
        }
    };
    let _ = writeln!(out, "<li><strong>{}</strong></li>\n</ol>", esc(&end));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_wrap_at_separators() {
        assert_eq!(wrap("a · b · c", 20), ["a · b · c"]);
        assert_eq!(wrap("aaaa · bbbb · cccc", 11), ["aaaa · bbbb", "  cccc"]);
        assert_eq!(wrap("abcdefghij", 5), ["abcd…"]);
    }
}
