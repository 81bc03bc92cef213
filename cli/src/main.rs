//! `tls-server`: parses the arguments, runs the command, and turns an error into
//! `error: …` with exit status 2.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let result =
        tls_server_cli::parse(std::env::args_os().skip(1).collect()).and_then(tls_server_cli::run);
    // The last log lines reach a healthy stderr before the process ends.
    log::logger().flush();
    if let Err(e) = result {
        let _ = writeln!(std::io::stderr(), "error: {e}");
        std::process::exit(2);
    }
}
