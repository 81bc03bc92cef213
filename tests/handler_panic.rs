//! A panicking handler costs only its own connection: `on_error` (or an `Error` event),
//! then `Close` with `had_error`, while other connections and the server go on.

mod support;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;
use tls_server::{Event, Handlers, Server, TlsStream};

/// What the handlers saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Secure(u64, SocketAddr),
    Error(u64, String),
    Close(u64, bool),
    Closed,
}

fn contains_boom(data: &[u8]) -> bool {
    data.windows(4).any(|w| w == b"boom")
}

/// Waits for the first observation `pick` accepts; everything seen is kept in `log`.
fn wait_seen<T>(
    rx: &mpsc::Receiver<Seen>,
    log: &mut Vec<Seen>,
    what: &str,
    mut pick: impl FnMut(&Seen) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(seen) => {
                let found = pick(&seen);
                log.push(seen);
                if let Some(found) = found {
                    return found;
                }
            }
            Err(e) => panic!("waiting for {what}: {e}; saw {log:?}"),
        }
    }
}

/// The id of the secure connection from `client`.
fn secure_id(rx: &mpsc::Receiver<Seen>, log: &mut Vec<Seen>, client: &Client) -> u64 {
    let me = client.sock.local_addr().unwrap();
    wait_seen(rx, log, "secureConnection", |s| match s {
        Seen::Secure(id, peer) if *peer == me => Some(*id),
        _ => None,
    })
}

/// The client sees its connection end (EOF, or an error that is not a timeout).
fn assert_closed_by_server(client: &mut Client) {
    client
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    match client.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {:?} after the panic", &buf[..n]),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "the connection stayed open after its handler panicked"
        ),
    }
}

#[test]
fn a_panicking_handler_costs_only_its_connection() {
    let server = Server::bind(options()).expect("server starts");
    let handle = server.handle();
    let addr = server.local_addr();
    let (tx, rx) = mpsc::channel::<Seen>();
    let runner = std::thread::spawn(move || {
        let (t1, t2, t3, t4) = (tx.clone(), tx.clone(), tx.clone(), tx);
        server.run(
            Handlers::new()
                .on_secure_connection(move |s| {
                    let _ = t1.send(Seen::Secure(s.id(), s.remote_addr()));
                })
                .on_data(|s, data| {
                    if contains_boom(data) {
                        panic!("boom in on_data");
                    }
                    s.write(data);
                })
                .on_error(move |s, e| {
                    assert_eq!(e.cause, tls_server::explain::Cause::HandlerPanic, "{e}");
                    let _ = t2.send(Seen::Error(s.id(), e.to_string()));
                })
                .on_close(move |s, had_error| {
                    let _ = t3.send(Seen::Close(s.id(), had_error));
                })
                .on_closed(move || {
                    let _ = t4.send(Seen::Closed);
                }),
        );
    });
    let mut log = Vec::new();

    let mut victim = connect(addr);
    let victim_id = secure_id(&rx, &mut log, &victim);
    let mut bystander = connect(addr);
    let bystander_id = secure_id(&rx, &mut log, &bystander);
    assert_eq!(echo_roundtrip(&mut victim, b"hello"), b"hello");
    assert_eq!(echo_roundtrip(&mut bystander, b"before"), b"before");

    victim.write_all(b"boom").unwrap();
    victim.flush().unwrap();
    let error = wait_seen(&rx, &mut log, "on_error for the victim", |s| match s {
        Seen::Error(id, e) if *id == victim_id => Some(e.clone()),
        Seen::Close(id, _) if *id == victim_id => panic!("on_close before on_error"),
        _ => None,
    });
    assert!(error.contains("panicked"), "{error}");
    assert!(error.contains("boom"), "{error}");
    let had_error = wait_seen(&rx, &mut log, "on_close for the victim", |s| match s {
        Seen::Close(id, had_error) if *id == victim_id => Some(*had_error),
        Seen::Error(id, e) if *id == victim_id => panic!("a second on_error: {e}"),
        _ => None,
    });
    assert!(had_error, "on_close after a panic must say had_error");
    assert_closed_by_server(&mut victim);

    // The other connection, open the whole time, still echoes.
    assert_eq!(echo_roundtrip(&mut bystander, b"after"), b"after");
    // And the run loop still serves new connections.
    let mut late = connect(addr);
    let late_id = secure_id(&rx, &mut log, &late);
    assert_eq!(echo_roundtrip(&mut late, b"late"), b"late");

    // Close the clients, then the server; `run` returns after on_closed.
    drop(bystander);
    drop(late);
    let mut open = vec![bystander_id, late_id];
    while !open.is_empty() {
        let (id, had_error) = wait_seen(&rx, &mut log, "on_close", |s| match s {
            Seen::Close(i, had_error) if open.contains(i) => Some((*i, *had_error)),
            _ => None,
        });
        assert!(!had_error, "#{id} had no error");
        open.retain(|&i| i != id);
    }
    handle.shutdown();
    wait_seen(&rx, &mut log, "on_closed", |s| {
        (*s == Seen::Closed).then_some(())
    });
    runner.join().expect("the run loop did not panic");
    assert_eq!(
        log.iter().filter(|s| matches!(s, Seen::Error(..))).count(),
        1,
        "only the victim had an error: {log:?}"
    );
}

#[test]
fn a_panicking_stream_handler_costs_only_its_connection() {
    let server = Server::bind_streams(options(), |mut stream: TlsStream| {
        let mut buf = [0u8; 1024];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if contains_boom(&buf[..n]) {
                panic!("boom in a stream handler");
            }
            if stream
                .write_all(&buf[..n])
                .and_then(|_| stream.flush())
                .is_err()
            {
                return;
            }
        }
    })
    .expect("server starts");
    let events = server.events();
    let addr = server.local_addr();

    let secure = |client: &Client| {
        let me = client.sock.local_addr().unwrap();
        wait_for(&events, "secureConnection", |e| match e {
            Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
            _ => None,
        })
    };

    let mut victim = connect(addr);
    let victim_id = secure(&victim);
    assert_eq!(echo_roundtrip(&mut victim, b"hello"), b"hello");
    victim.write_all(b"boom").unwrap();
    victim.flush().unwrap();

    let seen = collect_until(
        &events,
        "close of the victim",
        |e| matches!(e, Event::Close { socket, .. } if socket.id() == victim_id),
    );
    let errors: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Error { socket, error } if socket.id() == victim_id => {
                assert_eq!(error.cause.name(), "handler-panic", "{error}");
                Some(error.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "one Error event before Close: {errors:?}");
    assert!(errors[0].contains("panicked"), "{}", errors[0]);
    assert!(errors[0].contains("boom"), "{}", errors[0]);
    match seen.last() {
        Some(Event::Close { had_error, .. }) => assert!(*had_error, "Close must say had_error"),
        _ => unreachable!(),
    }
    assert_closed_by_server(&mut victim);

    let mut next = connect(addr);
    let next_id = secure(&next);
    assert_ne!(next_id, victim_id);
    assert_eq!(echo_roundtrip(&mut next, b"next"), b"next");

    drop(next);
    let had_error = wait_for(&events, "close of the next connection", |e| match e {
        Event::Close { socket, had_error } if socket.id() == next_id => Some(*had_error),
        _ => None,
    });
    assert!(!had_error);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}
