//! `serve`'s arguments: the help text, and what each flag sets.

use std::path::{Path, PathBuf};

use lexopt::prelude::*;
use tls_server::check;
use tls_server::tls::{Provider, SniFallback};
use tls_server::{ClientAuth, ProxyProtocol, ServerOptions, TlsVersion, WhenFull};

use crate::flags::{self, duration};
use crate::listen::{self, Listen};
use crate::preflight::OnError;
use crate::{logger, Command};

/// The demo certificates, relative to the working directory: what `make run` serves.
pub(super) const DEMO_CERT: &str = "certs/server.crt";
pub(super) const DEMO_KEY: &str = "certs/server.key";
const DEMO_CA: &str = "certs/ca.crt";

pub(crate) const HELP: &str = "\
SERVE OPTIONS (defaults in brackets):
    --bind ADDR               address to listen on: an IP, [IPV6] or host name, with
                              :PORT or without (then port 8000); [::] takes IPv6 and
                              IPv4; repeatable [127.0.0.1:8000]; port 0 picks a free one
    --port N                  the port, 0 to 65535, whatever --bind says
    --listen-fd N             serve on the listening socket inherited as descriptor N
                              instead (repeatable); systemd's LISTEN_FDS is used alike
    --reuse-port              let other processes listen on the same port (SO_REUSEPORT);
                              the kernel spreads connections (share --ticket-keys)
    --proxy-protocol VERSION  connections start with a PROXY header from a load balancer
                              (HAProxy send-proxy[-v2]): off, v1, v2 or any [off]
    --proxy-from LIST         the balancers trusted to send it: addresses or networks,
                              e.g. 127.0.0.1,10.0.0.0/8 (repeatable; needed with the above)
    --exit-after N            accept N connections, then stop accepting and exit when
                              they have closed (openssl s_server -naccept) [never]
    --fixture NAME --pki DIR  serve fixture NAME of a test PKI made by `tls-server pki DIR`
                              (expired, wrong-host, ...), broken on purpose: the startup
                              check warns instead of refusing
    --cert FILE               certificate chain, PEM, leaf first [certs/server.crt]
    --key FILE                private key, PEM, unencrypted [certs/server.key]
    --tls-versions LIST       accepted versions, e.g. 1.3 or 1.2,1.3 [1.2,1.3]
    --ciphers LIST            cipher suites by IANA or OpenSSL name [provider's list]
    --groups LIST             key-exchange groups by IANA name [provider's list]
    --alpn LIST               ALPN protocols, e.g. h2,http/1.1 [none]
    --sni NAME=CERT,KEY       serve CERT/KEY to clients asking for NAME (a host name or
                              *.example.test); repeatable; --cert/--key stay the default
    --sni-fallback POLICY     clients with no name or an unknown one: default (serve
                              --cert), refuse-unknown, or refuse [default]; a name
                              --cert covers is never unknown
    --session-cache N         sessions remembered for resumption; 0 turns it off [256]
    --no-tickets              do not issue session tickets
    --tickets N               TLS 1.3 tickets sent after each full handshake [2]
    --max-fragment BYTES      largest record sent, header included, 32 to 16389 [16389]
    --honor-cipher-order      choose the suite by our order (--ciphers), not the client's
    --ticket-keys FILE        session-ticket keys shared by several instances, one per
                              line (`openssl rand -hex 32`); first encrypts, all decrypt
    --client-auth MODE        off, optional, required or inspect (see README) [off]
    --ca FILE                 CA certificates that sign the clients' certificates, for
                              --client-auth (repeatable); not the CA of --cert
    --check-ca FILE           a CA your clients trust: the startup check verifies the
                              chain of --cert (and --sni) with it, as `check --ca` does
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
    --no-batch-scheduling     connection threads keep the process's scheduling policy
                              rather than Linux's SCHED_BATCH (woken, they then
                              preempt the event loop)
    --provider NAME           crypto provider: aws-lc-rs or ring [aws-lc-rs if built in]
    --trace                   log each handshake step by step (and a \"trace\" JSON event)
    --no-check                start even if `tls-server check` finds errors in --cert/--key
                              (each is logged as a warning instead)
    --keylog FILE             append TLS secrets for Wireshark (also: SSLKEYLOGFILE) [none]
    --mode echo|https         echo: send every byte back; https: answer HTTP/1.1 requests,
                              GET / with this connection's TLS facts as JSON (a browser
                              gets a page drawing its handshake), GET /failures with the
                              last 50 failed handshakes [echo]
    --events json|none        print one JSON object per event on stdout, and at exit a
                              \"summary\" object (counts, failures by cause, bytes) [none]
                              SIGHUP reloads --cert/--key/--ca/--crl/--sni/--ticket-keys:
                              checked first; on error the old ones stay
    --log-level FILTER        error, warn, info, debug or trace, for every crate (rustls
                              too), or per target: warn,tls_server::server=debug;
                              logs go to stderr, time-stamped [info for tls-server, warn
                              for rustls; RUST_LOG when set]
    --log-format plain|json   plain: TIME LEVEL [target] message; json: one object per
                              line, with the fields of the event a line tells [plain]
";

/// Everything `serve` was told.
pub struct Serve {
    pub(super) options: ServerOptions,
    /// The addresses to bind; none when the sockets are inherited.
    pub(super) addresses: Vec<String>,
    pub(super) listen: Listen,
    /// The preflight `tls-server check` runs on the same files (the default pair, then each
    /// `--sni` pair); its errors stop the server, or are warnings with `--no-check` or
    /// `--fixture`.
    pub(super) preflight: Vec<check::Options>,
    pub(super) on_error: OnError,
    pub(super) events_json: bool,
    /// `--mode https`: the stream style with `https::serve` instead of echo.
    pub(super) https: bool,
    pub(super) log_level: logger::Filter,
    pub(super) log_format: logger::Format,
    /// No `--key`: the demo key from `certs/`, public by design.
    pub(super) demo_key: bool,
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Command, Box<dyn std::error::Error>> {
    let mut options = ServerOptions::new()
        .naming(flags::serve_naming())
        .cert_file(DEMO_CERT)
        .key_file(DEMO_KEY);
    let mut listen = Listen {
        systemd: listen::systemd_sockets(),
        ..Listen::default()
    };
    let mut events_json = false;
    let mut https = false;
    let mut alpn: Option<Vec<String>> = None;
    let mut sni_checks: Vec<check::Options> = Vec::new();
    let mut log_level: Option<logger::Filter> = None;
    let mut log_format = logger::Format::default();
    let mut cert_path: Option<PathBuf> = None;
    let mut key_path: Option<PathBuf> = None;
    let mut check_first = true;
    let mut fixture: Option<String> = None;
    let mut pki_dir: Option<PathBuf> = None;
    let mut check_cas: Vec<PathBuf> = Vec::new();
    // The SSLKEYLOGFILE convention (curl, browsers, OpenSSL's s_client -keylogfile).
    let mut keylog: Option<PathBuf> = std::env::var_os("SSLKEYLOGFILE")
        .filter(|v| !v.is_empty())
        .map(Into::into);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("bind") => listen.binds.push(parser.value()?.string()?),
            Long("listen-fd") => {
                let fd = listen::parse_fd(&parser.value()?.string()?, &listen.fds)?;
                listen.fds.push(fd);
            }
            Long("reuse-port") => options = options.reuse_port(true),
            Long("proxy-protocol") => {
                let name = parser.value()?.string()?;
                options = options.proxy_protocol(ProxyProtocol::parse(&name).ok_or_else(|| {
                    format!("--proxy-protocol: {name:?} — use off, v1, v2 or any")
                })?);
            }
            Long("proxy-from") => {
                let list = parser.value()?.string()?;
                options = options.proxy_from(&split(&list).collect::<Vec<_>>());
            }
            Long("exit-after") => {
                let value = parser.value()?.string()?;
                options = options.exit_after(value.trim().parse::<u64>().map_err(|_| {
                    format!(
                        "--exit-after: {value:?} is not a number of connections — give 1 or more"
                    )
                })?);
            }
            Long("port") => {
                let value = parser.value()?.string()?;
                listen.port = Some(value.parse::<u16>().map_err(|_| {
                    format!("--port: {value:?} is not a port — use a number from 0 to 65535 (0 picks a free one)")
                })?)
            }
            Long("cert") => cert_path = Some(parser.value()?.into()),
            Long("key") => key_path = Some(parser.value()?.into()),
            Long("no-check") => check_first = false,
            Long("fixture") => fixture = Some(parser.value()?.string()?),
            Long("pki") => pki_dir = Some(parser.value()?.into()),
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
            Long("check-ca") => check_cas.push(parser.value()?.into()),
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
                        let mut check = check::Options::new(cert, key).naming(flags::serve_naming());
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
            Long("session-cache") => {
                options = options.session_cache_size(flags::number(
                    parser,
                    "--session-cache",
                    "a number of sessions (0 turns the cache off)",
                )?)
            }
            Long("no-tickets") => options = options.session_tickets(false),
            Long("tickets") => {
                options = options.tickets_per_handshake(flags::number(
                    parser,
                    "--tickets",
                    "a number of tickets (0 sends none)",
                )?)
            }
            Long("max-fragment") => {
                options = options.max_fragment_size(flags::number(
                    parser,
                    "--max-fragment",
                    "a size in bytes, 32 to 16389",
                )?)
            }
            Long("honor-cipher-order") => options = options.honor_cipher_order(true),
            Long("ticket-keys") => options = options.ticket_keys_file(parser.value()?),
            Long("keylog") => keylog = Some(parser.value()?.into()),
            Long("trace") => options = options.trace(true),
            Long("no-batch-scheduling") => options = options.batch_scheduling(false),
            Long("crl") => options = options.crl_file(parser.value()?),
            Long("handshake-timeout") => {
                options = options.handshake_timeout(duration(&parser.value()?.string()?)?)
            }
            Long("max-connections") => {
                options = options.max_connections(flags::number(
                    parser,
                    "--max-connections",
                    "a number of connections, 1 or more",
                )?)
            }
            Long("max-handshakes") => {
                options = options.max_handshakes(flags::number(
                    parser,
                    "--max-handshakes",
                    "a number of handshakes, 1 or more",
                )?)
            }
            Long("max-per-address") => {
                options = options.max_connections_per_address(flags::number(
                    parser,
                    "--max-per-address",
                    "a number of connections, 1 or more",
                )?)
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
            Long("log-format") => {
                let name = parser.value()?.string()?;
                log_format = logger::Format::parse(&name).ok_or_else(|| {
                    format!("--log-format: {name:?} — use plain (TIME LEVEL [target] message) or json (one object per line)")
                })?;
            }
            Long("help") | Short('h') => {
                return Ok(Command::Help(format!("{}{HELP}", crate::HELP)))
            }
            other => return Err(flags::unknown(other, HELP, "serve ").into()),
        }
    }
    let addresses = listen.addresses()?;
    if let Some(name) = &fixture {
        let Some(dir) = &pki_dir else {
            return Err(format!("--fixture {name}: give the test PKI's directory with --pki DIR (made by `tls-server pki DIR`)").into());
        };
        if cert_path.is_some() || key_path.is_some() {
            return Err(format!(
                "--fixture {name} and --cert/--key both name the certificate: give one"
            )
            .into());
        }
        let Some(f) = tls_server::pki::FIXTURES.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = tls_server::pki::FIXTURES.iter().map(|f| f.name).collect();
            return Err(format!(
                "--fixture: {name:?} is not a fixture — choose one of {}",
                names.join(", ")
            )
            .into());
        };
        cert_path = Some(dir.join(f.files[0]));
        key_path = Some(dir.join(f.files[1]));
        check_cas.push(dir.join("ca.crt"));
    } else if pki_dir.is_some() {
        return Err("--pki: give --fixture NAME too (e.g. --fixture expired)".into());
    }
    if let Some(path) = keylog {
        options = options.key_log_file(path);
    }
    let mut preflight = check::Options::new(
        cert_path.clone().unwrap_or_else(|| DEMO_CERT.into()),
        key_path.clone().unwrap_or_else(|| DEMO_KEY.into()),
    )
    .naming(flags::serve_naming());
    for ca in &check_cas {
        preflight = preflight.ca_file(ca);
        sni_checks = sni_checks.into_iter().map(|c| c.ca_file(ca)).collect();
    }
    match cert_path {
        Some(path) => options = options.cert_file(path),
        // The demo certificate's CA is certs/ca.crt: with it the preflight checks the chain
        // instead of warning about an unknown issuer.
        None if Path::new(DEMO_CA).is_file() => preflight = preflight.ca_file(DEMO_CA),
        None => {}
    }
    // The demo key itself, by default or named with --key (as scripts and the benchmark
    // do, by an absolute path): it is published, so its permissions are not warned about.
    let demo_key = key_path.as_deref().is_none_or(is_demo_key);
    if let Some(path) = key_path {
        options = options.key_file(path);
    }
    if https {
        // The handshake page draws each connection's flights: keep them.
        options = options.keep_handshakes(true);
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
        preflight: std::iter::once(preflight).chain(sni_checks).collect(),
        on_error: match (&fixture, check_first) {
            (Some(_), _) => OnError::Fixture,
            (None, true) => OnError::Stop,
            (None, false) => OnError::Warn,
        },
        options,
        addresses,
        listen,
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
        log_format,
        demo_key,
    })))
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Whether `path` is the demo key file (`certs/server.key` of the working directory).
fn is_demo_key(path: &Path) -> bool {
    match (path.canonicalize(), Path::new(DEMO_KEY).canonicalize()) {
        (Ok(given), Ok(demo)) => given == demo,
        _ => false,
    }
}
