//! The "obvious Rust alternative" that `make bench` compares tls-server with: one thread per
//! connection around `rustls::StreamOwned`, no pool, no events, no diagnostics. It echoes
//! (the loop `std::io::copy` would run, which cannot borrow one stream as both reader and
//! writer) and ends with close_notify.
//!
//! Usage: `bench-naive-server PORT CERT KEY` (listens on 127.0.0.1:PORT). rustls's
//! defaults throughout: the process-wide provider of this build (aws-lc-rs), its stateful
//! session cache of 256 entries, two TLS 1.3 tickets per connection. TCP_NODELAY is set,
//! as every server in the benchmark does.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, port, cert, key] = &args[..] else {
        eprintln!("usage: bench-naive-server PORT CERT KEY");
        std::process::exit(2);
    };
    let config = Arc::new(config(cert, key).unwrap_or_else(|e| {
        eprintln!("bench-naive-server: {e}");
        std::process::exit(1);
    }));
    let port: u16 = port.parse().expect("PORT is a number");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1:PORT");
    serve(listener, config);
}

/// The certificate chain and key from PEM files, with rustls's default everything.
pub fn config(cert: &str, key: &str) -> Result<ServerConfig, Box<dyn std::error::Error>> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    Ok(ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?)
}

/// Accepts forever; one new thread per connection.
pub fn serve(listener: TcpListener, config: Arc<ServerConfig>) {
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            let _ = echo(sock, config);
        });
    }
}

fn echo(sock: TcpStream, config: Arc<ServerConfig>) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, sock);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = tls.read(&mut buf)?;
        if n == 0 {
            break; // close_notify
        }
        tls.write_all(&buf[..n])?;
    }
    tls.conn.send_close_notify();
    tls.flush()
}
