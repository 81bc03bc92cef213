//! Turning [`ServerOptions`] into a validated `rustls::ServerConfig`.

use std::sync::Arc;

use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::ServerConfig;

use crate::alpn::AlpnCallback;
use crate::client_auth::{self, Trust};
use crate::diagnose::Settings;
use crate::keylog::KeyLogFile;
use crate::options::{ServerOptions, SniSource, TlsVersion};
use crate::sni::{self, Resolver, SecureContext, SniFallback, Table};
use crate::{ticket_keys, Error};

/// One validated TLS setup: what new connections use until the next reload.
pub(crate) struct Tls {
    pub config: Arc<ServerConfig>,
    /// Our side of each negotiation, to explain failures.
    pub settings: Settings,
    /// Our certificate resolver (absent for a ready-made `ServerConfig`).
    pub resolver: Option<Arc<Resolver>>,
    pub alpn_callback: Option<Arc<AlpnCallback>>,
    /// Kept so a reload can carry sessions over (see [`build`]).
    session_cache_size: usize,
    memory_tickets: bool,
}

impl Tls {
    /// Every certificate served: the default (named `(default)`) and each SNI entry.
    pub(crate) fn served(&self) -> Vec<(String, SecureContext)> {
        self.resolver
            .as_ref()
            .map(|r| r.served())
            .unwrap_or_default()
    }
}

/// Builds and checks the rustls configuration, or explains in one sentence what is wrong.
///
/// With `previous` (a reload), run-time SNI additions are kept, and so are the session
/// cache and the in-memory ticket keys when their settings did not change, so clients
/// resume across the reload. Ticket keys from a file are read again (that is how they
/// rotate).
pub(crate) fn build(options: &ServerOptions, previous: Option<&Tls>) -> Result<Tls, Error> {
    let versions = protocol_versions(&options.versions)?;
    if let Some(config) = &options.server_config {
        let settings = Settings::new(
            config,
            None,
            None,
            options.handshake_timeout,
            Trust {
                mode: options.client_auth,
                ca_names: Vec::new(),
            },
            &[],
        );
        return Ok(Tls {
            config: config.clone(),
            settings,
            resolver: None,
            alpn_callback: options.alpn_callback.as_ref().map(|c| c.0.clone()),
            session_cache_size: 0,
            memory_tickets: false,
        });
    }
    let mut provider = options.provider.crypto_provider();
    if let Some(names) = &options.cipher_suites {
        provider.cipher_suites = options.provider.suites_by_name(names)?;
    }
    if let Some(names) = &options.kx_groups {
        provider.kx_groups = options.provider.groups_by_name(names)?;
    }
    if !provider
        .cipher_suites
        .iter()
        .any(|s| versions.iter().any(|v| s.version() == *v))
    {
        return Err(Error::option(
            "--ciphers",
            format!(
                "none of the chosen cipher suites works with {} — TLS 1.3 suites start with TLS_AES_ or TLS_CHACHA20_, TLS 1.2 ones with TLS_ECDHE_",
                options.versions.iter().map(|v| v.name()).collect::<Vec<_>>().join(" or ")
            ),
        ));
    }
    let resolver = resolver(options, &provider, previous)?;
    let default = resolver
        .default_context()
        .cloned()
        .or_else(|| resolver.table().entries().next().map(|(_, c)| c.clone()));
    let key_algorithm = default
        .as_ref()
        .map(|c| format!("{:?}", c.certified_key().key.algorithm()));
    let chain: Vec<_> = default
        .as_ref()
        .map(|c| c.certified_key().cert.clone())
        .unwrap_or_default();
    let provider = Arc::new(provider);
    let (verifier, trust) = client_auth::verifier(
        options.client_auth,
        &options.client_cas,
        &options.crls,
        &provider,
    )?;
    let builder =
        ServerConfig::builder_with_provider(provider).with_protocol_versions(&versions)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let resolver = Arc::new(resolver);
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = options.alpn.clone();
    // Inspect mode decides `authorized` from a fresh verification of the presented
    // certificate; a resumed session would skip it, so resumption is off there.
    let inspect = options.client_auth == crate::ClientAuth::Inspect;
    let cache_size = if inspect {
        0
    } else {
        options.session_cache_size
    };
    config.session_storage = match previous {
        Some(p) if cache_size > 0 && p.session_cache_size == cache_size => {
            p.config.session_storage.clone()
        }
        _ if cache_size == 0 => {
            Arc::new(NoServerSessionStorage {}) as Arc<dyn StoresServerSessions>
        }
        _ => ServerSessionMemoryCache::new(cache_size),
    };
    if let Some(path) = &options.key_log {
        config.key_log = Arc::new(KeyLogFile::create(path)?);
    }
    let tickets = options.session_tickets && !inspect;
    if options.ticket_keys.is_some() && !tickets {
        return Err(Error::option(
            "--ticket-keys",
            if inspect {
                "session tickets are off in client-auth inspect mode (a resumed session would skip the certificate check), so ticket keys cannot be used — drop --ticket-keys or choose another --client-auth mode"
            } else {
                "session tickets are turned off (--no-tickets), so the ticket keys would not be used — drop one of the two"
            },
        ));
    }
    let memory_tickets = tickets && options.ticket_keys.is_none();
    if tickets {
        config.ticketer = match (&options.ticket_keys, previous) {
            (Some(path), _) => {
                let keys = ticket_keys::load(path)?;
                if let Some(warning) = ticket_keys::permission_warning(path) {
                    log::warn!("{warning}");
                }
                log::info!("session tickets: {}", keys.description());
                keys as Arc<dyn ProducesTickets>
            }
            (None, Some(p)) if p.memory_tickets => p.config.ticketer.clone(),
            (None, _) => options.provider.ticketer()?,
        };
    }
    let settings = Settings::new(
        &config,
        Some(&options.versions),
        key_algorithm,
        options.handshake_timeout,
        trust,
        &chain,
    );
    Ok(Tls {
        config: Arc::new(config),
        settings,
        resolver: Some(resolver),
        alpn_callback: options.alpn_callback.as_ref().map(|c| c.0.clone()),
        session_cache_size: cache_size,
        memory_tickets,
    })
}

/// The default certificate and every SNI entry, each loaded and checked now (a key that
/// does not match, a certificate that does not cover its name) rather than when a client
/// arrives.
fn resolver(
    options: &ServerOptions,
    provider: &rustls::crypto::CryptoProvider,
    previous: Option<&Tls>,
) -> Result<Resolver, Error> {
    let mut configured = Vec::new();
    for (name, source) in &options.sni {
        let pattern = sni::normalize_pattern(name)?;
        let ctx = match source {
            SniSource::Files { cert, key } => SecureContext::load(cert, key, provider)?,
            SniSource::Context(ctx) => ctx.clone(),
        };
        sni::check_covers(&pattern, &ctx)?;
        configured.push((pattern, ctx));
    }
    let added = previous
        .and_then(|p| p.resolver.as_ref())
        .map(|r| r.table().added())
        .unwrap_or_default();
    let default = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => Some(SecureContext::load(cert, key, provider)?),
        (Some(_), None) => return Err(Error::option(
            "--key",
            "no private key given — pass the PEM private key file (or bytes) of the certificate",
        )),
        (None, Some(_)) => {
            return Err(Error::option(
                "--cert",
                "no certificate given — pass a PEM certificate chain file (or bytes)",
            ))
        }
        (None, None) => None,
    };
    let servable_by_name = !configured.is_empty() || options.sni_callback.is_some();
    if default.is_none() && !(servable_by_name && options.sni_fallback == SniFallback::Refuse) {
        return Err(Error::option(
            "--cert",
            if servable_by_name {
                "no default certificate given — pass --cert and --key for clients that send no name or an unknown one, or refuse them with --sni-fallback refuse"
            } else {
                "no certificate given — pass a PEM certificate chain file (or bytes)"
            },
        ));
    }
    Ok(Resolver::new(
        default,
        Table::new(configured, added),
        options.sni_callback.as_ref().map(|c| c.0.clone()),
        options.sni_fallback,
    ))
}

fn protocol_versions(
    versions: &[TlsVersion],
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Error> {
    if versions.is_empty() {
        return Err(Error::option(
            "--tls-versions",
            "no protocol version enabled — allow 1.2, 1.3 or both",
        ));
    }
    let mut out = Vec::new();
    if versions.contains(&TlsVersion::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if versions.contains(&TlsVersion::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    Ok(out)
}
