//! `tls-server serve --mode https` with curl: the facts, keep-alive, the event lines and
//! the log line per request; and the ALPN it refuses. The responder itself is tested in
//! tests/https.rs.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::json::json;
use support::process::{
    curl, curl_negotiated, run_tls_server, send_signal, skip_unless_installed, start_serve,
};

#[test]
fn cli_mode_https_answers_curl_and_prints_events() {
    if skip_unless_installed("curl") {
        return;
    }
    let (mut server, addr) = start_serve(&["--mode", "https"]);

    let (ok, out, err) = curl(addr, &["--http1.1", "--verbose"], &["/", "/missing"]);
    assert!(ok, "curl failed: {err}");
    let (protocol, cipher) = curl_negotiated(&err);
    let facts = json(out.lines().next().expect("a body"));
    assert_eq!(facts.str("protocol"), protocol);
    assert_eq!(facts.str("cipher"), cipher);
    // The mode offers ALPN http/1.1 (it speaks nothing else), and curl agreed.
    assert_eq!(facts.str("alpn"), "http/1.1");
    assert!(err.contains("Re-using existing connection"), "{err}");
    assert!(
        out.contains(r#"{"status":404,"error":"Not Found","method":"GET","path":"/missing"}"#),
        "{out}"
    );

    // The events of the connection, as in echo mode.
    for event in ["connection", "secureConnection", "close"] {
        let line = server
            .stdout
            .wait_for(event, |l| l.starts_with(&format!(r#"{{"event":"{event}""#)));
        if event == "secureConnection" {
            assert_eq!(json(&line).str("protocol"), protocol, "{line}");
        }
    }
    // One log line per request.
    server.stderr.wait_for("the request log line", |l| {
        l.contains("GET / HTTP/1.1 → 200")
    });
    server.stderr.wait_for("the 404 log line", |l| {
        l.contains("GET /missing HTTP/1.1 → 404")
    });

    send_signal("INT", server.pid());
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr.text());
    assert_eq!(
        support::process::closing_lines(&server.stdout.seen),
        Some(r#"{"event":"closed"}"#)
    );
}

/// `--mode https` speaks HTTP/1.1 only: offering h2 by ALPN is refused at startup.
#[test]
fn cli_mode_https_refuses_alpn_it_cannot_speak() {
    let out = run_tls_server(&[
        "serve",
        "--mode",
        "https",
        "--port",
        "0",
        "--alpn",
        "h2,http/1.1",
    ]);
    out.exit(2);
    let err = &out.stderr;
    assert!(err.contains("HTTP/1.1 only") && err.contains("h2"), "{err}");
}
