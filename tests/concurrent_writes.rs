//! Several threads writing to one connection at once, while its reader answers the
//! client's key updates: a write sends without holding the connection's lock when nobody
//! else is sending, and the others queue behind it. Every record must still leave whole
//! and in the order it was encrypted — a record out of order is a decryption failure on
//! the client (its sequence number is part of the nonce) — and each thread's bytes arrive
//! in the order it wrote them.

mod support;

use std::io::{Read, Write};
use std::thread;

use support::*;
use tls_server::Event;

const THREADS: usize = 4;
const WRITES: usize = 2_000;

/// Thread `t`'s message number `n`: `t:n` and a newline, padded by `n` so sizes vary.
fn message(t: usize, n: usize) -> Vec<u8> {
    let mut m = format!("{t}:{n}:").into_bytes();
    m.extend(std::iter::repeat_n(b'.', n % 97));
    m.push(b'\n');
    m
}

#[test]
fn writes_from_several_threads_arrive_whole_and_in_each_threads_order() {
    let (server, events, addr) = start(options());
    let mut client = connect(addr);
    let socket = wait_for(&events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.clone()),
        _ => None,
    });

    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let socket = socket.clone();
            thread::spawn(move || {
                for n in 0..WRITES {
                    // false only says "past the high-water mark"; the bytes are queued.
                    let _ = socket.write(&message(t, n));
                }
            })
        })
        .collect();

    // Meanwhile the client asks for new keys now and then: the server's reader answers
    // each with its own KeyUpdate, queued among the writers' records.
    let mut next = [0usize; THREADS];
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut key_updates = 0;
    while next.iter().any(|&n| n < WRITES) {
        if key_updates < 20 && next.iter().sum::<usize>() > key_updates * 300 {
            client.conn.refresh_traffic_keys().expect("key update");
            client.flush().unwrap();
            key_updates += 1;
        }
        let n = client
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("after {next:?}: {e}"));
        assert!(n > 0, "the server closed after {next:?}");
        for &b in &buf[..n] {
            line.push(b);
            if b != b'\n' {
                continue;
            }
            let text = String::from_utf8(std::mem::take(&mut line)).unwrap();
            let mut parts = text.splitn(3, ':');
            let t: usize = parts.next().unwrap().parse().unwrap();
            let got: usize = parts.next().unwrap().parse().unwrap();
            assert_eq!(got, next[t], "thread {t}'s messages out of order");
            assert_eq!(
                text.as_bytes(),
                &message(t, got)[..],
                "a message cut or mixed"
            );
            next[t] += 1;
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(key_updates > 10, "only {key_updates} key updates went out");
    while let Ok(e) = events.try_recv() {
        assert!(
            !matches!(e, Event::Error { .. }),
            "the server reported {e:?}"
        );
    }
    drop(client);
    server.shutdown();
}
