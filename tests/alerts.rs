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
//! writes records by hand — the only way to send what no correct client sends.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use support::*;
use tls_server::rustls;
use tls_server::rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use tls_server::rustls::pki_types::ServerName;
use tls_server::rustls::{CipherSuite, ConnectionTrafficSecrets, ContentType, ProtocolVersion};
use tls_server::Event;

/// An open TLS 1.3 connection whose records we write and read ourselves.
struct Raw {
    tcp: TcpStream,
    tx: Box<dyn MessageEncrypter>,
    tx_seq: u64,
    rx: Box<dyn MessageDecrypter>,
    rx_seq: u64,
}

impl Raw {
    /// Connects, and waits until the server has finished its handshake, so that what we
    /// write next is read by the open connection, not by the handshake.
    fn open(addr: SocketAddr, events: &tls_server::Events) -> Raw {
        let raw = Raw::connect(addr);
        let me = raw.tcp.local_addr().unwrap();
        wait_for(events, "secureConnection", |e| match e {
            Event::SecureConnection(s) if s.remote_addr() == me => Some(()),
            _ => None,
        });
        raw
    }

    fn connect(addr: SocketAddr) -> Raw {
        let base = provider();
        let suite = *base
            .cipher_suites
            .iter()
            .find(|s| s.suite() == CipherSuite::TLS13_AES_128_GCM_SHA256)
            .expect("the provider has AES-128-GCM");
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..(*base).clone()
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(leaf_der("ca.crt").into()).expect("the demo CA");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.enable_secret_extraction = true;
        let conn = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        let (conn, tcp) = stream.into_parts();
        let secrets = conn.dangerous_extract_secrets().expect("secrets");
        let aead = suite.tls13().unwrap().aead_alg;
        let keys = |s: ConnectionTrafficSecrets| match s {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (key, iv),
            _ => unreachable!("only AES-128-GCM was offered"),
        };
        let (tx_key, tx_iv) = keys(secrets.tx.1);
        let (rx_key, rx_iv) = keys(secrets.rx.1);
        Raw {
            tcp,
            tx: aead.encrypter(tx_key, tx_iv),
            tx_seq: secrets.tx.0,
            rx: aead.decrypter(rx_key, rx_iv),
            rx_seq: secrets.rx.0,
        }
    }

    /// One record of `typ`, encrypted.
    fn record(&mut self, typ: ContentType, payload: &[u8]) -> Vec<u8> {
        let chunks = [payload];
        let message = OutboundPlainMessage {
            typ,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::new(&chunks),
        };
        let sealed = self.tx.encrypt(message, self.tx_seq).unwrap();
        self.tx_seq += 1;
        sealed.encode()
    }

    /// Decrypts what the server sends until it closes: (content type, payload) of each
    /// record, and how the stream ended.
    fn read_all(&mut self) -> (Vec<(ContentType, Vec<u8>)>, io::Result<()>) {
        let mut bytes = Vec::new();
        let end = self.tcp.read_to_end(&mut bytes).map(|_| ());
        let mut records = Vec::new();
        let mut rest = &mut bytes[..];
        while rest.len() >= 5 {
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            if rest.len() < 5 + len {
                break;
            }
            let (record, more) = rest.split_at_mut(5 + len);
            let opaque = InboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                &mut record[5..],
            );
            let plain = self
                .rx
                .decrypt(opaque, self.rx_seq)
                .expect("a record from the server");
            self.rx_seq += 1;
            records.push((plain.typ, plain.payload.to_vec()));
            rest = more;
        }
        (records, end)
    }
}

/// `KeyUpdate(update_not_requested)`: type 24, length 1, value 0 — cut after 3 bytes.
const KEY_UPDATE_HEAD: [u8; 3] = [24, 0, 0];
const KEY_UPDATE_TAIL: [u8; 2] = [1, 0];

/// The first alert among `records`: (fatal, description).
fn alert(records: &[(ContentType, Vec<u8>)]) -> Option<(bool, rustls::AlertDescription)> {
    records.iter().find_map(|(typ, payload)| {
        (*typ == ContentType::Alert && payload.len() == 2)
            .then(|| (payload[0] == 2, rustls::AlertDescription::from(payload[1])))
    })
}

const CLOSE_NOTIFY: Option<(bool, rustls::AlertDescription)> =
    Some((false, rustls::AlertDescription::CloseNotify));

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
    assert!(error.contains("decrypt"), "{error}");
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
    assert!(
        error.contains("MessageInterleavedWithHandshakeMessage"),
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
