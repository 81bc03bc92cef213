//! `tls-server serve`: the server on the command line — the options, the preflight check,
//! echo or HTTPS mode, JSON event lines, and the signals that reload or stop it.

mod args;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tls_server::https;
use tls_server::{Event, Summary, TlsStream};

use args::DEMO_KEY;
pub(crate) use args::{parse, Serve, HELP};

use crate::listen;
use crate::{logger, preflight, signals};

/// The time to check certificates at: `None` (now) unless the clock is before `built`, the
/// earliest this program can be running — then the clock was never set, and a certificate
/// would look "not valid yet" for that reason alone.
fn clock_for_checks(now: SystemTime, built: SystemTime) -> Option<SystemTime> {
    (now < built).then_some(built)
}

pub(crate) fn run(cfg: Box<Serve>) -> Result<(), Box<dyn std::error::Error>> {
    logger::init(cfg.log_level, cfg.log_format)?;
    let built =
        UNIX_EPOCH + Duration::from_secs(env!("TLS_SERVER_BUILT_UNIX").parse().unwrap_or(0));
    let check_at = clock_for_checks(SystemTime::now(), built);
    if let Some(at) = check_at {
        log::warn!(
            "the system clock says {}, before this program was built ({}): it is not set (a board without a real-time clock, NTP not synced yet?); checking the certificates as of the build time instead — set the clock (`date -u`, `timedatectl set-ntp true`): client certificates and tickets depend on it",
            tls_server::https::http_date(SystemTime::now()),
            tls_server::https::http_date(at)
        );
    }
    for (i, preflight) in cfg.preflight.iter().enumerate() {
        let preflight = match check_at {
            Some(at) => preflight.clone().at(at),
            None => preflight.clone(),
        };
        preflight::run(&preflight, cfg.demo_key && i == 0, DEMO_KEY, cfg.on_error)?;
    }
    let signals = signals::take()?;
    // The failed handshakes the failures page lists (https mode), filled from the events.
    let failures = https::Failures::default();
    let streams = cfg.https.then(|| {
        let failures = failures.clone();
        Arc::new(move |stream| https_connection(stream, &failures)) as listen::StreamHandler
    });
    let server = cfg
        .listen
        .start(&cfg.addresses, cfg.options.clone(), streams)?;
    signals::handle(signals, &server, cfg.options.clone())?;
    if cfg.https {
        log::info!("https mode: GET / answers this connection's TLS facts as JSON, and a browser its handshake drawn as a page; /failures lists the last {} failed handshakes; Ctrl-C stops", failures.capacity());
    } else {
        log::info!(
            "echo mode: every byte received on a secure connection is sent back; Ctrl-C stops"
        );
    }
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let events = server.events();
    if cfg.https && cfg.events_json {
        // The stream style queues events only once events() is called: `listening` came
        // before, so print it here (no client can know the port before this line).
        for &addr in server.local_addrs() {
            let _ = writeln!(
                out.lock().unwrap_or_else(|e| e.into_inner()),
                "{}",
                Event::Listening { addr }.to_json()
            );
        }
    }
    let mut summary = Summary::new();
    while let Ok(event) = events.recv() {
        summary.record(&event);
        if let (Event::TlsClientError(error), true) = (&event, cfg.https) {
            // Before the event is printed: whoever reads it finds it on the page.
            failures.record(error);
        }
        if cfg.events_json {
            let line = event.to_json();
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "{line}");
            if matches!(event, Event::Closed) {
                let _ = writeln!(out, "{}", summary.to_json());
            }
            let _ = out.flush();
        }
        echo(&event);
        if matches!(event, Event::Closed) {
            let fields = logger::Fields(|| summary.to_json());
            log::info!(fields:% = fields; "summary: {summary}");
            break;
        }
    }
    server.wait();
    Ok(())
}

/// Node's classic echo example: send every byte back; pause reading while the peer is slow
/// to take our output (Node's `pipe()` back-pressure).
fn echo(event: &Event) {
    let fields = logger::Fields(|| event.to_json());
    match event {
        Event::Data { socket, data } if !socket.write(data) => socket.pause(),
        Event::Drain(socket) => socket.resume(),
        Event::End { socket, clean, .. } => log::info!(
            fields:% = fields;
            "#{} {} ended{}",
            socket.id(),
            socket.remote_addr(),
            if *clean {
                ""
            } else {
                " (TCP closed without close_notify)"
            }
        ),
        Event::Close { socket, had_error } => log::info!(
            fields:% = fields;
            "#{} {} closed{}",
            socket.id(),
            socket.remote_addr(),
            if *had_error { " after an error" } else { "" }
        ),
        _ => {}
    }
}

/// `--mode https`: HTTP/1.1 on one connection, answered by [`https::pages`] (the facts as
/// JSON, or the handshake and failures pages for a browser), one log line per request.
fn https_connection(mut stream: TlsStream, failures: &https::Failures) {
    let socket = stream.socket();
    let served = https::serve(&mut stream, |request| {
        let response = https::pages(socket.info(), failures, request);
        log::info!(
            "#{} {} {} {} HTTP/{} → {} ({} B)",
            socket.id(),
            socket.remote_addr(),
            request.method,
            request.target,
            request.http_version(),
            response.status,
            response.body.len()
        );
        response
    });
    match served {
        Ok(s) if matches!(s.ending, https::Ending::Refused(_)) => log::info!(
            "#{} {} HTTP: a malformed or refused request was answered with {:?}; closed",
            socket.id(),
            socket.remote_addr(),
            s.ending
        ),
        Ok(s) => log::debug!(
            "#{} {} HTTP: {} request(s), then {:?}",
            socket.id(),
            socket.remote_addr(),
            s.requests,
            s.ending
        ),
        Err(e) => log::debug!("#{} {} HTTP: {e}", socket.id(), socket.remote_addr()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_clock_before_the_build_checks_as_of_the_build() {
        use std::time::{Duration, UNIX_EPOCH};
        let built = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(super::clock_for_checks(UNIX_EPOCH, built), Some(built));
        let later = built + Duration::from_secs(1);
        assert_eq!(super::clock_for_checks(later, built), None);
        assert_eq!(super::clock_for_checks(built, built), None);
    }
}
