//! The log: one line per record on stderr, `LEVEL [target] message`, written by a thread of
//! its own. No thread of the server ever waits on stderr or dies on it: a record is handed
//! to a bounded queue without blocking, and only the writer thread touches stderr. A closed
//! stderr loses lines; a full one (a pipe nobody reads) loses the lines that do not fit the
//! queue, and says how many once it can write again. Neither stops a connection, the event
//! loop, a signal handler or the shutdown.
//!
//! (simple_logger, which this replaces, writes with `eprintln!` on the caller's thread: a
//! closed stderr panics that thread, a full one blocks it.)

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use log::{LevelFilter, Log, Metadata, Record};

/// Lines waiting for the writer at most; more are dropped (and counted).
const QUEUE: usize = 4096;

/// How long `flush` (at exit) waits for the queue to empty.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

struct Logger {
    /// For targets of this program and of the library (`tls_server_cli…`, `tls_server…`).
    ours: LevelFilter,
    /// For every other crate (rustls, ...).
    others: LevelFilter,
    tx: SyncSender<String>,
    state: Arc<State>,
}

/// Shared with the writer thread.
struct State {
    dropped: AtomicU64,
    /// Lines queued and not yet written.
    pending: Mutex<usize>,
    written: Condvar,
}

/// Installs the logger: `level` for tls-server's own records, warn for other crates'.
pub(crate) fn init(level: LevelFilter) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = sync_channel(QUEUE);
    let state = Arc::new(State {
        dropped: AtomicU64::new(0),
        pending: Mutex::new(0),
        written: Condvar::new(),
    });
    let for_writer = state.clone();
    std::thread::Builder::new()
        .name("tls-server-log".into())
        .spawn(move || write_lines(rx, &for_writer))?;
    let logger = Logger {
        ours: level,
        others: LevelFilter::Warn,
        tx,
        state,
    };
    log::set_max_level(level.max(LevelFilter::Warn));
    log::set_boxed_logger(Box::new(logger))?;
    Ok(())
}

impl Logger {
    fn level_for(&self, target: &str) -> LevelFilter {
        let ours = ["tls_server", "tls_server_cli"];
        if ours
            .iter()
            .any(|t| target == *t || target.strip_prefix(t).is_some_and(|r| r.starts_with("::")))
        {
            self.ours
        } else {
            self.others
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{:<5} [{}] {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        *self.state.lock_pending() += 1;
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.state.dropped.fetch_add(1, Ordering::Relaxed);
                self.state.done(1);
            }
        }
    }

    /// Waits (a little) for the queued lines to be written: called before the process
    /// exits, so the last lines are not lost to a healthy stderr.
    fn flush(&self) {
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut pending = self.state.lock_pending();
        while *pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = self
                .state
                .written
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl State {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, usize> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn done(&self, lines: usize) {
        let mut pending = self.lock_pending();
        *pending = pending.saturating_sub(lines);
        if *pending == 0 {
            self.written.notify_all();
        }
    }
}

/// The writer thread: the only one that touches stderr. Errors are ignored (the line is
/// lost), never raised.
fn write_lines(rx: Receiver<String>, state: &State) {
    let stderr = std::io::stderr();
    for line in rx {
        let dropped = state.dropped.swap(0, Ordering::Relaxed);
        let mut out = stderr.lock();
        if dropped > 0 {
            let _ = writeln!(
                out,
                "WARN  [tls_server::log] {dropped} log line(s) dropped: stderr was not taking them"
            );
        }
        let _ = out.write_all(line.as_bytes());
        drop(out);
        state.done(1);
    }
}
