//! Everything a server can be told, with its default. Validated when the server starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::alpn::AlpnOffer;
use crate::tls::client_auth::ClientAuth;
use crate::tls::context::SecureContext;
use crate::tls::credentials::Pem;
use crate::tls::options::{Callback, SniSource, TlsOptions, TlsVersion};
use crate::tls::provider::Provider;
use crate::tls::sni::SniFallback;

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
    pub(crate) bind: String,
    pub(crate) high_water_mark: usize,
    pub(crate) read_limit: usize,
    pub(crate) grace_period: Duration,
    pub(crate) linger: Duration,
    pub(crate) thread_stack_size: usize,
    pub(crate) trace: bool,
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
            bind: "127.0.0.1:8000".into(),
            high_water_mark: 64 * 1024,
            read_limit: 128 * 1024,
            grace_period: Duration::from_secs(5),
            linger: Duration::from_secs(2),
            thread_stack_size: 256 * 1024,
            trace: false,
        }
    }

    /// The certificate chain, leaf first then intermediates, as a PEM file. No default.
    pub fn cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.cert = Some(Pem::File(path.into()));
        self
    }

    /// The certificate chain as PEM text in memory; `label` names it in error messages.
    pub fn cert_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.cert = Some(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// The private key (PKCS#8, PKCS#1 or SEC1, unencrypted) as a PEM file. No default.
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.key = Some(Pem::File(path.into()));
        self
    }

    /// The private key as PEM text in memory; `label` names it in error messages.
    pub fn key_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.key = Some(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// The protocol versions to accept. Defaults to TLS 1.2 and TLS 1.3 (Node's
    /// `minVersion: 'TLSv1.2'`). TLS 1.0 and 1.1 are not supported.
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.tls.versions = versions.to_vec();
        self
    }

    /// Cipher suites by IANA name (`TLS_AES_128_GCM_SHA256`,
    /// `TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256`, ...) or OpenSSL name
    /// (`ECDHE-ECDSA-CHACHA20-POLY1305`), in any case, in order of preference.
    /// Defaults to the crypto provider's list. An unknown name is an error that lists the
    /// valid ones.
    pub fn cipher_suites<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.tls.cipher_suites = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Key-exchange groups by IANA name (`X25519MLKEM768`, `x25519`, `secp256r1`, ...), in
    /// order of preference (Node's `ecdhCurve`). Defaults to the crypto provider's list.
    pub fn kx_groups<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.tls.kx_groups = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// ALPN protocols the server speaks, in order of preference (Node's `ALPNProtocols`).
    /// Defaults to none: ALPN is not negotiated.
    pub fn alpn<S: AsRef<[u8]>>(mut self, protocols: &[S]) -> Self {
        self.tls.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Lets `choose` pick the ALPN protocol for each client that offers some (Node's
    /// `ALPNCallback`), instead of the [`alpn`](Self::alpn) list. `choose` runs on the
    /// connection's thread during the handshake; returning `None` refuses the client with a
    /// `no_application_protocol` alert, and the `TlsClientError` lists what it offered.
    ///
    /// ```no_run
    /// let options = tls_server::ServerOptions::new().alpn_callback(|offer| {
    ///     // h2 only for api.example.test, HTTP/1.1 for everyone else.
    ///     let want = if offer.server_name.as_deref() == Some("api.example.test") { "h2" } else { "http/1.1" };
    ///     offer.protocols.iter().find(|p| *p == want).cloned()
    /// });
    /// ```
    pub fn alpn_callback<F>(mut self, choose: F) -> Self
    where
        F: Fn(&AlpnOffer) -> Option<String> + Send + Sync + 'static,
    {
        self.tls.alpn_callback = Some(Callback(Arc::new(choose)));
        self
    }

    /// Serves this certificate chain and key (PEM files) to clients asking for `name` by SNI
    /// (Node's `addContext`). `name` is a host name (`api.example.test`) or a wildcard for
    /// one label (`*.example.test`). Exact names win over wildcards. The pair is loaded and
    /// checked when the server starts: the key must match, and the certificate must cover
    /// `name`. Clients asking for no name or another one get the
    /// [`sni_fallback`](Self::sni_fallback) treatment.
    pub fn sni(
        mut self,
        name: impl Into<String>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.sni.push((
            name.into(),
            SniSource::Files {
                cert: Pem::File(cert.into()),
                key: Pem::File(key.into()),
            },
        ));
        self
    }

    /// Same as [`sni`](Self::sni), with a certificate already loaded.
    pub fn sni_context(mut self, name: impl Into<String>, context: SecureContext) -> Self {
        self.tls
            .sni
            .push((name.into(), SniSource::Context(context)));
        self
    }

    /// Node's `SNICallback`: asked for a certificate for each server name no
    /// [`sni`](Self::sni) entry matches, on the connection's thread during the handshake.
    /// `None` leaves the client to the [`sni_fallback`](Self::sni_fallback) policy. Load
    /// contexts ahead of time and hand out clones: this runs for every such handshake.
    pub fn sni_callback<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&str) -> Option<SecureContext> + Send + Sync + 'static,
    {
        self.tls.sni_callback = Some(Callback(Arc::new(lookup)));
        self
    }

    /// What clients that send no server name, or one we do not serve, get: the default
    /// certificate (Node's behaviour, the default) or an `unrecognized_name` alert. See
    /// [`SniFallback`].
    pub fn sni_fallback(mut self, policy: SniFallback) -> Self {
        self.tls.sni_fallback = policy;
        self
    }

    /// Encrypts session tickets with the keys in this file instead of random per-process
    /// keys, so that several instances behind a load balancer resume each other's sessions
    /// (Node's `ticketKeys`). One key per line, 64 hex digits (`openssl rand -hex 32`); the
    /// first encrypts, all decrypt. Read at start and on every reload: rotate by adding a
    /// line (README, "Resumption across instances"). Keep the file private (mode 0600).
    pub fn ticket_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ticket_keys = Some(path.into());
        self
    }

    /// Whether clients must present a certificate; see [`ClientAuth`]. Defaults to
    /// [`ClientAuth::Off`]. Any other mode needs at least one CA ([`client_ca_file`](Self::client_ca_file)).
    pub fn client_auth(mut self, mode: ClientAuth) -> Self {
        self.tls.client_auth = mode;
        self.tls.reject_unauthorized = mode != ClientAuth::Inspect;
        self
    }

    /// Node's `requestCert`: `true` asks for a client certificate ([`ClientAuth::Required`],
    /// or [`ClientAuth::Inspect`] with `reject_unauthorized(false)`, in either order);
    /// `false` is [`ClientAuth::Off`]. Defaults to `false`.
    pub fn request_cert(mut self, request: bool) -> Self {
        self.tls.client_auth = match (request, self.tls.reject_unauthorized) {
            (false, _) => ClientAuth::Off,
            (true, true) => ClientAuth::Required,
            (true, false) => ClientAuth::Inspect,
        };
        self
    }

    /// Node's `rejectUnauthorized`: with `request_cert(true)`, `false` lets clients with a
    /// missing or invalid certificate in ([`ClientAuth::Inspect`]). Defaults to `true`.
    pub fn reject_unauthorized(mut self, reject: bool) -> Self {
        self.tls.reject_unauthorized = reject;
        self.tls.client_auth = match (self.tls.client_auth, reject) {
            (ClientAuth::Required, false) => ClientAuth::Inspect,
            (ClientAuth::Inspect, true) => ClientAuth::Required,
            (mode, _) => mode,
        };
        self
    }

    /// A PEM file of CA certificates trusted to issue client certificates (Node's `ca`).
    /// May be given several times. Their names are sent to clients in the
    /// CertificateRequest so they can pick the right certificate.
    pub fn client_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.client_cas.push(Pem::File(path.into()));
        self
    }

    /// Client CA certificates as PEM text in memory.
    pub fn client_ca_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.client_cas.push(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// A PEM file of certificate revocation lists (Node's `crl`); a client certificate
    /// listed there is refused as revoked. May be given several times. Certificates whose
    /// issuer has no CRL here are not checked for revocation.
    pub fn crl_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.crls.push(Pem::File(path.into()));
        self
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
    /// of the server.
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
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = addr.into();
        self
    }

    /// Same as [`bind`](Self::bind), from a socket address.
    pub fn bind_addr(self, addr: SocketAddr) -> Self {
        self.bind(addr.to_string())
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

    /// How many sessions the server remembers for resumption by session ID (TLS 1.2) and
    /// stateful tickets (TLS 1.3); 0 turns resumption off. Defaults to 256.
    pub fn session_cache_size(mut self, n: usize) -> Self {
        self.tls.session_cache_size = n;
        self
    }

    /// Whether to issue session tickets (RFC 5077 / RFC 8446 §4.6.1), so clients resume
    /// without the server remembering them. Ticket keys are random per process and rotate
    /// every 6 hours, unless they come from a [`ticket_keys_file`](Self::ticket_keys_file).
    /// Defaults to `true`, as in Node. Turned off in
    /// [`ClientAuth::Inspect`] mode.
    pub fn session_tickets(mut self, on: bool) -> Self {
        self.tls.session_tickets = on;
        self
    }

    /// Appends every connection's TLS secrets to `path` in the NSS key-log format, so
    /// Wireshark can decrypt a capture (the `SSLKEYLOGFILE` convention). The file is created
    /// with mode 0600 and a warning is logged: anyone with it can read the traffic.
    /// Defaults to none.
    pub fn key_log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.key_log = Some(path.into());
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

    /// The crypto provider. Defaults to aws-lc-rs when the `aws-lc-rs` feature is on (the
    /// default), else ring.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.tls.provider = provider;
        self
    }

    /// Use this ready rustls configuration instead of building one from the certificate,
    /// key, version, suite, group and ALPN options (which are then ignored). For advanced
    /// needs: a custom certificate resolver, client verifier, session storage, ...
    pub fn server_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls.server_config = Some(config);
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
