//! `examples/websocket.rs`, driven as its doc comment tells people to run it: started on a
//! free loopback port, talked to by real `wss://` clients (rustls + tungstenite), and
//! stopped with Ctrl-C (SIGINT to its PID).

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Once};

use support::process::Proc;
use support::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error, Message, WebSocket};

/// A WebSocket over a rustls client stream over TCP.
type Ws = WebSocket<Client>;

/// `target/<profile>/examples/websocket`. `cargo test` builds every example before running
/// tests, but `cargo test --test websocket` builds only this test, so build the example here
/// too (once per run; a no-op when it is up to date) with the same profile and provider.
fn example_exe() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--example", "websocket"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null());
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        if !cfg!(feature = "aws-lc-rs") {
            cmd.args(["--no-default-features", "--features", "ring"]);
        }
        let status = cmd.status().expect("cargo runs");
        assert!(
            status.success(),
            "cargo build --example websocket: {status}"
        );
    });
    profile_dir.join("examples").join("websocket")
}

/// Starts the example on 127.0.0.1:0 and reads the bound address from its first line.
fn start() -> (Proc, SocketAddr) {
    let mut cmd = Command::new(example_exe());
    cmd.arg("127.0.0.1:0")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    let mut p = Proc::spawn("websocket example", &mut cmd);
    let line = p.stdout.wait_for("the listening line", |l| {
        l.starts_with("WebSocket echo server (wss) listening on ")
    });
    let addr = line
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (p, addr)
}

/// Ctrl-C, by PID.
fn sigint(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-INT", &p.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

/// Ctrl-C, then the example must shut down and exit successfully. (Clients should be
/// gone: after its close_notify the server waits, up to its linger time, for each peer.)
fn interrupt(p: &mut Proc) {
    sigint(p);
    let status = p.wait_exit();
    assert!(status.success(), "exit status after Ctrl-C: {status}");
}

/// A TLS connection (trusting certs/ca.crt, name `localhost`, offering ALPN http/1.1 as
/// browsers do), then the WebSocket opening handshake for `path`.
fn open(addr: SocketAddr, path: &str) -> Ws {
    let mut config = (*client_config()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = connect_with(addr, Arc::new(config)); // read/write timeouts: WAIT
    let uri = format!("wss://localhost:{}{path}", addr.port());
    let (ws, response) = tungstenite::client::client(uri, tls).expect("WebSocket handshake");
    assert_eq!(response.status(), 101, "{response:?}");
    ws
}

/// Sends `message` and expects it back unchanged.
fn echo(ws: &mut Ws, message: Message) {
    ws.send(message.clone()).expect("send");
    let back = ws.read().expect("read the echo");
    assert_eq!(back, message);
}

/// Closes with 1000 "bye": the server must answer with its own Close frame, then end TLS
/// with close_notify (tungstenite reports `ConnectionClosed` only after a clean EOF; a TCP
/// close without close_notify would be an I/O error from rustls). Then drops the client.
fn close(mut ws: Ws) {
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .expect("send Close");
    match ws.read() {
        Ok(Message::Close(Some(frame))) => {
            assert_eq!(frame.code, CloseCode::Normal);
        }
        other => panic!("expected the server's Close frame, got {other:?}"),
    }
    match ws.read() {
        Err(Error::ConnectionClosed) => {}
        other => panic!("expected a clean end after the Close handshake, got {other:?}"),
    }
}

#[test]
fn echoes_text_and_binary_answers_ping_and_closes_cleanly() {
    let (mut p, addr) = start();
    let mut ws = open(addr, "/chat");
    let line = p.stdout.wait_for("the connect line", |l| {
        l.starts_with("#1 secure connection from")
    });
    assert!(
        line.ends_with("sni=localhost alpn=http/1.1"),
        "TLS facts in {line:?}"
    );
    assert!(line.contains("TLSv1.3"), "{line:?}");
    p.stdout
        .wait_for("the open line", |l| l == "#1 WebSocket open: path /chat");

    echo(&mut ws, Message::text("hello over wss ✓"));
    // Larger than one TLS record (16 KiB), and every byte value.
    echo(&mut ws, Message::binary(pattern(100_000, 7)));
    echo(&mut ws, Message::binary(vec![0u8, 255, 0, 1]));

    ws.send(Message::Ping("are you there?".into()))
        .expect("send ping");
    match ws.read().expect("read the pong") {
        Message::Pong(payload) => assert_eq!(&payload[..], b"are you there?"),
        other => panic!("expected a pong, got {other:?}"),
    }

    close(ws);
    p.stdout.wait_for("the close line", |l| {
        l == "#1 the client closes: code 1000 \"bye\" (answering with Close)"
    });
    p.stdout
        .wait_for("the clean close", |l| l == "#1 WebSocket closed cleanly");
    p.stdout
        .wait_for("the disconnect", |l| l == "#1 disconnected (path /chat)");
    interrupt(&mut p);
}

#[test]
fn two_clients_at_once_each_get_their_own_echo() {
    let (mut p, addr) = start();
    // Both open before either sends: each has its own thread on the server.
    let mut a = open(addr, "/a");
    let mut b = open(addr, "/b");
    b.send(Message::text("from b")).unwrap();
    a.send(Message::text("from a")).unwrap();
    a.send(Message::binary(pattern(5_000, 1))).unwrap();
    assert_eq!(b.read().unwrap(), Message::text("from b"));
    assert_eq!(a.read().unwrap(), Message::text("from a"));
    assert_eq!(a.read().unwrap(), Message::binary(pattern(5_000, 1)));
    echo(&mut b, Message::binary(pattern(5_000, 2)));
    close(a);
    echo(&mut b, Message::text("b is still open"));
    close(b);
    let mut gone = Vec::new();
    while gone.len() < 2 {
        let line = p.stdout.wait_for("the disconnect lines", |l| {
            l.contains(" disconnected (path ")
        });
        gone.push(line.rsplit(' ').next().unwrap().to_string());
    }
    gone.sort();
    assert_eq!(gone, ["/a)", "/b)"]);
    interrupt(&mut p);
}

#[test]
fn a_plain_https_request_gets_400_and_the_server_keeps_serving() {
    let (mut p, addr) = start();
    let mut plain = connect(addr);
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    plain.flush().unwrap();
    let mut answer = String::new();
    plain
        .read_to_string(&mut answer)
        .expect("the answer, then close_notify");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(answer.contains("not a WebSocket upgrade"), "{answer:?}");
    drop(plain);
    p.stdout.wait_for("the 400 line", |l| {
        l.starts_with("#1 not a WebSocket request") && l.ends_with("answering 400 Bad Request")
    });

    let mut ws = open(addr, "/next");
    echo(&mut ws, Message::text("still serving"));
    close(ws);
    interrupt(&mut p);
}

#[test]
fn bad_websocket_clients_cost_only_their_connection() {
    let (mut p, addr) = start();

    // Not HTTP at all, inside TLS.
    let mut junk = connect(addr);
    junk.write_all(b"\x00\x01hello\r\n\r\n").unwrap();
    junk.flush().unwrap();
    let mut answer = String::new();
    let _ = junk.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    drop(junk);

    // An unmasked frame from a client is a protocol violation (RFC 6455 §5.1).
    let mut unmasked = open(addr, "/unmasked");
    let tls = unmasked.get_mut();
    tls.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    tls.flush().unwrap();
    p.stdout.wait_for("the protocol error", |l| {
        l.contains("WebSocket failed:") && l.contains("unmasked")
    });
    drop(unmasked);

    // Gone without a Close frame.
    let vanished = open(addr, "/vanished");
    drop(vanished);
    p.stdout.wait_for("the reset", |l| {
        l.contains("WebSocket failed:") && l.contains("without closing handshake")
    });

    // The example still serves, and Ctrl-C with a WebSocket open still exits cleanly.
    let mut ws = open(addr, "/after");
    echo(&mut ws, Message::text("fine"));
    sigint(&p);
    match ws.read() {
        Err(Error::Protocol(_)) | Err(Error::ConnectionClosed) => {}
        other => panic!("expected the connection to end at shutdown, got {other:?}"),
    }
    drop(ws);
    let status = p.wait_exit();
    assert!(status.success(), "exit status after Ctrl-C: {status}");
}
