//! Telling what the client's first bytes are: a TLS record, plain HTTP, an SSH or SMTP
//! client, text, or noise — and printing them so that a person can see it too.

/// How many of the client's first bytes are kept for diagnosis: a whole ClientHello
/// usually fits (post-quantum key shares make it ~1.8 KiB).
pub(crate) const FIRST_BYTES: usize = 4096;

/// A TLS record starts with a content type (20–24), major version 3, minor 0–4.
pub(crate) fn looks_like_tls(b: &[u8]) -> bool {
    match b {
        [t, rest @ ..] if (20..=24).contains(t) => match rest {
            [] => true,
            [3, ..] => rest.len() < 2 || rest[1] <= 4,
            _ => false,
        },
        _ => false,
    }
}

/// Whether the client's first bytes are a plain-HTTP request line.
pub(crate) fn is_plain_http(b: &[u8]) -> bool {
    const HTTP: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"PRI * ",
    ];
    HTTP.iter().any(|m| b.starts_with(m))
}

pub(crate) fn identify_protocol(b: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(&b[..b.len().min(16)]);
    if is_plain_http(b) {
        (
            "plain HTTP".into(),
            "use https:// (not http://) for this port, or send plain HTTP to the plain-HTTP port"
                .into(),
        )
    } else if text.starts_with("SSH-") {
        (
            "an SSH banner".into(),
            "the SSH client has the wrong port; TLS is served here".into(),
        )
    } else if text.starts_with("EHLO") || text.starts_with("HELO") {
        (
            "SMTP".into(),
            "the mail client has the wrong port, or expects STARTTLS; TLS must start at the first byte here".into(),
        )
    } else if b[..b.len().min(32)]
        .iter()
        .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        (
            "plain text".into(),
            "the client must speak TLS from the first byte on this port (e.g. `openssl s_client -connect HOST:PORT`)".into(),
        )
    } else {
        (
            "bytes that are not a TLS record".into(),
            "the client must speak TLS on this port; check that it is the right port and protocol"
                .into(),
        )
    }
}

/// The first `max` bytes, printable ASCII as is and the rest as `\xNN`, quoted.
pub(crate) fn printable(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(max) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_recognised() {
        assert!(looks_like_tls(&[22, 3, 1, 0, 200]));
        assert!(looks_like_tls(&[22]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(&[22, 9, 9]));
    }

    #[test]
    fn protocols_are_named() {
        assert_eq!(identify_protocol(b"GET / HTTP/1.1\r\n").0, "plain HTTP");
        assert_eq!(
            identify_protocol(b"SSH-2.0-OpenSSH_9.2\r\n").0,
            "an SSH banner"
        );
        assert_eq!(
            identify_protocol(&[0xde, 0xad, 0xbe, 0xef]).0,
            "bytes that are not a TLS record"
        );
        assert_eq!(printable(b"GET /\r\n\x01", 48), "\"GET /\\r\\n\\x01\"");
    }
}
