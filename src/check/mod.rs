//! Preflight checks of a server's certificate, key and CA files, before any client
//! connects: what `tls-server check` prints, what `serve` runs at startup, and what a
//! reload must pass.
//!
//! ```no_run
//! use tls_server::check;
//! let report = check::check(&check::Options::new("certs/server.crt", "certs/server.key"));
//! for c in &report.checks {
//!     println!("{c}"); // OK cert-file: certs/server.crt: readable (…)
//! }
//! assert!(report.passed());
//! ```
//!
//! Loading goes through the same code as the server (so a DER file, a CSR, a swapped pair
//! or an encrypted key is explained exactly as `serve` explains it); certificate facts
//! come from [`CertificateInfo`]; chain verification is rustls's own (webpki), so
//! "verifies" here means what it means to a rustls client.
//!
//! - `files.rs`: the files themselves (readable, PEM, key type, permissions, key match);
//! - `chain.rs`: the chain (order, completeness, trust);
//! - `leaf.rs`: the server certificate (kind, validity, names, usage, strength).

mod chain;
mod files;
mod leaf;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::Error;
use crate::setting::Naming;
use crate::tls::credentials::Pem;
use crate::tls::{CertificateInfo, Provider};
use crate::util::json::Obj;
use crate::util::time::openssl_time;

use self::chain::Cert;

/// What to check: the server's certificate chain and key, the CAs clients trust, the name
/// clients connect with.
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) cert: Pem,
    pub(crate) key: Pem,
    pub(crate) ca: Vec<Pem>,
    pub(crate) host: Option<String>,
    pub(crate) at: Option<SystemTime>,
    pub(crate) provider: Provider,
    pub(crate) naming: Naming,
}

impl Options {
    /// Checks this certificate chain file (PEM, leaf first) and private key file, with no
    /// CA, no host, the local clock and the default provider.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self::pems(
            Pem::File(cert.into()),
            Pem::File(key.into()),
            Provider::default(),
        )
    }

    /// These certificate and key sources, checked with `provider`.
    pub(crate) fn pems(cert: Pem, key: Pem, provider: Provider) -> Self {
        Options {
            cert,
            key,
            ca: Vec::new(),
            host: None,
            at: None,
            provider,
            naming: Naming::default(),
        }
    }

    /// The certificate chain as PEM text in memory instead of a file.
    pub fn cert_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.cert = Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        };
        self
    }

    /// The private key as PEM text in memory instead of a file (its permissions are then
    /// not checked).
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

    /// How fixes name settings (see [`setting`](crate::setting)); the command line names
    /// its flags.
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
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
    /// The file the finding is about, when it is about one file.
    pub file: Option<PathBuf>,
    /// What was found, with the certificate names.
    pub message: String,
    /// What to do about it; empty when there is nothing to do.
    pub fix: String,
}

impl Check {
    /// The message with its file: `certs/server.key: mode 0644: …`.
    pub fn located(&self) -> String {
        match &self.file {
            Some(file) => format!("{}: {}", file.display(), self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for Check {
    /// `ERROR key-match: certs/server.crt: the private key … — put the server (leaf)
    /// certificate first, then its intermediates`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.label(),
            self.check,
            self.located()
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
pub struct Report {
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

impl Report {
    /// How many checks failed.
    pub fn errors(&self) -> usize {
        self.problems().count()
    }

    /// How many checks warned.
    pub fn warnings(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count()
    }

    /// The checks that failed.
    pub fn problems(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Error)
    }

    /// No errors (warnings allowed).
    pub fn passed(&self) -> bool {
        self.errors() == 0
    }

    /// Our clock (or [`Options::at`]) as certificates' dates are shown:
    /// `Nov 26 04:32:37 2026 GMT`.
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
            .map(|(i, c)| c.chain_line(i))
            .collect()
    }

    /// The report as one JSON object (what `tls-server check --json` prints): `cert`,
    /// `key`, `ca`, `host`, `clock`, `passed`, `errors`, `warnings`, `chain` (each
    /// certificate as [`CertificateInfo::to_json`]) and `checks` (`check`, `status`,
    /// `file`, `message`, `fix`).
    pub fn to_json(&self) -> String {
        let checks: Vec<String> = self
            .checks
            .iter()
            .map(|c| {
                Obj::new()
                    .str("check", c.check)
                    .str("status", c.status.name())
                    .opt_str(
                        "file",
                        c.file.as_ref().map(|f| f.display().to_string()).as_deref(),
                    )
                    .str("message", &c.message)
                    .str("fix", &c.fix)
                    .finish()
            })
            .collect();
        let ca: Vec<String> = self.ca.iter().map(|p| p.display().to_string()).collect();
        Obj::new()
            .str("cert", &self.cert.display().to_string())
            .str("key", &self.key.display().to_string())
            .strs("ca", &ca)
            .opt_str("host", self.host.as_deref())
            .str("clock", &self.clock())
            .bool("passed", self.passed())
            .num("errors", self.errors())
            .num("warnings", self.warnings())
            .raw("chain", &CertificateInfo::list_json(&self.chain))
            .raw("checks", &format!("[{}]", checks.join(",")))
            .finish()
    }
}

/// Collects checks as they run.
struct Checks(Vec<Check>);

impl Checks {
    fn push(
        &mut self,
        check: &'static str,
        status: Status,
        file: Option<&Path>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Check {
            check,
            status,
            file: file.map(Path::to_path_buf),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn ok(&mut self, check: &'static str, file: Option<&Path>, message: impl Into<String>) {
        self.push(check, Status::Ok, file, message, "");
    }

    /// A loading error as a check: the very words `serve` would print.
    fn error(&mut self, check: &'static str, e: &Error) {
        match e {
            Error::Credential { path, problem, fix } => self.push(
                check,
                Status::Error,
                Some(path),
                problem.clone(),
                fix.clone(),
            ),
            other => self.push(check, Status::Error, None, other.problem(), other.fix()),
        }
    }
}

/// Runs every check that applies. Never fails: a file that cannot be read is an error
/// line in the report, and the checks that need it are skipped.
pub fn check(options: &Options) -> Report {
    let provider = options.provider.crypto_provider();
    let now = options.at.unwrap_or_else(SystemTime::now);
    let mut checks = Checks(Vec::new());
    let cert_file = options.cert.label();

    let certs = files::certificates(options, &mut checks);
    let key = files::key(options, &provider, &mut checks);
    let mut parsed: Vec<Cert> = Vec::new();
    if let Some(ders) = &certs {
        parsed = chain::parse(ders, &cert_file, &provider, &mut checks);
        if let Some(key) = &key {
            files::key_match(options, &provider, key, &parsed, &mut checks);
        }
    }
    let ca = files::cas(options, &provider, &mut checks);
    let leaf = (!parsed.is_empty()).then(|| chain::order(&parsed, &cert_file, &mut checks));
    if let (Some(leaf), Some(ders)) = (leaf, &certs) {
        chain::complete(&parsed, leaf, &ca, &cert_file, options.naming, &mut checks);
        leaf::kind(&parsed[leaf], &mut checks);
        leaf::validity(&parsed, leaf, now, &mut checks);
        leaf::names(&parsed[leaf], options.host.as_deref(), &mut checks);
        leaf::usage(&parsed[leaf], &mut checks);
        leaf::strength(&parsed, &mut checks);
        chain::trust(ders, &ca, options, &provider, now, &mut checks);
    }

    Report {
        cert: cert_file,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Status::Ok < Status::Note && Status::Note < Status::Warn);
        assert!(Status::Warn < Status::Error);
    }
}
