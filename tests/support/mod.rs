//! Shared helpers for the integration tests: a server on 127.0.0.1:0 with the demo
//! certificates, a rustls client that trusts the demo CA, and waiting on events with a
//! timeout (never sleeping).
#![allow(dead_code)]

pub mod json;
pub mod process;
pub mod raw;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tls_server::rustls;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::{CertificateDer, ServerName};
use tls_server::{Event, Events, Server, ServerOptions};

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The repository: the library's tests run in it, the command line's one below (cli/).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if here.join("certs").is_dir() {
        here
    } else {
        here.parent()
            .expect("cli/ is inside the repository")
            .to_path_buf()
    }
}

pub fn certs_dir() -> PathBuf {
    repo_root().join("certs")
}

pub fn cert(name: &str) -> PathBuf {
    certs_dir().join(name)
}

/// Options with the demo certificate, on a free loopback port.
pub fn options() -> ServerOptions {
    ServerOptions::new()
        .cert_file(cert("server.crt"))
        .key_file(cert("server.key"))
        .bind("127.0.0.1:0")
}

/// Binds with `options`, takes the event stream and consumes `Listening`.
pub fn start(options: ServerOptions) -> (Server, Events, SocketAddr) {
    let server = Server::bind(options).expect("server starts");
    let events = server.events();
    let addr = server.local_addr();
    match events.recv_timeout(WAIT) {
        Ok(Event::Listening { addr: a }) => assert_eq!(a, addr),
        other => panic!("expected Listening first, got {other:?}"),
    }
    (server, events, addr)
}

/// Waits for the first event for which `pick` returns `Some`, skipping others. Panics
/// with the events seen if none comes within [`WAIT`].
pub fn wait_for<T>(events: &Events, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
                seen.push(event.name());
            }
            Err(e) => panic!("waiting for {what}: {e}; saw {seen:?}"),
        }
    }
}

/// Collects every event up to and including the first one `stop` accepts.
pub fn collect_until(
    events: &Events,
    what: &str,
    mut stop: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => {
                let done = stop(&event);
                seen.push(event);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!(
                "waiting for {what}: {e}; saw {:?}",
                seen.iter().map(|e| e.name()).collect::<Vec<_>>()
            ),
        }
    }
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(tls_server::tls::Provider::default().crypto_provider())
}

/// A client config that trusts the demo CA, with the given versions.
pub fn client_config_with(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert("ca.crt")).expect("ca.crt readable") {
        roots.add(c.expect("ca.crt parses")).expect("CA accepted");
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .expect("versions ok")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A client config that trusts the demo CA and presents `certs/client/NAME.crt` with its key,
/// or no certificate for `None`.
pub fn client_config_presenting(name: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert("ca.crt")).expect("ca.crt"))
        .expect("CA accepted");
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions ok")
        .with_root_certificates(roots);
    Arc::new(match name {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let dir = certs_dir().join("client");
            let chain = CertificateDer::pem_file_iter(dir.join(format!("{name}.crt")))
                .expect("client certificate readable")
                .collect::<Result<Vec<_>, _>>()
                .expect("client certificate parses");
            let key =
                rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key")))
                    .expect("client key parses");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client cert and key match")
        }
    })
}

pub fn client_config() -> Arc<rustls::ClientConfig> {
    client_config_with(rustls::DEFAULT_VERSIONS)
}

pub type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS client connected to `addr`, handshake completed, for the name `localhost`.
pub fn connect(addr: SocketAddr) -> Client {
    connect_with(addr, client_config())
}

pub fn connect_with(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Client {
    let tcp = TcpStream::connect(addr).expect("tcp connect");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    handshake_over(tcp, config)
}

/// A TLS client for `localhost` on a TCP connection already made (and perhaps already
/// written to), handshake completed.
pub fn handshake_over(tcp: TcpStream, config: Arc<rustls::ClientConfig>) -> Client {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).expect("client conn");
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client
            .conn
            .complete_io(&mut client.sock)
            .expect("client handshake");
    }
    client
}

/// Tries a handshake and returns the client-side error, if any.
pub fn try_handshake(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Result<Client, std::io::Error> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(WAIT))?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(config, name).expect("client conn");
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    // TLS 1.3 servers report failures after the client's Finished: flush and read once.
    client.flush()?;
    Ok(client)
}

/// Writes `data` and reads back exactly as many bytes.
pub fn echo_roundtrip(client: &mut Client, data: &[u8]) -> Vec<u8> {
    client.write_all(data).expect("write");
    client.flush().expect("flush");
    let mut back = vec![0u8; data.len()];
    client.read_exact(&mut back).expect("read echo");
    back
}

/// Threads and open file descriptors of this process (Linux /proc).
pub fn threads_and_fds() -> (usize, usize) {
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    (threads, fds)
}

/// Polls `cond` (no sleeping beyond a yield) until it holds or [`WAIT`] passes.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Deterministic pseudo-random bytes (xorshift), different for each `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Connects, waits for the server's `SecureConnection` and returns the connection id.
/// Panics if the server refused this client instead.
pub fn connect_secure(events: &Events, addr: SocketAddr) -> (Client, u64) {
    let client = connect(addr);
    let me = client.sock.local_addr().unwrap();
    let id = wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
        Event::Refused { peer, reason, .. } if *peer == me => panic!("{me} was refused: {reason}"),
        _ => None,
    });
    (client, id)
}

/// One echo round trip on connection `id`, answering its `Data` events here.
pub fn echo(events: &Events, client: &mut Client, id: u64, msg: &[u8]) {
    client.write_all(msg).unwrap();
    client.flush().unwrap();
    let mut echoed = 0;
    while echoed < msg.len() {
        echoed += wait_for(events, "data", |e| match e {
            Event::Data { socket, data } if socket.id() == id => {
                assert!(socket.write(data));
                Some(data.len())
            }
            _ => None,
        });
    }
    let mut back = vec![0u8; msg.len()];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(back, msg);
}

/// Accepts any server certificate: for tests that look at *which* certificate the server
/// sent rather than whether a client would trust it.
#[derive(Debug)]
pub struct AcceptAnyCertificate(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Handshakes asking for `name` by SNI (`None`: no SNI at all) and returns the leaf
/// certificate the server sent, or the client's error (e.g. the server's alert).
pub fn served_leaf(addr: SocketAddr, name: Option<&str>) -> Result<Vec<u8>, std::io::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions ok")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
        .with_no_client_auth();
    config.enable_sni = name.is_some();
    let server_name = ServerName::try_from(name.unwrap_or("localhost").to_string()).unwrap();
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(WAIT))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), server_name).expect("client conn");
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    let leaf = client.conn.peer_certificates().expect("a certificate")[0].to_vec();
    client.conn.send_close_notify();
    let _ = client.flush();
    Ok(leaf)
}

/// The DER of the first certificate in a PEM file under certs/.
pub fn leaf_der(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(cert(name))
        .expect("certificate readable")
        .to_vec()
}

/// A stream-style echo server (no `Data`/`End` events to acknowledge) and its event stream,
/// for tests that look at handshakes.
pub fn serve_echo_streams(options: ServerOptions) -> (Server, Events, SocketAddr) {
    let server = Server::bind_streams(options, |mut s| {
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
    .expect("server starts");
    let events = server.events();
    let addr = server.local_addr();
    (server, events, addr)
}

/// Nice value (field 19) and scheduling policy (field 41) of a thread, from its
/// `/proc/…/stat` line; fields are counted from the `)` that ends the thread's name.
pub fn nice_and_policy(stat: &str) -> (i64, u32) {
    let fields: Vec<&str> = stat[stat.rfind(')').expect("(name)") + 1..]
        .split_whitespace()
        .collect();
    (
        fields[19 - 3].parse().expect("nice"),
        fields[41 - 3].parse().expect("policy"),
    )
}
