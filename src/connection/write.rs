//! The sending half of a connection. Writes never block the caller: plaintext is
//! encrypted under the lock, and as much as the kernel takes at once is sent with a
//! non-blocking `send`. What is left is handed to the writer thread, which owns the
//! sending side (`flushing`) until `out` is empty, sending without holding the lock.
//! Records therefore leave in the order they were encrypted, and no lock is held across a
//! blocking socket call.

use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;
use std::time::Instant;

use super::{Conn, State, READ_BUF};
use crate::explain::failure::Broke;

impl Conn {
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
        self.traffic
            .written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let mut st = self.send_unlocked(st);
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
        self.traffic
            .written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.push(&mut st);
        Ok(())
    }

    /// Blocks until everything written has been handed to the kernel.
    pub(crate) fn flush_blocking(&self) -> io::Result<()> {
        let mut st = self.lock();
        while !st.closed && (st.flushing || st.sending || !st.out.is_empty()) {
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

    pub(super) fn wait_state<'a>(&self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        st.waiters += 1;
        let mut st = self.state_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        st.waiters -= 1;
        st
    }

    /// Wakes the writer thread and blocked stream writers, if any wait. Call with the
    /// state locked.
    pub(super) fn wake_state(&self, st: &State) {
        if st.waiters > 0 {
            self.state_cv.notify_all();
        }
    }

    pub(super) fn pending(st: &State) -> usize {
        st.out.len() + st.in_flight
    }

    pub(crate) fn buffered(&self) -> usize {
        Self::pending(&self.lock())
    }

    /// Sends the records rustls has ready. When nothing of ours waits to be sent (`out`
    /// empty, no writer flushing), rustls writes them straight to the socket (one
    /// non-blocking `sendmsg` of its buffers, no copy into `out`); whatever the kernel does
    /// not take then goes to `out` and the writer thread, as before.
    pub(super) fn push(&self, st: &mut State) {
        if !st.closed && !st.flushing && !st.sending && st.out.is_empty() {
            while st.tls.wants_write() {
                match st.tls.write_tls(&mut NonBlocking(&self.sock)) {
                    Ok(_) => self.active(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.send_failed(st, e);
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

    /// Sends the records rustls has ready like [`push`](Self::push), but makes the `send`
    /// without holding the lock when nobody else is sending: the records are moved out
    /// under the lock, and this thread owns the sending side (`sending`) until the kernel
    /// has them. The connection's reader, decrypting the peer's next message meanwhile,
    /// does not wait for our system call — nor for us, if the peer we just woke takes our
    /// core while we still hold the lock (one wait and three futex calls per round in a
    /// ping-pong, before). What others queue meanwhile goes out after ours.
    fn send_unlocked<'a>(&'a self, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if st.closed || st.flushing || st.sending || !st.out.is_empty() {
            self.push(&mut st);
            return st;
        }
        self.encode(&mut st);
        let mut chunk = std::mem::take(&mut st.out);
        if chunk.is_empty() {
            self.flushed(&mut st);
            return st;
        }
        st.sending = true;
        st.in_flight = chunk.len();
        drop(st);
        let sent = loop {
            match send_nonblocking(&self.sock, &chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        let mut st = self.lock();
        st.sending = false;
        st.in_flight = 0;
        match sent {
            Ok(n) => {
                self.active();
                chunk.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                self.send_failed(&mut st, e);
                return st;
            }
        }
        if chunk.is_empty() {
            // Keep the buffer for the next write, unless others queued meanwhile.
            if st.out.is_empty() && chunk.capacity() <= 4 * READ_BUF {
                st.out = chunk;
            }
        } else {
            chunk.extend_from_slice(&st.out);
            st.out = chunk;
        }
        // What is left (ours, or queued meanwhile): sent now or by the writer thread; then
        // `Drain`, our FIN, waiters.
        self.push(&mut st);
        st
    }

    /// Moves every TLS record rustls has ready into `out`.
    pub(super) fn encode(&self, st: &mut State) {
        while st.tls.wants_write() {
            let State { tls, out, .. } = st;
            if tls.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Sends what the kernel takes without blocking; hands the rest to the writer thread.
    pub(super) fn send_some(&self, st: &mut State) {
        if st.closed {
            st.out.clear();
            return;
        }
        if st.flushing {
            self.wake_state(st);
            return;
        }
        if st.sending {
            // The thread sending without the lock sends `out` when it is back.
            return;
        }
        while !st.out.is_empty() {
            match send_nonblocking(&self.sock, &st.out) {
                Ok(n) => {
                    self.active();
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
                    self.send_failed(st, e);
                    return;
                }
            }
        }
        self.flushed(st);
    }

    /// `out` is empty and nobody is sending: emit `Drain`, send our FIN if we are ending.
    pub(super) fn flushed(&self, st: &mut State) {
        if st.out.capacity() > 4 * READ_BUF {
            st.out = Vec::new();
        }
        if st.need_drain {
            st.need_drain = false;
            if let Some(me) = self.arc() {
                self.notify.drained(&me);
            }
        }
        if st.ending && !st.write_shut && !st.closed {
            st.write_shut = true;
            let _ = self.sock.shutdown(Shutdown::Write);
            self.timers.destroy_at(
                Instant::now() + self.limits.linger,
                self.info.id,
                self.me.clone(),
            );
        }
        self.wake_state(st);
    }

    pub(super) fn start_writer(&self, st: &mut State) {
        if st.writer.is_some() {
            return;
        }
        let Some(me) = self.arc() else { return };
        let spawned = std::thread::Builder::new()
            .name(format!("tls-server-w{}", self.info.id))
            .stack_size(64 * 1024)
            .spawn(move || me.writer_loop());
        match spawned {
            Ok(handle) => st.writer = Some(handle),
            Err(e) => self.fail(st, Broke::NoWriter(e)),
        }
    }

    pub(super) fn writer_loop(&self) {
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
            if sent.is_ok() {
                self.active();
            }
            st = self.lock();
            st.in_flight = 0;
            if let Err(e) = sent {
                self.send_failed(&mut st, e);
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
    pub(super) fn send_failed(&self, st: &mut State, e: io::Error) {
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
        self.fail(st, Broke::Send(e));
    }

    /// The connection broke: report it once (explained) and close.
    pub(super) fn fail(&self, st: &mut State, broke: Broke) {
        if !st.closed {
            st.had_error = true;
            st.closed = true;
            st.out.clear();
            let _ = self.sock.shutdown(Shutdown::Both);
            if let Some(me) = self.arc() {
                self.notify.failed(&me, self.explain(broke));
            }
            self.close_flow();
        }
        self.wake_state(st);
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
