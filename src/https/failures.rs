//! [`Failures`]: the last failed handshakes of a server, kept in memory for the failures
//! page. Bounded: past its capacity, the oldest is dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::explain::TlsClientError;

/// How many failures [`Failures::default`] keeps.
pub const FAILURES_KEPT: usize = 50;

/// The last failed handshakes of a server, newest first, at most
/// [`capacity`](Self::capacity) of them. Cheap to clone: clones share the list.
///
/// The server does not fill it: hand it each
/// [`Event::TlsClientError`](crate::Event::TlsClientError) from your event loop with
/// [`record`](Self::record), and give it to [`pages`](super::pages) to show them.
///
/// ```
/// use tls_server::https::Failures;
/// let failures = Failures::new(10);
/// assert!(failures.is_empty());
/// assert_eq!(failures.capacity(), 10);
/// ```
#[derive(Clone, Debug)]
pub struct Failures {
    inner: Arc<Mutex<Kept>>,
}

#[derive(Debug)]
struct Kept {
    /// Newest first.
    list: VecDeque<RecentFailure>,
    capacity: usize,
    recorded: u64,
}

/// One failure as kept: when it was recorded, and the error.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecentFailure {
    /// When [`Failures::record`] was called (just after the handshake failed).
    pub at: SystemTime,
    /// The failure, with its ladder when
    /// [`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes) is on.
    pub error: Arc<TlsClientError>,
}

impl Default for Failures {
    fn default() -> Self {
        Failures::new(FAILURES_KEPT)
    }
}

impl Failures {
    /// An empty list that keeps at most `capacity` failures (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Failures {
            inner: Arc::new(Mutex::new(Kept {
                list: VecDeque::with_capacity(capacity.min(FAILURES_KEPT)),
                capacity,
                recorded: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a copy of `error`, dropping the oldest kept one when full. Connections that
    /// sent nothing (port scans, health checks) and handshakes the server closed to make
    /// room ([`TlsClientError::is_quiet`]) are not kept: returns `false` for them.
    pub fn record(&self, error: &TlsClientError) -> bool {
        if error.is_quiet() {
            return false;
        }
        let kept = RecentFailure {
            at: SystemTime::now(),
            error: Arc::new(error.clone()),
        };
        let mut k = self.lock();
        if k.list.len() >= k.capacity {
            k.list.pop_back();
        }
        k.list.push_front(kept);
        k.recorded += 1;
        true
    }

    /// The failures kept, newest first.
    pub fn recent(&self) -> Vec<RecentFailure> {
        self.lock().list.iter().cloned().collect()
    }

    /// How many are kept now.
    pub fn len(&self) -> usize {
        self.lock().list.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most kept at once.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// How many were recorded in all, including those dropped since.
    pub fn recorded(&self) -> u64 {
        self.lock().recorded
    }

    /// `[{…},…]`: each kept failure's [`TlsClientError::to_json`], newest first.
    pub fn to_json(&self) -> String {
        let items: Vec<String> = self.lock().list.iter().map(|f| f.error.to_json()).collect();
        format!("[{}]", items.join(","))
    }
}
