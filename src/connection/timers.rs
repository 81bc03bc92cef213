//! One thread per server that acts on connections whose time is up — the linger after we
//! ended one, the idle timeout — so no connection thread ever has to poll.
//!
//! The schedule is shared behind a mutex: a connection adds or drops its deadlines itself,
//! and the timer thread is woken only when a new deadline comes before the one it sleeps
//! until. Every connection sets an idle check minutes away and forgets it when it closes;
//! neither wakes the thread.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use super::Conn;

#[derive(Clone, Copy)]
enum What {
    /// Close it.
    Destroy,
    /// See whether it has been idle too long (and look again later if not).
    IdleCheck,
}

/// Schedules work on a connection at a deadline. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Timers {
    shared: Arc<Shared>,
}

struct Shared {
    schedule: Mutex<Schedule>,
    /// Wakes the timer thread: an earlier deadline, or stop.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Timers {
    /// Starts the timer thread; it ends on [`stop`](Self::stop).
    pub(crate) fn start() -> std::io::Result<(Timers, JoinHandle<()>)> {
        let shared = Arc::new(Shared {
            schedule: Mutex::new(Schedule::default()),
            changed: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("tls-server-timer".into())
            .stack_size(64 * 1024)
            .spawn(move || run(&for_thread))?;
        Ok((Timers { shared }, handle))
    }

    /// Destroys connection `id` at `at` unless it has closed by then.
    pub(crate) fn destroy_at(&self, at: Instant, id: u64, conn: Weak<Conn>) {
        self.at(at, What::Destroy, id, conn);
    }

    /// Checks at `at` whether connection `id` has been idle for its idle timeout.
    pub(crate) fn check_idle_at(&self, at: Instant, id: u64, conn: Weak<Conn>) {
        self.at(at, What::IdleCheck, id, conn);
    }

    fn at(&self, at: Instant, what: What, id: u64, conn: Weak<Conn>) {
        let mut schedule = self.shared.lock();
        let sooner = match schedule.next() {
            Some(next) => at < next,
            None => true,
        };
        schedule.add(at, what, id, conn);
        drop(schedule);
        if sooner {
            self.shared.changed.notify_one();
        }
    }

    /// Connection `id` has been dropped. Its deadlines go at once: each holds a `Weak`,
    /// which keeps the connection's memory allocated, and an idle check is minutes away.
    pub(crate) fn forget(&self, id: u64) {
        self.shared.lock().forget(id);
    }

    /// Ends the timer thread; pending deadlines are dropped.
    pub(crate) fn stop(&self) {
        self.shared.lock().stopped = true;
        self.shared.changed.notify_one();
    }
}

/// A deadline's place in the queue: when, then the order it was set in.
type Key = (Instant, u64);

/// The deadlines, in order, and for each connection that has some, its handle and their
/// keys (at most one idle check and one destroy each).
#[derive(Default)]
struct Schedule {
    queue: BTreeMap<Key, (u64, What)>,
    conns: HashMap<u64, (Weak<Conn>, Vec<Key>)>,
    seq: u64,
    stopped: bool,
}

impl Schedule {
    fn add(&mut self, at: Instant, what: What, id: u64, conn: Weak<Conn>) {
        self.seq += 1;
        let key = (at, self.seq);
        self.queue.insert(key, (id, what));
        self.conns
            .entry(id)
            .or_insert_with(|| (conn, Vec::new()))
            .1
            .push(key);
    }

    fn forget(&mut self, id: u64) {
        if let Some((_, keys)) = self.conns.remove(&id) {
            for key in keys {
                self.queue.remove(&key);
            }
        }
    }

    /// The first deadline, if it is due by `now`: what to do, to which connection.
    fn due(&mut self, now: Instant) -> Option<(u64, What, Weak<Conn>)> {
        let entry = self.queue.first_entry().filter(|e| e.key().0 <= now)?;
        let key = *entry.key();
        let (id, what) = entry.remove();
        let (conn, keys) = self.conns.get_mut(&id)?;
        keys.retain(|k| *k != key);
        let conn = conn.clone();
        if keys.is_empty() {
            self.conns.remove(&id);
        }
        Some((id, what, conn))
    }

    fn next(&self) -> Option<Instant> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.queue.len(), self.conns.len())
    }
}

fn run(shared: &Shared) {
    let mut schedule = shared.lock();
    loop {
        if schedule.stopped {
            return;
        }
        let now = Instant::now();
        if let Some((id, what, weak)) = schedule.due(now) {
            // Acting on a connection takes its locks and may set another deadline, and
            // dropping the last handle to one forgets its deadlines: never under this lock.
            drop(schedule);
            if let Some(conn) = weak.upgrade() {
                match what {
                    What::Destroy => conn.linger_expired(),
                    What::IdleCheck => {
                        if let Some(again) = conn.idle_check() {
                            shared.lock().add(again, What::IdleCheck, id, weak);
                        }
                    }
                }
            }
            schedule = shared.lock();
            continue;
        }
        schedule = match schedule.next() {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                shared
                    .changed
                    .wait_timeout(schedule, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => shared
                .changed
                .wait(schedule)
                .unwrap_or_else(|e| e.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_forgotten_connection_leaves_nothing_behind() {
        let mut s = Schedule::default();
        let far = Instant::now() + Duration::from_secs(120);
        for id in 0..1000 {
            s.add(far, What::IdleCheck, id, Weak::new());
            s.add(far, What::Destroy, id, Weak::new());
        }
        assert_eq!(s.len(), (2000, 1000));
        for id in 0..1000 {
            s.forget(id);
        }
        assert_eq!(
            s.len(),
            (0, 0),
            "forgotten deadlines must not wait for their time"
        );
    }

    #[test]
    fn deadlines_come_in_order_and_once() {
        let mut s = Schedule::default();
        let now = Instant::now();
        s.add(
            now + Duration::from_millis(2),
            What::Destroy,
            2,
            Weak::new(),
        );
        s.add(
            now + Duration::from_millis(1),
            What::IdleCheck,
            1,
            Weak::new(),
        );
        s.add(
            now + Duration::from_secs(60),
            What::IdleCheck,
            3,
            Weak::new(),
        );
        let later = now + Duration::from_millis(5);
        let order: Vec<u64> = std::iter::from_fn(|| s.due(later).map(|(id, ..)| id)).collect();
        assert_eq!(order, vec![1, 2]);
        assert_eq!(s.len(), (1, 1));
        assert_eq!(s.next(), Some(now + Duration::from_secs(60)));
    }
}
