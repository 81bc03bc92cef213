//! The floor: what rustls and the crypto provider need, in memory and without sockets, for
//! the server's side of one connection (ServerConnection created, handshake, tickets, a
//! 1-byte echo, close_notify, dropped), and for the record layer (encrypting and
//! decrypting application data). A rustls client and server pump bytes through `Vec`s;
//! only the server's calls are timed. No server can do its work for less CPU than this.
//!
//! Printed as `name value` lines (`bench floor`), read back by `bench run`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use crate::client::{self, Groups};

/// One client/server pair talking through memory; `server` accumulates the time spent in
/// the server's calls.
struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    server_time: Duration,
    buf: Vec<u8>,
}

type Res<T> = Result<T, String>;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

impl Pair {
    fn new(server_config: &Arc<ServerConfig>, client_config: &Arc<ClientConfig>) -> Res<Pair> {
        let client =
            ClientConnection::new(client_config.clone(), client::server_name()).map_err(e)?;
        let t = Instant::now();
        let server = ServerConnection::new(server_config.clone()).map_err(e)?;
        let server_time = t.elapsed();
        Ok(Pair {
            client,
            server,
            server_time,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Client → server: everything the client has queued; the server processes it.
    fn c2s(&mut self) -> Res<()> {
        self.buf.clear();
        while self.client.wants_write() {
            self.client.write_tls(&mut self.buf).map_err(e)?;
        }
        let t = Instant::now();
        let mut input = &self.buf[..];
        while !input.is_empty() {
            self.server.read_tls(&mut input).map_err(e)?;
            self.server.process_new_packets().map_err(e)?;
        }
        self.server_time += t.elapsed();
        Ok(())
    }

    /// Server → client: the server writes what it has queued; the client processes it.
    fn s2c(&mut self) -> Res<()> {
        self.buf.clear();
        let t = Instant::now();
        while self.server.wants_write() {
            self.server.write_tls(&mut self.buf).map_err(e)?;
        }
        self.server_time += t.elapsed();
        let mut input = &self.buf[..];
        while !input.is_empty() {
            self.client.read_tls(&mut input).map_err(e)?;
            self.client.process_new_packets().map_err(e)?;
        }
        Ok(())
    }

    fn handshake(&mut self) -> Res<()> {
        while self.client.is_handshaking() || self.server.is_handshaking() {
            self.c2s()?;
            self.s2c()?;
        }
        Ok(())
    }

    /// The client sends `n` bytes; the server reads them and sends them back (timed);
    /// the client reads the echo.
    fn echo(&mut self, data: &[u8], sink: &mut [u8]) -> Res<()> {
        self.client.writer().write_all(data).map_err(e)?;
        self.c2s()?;
        let t = Instant::now();
        let mut got = 0;
        while got < data.len() {
            let n = self
                .server
                .reader()
                .read(&mut sink[..data.len() - got])
                .map_err(e)?;
            if n == 0 {
                return Err("no plaintext at the server".into());
            }
            self.server.writer().write_all(&sink[..n]).map_err(e)?;
            got += n;
        }
        self.server_time += t.elapsed();
        self.s2c()?;
        let mut got = 0;
        while got < data.len() {
            let n = self
                .client
                .reader()
                .read(&mut sink[got..data.len()])
                .map_err(e)?;
            if n == 0 {
                return Err("no echo at the client".into());
            }
            got += n;
        }
        Ok(())
    }

    /// A whole session as the handshake scenario runs it; the server's time.
    fn session(mut self) -> Res<(Duration, bool)> {
        self.handshake()?;
        let mut sink = [0u8; 64];
        self.echo(b"x", &mut sink)?;
        self.client.send_close_notify();
        self.c2s()?;
        let t = Instant::now();
        self.server.send_close_notify();
        self.server_time += t.elapsed();
        self.s2c()?;
        let resumed = self.client.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let t = Instant::now();
        drop(self.server);
        Ok((self.server_time + t.elapsed(), resumed))
    }
}

/// A server configuration as tls-server builds it by default: the provider's every suite
/// and group, TLS 1.2 and 1.3, a 256-entry stateful session cache, rustls's tickets.
pub fn server_config(cert: &Path, key: &Path) -> Res<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(e)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(e)?;
    let config = ServerConfig::builder_with_provider(Arc::new(client::provider()))
        .with_safe_default_protocol_versions()
        .map_err(e)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(e)?;
    Ok(Arc::new(config))
}

/// How long each floor figure is measured.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Time per handshake figure (at least `min_sessions` sessions, after 20 to warm up).
    pub budget: Duration,
    pub min_sessions: u32,
    /// MiB for the 16 KiB-record figures.
    pub mib: usize,
    /// 64-byte rounds for the ping-pong figure.
    pub rounds: usize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        Sizes {
            budget: Duration::from_millis(if quick { 300 } else { 1500 }),
            min_sessions: 50,
            mib: if quick { 32 } else { 128 },
            rounds: if quick { 20_000 } else { 100_000 },
        }
    }
}

/// Mean server time per session (µs) over as many sessions as fit in `sizes.budget`, and
/// the share that resumed.
fn sessions(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    sizes: Sizes,
) -> Res<(f64, f64)> {
    // Warm up (and give a resuming client its first tickets).
    for _ in 0..20 {
        Pair::new(server, client)?.session()?;
    }
    let start = Instant::now();
    let (mut total, mut n, mut resumed) = (Duration::ZERO, 0u32, 0u32);
    while n < sizes.min_sessions || start.elapsed() < sizes.budget {
        let (t, r) = Pair::new(server, client)?.session()?;
        total += t;
        n += 1;
        resumed += u32::from(r);
    }
    Ok((
        total.as_secs_f64() * 1e6 / n as f64,
        resumed as f64 / n as f64,
    ))
}

/// Server time to decrypt (open) and to encrypt (seal) `total` bytes in records of
/// `chunk` bytes, in seconds.
fn record_layer(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    chunk: usize,
    total: usize,
) -> Res<(f64, f64)> {
    let mut p = Pair::new(server, client)?;
    p.handshake()?;
    p.client.set_buffer_limit(None);
    p.server.set_buffer_limit(None);
    let data = vec![0x5au8; chunk];
    let mut sink = vec![0u8; chunk.max(64 * 1024)];
    let (mut open, mut seal) = (Duration::ZERO, Duration::ZERO);
    let mut moved = 0;
    while moved < total {
        // client → server: the server opens.
        p.client.writer().write_all(&data).map_err(e)?;
        p.buf.clear();
        while p.client.wants_write() {
            p.client.write_tls(&mut p.buf).map_err(e)?;
        }
        let t = Instant::now();
        let mut input = &p.buf[..];
        while !input.is_empty() {
            p.server.read_tls(&mut input).map_err(e)?;
            let st = p.server.process_new_packets().map_err(e)?;
            let mut ready = st.plaintext_bytes_to_read();
            while ready > 0 {
                ready -= p.server.reader().read(&mut sink).map_err(e)?;
            }
        }
        open += t.elapsed();
        // server → client: the server seals.
        p.buf.clear();
        let t = Instant::now();
        p.server.writer().write_all(&data).map_err(e)?;
        while p.server.wants_write() {
            p.server.write_tls(&mut p.buf).map_err(e)?;
        }
        seal += t.elapsed();
        let mut input = &p.buf[..];
        while !input.is_empty() {
            p.client.read_tls(&mut input).map_err(e)?;
            let st = p.client.process_new_packets().map_err(e)?;
            let mut ready = st.plaintext_bytes_to_read();
            while ready > 0 {
                ready -= p.client.reader().read(&mut sink).map_err(e)?;
            }
        }
        moved += chunk;
    }
    Ok((open.as_secs_f64(), seal.as_secs_f64()))
}

/// Every floor figure, as (name, value).
pub fn measure(certs: &Path, sizes: Sizes) -> Res<Vec<(String, f64)>> {
    let ca = certs.join("ca.crt");
    let ecdsa = server_config(&certs.join("server.crt"), &certs.join("server.key"))?;
    let rsa = server_config(&certs.join("server-rsa.crt"), &certs.join("server-rsa.key"))?;
    let full = client::client_config(&ca, Groups::X25519, false)?;
    let resume = client::client_config(&ca, Groups::X25519, true)?;
    let mut out = Vec::new();
    let (us, _) = sessions(&ecdsa, &full, sizes)?;
    out.push(("hs_full_ecdsa_us".into(), us));
    let (us, _) = sessions(&rsa, &full, sizes)?;
    out.push(("hs_full_rsa_us".into(), us));
    let (us, share) = sessions(&ecdsa, &resume, sizes)?;
    out.push(("hs_resumed_us".into(), us));
    out.push(("hs_resumed_share".into(), share));
    if client::PROVIDER == "aws-lc-rs" {
        let pq = client::client_config(&ca, Groups::Default, false)?;
        let (us, _) = sessions(&ecdsa, &pq, sizes)?;
        out.push(("hs_full_ecdsa_pq_us".into(), us));
    }
    // The record layer with the negotiated suite (TLS_AES_128_GCM_SHA256).
    let mib = sizes.mib;
    let (open, seal) = record_layer(&ecdsa, &full, 16 * 1024, mib << 20)?;
    let bytes = (mib << 20) as f64;
    out.push(("aead_open_MBps".into(), bytes / open / 1e6));
    out.push(("aead_seal_MBps".into(), bytes / seal / 1e6));
    out.push(("echo_us_per_MiB".into(), (open + seal) * 1e6 / mib as f64));
    let rounds = sizes.rounds;
    let (open, seal) = record_layer(&ecdsa, &full, 64, 64 * rounds)?;
    out.push((
        "pingpong_us_per_round".into(),
        (open + seal) * 1e6 / rounds as f64,
    ));
    Ok(out)
}
