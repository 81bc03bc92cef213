//! The settings a message can tell you to change, and how messages name them.
//!
//! A fix such as "raise the handshake timeout" must name the knob the reader can turn. A
//! program using the library turns [`ServerOptions::handshake_timeout`]; a person at the
//! command line passes `--handshake-timeout`. So the library never writes a setting's name
//! itself: it asks a [`Naming`], which by default gives the method (this module's
//! [`Setting::method`]) and which the command line replaces with its flags
//! ([`ServerOptions::naming`], [`check::Options::naming`], [`probe::Options::naming`]).
//!
//! [`ServerOptions::handshake_timeout`]: crate::ServerOptions::handshake_timeout
//! [`ServerOptions::naming`]: crate::ServerOptions::naming
//! [`check::Options::naming`]: crate::check::Options::naming
//! [`probe::Options::naming`]: crate::probe::Options::naming

use std::fmt;

/// A setting of the server, of `check` or of `probe`, as messages refer to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The certificate chain ([`ServerOptions::cert_file`](crate::ServerOptions::cert_file)).
    Cert,
    /// The private key ([`ServerOptions::key_file`](crate::ServerOptions::key_file)).
    Key,
    /// Protocol versions ([`ServerOptions::versions`](crate::ServerOptions::versions)).
    Versions,
    /// Cipher suites ([`ServerOptions::cipher_suites`](crate::ServerOptions::cipher_suites)).
    CipherSuites,
    /// Key-exchange groups ([`ServerOptions::kx_groups`](crate::ServerOptions::kx_groups)).
    KxGroups,
    /// ALPN protocols ([`ServerOptions::alpn`](crate::ServerOptions::alpn)).
    Alpn,
    /// Certificates by server name ([`ServerOptions::sni`](crate::ServerOptions::sni)).
    Sni,
    /// Adding a certificate by name while the server runs
    /// ([`ServerHandle::add_context`](crate::ServerHandle::add_context)). A front end that
    /// cannot do that names it as it names [`Setting::Sni`]; messages then give that one way
    /// to serve another name.
    AddContext,
    /// The policy for unknown names ([`ServerOptions::sni_fallback`](crate::ServerOptions::sni_fallback)).
    SniFallback,
    /// Session resumption by cache ([`ServerOptions::session_cache_size`](crate::ServerOptions::session_cache_size)).
    SessionCache,
    /// Session tickets ([`ServerOptions::session_tickets`](crate::ServerOptions::session_tickets)).
    SessionTickets,
    /// Shared ticket keys ([`ServerOptions::ticket_keys_file`](crate::ServerOptions::ticket_keys_file)).
    TicketKeys,
    /// Client authentication ([`ServerOptions::client_auth`](crate::ServerOptions::client_auth)).
    ClientAuth,
    /// CAs for client certificates ([`ServerOptions::client_ca_file`](crate::ServerOptions::client_ca_file)).
    ClientCa,
    /// Revocation lists ([`ServerOptions::crl_file`](crate::ServerOptions::crl_file)).
    Crl,
    /// The handshake deadline ([`ServerOptions::handshake_timeout`](crate::ServerOptions::handshake_timeout)).
    HandshakeTimeout,
    /// The connection cap ([`ServerOptions::max_connections`](crate::ServerOptions::max_connections)).
    MaxConnections,
    /// The deadline for the first bytes ([`ServerOptions::client_hello_timeout`](crate::ServerOptions::client_hello_timeout)).
    ClientHelloTimeout,
    /// The idle timeout ([`ServerOptions::idle_timeout`](crate::ServerOptions::idle_timeout)).
    IdleTimeout,
    /// Handshakes in progress ([`ServerOptions::max_handshakes`](crate::ServerOptions::max_handshakes)).
    MaxHandshakes,
    /// Connections from one address ([`ServerOptions::max_connections_per_address`](crate::ServerOptions::max_connections_per_address)).
    MaxPerAddress,
    /// What a full server does ([`ServerOptions::when_full`](crate::ServerOptions::when_full)).
    WhenFull,
    /// The listening address ([`ServerOptions::bind`](crate::ServerOptions::bind)).
    Bind,
    /// Listening sockets made elsewhere ([`Server::from_listeners`](crate::Server::from_listeners)).
    Listener,
    /// Stopping after some connections ([`ServerOptions::exit_after`](crate::ServerOptions::exit_after)).
    ExitAfter,
    /// The largest record sent ([`ServerOptions::max_fragment_size`](crate::ServerOptions::max_fragment_size)).
    MaxFragmentSize,
    /// Whether connections start with a PROXY protocol header ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)).
    ProxyProtocol,
    /// The balancers trusted to send one ([`ServerOptions::proxy_from`](crate::ServerOptions::proxy_from)).
    ProxyFrom,
    /// The key-log file ([`ServerOptions::key_log_file`](crate::ServerOptions::key_log_file)).
    KeyLog,
    /// A ready-made rustls configuration ([`ServerOptions::server_config`](crate::ServerOptions::server_config)).
    ServerConfig,
    /// `check`: the CA clients trust ([`check::Options::ca_file`](crate::check::Options::ca_file)).
    CheckCa,
    /// `check`: the name clients connect with ([`check::Options::host`](crate::check::Options::host)).
    CheckHost,
    /// `probe`: where to connect ([`probe::Options::new`](crate::probe::Options::new)).
    ProbeTarget,
    /// `probe`: the name sent and verified ([`probe::Options::server_name`](crate::probe::Options::server_name)).
    ProbeServerName,
    /// `probe`: the CA to verify against ([`probe::Options::ca_file`](crate::probe::Options::ca_file)).
    ProbeCa,
    /// `probe`: the versions offered ([`probe::Options::versions`](crate::probe::Options::versions)).
    ProbeVersions,
    /// `probe`: ALPN protocols offered ([`probe::Options::alpn`](crate::probe::Options::alpn)).
    ProbeAlpn,
    /// `probe`: a client certificate ([`probe::Options::client_cert`](crate::probe::Options::client_cert)).
    ProbeClientCert,
    /// `probe`: the connect and handshake timeout ([`probe::Options::timeout`](crate::probe::Options::timeout)).
    ProbeTimeout,
}

impl Setting {
    /// The library's name for the setting: the method that sets it, such as
    /// `ServerOptions::handshake_timeout`. What a default [`Naming`] gives.
    pub fn method(self) -> &'static str {
        match self {
            Setting::Cert => "ServerOptions::cert_file",
            Setting::Key => "ServerOptions::key_file",
            Setting::Versions => "ServerOptions::versions",
            Setting::CipherSuites => "ServerOptions::cipher_suites",
            Setting::KxGroups => "ServerOptions::kx_groups",
            Setting::Alpn => "ServerOptions::alpn",
            Setting::Sni => "ServerOptions::sni",
            Setting::AddContext => "ServerHandle::add_context",
            Setting::SniFallback => "ServerOptions::sni_fallback",
            Setting::SessionCache => "ServerOptions::session_cache_size",
            Setting::SessionTickets => "ServerOptions::session_tickets",
            Setting::TicketKeys => "ServerOptions::ticket_keys_file",
            Setting::ClientAuth => "ServerOptions::client_auth",
            Setting::ClientCa => "ServerOptions::client_ca_file",
            Setting::Crl => "ServerOptions::crl_file",
            Setting::HandshakeTimeout => "ServerOptions::handshake_timeout",
            Setting::MaxConnections => "ServerOptions::max_connections",
            Setting::ClientHelloTimeout => "ServerOptions::client_hello_timeout",
            Setting::IdleTimeout => "ServerOptions::idle_timeout",
            Setting::MaxHandshakes => "ServerOptions::max_handshakes",
            Setting::MaxPerAddress => "ServerOptions::max_connections_per_address",
            Setting::WhenFull => "ServerOptions::when_full",
            Setting::Bind => "ServerOptions::bind",
            Setting::Listener => "Server::from_listeners",
            Setting::ExitAfter => "ServerOptions::exit_after",
            Setting::MaxFragmentSize => "ServerOptions::max_fragment_size",
            Setting::ProxyProtocol => "ServerOptions::proxy_protocol",
            Setting::ProxyFrom => "ServerOptions::proxy_from",
            Setting::KeyLog => "ServerOptions::key_log_file",
            Setting::ServerConfig => "ServerOptions::server_config",
            Setting::CheckCa => "check::Options::ca_file",
            Setting::CheckHost => "check::Options::host",
            Setting::ProbeTarget => "probe::Options::new",
            Setting::ProbeServerName => "probe::Options::server_name",
            Setting::ProbeCa => "probe::Options::ca_file",
            Setting::ProbeVersions => "probe::Options::versions",
            Setting::ProbeAlpn => "probe::Options::alpn",
            Setting::ProbeClientCert => "probe::Options::client_cert",
            Setting::ProbeTimeout => "probe::Options::timeout",
        }
    }
}

/// How messages name settings: a function from [`Setting`] to its name. The default names
/// methods ([`Setting::method`]); the `tls-server` command passes one that names its flags.
#[derive(Clone, Copy)]
pub struct Naming(fn(Setting) -> &'static str);

impl Naming {
    /// Messages name settings with `name`.
    pub fn new(name: fn(Setting) -> &'static str) -> Self {
        Naming(name)
    }

    /// The name of `setting` in messages.
    pub fn of(self, setting: Setting) -> &'static str {
        (self.0)(setting)
    }
}

impl Default for Naming {
    fn default() -> Self {
        Naming(Setting::method)
    }
}

impl fmt::Debug for Naming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Naming(HandshakeTimeout → {})",
            self.of(Setting::HandshakeTimeout)
        )
    }
}
