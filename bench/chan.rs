//! A connection used without blocking — TLS or plain TCP — and the scenarios built on it:
//! bulk echo and ping-pong.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection};

use crate::client::{close, open, Mark, Window};

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

/// How a bulk client drives each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One thread per connection, non-blocking, `poll`, 64 KiB writes.
    Poll,
    /// Two threads per connection (writer, reader), blocking, 16 KiB writes.
    Blocking,
}

/// `conns` connections each echo `bytes_each` bytes, all at once. The window starts when
/// every connection is handshaken and ends when the last echo is complete.
pub fn bulk(
    addr: SocketAddr,
    config: Option<&Arc<ClientConfig>>,
    conns: usize,
    bytes_each: u64,
    server_pid: u32,
    shape: Shape,
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
                    let echo = |e| format!("echo: {e}");
                    match shape {
                        Shape::Poll => pump(&mut chan, bytes_each).map_err(echo)?,
                        Shape::Blocking => chan = pump_blocking(chan, bytes_each).map_err(echo)?,
                    }
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

// ----- bulk echo, blocking ------------------------------------------------------------------

/// Sends `total` bytes in 16 KiB writes and reads the echo back at the same time, the way
/// a blocking client does it: a writer thread and a reader thread share the connection
/// (rustls under a mutex, held only to encrypt or decrypt); every socket call blocks.
fn pump_blocking(chan: Chan, total: u64) -> io::Result<Chan> {
    let (shared, sock) = match chan {
        Chan::Tls(conn, sock) => (Some(Mutex::new(conn)), sock),
        Chan::Plain(sock) => (None, sock),
    };
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let out_sock = sock.try_clone()?;
    let conn = shared.as_ref();
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> io::Result<()> {
            let chunk = [0x5au8; 16 * 1024];
            let mut ciphertext = Vec::with_capacity(17 * 1024);
            let mut sent = 0u64;
            while sent < total {
                let n = (total - sent).min(chunk.len() as u64) as usize;
                match conn {
                    Some(conn) => {
                        ciphertext.clear();
                        {
                            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
                            c.writer().write_all(&chunk[..n])?;
                            while c.wants_write() {
                                c.write_tls(&mut ciphertext)?;
                            }
                        }
                        (&out_sock).write_all(&ciphertext)?;
                    }
                    None => (&out_sock).write_all(&chunk[..n])?,
                }
                sent += n as u64;
            }
            Ok(())
        });
        let mut rbuf = vec![0u8; 64 * 1024];
        let mut sink = vec![0u8; 64 * 1024];
        let mut received = 0u64;
        while received < total {
            let n = (&sock).read(&mut rbuf)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed after {received} of {total} bytes"),
                ));
            }
            let Some(conn) = conn else {
                received += n as u64;
                continue;
            };
            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
            let mut input = &rbuf[..n];
            while !input.is_empty() {
                c.read_tls(&mut input)?;
                c.process_new_packets().map_err(io::Error::other)?;
                loop {
                    match c.reader().read(&mut sink) {
                        Ok(0) => break,
                        Ok(k) => received += k as u64,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        writer.join().expect("bulk writer panicked")?;
        if received != total {
            return Err(io::Error::other("more echoed than sent"));
        }
        Ok(())
    })?;
    Ok(match shared {
        Some(conn) => Chan::Tls(conn.into_inner().unwrap_or_else(|e| e.into_inner()), sock),
        None => Chan::Plain(sock),
    })
}
