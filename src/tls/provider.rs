//! The crypto provider, and the IANA names of its cipher suites and key-exchange groups.

use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::SupportedCipherSuite;

use crate::error::Error;
use crate::setting::{Naming, Setting};

/// Which cryptography library does the work. Chosen at build time by cargo features; the
/// config is always built with an explicit provider, never rustls's process-wide default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// aws-lc-rs: rustls's default; fastest, offers post-quantum `X25519MLKEM768`.
    #[cfg(feature = "aws-lc-rs")]
    AwsLcRs,
    /// ring: a smaller build.
    #[cfg(feature = "ring")]
    Ring,
}

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "tls-server needs a crypto provider: enable the `aws-lc-rs` (default) or `ring` feature"
);

impl Default for Provider {
    fn default() -> Self {
        #[cfg(feature = "aws-lc-rs")]
        return Provider::AwsLcRs;
        #[cfg(all(not(feature = "aws-lc-rs"), feature = "ring"))]
        return Provider::Ring;
    }
}

impl Provider {
    /// The provider's crate name: `"aws-lc-rs"` or `"ring"`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => "aws-lc-rs",
            #[cfg(feature = "ring")]
            Provider::Ring => "ring",
        }
    }

    /// Parses `aws-lc-rs` or `ring`, if that provider was compiled in.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            #[cfg(feature = "aws-lc-rs")]
            "aws-lc-rs" | "aws_lc_rs" | "aws-lc" => Some(Provider::AwsLcRs),
            #[cfg(feature = "ring")]
            "ring" => Some(Provider::Ring),
            _ => None,
        }
    }

    /// The rustls provider with its default suites and groups.
    pub fn crypto_provider(self) -> CryptoProvider {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::default_provider(),
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::default_provider(),
        }
    }

    /// rustls's recommended session-ticket maker for this provider (12-hour tickets,
    /// keys rotated every 6 hours, random keys per process).
    pub(crate) fn ticketer(
        self,
    ) -> Result<std::sync::Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::Ticketer::new(),
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::Ticketer::new(),
        }
    }

    fn all_suites(self) -> &'static [SupportedCipherSuite] {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES,
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::ALL_CIPHER_SUITES,
        }
    }

    fn all_groups(self) -> &'static [&'static dyn SupportedKxGroup] {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs => rustls::crypto::aws_lc_rs::ALL_KX_GROUPS,
            #[cfg(feature = "ring")]
            Provider::Ring => rustls::crypto::ring::ALL_KX_GROUPS,
        }
    }

    /// Looks up cipher suites by IANA name (case-insensitive), in the given order.
    pub(crate) fn suites_by_name(
        self,
        names: &[String],
        naming: Naming,
    ) -> Result<Vec<SupportedCipherSuite>, Error> {
        let all = self.all_suites();
        names
            .iter()
            .map(|name| {
                all.iter()
                    .find(|s| suite_name(s).eq_ignore_ascii_case(name.trim()))
                    .copied()
                    .ok_or_else(|| {
                        let valid: Vec<String> = all.iter().map(suite_name).collect();
                        naming.error(
                            Setting::CipherSuites,
                            format!("unknown cipher suite {name:?}"),
                            format!("valid names with {}: {}", self.name(), valid.join(", ")),
                        )
                    })
            })
            .collect()
    }

    /// Looks up key-exchange groups by IANA name (case-insensitive), in the given order.
    pub(crate) fn groups_by_name(
        self,
        names: &[String],
        naming: Naming,
    ) -> Result<Vec<&'static dyn SupportedKxGroup>, Error> {
        let all = self.all_groups();
        names
            .iter()
            .map(|name| {
                let wanted = match name.trim().to_ascii_lowercase().as_str() {
                    "p-256" | "prime256v1" => "secp256r1".to_string(),
                    "p-384" => "secp384r1".to_string(),
                    "p-521" => "secp521r1".to_string(),
                    other => other.to_string(),
                };
                all.iter()
                    .find(|g| group_name(g.name()).eq_ignore_ascii_case(&wanted))
                    .copied()
                    .ok_or_else(|| {
                        let valid: Vec<String> = all.iter().map(|g| group_name(g.name())).collect();
                        naming.error(
                            Setting::KxGroups,
                            format!("unknown key-exchange group {name:?}"),
                            format!("valid names with {}: {}", self.name(), valid.join(", ")),
                        )
                    })
            })
            .collect()
    }
}

/// The IANA name of a cipher suite (`TLS_AES_128_GCM_SHA256`); rustls spells TLS 1.3 ones
/// with a `TLS13_` prefix, which no other tool uses.
pub fn suite_name(suite: &SupportedCipherSuite) -> String {
    cipher_suite_name(suite.suite())
}

/// The IANA name of a cipher suite code point.
pub fn cipher_suite_name(suite: rustls::CipherSuite) -> String {
    match suite.as_str() {
        Some(s) => match s.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => s.to_string(),
        },
        None => format!("0x{:04x}", u16::from(suite)),
    }
}

/// The IANA name of a key-exchange group (`x25519`, `secp256r1`, `X25519MLKEM768`).
pub fn group_name(group: rustls::NamedGroup) -> String {
    match group {
        rustls::NamedGroup::X25519 => "x25519".to_string(),
        g => match g.as_str() {
            Some(s) => s.to_string(),
            None => format!("0x{:04x}", u16::from(g)),
        },
    }
}
