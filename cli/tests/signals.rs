//! How `tls-server serve` stops: SIGTERM as Ctrl-C does (close_notify to every client,
//! the grace period, exit 0), a second signal at once, and neither a closed nor a full
//! stderr can keep it from stopping. Real processes, real signals.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use support::json::json;
use support::process::{send_signal, tls_server_bin, Lines, Proc};
use support::Client;

/// Reads until the server's close_notify; fails on a reset or a bare EOF.
fn expect_close_notify(client: &mut Client) {
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected bytes {rest:?}"),
        Err(e) => panic!("the server did not close cleanly: {e} ({:?})", e.kind()),
    }
}

/// Two clients with a completed handshake each, seen by the server.
fn two_clients(server: &mut Proc, addr: SocketAddr) -> Vec<Client> {
    let clients = vec![support::connect(addr), support::connect(addr)];
    for _ in 0..2 {
        server.stdout.wait_for("secureConnection", |l| {
            json(l).event() == "secureConnection"
        });
    }
    clients
}

#[test]
fn sigterm_closes_every_connection_with_close_notify_and_exits_0() {
    let (mut server, addr) = support::process::start_serve(&[]);
    let mut clients = two_clients(&mut server, addr);
    send_signal("TERM", server.pid());
    for client in &mut clients {
        expect_close_notify(client);
        // Answer with our close_notify so the server need not wait out its grace period.
        client.conn.send_close_notify();
        let _ = std::io::Write::flush(client);
    }
    drop(clients);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr.text());
    assert_eq!(
        support::process::closing_lines(&server.stdout.seen),
        Some(r#"{"event":"closed"}"#)
    );
    assert!(
        server.stderr.text().contains("SIGTERM"),
        "{}",
        server.stderr.text()
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    // A long grace period, and a client that never answers our close_notify: only the
    // second signal can end this quickly.
    let (mut server, addr) = support::process::start_serve(&["--grace", "600"]);
    let mut clients = two_clients(&mut server, addr);
    send_signal("TERM", server.pid());
    expect_close_notify(&mut clients[0]);
    server.stderr.wait_for("the first signal's log line", |l| {
        l.contains("send it again")
    });
    send_signal("TERM", server.pid());
    let status = server.wait_exit();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "stderr: {}",
        server.stderr.text()
    );
    assert!(server.stderr.text().contains("second SIGTERM"));
}

/// `serve ... 2>&1 | head`: stderr closed under the server. Logging must not kill the
/// thread that handles the signal.
#[test]
fn a_closed_stderr_does_not_disable_the_signals() {
    let mut child = Command::new(tls_server_bin())
        .args([
            "serve",
            "--port",
            "0",
            "--events",
            "json",
            "--log-level",
            "debug",
        ])
        .current_dir(support::repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tls-server");
    // Close the read end of stderr: every log write now fails (EPIPE).
    drop(child.stderr.take());
    let mut stdout = Lines::new("stdout".into(), child.stdout.take().unwrap());
    let mut server = Proc {
        child,
        stdout: Lines::new("(none)".into(), std::io::empty()),
        stderr: Lines::new("(closed)".into(), std::io::empty()),
    };
    let listening = stdout.expect_line("listening");
    let addr: SocketAddr = json(&listening).str("addr").parse().unwrap();
    // Connections log lines that cannot be written.
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"hi"), b"hi");
    send_signal("INT", server.pid());
    expect_close_notify(&mut client);
    client.conn.send_close_notify();
    let _ = std::io::Write::flush(&mut client);
    drop(client);
    stdout.wait_for("closed", |l| l == r#"{"event":"closed"}"#);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
}

/// stderr a pipe nobody reads: once it is full, log lines are dropped rather than
/// blocking the server's threads, and SIGTERM still ends it.
#[test]
fn a_full_stderr_does_not_block_the_server() {
    let mut child = Command::new(tls_server_bin())
        .args(["serve", "--port", "0", "--events", "json", "--trace"])
        .current_dir(support::repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tls-server");
    // Keep stderr open and never read it.
    let _unread = child.stderr.take();
    let mut stdout = Lines::new("stdout".into(), child.stdout.take().unwrap());
    let mut server = Proc {
        child,
        stdout: Lines::new("(none)".into(), std::io::empty()),
        stderr: Lines::new("(unread)".into(), std::io::empty()),
    };
    let listening = stdout.expect_line("listening");
    let addr: SocketAddr = json(&listening).str("addr").parse().unwrap();
    // Each traced handshake logs about a kilobyte: a few hundred fill any pipe.
    for round in 0..300 {
        let mut client = support::connect(addr);
        assert_eq!(
            support::echo_roundtrip(&mut client, b"x"),
            b"x",
            "round {round}: the server stopped answering"
        );
    }
    send_signal("TERM", server.pid());
    stdout.wait_for("closed", |l| l == r#"{"event":"closed"}"#);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
}
