//! What a certificate says, in the forms people search for: Node's `getPeerCertificate()`
//! fields and what `openssl x509 -noout -subject -issuer -serial -dates -fingerprint
//! -sha256 -ext subjectAltName` prints. Parsed with x509-parser, never by hand.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// The facts Node's `getPeerCertificate()` gives, with its field names, as one JSON
    /// object: `subject`, `issuer` (one line each, `CN=…, O=…`), `subjectaltname` (a list,
    /// `DNS:localhost`, ...), `valid_from`, `valid_to`, `serialNumber`, `fingerprint256`.
    pub fn to_json(&self) -> String {
        crate::json::Obj::new()
            .str("subject", &self.subject_line)
            .str("issuer", &self.issuer_line)
            .strs("subjectaltname", &self.subject_alt_names)
            .str("valid_from", &self.valid_from)
            .str("valid_to", &self.valid_to)
            .str("serialNumber", &self.serial)
            .str("fingerprint256", &self.fingerprint256)
            .finish()
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
pub(crate) fn signature_name(alg: &str) -> &str {
    SIGNATURE_NAMES
        .iter()
        .find(|(oid, _)| *oid == alg)
        .map(|(_, name)| *name)
        .unwrap_or(alg)
}

/// `Nov 26 04:32:37 2026 GMT`, the form OpenSSL and Node print.
pub fn openssl_time(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:>2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date (proleptic Gregorian).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

    #[test]
    fn dates_print_like_openssl() {
        assert_eq!(openssl_time(UNIX_EPOCH), "Jan  1 00:00:00 1970 GMT");
        assert_eq!(
            openssl_time(UNIX_EPOCH + Duration::from_secs(1_795_667_557)),
            "Nov 26 04:32:37 2026 GMT"
        );
    }

    #[test]
    fn demo_server_certificate() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt");
        let der = CertificateDer::from_pem_file(path).unwrap();
        let provider = crate::Provider::default().crypto_provider();
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
