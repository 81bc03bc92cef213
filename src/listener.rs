//! The accept loop, and the graceful shutdown that follows it.

use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::server::{Shared, Tracked};
use crate::worker;

pub(crate) fn run(listener: TcpListener, shared: Arc<Shared>, timer_thread: JoinHandle<()>) {
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                if shared.stopping() {
                    break;
                }
                shared.events.send(Event::ServerError {
                    error: format!("accept failed: {e} — if this says \"Too many open files\", raise the limit (ulimit -n) or lower --max-connections"),
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
        let job = Box::new(move |slot| worker::serve(&job_shared, sock, id, peer, started, slot));
        if let Err(reason) = shared.pool.submit(job) {
            let _ = refused_handle.shutdown(Shutdown::Both);
            shared.events.send(Event::Refused { peer, reason });
        }
    }
    drop(listener);
    shutdown(&shared);
    shared.timers.stop();
    let _ = timer_thread.join();
    shared.events.send(Event::Closed);
    log::info!("server closed");
    shared.mark_finished();
}

/// close_notify to every open connection, a grace period, then force.
fn shutdown(shared: &Shared) {
    let open = shared.pool.active();
    log::info!(
        "shutting down: {open} connection(s) open, grace period {:?}",
        shared.grace_period
    );
    stop_all(shared, false);
    let deadline = Instant::now() + shared.grace_period;
    if !shared.pool.wait_idle(deadline) {
        log::warn!(
            "{} connection(s) still open after the grace period; closing them",
            shared.pool.active()
        );
        stop_all(shared, true);
        if !shared
            .pool
            .wait_idle(Instant::now() + Duration::from_secs(5))
        {
            log::error!(
                "connection threads did not finish; a stream handler may be ignoring errors"
            );
        }
    }
    shared.pool.close();
}

fn stop_all(shared: &Shared, force: bool) {
    let tracked = shared.tracked();
    for entry in tracked.values() {
        match entry {
            Tracked::Handshaking(sock) => {
                let _ = sock.shutdown(Shutdown::Both);
            }
            Tracked::Open(conn) => {
                if let Some(conn) = conn.upgrade() {
                    if force {
                        conn.destroy();
                    } else {
                        conn.end();
                    }
                }
            }
        }
    }
}
