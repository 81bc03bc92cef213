//! [`Server`]: bind, then read events, run handlers, or serve blocking streams.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::ServerConfig;

use crate::connection::{Conn, Limits};
use crate::diagnose::Settings;
use crate::event::{Event, EventSender, Events};
use crate::handler::{self, Handler};
use crate::options::ServerOptions;
use crate::pool::Pool;
use crate::stream::TlsStream;
use crate::timer::Timers;
use crate::{config, listener, Error};

pub(crate) type StreamFn = dyn Fn(TlsStream) + Send + Sync;

/// What a connection thread does after a successful handshake.
pub(crate) enum Mode {
    Events,
    Stream(Arc<StreamFn>),
}

/// A connection the server may have to stop on shutdown.
pub(crate) enum Tracked {
    /// Still handshaking: a second handle on its socket, to shut it down.
    Handshaking(TcpStream),
    Open(Weak<Conn>),
}

/// State shared by the listener, the connection threads and every handle.
pub(crate) struct Shared {
    pub local_addr: SocketAddr,
    pub config: Arc<ServerConfig>,
    /// Our side of every negotiation, for explaining failures.
    pub settings: Settings,
    pub events: EventSender,
    pub limits: Limits,
    pub handshake_timeout: Duration,
    pub grace_period: Duration,
    /// Record each handshake for `Event::Trace`.
    pub trace: bool,
    pub mode: Mode,
    pub pool: Arc<Pool>,
    pub timers: Timers,
    pub next_id: AtomicU64,
    stopping: AtomicBool,
    tracked: Mutex<HashMap<u64, Tracked>>,
    finished: Mutex<bool>,
    finished_cv: Condvar,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn tracked(&self) -> MutexGuard<'_, HashMap<u64, Tracked>> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the listener to stop; it then closes every connection gracefully.
    fn begin_shutdown(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // accept() does not notice a flag: wake it with a connection of our own.
        let wake = match self.local_addr {
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

    pub(crate) fn mark_finished(&self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.finished_cv.notify_all();
    }

    fn wait_finished(&self) {
        let mut done = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self
                .finished_cv
                .wait(done)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

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
        self.shared.begin_shutdown();
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Connections handshaking or open right now.
    pub fn connections(&self) -> usize {
        self.shared.pool.active()
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

    fn start(options: ServerOptions, mode: Mode, want_events: bool) -> Result<Server, Error> {
        let built = config::build(&options)?;
        let versions = options
            .server_config
            .is_none()
            .then_some(&options.versions[..]);
        let settings = Settings::new(
            &built.config,
            versions,
            built.key_algorithm,
            options.handshake_timeout,
            built.trust,
            &built.chain,
        );
        let listener = bind_listener(&options.bind)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let (events_tx, events) = EventSender::new(want_events);
        let (timers, timer_thread) =
            Timers::start().map_err(|e| Error::io("starting the timer thread", e))?;
        let shared = Arc::new(Shared {
            local_addr,
            config: built.config,
            settings,
            events: events_tx,
            limits: Limits {
                high_water_mark: options.high_water_mark,
                read_limit: options.read_limit,
                linger: options.linger,
            },
            handshake_timeout: options.handshake_timeout,
            grace_period: options.grace_period,
            trace: options.trace,
            mode,
            pool: Arc::new(Pool::new(
                options.max_connections,
                options.thread_stack_size,
            )),
            timers,
            next_id: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            tracked: Mutex::new(HashMap::new()),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        });
        shared.events.send(Event::Listening { addr: local_addr });
        log::info!("listening on {local_addr}");
        let for_thread = shared.clone();
        let listener = std::thread::Builder::new()
            .name("tls-server-accept".into())
            .spawn(move || listener::run(listener, for_thread, timer_thread))
            .map_err(|e| Error::io("starting the accept thread", e))?;
        Ok(Server {
            shared,
            events,
            listener: Some(listener),
        })
    }

    /// The address the server listens on (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
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
        self.shared.begin_shutdown();
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

impl Drop for Server {
    fn drop(&mut self) {
        if self.listener.is_some() {
            self.shared.begin_shutdown();
            self.join();
        }
    }
}

fn bind_listener(addr: &str) -> Result<TcpListener, Error> {
    let bind_err = |source| Error::Bind {
        addr: addr.to_string(),
        source,
    };
    let sockaddr = addr
        .to_socket_addrs()
        .map_err(bind_err)?
        .next()
        .ok_or_else(|| Error::option("--bind", format!("{addr:?} resolves to no address")))?;
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
