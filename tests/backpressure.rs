//! Flow control in both directions: `write()` returning `false` past the high-water mark
//! without ever blocking, `Drain`; the read limit on unconsumed `Data`; `pause()`/`resume()`.

mod support;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tls_server::events::RecvError;
use tls_server::{Event, TlsSocket};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// The most one `read` of an open connection can decrypt: its 64 KiB buffer of ciphertext
/// (`DATA_BUF` in src/connection.rs), plus the rest of a record begun in the read before.
const ONE_READ: usize = 64 * KIB + 16 * KIB + 512;
/// How long "nothing more arrives" is watched for.
const QUIET: Duration = Duration::from_millis(500);

fn secure_socket(events: &tls_server::Events) -> TlsSocket {
    wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.clone()),
        _ => None,
    })
}

/// Client close_notify → server End (dropped: the server ends too) → Close, then shutdown.
fn close_and_shutdown(
    server: tls_server::Server,
    events: &tls_server::Events,
    mut client: Client,
    id: u64,
) {
    client.conn.send_close_notify();
    client.flush().unwrap();
    // Dropping End (wait_for drops what it skips and what it picks) ends our side too.
    let clean = wait_for(events, "end", |e| match e {
        Event::End { socket, clean, .. } if socket.id() == id => Some(*clean),
        _ => None,
    });
    assert!(clean);
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("server's close_notify");
    assert!(rest.is_empty(), "{} unexpected bytes", rest.len());
    let had_error = wait_for(events, "close", |e| match e {
        Event::Close { socket, had_error } if socket.id() == id => Some(*had_error),
        _ => None,
    });
    assert!(!had_error);
    server.shutdown();
    wait_for(events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

#[test]
fn write_returns_false_past_the_high_water_mark_without_blocking_then_drains() {
    const HWM: usize = 64 * KIB;
    const CHUNK: usize = 16 * KIB;
    // The kernel takes what fits in the socket buffers before anything stays with us: on
    // loopback the send buffer grows to tcp_wmem's maximum (4 MiB by default), so "1 MiB
    // more than the kernel takes" is written: until write() says false (at most 64 MiB),
    // then 1 MiB more.
    const MAX_BEFORE_FALSE: usize = 64 * MIB;
    const AFTER_FALSE: usize = MIB;
    let (server, events, addr) = start(options().high_water_mark(HWM));

    // The client reads nothing until told to (or, should the server's writes block and
    // never tell it, after a bound, so the test fails instead of hanging).
    let (go_tx, go_rx) = mpsc::channel::<usize>();
    let (client_tx, client_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut client = connect(addr);
        client_tx.send(()).unwrap();
        let Ok(expected) = go_rx.recv_timeout(Duration::from_secs(10)) else {
            // The server's write loop did not finish: read, to unblock it, so the test
            // fails on its timing assertion rather than hanging.
            let _ = client.read_to_end(&mut Vec::new());
            panic!("the server's writes did not return while the client read nothing");
        };
        let mut got = vec![0u8; expected];
        client
            .read_exact(&mut got)
            .expect("read everything the server wrote");
        (client, got)
    });
    client_rx.recv_timeout(WAIT).expect("client connected");
    let socket = secure_socket(&events);

    // The event loop (this thread) writes 16 KiB at a time, each chunk distinct.
    let chunk = |k: usize| pattern(CHUNK, 1000 + k as u64);
    let started = Instant::now();
    let mut written = 0;
    let mut first_false = None;
    let mut falses = 0;
    while written < MAX_BEFORE_FALSE && first_false.is_none_or(|at| written < at + AFTER_FALSE) {
        let below = socket.write(&chunk(written / CHUNK));
        written += CHUNK;
        if !below {
            falses += 1;
            first_false.get_or_insert(written);
        }
    }
    let write_time = started.elapsed();
    let buffered = socket.buffered();
    let first_false = first_false.expect("write() returns false once past the high-water mark");
    eprintln!(
        "write() first returned false after {} KiB (the kernel took the rest); {falses} of {} \
         writes returned false; {} KiB written in {write_time:.2?}; buffered {} KiB",
        first_false / KIB,
        written / CHUNK,
        written / KIB,
        buffered / KIB
    );
    assert!(
        write_time < Duration::from_secs(5),
        "writing to a client that reads nothing took {write_time:?}: write() blocked"
    );
    assert!(
        buffered >= MIB / 2,
        "most of the last MiB stays buffered with us: {buffered}"
    );
    // Nothing can have drained while the client reads nothing.
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::Drain(_)),
            "Drain before the client read"
        );
    }

    go_tx.send(written).unwrap();
    let drained = wait_for(&events, "drain", |e| match e {
        Event::Drain(s) => Some(s.id()),
        _ => None,
    });
    assert_eq!(drained, socket.id());
    assert_eq!(socket.buffered(), 0, "Drain means everything was sent");
    let (client, got) = reader.join().expect("client read");
    assert_eq!(got.len(), written);
    for (k, part) in got.chunks(CHUNK).enumerate() {
        assert!(part == chunk(k), "chunk {k} arrived different");
    }
    assert!(socket.write(b"more"), "below the high-water mark again");
    let mut client = client;
    let mut more = [0u8; 4];
    client.read_exact(&mut more).unwrap();
    assert_eq!(&more, b"more");
    close_and_shutdown(server, &events, client, socket.id());
}

#[test]
fn read_limit_bounds_unconsumed_data() {
    const LIMIT: usize = 64 * KIB;
    const TOTAL: usize = MIB;
    let (server, events, addr) = start(options().read_limit(LIMIT));
    let sent = pattern(TOTAL, 9);
    let to_send = sent.clone();
    let writer = thread::spawn(move || {
        let mut client = connect(addr);
        client.write_all(&to_send).expect("write 1 MiB");
        client.flush().expect("flush");
        client
    });
    let socket = secure_socket(&events);

    // Hold every Data event: the connection must stop reading near the limit.
    let mut held = Vec::new();
    let mut received = Vec::with_capacity(TOTAL);
    let deadline = Instant::now() + WAIT;
    loop {
        match events.recv_timeout(QUIET) {
            Ok(Event::Data { socket: s, data }) => {
                assert_eq!(s.id(), socket.id());
                received.extend_from_slice(&data);
                assert!(
                    received.len() <= LIMIT + ONE_READ,
                    "{} bytes of Data unconsumed, over the read limit {LIMIT} + one read",
                    received.len()
                );
                held.push(data);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            // Quiet: done once the limit is reached (it must be, the client sends more).
            Err(RecvError::Empty) if received.len() >= LIMIT => break,
            Err(RecvError::Empty) => {
                assert!(
                    Instant::now() < deadline,
                    "only {} bytes arrived",
                    received.len()
                )
            }
            Err(e) => panic!("{e}"),
        }
    }
    let while_held = received.len();
    assert!(while_held < TOTAL);

    // Let go: the rest arrives, and exactly the rest.
    drop(held);
    while received.len() < TOTAL {
        match events.recv_timeout(WAIT) {
            Ok(Event::Data { data, .. }) => received.extend_from_slice(&data),
            other => panic!("waiting for the rest of the data: {other:?}"),
        }
    }
    eprintln!(
        "read limit {} KiB: {while_held} bytes arrived while held",
        LIMIT / KIB
    );
    assert_eq!(received.len(), TOTAL);
    assert!(received == sent, "data arrives intact and in order");
    let client = writer.join().expect("the client's write completes");
    close_and_shutdown(server, &events, client, socket.id());
}

#[test]
fn pause_stops_data_until_resume() {
    const LEN: usize = 32 * KIB;
    let (server, events, addr) = start(options());
    let mut client = connect(addr);
    let socket = secure_socket(&events);

    // A first exchange, so the connection is in its steady state.
    client.write_all(b"ping").unwrap();
    client.flush().unwrap();
    let first = wait_for(&events, "data", |e| match e {
        Event::Data { data, .. } => Some(data.to_vec()),
        _ => None,
    });
    assert_eq!(first, b"ping");

    socket.pause();
    let sent = pattern(LEN, 5);
    client.write_all(&sent).unwrap();
    client.flush().unwrap();
    match events.recv_timeout(QUIET) {
        Err(RecvError::Empty) => {}
        Ok(Event::Data { data, .. }) => panic!(
            "{} bytes of Data arrived after pause() (of {LEN} sent)",
            data.len()
        ),
        other => panic!("unexpected {other:?}"),
    }

    socket.resume();
    let mut received = Vec::new();
    while received.len() < LEN {
        match events.recv_timeout(WAIT) {
            Ok(Event::Data { data, .. }) => received.extend_from_slice(&data),
            other => panic!("waiting for data after resume(): {other:?}"),
        }
    }
    assert!(
        received == sent,
        "the paused data arrives intact after resume()"
    );
    close_and_shutdown(server, &events, client, socket.id());
}
