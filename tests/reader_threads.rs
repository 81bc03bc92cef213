//! In the events style a secure connection is read on a thread that never runs a
//! handshake (`tls-server-rN`), so an idle connection holds only the stack pages reading
//! touches, not the handshake's depth (bench/README.md, `idle-*`: KiB per connection).
//!
//! On Linux these threads, and the handshake threads, run under `SCHED_BATCH`
//! (`ServerOptions::batch_scheduling`): a reader woken by a client does not preempt the
//! event loop it is about to hand a message to.
//!
//! One test in this file: it counts the process's threads by name, which other tests of
//! the same process would disturb.

mod support;

use std::collections::HashSet;

use support::*;
use tls_server::{Event, ServerOptions};

/// `SCHED_BATCH` in Linux's `sched.h`; 0 is the normal policy, `SCHED_OTHER`.
const SCHED_BATCH: u32 = 3;

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

/// The (nice, policy) of the thread whose `/proc/self/task/TID` is `task`.
fn scheduling(task: &str) -> (i64, u32) {
    nice_and_policy(&std::fs::read_to_string(format!("{task}/stat")).expect("stat"))
}

/// Opens four connections and checks that each is read on its own thread that never ran
/// a handshake; `expected` is each such thread's (nice, policy), checked while the
/// server runs. Threads in `old` (another server's) are not counted. Returns the ids of
/// the reader and handshake threads.
fn four_connections(
    options: ServerOptions,
    old: &HashSet<String>,
    expected: (i64, u32),
) -> HashSet<String> {
    let (_server, events, addr) = start(options);
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
    let readers: HashSet<_> = threads_named("tls-server-r")
        .difference(old)
        .cloned()
        .collect();
    let handshakers: HashSet<_> = threads_named("tls-server-c")
        .difference(old)
        .cloned()
        .collect();
    assert_eq!(readers.len(), 4, "one reader thread per open connection");
    assert!(
        !handshakers.is_empty(),
        "handshakes ran on tls-server-cN threads"
    );
    for tid in readers.union(&handshakers) {
        let found = scheduling(&format!("/proc/self/task/{tid}"));
        assert_eq!(found, expected, "thread {tid}: (nice, policy)");
    }
    drop(clients);
    readers.union(&handshakers).cloned().collect()
}

#[test]
fn open_connections_are_read_on_threads_that_never_handshake() {
    let ours = scheduling("/proc/thread-self");
    // A process started under `nice` or `chrt` keeps its policy (src/server/sched.rs),
    // and so does a build without the feature.
    let built = cfg!(all(target_os = "linux", feature = "batch-scheduling"));
    let batch = match ours {
        (0, 0) if built => (0, SCHED_BATCH),
        _ => ours,
    };
    let first = four_connections(options(), &HashSet::new(), batch);
    // Turned off, the connection threads keep the process's policy.
    four_connections(options().batch_scheduling(false), &first, ours);
}
