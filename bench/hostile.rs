//! The peers of `bench soak`: good clients and the ones a server must survive — resets in
//! the middle of a handshake or a write, garbage, stalled handshakes, idle holders, slow
//! readers — each a loop that runs until told to stop and counts what happened to it.
//!
//! Two client shapes: one thread per connection (`good`, `reset_*`, `garbage`,
//! `slow_reader`, and [`hold_with_threads`]), and one thread polling many connections
//! ([`Herd`]: stalled handshakes and idle holders).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection};

use crate::chan;
use crate::client::{self, server_name};

/// What happened to one kind of peer.
#[derive(Default)]
pub struct Counts {
    /// TCP connections that were established (the server must account for each).
    pub connects: AtomicU64,
    /// Sessions that went as this peer expects.
    pub ok: AtomicU64,
    /// Sessions the server turned away (refused, or closed to make room) before they got
    /// what they wanted: expected under the limits, reported, not a failure.
    pub turned_away: AtomicU64,
    /// Sessions that went wrong, by message (at most a few distinct ones).
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    pub fn failed(&self, e: impl std::fmt::Display) {
        let mut f = self.failures.lock().unwrap();
        let key = e.to_string();
        if f.len() < 8 || f.contains_key(&key) {
            *f.entry(key).or_default() += 1;
        } else {
            *f.entry("(other messages)".into()).or_default() += 1;
        }
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().unwrap().clone()
    }

    pub fn failure_count(&self) -> u64 {
        self.failures.lock().unwrap().values().sum()
    }

    fn connected(&self) {
        self.connects.fetch_add(1, Ordering::Relaxed);
    }
}

/// A peer: a loop that runs until `ctx` says stop, counting into `counts`.
pub type Peer = fn(&Ctx, &Counts);

/// What every peer needs: where to go, how, and when to stop.
pub struct Ctx {
    pub addr: SocketAddr,
    pub config: Arc<ClientConfig>,
    pub stop: AtomicBool,
    /// A small, fast, deterministic random source shared by the peers.
    seed: AtomicU64,
}

impl Ctx {
    pub fn new(addr: SocketAddr, config: Arc<ClientConfig>) -> Ctx {
        Ctx {
            addr,
            config,
            stop: AtomicBool::new(false),
            seed: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A random number below `n` (xorshift; not for cryptography).
    pub fn below(&self, n: u64) -> u64 {
        let mut x = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    }

    fn bytes(&self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.below(256) as u8).collect()
    }
}

/// Connects from `from` (an address of this machine, e.g. 127.0.0.2) or, if `None`, from
/// wherever the system picks.
pub fn connect(to: SocketAddr, from: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(from) = from else {
        return TcpStream::connect(to);
    };
    let domain = socket2::Domain::for_address(to);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect(&to.into())?;
    Ok(socket.into())
}

/// Closes `sock` with a reset (SO_LINGER 0) rather than a FIN: a peer that vanishes.
fn reset(sock: TcpStream) {
    let socket = socket2::Socket::from(sock);
    let _ = socket.set_linger(Some(Duration::ZERO));
}

/// Whether an error means the server closed the connection on us (the way limits do).
fn turned_away(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Handshakes over `sock` and echoes one byte.
pub fn handshake(ctx: &Ctx, mut sock: TcpStream) -> io::Result<(ClientConnection, TcpStream)> {
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut conn =
        ClientConnection::new(ctx.config.clone(), server_name()).map_err(io::Error::other)?;
    {
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        tls.write_all(b"x")?;
        let mut one = [0u8; 1];
        tls.read_exact(&mut one)?;
    }
    Ok((conn, sock))
}

/// Counts the outcome of a session that should have worked.
fn outcome(counts: &Counts, result: io::Result<()>) {
    match result {
        Ok(()) => {
            counts.ok.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if turned_away(&e) => {
            counts.turned_away.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => counts.failed(e),
    }
}

// ----- one thread per connection -----------------------------------------------------------

/// Whole sessions: handshake, an echo of 1 B – 64 KiB checked byte for byte, close_notify
/// both ways.
pub fn good(ctx: &Ctx, counts: &Counts) {
    while !ctx.stopped() {
        let result = (|| {
            let sock = connect(ctx.addr, None)?;
            counts.connected();
            let (mut conn, mut sock) = handshake(ctx, sock)?;
            let payload = ctx.bytes(1 + ctx.below(64 * 1024) as usize);
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(&payload)?;
            let mut echo = vec![0u8; payload.len()];
            tls.read_exact(&mut echo)?;
            if echo != payload {
                return Err(io::Error::other("the echo differs from what was sent"));
            }
            if !client::close(&mut conn, &mut sock)? {
                return Err(io::Error::other("the server closed without close_notify"));
            }
            Ok(())
        })();
        outcome(counts, result);
    }
}

/// Sends part of a real ClientHello, then resets the connection.
pub fn reset_in_handshake(ctx: &Ctx, counts: &Counts) {
    while !ctx.stopped() {
        let result = (|| {
            let mut conn = ClientConnection::new(ctx.config.clone(), server_name())
                .map_err(io::Error::other)?;
            let mut hello = Vec::new();
            conn.write_tls(&mut hello)?;
            let cut = 1 + ctx.below(hello.len() as u64 - 1) as usize;
            let mut sock = connect(ctx.addr, None)?;
            counts.connected();
            sock.write_all(&hello[..cut])?;
            reset(sock);
            Ok(())
        })();
        outcome(counts, result);
    }
}

/// Handshakes, writes until the socket is full (the server echoes, nobody reads), then
/// resets: a peer that vanishes in the middle of a write, both ways.
pub fn reset_in_write(ctx: &Ctx, counts: &Counts) {
    while !ctx.stopped() {
        let result = (|| {
            let sock = connect(ctx.addr, None)?;
            counts.connected();
            let (mut conn, mut sock) = handshake(ctx, sock)?;
            sock.set_write_timeout(Some(Duration::from_millis(200)))?;
            let chunk = ctx.bytes(16 * 1024);
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            for _ in 0..64 {
                match tls.write_all(&chunk) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => break,
                    Err(e) => return Err(e),
                }
            }
            reset(sock);
            Ok(())
        })();
        outcome(counts, result);
    }
}

/// Random bytes (sometimes behind a TLS record header, sometimes plain HTTP), then waits
/// for the server to close. The server must answer every one within its handshake
/// deadline.
pub fn garbage(ctx: &Ctx, counts: &Counts) {
    while !ctx.stopped() {
        let result = (|| {
            let mut bytes = match ctx.below(4) {
                0 => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
                1 => {
                    let mut b = vec![0x16, 0x03, 0x01];
                    b.extend(ctx.bytes(2 + ctx.below(600) as usize));
                    b
                }
                _ => ctx.bytes(1 + ctx.below(2048) as usize),
            };
            if ctx.below(8) == 0 {
                bytes.truncate(1);
            }
            let mut sock = connect(ctx.addr, None)?;
            counts.connected();
            sock.set_read_timeout(Some(Duration::from_secs(20)))?;
            sock.write_all(&bytes)?;
            let mut sink = [0u8; 4096];
            loop {
                match sock.read(&mut sink) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Err(io::Error::other(
                            "the server kept a garbage connection open for 20 s",
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
        })();
        // A reset is how a server may end garbage: it still answered.
        match result {
            Err(e) if turned_away(&e) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
            }
            other => outcome(counts, other),
        }
    }
}

/// Handshakes, sends 256 KiB, and reads the echo back 2 KiB at a time, 10 ms apart (about
/// 200 KiB/s), so the server's writes back up and it must pause reading; then closes.
pub fn slow_reader(ctx: &Ctx, counts: &Counts) {
    while !ctx.stopped() {
        let result = (|| {
            let sock = connect(ctx.addr, None)?;
            counts.connected();
            let (conn, sock) = handshake(ctx, sock)?;
            let mut chan = chan::Chan::Tls(Box::new(conn), sock);
            chan.sock().set_nonblocking(true)?;
            let total = 256 * 1024;
            let data = ctx.bytes(16 * 1024);
            let (mut sent, mut received) = (0usize, 0usize);
            let mut rbuf = vec![0u8; 2048];
            let mut sink = vec![0u8; 64 * 1024];
            let deadline = Instant::now() + Duration::from_secs(60);
            while received < total {
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "slow reader stalled: sent {sent}, received {received} of {total}"
                    )));
                }
                chan.flush_some()?;
                if sent < total && !chan.wants_write() {
                    sent += chan.send(&data[..(total - sent).min(data.len())])?;
                }
                if let Some(n) = chan.recv(&mut rbuf, &mut sink)? {
                    received += n;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            chan.close()
        })();
        outcome(counts, result);
    }
}

/// One measured session: milliseconds from the start of connect to the end of the
/// handshake (`total`), and of those, the TCP connect (`connect`: long when the server's
/// accept queue overflows and the client must send its SYN again).
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub total: f64,
    pub connect: f64,
}

/// Whole short sessions from `from` (another loopback address), one every `every`, `limit`
/// of them or until told to stop: the handshake latency of each that succeeds is
/// returned; failures are counted.
pub fn measure(
    ctx: &Ctx,
    counts: &Counts,
    from: IpAddr,
    every: Duration,
    limit: Option<usize>,
) -> Vec<Latency> {
    let mut latencies = Vec::new();
    let mut tries = 0;
    while !ctx.stopped() && limit.is_none_or(|n| tries < n) {
        tries += 1;
        let next = Instant::now() + every;
        let started = Instant::now();
        let result = (|| -> io::Result<Latency> {
            let sock = connect(ctx.addr, Some(from))?;
            let connect = started.elapsed().as_secs_f64() * 1000.0;
            counts.connected();
            let (mut conn, mut sock) = handshake(ctx, sock)?;
            let total = started.elapsed().as_secs_f64() * 1000.0;
            client::close(&mut conn, &mut sock)?;
            Ok(Latency { total, connect })
        })();
        match result {
            Ok(ms) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
                latencies.push(ms);
            }
            Err(e) => counts.failed(format!("from {from}: {e}")),
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    latencies
}

/// `n` connections held by `n` threads (one thread per connection): each opens a
/// connection (`secure`: handshaken and idle; otherwise TCP only, nothing sent), blocks
/// until the server closes it, waits `reopen`, and opens another, until told to stop.
pub fn hold_with_threads(
    ctx: &Arc<Ctx>,
    counts: &Arc<Counts>,
    n: usize,
    secure: bool,
    reopen: Duration,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (ctx, counts) = (Arc::clone(ctx), Arc::clone(counts));
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    while !ctx.stopped() {
                        let result = (|| {
                            let sock = connect(ctx.addr, None)?;
                            counts.connected();
                            let mut sock = match secure {
                                true => handshake(&ctx, sock)?.1,
                                false => sock,
                            };
                            // Held until the server ends it (or we stop, below).
                            sock.set_read_timeout(Some(Duration::from_millis(250)))?;
                            let mut sink = [0u8; 1024];
                            loop {
                                match sock.read(&mut sink) {
                                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                                    Ok(_) => {}
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                        ) =>
                                    {
                                        if ctx.stopped() {
                                            return Ok(());
                                        }
                                    }
                                    Err(e) => return Err(e),
                                }
                            }
                        })();
                        outcome(&counts, result);
                        let until = Instant::now() + reopen;
                        while !ctx.stopped() && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(50).min(reopen));
                        }
                    }
                })
                .expect("a holder thread")
        })
        .collect()
}

// ----- one thread, many connections ---------------------------------------------------------

/// One connection of a [`Herd`].
struct Held {
    sock: TcpStream,
    /// `Some` while a secure connection's handshake is in progress or done.
    tls: Option<ClientConnection>,
}

/// `n` connections held by one thread polling them all: TCP connections that never send
/// a byte (`secure == false`: stalled handshakes), or handshaken connections that then say
/// nothing (idle holders). Each the server closes is counted and replaced at once.
pub struct Herd {
    pub n: usize,
    pub secure: bool,
}

impl Herd {
    pub fn run(&self, ctx: &Ctx, counts: &Counts) {
        let mut held: Vec<Held> = Vec::with_capacity(self.n);
        let mut rbuf = vec![0u8; 16 * 1024];
        let mut plain = vec![0u8; 16 * 1024];
        while !ctx.stopped() {
            while held.len() < self.n && !ctx.stopped() {
                match self.open(ctx, counts) {
                    Ok(h) => held.push(h),
                    Err(e) => {
                        counts.failed(format!("connect: {e}"));
                        break;
                    }
                }
            }
            let mut fds: Vec<libc::pollfd> = held
                .iter()
                .map(|h| libc::pollfd {
                    fd: h.sock.as_raw_fd(),
                    events: libc::POLLIN
                        | if h.tls.as_ref().is_some_and(|c| c.wants_write()) {
                            libc::POLLOUT
                        } else {
                            0
                        },
                    revents: 0,
                })
                .collect();
            // SAFETY: `fds` is a valid array of pollfd for the call's duration.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 200) };
            if ready <= 0 {
                continue;
            }
            let mut index = 0;
            held.retain_mut(|h| {
                let revents = fds[index].revents;
                index += 1;
                if revents == 0 {
                    return true;
                }
                match Self::service(h, &mut rbuf, &mut plain) {
                    Ok(true) => true,
                    Ok(false) => {
                        // The server ended it: what it should do, in its own time.
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    Err(e) if turned_away(&e) => {
                        counts.turned_away.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    Err(e) => {
                        counts.failed(e);
                        false
                    }
                }
            });
        }
    }

    fn open(&self, ctx: &Ctx, counts: &Counts) -> io::Result<Held> {
        let sock = connect(ctx.addr, None)?;
        counts.connected();
        sock.set_nonblocking(true)?;
        let tls = match self.secure {
            true => {
                let mut c = ClientConnection::new(ctx.config.clone(), server_name())
                    .map_err(io::Error::other)?;
                // The one byte the server echoes tells it the handshake is complete.
                c.writer().write_all(b"x")?;
                Some(c)
            }
            false => None,
        };
        let mut h = Held { sock, tls };
        if let Some(c) = &mut h.tls {
            while c.wants_write() {
                match c.write_tls(&mut h.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(h)
    }

    /// Reads what arrived and writes what is pending; `Ok(false)` once the server has
    /// closed the connection (for a secure one: with close_notify).
    fn service(h: &mut Held, rbuf: &mut [u8], plain: &mut [u8]) -> io::Result<bool> {
        let n = match h.sock.read(rbuf) {
            Ok(0) => {
                return match &h.tls {
                    Some(c) if !c.is_handshaking() => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed without close_notify",
                    )),
                    _ => Ok(false),
                }
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        let Some(c) = &mut h.tls else {
            // A stalled connection was sent something: fine, it keeps stalling.
            return Ok(true);
        };
        let mut input = &rbuf[..n];
        while !input.is_empty() {
            c.read_tls(&mut input)?;
            let state = c.process_new_packets().map_err(io::Error::other)?;
            if state.peer_has_closed() {
                return Ok(false);
            }
            while c.reader().read(plain).is_ok_and(|k| k > 0) {}
        }
        while c.wants_write() {
            match c.write_tls(&mut h.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
