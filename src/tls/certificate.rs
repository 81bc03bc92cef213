//! What a certificate says, in the forms people search for: Node's `getPeerCertificate()`
//! fields and what `openssl x509 -noout -subject -issuer -serial -dates -fingerprint
//! -sha256 -ext subjectAltName` prints. Parsed with x509-parser, never by hand.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::json::Obj;
use crate::util::time::openssl_time;

use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::CryptoProvider;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

/// The facts of one X.509 certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// Subject name components in order, such as `[("CN", "localhost")]`.
    pub subject: Vec<(String, String)>,
    /// The subject on one line, OpenSSL style: `CN=client, O=Example`.
    pub subject_line: String,
    /// Issuer name components.
    pub issuer: Vec<(String, String)>,
    /// The issuer on one line.
    pub issuer_line: String,
    /// Subject alternative names as OpenSSL prints them: `DNS:localhost`,
    /// `IP Address:127.0.0.1`, `email:a@b`, `URI:spiffe://x`.
    pub subject_alt_names: Vec<String>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Start of validity as OpenSSL and Node print it: `Nov 26 04:32:37 2026 GMT`.
    pub valid_from: String,
    /// End of validity, same form.
    pub valid_to: String,
    /// Serial number, upper-case hex without separators (OpenSSL's `serial=`).
    pub serial: String,
    /// SHA-256 of the DER, colon-separated upper-case hex (Node's `fingerprint256`).
    pub fingerprint256: String,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// Whether subject and issuer are the same name.
    pub self_issued: bool,
    /// Extended key usages: `serverAuth`, `clientAuth`, ... (empty when the extension
    /// is absent, which allows any use).
    pub extended_key_usage: Vec<String>,
    /// Key type and size: `ECDSA P-256`, `RSA 2048`, `Ed25519`.
    pub key: String,
    /// The signature algorithm's name, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// The certificate, DER-encoded.
    pub der: Vec<u8>,
}

impl CertificateInfo {
    /// The certificate as one JSON object, with the field names of Node's
    /// `getPeerCertificate()` where Node has one: `subject`, `issuer` (one line each,
    /// `CN=…, O=…`), `subjectaltname` (a list: `DNS:localhost`, …), `valid_from`,
    /// `valid_to`, `serialNumber`, `fingerprint256`; then `key` (`ECDSA P-256`),
    /// `signature`, `ca` and `self_signed`. The one JSON shape of a certificate everywhere:
    /// events, `check --json`, `probe --json`.
    pub fn to_json(&self) -> String {
        Obj::new()
            .str("subject", &self.subject_line)
            .str("issuer", &self.issuer_line)
            .strs("subjectaltname", &self.subject_alt_names)
            .str("valid_from", &self.valid_from)
            .str("valid_to", &self.valid_to)
            .str("serialNumber", &self.serial)
            .str("fingerprint256", &self.fingerprint256)
            .str("key", &self.key)
            .str("signature", self.signature_name())
            .bool("ca", self.is_ca)
            .bool("selfSigned", self.self_issued)
            .finish()
    }

    /// A JSON list of [`to_json`](Self::to_json) objects.
    pub(crate) fn list_json(chain: &[CertificateInfo]) -> String {
        let items: Vec<String> = chain.iter().map(CertificateInfo::to_json).collect();
        format!("[{}]", items.join(","))
    }

    /// Parses a DER certificate. `None` if it is not one.
    pub fn parse(der: &[u8], provider: &CryptoProvider) -> Option<CertificateInfo> {
        let (_, cert) = parse_x509_certificate(der).ok()?;
        let registry = x509_parser::objects::oid_registry();
        let name_parts = |name: &X509Name<'_>| -> Vec<(String, String)> {
            name.iter_attributes()
                .map(|a| {
                    let key = x509_parser::objects::oid2abbrev(a.attr_type(), registry)
                        .map(str::to_string)
                        .unwrap_or_else(|_| a.attr_type().to_id_string());
                    let value = a
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|_| "?".into());
                    (key, value)
                })
                .collect()
        };
        let line = |parts: &[(String, String)]| {
            parts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let subject = name_parts(cert.subject());
        let issuer = name_parts(cert.issuer());
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                sans.push(match name {
                    GeneralName::DNSName(d) => format!("DNS:{d}"),
                    GeneralName::RFC822Name(e) => format!("email:{e}"),
                    GeneralName::URI(u) => format!("URI:{u}"),
                    GeneralName::IPAddress(b) => format!("IP Address:{}", ip_text(b)),
                    other => format!("othername:{other:?}"),
                });
            }
        }
        let mut eku = Vec::new();
        if let Ok(Some(ext)) = cert.extended_key_usage() {
            let e = ext.value;
            for (on, name) in [
                (e.server_auth, "serverAuth"),
                (e.client_auth, "clientAuth"),
                (e.code_signing, "codeSigning"),
                (e.email_protection, "emailProtection"),
                (e.time_stamping, "timeStamping"),
                (e.ocsp_signing, "OCSPSigning"),
                (e.any, "anyExtendedKeyUsage"),
            ] {
                if on {
                    eku.push(name.to_string());
                }
            }
        }
        let validity = cert.validity();
        let not_before = to_system_time(validity.not_before.timestamp());
        let not_after = to_system_time(validity.not_after.timestamp());
        let key = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
            Ok(PublicKey::EC(p)) => match p.key_size() {
                256 => "ECDSA P-256".to_string(),
                384 => "ECDSA P-384".to_string(),
                521 => "ECDSA P-521".to_string(),
                n => format!("ECDSA {n}-bit"),
            },
            _ => x509_parser::objects::oid2sn(&cert.public_key().algorithm.algorithm, registry)
                .map(|s| {
                    if s == "ED25519" {
                        "Ed25519".to_string()
                    } else {
                        s.to_string()
                    }
                })
                .unwrap_or_else(|_| "unknown".into()),
        };
        let signature_algorithm =
            x509_parser::objects::oid2sn(&cert.signature_algorithm.algorithm, registry)
                .map(str::to_string)
                .unwrap_or_else(|_| {
                    signature_name(&cert.signature_algorithm.algorithm.to_id_string()).to_string()
                });
        Some(CertificateInfo {
            subject_line: line(&subject),
            issuer_line: line(&issuer),
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            subject,
            issuer,
            subject_alt_names: sans,
            not_before,
            not_after,
            valid_from: openssl_time(not_before),
            valid_to: openssl_time(not_after),
            serial: cert
                .raw_serial()
                .iter()
                .skip_while(|b| **b == 0)
                .map(|b| format!("{b:02X}"))
                .collect::<String>(),
            fingerprint256: sha256(provider, der)
                .map(|h| colon_hex(&h))
                .unwrap_or_default(),
            is_ca: cert.is_ca(),
            extended_key_usage: eku,
            key,
            signature_algorithm,
            der: der.to_vec(),
        })
    }

    /// The subject's common name, if it has one.
    pub fn common_name(&self) -> Option<&str> {
        self.subject
            .iter()
            .find(|(k, _)| k == "CN")
            .map(|(_, v)| v.as_str())
    }

    /// Whether `now` lies within the validity window.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// The DNS names and IP addresses this certificate is valid for.
    pub fn names(&self) -> Vec<&str> {
        self.subject_alt_names
            .iter()
            .filter_map(|s| {
                s.strip_prefix("DNS:")
                    .or_else(|| s.strip_prefix("IP Address:"))
            })
            .collect()
    }

    /// The subject alternative name that makes this certificate valid for `host` (as
    /// `DNS:*.example.test` or `IP Address:127.0.0.1`), matched the way webpki does it: an
    /// IP address only against IP address names, a DNS name case-insensitively, a wildcard
    /// only as the whole leftmost label and for exactly one label; the CN is never used.
    /// `None` when the certificate does not cover `host`.
    pub fn covering_name(&self, host: &str) -> Option<&str> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .subject_alt_names
                .iter()
                .find(|san| {
                    san.strip_prefix("IP Address:")
                        .and_then(|a| a.parse::<IpAddr>().ok())
                        == Some(ip)
                })
                .map(String::as_str);
        }
        let host = host.to_ascii_lowercase();
        self.subject_alt_names
            .iter()
            .find(|san| {
                let Some(name) = san.strip_prefix("DNS:") else {
                    return false;
                };
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(suffix) => host
                        .split_once('.')
                        .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
                    None => name == host,
                }
            })
            .map(String::as_str)
    }

    /// Whether the signature on this certificate uses SHA-1, MD5 or MD2, which browsers,
    /// rustls and current OpenSSL refuse. (A root's signature on itself is never checked, so
    /// callers decide whether it matters.)
    pub fn has_weak_signature(&self) -> bool {
        let name = signature_name(&self.signature_algorithm).to_ascii_lowercase();
        name.contains("sha1") || name.contains("md5") || name.contains("md2")
    }

    /// The signature algorithm's name, also where x509-parser only gave its OID.
    pub fn signature_name(&self) -> &str {
        signature_name(&self.signature_algorithm)
    }

    /// One line for a chain listing, `#1 CN=localhost → CN=demo CA (ECDSA P-256, valid …
    /// to …)`; `index` counts from 0.
    pub fn chain_line(&self, index: usize) -> String {
        let what = if self.self_issued {
            ", self-signed"
        } else if self.is_ca {
            ", CA"
        } else {
            ""
        };
        format!(
            "#{} {} → {} ({}{what}, valid {} to {})",
            index + 1,
            shown_name(&self.subject_line),
            shown_name(&self.issuer_line),
            self.key,
            self.valid_from,
            self.valid_to
        )
    }
}

/// A name as messages show it: an empty name (allowed by X.509) would print as nothing.
pub(crate) fn shown_name(name: &str) -> &str {
    if name.is_empty() {
        "(empty name)"
    } else {
        name
    }
}

fn ip_text(b: &[u8]) -> String {
    // OpenSSL prints IPv6 without compression (0:0:0:0:0:0:0:1); we do the same so the
    // text can be compared with `openssl x509 -ext subjectAltName`.
    match b.len() {
        4 => IpAddr::from([b[0], b[1], b[2], b[3]]).to_string(),
        16 => b
            .chunks(2)
            .map(|c| format!("{:X}", u16::from_be_bytes([c[0], c[1]])))
            .collect::<Vec<_>>()
            .join(":"),
        _ => format!("<{} bytes>", b.len()),
    }
}

fn to_system_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Signature algorithms by OID, for the ones x509-parser's registry leaves unnamed (it
/// knows `ecdsa-with-SHA256` but prints ecdsa-with-SHA1 as `1.2.840.10045.4.1`).
const SIGNATURE_NAMES: [(&str, &str); 6] = [
    ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
    ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
    ("1.2.840.10040.4.3", "dsa-with-SHA1"),
    ("1.3.14.3.2.29", "sha1WithRSASignature"),
    ("1.2.840.113549.1.1.4", "md5WithRSAEncryption"),
    ("1.2.840.113549.1.1.2", "md2WithRSAEncryption"),
];

/// A signature algorithm's name, even where CertificateInfo could only give the OID.
fn signature_name(alg: &str) -> &str {
    SIGNATURE_NAMES
        .iter()
        .find(|(oid, _)| *oid == alg)
        .map(|(_, name)| *name)
        .unwrap_or(alg)
}

/// SHA-256 with the crypto provider we already carry (no extra hashing crate).
pub(crate) fn sha256(provider: &CryptoProvider, data: &[u8]) -> Option<Vec<u8>> {
    let hash = provider
        .cipher_suites
        .iter()
        .filter_map(|s| s.tls13())
        .map(|s| s.common.hash_provider)
        .find(|h| h.algorithm() == HashAlgorithm::SHA256)?;
    Some(hash.hash(data).as_ref().to_vec())
}

/// `AB:CD:EF`.
pub(crate) fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    fn with_names(sans: &[&str]) -> CertificateInfo {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt");
        let der = CertificateDer::from_pem_file(path).unwrap();
        let provider = crate::tls::provider::Provider::default().crypto_provider();
        let mut info = CertificateInfo::parse(&der, &provider).unwrap();
        info.subject_alt_names = sans.iter().map(|s| s.to_string()).collect();
        info
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        let c = with_names(&["DNS:*.example.test", "DNS:Exact.Example"]);
        assert_eq!(
            c.covering_name("a.example.test"),
            Some("DNS:*.example.test")
        );
        assert_eq!(
            c.covering_name("A.EXAMPLE.TEST."),
            Some("DNS:*.example.test")
        );
        assert_eq!(c.covering_name("a.b.example.test"), None);
        assert_eq!(c.covering_name("example.test"), None);
        assert_eq!(c.covering_name(".example.test"), None);
        assert_eq!(c.covering_name("exact.example"), Some("DNS:Exact.Example"));
    }

    #[test]
    fn addresses_match_only_address_names() {
        let c = with_names(&["DNS:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"]);
        assert_eq!(c.covering_name("127.0.0.1"), None);
        assert_eq!(c.covering_name("::1"), Some("IP Address:0:0:0:0:0:0:0:1"));
        assert_eq!(c.covering_name("[::1]"), Some("IP Address:0:0:0:0:0:0:0:1"));
    }

    #[test]
    fn sha1_is_weak_by_oid_or_name() {
        let mut c = with_names(&[]);
        for (alg, weak) in [
            ("1.2.840.10045.4.1", true),
            ("RSA-SHA1", true),
            ("sha1WithRSAEncryption", true),
            ("md5WithRSAEncryption", true),
            ("ecdsa-with-SHA256", false),
            ("RSA-SHA256", false),
        ] {
            c.signature_algorithm = alg.into();
            assert_eq!(c.has_weak_signature(), weak, "{alg}");
        }
        c.signature_algorithm = "1.2.840.10045.4.1".into();
        assert_eq!(c.signature_name(), "ecdsa-with-SHA1");
    }

    #[test]
    fn demo_server_certificate() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt");
        let der = CertificateDer::from_pem_file(path).unwrap();
        let provider = crate::tls::provider::Provider::default().crypto_provider();
        let info = CertificateInfo::parse(&der, &provider).unwrap();
        assert_eq!(info.common_name(), Some("localhost"));
        assert_eq!(info.issuer_line, "CN=tls-server demo CA");
        assert_eq!(
            info.subject_alt_names,
            [
                "DNS:localhost",
                "IP Address:127.0.0.1",
                "IP Address:0:0:0:0:0:0:0:1"
            ]
        );
        assert_eq!(info.key, "ECDSA P-256");
        assert_eq!(info.extended_key_usage, ["serverAuth"]);
        assert!(!info.is_ca && !info.self_issued);
        assert_eq!(info.fingerprint256.len(), 32 * 3 - 1);
        assert!(info.is_valid_at(SystemTime::now()));
    }
}
