//! The blocking style: a secure connection as a `Read + Write` stream on its own thread.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::connection::{Conn, ReadOutcome, READ_BUF};
use crate::socket::TlsSocket;

/// A secure connection as a blocking stream, handed to the closure given to
/// [`Server::bind_streams`](crate::Server::bind_streams). `read` returns 0 once the peer
/// has finished sending; `write` blocks while the peer is not reading. Reading and writing
/// hold no lock while they wait on the socket.
pub struct TlsStream {
    conn: Arc<Conn>,
    plaintext: Vec<u8>,
    pos: usize,
    eof: bool,
    buf: Vec<u8>,
}

impl TlsStream {
    pub(crate) fn new(conn: Arc<Conn>) -> Self {
        let (plaintext, eof) = conn.take_early_plaintext();
        TlsStream {
            conn,
            plaintext,
            pos: 0,
            eof,
            buf: Vec::new(),
        }
    }

    /// The connection's handle and handshake facts (protocol, cipher, SNI, ...).
    pub fn socket(&self) -> TlsSocket {
        self.conn.socket()
    }

    /// Sends close_notify after what was written; reads may continue until the peer closes.
    pub fn end(&self) {
        self.conn.end();
    }
}

impl Read for TlsStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.plaintext.len() {
            if self.eof || out.is_empty() {
                return Ok(0);
            }
            if self.buf.is_empty() {
                self.buf = vec![0u8; READ_BUF];
            }
            match self.conn.read_some(&mut self.buf) {
                ReadOutcome::Chunk(data, end) => {
                    self.plaintext = data;
                    self.pos = 0;
                    self.eof = end.is_some();
                }
                ReadOutcome::Failed(why) => {
                    self.conn.mark_error();
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                }
                ReadOutcome::Destroyed => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the connection was closed",
                    ))
                }
            }
        }
        let n = out.len().min(self.plaintext.len() - self.pos);
        out[..n].copy_from_slice(&self.plaintext[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for TlsStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.conn.write_blocking(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.flush_blocking()
    }
}

/// After the handler returned: close_notify, read until the peer closes (bounded by the
/// linger timer) unless it already has, close. Returns whether the connection had an
/// error.
pub(crate) fn finish(conn: &Arc<Conn>) -> bool {
    conn.end();
    if !conn.peer_ended() {
        let mut buf = vec![0u8; READ_BUF];
        while let ReadOutcome::Chunk(_, None) = conn.read_some(&mut buf) {}
    }
    conn.finish(false)
}
