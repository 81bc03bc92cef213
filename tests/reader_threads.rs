//! In the events style a secure connection is read on a thread that never runs a
//! handshake (`tls-server-rN`), so an idle connection holds only the stack pages reading
//! touches, not the handshake's depth (bench/README.md, `idle-*`: KiB per connection).
//!
//! One test in this file: it counts the process's threads by name, which other tests of
//! the same process would disturb.

mod support;

use std::collections::HashSet;

use support::*;
use tls_server::Event;

/// The names of this process's threads that start with `prefix`, by thread id.
fn threads_named(prefix: &str) -> HashSet<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim_end().starts_with(prefix))
        })
        .map(|task| task.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn open_connections_are_read_on_threads_that_never_handshake() {
    let (_server, events, addr) = start(options());
    let mut clients = Vec::new();
    for n in 0..4u8 {
        let mut client = connect(addr);
        let id = wait_for(&events, "secureConnection", |e| match e {
            Event::SecureConnection(s) => Some(s.id()),
            _ => None,
        });
        echo(&events, &mut client, id, &[n]);
        clients.push(client);
    }
    // Four connections open and idle: each has its own reader, and none of the threads
    // that ran their handshakes is one of them.
    let readers = threads_named("tls-server-r");
    let handshakers = threads_named("tls-server-c");
    assert_eq!(readers.len(), 4, "one reader thread per open connection");
    assert!(
        !handshakers.is_empty(),
        "handshakes ran on tls-server-cN threads"
    );
    drop(clients);
}
