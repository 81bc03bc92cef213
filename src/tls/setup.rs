//! Turning the TLS options into a checked rustls configuration — a [`Setup`] — and giving
//! each handshake its own copy whose callbacks write to that handshake's record.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::{ServerConfig, SupportedProtocolVersion};

use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::accepts::Accepts;
use crate::tls::alpn::AlpnCallback;
use crate::tls::client_auth::{self, ClientAuth, ClientVerifier, Trust};
use crate::tls::context::SecureContext;
use crate::tls::keylog::KeyLogFile;
use crate::tls::options::{SniSource, TlsOptions, TlsVersion};
use crate::tls::provider::suite_both_names;
use crate::tls::record::HandshakeRecord;
use crate::tls::sni::{self, Resolver, SniFallback, Table};
use crate::tls::ticket_keys;

/// One validated TLS setup: what new connections use until the next reload.
pub(crate) struct Setup {
    /// The configuration as built; each handshake gets a copy from [`config_for`](Self::config_for).
    config: Arc<ServerConfig>,
    /// Our side of each negotiation, to explain failures.
    pub accepts: Accepts,
    /// Our certificate resolver (absent for a ready-made `ServerConfig`).
    pub resolver: Option<Arc<Resolver>>,
    /// Our client-certificate verifier, when client authentication is on.
    verifier: Option<ClientVerifier>,
    versions: Vec<&'static SupportedProtocolVersion>,
    pub alpn_callback: Option<Arc<AlpnCallback>>,
    /// Kept so a reload can carry sessions over (see [`build`]).
    session_cache_size: usize,
    memory_tickets: bool,
}

impl Setup {
    /// Every certificate served: the default (named `(default)`) and each SNI entry.
    pub(crate) fn served(&self) -> Vec<(String, SecureContext)> {
        self.resolver
            .as_ref()
            .map(|r| r.served())
            .unwrap_or_default()
    }

    /// The configuration for one handshake: ours, with a resolver and a client verifier
    /// that write what they see into `record`. A ready-made configuration is used as it is.
    pub(crate) fn config_for(&self, record: &HandshakeRecord) -> ServerConfig {
        let Some(resolver) = &self.resolver else {
            return ServerConfig::clone(&self.config);
        };
        let mut config = match &self.verifier {
            None => ServerConfig::clone(&self.config),
            // The verifier is private to rustls's configuration: a copy with another one is
            // built afresh, then given every public setting of ours.
            Some(verifier) => {
                with_verifier(&self.config, &self.versions, verifier.recording(record))
            }
        };
        config.cert_resolver = Arc::new(sni::Recording {
            resolver: resolver.clone(),
            record: record.clone(),
        });
        config
    }
}

/// `base` with another client verifier.
fn with_verifier(
    base: &ServerConfig,
    versions: &[&'static SupportedProtocolVersion],
    verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
) -> ServerConfig {
    let mut config = ServerConfig::builder_with_provider(base.crypto_provider().clone())
        .with_protocol_versions(versions)
        .expect("the same provider and versions were accepted when the setup was built")
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(base.cert_resolver.clone());
    config.ignore_client_order = base.ignore_client_order;
    config.max_fragment_size = base.max_fragment_size;
    config.session_storage = base.session_storage.clone();
    config.ticketer = base.ticketer.clone();
    config.alpn_protocols = base.alpn_protocols.clone();
    config.key_log = base.key_log.clone();
    config.enable_secret_extraction = base.enable_secret_extraction;
    config.max_early_data_size = base.max_early_data_size;
    config.send_half_rtt_data = base.send_half_rtt_data;
    config.send_tls13_tickets = base.send_tls13_tickets;
    config.require_ems = base.require_ems;
    config.time_provider = base.time_provider.clone();
    config.cert_compressors = base.cert_compressors.clone();
    config.cert_compression_cache = base.cert_compression_cache.clone();
    config.cert_decompressors = base.cert_decompressors.clone();
    config
}

/// Builds and checks the rustls configuration, or explains what is wrong.
///
/// With `previous` (a reload), run-time SNI additions are kept, and so are the session
/// cache and the in-memory ticket keys when their settings did not change, so clients
/// resume across the reload. Ticket keys from a file are read again (that is how they
/// rotate).
pub(crate) fn build(options: &TlsOptions, previous: Option<&Setup>) -> Result<Setup, Error> {
    let naming = options.naming;
    let versions = protocol_versions(&options.versions, naming)?;
    crate::tls::alpn::check_names(&options.alpn, naming)?;
    if let Some(config) = &options.server_config {
        let trust = Trust {
            mode: options.client_auth,
            ca_names: Vec::new(),
            naming,
        };
        return Ok(Setup {
            accepts: Accepts::new(config, None, None, trust, &[]),
            config: config.clone(),
            resolver: None,
            verifier: None,
            versions,
            alpn_callback: options.alpn_callback.as_ref().map(|c| c.0.clone()),
            session_cache_size: 0,
            memory_tickets: false,
        });
    }
    let mut provider = options.provider.crypto_provider();
    if let Some(names) = &options.cipher_suites {
        provider.cipher_suites = options.provider.suites_by_name(names, naming)?;
    }
    if let Some(names) = &options.kx_groups {
        provider.kx_groups = options.provider.groups_by_name(names, naming)?;
    }
    if !provider
        .cipher_suites
        .iter()
        .any(|s| versions.iter().any(|v| s.version() == *v))
    {
        return Err(naming.error(
            Setting::CipherSuites,
            format!(
                "none of the chosen cipher suites works with {}",
                options
                    .versions
                    .iter()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            "TLS 1.3 suites start with TLS_AES_ or TLS_CHACHA20_, TLS 1.2 ones with TLS_ECDHE_ (in OpenSSL's names, ECDHE-)",
        ));
    }
    let resolver = resolver(options, &provider, previous)?;
    let default = resolver
        .default_context()
        .cloned()
        .or_else(|| resolver.table().entries().next().map(|(_, c)| c.clone()));
    suites_fit_the_keys(&provider, &versions, &resolver, naming)?;
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
        naming,
    )?;
    let mut base = base_config(
        options,
        provider,
        &versions,
        verifier.as_ref(),
        resolver,
        previous,
    )?;
    tune(options, &mut base.config)?;
    Ok(Setup {
        accepts: Accepts::new(
            &base.config,
            Some(&options.versions),
            key_algorithm,
            trust,
            &chain,
        ),
        config: Arc::new(base.config),
        resolver: Some(base.resolver),
        verifier,
        versions,
        alpn_callback: options.alpn_callback.as_ref().map(|c| c.0.clone()),
        session_cache_size: base.session_cache_size,
        memory_tickets: base.memory_tickets,
    })
}

/// Every certificate can be served with one of the enabled suites: TLS 1.3 suites fit any
/// key, but each TLS 1.2 suite names one (`TLS_ECDHE_RSA_…`, `TLS_ECDHE_ECDSA_…`). A list
/// of TLS 1.2 suites for the other key type would start and then fail every handshake.
fn suites_fit_the_keys(
    provider: &CryptoProvider,
    versions: &[&'static SupportedProtocolVersion],
    resolver: &Resolver,
    naming: Naming,
) -> Result<(), Error> {
    let enabled: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|s| versions.iter().any(|v| s.version() == *v))
        .collect();
    let table = resolver.table();
    let contexts = resolver
        .default_context()
        .map(|c| ("the default certificate".to_string(), c))
        .into_iter()
        .chain(
            table
                .entries()
                .map(|(name, c)| (format!("the certificate for {name}"), c)),
        );
    for (which, context) in contexts {
        let algorithm = context.certified_key().key.algorithm();
        if !enabled
            .iter()
            .any(|s| s.usable_for_signature_algorithm(algorithm))
        {
            let (kind, example) = match algorithm {
                rustls::SignatureAlgorithm::RSA => (
                    "RSA",
                    rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                ),
                _ => (
                    "ECDSA",
                    rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                ),
            };
            return Err(naming.error(
                Setting::CipherSuites,
                format!(
                    "none of the chosen cipher suites can be used with {which}, whose key is {kind}: every handshake would fail (a TLS 1.2 suite names the key type it signs with)"
                ),
                format!(
                    "choose suites for an {kind} key, e.g. {}, or allow TLS 1.3 suites, which fit any key",
                    suite_both_names(example)
                ),
            ));
        }
    }
    Ok(())
}

/// The rustls configuration with our resolver, sessions, tickets and key log.
struct Base {
    config: ServerConfig,
    resolver: Arc<Resolver>,
    /// For the next reload: the cache size, and whether ticket keys are in memory.
    session_cache_size: usize,
    memory_tickets: bool,
}

fn base_config(
    options: &TlsOptions,
    provider: Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    verifier: Option<&ClientVerifier>,
    resolver: Resolver,
    previous: Option<&Setup>,
) -> Result<Base, Error> {
    let naming = options.naming;
    let builder = ServerConfig::builder_with_provider(provider).with_protocol_versions(versions)?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v.recording(&HandshakeRecord::default())),
        None => builder.with_no_client_auth(),
    };
    let resolver = Arc::new(resolver);
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = options.alpn.clone();
    // Inspect mode decides `authorized` from a fresh verification of the presented
    // certificate; a resumed session would skip it, so resumption is off there.
    let inspect = options.client_auth == ClientAuth::Inspect;
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
        let keys = naming.of(Setting::TicketKeys);
        return Err(if inspect {
            naming.error(
                Setting::TicketKeys,
                "session tickets are off in client-auth inspect mode (a resumed session would skip the certificate check), so ticket keys cannot be used",
                format!(
                    "drop {keys} or choose another {} mode",
                    naming.of(Setting::ClientAuth)
                ),
            )
        } else {
            naming.error(
                Setting::TicketKeys,
                format!(
                    "session tickets are turned off ({}), so the ticket keys would not be used",
                    naming.of(Setting::SessionTickets)
                ),
                "drop one of the two",
            )
        });
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
    Ok(Base {
        config,
        resolver,
        session_cache_size: cache_size,
        memory_tickets,
    })
}

/// The knobs of [`TlsOptions`] that map onto one field of the rustls configuration each,
/// then the user's [`ServerOptions::configure`](crate::ServerOptions::configure) hook.
fn tune(options: &TlsOptions, config: &mut ServerConfig) -> Result<(), Error> {
    if let Some(n) = options.tickets_per_handshake {
        config.send_tls13_tickets = n;
    }
    if let Some(size) = options.max_fragment_size {
        // rustls's bounds: at least 32, at most a full record (16 KiB + its 5-byte header).
        if !(32..=16_384 + 5).contains(&size) {
            return Err(options.naming.error(
                Setting::MaxFragmentSize,
                format!("{size} bytes is not a record size TLS can use"),
                "give 32 to 16389 bytes, the 5-byte record header included (e.g. 1400 to fit one TCP segment)",
            ));
        }
        config.max_fragment_size = Some(size);
    }
    config.ignore_client_order = options.honor_cipher_order;
    if let Some(configure) = &options.configure {
        (configure.0)(config);
    }
    Ok(())
}

/// The default certificate and every SNI entry, each loaded and checked now (a key that
/// does not match, a certificate that does not cover its name) rather than when a client
/// arrives.
fn resolver(
    options: &TlsOptions,
    provider: &CryptoProvider,
    previous: Option<&Setup>,
) -> Result<Resolver, Error> {
    let naming = options.naming;
    let mut configured = Vec::new();
    for (name, source) in &options.sni {
        let pattern = sni::normalize_pattern(name, naming)?;
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
        (Some(_), None) => {
            return Err(naming.error(
                Setting::Key,
                "no private key given",
                "pass the PEM private key file (or bytes) of the certificate",
            ))
        }
        (None, Some(_)) => {
            return Err(naming.error(
                Setting::Cert,
                "no certificate given",
                "pass a PEM certificate chain file (or bytes)",
            ))
        }
        (None, None) => None,
    };
    let servable_by_name = !configured.is_empty() || options.sni_callback.is_some();
    if default.is_none() && !(servable_by_name && options.sni_fallback == SniFallback::Refuse) {
        return Err(if servable_by_name {
            naming.error(
                Setting::Cert,
                "no default certificate given",
                format!(
                    "pass {} and {} for clients that send no name or an unknown one, or refuse them with {} refuse",
                    naming.of(Setting::Cert),
                    naming.of(Setting::Key),
                    naming.of(Setting::SniFallback)
                ),
            )
        } else {
            naming.error(
                Setting::Cert,
                "no certificate given",
                "pass a PEM certificate chain file (or bytes)",
            )
        });
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
    naming: Naming,
) -> Result<Vec<&'static SupportedProtocolVersion>, Error> {
    if versions.is_empty() {
        return Err(naming.error(
            Setting::Versions,
            "no protocol version enabled",
            "allow 1.2, 1.3 or both",
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
