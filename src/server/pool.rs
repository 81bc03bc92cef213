//! A bounded pool of connection threads. A thread serves one connection from accept to
//! close, then waits for the next; threads are started only when no idle one is left, and
//! never more than `max`. Who may have a thread is the registry's decision
//! (`registry.rs`); the pool only runs what it is given, waiting a moment for a slot when
//! a connection closed to make room has not quite finished.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Limit;

/// How long `submit` waits for a slot: an evicted connection's thread frees its slot as
/// soon as its blocked read returns, which is at once.
const SLOT_WAIT: Duration = Duration::from_secs(1);

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
}

impl Pool {
    pub(crate) fn new(max: usize, stack_size: usize) -> Pool {
        let (tx, rx) = crossbeam_channel::unbounded();
        Pool {
            max,
            stack_size,
            state: Mutex::new(PoolState {
                tx: Some(tx),
                rx,
                active: 0,
                idle: 0,
                threads: Vec::new(),
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
            let n = st.threads.len();
            let spawned = std::thread::Builder::new()
                .name(format!("tls-server-c{n}"))
                .stack_size(self.stack_size)
                .spawn(move || pool.worker(rx));
            match spawned {
                Ok(h) => {
                    st.threads.push(h);
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

    fn worker(self: Arc<Self>, rx: Receiver<Job>) {
        while let Ok(job) = rx.recv() {
            let slot = Slot { pool: self.clone() };
            // A job catches its own panics (they are reported as events); this one is a
            // last resort. The slot is freed when the job drops it, or while unwinding.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || job(slot)));
        }
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
