//! What we accept in a handshake — versions, suites, groups, ALPN, our certificate chain,
//! the client CAs — kept beside each TLS setup so that a failure can be explained against
//! what the client offered.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::{ProtocolVersion, ServerConfig};

use crate::setting::Naming;
use crate::tls::certificate::CertificateInfo;
use crate::tls::client_auth::Trust;
use crate::tls::context::SecureContext;
use crate::tls::options::TlsVersion;
use crate::tls::provider::{group_name, suite_both_names};

/// Our side of each negotiation.
#[derive(Clone)]
pub(crate) struct Accepts {
    pub versions: Vec<String>,
    /// Each suite's IANA name, with OpenSSL's in parentheses when it differs.
    pub suites: Vec<String>,
    pub groups: Vec<String>,
    pub alpn: Vec<String>,
    /// The type of our certificate's key, as rustls names it (`ECDSA`, `RSA`, ...).
    pub key_algorithm: Option<String>,
    pub trust: Trust,
    pub provider: Arc<CryptoProvider>,
    /// Our own certificate chain, leaf first (empty for a ready-made config).
    pub chain: Vec<CertificateInfo>,
    /// How fixes name our settings.
    pub naming: Naming,
}

impl Accepts {
    /// `versions`: the ones we enabled, or `None` for a ready-made config (then the
    /// versions its cipher suites cover are shown).
    pub(crate) fn new(
        config: &ServerConfig,
        versions: Option<&[TlsVersion]>,
        key_algorithm: Option<String>,
        trust: Trust,
        chain: &[CertificateDer<'static>],
    ) -> Accepts {
        let provider = config.crypto_provider();
        let versions = match versions {
            Some(v) => {
                let mut v = v.to_vec();
                v.sort_unstable_by(|a, b| b.cmp(a));
                v.dedup();
                v.into_iter().map(|v| v.name().to_string()).collect()
            }
            None => [
                (ProtocolVersion::TLSv1_3, TlsVersion::Tls13),
                (ProtocolVersion::TLSv1_2, TlsVersion::Tls12),
            ]
            .into_iter()
            .filter(|(v, _)| {
                provider
                    .cipher_suites
                    .iter()
                    .any(|s| s.version().version == *v)
            })
            .map(|(_, v)| v.name().to_string())
            .collect(),
        };
        Accepts {
            versions,
            suites: provider
                .cipher_suites
                .iter()
                .map(|s| suite_both_names(s.suite()))
                .collect(),
            groups: provider
                .kx_groups
                .iter()
                .map(|g| group_name(g.name()))
                .collect(),
            alpn: config
                .alpn_protocols
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
            key_algorithm,
            naming: trust.naming,
            trust,
            provider: provider.clone(),
            chain: chain
                .iter()
                .filter_map(|c| CertificateInfo::parse(c, provider))
                .collect(),
        }
    }

    /// The same, for a client that was served `ctx` (one of several certificates by name)
    /// rather than the default certificate.
    pub(crate) fn served(&self, ctx: &SecureContext) -> Accepts {
        Accepts {
            chain: ctx.chain().to_vec(),
            key_algorithm: Some(format!("{:?}", ctx.certified_key().key.algorithm())),
            ..self.clone()
        }
    }
}
