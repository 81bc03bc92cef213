//! Driving one server handshake by hand — `read_tls` → `process_new_packets` →
//! `write_tls` — under an absolute deadline, keeping what we need to explain a failure.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::Acceptor;
use rustls::{ServerConfig, ServerConnection};

use crate::alpn::{self, AlpnCallback};
use crate::config::Tls;
use crate::connection::READ_BUF;
use crate::trace::Recorder;

/// How far the handshake got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// No byte arrived from the client.
    BeforeAnyBytes,
    /// Bytes arrived, but we had not answered yet: the ClientHello was incomplete or
    /// unacceptable.
    ClientHello,
    /// We had answered the ClientHello (ServerHello, our certificate, ...), and the
    /// client had not finished.
    AfterServerHello,
    /// The client's certificate was missing or refused (client authentication).
    ClientCertificate,
}

impl Phase {
    /// A short name for logs and JSON: `before-any-bytes`, `client-hello`,
    /// `after-server-hello`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::BeforeAnyBytes => "before-any-bytes",
            Phase::ClientHello => "client-hello",
            Phase::AfterServerHello => "after-server-hello",
            Phase::ClientCertificate => "client-certificate",
        }
    }
}

/// What ended a failed handshake, mechanically.
#[derive(Debug)]
pub(crate) enum Failure {
    Tls(rustls::Error),
    Timeout,
    PeerClosed,
    Io(io::Error),
    Shutdown,
}

/// The record of a failed handshake, for [`crate::diagnose`].
pub(crate) struct Failed {
    pub failure: Failure,
    pub phase: Phase,
    /// The first bytes the client sent (at most [`KEEP`]).
    pub first_bytes: Vec<u8>,
    pub bytes_received: usize,
    /// The alert we sent, when it went out in plaintext and we could read it back.
    pub alert_sent: Option<rustls::AlertDescription>,
    pub elapsed: Duration,
    /// The client certificate presented, if client authentication ran.
    pub presented: Option<crate::client_auth::Presented>,
    /// The flights so far, when tracing.
    pub trace: Option<Recorder>,
    /// How the certificate was chosen by name (SNI), if it got that far.
    pub sni: Option<crate::sni::Choice>,
    /// What the ALPN callback was offered and answered, if it ran.
    pub alpn: Option<alpn::Answer>,
    /// The client spoke plain HTTP and got an HTTP 400 instead of a TLS alert.
    pub answered_http: bool,
}

/// A finished handshake: the connection, its trace, what the ALPN callback did, and the
/// client's first bytes (its ClientHello, to report an IP address sent as SNI).
pub(crate) struct Done {
    pub conn: ServerConnection,
    pub trace: Option<Recorder>,
    pub first_bytes: Vec<u8>,
}

/// How many of the client's first bytes are kept for diagnosis: a whole ClientHello
/// usually fits (post-quantum key shares make it ~1.8 KiB).
pub(crate) const KEEP: usize = 4096;

/// Runs the handshake on `sock`. On success the connection is ready for application data
/// (plaintext that came with the client's Finished may already be buffered in it).
/// With `trace`, the flights are recorded for [`crate::trace`].
pub(crate) fn run(
    sock: &TcpStream,
    tls: &Tls,
    deadline: Instant,
    started: Instant,
    stopping: &dyn Fn() -> bool,
    trace: bool,
) -> Result<Done, Box<Failed>> {
    let mut hs = Handshake {
        sock,
        first_bytes: Vec::new(),
        bytes_received: 0,
        sent_any: false,
        alert_sent: None,
        trace: trace.then(|| Recorder::new(started)),
        alpn: None,
        answered_http: false,
        read_timeout: None,
        write_timeout: false,
    };
    let mut buf = vec![0u8; READ_BUF];
    let conn = match &tls.alpn_callback {
        None => ServerConnection::new(tls.config.clone()).map_err(Failure::Tls),
        Some(callback) => hs.accept(&tls.config, &**callback, &mut buf, deadline, stopping),
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
            return Ok(Done {
                conn,
                trace: hs.trace.take(),
                first_bytes: std::mem::take(&mut hs.first_bytes),
            });
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
                    let _ = hs.flush(&mut conn, deadline);
                }
                hs.close_gently(deadline);
                let mut failed = hs.failed(Failure::Tls(e), started);
                failed.phase = phase;
                return Err(failed);
            }
        }
    }
}

/// Whether our certificate resolver refused this thread's client by name (SNI).
fn refused_by_name() -> bool {
    crate::sni::peek_refused()
}

struct Handshake<'a> {
    sock: &'a TcpStream,
    first_bytes: Vec<u8>,
    bytes_received: usize,
    sent_any: bool,
    alert_sent: Option<rustls::AlertDescription>,
    trace: Option<Recorder>,
    alpn: Option<alpn::Answer>,
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
        base: &Arc<ServerConfig>,
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
                    let (config, answer) = alpn::configure(
                        base,
                        callback,
                        hello.server_name(),
                        hello.alpn().map(|a| a.collect()),
                    );
                    self.alpn = answer;
                    match accepted.into_connection(config) {
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
            self.close_gently(deadline);
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
            presented: None,
            trace: self.trace.take(),
            sni: None,
            alpn: self.alpn.take(),
            answered_http: self.answered_http,
        })
    }

    fn read(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, Failure> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Timeout);
            }
            // The timeout set earlier is never shorter than what is left (time only
            // passes), so keeping it can only make a timeout come late, by under SLACK.
            if self.read_timeout.map_or(true, |t| t > left + SLACK) {
                self.sock
                    .set_read_timeout(Some(left))
                    .map_err(Failure::Io)?;
                self.read_timeout = Some(left);
            }
            match (&*self.sock).read(buf) {
                Ok(0) => return Err(Failure::PeerClosed),
                Ok(n) => {
                    if let Some(t) = &mut self.trace {
                        t.flight(true, &buf[..n]);
                    }
                    let keep = n.min(KEEP.saturating_sub(self.first_bytes.len()));
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
                    return Err(Failure::Timeout)
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
        if self.sent_any || !crate::diagnose::is_plain_http(&self.first_bytes) {
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
        if refused_by_name() {
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

    /// After a fatal alert: send our FIN, then read until the client closes (briefly), so
    /// that closing does not turn into a reset that destroys the alert in flight.
    fn close_gently(&mut self, deadline: Instant) {
        let _ = self.sock.shutdown(Shutdown::Write);
        let until = deadline.min(Instant::now() + Duration::from_millis(500));
        let mut sink = [0u8; 1024];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.sock.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match (&*self.sock).read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
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
