//! A request head, parsed by httparse and checked against RFC 9112: the request line, one
//! `Host` for HTTP/1.1, `Content-Length`, `Transfer-Encoding`, the limits.

use super::{Options, MAX_HEADERS};

/// A request line and headers, parsed and checked, not yet with its body.
pub(super) struct Head {
    pub method: String,
    pub target: String,
    pub version: u8,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the request line and headers in the buffer.
    pub len: usize,
    pub body_len: usize,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// A request we refuse: status and a one-line reason for the client.
pub(super) struct Refusal(pub u16, pub String);

pub(super) enum Got {
    Data,
    Eof,
    TimedOut,
}

/// `Ok(None)`: the header block is not complete yet.
pub(super) fn parse_head(buf: &[u8], options: &Options) -> Result<Option<Head>, Refusal> {
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

pub(super) fn header_values<'a>(
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
pub(super) fn content_length(values: &[&[u8]], max: usize) -> Result<usize, Refusal> {
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

pub(super) fn trim(v: &[u8]) -> &[u8] {
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
pub(super) fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}
