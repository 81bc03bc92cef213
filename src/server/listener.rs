//! The listening socket and the accept loop: each accepted connection is admitted by the
//! registry (perhaps closing another to make room) and goes to the pool, or is refused and
//! reported. Running out of file descriptors is reported once and waited out, and so is an
//! event loop too far behind. When the loop sees the stop flag it hands over to
//! [`shutdown::finish`].

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event::{Event, Limit};
use crate::server::lifecycle;
use crate::server::registry::Refusal;
use crate::server::shared::Shared;
use crate::server::shutdown;
use crate::setting::{Naming, Setting};

/// Binds `addr` (IPv6 sockets accept IPv4 too), with the kernel's accept queue at 1024.
/// With `reuse_port`, other sockets may bind the same address and port (`SO_REUSEPORT`).
pub(crate) fn bind(addr: &str, naming: Naming, reuse_port: bool) -> Result<TcpListener, Error> {
    let bind_err = |source| Error::Bind {
        addr: addr.to_string(),
        source,
    };
    let sockaddr = resolve(addr, naming)?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(sockaddr),
        socket2::Type::STREAM,
        None,
    )
    .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    if reuse_port {
        socket.set_reuse_port(true).map_err(bind_err)?;
    }
    if sockaddr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&sockaddr.into()).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)?;
    Ok(socket.into())
}

/// A listening socket made elsewhere ([`Server::from_listeners`](crate::Server::from_listeners),
/// `--listen-fd`, systemd's socket activation): it must be a TCP socket that `listen()` was
/// called on. It is put in blocking mode, which the accept loop needs.
pub(crate) fn adopt(listener: TcpListener, naming: Naming) -> Result<TcpListener, Error> {
    let refuse = |problem: String, fix: &str| Err(naming.error(Setting::Listener, problem, fix));
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            return refuse(
                format!("the socket has no address ({e})"),
                "pass a TCP socket that is bound and listening",
            )
        }
    };
    match socket2::SockRef::from(&listener).is_listener() {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                format!("the socket bound to {addr} is not listening"),
                "call listen() on it before passing it (std's TcpListener::bind does)",
            )
        }
        Err(e) => {
            return refuse(
                format!("cannot tell whether the socket bound to {addr} listens ({e})"),
                "pass a TCP socket that is bound and listening",
            )
        }
    }
    if let Err(e) = listener.set_nonblocking(false) {
        return refuse(
            format!("cannot put the socket bound to {addr} in blocking mode ({e})"),
            "pass a TCP socket that is bound and listening",
        );
    }
    Ok(listener)
}

/// The address `addr` names: `IP:PORT`, `[IPV6]:PORT` or `HOST:PORT`. The forms that lack
/// a port or the brackets get an error that says which.
pub(crate) fn resolve(addr: &str, naming: Naming) -> Result<SocketAddr, Error> {
    if let Ok(sockaddr) = addr.parse::<SocketAddr>() {
        return Ok(sockaddr);
    }
    let wrong = |problem: String, fix: String| Err(naming.error(Setting::Bind, problem, fix));
    if let Some((ip, port)) = port_without_brackets(addr) {
        // "::1:8443" is an IPv6 address, but more likely ::1 with port 8443.
        return wrong(
            format!("{addr:?}: an IPv6 address with a port goes in brackets"),
            format!(
                "write {} for port {port} (or [{addr}]:PORT if {addr} is the whole address)",
                SocketAddr::from((ip, port))
            ),
        );
    }
    let bare = addr.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let example = SocketAddr::new(ip, 8000);
        return wrong(
            format!("{addr:?} has no port"),
            format!("add one, e.g. {example} (port 0 picks a free one)"),
        );
    }
    if addr.matches(':').count() > 1 && !addr.starts_with('[') {
        // "::1:8000": IPv6 with a port needs brackets, or the port cannot be told apart.
        if let Some((ip, port)) = addr.rsplit_once(':') {
            if let (Ok(ip), Ok(port)) = (ip.parse::<Ipv6Addr>(), port.parse::<u16>()) {
                return wrong(
                    format!("{addr:?}: an IPv6 address with a port goes in brackets"),
                    format!("write {}", SocketAddr::from((ip, port))),
                );
            }
        }
        return wrong(
            format!("{addr:?} is not an address"),
            "give IP:PORT, [IPV6]:PORT or HOST:PORT, e.g. 127.0.0.1:8000 or [::1]:8000".into(),
        );
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return wrong(
            format!("{addr:?} has no port"),
            format!("add one, e.g. {addr}:8000 (port 0 picks a free one)"),
        );
    };
    if port.parse::<u16>().is_err() {
        return wrong(
            format!("{addr:?}: the port {port:?} is not a number from 0 to 65535"),
            format!("e.g. {host}:8000 (port 0 picks a free one)"),
        );
    }
    let mut found = addr.to_socket_addrs().map_err(|e| {
        naming.error(
            Setting::Bind,
            format!("cannot resolve {host:?}: {e}"),
            "give an IP address (127.0.0.1, ::1, 0.0.0.0, [::]) or a name this machine resolves, such as localhost",
        )
    })?;
    found.next().map_or_else(
        || {
            wrong(
                format!("{addr:?} resolves to no address"),
                "give an address such as 127.0.0.1:8000 or [::1]:8000".into(),
            )
        },
        Ok,
    )
}

/// An IPv6 address typed with a port and no brackets (`::1:8443`): the last group is a
/// decimal number of two digits or more and what comes before it is an address. Such a
/// text is also a valid address, so it is refused as ambiguous rather than guessed.
pub(crate) fn port_without_brackets(addr: &str) -> Option<(Ipv6Addr, u16)> {
    let (ip, port) = addr.rsplit_once(':')?;
    if port.len() < 2 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((ip.parse().ok()?, port.parse().ok()?))
}

/// The accept thread of the first listener: it accepts on `first` while each of `others`
/// accepts on another listener ([`spawn_accept`]); once all have stopped it waits out the
/// last connections (after [`ServerOptions::exit_after`](crate::ServerOptions::exit_after))
/// or closes them (a shutdown).
pub(crate) fn run(
    first: TcpListener,
    others: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    timer_thread: JoinHandle<()>,
) {
    accept_loop(first, &shared);
    for other in others {
        let _ = other.join();
    }
    if !shared.stopping() {
        // exit_after: every connection it allowed was accepted; let them finish.
        shutdown::drain(&shared);
    }
    shutdown::finish(&shared, timer_thread);
}

/// A thread that accepts on one more listener, alongside [`run`]'s.
pub(crate) fn spawn_accept(
    listener: TcpListener,
    shared: &Arc<Shared>,
) -> io::Result<JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name("tls-server-accept".into())
        .spawn(move || accept_loop(listener, &shared))
}

/// Accepts until the server stops or has accepted its `exit_after` connections.
fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut out_of_descriptors = Backoff::new();
    let mut lagging = false;
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(_) if shared.stopping() || shared.all_accepted() => break,
            Err(e) if is_descriptor_exhaustion(&e) => {
                out_of_descriptors.exhausted(shared, &listener, &e);
                continue;
            }
            Err(e) => {
                shared.events.send(Event::ServerError {
                    error: format!("accept failed: {e}"),
                });
                // Out of memory, or a network error: give the system a moment, not a spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.stopping() {
            break;
        }
        let last = match shared.exit_after {
            None => false,
            Some(n) => {
                let nth = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                if nth > n {
                    // Past the count (another listener took the last one, or this is
                    // the wake-up connection): not served.
                    break;
                }
                nth == n
            }
        };
        out_of_descriptors.recovered();
        // Checked after accept, so that a pause starts with the first connection that
        // finds the queue full; it waits, accepted but not yet served.
        wait_for_event_loop(shared, &mut lagging);
        if shared.stopping() {
            break;
        }
        admit(shared, sock, peer);
        if last {
            log::info!(
                "{} connection(s) accepted ({}): no more are taken; the server stops when they have closed",
                shared.accepted.load(Ordering::SeqCst),
                shared.naming.of(Setting::ExitAfter)
            );
            // Wake the other accept threads, which find the count reached.
            shutdown::wake(shared);
            break;
        }
    }
}

/// While the event loop has `max_queued_events` events to catch up on, serve and accept
/// nothing more (until it is down to half): every connection brings events, and an event
/// loop slower than the clients must not let them pile up without bound; newcomers wait in
/// the kernel's accept queue, which has its own bound. Says so when it starts and ends.
fn wait_for_event_loop(shared: &Shared, lagging: &mut bool) {
    let limit = shared.max_queued_events;
    let queued = shared.events.queued();
    if queued < limit {
        if std::mem::take(lagging) {
            log::info!("the event loop has caught up; accepting connections again");
        }
        return;
    }
    if !*lagging {
        *lagging = true;
        log::warn!(
            "the event loop is {queued} events behind (ServerOptions::max_queued_events {limit}): no new connection is accepted until it catches up — a handler that blocks, or a program that does not read its events, holds up the whole server"
        );
    }
    while shared.events.queued() > limit / 2 && !shared.stopping() {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The registry's decision for one connection, then a pool thread for it.
fn admit(shared: &Arc<Shared>, sock: TcpStream, peer: SocketAddr) {
    let started = Instant::now();
    let id = shared
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The job owns the socket; if the pool refuses, we get neither back, so keep a second
    // handle to close it (shared, not a dup'ed descriptor: no system call).
    let sock = Arc::new(sock);
    let refuse = |limit, reason| {
        let _ = sock.shutdown(Shutdown::Both);
        shared.events.send(Event::Refused {
            peer,
            limit,
            reason,
        });
    };
    let balancer = shared.proxy.trusts(peer.ip());
    let (admitted, evicted) = match shared.registry.admit(id, peer, &sock, balancer) {
        Ok(place) => place,
        Err(Refusal { limit, reason }) => return refuse(limit, reason),
    };
    for e in evicted {
        shared.events.send(Event::Evicted {
            id: e.id,
            peer: e.peer,
            limit: e.limit,
            reason: e.reason,
        });
    }
    let job_shared = shared.clone();
    let job_sock = sock.clone();
    let job =
        Box::new(move |slot| lifecycle::serve(job_shared, job_sock, admitted, peer, started, slot));
    if let Err(rejected) = shared.pool.submit(job) {
        refuse(rejected.limit, rejected.reason);
    }
}

fn is_descriptor_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Out of file descriptors at `accept`: say so once, refuse the waiting clients rather
/// than leave them hanging, back off, and say when it is over.
struct Backoff {
    /// A descriptor held in reserve: given up for a moment to accept (and close) one
    /// waiting connection when no other is left.
    spare: Option<File>,
    /// The current wait between attempts while exhausted; `None` when not exhausted.
    wait: Option<Duration>,
    refused: u64,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            spare: File::open("/dev/null").ok(),
            wait: None,
            refused: 0,
        }
    }

    fn exhausted(&mut self, shared: &Shared, listener: &TcpListener, e: &io::Error) {
        if self.wait.is_none() {
            shared.events.send(Event::ServerError {
                error: format!(
                    "accept failed: {e} — out of file descriptors; new connections are refused until some close. Raise the limit (`ulimit -n`, LimitNOFILE= in systemd) or lower {}",
                    shared.naming.of(Setting::MaxConnections)
                ),
            });
        }
        // The waiting client gets a closed connection at once, not a stall: use the
        // spare descriptor to accept it, then take the spare back.
        if let Some(spare) = self.spare.take() {
            drop(spare);
            if let Ok((sock, peer)) = listener.accept() {
                let _ = sock.shutdown(Shutdown::Both);
                drop(sock);
                self.refused += 1;
                shared.events.send(Event::Refused {
                    peer,
                    limit: Limit::Descriptors,
                    reason: format!(
                        "no file descriptor is free (`ulimit -n`); raise the limit or lower {}",
                        shared.naming.of(Setting::MaxConnections)
                    ),
                });
            }
            self.spare = File::open("/dev/null").ok();
        }
        let wait = self.wait.map_or(Duration::from_millis(10), |w| {
            (w * 2).min(Duration::from_secs(1))
        });
        self.wait = Some(wait);
        std::thread::sleep(wait);
    }

    fn recovered(&mut self) {
        if self.wait.take().is_some() {
            log::warn!(
                "file descriptors are available again; accepting connections ({} refused meanwhile)",
                self.refused
            );
            self.refused = 0;
            if self.spare.is_none() {
                self.spare = File::open("/dev/null").ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use crate::setting::Naming;

    /// The error `resolve` gives for `addr`, as a user reads it.
    fn error(addr: &str) -> String {
        resolve(addr, Naming::default())
            .expect_err(addr)
            .to_string()
    }

    #[test]
    fn every_form_of_address_resolves_or_says_what_is_missing() {
        for (addr, want) in [
            ("127.0.0.1:8443", "127.0.0.1:8443"),
            ("[::1]:8443", "[::1]:8443"),
            ("[::]:0", "[::]:0"),
        ] {
            assert_eq!(resolve(addr, Naming::default()).unwrap().to_string(), want);
        }
        assert!(resolve("localhost:0", Naming::default())
            .unwrap()
            .ip()
            .is_loopback());
        for (addr, fragments) in [
            (
                "::1",
                &["ServerOptions::bind", "has no port", "[::1]:8000"][..],
            ),
            ("[::1]", &["has no port", "[::1]:8000"]),
            ("127.0.0.1", &["has no port", "127.0.0.1:8000"]),
            ("localhost", &["has no port", "localhost:8000"]),
            ("::1:8443", &["goes in brackets", "[::1]:8443"]),
            ("localhost:99999", &["not a number from 0 to 65535"]),
            ("not an address:::", &["is not an address", "[::1]:8000"]),
        ] {
            let e = error(addr);
            for f in fragments {
                assert!(e.contains(f), "{addr}: {f:?} not in {e}");
            }
        }
    }
}
