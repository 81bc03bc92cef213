//! The chain: each certificate parsed, their order in the file, whether the chain reaches
//! a root (through the file, the CA files, or this machine's trust store), and whether it
//! verifies as a rustls client would verify it.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::RootCertStore;
use x509_parser::prelude::*;

use super::{plural, Checks, Options, Status};
use crate::explain::verification::explain_verification;
use crate::setting::{Naming, Setting};
use crate::tls::certificate::shown_name;
use crate::tls::{trust_store, CertificateInfo};

/// One certificate: its facts, plus the raw names and usages the checks compare.
pub(super) struct Cert {
    pub info: CertificateInfo,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    /// keyUsage bits, if the extension is present.
    pub key_usage: Option<KeyUsageBits>,
    /// extendedKeyUsage, if the extension is present (CertificateInfo cannot tell an absent
    /// extension from one holding only unnamed purposes).
    pub eku: Option<Eku>,
}

#[derive(Clone, Copy)]
pub(super) struct KeyUsageBits {
    pub digital_signature: bool,
    flags: u16,
}

pub(super) struct Eku {
    pub server_auth: bool,
    pub any: bool,
}

const KEY_USAGE_NAMES: [&str; 9] = [
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

impl KeyUsageBits {
    pub fn list(&self) -> String {
        let on: Vec<&str> = (0..KEY_USAGE_NAMES.len())
            .filter(|bit| self.flags >> bit & 1 == 1)
            .map(|bit| KEY_USAGE_NAMES[bit])
            .collect();
        if on.is_empty() {
            "(no bits)".into()
        } else {
            on.join(", ")
        }
    }
}

impl Cert {
    pub fn parse(der: &[u8], provider: &CryptoProvider) -> Option<Cert> {
        let info = CertificateInfo::parse(der, provider)?;
        let (_, x509) = parse_x509_certificate(der).ok()?;
        let key_usage = x509.key_usage().ok().flatten().map(|ku| KeyUsageBits {
            digital_signature: ku.value.digital_signature(),
            flags: ku.value.flags,
        });
        let eku = x509.extended_key_usage().ok().flatten().map(|e| Eku {
            server_auth: e.value.server_auth,
            any: e.value.any,
        });
        Some(Cert {
            subject: x509.subject().as_raw().to_vec(),
            issuer: x509.issuer().as_raw().to_vec(),
            info,
            key_usage,
            eku,
        })
    }

    /// Whether `self` issued `other` (by name, as path building does).
    fn issued(&self, other: &Cert) -> bool {
        self.subject == other.issuer
    }

    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    pub fn name(&self) -> &str {
        shown_name(&self.info.subject_line)
    }
}

/// `cert-parse`: every certificate of the file, or none if one of them is not X.509
/// (indices would no longer match the file).
pub(super) fn parse(
    ders: &[CertificateDer<'static>],
    file: &Path,
    provider: &CryptoProvider,
    checks: &mut Checks,
) -> Vec<Cert> {
    let mut parsed = Vec::new();
    for (i, der) in ders.iter().enumerate() {
        match Cert::parse(der, provider) {
            Some(c) => parsed.push(c),
            None => checks.push(
                "cert-parse",
                Status::Error,
                Some(file),
                format!("certificate #{} is not a valid X.509 certificate", i + 1),
                "export the certificate again; the file may be damaged",
            ),
        }
    }
    if parsed.len() != ders.len() {
        parsed.clear();
    }
    parsed
}

/// `chain-order`: each certificate followed by its issuer. Returns the index of the
/// server's own certificate (0 unless the order is reversed).
pub(super) fn order(chain: &[Cert], file: &Path, checks: &mut Checks) -> usize {
    if chain.len() == 1 {
        checks.ok(
            "chain-order",
            Some(file),
            "one certificate, the server's own",
        );
        return 0;
    }
    // The server's certificate is the one that issued none of the others.
    let issued_another = |i: usize| {
        chain
            .iter()
            .enumerate()
            .any(|(j, c)| j != i && !c.self_issued() && chain[i].issued(c))
    };
    if issued_another(0) {
        let leaf = (0..chain.len()).find(|&i| !issued_another(i)).unwrap_or(0);
        let issued = chain
            .iter()
            .position(|c| !c.self_issued() && chain[0].issued(c))
            .unwrap_or(leaf);
        checks.push(
            "chain-order",
            Status::Error,
            Some(file),
            format!(
                "certificate #1 ({}) is a CA that issued certificate #{} ({}) in the same file — the server's own certificate must come first, and here it is #{}",
                chain[0].name(),
                issued + 1,
                chain[issued].name(),
                leaf + 1
            ),
            format!(
                "reorder the file: the server certificate first, then the certificate that issued it, and so on up (e.g. `cat server.crt intermediate.crt > {}`)",
                file.display()
            ),
        );
        return leaf;
    }
    let out_of_order: Vec<usize> = (1..chain.len())
        .filter(|&i| !chain[i].issued(&chain[i - 1]))
        .collect();
    match out_of_order.first() {
        None => checks.ok(
            "chain-order",
            Some(file),
            format!(
                "{} in order, each issued by the next",
                plural(chain.len(), "certificate", "certificates")
            ),
        ),
        Some(&i) => checks.push(
            "chain-order",
            Status::Warn,
            Some(file),
            format!(
                "certificate #{} ({}) did not issue certificate #{} ({}) — most clients reorder a chain, some older ones fail",
                i + 1,
                chain[i].name(),
                i,
                chain[i - 1].name()
            ),
            "order the file from the server certificate up: each certificate followed by its issuer; remove certificates that belong to another chain",
        ),
    }
    0
}

/// `chain-complete`, `root-in-chain`: follows issuers from the leaf, through the file,
/// then the CA files, then this machine's trust store.
pub(super) fn complete(
    chain: &[Cert],
    leaf: usize,
    ca: &[(PathBuf, Cert, CertificateDer<'static>)],
    file: &Path,
    naming: Naming,
    checks: &mut Checks,
) {
    if chain[leaf].self_issued() {
        checks.ok(
            "chain-complete",
            None,
            "self-signed: there is no issuer to send",
        );
        return;
    }
    let ca_setting = naming.of(Setting::CheckCa);
    let ca_names = || {
        if ca.is_empty() {
            format!("no {ca_setting} given")
        } else {
            format!(
                "not in {ca_setting} {}",
                ca.iter()
                    .map(|(p, _, _)| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let mut path = vec![leaf];
    let mut current = leaf;
    loop {
        let cert = &chain[current];
        if let Some(next) = (0..chain.len()).find(|&i| !path.contains(&i) && chain[i].issued(cert))
        {
            path.push(next);
            if chain[next].self_issued() {
                checks.ok(
                    "chain-complete",
                    None,
                    format!("complete: {}", path_text(chain, &path)),
                );
                checks.push(
                    "root-in-chain",
                    Status::Note,
                    None,
                    format!(
                        "certificate #{} ({}) is a self-signed root: clients ignore it (they trust their own copy or fail), so sending it only makes each handshake larger",
                        next + 1,
                        chain[next].name()
                    ),
                    format!("optional: remove the root from {}", file.display()),
                );
                return;
            }
            current = next;
            continue;
        }
        // The issuer is not in the file.
        if let Some((ca_file, anchor, _)) = ca.iter().find(|(_, c, _)| c.issued(cert)) {
            checks.ok(
                "chain-complete",
                None,
                format!(
                    "complete: {} → {} (in {ca_setting} {})",
                    path_text(chain, &path),
                    anchor.name(),
                    ca_file.display()
                ),
            );
            return;
        }
        let issuer = shown_name(&cert.info.issuer_line);
        if let Some(store) = trust_store::with_subject(&cert.issuer) {
            checks.ok(
                "chain-complete",
                None,
                format!(
                    "complete: {} → {issuer} (a root CA in this machine's trust store, {})",
                    path_text(chain, &path),
                    store.display()
                ),
            );
            return;
        }
        if current == leaf {
            checks.push(
                "chain-complete",
                Status::Warn,
                None,
                format!(
                    "the issuer of the server certificate, {issuer}, is not in {} ({}, not in this machine's trust store): if it is an intermediate CA, many clients will fail (\"unable to get local issuer certificate\"); browsers sometimes fetch it, most other clients do not",
                    file.display(),
                    ca_names()
                ),
                format!(
                    "append the intermediate CA certificate after the server certificate in {} (with Let's Encrypt/certbot: use fullchain.pem, not cert.pem); if {issuer} is your own root CA, pass it with {ca_setting} to confirm",
                    file.display()
                ),
            );
        } else {
            checks.ok(
                "chain-complete",
                None,
                format!(
                    "{} → {issuer} (not sent; clients must trust it — pass it with {ca_setting} to verify)",
                    path_text(chain, &path)
                ),
            );
        }
        return;
    }
}

fn path_text(chain: &[Cert], path: &[usize]) -> String {
    path.iter()
        .map(|&i| format!("#{} {}", i + 1, chain[i].name()))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// `trust`: verifies the chain as a rustls client would (webpki: signatures, validity,
/// purpose, CA constraints), against the CA files.
pub(super) fn trust(
    ders: &[CertificateDer<'static>],
    ca: &[(PathBuf, Cert, CertificateDer<'static>)],
    options: &Options,
    provider: &CryptoProvider,
    now: SystemTime,
    checks: &mut Checks,
) {
    let ca_setting = options.naming.of(Setting::CheckCa);
    if options.ca.is_empty() {
        checks.push(
            "trust",
            Status::Note,
            None,
            format!("not verified against a CA: pass {ca_setting} (the CA your clients trust) to verify the chain as a client would"),
            "",
        );
        return;
    }
    let files = ca
        .iter()
        .map(|(p, _, _)| p.display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(", ");
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(ca.iter().map(|(_, _, d)| d.clone()));
    if roots.is_empty() {
        return; // ca-file already said why
    }
    let Ok(leaf) = rustls::server::ParsedCertificate::try_from(&ders[0]) else {
        checks.push(
            "trust",
            Status::Error,
            None,
            "the first certificate cannot be parsed for verification",
            "export the certificate again",
        );
        return;
    };
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let verdict = rustls::client::verify_server_cert_signed_by_trust_anchor(
        &leaf,
        &roots,
        &ders[1..],
        UnixTime::since_unix_epoch(since),
        provider.signature_verification_algorithms.all,
    );
    match verdict {
        Ok(()) => checks.ok(
            "trust",
            None,
            format!("the chain verifies against {files}, as a rustls client checks it"),
        ),
        Err(e) => {
            let (why, fix) = explain_verification(&e, &files, ca_setting, ders, provider, now);
            checks.push(
                "trust",
                Status::Error,
                None,
                format!("the chain does not verify against {files}: {why}"),
                fix,
            );
        }
    }
}
