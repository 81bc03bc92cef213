//! The "obvious Rust alternative" that `make bench` compares tls-server with: one thread per
//! connection around `rustls::StreamOwned`, no pool, no events, no diagnostics. It echoes
//! (the loop `std::io::copy` would run, which cannot borrow one stream as both reader and
//! writer) and ends with close_notify.
//!
//! `--hop` makes it the smallest server of tls-server's shape instead, to tell what the
//! shape costs from what our code costs: after the handshake each connection's thread
//! reads the socket (no lock held), decrypts under the connection's lock and sends the
//! plaintext over a channel to one echo thread, which encrypts and writes under the lock.
//! No pool, no events, no limits, no back-pressure.
//!
//! Usage: `bench-naive-server PORT CERT KEY [--hop]` (listens on 127.0.0.1:PORT). rustls's
//! defaults throughout: the process-wide provider of this build (aws-lc-rs), its stateful
//! session cache of 256 entries, two TLS 1.3 tickets per connection. TCP_NODELAY is set,
//! as every server in the benchmark does.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (port, cert, key, hop) = match &args[..] {
        [_, port, cert, key] => (port, cert, key, false),
        [_, port, cert, key, hop] if hop == "--hop" => (port, cert, key, true),
        _ => {
            eprintln!("usage: bench-naive-server PORT CERT KEY [--hop]");
            std::process::exit(2);
        }
    };
    let config = Arc::new(config(cert, key).unwrap_or_else(|e| {
        eprintln!("bench-naive-server: {e}");
        std::process::exit(1);
    }));
    let port: u16 = port.parse().expect("PORT is a number");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1:PORT");
    match hop {
        false => serve(listener, config),
        true => serve_with_hop(listener, config),
    }
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

/// A connection shared by its reading thread and the echo thread.
struct Shared {
    conn: Mutex<ServerConnection>,
    sock: TcpStream,
}

/// `--hop`: accepts forever; one thread per connection reads and decrypts, one echo
/// thread for all encrypts and writes.
pub fn serve_with_hop(listener: TcpListener, config: Arc<ServerConfig>) {
    let (to_echo, messages) = channel::<(Arc<Shared>, Vec<u8>)>();
    std::thread::spawn(move || {
        for (shared, data) in messages {
            let mut conn = shared.conn.lock().unwrap();
            let _ = conn.writer().write_all(&data);
            let _ = conn.complete_io(&mut &shared.sock);
        }
    });
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        let (config, to_echo) = (config.clone(), to_echo.clone());
        std::thread::spawn(move || {
            let _ = read_and_hand_over(sock, config, to_echo);
        });
    }
}

fn read_and_hand_over(
    mut sock: TcpStream,
    config: Arc<ServerConfig>,
    to_echo: Sender<(Arc<Shared>, Vec<u8>)>,
) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let mut conn = ServerConnection::new(config).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    // The session tickets, as StreamOwned's first read would send them.
    while conn.wants_write() {
        conn.write_tls(&mut sock)?;
    }
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        sock: sock.try_clone()?,
    });
    let mut buf = [0u8; 16 * 1024];
    // None on the first pass: what came with the client's Finished is already decrypted.
    let mut read: Option<usize> = None;
    loop {
        let mut conn = shared.conn.lock().unwrap();
        let mut rest = &buf[..read.unwrap_or(0)];
        let mut data = Vec::new();
        let mut closed = read == Some(0);
        // rustls may take less than was read at once.
        loop {
            if !rest.is_empty() {
                conn.read_tls(&mut rest)?;
            }
            let state = conn.process_new_packets().map_err(io::Error::other)?;
            let start = data.len();
            data.resize(start + state.plaintext_bytes_to_read(), 0);
            conn.reader().read_exact(&mut data[start..])?;
            closed |= state.peer_has_closed();
            if rest.is_empty() {
                break;
            }
        }
        if closed {
            conn.send_close_notify();
            conn.complete_io(&mut &shared.sock)?;
        }
        drop(conn);
        if closed {
            return Ok(());
        }
        if !data.is_empty() && to_echo.send((shared.clone(), data)).is_err() {
            return Ok(());
        }
        read = Some(sock.read(&mut buf)?);
    }
}
