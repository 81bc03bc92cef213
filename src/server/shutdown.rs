//! Stopping a server: the flag and the wake-up of `accept`, then (on the accept thread,
//! once it has left its loop) close_notify to every connection, the grace period, force,
//! and the join of every thread; finally the `Closed` event.
//!
//! The order: [`begin`] (any thread) → the accept loop sees the flag and calls [`finish`]
//! → `Event::Closed` → [`Shared::mark_finished`] wakes whoever waits in
//! [`Shared::wait_finished`] (`Server::wait`, `Server::run`, `Drop`).

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::server::shared::Shared;

/// Asks the listener to stop; it then closes every connection gracefully. Returns at once.
pub(crate) fn begin(shared: &Shared) {
    if shared.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    wake(shared);
}

/// accept() does not notice a flag: wake each accept thread. Shutting a listening socket
/// down makes a blocked accept() return at once (Linux); where that fails, a connection of
/// our own wakes it — not with `reuse_port`, where the kernel may hand that connection to
/// another process on the port.
pub(crate) fn wake(shared: &Shared) {
    let mut woken = true;
    for listener in &shared.wakers {
        woken &= socket2::SockRef::from(listener)
            .shutdown(std::net::Shutdown::Read)
            .is_ok();
    }
    if woken {
        return;
    }
    for addr in &shared.local_addrs {
        let wake = match *addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => {
                SocketAddr::from(([127, 0, 0, 1], a.port()))
            }
            SocketAddr::V6(a) if a.ip().is_unspecified() => {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
            }
            a => a,
        };
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    }
}

/// After `exit_after`: waits until every connection has ended by itself, or until a
/// shutdown begins (which then closes them as usual).
pub(crate) fn drain(shared: &Shared) {
    while !shared.stopping() {
        if wait_idle(shared, Instant::now() + Duration::from_millis(100)) {
            return;
        }
    }
}

/// After the accept loop: close every connection (gracefully, then by force), stop the
/// timer thread, report `Closed`.
pub(crate) fn finish(shared: &Shared, timer_thread: JoinHandle<()>) {
    close_connections(shared);
    shared.timers.stop();
    let _ = timer_thread.join();
    shared.events.send(Event::Closed);
    log::info!("server closed");
    shared.mark_finished();
}

/// close_notify to every open connection, a grace period, then force.
fn close_connections(shared: &Shared) {
    let open = shared.registry.len();
    log::info!(
        "shutting down: {open} connection(s) open, grace period {:?}",
        shared.grace_period
    );
    stop_all(shared, false);
    let deadline = Instant::now() + shared.grace_period;
    if !wait_idle(shared, deadline) {
        log::warn!(
            "{} connection(s) still open after the grace period; closing them",
            shared.registry.len()
        );
        stop_all(shared, true);
        if !wait_idle(shared, Instant::now() + Duration::from_secs(5)) {
            log::error!(
                "connection threads did not finish; a stream handler may be ignoring errors"
            );
        }
    }
    // Handshake threads first: one finishing now may still hand its connection to a reader.
    shared.pool.close();
    shared.readers.close();
}

/// Waits until no connection is left, or until `until`. A connection runs on a thread of
/// `pool` (its handshake) and then of `readers`; between the two it holds neither place
/// for a moment, but it is still in the registry, which is what is asked last.
fn wait_idle(shared: &Shared, until: Instant) -> bool {
    loop {
        if !(shared.pool.wait_idle(until) && shared.readers.wait_idle(until)) {
            return false;
        }
        if shared.registry.len() == 0 {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::yield_now();
    }
}

fn stop_all(shared: &Shared, force: bool) {
    shared.registry.stop_all(force);
}

impl Shared {
    /// Shutdown is complete (after `Closed` was sent).
    fn mark_finished(&self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.finished_cv.notify_all();
    }

    /// Blocks until shutdown is complete.
    pub(crate) fn wait_finished(&self) {
        let mut done = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self
                .finished_cv
                .wait(done)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}
