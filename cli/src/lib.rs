//! The `tls-server` command, as a library: [`parse`] turns the arguments into a
//! [`Command`] without doing anything else (the fuzzer in fuzz/ relies on that), and
//! [`run`] does it. `main.rs` calls both.

#![forbid(unsafe_code)]

mod check;
mod flags;
mod listen;
mod logger;
mod pki;
mod preflight;
mod probe;
mod serve;
mod signals;

use std::ffi::OsString;
use std::io::Write;

use lexopt::prelude::*;

/// What the command line asked for.
pub enum Command {
    /// Print this help text.
    Help(String),
    /// No command given: print the usage on stderr and fail (exit 2).
    Usage(String),
    /// Print the versions.
    Version,
    /// `tls-server serve ...`
    Serve(Box<serve::Serve>),
    /// `tls-server check ...`
    Check(check::CheckCommand),
    /// `tls-server probe ...`
    Probe(probe::Probe),
    /// `tls-server pki DIR ...`
    Pki(pki::Pki),
}

const HELP: &str = "\
tls-server — a TLS server that explains every failed handshake

USAGE:
    tls-server serve [OPTIONS]      serve TLS (echo mode: every byte is sent back;
                                    --mode https: answer HTTPS with the connection facts,
                                    and a browser with a page drawing its handshake)
    tls-server check [OPTIONS]      check certificate, key and CA files before serving (check --help)
    tls-server probe HOST:PORT      connect as a client and explain the handshake (probe --help)
    tls-server pki DIR              make a test PKI: good and broken certificates (pki --help)
    tls-server --version            versions of tls-server, rustls and the crypto provider
    tls-server help [COMMAND]       this help, or a command's (also: COMMAND --help)

";

/// Reads the arguments (without the program name). Touches nothing: no file is read, no
/// socket opened, nothing printed.
pub fn parse(args: Vec<OsString>) -> Result<Command, Box<dyn std::error::Error>> {
    let mut parser = lexopt::Parser::from_args(args);
    match parser.next()? {
        Some(Long("version")) | Some(Short('V')) => Ok(Command::Version),
        Some(Long("help")) | Some(Short('h')) => Ok(Command::Help(full_help())),
        // No command: the usage on stderr, and a usage error (exit 2), as tools do.
        None => Ok(Command::Usage(HELP.to_string())),
        Some(Value(cmd)) if cmd == "serve" => serve::parse(&mut parser),
        Some(Value(cmd)) if cmd == "check" => check::parse(&mut parser),
        Some(Value(cmd)) if cmd == "probe" => probe::parse(&mut parser),
        Some(Value(cmd)) if cmd == "pki" => pki::parse(&mut parser),
        Some(Value(cmd)) if cmd == "help" => {
            // `tls-server help [COMMAND]` is `tls-server [COMMAND] --help`.
            match parser.next()? {
                None => Ok(Command::Help(full_help())),
                Some(Value(cmd)) => parse(vec![cmd, "--help".into()]),
                Some(other) => Err(flags::unknown(other, COMMANDS, "").into()),
            }
        }
        Some(other) => Err(flags::unknown(other, COMMANDS, "").into()),
    }
}

/// What may come first, for "did you mean".
const COMMANDS: &str = "serve check probe pki help --help --version";

/// `tls-server --help`: the commands, then serve's options.
fn full_help() -> String {
    format!("{HELP}{}", serve::HELP)
}

/// Does what `command` says.
pub fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Help(text) => {
            print!("{text}");
            Ok(())
        }
        Command::Usage(text) => {
            let _ = write!(std::io::stderr(), "{text}");
            Err("no command given — `tls-server serve` starts the server; `tls-server help` says more".into())
        }
        Command::Version => {
            println!("{}", version());
            Ok(())
        }
        Command::Serve(cmd) => serve::run(cmd),
        Command::Check(cmd) => check::run(cmd),
        Command::Probe(cmd) => probe::run(cmd),
        Command::Pki(cmd) => pki::run(cmd),
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

/// The rustls version this binary was built with, as Cargo resolved it (`build.rs` reads
/// it from Cargo.lock).
const RUSTLS_VERSION: &str = env!("TLS_SERVER_RUSTLS_VERSION");

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
