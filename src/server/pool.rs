//! A bounded pool of threads. The server has two (`Shared::pool` and `Shared::readers`):
//! a connection's handshake runs on the first, and in the events style its reads then move
//! to a thread of the second, which never runs a handshake — so an idle connection holds
//! only the few stack pages reading takes, not the handshake's depth, and its thread's
//! allocator cache holds none of the handshake's freed buffers. A thread runs one job,
//! then waits for the next; threads are started only when no idle one is left, and never
//! more than `max`. Who may have a thread is the registry's decision (`registry.rs`); the
//! pool only runs what it is given, waiting a moment for a slot when a connection closed
//! to make room has not quite finished.
//!
//! The next connection goes to the thread that became idle **last** (a stack, not a
//! queue), so a load that needs 20 threads keeps using the same 20 while the others stay
//! idle; a thread idle for [`IDLE_THREAD_LIFETIME`] ends. A burst's threads, their stacks
//! and the memory their allocator caches per thread are given back once it is over —
//! with a queue, every idle thread would get a turn and none would ever end.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Limit;
use crate::server::sched;

/// How long `submit` waits for a slot: an evicted connection's thread frees its slot as
/// soon as its blocked read returns, which is at once.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// How long an idle connection thread waits for a job before it ends. Long enough that a
/// steady load reuses threads rather than starting them; short enough that memory returns
/// soon after a burst.
pub(crate) const IDLE_THREAD_LIFETIME: Duration = Duration::from_secs(30);

pub(crate) type Job = Box<dyn FnOnce(Slot) + Send>;

/// A job the pool could not run, given back with the reason.
pub(crate) struct Rejected {
    pub limit: Limit,
    pub reason: String,
    pub job: Job,
}

/// How a job reaches one thread: each thread has its own one-place mailbox.
struct Worker {
    id: u64,
    mailbox: Arc<Mailbox>,
}

/// One thread's mailbox: a job, or word to end. A mutex and a condition variable rather
/// than a channel: a thousand idle threads each hold one, and this is a tenth the size.
#[derive(Default)]
struct Mailbox {
    letter: Mutex<Option<Letter>>,
    arrived: Condvar,
}

enum Letter {
    Job(Job),
    End,
}

impl Mailbox {
    /// Leaves `letter`; the mailbox is empty whenever its thread is idle or busy, so
    /// nothing is overwritten.
    fn post(&self, letter: Letter) {
        *self.letter.lock().unwrap_or_else(|e| e.into_inner()) = Some(letter);
        self.arrived.notify_one();
    }

    /// The next letter, or `None` after `timeout` without one.
    fn wait(&self, timeout: Duration) -> Option<Letter> {
        let mut letter = self.letter.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + timeout;
        loop {
            if let Some(l) = letter.take() {
                return Some(l);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            letter = self
                .arrived
                .wait_timeout(letter, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A job's place in the pool. Dropping it frees the place at once, so that the next
/// connection can be accepted before the job's thread is back waiting: a job drops it just
/// before announcing that it is done (`Close`, `TlsClientError`).
pub(crate) struct Slot {
    pool: Arc<Pool>,
    /// The thread running the job, put back on the idle stack when the place is freed.
    worker: Option<Worker>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.pool.lock();
        st.active -= 1;
        // The thread is about to wait for its next job: it is idle from now on, so that a
        // job submitted meanwhile goes to it (and waits in its channel a moment) rather
        // than starting another thread. After `close`, dropping its sender ends it.
        if let Some(worker) = self.worker.take() {
            match st.closed {
                false => st.idle.push(worker),
                true => worker.mailbox.post(Letter::End),
            }
        }
        drop(st);
        self.pool.done.notify_all();
    }
}

pub(crate) struct Pool {
    /// Thread names are this and a number (`tls-server-c7`).
    name: &'static str,
    max: usize,
    stack_size: usize,
    idle_lifetime: Duration,
    /// Threads put themselves under `SCHED_BATCH` as they start (`sched.rs`).
    batch: bool,
    state: Mutex<PoolState>,
    /// Signalled whenever a job finishes or a thread ends.
    done: Condvar,
}

struct PoolState {
    /// Idle threads, the most recently idle last.
    idle: Vec<Worker>,
    /// Jobs running or handed to a thread.
    active: usize,
    /// Every thread alive, by worker id.
    threads: Vec<(u64, JoinHandle<()>)>,
    /// Threads ever started: ids and names.
    started: u64,
    closed: bool,
}

impl Pool {
    pub(crate) fn new(
        name: &'static str,
        max: usize,
        stack_size: usize,
        idle_lifetime: Duration,
        batch: bool,
    ) -> Pool {
        Pool {
            name,
            max,
            stack_size,
            idle_lifetime,
            batch,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                active: 0,
                threads: Vec::new(),
                started: 0,
                closed: false,
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a pool thread, or gives it back saying why it cannot.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), Rejected> {
        let mut st = self.lock();
        let until = Instant::now() + SLOT_WAIT;
        while st.active >= self.max {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Rejected {
                    limit: Limit::MaxConnections,
                    reason: format!(
                        "all {} connection threads are busy (connections closed to make room had not finished)",
                        self.max
                    ),
                    job,
                });
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if st.closed {
            return Err(Rejected {
                limit: Limit::ShuttingDown,
                reason: "the server is shutting down".into(),
                job,
            });
        }
        // The most recently idle thread.
        if let Some(worker) = st.idle.pop() {
            st.active += 1;
            worker.mailbox.post(Letter::Job(job));
            return Ok(());
        }
        let id = st.started;
        let pool = Arc::clone(self);
        // The job comes back if the thread cannot be started.
        let handoff = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&handoff);
        let spawned = std::thread::Builder::new()
            .name(format!("{}{id}", self.name))
            .stack_size(self.stack_size)
            .spawn(move || {
                if pool.batch {
                    sched::batch_this_thread();
                }
                let job = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
                drop(theirs);
                if let Some(job) = job {
                    pool.worker(id, job)
                }
            });
        match spawned {
            Ok(handle) => {
                st.threads.push((id, handle));
                st.started += 1;
                st.active += 1;
                Ok(())
            }
            Err(e) => Err(Rejected {
                limit: Limit::Threads,
                reason: format!("cannot start a connection thread: {e} — the system limits threads (`ulimit -u`, memory for stacks); lower the connection limits or the thread stack size"),
                job: handoff
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or_else(|| Box::new(drop)),
            }),
        }
    }

    /// Threads alive (running a job or waiting for one).
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads.len()
    }

    /// A thread's life: `first`, then each job left in its mailbox, until it is told to
    /// end or has been idle for its lifetime.
    fn worker(self: Arc<Self>, id: u64, first: Job) {
        let mailbox = Arc::new(Mailbox::default());
        let mut job = first;
        loop {
            let slot = Slot {
                pool: Arc::clone(&self),
                worker: Some(Worker {
                    id,
                    mailbox: Arc::clone(&mailbox),
                }),
            };
            run(job, slot);
            job = loop {
                match mailbox.wait(self.idle_lifetime) {
                    Some(Letter::Job(next)) => break next,
                    Some(Letter::End) => return,
                    None => {
                        if self.retire(id) {
                            return;
                        }
                    }
                }
            };
        }
    }

    /// Called by a thread that waited its lifetime without a job: it ends (true) if it is
    /// still on the idle stack; if not, a job was handed to it meanwhile and is in its
    /// mailbox.
    fn retire(&self, id: u64) -> bool {
        let mut st = self.lock();
        let Some(at) = st.idle.iter().position(|w| w.id == id) else {
            return false;
        };
        st.idle.remove(at);
        st.threads.retain(|(t, _)| *t != id);
        drop(st);
        self.done.notify_all();
        true
    }

    /// Waits until no job runs, or until `until`; returns whether none runs.
    pub(crate) fn wait_idle(&self, until: Instant) -> bool {
        let mut st = self.lock();
        while st.active > 0 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Lets idle threads end and joins every thread (running jobs finish first).
    pub(crate) fn close(&self) {
        let threads = {
            let mut st = self.lock();
            st.closed = true;
            // Idle threads are told to end now, busy ones when their job frees its slot.
            for worker in st.idle.drain(..) {
                worker.mailbox.post(Letter::End);
            }
            std::mem::take(&mut st.threads)
        };
        for (_, t) in threads {
            let _ = t.join();
        }
    }
}

/// Runs one job. A job catches its own panics (they are reported as events); this is a
/// last resort. The slot is freed when the job drops it, or while unwinding.
fn run(job: Job, slot: Slot) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || job(slot)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of `max` threads of 64 KiB that end after `lifetime` idle.
    fn test_pool(max: usize, lifetime: Duration) -> Arc<Pool> {
        Arc::new(Pool::new("t", max, 64 * 1024, lifetime, false))
    }

    /// Waits until `pool` has `n` threads, or a generous deadline passes; returns the count.
    fn wait_threads(pool: &Pool, n: usize) -> usize {
        let until = Instant::now() + Duration::from_secs(10);
        let mut st = pool.lock();
        while st.threads.len() != n && Instant::now() < until {
            st = pool
                .done
                .wait_timeout(st, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.threads.len()
    }

    /// Runs `n` jobs at once, each holding its slot until all have started.
    fn burst(pool: &Arc<Pool>, n: usize) {
        let barrier = Arc::new(std::sync::Barrier::new(n + 1));
        for _ in 0..n {
            let barrier = barrier.clone();
            assert!(pool
                .submit(Box::new(move |slot| {
                    barrier.wait();
                    drop(slot);
                }))
                .is_ok());
        }
        barrier.wait();
        assert!(pool.wait_idle(Instant::now() + Duration::from_secs(10)));
    }

    #[test]
    fn idle_threads_end_after_their_lifetime() {
        let pool = test_pool(16, Duration::from_millis(100));
        burst(&pool, 8);
        assert_eq!(pool.threads(), 8, "a burst of 8 needs 8 threads");
        assert_eq!(wait_threads(&pool, 0), 0, "idle threads should have ended");
        // The pool still works after its threads have gone.
        burst(&pool, 3);
        assert_eq!(wait_threads(&pool, 0), 0);
        pool.close();
    }

    #[test]
    fn threads_are_reused_within_their_lifetime() {
        let pool = test_pool(16, Duration::from_secs(60));
        burst(&pool, 4);
        burst(&pool, 4);
        burst(&pool, 2);
        assert_eq!(pool.threads(), 4, "idle threads should take the next jobs");
        pool.close();
        assert_eq!(pool.threads(), 0);
    }

    #[test]
    fn a_steady_load_keeps_its_threads_and_the_rest_end() {
        let lifetime = Duration::from_millis(200);
        let pool = test_pool(16, lifetime);
        burst(&pool, 8);
        assert_eq!(pool.threads(), 8);
        // One job at a time, for several lifetimes: the most recently idle thread takes
        // each, so the seven others stay idle long enough to end. (Taken in turn, every
        // thread would be busy often enough to live for ever.)
        let started = Instant::now();
        while started.elapsed() < lifetime * 5 {
            burst(&pool, 1);
        }
        // Counted while the load goes on: the idle threads have had four lifetimes to end.
        let left = pool.threads();
        assert!(
            left <= 2,
            "{left} threads: only the one in use should be left"
        );
        pool.close();
    }

    #[test]
    fn closing_ends_idle_and_busy_threads() {
        let pool = test_pool(4, Duration::from_secs(60));
        burst(&pool, 2);
        let (release, wait) = crossbeam_channel::bounded::<()>(0);
        assert!(pool
            .submit(Box::new(move |slot| {
                let _ = wait.recv();
                drop(slot);
            }))
            .is_ok());
        let closer = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.close())
        };
        release.send(()).unwrap();
        closer.join().unwrap();
        assert_eq!(pool.threads(), 0);
        assert!(
            pool.submit(Box::new(drop)).is_err(),
            "a closed pool takes no job"
        );
    }

    #[test]
    fn a_job_submitted_as_threads_retire_still_runs() {
        // Lifetimes so short that threads retire while jobs arrive, with gaps around the
        // lifetime between jobs: every job must run.
        let pool = test_pool(4, Duration::from_micros(50));
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..2000 {
            let gap = Instant::now() + Duration::from_micros(10 * (i % 11) as u64);
            while Instant::now() < gap {
                std::hint::spin_loop();
            }
            let tx = tx.clone();
            assert!(pool
                .submit(Box::new(move |slot| {
                    drop(slot);
                    let _ = tx.send(i);
                }))
                .is_ok());
        }
        let mut got: Vec<i32> = (0..2000)
            .map(|_| {
                rx.recv_timeout(Duration::from_secs(10))
                    .expect("a job was lost")
            })
            .collect();
        got.sort();
        assert_eq!(got, (0..2000).collect::<Vec<_>>());
        pool.close();
    }
}
