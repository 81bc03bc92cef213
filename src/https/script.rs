//! A scripted connection for the conversation's unit tests and the fuzzer: each read returns
//! the next chunk; when the script is over, a read times out (`idle`) or sees the peer close.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Duration;

use super::Transport;

/// A scripted connection: each read returns the next chunk; when the script is over,
/// a read times out (`idle`) or sees the peer close.
pub(crate) struct Script {
    pub reads: VecDeque<Vec<u8>>,
    pub idle: bool,
    pub written: Vec<u8>,
    pub ended: bool,
}

impl Read for Script {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(out.len());
                out[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.reads.push_front(chunk.split_off(n));
                }
                Ok(n)
            }
            None if self.idle => Err(io::ErrorKind::TimedOut.into()),
            None => Ok(0),
        }
    }
}

impl Write for Script {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Script {
    fn set_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn end(&mut self) {
        self.ended = true;
    }
}
