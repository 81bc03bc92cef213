//! What the server tells you, in the order it happens, and the receiver you read it from.
//!
//! For one connection the events always come in this order:
//!
//! ```text
//! Connection → SecureConnection → (Data | Drain | Error)* → End? → Close
//!            ↘ TlsClientError                    (the handshake failed; nothing follows)
//! ```
//!
//! Server-wide: `Listening` first; `Refused`, `ServerError`, `Reloaded` and `ReloadFailed`
//! at any time; `Closed` last.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::connection::Conn;
use crate::diagnose::TlsClientError;
use crate::socket::TlsSocket;
use crate::trace::HandshakeTrace;

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
    /// A connection failed after its handshake: a TLS error from the peer, a reset, a handler
    /// that panicked. `Close` with `had_error: true` follows. Node: the socket's `'error'`.
    Error {
        /// The connection.
        socket: TlsSocket,
        /// What went wrong, in one sentence.
        error: String,
    },
    /// The connection is closed and its thread is free again. Last event for a connection
    /// that completed its handshake. Node: the socket's `'close'`.
    Close {
        /// The connection.
        socket: TlsSocket,
        /// Whether an `Error` event came before.
        had_error: bool,
    },
    /// A connection was closed at once because `max_connections` were open. Node: `'drop'`.
    Refused {
        /// The client's address.
        peer: SocketAddr,
        /// Why, in one sentence.
        reason: String,
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
    Reloaded(Box<crate::Reloaded>),
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
            | Event::Close { socket: s, .. } => Some(s),
            _ => None,
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

/// The sending half, shared by every thread of a server.
#[derive(Clone)]
pub(crate) struct EventSender {
    tx: Sender<Event>,
    wanted: Arc<AtomicBool>,
    /// How many `Events` receivers exist: each gets its own `Closed`.
    receivers: Arc<AtomicUsize>,
}

impl EventSender {
    pub(crate) fn new(wanted: bool) -> (EventSender, Events) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let wanted = Arc::new(AtomicBool::new(wanted));
        let receivers = Arc::new(AtomicUsize::new(1));
        (
            EventSender {
                tx,
                wanted: wanted.clone(),
                receivers: receivers.clone(),
            },
            Events {
                rx,
                wanted,
                done: Arc::new(AtomicBool::new(false)),
                receivers,
            },
        )
    }

    /// Sends, unless nobody listens; never blocks. `Closed` goes to every receiver, so
    /// that each clone blocked in `recv` wakes up.
    pub(crate) fn send(&self, event: Event) {
        log_event(&event);
        if self.wanted.load(Ordering::Relaxed) {
            if let Event::Closed = event {
                for _ in 1..self.receivers.load(Ordering::SeqCst) {
                    let _ = self.tx.send(Event::Closed);
                }
            }
            let _ = self.tx.send(event);
        }
    }
}

fn log_event(event: &Event) {
    match event {
        Event::TlsClientError(e) if e.is_probe() => log::debug!("{e}"),
        Event::TlsClientError(e) => log::warn!("{e}"),
        Event::Refused { peer, reason } => log::warn!("refused {peer}: {reason}"),
        Event::ServerError { error } => log::error!("{error}"),
        Event::Reloaded(r) => log::info!("{r}"),
        Event::ReloadFailed { error } => {
            log::error!("reload refused, still serving the previous certificates: {error}")
        }
        Event::Error { socket, error } => {
            log::warn!("#{} {}: {error}", socket.id(), socket.remote_addr())
        }
        _ => {}
    }
}

/// The stream of [`Event`]s: `recv`, `try_recv`, `recv_timeout`, or iterate. Ends after
/// [`Event::Closed`]. Cloning gives another receiver of the same stream: each event goes to
/// one of them, except `Closed`, which wakes a receiver blocked in `recv` even when another
/// one got it first.
pub struct Events {
    rx: Receiver<Event>,
    wanted: Arc<AtomicBool>,
    /// `Closed` has been received: every later call returns `Err(Closed)` at once.
    done: Arc<AtomicBool>,
    /// Shared with the sender: how many receivers exist.
    receivers: Arc<AtomicUsize>,
}

impl Clone for Events {
    fn clone(&self) -> Self {
        self.receivers.fetch_add(1, Ordering::SeqCst);
        Events {
            rx: self.rx.clone(),
            wanted: self.wanted.clone(),
            done: self.done.clone(),
            receivers: self.receivers.clone(),
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.receivers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why no event was returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived in time (`try_recv`, `recv_timeout`).
    Empty,
    /// The server is gone and every event has been received.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("no event yet"),
            RecvError::Closed => f.write_str("the server has closed"),
        }
    }
}

impl std::error::Error for RecvError {}

impl Events {
    pub(crate) fn want(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    fn seen(&self, event: Result<Event, RecvError>) -> Result<Event, RecvError> {
        if let Ok(Event::Closed) = event {
            self.done.store(true, Ordering::SeqCst);
        }
        event
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits for the next event. `Err(Closed)` after [`Event::Closed`] was received.
    pub fn recv(&self) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.recv().map_err(|_| RecvError::Closed))
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.try_recv().map_err(|e| match e {
            TryRecvError::Empty => RecvError::Empty,
            TryRecvError::Disconnected => RecvError::Closed,
        }))
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => RecvError::Empty,
            RecvTimeoutError::Disconnected => RecvError::Closed,
        }))
    }

    /// Events as an iterator that ends after [`Event::Closed`].
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }
}

impl IntoIterator for Events {
    type Item = Event;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(self)
    }
}

/// The owning iterator over [`Events`]; ends after [`Event::Closed`].
pub struct IntoIter(Events);

impl Iterator for IntoIter {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.0.recv().ok()
    }
}
