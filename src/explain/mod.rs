//! Why a handshake failed, in plain words: the [`TlsClientError`] record with its
//! [`Cause`] and [`Phase`], and why a secure connection failed later, [`ConnectionError`];
//! the decisions that pick a finding (`diagnose.rs`), the sentences for each finding
//! (`catalogue/`), what the client's first bytes are
//! (`sniff.rs`), what its ClientHello offered ([`ClientHello`]), why a certificate chain
//! did not verify (`verification.rs`), and the teaching view of a handshake
//! ([`HandshakeTrace`]; its flights, kept for pages, in a [`HandshakeLog`]).
//!
//! This layer reads what `tls` knows (our certificates, what we accept); it never touches
//! a socket.

pub(crate) mod catalogue;
pub(crate) mod client_hello;
pub(crate) mod diagnose;
pub(crate) mod failure;
pub(crate) mod flights;
pub(crate) mod sniff;
pub(crate) mod trace;
pub(crate) mod verification;

pub use client_hello::ClientHello;
pub use failure::{Cause, ConnectionError, Phase, TlsClientError};
pub use flights::{Flight, HandshakeLog};
pub use trace::HandshakeTrace;
