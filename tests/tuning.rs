//! The rustls knobs the options expose — tickets per handshake, the largest record, our
//! cipher order — and the `configure` hook for the others, seen from a real client.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;
use tls_server::rustls::client::{ClientSessionMemoryCache, ClientSessionStore};
use tls_server::rustls::{self, pki_types::ServerName, CipherSuite};
use tls_server::ServerOptions;

/// A client session store that counts the TLS 1.3 tickets it is given.
#[derive(Debug)]
struct CountingStore {
    inner: ClientSessionMemoryCache,
    tickets: AtomicUsize,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, name: ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(name, group)
    }
    fn kx_hint(&self, name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(name)
    }
    fn set_tls12_session(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, value)
    }
    fn tls12_session(
        &self,
        name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }
    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.inner.remove_tls12_session(name)
    }
    fn insert_tls13_ticket(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(name, value)
    }
    fn take_tls13_ticket(
        &self,
        name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

/// The tickets a client is given by a server started with `options`, read until the
/// server has answered one echo (the tickets come before it).
fn tickets_given(options: ServerOptions) -> usize {
    let (_server, events, addr) = start(options);
    let store = Arc::new(CountingStore {
        inner: ClientSessionMemoryCache::new(16),
        tickets: AtomicUsize::new(0),
    });
    let mut config = (*client_config()).clone();
    config.resumption = rustls::client::Resumption::store(store.clone());
    let mut client = connect_with(addr, Arc::new(config));
    let me = client.sock.local_addr().unwrap();
    let id = wait_for(&events, "secureConnection", |e| match e {
        tls_server::Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
        _ => None,
    });
    echo(&events, &mut client, id, b"tickets?");
    store.tickets.load(Ordering::SeqCst)
}

#[test]
fn tickets_per_handshake_sets_how_many_tls13_tickets_a_client_gets() {
    assert_eq!(tickets_given(options()), 2, "rustls's default");
    assert_eq!(tickets_given(options().tickets_per_handshake(5)), 5);
    assert_eq!(tickets_given(options().tickets_per_handshake(0)), 0);
}

/// The lengths of the TLS records in `wire` (the 5-byte headers are in the clear).
fn record_lengths(mut wire: &[u8]) -> Vec<usize> {
    let mut lengths = Vec::new();
    while wire.len() >= 5 {
        let len = u16::from_be_bytes([wire[3], wire[4]]) as usize;
        lengths.push(len);
        wire = &wire[(5 + len).min(wire.len())..];
    }
    lengths
}

/// A socket that keeps a copy of everything read from it.
struct Recording {
    sock: TcpStream,
    seen: Vec<u8>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// The largest record the server sends while echoing 6,000 bytes in one write.
fn largest_record(options: ServerOptions) -> usize {
    let (_server, events, addr) = start(options);
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let conn =
        rustls::ClientConnection::new(client_config(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut client = rustls::StreamOwned::new(
        conn,
        Recording {
            sock: tcp,
            seen: Vec::new(),
        },
    );
    let msg = pattern(6_000, 3);
    client.write_all(&msg).unwrap();
    client.flush().unwrap();
    let mut answered = false;
    let (client, back) = std::thread::scope(|scope| {
        let reading = scope.spawn(move || {
            let mut back = vec![0u8; msg.len()];
            client.read_exact(&mut back).unwrap();
            (client, back)
        });
        // The echo, in one write of everything received.
        let mut got = Vec::new();
        while got.len() < 6_000 {
            wait_for(&events, "data", |e| match e {
                tls_server::Event::Data { socket, data } => {
                    got.extend_from_slice(data);
                    if got.len() == 6_000 {
                        socket.write(&got);
                        answered = true;
                    }
                    Some(())
                }
                _ => None,
            });
        }
        reading.join().unwrap()
    });
    assert!(answered);
    assert_eq!(back, pattern(6_000, 3));
    // Past the handshake's records, the echo's: the largest is the echo's.
    record_lengths(&client.sock.seen).into_iter().max().unwrap()
}

#[test]
fn max_fragment_size_bounds_every_record_we_send() {
    // Ciphertext: the plaintext (size − 5-byte header) plus the content type and the tag.
    let limited = largest_record(options().max_fragment_size(512));
    assert!(limited <= 512 - 5 + 1 + 16, "{limited}");
    let full = largest_record(options());
    assert!(
        full > 6_000,
        "one record for the whole echo by default: {full}"
    );
}

/// The suite a client offering AES-128, then ChaCha20 (in that order) gets from a server
/// started with `options`, whose own order is ChaCha20 first.
fn suite_chosen(options: ServerOptions) -> CipherSuite {
    let options =
        options.cipher_suites(&["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]);
    let (_server, _events, addr): (_, _, SocketAddr) = start(options);
    let mut provider = (*provider()).clone();
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 1,
        _ => 2,
    });
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(config_roots())
        .with_no_client_auth();
    let client = connect_with(addr, Arc::new(config));
    client.conn.negotiated_cipher_suite().unwrap().suite()
}

fn config_roots() -> rustls::RootCertStore {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert("ca.crt")).unwrap())
        .unwrap();
    roots
}

#[test]
fn honor_cipher_order_picks_our_first_suite_not_the_clients() {
    assert_eq!(
        suite_chosen(options()),
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "the client's order by default"
    );
    assert_eq!(
        suite_chosen(options().honor_cipher_order(true)),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    );
}

#[test]
fn configure_adjusts_the_built_config_and_keeps_ours() {
    // The hook sees the configuration built from the options (our ALPN list), and what it
    // changes holds for every connection, while the certificate stays ours.
    let seen_alpn = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = seen_alpn.clone();
    let options = options().alpn(&["http/1.1"]).configure(move |config| {
        *seen.lock().unwrap() = config.alpn_protocols.clone();
        config.ignore_client_order = true;
    });
    assert_eq!(
        suite_chosen(options),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    );
    assert_eq!(*seen_alpn.lock().unwrap(), vec![b"http/1.1".to_vec()]);
}
