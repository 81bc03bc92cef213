//! Node's `tlsSocket.pipe(logStream)` example, in Rust's blocking style: each secure connection is a
//! `Read + Write` stream on its own thread, and `std::io::copy` moves its bytes into a
//! writer that logs them.
//!
//! ```text
//! cargo run --example pipe                          # listens on 127.0.0.1:8002
//! openssl s_client -connect 127.0.0.1:8002 -CAfile certs/ca.crt
//! ```

use std::io::{self, Write};

use tls_server::{Server, ServerOptions, TlsStream};

/// A writer that prints what it is given, like Node's `logStream` in that example.
struct LogStream {
    id: u64,
}

impl Write for LogStream {
    fn write(&mut self, chunk: &[u8]) -> io::Result<usize> {
        println!(
            "#{} data from the secure connection (pipe): {}",
            self.id,
            String::from_utf8_lossy(chunk).trim_end()
        );
        Ok(chunk.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn serve(mut stream: TlsStream) {
    let socket = stream.socket();
    println!(
        "#{} secure connection ({} {})",
        socket.id(),
        socket.protocol(),
        socket.cipher()
    );
    if stream
        .write_all(b"Sending secure data from the server.\n")
        .is_err()
    {
        return;
    }
    let mut log = LogStream { id: socket.id() };
    match io::copy(&mut stream, &mut log) {
        Ok(n) => println!(
            "#{} secure connection closed after {n} bytes (pipe)",
            socket.id()
        ),
        Err(e) => println!("#{} connection failed: {e}", socket.id()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8002".into());
    let server = Server::bind_streams(
        ServerOptions::new()
            .cert_file("certs/server.crt")
            .key_file("certs/server.key")
            .bind(addr),
        serve,
    )?;
    println!("TLS server (pipe) listening on {}", server.local_addr());
    let handle = server.handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    server.wait();
    Ok(())
}
