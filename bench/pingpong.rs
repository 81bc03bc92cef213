//! The ping-pong scenario: many connections, each with one small message in flight —
//! send, wait for the whole echo, send again — timing each round trip. Two client shapes,
//! because a figure only holds if it holds for clients other than ours: one `poll` loop per
//! client thread over many connections ([`pingpong`]), and one thread per connection with
//! blocking `write_all` / `read_exact` ([`pingpong_threads`]), the way most simple clients
//! are written.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::chan::Chan;
use crate::client::{Mark, Window};

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
        measure(
            workers,
            [&stop, &measuring],
            &rounds,
            warmup,
            window,
            server_pid,
        )
    })
}

/// What both shapes share once their client threads run: the warm-up, the window in
/// which rounds and latencies count, then stopping the threads and gathering what they
/// measured (the first error, if any).
fn measure(
    workers: Vec<ScopedJoinHandle<'_, Result<Vec<u32>, String>>>,
    [stop, measuring]: [&AtomicBool; 2],
    rounds: &AtomicU64,
    warmup: Duration,
    window: Duration,
    server_pid: u32,
) -> Result<PingPong, String> {
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
        match w.join().expect("ping-pong client thread panicked") {
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

/// `conns` connections, one client thread each, blocking: write the `msg`-byte message
/// with `write_all`, wait for its echo with `read_exact`, again; the time from the start of
/// the write to the end of the read is the round trip.
pub fn pingpong_threads(
    addr: SocketAddr,
    config: Option<&Arc<ClientConfig>>,
    conns: usize,
    msg: usize,
    warmup: Duration,
    window: Duration,
    server_pid: u32,
) -> Result<PingPong, String> {
    let mut all = Vec::with_capacity(conns);
    for _ in 0..conns {
        all.push(Chan::open(addr, config).map_err(|e| format!("connect: {e}"))?);
    }
    let stop = AtomicBool::new(false);
    let measuring = AtomicBool::new(false);
    let rounds = AtomicU64::new(0);
    let ready = Barrier::new(conns + 1);
    let message = vec![0x42u8; msg];
    std::thread::scope(|s| {
        let workers: Vec<_> = all
            .into_iter()
            .map(|chan| {
                let (stop, measuring, rounds, message, ready) =
                    (&stop, &measuring, &rounds, &message, &ready);
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn_scoped(s, move || {
                        ready.wait();
                        blocking_loop(chan, message, stop, measuring, rounds)
                    })
                    .expect("a ping-pong client thread")
            })
            .collect();
        ready.wait();
        measure(
            workers,
            [&stop, &measuring],
            &rounds,
            warmup,
            window,
            server_pid,
        )
    })
}

fn blocking_loop(
    chan: Chan,
    message: &[u8],
    stop: &AtomicBool,
    measuring: &AtomicBool,
    rounds: &AtomicU64,
) -> Result<Vec<u32>, String> {
    let fail = |what: &str, e: io::Error| format!("ping-pong {what}: {e}");
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut echo = vec![0u8; message.len()];
    let mut chan = chan;
    chan.sock()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| fail("set_read_timeout", e))?;
    while !stop.load(Ordering::Relaxed) {
        let sent_at = Instant::now();
        match &mut chan {
            Chan::Tls(conn, sock) => {
                let mut stream = rustls::Stream::new(&mut **conn, sock);
                stream.write_all(message).map_err(|e| fail("write", e))?;
                stream.read_exact(&mut echo).map_err(|e| fail("read", e))?;
            }
            Chan::Plain(sock) => {
                sock.write_all(message).map_err(|e| fail("write", e))?;
                sock.read_exact(&mut echo).map_err(|e| fail("read", e))?;
            }
        }
        let rtt = sent_at.elapsed();
        rounds.fetch_add(1, Ordering::Relaxed);
        if measuring.load(Ordering::Relaxed) {
            latencies.push(rtt.as_nanos().min(u32::MAX as u128) as u32);
        }
    }
    let _ = chan.close();
    Ok(latencies)
}
