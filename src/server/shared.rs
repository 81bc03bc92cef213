//! The state every thread of one server shares: the listener, the connection threads, the
//! timer thread and every [`ServerHandle`](crate::ServerHandle).
//!
//! Locks: `tls` (read on every accept, written by a reload), `reloading` (one reload or
//! `add_context` at a time), the registry's table (which connections exist), `finished`.
//! Each is held only to read or swap a value, never across a blocking socket call or while
//! sending an event.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use crate::connection::{Limits, Notify, Timers};
use crate::events::EventSender;
use crate::server::pool::Pool;
use crate::server::proxy::Proxy;
use crate::server::registry::Registry;
use crate::setting::Naming;
use crate::stream::TlsStream;
use crate::tls::setup::Setup;

pub(crate) type StreamFn = dyn Fn(TlsStream) + Send + Sync;

/// What a connection thread does after a successful handshake.
pub(crate) enum Mode {
    Events,
    Stream(Arc<StreamFn>),
}

/// State shared by the listener, the connection threads and every handle.
pub(crate) struct Shared {
    /// The first of `local_addrs`.
    pub local_addr: SocketAddr,
    /// Every address listened on, in the order given.
    pub local_addrs: Vec<SocketAddr>,
    /// A second handle on each listening socket, to wake its accept thread.
    pub wakers: Vec<TcpListener>,
    /// Stop accepting after this many connections.
    pub exit_after: Option<u64>,
    /// Connections accepted so far, counted only with `exit_after`.
    pub accepted: AtomicU64,
    /// The PROXY protocol: whether a header comes first, and from whom.
    pub proxy: Proxy,
    /// The TLS setup new connections use; replaced whole by a reload.
    pub(super) tls: RwLock<Arc<Setup>>,
    /// Serialises reloads and run-time SNI additions.
    pub(super) reloading: Mutex<()>,
    pub events: EventSender,
    /// The same sender, as the connections' notice sink.
    pub notify: Arc<dyn Notify>,
    pub limits: Limits,
    pub handshake_timeout: Duration,
    /// The deadline for the client's first bytes.
    pub client_hello_timeout: Duration,
    pub grace_period: Duration,
    /// Record each handshake for `Event::Trace`.
    pub trace: bool,
    /// Keep each handshake's flights in `SocketInfo::handshake` / `TlsClientError::handshake`.
    pub keep_handshakes: bool,
    /// Accept nothing while this many events wait for the event loop.
    pub max_queued_events: usize,
    pub mode: Mode,
    /// Threads for new connections: each runs a handshake (and, in the stream style, the
    /// user's handler after it).
    pub pool: Arc<Pool>,
    /// Threads that read secure connections in the events style; they never handshake.
    pub readers: Arc<Pool>,
    pub timers: Timers,
    pub next_id: AtomicU64,
    /// How messages name settings.
    pub naming: Naming,
    pub(super) stopping: AtomicBool,
    /// Which connections exist, and who may come in.
    pub registry: Arc<Registry>,
    pub(super) finished: Mutex<bool>,
    pub(super) finished_cv: Condvar,
}

/// The settings of a server, as resolved at bind (everything but the TLS setup).
pub(crate) struct Settings {
    pub local_addrs: Vec<SocketAddr>,
    pub wakers: Vec<TcpListener>,
    pub exit_after: Option<u64>,
    pub proxy: Proxy,
    pub mode: Mode,
    pub limits: Limits,
    pub handshake_timeout: Duration,
    pub client_hello_timeout: Duration,
    pub grace_period: Duration,
    pub trace: bool,
    pub keep_handshakes: bool,
    pub max_queued_events: usize,
    pub naming: Naming,
}

impl Shared {
    pub(crate) fn new(
        tls: Setup,
        events: EventSender,
        settings: Settings,
        pools: (Pool, Pool),
        timers: Timers,
        registry: Registry,
    ) -> Shared {
        Shared {
            local_addr: settings.local_addrs[0],
            local_addrs: settings.local_addrs,
            wakers: settings.wakers,
            exit_after: settings.exit_after,
            accepted: AtomicU64::new(0),
            proxy: settings.proxy,
            tls: RwLock::new(Arc::new(tls)),
            reloading: Mutex::new(()),
            notify: Arc::new(events.clone()),
            events,
            limits: settings.limits,
            handshake_timeout: settings.handshake_timeout,
            client_hello_timeout: settings.client_hello_timeout,
            grace_period: settings.grace_period,
            trace: settings.trace,
            keep_handshakes: settings.keep_handshakes,
            max_queued_events: settings.max_queued_events,
            mode: settings.mode,
            pool: Arc::new(pools.0),
            readers: Arc::new(pools.1),
            timers,
            next_id: AtomicU64::new(1),
            naming: settings.naming,
            stopping: AtomicBool::new(false),
            registry: Arc::new(registry),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        }
    }

    /// `exit_after` connections have been accepted: no more are.
    pub(crate) fn all_accepted(&self) -> bool {
        self.exit_after
            .is_some_and(|n| self.accepted.load(Ordering::SeqCst) >= n)
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The TLS setup for a connection starting now.
    pub(crate) fn tls(&self) -> Arc<Setup> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
