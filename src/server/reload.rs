//! Replacing the TLS setup of a running server (Node's `setSecureContext`, `SIGHUP` in the
//! command line), and adding a certificate for one more name (Node's `addContext`).
//!
//! The new setup is built and checked completely first — by the same checks as
//! [`check`](crate::check::check), since a running server has something to lose — and
//! only then swapped in; on any error the old one stays, the error is returned and sent as
//! [`Event::ReloadFailed`]. Connections already open keep the setup they started with.

use std::sync::Arc;

use crate::check;
use crate::error::Error;
use crate::event::Event;
use crate::options::ServerOptions;
use crate::server::shared::Shared;
use crate::setting::Setting;
use crate::tls::context::SecureContext;
use crate::tls::credentials::Pem;
use crate::tls::options::{SniSource, TlsOptions};
use crate::tls::served::{served, Reloaded};
use crate::tls::{setup, sni};

/// See [`ServerHandle::reload`](crate::ServerHandle::reload).
pub(crate) fn reload(shared: &Shared, options: &ServerOptions) -> Result<Reloaded, Error> {
    let _one_at_a_time = shared.reloading.lock().unwrap_or_else(|e| e.into_inner());
    let old = shared.tls();
    let new = match preflight(&options.tls).and_then(|()| setup::build(&options.tls, Some(&old))) {
        Ok(new) => new,
        Err(e) => {
            shared.events.send(Event::ReloadFailed {
                error: e.to_string(),
            });
            return Err(e);
        }
    };
    let report = Reloaded {
        old: served(old.served()),
        new: served(new.served()),
    };
    *shared.tls.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
    shared
        .events
        .send(Event::Reloaded(Box::new(report.clone())));
    Ok(report)
}

/// See [`ServerHandle::add_context`](crate::ServerHandle::add_context).
pub(crate) fn add_context(
    shared: &Shared,
    name: &str,
    context: SecureContext,
) -> Result<(), Error> {
    let pattern = sni::normalize_pattern(name, shared.naming)?;
    sni::check_covers(&pattern, &context)?;
    let _one_at_a_time = shared.reloading.lock().unwrap_or_else(|e| e.into_inner());
    let tls = shared.tls();
    let resolver = tls.resolver.as_ref().ok_or_else(|| {
        shared.naming.error(
            Setting::ServerConfig,
            "a ready-made rustls ServerConfig chooses its own certificates",
            "add names to its resolver instead",
        )
    })?;
    log::info!(
        "serving {pattern} with {} ({})",
        context.source().display(),
        context.certificate().fingerprint256
    );
    resolver.add(pattern, context);
    Ok(())
}

/// `check` on the default pair and on each SNI pair given as files or PEM: the first pair
/// with errors refuses the reload, with every error it has.
fn preflight(options: &TlsOptions) -> Result<(), Error> {
    let mut pairs: Vec<(&Pem, &Pem)> = Vec::new();
    if let (Some(cert), Some(key)) = (&options.cert, &options.key) {
        pairs.push((cert, key));
    }
    for (_, source) in &options.sni {
        if let SniSource::Files { cert, key } = source {
            pairs.push((cert, key));
        }
    }
    for (cert, key) in pairs {
        let report = check::check(&check::Options::pems(
            cert.clone(),
            key.clone(),
            options.provider,
        ));
        let errors: Vec<&check::Check> = report.problems().collect();
        if let Some(first) = errors.first() {
            let mut fixes: Vec<&str> = Vec::new();
            for c in &errors {
                if !c.fix.is_empty() && !fixes.contains(&c.fix.as_str()) {
                    fixes.push(&c.fix);
                }
            }
            return Err(Error::credential(
                first.file.clone().unwrap_or_else(|| cert.label()),
                errors
                    .iter()
                    .map(|c| c.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                fixes.join("; "),
            ));
        }
    }
    Ok(())
}
