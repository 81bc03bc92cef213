//! The HTTPS example of Node's `https` docs, in Rust: an HTTPS server that answers every
//! request — here with what the TLS handshake settled.
//!
//! ```text
//! cargo run --example https                        # listens on 127.0.0.1:8443
//! curl --cacert certs/ca.crt https://localhost:8443/          # hello, with protocol and cipher
//! curl --cacert certs/ca.crt https://localhost:8443/facts     # the connection's facts as JSON
//! ```
//!
//! An optional argument is the address (`127.0.0.1:0` picks a free port) or just a port.

use tls_server::https::{self, Response};
use tls_server::{Server, ServerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = match std::env::args().nth(1) {
        Some(port) if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        Some(addr) => addr,
        None => "127.0.0.1:8443".into(),
    };
    // Node: https.createServer({ key, cert }, (req, res) => { ... }).listen(8443).
    // bind_streams runs this closure on a pool thread for each secure connection.
    let server = Server::bind_streams(
        ServerOptions::new()
            .cert_file("certs/server.crt")
            .key_file("certs/server.key")
            .bind(addr),
        |mut stream| {
            // Everything the handshake settled, fixed for the whole connection.
            let socket = stream.socket();
            // HTTP/1.1 with keep-alive: the closure is called once per request, in order,
            // until the client closes, says `Connection: close`, or stays idle for 5 s.
            let served = https::serve(&mut stream, |request| {
                println!(
                    "#{} {} {} (request {} on this connection)",
                    socket.id(),
                    request.method,
                    request.target,
                    request.number
                );
                match (request.method.as_str(), request.path()) {
                    ("GET" | "HEAD", "/") => Response::text(
                        200,
                        format!(
                            "hello world, over {} with {}\n",
                            socket.protocol(),
                            socket.cipher()
                        ),
                    ),
                    ("GET" | "HEAD", "/facts") => {
                        Response::json(200, https::facts_json(socket.info(), request) + "\n")
                    }
                    ("GET" | "HEAD", _) => Response::text(404, "not found; try / or /facts\n"),
                    _ => Response::method_not_allowed("GET, HEAD"),
                }
            });
            if let Ok(served) = served {
                println!(
                    "#{} done after {} request(s): {:?}",
                    socket.id(),
                    served.requests,
                    served.ending
                );
            }
        },
    )?;
    println!("HTTPS server listening on {}", server.local_addr());
    println!(
        "try: curl --cacert certs/ca.crt https://localhost:{}/",
        server.local_addr().port()
    );
    // Ctrl-C: stop accepting, close the open connections (close_notify), exit.
    let handle = server.handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    server.wait();
    Ok(())
}
