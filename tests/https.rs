//! The HTTPS responder (`tls_server::https`, `tls-server serve --mode https`), driven by
//! real clients over loopback: curl (skipped, visibly, when missing) and a rustls client
//! that sends exactly the bytes each HTTP rule is about. Also `TlsStream::set_read_timeout`,
//! which the idle timeout is built on. Nothing sleeps: every wait is a bounded read.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::json::json;
use support::process::{curl, curl_negotiated, skip_unless_installed};
use support::{connect, Client, WAIT};
use tls_server::https::{self, Ending, Options, Served};
use tls_server::Server;

// ---------------------------------------------------------------------------------------
// A server on the library: the facts responder, each connection's summary on a channel

struct Https {
    _server: Server,
    addr: SocketAddr,
    served: Receiver<Served>,
}

impl Https {
    fn start(http: Options) -> Https {
        let (tx, served) = mpsc::channel();
        let tx = Arc::new(Mutex::new(tx));
        let server = Server::bind_streams(support::options(), move |mut stream| {
            let socket = stream.socket();
            let result = https::serve_with(&mut stream, &http, |r| https::facts(socket.info(), r));
            if let Ok(served) = result {
                let _ = tx.lock().unwrap().send(served);
            }
        })
        .expect("server starts");
        let addr = server.local_addr();
        Https {
            _server: server,
            addr,
            served,
        }
    }

    /// The summary of the next connection that finished.
    fn next_served(&self) -> Served {
        self.served
            .recv_timeout(WAIT)
            .expect("a connection's summary within WAIT")
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client over the rustls test client

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Http {
    tls: Client,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr) -> Http {
        Http {
            tls: connect(addr),
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).expect("write");
        self.tls.flush().expect("flush");
    }

    /// Reads more into the buffer; false at a clean close (close_notify).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.tls.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) => panic!("reading a response: {e} ({:?})", e.kind()),
        }
    }

    /// The next response; `head` for the answer to a HEAD request (no body follows).
    fn reply(&mut self, head: bool) -> Reply {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut fields);
            if let httparse::Status::Complete(len) =
                parsed.parse(&self.buf).expect("valid response")
            {
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let status = parsed.code.unwrap();
                let mut reply = Reply {
                    status,
                    headers,
                    body: String::new(),
                };
                let length: usize = reply
                    .header("content-length")
                    .expect("every response has Content-Length")
                    .parse()
                    .unwrap();
                let body_len = if head { 0 } else { length };
                while self.buf.len() < len + body_len {
                    assert!(self.fill(), "closed in the middle of a body");
                }
                reply.body = String::from_utf8_lossy(&self.buf[len..len + body_len]).into_owned();
                self.buf.drain(..len + body_len);
                return reply;
            }
            assert!(
                self.fill(),
                "closed before a response; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// The server closed cleanly (close_notify) and sent nothing more.
    fn expect_closed(&mut self) {
        while self.fill() {}
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before the close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// The standard headers every response carries.
fn assert_standard_headers(reply: &Reply, connection: &str) {
    let date = reply.header("date").expect("Date");
    assert!(
        date.ends_with(" GMT") && date.len() == 29,
        "IMF-fixdate: {date:?}"
    );
    assert_eq!(reply.header("server"), Some(https::SERVER));
    assert_eq!(reply.header("connection"), Some(connection));
}

// ---------------------------------------------------------------------------------------
// The rustls client: one HTTP rule per test

#[test]
fn facts_answer_get_with_the_handshake_and_the_request() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    let me = c.tls.sock.local_addr().unwrap();
    c.send(get("/").as_bytes());
    let r = c.reply(false);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_standard_headers(&r, "keep-alive");
    for field in [
        r#""protocol":"TLSv1.3""#,
        r#""cipher":"TLS_"#,
        r#""servername":"localhost""#,
        r#""alpn":null"#,
        r#""resumed":false"#,
        r#""authorized":false"#,
        r#""peerCertificate":null"#,
        r#""handshakeMs":"#,
        r#""request":{"method":"GET","path":"/","httpVersion":"1.1","number":1}"#,
    ] {
        assert!(r.body.contains(field), "{field} in {}", r.body);
    }
    assert!(r.body.contains(&format!(r#""peer":"{me}""#)), "{}", r.body);
    // 404 for another path, same connection.
    c.send(get("/nothing").as_bytes());
    let r = c.reply(false);
    assert_eq!(r.status, 404);
    assert!(r.body.contains(r#""path":"/nothing""#), "{}", r.body);
}

#[test]
fn two_pipelined_requests_in_one_write_are_answered_in_order() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(format!("{}{}", get("/"), get("/second")).as_bytes());
    let first = c.reply(false);
    assert_eq!(first.status, 200);
    assert!(first.body.contains(r#""number":1}"#), "{}", first.body);
    let second = c.reply(false);
    assert_eq!(second.status, 404);
    assert!(
        second.body.contains(r#""path":"/second""#),
        "{}",
        second.body
    );
    // And a third, after both: still the same connection.
    c.send(get("/").as_bytes());
    assert!(c.reply(false).body.contains(r#""number":3}"#));
}

#[test]
fn malformed_request_gets_400_and_the_connection_closes() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header Name: x\r\n\r\n");
    let r = c.reply(false);
    assert_eq!(r.status, 400);
    assert_standard_headers(&r, "close");
    assert!(r.body.contains("invalid header name"), "{}", r.body);
    c.expect_closed();
    // Nothing reached the handler.
    served(s.next_served(), 0, Ending::Refused(400));
}

/// Checks a connection's summary (`Served` is non-exhaustive: compare its fields).
fn served(got: Served, requests: u64, ending: Ending) {
    assert_eq!((got.requests, got.ending), (requests, ending), "{got:?}");
}

#[test]
fn http11_without_host_gets_400() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(b"GET / HTTP/1.1\r\n\r\n");
    let r = c.reply(false);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Host"), "{}", r.body);
    c.expect_closed();
}

#[test]
fn connection_close_closes_after_the_response() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let r = c.reply(false);
    assert_eq!(r.status, 200);
    assert_standard_headers(&r, "close");
    c.expect_closed();
    served(s.next_served(), 1, Ending::Close);
}

#[test]
fn http10_closes_unless_keep_alive() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.reply(false);
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#""httpVersion":"1.0""#), "{}", r.body);
    assert_standard_headers(&r, "close");
    c.expect_closed();

    let mut c = Http::connect(s.addr);
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_standard_headers(&c.reply(false), "keep-alive");
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert!(c.reply(false).body.contains(r#""number":2}"#));
    c.expect_closed();
}

#[test]
fn head_gets_the_headers_without_a_body() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    c.send(get("/").as_bytes());
    let full = c.reply(false);
    c.send(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = c.reply(true);
    assert_eq!(head.status, 200);
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(length > 100, "the length GET would have: {length}");
    // Had a body followed, this GET's response would not parse as the next one.
    c.send(get("/").as_bytes());
    let after = c.reply(false);
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.body.contains(r#""number":3}"#), "{}", after.body);
    assert!(full.body.contains(r#""number":1}"#));
}

#[test]
fn post_body_is_consumed_and_answered_405_on_a_usable_connection() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    let body = "x".repeat(5000);
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let r = c.reply(false);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_standard_headers(&r, "keep-alive");
    // Had the body not been consumed, it would be parsed as the next request.
    c.send(get("/").as_bytes());
    let r = c.reply(false);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""number":2}"#), "{}", r.body);
}

#[test]
fn oversized_header_gets_431_and_the_connection_closes() {
    let s = Https::start(Options::new());
    let mut c = Http::connect(s.addr);
    let big = "a".repeat(20 * 1024);
    c.send(format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n").as_bytes());
    let r = c.reply(false);
    assert_eq!(r.status, 431);
    assert_standard_headers(&r, "close");
    c.expect_closed();
}

#[test]
fn body_over_the_limit_gets_413_and_transfer_encoding_501() {
    let s = Https::start(Options::new().max_body(10));
    let mut c = Http::connect(s.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world");
    assert_eq!(c.reply(false).status, 413);
    c.expect_closed();
    let mut c = Http::connect(s.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(c.reply(false).status, 501);
    c.expect_closed();
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let s = Https::start(Options::new().idle_timeout(Some(timeout)));
    let mut c = Http::connect(s.addr);
    c.send(get("/").as_bytes());
    let r = c.reply(false);
    assert_eq!(r.header("keep-alive"), Some("timeout=1"));
    let idle_from = Instant::now();
    // A bounded wait (the client socket's read timeout is WAIT): close_notify must come.
    c.expect_closed();
    let idle = idle_from.elapsed();
    // Not closed early (the server's timer started before this client saw the reply, so
    // allow a wide margin for a loaded machine).
    assert!(idle >= timeout / 2, "closed after {idle:?}");
    assert!(idle < WAIT, "closed after {idle:?}");
    served(s.next_served(), 1, Ending::IdleTimeout);
}

#[test]
fn stream_read_timeout_times_out_without_breaking_the_connection() {
    // The handler: time out once, say so, then echo what comes and report the next read.
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Arc::new(Mutex::new(tx));
    let server = Server::bind_streams(support::options(), move |mut stream| {
        let say = |s: String| {
            let _ = tx.lock().unwrap().send(s);
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Err(e) => say(format!("first read: {:?}", e.kind())),
            Ok(n) => say(format!("first read: {n} bytes")),
        }
        // The connection is intact: writing and reading go on.
        stream.write_all(b"timed out\n").unwrap();
        stream.flush().unwrap();
        stream.set_read_timeout(None).unwrap();
        let n = stream.read(&mut buf).unwrap();
        stream.write_all(&buf[..n]).unwrap();
        stream.flush().unwrap();
        say("echoed".into());
    })
    .unwrap();
    let mut c = connect(server.local_addr());
    // Wait for the event (the timeout), not for a duration.
    let first = rx.recv_timeout(WAIT).expect("the first read ends");
    assert_eq!(first, "first read: TimedOut");
    let mut said = [0u8; 10];
    c.read_exact(&mut said).unwrap();
    assert_eq!(&said, b"timed out\n");
    c.write_all(b"still here").unwrap();
    c.flush().unwrap();
    let mut back = [0u8; 10];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still here");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "echoed");
    // The handler returned: the server closes cleanly.
    let mut rest = Vec::new();
    c.read_to_end(&mut rest)
        .expect("close_notify, not an error");
    assert!(rest.is_empty());
    assert_eq!(
        c.read(&mut [0u8; 1]).map_err(|e| e.kind()),
        Ok(0),
        "no error after the close"
    );
}

// ---------------------------------------------------------------------------------------
// curl, against the library and the command line

#[test]
fn curl_gets_the_facts_with_the_protocol_and_cipher_it_negotiated() {
    if skip_unless_installed("curl") {
        return;
    }
    let s = Https::start(Options::new());
    let (ok, out, err) = curl(s.addr, &["--verbose"], &["/"]);
    assert!(ok, "curl failed: {err}");
    let (protocol, cipher) = curl_negotiated(&err);
    let facts = json(out.trim());
    assert_eq!(facts.str("protocol"), protocol);
    assert_eq!(facts.str("cipher"), cipher);
    assert_eq!(facts.str("servername"), "localhost");
    let request = facts.obj("request");
    assert_eq!(request.str("method"), "GET");
    assert_eq!(request.str("path"), "/");
    assert_eq!(request.str("httpVersion"), "1.1");
    assert_eq!(request.num("number"), 1.0);
}

#[test]
fn curl_keep_alive_sends_two_requests_on_one_connection() {
    if skip_unless_installed("curl") {
        return;
    }
    let s = Https::start(Options::new());
    let (ok, out, err) = curl(s.addr, &["--http1.1", "--verbose"], &["/", "/"]);
    assert!(ok, "curl failed: {err}");
    assert!(err.contains("Re-using existing connection"), "{err}");
    let bodies: Vec<_> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(json)
        .collect();
    assert_eq!(bodies.len(), 2, "{out}");
    assert_eq!(bodies[0].obj("request").num("number"), 1.0, "{out}");
    assert_eq!(bodies[1].obj("request").num("number"), 2.0, "{out}");
    assert_eq!(
        bodies[0].str("peer"),
        bodies[1].str("peer"),
        "one connection: {out}"
    );
    served(s.next_served(), 2, Ending::PeerClosed);
}
