//! The TLS half of [`ServerOptions`](crate::ServerOptions): everything that becomes the
//! rustls configuration, and that a reload replaces. The builder methods that set these
//! fields, with their defaults, are on `ServerOptions`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::setting::Naming;
use crate::tls::alpn::AlpnCallback;
use crate::tls::client_auth::ClientAuth;
use crate::tls::context::SecureContext;
use crate::tls::credentials::Pem;
use crate::tls::provider::Provider;
use crate::tls::sni::{SniCallback, SniFallback};

/// A user callback, shared by every connection thread (shown as `<callback>` in `Debug`).
pub(crate) struct Callback<T: ?Sized>(pub Arc<T>);

impl<T: ?Sized> Clone for Callback<T> {
    fn clone(&self) -> Self {
        Callback(self.0.clone())
    }
}

impl<T: ?Sized> std::fmt::Debug for Callback<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<callback>")
    }
}

/// A function that adjusts the rustls configuration after it is built
/// ([`ServerOptions::configure`](crate::ServerOptions::configure)).
pub(crate) type ConfigureFn = dyn Fn(&mut rustls::ServerConfig) + Send + Sync;

/// Where a certificate served by name comes from.
#[derive(Clone, Debug)]
pub(crate) enum SniSource {
    Files { cert: Pem, key: Pem },
    Context(SecureContext),
}

/// A TLS protocol version the server may accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246), ECDHE + AEAD suites only.
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl TlsVersion {
    /// The name Node and OpenSSL use: `"TLSv1.2"` or `"TLSv1.3"`.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    /// Parses `1.2`, `1.3`, `TLSv1.2`, `tls1.3`, ...
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.trim_start_matches("tlsv").trim_start_matches("tls");
        match s {
            "1.2" | "12" => Some(TlsVersion::Tls12),
            "1.3" | "13" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }
}

/// The TLS settings of a server, as given (checked only when built).
#[derive(Clone, Debug)]
pub(crate) struct TlsOptions {
    pub cert: Option<Pem>,
    pub key: Option<Pem>,
    pub versions: Vec<TlsVersion>,
    pub cipher_suites: Option<Vec<String>>,
    pub kx_groups: Option<Vec<String>>,
    pub alpn: Vec<Vec<u8>>,
    pub alpn_callback: Option<Callback<AlpnCallback>>,
    pub sni: Vec<(String, SniSource)>,
    pub sni_fallback: SniFallback,
    pub sni_callback: Option<Callback<SniCallback>>,
    pub ticket_keys: Option<PathBuf>,
    pub client_auth: ClientAuth,
    pub reject_unauthorized: bool,
    pub client_cas: Vec<Pem>,
    pub crls: Vec<Pem>,
    pub session_cache_size: usize,
    pub session_tickets: bool,
    pub key_log: Option<PathBuf>,
    pub provider: Provider,
    pub server_config: Option<Arc<rustls::ServerConfig>>,
    /// TLS 1.3 tickets sent after each full handshake (`None`: rustls's default, 2).
    pub tickets_per_handshake: Option<usize>,
    /// The largest record we send, header included (`None`: 16 KiB of plaintext).
    pub max_fragment_size: Option<usize>,
    /// Choose the cipher suite by our order, not the client's.
    pub honor_cipher_order: bool,
    pub configure: Option<Callback<ConfigureFn>>,
    /// How messages name settings.
    pub naming: Naming,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            cert: None,
            key: None,
            versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            cipher_suites: None,
            kx_groups: None,
            alpn: Vec::new(),
            alpn_callback: None,
            sni: Vec::new(),
            sni_fallback: SniFallback::Default,
            sni_callback: None,
            ticket_keys: None,
            client_auth: ClientAuth::Off,
            reject_unauthorized: true,
            client_cas: Vec::new(),
            crls: Vec::new(),
            session_cache_size: 256,
            session_tickets: true,
            key_log: None,
            provider: Provider::default(),
            server_config: None,
            tickets_per_handshake: None,
            max_fragment_size: None,
            honor_cipher_order: false,
            configure: None,
            naming: Naming::default(),
        }
    }
}
