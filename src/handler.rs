//! The Node-style event loop: your handlers, called one event at a time on one thread.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::event::Event;
use crate::events::Events;
use crate::explain::diagnose::explain_after;
use crate::explain::failure::Broke;
use crate::explain::{ConnectionError, HandshakeTrace, TlsClientError};
use crate::setting::Naming;
use crate::socket::TlsSocket;
use crate::tls::Reloaded;
use crate::util::panic_message;

/// Handlers for [`Server::run`](crate::Server::run). Every method has a default that does
/// nothing; implement the ones you need. They run on the event-loop thread, one at a time,
/// in the order of [`Event`]s, and must not block: answer through the [`TlsSocket`], whose
/// commands never block.
#[allow(unused_variables)]
pub trait Handler {
    /// [`Event::Listening`].
    fn on_listening(&mut self, addr: SocketAddr) {}
    /// [`Event::Connection`]: TCP accepted, before TLS.
    fn on_connection(&mut self, id: u64, peer: SocketAddr) {}
    /// [`Event::SecureConnection`]: the handshake completed.
    fn on_secure_connection(&mut self, socket: &TlsSocket) {}
    /// [`Event::TlsClientError`]: a handshake failed.
    fn on_tls_client_error(&mut self, error: &TlsClientError) {}
    /// [`Event::Data`]: bytes from the peer.
    fn on_data(&mut self, socket: &TlsSocket, data: &[u8]) {}
    /// [`Event::Drain`]: everything written has been sent.
    fn on_drain(&mut self, socket: &TlsSocket) {}
    /// [`Event::End`]: the peer finished sending. Our side ends when this returns.
    fn on_end(&mut self, socket: &TlsSocket) {}
    /// [`Event::Error`]: the connection failed, explained (also called when one of your
    /// handlers panicked on it, with the cause `handler-panic`).
    fn on_error(&mut self, socket: &TlsSocket, error: &ConnectionError) {}
    /// [`Event::Close`]: the connection is gone.
    fn on_close(&mut self, socket: &TlsSocket, had_error: bool) {}
    /// [`Event::Refused`]: a limit turned a client away.
    fn on_refused(&mut self, peer: SocketAddr, reason: &str) {}
    /// [`Event::Evicted`]: a connection was closed to make room.
    fn on_evicted(&mut self, id: u64, peer: SocketAddr, reason: &str) {}
    /// [`Event::Timeout`]: a connection was idle too long; the server is ending it.
    fn on_timeout(&mut self, socket: &TlsSocket) {}
    /// [`Event::ServerError`]: accepting failed.
    fn on_server_error(&mut self, error: &str) {}
    /// [`Event::Closed`]: the server has shut down. The last call.
    fn on_closed(&mut self) {}
    /// [`Event::Trace`]: a handshake's story, when tracing is on.
    fn on_trace(&mut self, trace: &HandshakeTrace) {}
    /// [`Event::Reloaded`]: new certificates are in use for new connections.
    fn on_reloaded(&mut self, reloaded: &Reloaded) {}
    /// [`Event::ReloadFailed`]: a reload was refused; the previous certificates stay.
    fn on_reload_failed(&mut self, error: &str) {}
}

/// Handlers as closures, Node style:
///
/// ```no_run
/// # use tls_server::{Handlers, Server, ServerOptions};
/// # let server = Server::bind(ServerOptions::new()).unwrap();
/// server.run(
///     Handlers::new()
///         .on_secure_connection(|s| println!("secure: {} {}", s.remote_addr(), s.protocol()))
///         .on_data(|s, data| {
///             s.write(data);
///         }),
/// );
/// ```
#[derive(Default)]
#[allow(clippy::type_complexity)]
pub struct Handlers {
    listening: Option<Box<dyn FnMut(SocketAddr)>>,
    connection: Option<Box<dyn FnMut(u64, SocketAddr)>>,
    secure_connection: Option<Box<dyn FnMut(&TlsSocket)>>,
    tls_client_error: Option<Box<dyn FnMut(&TlsClientError)>>,
    data: Option<Box<dyn FnMut(&TlsSocket, &[u8])>>,
    drain: Option<Box<dyn FnMut(&TlsSocket)>>,
    end: Option<Box<dyn FnMut(&TlsSocket)>>,
    error: Option<Box<dyn FnMut(&TlsSocket, &ConnectionError)>>,
    close: Option<Box<dyn FnMut(&TlsSocket, bool)>>,
    refused: Option<Box<dyn FnMut(SocketAddr, &str)>>,
    closed: Option<Box<dyn FnMut()>>,
}

macro_rules! setter {
    ($name:ident, $field:ident, $($arg:ty),*) => {
        #[doc = concat!("Sets the `", stringify!($name), "` handler (see [`Handler`]).")]
        pub fn $name(mut self, f: impl FnMut($($arg),*) + 'static) -> Self {
            self.$field = Some(Box::new(f));
            self
        }
    };
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }
    setter!(on_listening, listening, SocketAddr);
    setter!(on_connection, connection, u64, SocketAddr);
    setter!(on_secure_connection, secure_connection, &TlsSocket);
    setter!(on_tls_client_error, tls_client_error, &TlsClientError);
    setter!(on_data, data, &TlsSocket, &[u8]);
    setter!(on_drain, drain, &TlsSocket);
    setter!(on_end, end, &TlsSocket);
    setter!(on_error, error, &TlsSocket, &ConnectionError);
    setter!(on_close, close, &TlsSocket, bool);
    setter!(on_refused, refused, SocketAddr, &str);
    setter!(on_closed, closed,);
}

impl Handler for Handlers {
    fn on_listening(&mut self, addr: SocketAddr) {
        if let Some(f) = &mut self.listening {
            f(addr)
        }
    }
    fn on_connection(&mut self, id: u64, peer: SocketAddr) {
        if let Some(f) = &mut self.connection {
            f(id, peer)
        }
    }
    fn on_secure_connection(&mut self, socket: &TlsSocket) {
        if let Some(f) = &mut self.secure_connection {
            f(socket)
        }
    }
    fn on_tls_client_error(&mut self, error: &TlsClientError) {
        if let Some(f) = &mut self.tls_client_error {
            f(error)
        }
    }
    fn on_data(&mut self, socket: &TlsSocket, data: &[u8]) {
        if let Some(f) = &mut self.data {
            f(socket, data)
        }
    }
    fn on_drain(&mut self, socket: &TlsSocket) {
        if let Some(f) = &mut self.drain {
            f(socket)
        }
    }
    fn on_end(&mut self, socket: &TlsSocket) {
        if let Some(f) = &mut self.end {
            f(socket)
        }
    }
    fn on_error(&mut self, socket: &TlsSocket, error: &ConnectionError) {
        if let Some(f) = &mut self.error {
            f(socket, error)
        }
    }
    fn on_close(&mut self, socket: &TlsSocket, had_error: bool) {
        if let Some(f) = &mut self.close {
            f(socket, had_error)
        }
    }
    fn on_refused(&mut self, peer: SocketAddr, reason: &str) {
        if let Some(f) = &mut self.refused {
            f(peer, reason)
        }
    }
    fn on_closed(&mut self) {
        if let Some(f) = &mut self.closed {
            f()
        }
    }
}

/// Calls `handler` for every event until the server has closed. Each event is dropped
/// after its handler returns, which is what releases a `Data` payload's read credit and
/// ends our side after `End`.
pub(crate) fn run<H: Handler + ?Sized>(events: &Events, handler: &mut H) {
    while let Ok(event) = events.recv() {
        let last = matches!(event, Event::Closed);
        let outcome = catch_unwind(AssertUnwindSafe(|| dispatch(handler, &event)));
        if let Err(panic) = outcome {
            let place = format!("handler on {}", event.name());
            let panic = panic_message(&panic);
            match event.socket() {
                Some(socket) => {
                    // The words for a panic name no setting: the default naming will do.
                    let error =
                        explain_after(Broke::HandlerPanic { place, panic }, Naming::default());
                    log::error!(
                        "#{} {}: {error}; closing this connection",
                        socket.id(),
                        socket.remote_addr()
                    );
                    socket.mark_error();
                    let _ = catch_unwind(AssertUnwindSafe(|| handler.on_error(socket, &error)));
                    socket.destroy();
                }
                None => log::error!("{place} panicked: {panic}"),
            }
        }
        drop(event);
        if last {
            break;
        }
    }
}

fn dispatch<H: Handler + ?Sized>(h: &mut H, event: &Event) {
    match event {
        Event::Listening { addr } => h.on_listening(*addr),
        Event::Connection { id, peer, .. } => h.on_connection(*id, *peer),
        Event::SecureConnection(s) => h.on_secure_connection(s),
        Event::TlsClientError(e) => h.on_tls_client_error(e),
        Event::Data { socket, data } => h.on_data(socket, data),
        Event::Drain(s) => h.on_drain(s),
        Event::End { socket, .. } => h.on_end(socket),
        Event::Error { socket, error } => h.on_error(socket, error),
        Event::Close { socket, had_error } => h.on_close(socket, *had_error),
        Event::Refused { peer, reason, .. } => h.on_refused(*peer, reason),
        Event::Evicted {
            id, peer, reason, ..
        } => h.on_evicted(*id, *peer, reason),
        Event::Timeout { socket, .. } => h.on_timeout(socket),
        Event::ServerError { error } => h.on_server_error(error),
        Event::Closed => h.on_closed(),
        Event::Trace(t) => h.on_trace(t),
        Event::Reloaded(r) => h.on_reloaded(r),
        Event::ReloadFailed { error } => h.on_reload_failed(error),
    }
}
