//! [`Summary`]: what a server did, added up from its events — for the line `tls-server
//! serve` prints at exit, for a test suite's report, for a metrics endpoint.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::util::json::Obj;

/// Counts of connections, handshakes, failures by cause, and bytes, kept by feeding it
/// every event ([`record`](Self::record)).
///
/// ```
/// # use tls_server::{Event, Summary};
/// let mut summary = Summary::new();
/// summary.record(&Event::Closed);
/// assert_eq!(summary.connections, 0);
/// assert!(summary.to_string().starts_with("0 connections, 0 secure"));
/// ```
#[derive(Clone, Debug)]
pub struct Summary {
    /// Connections accepted (`Connection` events).
    pub connections: u64,
    /// Handshakes completed (`SecureConnection` events).
    pub secure: u64,
    /// Of those, sessions resumed.
    pub resumed: u64,
    /// Failed handshakes by [`Cause::name`](crate::explain::Cause::name)
    /// (`TlsClientError` events), zero-byte probes included.
    pub failed: BTreeMap<&'static str, u64>,
    /// Connections refused by a limit before any TLS byte (`Refused`).
    pub refused: u64,
    /// Connections closed to make room (`Evicted`).
    pub evicted: u64,
    /// Secure connections that ended in an error (`Error`).
    pub errors: u64,
    /// Those errors by [`Cause::name`](crate::explain::Cause::name) (`peer-reset`,
    /// `undecryptable-record`, ...).
    pub error_causes: BTreeMap<&'static str, u64>,
    /// Application bytes received on connections that have closed.
    pub bytes_read: u64,
    /// Application bytes sent on connections that have closed.
    pub bytes_written: u64,
    started: Instant,
}

impl Default for Summary {
    fn default() -> Self {
        Self::new()
    }
}

impl Summary {
    /// All counts at zero; the running time counts from now.
    pub fn new() -> Self {
        Summary {
            connections: 0,
            secure: 0,
            resumed: 0,
            failed: BTreeMap::new(),
            refused: 0,
            evicted: 0,
            errors: 0,
            error_causes: BTreeMap::new(),
            bytes_read: 0,
            bytes_written: 0,
            started: Instant::now(),
        }
    }

    /// Adds what `event` tells. Bytes are counted when a connection closes.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Connection { .. } => self.connections += 1,
            Event::SecureConnection(s) => {
                self.secure += 1;
                self.resumed += u64::from(s.resumed());
            }
            Event::TlsClientError(e) => *self.failed.entry(e.cause.name()).or_default() += 1,
            Event::Refused { .. } => self.refused += 1,
            Event::Evicted { .. } => self.evicted += 1,
            Event::Error { error, .. } => {
                self.errors += 1;
                *self.error_causes.entry(error.cause.name()).or_default() += 1;
            }
            Event::Close { socket, .. } => {
                self.bytes_read += socket.bytes_read();
                self.bytes_written += socket.bytes_written();
            }
            _ => {}
        }
    }

    /// Failed handshakes, all causes.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Time since [`new`](Self::new).
    pub fn running_for(&self) -> Duration {
        self.started.elapsed()
    }

    /// The summary as one JSON object, `{"event":"summary",...}`, as `tls-server serve
    /// --events json` prints it last: `failed` maps each cause to its count, and so does
    /// `errorCauses` for the errors after the handshake.
    pub fn to_json(&self) -> String {
        let by_cause = |counts: &BTreeMap<&'static str, u64>| {
            counts
                .iter()
                .fold(Obj::new(), |o, (cause, n)| o.num(cause, n))
                .finish()
        };
        Obj::new()
            .str("event", "summary")
            .num("connections", self.connections)
            .num("secure", self.secure)
            .num("resumed", self.resumed)
            .num("failures", self.failures())
            .raw("failed", &by_cause(&self.failed))
            .num("refused", self.refused)
            .num("evicted", self.evicted)
            .num("errors", self.errors)
            .raw("errorCauses", &by_cause(&self.error_causes))
            .num("bytesRead", self.bytes_read)
            .num("bytesWritten", self.bytes_written)
            .num(
                "seconds",
                format!("{:.3}", self.running_for().as_secs_f64()),
            )
            .finish()
    }
}

/// One line: `12 connections, 10 secure (3 resumed), 2 failed (not-tls 1, unknown-ca 1),
/// 0 refused, 0 evicted, 1 error (peer-reset 1), 1532 bytes in, 1532 bytes out, in 5.3s`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let causes = |counts: &BTreeMap<&'static str, u64>| {
            if counts.is_empty() {
                return String::new();
            }
            let each: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
            format!(" ({})", each.join(", "))
        };
        let s = if self.connections == 1 { "" } else { "s" };
        write!(
            f,
            "{} connection{s}, {} secure ({} resumed), {} failed",
            self.connections,
            self.secure,
            self.resumed,
            self.failures()
        )?;
        write!(
            f,
            "{}, {} refused, {} evicted, {} error{}{}, {} bytes in, {} bytes out, in {:.1}s",
            causes(&self.failed),
            self.refused,
            self.evicted,
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            causes(&self.error_causes),
            self.bytes_read,
            self.bytes_written,
            self.running_for().as_secs_f64()
        )
    }
}
