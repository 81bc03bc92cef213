//! The `tls-server` command: `serve`, `check`, `probe`. `main` parses the subcommand and
//! hands over; every error is printed as `error: …` with exit status 2.

#![forbid(unsafe_code)]

mod check;
mod flags;
mod logger;
mod probe;
mod serve;
mod signals;

use std::ffi::OsString;
use std::io::Write;

use lexopt::prelude::*;

const HELP: &str = "\
tls-server — a TLS server that explains every failed handshake

USAGE:
    tls-server serve [OPTIONS]      serve TLS (echo mode: every byte is sent back;
                                    --mode https: answer HTTPS with the connection facts)
    tls-server check [OPTIONS]      check certificate, key and CA files before serving (check --help)
    tls-server probe HOST:PORT      connect as a client and explain the handshake (probe --help)
    tls-server --version            versions of tls-server, rustls and the crypto provider
    tls-server --help

";

fn main() {
    let result = run(std::env::args_os().skip(1).collect());
    // The last log lines reach a healthy stderr before the process ends.
    log::logger().flush();
    if let Err(e) = result {
        let _ = writeln!(std::io::stderr(), "error: {e}");
        std::process::exit(2);
    }
}

fn run(args: Vec<OsString>) -> Result<(), Box<dyn std::error::Error>> {
    let mut parser = lexopt::Parser::from_args(args);
    match parser.next()? {
        Some(Long("version")) | Some(Short('V')) => {
            println!("{}", version());
            Ok(())
        }
        Some(Long("help")) | Some(Short('h')) | None => {
            print!("{HELP}{}", serve::HELP);
            Ok(())
        }
        Some(Value(cmd)) if cmd == "serve" => serve::run(&mut parser),
        Some(Value(cmd)) if cmd == "check" => check::run(&mut parser),
        Some(Value(cmd)) if cmd == "probe" => probe::run(&mut parser),
        Some(other) => Err(format!("{} — see `tls-server --help`", other.unexpected()).into()),
    }
}

fn version() -> String {
    format!(
        "tls-server {}\nrustls {}\ncrypto provider {}",
        env!("CARGO_PKG_VERSION"),
        RUSTLS_VERSION,
        tls_server::tls::Provider::default().name()
    )
}

/// The rustls version we were built against (pinned in Cargo.toml).
const RUSTLS_VERSION: &str = "0.23.35";

/// Prints a report on stdout and exits 1 if it failed (`check` and `probe`: 0 passed,
/// 1 failed, 2 usage error from `main`).
fn print_and_exit(text: &str, passed: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if !passed {
        std::process::exit(1);
    }
    Ok(())
}
