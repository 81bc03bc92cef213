//! The alert reaches the client before the connection closes: after a protocol error on an
//! open connection, and when the client has sent much more than the server read before
//! failing (the kernel would otherwise answer the unread bytes with a reset that destroys
//! the alert in flight).
//!
//! For some errors rustls queues no alert and offers no way to send one once the traffic is
//! encrypted (a KeyUpdate split around application data: rustls's conn.rs returns
//! `MessageInterleavedWithHandshakeMessage` without an alert). The server then sends
//! close_notify, so the client sees a TLS close rather than a bare TCP one; before the
//! server's first flight it sends the fatal alert itself, in plaintext.
//!
//! The client here drives rustls for the handshake, then takes its traffic secrets and
//! writes records by hand (`support::raw`) — the only way to send what no correct client
//! sends. What the server says about each failure: tests/connection_errors.rs.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::raw::{alert, Raw, CLOSE_NOTIFY, KEY_UPDATE_HEAD, KEY_UPDATE_TAIL};
use support::*;
use tls_server::explain::Cause;
use tls_server::rustls;
use tls_server::rustls::ContentType;
use tls_server::Event;

#[test]
fn a_corrupted_record_gets_its_fatal_alert_before_the_close() {
    let (_server, events, addr) = start(options());
    let mut raw = Raw::open(addr, &events);
    let mut record = raw.record(ContentType::ApplicationData, b"will not authenticate");
    let last = record.len() - 1;
    record[last] ^= 1;
    raw.tcp.write_all(&record).unwrap();
    let (records, end) = raw.read_all();
    assert!(end.is_ok(), "the connection was reset: {end:?}");
    assert_eq!(
        alert(&records),
        Some((true, rustls::AlertDescription::BadRecordMac)),
        "records: {records:?}"
    );
    let error = wait_for(&events, "error", |e| match e {
        Event::Error { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error.cause, Cause::UndecryptableRecord, "{error}");
    assert_eq!(error.alert_sent.as_deref(), Some("BadRecordMac"), "{error}");
}

#[test]
fn a_key_update_split_around_data_gets_close_notify_not_a_bare_close() {
    let (_server, events, addr) = start(options().session_tickets(false));
    let mut raw = Raw::open(addr, &events);
    let mut out = raw.record(ContentType::Handshake, &KEY_UPDATE_HEAD);
    out.extend(raw.record(ContentType::ApplicationData, b"between"));
    out.extend(raw.record(ContentType::Handshake, &KEY_UPDATE_TAIL));
    raw.tcp.write_all(&out).unwrap();
    let (records, end) = raw.read_all();
    assert!(end.is_ok(), "the connection was reset: {end:?}");
    assert_eq!(alert(&records), CLOSE_NOTIFY, "records: {records:?}");
    let error = wait_for(&events, "error", |e| match e {
        Event::Error { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error.cause, Cause::InterleavedMessage, "{error}");
    assert_eq!(error.alert_sent.as_deref(), Some("CloseNotify"), "{error}");
    assert!(
        format!("{:?}", error.tls_error).contains("MessageInterleavedWithHandshakeMessage"),
        "{error}"
    );
    let had_error = wait_for(&events, "close", |e| match e {
        Event::Close { had_error, .. } => Some(*had_error),
        _ => None,
    });
    assert!(had_error);
}

#[test]
fn the_alert_after_the_handshake_survives_much_unread_input() {
    let (_server, events, addr) = start(options().session_tickets(false));
    let mut raw = Raw::open(addr, &events);
    let mut out = raw.record(ContentType::Handshake, &KEY_UPDATE_HEAD);
    out.extend(raw.record(ContentType::ApplicationData, b"between"));
    // Then 128 KiB more, which the server will not read before it fails.
    let filler = vec![b'x'; 16 * 1024];
    for _ in 0..8 {
        out.extend(raw.record(ContentType::ApplicationData, &filler));
    }
    let mut writer = raw.tcp.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&out);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let (records, end) = raw.read_all();
    sending.join().unwrap();
    assert!(end.is_ok(), "the connection was reset: {end:?}");
    assert_eq!(alert(&records), CLOSE_NOTIFY, "records: {records:?}");
}

#[test]
fn the_handshake_alert_survives_much_unread_input() {
    let (_server, events, addr) = start(options());
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    // A handshake record that is no ClientHello, then 128 KiB more.
    let mut out = vec![22, 3, 3, 0x40, 0];
    out.extend(std::iter::repeat_n(0xEE, 0x4000));
    out.extend(std::iter::repeat_n(0xEE, 128 * 1024));
    let mut writer = tcp.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&out);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let mut reply = Vec::new();
    let end = tcp.read_to_end(&mut reply);
    sending.join().unwrap();
    assert!(end.is_ok(), "the connection was reset: {end:?}");
    assert_eq!(
        reply,
        [
            21,
            3,
            3,
            0,
            2,
            2,
            u8::from(rustls::AlertDescription::DecodeError)
        ],
        "a fatal decode_error alert, then the close"
    );
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(e) => Some(e.clone()),
        _ => None,
    });
    assert!(error.alert_sent.is_some(), "{error}");
}
