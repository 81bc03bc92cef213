//! The load generator's client side: rustls with this build's provider (aws-lc-rs in the
//! default build), TLS 1.3 only, verifying the demo CA's ECDSA signature; one session;
//! measuring an interval; idle connections. Every server gets the same client. The
//! scenarios are in `rate.rs` (handshakes) and `chan.rs` (bulk echo, ping-pong).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CipherSuite, ClientConfig, ClientConnection, HandshakeKind, NamedGroup};

use crate::procfs::{self, Cpu, CpuDelta};

/// The crypto provider of this build: aws-lc-rs by default, ring in the ring build.
pub fn provider() -> CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    return rustls::crypto::ring::default_provider();
}

/// The name of [`provider`].
pub const PROVIDER: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

/// Which key-exchange groups the client offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Groups {
    /// X25519 only: what every peer (Node included) negotiates, so the comparison is fair.
    X25519,
    /// The provider's default list (aws-lc-rs: X25519MLKEM768 first, then X25519, ...).
    Default,
}

/// The provider with one cipher suite, TLS_AES_128_GCM_SHA256, so that every server uses
/// it (Node, that is OpenSSL, picks TLS_AES_256_GCM_SHA384 by its own order when offered),
/// and the chosen groups.
pub fn tuned_provider(groups: Groups) -> CryptoProvider {
    let mut p = provider();
    p.cipher_suites
        .retain(|s| s.suite() == CipherSuite::TLS13_AES_128_GCM_SHA256);
    if groups == Groups::X25519 {
        p.kx_groups.retain(|g| g.name() == NamedGroup::X25519);
    }
    p
}

/// A TLS 1.3 client configuration trusting `ca` (the demo CA).
pub fn client_config(ca: &Path, groups: Groups, resume: bool) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(tuned_provider(groups)))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = if resume {
        Resumption::in_memory_sessions(256)
    } else {
        Resumption::disabled()
    };
    Ok(Arc::new(config))
}

pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("valid DNS name")
}

// ----- one session ------------------------------------------------------------------------

/// What one session negotiated.
#[derive(Clone, Debug, Default)]
pub struct Negotiated {
    pub resumed: bool,
    pub suite: String,
    pub group: String,
}

fn negotiated(conn: &ClientConnection) -> Negotiated {
    Negotiated {
        resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
        suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        group: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
            .unwrap_or_default(),
    }
}

/// Connects and handshakes, then echoes one byte (so the server has processed our
/// Finished and sent its tickets). The connection stays open.
pub fn open(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
) -> io::Result<(ClientConnection, TcpStream)> {
    let mut sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    let mut conn =
        ClientConnection::new(config.clone(), server_name()).map_err(io::Error::other)?;
    {
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        tls.write_all(b"x")?;
        let mut one = [0u8; 1];
        tls.read_exact(&mut one)?;
        if one[0] != b'x' {
            return Err(io::Error::other("the echo differs from what was sent"));
        }
    }
    Ok((conn, sock))
}

/// Sends close_notify and reads until the server closes. `Ok(true)` if it answered with
/// close_notify, `Ok(false)` if it closed TCP without one.
pub fn close(conn: &mut ClientConnection, sock: &mut TcpStream) -> io::Result<bool> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.send_close_notify();
    let mut tls = rustls::Stream::new(conn, sock);
    tls.flush()?;
    let mut sink = [0u8; 512];
    loop {
        match tls.read(&mut sink) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(e),
        }
    }
}

/// One whole session, as the handshake scenarios count it: connect, handshake, 1-byte
/// echo, close_notify both ways, close.
pub fn session(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<(Negotiated, bool)> {
    let (mut conn, mut sock) = open(addr, config)?;
    let clean = close(&mut conn, &mut sock)?;
    Ok((negotiated(&conn), clean))
}

// ----- measuring --------------------------------------------------------------------------

/// A moment: wall clock, the server's CPU, ours.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    at: Instant,
    server: Cpu,
    client: f64,
    machine: f64,
}

impl Mark {
    pub fn now(server_pid: u32) -> Mark {
        Mark {
            at: Instant::now(),
            server: procfs::cpu(server_pid).unwrap_or_default(),
            client: procfs::self_cpu(),
            machine: procfs::machine_busy(),
        }
    }

    pub fn until(&self, later: &Mark) -> Window {
        let server = self.server.since(&later.server);
        let client = later.client - self.client;
        Window {
            secs: (later.at - self.at).as_secs_f64(),
            server,
            client,
            others: (later.machine - self.machine - server.total - client).max(0.0),
        }
    }
}

/// What one measured interval cost: seconds, server CPU, client (this process) CPU, and
/// the CPU that other processes on the machine took meanwhile (noise).
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    pub secs: f64,
    pub server: CpuDelta,
    pub client: f64,
    pub others: f64,
}

impl Window {
    /// Other processes' share of the machine during the window, in percent.
    pub fn others_pct(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        100.0 * self.others / (self.secs * cores).max(1e-9)
    }
}

// ----- idle connections -------------------------------------------------------------------

/// Opens `n` handshaken connections (each has echoed one byte) with `threads` threads and
/// returns them open. Failures are counted, with the first one's message.
pub fn hold(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    n: usize,
    threads: usize,
) -> (Vec<(ClientConnection, TcpStream)>, usize, Option<String>) {
    let errors = AtomicU64::new(0);
    let first = Mutex::new(None);
    let held = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let share = n / threads + usize::from(t < n % threads);
                let (errors, first) = (&errors, &first);
                s.spawn(move || {
                    let mut mine = Vec::with_capacity(share);
                    for _ in 0..share {
                        match open(addr, config) {
                            Ok(c) => mine.push(c),
                            Err(e) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                first.lock().unwrap().get_or_insert(e.to_string());
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("idle worker panicked"))
            .collect::<Vec<_>>()
    });
    (
        held,
        errors.into_inner() as usize,
        first.into_inner().unwrap(),
    )
}

/// Percentile `q` (0..=1) of sorted values.
pub fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}
