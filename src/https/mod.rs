//! A small blocking HTTP/1.1 responder over one [`TlsStream`]: HTTPS without a framework.
//!
//! [`Server::bind_streams`](crate::Server::bind_streams) gives each secure connection to
//! your closure on its own pool thread; [`serve`] runs the HTTP conversation on it. It
//! reads a request, parses it with [httparse](https://docs.rs/httparse) (the parser hyper
//! uses), calls your handler, writes the [`Response`], and goes round again until the
//! connection should close:
//!
//! ```no_run
//! use tls_server::https::{self, Response};
//! use tls_server::{Server, ServerOptions};
//!
//! let server = Server::bind_streams(
//!     ServerOptions::new()
//!         .cert_file("certs/server.crt")
//!         .key_file("certs/server.key")
//!         .bind("127.0.0.1:8443"),
//!     |mut stream| {
//!         let socket = stream.socket(); // what the handshake settled
//!         let _ = https::serve(&mut stream, |request| match request.path() {
//!             "/" => Response::text(200, format!("hello over {}\n", socket.protocol())),
//!             _ => Response::text(404, "not found\n"),
//!         });
//!     },
//! )?;
//! server.wait();
//! # Ok::<(), tls_server::Error>(())
//! ```
//!
//! # The HTTP rules it follows (RFC 9112)
//!
//! - **Keep-alive**: an HTTP/1.1 connection stays open after a response unless the request
//!   (or your response) says `Connection: close`; an HTTP/1.0 connection closes unless the
//!   request says `Connection: keep-alive`. Several requests on one connection, and
//!   *pipelined* requests (several in one read), are answered one by one, in order.
//! - **Idle timeout**: a kept-alive connection that sends no new request within
//!   [`Options::idle_timeout`] (5 s by default) is closed, so idle clients do not hold pool
//!   threads. A request that stalls half-way gets `408 Request Timeout`.
//! - **Bodies**: a request body is read when `Content-Length` says so, up to
//!   [`Options::max_body`] (1 MiB; more: `413`). `Expect: 100-continue` is answered.
//!   `Transfer-Encoding` (chunked uploads) is not supported: `501` (`400` together with
//!   `Content-Length`, which is a request-smuggling pattern).
//! - **Refusals**: a malformed request line or header, an HTTP/1.1 request without exactly
//!   one `Host`, or a bad `Content-Length` gets `400`; a header block over
//!   [`Options::max_header_bytes`] (16 KiB) or with more than [`MAX_HEADERS`] fields gets
//!   `431`. Each refusal is a short plain-text reason with `Connection: close`, after which
//!   the connection closes (the request cannot be trusted to end where it seems to).
//! - **Every response** carries `Date` (IMF-fixdate), `Server: tls-server/<version>`,
//!   `Content-Length` and `Connection`; `HEAD` gets the headers of the `GET` answer without
//!   the body. Your handler sets the status, the body and any other header.
//!
//! Methods are your handler's business: answer what you do not support with
//! [`Response::method_not_allowed`] (`405` with `Allow`), as [`facts`] does.

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime};

use crate::connection::SocketInfo;
use crate::stream::TlsStream;
use crate::util::json::Obj;
use crate::util::time::{month_abbrev, utc};

/// The most header fields a request may have (`431` beyond).
pub const MAX_HEADERS: usize = 64;

/// What `Server:` says: `tls-server/<version>`.
pub const SERVER: &str = concat!("tls-server/", env!("CARGO_PKG_VERSION"));

/// Limits and timeouts for [`serve_with`]. [`Options::new`] gives the defaults [`serve`]
/// uses.
#[derive(Clone, Debug)]
pub struct Options {
    idle_timeout: Option<Duration>,
    max_header_bytes: usize,
    max_body: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// Idle timeout 5 s, header block 16 KiB, body 1 MiB.
    pub fn new() -> Self {
        Options {
            idle_timeout: Some(Duration::from_secs(5)),
            max_header_bytes: 16 * 1024,
            max_body: 1024 * 1024,
        }
    }

    /// How long a connection may wait for the next request (and each read within a
    /// request) before it is closed; `None` or zero waits for ever. Node's
    /// `server.keepAliveTimeout`, also 5 s there.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// The largest request line plus headers, in bytes (`431` beyond). Node's
    /// `maxHeaderSize`, also 16 KiB there.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(64);
        self
    }

    /// The largest request body, in bytes (`413` beyond).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }
}

/// One request, as your handler sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ... as sent (methods are case-sensitive).
    pub method: String,
    /// The request target as sent: usually a path with an optional query, `/a/b?c=d`.
    pub target: String,
    /// The HTTP minor version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version: u8,
    /// The header fields in the order received; names as sent (compare them
    /// case-insensitively, or use [`header`](Self::header)); values are bytes, as HTTP
    /// allows.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// 1 for the connection's first request, 2 for the next, ...
    pub number: u64,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of header `name` as text, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The target without its query: `/a/b` for `/a/b?c=d`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query after `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// `"1.1"` or `"1.0"` (Node's `request.httpVersion`).
    pub fn http_version(&self) -> &'static str {
        if self.version == 0 {
            "1.0"
        } else {
            "1.1"
        }
    }
}

/// What your handler answers. [`serve`] adds `Date`, `Server`, `Content-Length` and
/// `Connection`; any of those in `headers` is ignored, except `Connection: close`, which
/// closes the connection after this response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code, 200 to 599 (anything else is sent as 500).
    pub status: u16,
    /// The reason phrase (`OK`, `Not Found`, ...).
    pub reason: String,
    /// Other header fields, such as `Content-Type`.
    pub headers: Vec<(String, String)>,
    /// The body; not sent for `HEAD` requests, 204 and 304.
    pub body: Vec<u8>,
}

impl Response {
    /// `status` with its standard reason phrase and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: reason_phrase(status).to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_body(body.into().into_bytes())
    }

    /// An `application/json` body (you write the JSON).
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Response::new(status)
            .with_header("Content-Type", "application/json")
            .with_body(body.into().into_bytes())
    }

    /// `405 Method Not Allowed` with the `Allow` header RFC 9110 requires, e.g.
    /// `allow = "GET, HEAD"`, and a one-line text body.
    pub fn method_not_allowed(allow: &str) -> Self {
        Response::text(405, format!("method not allowed; use {allow}\n"))
            .with_header("Allow", allow)
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn asks_to_close(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && has_token(v.as_bytes(), "close"))
    }
}

/// Why [`serve`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The client closed the connection (close_notify or TCP FIN) between requests, or in
    /// the middle of one.
    PeerClosed,
    /// A request (`Connection: close`, HTTP/1.0) or your response asked to close.
    Close,
    /// No new request came within the idle timeout.
    IdleTimeout,
    /// A request was refused with this status (400, 408, 413, 431, 501, ...) and the
    /// connection closed.
    Refused(u16),
}

/// What one connection's [`serve`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// Requests handed to the handler.
    pub requests: u64,
    /// Why the conversation stopped.
    pub ending: Ending,
}

/// Serves HTTP/1.1 on `stream` with the default [`Options`] until the connection should
/// close; see [`serve_with`].
pub fn serve(
    stream: &mut TlsStream,
    handler: impl FnMut(&Request) -> Response,
) -> io::Result<Served> {
    serve_with(stream, &Options::new(), handler)
}

/// Serves HTTP/1.1 on `stream` until the connection should close, calling `handler` once
/// per request, in order (see the [module documentation](self) for the rules).
///
/// On `Ok`, the conversation is over and close_notify has been sent
/// ([`TlsStream::end`]); return from your `bind_streams` closure and the server waits for
/// the client to close. `Err` is a broken connection (reset, TLS error, server shutdown
/// while writing). The idle timeout is set with [`TlsStream::set_read_timeout`] and
/// cleared on return.
pub fn serve_with(
    stream: &mut TlsStream,
    options: &Options,
    handler: impl FnMut(&Request) -> Response,
) -> io::Result<Served> {
    let result = run(stream, options, handler);
    let _ = Transport::set_timeout(stream, None);
    result
}

/// The connection facts as one JSON object: [`SocketInfo::to_json`] (protocol, cipher,
/// group, `servername`, `alpn`, `resumed`, `handshake_ms`, `peer` — the client's address —,
/// `authorized`, `authorizationError`, `peerCertificate`) plus
/// `"request":{"method","path","httpVersion","number"}`, `number` counting the requests on
/// this connection from 1.
pub fn facts_json(info: &SocketInfo, request: &Request) -> String {
    Obj::new()
        .extend(&info.to_json())
        .raw(
            "request",
            &Obj::new()
                .str("method", &request.method)
                .str("path", &request.target)
                .str("httpVersion", request.http_version())
                .num("number", request.number)
                .finish(),
        )
        .finish()
}

/// The "connection facts" responder of `tls-server serve --mode https`: `GET /` and
/// `HEAD /` answer [`facts_json`] (`application/json`), other methods on `/` get `405`
/// with `Allow: GET, HEAD`, other paths `404`, both with a JSON body.
pub fn facts(info: &SocketInfo, request: &Request) -> Response {
    let error = |status: u16| {
        Obj::new()
            .num("status", status)
            .str("error", reason_phrase(status))
            .str("method", &request.method)
            .str("path", &request.target)
            .finish()
            + "\n"
    };
    match (request.path(), request.method.as_str()) {
        ("/", "GET" | "HEAD") => Response::json(200, facts_json(info, request) + "\n"),
        ("/", _) => Response::json(405, error(405)).with_header("Allow", "GET, HEAD"),
        _ => Response::json(404, error(404)),
    }
}

// ----- the conversation ---------------------------------------------------------------

/// What `run` needs from a connection; [`TlsStream`] in the library, a script in the unit
/// tests.
trait Transport: Read + Write {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    fn end(&mut self);
}

impl Transport for TlsStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)
    }

    fn end(&mut self) {
        TlsStream::end(self);
    }
}

/// A request line and headers, parsed and checked, not yet with its body.
struct Head {
    method: String,
    target: String,
    version: u8,
    headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the request line and headers in the buffer.
    len: usize,
    body_len: usize,
    keep_alive: bool,
    expect_continue: bool,
}

/// A request we refuse: status and a one-line reason for the client.
struct Refusal(u16, String);

enum Got {
    Data,
    Eof,
    TimedOut,
}

fn run<T: Transport>(
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

fn read_more<T: Transport>(io: &mut T, buf: &mut Vec<u8>, chunk: &mut [u8]) -> io::Result<Got> {
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
fn refuse<T: Transport>(
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

/// `Ok(None)`: the header block is not complete yet.
fn parse_head(buf: &[u8], options: &Options) -> Result<Option<Head>, Refusal> {
    let too_big = || {
        Refusal(
            431,
            format!(
                "the request line and headers exceed {} bytes",
                options.max_header_bytes
            ),
        )
    };
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > options.max_header_bytes => {
            return Err(too_big())
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal(
                431,
                format!("more than {MAX_HEADERS} header fields"),
            ))
        }
        Err(e) => return Err(Refusal(400, format!("malformed request: {e}"))),
    };
    if len > options.max_header_bytes {
        return Err(too_big());
    }
    let version = req.version.unwrap_or(1);
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let values = |name: &'static str| header_values(&headers, name);
    let hosts = values("host").count();
    if version == 1 && hosts == 0 {
        return Err(Refusal(
            400,
            "an HTTP/1.1 request needs a Host header".into(),
        ));
    }
    if hosts > 1 {
        return Err(Refusal(400, "more than one Host header".into()));
    }
    let lengths: Vec<&[u8]> = values("content-length").collect();
    if values("transfer-encoding").next().is_some() {
        return Err(if lengths.is_empty() {
            Refusal(
                501,
                "Transfer-Encoding (chunked request bodies) is not supported; send Content-Length"
                    .into(),
            )
        } else {
            Refusal(400, "both Transfer-Encoding and Content-Length".into())
        });
    }
    let body_len = content_length(&lengths, options.max_body)?;
    let mut expect_continue = false;
    for value in values("expect") {
        if version == 1 && trim(value).eq_ignore_ascii_case(b"100-continue") {
            expect_continue = true;
        } else {
            return Err(Refusal(
                417,
                "only Expect: 100-continue is supported".into(),
            ));
        }
    }
    let close = values("connection").any(|v| has_token(v, "close"));
    let keep_alive_asked = values("connection").any(|v| has_token(v, "keep-alive"));
    Ok(Some(Head {
        method: req.method.unwrap_or("").to_string(),
        target: req.path.unwrap_or("").to_string(),
        version,
        len,
        body_len,
        keep_alive: !close && (version == 1 || keep_alive_asked),
        expect_continue,
        headers,
    }))
}

fn header_values<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The body length from every `Content-Length` field: digits only, all equal, at most
/// `max`.
fn content_length(values: &[&[u8]], max: usize) -> Result<usize, Refusal> {
    let mut length: Option<u64> = None;
    for value in values {
        let digits = trim(value);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(Refusal(400, "Content-Length is not a number".into()));
        }
        // All digits: a parse error can only be an overflow.
        let n = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
        if length.is_some_and(|l| l != n) {
            return Err(Refusal(400, "Content-Length fields disagree".into()));
        }
        length = Some(n);
    }
    let n = length.unwrap_or(0);
    match usize::try_from(n) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(Refusal(
            413,
            format!("the request body is {n} bytes; the limit is {max}"),
        )),
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Whether a comma-separated header value (`Connection`) lists `token`.
fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

fn write_response<T: Transport>(
    io: &mut T,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
    idle_timeout: Option<Duration>,
) -> io::Result<()> {
    let status = if (200..=599).contains(&response.status) {
        response.status
    } else {
        500
    };
    let reason = if status == response.status && !has_line_break(&response.reason) {
        response.reason.as_str()
    } else {
        reason_phrase(status)
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\n",
        http_date(SystemTime::now())
    );
    const OURS: [&str; 5] = [
        "date",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
    ];
    let mut has_server = false;
    for (name, value) in &response.headers {
        let lower = name.to_ascii_lowercase();
        if OURS.contains(&lower.as_str())
            || name.is_empty()
            || name.contains(':')
            || has_line_break(name)
            || has_line_break(value)
        {
            continue;
        }
        has_server |= lower == "server";
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_server {
        out.push_str(&format!("Server: {SERVER}\r\n"));
    }
    let bodiless = status == 204 || status == 304;
    if status != 204 {
        out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if keep_alive {
        out.push_str("Connection: keep-alive\r\n");
        if let Some(t) = idle_timeout {
            out.push_str(&format!("Keep-Alive: timeout={}\r\n", t.as_secs().max(1)));
        }
    } else {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only && !bodiless {
        bytes.extend_from_slice(&response.body);
    }
    io.write_all(&bytes)?;
    io.flush()
}

fn has_line_break(s: &str) -> bool {
    s.contains(['\r', '\n'])
}

/// The standard reason phrase of `status` (RFC 9110), or `Unknown`.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`: the IMF-fixdate of RFC 9110 §5.6.7.
pub fn http_date(t: SystemTime) -> String {
    let t = utc(t);
    let day = match t.weekday() {
        time::Weekday::Monday => "Mon",
        time::Weekday::Tuesday => "Tue",
        time::Weekday::Wednesday => "Wed",
        time::Weekday::Thursday => "Thu",
        time::Weekday::Friday => "Fri",
        time::Weekday::Saturday => "Sat",
        time::Weekday::Sunday => "Sun",
    };
    format!(
        "{day}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        t.day(),
        month_abbrev(t.month()),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted connection: each read returns the next chunk; when the script is over,
    /// a read times out (`idle`) or sees the peer close.
    struct Script {
        reads: VecDeque<Vec<u8>>,
        idle: bool,
        written: Vec<u8>,
        ended: bool,
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

    /// Runs the conversation on `reads` with a handler echoing method, path and body;
    /// returns the summary and everything written.
    fn converse(reads: &[&[u8]], idle: bool, options: &Options) -> (Served, String) {
        let mut script = Script {
            reads: reads.iter().map(|r| r.to_vec()).collect(),
            idle,
            written: Vec::new(),
            ended: false,
        };
        let served = run(&mut script, options, |r| {
            Response::text(
                200,
                format!(
                    "{} {} #{} {}",
                    r.method,
                    r.target,
                    r.number,
                    String::from_utf8_lossy(&r.body)
                ),
            )
        })
        .expect("no I/O error");
        assert!(script.ended, "serve ends the connection");
        (served, String::from_utf8(script.written).unwrap())
    }

    /// The status of each response (lines starting with `HTTP/1.1 `).
    fn statuses(written: &str) -> Vec<&str> {
        written
            .split('\n')
            .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
            .map(|rest| rest.get(..3).unwrap_or(rest))
            .collect()
    }

    #[test]
    fn imf_fixdate() {
        use std::time::UNIX_EPOCH;
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(http_date(leap), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn pipelined_requests_split_anywhere_are_answered_in_order() {
        let two = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz";
        for split in [1, 10, 30, 40, two.len() - 1] {
            let (served, out) = converse(&[&two[..split], &two[split..]], false, &Options::new());
            assert_eq!(
                served,
                Served {
                    requests: 2,
                    ending: Ending::PeerClosed
                }
            );
            let a = out.find("GET /a #1 ").expect(&out);
            let b = out.find("POST /b #2 xyz").expect(&out);
            assert!(a < b, "{out}");
            assert!(out.contains("Connection: keep-alive\r\n"), "{out}");
            assert!(out.contains(&format!("Server: {SERVER}\r\n")), "{out}");
        }
    }

    #[test]
    fn refusals() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nBad Header: x\r\nHost: x\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
            (b"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        ];
        for (request, status) in cases {
            let (served, out) = converse(&[request], false, &Options::new());
            assert_eq!(served.ending, Ending::Refused(*status), "{out}");
            assert_eq!(served.requests, 0);
            assert_eq!(statuses(&out), [status.to_string()], "{out}");
            assert!(out.contains("Connection: close\r\n"), "{out}");
        }
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X-{i}: y\r\n"))
            .collect();
        let request = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        let (served, _) = converse(&[request.as_bytes()], false, &Options::new());
        assert_eq!(served.ending, Ending::Refused(431));
        let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "a".repeat(20_000));
        let (served, _) = converse(&[big.as_bytes()], false, &Options::new());
        assert_eq!(served.ending, Ending::Refused(431));
    }

    #[test]
    fn close_rules() {
        let one = |req: &[u8]| {
            converse(
                &[req, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
                false,
                &Options::new(),
            )
        };
        let (served, out) = one(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(
            served,
            Served {
                requests: 1,
                ending: Ending::Close
            }
        );
        assert!(out.contains("Connection: close\r\n"), "{out}");
        let (served, _) = one(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            served,
            Served {
                requests: 2,
                ending: Ending::PeerClosed
            }
        );
        let (served, _) = one(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n");
        assert_eq!(
            served,
            Served {
                requests: 1,
                ending: Ending::Close
            }
        );
    }

    #[test]
    fn idle_and_stalled() {
        let (served, out) = converse(
            &[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
            true,
            &Options::new(),
        );
        assert_eq!(
            served,
            Served {
                requests: 1,
                ending: Ending::IdleTimeout
            }
        );
        assert!(out.contains("Keep-Alive: timeout=5\r\n"), "{out}");
        let (served, _) = converse(&[b"GET / HTTP/1.1\r\nHo"], true, &Options::new());
        assert_eq!(served.ending, Ending::Refused(408));
        let (served, _) = converse(
            &[b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab"],
            true,
            &Options::new(),
        );
        assert_eq!(served.ending, Ending::Refused(408));
    }

    #[test]
    fn head_and_expect_continue() {
        let (_, out) = converse(
            &[b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"],
            false,
            &Options::new(),
        );
        assert!(out.ends_with("\r\n\r\n"), "no body after HEAD: {out}");
        assert!(
            out.contains("Content-Length: 11\r\n"),
            "GET's length: {out}"
        );
        let (_, out) = converse(
            &[
                b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
                b"ok",
            ],
            false,
            &Options::new(),
        );
        assert!(
            out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "{out}"
        );
        assert!(out.ends_with("PUT / #1 ok"), "{out}");
    }

    #[test]
    fn handler_headers_are_sanitised() {
        let mut script = Script {
            reads: VecDeque::from([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()]),
            idle: false,
            written: Vec::new(),
            ended: false,
        };
        let served = run(&mut script, &Options::new(), |_| {
            Response::new(999)
                .with_header("X-Evil", "a\r\nSet-Cookie: b")
                .with_header("Content-Length", "5")
                .with_header("Connection", "close")
        })
        .unwrap();
        let out = String::from_utf8(script.written).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{out}"
        );
        assert!(
            !out.contains("Set-Cookie") && !out.contains("X-Evil"),
            "{out}"
        );
        assert!(
            out.contains("Content-Length: 0\r\n") && !out.contains(": 5"),
            "{out}"
        );
        assert_eq!(served.ending, Ending::Close);
    }
}
