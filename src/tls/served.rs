//! Which certificates a TLS setup serves, by name: what [`Event::Reloaded`] reports when
//! [`ServerHandle::reload`] replaces one setup with another (the reload itself is in
//! `server/reload.rs`).
//!
//! [`Event::Reloaded`]: crate::Event::Reloaded
//! [`ServerHandle::reload`]: crate::ServerHandle::reload

use std::fmt;
use std::path::PathBuf;

use crate::tls::context::SecureContext;
use crate::util::json::Obj;

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

impl Reloaded {
    /// `{"old":[…],"new":[…]}`, each certificate as `name`, `subject`, `fingerprint256`,
    /// `valid_to`, `source`.
    pub fn to_json(&self) -> String {
        let list = |certs: &[ServedCertificate]| {
            let items: Vec<String> = certs
                .iter()
                .map(|c| {
                    Obj::new()
                        .str("name", &c.name)
                        .str("subject", &c.subject)
                        .str("fingerprint256", &c.fingerprint256)
                        .str("valid_to", &c.valid_to)
                        .str("source", &c.source.display().to_string())
                        .finish()
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        Obj::new()
            .raw("old", &list(&self.old))
            .raw("new", &list(&self.new))
            .finish()
    }
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
