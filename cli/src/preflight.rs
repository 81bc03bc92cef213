//! `serve`'s startup check: `tls-server check` on the certificate and key (and each `--sni`
//! pair) before anything listens. Errors stop the server; with `--no-check` they are logged
//! as warnings instead, each saying what `--no-check` lets through.

use tls_server::check::{self, Status};

/// What to do with the problems the check finds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnError {
    /// Stop: the server does not start.
    Stop,
    /// `--no-check`: serve anyway, warning about each.
    Warn,
    /// `--fixture`: a test PKI's certificate, broken on purpose: serve it, warning.
    Fixture,
}

/// Runs `tls-server check` with `options`: warnings are logged; errors stop the server
/// (each on a line of its own) or, with `--no-check`, are logged as warnings.
/// With `demo_key` (no `--key` given), the demo key's permissions are not warned about:
/// it is published in the repository, and a checkout makes it 0644.
pub(crate) fn run(
    options: &check::Options,
    demo_key: bool,
    demo_key_path: &str,
    on_error: OnError,
) -> Result<(), Box<dyn std::error::Error>> {
    let report = check::check(options);
    for c in &report.checks {
        if c.status != Status::Warn {
            continue;
        }
        if demo_key && c.check == "key-permissions" {
            log::info!(
                "serving the demo certificate and key ({demo_key_path}, published in the repository, so readable by all); give a real pair with --cert and --key, and keep that key chmod 600"
            );
        } else {
            log::warn!("preflight {}: {} — {}", c.check, c.located(), c.fix);
        }
    }
    let errors: Vec<String> = report
        .problems()
        .map(|c| {
            if c.fix.is_empty() {
                c.located()
            } else {
                format!("{} — {}", c.located(), c.fix)
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    if on_error != OnError::Stop {
        let why = match on_error {
            OnError::Fixture => "a fixture broken on purpose — serving it anyway",
            _ => "--no-check lets this through",
        };
        for (c, error) in report.problems().zip(&errors) {
            log::warn!("{why} (preflight {}): {error}", c.check);
        }
        return Ok(());
    }
    Err(format!(
        "{}\n(`tls-server check` found {} problem{} with the certificate and key; `serve --no-check` starts anyway)",
        errors.join("\nerror: "),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    )
    .into())
}
