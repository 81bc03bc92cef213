//! Everything a server can be told, with its default. Validated when the server starts.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::options::TlsOptions;

mod tls;

/// What a new connection gets when the server is full
/// ([`ServerOptions::when_full`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// The connection that has been idle longest (the least recently active) is closed to
    /// make room, or, when every connection is still handshaking, the oldest one whose
    /// client has sent nothing; so a full server keeps taking new clients, and what it drops
    /// is what was doing least. Only if neither exists is the newcomer refused. The default.
    #[default]
    EvictIdle,
    /// The newcomer is refused (Node's `maxConnections`).
    Refuse,
}

impl WhenFull {
    /// `evict-idle` or `refuse`.
    pub fn name(self) -> &'static str {
        match self {
            WhenFull::EvictIdle => "evict-idle",
            WhenFull::Refuse => "refuse",
        }
    }

    /// Parses the names [`name`](Self::name) gives.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "evict-idle" => Some(WhenFull::EvictIdle),
            "refuse" => Some(WhenFull::Refuse),
            _ => None,
        }
    }
}

/// Whether connections start with a PROXY protocol header from a load balancer
/// ([`ServerOptions::proxy_protocol`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// Connections come straight from clients. The default.
    #[default]
    Off,
    /// HAProxy's version 1 (text), `send-proxy`.
    V1,
    /// Version 2 (binary), `send-proxy-v2`.
    V2,
    /// Either version.
    Any,
}

impl ProxyProtocol {
    /// `off`, `v1`, `v2` or `any`.
    pub fn name(self) -> &'static str {
        match self {
            ProxyProtocol::Off => "off",
            ProxyProtocol::V1 => "v1",
            ProxyProtocol::V2 => "v2",
            ProxyProtocol::Any => "any",
        }
    }

    /// Parses [`name`](Self::name)'s names.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Off, Self::V1, Self::V2, Self::Any]
            .into_iter()
            .find(|p| p.name() == s.trim())
    }
}

/// How to start a [`Server`](crate::Server). Build it with the methods below; every option
/// has a default, and nothing is checked until [`Server::bind`](crate::Server::bind).
///
/// ```no_run
/// use std::time::Duration;
/// let options = tls_server::ServerOptions::new()
///     .cert_file("certs/server.crt")
///     .key_file("certs/server.key")
///     .bind("127.0.0.1:0")
///     .handshake_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Everything that becomes the rustls configuration (and that a reload replaces).
    pub(crate) tls: TlsOptions,
    pub(crate) handshake_timeout: Duration,
    pub(crate) client_hello_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_connections: usize,
    /// `None`: a quarter of `max_connections` (at least 8).
    pub(crate) max_handshakes: Option<usize>,
    /// `None`: three quarters of `max_connections` (at least 1).
    pub(crate) max_per_address: Option<usize>,
    pub(crate) when_full: WhenFull,
    pub(crate) max_queued_events: usize,
    /// Every address to listen on (at least one unless the server is given listeners).
    pub(crate) bind: Vec<String>,
    /// Accept this many connections, then stop accepting and shut down once they close.
    pub(crate) exit_after: Option<u64>,
    pub(crate) reuse_port: bool,
    pub(crate) proxy_protocol: ProxyProtocol,
    pub(crate) proxy_from: Vec<String>,
    pub(crate) high_water_mark: usize,
    pub(crate) read_limit: usize,
    pub(crate) grace_period: Duration,
    pub(crate) linger: Duration,
    pub(crate) thread_stack_size: usize,
    pub(crate) batch_scheduling: bool,
    pub(crate) trace: bool,
    pub(crate) keep_handshakes: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerOptions {
    /// Options with every default (see each method). A certificate and key (or a ready
    /// [`rustls::ServerConfig`]) must still be given.
    pub fn new() -> Self {
        ServerOptions {
            tls: TlsOptions::default(),
            handshake_timeout: Duration::from_secs(10),
            client_hello_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(120)),
            max_connections: 1024,
            max_handshakes: None,
            max_per_address: None,
            max_queued_events: 16 * 1024,
            when_full: WhenFull::EvictIdle,
            bind: vec!["127.0.0.1:8000".into()],
            exit_after: None,
            reuse_port: false,
            proxy_protocol: ProxyProtocol::Off,
            proxy_from: Vec::new(),
            high_water_mark: 64 * 1024,
            read_limit: 128 * 1024,
            grace_period: Duration::from_secs(5),
            linger: Duration::from_secs(2),
            thread_stack_size: 256 * 1024,
            batch_scheduling: true,
            trace: false,
            keep_handshakes: false,
        }
    }

    /// The handshake must finish within this time from the TCP accept, or the connection is
    /// closed with a `TlsClientError`. An absolute deadline, not an idle timer, so a client
    /// trickling one byte a second cannot hold a worker. Defaults to 10 seconds.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The first bytes of the ClientHello must arrive within this time of the TCP accept,
    /// or the connection is closed (a `TlsClientError` with cause `timeout`). Shorter than
    /// the [`handshake_timeout`](Self::handshake_timeout), so that connections that send
    /// nothing cannot hold threads for long: every TLS client speaks first, at once.
    /// Defaults to 5 seconds.
    pub fn client_hello_timeout(mut self, timeout: Duration) -> Self {
        self.client_hello_timeout = timeout;
        self
    }

    /// A secure connection that receives nothing and sends nothing for this long is ended
    /// (close_notify, then closed after the [`linger`](Self::linger) time), with an
    /// [`Event::Timeout`](crate::Event::Timeout) and a log line. It covers a peer that
    /// stops reading too: bytes that cannot be sent are not activity. `None` keeps idle
    /// connections for ever (each holds a thread). Node's `server.timeout` /
    /// `socket.setTimeout`, except that Node only reports it. Applies to both styles; the
    /// HTTPS responder has its own, shorter one. Defaults to 120 seconds.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// At most this many connections (handshaking or open) at once; each holds one
    /// connection thread. What happens to one more is [`when_full`](Self::when_full)'s
    /// choice; a refusal is reported as [`Event::Refused`](crate::Event::Refused).
    /// Defaults to 1024; 0 is refused by [`Server::bind`](crate::Server::bind), as are a
    /// 0 for the other limits and the deadlines below.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// At most this many handshakes in progress at once. When one more connection arrives,
    /// one handshake is closed to make room ([`Event::Evicted`](crate::Event::Evicted)):
    /// one of the address with the most handshakes in progress, the oldest whose client
    /// has sent nothing yet (not even bytes still unread in the socket), else that
    /// address's oldest. Stalled handshakes cannot fill the server, and one client opening
    /// many closes its own. Defaults to a quarter of
    /// [`max_connections`](Self::max_connections), at least 8.
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = Some(n);
        self
    }

    /// At most this many connections (handshaking or open) from one client IP address;
    /// more are refused ([`Event::Refused`](crate::Event::Refused)), so that one client
    /// cannot take every connection. Defaults to three quarters of
    /// [`max_connections`](Self::max_connections): a quarter always stays for other
    /// addresses, and test suites and benchmarks running on one loopback address keep most
    /// of the server. An IPv4 client reaching a dual-stack listener (`::ffff:a.b.c.d`) is
    /// counted as `a.b.c.d`, as on an IPv4 listener or named by a PROXY header.
    pub fn max_connections_per_address(mut self, n: usize) -> Self {
        self.max_per_address = Some(n);
        self
    }

    /// What a new connection gets when [`max_connections`](Self::max_connections) are open.
    /// Defaults to [`WhenFull::EvictIdle`].
    pub fn when_full(mut self, policy: WhenFull) -> Self {
        self.when_full = policy;
        self
    }

    /// How many events may wait for the event loop: when this many are queued, the server
    /// accepts no new connection until the event loop is down to half (they wait in the
    /// kernel's accept queue), and logs that it is behind. Every connection brings events
    /// — a flood of refused clients, one each — so an event loop slower than the clients,
    /// or a program that never reads its events, would otherwise let them grow without
    /// bound. Defaults to 16,384 (a few MiB).
    pub fn max_queued_events(mut self, n: usize) -> Self {
        self.max_queued_events = n.max(1);
        self
    }

    /// The address to listen on, such as `"127.0.0.1:8000"`, `"[::1]:0"` or `"0.0.0.0:443"`.
    /// Port 0 picks a free port; [`Server::local_addr`](crate::Server::local_addr) and the
    /// `Listening` event report it. Defaults to `127.0.0.1:8000`.
    /// Replaces every address given before, [`also_bind`](Self::also_bind)'s included.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = vec![addr.into()];
        self
    }

    /// Same as [`bind`](Self::bind), from a socket address.
    pub fn bind_addr(self, addr: SocketAddr) -> Self {
        self.bind(addr.to_string())
    }

    /// Listens on `addr` as well as on the addresses given before, such as `"[::1]:8443"`
    /// next to `"127.0.0.1:8443"` (each address has its own accept thread; connections
    /// from all of them share the limits and the pool). Each is bound before the server
    /// starts, and any that fails stops it. [`Server::local_addrs`](crate::Server::local_addrs)
    /// lists them, and each has its `Listening` event.
    pub fn also_bind(mut self, addr: impl Into<String>) -> Self {
        self.bind.push(addr.into());
        self
    }

    /// Lets several processes listen on the same address and port (`SO_REUSEPORT`): the
    /// kernel spreads new connections across them. Give them the same ticket keys
    /// ([`ticket_keys_file`](Self::ticket_keys_file)) so a client resumes on any. Off by
    /// default (then a second process on the port fails with "address in use").
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Connections start with a PROXY protocol header from a load balancer (HAProxy's
    /// `send-proxy` / `send-proxy-v2`, nginx's `proxy_protocol on`): the client it names
    /// becomes the connection's remote address in every event, log line and JSON, and the
    /// balancer's address is kept as `proxied_by`. A connection without a valid header is
    /// refused with a [`TlsClientError`](crate::TlsClientError) that says what the
    /// balancer is missing. Needs [`proxy_from`](Self::proxy_from). Off by default.
    ///
    /// The per-address limit ([`max_connections_per_address`](Self::max_connections_per_address))
    /// applies to the client each header names, not to the balancer: a trusted balancer's
    /// connections are admitted whatever its own address holds, and once the header is
    /// read, a client over the limit is refused ([`Event::Refused`](crate::Event::Refused),
    /// naming the client and the balancer).
    pub fn proxy_protocol(mut self, version: ProxyProtocol) -> Self {
        self.proxy_protocol = version;
        self
    }

    /// The balancers trusted to send a PROXY header: addresses or networks
    /// (`"10.0.0.5"`, `"10.0.0.0/8"`, `"fd00::/8"`). With
    /// [`proxy_protocol`](Self::proxy_protocol) on, a connection from any other address is
    /// refused, since its header could claim to be any client. Adds to earlier calls.
    pub fn proxy_from<S: AsRef<str>>(mut self, networks: &[S]) -> Self {
        self.proxy_from
            .extend(networks.iter().map(|n| n.as_ref().trim().to_string()));
        self
    }

    /// Accepts `n` connections, then closes the listening sockets, lets those connections
    /// finish on their own, and shuts down (as `openssl s_server -naccept n` does): a test
    /// can start a server for exactly the clients it runs. A connection that arrives after
    /// the `n`th is closed unanswered. Off by default; 0 is refused by
    /// [`Server::bind`](crate::Server::bind).
    pub fn exit_after(mut self, n: u64) -> Self {
        self.exit_after = Some(n);
        self
    }

    /// When a connection's unsent output reaches this many bytes,
    /// [`TlsSocket::write`](crate::TlsSocket::write) returns `false` and a `Drain` event
    /// follows once it is all sent (Node's `highWaterMark`). Defaults to 64 KiB.
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = bytes.max(1);
        self
    }

    /// A connection stops reading from its peer while this many bytes of its `Data` events
    /// are alive (not yet dropped), so a slow event loop cannot make memory grow; one read
    /// (at most 64 KiB, half the limit) may go past it. Defaults to 128 KiB: a connection
    /// reads 64 KiB at a time, and can read and decrypt the next 64 KiB while the event loop
    /// still holds the previous `Data`.
    pub fn read_limit(mut self, bytes: usize) -> Self {
        self.read_limit = bytes.max(1);
        self
    }

    /// On shutdown, how long open connections get to finish after close_notify before they
    /// are closed. Defaults to 5 seconds.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// After we end a connection (close_notify sent), how long to wait for the peer to close
    /// its side before the socket is closed anyway. Defaults to 2 seconds.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Stack size of each connection thread. Defaults to 256 KiB; only the pages touched
    /// count towards memory.
    pub fn thread_stack_size(mut self, bytes: usize) -> Self {
        self.thread_stack_size = bytes.max(64 * 1024);
        self
    }

    /// On Linux, connection threads (handshakes and reads, and in the stream style your
    /// closure) run under the `SCHED_BATCH` policy: a thread woken by a client's bytes
    /// waits for an idle core, or for the running thread's time slice to end, instead of
    /// preempting it. What it would preempt is most often the event-loop thread, which
    /// the woken reader is about to hand one more message to; with 100 busy connections
    /// on two cores this gives about a fifth more echo round trips per second, and full
    /// handshakes at 15% less CPU each (README, Performance). Each thread keeps its share
    /// of the CPU (its nice value), no privilege is needed, and on an idle machine nothing
    /// changes. A process started under another policy (`chrt`) or nice value (`nice`)
    /// keeps its own. Threads and processes a connection thread starts inherit the
    /// policy: in the stream style, those your closure starts.
    ///
    /// Defaults to `true`. Does nothing elsewhere than Linux, or without the
    /// `batch-scheduling` feature (on by default).
    pub fn batch_scheduling(mut self, on: bool) -> Self {
        self.batch_scheduling = on;
        self
    }

    /// Records every handshake — each flight with its size, time and records, what the
    /// client offered, what was chosen or why it failed — and emits it as
    /// [`Event::Trace`](crate::Event::Trace) (also logged at info level). For learning
    /// and debugging; it costs a little per handshake. Defaults to `false`.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Keeps what the server saw of each handshake — every flight with its time, size and
    /// TLS records, what the client offered, the certificate chosen — in
    /// [`SocketInfo::handshake`](crate::SocketInfo::handshake) and
    /// [`TlsClientError::handshake`](crate::TlsClientError::handshake), for a page that
    /// draws it ([`https::pages`](crate::https::pages)). It costs a few small allocations
    /// per handshake and about a kilobyte per connection for its life; nothing is logged.
    /// Defaults to `false` (`tls-server serve --mode https` turns it on).
    pub fn keep_handshakes(mut self, on: bool) -> Self {
        self.keep_handshakes = on;
        self
    }

    /// How messages (errors at startup, `TlsClientError` fixes, refusals) name the settings
    /// they tell you to change. Defaults to the methods of this type
    /// (`ServerOptions::handshake_timeout`); the `tls-server` command names its flags
    /// instead (`--handshake-timeout`). See [`setting`](crate::setting).
    pub fn naming(mut self, naming: Naming) -> Self {
        self.tls.naming = naming;
        self
    }

    /// Values no server can work with, refused by [`Server::bind`](crate::Server::bind)
    /// before it listens.
    pub(crate) fn check_limits(&self) -> Result<(), Error> {
        let naming = self.tls.naming;
        let refuse = |setting, problem: &str, fix: &str| Err(naming.error(setting, problem, fix));
        if self.handshake_timeout.is_zero() {
            return refuse(
                Setting::HandshakeTimeout,
                "0: every handshake would fail at once",
                "give a time such as 10s (the default)",
            );
        }
        if self.client_hello_timeout.is_zero() {
            return refuse(
                Setting::ClientHelloTimeout,
                "0: every connection would be closed before its client could speak",
                "give a time such as 5s (the default)",
            );
        }
        if self.max_connections == 0 {
            return refuse(
                Setting::MaxConnections,
                "0: the server could take no connection",
                "give at least 1 (the default is 1024)",
            );
        }
        if self.max_handshakes == Some(0) {
            return refuse(
                Setting::MaxHandshakes,
                "0: no handshake could ever start",
                "give at least 1 (the default is a quarter of the connection cap, at least 8)",
            );
        }
        if self.exit_after == Some(0) {
            return refuse(
                Setting::ExitAfter,
                "0: the server would stop before its first client",
                "give the number of connections to serve before exiting, at least 1",
            );
        }
        if self.max_per_address == Some(0) {
            return refuse(
                Setting::MaxPerAddress,
                "0: every client would be refused",
                "give at least 1 (the default is three quarters of the connection cap)",
            );
        }
        Ok(())
    }
}
