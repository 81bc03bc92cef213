//! The conversation against scripted connections: pipelining, refusals, keep-alive rules,
//! timeouts, HEAD and 100-continue, sanitised headers.

use super::conversation::run;
use super::script::Script;
use super::*;
use std::collections::VecDeque;

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
