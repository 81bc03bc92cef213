//! A TLS 1.3 client that writes and reads records by hand: rustls drives the handshake,
//! then its traffic secrets are taken, so that a test can send what no correct client sends
//! (a corrupted record, an oversized one, a bad KeyUpdate) and read back the alert the
//! server answers with.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use tls_server::rustls;
use tls_server::rustls::crypto::cipher::{
    InboundOpaqueMessage, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use tls_server::rustls::pki_types::ServerName;
use tls_server::rustls::{CipherSuite, ConnectionTrafficSecrets, ContentType, ProtocolVersion};
use tls_server::Event;

/// An open TLS 1.3 connection whose records we write and read ourselves.
pub struct Raw {
    pub tcp: TcpStream,
    tx: Box<dyn MessageEncrypter>,
    tx_seq: u64,
    rx: Box<dyn MessageDecrypter>,
    rx_seq: u64,
}

impl Raw {
    /// Connects, and waits until the server has finished its handshake, so that what we
    /// write next is read by the open connection, not by the handshake.
    pub fn open(addr: SocketAddr, events: &tls_server::Events) -> Raw {
        let raw = Raw::connect(addr);
        let me = raw.tcp.local_addr().unwrap();
        super::wait_for(events, "secureConnection", |e| match e {
            Event::SecureConnection(s) if s.remote_addr() == me => Some(()),
            _ => None,
        });
        raw
    }

    /// Connects and completes the handshake (on the client's side).
    pub fn connect(addr: SocketAddr) -> Raw {
        let base = super::provider();
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
        roots
            .add(super::leaf_der("ca.crt").into())
            .expect("the demo CA");
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
        tcp.set_read_timeout(Some(super::WAIT)).unwrap();
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
    pub fn record(&mut self, typ: ContentType, payload: &[u8]) -> Vec<u8> {
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
    pub fn read_all(&mut self) -> (Vec<(ContentType, Vec<u8>)>, io::Result<()>) {
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
pub const KEY_UPDATE_HEAD: [u8; 3] = [24, 0, 0];
pub const KEY_UPDATE_TAIL: [u8; 2] = [1, 0];

/// The first alert among `records`: (fatal, description).
pub fn alert(records: &[(ContentType, Vec<u8>)]) -> Option<(bool, rustls::AlertDescription)> {
    records.iter().find_map(|(typ, payload)| {
        (*typ == ContentType::Alert && payload.len() == 2)
            .then(|| (payload[0] == 2, rustls::AlertDescription::from(payload[1])))
    })
}

pub const CLOSE_NOTIFY: Option<(bool, rustls::AlertDescription)> =
    Some((false, rustls::AlertDescription::CloseNotify));
