//! The running server: [`Server`] and [`ServerHandle`], and the machinery behind them —
//! binding and accepting (`listener.rs`), the bounded pool of connection threads
//! (`pool.rs`), one connection's life from accept to `Close` (`lifecycle.rs`), driving its
//! handshake (`handshake.rs`), its reader in the event style (`reader.rs`), reloading
//! certificates (`reload.rs`), and shutting down (`shutdown.rs`). The state they share is
//! in `shared.rs`.
//!
//! One connection's path: `listener` accepts → `pool` gives it a thread → `lifecycle`
//! sends `Connection`, runs `handshake`, sends `SecureConnection` (or `TlsClientError`),
//! then `reader` (events) or the user's closure (streams), then `Close`.

mod handshake;
mod lifecycle;
mod listener;
mod pool;
mod proxy;
mod reader;
mod registry;
mod reload;
pub(crate) mod sched;
mod shared;
mod shutdown;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::connection::{Limits, Timers};
use crate::error::Error;
use crate::event::Event;
use crate::events::{EventSender, Events};
use crate::handler::{self, Handler};
use crate::options::ServerOptions;
use crate::server::pool::Pool;
use crate::server::registry::{Admission, Registry};
use crate::server::shared::{Mode, Settings, Shared};
use crate::setting::Setting;
use crate::stream::TlsStream;
use crate::tls::context::SecureContext;
use crate::tls::served::Reloaded;
use crate::tls::setup;
use crate::util::json::Fields;

/// A running TLS server.
///
/// [`bind`](Self::bind) starts listening and serving at once: connections are accepted and
/// handshaken on the server's own threads, and what happens is told as [`Event`]s. Read
/// them yourself ([`events`](Self::events)), or let [`run`](Self::run) call your
/// [`Handler`] for each, Node style. [`bind_streams`](Self::bind_streams) instead hands
/// each secure connection to your closure as a blocking `Read + Write` stream.
///
/// Dropping the server shuts it down gracefully and waits for that to finish.
pub struct Server {
    shared: Arc<Shared>,
    events: Events,
    listener: Option<JoinHandle<()>>,
}

/// A cheap, cloneable handle that can stop the server from any thread (a Ctrl-C handler,
/// an event handler, a test).
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Starts a graceful shutdown and returns at once: stop accepting, send close_notify
    /// to every open connection, wait up to the grace period for them to close, close the
    /// rest, join every thread, then emit [`Event::Closed`].
    pub fn shutdown(&self) {
        shutdown::begin(&self.shared);
    }

    /// The address the server listens on (the first, when it listens on several).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Every address the server listens on, in the order given.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    /// Connections handshaking or open right now.
    pub fn connections(&self) -> usize {
        self.shared.registry.len()
    }

    /// Events sent and not yet received: how far behind the event loop is. At
    /// [`ServerOptions::max_queued_events`] the server stops accepting until it catches up.
    pub fn queued_events(&self) -> usize {
        self.shared.events.queued()
    }

    /// Replaces the certificates, CAs, CRLs, SNI entries, ALPN, versions, suites and ticket
    /// keys with those of `options` (Node's `setSecureContext`). Options that shape the
    /// server rather than TLS (address, limits, timeouts) are ignored.
    ///
    /// Everything is loaded and checked first, as [`Server::bind`] does, and more: the
    /// certificate and key (and each SNI pair) must also pass [`check`](crate::check)
    /// without errors (an expired certificate, a key that is not the certificate's, a chain
    /// out of order), since a running server has something to lose. On error the
    /// certificates in use stay, the error is returned and sent as
    /// [`Event::ReloadFailed`]. On success, connections that arrive from now on use the new
    /// set and an [`Event::Reloaded`] names the old and new fingerprints. Open connections
    /// are untouched. Certificates added with [`add_context`](Self::add_context) are kept;
    /// so are sessions, so clients still resume (unless ticket keys come from a file, which
    /// is read again: that is how they rotate).
    pub fn reload(&self, options: &ServerOptions) -> Result<Reloaded, Error> {
        reload::reload(&self.shared, options)
    }

    /// Serves `context` to clients asking for `name` (a host name, or `*.example.test`),
    /// from the next handshake on (Node's `addContext`). Replaces an earlier certificate for
    /// the same name. Checked now: the certificate must cover `name`. Kept across reloads.
    pub fn add_context(&self, name: &str, context: SecureContext) -> Result<(), Error> {
        reload::add_context(&self.shared, name, context)
    }

    /// The names served by SNI entries (configured and added), in order.
    pub fn sni_names(&self) -> Vec<String> {
        self.shared
            .tls()
            .resolver
            .as_ref()
            .map(|r| r.table().names())
            .unwrap_or_default()
    }
}

impl Server {
    /// Validates the options, binds, and starts serving in the event style.
    ///
    /// Every configuration mistake is reported here, before any client connects, as an
    /// [`Error`] that names the file or option and the fix.
    pub fn bind(options: ServerOptions) -> Result<Server, Error> {
        Self::start(options, Mode::Events, true)
    }

    /// Like [`bind`](Self::bind), but each secure connection is handed to `handler` as a
    /// blocking [`TlsStream`] on its own thread (Node's `pipe()` idiom:
    /// `std::io::copy` works on it). When `handler` returns, the connection is ended
    /// with close_notify. Events (without `Data`/`End`) are recorded only after
    /// [`events`](Self::events) is called.
    pub fn bind_streams<F>(options: ServerOptions, handler: F) -> Result<Server, Error>
    where
        F: Fn(TlsStream) + Send + Sync + 'static,
    {
        Self::start(options, Mode::Stream(Arc::new(handler)), false)
    }

    /// Like [`bind`](Self::bind), on a listening socket made elsewhere — by a test that
    /// binds port 0 first and so never races for a port, by a parent process, by systemd's
    /// socket activation. [`ServerOptions::bind`] is not used. The socket must be
    /// listening (std's [`TcpListener::bind`] does that); it is checked, and put in
    /// blocking mode.
    pub fn from_listener(listener: TcpListener, options: ServerOptions) -> Result<Server, Error> {
        Self::from_listeners(vec![listener], options)
    }

    /// Like [`from_listener`](Self::from_listener), on several sockets (each gets its own
    /// accept thread), for example every socket systemd passed. At least one is needed.
    pub fn from_listeners(
        listeners: Vec<TcpListener>,
        options: ServerOptions,
    ) -> Result<Server, Error> {
        Self::start_on(Some(listeners), options, Mode::Events, true)
    }

    /// [`bind_streams`](Self::bind_streams) on listening sockets made elsewhere, as
    /// [`from_listeners`](Self::from_listeners) takes them.
    pub fn from_listeners_streams<F>(
        listeners: Vec<TcpListener>,
        options: ServerOptions,
        handler: F,
    ) -> Result<Server, Error>
    where
        F: Fn(TlsStream) + Send + Sync + 'static,
    {
        Self::start_on(
            Some(listeners),
            options,
            Mode::Stream(Arc::new(handler)),
            false,
        )
    }

    fn start(options: ServerOptions, mode: Mode, want_events: bool) -> Result<Server, Error> {
        Self::start_on(None, options, mode, want_events)
    }

    /// Starts on `listeners`, or on sockets bound to the options' addresses when `None`.
    fn start_on(
        listeners: Option<Vec<TcpListener>>,
        options: ServerOptions,
        mode: Mode,
        want_events: bool,
    ) -> Result<Server, Error> {
        let naming = options.tls.naming;
        options.check_limits()?;
        let tls = setup::build(&options.tls, None)?;
        let proxy = proxy::Proxy::new(options.proxy_protocol, &options.proxy_from, naming)?;
        let listeners = match listeners {
            Some(given) if given.is_empty() => {
                return Err(naming.error(
                    Setting::Listener,
                    "no listening socket was given",
                    "pass at least one",
                ))
            }
            Some(given) => given
                .into_iter()
                .map(|l| listener::adopt(l, naming))
                .collect::<Result<Vec<_>, _>>()?,
            None if options.bind.is_empty() => {
                return Err(naming.error(
                    Setting::Bind,
                    "no address to listen on",
                    "give one, such as 127.0.0.1:8000",
                ))
            }
            None => options
                .bind
                .iter()
                .map(|addr| listener::bind(addr, naming, options.reuse_port))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let local_addrs = listeners
            .iter()
            .map(TcpListener::local_addr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let (events_tx, events) = EventSender::new(want_events, naming);
        let (timers, timer_thread) =
            Timers::start().map_err(|e| Error::io("starting the timer thread", e))?;
        let wakers = listeners
            .iter()
            .map(TcpListener::try_clone)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::io("keeping a handle on the listening socket", e))?;
        let settings = Settings {
            local_addrs: local_addrs.clone(),
            wakers,
            exit_after: options.exit_after,
            proxy,
            mode,
            limits: Limits {
                high_water_mark: options.high_water_mark,
                read_limit: options.read_limit,
                linger: options.linger,
                idle_timeout: options.idle_timeout,
                naming,
            },
            handshake_timeout: options.handshake_timeout,
            client_hello_timeout: options.client_hello_timeout,
            grace_period: options.grace_period,
            trace: options.trace,
            keep_handshakes: options.keep_handshakes,
            max_queued_events: options.max_queued_events,
            naming,
        };
        let admission = admission(&options);
        log::debug!(
            "limits: {admission:?}, idle timeout {:?}",
            options.idle_timeout
        );
        let new_pool = |name| {
            Pool::new(
                name,
                options.max_connections,
                options.thread_stack_size,
                pool::IDLE_THREAD_LIFETIME,
                options.batch_scheduling,
            )
        };
        let pools = (new_pool("tls-server-c"), new_pool("tls-server-r"));
        let shared = Arc::new(Shared::new(
            tls,
            events_tx,
            settings,
            pools,
            timers,
            Registry::new(admission, naming),
        ));
        for &addr in &local_addrs {
            shared.events.send(Event::Listening { addr });
            let fields = Fields(|| Event::Listening { addr }.to_json());
            log::info!(fields:% = fields; "listening on {addr}");
        }
        let mut listeners = listeners.into_iter();
        let first = listeners
            .next()
            .expect("at least one listener, checked above");
        let others = listeners
            .map(|l| listener::spawn_accept(l, &shared))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                // The accept threads already started see the flag and end.
                shutdown::begin(&shared);
                Error::io("starting an accept thread", e)
            })?;
        let for_thread = shared.clone();
        let listener = std::thread::Builder::new()
            .name("tls-server-accept".into())
            .spawn(move || listener::run(first, others, for_thread, timer_thread))
            .map_err(|e| Error::io("starting the accept thread", e))?;
        Ok(Server {
            shared,
            events,
            listener: Some(listener),
        })
    }

    /// The address the server listens on (the real port when port 0 was asked for; the
    /// first address when it listens on several).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Every address the server listens on, in the order given.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.shared.local_addrs
    }

    /// The event stream. May be called more than once; each event goes to one receiver.
    pub fn events(&self) -> Events {
        self.events.want();
        self.events.clone()
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Starts a graceful shutdown; see [`ServerHandle::shutdown`].
    pub fn shutdown(&self) {
        shutdown::begin(&self.shared);
    }

    /// Runs the event loop on this thread: calls `handler` for each event, one at a time,
    /// until the server has closed. A handler that panics costs only its connection: the
    /// panic is logged, reported to [`Handler::on_error`], and the connection destroyed.
    pub fn run<H: Handler>(mut self, mut handler: H) {
        handler::run(&self.events(), &mut handler);
        self.join();
    }

    /// Blocks until the server has shut down (after [`shutdown`](Self::shutdown) from
    /// some handle).
    pub fn wait(mut self) {
        self.join();
    }

    fn join(&mut self) {
        if let Some(listener) = self.listener.take() {
            self.shared.wait_finished();
            let _ = listener.join();
        }
    }
}

/// The admission limits, with the defaults that depend on `max_connections` filled in.
fn admission(options: &ServerOptions) -> Admission {
    let max = options.max_connections;
    Admission {
        max_connections: max,
        max_handshakes: options.max_handshakes.unwrap_or((max / 4).max(8)).min(max),
        // Behind a balancer it applies to the client each PROXY header names (the
        // registry's readdress), not to the balancer's own address.
        max_per_address: options.max_per_address.unwrap_or((max * 3 / 4).max(1)),
        when_full: options.when_full,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.listener.is_some() {
            shutdown::begin(&self.shared);
            self.join();
        }
    }
}
