//! Turning options into a rustls configuration, and everything TLS that is not the
//! connection itself: the crypto provider, certificate and key files, several
//! certificates by name (SNI), ALPN, client authentication, session-ticket keys, the key
//! log, and what each handshake's callbacks record.
//!
//! This layer knows nothing of sockets, threads or events. It sits just above
//! `error`, [`setting`](crate::setting) and `util`; everything else
//! builds on it (see ARCHITECTURE.md).

pub(crate) mod accepts;
pub(crate) mod alpn;
pub(crate) mod certificate;
pub(crate) mod client_auth;
pub(crate) mod context;
pub(crate) mod credentials;
pub(crate) mod keylog;
pub(crate) mod options;
pub(crate) mod provider;
pub(crate) mod record;
pub(crate) mod served;
pub(crate) mod setup;
pub(crate) mod sni;
pub(crate) mod ticket_keys;
pub(crate) mod trust_store;

pub use alpn::{AlpnCallback, AlpnOffer};
pub use certificate::CertificateInfo;
pub use client_auth::{AuthorizationError, ClientAuth};
pub use context::SecureContext;
pub use options::TlsVersion;
pub use provider::{
    cipher_suite_name, group_name, openssl_cipher_suite_name, suite_name, Provider,
};
pub use served::{Reloaded, ServedCertificate};
pub use sni::{SniCallback, SniFallback};
