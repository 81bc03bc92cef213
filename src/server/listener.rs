//! The listening socket and the accept loop: each accepted connection goes to the pool,
//! or is refused and reported. When the loop sees the stop flag it hands over to
//! [`shutdown::finish`].

use std::net::{Shutdown, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event::Event;
use crate::server::lifecycle;
use crate::server::shared::Shared;
use crate::server::shutdown;
use crate::setting::{Naming, Setting};

/// Binds `addr` (IPv6 sockets accept IPv4 too), with the kernel's accept queue at 1024.
pub(crate) fn bind(addr: &str, naming: Naming) -> Result<TcpListener, Error> {
    let bind_err = |source| Error::Bind {
        addr: addr.to_string(),
        source,
    };
    let sockaddr = addr
        .to_socket_addrs()
        .map_err(bind_err)?
        .next()
        .ok_or_else(|| {
            naming.error(
                Setting::Bind,
                format!("{addr:?} resolves to no address"),
                "give an address such as 127.0.0.1:8000 or [::1]:8000",
            )
        })?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(sockaddr),
        socket2::Type::STREAM,
        None,
    )
    .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    if sockaddr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&sockaddr.into()).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)?;
    Ok(socket.into())
}

pub(crate) fn run(listener: TcpListener, shared: Arc<Shared>, timer_thread: JoinHandle<()>) {
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.stopping() {
                    break;
                }
                shared.events.send(Event::ServerError {
                    error: format!(
                        "accept failed: {e} — if this says \"Too many open files\", raise the limit (ulimit -n) or lower {}",
                        shared.naming.of(Setting::MaxConnections)
                    ),
                });
                // Out of descriptors or memory: give the system a moment rather than spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.stopping() {
            break;
        }
        let started = Instant::now();
        let id = shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job_shared = shared.clone();
        // The job owns the socket; if the pool refuses, we get neither back, so keep
        // a second handle to close it (shared, not a dup'ed descriptor: no system call).
        let sock = Arc::new(sock);
        let refused_handle = sock.clone();
        let job =
            Box::new(move |slot| lifecycle::serve(&job_shared, sock, id, peer, started, slot));
        if let Err(reason) = shared.pool.submit(job) {
            let _ = refused_handle.shutdown(Shutdown::Both);
            shared.events.send(Event::Refused { peer, reason });
        }
    }
    drop(listener);
    shutdown::finish(&shared, timer_thread);
}
