//! [`TlsSocket`]: the handle to one secure connection, what its handshake settled, and
//! the commands you can send it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::certificate::CertificateInfo;
use crate::client_auth::AuthorizationError;
use crate::connection::Conn;
use crate::json::Obj;

/// What a handshake settled, fixed for the life of the connection (Node's
/// `getProtocol()`, `getCipher()`, `servername`, `alpnProtocol`, `isSessionReused()`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The connection's id, unique within the server, counting from 1.
    pub id: u64,
    /// The client's address (Node's `remoteAddress` and `remotePort`).
    pub remote_addr: SocketAddr,
    /// Our address the client connected to.
    pub local_addr: SocketAddr,
    /// `"TLSv1.3"` or `"TLSv1.2"`.
    pub protocol: &'static str,
    /// The cipher suite's IANA name, such as `TLS_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// The key-exchange group's IANA name (`X25519MLKEM768`, `x25519`, `secp256r1`, ...),
    /// when known.
    pub group: Option<String>,
    /// The server name the client asked for (SNI), if it sent one (Node's `servername`).
    pub server_name: Option<String>,
    /// An IP address the client sent as its server name, which TLS does not allow
    /// (RFC 6066) and which therefore counts as no name: some clients do it when told to
    /// connect to an address.
    pub server_name_ip: Option<std::net::IpAddr>,
    /// The ALPN protocol agreed on, if any.
    pub alpn_protocol: Option<String>,
    /// Whether the session was resumed rather than a full handshake.
    pub resumed: bool,
    /// From TCP accept to handshake complete.
    pub handshake_duration: Duration,
    /// Whether the client presented a certificate that our CAs vouch for (Node's
    /// `authorized`). Always `false` when client authentication is off.
    pub authorized: bool,
    /// Why the client is not authorized, when client authentication is on (Node's
    /// `authorizationError`).
    pub authorization_error: Option<AuthorizationError>,
    /// The client's certificate chain as presented, leaf first; empty when none was sent
    /// (Node's `getPeerCertificate(true)`).
    pub peer_chain: Vec<CertificateInfo>,
}

impl SocketInfo {
    /// These facts as one JSON object, with Node's field names where Node has one — what
    /// `tls-server serve --events json` prints for `secureConnection`:
    ///
    /// ```text
    /// {"id":1,"peer":"127.0.0.1:33164","local":"127.0.0.1:8000","protocol":"TLSv1.3",
    ///  "cipher":"TLS_AES_256_GCM_SHA384","group":"x25519","servername":"localhost",
    ///  "alpn":null,"resumed":false,"authorized":false,"authorizationError":null,
    ///  "authorizationMessage":null,"peerCertificate":null,"handshake_ms":6.752}
    /// ```
    ///
    /// `peerCertificate` is [`CertificateInfo::to_json`] of the client's certificate, or
    /// `null`; `servernameIp` appears only when the client sent an IP address as its server
    /// name; `handshake_ms` is milliseconds from TCP accept to handshake complete.
    pub fn to_json(&self) -> String {
        let o = Obj::new()
            .num("id", self.id)
            .str("peer", &self.remote_addr.to_string())
            .str("local", &self.local_addr.to_string())
            .str("protocol", self.protocol)
            .str("cipher", &self.cipher)
            .opt_str("group", self.group.as_deref())
            .opt_str("servername", self.server_name.as_deref());
        // Only when it happened: an IP address sent as the server name (RFC 6066 forbids it).
        let o = match self.server_name_ip {
            Some(ip) => o.str("servernameIp", &ip.to_string()),
            None => o,
        };
        o.opt_str("alpn", self.alpn_protocol.as_deref())
            .bool("resumed", self.resumed)
            .bool("authorized", self.authorized)
            .opt_str(
                "authorizationError",
                self.authorization_error.as_ref().map(|e| e.code),
            )
            .opt_str(
                "authorizationMessage",
                self.authorization_error
                    .as_ref()
                    .map(|e| e.message.as_str()),
            )
            .raw(
                "peerCertificate",
                &self
                    .peer_chain
                    .first()
                    .map_or_else(|| "null".into(), CertificateInfo::to_json),
            )
            .num(
                "handshake_ms",
                format!("{:.3}", self.handshake_duration.as_secs_f64() * 1000.0),
            )
            .finish()
    }
}

/// A handle to one secure connection: cheap to clone, `Send`, usable from any thread.
///
/// Commands never block: [`write`](Self::write) queues and returns, [`end`](Self::end) and
/// [`destroy`](Self::destroy) take effect at once. After the connection has closed, the
/// facts remain readable and the commands do nothing.
#[derive(Clone)]
pub struct TlsSocket {
    info: Arc<SocketInfo>,
    conn: Weak<Conn>,
}

impl TlsSocket {
    pub(crate) fn new(info: Arc<SocketInfo>, conn: Weak<Conn>) -> Self {
        TlsSocket { info, conn }
    }

    /// Everything the handshake settled.
    pub fn info(&self) -> &SocketInfo {
        &self.info
    }

    /// The connection's id, unique within the server.
    pub fn id(&self) -> u64 {
        self.info.id
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.info.remote_addr
    }

    /// Our address the client connected to.
    pub fn local_addr(&self) -> SocketAddr {
        self.info.local_addr
    }

    /// `"TLSv1.3"` or `"TLSv1.2"` (Node's `getProtocol()`).
    pub fn protocol(&self) -> &'static str {
        self.info.protocol
    }

    /// The cipher suite's IANA name (Node's `getCipher().standardName`).
    pub fn cipher(&self) -> &str {
        &self.info.cipher
    }

    /// The key-exchange group's IANA name, when known.
    pub fn group(&self) -> Option<&str> {
        self.info.group.as_deref()
    }

    /// The SNI server name the client sent (Node's `servername`).
    pub fn server_name(&self) -> Option<&str> {
        self.info.server_name.as_deref()
    }

    /// The negotiated ALPN protocol (Node's `alpnProtocol`).
    pub fn alpn_protocol(&self) -> Option<&str> {
        self.info.alpn_protocol.as_deref()
    }

    /// Whether the session was resumed (Node's `isSessionReused()`).
    pub fn resumed(&self) -> bool {
        self.info.resumed
    }

    /// From TCP accept to handshake complete.
    pub fn handshake_duration(&self) -> Duration {
        self.info.handshake_duration
    }

    /// Whether the client's certificate was verified (Node's `authorized`).
    pub fn authorized(&self) -> bool {
        self.info.authorized
    }

    /// Why the client is not authorized (Node's `authorizationError`).
    pub fn authorization_error(&self) -> Option<&AuthorizationError> {
        self.info.authorization_error.as_ref()
    }

    /// The client's certificate, if it sent one (Node's `getPeerCertificate()`).
    pub fn peer_certificate(&self) -> Option<&CertificateInfo> {
        self.info.peer_chain.first()
    }

    /// Queues `data` to be encrypted and sent, without blocking. Returns `true` while the
    /// connection's unsent output is under the high-water mark; after `false`, a
    /// [`Event::Drain`](crate::Event::Drain) follows once everything is sent (Node's
    /// `write()`). Returns `false`, sending nothing, once the connection is ending or closed.
    pub fn write(&self, data: &[u8]) -> bool {
        match self.conn.upgrade() {
            Some(conn) => conn.write(data),
            None => false,
        }
    }

    /// Sends close_notify after everything already written, then closes once the peer has
    /// closed too (or after the linger time). Node's `end()`.
    pub fn end(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.end();
        }
    }

    /// Writes `data`, then ends (Node's `end(data)`).
    pub fn end_with(&self, data: &[u8]) {
        if let Some(conn) = self.conn.upgrade() {
            conn.write(data);
            conn.end();
        }
    }

    /// Closes the connection now, discarding unsent output, without close_notify. Node's
    /// `destroy()`.
    pub fn destroy(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.destroy();
        }
    }

    /// Stops reading from the peer until [`resume`](Self::resume) (Node's `pause()`); the
    /// peer's writes then back up in TCP. Use it with `write() == false` and `Drain` for
    /// flow control.
    pub fn pause(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.set_paused(true);
        }
    }

    /// Reads again after [`pause`](Self::pause).
    pub fn resume(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.set_paused(false);
        }
    }

    /// Whether the connection is still open (handshake done, not yet closed).
    pub fn is_open(&self) -> bool {
        self.conn.upgrade().is_some_and(|c| !c.is_closed())
    }

    /// Bytes written but not yet sent to the peer (Node's `writableLength`).
    pub fn buffered(&self) -> usize {
        self.conn.upgrade().map_or(0, |c| c.buffered())
    }

    pub(crate) fn mark_error(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.mark_error();
        }
    }
}

impl fmt::Debug for TlsSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TlsSocket(#{} {} {} {})",
            self.info.id, self.info.remote_addr, self.info.protocol, self.info.cipher
        )
    }
}
