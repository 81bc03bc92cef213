//! The signals `serve` answers: Ctrl-C (SIGINT) and SIGTERM stop the server gracefully,
//! SIGHUP reloads its certificate files.

use tls_server::{Server, ServerOptions};

/// The first Ctrl-C closes every connection with close_notify and waits the grace period;
/// a second exits at once.
pub(crate) fn stop_on_ctrl_c(server: &Server) -> Result<(), Box<dyn std::error::Error>> {
    let handle = server.handle();
    let pressed = std::sync::atomic::AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if pressed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            log::warn!("second Ctrl-C: exiting without waiting for connections");
            std::process::exit(130);
        }
        log::info!("Ctrl-C: closing connections (press again to exit at once)");
        handle.shutdown();
    })?;
    Ok(())
}

/// SIGHUP reloads the same files (Node's `setSecureContext`): `ServerHandle::reload`
/// checks them first and keeps the old ones on error; both outcomes are logged and sent as
/// events (`reloaded` / `reloadFailed` in `--events json`).
pub(crate) fn reload_on_sighup(
    server: &Server,
    options: ServerOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    let handle = server.handle();
    std::thread::Builder::new()
        .name("tls-server-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                log::info!("SIGHUP: reloading certificates and keys");
                // The outcome is logged and sent as an event by `reload` itself.
                let _ = handle.reload(&options);
            }
        })?;
    Ok(())
}
