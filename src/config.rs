//! Turning [`ServerOptions`] into a validated `rustls::ServerConfig`.

use std::sync::Arc;

use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::ServerConfig;

use crate::client_auth::{self, Trust};
use crate::credentials;
use crate::keylog::KeyLogFile;
use crate::options::{ServerOptions, TlsVersion};
use crate::Error;

/// A validated configuration, with what we know of our own certificate.
pub(crate) struct Built {
    pub config: Arc<ServerConfig>,
    /// The certificate key's algorithm (`ECDSA`, `RSA`, `ED25519`), when we loaded it.
    pub key_algorithm: Option<String>,
    /// Client-certificate trust, to explain rejections.
    pub trust: Trust,
    /// Our certificate chain, to explain why a client may refuse it.
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Builds the rustls configuration, or explains in one sentence what is wrong.
pub(crate) fn build(options: &ServerOptions) -> Result<Built, Error> {
    if let Some(config) = &options.server_config {
        return Ok(Built {
            config: config.clone(),
            key_algorithm: None,
            trust: Trust {
                mode: options.client_auth,
                ca_names: Vec::new(),
            },
            chain: Vec::new(),
        });
    }
    let mut provider = options.provider.crypto_provider();
    if let Some(names) = &options.cipher_suites {
        provider.cipher_suites = options.provider.suites_by_name(names)?;
    }
    if let Some(names) = &options.kx_groups {
        provider.kx_groups = options.provider.groups_by_name(names)?;
    }
    let versions = protocol_versions(&options.versions)?;
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
    let cert = options.cert.as_ref().ok_or_else(|| {
        Error::option(
            "--cert",
            "no certificate given — pass a PEM certificate chain file (or bytes)",
        )
    })?;
    let key = options.key.as_ref().ok_or_else(|| {
        Error::option(
            "--key",
            "no private key given — pass the PEM private key file (or bytes) of the certificate",
        )
    })?;
    let certified = credentials::load_certified_key(cert, key, &provider)?;
    let key_algorithm = format!("{:?}", certified.key.algorithm());
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
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified_clone(
        &certified,
    ))));
    config.alpn_protocols = options.alpn.clone();
    // Inspect mode decides `authorized` from a fresh verification of the presented
    // certificate; a resumed session would skip it, so resumption is off there.
    config.session_storage =
        if options.session_cache_size == 0 || options.client_auth == crate::ClientAuth::Inspect {
            Arc::new(NoServerSessionStorage {})
        } else {
            ServerSessionMemoryCache::new(options.session_cache_size)
        };
    if let Some(path) = &options.key_log {
        config.key_log = Arc::new(KeyLogFile::create(path)?);
    }
    if options.session_tickets && options.client_auth != crate::ClientAuth::Inspect {
        config.ticketer = options.provider.ticketer()?;
    }
    Ok(Built {
        config: Arc::new(config),
        key_algorithm: Some(key_algorithm),
        trust,
        chain: certified.cert.clone(),
    })
}

fn certified_clone(key: &Arc<CertifiedKey>) -> CertifiedKey {
    CertifiedKey::clone(key)
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
