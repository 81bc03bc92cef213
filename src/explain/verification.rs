//! A failed certificate verification in words, with the certificates' own names and
//! dates: used by `check` (does our chain verify against the CA clients trust?) and by
//! `probe` (why did the server's chain not verify?), which verify the same way.

use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error as TlsError};

use crate::tls::CertificateInfo;
use crate::util::time::openssl_time;

/// A certificate verification error in words, with the certificates' own names and dates.
/// Shared with `check`, which verifies the same way.
// The deprecated context-free variants are still produced by other verifiers.
#[allow(deprecated)]
pub(crate) fn explain_verification(
    e: &TlsError,
    trust: &str,
    ca: &str,
    chain: &[CertificateDer<'_>],
    provider: &CryptoProvider,
    now: SystemTime,
) -> (String, String) {
    let infos: Vec<CertificateInfo> = chain
        .iter()
        .filter_map(|d| CertificateInfo::parse(d, provider))
        .collect();
    let clock = openssl_time(now);
    let TlsError::InvalidCertificate(ce) = e else {
        return (
            format!("verification failed: {e}"),
            "see the certificate details above".into(),
        );
    };
    let who = |pick: &dyn Fn(&CertificateInfo) -> bool| {
        infos
            .iter()
            .enumerate()
            .find(|(_, c)| pick(c))
            .map(|(i, c)| format!("certificate #{} ({})", i + 1, c.subject_line))
            .unwrap_or_else(|| "a certificate in the chain".into())
    };
    match ce {
        CertificateError::UnknownIssuer => {
            let Some(last) = infos.last() else {
                return (format!("the chain does not lead to a CA in {trust}"), format!("pass the CA that issued the server's certificate with {ca}"));
            };
            if infos.len() == 1 && last.self_issued {
                (
                    format!("the certificate ({}) is self-signed and is not in {trust}", last.subject_line),
                    format!("if you trust this server, pass its certificate itself with {ca}; better, give the server a certificate from a CA"),
                )
            } else if infos.len() == 1 {
                (
                    format!(
                        "the server's certificate ({}) is issued by {}, which is not in {trust} — and the server sends no intermediate, so if {} is an intermediate CA the server's chain is incomplete",
                        last.subject_line, last.issuer_line, last.issuer_line
                    ),
                    format!("pass the CA that issued it with {ca}; if it is an intermediate, the server must send it after its own certificate (e.g. fullchain.pem)"),
                )
            } else {
                (
                    format!(
                        "the chain ends at {}, issued by {}, which is not in {trust}",
                        last.subject_line, last.issuer_line
                    ),
                    format!("pass the CA {} with {ca} (ask the server's operator for it), or check that the server sends the chain for the right CA", last.issuer_line),
                )
            }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let expired = who(&|c: &CertificateInfo| c.not_after < now);
            let when = infos
                .iter()
                .find(|c| c.not_after < now)
                .map(|c| format!(" on {}", c.valid_to))
                .unwrap_or_default();
            (
                format!("{expired} expired{when}; our clock says {clock}"),
                "renew the server's certificate; if it is not really expired, this machine's clock is wrong".into(),
            )
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let early = who(&|c: &CertificateInfo| c.not_before > now);
            let when = infos
                .iter()
                .find(|c| c.not_before > now)
                .map(|c| format!(" before {}", c.valid_from))
                .unwrap_or_default();
            (
                format!("{early} is not valid{when}; our clock says {clock} — one of the two clocks (ours or the issuer's) may be wrong"),
                "check this machine's clock (`date -u`, NTP); if it is right, the certificate was issued with a future start date".into(),
            )
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
            format!(
                "the server's certificate is not for TLS servers: its extendedKeyUsage is {} without serverAuth",
                infos
                    .first()
                    .map(|c| c.extended_key_usage.join(", "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "other purposes".into())
            ),
            "have the certificate reissued with extendedKeyUsage = serverAuth".into(),
        ),
        CertificateError::BadSignature => (
            "a signature in the chain does not verify: a certificate was altered, or is paired with the wrong issuer".into(),
            "check that the server sends its own certificate followed by the intermediate that really issued it".into(),
        ),
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => (
            format!(
                "the chain uses a signature algorithm rustls does not accept ({})",
                infos
                    .iter()
                    .filter(|c| !c.self_issued)
                    .map(|c| c.signature_name().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "have the certificate reissued with a SHA-256 (or stronger) signature; SHA-1 is refused everywhere".into(),
        ),
        CertificateError::BadEncoding => (
            "a certificate in the chain is malformed".into(),
            "export the server's certificate again".into(),
        ),
        CertificateError::Revoked => (
            "the certificate has been revoked".into(),
            "the server needs a new certificate".into(),
        ),
        other => {
            let text = format!("{other:?}");
            if text.contains("CaUsedAsEndEntity") {
                (
                    "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which clients refuse as a server's".into(),
                    "issue a server certificate (CA:FALSE, extendedKeyUsage serverAuth) from that CA and use it instead".into(),
                )
            } else if text.contains("EndEntityUsedAsCa") {
                (
                    "a certificate in the chain that issued another is not a CA (basicConstraints CA:FALSE or absent)".into(),
                    "check the chain order: the server's certificate first, then the CA certificates that issued it".into(),
                )
            } else {
                (format!("the certificate was refused: {other}"), "see the chain above".into())
            }
        }
    }
}
