//! The signals `serve` answers, all on one thread (signal-hook): SIGINT (Ctrl-C) and
//! SIGTERM (systemd, `docker stop`, `kill`) stop the server gracefully — close_notify to
//! every connection, the grace period, exit 0 — and the same signal again exits at once;
//! SIGHUP reloads the certificate files.
//!
//! The handler shuts down first and logs after, and logging never blocks or panics (see
//! `logger.rs`), so a closed or full stderr cannot keep the server from stopping.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tls_server::{Server, ServerOptions};

/// Takes the signals over from their default actions, before the server starts: one that
/// arrives meanwhile waits for [`handle`].
pub(crate) fn take() -> std::io::Result<Signals> {
    Signals::new([SIGINT, SIGTERM, SIGHUP])
}

/// Starts the signal thread. `options` are what SIGHUP reloads.
pub(crate) fn handle(
    mut signals: Signals,
    server: &Server,
    options: ServerOptions,
) -> std::io::Result<()> {
    let handle = server.handle();
    std::thread::Builder::new()
        .name("tls-server-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                let name = match signal {
                    SIGINT => "SIGINT (Ctrl-C)",
                    SIGTERM => "SIGTERM",
                    _ => "SIGHUP",
                };
                if signal == SIGHUP {
                    log::info!("SIGHUP: reloading certificates and keys");
                    // The outcome is logged and sent as an event by `reload` itself.
                    let _ = handle.reload(&options);
                } else if stopping {
                    log::warn!("second {name}: exiting without waiting for connections");
                    log::logger().flush();
                    std::process::exit(128 + signal);
                } else {
                    stopping = true;
                    handle.shutdown();
                    log::info!(
                        "{name}: closing connections gracefully; send it again to exit at once"
                    );
                }
            }
        })?;
    Ok(())
}
