//! `max_connections` with `WhenFull::Refuse`: connections over the cap are refused at once
//! (an `Event::Refused`, and the client's handshake fails instead of hanging); a closed
//! connection frees its slot. The other limits are in tests/limits.rs.

mod support;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::*;
use tls_server::event::Limit;
use tls_server::rustls::pki_types::ServerName;
use tls_server::rustls::{self, ClientConnection};
use tls_server::{Event, Events, WhenFull};

/// Sends close_notify and waits for the server's `Close` of the connection; waiting drops
/// the `End` event, which makes the server end its side too.
fn close_and_wait(events: &Events, client: &mut Client, id: u64) {
    client.conn.send_close_notify();
    client.flush().unwrap();
    let had_error = wait_for(events, "close", |e| match e {
        Event::Close { socket, had_error } if socket.id() == id => Some(*had_error),
        _ => None,
    });
    assert!(!had_error, "#{id} closed with an error");
}

/// Reads the server's close_notify until EOF before dropping the client, so that no unread
/// byte turns our close into a reset.
fn drain(mut client: Client) {
    let mut rest = Vec::new();
    io::Read::read_to_end(&mut client, &mut rest).expect("the server's close_notify");
    assert!(rest.is_empty());
}

/// Closes a client cleanly and waits for the server's `Close`.
fn close(events: &Events, mut client: Client, id: u64) {
    close_and_wait(events, &mut client, id);
    drain(client);
}

/// Connects and tries a TLS handshake; returns the client's local address and the client,
/// or the client's error, which must come at once (a closed connection, not a hang).
fn handshake(addr: SocketAddr) -> (SocketAddr, Result<Client, io::Error>) {
    let tcp = TcpStream::connect(addr).expect("the TCP connect itself succeeds");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = tcp.local_addr().unwrap();
    let conn =
        ClientConnection::new(client_config(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        if let Err(e) = client.conn.complete_io(&mut client.sock) {
            assert!(
                !matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ),
                "the client hung instead of seeing the connection closed: {e}"
            );
            return (me, Err(e));
        }
    }
    (me, Ok(client))
}

#[test]
fn connections_over_the_cap_are_refused_until_one_closes() {
    let (server, events, addr) = start(
        options()
            .max_connections(2)
            .max_connections_per_address(3)
            .when_full(WhenFull::Refuse),
    );
    let (mut a, a_id) = connect_secure(&events, addr);
    let (mut b, b_id) = connect_secure(&events, addr);
    echo(&events, &mut a, a_id, b"a");
    echo(&events, &mut b, b_id, b"b");

    let (third, client_error) = match handshake(addr) {
        (_, Ok(_)) => panic!("a client over the connection cap completed its handshake"),
        (me, Err(e)) => (me, e),
    };
    println!("third client: {client_error}");
    let seen = collect_until(&events, "refused", |e| matches!(e, Event::Refused { .. }));
    for e in &seen {
        if let Event::Connection { peer, id, .. } = e {
            assert_ne!(*peer, third, "the refused client got connection #{id}");
        }
    }
    match seen.last() {
        Some(Event::Refused {
            peer,
            limit,
            reason,
        }) => {
            println!("refused: {reason}");
            assert_eq!(*peer, third);
            assert_eq!(*limit, Limit::MaxConnections);
            assert!(reason.contains("maximum"), "{reason}");
            assert!(
                reason.contains("ServerOptions::max_connections 2"),
                "{reason}"
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(server.handle().connections(), 2);

    // The two held connections were not disturbed.
    echo(&events, &mut a, a_id, b"still a");
    echo(&events, &mut b, b_id, b"still b");

    // One closes: its slot is free again. (Waiting for the count to drop, too, keeps this
    // test about the cap; `a_slot_is_free_as_soon_as_close_is_seen` checks that `Close`
    // alone is enough.)
    close(&events, a, a_id);
    let handle = server.handle();
    eventually("the closed connection's slot to be freed", || {
        handle.connections() == 1
    });
    let (mut c, c_id) = connect_secure(&events, addr);
    echo(&events, &mut c, c_id, b"c got in");
    echo(&events, &mut b, b_id, b"b");

    close(&events, b, b_id);
    close(&events, c, c_id);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

/// `Close` is "the connection is closed and its thread is free again": a client that
/// connects as soon as `Close` was seen must not be refused. Repeated, because the window
/// between the event and the slot being freed is short.
#[test]
fn a_slot_is_free_as_soon_as_close_is_seen() {
    let (server, events, addr) = start(options().max_connections(1));
    let (mut client, mut id) = connect_secure(&events, addr);
    for round in 0..1000 {
        echo(&events, &mut client, id, b"x");
        close_and_wait(&events, &mut client, id);
        // No wait of any kind here: Close has been seen.
        let (me, next) = handshake(addr);
        drain(client);
        id = wait_for(&events, "secureConnection", |e| match e {
            Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
            Event::Refused { peer, reason, .. } if *peer == me => {
                panic!(
                    "round {round}: refused right after the previous connection's Close: {reason}"
                )
            }
            _ => None,
        });
        client = next.expect("handshake after Close");
    }
    close(&events, client, id);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

/// The same promise, seen through the count: once `Close` of the only connection has been
/// received, `connections()` no longer counts it.
#[test]
fn the_count_drops_as_soon_as_close_is_seen() {
    let (server, events, addr) = start(options().max_connections(1));
    let handle = server.handle();
    for round in 0..1000 {
        let (mut client, id) = connect_secure(&events, addr);
        echo(&events, &mut client, id, b"x");
        close_and_wait(&events, &mut client, id);
        let open = handle.connections();
        assert_eq!(
            open, 0,
            "round {round}: Close of #{id} was received, but connections() still says {open}"
        );
        drain(client);
    }
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}
