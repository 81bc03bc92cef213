//! This machine's trust store, found the way OpenSSL finds it, for `check` (is the issuer a
//! root this machine trusts?) and `probe` (what to verify against when no CA is given).

use std::path::PathBuf;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::*;

/// The system trust store (as OpenSSL finds it): `SSL_CERT_FILE`, or the usual bundle
/// paths of Debian, Fedora, Alpine, openSUSE and the BSDs.
pub(crate) fn system() -> Option<(PathBuf, Vec<CertificateDer<'static>>)> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("SSL_CERT_FILE") {
        candidates.push(p.into());
    }
    for p in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
        "/usr/local/share/certs/ca-root-nss.crt",
    ] {
        candidates.push(p.into());
    }
    candidates.into_iter().find_map(|path| {
        let certs: Vec<_> = CertificateDer::pem_file_iter(&path)
            .ok()?
            .filter_map(Result::ok)
            .collect();
        (!certs.is_empty()).then_some((path, certs))
    })
}

/// The trust store file, if it holds a certificate whose subject is `name` (raw DER).
pub(crate) fn with_subject(name: &[u8]) -> Option<PathBuf> {
    let (path, certs) = system()?;
    certs
        .iter()
        .any(|der| parse_x509_certificate(der).is_ok_and(|(_, c)| c.subject().as_raw() == name))
        .then_some(path)
}
