//! `tls-server probe HOST:PORT`: connect as a client and explain the handshake, for
//! machines without `openssl s_client`. Exit status 0 for a verified handshake, 1 for
//! anything else; usage errors return `Err` and `main` exits 2.

use std::path::Path;
use std::time::Duration;

use lexopt::prelude::*;
use tls_server::check::Check;
use tls_server::probe::{self, Report};
use tls_server::tls::Provider;
use tls_server::TlsVersion;

use crate::{flags, Command};

/// The demo CA, trusted when no --ca is given and it exists (as `serve` defaults to the
/// demo certificate).
const DEMO_CA: &str = "certs/ca.crt";

const HELP: &str = "\
tls-server probe — connect to a TLS server and explain what happens

USAGE:
    tls-server probe HOST:PORT [OPTIONS]      e.g. localhost:8000, 192.0.2.7:443, [::1]:8443

OPTIONS (defaults in brackets):
    --servername NAME   the name to send (SNI) and verify [the HOST]
    --ca FILE           CA to verify the server against; repeat for more
                        [certs/ca.crt if it exists, else this machine's trust store]
    --cert FILE         client certificate (PEM), for servers that ask for one
    --key FILE          its private key (PEM)
    --tls1.2            offer only TLS 1.2
    --tls1.3            offer only TLS 1.3 [both]
    --alpn LIST         ALPN protocols to offer, e.g. h2,http/1.1 [none]
    --timeout TIME      for the TCP connection, and again for the handshake [5s]
    --provider NAME     crypto provider: aws-lc-rs or ring [aws-lc-rs if built in]
    --json              print one JSON object instead of lines

Exit status: 0 for a handshake that completed with a verified certificate, 1 otherwise,
2 for a usage error.
";

/// What `probe` was asked.
pub struct Probe {
    options: probe::Options,
    /// No --ca was given and the demo CA is trusted instead.
    default_ca: bool,
    json: bool,
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Command, Box<dyn std::error::Error>> {
    let mut target: Option<String> = None;
    let mut server_name = None;
    let mut ca = Vec::new();
    let (mut cert, mut key) = (None, None);
    let mut versions = Vec::new();
    let mut alpn = Vec::new();
    let mut timeout = Duration::from_secs(5);
    let mut provider = Provider::default();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Value(v) if target.is_none() => target = Some(v.string()?),
            Long("servername") => server_name = Some(parser.value()?.string()?),
            Long("ca") => ca.push(parser.value()?),
            Long("cert") => cert = Some(parser.value()?),
            Long("key") => key = Some(parser.value()?),
            Long("tls1.2") => versions.push(TlsVersion::Tls12),
            Long("tls1.3") => versions.push(TlsVersion::Tls13),
            Long("alpn") => {
                alpn = parser
                    .value()?
                    .string()?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            Long("timeout") => {
                let s = parser.value()?.string()?;
                timeout = crate::flags::duration(&s)
                    .and_then(|t| match t.is_zero() {
                        true => Err("a timeout of 0 would fail every probe".to_string()),
                        false => Ok(t),
                    })
                    .map_err(|e| format!("--timeout: {e}"))?;
            }
            Long("provider") => {
                let name = parser.value()?.string()?;
                provider = Provider::parse(&name).ok_or_else(|| {
                    format!(
                        "--provider: {name:?} is not built in — this binary has {}",
                        Provider::default().name()
                    )
                })?;
            }
            Long("json") => json = true,
            Long("help") | Short('h') => return Ok(Command::Help(HELP.to_string())),
            other => return Err(crate::flags::unknown(other, HELP, "probe ").into()),
        }
    }
    let target = target.ok_or("probe needs HOST:PORT, e.g. `tls-server probe localhost:8000`")?;
    let mut options = probe::Options::new(target)
        .naming(flags::naming())
        .versions(&versions)
        .alpn(&alpn)
        .timeout(timeout)
        .provider(provider);
    if let Some(name) = server_name {
        options = options.server_name(name);
    }
    let default_ca = ca.is_empty() && Path::new(DEMO_CA).is_file();
    if default_ca {
        options = options.ca_file(DEMO_CA);
    }
    for file in ca {
        options = options.ca_file(file);
    }
    match (cert, key) {
        (Some(c), Some(k)) => options = options.client_cert(c, k),
        (None, None) => {}
        _ => {
            return Err(
                "--cert and --key go together: pass both (the client certificate and its key)"
                    .into(),
            )
        }
    }

    Ok(Command::Probe(Probe {
        options,
        default_ca,
        json,
    }))
}

pub(crate) fn run(cmd: Probe) -> Result<(), Box<dyn std::error::Error>> {
    let Probe {
        options,
        default_ca,
        json,
    } = cmd;
    let mut report = probe::probe(&options)?;
    if default_ca {
        report.trust = format!("{DEMO_CA} (the default: no --ca given)");
    }
    let text = if json {
        format!("{}\n", report.to_json())
    } else {
        human(&report)
    };
    crate::print_and_exit(&text, report.passed())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn human(r: &Report) -> String {
    // rustls sends no SNI for an address; say so, since servers choosing a certificate by
    // name then see none.
    let sni = if r.server_name.parse::<std::net::IpAddr>().is_ok() {
        " (an IP address: no SNI is sent)"
    } else {
        ""
    };
    let mut s = format!(
        "tls-server probe {}: server name {}{sni}, trusting {}\n",
        r.target, r.server_name, r.trust
    );
    let mut row = |name: &str, value: &str| s += &format!("  {name:<13} {value}\n");
    if let (Some(addr), Some(t)) = (r.addr, r.connect_time) {
        row("connected", &format!("{addr} in {}", ms(t)));
    }
    // The IANA name, then OpenSSL's when it differs (TLS 1.2 suites).
    let cipher = r.cipher.as_ref().map(|iana| match &r.cipher_openssl {
        Some(openssl) if openssl != iana => format!("{iana} ({openssl})"),
        _ => iana.clone(),
    });
    for (name, value) in [
        ("protocol", &r.protocol),
        ("cipher", &cipher),
        ("group", &r.group),
    ] {
        if let Some(v) = value {
            row(name, v);
        }
    }
    if r.protocol.is_some() {
        row("alpn", r.alpn.as_deref().unwrap_or("(none)"));
    }
    match (&r.client_cert_requested, &r.client_cert) {
        (Some(cas), sent) => row(
            "client cert",
            &format!(
                "requested by the server{}; we sent {}",
                if cas.is_empty() {
                    String::new()
                } else {
                    format!(" (CAs: {})", cas.join("; "))
                },
                sent.as_deref().unwrap_or("none")
            ),
        ),
        (None, Some(sent)) => row(
            "client cert",
            &format!("not requested by the server (we had {sent})"),
        ),
        (None, None) => {}
    }
    if let Some(a) = &r.alert_received {
        row("alert", &format!("{a} (sent by the server)"));
    }
    if !r.chain.is_empty() {
        s += "  chain, as the server sent it (subject → issuer):\n";
        for line in r.chain_lines() {
            s += &format!("    {line}\n");
        }
    }
    for c in [&r.verification, &r.host_name].into_iter().flatten() {
        s += &check_row(c);
    }
    let time = r
        .handshake_time
        .map(|t| format!(" (handshake {})", ms(t)))
        .unwrap_or_default();
    if r.passed() {
        s += &format!("\nOK {}{time}\n", r.message);
    } else {
        s += &format!(
            "\nFAILED ({}): {}\n  fix: {}\n",
            r.outcome.name(),
            r.message,
            r.fix
        );
    }
    s
}

fn check_row(c: &Check) -> String {
    let name = if c.check == "host-name" {
        "host name"
    } else {
        c.check
    };
    format!("  {name:<13} {}: {}\n", c.status.label(), c.message)
}
