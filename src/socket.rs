//! [`TlsSocket`]: the handle to one secure connection — what its handshake settled, and
//! the commands you can send it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::connection::{Conn, SocketInfo, Traffic};
use crate::tls::{AuthorizationError, CertificateInfo};

/// A handle to one secure connection: cheap to clone, `Send`, usable from any thread.
///
/// Commands never block: [`write`](Self::write) queues and returns, [`end`](Self::end) and
/// [`destroy`](Self::destroy) take effect at once. After the connection has closed, the
/// facts remain readable and the commands do nothing.
#[derive(Clone)]
pub struct TlsSocket {
    info: Arc<SocketInfo>,
    traffic: Arc<Traffic>,
    conn: Weak<Conn>,
}

impl TlsSocket {
    /// The handle of `conn`.
    pub(crate) fn of(conn: &Arc<Conn>) -> Self {
        TlsSocket {
            info: conn.info.clone(),
            traffic: conn.traffic.clone(),
            conn: Arc::downgrade(conn),
        }
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

    /// The cipher suite's IANA name (Node's `getCipher().standardName`), such as
    /// `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`.
    pub fn cipher(&self) -> &str {
        &self.info.cipher
    }

    /// The cipher suite's OpenSSL name (Node's `getCipher().name`), such as
    /// `ECDHE-ECDSA-AES256-GCM-SHA384`; for TLS 1.3 suites, whose OpenSSL names are the
    /// IANA ones, the same as [`cipher`](Self::cipher).
    pub fn cipher_openssl(&self) -> &str {
        &self.info.cipher_openssl
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

    /// Application bytes received so far (decrypted; Node's `bytesRead` counts the same
    /// for a TLS socket). Still readable after the connection closed.
    pub fn bytes_read(&self) -> u64 {
        self.traffic.read.load(Ordering::Relaxed)
    }

    /// Application bytes accepted for sending so far (before encryption; Node's
    /// `bytesWritten`). Still readable after the connection closed.
    pub fn bytes_written(&self) -> u64 {
        self.traffic.written.load(Ordering::Relaxed)
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
