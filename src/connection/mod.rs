//! One secure connection after its handshake: the rustls state behind a mutex, shared by
//! the thread that reads (the connection's pool thread), the threads that write (any
//! handler, through a `TlsSocket`), and a writer thread started only when the peer reads
//! slower than we write.
//!
//! - `write.rs`: encrypting and sending without ever blocking the caller;
//! - `read.rs`: one blocking read (no lock held), decryption, flow control, and the close;
//! - `timers.rs`: the one thread that closes connections whose time is up;
//! - `info.rs`: what the handshake settled ([`SocketInfo`]).
//!
//! This layer does not know the public handles (`TlsSocket`, `Event`): what the write side
//! learns on its own (the output drained, a send failed) it tells a [`Notify`], which the
//! server implements by sending events.

mod info;
mod read;
mod timers;
mod write;

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConnection;

use crate::explain::diagnose::explain_after;
use crate::explain::failure::{Broke, Cause, ConnectionError};
use crate::setting::Naming;

pub use info::SocketInfo;
pub(crate) use read::{drain, ReadOutcome};
pub(crate) use timers::Timers;

/// Room for one full TLS record (16 KiB plaintext + header and AEAD overhead).
pub(crate) const READ_BUF: usize = 16 * 1024 + 512;

/// Limits that apply to every connection of a server.
#[derive(Clone)]
pub(crate) struct Limits {
    pub high_water_mark: usize,
    pub read_limit: usize,
    pub linger: Duration,
    /// End a connection after this long without a byte in either direction.
    pub idle_timeout: Option<Duration>,
    /// How the explanation of a failed connection names settings.
    pub naming: Naming,
}

/// Where a connection reports what it learns by itself: everything queued was sent after a
/// write returned `false`, or the connection failed (then it is closed).
pub(crate) trait Notify: Send + Sync {
    /// The output drained below the high-water mark (Node's `'drain'`).
    fn drained(&self, conn: &Arc<Conn>);
    /// The connection failed (sending, receiving, what the peer sent); it is closed or
    /// closing.
    fn failed(&self, conn: &Arc<Conn>, error: Box<ConnectionError>);
    /// Nothing moved for `idle`, the idle timeout; the connection is being ended.
    fn timed_out(&self, conn: &Arc<Conn>, idle: Duration);
}

/// Application bytes a connection moved (plaintext), counted as they pass; shared with its
/// `TlsSocket`s, which can read them after the connection is gone.
#[derive(Default)]
pub(crate) struct Traffic {
    pub read: AtomicU64,
    pub written: AtomicU64,
}

pub(crate) struct Conn {
    pub(crate) info: Arc<SocketInfo>,
    pub(crate) traffic: Arc<Traffic>,
    sock: Arc<TcpStream>,
    state: Mutex<State>,
    /// Wakes the writer thread, and stream writers waiting for room.
    state_cv: Condvar,
    flow: Mutex<Flow>,
    flow_cv: Condvar,
    notify: Arc<dyn Notify>,
    limits: Limits,
    timers: Timers,
    me: Weak<Conn>,
    /// When the connection was made; `active_ns` counts from here.
    born: Instant,
    /// Nanoseconds after `born` of the last byte received or handed to the kernel.
    active_ns: AtomicU64,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The timer thread may hold deadlines for this connection (an idle check minutes
        // away): have it drop them, and the memory they keep, now.
        self.timers.forget(self.info.id);
    }
}

struct State {
    tls: ServerConnection,
    /// Ciphertext not yet handed to the kernel.
    out: Vec<u8>,
    /// Ciphertext the writer thread is sending right now.
    in_flight: usize,
    /// The writer thread owns the sending side until `out` is empty.
    flushing: bool,
    /// A writing thread owns the sending side for one non-blocking send made without the
    /// lock (`Conn::write`); others only queue into `out`, which it sends next.
    sending: bool,
    writer: Option<JoinHandle<()>>,
    need_drain: bool,
    /// close_notify queued (or a fatal alert): no more application writes.
    ending: bool,
    /// Our FIN has been sent.
    write_shut: bool,
    /// Destroyed or finished: nothing more is sent.
    closed: bool,
    had_error: bool,
    /// The peer's close_notify or EOF has been read.
    peer_ended: bool,
    /// ...with close_notify.
    peer_closed_cleanly: bool,
    /// Threads waiting on `state_cv`. A condvar notify costs a system call even when
    /// nobody waits, and writes notify often: only notify when someone does.
    waiters: usize,
}

struct Flow {
    /// Bytes of `Data` events not yet dropped by the consumer.
    unconsumed: usize,
    paused: bool,
    closed: bool,
    /// Threads waiting on `flow_cv`.
    waiters: usize,
}

impl Conn {
    pub(crate) fn new(
        info: Arc<SocketInfo>,
        sock: Arc<TcpStream>,
        tls: ServerConnection,
        notify: Arc<dyn Notify>,
        limits: Limits,
        timers: Timers,
    ) -> Arc<Conn> {
        Arc::new_cyclic(|me| Conn {
            info,
            traffic: Arc::default(),
            sock,
            state: Mutex::new(State {
                tls,
                out: Vec::new(),
                in_flight: 0,
                flushing: false,
                sending: false,
                writer: None,
                need_drain: false,
                ending: false,
                write_shut: false,
                closed: false,
                had_error: false,
                peer_ended: false,
                peer_closed_cleanly: false,
                waiters: 0,
            }),
            state_cv: Condvar::new(),
            flow: Mutex::new(Flow {
                unconsumed: 0,
                paused: false,
                closed: false,
                waiters: 0,
            }),
            flow_cv: Condvar::new(),
            notify,
            limits,
            timers,
            me: me.clone(),
            born: Instant::now(),
            active_ns: AtomicU64::new(0),
        })
    }

    /// Starts the idle clock: the timer thread checks this connection when its idle
    /// timeout could be over.
    pub(crate) fn start_idle_clock(&self) {
        if let Some(timeout) = self.limits.idle_timeout {
            self.timers
                .check_idle_at(Instant::now() + timeout, self.info.id, self.me.clone());
        }
    }

    /// Bytes moved (received, or taken by the kernel to send): the connection is active.
    fn active(&self) {
        let ns = u64::try_from(self.born.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.active_ns.store(ns, Ordering::Relaxed);
    }

    /// How long nothing has moved in either direction.
    pub(crate) fn idle_for(&self) -> Duration {
        let last = Duration::from_nanos(self.active_ns.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last)
    }

    /// The timer thread's check: `Some(when)` to look again, `None` when the connection
    /// has timed out (it is then being ended) or is closed.
    pub(crate) fn idle_check(&self) -> Option<Instant> {
        let timeout = self.limits.idle_timeout?;
        if self.is_closed() {
            return None;
        }
        let idle = self.idle_for();
        if idle < timeout {
            return Some(Instant::now() + (timeout - idle));
        }
        if let Some(me) = self.arc() {
            self.notify.timed_out(&me, idle);
        }
        // Ending waits for our queued output; a peer that is not reading would keep that
        // from ever finishing, so the connection is closed after the linger time anyway.
        self.end();
        self.timers.destroy_at(
            Instant::now() + self.limits.linger,
            self.info.id,
            self.me.clone(),
        );
        None
    }

    /// This connection as an `Arc`, for what it hands to others (timers, notices).
    fn arc(&self) -> Option<Arc<Conn>> {
        self.me.upgrade()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from rustls itself; the state is
        // still the best we have, so keep going rather than poison every handle.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_flow(&self) -> MutexGuard<'_, Flow> {
        self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn end(&self) {
        let mut st = self.lock();
        if st.closed || st.ending {
            return;
        }
        st.ending = true;
        st.tls.send_close_notify();
        self.push(&mut st);
    }

    /// Closes the connection to make room for another: close_notify if it can go out at
    /// once, then closed without waiting for the peer.
    pub(crate) fn evict(&self) {
        self.end();
        self.destroy();
    }

    pub(crate) fn destroy(&self) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        st.out.clear();
        let _ = self.sock.shutdown(Shutdown::Both);
        self.wake_state(&st);
        drop(st);
        self.close_flow();
    }

    /// The peer did not close within the linger time after our close_notify.
    pub(crate) fn linger_expired(&self) {
        log::debug!(
            "#{}: peer did not close within {:?} after close_notify; closing",
            self.info.id,
            self.limits.linger
        );
        self.destroy();
    }

    pub(crate) fn mark_error(&self) {
        self.lock().had_error = true;
    }

    /// What broke this connection, explained.
    pub(crate) fn explain(&self, broke: Broke) -> Box<ConnectionError> {
        Box::new(explain_after(broke, self.limits.naming))
    }

    /// Marks the connection as failed and reports `error` (the `Error` event), once: a
    /// connection already reported as failed (a read that failed again, a send that failed
    /// first) is not reported again — unless a handler panicked, which is news of its own.
    pub(crate) fn report(&self, error: Box<ConnectionError>) {
        {
            let mut st = self.lock();
            if st.had_error && error.cause != Cause::HandlerPanic {
                return;
            }
            st.had_error = true;
        }
        if let Some(me) = self.arc() {
            self.notify.failed(&me, error);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}
