//! A small blocking HTTP/1.1 responder over one [`TlsStream`]: HTTPS without a framework.
//!
//! [`Server::bind_streams`](crate::Server::bind_streams) gives each secure connection to
//! your closure on its own pool thread; [`serve`] runs the HTTP conversation on it. It
//! reads a request, parses it with [httparse](https://docs.rs/httparse) (the parser hyper
//! uses), calls your handler, writes the [`Response`], and goes round again until the
//! connection should close:
//!
//! ```no_run
//! use tls_server::https::{self, Response};
//! use tls_server::{Server, ServerOptions};
//!
//! let server = Server::bind_streams(
//!     ServerOptions::new()
//!         .cert_file("certs/server.crt")
//!         .key_file("certs/server.key")
//!         .bind("127.0.0.1:8443"),
//!     |mut stream| {
//!         let socket = stream.socket(); // what the handshake settled
//!         let _ = https::serve(&mut stream, |request| match request.path() {
//!             "/" => Response::text(200, format!("hello over {}\n", socket.protocol())),
//!             _ => Response::text(404, "not found\n"),
//!         });
//!     },
//! )?;
//! server.wait();
//! # Ok::<(), tls_server::Error>(())
//! ```
//!
//! # The HTTP rules it follows (RFC 9112)
//!
//! - **Keep-alive**: an HTTP/1.1 connection stays open after a response unless the request
//!   (or your response) says `Connection: close`; an HTTP/1.0 connection closes unless the
//!   request says `Connection: keep-alive`. Several requests on one connection, and
//!   *pipelined* requests (several in one read), are answered one by one, in order.
//! - **Idle timeout**: a kept-alive connection that sends no new request within
//!   [`Options::idle_timeout`] (5 s by default) is closed, so idle clients do not hold pool
//!   threads. A request that stalls half-way gets `408 Request Timeout`.
//! - **Bodies**: a request body is read when `Content-Length` says so, up to
//!   [`Options::max_body`] (1 MiB; more: `413`). `Expect: 100-continue` is answered.
//!   `Transfer-Encoding` (chunked uploads) is not supported: `501` (`400` together with
//!   `Content-Length`, which is a request-smuggling pattern).
//! - **Refusals**: a malformed request line or header, an HTTP/1.1 request without exactly
//!   one `Host`, or a bad `Content-Length` gets `400`; a header block over
//!   [`Options::max_header_bytes`] (16 KiB) or with more than [`MAX_HEADERS`] fields gets
//!   `431`. Each refusal is a short plain-text reason with `Connection: close`, after which
//!   the connection closes (the request cannot be trusted to end where it seems to).
//! - **Every response** carries `Date` (IMF-fixdate), `Server: tls-server/<version>`,
//!   `Content-Length` and `Connection`; `HEAD` gets the headers of the `GET` answer without
//!   the body. Your handler sets the status, the body and any other header.
//!
//! Methods are your handler's business: answer what you do not support with
//! [`Response::method_not_allowed`] (`405` with `Allow`), as [`facts`] does.
//!
//! # Pages for people
//!
//! [`pages`] is the responder of `tls-server serve --mode https`: [`facts`] for programs,
//! and for a browser a page that draws the connection's own handshake as a ladder, and
//! one that lists the server's recent failed handshakes ([`Failures`]), in English or
//! Japanese.
//!
//! The files: `conversation.rs` (the loop: read, parse, answer, keep alive or close),
//! `parse.rs` (a request head, checked), `message.rs` (`Request`, `Response`),
//! `respond.rs` (writing a response), `facts.rs` (the JSON facts), `site.rs` (`pages`:
//! which page or JSON a request gets), `negotiate.rs` (`Accept`, `Accept-Language`),
//! `page.rs` (the handshake page), `failures.rs` (the bounded list),
//! `failures_page.rs` (its page), `ladder.rs` (a handshake's flights as labelled arrows),
//! `svg.rs` (drawing them), `html.rs` (escaping, the frame, the style sheet),
//! `words.rs` (the labels in English and Japanese).

pub(crate) mod conversation;
mod facts;
mod failures;
mod failures_page;
mod html;
mod ladder;
mod message;
mod negotiate;
mod page;
#[cfg(test)]
mod page_tests;
mod parse;
mod respond;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod script;
mod site;
mod svg;
#[cfg(test)]
mod tests;
mod words;

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::stream::TlsStream;

pub use facts::{facts, facts_json};
pub use failures::{Failures, RecentFailure, FAILURES_KEPT};
pub use message::{Request, Response};
pub use respond::http_date;
pub use site::pages;

/// The failures page with `error` alone on it (for the fuzzer).
#[cfg(feature = "fuzzing")]
pub(crate) fn failure_page(error: &crate::explain::TlsClientError) -> String {
    let failures = Failures::new(1);
    failures.record(error);
    failures_page::failures_page(&failures, &words::EN)
}

/// The most header fields a request may have (`431` beyond).
pub const MAX_HEADERS: usize = 64;

/// What `Server:` says: `tls-server/<version>`.
pub const SERVER: &str = concat!("tls-server/", env!("CARGO_PKG_VERSION"));

/// Limits and timeouts for [`serve_with`]. [`Options::new`] gives the defaults [`serve`]
/// uses.
#[derive(Clone, Debug)]
pub struct Options {
    idle_timeout: Option<Duration>,
    max_header_bytes: usize,
    max_body: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// Idle timeout 5 s, header block 16 KiB, body 1 MiB.
    pub fn new() -> Self {
        Options {
            idle_timeout: Some(Duration::from_secs(5)),
            max_header_bytes: 16 * 1024,
            max_body: 1024 * 1024,
        }
    }

    /// How long a connection may wait for the next request (and each read within a
    /// request) before it is closed; `None` or zero waits for ever. Node's
    /// `server.keepAliveTimeout`, also 5 s there.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// The largest request line plus headers, in bytes (`431` beyond). Node's
    /// `maxHeaderSize`, also 16 KiB there.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(64);
        self
    }

    /// The largest request body, in bytes (`413` beyond).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

/// Why [`serve`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The client closed the connection (close_notify or TCP FIN) between requests, or in
    /// the middle of one.
    PeerClosed,
    /// A request (`Connection: close`, HTTP/1.0) or your response asked to close.
    Close,
    /// No new request came within the idle timeout.
    IdleTimeout,
    /// A request was refused with this status (400, 408, 413, 431, 501, ...) and the
    /// connection closed.
    Refused(u16),
}

/// What one connection's [`serve`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// Requests handed to the handler.
    pub requests: u64,
    /// Why the conversation stopped.
    pub ending: Ending,
}

/// Serves HTTP/1.1 on `stream` with the default [`Options`] until the connection should
/// close; see [`serve_with`].
pub fn serve(
    stream: &mut TlsStream,
    handler: impl FnMut(&Request) -> Response,
) -> io::Result<Served> {
    serve_with(stream, &Options::new(), handler)
}

/// Serves HTTP/1.1 on `stream` until the connection should close, calling `handler` once
/// per request, in order (see the [module documentation](self) for the rules).
///
/// On `Ok`, the conversation is over and close_notify has been sent
/// ([`TlsStream::end`]); return from your `bind_streams` closure and the server waits for
/// the client to close. `Err` is a broken connection (reset, TLS error, server shutdown
/// while writing). The idle timeout is set with [`TlsStream::set_read_timeout`] and
/// cleared on return.
pub fn serve_with(
    stream: &mut TlsStream,
    options: &Options,
    handler: impl FnMut(&Request) -> Response,
) -> io::Result<Served> {
    let result = conversation::run(stream, options, handler);
    let _ = Transport::set_timeout(stream, None);
    result
}

// ----- the connection -----------------------------------------------------------------

/// What `run` needs from a connection; [`TlsStream`] in the library, a script in the unit
/// tests.
pub(crate) trait Transport: Read + Write {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    fn end(&mut self);
}

impl Transport for TlsStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn end(&mut self) {
        TlsStream::end(self);
    }
}
