//! After many connections — good ones, failed handshakes, probes — the process has as many
//! threads and open descriptors as before them.
//!
//! Everything that counts threads and descriptors is in ONE test: tests of one file run on
//! parallel threads of one process and would disturb each other's counts.

mod support;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use support::*;
use tls_server::explain::Cause;
use tls_server::{Event, Events, ServerHandle};

/// One full connection: handshake, a 1-byte echo, close_notify both ways, `Close`.
fn one_connection(events: &Events, addr: SocketAddr, n: usize) {
    let mut client = connect(addr);
    let byte = [n as u8];
    client.write_all(&byte).unwrap();
    client.flush().unwrap();
    wait_for(events, "data", |e| match e {
        Event::Data { socket, data } => {
            assert_eq!(&data[..], &byte);
            assert!(socket.write(data));
            Some(())
        }
        _ => None,
    });
    let mut back = [0u8; 1];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, byte, "connection {n}");
    client.conn.send_close_notify();
    client.flush().unwrap();
    // wait_for drops the End event, which ends the server's side.
    let clean = wait_for(events, "end", |e| match e {
        Event::End { clean, .. } => Some(*clean),
        _ => None,
    });
    assert!(clean, "connection {n}: close_notify makes a clean end");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("server's close_notify");
    assert!(rest.is_empty());
    drop(client);
    let had_error = wait_for(events, "close", |e| match e {
        Event::Close { had_error, .. } => Some(*had_error),
        _ => None,
    });
    assert!(!had_error, "connection {n} closed with an error");
}

/// Plain HTTP instead of a ClientHello.
fn http_client(events: &Events, addr: SocketAddr) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // The server answers with an alert (or nothing) and closes; a reset is fine too.
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    drop(tcp);
    let cause = wait_for(events, "tlsClientError (HTTP)", |e| match e {
        Event::TlsClientError(e) => Some(e.cause),
        _ => None,
    });
    assert_eq!(cause, Cause::NotTls);
}

/// Connect and close without a byte.
fn probe(events: &Events, addr: SocketAddr) {
    drop(TcpStream::connect(addr).unwrap());
    let cause = wait_for(events, "tlsClientError (probe)", |e| match e {
        Event::TlsClientError(e) => Some(e.cause),
        _ => None,
    });
    assert_eq!(cause, Cause::Probe);
}

/// Waits until the counts are back at `baseline`, printing them while they differ.
fn back_to_baseline(what: &str, baseline: (usize, usize)) {
    let last = Cell::new(baseline);
    eventually(
        &format!("{what}: (threads, fds) back to {baseline:?}"),
        || {
            let now = threads_and_fds();
            if now != last.get() {
                eprintln!("{what}: (threads, fds) = {now:?}, baseline {baseline:?}");
                last.set(now);
            }
            now == baseline
        },
    );
}

/// Waits until no connection is open, as the pool sees it (its thread is idle again).
fn pool_idle(handle: &ServerHandle) {
    eventually("no open connection", || handle.connections() == 0);
}

#[test]
fn threads_and_descriptors_return_to_baseline() {
    const CONNECTIONS: usize = 1000;
    const FAILED: usize = 50;
    let (server, events, addr) = start(options());
    let handle = server.handle();

    // Warm-up: the pool starts its thread and keeps it.
    one_connection(&events, addr, 0);
    pool_idle(&handle);
    let baseline = threads_and_fds();
    eprintln!("baseline after one warm-up connection: (threads, fds) = {baseline:?}");

    let started = Instant::now();
    for n in 1..=CONNECTIONS {
        one_connection(&events, addr, n);
        // Sequential: the next connection starts once this one's thread is idle again.
        // (`Close` is sent just before the thread is marked idle; a connection accepted
        // in between makes the pool start a second thread, which it then keeps.)
        pool_idle(&handle);
    }
    eprintln!(
        "{CONNECTIONS} sequential connections in {:.2?}",
        started.elapsed()
    );
    back_to_baseline("after 1000 connections", baseline);

    let started = Instant::now();
    for _ in 0..FAILED {
        http_client(&events, addr);
        pool_idle(&handle);
        probe(&events, addr);
        pool_idle(&handle);
    }
    eprintln!(
        "{FAILED} failed handshakes and {FAILED} probes in {:.2?}",
        started.elapsed()
    );
    back_to_baseline("after failed handshakes and probes", baseline);

    // And the server still works.
    one_connection(&events, addr, 1);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}
