//! Session resumption is on by default (tickets and the session cache): a client that
//! connects again resumes, and the socket says so.

mod support;

use std::io::Read;

use support::*;
use tls_server::{rustls, Event, Events};

/// Connects with `config`, reads the server's tickets, closes cleanly; returns `resumed`
/// from the server's view and from the client's.
fn visit(
    events: &Events,
    addr: std::net::SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> (bool, bool) {
    let mut client = connect_with(addr, config);
    let server_says = wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.resumed()),
        _ => None,
    });
    // Echo a byte so the tickets the server sent after its handshake have been read.
    let back = std::thread::scope(|scope| {
        let echo = scope.spawn(|| {
            wait_for(events, "data", |e| match e {
                Event::Data { socket, data } => {
                    socket.write(data);
                    Some(())
                }
                _ => None,
            })
        });
        let back = echo_roundtrip(&mut client, b"x");
        echo.join().unwrap();
        back
    });
    assert_eq!(back, b"x");
    let client_says = client.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    client.conn.send_close_notify();
    let _ = std::io::Write::flush(&mut client);
    // Dropping the End event is what makes the server end its side.
    wait_for(events, "end", |e| {
        matches!(e, Event::End { .. }).then_some(())
    });
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    wait_for(events, "close", |e| {
        matches!(e, Event::Close { .. }).then_some(())
    });
    (server_says, client_says)
}

#[test]
fn a_second_connection_resumes_with_tls13_and_tls12() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (_server, events, addr) = start(options());
        let config = client_config_with(versions);
        assert_eq!(
            visit(&events, addr, config.clone()),
            (false, false),
            "{versions:?}: first is full"
        );
        assert_eq!(
            visit(&events, addr, config),
            (true, true),
            "{versions:?}: second resumes"
        );
    }
}

#[test]
fn resumption_can_be_turned_off() {
    let (_server, events, addr) = start(options().session_tickets(false).session_cache_size(0));
    let config = client_config();
    visit(&events, addr, config.clone());
    assert_eq!(visit(&events, addr, config), (false, false));
}

#[test]
fn tickets_alone_resume_without_a_server_side_cache() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (_server, events, addr) = start(options().session_cache_size(0));
        let config = client_config_with(versions);
        visit(&events, addr, config.clone());
        assert_eq!(visit(&events, addr, config), (true, true), "{versions:?}");
    }
}
