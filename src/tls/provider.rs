//! The crypto provider, and the names of its cipher suites (IANA's and OpenSSL's) and
//! key-exchange groups (IANA's).

use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{CipherSuite, SupportedCipherSuite};

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

    /// Looks up cipher suites by IANA name or OpenSSL name (case-insensitive), in the
    /// given order.
    pub(crate) fn suites_by_name(
        self,
        names: &[String],
        naming: Naming,
    ) -> Result<Vec<SupportedCipherSuite>, Error> {
        let all = self.all_suites();
        names
            .iter()
            .map(|name| {
                let wanted = name.trim();
                all.iter()
                    .find(|s| {
                        suite_name(s).eq_ignore_ascii_case(wanted)
                            || openssl_cipher_suite_name(s.suite())
                                .is_some_and(|o| o.eq_ignore_ascii_case(wanted))
                    })
                    .copied()
                    .ok_or_else(|| {
                        let valid: Vec<String> =
                            all.iter().map(|s| suite_both_names(s.suite())).collect();
                        naming.error(
                            Setting::CipherSuites,
                            format!("unknown cipher suite {name:?}"),
                            format!(
                                "valid names with {} (IANA's, or OpenSSL's in parentheses): {}",
                                self.name(),
                                valid.join(", ")
                            ),
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

/// The IANA name of a cipher suite code point (Node's `getCipher().standardName`).
pub fn cipher_suite_name(suite: CipherSuite) -> String {
    match suite.as_str() {
        Some(s) => match s.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => s.to_string(),
        },
        None => format!("0x{:04x}", u16::from(suite)),
    }
}

/// OpenSSL's names for the cipher suites rustls 0.23 offers, as `openssl ciphers -stdname`
/// pairs them with the IANA names. OpenSSL calls TLS 1.3 suites by their IANA names.
const OPENSSL_NAMES: [(CipherSuite, &str); 9] = [
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// OpenSSL's name of a cipher suite (Node's `getCipher().name`):
/// `ECDHE-ECDSA-AES256-GCM-SHA384` for `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`, and the
/// IANA name for a TLS 1.3 suite, as OpenSSL has it. `None` for a suite rustls does not
/// offer (only a ready-made configuration with another provider could negotiate one).
pub fn openssl_cipher_suite_name(suite: CipherSuite) -> Option<&'static str> {
    OPENSSL_NAMES
        .iter()
        .find(|(s, _)| *s == suite)
        .map(|(_, name)| *name)
}

/// OpenSSL's name of a cipher suite, or its IANA name when OpenSSL's is not known.
pub(crate) fn openssl_or_iana_name(suite: CipherSuite) -> String {
    openssl_cipher_suite_name(suite).map_or_else(|| cipher_suite_name(suite), str::to_string)
}

/// Both names of a cipher suite, for people: the IANA name, then OpenSSL's in parentheses
/// when it differs (`TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
/// (ECDHE-ECDSA-AES256-GCM-SHA384)`); a TLS 1.3 suite has one name
/// (`TLS_AES_256_GCM_SHA384`).
pub(crate) fn suite_both_names(suite: CipherSuite) -> String {
    both_names(&cipher_suite_name(suite), &openssl_or_iana_name(suite))
}

/// `iana (openssl)`, or `iana` alone when they are the same.
pub(crate) fn both_names(iana: &str, openssl: &str) -> String {
    if iana == openssl {
        iana.to_string()
    } else {
        format!("{iana} ({openssl})")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn providers() -> Vec<Provider> {
        vec![
            #[cfg(feature = "aws-lc-rs")]
            Provider::AwsLcRs,
            #[cfg(feature = "ring")]
            Provider::Ring,
        ]
    }

    #[test]
    fn every_suite_a_provider_offers_has_an_openssl_name_that_finds_it_again() {
        for provider in providers() {
            let offered = provider.all_suites();
            assert_eq!(offered.len(), OPENSSL_NAMES.len(), "{}", provider.name());
            for suite in offered {
                let iana = suite_name(suite);
                let openssl = openssl_cipher_suite_name(suite.suite())
                    .unwrap_or_else(|| panic!("{iana} has no OpenSSL name"));
                // TLS 1.3 suites keep their IANA name in OpenSSL; TLS 1.2 ones do not.
                let tls13 = suite.version().version == rustls::ProtocolVersion::TLSv1_3;
                assert_eq!(openssl == iana, tls13, "{iana} / {openssl}");
                for typed in [
                    openssl.to_string(),
                    openssl.to_ascii_lowercase(),
                    format!(" {iana} "),
                    iana.to_ascii_lowercase(),
                ] {
                    let found = provider
                        .suites_by_name(std::slice::from_ref(&typed), Naming::default())
                        .unwrap_or_else(|e| panic!("{typed:?}: {e}"));
                    assert_eq!(found.len(), 1);
                    assert_eq!(found[0].suite(), suite.suite(), "{typed:?}");
                }
            }
        }
    }

    #[test]
    fn the_table_names_each_suite_once_and_the_default_provider_uses_only_those() {
        for (i, (suite, name)) in OPENSSL_NAMES.iter().enumerate() {
            for (other, other_name) in &OPENSSL_NAMES[i + 1..] {
                assert_ne!(suite, other);
                assert_ne!(name, other_name);
            }
            assert_eq!(openssl_cipher_suite_name(*suite), Some(*name));
        }
        for provider in providers() {
            for suite in &provider.crypto_provider().cipher_suites {
                assert!(openssl_cipher_suite_name(suite.suite()).is_some());
            }
        }
        let unknown = CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA;
        assert_eq!(openssl_cipher_suite_name(unknown), None);
        assert_eq!(
            openssl_or_iana_name(unknown),
            "TLS_RSA_WITH_AES_128_CBC_SHA"
        );
        assert_eq!(
            suite_both_names(CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (ECDHE-RSA-CHACHA20-POLY1305)"
        );
        assert_eq!(
            suite_both_names(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "TLS_AES_128_GCM_SHA256"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_valid_ones_in_both_spellings() {
        let provider = Provider::default();
        let e = provider
            .suites_by_name(&["ECDHE-ECDSA-AES128-SHA".into()], Naming::default())
            .expect_err("an unknown suite");
        let text = e.to_string();
        for expected in [
            "unknown cipher suite \"ECDHE-ECDSA-AES128-SHA\"",
            "OpenSSL's in parentheses",
            "TLS_AES_128_GCM_SHA256, ",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (ECDHE-ECDSA-AES256-GCM-SHA384)",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (ECDHE-RSA-AES128-GCM-SHA256)",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        assert!(!text.contains("TLS13_"), "{text}");
    }

    /// The table against OpenSSL itself, when it is installed: `openssl ciphers -stdname`
    /// prints `IANA - OPENSSL VERSION ...` for each suite it knows.
    #[test]
    fn the_table_agrees_with_openssl_ciphers_stdname() {
        let out = match std::process::Command::new("openssl")
            .args(["ciphers", "-stdname", "ALL:@SECLEVEL=0"])
            .output()
        {
            Ok(out) if out.status.success() => out,
            _ => {
                eprintln!("skipped: openssl not installed");
                return;
            }
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let pairs: Vec<(&str, &str)> = text
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let iana = words.next()?;
                (words.next()? == "-").then_some(())?;
                Some((iana, words.next()?))
            })
            .collect();
        for (suite, name) in OPENSSL_NAMES {
            let iana = cipher_suite_name(suite);
            assert!(
                pairs.contains(&(iana.as_str(), name)),
                "openssl does not pair {iana} with {name}: {text}"
            );
        }
    }
}
