//! Driving one server handshake by hand — `read_tls` → `process_new_packets` →
//! `write_tls` — under two absolute deadlines (the client's first bytes, the whole
//! handshake), keeping what we need to explain a failure.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use rustls::{ServerConfig, ServerConnection};

use crate::connection::{drain, READ_BUF};
use crate::explain::failure::{Failed, Failure, Phase};
use crate::explain::sniff::{is_plain_http, FIRST_BYTES};
use crate::explain::trace::Recorder;
use crate::setting::Setting;
use crate::tls::alpn::{self, AlpnCallback};
use crate::tls::record::{HandshakeRecord, Record};
use crate::tls::setup::Setup;

/// A finished handshake: the connection, its trace, what the callbacks recorded, and the
/// client's first bytes (its ClientHello, to report an IP address sent as SNI).
pub(crate) struct Done {
    pub conn: ServerConnection,
    pub trace: Option<Recorder>,
    pub first_bytes: Vec<u8>,
    pub record: Record,
}

/// When a handshake must be done by.
#[derive(Clone, Copy)]
pub(crate) struct Deadlines {
    /// The TCP accept.
    pub started: Instant,
    /// The client's first bytes must have arrived by then.
    pub first_bytes: Instant,
    /// The handshake must be complete by then.
    pub whole: Instant,
}

/// Runs the handshake on `sock`. On success the connection is ready for application data
/// (plaintext that came with the client's Finished may already be buffered in it).
/// With `record_flights`, the flights are recorded (for the handshake trace, or the
/// handshake log kept with `keep_handshakes`).
/// `heard` is set when the client's first byte arrives (the registry then no longer counts
/// this handshake as silent).
///
/// Not inlined, and the connection returned boxed: the caller's stack frame stays small.
/// (In the events style the connection is then read on another thread, one that never
/// runs a handshake: `pool.rs`.)
#[inline(never)]
pub(crate) fn run(
    sock: &TcpStream,
    tls: &Setup,
    deadlines: Deadlines,
    heard: &AtomicBool,
    stopping: &dyn Fn() -> bool,
    record_flights: bool,
) -> Result<Box<Done>, Box<Failed>> {
    let started = deadlines.started;
    let deadline = deadlines.whole;
    let mut hs = Handshake {
        sock,
        first_bytes: Vec::new(),
        bytes_received: 0,
        sent_any: false,
        alert_sent: None,
        trace: record_flights.then(|| Recorder::new(started)),
        record: HandshakeRecord::default(),
        deadlines,
        heard,
        answered_http: false,
        read_timeout: None,
        write_timeout: false,
    };
    let mut buf = vec![0u8; READ_BUF];
    // This handshake's own configuration: its callbacks write into `hs.record`.
    let config = tls.config_for(&hs.record);
    let conn = match &tls.alpn_callback {
        None => ServerConnection::new(Arc::new(config)).map_err(Failure::Tls),
        Some(callback) => hs.accept(config, &**callback, &mut buf, deadline, stopping),
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(failure) => return Err(hs.failed(failure, started)),
    };
    conn.set_buffer_limit(None);
    loop {
        if let Err(e) = hs.flush(&mut conn, deadline) {
            return Err(hs.failed(e, started));
        }
        if !conn.is_handshaking() {
            // The connection's reads and writes have no timeout from now on.
            if hs.read_timeout.is_some() {
                let _ = sock.set_read_timeout(None);
            }
            if hs.write_timeout {
                let _ = sock.set_write_timeout(None);
            }
            return Ok(Box::new(Done {
                conn,
                trace: hs.trace.take(),
                first_bytes: std::mem::take(&mut hs.first_bytes),
                record: hs.record.take(),
            }));
        }
        if stopping() {
            return Err(hs.failed(Failure::Shutdown, started));
        }
        let n = match hs.read(&mut buf, deadline) {
            Ok(n) => n,
            Err(_) if stopping() => return Err(hs.failed(Failure::Shutdown, started)),
            Err(e) => return Err(hs.failed(e, started)),
        };
        let mut input = &buf[..n];
        while !input.is_empty() {
            let fed = conn.read_tls(&mut input);
            let processed = fed
                .map_err(|e| rustls::Error::General(e.to_string()))
                .and_then(|_| conn.process_new_packets().map(|_| ()));
            if let Err(e) = processed {
                // The phase is where the handshake was when it failed: the alert sent
                // below is not an answer to the ClientHello.
                let phase = hs.phase();
                // Last gasp: the alert rustls queued goes out before we close, so the
                // client sees why instead of a reset (an HTTP client gets HTTP instead).
                if !hs.answer_plain_http(deadline) {
                    hs.alert_of_our_own(&mut conn, &e, deadline);
                    let _ = hs.flush(&mut conn, deadline);
                }
                hs.close_gently();
                let mut failed = hs.failed(Failure::Tls(e), started);
                failed.phase = phase;
                return Err(failed);
            }
        }
    }
}

struct Handshake<'a> {
    sock: &'a TcpStream,
    first_bytes: Vec<u8>,
    bytes_received: usize,
    sent_any: bool,
    alert_sent: Option<rustls::AlertDescription>,
    trace: Option<Recorder>,
    /// What this handshake's callbacks saw.
    record: HandshakeRecord,
    deadlines: Deadlines,
    heard: &'a AtomicBool,
    answered_http: bool,
    /// The socket's read timeout as last set: a system call per read is spared while it
    /// ends within [`SLACK`] of the deadline.
    read_timeout: Option<Duration>,
    /// Whether a write timeout was set (only when a send would have blocked).
    write_timeout: bool,
}

/// How far past the handshake deadline a blocked read may end: the read timeout is set
/// again only when the one set earlier would overshoot the deadline by more than this.
const SLACK: Duration = Duration::from_millis(20);

impl Handshake<'_> {
    /// With an ALPN callback: reads the whole ClientHello first (rustls's `Acceptor`), asks
    /// the callback, and starts the connection with its choice.
    fn accept(
        &mut self,
        mut config: ServerConfig,
        callback: &AlpnCallback,
        buf: &mut [u8],
        deadline: Instant,
        stopping: &dyn Fn() -> bool,
    ) -> Result<ServerConnection, Failure> {
        let mut acceptor = Acceptor::default();
        loop {
            if stopping() {
                return Err(Failure::Shutdown);
            }
            let n = match self.read(buf, deadline) {
                Err(_) if stopping() => return Err(Failure::Shutdown),
                other => other?,
            };
            let mut input = &buf[..n];
            while !input.is_empty() {
                if let Err(e) = acceptor.read_tls(&mut input) {
                    return Err(Failure::Tls(rustls::Error::General(e.to_string())));
                }
            }
            let (e, mut alert) = match acceptor.accept() {
                Ok(None) => continue,
                Ok(Some(accepted)) => {
                    let hello = accepted.client_hello();
                    let answer = alpn::configure(
                        &mut config,
                        callback,
                        hello.server_name(),
                        hello.alpn().map(|a| a.collect()),
                    );
                    self.record.set_alpn(answer);
                    match accepted.into_connection(Arc::new(config)) {
                        Ok(conn) => return Ok(conn),
                        Err(refused) => refused,
                    }
                }
                Err(refused) => refused,
            };
            // Last gasp, as in `run`: the alert goes out before we close. It answers the
            // ClientHello: no ServerHello was sent.
            if !self.answer_plain_http(deadline) {
                let mut out = Vec::new();
                let _ = alert.write_all(&mut out);
                self.send(&mut out, deadline)?;
                self.sent_any = false;
            }
            self.close_gently();
            return Err(Failure::Tls(e));
        }
    }

    fn phase(&self) -> Phase {
        if self.bytes_received == 0 {
            Phase::BeforeAnyBytes
        } else if !self.sent_any {
            Phase::ClientHello
        } else {
            Phase::AfterServerHello
        }
    }

    fn failed(&mut self, failure: Failure, started: Instant) -> Box<Failed> {
        Box::new(Failed {
            failure,
            phase: self.phase(),
            first_bytes: std::mem::take(&mut self.first_bytes),
            bytes_received: self.bytes_received,
            alert_sent: self.alert_sent,
            elapsed: started.elapsed(),
            timeout: self.allowance().0,
            timeout_setting: self.allowance().1,
            record: self.record.take(),
            trace: self.trace.take(),
            answered_http: self.answered_http,
        })
    }

    /// How long the client had for what it failed to do — its first bytes, or all of it —
    /// and the setting that said so.
    fn allowance(&self) -> (Duration, Setting) {
        let d = &self.deadlines;
        let (until, setting) = if self.bytes_received == 0 && d.first_bytes < d.whole {
            (d.first_bytes, Setting::ClientHelloTimeout)
        } else {
            (d.whole, Setting::HandshakeTimeout)
        };
        (until.saturating_duration_since(d.started), setting)
    }

    /// Reads once, by the first-bytes deadline until the client has sent something, by
    /// `deadline` after that.
    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure> {
        let deadline = match self.bytes_received {
            0 => deadline.min(self.deadlines.first_bytes),
            _ => deadline,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Timeout);
            }
            // The timeout set earlier is never shorter than what is left (time only
            // passes), so keeping it can only make a timeout come late, by under SLACK.
            if self.read_timeout.is_none_or(|t| t > left + SLACK) {
                self.sock
                    .set_read_timeout(Some(left))
                    .map_err(Failure::Io)?;
                self.read_timeout = Some(left);
            }
            match (&*self.sock).read(buf) {
                Ok(0) => return Err(Failure::PeerClosed),
                Ok(n) => {
                    if self.bytes_received == 0 {
                        self.heard.store(true, Ordering::Relaxed);
                    }
                    if let Some(t) = &mut self.trace {
                        t.flight(true, &buf[..n]);
                    }
                    let keep = n.min(FIRST_BYTES.saturating_sub(self.first_bytes.len()));
                    self.first_bytes.extend_from_slice(&buf[..keep]);
                    self.bytes_received += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // A timeout set for the first bytes is shorter than what the rest of
                    // the handshake may take: before the deadline, set it again and read on.
                    if Instant::now() < deadline {
                        self.read_timeout = None;
                        continue;
                    }
                    return Err(Failure::Timeout);
                }
                Err(e) if is_reset(&e) => return Err(Failure::PeerClosed),
                Err(e) => return Err(Failure::Io(e)),
            }
        }
    }

    /// Writes every queued record, blocking until the deadline at most.
    fn flush(&mut self, conn: &mut ServerConnection, deadline: Instant) -> Result<(), Failure> {
        while conn.wants_write() {
            let mut out = Vec::new();
            conn.write_tls(&mut out).map_err(Failure::Io)?;
            self.send(&mut out, deadline)?;
        }
        Ok(())
    }

    /// Plain HTTP on the TLS port: answers with an HTTP 400 that says to use https://, which
    /// the HTTP client shows, instead of a TLS alert it would show as garbage (curl:
    /// "Received HTTP/0.9 when not allowed"). Returns whether it answered.
    fn answer_plain_http(&mut self, deadline: Instant) -> bool {
        if self.sent_any || !is_plain_http(&self.first_bytes) {
            return false;
        }
        const BODY: &str =
            "This port speaks TLS (HTTPS): use https:// instead of http:// for this address.\n";
        let reply = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || self.sock.set_write_timeout(Some(left)).is_err() {
            return false;
        }
        self.answered_http = (&*self.sock).write_all(reply.as_bytes()).is_ok();
        self.answered_http
    }

    /// Sends one flight, noting a plaintext alert in it.
    fn send(&mut self, out: &mut [u8], deadline: Instant) -> Result<(), Failure> {
        if self.record.refused_by_name() {
            unrecognized_name(out);
        }
        self.note_alert(out);
        if let Some(t) = &mut self.trace {
            t.flight(false, out);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        // A flight almost always fits in the socket's send buffer: try a non-blocking
        // send first, and set a write timeout only for what would block.
        let mut rest = &out[..];
        while !rest.is_empty() {
            match socket2::SockRef::from(self.sock).send_with_flags(rest, libc::MSG_DONTWAIT) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if rest.is_empty() {
            self.sent_any = true;
            return Ok(());
        }
        self.sock
            .set_write_timeout(Some(left))
            .map_err(Failure::Io)?;
        self.write_timeout = true;
        match (&*self.sock).write_all(rest) {
            Ok(()) => {
                self.sent_any = true;
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Failure::Timeout)
            }
            Err(e) if is_reset(&e) => Err(Failure::PeerClosed),
            Err(e) => Err(Failure::Io(e)),
        }
    }

    /// Remembers a plaintext alert record (content type 21) among the bytes we send.
    fn note_alert(&mut self, mut out: &[u8]) {
        while out.len() >= 5 {
            let len = u16::from_be_bytes([out[3], out[4]]) as usize;
            if out[0] == 21 && len == 2 && out.len() >= 7 {
                self.alert_sent = Some(rustls::AlertDescription::from(out[6]));
            }
            out = out.get(5 + len..).unwrap_or(&[]);
        }
    }

    /// rustls stops on some errors without queuing an alert (a handshake message too large
    /// or split around other records). Before our first flight an alert is plaintext, so we
    /// send the one RFC 8446 §6 asks for ourselves when rustls queued nothing; later it
    /// would have to be encrypted, which only rustls can do: close_notify is then the most
    /// we can say (rustls skips it when it did send a fatal alert).
    fn alert_of_our_own(
        &mut self,
        conn: &mut ServerConnection,
        e: &rustls::Error,
        deadline: Instant,
    ) {
        if self.sent_any {
            conn.send_close_notify();
            return;
        }
        if conn.wants_write() {
            return; // rustls's own alert, before anything else was sent
        }
        let alert = match e {
            rustls::Error::PeerMisbehaved(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. } => {
                rustls::AlertDescription::UnexpectedMessage
            }
            rustls::Error::PeerIncompatible(_) => rustls::AlertDescription::HandshakeFailure,
            _ => rustls::AlertDescription::DecodeError,
        };
        // A fatal alert record: content type 21, TLS 1.2 on the wire, level 2.
        let mut record = vec![21, 3, 3, 0, 2, 2, u8::from(alert)];
        let _ = self.send(&mut record, deadline);
    }

    /// After a fatal alert: send our FIN, then read what the client sent until it closes
    /// (bounded in bytes and time), so that closing does not turn into a reset that destroys
    /// the alert in flight.
    fn close_gently(&mut self) {
        let _ = self.sock.shutdown(Shutdown::Write);
        drain(self.sock);
    }
}

/// rustls answers a resolver that found no certificate with `access_denied`; for a server
/// name we do not serve, RFC 6066 §3 says `unrecognized_name`, which clients explain
/// better ("unrecognized name"). Rewrites the plaintext alert record in `out`.
fn unrecognized_name(out: &mut [u8]) {
    let mut at = 0;
    while at + 7 <= out.len() {
        let len = u16::from_be_bytes([out[at + 3], out[at + 4]]) as usize;
        if out[at] == 21
            && len == 2
            && out[at + 6] == u8::from(rustls::AlertDescription::AccessDenied)
        {
            out[at + 6] = u8::from(rustls::AlertDescription::UnrecognisedName);
        }
        at += 5 + len;
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
