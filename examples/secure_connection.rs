//! Node's classic `secureConnection` example, in Rust: watch `connection` and `secureConnection`, print what
//! the handshake settled, and answer each message.
//!
//! ```text
//! cargo run --example secure_connection            # listens on 127.0.0.1:8000
//! openssl s_client -connect 127.0.0.1:8000 -CAfile certs/ca.crt
//! ```

use tls_server::{Handlers, Server, ServerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".into());
    let server = Server::bind(
        ServerOptions::new()
            .cert_file("certs/server.crt")
            .key_file("certs/server.key")
            .bind(addr),
    )?;
    let handle = server.handle();
    ctrlc::set_handler(move || handle.shutdown())?;

    server.run(
        Handlers::new()
            .on_listening(|addr| println!("TLS server listening on {addr}"))
            // Node: the tls.createServer callback ('connection'), before any TLS byte.
            .on_connection(|id, peer| println!("#{id} plain TCP connection from {peer}"))
            .on_secure_connection(|socket| {
                println!(
                    "#{} secure connection: {}",
                    socket.id(),
                    socket.remote_addr()
                );
                println!("   TLS version: {}", socket.protocol());
                // Node's getCipher(): standardName (IANA) and name (OpenSSL).
                println!(
                    "   cipher suite: {} (OpenSSL: {})",
                    socket.cipher(),
                    socket.cipher_openssl()
                );
                println!("   key exchange: {}", socket.group().unwrap_or("-"));
                println!("   SNI: {}", socket.server_name().unwrap_or("(none)"));
            })
            .on_data(|socket, data| {
                println!(
                    "#{} received: {}",
                    socket.id(),
                    String::from_utf8_lossy(data).trim_end()
                );
                socket.write(b"secure reply: ");
                socket.write(data);
            })
            .on_end(|socket| println!("#{} the client ended the connection", socket.id()))
            .on_tls_client_error(|e| println!("handshake failed: {e}"))
            .on_close(|socket, had_error| {
                println!(
                    "#{} closed{}",
                    socket.id(),
                    if had_error { " after an error" } else { "" }
                )
            }),
    );
    Ok(())
}
