//! Replacing the certificates (and CAs, CRLs, SNI entries, ticket keys) of a running
//! server without a restart: Node's `setSecureContext`, and `SIGHUP` in the CLI.
//!
//! The new set is built and checked completely first; on any error the old set stays and
//! the error is returned (and sent as [`Event::ReloadFailed`](crate::Event::ReloadFailed)).
//! Connections already open keep the set they started with; new connections use the new
//! one from the moment [`ServerHandle::reload`](crate::ServerHandle::reload) returns.

use std::fmt;
use std::path::PathBuf;

use crate::sni::SecureContext;

/// One certificate the server serves, as reported by [`Reloaded`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServedCertificate {
    /// `(default)`, or the SNI name or pattern it is served for.
    pub name: String,
    /// The leaf's subject, OpenSSL style.
    pub subject: String,
    /// The leaf's SHA-256 fingerprint, colon-separated hex (Node's `fingerprint256`).
    pub fingerprint256: String,
    /// The leaf's expiry, OpenSSL style.
    pub valid_to: String,
    /// The certificate file, or the label given to PEM text.
    pub source: PathBuf,
}

impl ServedCertificate {
    pub(crate) fn new(name: &str, ctx: &SecureContext) -> Self {
        let leaf = ctx.certificate();
        ServedCertificate {
            name: name.to_string(),
            subject: leaf.subject_line.clone(),
            fingerprint256: leaf.fingerprint256.clone(),
            valid_to: leaf.valid_to.clone(),
            source: ctx.source().to_path_buf(),
        }
    }
}

/// What a reload changed: the certificates served before and after, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Served until now.
    pub old: Vec<ServedCertificate>,
    /// Served to new connections from now on.
    pub new: Vec<ServedCertificate>,
}

impl fmt::Display for Reloaded {
    /// `reloaded: (default) 3A:1F:…:9C → 77:0B:…:E2 (CN=localhost, until …); a.example.test unchanged`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reloaded:")?;
        let mut sep = " ";
        for new in &self.new {
            let old = self.old.iter().find(|o| o.name == new.name);
            match old {
                Some(o) if o.fingerprint256 == new.fingerprint256 => write!(
                    f,
                    "{sep}{} unchanged ({})",
                    new.name,
                    short(&new.fingerprint256)
                )?,
                Some(o) => write!(
                    f,
                    "{sep}{} {} → {} ({}, until {})",
                    new.name,
                    short(&o.fingerprint256),
                    short(&new.fingerprint256),
                    new.subject,
                    new.valid_to
                )?,
                None => write!(
                    f,
                    "{sep}{} added: {} ({}, until {})",
                    new.name,
                    short(&new.fingerprint256),
                    new.subject,
                    new.valid_to
                )?,
            }
            sep = "; ";
        }
        for old in self
            .old
            .iter()
            .filter(|o| !self.new.iter().any(|n| n.name == o.name))
        {
            write!(
                f,
                "{sep}{} removed ({})",
                old.name,
                short(&old.fingerprint256)
            )?;
            sep = "; ";
        }
        Ok(())
    }
}

/// The first and last two bytes of a fingerprint: enough to tell certificates apart in a log.
fn short(fp: &str) -> String {
    if fp.len() <= 17 {
        return fp.to_string();
    }
    format!("{}…{}", &fp[..5], &fp[fp.len() - 5..])
}

pub(crate) fn served(list: Vec<(String, SecureContext)>) -> Vec<ServedCertificate> {
    list.iter()
        .map(|(name, ctx)| ServedCertificate::new(name, ctx))
        .collect()
}
