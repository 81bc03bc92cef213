//! The failures page: the server's recent failed handshakes, newest first, each with its
//! cause, the sentence and the fix `explain` wrote, and the ladder up to the point of
//! failure.

use std::fmt::Write as _;

use super::failures::{Failures, RecentFailure};
use super::html::{document, esc, row};
use super::http_date;
use super::ladder::Ladder;
use super::page::{offered_table, Chosen};
use super::svg::{steps, svg};
use super::words::Words;

/// The whole page.
pub(super) fn failures_page(failures: &Failures, words: &'static Words) -> String {
    let recent = failures.recent();
    let mut body = format!(
        "<p>{}</p>\n<p class=\"note\">{}</p>\n",
        esc(words.failures_intro),
        esc(&words
            .failures_kept
            .replace("{}", &failures.capacity().to_string()))
    );
    if recent.is_empty() {
        let _ = writeln!(
            body,
            "<p id=\"no-failures\"><strong>{}</strong></p>",
            esc(words.failures_none)
        );
    }
    for failure in &recent {
        body.push_str(&article(failure, words));
    }
    document(words, words.failures_title, recent.len(), &body)
}

/// One failure: heading, the explanation, the ladder, what the client offered.
fn article(failure: &RecentFailure, words: &'static Words) -> String {
    let e = &failure.error;
    let mut out = format!(
        "<article class=\"failure\" id=\"failure-{}\" data-cause=\"{}\">\n<h2>#{} {} — <code>{}</code></h2>\n<table>\n",
        e.id,
        esc(e.cause.name()),
        e.id,
        esc(&e.peer.to_string()),
        esc(e.cause.name()),
    );
    let code = |v: &str| format!("<code>{}</code>", esc(v));
    out.push_str(&row(words.when, &esc(&http_date(failure.at))));
    out.push_str(&row(words.cause, &code(e.cause.name())));
    out.push_str(&row(words.phase, &code(e.phase.name())));
    out.push_str(&row(
        words.what_happened,
        &format!("<span class=\"message\">{}</span>", esc(&e.message)),
    ));
    out.push_str(&row(
        words.what_to_do,
        &format!("<span class=\"fix\">{}</span>", esc(&e.fix)),
    ));
    if let Some(t) = &e.tls_error {
        out.push_str(&row(words.tls_error, &code(&t.to_string())));
    }
    if let Some(a) = &e.alert_sent {
        out.push_str(&row(words.alert_sent, &code(a)));
    }
    if let Some(a) = &e.alert_received {
        out.push_str(&row(words.alert_received, &code(a)));
    }
    out.push_str(&row(words.bytes_received, &e.bytes_received.to_string()));
    if e.offered.is_none() && !e.first_bytes.is_empty() {
        out.push_str(&row(
            words.first_bytes,
            &code(&crate::explain::sniff::printable(&e.first_bytes, 64)),
        ));
    }
    out.push_str("</table>\n");
    let ladder = Ladder::of_failure(e, words);
    out.push_str(&svg(
        &ladder,
        words,
        &format!("failure-{}-ladder", e.id),
        &e.peer.to_string(),
        &e.local.to_string(),
    ));
    if ladder
        .arrows
        .iter()
        .any(|a| a.messages.iter().any(|m| m.encrypted))
    {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(words.ladder_legend));
    }
    if !ladder.recorded {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(words.not_recorded));
    }
    out.push_str(&steps(&ladder, words));
    if e.offered.is_some() {
        let _ = writeln!(out, "<h3>{}</h3>", esc(words.offered));
        out.push_str(&offered_table(
            e.offered.as_ref(),
            &Chosen::default(),
            words,
        ));
    }
    out.push_str("</article>\n");
    out
}
