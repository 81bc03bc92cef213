//! [`Server`]: bind, then read events, run handlers, or serve blocking streams.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Tls;
use crate::connection::{Conn, Limits};
use crate::event::{Event, EventSender, Events};
use crate::handler::{self, Handler};
use crate::options::{ServerOptions, SniSource};
use crate::pool::Pool;
use crate::reload::{served, Reloaded};
use crate::sni::{self, SecureContext};
use crate::stream::TlsStream;
use crate::timer::Timers;
use crate::{config, listener, Error};
use crate::{CheckOptions, Pem, Status};

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
    tls: RwLock<Arc<Tls>>,
    /// Serialises reloads and run-time SNI additions.
    reloading: Mutex<()>,
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

    /// The TLS setup for a connection starting now.
    pub(crate) fn tls(&self) -> Arc<Tls> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
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
        let _one_at_a_time = self
            .shared
            .reloading
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let old = self.shared.tls();
        let new = match preflight(options).and_then(|()| config::build(options, Some(&old))) {
            Ok(new) => new,
            Err(e) => {
                self.shared.events.send(Event::ReloadFailed {
                    error: e.to_string(),
                });
                return Err(e);
            }
        };
        let report = Reloaded {
            old: served(old.served()),
            new: served(new.served()),
        };
        *self.shared.tls.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
        self.shared
            .events
            .send(Event::Reloaded(Box::new(report.clone())));
        Ok(report)
    }

    /// Serves `context` to clients asking for `name` (a host name, or `*.example.test`),
    /// from the next handshake on (Node's `addContext`). Replaces an earlier certificate for
    /// the same name. Checked now: the certificate must cover `name`. Kept across reloads.
    pub fn add_context(&self, name: &str, context: SecureContext) -> Result<(), Error> {
        let pattern = sni::normalize_pattern(name)?;
        sni::check_covers(&pattern, &context)?;
        let _one_at_a_time = self
            .shared
            .reloading
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let tls = self.shared.tls();
        let resolver = tls.resolver.as_ref().ok_or_else(|| {
            Error::option(
                "server_config",
                "a ready-made rustls ServerConfig chooses its own certificates — add names to its resolver instead",
            )
        })?;
        log::info!(
            "serving {pattern} with {} ({})",
            context.source().display(),
            context.certificate().fingerprint256
        );
        resolver.add(pattern, context);
        Ok(())
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

    fn start(options: ServerOptions, mode: Mode, want_events: bool) -> Result<Server, Error> {
        let tls = config::build(&options, None)?;
        let listener = bind_listener(&options.bind)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let (events_tx, events) = EventSender::new(want_events);
        let (timers, timer_thread) =
            Timers::start().map_err(|e| Error::io("starting the timer thread", e))?;
        let shared = Arc::new(Shared {
            local_addr,
            tls: RwLock::new(Arc::new(tls)),
            reloading: Mutex::new(()),
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

/// `tls_server::check` on the default pair and on each SNI pair given as files or PEM:
/// the first error refuses the reload.
fn preflight(options: &ServerOptions) -> Result<(), Error> {
    let mut pairs: Vec<(&Pem, &Pem)> = Vec::new();
    if let (Some(cert), Some(key)) = (&options.cert, &options.key) {
        pairs.push((cert, key));
    }
    for (_, source) in &options.sni {
        if let SniSource::Files { cert, key } = source {
            pairs.push((cert, key));
        }
    }
    for (cert, key) in pairs {
        let report = crate::check(&CheckOptions::pems(
            cert.clone(),
            key.clone(),
            options.provider,
        ));
        let errors: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Error)
            .map(|c| match c.fix.is_empty() {
                true => c.message.clone(),
                false => format!("{} — {}", c.message, c.fix),
            })
            .collect();
        if !errors.is_empty() {
            // The checks' messages start with the file's name already.
            let problem = errors.join("; ");
            let label = format!("{}: ", cert.label().display());
            let problem = problem.strip_prefix(&label).unwrap_or(&problem).to_string();
            return Err(Error::credential(cert.label(), problem));
        }
    }
    Ok(())
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
