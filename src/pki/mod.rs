//! A complete test PKI in one call (feature `pki`): a root CA, an intermediate, a good
//! server certificate, and one deliberately broken certificate (or file) for each failure
//! the server explains — expired, not yet valid, a wrong host name, a missing
//! intermediate, a CA used as a leaf, ... — plus client certificates and a revocation list.
//! Everything is relative to the moment it is made ("expires in 10 days"), offline, and
//! made with rcgen: no `openssl` command needed. `tls-server pki DIR` is this module.
//!
//! ```no_run
//! # fn main() -> Result<(), tls_server::Error> {
//! let made = tls_server::pki::generate(&tls_server::pki::Options::new("/tmp/pki"))?;
//! println!("{}", made.to_json());
//! # Ok(()) }
//! ```
//!
//! `DIR/README.md` lists every file, what it is broken for, the command that shows the
//! server explaining it, and what clients say about it ([`FIXTURES`]).

mod demo;
mod fixtures;
mod make;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use demo::DEMO_NOT_MADE;
pub use fixtures::{Fixture, FIXTURES, NOT_MADE};

use crate::error::Error;
use crate::util::json::Obj;

/// The key type of every certificate made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA with P-256 and SHA-256. The default: small and fast.
    #[default]
    P256,
    /// ECDSA with P-384 and SHA-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// RSA 2048 with SHA-256 (needs the aws-lc-rs provider: ring cannot make RSA keys).
    Rsa2048,
    /// RSA 3072 with SHA-256 (aws-lc-rs only).
    Rsa3072,
}

impl KeyType {
    /// `p256`, `p384`, `ed25519`, `rsa2048`, `rsa3072`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::P256 => "p256",
            KeyType::P384 => "p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa2048",
            KeyType::Rsa3072 => "rsa3072",
        }
    }

    /// Parses [`name`](Self::name)'s names.
    pub fn parse(s: &str) -> Option<KeyType> {
        [
            KeyType::P256,
            KeyType::P384,
            KeyType::Ed25519,
            KeyType::Rsa2048,
            KeyType::Rsa3072,
        ]
        .into_iter()
        .find(|k| k.name() == s.trim().to_ascii_lowercase())
    }
}

/// Which set of certificates to make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Set {
    /// The test PKI: the CAs, every fixture of [`FIXTURES`], client certificates, a CRL and
    /// `README.md`, relative to now and shaped by the [`Options`].
    #[default]
    Fixtures,
    /// The repository's own demo credentials (its `certs/` folder): the demo CA and server
    /// certificates, the names served by SNI, the client-authentication set, the fixtures of
    /// `tls-server check` and the broken inputs of configuration errors. Names, subjects
    /// and fixed dates are the ones the repository's tests and README rely on; only the
    /// directory and the time are taken from the [`Options`]. [`DEMO_NOT_MADE`] lists the
    /// few files rcgen cannot make.
    Demo,
}

impl Set {
    /// `fixtures` or `demo`.
    pub fn name(self) -> &'static str {
        match self {
            Set::Fixtures => "fixtures",
            Set::Demo => "demo",
        }
    }

    /// Parses [`name`](Self::name)'s names.
    pub fn parse(s: &str) -> Option<Set> {
        [Set::Fixtures, Set::Demo]
            .into_iter()
            .find(|set| set.name() == s.trim().to_ascii_lowercase())
    }
}

/// What to make, and where.
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) dir: PathBuf,
    pub(crate) set: Set,
    pub(crate) key_type: KeyType,
    pub(crate) names: Vec<String>,
    pub(crate) days: u32,
    pub(crate) expiring_in: u32,
    pub(crate) now: SystemTime,
}

impl Options {
    /// Everything written under `dir` (created if missing; files in it are replaced).
    /// Defaults: P-256 keys, names `localhost`, `127.0.0.1`, `::1`, good certificates valid
    /// for 365 days, the "expiring soon" one expiring in 10 days, made as of now.
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            set: Set::default(),
            key_type: KeyType::default(),
            names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            days: 365,
            expiring_in: 10,
            now: SystemTime::now(),
        }
    }

    /// Which set to make ([`Set::Fixtures`] unless told).
    pub fn set(mut self, set: Set) -> Options {
        self.set = set;
        self
    }

    /// The key type of every certificate.
    pub fn key_type(mut self, key_type: KeyType) -> Options {
        self.key_type = key_type;
        self
    }

    /// The names (DNS names or IP addresses) the good server certificate covers, and every
    /// broken one except `wrong-host`.
    pub fn names<S: AsRef<str>>(mut self, names: &[S]) -> Options {
        self.names = names.iter().map(|n| n.as_ref().to_string()).collect();
        self
    }

    /// How long the good certificates are valid, in days from now (at least 1).
    pub fn days(mut self, days: u32) -> Options {
        self.days = days.max(1);
        self
    }

    /// When the `expiring-soon` certificate expires, in days from now.
    pub fn expiring_in(mut self, days: u32) -> Options {
        self.expiring_in = days;
        self
    }

    /// Makes the set as of `now` instead of the system clock's now.
    pub fn at(mut self, now: SystemTime) -> Options {
        self.now = now;
        self
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Made {
    /// The directory.
    pub dir: PathBuf,
    /// The set made.
    pub set: Set,
    /// The key type used.
    pub key_type: KeyType,
    /// Every file written, relative to `dir`, in the order written.
    pub files: Vec<PathBuf>,
    /// The fixtures made, as listed in [`FIXTURES`].
    pub fixtures: Vec<&'static Fixture>,
    /// What was not made, and why ([`NOT_MADE`], [`DEMO_NOT_MADE`]).
    pub not_made: Vec<(&'static str, &'static str)>,
}

impl Made {
    /// `{"dir", "set", "keyType", "files":[...], "fixtures":[{"name","brokenFor","files"}],
    /// "notMade":[{"name","why"}]}`.
    pub fn to_json(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        let fixtures: Vec<String> = self
            .fixtures
            .iter()
            .map(|f| {
                Obj::new()
                    .str("name", f.name)
                    .str("brokenFor", f.broken_for)
                    .strs(
                        "files",
                        &f.files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    )
                    .finish()
            })
            .collect();
        let not_made: Vec<String> = self
            .not_made
            .iter()
            .map(|(name, why)| Obj::new().str("name", name).str("why", why).finish())
            .collect();
        Obj::new()
            .str("dir", &self.dir.display().to_string())
            .str("set", self.set.name())
            .str("keyType", self.key_type.name())
            .strs("files", &files)
            .raw("fixtures", &format!("[{}]", fixtures.join(",")))
            .raw("notMade", &format!("[{}]", not_made.join(",")))
            .finish()
    }
}

/// Makes the whole set under `options`' directory: the CAs, every fixture of [`FIXTURES`],
/// the client certificates and the CRL, and `README.md` — or, for [`Set::Demo`], the
/// repository's demo credentials. Keys are written mode 0600.
pub fn generate(options: &Options) -> Result<Made, Error> {
    match options.set {
        Set::Fixtures => make::all(options),
        Set::Demo => demo::all(options),
    }
}

/// The server certificate and key of fixture `name` in a directory made by [`generate`]:
/// what `tls-server serve --fixture NAME --pki DIR` serves.
pub fn fixture_files(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), Error> {
    let Some(fixture) = FIXTURES.iter().find(|f| f.name == name) else {
        let names: Vec<&str> = FIXTURES.iter().map(|f| f.name).collect();
        let not_made = NOT_MADE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, why)| format!(" ({name} is not made: {why})"))
            .unwrap_or_default();
        return Err(Error::credential(
            dir,
            format!("there is no fixture {name:?}{not_made}"),
            format!("choose one of {}", names.join(", ")),
        ));
    };
    let cert = dir.join(fixture.files[0]);
    let key = dir.join(fixture.files[1]);
    if !cert.exists() {
        return Err(Error::credential(
            &cert,
            "does not exist",
            format!("make the set first: `tls-server pki {}`", dir.display()),
        ));
    }
    Ok((cert, key))
}

/// `now` plus `days` (or minus, for negative `days`).
pub(crate) fn days_from(now: SystemTime, days: i64) -> SystemTime {
    let span = Duration::from_secs(days.unsigned_abs() * 86_400);
    if days >= 0 {
        now + span
    } else {
        now - span
    }
}
