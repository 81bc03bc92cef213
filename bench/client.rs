//! The load generator's client side: rustls with this build's provider (aws-lc-rs in the
//! default build), TLS 1.3 only, verifying the demo CA's ECDSA signature, and the scenarios
//! (handshakes, bulk echo, ping-pong, idle connections). Every server gets the same client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
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

/// Counters shared by the worker threads of a rate scenario.
#[derive(Default)]
pub struct Tally {
    pub ops: AtomicU64,
    pub resumed: AtomicU64,
    pub unclean: AtomicU64,
    pub errors: AtomicU64,
    pub first_error: Mutex<Option<String>>,
    pub negotiated: Mutex<Option<Negotiated>>,
}

impl Tally {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }
}

/// The result of a rate scenario's measured window.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    pub window: Window,
    pub ops: u64,
    pub resumed: u64,
    pub unclean: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub negotiated: Negotiated,
}

/// Runs `threads` workers, each repeating whole sessions, for `warmup` (not counted) and
/// then `window` (counted).
pub fn handshakes(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    threads: usize,
    warmup: Duration,
    window: Duration,
    server_pid: u32,
) -> Rate {
    let stop = AtomicBool::new(false);
    let tally = Tally::default();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    match session(addr, config) {
                        Ok((neg, clean)) => {
                            tally.ops.fetch_add(1, Ordering::Relaxed);
                            if neg.resumed {
                                tally.resumed.fetch_add(1, Ordering::Relaxed);
                            }
                            if !clean {
                                tally.unclean.fetch_add(1, Ordering::Relaxed);
                            }
                            let mut n = tally.negotiated.lock().unwrap();
                            if n.is_none() {
                                *n = Some(neg);
                            }
                        }
                        Err(e) => {
                            tally.error(e);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                }
            });
        }
        let rate = measure(&tally, warmup, window, server_pid);
        stop.store(true, Ordering::Relaxed);
        rate
    })
}

fn measure(tally: &Tally, warmup: Duration, window: Duration, server_pid: u32) -> Rate {
    std::thread::sleep(warmup);
    let counts = |t: &Tally| {
        (
            t.ops.load(Ordering::Relaxed),
            t.resumed.load(Ordering::Relaxed),
            t.unclean.load(Ordering::Relaxed),
            t.errors.load(Ordering::Relaxed),
        )
    };
    let (c0, m0) = (counts(tally), Mark::now(server_pid));
    std::thread::sleep(window);
    let (c1, m1) = (counts(tally), Mark::now(server_pid));
    Rate {
        window: m0.until(&m1),
        ops: c1.0 - c0.0,
        resumed: c1.1 - c0.1,
        unclean: c1.2 - c0.2,
        errors: c1.3 - c0.3,
        first_error: tally.first_error.lock().unwrap().clone(),
        negotiated: tally.negotiated.lock().unwrap().clone().unwrap_or_default(),
    }
}

// ----- a connection for bulk and ping-pong: TLS or plain TCP -----------------------------

/// A connected, handshaken channel used without blocking.
pub enum Chan {
    Tls(Box<ClientConnection>, TcpStream),
    Plain(TcpStream),
}

impl Chan {
    /// Connects; over TLS also handshakes and echoes one byte.
    pub fn open(addr: SocketAddr, config: Option<&Arc<ClientConfig>>) -> io::Result<Chan> {
        match config {
            Some(config) => {
                let (conn, sock) = open(addr, config)?;
                Ok(Chan::Tls(Box::new(conn), sock))
            }
            None => {
                let mut sock = TcpStream::connect(addr)?;
                sock.set_nodelay(true)?;
                sock.write_all(b"x")?;
                let mut one = [0u8; 1];
                sock.read_exact(&mut one)?;
                Ok(Chan::Plain(sock))
            }
        }
    }

    pub fn sock(&self) -> &TcpStream {
        match self {
            Chan::Tls(_, s) | Chan::Plain(s) => s,
        }
    }

    /// Whether ciphertext is waiting to be written.
    pub fn wants_write(&self) -> bool {
        match self {
            Chan::Tls(c, _) => c.wants_write(),
            Chan::Plain(_) => false,
        }
    }

    /// Writes pending ciphertext without blocking; whether any was written.
    pub fn flush_some(&mut self) -> io::Result<bool> {
        let Chan::Tls(conn, sock) = self else {
            return Ok(false);
        };
        let mut progressed = false;
        while conn.wants_write() {
            match conn.write_tls(&mut &*sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => progressed = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(progressed)
    }

    /// Takes as much of `data` as it can without blocking (TLS: up to rustls's buffer
    /// limit) and starts sending it. Returns how many bytes of `data` were taken.
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Chan::Tls(conn, _) => {
                let n = conn.writer().write(data)?;
                self.flush_some()?;
                Ok(n)
            }
            Chan::Plain(sock) => match sock.write(data) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                Err(e) => Err(e),
            },
        }
    }

    /// One non-blocking read: `Some(plaintext bytes)` (possibly 0 while a record is
    /// incomplete), `None` if nothing was there. EOF is an error.
    pub fn recv(&mut self, rbuf: &mut [u8], sink: &mut [u8]) -> io::Result<Option<usize>> {
        let n = match self.sock().read(rbuf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Some(0)),
            Err(e) => return Err(e),
        };
        match self {
            Chan::Plain(_) => Ok(Some(n)),
            Chan::Tls(conn, _) => {
                let mut input = &rbuf[..n];
                let mut plain = 0;
                while !input.is_empty() {
                    conn.read_tls(&mut input)?;
                    let state = conn.process_new_packets().map_err(io::Error::other)?;
                    let mut ready = state.plaintext_bytes_to_read();
                    while ready > 0 {
                        let k = conn.reader().read(sink)?;
                        if k == 0 {
                            break;
                        }
                        plain += k;
                        ready -= k;
                    }
                }
                Ok(Some(plain))
            }
        }
    }

    /// Closes politely (close_notify both ways for TLS; FIN and wait for the server's).
    pub fn close(self) -> io::Result<()> {
        match self {
            Chan::Tls(mut conn, mut sock) => close(&mut conn, &mut sock).map(|_| ()),
            Chan::Plain(mut sock) => {
                sock.set_nonblocking(false)?;
                sock.set_read_timeout(Some(Duration::from_secs(10)))?;
                sock.shutdown(std::net::Shutdown::Write)?;
                let mut sink = [0u8; 512];
                while sock.read(&mut sink)? > 0 {}
                Ok(())
            }
        }
    }
}

fn poll_one(sock: &TcpStream, write: bool, timeout_ms: i32) -> io::Result<()> {
    let mut fd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN | if write { libc::POLLOUT } else { 0 },
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut fd, 1, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

// ----- bulk echo --------------------------------------------------------------------------

/// Sends `total` bytes and reads the echo back at the same time, without blocking.
fn pump(chan: &mut Chan, total: u64) -> io::Result<()> {
    chan.sock().set_nonblocking(true)?;
    let chunk = vec![0x5au8; 64 * 1024];
    let mut rbuf = vec![0u8; 256 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let mut last_progress = Instant::now();
    while received < total {
        let mut progress = chan.wants_write() && chan.flush_some()?;
        while sent < total && !chan.wants_write() {
            let n = chan.send(&chunk[..(total - sent).min(chunk.len() as u64) as usize])?;
            if n == 0 {
                break;
            }
            sent += n as u64;
            progress = true;
        }
        while let Some(n) = chan.recv(&mut rbuf, &mut sink)? {
            received += n as u64;
            progress = true;
        }
        if progress {
            last_progress = Instant::now();
        } else {
            if last_progress.elapsed() > Duration::from_secs(30) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("bulk echo stalled: sent {sent}, received {received} of {total}"),
                ));
            }
            poll_one(chan.sock(), sent < total || chan.wants_write(), 1000)?;
        }
    }
    if received != total {
        return Err(io::Error::other("more echoed than sent"));
    }
    Ok(())
}

/// The result of a bulk scenario.
#[derive(Clone, Debug, Default)]
pub struct Bulk {
    pub window: Window,
    /// Bytes echoed (one direction), all connections.
    pub bytes: u64,
}

/// `conns` connections each echo `bytes_each` bytes, all at once. The window starts when
/// every connection is handshaken and ends when the last echo is complete.
pub fn bulk(
    addr: SocketAddr,
    config: Option<&Arc<ClientConfig>>,
    conns: usize,
    bytes_each: u64,
    server_pid: u32,
) -> Result<Bulk, String> {
    let start = Barrier::new(conns + 1);
    let failed = Mutex::new(None::<String>);
    let mut window = Window::default();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..conns)
            .map(|_| {
                s.spawn(|| {
                    let chan = Chan::open(addr, config);
                    start.wait();
                    let mut chan = chan.map_err(|e| format!("connect: {e}"))?;
                    pump(&mut chan, bytes_each).map_err(|e| format!("echo: {e}"))?;
                    Ok::<Chan, String>(chan)
                })
            })
            .collect();
        start.wait();
        let m0 = Mark::now(server_pid);
        let mut chans = Vec::new();
        for w in workers {
            match w.join().expect("bulk worker panicked") {
                Ok(chan) => chans.push(chan),
                Err(e) => *failed.lock().unwrap() = Some(e),
            }
        }
        window = m0.until(&Mark::now(server_pid));
        for chan in chans {
            let _ = chan.close();
        }
    });
    if let Some(e) = failed.into_inner().unwrap() {
        return Err(e);
    }
    Ok(Bulk {
        window,
        bytes: bytes_each * conns as u64,
    })
}

// ----- ping-pong --------------------------------------------------------------------------

/// The result of a ping-pong scenario.
#[derive(Clone, Debug, Default)]
pub struct PingPong {
    pub window: Window,
    pub rounds: u64,
    /// Round-trip times (ns) of the rounds completed in the window.
    pub latencies_ns: Vec<u32>,
}

struct Peer {
    chan: Chan,
    sent_at: Instant,
    waiting: usize,
}

/// `conns` connections, spread over `threads` client threads (one `poll` loop each), each
/// with one `msg`-byte message in flight: send, wait for the whole echo, send again.
#[allow(clippy::too_many_arguments)]
pub fn pingpong(
    addr: SocketAddr,
    config: Option<&Arc<ClientConfig>>,
    conns: usize,
    threads: usize,
    msg: usize,
    warmup: Duration,
    window: Duration,
    server_pid: u32,
) -> Result<PingPong, String> {
    let mut all = Vec::with_capacity(conns);
    for _ in 0..conns {
        all.push(Chan::open(addr, config).map_err(|e| format!("connect: {e}"))?);
    }
    let mut groups: Vec<Vec<Chan>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, chan) in all.into_iter().enumerate() {
        groups[i % threads].push(chan);
    }
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    let rounds = AtomicU64::new(0);
    let message = vec![0x42u8; msg];
    std::thread::scope(|s| {
        let workers: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let (stop, measuring, rounds, message) = (&stop, &measuring, &rounds, &message);
                s.spawn(move || pingpong_loop(group, message, stop, measuring, rounds))
            })
            .collect();
        std::thread::sleep(warmup);
        measuring.store(true, Ordering::Relaxed);
        let (r0, m0) = (rounds.load(Ordering::Relaxed), Mark::now(server_pid));
        std::thread::sleep(window);
        let (r1, m1) = (rounds.load(Ordering::Relaxed), Mark::now(server_pid));
        measuring.store(false, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let mut latencies_ns = Vec::new();
        let mut error = None;
        for w in workers {
            match w.join().expect("ping-pong worker panicked") {
                Ok(mut l) => latencies_ns.append(&mut l),
                Err(e) => error = Some(e),
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(PingPong {
                window: m0.until(&m1),
                rounds: r1 - r0,
                latencies_ns,
            }),
        }
    })
}

fn pingpong_loop(
    chans: Vec<Chan>,
    message: &[u8],
    stop: &AtomicBool,
    measuring: &AtomicBool,
    rounds: &AtomicU64,
) -> Result<Vec<u32>, String> {
    let fail = |what: &str, e: io::Error| format!("ping-pong {what}: {e}");
    let mut peers = Vec::with_capacity(chans.len());
    for chan in chans {
        chan.sock()
            .set_nonblocking(true)
            .map_err(|e| fail("set_nonblocking", e))?;
        peers.push(Peer {
            chan,
            sent_at: Instant::now(),
            waiting: 0,
        });
    }
    let mut fds: Vec<libc::pollfd> = peers
        .iter()
        .map(|p| libc::pollfd {
            fd: p.chan.sock().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let send = |p: &mut Peer| -> io::Result<()> {
        p.sent_at = Instant::now();
        p.waiting = message.len();
        let n = p.chan.send(message)?;
        if n != message.len() || p.chan.wants_write() {
            return Err(io::Error::other("a 64-byte message did not fit the socket"));
        }
        Ok(())
    };
    for p in &mut peers {
        send(p).map_err(|e| fail("send", e))?;
    }
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut sink = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a valid array of pollfd.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if r <= 0 {
            continue;
        }
        for (i, fd) in fds.iter_mut().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            fd.revents = 0;
            let p = &mut peers[i];
            while let Some(n) = p
                .chan
                .recv(&mut rbuf, &mut sink)
                .map_err(|e| fail("receive", e))?
            {
                if n > p.waiting {
                    return Err("ping-pong: more bytes echoed than sent".into());
                }
                p.waiting -= n;
                if p.waiting == 0 {
                    let rtt = p.sent_at.elapsed();
                    rounds.fetch_add(1, Ordering::Relaxed);
                    if measuring.load(Ordering::Relaxed) {
                        latencies.push(rtt.as_nanos().min(u32::MAX as u128) as u32);
                    }
                    send(p).map_err(|e| fail("send", e))?;
                }
            }
        }
    }
    for p in peers {
        let _ = p.chan.close();
    }
    Ok(latencies)
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
