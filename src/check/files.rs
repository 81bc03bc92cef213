//! The files themselves: can they be read, are they PEM of the right kind, can the
//! provider sign with the key, is the key private, and does it belong to the first
//! certificate.

use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::chain::Cert;
use super::{plural, Checks, Options, Status};
use crate::tls::credentials::{self, Pem, KEY_TYPES};

/// `cert-file`, `cert-format`: the certificates, if the file holds readable ones.
pub(super) fn certificates(
    options: &Options,
    checks: &mut Checks,
) -> Option<Vec<CertificateDer<'static>>> {
    let file = options.cert.label();
    let (_, data) = match options.cert.read("certificate") {
        Err(e) => {
            checks.error("cert-file", &e);
            return None;
        }
        Ok(read) => read,
    };
    checks.ok(
        "cert-file",
        Some(&file),
        format!("readable ({} bytes)", data.len()),
    );
    match credentials::load_certs(&options.cert) {
        Ok(certs) => {
            checks.ok(
                "cert-format",
                Some(&file),
                format!(
                    "PEM, {}",
                    plural(certs.len(), "certificate", "certificates")
                ),
            );
            Some(certs)
        }
        Err(e) => {
            checks.error("cert-format", &e);
            None
        }
    }
}

/// `key-file`, `key-format`, `key-permissions`, `key-type`: the key, if the provider can
/// sign with it.
pub(super) fn key(
    options: &Options,
    provider: &CryptoProvider,
    checks: &mut Checks,
) -> Option<PrivateKeyDer<'static>> {
    let file = options.key.label();
    let (_, data) = match options.key.read("private key") {
        Err(e) => {
            checks.error("key-file", &e);
            return None;
        }
        Ok(read) => read,
    };
    checks.ok(
        "key-file",
        Some(&file),
        format!("readable ({} bytes)", data.len()),
    );
    let key = match credentials::load_key(&options.key) {
        Ok(key) => key,
        Err(e) => {
            checks.error("key-format", &e);
            return None;
        }
    };
    let form = match &key {
        PrivateKeyDer::Pkcs8(_) => "PKCS#8 (\"PRIVATE KEY\")",
        PrivateKeyDer::Pkcs1(_) => "PKCS#1 (\"RSA PRIVATE KEY\")",
        PrivateKeyDer::Sec1(_) => "SEC1 (\"EC PRIVATE KEY\")",
        _ => "a form rustls reads",
    };
    checks.ok(
        "key-format",
        Some(&file),
        format!("PEM, unencrypted, {form}"),
    );
    // Only a file that holds a private key: a certificate or CSR given by mistake is
    // reported by key-format, not as a readable secret.
    if let Pem::File(path) = &options.key {
        permissions(path, checks);
    }
    match provider.key_provider.load_private_key(key.clone_key()) {
        Ok(signing) => {
            checks.ok(
                "key-type",
                Some(&file),
                format!(
                    "{} key, which {} can sign with",
                    match signing.algorithm() {
                        rustls::SignatureAlgorithm::ECDSA => "an ECDSA".to_string(),
                        rustls::SignatureAlgorithm::RSA => "an RSA".to_string(),
                        rustls::SignatureAlgorithm::ED25519 => "an Ed25519".to_string(),
                        other => format!("a {other:?}"),
                    },
                    options.provider.name()
                ),
            );
            Some(key)
        }
        // The same words as the server's loader.
        Err(e) => {
            checks.push(
                "key-type",
                Status::Error,
                Some(&file),
                format!("the key type is not supported ({e})"),
                KEY_TYPES,
            );
            None
        }
    }
}

/// A private key readable by other users lets them impersonate the server.
#[cfg(unix)]
fn permissions(path: &Path, checks: &mut Checks) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => Some("its group and all other users"),
        (true, false) => Some("its group"),
        (false, true) => Some("all other users"),
        (false, false) => None,
    };
    let writable = mode & 0o022 != 0;
    match who {
        None if !writable => checks.ok(
            "key-permissions",
            Some(path),
            format!("mode {mode:04o}, readable by its owner only"),
        ),
        _ => checks.push(
            "key-permissions",
            Status::Warn,
            Some(path),
            format!(
                "mode {mode:04o}: the private key is {}, and whoever can read it can impersonate this server",
                match (who, writable) {
                    (Some(who), true) => format!("readable by {who}, and writable by others"),
                    (Some(who), false) => format!("readable by {who}"),
                    (None, _) => "writable by others".to_string(),
                }
            ),
            format!(
                "chmod 600 {} (owned by the user that runs the server)",
                path.display()
            ),
        ),
    }
}

#[cfg(not(unix))]
fn permissions(_path: &Path, _checks: &mut Checks) {}

/// `key-match`: which certificate in the file the key belongs to. A match with
/// certificate #2 means the chain is in the wrong order — the classic "key values
/// mismatch".
pub(super) fn key_match(
    options: &Options,
    provider: &CryptoProvider,
    key: &PrivateKeyDer<'static>,
    parsed: &[Cert],
    checks: &mut Checks,
) {
    let key_file = options.key.label();
    let key_name = key_file.display();
    match credentials::load_certified_key(&options.cert, &options.key, provider) {
        Err(e) => checks.error("key-match", &e),
        Ok(certified) => {
            let first = parsed
                .first()
                .map(|c| format!(" ({})", c.name()))
                .unwrap_or_default();
            // keys_match is Unknown when the key cannot show its public half; say so
            // instead of claiming a match.
            let signing = provider.key_provider.load_private_key(key.clone_key());
            let known = signing
                .map(|s| {
                    CertifiedKey::new(certified.cert.clone(), s)
                        .keys_match()
                        .is_ok()
                })
                .unwrap_or(false);
            if known {
                checks.ok(
                    "key-match",
                    None,
                    format!(
                        "{key_name} is the key of certificate #1{first}, the first in the file"
                    ),
                );
            } else {
                checks.push(
                    "key-match",
                    Status::Note,
                    Some(&key_file),
                    "this key type cannot be compared with the certificate before a handshake",
                    "",
                );
            }
        }
    }
}

/// `ca-file`: the CA certificates clients trust, each with the file it came from.
pub(super) fn cas(
    options: &Options,
    provider: &CryptoProvider,
    checks: &mut Checks,
) -> Vec<(PathBuf, Cert, CertificateDer<'static>)> {
    let mut out = Vec::new();
    for pem in &options.ca {
        let name = pem.label();
        match credentials::load_certs(pem) {
            Err(e) => checks.error("ca-file", &e),
            Ok(ders) => {
                let before = out.len();
                for der in ders {
                    if let Some(c) = Cert::parse(&der, provider) {
                        out.push((name.clone(), c, der));
                    }
                }
                checks.ok(
                    "ca-file",
                    Some(&name),
                    out[before..]
                        .iter()
                        .map(|(_, c, _)| c.name().to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
        }
    }
    out
}
