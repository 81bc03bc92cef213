//! ALPN: a list of protocols in order of preference, or a callback that chooses (Node's
//! `ALPNProtocols` and `ALPNCallback`); the socket reports the choice, a refusal is
//! explained with both sides.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use support::*;
use tls_server::explain::Cause;
use tls_server::rustls;
use tls_server::tls::AlpnOffer;
use tls_server::{Event, Events};

/// Handshakes offering `protocols` (and asking for `name`); returns what the client
/// agreed to, or its error.
fn offer(addr: SocketAddr, name: &str, protocols: &[&str]) -> Result<Option<String>, String> {
    let mut config = (*client_config()).clone();
    config.alpn_protocols = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), server_name).unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client
            .conn
            .complete_io(&mut client.sock)
            .map_err(|e| e.to_string())?;
    }
    Ok(client
        .conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned()))
}

fn next(events: &Events) -> Result<Option<String>, Box<tls_server::TlsClientError>> {
    wait_for(events, "secureConnection or tlsClientError", |e| match e {
        Event::SecureConnection(s) => Some(Ok(s.alpn_protocol().map(str::to_string))),
        Event::TlsClientError(e) => Some(Err(e.clone())),
        _ => None,
    })
}

#[test]
fn the_list_chooses_and_the_socket_reports_it() {
    let (_server, events, addr) = serve_echo_streams(options().alpn(&["h2", "http/1.1"]));
    assert_eq!(
        offer(addr, "localhost", &["http/1.1", "h2"])
            .unwrap()
            .as_deref(),
        Some("h2"),
        "our order wins (rustls picks the server's first match)"
    );
    assert_eq!(next(&events).unwrap().as_deref(), Some("h2"));
    assert_eq!(
        offer(addr, "localhost", &["http/1.1"]).unwrap().as_deref(),
        Some("http/1.1")
    );
    assert_eq!(next(&events).unwrap().as_deref(), Some("http/1.1"));
    // A client without ALPN still connects, with none.
    assert_eq!(offer(addr, "localhost", &[]).unwrap(), None);
    assert_eq!(next(&events).unwrap(), None);
}

#[test]
fn the_callback_chooses_per_client_and_sees_the_server_name() {
    let seen: Arc<Mutex<Vec<AlpnOffer>>> = Arc::default();
    let log = seen.clone();
    let (_server, events, addr) = serve_echo_streams(options().alpn_callback(move |offer| {
        log.lock().unwrap().push(offer.clone());
        // h2 only for clients connecting by IP, http/1.1 for the rest.
        let want = if offer.server_name.is_none() {
            "h2"
        } else {
            "http/1.1"
        };
        offer.protocols.iter().find(|p| *p == want).cloned()
    }));
    assert_eq!(
        offer(addr, "localhost", &["h2", "http/1.1"])
            .unwrap()
            .as_deref(),
        Some("http/1.1")
    );
    assert_eq!(next(&events).unwrap().as_deref(), Some("http/1.1"));
    assert_eq!(
        offer(addr, "127.0.0.1", &["h2", "http/1.1"])
            .unwrap()
            .as_deref(),
        Some("h2")
    );
    assert_eq!(next(&events).unwrap().as_deref(), Some("h2"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].server_name.as_deref(), Some("localhost"));
    assert_eq!(seen[0].protocols, ["h2", "http/1.1"]);
    assert_eq!(seen[1].server_name, None);
    drop(seen);
    // No ALPN offered: the callback is not asked, the client connects.
    assert_eq!(offer(addr, "localhost", &[]).unwrap(), None);
    assert_eq!(next(&events).unwrap(), None);
}

#[test]
fn a_callback_refusal_is_an_alert_and_an_explained_error() {
    let (_server, events, addr) = serve_echo_streams(
        options().alpn_callback(|offer| offer.protocols.iter().find(|p| *p == "h2").cloned()),
    );
    let e = offer(addr, "localhost", &["http/1.1", "spdy/3"]).unwrap_err();
    assert!(e.contains("NoApplicationProtocol"), "client saw {e}");
    let error = next(&events).unwrap_err();
    assert_eq!(error.cause, Cause::AlpnMismatch);
    assert_eq!(error.alert_sent.as_deref(), Some("NoApplicationProtocol"));
    assert!(
        error.message.contains("callback") && error.message.contains("http/1.1, spdy/3"),
        "{}",
        error.message
    );
    // The server keeps serving.
    assert_eq!(
        offer(addr, "localhost", &["h2"]).unwrap().as_deref(),
        Some("h2")
    );
}

#[test]
fn a_callback_choosing_what_was_not_offered_is_explained() {
    let (_server, events, addr) =
        serve_echo_streams(options().alpn_callback(|_| Some("h3".into())));
    assert!(offer(addr, "localhost", &["h2"]).is_err());
    let error = next(&events).unwrap_err();
    assert_eq!(error.cause, Cause::AlpnMismatch);
    assert!(
        error.message.contains("\"h3\"") && error.message.contains("h2"),
        "{}",
        error.message
    );
}

#[test]
fn a_list_mismatch_names_both_lists() {
    let (_server, events, addr) = serve_echo_streams(options().alpn(&["h2"]));
    assert!(offer(addr, "localhost", &["http/1.1"]).is_err());
    let error = next(&events).unwrap_err();
    assert_eq!(error.cause, Cause::AlpnMismatch);
    assert!(
        error.message.contains("h2") && error.message.contains("http/1.1"),
        "{}",
        error.message
    );
}

#[test]
fn a_panicking_callback_refuses_that_client_only() {
    let (_server, events, addr) = serve_echo_streams(options().alpn_callback(|offer| {
        if offer.protocols.iter().any(|p| p == "boom") {
            panic!("callback bug");
        }
        offer.protocols.first().cloned()
    }));
    assert!(offer(addr, "localhost", &["boom"]).is_err());
    assert_eq!(next(&events).unwrap_err().cause, Cause::AlpnMismatch);
    assert_eq!(
        offer(addr, "localhost", &["h2"]).unwrap().as_deref(),
        Some("h2")
    );
}
