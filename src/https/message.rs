//! A request as the handler sees it, and the response it gives back.

use super::parse::has_token;
use super::respond::reason_phrase;

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

/// What your handler answers. [`serve`](super::serve) adds `Date`, `Server`, `Content-Length` and
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

    pub(super) fn asks_to_close(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && has_token(v.as_bytes(), "close"))
    }
}
