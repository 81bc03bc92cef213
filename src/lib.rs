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
//! pipelining, limits, an idle timeout) — enough for an HTTPS endpoint without a framework.
//!
//! The rest of Node's `tls.Server` surface:
//!
//! - several certificates by server name — [`ServerOptions::sni`], run-time
//!   [`ServerHandle::add_context`], [`ServerOptions::sni_callback`], and a [`SniFallback`]
//!   policy for clients with no name or an unknown one;
//! - ALPN from a list ([`ServerOptions::alpn`]) or chosen in code
//!   ([`ServerOptions::alpn_callback`]);
//! - session resumption by tickets and a cache, on by default, with ticket keys shared by
//!   several instances ([`ServerOptions::ticket_keys_file`]);
//! - new certificates without a restart ([`ServerHandle::reload`], Node's
//!   `setSecureContext`), checked first, reported as [`Event::Reloaded`].
//!
//! Not supported, by design: TLS 1.0/1.1, renegotiation, RSA key exchange, CBC and DHE
//! suites, encrypted private keys (detected and explained), async runtimes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alpn;
mod certificate;
mod check;
mod client_auth;
mod client_hello;
mod config;
mod connection;
mod credentials;
mod diagnose;
mod error;
mod event;
mod handler;
mod handshake;
pub mod https;
#[doc(hidden)]
pub mod json;
mod keylog;
mod listener;
mod options;
mod pool;
mod probe;
mod provider;
mod reload;
mod server;
mod sni;
mod socket;
mod stream;
mod ticket_keys;
mod timer;
mod trace;
mod worker;

pub use alpn::{AlpnCallback, AlpnOffer};
pub use certificate::CertificateInfo;
pub use check::{check, Check, CheckOptions, CheckReport, Status};
pub use client_auth::AuthorizationError;
pub use client_hello::ClientHello;
pub use credentials::Pem;
pub use diagnose::{Cause, TlsClientError};
pub use error::Error;
pub use event::{EndAck, Event, Events, IntoIter, Payload, RecvError};
pub use handler::{Handler, Handlers};
pub use handshake::Phase;
pub use options::{ClientAuth, ServerOptions, TlsVersion};
pub use probe::{probe, Outcome, ProbeOptions, ProbeReport};
pub use provider::{cipher_suite_name, group_name, suite_name, Provider};
pub use reload::{Reloaded, ServedCertificate};
pub use server::{Server, ServerHandle};
pub use sni::{SecureContext, SniCallback, SniFallback};
pub use socket::{SocketInfo, TlsSocket};
pub use stream::TlsStream;
pub use trace::HandshakeTrace;

/// Re-exported so advanced users can build a [`rustls::ServerConfig`] for
/// [`ServerOptions::server_config`] with the same version we use.
pub use rustls;
