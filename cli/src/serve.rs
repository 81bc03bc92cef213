//! `tls-server serve`: the server on the command line — the options, the preflight check,
//! echo or HTTPS mode, JSON event lines, and the signals that reload or stop it.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexopt::prelude::*;
use tls_server::check::{self, Status};
use tls_server::https;
use tls_server::tls::{Provider, SniFallback};
use tls_server::{ClientAuth, Event, Server, ServerOptions, TlsStream, TlsVersion, WhenFull};

use crate::flags::{self, duration};
use crate::{logger, signals, Command};

/// The demo certificates, relative to the working directory: what `make run` serves.
const DEMO_CERT: &str = "certs/server.crt";
const DEMO_KEY: &str = "certs/server.key";
const DEMO_CA: &str = "certs/ca.crt";

pub(crate) const HELP: &str = "\
SERVE OPTIONS (defaults in brackets):
    --bind ADDR               address to listen on: an IP, [IPV6] or host name, with
                              :PORT or without (then port 8000); [::] takes IPv6 and
                              IPv4 [127.0.0.1:8000]; port 0 picks a free one
    --port N                  the port, 0 to 65535, whatever --bind says
    --cert FILE               certificate chain, PEM, leaf first [certs/server.crt]
    --key FILE                private key, PEM, unencrypted [certs/server.key]
    --tls-versions LIST       accepted versions, e.g. 1.3 or 1.2,1.3 [1.2,1.3]
    --ciphers LIST            cipher suites by IANA or OpenSSL name [provider's list]
    --groups LIST             key-exchange groups by IANA name [provider's list]
    --alpn LIST               ALPN protocols, e.g. h2,http/1.1 [none]
    --sni NAME=CERT,KEY       serve CERT/KEY to clients asking for NAME (a host name or
                              *.example.test); repeatable; --cert/--key stay the default
    --sni-fallback POLICY     clients with no name or an unknown one: default (serve
                              --cert), refuse-unknown, or refuse [default]
    --session-cache N         sessions remembered for resumption; 0 turns it off [256]
    --no-tickets              do not issue session tickets
    --ticket-keys FILE        session-ticket keys shared by several instances, one per
                              line (`openssl rand -hex 32`); first encrypts, all decrypt
    --client-auth MODE        off, optional, required or inspect (see README) [off]
    --ca FILE                 CA certificates for client certificates (repeatable)
    --crl FILE                certificate revocation lists, PEM (repeatable)
    --handshake-timeout TIME  absolute handshake deadline [10s]
    --client-hello-timeout TIME  deadline for the client's first bytes [5s]
    --idle-timeout TIME       end a connection after this long with nothing sent either
                              way; 0 keeps idle connections [2m]
    --max-connections N       connection cap (each connection holds a thread) [1024]
    --max-handshakes N        handshakes in progress; one more closes the oldest silent
                              one [a quarter of --max-connections, at least 8]
    --max-per-address N       connections from one client address; more are refused
                              [three quarters of --max-connections]
    --when-full POLICY        a new connection on a full server: evict-idle (close the
                              longest-idle connection) or refuse [evict-idle]
    --grace TIME              on Ctrl-C or SIGTERM, time for connections to close [5s]
    --provider NAME           crypto provider: aws-lc-rs or ring [aws-lc-rs if built in]
    --trace                   log each handshake step by step (and a \"trace\" JSON event)
    --no-check                start even if `tls-server check` finds errors in --cert/--key
    --keylog FILE             append TLS secrets for Wireshark (also: SSLKEYLOGFILE) [none]
    --mode echo|https         echo: send every byte back; https: answer HTTP/1.1 requests,
                              GET / with this connection's TLS facts as JSON [echo]
    --events json|none        print one JSON object per event on stdout [none]
                              SIGHUP reloads --cert/--key/--ca/--crl/--sni/--ticket-keys:
                              checked first; on error the old ones stay
    --log-level FILTER        error, warn, info, debug or trace, for every crate (rustls
                              too), or per target: warn,tls_server::server=debug;
                              logs go to stderr, time-stamped [info for tls-server, warn
                              for rustls; RUST_LOG when set]
";

/// Everything `serve` was told.
pub struct Serve {
    options: ServerOptions,
    /// The preflight `tls-server check` runs on the same files (the default pair, then each
    /// `--sni` pair), unless `--no-check`.
    preflight: Vec<check::Options>,
    events_json: bool,
    /// `--mode https`: the stream style with `https::serve` instead of echo.
    https: bool,
    log_level: logger::Filter,
    /// No `--key`: the demo key from `certs/`, public by design.
    demo_key: bool,
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Command, Box<dyn std::error::Error>> {
    let mut options = ServerOptions::new()
        .naming(flags::naming())
        .cert_file(DEMO_CERT)
        .key_file(DEMO_KEY);
    let mut bind = String::from("127.0.0.1");
    let mut port: Option<u16> = None;
    let mut events_json = false;
    let mut https = false;
    let mut alpn: Option<Vec<String>> = None;
    let mut sni_checks: Vec<check::Options> = Vec::new();
    let mut log_level: Option<logger::Filter> = None;
    let mut cert_path: Option<PathBuf> = None;
    let mut key_path: Option<PathBuf> = None;
    let mut check_first = true;
    // The SSLKEYLOGFILE convention (curl, browsers, OpenSSL's s_client -keylogfile).
    let mut keylog: Option<PathBuf> = std::env::var_os("SSLKEYLOGFILE")
        .filter(|v| !v.is_empty())
        .map(Into::into);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("bind") => bind = parser.value()?.string()?,
            Long("port") => {
                let value = parser.value()?.string()?;
                port = Some(value.parse::<u16>().map_err(|_| {
                    format!("--port: {value:?} is not a port — use a number from 0 to 65535 (0 picks a free one)")
                })?)
            }
            Long("cert") => cert_path = Some(parser.value()?.into()),
            Long("key") => key_path = Some(parser.value()?.into()),
            Long("no-check") => check_first = false,
            Long("tls-versions") => {
                let list = parser.value()?.string()?;
                let versions = split(&list)
                    .map(|v| {
                        TlsVersion::parse(v).ok_or_else(|| {
                            format!(
                                "--tls-versions: unknown version {v:?} — use 1.2, 1.3 or 1.2,1.3"
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                options = options.versions(&versions);
            }
            Long("ciphers") => {
                let list = parser.value()?.string()?;
                options = options.cipher_suites(&split(&list).collect::<Vec<_>>());
            }
            Long("groups") => {
                let list = parser.value()?.string()?;
                options = options.kx_groups(&split(&list).collect::<Vec<_>>());
            }
            Long("alpn") => {
                let list = parser.value()?.string()?;
                // Empty names are kept, for the library to refuse ("h2,,http/1.1").
                let protocols: Vec<String> =
                    list.split(',').map(|p| p.trim().to_string()).collect();
                options = options.alpn(&protocols);
                alpn = Some(protocols);
            }
            Long("client-auth") => {
                let mode = parser.value()?.string()?;
                options = options.client_auth(ClientAuth::parse(&mode).ok_or_else(|| {
                    format!("--client-auth: {mode:?} — use off, optional, required or inspect")
                })?);
            }
            Long("ca") => options = options.client_ca_file(parser.value()?),
            Long("sni") => {
                let spec = parser.value()?.string()?;
                let parsed = spec.split_once('=').and_then(|(name, files)| {
                    let (cert, key) = files.split_once(',')?;
                    Some((name.trim(), cert.trim(), key.trim()))
                });
                match parsed {
                    Some((name, cert, key))
                        if !name.is_empty() && !cert.is_empty() && !key.is_empty() =>
                    {
                        let mut check = check::Options::new(cert, key).naming(flags::naming());
                        // The demo certificates (certs/sni/) are issued by certs/ca.crt.
                        if cert.starts_with("certs/") && Path::new(DEMO_CA).is_file() {
                            check = check.ca_file(DEMO_CA);
                        }
                        sni_checks.push(match name.starts_with("*.") {
                            true => check,
                            false => check.host(name),
                        });
                        options = options.sni(name, cert, key)
                    }
                    _ => {
                        return Err(format!(
                            "--sni {spec:?}: expected NAME=CERT,KEY, e.g. --sni a.example.test=certs/sni/a.crt,certs/sni/a.key"
                        )
                        .into())
                    }
                }
            }
            Long("sni-fallback") => {
                let policy = parser.value()?.string()?;
                options = options.sni_fallback(SniFallback::parse(&policy).ok_or_else(|| {
                    format!("--sni-fallback: {policy:?} — use default, refuse-unknown or refuse")
                })?);
            }
            Long("session-cache") => options = options.session_cache_size(parser.value()?.parse()?),
            Long("no-tickets") => options = options.session_tickets(false),
            Long("ticket-keys") => options = options.ticket_keys_file(parser.value()?),
            Long("keylog") => keylog = Some(parser.value()?.into()),
            Long("trace") => options = options.trace(true),
            Long("crl") => options = options.crl_file(parser.value()?),
            Long("handshake-timeout") => {
                options = options.handshake_timeout(duration(&parser.value()?.string()?)?)
            }
            Long("max-connections") => options = options.max_connections(parser.value()?.parse()?),
            Long("max-handshakes") => options = options.max_handshakes(parser.value()?.parse()?),
            Long("max-per-address") => {
                options = options.max_connections_per_address(parser.value()?.parse()?)
            }
            Long("when-full") => {
                let policy = parser.value()?.string()?;
                options = options.when_full(WhenFull::parse(&policy).ok_or_else(|| {
                    format!("--when-full: {policy:?} — use evict-idle or refuse")
                })?);
            }
            Long("client-hello-timeout") => {
                options = options.client_hello_timeout(duration(&parser.value()?.string()?)?)
            }
            Long("idle-timeout") => {
                let idle = duration(&parser.value()?.string()?)?;
                options = options.idle_timeout((!idle.is_zero()).then_some(idle));
            }
            Long("grace") => options = options.grace_period(duration(&parser.value()?.string()?)?),
            Long("provider") => {
                let name = parser.value()?.string()?;
                let provider = Provider::parse(&name).ok_or_else(|| {
                    format!(
                        "--provider: {name:?} is not built in — this binary has {}",
                        Provider::default().name()
                    )
                })?;
                options = options.provider(provider);
            }
            Long("events") => {
                events_json = match parser.value()?.string()?.as_str() {
                    "json" => true,
                    "none" => false,
                    other => return Err(format!("--events: {other:?} — use json or none").into()),
                }
            }
            Long("mode") => {
                https = match parser.value()?.string()?.as_str() {
                    "https" => true,
                    "echo" => false,
                    other => return Err(format!("--mode: {other:?} — use echo or https").into()),
                }
            }
            Long("log-level") => {
                let spec = parser.value()?.string()?;
                log_level =
                    Some(logger::Filter::parse(&spec).map_err(|e| format!("--log-level: {e}"))?);
            }
            Long("help") | Short('h') => {
                return Ok(Command::Help(format!("{}{HELP}", crate::HELP)))
            }
            other => return Err(flags::unknown(other, HELP, "serve ").into()),
        }
    }
    let bind = bind_address(&bind, port);
    if let Some(path) = keylog {
        options = options.key_log_file(path);
    }
    let mut preflight = check::Options::new(
        cert_path.clone().unwrap_or_else(|| DEMO_CERT.into()),
        key_path.clone().unwrap_or_else(|| DEMO_KEY.into()),
    )
    .naming(flags::naming());
    match cert_path {
        Some(path) => options = options.cert_file(path),
        // The demo certificate's CA is certs/ca.crt: with it the preflight checks the chain
        // instead of warning about an unknown issuer.
        None if Path::new(DEMO_CA).is_file() => preflight = preflight.ca_file(DEMO_CA),
        None => {}
    }
    let demo_key = key_path.is_none();
    if let Some(path) = key_path {
        options = options.key_file(path);
    }
    if https {
        // The responder speaks HTTP/1.1 only: say so by ALPN, so that clients able to do
        // HTTP/2 (curl, browsers) do not try it.
        match &alpn {
            None => options = options.alpn(&["http/1.1"]),
            Some(list) if list.iter().all(|p| p == "http/1.1" || p == "http/1.0") => {}
            Some(list) => {
                return Err(format!(
                    "--alpn {}: --mode https speaks HTTP/1.1 only, so a client that agreed on {} could not talk to it — use --alpn http/1.1 (the default in this mode)",
                    list.join(","),
                    list.iter()
                        .find(|p| *p != "http/1.1" && *p != "http/1.0")
                        .map(String::as_str)
                        .unwrap_or("another protocol")
                )
                .into())
            }
        }
    }
    Ok(Command::Serve(Box::new(Serve {
        preflight: match check_first {
            true => std::iter::once(preflight).chain(sni_checks).collect(),
            false => Vec::new(),
        },
        options: options.bind(bind),
        events_json,
        https,
        log_level: match log_level {
            Some(filter) => filter,
            // RUST_LOG, as env_logger reads it, when --log-level is not given.
            None => match std::env::var("RUST_LOG") {
                Ok(spec) if !spec.trim().is_empty() => {
                    logger::Filter::parse(&spec).map_err(|e| format!("RUST_LOG: {e}"))?
                }
                _ => logger::Filter::standard(),
            },
        },
        demo_key,
    })))
}

/// The time to check certificates at: `None` (now) unless the clock is before `built`, the
/// earliest this program can be running — then the clock was never set, and a certificate
/// would look "not valid yet" for that reason alone.
fn clock_for_checks(now: SystemTime, built: SystemTime) -> Option<SystemTime> {
    (now < built).then_some(built)
}

/// The port `serve` listens on when neither `--bind` nor `--port` names one.
const DEFAULT_PORT: u16 = 8000;

/// `--bind` and `--port` as one address for the library: `--port` replaces the port of
/// `--bind`, and an address without one gets [`DEFAULT_PORT`]. An IPv6 address gets its
/// brackets. Anything else goes on as typed, and the library says what is wrong with it.
fn bind_address(bind: &str, port: Option<u16>) -> String {
    if let Ok(mut addr) = bind.parse::<SocketAddr>() {
        if let Some(port) = port {
            addr.set_port(port);
        }
        return addr.to_string();
    }
    let bare = bind
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(bind);
    // "::1:8443" is an address, but more likely ::1 with a port: the library refuses it
    // as ambiguous (a last group of two digits or more after an address).
    let ambiguous = bind.rsplit_once(':').is_some_and(|(ip, last)| {
        last.len() >= 2 && last.bytes().all(|b| b.is_ascii_digit()) && ip.parse::<IpAddr>().is_ok()
    });
    if let (Ok(ip), false) = (bare.parse::<IpAddr>(), ambiguous) {
        return SocketAddr::new(ip, port.unwrap_or(DEFAULT_PORT)).to_string();
    }
    match bind.rsplit_once(':') {
        // HOST:PORT
        Some((host, given)) if !host.contains(':') && given.parse::<u16>().is_ok() => {
            format!(
                "{host}:{}",
                port.map_or(given.to_string(), |p| p.to_string())
            )
        }
        // HOST
        None if !bind.is_empty() => format!("{bind}:{}", port.unwrap_or(DEFAULT_PORT)),
        _ => bind.to_string(),
    }
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn run(cfg: Box<Serve>) -> Result<(), Box<dyn std::error::Error>> {
    logger::init(cfg.log_level)?;
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
        run_preflight(&preflight, cfg.demo_key && i == 0)?;
    }
    let signals = signals::take()?;
    let server = if cfg.https {
        Server::bind_streams(cfg.options.clone(), https_connection)?
    } else {
        Server::bind(cfg.options.clone())?
    };
    signals::handle(signals, &server, cfg.options.clone())?;
    if cfg.https {
        log::info!("https mode: GET / answers this connection's TLS facts as JSON; Ctrl-C stops");
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
        let addr = server.local_addr();
        let _ = writeln!(
            out.lock().unwrap_or_else(|e| e.into_inner()),
            "{}",
            Event::Listening { addr }.to_json()
        );
    }
    while let Ok(event) = events.recv() {
        if cfg.events_json {
            let line = event.to_json();
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        echo(&event);
        if matches!(event, Event::Closed) {
            break;
        }
    }
    server.wait();
    Ok(())
}

/// `tls-server check` on the certificate and key before serving: errors stop the server
/// (each on a line of its own), warnings are logged.
/// With `demo_key` (no `--key` given), the demo key's permissions are not warned about:
/// it is published in the repository, and a checkout makes it 0644.
fn run_preflight(
    options: &check::Options,
    demo_key: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let report = check::check(options);
    for c in &report.checks {
        if c.status != Status::Warn {
            continue;
        }
        if demo_key && c.check == "key-permissions" {
            log::info!(
                "serving the demo certificate and key ({DEMO_KEY}, published in the repository, so readable by all); give a real pair with --cert and --key, and keep that key chmod 600"
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
    Err(format!(
        "{}\n(`tls-server check` found {} problem{} with the certificate and key; `serve --no-check` starts anyway)",
        errors.join("\nerror: "),
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    )
    .into())
}

/// Node's classic echo example: send every byte back; pause reading while the peer is slow
/// to take our output (Node's `pipe()` back-pressure).
fn echo(event: &Event) {
    match event {
        Event::Data { socket, data } if !socket.write(data) => socket.pause(),
        Event::Drain(socket) => socket.resume(),
        Event::End { socket, clean, .. } => log::info!(
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
            "#{} {} closed{}",
            socket.id(),
            socket.remote_addr(),
            if *had_error { " after an error" } else { "" }
        ),
        _ => {}
    }
}

/// `--mode https`: HTTP/1.1 on one connection, answered by [`https::facts`], one log line
/// per request.
fn https_connection(mut stream: TlsStream) {
    let socket = stream.socket();
    let served = https::serve(&mut stream, |request| {
        let response = https::facts(socket.info(), request);
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
    use super::bind_address;

    #[test]
    fn a_clock_before_the_build_checks_as_of_the_build() {
        use std::time::{Duration, UNIX_EPOCH};
        let built = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(super::clock_for_checks(UNIX_EPOCH, built), Some(built));
        let later = built + Duration::from_secs(1);
        assert_eq!(super::clock_for_checks(later, built), None);
        assert_eq!(super::clock_for_checks(built, built), None);
    }

    #[test]
    fn bind_and_port_make_one_address() {
        let cases: [(&str, Option<u16>, &str); 13] = [
            ("127.0.0.1:8443", None, "127.0.0.1:8443"),
            ("127.0.0.1:8443", Some(0), "127.0.0.1:0"),
            ("127.0.0.1", None, "127.0.0.1:8000"),
            ("0.0.0.0", Some(9000), "0.0.0.0:9000"),
            ("::1", Some(0), "[::1]:0"),
            ("::1", None, "[::1]:8000"),
            ("[::1]", Some(0), "[::1]:0"),
            ("[::1]:8443", None, "[::1]:8443"),
            ("[::]", None, "[::]:8000"),
            ("localhost:8443", Some(0), "localhost:0"),
            ("localhost", None, "localhost:8000"),
            // Left as typed, for the library to explain.
            ("localhost:https", None, "localhost:https"),
            ("::1:8443", Some(0), "::1:8443"),
        ];
        for (bind, port, want) in cases {
            assert_eq!(
                bind_address(bind, port),
                want,
                "--bind {bind} --port {port:?}"
            );
        }
    }
}
