//! Loading certificates and private keys, and explaining why a file cannot be used.
//!
//! PEM is parsed by `rustls-pki-types`. Before that, we look at the file ourselves: its PEM
//! labels (`-----BEGIN X-----`) tell a CSR from a certificate, an encrypted key from a plain
//! one, a swapped pair from a right one. rustls would only say "no items found".

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::error::Error;

/// Where PEM text comes from: a file, or bytes already in memory.
#[derive(Clone, Debug)]
pub(crate) enum Pem {
    /// A file path, read when the server starts.
    File(PathBuf),
    /// In-memory PEM text, with a label used in error messages.
    Bytes {
        /// A name for messages, such as `"embedded server.crt"`.
        label: String,
        /// The PEM text.
        data: Vec<u8>,
    },
}

impl Pem {
    pub(crate) fn label(&self) -> PathBuf {
        match self {
            Pem::File(p) => p.clone(),
            Pem::Bytes { label, .. } => PathBuf::from(label),
        }
    }

    pub(crate) fn read(&self, role: &str) -> Result<(PathBuf, Vec<u8>), Error> {
        let label = self.label();
        let data = match self {
            Pem::Bytes { data, .. } => data.clone(),
            Pem::File(path) => fs::read(path).map_err(|e| read_error(path, role, &e))?,
        };
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::credential(
                label,
                format!("the {role} file is empty"),
                "it should hold PEM text starting with \"-----BEGIN\"; was it truncated when copied?",
            ));
        }
        Ok((label, data))
    }
}

fn read_error(path: &Path, role: &str, e: &io::Error) -> Error {
    let (problem, fix) = match e.kind() {
        io::ErrorKind::NotFound => (
            format!("{role} file not found"),
            format!(
                "check the path (relative paths start from {})",
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| "the current directory".into()),
            ),
        ),
        io::ErrorKind::PermissionDenied => (
            format!("no permission to read the {role} file"),
            format!(
                "make it readable by the user running tls-server (see `ls -l {}`; e.g. `chmod 0640` and the right group)",
                path.display()
            ),
        ),
        _ if path.is_dir() => (
            format!("is a directory, not a {role} file"),
            "name the file inside it".to_string(),
        ),
        _ => (
            format!("cannot read the {role} file: {e}"),
            "check the file and its permissions".to_string(),
        ),
    };
    Error::credential(path, problem, fix)
}

/// The PEM labels in `data`, in order (`CERTIFICATE`, `PRIVATE KEY`, ...).
pub(crate) fn pem_labels(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("-----BEGIN ")?;
            Some(rest.strip_suffix("-----")?.to_string())
        })
        .collect()
}

fn is_key_label(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

/// The key labels rustls reads: PKCS#8, PKCS#1 and SEC1.
fn is_supported_key_label(label: &str) -> bool {
    matches!(label, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY")
}

/// A `-----BEGIN` line with leading white space (PEM pasted from YAML, JSON, an e-mail):
/// we see its label, but the PEM parser skips it.
fn has_indented_begin(data: &[u8]) -> bool {
    String::from_utf8_lossy(data).lines().any(|line| {
        let trimmed = line.trim_start();
        trimmed.len() != line.len() && trimmed.starts_with("-----BEGIN ")
    })
}

const INDENTED: (&str, &str) = (
    "has its \"-----BEGIN\" line indented",
    "PEM lines must start at the beginning of the line; remove the leading spaces",
);

/// A PEM parse error in words: rustls-pki-types prints the missing marker as a list of bytes
/// and an empty result as "no items found".
fn pem_problem(e: &pem::Error) -> (String, String) {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => (
            format!(
                "has no \"-----END {}-----\" line",
                String::from_utf8_lossy(end_marker)
            ),
            "the file looks truncated; copy it again".into(),
        ),
        pem::Error::IllegalSectionStart { line } => (
            format!(
                "has a malformed \"-----BEGIN\" line ({:?})",
                String::from_utf8_lossy(line)
            ),
            "fix the line, or export the file again".into(),
        ),
        pem::Error::Base64Decode(e) => (
            format!("has a block that is not valid base64 ({e})"),
            "was it damaged when copied? Export it again".into(),
        ),
        other => (
            format!("cannot be read as PEM ({other})"),
            "export the file again as PEM".into(),
        ),
    }
}

/// An error about `label` from a (problem, fix) pair.
fn bad(label: impl Into<PathBuf>, (problem, fix): (impl Into<String>, impl Into<String>)) -> Error {
    Error::credential(label, problem, fix)
}

/// "a" or "an" before a PEM label (`an ENCRYPTED PRIVATE KEY`, `a CERTIFICATE`).
fn article(label: &str) -> &'static str {
    match label.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    }
}

/// A DER file starts with an ASN.1 SEQUENCE tag (0x30) and is not text.
fn looks_like_der(data: &[u8]) -> bool {
    data.first() == Some(&0x30) && data.iter().take(64).any(|b| !b.is_ascii())
}

/// Loads a certificate chain (leaf first) from PEM.
pub(crate) fn load_certs(src: &Pem) -> Result<Vec<CertificateDer<'static>>, Error> {
    let (label, data) = src.read("certificate")?;
    let labels = pem_labels(&data);
    let shown = label.display().to_string();
    if labels.is_empty() {
        let problem = if looks_like_der(&data) {
            (
                "is DER (binary), but PEM text is expected".to_string(),
                format!("convert it: `openssl x509 -inform der -in {shown} -out {shown}.pem`"),
            )
        } else {
            (
                "holds no PEM block".to_string(),
                "a certificate file starts with \"-----BEGIN CERTIFICATE-----\"".to_string(),
            )
        };
        return Err(bad(label, problem));
    }
    if !labels.iter().any(|l| l == "CERTIFICATE") {
        let first = &labels[0];
        let problem = if is_key_label(first) {
            (
                format!("contains {} {first}, not a CERTIFICATE", article(first)),
                "are the certificate and the key swapped?".to_string(),
            )
        } else if first == "CERTIFICATE REQUEST" || first == "NEW CERTIFICATE REQUEST" {
            (
                "is a certificate signing request (CSR), not a certificate".to_string(),
                "have it signed by your CA (or `openssl x509 -req ...` for a test CA) and use the certificate that comes back".to_string(),
            )
        } else if first == "TRUSTED CERTIFICATE" {
            (
                "is in OpenSSL's TRUSTED CERTIFICATE form, which rustls does not read".to_string(),
                format!("convert it: `openssl x509 -in {shown} -out {shown}.pem`"),
            )
        } else {
            (
                format!("contains a {first} block but no CERTIFICATE"),
                "pass the certificate (PEM, \"-----BEGIN CERTIFICATE-----\")".to_string(),
            )
        };
        return Err(bad(label, problem));
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&data).collect();
    let certs = certs.map_err(|e| bad(&label, pem_problem(&e)))?;
    if certs.is_empty() {
        let problem = if has_indented_begin(&data) {
            INDENTED
        } else {
            (
                "has a CERTIFICATE label but no readable certificate block",
                "export the certificate again",
            )
        };
        return Err(bad(label, problem));
    }
    Ok(certs)
}

/// Loads one private key from PEM.
pub(crate) fn load_key(src: &Pem) -> Result<PrivateKeyDer<'static>, Error> {
    let (label, data) = src.read("private key")?;
    let labels = pem_labels(&data);
    let shown = label.display().to_string();
    if labels.is_empty() {
        let problem = if looks_like_der(&data) {
            (
                "is a DER (binary) key, but PEM text is expected".to_string(),
                format!("convert it: `openssl pkey -inform der -in {shown} -out {shown}.pem`"),
            )
        } else {
            (
                "holds no PEM block".to_string(),
                "a key file starts with \"-----BEGIN PRIVATE KEY-----\"".to_string(),
            )
        };
        return Err(bad(label, problem));
    }
    let text = String::from_utf8_lossy(&data);
    if labels.iter().any(|l| l == "ENCRYPTED PRIVATE KEY")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(Error::credential(
            label,
            "the private key is encrypted with a passphrase, which rustls cannot load",
            format!("decrypt it (`openssl pkey -in {shown} -out {shown}.plain`, then protect that file with `chmod 600`)"),
        ));
    }
    if !labels.iter().any(|l| is_key_label(l)) {
        let problem = if labels[0].contains("CERTIFICATE REQUEST") {
            (
                "is a certificate signing request (CSR), not a private key".to_string(),
                "pass the key the CSR was made from",
            )
        } else if labels.iter().any(|l| l.contains("CERTIFICATE")) {
            (
                format!(
                    "contains {} {}, not a PRIVATE KEY",
                    article(&labels[0]),
                    labels[0]
                ),
                "are the certificate and the key swapped?",
            )
        } else {
            (
                format!("contains a {} block but no PRIVATE KEY", labels[0]),
                "pass the private key (PEM)",
            )
        };
        return Err(bad(label, problem));
    }
    if !labels.iter().any(|l| is_supported_key_label(l)) {
        let first = labels
            .iter()
            .find(|l| is_key_label(l))
            .unwrap_or(&labels[0]);
        let how = if first == "OPENSSH PRIVATE KEY" {
            format!("an SSH key is not a TLS key; if it really is the certificate's key, convert a copy with `ssh-keygen -p -m PKCS8 -f {shown}`")
        } else {
            format!("convert it with `openssl pkey -in {shown} -out {shown}.pem` if its type is supported")
        };
        return Err(Error::credential(
            label,
            format!("holds a key in the \"{first}\" format, which rustls cannot read"),
            format!("expected PKCS#8 (\"PRIVATE KEY\"), PKCS#1 (\"RSA PRIVATE KEY\") or SEC1 (\"EC PRIVATE KEY\"); {how}"),
        ));
    }
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| {
        let problem = match e {
            pem::Error::NoItemsFound if has_indented_begin(&data) => {
                (INDENTED.0.to_string(), INDENTED.1.to_string())
            }
            pem::Error::NoItemsFound => (
                "has no private key block that can be read".to_string(),
                "expected PKCS#8 (\"PRIVATE KEY\"), PKCS#1 (\"RSA PRIVATE KEY\") or SEC1 (\"EC PRIVATE KEY\")".to_string(),
            ),
            e => pem_problem(&e),
        };
        bad(label, problem)
    })
}

/// The key types rustls signs with, as a fix.
pub(crate) const KEY_TYPES: &str = "use an ECDSA (P-256/P-384), Ed25519 or RSA (2048+ bits) key";

/// Loads a certificate chain and its key, and checks that they belong together.
pub(crate) fn load_certified_key(
    cert: &Pem,
    key: &Pem,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, Error> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| {
            Error::credential(
                key.label(),
                format!("the key type is not supported ({e})"),
                KEY_TYPES,
            )
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(mismatch(cert, key, &certified))
        }
        Err(e) => Err(Error::credential(
            cert.label(),
            format!("the first certificate cannot be parsed ({e})"),
            "export the certificate again; the file may be damaged",
        )),
    }
}

/// Explains a key that does not match the leaf, saying which certificate it does match.
fn mismatch(cert: &Pem, key: &Pem, certified: &CertifiedKey) -> Error {
    let other = (1..certified.cert.len()).find(|&i| {
        let mut reordered = certified.cert.clone();
        reordered.swap(0, i);
        CertifiedKey::new(reordered, certified.key.clone())
            .keys_match()
            .is_ok()
    });
    let cert_name = cert.label().display().to_string();
    let key_name = key.label().display().to_string();
    let issued_by = |i: usize| issued(&certified.cert[i], &certified.cert[0]);
    let (problem, fix) = match other {
        Some(i) if issued_by(i) => (
            format!(
                "the private key {key_name} belongs to certificate #{} in this file, which issued the first (server) certificate",
                i + 1
            ),
            "the chain is in the right order, but this is the CA's key: pass the server's own key"
                .to_string(),
        ),
        Some(i) => (
            format!(
                "the private key {key_name} matches certificate #{} in this file, not the first one",
                i + 1
            ),
            "put the server (leaf) certificate first, then its intermediates".to_string(),
        ),
        None => (
            format!("the private key {key_name} does not match the certificate"),
            format!(
                "use the key the certificate was issued for (compare `openssl x509 -in {cert_name} -noout -pubkey` with `openssl pkey -in {key_name} -pubout`)"
            ),
        ),
    };
    Error::credential(cert.label(), problem, fix)
}

/// Whether `issuer` issued `cert` (its subject is `cert`'s issuer name).
fn issued(issuer: &[u8], cert: &[u8]) -> bool {
    use x509_parser::prelude::*;
    match (parse_x509_certificate(issuer), parse_x509_certificate(cert)) {
        (Ok((_, issuer)), Ok((_, cert))) => issuer.subject().as_raw() == cert.issuer().as_raw(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tests run as root in CI, where permission bits do not stop reads; the message is
    // checked here from the error kind itself.
    #[test]
    fn permission_denied_names_the_file_and_the_fix() {
        let e = io::Error::from(io::ErrorKind::PermissionDenied);
        let msg = read_error(Path::new("/etc/tls/server.key"), "private key", &e).to_string();
        assert!(
            msg.starts_with("/etc/tls/server.key: no permission to read the private key file"),
            "{msg}"
        );
        assert!(msg.contains("ls -l /etc/tls/server.key"), "{msg}");
    }

    #[test]
    fn labels_are_listed_in_order() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n";
        assert_eq!(pem_labels(pem), ["CERTIFICATE", "PRIVATE KEY"]);
    }
}
