//! The receiving half of a connection: one blocking read from the socket with no lock
//! held, decryption under the lock, flow control (`pause`, the read limit), and the close
//! once the peer has ended.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use super::{Conn, Flow};
use crate::explain::failure::{Broke, ConnectionError};

/// What one read from the peer produced.
pub(crate) enum ReadOutcome {
    /// Plaintext (possibly empty), and `Some(clean)` if the peer finished sending.
    Chunk(Vec<u8>, Option<bool>),
    /// The peer broke the protocol or the socket failed, explained; the alert (if any) is
    /// queued. Not reported yet: the reader reports it.
    Failed(Box<ConnectionError>),
    /// Nothing arrived within the socket's read timeout (set only by the stream style's
    /// `TlsStream::set_read_timeout`). Nothing was read, so the TLS state is untouched and
    /// the connection stays usable.
    TimedOut,
    /// We destroyed the connection.
    Destroyed,
}

impl Conn {
    pub(super) fn close_flow(&self) {
        let mut flow = self.lock_flow();
        flow.closed = true;
        self.wake_flow(&flow);
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        let mut flow = self.lock_flow();
        flow.paused = paused;
        self.wake_flow(&flow);
    }

    /// `n` bytes of plaintext were handed to the consumer as `Data`: they count against
    /// the read limit until [`consumed`](Self::consumed).
    pub(crate) fn delivered(&self, n: usize) {
        self.lock_flow().unconsumed += n;
    }

    /// The read limit (see `ServerOptions::read_limit`).
    pub(crate) fn read_limit(&self) -> usize {
        self.limits.read_limit
    }

    /// A `Data` payload of `n` bytes was dropped by its consumer.
    pub(crate) fn consumed(&self, n: usize) {
        let mut flow = self.lock_flow();
        flow.unconsumed = flow.unconsumed.saturating_sub(n);
        self.wake_flow(&flow);
    }

    pub(super) fn wait_flow<'a>(&self, mut flow: MutexGuard<'a, Flow>) -> MutexGuard<'a, Flow> {
        flow.waiters += 1;
        let mut flow = self.flow_cv.wait(flow).unwrap_or_else(|e| e.into_inner());
        flow.waiters -= 1;
        flow
    }

    pub(super) fn wake_flow(&self, flow: &Flow) {
        if flow.waiters > 0 {
            self.flow_cv.notify_all();
        }
    }

    /// Waits until reading is allowed; `false` if the connection closed meanwhile.
    pub(crate) fn wait_to_read(&self) -> bool {
        let mut flow = self.lock_flow();
        while !flow.closed && (flow.paused || flow.unconsumed >= self.limits.read_limit) {
            flow = self.wait_flow(flow);
        }
        !flow.closed
    }

    /// Waits while the connection is paused; `false` if it closed meanwhile. A read that
    /// was already waiting on the socket when `pause()` came holds its bytes here, so no
    /// `Data` follows `pause()` (Node's promise).
    pub(crate) fn wait_unpaused(&self) -> bool {
        let mut flow = self.lock_flow();
        while !flow.closed && flow.paused {
            flow = self.wait_flow(flow);
        }
        !flow.closed
    }

    /// The socket's read timeout, for the stream style (`None`: block). The event style
    /// never sets one.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    /// Whether the peer has finished sending (close_notify or EOF seen).
    pub(crate) fn peer_ended(&self) -> bool {
        self.lock().peer_ended
    }

    /// Reads once from the socket (blocking, no lock held) and decrypts what arrived.
    pub(crate) fn read_some(&self, buf: &mut [u8]) -> ReadOutcome {
        match self.read_socket(buf) {
            Ok(n) => self.decrypt(&buf[..n]),
            Err(outcome) => outcome,
        }
    }

    /// One blocking read from the socket, no lock held.
    pub(crate) fn read_socket(&self, buf: &mut [u8]) -> Result<usize, ReadOutcome> {
        loop {
            match (&*self.sock).read(buf) {
                Ok(n) => {
                    if n > 0 {
                        self.active();
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // SO_RCVTIMEO expired (EAGAIN): no byte was read.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && !self.is_closed() =>
                {
                    return Err(ReadOutcome::TimedOut);
                }
                Err(e) => {
                    return Err(if self.is_closed() {
                        ReadOutcome::Destroyed
                    } else {
                        ReadOutcome::Failed(self.explain(Broke::Receive(e)))
                    });
                }
            }
        }
    }

    /// Decrypts what one read brought (`input` empty: the peer closed TCP).
    pub(crate) fn decrypt(&self, mut input: &[u8]) -> ReadOutcome {
        let mut st = self.lock();
        if st.closed {
            return ReadOutcome::Destroyed;
        }
        // The plaintext is at most the ciphertext, plus the rest of a record begun in an
        // earlier read: reserving that up front spares most reallocations (and copies).
        let mut data = Vec::with_capacity(input.len());
        let mut end = None;
        if input.is_empty() {
            end = Some(false);
        }
        while !input.is_empty() {
            if let Err(e) = st.tls.read_tls(&mut input) {
                drop(st);
                return ReadOutcome::Failed(self.explain(Broke::Input(e)));
            }
            // Send what is queued first, so that anything queued by a failure below is
            // known to be rustls's alert.
            if st.tls.wants_write() {
                self.push(&mut st);
            }
            match st.tls.process_new_packets() {
                Ok(io_state) => {
                    let ready = io_state.plaintext_bytes_to_read();
                    if ready > 0 {
                        // read_to_end fills spare capacity without zeroing it first; it
                        // stops with WouldBlock once rustls has nothing more.
                        data.reserve(ready);
                        let _ = st.tls.reader().read_to_end(&mut data);
                    }
                    if io_state.peer_has_closed() {
                        end = Some(true);
                    }
                }
                Err(error) => {
                    // rustls queued a fatal alert: send it before anything closes. For
                    // some errors (records interleaved with a split handshake message, a
                    // handshake message too large) it queues none, and gives no way to
                    // send one once traffic is encrypted: close_notify (which rustls skips
                    // after a fatal alert) at least tells the peer the close is ours.
                    let alert_queued = st.tls.wants_write();
                    st.tls.send_close_notify();
                    st.ending = true;
                    self.push(&mut st);
                    drop(st);
                    return ReadOutcome::Failed(self.explain(Broke::Tls {
                        error,
                        alert_queued,
                    }));
                }
            }
        }
        // Session tickets, key-update replies.
        if st.tls.wants_write() {
            self.push(&mut st);
        }
        if let Some(clean) = end {
            st.peer_ended = true;
            st.peer_closed_cleanly = clean;
        }
        self.count_read(data.len());
        ReadOutcome::Chunk(data, end)
    }

    fn count_read(&self, n: usize) {
        self.traffic.read.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Plaintext that arrived together with the client's Finished message, and whether
    /// its close_notify came in the same read (a client that sends one request and closes
    /// can put all three in one TCP segment).
    pub(crate) fn take_early_plaintext(&self) -> (Vec<u8>, bool) {
        let mut st = self.lock();
        let mut data = Vec::new();
        // rustls's reader ends with Ok after close_notify, and with WouldBlock while the
        // connection is open.
        let closed = st.tls.reader().read_to_end(&mut data).is_ok();
        if closed {
            st.peer_ended = true;
            st.peer_closed_cleanly = true;
        }
        self.count_read(data.len());
        (data, closed)
    }

    /// Closes after the peer ended or failed: waits until our side has sent everything
    /// and its FIN (after `End`, that is once its [`EndAck`] was dropped; the linger timer
    /// bounds the sending), stops the writer, closes the socket. After a protocol error,
    /// only the queued alert is sent, and what the peer sent meanwhile is read and dropped
    /// first (see [`drain`]). Returns whether the connection had an error.
    pub(crate) fn finish(&self, after_error: bool) -> bool {
        let mut st = self.lock();
        if after_error && !st.ending && !st.closed {
            st.ending = true;
            self.push(&mut st);
        }
        while !st.closed && !st.write_shut {
            st = self.wait_state(st);
        }
        let drain_first = after_error && !st.closed;
        st.closed = true;
        let writer = st.writer.take();
        self.wake_state(&st);
        drop(st);
        if drain_first {
            drain(&self.sock);
        }
        let _ = self.sock.shutdown(Shutdown::Both);
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.close_flow();
        self.lock().had_error
    }
}

/// How much a closing connection reads and drops, at most, and for how long.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads and drops what the peer has sent, until it closes, [`DRAIN_BYTES`] or
/// [`DRAIN_TIME`]: called after our last record (an alert) and our FIN. Closing a socket
/// with unread bytes makes the kernel send a reset, and a reset can overtake the alert still
/// in flight: the peer would see "connection reset" instead of why.
pub(crate) fn drain(sock: &TcpStream) {
    let until = Instant::now() + DRAIN_TIME;
    let mut sink = [0u8; 4096];
    let mut read = 0;
    while read < DRAIN_BYTES {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*sock).read(&mut sink) {
            Ok(0) => return,
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
