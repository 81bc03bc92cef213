//! One connection's HTTP conversation: read until a request head is complete, parse it,
//! read its body, answer, and go round again until the connection should close.

use std::io;

use super::parse::{parse_head, Got, Refusal};
use super::respond::reason_phrase;
use super::respond::write_response;
use super::{Ending, Options, Request, Response, Served, Transport};

pub(crate) fn run<T: Transport>(
    io: &mut T,
    options: &Options,
    mut handler: impl FnMut(&Request) -> Response,
) -> io::Result<Served> {
    io.set_timeout(options.idle_timeout)?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut requests = 0u64;
    let done = |io: &mut T, requests, ending| {
        io.end();
        Ok(Served { requests, ending })
    };
    loop {
        // The request line and headers: parse what we have, read more while incomplete.
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&buf, options) {
                    Ok(Some(head)) => break head,
                    Ok(None) => {}
                    Err(refusal) => return refuse(io, requests, refusal),
                }
            }
            match read_more(io, &mut buf, &mut chunk)? {
                Got::Data => {}
                Got::Eof => return done(io, requests, Ending::PeerClosed),
                Got::TimedOut if buf.iter().all(|b| b.is_ascii_whitespace()) => {
                    log::debug!("https: no request within the idle timeout; closing");
                    return done(io, requests, Ending::IdleTimeout);
                }
                Got::TimedOut => {
                    let why = "the request stalled before its headers were complete";
                    return refuse(io, requests, Refusal(408, why.into()));
                }
            }
        };
        // The body.
        let need = head.len + head.body_len;
        if head.expect_continue && buf.len() < need {
            io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            io.flush()?;
        }
        while buf.len() < need {
            match read_more(io, &mut buf, &mut chunk)? {
                Got::Data => {}
                Got::Eof => return done(io, requests, Ending::PeerClosed),
                Got::TimedOut => {
                    let why = "the request body stalled before Content-Length bytes came";
                    return refuse(io, requests, Refusal(408, why.into()));
                }
            }
        }
        requests += 1;
        let request = Request {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body: buf[head.len..need].to_vec(),
            number: requests,
        };
        // Keep what follows: the next pipelined request, if any.
        buf.drain(..need);
        let response = handler(&request);
        let keep_alive = head.keep_alive && !response.asks_to_close();
        let head_only = request.method == "HEAD";
        write_response(io, &response, keep_alive, head_only, options.idle_timeout)?;
        if !keep_alive {
            return done(io, requests, Ending::Close);
        }
    }
}

pub(super) fn read_more<T: Transport>(
    io: &mut T,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> io::Result<Got> {
    loop {
        match io.read(chunk) {
            Ok(0) => return Ok(Got::Eof),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(Got::Data);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                return Ok(Got::TimedOut)
            }
            Err(e) => return Err(e),
        }
    }
}

/// Answers a refused request with its status and reason, `Connection: close`, and ends.
pub(super) fn refuse<T: Transport>(
    io: &mut T,
    requests: u64,
    Refusal(status, why): Refusal,
) -> io::Result<Served> {
    log::debug!("https: refusing a request with {status}: {why}");
    let response = Response::text(
        status,
        format!("{status} {}: {why}\n", reason_phrase(status)),
    );
    write_response(io, &response, false, false, None)?;
    io.end();
    Ok(Served {
        requests,
        ending: Ending::Refused(status),
    })
}
