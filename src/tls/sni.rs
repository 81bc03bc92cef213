//! Several certificates chosen by the name the client asks for (SNI), Node's `addContext`
//! and `SNICallback`, and what to do with a client that asks for no name or an unknown one.
//!
//! rustls asks a [`ResolvesServerCert`] for a certificate while it reads the ClientHello;
//! ours looks the name up (exact names first, then `*.` wildcards for one label, then the
//! callback), falls back by the [`SniFallback`] policy, and writes what it chose into the
//! handshake's record, so the connection can report it and a refusal can be explained.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::context::SecureContext;
use crate::tls::record::HandshakeRecord;
use crate::util::panic_message;

/// What to do with a client that asks for no server name, or for one we have no
/// certificate for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SniFallback {
    /// Serve the default certificate ([`ServerOptions::cert_file`](crate::ServerOptions::cert_file))
    /// to both: Node's behaviour. The client then decides whether that certificate will do.
    #[default]
    Default,
    /// Serve the default certificate to clients that send no name (old clients, clients
    /// connecting by IP address), refuse names we do not serve. The names the default
    /// certificate covers are ours too: a client asking for one of them gets it.
    RefuseUnknown,
    /// Refuse both with an `unrecognized_name` alert (RFC 6066): only clients asking for one
    /// of our names are served (those of the SNI entries and those the default certificate
    /// covers).
    Refuse,
}

impl SniFallback {
    /// `default`, `refuse-unknown` or `refuse`.
    pub fn name(self) -> &'static str {
        match self {
            SniFallback::Default => "default",
            SniFallback::RefuseUnknown => "refuse-unknown",
            SniFallback::Refuse => "refuse",
        }
    }

    /// Parses the names [`name`](Self::name) gives.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(SniFallback::Default),
            "refuse-unknown" => Some(SniFallback::RefuseUnknown),
            "refuse" => Some(SniFallback::Refuse),
            _ => None,
        }
    }
}

/// Node's `SNICallback`: asked, on the connection's thread during the handshake, for a
/// certificate for a name no entry matches. `None` leaves the name to the fallback policy.
pub type SniCallback = dyn Fn(&str) -> Option<SecureContext> + Send + Sync;

/// A name pattern: `example.test` or `*.example.test`, lower case, no trailing dot.
pub(crate) fn normalize_pattern(name: &str, naming: Naming) -> Result<String, Error> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let host = name.strip_prefix("*.").unwrap_or(&name);
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.parse::<std::net::IpAddr>().is_err()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid {
        Ok(name)
    } else {
        Err(naming.error(
            Setting::Sni,
            format!("{name:?} is not a host name or a wildcard like *.example.test"),
            "SNI carries DNS names only (an IP address cannot be asked for by name; serve it with the default certificate)",
        ))
    }
}

/// The certificates we serve by name.
#[derive(Clone, Default)]
pub(crate) struct Table {
    /// From the options (replaced by a reload).
    configured: Vec<(String, SecureContext)>,
    /// Added at run time through `ServerHandle::add_context` (kept across reloads).
    added: Vec<(String, SecureContext)>,
    exact: HashMap<String, SecureContext>,
    /// `*.example.test` is kept as `example.test`.
    wildcard: HashMap<String, SecureContext>,
}

impl Table {
    pub(crate) fn new(
        configured: Vec<(String, SecureContext)>,
        added: Vec<(String, SecureContext)>,
    ) -> Table {
        let mut t = Table {
            configured,
            added,
            ..Table::default()
        };
        // Later entries win; run-time additions over configured ones (Node's addContext).
        for (name, ctx) in t.configured.iter().chain(t.added.iter()) {
            match name.strip_prefix("*.") {
                Some(suffix) => t.wildcard.insert(suffix.to_string(), ctx.clone()),
                None => t.exact.insert(name.clone(), ctx.clone()),
            };
        }
        t
    }

    fn lookup(&self, name: &str) -> Option<(&SecureContext, String)> {
        if let Some(ctx) = self.exact.get(name) {
            return Some((ctx, name.to_string()));
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard
            .get(parent)
            .map(|ctx| (ctx, format!("*.{parent}")))
    }

    /// Every name served, configured then added, without repeats.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (name, _) in self.configured.iter().chain(self.added.iter()) {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        out
    }

    pub(crate) fn added(&self) -> Vec<(String, SecureContext)> {
        self.added.clone()
    }

    /// (pattern, context) for every entry, configured then added.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &(String, SecureContext)> {
        self.configured.iter().chain(self.added.iter())
    }
}

/// Checks that `ctx`'s certificate covers `pattern`: a client asking for that name would
/// refuse it otherwise.
pub(crate) fn check_covers(pattern: &str, ctx: &SecureContext) -> Result<(), Error> {
    let cert = ctx.certificate();
    let covered = match pattern.strip_prefix("*.") {
        // A wildcard entry needs a wildcard certificate for the same domain.
        Some(_) => cert.names().iter().any(|n| n.eq_ignore_ascii_case(pattern)),
        None => cert.covering_name(pattern).is_some(),
    };
    if covered {
        return Ok(());
    }
    Err(Error::credential(
        ctx.source(),
        format!(
            "the certificate does not cover {pattern} (its names: {}), so clients asking for {pattern} would refuse it",
            if cert.names().is_empty() {
                "none".to_string()
            } else {
                cert.names().join(", ")
            }
        ),
        format!("use a certificate issued for {pattern}, or register it under one of its own names"),
    ))
}

/// How the certificate for one handshake was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Chosen {
    /// An entry: exact name or wildcard pattern.
    Entry(String),
    /// The SNI callback answered.
    Callback,
    /// The default certificate (no name, or an unknown one under `SniFallback::Default`).
    Default,
    /// Refused by the fallback policy.
    Refused,
}

/// What the resolver saw and did in one handshake.
#[derive(Clone)]
pub(crate) struct Choice {
    /// The name the client asked for (rustls drops an IP address sent as a name).
    pub asked: Option<String>,
    pub chosen: Chosen,
    /// The certificate served, if any.
    pub served: Option<SecureContext>,
    /// When refused: every name the SNI entries serve.
    pub names: Vec<String>,
    /// When refused: the names the default certificate covers.
    pub default_names: Vec<String>,
    pub fallback: SniFallback,
}

/// Our certificate resolver: entries by name, the callback, the default and the policy.
pub(crate) struct Resolver {
    default: Option<SecureContext>,
    table: RwLock<Arc<Table>>,
    callback: Option<Arc<SniCallback>>,
    fallback: SniFallback,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("default", &self.default)
            .field("names", &self.table().names())
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl Resolver {
    pub(crate) fn new(
        default: Option<SecureContext>,
        table: Table,
        callback: Option<Arc<SniCallback>>,
        fallback: SniFallback,
    ) -> Resolver {
        Resolver {
            default,
            table: RwLock::new(Arc::new(table)),
            callback,
            fallback,
        }
    }

    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn default_context(&self) -> Option<&SecureContext> {
        self.default.as_ref()
    }

    /// Adds (or replaces) the certificate for `pattern` at run time.
    pub(crate) fn add(&self, pattern: String, ctx: SecureContext) {
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        let mut added = table.added.clone();
        added.retain(|(name, _)| *name != pattern);
        added.push((pattern, ctx));
        *table = Arc::new(Table::new(table.configured.clone(), added));
    }

    /// Every certificate we serve: `("default", ctx)` first, then each entry.
    pub(crate) fn served(&self) -> Vec<(String, SecureContext)> {
        let mut out: Vec<(String, SecureContext)> = Vec::new();
        if let Some(d) = &self.default {
            out.push(("(default)".into(), d.clone()));
        }
        for (name, ctx) in self.table().entries() {
            out.retain(|(n, _)| n != name);
            out.push((name.clone(), ctx.clone()));
        }
        out
    }

    fn choose(&self, asked: Option<&str>) -> (Chosen, Option<SecureContext>) {
        if let Some(name) = asked {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some((ctx, pattern)) = self.table().lookup(&name) {
                return (Chosen::Entry(pattern), Some(ctx.clone()));
            }
            if let Some(callback) = &self.callback {
                // A panicking callback costs only this handshake (it gets the fallback).
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    callback(&name)
                }))
                .unwrap_or_else(|panic| {
                    log::error!(
                        "the SNI callback panicked for {name:?}: {} — treating it as no certificate",
                        panic_message(&panic)
                    );
                    None
                });
                if let Some(ctx) = answer {
                    return (Chosen::Callback, Some(ctx));
                }
            }
        }
        // A name the default certificate covers is one of ours, whatever the policy.
        let default_covers = |name: &str| {
            self.default
                .as_ref()
                .is_some_and(|d| d.certificate().covering_name(name).is_some())
        };
        let refuse = match (asked, self.fallback) {
            (_, SniFallback::Default) => false,
            (None, SniFallback::RefuseUnknown) => false,
            (None, SniFallback::Refuse) => true,
            (Some(name), _) => !default_covers(name),
        };
        match &self.default {
            Some(d) if !refuse => (Chosen::Default, Some(d.clone())),
            _ => (Chosen::Refused, None),
        }
    }
}

/// Our resolver as one handshake uses it: it chooses, and writes the choice into that
/// handshake's record.
#[derive(Debug)]
pub(crate) struct Recording {
    pub resolver: Arc<Resolver>,
    pub record: HandshakeRecord,
}

impl ResolvesServerCert for Recording {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let asked = hello.server_name().map(str::to_string);
        let (chosen, served) = self.resolver.choose(asked.as_deref());
        let key = served.as_ref().map(|c| c.certified_key().clone());
        let (names, default_names) = if chosen == Chosen::Refused {
            (
                self.resolver.table().names(),
                self.resolver
                    .default
                    .as_ref()
                    .map(|d| {
                        d.certificate()
                            .names()
                            .into_iter()
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        self.record.set_sni(Choice {
            asked,
            chosen,
            served,
            names,
            default_names,
            fallback: self.resolver.fallback,
        });
        key
    }
}

/// Without a record (a setup's own configuration, never used for a handshake by us, but
/// kept valid for rustls): the same choice, not written down.
impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.choose(hello.server_name())
            .1
            .map(|c| c.certified_key().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_normalised_and_checked() {
        assert_eq!(
            normalize_pattern("A.Example.TEST.", Naming::default()).unwrap(),
            "a.example.test"
        );
        assert_eq!(
            normalize_pattern("*.example.test", Naming::default()).unwrap(),
            "*.example.test"
        );
        for bad in [
            "",
            "*.",
            "127.0.0.1",
            "a..b",
            "-a.test",
            "a b.test",
            "*.*.test",
        ] {
            let e = normalize_pattern(bad, Naming::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains("ServerOptions::sni"), "{bad}: {e}");
        }
    }

    #[test]
    fn fallback_names_round_trip() {
        for f in [
            SniFallback::Default,
            SniFallback::RefuseUnknown,
            SniFallback::Refuse,
        ] {
            assert_eq!(SniFallback::parse(f.name()), Some(f));
        }
        assert_eq!(SniFallback::parse("nope"), None);
    }
}
