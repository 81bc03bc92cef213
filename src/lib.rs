//! # tls-server
//!
//! A synchronous, thread-per-connection TLS server with the event model of Node.js's
//! `tls.Server` — `connection`, `secureConnection`, `tlsClientError`, `data`, `end`,
//! `close` — that explains every handshake that fails, in plain words, when it fails.
//! No async runtime: a blocking listener, a bounded pool of connection threads that drive
//! rustls by hand, and one channel of [`Event`]s.
//!
//! ```text
//!  TcpListener ── accept ──► pool thread (one per connection, bounded, reused)
//!                              handshake: read_tls → process_new_packets → write_tls
//!                              then read → decrypt → Event::Data
//!                                     │ events (channel)
//!                                     ▼
//!                             your loop / Server::run(handlers), one thread
//!                                     │ TlsSocket::write / end / destroy (never block)
//!                                     └──► back to the connection
//! ```
//!
//! Three ways to use it, one core:
//!
//! 1. **Events** — read [`Event`]s yourself:
//!
//! ```no_run
//! use tls_server::{Event, Server, ServerOptions};
//!
//! let server = Server::bind(
//!     ServerOptions::new()
//!         .cert_file("certs/server.crt")
//!         .key_file("certs/server.key")
//!         .bind("127.0.0.1:0"),
//! )?;
//! for event in server.events() {
//!     match event {
//!         Event::SecureConnection(s) => println!("{} {} {}", s.remote_addr(), s.protocol(), s.cipher()),
//!         Event::Data { socket, data } => { socket.write(&data); }
//!         Event::TlsClientError(e) => eprintln!("{e}"),
//!         _ => {}
//!     }
//! }
//! # Ok::<(), tls_server::Error>(())
//! ```
//!
//! 2. **Handlers** — Node style, with [`Server::run`] and [`Handlers`] (closures) or your
//!    own [`Handler`].
//! 3. **Blocking streams** — [`Server::bind_streams`] hands each connection to your
//!    closure as a [`TlsStream`] (`Read + Write`) on its own thread.
//!
//! On top of the stream style, [`https`] is a small blocking HTTP/1.1 responder (keep-alive,
//! pipelining, limits, an idle timeout) — enough for an HTTPS endpoint without a framework —
//! with pages that draw each connection's own handshake for a browser.
//! Two tools share the server's explanations: [`check`] (is this certificate, key and
//! chain ready to serve?) and [`probe`] (connect as a client and explain).
//!
//! The rest of Node's `tls.Server` surface:
//!
//! - several certificates by server name — [`ServerOptions::sni`], run-time
//!   [`ServerHandle::add_context`], [`ServerOptions::sni_callback`], and a
//!   [`tls::SniFallback`] policy for clients with no name or an unknown one;
//! - ALPN from a list ([`ServerOptions::alpn`]) or chosen in code
//!   ([`ServerOptions::alpn_callback`]);
//! - session resumption by tickets and a cache, on by default, with ticket keys shared by
//!   several instances ([`ServerOptions::ticket_keys_file`]);
//! - new certificates without a restart ([`ServerHandle::reload`], Node's
//!   `setSecureContext`), checked first, reported as [`Event::Reloaded`].
//!
//! Not supported, by design: TLS 1.0/1.1, renegotiation, RSA key exchange, CBC and DHE
//! suites, encrypted private keys (detected and explained), async runtimes.
//!
//! ## Safe to expose by default
//!
//! Each connection holds a thread, so every way a client could hold the server is bounded,
//! and each refusal, eviction or timeout is an event that names its limit
//! ([`Event::Refused`], [`Event::Evicted`], [`Event::Timeout`]):
//! [`ServerOptions::max_connections`] (1,024; a full server closes the longest-idle
//! connection of the address holding the most, or refuses: [`ServerOptions::when_full`]),
//! [`ServerOptions::max_connections_per_address`] (¾ of the cap),
//! [`ServerOptions::max_handshakes`] (¼ of the cap; the oldest silent handshake of the
//! busiest address makes room), [`ServerOptions::client_hello_timeout`] (5 s),
//! [`ServerOptions::handshake_timeout`] (10 s), [`ServerOptions::idle_timeout`] (2 min),
//! [`ServerOptions::read_limit`] and [`ServerOptions::high_water_mark`] (memory per
//! connection), [`ServerOptions::max_queued_events`] (how far your event loop may fall
//! behind). Connection threads end after 30 s without work. The README's "Limits" section
//! and `docs/SECURITY.md` say why these values.

//! ## Where things are
//!
//! The root holds the paved path. The rest is grouped by layer, each module saying what
//! it owns (ARCHITECTURE.md has the map): [`tls`] (certificates, SNI, ALPN, client
//! authentication, providers), [`explain`] (why a handshake failed), [`event`] and
//! [`events`] (what the server tells you), [`check`], [`probe`], [`https`], and
//! [`setting`] (how messages name what you can change).
//!
//! ## Features
//!
//! - `aws-lc-rs` (default) or `ring`: the crypto provider; at least one is needed.
//! - `https` (default): the [`https`] responder (adds httparse).
//! - `probe` (default): the [`probe`] client.
//! - `serde`: `serde::Serialize` for events, socket facts, failures, certificates,
//!   summaries and the `check` and `probe` reports, with the keys of their `to_json` (adds
//!   serde and serde_json).
//! - `proxy-protocol` (default): reading PROXY protocol headers from a load balancer
//!   (adds proxy-header).
//! - `pki`: [`pki`], the test PKI (`tls-server pki`): good and deliberately broken
//!   certificates (adds rcgen).
//! - `fuzzing`: entry points for the fuzzers in `fuzz/` and their regression tests; not an
//!   API.
//!
//! An embedded build: `default-features = false, features = ["ring"]`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Layers, bottom to top; a module imports only from layers below its own (the test
// tests/layers.rs keeps it so, and ARCHITECTURE.md draws it).
pub mod check;
mod connection;
mod error; // base
pub mod event; // the public handles ...
pub mod events;
pub mod explain;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
#[cfg(feature = "https")]
pub mod https;
mod options;
#[cfg(feature = "pki")]
pub mod pki;
#[cfg(feature = "probe")]
pub mod probe;
#[cfg(feature = "serde")]
mod serialize;
mod server;
pub mod setting; // base
mod socket;
mod stream;
mod summary; // ... up to here
pub mod tls;
mod util; // base

pub use connection::SocketInfo;
pub use error::Error;
pub use event::Event;
pub use events::Events;
pub use explain::{ConnectionError, TlsClientError};
pub use handler::{Handler, Handlers};
pub use options::{ProxyProtocol, ServerOptions, WhenFull};
pub use server::{Server, ServerHandle};
pub use socket::TlsSocket;
pub use stream::TlsStream;
pub use summary::Summary;
pub use tls::{ClientAuth, TlsVersion};

/// Re-exported so advanced users can build a [`rustls::ServerConfig`] for
/// [`ServerOptions::server_config`] with the same version we use.
pub use rustls;
