//! The ladder of one handshake: its flights as arrows between client and server, each
//! labelled with the handshake messages in it — from what the server recorded
//! ([`HandshakeLog`]) and what the handshake settled ([`SocketInfo`]) or why it failed
//! ([`TlsClientError`]).
//!
//! Plaintext records are named as the wire shows them. Encrypted ones cannot be read by
//! the server once they are on the wire: in TLS 1.3, everything after the ServerHello.
//! Those are named by what the protocol sends at that point (RFC 8446 §2) given what we
//! know — resumed or not, client certificate asked for or not — and marked `encrypted`.
//! Without a recorded log, the arrows are the protocol's, without times or sizes.

use std::time::Duration;

use super::words::Words;
use crate::connection::SocketInfo;
use crate::explain::{Cause, ClientHello, Flight, HandshakeLog, Phase, TlsClientError};

/// One handshake message on an arrow.
pub(super) struct Message {
    /// `ClientHello`, `Certificate`, `Alert`, ...
    pub name: String,
    /// What it carries that matters here (may be empty).
    pub note: String,
    /// Named by the protocol: the server could not read it on the wire.
    pub encrypted: bool,
}

/// One flight: consecutive reads (or writes) of one side, drawn as one arrow.
pub(super) struct Arrow {
    pub from_client: bool,
    /// When the server read or wrote its first part, from the TCP accept.
    pub at: Option<Duration>,
    /// Since the other side's previous flight (when times are known).
    pub gap: Option<Duration>,
    pub bytes: Option<usize>,
    pub messages: Vec<Message>,
    /// The records as the wire showed them, when recorded.
    pub wire: Option<String>,
}

/// How the handshake ended.
pub(super) enum Ending {
    /// Complete after this long.
    Secure(Duration),
    /// Failed after `at`; `what` names the cause (and the alert we sent, if any).
    Failed { at: Duration, what: String },
}

/// Everything the drawing needs.
pub(super) struct Ladder {
    pub arrows: Vec<Arrow>,
    pub ending: Ending,
    /// Whether the flights were recorded (times and sizes are known).
    pub recorded: bool,
}

/// What labels the arrows, from either a secure connection or a failure.
struct Known<'a> {
    words: &'static Words,
    offered: Option<&'a ClientHello>,
    tls13: Option<bool>,
    resumed: bool,
    /// `TLSv1.3 · TLS_AES_128_GCM_SHA256 · x25519`, when the handshake got that far.
    server_hello: String,
    group: Option<String>,
    alpn: Option<String>,
    /// `CN=localhost ← CN=tls-server demo CA` and the key type, when known.
    chain: Option<(String, String)>,
    client_auth: bool,
    /// `Some(subject)` when the client presented a certificate, `Some("")` when it sent
    /// none, `None` when unknown.
    client_certificate: Option<String>,
    alert_received: Option<String>,
    not_tls: Option<String>,
}

impl Ladder {
    /// The ladder of a secure connection.
    pub(super) fn of_connection(info: &SocketInfo, words: &'static Words) -> Ladder {
        let log = info.handshake.as_deref();
        let offered = log.and_then(|l| l.offered.as_ref());
        let known = Known {
            words,
            offered,
            tls13: Some(info.protocol == "TLSv1.3"),
            resumed: info.resumed,
            server_hello: [
                Some(info.protocol.to_string()),
                Some(info.cipher.clone()),
                info.group.clone().filter(|_| info.protocol == "TLSv1.3"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
            group: info.group.clone(),
            alpn: info.alpn_protocol.clone(),
            chain: chain_note(log),
            client_auth: log.is_some_and(|l| l.client_certificate_requested),
            client_certificate: Some(
                info.peer_chain
                    .first()
                    .map(|c| c.subject_line.clone())
                    .unwrap_or_default(),
            ),
            alert_received: None,
            not_tls: None,
        };
        let flights = match log.filter(|l| !l.flights.is_empty()) {
            Some(log) => log.flights.clone(),
            None => canonical(&known),
        };
        let recorded = log.is_some_and(|l| !l.flights.is_empty());
        Ladder {
            arrows: label(&merge(&flights, recorded), &known, recorded),
            ending: Ending::Secure(info.handshake_duration),
            recorded,
        }
    }

    /// The ladder of a failed handshake, up to the point of failure.
    pub(super) fn of_failure(error: &TlsClientError, words: &'static Words) -> Ladder {
        let log = error.handshake.as_deref();
        let flights: Vec<Flight> = log.map(|l| l.flights.clone()).unwrap_or_default();
        let known = Known {
            words,
            offered: error.offered.as_ref(),
            tls13: tls13_on_the_wire(&flights),
            resumed: false,
            server_hello: String::new(),
            group: None,
            alpn: None,
            chain: chain_note(log),
            client_auth: log.is_some_and(|l| l.client_certificate_requested),
            client_certificate: None,
            alert_received: error.alert_received.clone(),
            not_tls: (error.cause == Cause::NotTls)
                .then(|| crate::explain::sniff::printable(&error.first_bytes, 32)),
        };
        let recorded = !flights.is_empty();
        let flights = if recorded {
            flights
        } else {
            failed_canonical(error)
        };
        let mut what = format!("{} ({})", error.cause.name(), error.phase.name());
        if let Some(alert) = &error.alert_sent {
            let seen = flights
                .iter()
                .any(|f| !f.from_client && f.records.iter().any(|r| r.ends_with(alert.as_str())));
            if !seen {
                // Sent encrypted (or not recorded): the arrows cannot show it.
                what.push_str(&format!(" · alert {alert}"));
            }
        }
        Ladder {
            arrows: label(&merge(&flights, recorded), &known, recorded),
            ending: Ending::Failed {
                at: error.elapsed,
                what,
            },
            recorded,
        }
    }
}

/// The leaf's subject and issuer, and its key type, from the chain we served.
fn chain_note(log: Option<&HandshakeLog>) -> Option<(String, String)> {
    let served = log?.served.as_ref()?;
    let leaf = served.certificate();
    Some((
        format!("{} ← {}", leaf.subject_line, leaf.issuer_line),
        leaf.key.clone(),
    ))
}

/// TLS 1.3 when our first flight goes on encrypted after the ServerHello; TLS 1.2 when it
/// goes on in plaintext; unknown before that.
fn tls13_on_the_wire(flights: &[Flight]) -> Option<bool> {
    let ours = flights.iter().find(|f| {
        !f.from_client && f.records.iter().any(|r| r == "ServerHello") && f.records.len() > 1
    })?;
    let after: Vec<&String> = ours
        .records
        .iter()
        .skip_while(|r| *r != "ServerHello")
        .skip(1)
        .filter(|r| *r != "ChangeCipherSpec")
        .collect();
    match after.first() {
        Some(r) if *r == "encrypted record" => Some(true),
        Some(_) => Some(false),
        None => None,
    }
}

/// Consecutive reads (or writes) of one side, joined: one TLS flight.
fn merge(flights: &[Flight], recorded: bool) -> Vec<(Flight, Option<Duration>)> {
    let mut out: Vec<(Flight, Option<Duration>)> = Vec::new();
    for f in flights {
        match out.last_mut() {
            Some((last, _)) if last.from_client == f.from_client => {
                last.bytes += f.bytes;
                last.records.extend(f.records.iter().cloned());
            }
            _ => {
                let gap = match out.last() {
                    Some((prev, _)) if recorded => Some(f.at.saturating_sub(prev.at)),
                    _ => None,
                };
                out.push((f.clone(), gap));
            }
        }
    }
    out
}

/// Names the messages of each flight.
fn label(flights: &[(Flight, Option<Duration>)], known: &Known<'_>, recorded: bool) -> Vec<Arrow> {
    let w = known.words;
    let mut hellos = 0;
    let mut server_encrypted = 0; // flights of ours with encrypted handshake records so far
    let mut client_encrypted = false;
    let last_client = flights.iter().rposition(|(f, _)| f.from_client);
    let mut arrows = Vec::new();
    for (i, (flight, gap)) in flights.iter().enumerate() {
        let later_hello = flights[i + 1..]
            .iter()
            .any(|(f, _)| f.from_client && f.records.iter().any(|r| r == "ClientHello"));
        let hrr = !flight.from_client
            && known.tls13 != Some(false)
            && later_hello
            && flight
                .records
                .iter()
                .filter(|r| *r != "ChangeCipherSpec")
                .eq(["ServerHello"].iter());
        let mut messages = Vec::new();
        let mut said_encrypted = false;
        for record in &flight.records {
            let m = |name: &str, note: String| Message {
                name: name.to_string(),
                note,
                encrypted: false,
            };
            match record.as_str() {
                "ClientHello" => {
                    hellos += 1;
                    messages.push(if hellos == 1 {
                        m("ClientHello", offer_note(known.offered))
                    } else {
                        m("ClientHello", fill(w.second_hello, known.group.as_deref()))
                    });
                }
                "ServerHello" if hrr => {
                    messages.push(m("HelloRetryRequest", fill(w.hrr, known.group.as_deref())))
                }
                "ServerHello" => messages.push(m("ServerHello", known.server_hello.clone())),
                "ChangeCipherSpec" => messages.push(m(
                    "ChangeCipherSpec",
                    match known.tls13 {
                        Some(true) => w.ccs_tls13.to_string(),
                        Some(false) => w.ccs_tls12.to_string(),
                        None => String::new(),
                    },
                )),
                "encrypted alert" => messages.push(Message {
                    name: "Alert".into(),
                    note: known.alert_received.clone().unwrap_or_default(),
                    encrypted: true,
                }),
                "encrypted handshake" => messages.push(Message {
                    name: "Finished".into(),
                    note: String::new(),
                    encrypted: true,
                }),
                "encrypted record" if known.tls13 == Some(true) => {
                    if said_encrypted {
                        continue;
                    }
                    said_encrypted = true;
                    if flight.from_client && !client_encrypted {
                        client_encrypted = true;
                        let failed_here = known.alert_received.is_some() && Some(i) == last_client;
                        messages.extend(client_flight(known, failed_here));
                    } else if !flight.from_client && server_encrypted == 0 {
                        server_encrypted += 1;
                        messages.extend(server_flight(known));
                    } else if !flight.from_client {
                        server_encrypted += 1;
                        // One record may carry several tickets: not counted.
                        messages.push(Message {
                            name: "NewSessionTicket".into(),
                            note: w.ticket.to_string(),
                            encrypted: true,
                        });
                    }
                }
                "(rest of a record)" => {}
                other => {
                    if let Some(alert) = other
                        .strip_prefix("fatal alert ")
                        .or_else(|| other.strip_prefix("warning alert "))
                    {
                        messages.push(m("Alert", alert.to_string()));
                    } else if let (Some(what), true) = (&known.not_tls, flight.from_client) {
                        if messages.is_empty() {
                            messages.push(m(w.not_tls, what.clone()));
                        }
                    } else {
                        messages.push(m(other, tls12_note(other, known)));
                    }
                }
            }
        }
        arrows.push(Arrow {
            from_client: flight.from_client,
            at: recorded.then_some(flight.at),
            gap: *gap,
            bytes: recorded.then_some(flight.bytes),
            messages,
            wire: recorded.then(|| flight.records_line()),
        });
    }
    arrows
}

/// Our first TLS 1.3 flight after the ServerHello, as RFC 8446 §2 orders it.
fn server_flight(known: &Known<'_>) -> Vec<Message> {
    let enc = |name: &str, note: String| Message {
        name: name.to_string(),
        note,
        encrypted: true,
    };
    let mut out = vec![enc(
        "EncryptedExtensions",
        known
            .alpn
            .as_ref()
            .map(|p| format!("ALPN {p}"))
            .unwrap_or_default(),
    )];
    if !known.resumed {
        if known.client_auth {
            out.push(enc("CertificateRequest", String::new()));
        }
        let (chain, key) = known.chain.clone().unwrap_or_default();
        out.push(enc("Certificate", chain));
        out.push(enc(
            "CertificateVerify",
            [known.words.signature, key.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" · "),
        ));
    }
    out.push(enc("Finished", String::new()));
    out
}

/// The client's TLS 1.3 answer: its certificate if we asked, then Finished — or the
/// alert it sent instead.
fn client_flight(known: &Known<'_>, failed_here: bool) -> Vec<Message> {
    let enc = |name: &str, note: String| Message {
        name: name.to_string(),
        note,
        encrypted: true,
    };
    if failed_here {
        return vec![enc(
            "Alert",
            known.alert_received.clone().unwrap_or_default(),
        )];
    }
    let mut out = Vec::new();
    if known.client_auth && !known.resumed {
        match known.client_certificate.as_deref() {
            Some("") => out.push(enc("Certificate", known.words.no_certificate.into())),
            Some(subject) => {
                out.push(enc("Certificate", subject.to_string()));
                out.push(enc("CertificateVerify", known.words.signature.into()));
            }
            None => out.push(enc("Certificate", String::new())),
        }
    }
    out.push(enc("Finished", String::new()));
    out
}

/// A note for a TLS 1.2 handshake message (plaintext there).
fn tls12_note(name: &str, known: &Known<'_>) -> String {
    match name {
        "Certificate" if known.tls13 == Some(false) => known
            .chain
            .as_ref()
            .map(|(c, _)| c.clone())
            .unwrap_or_default(),
        "ServerKeyExchange" => known.group.clone().unwrap_or_default(),
        "NewSessionTicket" => known.words.ticket.to_string(),
        _ => String::new(),
    }
}

/// `TLSv1.3/TLSv1.2 · SNI localhost · ALPN h2,http/1.1`: what the ClientHello asked for.
fn offer_note(offered: Option<&ClientHello>) -> String {
    let Some(h) = offered else {
        return String::new();
    };
    let mut parts = vec![h.versions.join("/")];
    if let Some(sni) = &h.server_name {
        parts.push(format!("SNI {sni}"));
    }
    if !h.alpn.is_empty() {
        parts.push(format!("ALPN {}", h.alpn.join(",")));
    }
    parts.join(" · ")
}

/// `template` with `value` in it; nothing when the value is not known.
fn fill(template: &str, value: Option<&str>) -> String {
    value.map(|v| template.replace("{}", v)).unwrap_or_default()
}

/// The flights the protocol sends for what the connection settled, when none were
/// recorded (no times, no sizes).
fn canonical(known: &Known<'_>) -> Vec<Flight> {
    let flight = |from_client: bool, records: &[&str]| Flight {
        at: Duration::ZERO,
        from_client,
        bytes: 0,
        records: records.iter().map(|r| r.to_string()).collect(),
    };
    let mut out = vec![flight(true, &["ClientHello"])];
    if known.tls13 == Some(true) {
        out.push(flight(false, &["ServerHello", "encrypted record"]));
        out.push(flight(true, &["encrypted record"]));
    } else if known.resumed {
        out.push(flight(
            false,
            &["ServerHello", "ChangeCipherSpec", "encrypted handshake"],
        ));
        out.push(flight(true, &["ChangeCipherSpec", "encrypted handshake"]));
    } else {
        let mut ours = vec!["ServerHello", "Certificate", "ServerKeyExchange"];
        let mut theirs = vec![];
        if known.client_auth {
            ours.push("CertificateRequest");
            theirs.push("Certificate");
        }
        ours.push("ServerHelloDone");
        theirs.push("ClientKeyExchange");
        if known
            .client_certificate
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        {
            theirs.push("CertificateVerify");
        }
        theirs.extend(["ChangeCipherSpec", "encrypted handshake"]);
        out.push(flight(false, &ours));
        out.push(flight(true, &theirs));
        out.push(flight(false, &["ChangeCipherSpec", "encrypted handshake"]));
    }
    out
}

/// The flights a failure implies by its phase, when none were recorded.
fn failed_canonical(error: &TlsClientError) -> Vec<Flight> {
    let flight = |from_client: bool, record: &str| Flight {
        at: Duration::ZERO,
        from_client,
        bytes: 0,
        records: vec![record.to_string()],
    };
    let hello = if error.offered.is_some() {
        "ClientHello"
    } else {
        "record type ?"
    };
    match error.phase {
        Phase::BeforeAnyBytes => Vec::new(),
        Phase::ClientHello => vec![flight(true, hello)],
        _ => vec![flight(true, hello), flight(false, "ServerHello")],
    }
}
