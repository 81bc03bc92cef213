//! Graceful shutdown: close_notify to every open connection, `Close` for each, then
//! `Closed` as the last event; the grace period bounds it; dropping the `Server` does it.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;
use tls_server::events::RecvError;
use tls_server::{Event, Events};

/// Reads until the server closes. `Ok` only if it sent close_notify: rustls reports a TCP
/// close without it as `UnexpectedEof`.
fn read_until_close_notify(client: &mut Client) -> Vec<u8> {
    client
        .sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    client
        .read_to_end(&mut got)
        .expect("a clean close (close_notify) from the server");
    got
}

/// Answers the server's close_notify with ours, then closes TCP.
fn close_client(mut client: Client) {
    client.conn.send_close_notify();
    let _ = client.flush();
}

/// The events from now up to and including `Closed`, which must be the last one: the
/// receiver then says `Closed` at once, without blocking.
fn events_until_closed(events: &Events) -> Vec<Event> {
    let seen = collect_until(events, "closed", |e| matches!(e, Event::Closed));
    match events.recv_timeout(Duration::from_secs(2)) {
        Err(RecvError::Closed) => {}
        Err(RecvError::Empty) => {
            panic!("the event stream did not end after Closed: recv_timeout timed out")
        }
        Ok(e) => panic!("an event after Closed: {e:?}"),
    }
    assert_eq!(events.try_recv().unwrap_err(), RecvError::Closed);
    seen
}

/// `had_error` of the `Close` of connection `id` among `seen`.
fn close_of(seen: &[Event], id: u64) -> bool {
    let closes: Vec<bool> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Close { socket, had_error } if socket.id() == id => Some(*had_error),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes.len(),
        1,
        "one Close for #{id}: {:?}",
        seen.iter().map(|e| e.name()).collect::<Vec<_>>()
    );
    closes[0]
}

/// Nothing listens any more: the connect is refused, or the connection ends at once.
fn assert_not_listening(addr: SocketAddr) {
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(mut s) => {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 16];
            match s.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => panic!("a closed server sent {:?}", &buf[..n]),
                Err(e) => assert!(
                    !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ),
                    "a connection to a closed server stayed open"
                ),
            }
        }
    }
}

#[test]
fn shutdown_closes_every_connection_with_close_notify() {
    let (server, events, addr) = start(options());
    let (mut idle, idle_id) = connect_secure(&events, addr);
    let (mut busy, busy_id) = connect_secure(&events, addr);
    echo(&events, &mut idle, idle_id, b"idle from now on");
    echo(&events, &mut busy, busy_id, b"first");

    // Mid-conversation: a request arrives, we answer, and shut down at once.
    busy.write_all(b"request").unwrap();
    busy.flush().unwrap();
    let started = Instant::now();
    wait_for(&events, "the request", |e| match e {
        Event::Data { socket, data } if socket.id() == busy_id => {
            assert_eq!(&data[..], b"request");
            assert!(socket.write(b"reply"));
            server.shutdown();
            Some(())
        }
        _ => None,
    });

    // Both clients see everything written before the shutdown, then close_notify.
    assert_eq!(read_until_close_notify(&mut busy), b"reply");
    assert_eq!(read_until_close_notify(&mut idle), b"");
    close_client(busy);
    close_client(idle);

    let seen = events_until_closed(&events);
    let names: Vec<&str> = seen.iter().map(|e| e.name()).collect();
    assert!(!close_of(&seen, idle_id), "{names:?}");
    assert!(!close_of(&seen, busy_id), "{names:?}");
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Error { .. })),
        "{names:?}"
    );
    // Clients that answer at once do not make the shutdown wait for any timer.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_not_listening(addr);
    drop(server);
}

#[test]
fn a_client_ignoring_close_notify_does_not_outlive_the_grace_period() {
    let grace = Duration::from_millis(500);
    let (server, events, addr) = start(
        options()
            .grace_period(grace)
            // Only the grace period may end this connection, not the linger timer.
            .linger(Duration::from_secs(60)),
    );
    let (mut stubborn, id) = connect_secure(&events, addr);
    echo(&events, &mut stubborn, id, b"hello");

    let handle = server.handle();
    let started = Instant::now();
    handle.shutdown();
    // The client neither reads nor closes.
    let seen = events_until_closed(&events);
    let took = started.elapsed();
    println!("closed after {took:?}");
    assert!(
        took >= grace - Duration::from_millis(50),
        "the connection was cut before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    close_of(&seen, id);

    // `wait` returns now that the server has closed.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        server.wait();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("Server::wait returned after Closed");

    // The close_notify was sent before the connection was cut.
    assert_eq!(read_until_close_notify(&mut stubborn), b"");
    assert_not_listening(addr);
}

#[test]
fn dropping_the_server_shuts_it_down() {
    let (server, events, addr) = start(options());
    let (mut client, id) = connect_secure(&events, addr);
    echo(&events, &mut client, id, b"hello");
    // The client answers the server's close_notify on its own thread.
    let client_thread = std::thread::spawn(move || {
        let rest = read_until_close_notify(&mut client);
        close_client(client);
        rest
    });

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(server);
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("dropping the server returned");

    let seen = events_until_closed(&events);
    assert!(!close_of(&seen, id));
    assert_eq!(client_thread.join().unwrap(), b"");
    assert_not_listening(addr);
}

#[test]
fn the_event_stream_ends_after_closed_while_the_server_value_is_alive() {
    let (server, events, addr) = start(options());
    let other = server.events();
    let handle = server.handle();
    handle.shutdown();
    events_until_closed(&events);
    // Every receiver of the stream, and the iterator, end too.
    assert_eq!(
        other.recv_timeout(Duration::from_secs(2)).unwrap_err(),
        RecvError::Closed
    );
    assert_eq!(events.iter().count(), 0);
    assert_not_listening(addr);
    drop(server);
}
