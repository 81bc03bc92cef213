//! The state every thread of one server shares: the listener, the connection threads, the
//! timer thread and every [`ServerHandle`](crate::ServerHandle).
//!
//! Locks: `tls` (read on every accept, written by a reload), `reloading` (one reload or
//! `add_context` at a time), `tracked` (connections to stop on shutdown), `finished`. Each
//! is held only to read or swap a value, never across a socket call or while sending an
//! event.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use crate::connection::{Conn, Limits, Notify, Timers};
use crate::events::EventSender;
use crate::server::pool::Pool;
use crate::setting::Naming;
use crate::stream::TlsStream;
use crate::tls::setup::Setup;

pub(crate) type StreamFn = dyn Fn(TlsStream) + Send + Sync;

/// What a connection thread does after a successful handshake.
pub(crate) enum Mode {
    Events,
    Stream(Arc<StreamFn>),
}

/// A connection the server may have to stop on shutdown.
pub(crate) enum Tracked {
    /// Still handshaking: a second handle on its socket, to shut it down.
    Handshaking(Arc<TcpStream>),
    Open(Weak<Conn>),
}

/// State shared by the listener, the connection threads and every handle.
pub(crate) struct Shared {
    pub local_addr: SocketAddr,
    /// The TLS setup new connections use; replaced whole by a reload.
    pub(super) tls: RwLock<Arc<Setup>>,
    /// Serialises reloads and run-time SNI additions.
    pub(super) reloading: Mutex<()>,
    pub events: EventSender,
    /// The same sender, as the connections' notice sink.
    pub notify: Arc<dyn Notify>,
    pub limits: Limits,
    pub handshake_timeout: Duration,
    pub grace_period: Duration,
    /// Record each handshake for `Event::Trace`.
    pub trace: bool,
    pub mode: Mode,
    pub pool: Arc<Pool>,
    pub timers: Timers,
    pub next_id: AtomicU64,
    /// How messages name settings.
    pub naming: Naming,
    pub(super) stopping: AtomicBool,
    tracked: Mutex<HashMap<u64, Tracked>>,
    pub(super) finished: Mutex<bool>,
    pub(super) finished_cv: Condvar,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        local_addr: SocketAddr,
        tls: Setup,
        events: EventSender,
        limits: Limits,
        handshake_timeout: Duration,
        grace_period: Duration,
        trace: bool,
        mode: Mode,
        pool: Pool,
        timers: Timers,
        naming: Naming,
    ) -> Shared {
        Shared {
            local_addr,
            tls: RwLock::new(Arc::new(tls)),
            reloading: Mutex::new(()),
            notify: Arc::new(events.clone()),
            events,
            limits,
            handshake_timeout,
            grace_period,
            trace,
            mode,
            pool: Arc::new(pool),
            timers,
            next_id: AtomicU64::new(1),
            naming,
            stopping: AtomicBool::new(false),
            tracked: Mutex::new(HashMap::new()),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        }
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The TLS setup for a connection starting now.
    pub(crate) fn tls(&self) -> Arc<Setup> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn tracked(&self) -> MutexGuard<'_, HashMap<u64, Tracked>> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }
}
