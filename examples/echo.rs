//! The smallest complete program: an echo server over TLS. The README's "Use it as a
//! library" shows it.
//!
//! ```text
//! cargo run --example echo                     # listens on 127.0.0.1:8000
//! openssl s_client -connect 127.0.0.1:8000 -CAfile certs/ca.crt
//! ```

use tls_server::{Event, Server, ServerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:8000".into());
    let options = ServerOptions::new()
        .cert_file("certs/server.crt")
        .key_file("certs/server.key")
        .bind(addr);
    let server = Server::bind(options)?; // every configuration mistake is reported here
    println!("listening on {}", server.local_addr());
    for event in server.events() {
        match event {
            Event::Data { socket, data } => {
                socket.write(&data);
            }
            Event::TlsClientError(failure) => eprintln!("{failure}"), // the explanation
            _ => {}
        }
    }
    Ok(())
}
