//! The handshake page: this connection's handshake as a ladder, what the client offered
//! next to what the server chose, the certificate chain we sent, the facts table (the
//! JSON answer's fields) and the client certificate, if one was presented.

use std::fmt::Write as _;

use super::html::{document, esc, items, row};
use super::ladder::Ladder;
use super::svg::{ms, steps, svg};
use super::words::Words;
use super::Request;
use crate::connection::SocketInfo;
use crate::tls::CertificateInfo;

/// The whole page for the connection `info`, answering `request`.
pub(super) fn handshake_page(
    info: &SocketInfo,
    request: &Request,
    words: &'static Words,
    failures_kept: usize,
) -> String {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p>{}</p>\n<p class=\"summary\"><strong>#{} · {} · {} · {}</strong></p>",
        esc(words.page_intro),
        info.id,
        esc(info.protocol),
        esc(&info.cipher),
        esc(&ms(info.handshake_duration)),
    );
    body.push_str(&ladder_section(info, words));
    body.push_str(&offered_section(info, words));
    body.push_str(&chosen_section(info, words));
    body.push_str(&chain_section(info, words));
    body.push_str(&facts_section(info, request, words));
    body.push_str(&client_certificate_section(info, words));
    document(words, words.page_title, failures_kept, &body)
}

fn ladder_section(info: &SocketInfo, words: &'static Words) -> String {
    let ladder = Ladder::of_connection(info, words);
    let mut out = format!("<section id=\"ladder\">\n<h2>{}</h2>\n", esc(words.ladder));
    out.push_str(&svg(
        &ladder,
        words,
        "ladder",
        &info.remote_addr.to_string(),
        &info.local_addr.to_string(),
    ));
    if ladder
        .arrows
        .iter()
        .any(|a| a.messages.iter().any(|m| m.encrypted))
    {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(words.ladder_legend));
    }
    let note = if ladder.recorded {
        words.times_note
    } else {
        words.not_recorded
    };
    let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    let _ = writeln!(out, "<h3>{}</h3>", esc(words.ladder_text));
    out.push_str(&steps(&ladder, words));
    out.push_str("</section>\n");
    out
}

/// What the ClientHello offered, with what we took from it marked in words.
pub(super) fn offered_table(
    offered: Option<&crate::explain::ClientHello>,
    chosen: &Chosen<'_>,
    words: &Words,
) -> String {
    let Some(h) = offered else {
        return format!("<p>{}</p>\n", esc(words.hello_unreadable));
    };
    let mark = words.chosen_mark;
    let sni = h.server_name.clone().into_iter().collect::<Vec<_>>();
    let mut t = String::from("<table class=\"offered\">\n");
    t.push_str(&row(
        words.versions,
        &items(&h.versions, is(chosen.protocol), mark, words.none),
    ));
    t.push_str(&row(
        words.suites,
        &items(&h.cipher_suites, is(chosen.cipher), mark, words.none),
    ));
    t.push_str(&row(
        words.groups,
        &items(&h.groups, is(chosen.group), mark, words.none),
    ));
    t.push_str(&row(
        words.key_shares,
        &items(&h.key_shares, is(chosen.group), mark, words.none),
    ));
    t.push_str(&row(
        words.server_name,
        &items(&sni, is(chosen.server_name), mark, words.none),
    ));
    t.push_str(&row(
        words.alpn,
        &items(&h.alpn, is(chosen.alpn), mark, words.none),
    ));
    t.push_str(&row(
        words.schemes,
        &items(&h.signature_schemes, |_| false, mark, words.none),
    ));
    t.push_str("</table>\n");
    t
}

/// Whether `item` is `value`: marks what was chosen.
fn is(value: Option<&str>) -> impl Fn(&str) -> bool + '_ {
    move |item| value == Some(item)
}

/// What the server settled on, to mark in the offer (all `None` for a failure).
#[derive(Default)]
pub(super) struct Chosen<'a> {
    pub protocol: Option<&'a str>,
    pub cipher: Option<&'a str>,
    pub group: Option<&'a str>,
    pub server_name: Option<&'a str>,
    pub alpn: Option<&'a str>,
}

fn offered_section(info: &SocketInfo, words: &Words) -> String {
    let chosen = Chosen {
        protocol: Some(info.protocol),
        cipher: Some(&info.cipher),
        group: info.group.as_deref(),
        server_name: info.server_name.as_deref(),
        alpn: info.alpn_protocol.as_deref(),
    };
    let offered = info.handshake.as_ref().and_then(|l| l.offered.as_ref());
    format!(
        "<section id=\"offered\">\n<h2>{}</h2>\n{}</section>\n",
        esc(words.offered),
        offered_table(offered, &chosen, words)
    )
}

fn chosen_section(info: &SocketInfo, words: &Words) -> String {
    let code = |v: Option<&str>| match v {
        Some(v) => format!("<code class=\"chosen\">{}</code>", esc(v)),
        None => esc(words.none),
    };
    let mut t = format!(
        "<section id=\"chosen\">\n<h2>{}</h2>\n<table>\n",
        esc(words.chose)
    );
    t.push_str(&row(words.protocol, &code(Some(info.protocol))));
    t.push_str(&row(words.cipher, &code(Some(&info.cipher))));
    t.push_str(&row(
        words.cipher_openssl,
        &code(Some(&info.cipher_openssl)),
    ));
    t.push_str(&row(words.group, &code(info.group.as_deref())));
    t.push_str(&row(words.alpn, &code(info.alpn_protocol.as_deref())));
    t.push_str(&row(words.server_name, &code(info.server_name.as_deref())));
    t.push_str(&row(
        words.resumed,
        &esc(if info.resumed { words.yes } else { words.no }),
    ));
    t.push_str(&row(
        words.handshake_time,
        &esc(&ms(info.handshake_duration)),
    ));
    t.push_str("</table>\n</section>\n");
    t
}

fn chain_section(info: &SocketInfo, words: &Words) -> String {
    let mut out = format!("<section id=\"chain\">\n<h2>{}</h2>\n", esc(words.chain));
    // rustls picks a certificate even for a resumed session; it just does not send it.
    let served = info.handshake.as_ref().and_then(|l| l.served.as_ref());
    match served {
        _ if info.resumed => {
            let _ = writeln!(out, "<p>{}</p>", esc(words.chain_none));
        }
        Some(served) => {
            for (i, cert) in served.chain().iter().enumerate() {
                let _ = writeln!(
                    out,
                    "<h3>#{} <code>{}</code> → <code>{}</code></h3>",
                    i + 1,
                    esc(&cert.subject_line),
                    esc(&cert.issuer_line)
                );
                out.push_str(&certificate_table(cert, words));
            }
        }
        None => {
            let _ = writeln!(out, "<p>{}</p>", esc(words.chain_unknown));
        }
    }
    out.push_str("</section>\n");
    out
}

/// One certificate: subject, issuer, validity, names, key, fingerprint.
fn certificate_table(cert: &CertificateInfo, words: &Words) -> String {
    let code = |v: &str| format!("<code>{}</code>", esc(v));
    let mut t = String::from("<table class=\"certificate\">\n");
    t.push_str(&row(words.subject, &code(&cert.subject_line)));
    t.push_str(&row(words.issuer, &code(&cert.issuer_line)));
    t.push_str(&row(
        words.valid,
        &format!("{} — {}", code(&cert.valid_from), code(&cert.valid_to)),
    ));
    if !cert.subject_alt_names.is_empty() {
        t.push_str(&row(
            words.names,
            &cert
                .subject_alt_names
                .iter()
                .map(|n| code(n))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    t.push_str(&row(
        words.key,
        &format!("{} · {}", code(&cert.key), code(cert.signature_name())),
    ));
    t.push_str(&row(words.fingerprint, &code(&cert.fingerprint256)));
    t.push_str("</table>\n");
    t
}

/// The facts as the JSON answer names them, one row each.
fn facts_section(info: &SocketInfo, request: &Request, words: &Words) -> String {
    let text = |v: &str| format!("<code>{}</code>", esc(v));
    let opt = |v: Option<&str>| v.map_or_else(|| text("null"), text);
    let mut t = format!(
        "<section id=\"facts\">\n<h2>{}</h2>\n<p class=\"note\">{}</p>\n<table class=\"facts\">\n",
        esc(words.facts),
        esc(words.facts_intro)
    );
    let rows: Vec<(&str, String)> = vec![
        ("id", text(&info.id.to_string())),
        ("peer", text(&info.remote_addr.to_string())),
        ("local", text(&info.local_addr.to_string())),
        ("protocol", text(info.protocol)),
        ("cipher", text(&info.cipher)),
        ("cipherOpenssl", text(&info.cipher_openssl)),
        ("group", opt(info.group.as_deref())),
        ("servername", opt(info.server_name.as_deref())),
        (
            "servernameIp",
            opt(info.server_name_ip.map(|ip| ip.to_string()).as_deref()),
        ),
        ("alpn", opt(info.alpn_protocol.as_deref())),
        ("resumed", text(&info.resumed.to_string())),
        ("authorized", text(&info.authorized.to_string())),
        (
            "authorizationError",
            opt(info.authorization_error.as_ref().map(|e| e.code)),
        ),
        (
            "peerCertificate",
            opt(info.peer_chain.first().map(|c| c.subject_line.as_str())),
        ),
        (
            "handshakeMs",
            text(&format!(
                "{:.3}",
                info.handshake_duration.as_secs_f64() * 1000.0
            )),
        ),
        ("request.method", text(&request.method)),
        ("request.path", text(&request.target)),
        ("request.httpVersion", text(request.http_version())),
        ("request.number", text(&request.number.to_string())),
    ];
    for (name, value) in rows {
        t.push_str(&row(name, &value));
    }
    t.push_str("</table>\n</section>\n");
    t
}

fn client_certificate_section(info: &SocketInfo, words: &Words) -> String {
    if info.peer_chain.is_empty() && info.authorization_error.is_none() {
        return String::new();
    }
    let mut out = format!(
        "<section id=\"client-certificate\">\n<h2>{}</h2>\n<table>\n{}",
        esc(words.client_certificate),
        row(
            words.authorized,
            &esc(if info.authorized { words.yes } else { words.no })
        )
    );
    if let Some(e) = &info.authorization_error {
        out.push_str(&row(
            "authorizationError",
            &format!("<code>{}</code> {}", esc(e.code), esc(&e.message)),
        ));
    }
    out.push_str("</table>\n");
    if info.peer_chain.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(words.client_certificate_none));
    }
    for cert in &info.peer_chain {
        out.push_str(&certificate_table(cert, words));
    }
    out.push_str("</section>\n");
    out
}
