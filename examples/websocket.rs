//! A secure WebSocket (`wss://`) echo server: the blocking stream style of this crate
//! underneath, the synchronous [`tungstenite`] crate on top. Node's docs point to `ws` or
//! Socket.IO on a `tls.Server` for this; in Rust the TLS layer is
//! [`Server::bind_streams`], which hands each connection to `serve` as a blocking
//! `Read + Write` [`TlsStream`] on its own pool thread — exactly what `tungstenite` wants.
//!
//! ```text
//! cargo run --example websocket                     # listens on 127.0.0.1:8003
//! cargo run --example websocket -- 127.0.0.1:0      # or any address (port 0: a free port)
//! ```
//!
//! Then connect to `wss://localhost:8003/any/path` with a client that trusts
//! `certs/ca.crt`. Text and binary messages come back unchanged; pings are answered with
//! pongs (by tungstenite); a Close frame is answered with a Close frame, then the TLS
//! connection ends with close_notify. A request that is not a WebSocket upgrade (a browser
//! opening `https://localhost:8003/`) gets `400 Bad Request` saying so.

use std::io::Write;

use tls_server::{Server, ServerOptions, TlsSocket, TlsStream};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, HandshakeError, Message};

/// The largest message (and frame) we accept: tungstenite's default is 64 MiB per message,
/// more than an echo server on a small machine should buffer for one client.
const MAX_MESSAGE: usize = 1 << 20;

/// One connection, from TLS handshake done to close. Runs on the connection's own thread;
/// when it returns, the server ends the TLS connection (close_notify) and closes the socket.
/// Nothing here panics on what a client sends: every failure is logged and ends only this
/// connection.
fn serve(mut stream: TlsStream) {
    let socket = stream.socket();
    let id = socket.id();
    println!(
        "#{id} secure connection from {}: {}",
        socket.remote_addr(),
        tls_facts(&socket)
    );

    // The WebSocket opening handshake: read the HTTP `GET ... Upgrade: websocket` request,
    // answer `101 Switching Protocols`. `accept_hdr` lets us look at the request (here, to
    // remember its path). We lend the stream (`&mut`) so that we still have it if the
    // request turns out not to be a WebSocket upgrade, to answer that client in HTTP.
    let mut path = String::new();
    // The callback's signature is tungstenite's (its error is an HTTP response to send).
    #[allow(clippy::result_large_err)]
    let remember_path =
        |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            path = request.uri().path().to_string();
            Ok(response)
        };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = match tungstenite::accept_hdr_with_config(&mut stream, remember_path, Some(config))
    {
        Ok(ws) => ws,
        Err(HandshakeError::Failure(Error::Io(e))) => {
            println!("#{id} connection failed during the WebSocket handshake: {e}");
            return;
        }
        Err(HandshakeError::Failure(e)) => {
            // Plain HTTPS (no `Upgrade: websocket`), a POST, a malformed request...
            // tungstenite says what was wrong but sends nothing, so we answer in HTTP.
            println!("#{id} not a WebSocket request ({e}): answering 400 Bad Request");
            bad_request(&mut stream, &e);
            return;
        }
        // Only non-blocking streams are interrupted (WouldBlock); ours blocks.
        Err(HandshakeError::Interrupted(_)) => return,
    };
    println!("#{id} WebSocket open: path {path}");

    // The echo loop. `read` returns one complete message (fragments are reassembled) and,
    // before reading, sends anything tungstenite queued itself: the pong for a ping, the
    // Close reply to a Close. So a ping needs no code here, only another call to `read`.
    loop {
        let message = match ws.read() {
            Ok(message) => message,
            // Our Close reply has been sent after the client's Close: a clean end.
            Err(Error::ConnectionClosed) => {
                println!("#{id} WebSocket closed cleanly");
                break;
            }
            Err(e) => {
                // e.g. the TLS connection ended without a Close frame, a protocol
                // violation, a message over MAX_MESSAGE.
                println!("#{id} WebSocket failed: {e}");
                break;
            }
        };
        match message {
            Message::Text(_) | Message::Binary(_) => {
                println!("#{id} echo: {}", describe(&message));
                // `send` = `write` + `flush`; it blocks while the client is not reading.
                if let Err(e) = ws.send(message) {
                    println!("#{id} WebSocket failed while echoing: {e}");
                    break;
                }
            }
            Message::Ping(_) => println!("#{id} ping (tungstenite answers with a pong)"),
            Message::Close(frame) => match frame {
                Some(frame) => println!(
                    "#{id} the client closes: code {} {:?} (answering with Close)",
                    u16::from(frame.code),
                    frame.reason.as_str()
                ),
                None => println!("#{id} the client closes (answering with Close)"),
            },
            // Pongs (answers to pings we never send) and raw frames (never returned by
            // `read`) need nothing.
            Message::Pong(_) | Message::Frame(_) => {}
        }
    }
    println!("#{id} disconnected (path {path})");
}

/// What the TLS handshake settled, for the connect line.
fn tls_facts(socket: &TlsSocket) -> String {
    format!(
        "{} {} sni={} alpn={}",
        socket.protocol(),
        socket.cipher(),
        socket.server_name().unwrap_or("-"),
        socket.alpn_protocol().unwrap_or("-")
    )
}

/// A short description of a data message for the log (long text is cut).
fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => {
            let text = text.as_str();
            match text.char_indices().nth(60) {
                Some((cut, _)) => format!("text {:?}… ({} bytes)", &text[..cut], text.len()),
                None => format!("text {text:?}"),
            }
        }
        other => format!("binary, {} bytes", other.len()),
    }
}

/// Answers a request that is not a WebSocket upgrade with `400 Bad Request`, best effort:
/// if the client has gone, there is no one to tell.
fn bad_request(stream: &mut TlsStream, why: &Error) {
    let body = format!("This is a WebSocket (wss://) echo server; this request is not a WebSocket upgrade: {why}\n");
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream
        .write_all(response.as_bytes())
        .and_then(|()| stream.flush());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8003".into());
    let server = Server::bind_streams(
        ServerOptions::new()
            .cert_file("certs/server.crt")
            .key_file("certs/server.key")
            // WebSocket runs over HTTP/1.1: offer it to clients that use ALPN (browsers do;
            // a client that offers no ALPN at all is served too).
            .alpn(&["http/1.1"])
            .bind(addr),
        serve,
    )?;
    println!(
        "WebSocket echo server (wss) listening on {}",
        server.local_addr()
    );
    // Ctrl-C: stop accepting, send close_notify to open connections (their `read` ends),
    // wait for them, exit.
    let handle = server.handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    server.wait();
    Ok(())
}
