//! Preflight checks of a server's certificate, key and CA files, before any client
//! connects: what `tls-server check` prints, and what `serve` can run at startup.
//!
//! Loading goes through `credentials` (so a DER file, a CSR, a swapped pair or an encrypted
//! key is explained exactly as `serve` explains it); certificate facts come from
//! [`CertificateInfo`]; chain verification is rustls's own (webpki), so "verifies" here
//! means what it means to a rustls client.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use x509_parser::prelude::*;

use crate::certificate::{openssl_time, CertificateInfo};
use crate::credentials::{self, Pem};
use crate::{Error, Provider};

/// A certificate that expires sooner than this is a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// What to check: the server's certificate chain and key, the CAs clients trust, the name
/// clients connect with.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    cert: Pem,
    key: Pem,
    ca: Vec<Pem>,
    host: Option<String>,
    at: Option<SystemTime>,
    provider: Provider,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl CheckOptions {
    /// `certs/server.crt` and `certs/server.key` (the defaults of `serve`), no CA, no host,
    /// the local clock.
    pub fn new() -> Self {
        CheckOptions {
            cert: Pem::File("certs/server.crt".into()),
            key: Pem::File("certs/server.key".into()),
            ca: Vec::new(),
            host: None,
            at: None,
            provider: Provider::default(),
        }
    }

    /// These certificate and key sources, checked with `provider`.
    pub(crate) fn pems(cert: Pem, key: Pem, provider: Provider) -> Self {
        CheckOptions {
            cert,
            key,
            provider,
            ..CheckOptions::new()
        }
    }

    /// The certificate chain file (PEM, leaf first).
    pub fn cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cert = Pem::File(path.into());
        self
    }

    /// The certificate chain as PEM text in memory.
    pub fn cert_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.cert = Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        };
        self
    }

    /// The private key file (PEM). Its permissions are checked too.
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Pem::File(path.into());
        self
    }

    /// The private key as PEM text in memory.
    pub fn key_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        };
        self
    }

    /// Adds a CA certificate file that clients trust (a root, or an intermediate they
    /// have). With at least one, the chain is verified as a rustls client would.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca.push(Pem::File(path.into()));
        self
    }

    /// The name (or IP address) clients connect with; it must be in the certificate's
    /// subject alternative names.
    pub fn host(mut self, name: impl Into<String>) -> Self {
        self.host = Some(name.into());
        self
    }

    /// Checks validity at `time` instead of now (e.g. "will it still be valid on the day
    /// of the release?").
    pub fn at(mut self, time: SystemTime) -> Self {
        self.at = Some(time);
        self
    }

    /// The crypto provider whose key loader and signature algorithms are used.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }
}

/// How one check came out, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Fine.
    Ok,
    /// Worth knowing, nothing to fix.
    Note,
    /// It works, but some clients fail or a risk remains.
    Warn,
    /// Clients will fail, or the server will not start.
    Error,
}

impl Status {
    /// `ok`, `note`, `warn` or `error`, for JSON.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Note => "note",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }

    /// `OK`, `NOTE`, `WARN` or `ERROR`, for people (the same words as the log levels).
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Note => "NOTE",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// A stable kebab-case name: `cert-file`, `key-permissions`, `chain-order`, ...
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found, with the file and certificate names.
    pub message: String,
    /// What to do about it; empty when there is nothing to do.
    pub fix: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.label(),
            self.check,
            self.message
        )?;
        if !self.fix.is_empty() {
            write!(f, " — {}", self.fix)?;
        }
        Ok(())
    }
}

/// Everything `check` found.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckReport {
    /// The certificate file (or label).
    pub cert: PathBuf,
    /// The key file (or label).
    pub key: PathBuf,
    /// The CA files given.
    pub ca: Vec<PathBuf>,
    /// The host name checked, if any.
    pub host: Option<String>,
    /// The time validity was checked against.
    pub now: SystemTime,
    /// The certificates in the file, in file order (what the server sends).
    pub chain: Vec<CertificateInfo>,
    /// Index in `chain` of the server's own certificate (normally 0).
    pub leaf: Option<usize>,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl CheckReport {
    /// How many checks failed.
    pub fn errors(&self) -> usize {
        self.count(Status::Error)
    }

    /// How many checks warned.
    pub fn warnings(&self) -> usize {
        self.count(Status::Warn)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// No errors (warnings allowed).
    pub fn passed(&self) -> bool {
        self.errors() == 0
    }

    /// Our clock (or `--at`) as certificates' dates are shown: `Nov 26 04:32:37 2026 GMT`.
    pub fn clock(&self) -> String {
        openssl_time(self.now)
    }

    /// The check called `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == name)
    }

    /// The chain as `#1 CN=leaf → CN=issuer` lines, one per certificate in file order.
    pub fn chain_lines(&self) -> Vec<String> {
        self.chain
            .iter()
            .enumerate()
            .map(|(i, c)| chain_line(i, c))
            .collect()
    }
}

/// `#1 CN=localhost → CN=demo CA (ECDSA P-256, valid Nov 26 … 2025 GMT to … 2125 GMT)`.
pub(crate) fn chain_line(i: usize, c: &CertificateInfo) -> String {
    let what = if c.self_issued {
        ", self-signed"
    } else if c.is_ca {
        ", CA"
    } else {
        ""
    };
    format!(
        "#{} {} → {} ({}{what}, valid {} to {})",
        i + 1,
        shown(&c.subject_line),
        shown(&c.issuer_line),
        c.key,
        c.valid_from,
        c.valid_to
    )
}

/// An empty name (allowed by X.509) would print as nothing.
fn shown(name: &str) -> &str {
    if name.is_empty() {
        "(empty name)"
    } else {
        name
    }
}

/// One certificate: its facts, plus the raw names and usages the checks compare.
struct Cert {
    info: CertificateInfo,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    /// keyUsage bits, if the extension is present.
    key_usage: Option<KeyUsageBits>,
    /// extendedKeyUsage, if the extension is present (CertificateInfo cannot tell an absent
    /// extension from one holding only unnamed purposes).
    eku: Option<Eku>,
}

#[derive(Clone, Copy)]
struct KeyUsageBits {
    digital_signature: bool,
    flags: u16,
}

struct Eku {
    server_auth: bool,
    any: bool,
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
    fn list(&self) -> String {
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
    fn parse(der: &[u8], provider: &CryptoProvider) -> Option<Cert> {
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

    fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    fn name(&self) -> &str {
        shown(&self.info.subject_line)
    }
}

/// Collects checks as they run.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn push(
        &mut self,
        check: &'static str,
        status: Status,
        message: String,
        fix: impl Into<String>,
    ) {
        self.0.push(Check {
            check,
            status,
            message,
            fix: fix.into(),
        });
    }

    fn ok(&mut self, check: &'static str, message: String) {
        self.push(check, Status::Ok, message, "");
    }

    /// A credentials error as a check: `path: problem — fix` split at the dash, so the
    /// message and the fix are the very words `serve` would print.
    fn error(&mut self, check: &'static str, e: &Error) {
        let text = e.to_string();
        let (message, fix) = match text.split_once(" — ") {
            Some((m, f)) => (m.to_string(), f.to_string()),
            None => (text, String::new()),
        };
        self.push(check, Status::Error, message, fix);
    }
}

/// Runs every check that applies. Never fails: a file that cannot be read is an error
/// line in the report, and the checks that need it are skipped.
pub fn check(options: &CheckOptions) -> CheckReport {
    let provider = options.provider.crypto_provider();
    let now = options.at.unwrap_or_else(SystemTime::now);
    let mut checks = Checks::default();
    let cert_name = options.cert.label().display().to_string();
    let key_name = options.key.label().display().to_string();

    // --- files and formats -------------------------------------------------------------
    let certs = match options.cert.read("certificate") {
        Err(e) => {
            checks.error("cert-file", &e);
            None
        }
        Ok((_, data)) => {
            checks.ok(
                "cert-file",
                format!("{cert_name}: readable ({} bytes)", data.len()),
            );
            match credentials::load_certs(&options.cert) {
                Ok(certs) => {
                    checks.ok(
                        "cert-format",
                        format!(
                            "{cert_name}: PEM, {}",
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
    };

    let key = match options.key.read("private key") {
        Err(e) => {
            checks.error("key-file", &e);
            None
        }
        Ok((_, data)) => {
            checks.ok(
                "key-file",
                format!("{key_name}: readable ({} bytes)", data.len()),
            );
            match credentials::load_key(&options.key) {
                Ok(key) => {
                    let form = match &key {
                        PrivateKeyDer::Pkcs8(_) => "PKCS#8 (\"PRIVATE KEY\")",
                        PrivateKeyDer::Pkcs1(_) => "PKCS#1 (\"RSA PRIVATE KEY\")",
                        PrivateKeyDer::Sec1(_) => "SEC1 (\"EC PRIVATE KEY\")",
                        _ => "a form rustls reads",
                    };
                    checks.ok(
                        "key-format",
                        format!("{key_name}: PEM, unencrypted, {form}"),
                    );
                    // Only a file that holds a private key: a certificate or CSR given by
                    // mistake is reported by key-format, not as a readable secret.
                    if let Pem::File(path) = &options.key {
                        key_permissions(path, &mut checks);
                    }
                    Some(key)
                }
                Err(e) => {
                    checks.error("key-format", &e);
                    None
                }
            }
        }
    };

    let mut key_usable = false;
    if let Some(key) = &key {
        match provider.key_provider.load_private_key(key.clone_key()) {
            Ok(signing) => {
                key_usable = true;
                checks.ok(
                    "key-type",
                    format!(
                        "{key_name}: {} key, which {} can sign with",
                        match signing.algorithm() {
                            rustls::SignatureAlgorithm::ECDSA => "an ECDSA".to_string(),
                            rustls::SignatureAlgorithm::RSA => "an RSA".to_string(),
                            rustls::SignatureAlgorithm::ED25519 => "an Ed25519".to_string(),
                            other => format!("a {other:?}"),
                        },
                        options.provider.name()
                    ),
                )
            }
            // The same words as credentials::load_certified_key, which serve runs.
            Err(e) => checks.push(
                "key-type",
                Status::Error,
                format!("{key_name}: the key type is not supported ({e})"),
                "use an ECDSA (P-256/P-384), Ed25519 or RSA (2048+ bits) key",
            ),
        }
    }

    // --- the chain -----------------------------------------------------------------------
    let mut parsed = Vec::new();
    if let Some(ders) = &certs {
        for (i, der) in ders.iter().enumerate() {
            match Cert::parse(der, &provider) {
                Some(c) => parsed.push(c),
                None => checks.push(
                    "cert-parse",
                    Status::Error,
                    format!(
                        "{cert_name}: certificate #{} is not a valid X.509 certificate",
                        i + 1
                    ),
                    "export the certificate again; the file may be damaged",
                ),
            }
        }
        if parsed.len() != ders.len() {
            parsed.clear(); // indices would no longer match the file
        }
    }

    if let (Some(_), Some(key), true) = (&certs, &key, key_usable) {
        key_match(options, &provider, key, &parsed, &key_name, &mut checks);
    }

    let ca = load_cas(options, &provider, &mut checks);
    let leaf = if parsed.is_empty() {
        None
    } else {
        Some(chain_order(&parsed, &cert_name, &mut checks))
    };
    if let Some(leaf) = leaf {
        chain_complete(&parsed, leaf, &ca, &cert_name, &mut checks);
        leaf_kind(&parsed[leaf], &mut checks);
        validity(&parsed, leaf, now, &mut checks);
        names(&parsed[leaf], options.host.as_deref(), &mut checks);
        usage(&parsed[leaf], &mut checks);
        strength(&parsed, &mut checks);
        if let Some(ders) = &certs {
            trust(ders, &ca, options, &provider, now, &mut checks);
        }
    }

    CheckReport {
        cert: options.cert.label(),
        key: options.key.label(),
        ca: options.ca.iter().map(Pem::label).collect(),
        host: options.host.clone(),
        now,
        chain: parsed.into_iter().map(|c| c.info).collect(),
        leaf,
        checks: checks.0,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A private key readable by other users lets them impersonate the server.
#[cfg(unix)]
fn key_permissions(path: &Path, checks: &mut Checks) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    let shown = path.display();
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
            format!("{shown}: mode {mode:04o}, readable by its owner only"),
        ),
        _ => checks.push(
            "key-permissions",
            Status::Warn,
            format!(
                "{shown}: mode {mode:04o}: the private key is {}, and whoever can read it can impersonate this server",
                match (who, writable) {
                    (Some(who), true) => format!("readable by {who}, and writable by others"),
                    (Some(who), false) => format!("readable by {who}"),
                    (None, _) => "writable by others".to_string(),
                }
            ),
            format!("chmod 600 {shown} (owned by the user that runs the server)"),
        ),
    }
}

#[cfg(not(unix))]
fn key_permissions(_path: &Path, _checks: &mut Checks) {}

/// Which certificate in the file the key belongs to. A match with certificate #2 means the
/// chain is in the wrong order — the classic "key values mismatch".
fn key_match(
    options: &CheckOptions,
    provider: &CryptoProvider,
    key: &PrivateKeyDer<'static>,
    parsed: &[Cert],
    key_name: &str,
    checks: &mut Checks,
) {
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
                    format!(
                        "{key_name} is the key of certificate #1{first}, the first in the file"
                    ),
                );
            } else {
                checks.push(
                    "key-match",
                    Status::Note,
                    format!("{key_name}: this key type cannot be compared with the certificate before a handshake"),
                    "",
                );
            }
        }
    }
}

fn load_cas(
    options: &CheckOptions,
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
                    format!(
                        "{}: {}",
                        name.display(),
                        out[before..]
                            .iter()
                            .map(|(_, c, _)| c.name().to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
            }
        }
    }
    out
}

/// Checks that each certificate is followed by its issuer, and returns the index of the
/// server's own certificate (0 unless the order is reversed).
fn chain_order(chain: &[Cert], cert_name: &str, checks: &mut Checks) -> usize {
    if chain.len() == 1 {
        checks.ok(
            "chain-order",
            format!("{cert_name}: one certificate, the server's own"),
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
            format!(
                "{cert_name}: certificate #1 ({}) is a CA that issued certificate #{} ({}) in the same file — the server's own certificate must come first, and here it is #{}",
                chain[0].name(),
                issued + 1,
                chain[issued].name(),
                leaf + 1
            ),
            format!(
                "reorder the file: the server certificate first, then the certificate that issued it, and so on up (e.g. `cat server.crt intermediate.crt > {cert_name}`)"
            ),
        );
        return leaf;
    }
    let out_of_order: Vec<usize> = (1..chain.len())
        .filter(|&i| !chain[i].issued(&chain[i - 1]))
        .collect();
    if out_of_order.is_empty() {
        checks.ok(
            "chain-order",
            format!(
                "{cert_name}: {} in order, each issued by the next",
                plural(chain.len(), "certificate", "certificates")
            ),
        );
    } else {
        let i = out_of_order[0];
        checks.push(
            "chain-order",
            Status::Warn,
            format!(
                "{cert_name}: certificate #{} ({}) did not issue certificate #{} ({}) — most clients reorder a chain, some older ones fail",
                i + 1,
                chain[i].name(),
                i,
                chain[i - 1].name()
            ),
            "order the file from the server certificate up: each certificate followed by its issuer; remove certificates that belong to another chain",
        );
    }
    0
}

/// Follows issuers from the leaf: through the file, then the --ca files, then this
/// machine's trust store.
fn chain_complete(
    chain: &[Cert],
    leaf: usize,
    ca: &[(PathBuf, Cert, CertificateDer<'static>)],
    cert_name: &str,
    checks: &mut Checks,
) {
    if chain[leaf].self_issued() {
        checks.ok(
            "chain-complete",
            "self-signed: there is no issuer to send".to_string(),
        );
        return;
    }
    let ca_names = || {
        if ca.is_empty() {
            "no --ca given".to_string()
        } else {
            format!(
                "not in --ca {}",
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
                    format!("complete: {}", path_text(chain, &path)),
                );
                checks.push(
                    "root-in-chain",
                    Status::Note,
                    format!(
                        "certificate #{} ({}) is a self-signed root: clients ignore it (they trust their own copy or fail), so sending it only makes each handshake larger",
                        next + 1,
                        chain[next].name()
                    ),
                    format!("optional: remove the root from {cert_name}"),
                );
                return;
            }
            current = next;
            continue;
        }
        // The issuer is not in the file.
        if let Some((file, anchor, _)) = ca.iter().find(|(_, c, _)| c.issued(cert)) {
            checks.ok(
                "chain-complete",
                format!(
                    "complete: {} → {} (in --ca {})",
                    path_text(chain, &path),
                    anchor.name(),
                    file.display()
                ),
            );
            return;
        }
        let issuer = shown(&cert.info.issuer_line);
        if let Some(store) = system_store_with_subject(&cert.issuer) {
            checks.ok(
                "chain-complete",
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
                format!(
                    "the issuer of the server certificate, {issuer}, is not in {cert_name} ({}, not in this machine's trust store): if it is an intermediate CA, many clients will fail (\"unable to get local issuer certificate\"); browsers sometimes fetch it, most other clients do not",
                    ca_names()
                ),
                format!(
                    "append the intermediate CA certificate after the server certificate in {cert_name} (with Let's Encrypt/certbot: use fullchain.pem, not cert.pem); if {issuer} is your own root CA, pass it with --ca to confirm"
                ),
            );
        } else {
            checks.ok(
                "chain-complete",
                format!(
                    "{} → {issuer} (not sent; clients must trust it — pass it with --ca to verify)",
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

/// A CA certificate as the server's own is rejected; a self-signed one is trusted only by
/// clients told to trust exactly it.
fn leaf_kind(leaf: &Cert, checks: &mut Checks) {
    let name = leaf.name();
    if leaf.info.is_ca {
        checks.push(
            "leaf-kind",
            Status::Error,
            format!(
                "the server certificate ({name}) is a CA certificate (basicConstraints CA:TRUE){} — rustls, Go and others refuse a CA certificate as a server's (\"CaUsedAsEndEntity\")",
                if leaf.self_issued() { " and self-signed" } else { "" }
            ),
            "issue a server certificate from this CA (basicConstraints CA:FALSE, extendedKeyUsage serverAuth) and use that one with its key",
        );
    } else if leaf.self_issued() {
        checks.push(
            "leaf-kind",
            Status::Warn,
            format!(
                "the server certificate ({name}) is self-signed: clients accept it only if told to trust exactly this certificate (e.g. `curl --cacert`, `openssl s_client -CAfile`); browsers show a warning"
            ),
            "for anything shared, use a certificate issued by a CA the clients trust; for tests, give this certificate to the clients as their CA",
        );
    } else {
        checks.ok(
            "leaf-kind",
            format!(
                "the server certificate ({name}) is an end-entity certificate issued by {}",
                shown(&leaf.info.issuer_line)
            ),
        );
    }
}

fn days(d: Duration) -> String {
    let n = d.as_secs() / 86_400;
    plural(n as usize, "day", "days")
}

/// The validity window of every certificate against our clock; the leaf's is the one that
/// matters most, but an expired intermediate fails the handshake just as well.
fn validity(chain: &[Cert], leaf: usize, now: SystemTime, checks: &mut Checks) {
    let clock = openssl_time(now);
    let mut order: Vec<usize> = vec![leaf];
    order.extend((0..chain.len()).filter(|&i| i != leaf && !chain[i].self_issued()));
    for &i in &order {
        let c = &chain[i].info;
        let who = if i == leaf {
            format!("the server certificate ({})", shown(&c.subject_line))
        } else {
            format!("certificate #{} ({})", i + 1, shown(&c.subject_line))
        };
        let window = format!("valid from {} to {}", c.valid_from, c.valid_to);
        if now < c.not_before {
            let early = c.not_before.duration_since(now).unwrap_or_default();
            checks.push(
                "validity",
                Status::Error,
                format!(
                    "{who} is not valid yet: {window}, and our clock says {clock} ({} too early) — either it was issued with a future start date, or this machine's clock is wrong",
                    days(early)
                ),
                "check the clock (`date -u`; enable NTP, e.g. `timedatectl set-ntp true`); if the clock is right, reissue the certificate with a start date in the past",
            );
            return;
        }
        if now > c.not_after {
            let ago = now.duration_since(c.not_after).unwrap_or_default();
            checks.push(
                "validity",
                Status::Error,
                format!(
                    "{who} expired on {} ({} ago): {window}, and our clock says {clock}",
                    c.valid_to,
                    days(ago)
                ),
                "renew the certificate (and automate renewal); if it is not really expired, this machine's clock is wrong",
            );
            return;
        }
        let left = c.not_after.duration_since(now).unwrap_or_default();
        if left < EXPIRY_WARNING {
            checks.push(
                "validity",
                Status::Warn,
                format!("{who} expires in {}, on {}", days(left), c.valid_to),
                "renew it now, and automate renewal (e.g. an ACME client's renew timer)",
            );
            return;
        }
    }
    let c = &chain[leaf].info;
    let left = c.not_after.duration_since(now).unwrap_or_default();
    checks.ok(
        "validity",
        format!(
            "valid from {} to {} ({} left; our clock says {clock})",
            c.valid_from,
            c.valid_to,
            days(left)
        ),
    );
}

/// Which of the certificate's names covers `host`, matched the way webpki does it: an IP
/// address only against IP address SANs, a DNS name case-insensitively, a wildcard only as
/// the whole leftmost label and for exactly one label; the CN is never used.
pub(crate) fn covering_name<'a>(cert: &'a CertificateInfo, host: &str) -> Option<&'a str> {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return cert
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
    cert.subject_alt_names
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

/// Subject alternative names (modern clients ignore the CN), and `--host` against them.
fn names(leaf: &Cert, host: Option<&str>, checks: &mut Checks) {
    let sans = &leaf.info.subject_alt_names;
    let cn = leaf.info.common_name().unwrap_or("(none)");
    if sans.is_empty() {
        checks.push(
            "names",
            Status::Warn,
            format!(
                "the server certificate has no subjectAltName, only CN={cn} — browsers, Go, rustls and other modern clients ignore the CN and reject it"
            ),
            format!("reissue it with `subjectAltName = DNS:{cn}` (and every other name clients use)"),
        );
    } else {
        checks.ok("names", format!("names (SAN): {}", sans.join(", ")));
    }
    let Some(host) = host else {
        return;
    };
    match covering_name(&leaf.info, host) {
        Some(san) => checks.ok("host", format!("{host} is covered by {san}")),
        None if sans.is_empty() => checks.push(
            "host",
            Status::Error,
            format!(
                "{host} is not covered: the certificate has no subjectAltName{}",
                if cn.eq_ignore_ascii_case(host) {
                    format!(", and its CN={cn} is ignored by modern clients")
                } else {
                    format!(" (CN={cn})")
                }
            ),
            format!("reissue the certificate with `subjectAltName = {}`", san_for(host)),
        ),
        None => checks.push(
            "host",
            Status::Error,
            format!(
                "{host} is not covered by the certificate's names: {} — clients connecting to {host} will fail (hostname mismatch){}",
                sans.join(", "),
                if host.parse::<IpAddr>().is_ok() && sans.iter().any(|s| s.starts_with("DNS:")) {
                    "; an IP address matches only IP address SANs"
                } else {
                    ""
                }
            ),
            format!(
                "connect with one of those names, or reissue the certificate with `{}` added to subjectAltName (a wildcard *.example.com covers one label only)",
                san_for(host)
            ),
        ),
    }
}

fn san_for(host: &str) -> String {
    if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        format!("IP:{}", host.trim_matches(['[', ']']))
    } else {
        format!("DNS:{host}")
    }
}

/// keyUsage must allow signing (RFC 8446 §4.4.2.2); extendedKeyUsage, when present, must
/// include serverAuth.
fn usage(leaf: &Cert, checks: &mut Checks) {
    match leaf.key_usage {
        None => checks.ok("key-usage", "no keyUsage extension: any use allowed".into()),
        Some(ku) if ku.digital_signature => {
            checks.ok("key-usage", format!("keyUsage: {}", ku.list()))
        }
        Some(ku) => checks.push(
            "key-usage",
            Status::Error,
            format!(
                "keyUsage is {} without digitalSignature: the key may not sign the handshake, which TLS 1.3 and ECDHE require (RFC 8446 §4.4.2.2); strict clients reject it (Firefox: SEC_ERROR_INADEQUATE_KEY_USAGE)",
                ku.list()
            ),
            "reissue the certificate with `keyUsage = critical, digitalSignature` (RSA certificates may add keyEncipherment)",
        ),
    }
    let listed = if leaf.info.extended_key_usage.is_empty() {
        "only unnamed purposes".to_string()
    } else {
        leaf.info.extended_key_usage.join(", ")
    };
    match &leaf.eku {
        None => checks.ok(
            "server-auth",
            "no extendedKeyUsage extension: any purpose allowed, including serverAuth".into(),
        ),
        Some(eku) if eku.server_auth => {
            checks.ok("server-auth", format!("extendedKeyUsage: {listed}"))
        }
        Some(eku) if eku.any => checks.push(
            "server-auth",
            Status::Warn,
            format!(
                "extendedKeyUsage is {listed}, without serverAuth: OpenSSL and Go accept anyExtendedKeyUsage, rustls does not"
            ),
            "reissue the certificate with `extendedKeyUsage = serverAuth`",
        ),
        Some(_) => checks.push(
            "server-auth",
            Status::Error,
            format!(
                "extendedKeyUsage is {listed}, without serverAuth: the certificate is not for TLS servers, and clients refuse it (rustls: InvalidPurpose; OpenSSL: \"unsupported certificate purpose\")"
            ),
            "reissue it with `extendedKeyUsage = serverAuth` (add clientAuth too if the same certificate also authenticates as a client)",
        ),
    }
}

/// Weak keys and signatures anywhere in what the server sends. A root's signature on
/// itself is never checked by clients, so SHA-1 there is harmless.
fn strength(chain: &[Cert], checks: &mut Checks) {
    let mut weak = false;
    for (i, c) in chain.iter().enumerate() {
        if let Some(bits) = c
            .info
            .key
            .strip_prefix("RSA ")
            .and_then(|b| b.parse::<usize>().ok())
        {
            if bits < 2048 {
                weak = true;
                checks.push(
                    "key-strength",
                    Status::Error,
                    format!(
                        "certificate #{} ({}) has an RSA {bits}-bit key: below the 2048-bit minimum of current clients and of rustls",
                        i + 1,
                        c.name()
                    ),
                    "generate a new key (ECDSA P-256: `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, or RSA 2048+) and have the certificate reissued for it",
                );
            }
        }
        if !c.self_issued() && weak_signature(&c.info.signature_algorithm) {
            weak = true;
            checks.push(
                "signature",
                Status::Error,
                format!(
                    "certificate #{} ({}) is signed with {}: SHA-1 (and MD5) signatures are rejected by browsers, rustls and current OpenSSL",
                    i + 1,
                    c.name(),
                    crate::certificate::signature_name(&c.info.signature_algorithm)
                ),
                "have it reissued with a SHA-256 signature (`-sha256`)",
            );
        }
    }
    if !weak {
        checks.ok(
            "key-strength",
            format!(
                "keys and signatures: {}",
                chain
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let signature =
                            crate::certificate::signature_name(&c.info.signature_algorithm);
                        format!("#{} {} {signature}", i + 1, c.info.key)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }
}

/// SHA-1, MD5 or MD2: by OID, or by name as OpenSSL spells them (`RSA-SHA1`, ...).
fn weak_signature(alg: &str) -> bool {
    use crate::certificate::signature_name;
    let name = signature_name(alg).to_ascii_lowercase();
    name.contains("sha1") || name.contains("md5") || name.contains("md2")
}

/// Verifies the chain as a rustls client would (webpki: signatures, validity, purpose,
/// CA constraints), against the --ca certificates.
fn trust(
    ders: &[CertificateDer<'static>],
    ca: &[(PathBuf, Cert, CertificateDer<'static>)],
    options: &CheckOptions,
    provider: &CryptoProvider,
    now: SystemTime,
    checks: &mut Checks,
) {
    if options.ca.is_empty() {
        checks.push(
            "trust",
            Status::Note,
            "not verified against a CA: pass --ca FILE (the CA your clients trust) to verify the chain as a client would".into(),
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
            "the first certificate cannot be parsed for verification".into(),
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
            format!("the chain verifies against {files}, as a rustls client checks it"),
        ),
        Err(e) => {
            let (why, fix) = crate::probe::explain_verification(&e, &files, ders, provider, now);
            checks.push(
                "trust",
                Status::Error,
                format!("the chain does not verify against {files}: {why}"),
                fix,
            );
        }
    }
}

/// The system trust store (as OpenSSL finds it): `SSL_CERT_FILE`, or the usual bundle
/// paths of Debian, Fedora, Alpine, openSUSE and the BSDs.
pub(crate) fn system_trust_store() -> Option<(PathBuf, Vec<CertificateDer<'static>>)> {
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
fn system_store_with_subject(name: &[u8]) -> Option<PathBuf> {
    let (path, certs) = system_trust_store()?;
    certs
        .iter()
        .any(|der| parse_x509_certificate(der).is_ok_and(|(_, c)| c.subject().as_raw() == name))
        .then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sans: &[&str]) -> CertificateInfo {
        let der =
            CertificateDer::from_pem_file(concat!(env!("CARGO_MANIFEST_DIR"), "/certs/server.crt"))
                .unwrap();
        let mut info =
            CertificateInfo::parse(&der, &Provider::default().crypto_provider()).unwrap();
        info.subject_alt_names = sans.iter().map(|s| s.to_string()).collect();
        info
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        let c = info(&["DNS:*.example.test", "DNS:Exact.Example"]);
        assert_eq!(
            covering_name(&c, "a.example.test"),
            Some("DNS:*.example.test")
        );
        assert_eq!(
            covering_name(&c, "A.EXAMPLE.TEST."),
            Some("DNS:*.example.test")
        );
        assert_eq!(covering_name(&c, "a.b.example.test"), None);
        assert_eq!(covering_name(&c, "example.test"), None);
        assert_eq!(covering_name(&c, ".example.test"), None);
        assert_eq!(
            covering_name(&c, "exact.example"),
            Some("DNS:Exact.Example")
        );
    }

    #[test]
    fn addresses_match_only_address_names() {
        let c = info(&["DNS:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"]);
        assert_eq!(covering_name(&c, "127.0.0.1"), None);
        assert_eq!(covering_name(&c, "::1"), Some("IP Address:0:0:0:0:0:0:0:1"));
        assert_eq!(
            covering_name(&c, "[::1]"),
            Some("IP Address:0:0:0:0:0:0:0:1")
        );
    }

    #[test]
    fn sha1_is_weak_by_oid_or_name() {
        assert!(weak_signature("1.2.840.10045.4.1"));
        assert!(weak_signature("RSA-SHA1"));
        assert!(weak_signature("sha1WithRSAEncryption"));
        assert!(!weak_signature("ecdsa-with-SHA256"));
        assert!(!weak_signature("RSA-SHA256"));
        assert_eq!(
            crate::certificate::signature_name("1.2.840.10045.4.1"),
            "ecdsa-with-SHA1"
        );
    }

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Status::Ok < Status::Note && Status::Note < Status::Warn);
        assert!(Status::Warn < Status::Error);
    }
}
