//! Writing one response: the status line, our headers (`Date`, `Server`,
//! `Content-Length`, `Connection`), the handler's (sanitised), and the body.

use std::io;
use std::time::{Duration, SystemTime};

use super::{Response, Transport, SERVER};
use crate::util::time::{month_abbrev, utc};

pub(super) fn write_response<T: Transport>(
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

pub(super) fn has_line_break(s: &str) -> bool {
    s.contains(['\r', '\n'])
}

/// The standard reason phrase of `status` (RFC 9110), or `Unknown`.
pub(super) fn reason_phrase(status: u16) -> &'static str {
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
