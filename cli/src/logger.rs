//! The log: one line per record on stderr, `TIME LEVEL [target] message` (TIME in RFC 3339,
//! UTC, milliseconds), written by a thread of its own. Which records are kept is a
//! [`Filter`]: `--log-level`, else `RUST_LOG`, in env_logger's syntax (`info`,
//! `warn,tls_server::server=debug`, `debug,rustls=trace`). No thread of the server ever waits on stderr or dies on it: a record is handed
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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// Lines waiting for the writer at most; more are dropped (and counted).
const QUEUE: usize = 4096;

/// How long `flush` (at exit) waits for the queue to empty.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

/// How each line is written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum Format {
    /// `TIME LEVEL [target] message`.
    #[default]
    Plain,
    /// One JSON object per line: `time`, `level`, `target`, `message`, and for a line that
    /// tells an event, that event's fields as `--events json` prints them.
    Json,
}

impl Format {
    pub(crate) fn parse(name: &str) -> Option<Format> {
        match name {
            "plain" => Some(Format::Plain),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

struct Logger {
    filter: Filter,
    format: Format,
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

/// Which records are logged: a level per target prefix, the longest matching one wins, and
/// a default for the rest.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Filter {
    default: LevelFilter,
    /// (target prefix, level): `rustls`, `tls_server::server`, ...
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Without `--log-level` or `RUST_LOG`: tls-server's own records at info, other crates'
    /// (rustls) at warn.
    pub(crate) fn standard() -> Filter {
        Filter {
            default: LevelFilter::Warn,
            targets: vec![
                ("tls_server".into(), LevelFilter::Info),
                ("tls_server_cli".into(), LevelFilter::Info),
            ],
        }
    }

    /// `LEVEL` (every crate, rustls included) or a list such as
    /// `warn,tls_server=debug,rustls=trace`.
    pub(crate) fn parse(spec: &str) -> Result<Filter, String> {
        let level = |s: &str| {
            s.trim().parse::<LevelFilter>().map_err(|_| {
                format!("{s:?} is not a level — use off, error, warn, info, debug or trace, alone or as TARGET=LEVEL (e.g. info,rustls=debug)")
            })
        };
        let mut filter = Filter {
            default: LevelFilter::Info,
            targets: Vec::new(),
        };
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some((target, l)) => filter.targets.push((target.trim().to_string(), level(l)?)),
                None => filter.default = level(item)?,
            }
        }
        Ok(filter)
    }

    fn level_for(&self, target: &str) -> LevelFilter {
        self.targets
            .iter()
            .filter(|(t, _)| {
                target == t
                    || target
                        .strip_prefix(t.as_str())
                        .is_some_and(|r| r.starts_with("::"))
            })
            .max_by_key(|(t, _)| t.len())
            .map_or(self.default, |(_, l)| *l)
    }

    fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, std::cmp::Ord::max)
    }
}

/// Installs the logger with `filter`.
pub(crate) fn init(filter: Filter, format: Format) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = sync_channel(QUEUE);
    let state = Arc::new(State {
        dropped: AtomicU64::new(0),
        pending: Mutex::new(0),
        written: Condvar::new(),
    });
    let for_writer = state.clone();
    std::thread::Builder::new()
        .name("tls-server-log".into())
        .spawn(move || write_lines(rx, &for_writer, format))?;
    log::set_max_level(filter.max());
    let logger = Logger {
        filter,
        format,
        tx,
        state,
    };
    log::set_boxed_logger(Box::new(logger))?;
    Ok(())
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.filter.level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = match self.format {
            Format::Plain => format!(
                "{} {:<5} [{}] {}\n",
                rfc3339(SystemTime::now()),
                record.level(),
                record.target(),
                record.args()
            ),
            Format::Json => json_line(record),
        };
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
fn write_lines(rx: Receiver<String>, state: &State, format: Format) {
    let stderr = std::io::stderr();
    for line in rx {
        let dropped = state.dropped.swap(0, Ordering::Relaxed);
        let mut out = stderr.lock();
        if dropped > 0 {
            let message = format!("{dropped} log line(s) dropped: stderr was not taking them");
            let now = rfc3339(SystemTime::now());
            let _ = match format {
                Format::Plain => writeln!(out, "{now} WARN  [tls_server::log] {message}"),
                Format::Json => writeln!(
                    out,
                    "{{\"time\":{},\"level\":\"warn\",\"target\":\"tls_server::log\",\"message\":{}}}",
                    quote(&now),
                    quote(&message)
                ),
            };
        }
        let _ = out.write_all(line.as_bytes());
        drop(out);
        state.done(1);
    }
}

/// A JSON object for a log line's `fields` (see [`json_line`]), made only if displayed.
pub(crate) struct Fields<F: Fn() -> String>(pub F);

impl<F: Fn() -> String> std::fmt::Display for Fields<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.0)())
    }
}

/// A record as one JSON object: `time`, `level` (lower case), `target`, `message`, then the
/// fields of the event the line tells, if it tells one (the library passes them as the
/// key-value `fields`, a JSON object).
fn json_line(record: &Record<'_>) -> String {
    let mut line = format!(
        "{{\"time\":{},\"level\":{},\"target\":{},\"message\":{}",
        quote(&rfc3339(SystemTime::now())),
        quote(&record.level().as_str().to_ascii_lowercase()),
        quote(record.target()),
        quote(&record.args().to_string())
    );
    if let Some(fields) = record.key_values().get(log::kv::Key::from_str("fields")) {
        let fields = fields.to_string();
        if let Some(inner) = fields
            .strip_prefix('{')
            .and_then(|f| f.strip_suffix('}'))
            .filter(|f| !f.trim().is_empty())
        {
            line.push(',');
            line.push_str(inner);
        }
    }
    line.push_str("}\n");
    line
}

/// `text` as a JSON string.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `2026-12-02T08:20:01.123Z`: RFC 3339, UTC, milliseconds (the calendar is the `time`
/// crate's).
fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let t = time::OffsetDateTime::from_unix_timestamp(since.as_secs() as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_667_557_042);
        assert_eq!(rfc3339(t), "2026-11-26T04:32:37.042Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn filters_pick_the_longest_matching_target() {
        let f =
            Filter::parse("warn,tls_server=info,tls_server::server=debug,rustls=trace").unwrap();
        assert_eq!(
            f.level_for("tls_server::server::lifecycle"),
            LevelFilter::Debug
        );
        assert_eq!(f.level_for("tls_server::connection"), LevelFilter::Info);
        assert_eq!(
            f.level_for("tls_server_cli::serve"),
            LevelFilter::Warn,
            "not a prefix by name"
        );
        assert_eq!(f.level_for("rustls::server::hs"), LevelFilter::Trace);
        assert_eq!(f.level_for("other"), LevelFilter::Warn);
        assert_eq!(f.max(), LevelFilter::Trace);
        // A lone level is every crate's, rustls's too.
        assert_eq!(
            Filter::parse("debug").unwrap().level_for("rustls::x"),
            LevelFilter::Debug
        );
        let standard = Filter::standard();
        assert_eq!(
            standard.level_for("tls_server_cli::serve"),
            LevelFilter::Info
        );
        assert_eq!(
            standard.level_for("rustls::common_state"),
            LevelFilter::Warn
        );
        assert!(Filter::parse("loud").unwrap_err().contains("not a level"));
        assert!(Filter::parse("rustls=loud").is_err());
    }
}
