//! A bounded pool of connection threads. A thread serves one connection from accept to
//! close, then waits for the next; threads are started only when no idle one is left, and
//! never more than `max`. A thread that waits [`IDLE_THREAD_LIFETIME`] without a job ends,
//! so that a burst of connections does not keep its threads (and their stacks) for ever. Who may have a thread is the registry's decision
//! (`registry.rs`); the pool only runs what it is given, waiting a moment for a slot when
//! a connection closed to make room has not quite finished.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Limit;

/// How long `submit` waits for a slot: an evicted connection's thread frees its slot as
/// soon as its blocked read returns, which is at once.
const SLOT_WAIT: Duration = Duration::from_secs(1);

/// How long an idle connection thread waits for a job before it ends. Long enough that a
/// steady load reuses threads rather than starting them; short enough that memory returns
/// soon after a burst.
pub(crate) const IDLE_THREAD_LIFETIME: Duration = Duration::from_secs(30);

use crossbeam_channel::{Receiver, Sender};

type Job = Box<dyn FnOnce(Slot) + Send>;

/// A job's place in the pool. Dropping it frees the place at once, so that the next
/// connection can be accepted before the job's thread is back waiting: a job drops it just
/// before announcing that it is done (`Close`, `TlsClientError`).
pub(crate) struct Slot {
    pool: Arc<Pool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.pool.lock();
        st.active -= 1;
        // The thread is about to wait for the next job: count it idle now, so that a job
        // submitted meanwhile is queued for it rather than starting another thread.
        st.idle += 1;
        drop(st);
        self.pool.done.notify_all();
    }
}

pub(crate) struct Pool {
    max: usize,
    stack_size: usize,
    idle_lifetime: Duration,
    state: Mutex<PoolState>,
    /// Signalled whenever a job finishes.
    done: Condvar,
}

struct PoolState {
    tx: Option<Sender<Job>>,
    rx: Receiver<Job>,
    /// Jobs running or queued.
    active: usize,
    /// Threads waiting for a job.
    idle: usize,
    threads: Vec<JoinHandle<()>>,
    /// Threads ever started, for their names.
    started: usize,
}

impl Pool {
    pub(crate) fn new(max: usize, stack_size: usize, idle_lifetime: Duration) -> Pool {
        let (tx, rx) = crossbeam_channel::unbounded();
        Pool {
            max,
            stack_size,
            idle_lifetime,
            state: Mutex::new(PoolState {
                tx: Some(tx),
                rx,
                active: 0,
                idle: 0,
                threads: Vec::new(),
                started: 0,
            }),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `job` on a pool thread, or says why it cannot.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) -> Result<(), (Limit, String)> {
        let mut st = self.lock();
        let until = Instant::now() + SLOT_WAIT;
        while st.active >= self.max {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err((
                    Limit::MaxConnections,
                    format!(
                        "all {} connection threads are busy (connections closed to make room had not finished)",
                        self.max
                    ),
                ));
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let Some(tx) = st.tx.clone() else {
            return Err((Limit::ShuttingDown, "the server is shutting down".into()));
        };
        if st.idle == 0 {
            let rx = st.rx.clone();
            let pool = Arc::clone(self);
            let n = st.started;
            let spawned = std::thread::Builder::new()
                .name(format!("tls-server-c{n}"))
                .stack_size(self.stack_size)
                .spawn(move || pool.worker(rx));
            match spawned {
                Ok(h) => {
                    st.threads.push(h);
                    st.started += 1;
                    st.idle += 1;
                }
                Err(e) => {
                    return Err((
                        Limit::Threads,
                        format!("cannot start a connection thread: {e} — the system limits threads (`ulimit -u`, memory for stacks); lower the connection limits or the thread stack size"),
                    ))
                }
            }
        }
        st.idle -= 1;
        st.active += 1;
        tx.send(job).map_err(|_| {
            (
                Limit::ShuttingDown,
                "the server is shutting down".to_string(),
            )
        })
    }

    /// Jobs running or queued.
    pub(crate) fn active(&self) -> usize {
        self.lock().active
    }

    /// Threads alive (running a job or waiting for one).
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads.len()
    }

    fn worker(self: Arc<Self>, rx: Receiver<Job>) {
        loop {
            let job = match rx.recv_timeout(self.idle_lifetime) {
                Ok(job) => job,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => match self.retire() {
                    true => return,
                    false => continue,
                },
            };
            let slot = Slot { pool: self.clone() };
            // A job catches its own panics (they are reported as events); this one is a
            // last resort. The slot is freed when the job drops it, or while unwinding.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || job(slot)));
        }
    }

    /// Called by a thread that waited its lifetime without a job: it ends (true) unless a
    /// job was handed out meanwhile counting on it. `idle` counts the waiting threads not
    /// yet promised a job, so a thread may leave only while it is positive.
    fn retire(&self) -> bool {
        let mut st = self.lock();
        if st.idle == 0 || st.tx.is_none() {
            // A job is on its way to this thread (or shutdown joins it).
            return false;
        }
        st.idle -= 1;
        let me = std::thread::current().id();
        st.threads.retain(|h| h.thread().id() != me);
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
            st.tx = None;
            std::mem::take(&mut st.threads)
        };
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            pool.submit(Box::new(move |slot| {
                barrier.wait();
                drop(slot);
            }))
            .unwrap();
        }
        barrier.wait();
        assert!(pool.wait_idle(Instant::now() + Duration::from_secs(10)));
    }

    #[test]
    fn idle_threads_end_after_their_lifetime() {
        let pool = Arc::new(Pool::new(16, 64 * 1024, Duration::from_millis(100)));
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
        let pool = Arc::new(Pool::new(16, 64 * 1024, Duration::from_secs(60)));
        burst(&pool, 4);
        burst(&pool, 4);
        burst(&pool, 2);
        assert_eq!(pool.threads(), 4, "idle threads should take the next jobs");
        pool.close();
        assert_eq!(pool.threads(), 0);
    }

    #[test]
    fn a_job_submitted_as_threads_retire_still_runs() {
        // Lifetimes so short that threads retire while jobs arrive, with gaps around the
        // lifetime between jobs: every job must run.
        let pool = Arc::new(Pool::new(4, 64 * 1024, Duration::from_micros(50)));
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..2000 {
            let gap = Instant::now() + Duration::from_micros(10 * (i % 11) as u64);
            while Instant::now() < gap {
                std::hint::spin_loop();
            }
            let tx = tx.clone();
            pool.submit(Box::new(move |slot| {
                drop(slot);
                let _ = tx.send(i);
            }))
            .unwrap();
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
