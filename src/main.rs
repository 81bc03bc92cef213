//! The `tls-server` command: `main` parses nothing itself; it calls [`cli::run`] and turns
//! an error into `error: …` and a non-zero exit status.

#![forbid(unsafe_code)]

mod cli;
mod cli_check;
mod cli_probe;
// The library's JSON object writer, under the path cli_check and cli_probe use.
use tls_server::json;

fn main() {
    match cli::run(std::env::args_os().skip(1).collect()) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
