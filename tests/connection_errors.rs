//! Every failure after the handshake is explained as a failed handshake is: a cause, one
//! sentence naming the peer's mistake, a fix, and the alert we sent — in the `Error` event,
//! its JSON and its log line. Real clients: rustls for the handshake, then records written
//! by hand (`support::raw`), and the alert we claim to have sent read back off the wire.

mod support;

use std::io::Write;
use std::time::Duration;

use support::json::json;
use support::raw::{alert, Raw};
use support::*;
use tls_server::explain::Cause;
use tls_server::rustls::{AlertDescription, ContentType};
use tls_server::{ConnectionError, Event, Events, Summary};

/// The `Error` event of the next connection that fails, with its JSON line.
fn next_error(events: &Events) -> (ConnectionError, String) {
    wait_for(events, "error", |e| match e {
        Event::Error { error, .. } => Some(((**error).clone(), e.to_json())),
        _ => None,
    })
}

/// Sends `bytes` on an open connection, and returns the server's explanation and the alert
/// the client read back before the server closed.
fn send_and_explain(
    bytes: impl FnOnce(&mut Raw) -> Vec<u8>,
) -> (ConnectionError, String, Option<(bool, AlertDescription)>) {
    let (_server, events, addr) = start(options().session_tickets(false));
    let mut raw = Raw::open(addr, &events);
    let out = bytes(&mut raw);
    raw.tcp.write_all(&out).unwrap();
    let (records, end) = raw.read_all();
    assert!(end.is_ok(), "the connection was reset: {end:?}");
    let (error, line) = next_error(&events);
    (error, line, alert(&records))
}

/// The explanation's alert is the one on the wire, and the JSON line carries every part.
fn assert_explained(
    error: &ConnectionError,
    line: &str,
    wire: Option<(bool, AlertDescription)>,
    cause: Cause,
    alert: AlertDescription,
) {
    assert_eq!(error.cause, cause, "{error}");
    assert_eq!(wire, Some((true, alert)), "the alert on the wire; {error}");
    assert_eq!(error.alert_sent, Some(format!("{alert:?}")), "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!(
            "connection failed ({}; we sent {alert:?}): ",
            cause.name()
        )),
        "{shown}"
    );
    let parsed = json(line);
    assert_eq!(parsed.event(), "error", "{line}");
    assert!(parsed.num("id") >= 1.0, "{line}");
    assert_eq!(parsed.str("cause"), cause.name(), "{line}");
    assert_eq!(parsed.str("message"), error.message, "{line}");
    assert_eq!(parsed.str("fix"), error.fix, "{line}");
    assert_eq!(parsed.str("alertSent"), format!("{alert:?}"), "{line}");
}

#[test]
fn a_record_that_does_not_decrypt_is_named_with_bad_record_mac() {
    let (error, line, wire) = send_and_explain(|raw| {
        let mut record = raw.record(ContentType::ApplicationData, b"garbled on the way");
        let last = record.len() - 1;
        record[last] ^= 0x80;
        record
    });
    assert_explained(
        &error,
        &line,
        wire,
        Cause::UndecryptableRecord,
        AlertDescription::BadRecordMac,
    );
    assert!(error.message.contains("did not decrypt"), "{error}");
    assert!(error.fix.contains("changes bytes"), "{error}");
    assert!(error.tls_error.is_some(), "{error}");
}

#[test]
fn a_record_carrying_more_than_2_14_bytes_is_named_with_record_overflow() {
    let (error, line, wire) = send_and_explain(|raw| {
        raw.record(ContentType::ApplicationData, &vec![b'x'; (1 << 14) + 1])
    });
    assert_explained(
        &error,
        &line,
        wire,
        Cause::OversizedRecord,
        AlertDescription::RecordOverflow,
    );
    assert!(error.message.contains("more than 16384 bytes"), "{error}");
}

#[test]
fn a_record_header_longer_than_any_record_is_named_with_decode_error() {
    // 2^14 + 2049 bytes announced: over 2^14 + 256 (RFC 8446) and over what rustls reads.
    let (error, line, wire) = send_and_explain(|_| {
        let len: u16 = (1 << 14) + 2049;
        let mut record = vec![23, 3, 3];
        record.extend(len.to_be_bytes());
        record.extend(vec![0u8; 64]);
        record
    });
    assert_explained(
        &error,
        &line,
        wire,
        Cause::OversizedRecord,
        AlertDescription::DecodeError,
    );
    assert!(error.message.contains("not a TLS record"), "{error}");
}

#[test]
fn a_key_update_with_an_invalid_request_is_named_with_illegal_parameter() {
    // KeyUpdate (24), length 1, request 5: neither 0 nor 1.
    let (error, line, wire) =
        send_and_explain(|raw| raw.record(ContentType::Handshake, &[24, 0, 0, 1, 5]));
    assert_explained(
        &error,
        &line,
        wire,
        Cause::BadKeyUpdate,
        AlertDescription::IllegalParameter,
    );
    assert!(error.message.contains("KeyUpdate"), "{error}");
}

#[test]
fn a_record_of_no_known_type_is_named_corrupt_with_decode_error() {
    // Plaintext bytes in the encrypted stream: content type 0x47 ('G').
    let (error, line, wire) = send_and_explain(|_| b"GET / HTTP/1.1\r\n\r\n".to_vec());
    assert_explained(
        &error,
        &line,
        wire,
        Cause::CorruptRecord,
        AlertDescription::DecodeError,
    );
    assert!(error.message.contains("unknown content type"), "{error}");
    assert!(error.fix.contains("beside its TLS library"), "{error}");
}

#[test]
fn a_peer_that_resets_is_named_and_no_alert_is_claimed() {
    let (_server, events, addr) = start(options());
    let (client, id) = connect_secure(&events, addr);
    // SO_LINGER 0: closing sends a reset, not a FIN.
    socket2::SockRef::from(&client.sock)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    let mut summary = Summary::new();
    let (error, line) = wait_for(&events, "error", |e| {
        summary.record(e);
        match e {
            Event::Error { socket, error } if socket.id() == id => {
                Some(((**error).clone(), e.to_json()))
            }
            _ => None,
        }
    });
    assert_eq!(summary.error_causes.get("peer-reset"), Some(&1));
    assert!(
        summary.to_string().contains(", 1 error (peer-reset 1), "),
        "{summary}"
    );
    assert_eq!(error.cause, Cause::PeerReset, "{error}");
    assert_eq!(error.alert_sent, None, "{error}");
    assert!(error.message.contains("reset the connection"), "{error}");
    assert!(
        error.io_error.as_deref().unwrap_or("").contains("reset"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("connection failed (peer-reset; no alert sent): "),
        "{error}"
    );
    assert_eq!(json(&line).str("cause"), "peer-reset", "{line}");
    let had_error = wait_for(&events, "close", |e| match e {
        Event::Close { socket, had_error } if socket.id() == id => Some(*had_error),
        _ => None,
    });
    assert!(had_error);
}

#[test]
fn the_stream_style_reports_the_error_and_returns_it_from_read() {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = tls_server::Server::bind_streams(options(), move |mut stream| {
        let mut buf = [0u8; 64];
        let failed = std::io::Read::read(&mut stream, &mut buf).expect_err("a TLS error");
        let inner = failed
            .get_ref()
            .and_then(|e| e.downcast_ref::<ConnectionError>())
            .map(|e| e.cause);
        let _ = tx.send(inner);
    })
    .unwrap();
    let events = server.events();
    let mut raw = Raw::open(server.local_addr(), &events);
    let mut record = raw.record(ContentType::ApplicationData, b"flipped");
    record[6] ^= 1;
    raw.tcp.write_all(&record).unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        Some(Cause::UndecryptableRecord)
    );
    let (error, _) = next_error(&events);
    assert_eq!(error.cause, Cause::UndecryptableRecord, "{error}");
}
