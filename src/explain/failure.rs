//! A failure as the server reports it: a failed handshake, [`TlsClientError`], with its
//! [`Phase`]; a secure connection that failed after its handshake, [`ConnectionError`];
//! the [`Cause`] both are reported under; and the raw records the handshake driver and the
//! connection hand over to be explained ([`Failed`], [`Broke`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::Error as TlsError;

use crate::explain::client_hello::ClientHello;
use crate::explain::flights::HandshakeLog;
use crate::explain::trace::Recorder;
use crate::setting::Setting;
use crate::tls::record::Record;
use crate::tls::AuthorizationError;
use crate::util::json::Obj;

/// How far the handshake got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// No byte arrived from the client.
    BeforeAnyBytes,
    /// Bytes arrived, but we had not answered yet: the ClientHello was incomplete or
    /// unacceptable.
    ClientHello,
    /// We had answered the ClientHello (ServerHello, our certificate, ...), and the
    /// client had not finished.
    AfterServerHello,
    /// The client's certificate was missing or refused (client authentication).
    ClientCertificate,
}

impl Phase {
    /// A short name for logs and JSON: `before-any-bytes`, `client-hello`,
    /// `after-server-hello`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::BeforeAnyBytes => "before-any-bytes",
            Phase::ClientHello => "client-hello",
            Phase::AfterServerHello => "after-server-hello",
            Phase::ClientCertificate => "client-certificate",
        }
    }
}

/// What ended a failed handshake, mechanically.
#[derive(Debug)]
pub(crate) enum Failure {
    Tls(rustls::Error),
    Timeout,
    PeerClosed,
    Io(io::Error),
    Shutdown,
    /// We closed it to make room for a newer connection.
    Evicted,
    /// The PROXY protocol header was required and is missing, malformed, or came from an
    /// address that is not a trusted balancer.
    Proxy(ProxyRefusal),
}

/// Why a connection was refused before TLS for want of a good PROXY protocol header.
#[derive(Debug)]
pub(crate) enum ProxyRefusal {
    /// The connection does not come from a trusted balancer (`proxy_from`): `trusted` lists
    /// them as configured.
    Untrusted { trusted: String },
    /// The first bytes are not a PROXY header of the versions accepted (`wanted`); `tls`
    /// when they are the start of a TLS handshake instead.
    Missing { wanted: &'static str, tls: bool },
    /// A PROXY header, but not one that can be used: `why`.
    Malformed { why: String },
}

/// The record of a failed handshake: what the handshake driver saw on the wire and what
/// the rustls callbacks recorded. [`explain`](super::explain) turns it into a
/// [`TlsClientError`].
pub(crate) struct Failed {
    pub failure: Failure,
    pub phase: Phase,
    /// The first bytes the client sent (at most [`FIRST_BYTES`](super::sniff::FIRST_BYTES)).
    pub first_bytes: Vec<u8>,
    pub bytes_received: usize,
    /// The alert we sent, when it went out in plaintext and we could read it back.
    pub alert_sent: Option<rustls::AlertDescription>,
    /// From accept to failure.
    pub elapsed: Duration,
    /// The deadline that applied (as a time after accept), and its setting.
    pub timeout: Duration,
    pub timeout_setting: Setting,
    /// What the rustls callbacks saw: SNI choice, client certificate, ALPN answer.
    pub record: Record,
    /// The flights so far, when tracing.
    pub trace: Option<Recorder>,
    /// The client spoke plain HTTP and got an HTTP 400 instead of a TLS alert.
    pub answered_http: bool,
}

impl Failed {
    /// A failure before any TLS byte (the PROXY protocol header): `bytes` were read in
    /// `elapsed`, with `timeout` for the client's first bytes.
    pub(crate) fn before_tls(
        failure: Failure,
        bytes: Vec<u8>,
        elapsed: Duration,
        timeout: Duration,
    ) -> Failed {
        Failed {
            failure,
            phase: Phase::BeforeAnyBytes,
            bytes_received: bytes.len(),
            first_bytes: bytes,
            alert_sent: None,
            elapsed,
            timeout,
            timeout_setting: Setting::ClientHelloTimeout,
            record: Record::default(),
            trace: None,
            answered_http: false,
        }
    }
}

/// What kind of failure a [`TlsClientError`] (a failed handshake) or a [`ConnectionError`]
/// (a secure connection that failed later) is. Stable names for logs and JSON via
/// [`Cause::name`]. Each variant says which of the two it is found in; `peer-alert`,
/// `protocol` and `network` are found in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The client connected and closed without sending a byte: a health check or port
    /// scan. Logged at debug level only.
    Probe,
    /// The bytes were not TLS: plain HTTP, an SSH or SMTP client, random bytes.
    NotTls,
    /// The handshake did not finish before the deadline.
    Timeout,
    /// The client disappeared mid-handshake without an alert.
    PeerVanished,
    /// No protocol version in common.
    ProtocolVersion,
    /// No cipher suite in common.
    NoCommonCipher,
    /// No key-exchange group in common.
    NoCommonGroup,
    /// No signature scheme in common (often: our certificate's key type).
    NoCommonSignature,
    /// The client asked for ALPN protocols we do not speak.
    AlpnMismatch,
    /// The client rejected our certificate (it sent a certificate alert).
    CertificateRejected,
    /// The client sent another alert.
    PeerAlert,
    /// The client broke the TLS protocol.
    Protocol,
    /// A socket error.
    Network,
    /// The server was shutting down.
    Shutdown,
    /// Client authentication: no certificate, or one we do not accept.
    ClientCertificate,
    /// The client asked for a server name we have no certificate for, or for none, and the
    /// SNI fallback policy refuses that.
    UnknownServerName,
    /// The server closed the handshake to make room for a newer connection (see
    /// [`Event::Evicted`](crate::Event::Evicted)). Logged at debug level: the eviction
    /// itself is logged.
    Evicted,
    /// A PROXY protocol header was required and was missing or malformed, or the
    /// connection came from an address that is not a trusted balancer.
    ProxyHeader,
    /// After the handshake: a record that is not well-formed TLS (an unknown content type
    /// or version, an empty record, a message that does not parse).
    CorruptRecord,
    /// After the handshake: a record that does not decrypt (its authentication tag is
    /// wrong: altered bytes, or the wrong keys).
    UndecryptableRecord,
    /// After the handshake: a record longer than TLS allows.
    OversizedRecord,
    /// After the handshake: a KeyUpdate message with an invalid request, or too many of
    /// them.
    BadKeyUpdate,
    /// After the handshake: a handshake message split across records with other records
    /// between its pieces, or split across a key change.
    InterleavedMessage,
    /// After the handshake: the peer reset the connection (TCP RST).
    PeerReset,
    /// After the handshake: a handler of the program panicked on this connection.
    HandlerPanic,
    /// After the handshake: the server lacked something it needed (a thread).
    Resources,
}

impl Cause {
    /// A stable kebab-case name: `probe`, `not-tls`, `timeout`, ...
    pub fn name(self) -> &'static str {
        match self {
            Cause::Probe => "probe",
            Cause::NotTls => "not-tls",
            Cause::Timeout => "timeout",
            Cause::PeerVanished => "peer-vanished",
            Cause::ProtocolVersion => "protocol-version",
            Cause::NoCommonCipher => "no-common-cipher",
            Cause::NoCommonGroup => "no-common-group",
            Cause::NoCommonSignature => "no-common-signature",
            Cause::AlpnMismatch => "alpn-mismatch",
            Cause::CertificateRejected => "certificate-rejected",
            Cause::PeerAlert => "peer-alert",
            Cause::Protocol => "protocol",
            Cause::Network => "network",
            Cause::Shutdown => "shutdown",
            Cause::ClientCertificate => "client-certificate",
            Cause::UnknownServerName => "unknown-server-name",
            Cause::Evicted => "evicted",
            Cause::ProxyHeader => "proxy-header",
            Cause::CorruptRecord => "corrupt-record",
            Cause::UndecryptableRecord => "undecryptable-record",
            Cause::OversizedRecord => "oversized-record",
            Cause::BadKeyUpdate => "bad-key-update",
            Cause::InterleavedMessage => "interleaved-message",
            Cause::PeerReset => "peer-reset",
            Cause::HandlerPanic => "handler-panic",
            Cause::Resources => "resources",
        }
    }
}

/// A handshake that failed: who, when, what rustls said, and what it means. Node's
/// `'tlsClientError'`, with the explanation Node leaves to you.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsClientError {
    /// The connection id (as in the `Connection` event).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
    /// How far the handshake got.
    pub phase: Phase,
    /// The category.
    pub cause: Cause,
    /// rustls's error, if rustls raised one.
    pub tls_error: Option<TlsError>,
    /// What happened, in one sentence with the specifics.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The alert we sent, when known (e.g. `"ProtocolVersion"`).
    pub alert_sent: Option<String>,
    /// The alert the client sent, if any.
    pub alert_received: Option<String>,
    /// For a refused client certificate: Node's `authorizationError` code and sentence.
    pub authorization: Option<AuthorizationError>,
    /// What the client offered, when its ClientHello arrived whole.
    pub offered: Option<ClientHello>,
    /// The first bytes the client sent (up to 4 KiB).
    pub first_bytes: Vec<u8>,
    /// How many bytes the client sent in all.
    pub bytes_received: usize,
    /// From accept to failure.
    pub elapsed: Duration,
    /// The load balancer that passed the connection on, when a PROXY protocol header
    /// named the client ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)).
    pub proxied_by: Option<SocketAddr>,
    /// Every flight up to the failure, with what the client offered and the certificate
    /// we chose, when
    /// [`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes) is on.
    pub handshake: Option<Arc<HandshakeLog>>,
}

impl TlsClientError {
    /// Whether this was a zero-byte connection (health check, port scan), not a real error.
    pub fn is_probe(&self) -> bool {
        self.cause == Cause::Probe
    }

    /// Whether the server logs this failure at debug level only: a zero-byte probe, or a
    /// handshake it closed itself to make room (the eviction has its own log line).
    pub fn is_quiet(&self) -> bool {
        matches!(self.cause, Cause::Probe | Cause::Evicted)
    }

    /// The failure as one JSON object (the `tlsClientError` line of `--events json`): `id`,
    /// `peer`, `phase`, `cause`, `message`, `fix`, `tls_error`, `alert_sent`,
    /// `alert_received`, `authorizationError`, `bytes_received`, `elapsed_ms`.
    pub fn to_json(&self) -> String {
        Obj::new()
            .num("id", self.id)
            .str("peer", &self.peer.to_string())
            .str("phase", self.phase.name())
            .str("cause", self.cause.name())
            .str("message", &self.message)
            .str("fix", &self.fix)
            .opt_str(
                "tlsError",
                self.tls_error.as_ref().map(|t| t.to_string()).as_deref(),
            )
            .opt_str("alertSent", self.alert_sent.as_deref())
            .opt_str("alertReceived", self.alert_received.as_deref())
            .opt_str(
                "authorizationError",
                self.authorization.as_ref().map(|a| a.code),
            )
            .num("bytesReceived", self.bytes_received)
            .some_str(
                "proxiedBy",
                self.proxied_by.map(|a| a.to_string()).as_deref(),
            )
            .num(
                "elapsedMs",
                format!("{:.3}", self.elapsed.as_secs_f64() * 1000.0),
            )
            .finish()
    }
}

impl fmt::Display for TlsClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {}: handshake failed ({}, {}): {} — {}",
            self.id,
            self.peer,
            self.cause.name(),
            self.phase.name(),
            self.message,
            self.fix
        )
    }
}

impl std::error::Error for TlsClientError {}

/// What ended a secure connection, mechanically: the record a connection hands over to be
/// explained ([`explain_after`](super::diagnose::explain_after)).
#[derive(Debug)]
pub(crate) enum Broke {
    /// rustls refused what the peer sent. `alert_queued`: rustls queued a fatal alert of
    /// its own (otherwise we send close_notify).
    Tls { error: TlsError, alert_queued: bool },
    /// rustls would not take the bytes at all (`read_tls`).
    Input(io::Error),
    /// Receiving failed.
    Receive(io::Error),
    /// Sending failed.
    Send(io::Error),
    /// No writer thread could be started for a peer that reads slowly.
    NoWriter(io::Error),
    /// A handler panicked: where (`stream handler`, `handler on data`, ...) and the panic's
    /// message.
    HandlerPanic { place: String, panic: String },
}

/// A secure connection that failed after its handshake: what went wrong, what to do, and
/// the alert we sent — the explanation a [`TlsClientError`] gives for a handshake. Carried
/// by [`Event::Error`](crate::Event::Error); in the stream style, also the error inside the
/// `io::Error` a [`TlsStream`](crate::TlsStream) read returns. Node's socket `'error'`,
/// explained.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectionError {
    /// The category: `undecryptable-record`, `peer-reset`, ...
    pub cause: Cause,
    /// What happened, in one sentence that names the peer's mistake (or ours).
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The alert we sent, when we sent one: a fatal alert (`"BadRecordMac"`), or
    /// `"CloseNotify"` where rustls has no alert for the mistake and we closed with
    /// close_notify. `None` when nothing could be sent (the socket failed).
    pub alert_sent: Option<String>,
    /// The fatal alert the peer sent, if that is what ended the connection.
    pub alert_received: Option<String>,
    /// rustls's error, if rustls raised one.
    pub tls_error: Option<TlsError>,
    /// The socket error in the system's words (`Connection reset by peer (os error 104)`),
    /// if a socket call failed.
    pub io_error: Option<String>,
}

impl ConnectionError {
    /// The failure as JSON fields: `cause`, `message`, `fix`, `alertSent`,
    /// `alertReceived`, `tlsError`, `ioError` (what the `error` line of `--events json`
    /// carries after `id` and `peer`).
    pub fn to_json(&self) -> String {
        Obj::new()
            .str("cause", self.cause.name())
            .str("message", &self.message)
            .str("fix", &self.fix)
            .opt_str("alertSent", self.alert_sent.as_deref())
            .opt_str("alertReceived", self.alert_received.as_deref())
            .opt_str(
                "tlsError",
                self.tls_error.as_ref().map(|t| t.to_string()).as_deref(),
            )
            .opt_str("ioError", self.io_error.as_deref())
            .finish()
    }
}

/// `connection failed (CAUSE; we sent ALERT): message — fix`, as the log line gives it
/// after the connection's id and address.
impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alert = match self.alert_sent.as_deref() {
            Some(alert) => format!("we sent {alert}"),
            None => "no alert sent".into(),
        };
        write!(
            f,
            "connection failed ({}; {alert}): {} — {}",
            self.cause.name(),
            self.message,
            self.fix
        )
    }
}

impl std::error::Error for ConnectionError {}
