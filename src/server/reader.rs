//! The connection thread's life after the handshake in the event style: read, decrypt,
//! emit `Data`; on the peer's end emit `End` and wait for our side to finish.

use std::sync::Arc;

use crate::connection::{Conn, ReadOutcome, READ_BUF};
use crate::event::{EndAck, Event, Payload};
use crate::events::EventSender;
use crate::socket::TlsSocket;

/// The most an open connection reads at once: several records when the peer sends in
/// bulk, so one `Data` event (one hop to the event loop) carries up to 64 KiB (half the
/// read limit, see below).
const DATA_BUF: usize = 64 * 1024;

/// The buffer an idle connection waits on: a ping, a request line, a small message. A
/// read that fills it switches to the big buffer. Small because the whole of it is
/// zeroed, so its every page is touched, on each connection's stack.
const SMALL_BUF: usize = 2048;

/// Reads until the peer ends or the connection fails; returns whether it had an error.
/// The caller emits `Close`. It runs on a reader thread, which never runs a handshake: an
/// idle connection keeps only the stack pages this loop and one read have touched.
pub(crate) fn run(conn: &Arc<Conn>, events: &EventSender) -> bool {
    let socket = TlsSocket::of(conn);
    let (early, closed) = conn.take_early_plaintext();
    let mut pending = Some(ReadOutcome::Chunk(early, closed.then_some(true)));
    // An idle connection waits in `read` on this small buffer on the stack: it holds no
    // heap buffer. A read that fills it means the peer sends in bulk, and the following
    // reads use `big` (several records per `Data`, one hop to the event loop for each)
    // until one returns less than a record again.
    let mut small = [0u8; SMALL_BUF];
    let mut big: Vec<u8> = Vec::new();
    // Half the read limit, so that the next read (and its decryption) can go on while the
    // event loop still holds the previous `Data`.
    let chunk = (conn.read_limit() / 2).clamp(READ_BUF, DATA_BUF);
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
                            if n == SMALL_BUF {
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
            ReadOutcome::Failed(error) => {
                conn.report(error);
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
    conn.delivered(data.len());
    events.send(Event::Data {
        socket: TlsSocket::of(conn),
        data: Payload::new(data, Arc::downgrade(conn)),
    });
}
