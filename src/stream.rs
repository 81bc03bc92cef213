//! The blocking style: a secure connection as a `Read + Write` stream on its own thread.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

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
        TlsSocket::of(&self.conn)
    }

    /// Sends close_notify after what was written; reads may continue until the peer closes.
    pub fn end(&self) {
        self.conn.end();
    }

    /// Bounds how long one [`read`](Read::read) waits for the peer (like
    /// [`TcpStream::set_read_timeout`](std::net::TcpStream::set_read_timeout)); `None`, the
    /// default, waits for ever. When nothing arrives in time, `read` fails with
    /// [`io::ErrorKind::TimedOut`] — and that is all: no byte was consumed, the TLS state
    /// is intact and the connection is not marked as failed, so you can read again, write,
    /// or [`end`](Self::end) it. Use it to close idle keep-alive connections, as
    /// [`https::serve`](crate::https::serve) does, so that they do not hold a pool thread.
    ///
    /// The timeout applies to each wait on the socket, not to a whole message: a peer that
    /// trickles bytes keeps the read going. A zero duration is an error
    /// ([`io::ErrorKind::InvalidInput`]), as for `TcpStream`.
    ///
    /// ```no_run
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    /// # fn f(mut stream: tls_server::TlsStream) -> std::io::Result<()> {
    /// stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    /// let mut buf = [0u8; 1024];
    /// match stream.read(&mut buf) {
    ///     Ok(0) => println!("the peer closed"),
    ///     Ok(n) => println!("{n} bytes"),
    ///     Err(e) if e.kind() == ErrorKind::TimedOut => stream.end(), // idle: say goodbye
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.conn.set_read_timeout(timeout)
    }
}

/// A read that fails because of the peer (a corrupt record, a reset, ...) returns an
/// `io::Error` whose inner error ([`io::Error::get_ref`]) is the
/// [`ConnectionError`](crate::ConnectionError) that explains it; the same goes out as
/// [`Event::Error`](crate::Event::Error).
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
                ReadOutcome::Failed(error) => {
                    // Reported as an `Error` event, as in the events style, and returned.
                    self.conn.report(error.clone());
                    return Err(io::Error::new(io::ErrorKind::InvalidData, *error));
                }
                ReadOutcome::Destroyed => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the connection was closed",
                    ))
                }
                ReadOutcome::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "nothing arrived within the read timeout",
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
    // The handler may have set a read timeout; the linger timer bounds this wait instead.
    let _ = conn.set_read_timeout(None);
    conn.end();
    if !conn.peer_ended() {
        let mut buf = vec![0u8; READ_BUF];
        while let ReadOutcome::Chunk(_, None) = conn.read_some(&mut buf) {}
    }
    conn.finish(false)
}
