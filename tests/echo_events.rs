//! The event style end to end: every event of one connection's life, in order.

mod support;

use std::io::{Read, Write};

use support::*;
use tls_server::Event;

#[test]
fn one_connection_produces_its_events_in_order() {
    let (server, events, addr) = start(options());
    let mut client = connect(addr);

    let id = wait_for(&events, "connection", |e| match e {
        Event::Connection {
            id,
            peer,
            local,
            proxied_by: None,
        } => {
            assert_eq!(*local, addr);
            assert_eq!(*peer, client.sock.local_addr().unwrap());
            Some(*id)
        }
        _ => None,
    });
    let socket = wait_for(&events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.clone()),
        _ => None,
    });
    assert_eq!(socket.id(), id);
    assert_eq!(socket.protocol(), "TLSv1.3");
    assert!(socket.cipher().starts_with("TLS_"), "{}", socket.cipher());
    // OpenSSL calls TLS 1.3 suites by their IANA names.
    assert_eq!(socket.cipher_openssl(), socket.cipher());
    assert!(socket.group().is_some());
    assert_eq!(socket.server_name(), Some("localhost"));
    assert!(!socket.resumed());

    client.write_all(b"hello").unwrap();
    client.flush().unwrap();
    let data = wait_for(&events, "data", |e| match e {
        Event::Data { socket, data } => {
            assert!(socket.write(data));
            Some(data.to_vec())
        }
        _ => None,
    });
    assert_eq!(data, b"hello");
    let mut back = [0u8; 5];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");

    client.conn.send_close_notify();
    client.flush().unwrap();
    let clean = wait_for(&events, "end", |e| match e {
        Event::End { clean, .. } => Some(*clean),
        _ => None,
    });
    assert!(clean, "close_notify makes a clean end");
    // The End event was dropped above, so the server ends its side: the client sees
    // close_notify (read returns 0), not a reset.
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("clean close from the server");
    assert!(rest.is_empty());
    let had_error = wait_for(&events, "close", |e| match e {
        Event::Close { socket, had_error } => {
            assert_eq!(socket.id(), id);
            Some(*had_error)
        }
        _ => None,
    });
    assert!(!had_error);
    assert!(!socket.is_open());
    assert!(!socket.write(b"late"), "writes after close are refused");

    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

#[test]
fn finished_data_and_close_notify_in_one_segment_give_data_then_a_clean_end() {
    use tls_server::rustls;
    let (_server, events, addr) = start(options());
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut c =
        rustls::ClientConnection::new(client_config(), "localhost".try_into().unwrap()).unwrap();
    while c.is_handshaking() {
        while c.wants_write() {
            c.write_tls(&mut tcp).unwrap();
        }
        if c.is_handshaking() {
            c.read_tls(&mut tcp).unwrap();
            c.process_new_packets().unwrap();
        }
    }
    // The client's Finished is still queued: add a request and close_notify, send all at once.
    c.writer().write_all(b"one request").unwrap();
    c.send_close_notify();
    let mut segment = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut segment).unwrap();
    }
    tcp.write_all(&segment).unwrap();
    let data = wait_for(&events, "data", |e| match e {
        Event::Data { data, .. } => Some(data.to_vec()),
        _ => None,
    });
    assert_eq!(data, b"one request");
    let clean = wait_for(&events, "end", |e| match e {
        Event::End { clean, .. } => Some(*clean),
        _ => None,
    });
    assert!(
        clean,
        "the close_notify that came with Finished must be seen"
    );
}

/// A client that sends close_notify and closes its socket at once, without reading what
/// the server still had for it (session tickets, our close_notify) — as `openssl s_client`
/// does — ends normally: no `Error`, `Close` without `had_error`.
#[test]
fn a_client_that_closes_right_after_close_notify_is_not_an_error() {
    let (_server, events, addr) = start(options());
    let mut client = connect(addr);
    let me = client.sock.local_addr().unwrap();
    client.conn.send_close_notify();
    std::io::Write::flush(&mut client).unwrap();
    // Unread tickets in our receive buffer: closing now sends a reset.
    drop(client);
    let id = wait_for(&events, "secureConnection", |e| match e {
        Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
        _ => None,
    });
    // Each event is dropped as soon as it is seen: dropping `End` ends our side.
    let had_error = wait_for(&events, "close", |e| match e {
        Event::Error { socket, error } if socket.id() == id => {
            panic!("unexpected error: {error}")
        }
        Event::Close { socket, had_error } if socket.id() == id => Some(*had_error),
        _ => None,
    });
    assert!(!had_error);
}

/// `bytes_read`/`bytes_written` count application bytes in both styles, are still there in
/// `Close` (after the connection is gone), and add up in a `Summary`.
#[test]
fn byte_counts_reach_close_and_the_summary() {
    use tls_server::Summary;
    let chunk = pattern(10_000, 7);
    let (events_server, events, addr) = start(options());
    let (streams_server, stream_events, stream_addr) = serve_echo_streams(options());
    for (events, addr, by_events) in [(&events, addr, true), (&stream_events, stream_addr, false)] {
        let mut summary = Summary::new();
        let mut client = connect(addr);
        let me = client.sock.local_addr().unwrap();
        let id = wait_for(events, "secureConnection", |e| {
            summary.record(e);
            match e {
                Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
                _ => None,
            }
        });
        for _ in 0..4 {
            if by_events {
                // This test is the echo handler (the Data events are not summed).
                echo(events, &mut client, id, &chunk);
            } else {
                assert_eq!(echo_roundtrip(&mut client, &chunk), chunk);
            }
        }
        drop(client);
        let (read, written) = wait_for(events, "close", |e| {
            summary.record(e);
            match e {
                Event::Close { socket, .. } => Some((socket.bytes_read(), socket.bytes_written())),
                _ => None,
            }
        });
        assert_eq!(
            (read, written),
            (40_000, 40_000),
            "events style: {by_events}"
        );
        assert_eq!(summary.secure, 1);
        assert_eq!(
            (summary.bytes_read, summary.bytes_written),
            (40_000, 40_000)
        );
        assert!(
            summary
                .to_string()
                .contains("1 secure (0 resumed), 0 failed, 0 refused, 0 evicted, 0 errors, 40000 bytes in, 40000 bytes out"),
            "{summary}"
        );
    }
    drop((events_server, streams_server));
}
