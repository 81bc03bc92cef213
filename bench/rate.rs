//! The handshake-rate scenarios: worker threads repeating whole sessions, counted over a
//! measured window after a warm-up.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;

use crate::client::{session, Mark, Negotiated, Window};

/// Counters shared by the worker threads of a rate scenario.
#[derive(Default)]
pub struct Tally {
    pub ops: AtomicU64,
    pub resumed: AtomicU64,
    pub unclean: AtomicU64,
    pub errors: AtomicU64,
    pub first_error: Mutex<Option<String>>,
    pub negotiated: Mutex<Option<Negotiated>>,
}

impl Tally {
    fn error(&self, e: impl std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap();
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }
}

/// The result of a rate scenario's measured window.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    pub window: Window,
    pub ops: u64,
    pub resumed: u64,
    pub unclean: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub negotiated: Negotiated,
}

/// Runs `threads` workers, each repeating whole sessions, for `warmup` (not counted) and
/// then `window` (counted).
pub fn handshakes(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    threads: usize,
    warmup: Duration,
    window: Duration,
    server_pid: u32,
) -> Rate {
    let stop = AtomicBool::new(false);
    let tally = Tally::default();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    match session(addr, config) {
                        Ok((neg, clean)) => {
                            tally.ops.fetch_add(1, Ordering::Relaxed);
                            if neg.resumed {
                                tally.resumed.fetch_add(1, Ordering::Relaxed);
                            }
                            if !clean {
                                tally.unclean.fetch_add(1, Ordering::Relaxed);
                            }
                            let mut n = tally.negotiated.lock().unwrap();
                            if n.is_none() {
                                *n = Some(neg);
                            }
                        }
                        Err(e) => {
                            tally.error(e);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                }
            });
        }
        let rate = measure(&tally, warmup, window, server_pid);
        stop.store(true, Ordering::Relaxed);
        rate
    })
}

fn measure(tally: &Tally, warmup: Duration, window: Duration, server_pid: u32) -> Rate {
    std::thread::sleep(warmup);
    let counts = |t: &Tally| {
        (
            t.ops.load(Ordering::Relaxed),
            t.resumed.load(Ordering::Relaxed),
            t.unclean.load(Ordering::Relaxed),
            t.errors.load(Ordering::Relaxed),
        )
    };
    let (c0, m0) = (counts(tally), Mark::now(server_pid));
    std::thread::sleep(window);
    let (c1, m1) = (counts(tally), Mark::now(server_pid));
    Rate {
        window: m0.until(&m1),
        ops: c1.0 - c0.0,
        resumed: c1.1 - c0.1,
        unclean: c1.2 - c0.2,
        errors: c1.3 - c0.3,
        first_error: tally.first_error.lock().unwrap().clone(),
        negotiated: tally.negotiated.lock().unwrap().clone().unwrap_or_default(),
    }
}
