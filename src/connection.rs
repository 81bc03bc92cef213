//! One secure connection after its handshake: the rustls state behind a mutex, the reader
//! (the connection's worker thread), and a writer thread started only when the peer reads
//! slower than we write.
//!
//! Writes never block the caller: plaintext is encrypted under the lock into `out`, and as
//! much as the kernel takes at once is sent with a non-blocking `send`. What is left is
//! handed to the writer thread, which owns the sending side (`flushing`) until `out` is
//! empty, sending without holding the lock. Records therefore leave in the order they were
//! encrypted. No lock is held across a blocking socket call.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ServerConnection;

use crate::event::{EndAck, Event, EventSender, Payload};
use crate::socket::{SocketInfo, TlsSocket};
use crate::timer::Timers;

/// Room for one full TLS record (16 KiB plaintext + header and AEAD overhead).
pub(crate) const READ_BUF: usize = 16 * 1024 + 512;

/// The most an open connection reads at once: several records when the peer sends in
/// bulk, so one `Data` event (one hop to the event loop) carries up to 64 KiB (half the
/// read limit: see `serve_events`).
const DATA_BUF: usize = 64 * 1024;

/// Limits that apply to every connection of a server.
#[derive(Clone)]
pub(crate) struct Limits {
    pub high_water_mark: usize,
    pub read_limit: usize,
    pub linger: Duration,
}

pub(crate) struct Conn {
    pub(crate) info: Arc<SocketInfo>,
    sock: Arc<TcpStream>,
    state: Mutex<State>,
    /// Wakes the writer thread, and stream writers waiting for room.
    state_cv: Condvar,
    flow: Mutex<Flow>,
    flow_cv: Condvar,
    events: EventSender,
    limits: Limits,
    timers: Timers,
    me: Weak<Conn>,
}

struct State {
    tls: ServerConnection,
    /// Ciphertext not yet handed to the kernel.
    out: Vec<u8>,
    /// Ciphertext the writer thread is sending right now.
    in_flight: usize,
    /// The writer thread owns the sending side until `out` is empty.
    flushing: bool,
    writer: Option<JoinHandle<()>>,
    need_drain: bool,
    /// close_notify queued (or a fatal alert): no more application writes.
    ending: bool,
    /// Our FIN has been sent.
    write_shut: bool,
    /// Destroyed or finished: nothing more is sent.
    closed: bool,
    had_error: bool,
    /// The peer's close_notify or EOF has been read.
    peer_ended: bool,
    /// ...with close_notify.
    peer_closed_cleanly: bool,
    /// Threads waiting on `state_cv`. A condvar notify costs a system call even when
    /// nobody waits, and writes notify often: only notify when someone does.
    waiters: usize,
}

struct Flow {
    /// Bytes of `Data` events not yet dropped by the consumer.
    unconsumed: usize,
    paused: bool,
    closed: bool,
    /// Threads waiting on `flow_cv`.
    waiters: usize,
}

/// What one read from the peer produced.
pub(crate) enum ReadOutcome {
    /// Plaintext (possibly empty), and `Some(clean)` if the peer finished sending.
    Chunk(Vec<u8>, Option<bool>),
    /// The peer broke the protocol or the socket failed; the alert (if any) is queued.
    Failed(String),
    /// Nothing arrived within the socket's read timeout (set only by the stream style's
    /// `TlsStream::set_read_timeout`). Nothing was read, so the TLS state is untouched and
    /// the connection stays usable.
    TimedOut,
    /// We destroyed the connection.
    Destroyed,
}

impl Conn {
    pub(crate) fn new(
        info: Arc<SocketInfo>,
        sock: Arc<TcpStream>,
        tls: ServerConnection,
        events: EventSender,
        limits: Limits,
        timers: Timers,
    ) -> Arc<Conn> {
        Arc::new_cyclic(|me| Conn {
            info,
            sock,
            state: Mutex::new(State {
                tls,
                out: Vec::new(),
                in_flight: 0,
                flushing: false,
                writer: None,
                need_drain: false,
                ending: false,
                write_shut: false,
                closed: false,
                had_error: false,
                peer_ended: false,
                peer_closed_cleanly: false,
                waiters: 0,
            }),
            state_cv: Condvar::new(),
            flow: Mutex::new(Flow {
                unconsumed: 0,
                paused: false,
                closed: false,
                waiters: 0,
            }),
            flow_cv: Condvar::new(),
            events,
            limits,
            timers,
            me: me.clone(),
        })
    }

    pub(crate) fn socket(&self) -> TlsSocket {
        TlsSocket::new(self.info.clone(), self.me.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock can only come from rustls itself; the state is
        // still the best we have, so keep going rather than poison every handle.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_flow(&self) -> MutexGuard<'_, Flow> {
        self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- writing -------------------------------------------------------------------

    pub(crate) fn write(&self, data: &[u8]) -> bool {
        let mut st = self.lock();
        if st.closed || st.ending {
            log::debug!(
                "#{}: write of {} bytes after end/destroy ignored",
                self.info.id,
                data.len()
            );
            return false;
        }
        if data.is_empty() {
            return Self::pending(&st) < self.limits.high_water_mark;
        }
        // The rustls buffer limit is off, so this takes everything.
        let _ = st.tls.writer().write_all(data);
        self.push(&mut st);
        let below = Self::pending(&st) < self.limits.high_water_mark;
        if !below {
            st.need_drain = true;
        }
        below
    }

    /// Blocking write for the stream style: waits while the output is over the
    /// high-water mark.
    pub(crate) fn write_blocking(&self, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        loop {
            if st.closed || st.ending {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the connection is ending or closed",
                ));
            }
            if Self::pending(&st) < self.limits.high_water_mark {
                break;
            }
            st = self.wait_state(st);
        }
        let _ = st.tls.writer().write_all(data);
        self.push(&mut st);
        Ok(())
    }

    /// Blocks until everything written has been handed to the kernel.
    pub(crate) fn flush_blocking(&self) -> io::Result<()> {
        let mut st = self.lock();
        while !st.closed && (st.flushing || !st.out.is_empty()) {
            st = self.wait_state(st);
        }
        if st.closed && st.had_error {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "connection failed",
            ));
        }
        Ok(())
    }

    fn wait_state<'a>(&self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        st.waiters += 1;
        let mut st = self.state_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        st.waiters -= 1;
        st
    }

    /// Wakes the writer thread and blocked stream writers, if any wait. Call with the
    /// state locked.
    fn wake_state(&self, st: &State) {
        if st.waiters > 0 {
            self.state_cv.notify_all();
        }
    }

    fn pending(st: &State) -> usize {
        st.out.len() + st.in_flight
    }

    pub(crate) fn buffered(&self) -> usize {
        Self::pending(&self.lock())
    }

    /// Sends the records rustls has ready. When nothing of ours waits to be sent (`out`
    /// empty, no writer flushing), rustls writes them straight to the socket (one
    /// non-blocking `sendmsg` of its buffers, no copy into `out`); whatever the kernel does
    /// not take then goes to `out` and the writer thread, as before.
    fn push(&self, st: &mut State) {
        if !st.closed && !st.flushing && st.out.is_empty() {
            while st.tls.wants_write() {
                match st.tls.write_tls(&mut NonBlocking(&self.sock)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.send_failed(st, &e);
                        return;
                    }
                }
            }
            if !st.tls.wants_write() {
                self.flushed(st);
                return;
            }
        }
        self.encode(st);
        self.send_some(st);
    }

    /// Moves every TLS record rustls has ready into `out`.
    fn encode(&self, st: &mut State) {
        while st.tls.wants_write() {
            let State { tls, out, .. } = st;
            if tls.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Sends what the kernel takes without blocking; hands the rest to the writer thread.
    fn send_some(&self, st: &mut State) {
        if st.closed {
            st.out.clear();
            return;
        }
        if st.flushing {
            self.wake_state(st);
            return;
        }
        while !st.out.is_empty() {
            match send_nonblocking(&self.sock, &st.out) {
                Ok(n) => {
                    st.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    st.flushing = true;
                    self.start_writer(st);
                    self.wake_state(st);
                    return;
                }
                Err(e) => {
                    self.send_failed(st, &e);
                    return;
                }
            }
        }
        self.flushed(st);
    }

    /// `out` is empty and nobody is sending: emit `Drain`, send our FIN if we are ending.
    fn flushed(&self, st: &mut State) {
        if st.out.capacity() > 4 * READ_BUF {
            st.out = Vec::new();
        }
        if st.need_drain {
            st.need_drain = false;
            self.events.send(Event::Drain(self.socket()));
        }
        if st.ending && !st.write_shut && !st.closed {
            st.write_shut = true;
            let _ = self.sock.shutdown(Shutdown::Write);
            self.timers
                .destroy_at(Instant::now() + self.limits.linger, self.me.clone());
        }
        self.wake_state(st);
    }

    fn start_writer(&self, st: &mut State) {
        if st.writer.is_some() {
            return;
        }
        let Some(me) = self.me.upgrade() else { return };
        let spawned = std::thread::Builder::new()
            .name(format!("tls-server-w{}", self.info.id))
            .stack_size(64 * 1024)
            .spawn(move || me.writer_loop());
        match spawned {
            Ok(handle) => st.writer = Some(handle),
            Err(e) => self.fail(st, &format!("cannot start a writer thread: {e}")),
        }
    }

    fn writer_loop(&self) {
        let mut st = self.lock();
        loop {
            while !st.flushing && !st.closed {
                st = self.wait_state(st);
            }
            if st.closed {
                return;
            }
            if st.out.is_empty() {
                st.flushing = false;
                self.flushed(&mut st);
                continue;
            }
            let mut chunk = std::mem::take(&mut st.out);
            st.in_flight = chunk.len();
            drop(st);
            let sent = (&*self.sock).write_all(&chunk);
            st = self.lock();
            st.in_flight = 0;
            if let Err(e) = sent {
                self.send_failed(&mut st, &e);
                return;
            }
            if st.out.is_empty() && chunk.capacity() <= 4 * READ_BUF {
                chunk.clear();
                st.out = chunk;
            }
            self.wake_state(&st);
        }
    }

    /// A send failed. A peer that sent close_notify and then closed its socket without
    /// reading our last records (our close_notify, session tickets) — `openssl s_client`
    /// and many clients do — has ended the conversation normally: the connection closes
    /// without an error. Anything else is an error.
    fn send_failed(&self, st: &mut State, e: &io::Error) {
        let gone = matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        );
        if gone && st.peer_closed_cleanly && st.ending && !st.closed {
            log::debug!(
                "#{}: the peer closed its socket after its close_notify, before our last records ({e})",
                self.info.id
            );
            st.closed = true;
            st.out.clear();
            let _ = self.sock.shutdown(Shutdown::Both);
            self.close_flow();
            self.wake_state(st);
            return;
        }
        self.fail(st, &format!("send failed: {e}"));
    }

    /// The connection broke: report it once and close.
    fn fail(&self, st: &mut State, why: &str) {
        if !st.closed {
            st.had_error = true;
            st.closed = true;
            st.out.clear();
            let _ = self.sock.shutdown(Shutdown::Both);
            self.events.send(Event::Error {
                socket: self.socket(),
                error: why.to_string(),
            });
            self.close_flow();
        }
        self.wake_state(st);
    }

    pub(crate) fn end(&self) {
        let mut st = self.lock();
        if st.closed || st.ending {
            return;
        }
        st.ending = true;
        st.tls.send_close_notify();
        self.push(&mut st);
    }

    pub(crate) fn destroy(&self) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        st.out.clear();
        let _ = self.sock.shutdown(Shutdown::Both);
        self.wake_state(&st);
        drop(st);
        self.close_flow();
    }

    /// The peer did not close within the linger time after our close_notify.
    pub(crate) fn linger_expired(&self) {
        log::debug!(
            "#{}: peer did not close within {:?} after close_notify; closing",
            self.info.id,
            self.limits.linger
        );
        self.destroy();
    }

    pub(crate) fn mark_error(&self) {
        self.lock().had_error = true;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    // ----- reading -------------------------------------------------------------------

    fn close_flow(&self) {
        let mut flow = self.lock_flow();
        flow.closed = true;
        self.wake_flow(&flow);
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        let mut flow = self.lock_flow();
        flow.paused = paused;
        self.wake_flow(&flow);
    }

    /// A `Data` payload of `n` bytes was dropped by its consumer.
    pub(crate) fn consumed(&self, n: usize) {
        let mut flow = self.lock_flow();
        flow.unconsumed = flow.unconsumed.saturating_sub(n);
        self.wake_flow(&flow);
    }

    fn wait_flow<'a>(&self, mut flow: MutexGuard<'a, Flow>) -> MutexGuard<'a, Flow> {
        flow.waiters += 1;
        let mut flow = self.flow_cv.wait(flow).unwrap_or_else(|e| e.into_inner());
        flow.waiters -= 1;
        flow
    }

    fn wake_flow(&self, flow: &Flow) {
        if flow.waiters > 0 {
            self.flow_cv.notify_all();
        }
    }

    /// Waits until reading is allowed; `false` if the connection closed meanwhile.
    fn wait_to_read(&self) -> bool {
        let mut flow = self.lock_flow();
        while !flow.closed && (flow.paused || flow.unconsumed >= self.limits.read_limit) {
            flow = self.wait_flow(flow);
        }
        !flow.closed
    }

    /// Waits while the connection is paused; `false` if it closed meanwhile. A read that
    /// was already waiting on the socket when `pause()` came holds its bytes here, so no
    /// `Data` follows `pause()` (Node's promise).
    fn wait_unpaused(&self) -> bool {
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
    fn read_socket(&self, buf: &mut [u8]) -> Result<usize, ReadOutcome> {
        loop {
            match (&*self.sock).read(buf) {
                Ok(n) => return Ok(n),
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
                        ReadOutcome::Failed(format!("receive failed: {e}"))
                    });
                }
            }
        }
    }

    /// Decrypts what one read brought (`input` empty: the peer closed TCP).
    fn decrypt(&self, mut input: &[u8]) -> ReadOutcome {
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
                return ReadOutcome::Failed(format!("TLS input rejected: {e}"));
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
                Err(e) => {
                    // rustls queued a fatal alert: send it before anything closes.
                    st.ending = true;
                    self.push(&mut st);
                    return ReadOutcome::Failed(format!("TLS error: {e}"));
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
        ReadOutcome::Chunk(data, end)
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
        (data, closed)
    }

    /// Closes after the peer ended or failed: waits until our side has sent everything
    /// and its FIN (after `End`, that is once its [`EndAck`] was dropped; the linger timer
    /// bounds the sending), stops the writer, closes the socket. After a protocol error,
    /// only the queued alert is sent. Returns whether the connection had an error.
    pub(crate) fn finish(&self, after_error: bool) -> bool {
        let mut st = self.lock();
        if after_error && !st.ending && !st.closed {
            st.ending = true;
            self.push(&mut st);
        }
        while !st.closed && !st.write_shut {
            st = self.wait_state(st);
        }
        st.closed = true;
        let writer = st.writer.take();
        self.wake_state(&st);
        drop(st);
        let _ = self.sock.shutdown(Shutdown::Both);
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.close_flow();
        self.lock().had_error
    }
}

/// One `send` that never blocks, whatever the socket's mode.
fn send_nonblocking(sock: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    socket2::SockRef::from(sock).send_with_flags(buf, libc::MSG_DONTWAIT)
}

/// The socket as a writer whose every call is one non-blocking `send`/`sendmsg`, for
/// rustls's `write_tls` (which hands it all its queued records as one vectored write).
struct NonBlocking<'a>(&'a TcpStream);

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_nonblocking(self.0, buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match bufs {
            // One record (the usual small write): plain `send` is the cheaper call.
            [one] => send_nonblocking(self.0, one),
            _ => socket2::SockRef::from(self.0).send_vectored_with_flags(bufs, libc::MSG_DONTWAIT),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The worker thread's life after a successful handshake, in the event style: read,
/// decrypt, emit `Data`; on the peer's end emit `End` and wait for our side to finish.
/// Returns whether the connection had an error; the caller emits `Close`.
pub(crate) fn serve_events(conn: &Arc<Conn>, events: &EventSender) -> bool {
    let socket = conn.socket();
    events.send(Event::SecureConnection(socket.clone()));
    let (early, closed) = conn.take_early_plaintext();
    let mut pending = Some(ReadOutcome::Chunk(early, closed.then_some(true)));
    // An idle connection waits in `read` on this small buffer, in stack pages the
    // handshake has already touched: it holds no heap buffer. A read that fills it means
    // the peer sends in bulk, and the following reads use `big` (several records per
    // `Data`, one hop to the event loop for each) until one returns little again.
    let mut small = [0u8; READ_BUF];
    let mut big: Vec<u8> = Vec::new();
    // Half the read limit, so that the next read (and its decryption) can go on while the
    // event loop still holds the previous `Data`.
    let chunk = (conn.limits.read_limit / 2).clamp(READ_BUF, DATA_BUF);
    let mut failed = false;
    loop {
        let outcome = match pending.take() {
            Some(outcome) => outcome,
            None if !conn.wait_to_read() => break,
            None => {
                let buf: &mut [u8] = if big.is_empty() { &mut small } else { &mut big };
                match conn.read_socket(buf) {
                    Err(outcome) => outcome,
                    Ok(n) => {
                        let outcome = conn.decrypt(&buf[..n]);
                        if big.is_empty() {
                            if n == READ_BUF {
                                big = vec![0u8; chunk];
                            }
                        } else if n < READ_BUF {
                            big = Vec::new();
                        }
                        outcome
                    }
                }
            }
        };
        match outcome {
            ReadOutcome::Chunk(data, end) => {
                // pause() may have come while this read waited on the socket.
                if (!data.is_empty() || end.is_some()) && !conn.wait_unpaused() {
                    break;
                }
                emit_data(conn, events, data);
                if let Some(clean) = end {
                    events.send(Event::End {
                        socket: socket.clone(),
                        clean,
                        ack: EndAck::new(Arc::downgrade(conn)),
                    });
                    break;
                }
            }
            ReadOutcome::Failed(why) => {
                conn.mark_error();
                events.send(Event::Error {
                    socket: socket.clone(),
                    error: why,
                });
                failed = true;
                break;
            }
            ReadOutcome::Destroyed => break,
            // No read timeout is set in this style; if one were, just read again.
            ReadOutcome::TimedOut => {}
        }
    }
    drop(big);
    conn.finish(failed)
}

fn emit_data(conn: &Arc<Conn>, events: &EventSender, data: Vec<u8>) {
    if data.is_empty() {
        return;
    }
    conn.lock_flow().unconsumed += data.len();
    events.send(Event::Data {
        socket: conn.socket(),
        data: Payload::new(data, Arc::downgrade(conn)),
    });
}
