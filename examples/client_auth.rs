//! Node's client-authentication example (`requestCert`, `authorized`), in Rust: ask every client for a
//! certificate, log its subject, issuer and whether our CA vouches for it, and turn away
//! clients that are not authorized — with a message, not a silent reset.
//!
//! It runs in `inspect` mode (Node's `requestCert: true, rejectUnauthorized: false`) so
//! that the handler, not the handshake, decides; that is what lets it answer unauthorized
//! clients in words. With `ClientAuth::Required` they would be refused during the
//! handshake with a TLS alert instead.
//!
//! ```text
//! cargo run --example client_auth                   # listens on 127.0.0.1:8001
//! openssl s_client -connect 127.0.0.1:8001 -CAfile certs/ca.crt \
//!     -cert certs/client/client.crt -key certs/client/client.key
//! ```

use tls_server::{ClientAuth, Handlers, Server, ServerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8001".into());
    let server = Server::bind(
        ServerOptions::new()
            .cert_file("certs/server.crt")
            .key_file("certs/server.key")
            .client_ca_file("certs/client/ca.crt")
            .client_auth(ClientAuth::Inspect)
            .bind(addr),
    )?;
    let handle = server.handle();
    ctrlc::set_handler(move || handle.shutdown())?;

    server.run(
        Handlers::new()
            .on_listening(|addr| {
                println!("TLS server with client authentication listening on {addr}")
            })
            .on_secure_connection(|socket| {
                println!(
                    "#{} secure connection: {}",
                    socket.id(),
                    socket.remote_addr()
                );
                match socket.peer_certificate() {
                    Some(cert) => {
                        println!("   client certificate subject: {}", cert.subject_line);
                        println!("   client certificate issuer: {}", cert.issuer_line);
                        println!("   authorized: {}", socket.authorized());
                        if let Some(e) = socket.authorization_error() {
                            println!("   authorization error: {e}");
                            socket.end_with(format!("not authorized: {}\n", e.code).as_bytes());
                            return;
                        }
                        socket.write(b"authenticated! starting secure communication\n");
                    }
                    None => {
                        println!("   the client sent no certificate");
                        socket.end_with(b"a client certificate is required\n");
                    }
                }
            })
            .on_data(|socket, data| {
                if socket.authorized() {
                    println!(
                        "#{} received: {}",
                        socket.id(),
                        String::from_utf8_lossy(data).trim_end()
                    );
                    socket.write(b"secure reply: ");
                    socket.write(data);
                }
            })
            .on_end(|socket| println!("#{} the client ended the connection", socket.id()))
            .on_tls_client_error(|e| println!("handshake failed: {e}")),
    );
    Ok(())
}
