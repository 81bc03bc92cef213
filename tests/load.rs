//! 200 concurrent rustls clients each echo 1 MiB of their own pseudo-random data through
//! one event loop that uses back-pressure (`write() == false` → `pause()`, `Drain` →
//! `resume()`).

mod support;

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher};
use std::io::{Read, Write};
use std::time::Instant;

use support::*;
use tls_server::Event;

const CLIENTS: u64 = 200;
const PER_CLIENT: usize = 1 << 20;
const CHUNK: usize = 64 * 1024;

/// One client: 1 MiB in 64 KiB round trips (write a chunk, read back exactly that chunk),
/// hashing what it sent and what came back. Returns an error message instead of
/// panicking so the test can report every failure.
fn client(addr: std::net::SocketAddr, seed: u64) -> Result<(), String> {
    let mut client = connect(addr);
    let data = pattern(PER_CLIENT, seed);
    let (mut sent, mut received) = (DefaultHasher::new(), DefaultHasher::new());
    let mut back = vec![0u8; CHUNK];
    let mut total = 0;
    for part in data.chunks(CHUNK) {
        client
            .write_all(part)
            .and_then(|_| client.flush())
            .map_err(|e| format!("client {seed}: write after {total} bytes: {e}"))?;
        sent.write(part);
        let back = &mut back[..part.len()];
        client
            .read_exact(back)
            .map_err(|e| format!("client {seed}: read after {total} bytes: {e}"))?;
        received.write(back);
        total += part.len();
    }
    if total != PER_CLIENT || sent.finish() != received.finish() {
        return Err(format!(
            "client {seed}: the echo differs from what was sent"
        ));
    }
    client.conn.send_close_notify();
    client
        .flush()
        .map_err(|e| format!("client {seed}: close_notify: {e}"))?;
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .map_err(|e| format!("client {seed}: waiting for the server's close_notify: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("client {seed}: {} unexpected bytes", rest.len()));
    }
    Ok(())
}

#[test]
fn two_hundred_clients_echo_one_mib_each() {
    let started = Instant::now();
    // 200 client threads on a machine that may have two cores: one may wait seconds for
    // the CPU between its connect and its ClientHello. The deadlines are not under test
    // here (tests/limits.rs tests them), so they are generous.
    let (server, events, addr) =
        start(options().client_hello_timeout(WAIT).handshake_timeout(WAIT));

    let clients: Vec<_> = (0..CLIENTS)
        .map(|seed| {
            std::thread::Builder::new()
                .name(format!("client-{seed}"))
                .stack_size(256 * 1024)
                .spawn(move || client(addr, seed))
                .expect("spawn client thread")
        })
        .collect();

    // The event loop, here on the test thread, until every connection has closed. Each
    // wait is bounded by WAIT: a stalled echo fails the test instead of hanging it.
    let mut echoed = 0usize;
    let (mut pauses, mut drains) = (0usize, 0usize);
    let mut paused = HashSet::new();
    let mut secure = 0;
    let mut closes = 0;
    let mut errors = Vec::new();
    while closes < CLIENTS {
        match events.recv_timeout(WAIT) {
            Ok(Event::SecureConnection(_)) => secure += 1,
            Ok(Event::Data { socket, data }) => {
                echoed += data.len();
                if !socket.write(&data) {
                    socket.pause();
                    if paused.insert(socket.id()) {
                        pauses += 1;
                    }
                }
            }
            Ok(Event::Drain(socket)) => {
                drains += 1;
                paused.remove(&socket.id());
                socket.resume();
            }
            Ok(Event::Close { socket, had_error }) => {
                closes += 1;
                if had_error {
                    errors.push(format!("#{} closed with an error", socket.id()));
                }
            }
            Ok(Event::Error { socket, error }) => errors.push(format!("#{}: {error}", socket.id())),
            Ok(Event::TlsClientError(e)) => errors.push(e.to_string()),
            Ok(Event::Refused { reason, .. }) => errors.push(format!("refused: {reason}")),
            Ok(_) => {}
            Err(e) => {
                panic!("event loop: {e} after {closes} closes, {echoed} bytes echoed; {errors:?}")
            }
        }
    }
    let echo_time = started.elapsed();

    let failed: Vec<String> = clients
        .into_iter()
        .filter_map(|c| match c.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("a client panicked".into()),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} clients failed: {failed:?}",
        failed.len()
    );
    assert!(errors.is_empty(), "server-side errors: {errors:?}");
    assert_eq!(secure, CLIENTS);
    assert_eq!(echoed, CLIENTS as usize * PER_CLIENT);

    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
    drop(server);
    // Everything that could send an event is gone with the server.
    assert_eq!(
        events.try_recv().err(),
        Some(tls_server::events::RecvError::Closed)
    );
    eprintln!(
        "load: {CLIENTS} clients × {} KiB echoed in {:.2?} ({:.2?} with shutdown); \
         back-pressure: {pauses} pauses, {drains} drains",
        PER_CLIENT / 1024,
        echo_time,
        started.elapsed()
    );
}
