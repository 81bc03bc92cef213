//! What the server tells you, in the order it happens, and the receiver you read it from.
//!
//! For one connection the events always come in this order:
//!
//! ```text
//! Connection → SecureConnection → (Data | Drain | Error)* → End? → Close
//!            ↘ TlsClientError                    (the handshake failed; nothing follows)
//! ```
//!
//! A connection the server closes to make room sends `Evicted` first (then its
//! `TlsClientError` or `Close`); one idle too long sends `Timeout` (then `End`/`Close`).
//!
//! Server-wide: `Listening` first; `Refused`, `ServerError`, `Reloaded` and `ReloadFailed`
//! at any time; `Closed` last.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Weak;
use std::time::Duration;

use crate::connection::Conn;
use crate::explain::{ConnectionError, HandshakeTrace, TlsClientError};
use crate::socket::TlsSocket;
use crate::tls::Reloaded;
use crate::util::json::Obj;

/// One thing that happened. Node's event names are given for each.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The server is accepting connections at `addr` (the real port when port 0 was asked
    /// for). Always the first event. Node: `'listening'`.
    Listening {
        /// The bound address.
        addr: SocketAddr,
    },
    /// The story of a handshake, when [`ServerOptions::trace`](crate::ServerOptions::trace)
    /// is on: just before its `SecureConnection` or `TlsClientError`.
    Trace(Box<HandshakeTrace>),
    /// A TCP connection was accepted, before any TLS byte was read. Node: the
    /// `tls.createServer` `'connection'` event.
    Connection {
        /// The connection's id, the same as its later [`TlsSocket::id`].
        id: u64,
        /// The client's address.
        peer: SocketAddr,
        /// Our address the client connected to.
        local: SocketAddr,
        /// The load balancer that passed the connection on, when a PROXY protocol header
        /// named the client ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol));
        /// `peer` is then the client the header named.
        proxied_by: Option<SocketAddr>,
    },
    /// The TLS handshake completed; the socket can now send and receive. Node:
    /// `'secureConnection'` (its handler receives only the socket, no request).
    SecureConnection(TlsSocket),
    /// The handshake failed or never finished (bad bytes, timeout, no common version, ...).
    /// Exactly one per failed handshake, after the TLS alert (if any) was written. Nothing
    /// follows for that connection. Node: `'tlsClientError'`.
    TlsClientError(Box<TlsClientError>),
    /// Decrypted bytes from the peer. Node: the socket's `'data'`.
    ///
    /// The connection reads no further while more than
    /// [`read_limit`](crate::ServerOptions::read_limit) bytes of its `Data` are alive: drop
    /// the event (or the [`Payload`]) when you are done with it.
    Data {
        /// The connection.
        socket: TlsSocket,
        /// The bytes.
        data: Payload,
    },
    /// Everything written earlier has been sent, after a [`TlsSocket::write`] returned
    /// `false`. Node: `'drain'`.
    Drain(TlsSocket),
    /// The peer finished sending: it sent close_notify, or closed TCP without it
    /// (`clean` tells which). Node: `'end'`. When this event is dropped, the server ends its
    /// side too (close_notify, then FIN), as Node does with `allowHalfOpen: false`; write your
    /// last bytes before dropping it.
    End {
        /// The connection.
        socket: TlsSocket,
        /// `true` if the peer sent close_notify; `false` if TCP closed without it, in which
        /// case the data may have been cut short by someone other than the peer (RFC 8446
        /// §6.1).
        clean: bool,
        /// Dropping this ends our side of the connection.
        ack: EndAck,
    },
    /// A connection failed after its handshake: a record the peer corrupted, a bad
    /// KeyUpdate, a reset, a handler that panicked — explained as a failed handshake is,
    /// with its cause, a sentence, a fix and the alert we sent. `Close` with
    /// `had_error: true` follows. Node: the socket's `'error'`.
    Error {
        /// The connection.
        socket: TlsSocket,
        /// What went wrong and what to do; `{error}` prints the log line's text.
        error: Box<ConnectionError>,
    },
    /// The connection is closed and its thread is free again. Last event for a connection
    /// that completed its handshake. Node: the socket's `'close'`.
    Close {
        /// The connection.
        socket: TlsSocket,
        /// Whether an `Error` event came before.
        had_error: bool,
    },
    /// A connection was closed at once, before any TLS byte was read, because a limit was
    /// reached (see [`Limit`]). Node: `'drop'`.
    Refused {
        /// The client's address.
        peer: SocketAddr,
        /// Which limit.
        limit: Limit,
        /// Why, in one sentence that names the setting and how to raise it.
        reason: String,
    },
    /// A connection was closed to make room for a newcomer: the oldest silent handshake
    /// when too many were in progress, or the longest-idle connection when the server was
    /// full ([`WhenFull::EvictIdle`](crate::WhenFull::EvictIdle)). Its `TlsClientError`
    /// (handshake) or `Close` follows.
    Evicted {
        /// The connection's id.
        id: u64,
        /// The client's address.
        peer: SocketAddr,
        /// Which limit made room necessary.
        limit: Limit,
        /// Why, in one sentence that names the setting and how to raise it.
        reason: String,
    },
    /// Nothing was received from or sent to the peer for
    /// [`idle_timeout`](crate::ServerOptions::idle_timeout): the server ends the connection
    /// (close_notify, then close after the linger time). Node: the socket's `'timeout'`
    /// (where Node leaves the closing to you).
    Timeout {
        /// The connection.
        socket: TlsSocket,
        /// How long it had been idle.
        idle: Duration,
    },
    /// Accepting a connection failed (out of file descriptors, ...). The server keeps going.
    /// Node: the server's `'error'`.
    ServerError {
        /// What went wrong, in one sentence.
        error: String,
    },
    /// New certificates (and CAs, SNI entries, ticket keys) are in use for new connections
    /// after [`ServerHandle::reload`](crate::ServerHandle::reload) or `SIGHUP` in the CLI;
    /// open connections keep theirs. Names the old and new certificate fingerprints. Node:
    /// what follows `setSecureContext()`.
    Reloaded(Box<Reloaded>),
    /// A reload was refused: the new files failed the checks. The previous certificates stay
    /// in use.
    ReloadFailed {
        /// What was wrong, naming the file and the fix.
        error: String,
    },
    /// The server has shut down: no listener, no connections, every thread joined. Always
    /// the last event. Node: `'close'`.
    Closed,
}

impl Event {
    /// The event as one JSON object, what `tls-server serve --events json` prints: the
    /// `event` name, then the event's fields (`secureConnection` carries
    /// [`SocketInfo::to_json`](crate::SocketInfo::to_json), `tlsClientError`
    /// [`TlsClientError::to_json`], `error` the connection's `id` and `peer` then
    /// [`ConnectionError::to_json`]). Data events carry the byte count, not the bytes.
    pub fn to_json(&self) -> String {
        let o = Obj::new().str("event", self.name());
        let socket = |o: Obj, s: &TlsSocket| {
            o.num("id", s.id())
                .str("peer", &s.remote_addr().to_string())
        };
        match self {
            Event::Listening { addr } => o.str("addr", &addr.to_string()),
            Event::Connection {
                id,
                peer,
                local,
                proxied_by,
            } => o
                .num("id", id)
                .str("peer", &peer.to_string())
                .str("local", &local.to_string())
                .some_str("proxiedBy", proxied_by.map(|a| a.to_string()).as_deref()),
            Event::SecureConnection(s) => o.extend(&s.info().to_json()),
            Event::TlsClientError(e) => o.extend(&e.to_json()),
            Event::Data { socket: s, data } => socket(o, s).num("bytes", data.len()),
            Event::Drain(s) => socket(o, s),
            Event::End {
                socket: s, clean, ..
            } => socket(o, s).bool("clean", *clean),
            Event::Error { socket: s, error } => socket(o, s).extend(&error.to_json()),
            Event::Close {
                socket: s,
                had_error,
            } => socket(o, s)
                .bool("hadError", *had_error)
                .num("bytesRead", s.bytes_read())
                .num("bytesWritten", s.bytes_written()),
            Event::Refused {
                peer,
                limit,
                reason,
            } => o
                .str("peer", &peer.to_string())
                .str("limit", limit.name())
                .str("reason", reason),
            Event::Evicted {
                id,
                peer,
                limit,
                reason,
            } => o
                .num("id", id)
                .str("peer", &peer.to_string())
                .str("limit", limit.name())
                .str("reason", reason),
            Event::Timeout { socket: s, idle } => {
                socket(o, s).num("idleMs", format!("{:.0}", idle.as_secs_f64() * 1000.0))
            }
            Event::ServerError { error } => o.str("error", error),
            Event::Closed => o,
            Event::Reloaded(r) => o.extend(&r.to_json()),
            Event::ReloadFailed { error } => o.str("error", error),
            Event::Trace(t) => o.extend(&t.to_json()),
        }
        .finish()
    }

    /// The event's name as `--events json` and the logs spell it (`"secureConnection"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Listening { .. } => "listening",
            Event::Connection { .. } => "connection",
            Event::Trace(_) => "trace",
            Event::SecureConnection(_) => "secureConnection",
            Event::TlsClientError(_) => "tlsClientError",
            Event::Data { .. } => "data",
            Event::Drain(_) => "drain",
            Event::End { .. } => "end",
            Event::Error { .. } => "error",
            Event::Close { .. } => "close",
            Event::Refused { .. } => "refused",
            Event::Evicted { .. } => "evicted",
            Event::Timeout { .. } => "timeout",
            Event::ServerError { .. } => "serverError",
            Event::Closed => "closed",
            Event::Reloaded(_) => "reloaded",
            Event::ReloadFailed { .. } => "reloadFailed",
        }
    }

    /// The connection the event is about, if it is about one that completed its handshake.
    pub fn socket(&self) -> Option<&TlsSocket> {
        match self {
            Event::SecureConnection(s)
            | Event::Drain(s)
            | Event::Data { socket: s, .. }
            | Event::End { socket: s, .. }
            | Event::Error { socket: s, .. }
            | Event::Timeout { socket: s, .. }
            | Event::Close { socket: s, .. } => Some(s),
            _ => None,
        }
    }
}

/// The limit behind a [`Event::Refused`] or [`Event::Evicted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`ServerOptions::max_connections`](crate::ServerOptions::max_connections): the server
    /// is full.
    MaxConnections,
    /// [`ServerOptions::max_connections_per_address`](crate::ServerOptions::max_connections_per_address):
    /// this client address holds its share.
    MaxPerAddress,
    /// [`ServerOptions::max_handshakes`](crate::ServerOptions::max_handshakes): too many
    /// handshakes in progress.
    MaxHandshakes,
    /// No thread could be started for the connection (the system's limit).
    Threads,
    /// No file descriptor was left to accept with (`ulimit -n`).
    Descriptors,
    /// The server is shutting down.
    ShuttingDown,
}

impl Limit {
    /// A stable name for logs and JSON: `max-connections`, `max-per-address`, ...
    pub fn name(self) -> &'static str {
        match self {
            Limit::MaxConnections => "max-connections",
            Limit::MaxPerAddress => "max-per-address",
            Limit::MaxHandshakes => "max-handshakes",
            Limit::Threads => "threads",
            Limit::Descriptors => "descriptors",
            Limit::ShuttingDown => "shutting-down",
        }
    }
}

/// Bytes received from a peer. Derefs to `[u8]`. While it is alive it counts against the
/// connection's read limit.
pub struct Payload {
    bytes: Vec<u8>,
    counted: usize,
    conn: Weak<Conn>,
}

impl Payload {
    /// `bytes.len()` must already be counted against the connection's read limit.
    pub(crate) fn new(bytes: Vec<u8>, conn: Weak<Conn>) -> Self {
        Payload {
            counted: bytes.len(),
            bytes,
            conn,
        }
    }

    /// Takes the bytes out (they stop counting against the read limit).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.bytes)
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.consumed(self.counted);
        }
    }
}

impl Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.bytes.len())
    }
}

/// Part of [`Event::End`]: dropping it ends our side of the connection.
pub struct EndAck {
    conn: Weak<Conn>,
}

impl EndAck {
    pub(crate) fn new(conn: Weak<Conn>) -> Self {
        EndAck { conn }
    }
}

impl Drop for EndAck {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.end();
        }
    }
}

impl fmt::Debug for EndAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndAck")
    }
}
