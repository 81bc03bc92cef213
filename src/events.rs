//! [`Events`]: the receiver you read a server's [`Event`]s from, and the sending half the
//! server's threads share.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::connection::{Conn, Notify};
use crate::event::Event;
use crate::explain::{Cause, ConnectionError};
use crate::setting::{Naming, Setting};
use crate::socket::TlsSocket;
use crate::util::json::Fields;

/// The sending half, shared by every thread of a server.
#[derive(Clone)]
pub(crate) struct EventSender {
    tx: Sender<Event>,
    wanted: Arc<AtomicBool>,
    /// How many `Events` receivers exist: each gets its own `Closed`.
    receivers: Arc<AtomicUsize>,
    /// The log lines a flood of clients may cause.
    budget: Arc<Mutex<Budget>>,
    /// How log lines name settings.
    naming: Naming,
}

impl EventSender {
    pub(crate) fn new(wanted: bool, naming: Naming) -> (EventSender, Events) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let wanted = Arc::new(AtomicBool::new(wanted));
        let receivers = Arc::new(AtomicUsize::new(1));
        (
            EventSender {
                tx,
                wanted: wanted.clone(),
                receivers: receivers.clone(),
                budget: Arc::new(Mutex::new(Budget::default())),
                naming,
            },
            Events {
                rx,
                wanted,
                done: Arc::new(AtomicBool::new(false)),
                receivers,
            },
        )
    }

    /// Sends, unless nobody listens; never blocks. `Closed` goes to every receiver, so
    /// that each clone blocked in `recv` wakes up.
    pub(crate) fn send(&self, event: Event) {
        self.log(&event);
        if self.wanted.load(Ordering::Relaxed) {
            if let Event::Closed = event {
                for _ in 1..self.receivers.load(Ordering::SeqCst) {
                    let _ = self.tx.send(Event::Closed);
                }
            }
            let _ = self.tx.send(event);
        }
    }

    /// Events sent and not yet received: how far behind the event loop is.
    pub(crate) fn queued(&self) -> usize {
        self.tx.len()
    }

    /// The event's log line, if it has one. Those any client can cause at will (refusals,
    /// evictions, failed handshakes) share a budget, so that a flood of clients cannot
    /// flood the log: beyond it they are counted, and the count is told with the next
    /// line. The events themselves are never dropped.
    fn log(&self, event: &Event) {
        let line = match event {
            Event::TlsClientError(e) if !e.is_quiet() => e.to_string(),
            Event::Refused { peer, reason, .. } => format!("refused {peer}: {reason}"),
            Event::Evicted {
                id, peer, reason, ..
            } => format!("#{id} {peer}: {reason}"),
            other => return log_event(other, self.naming),
        };
        if !log::log_enabled!(log::Level::Warn) {
            return;
        }
        let unlogged = {
            let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
            match budget.spend(Instant::now()) {
                Some(unlogged) => unlogged,
                None => return,
            }
        };
        let fields = Fields(|| event.to_json());
        match unlogged {
            0 => log::warn!(fields:% = fields; "{line}"),
            n => log::warn!(fields:% = fields;
                "{line} [{n} more refusals, evictions or failed handshakes before this one were not logged one by one: more than {} a second; each was still an event]",
                Budget::PER_SECOND
            ),
        }
    }
}

/// How many flood-prone lines may be logged: [`Budget::PER_SECOND`] in each second.
#[derive(Default)]
struct Budget {
    second: Option<Instant>,
    used: u32,
    unlogged: u64,
}

impl Budget {
    const PER_SECOND: u32 = 20;

    /// `Some(lines not logged since the last one)` if a line may be logged at `now`.
    fn spend(&mut self, now: Instant) -> Option<u64> {
        let new_second = match self.second {
            Some(start) => now.duration_since(start) >= Duration::from_secs(1),
            None => true,
        };
        if new_second {
            self.second = Some(now);
            self.used = 0;
        }
        if self.used >= Self::PER_SECOND {
            self.unlogged += 1;
            return None;
        }
        self.used += 1;
        Some(std::mem::take(&mut self.unlogged))
    }
}

fn log_event(event: &Event, naming: Naming) {
    let fields = Fields(|| event.to_json());
    match event {
        Event::TlsClientError(e) if e.is_quiet() => log::debug!(fields:% = fields; "{e}"),
        Event::Timeout { socket, idle } => log::info!(fields:% = fields;
            "#{} {}: nothing received or sent for {:.1} s, the idle timeout; closing with close_notify — raise {} if clients are quiet that long on purpose (0 keeps idle connections)",
            socket.id(),
            socket.remote_addr(),
            idle.as_secs_f64(),
            naming.of(Setting::IdleTimeout)
        ),
        Event::ServerError { error } => log::error!(fields:% = fields; "{error}"),
        Event::Reloaded(r) => log::info!(fields:% = fields; "{r}"),
        Event::ReloadFailed { error } => {
            log::error!(fields:% = fields; "reload refused, still serving the previous certificates: {error}")
        }
        // A panicking handler is the program's bug, not the peer's doing.
        Event::Error { socket, error } if error.cause == Cause::HandlerPanic => {
            log::error!(fields:% = fields; "#{} {}: {error}", socket.id(), socket.remote_addr())
        }
        Event::Error { socket, error } => {
            log::warn!(fields:% = fields; "#{} {}: {error}", socket.id(), socket.remote_addr())
        }
        _ => {}
    }
}

/// The stream of [`Event`]s: `recv`, `try_recv`, `recv_timeout`, or iterate. Ends after
/// [`Event::Closed`]. Cloning gives another receiver of the same stream: each event goes to
/// one of them, except `Closed`, which wakes a receiver blocked in `recv` even when another
/// one got it first.
pub struct Events {
    rx: Receiver<Event>,
    wanted: Arc<AtomicBool>,
    /// `Closed` has been received: every later call returns `Err(Closed)` at once.
    done: Arc<AtomicBool>,
    /// Shared with the sender: how many receivers exist.
    receivers: Arc<AtomicUsize>,
}

impl Clone for Events {
    fn clone(&self) -> Self {
        self.receivers.fetch_add(1, Ordering::SeqCst);
        Events {
            rx: self.rx.clone(),
            wanted: self.wanted.clone(),
            done: self.done.clone(),
            receivers: self.receivers.clone(),
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.receivers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why no event was returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived in time (`try_recv`, `recv_timeout`).
    Empty,
    /// The server is gone and every event has been received.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("no event yet"),
            RecvError::Closed => f.write_str("the server has closed"),
        }
    }
}

impl std::error::Error for RecvError {}

impl Events {
    pub(crate) fn want(&self) {
        self.wanted.store(true, Ordering::Relaxed);
    }

    fn seen(&self, event: Result<Event, RecvError>) -> Result<Event, RecvError> {
        if let Ok(Event::Closed) = event {
            self.done.store(true, Ordering::SeqCst);
        }
        event
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits for the next event. `Err(Closed)` after [`Event::Closed`] was received.
    pub fn recv(&self) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.recv().map_err(|_| RecvError::Closed))
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.try_recv().map_err(|e| match e {
            TryRecvError::Empty => RecvError::Empty,
            TryRecvError::Disconnected => RecvError::Closed,
        }))
    }

    /// Waits at most `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvError> {
        if self.finished() {
            return Err(RecvError::Closed);
        }
        self.seen(self.rx.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => RecvError::Empty,
            RecvTimeoutError::Disconnected => RecvError::Closed,
        }))
    }

    /// Events as an iterator that ends after [`Event::Closed`].
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }
}

impl IntoIterator for Events {
    type Item = Event;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        IntoIter(self)
    }
}

/// The owning iterator over [`Events`]; ends after [`Event::Closed`].
pub struct IntoIter(Events);

impl Iterator for IntoIter {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        self.0.recv().ok()
    }
}

/// What a connection's write side learns by itself becomes `Drain` and `Error` events.
impl Notify for EventSender {
    fn drained(&self, conn: &Arc<Conn>) {
        self.send(Event::Drain(TlsSocket::of(conn)));
    }

    fn failed(&self, conn: &Arc<Conn>, error: Box<ConnectionError>) {
        self.send(Event::Error {
            socket: TlsSocket::of(conn),
            error,
        });
    }

    fn timed_out(&self, conn: &Arc<Conn>, idle: std::time::Duration) {
        self.send(Event::Timeout {
            socket: TlsSocket::of(conn),
            idle,
        });
    }
}

#[cfg(test)]
mod budget_tests {
    use super::Budget;
    use std::time::{Duration, Instant};

    #[test]
    fn a_flood_is_logged_at_a_bounded_rate_and_counted() {
        let mut budget = Budget::default();
        let start = Instant::now();
        let logged = (0..1000)
            .filter(|i| budget.spend(start + Duration::from_micros(*i)).is_some())
            .count();
        assert_eq!(logged, Budget::PER_SECOND as usize);
        // The next second: the first line tells how many were not logged.
        let next = start + Duration::from_millis(1001);
        assert_eq!(budget.spend(next), Some(1000 - Budget::PER_SECOND as u64));
        assert_eq!(budget.spend(next), Some(0));
    }
}
