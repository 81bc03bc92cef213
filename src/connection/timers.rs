//! One thread per server that acts on connections whose time is up — the linger after we
//! ended one, the idle timeout — so no connection thread ever has to poll.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::Conn;

struct Entry {
    at: Instant,
    seq: u64,
    what: What,
    conn: Weak<Conn>,
}

#[derive(Clone, Copy)]
enum What {
    /// Close it.
    Destroy,
    /// See whether it has been idle too long (and look again later if not).
    IdleCheck,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Schedules work on a connection at a deadline. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Timers {
    tx: Sender<Msg>,
}

enum Msg {
    At(Instant, What, Weak<Conn>),
    Stop,
}

impl Timers {
    /// Starts the timer thread; it ends on [`stop`](Self::stop).
    pub(crate) fn start() -> std::io::Result<(Timers, JoinHandle<()>)> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let handle = std::thread::Builder::new()
            .name("tls-server-timer".into())
            .stack_size(64 * 1024)
            .spawn(move || run(rx))?;
        Ok((Timers { tx }, handle))
    }

    /// Destroys `conn` at `at` unless it has closed by then.
    pub(crate) fn destroy_at(&self, at: Instant, conn: Weak<Conn>) {
        let _ = self.tx.send(Msg::At(at, What::Destroy, conn));
    }

    /// Checks at `at` whether `conn` has been idle for its idle timeout.
    pub(crate) fn check_idle_at(&self, at: Instant, conn: Weak<Conn>) {
        let _ = self.tx.send(Msg::At(at, What::IdleCheck, conn));
    }

    /// Ends the timer thread; pending deadlines are dropped.
    pub(crate) fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

fn run(rx: Receiver<Msg>) {
    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            let Reverse(e) = heap.pop().expect("peeked entry exists");
            let Some(conn) = e.conn.upgrade() else {
                continue;
            };
            match e.what {
                What::Destroy => conn.linger_expired(),
                What::IdleCheck => {
                    if let Some(again) = conn.idle_check() {
                        seq += 1;
                        heap.push(Reverse(Entry {
                            at: again,
                            seq,
                            what: What::IdleCheck,
                            conn: e.conn,
                        }));
                    }
                }
            }
        }
        let next = match heap.peek() {
            Some(Reverse(e)) => rx.recv_timeout(e.at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok(Msg::At(at, what, conn)) => {
                seq += 1;
                heap.push(Reverse(Entry {
                    at,
                    seq,
                    what,
                    conn,
                }));
            }
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
