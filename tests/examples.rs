//! The runnable examples, driven as the README tells people to run them: each started on a
//! free port, talked to by a real client, and stopped with Ctrl-C.

mod support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use support::process::Proc;
use support::*;

/// `target/<profile>/examples/NAME`, which `cargo test` builds before running tests.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test executable path");
    let dir: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples");
    let mut cmd = Command::new(dir.join(name));
    cmd.arg("127.0.0.1:0")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    cmd
}

fn start(name: &str, listening: &str) -> (Proc, SocketAddr) {
    let mut p = Proc::spawn(name, &mut example(name));
    let line = p
        .stdout
        .wait_for("the listening line", |l| l.starts_with(listening));
    let addr = line
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (p, addr)
}

fn interrupt(p: &mut Proc) {
    let ok = Command::new("kill")
        .args(["-INT", &p.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
    let status = p.wait_exit();
    assert!(status.success(), "exit status after Ctrl-C: {status}");
}

#[test]
fn the_smallest_program_echoes_and_explains_a_failure() {
    let (mut p, addr) = start("echo", "listening on");
    let mut client = connect(addr);
    assert_eq!(echo_roundtrip(&mut client, b"smallest"), b"smallest");
    // Plain HTTP at the TLS port: the explanation goes to stderr.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    p.stderr
        .wait_for("the explanation", |l| l.contains("not speaking TLS"));
}

#[test]
fn secure_connection_example_reports_and_answers() {
    let (mut p, addr) = start("secure_connection", "TLS server listening on");
    let mut client = connect(addr);
    p.stdout.wait_for("the plain connection line", |l| {
        l.contains("plain TCP connection from")
    });
    p.stdout.wait_for("the secure connection line", |l| {
        l.contains("secure connection:")
    });
    p.stdout
        .wait_for("the TLS version", |l| l.contains("TLS version: TLSv1.3"));
    client.write_all(b"hello example\n").unwrap();
    client.flush().unwrap();
    let expected = b"secure reply: hello example\n";
    let mut back = vec![0u8; expected.len()];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, expected);
    p.stdout.wait_for("the received line", |l| {
        l.contains("received: hello example")
    });
    client.conn.send_close_notify();
    client.flush().unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("clean close");
    p.stdout
        .wait_for("the end line", |l| l.contains("ended the connection"));
    interrupt(&mut p);
}

#[test]
fn pipe_example_copies_the_stream_into_its_log() {
    let (mut p, addr) = start("pipe", "TLS server (pipe) listening on");
    let mut client = connect(addr);
    let greeting = b"Sending secure data from the server.\n";
    let mut got = vec![0u8; greeting.len()];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, greeting);
    client.write_all(b"piped line\n").unwrap();
    client.flush().unwrap();
    p.stdout
        .wait_for("the piped data", |l| l.contains("(pipe): piped line"));
    client.conn.send_close_notify();
    client.flush().unwrap();
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("clean close after io::copy ends");
    p.stdout
        .wait_for("the closed line", |l| l.contains("closed after 11 bytes"));
    interrupt(&mut p);
}

#[test]
fn client_auth_example_greets_authorized_clients_and_turns_others_away() {
    let (mut p, addr) = start(
        "client_auth",
        "TLS server with client authentication listening on",
    );
    // Without a certificate: the example answers in words, then closes.
    let mut anonymous = connect(addr);
    let mut said = String::new();
    anonymous
        .read_to_string(&mut said)
        .expect("a clean close after the message");
    assert_eq!(said, "a client certificate is required\n");
    p.stdout.wait_for("the no-certificate line", |l| {
        l.contains("the client sent no certificate")
    });
    // With the demo client certificate: greeted, then answered.
    let mut member = connect_with(addr, client_config_presenting(Some("client")));
    let greeting = b"authenticated! starting secure communication\n";
    let mut got = vec![0u8; greeting.len()];
    member.read_exact(&mut got).unwrap();
    assert_eq!(got, greeting);
    p.stdout.wait_for("the subject line", |l| {
        l.contains("subject: CN=demo client, O=tls-server demo")
    });
    p.stdout
        .wait_for("the authorized line", |l| l.contains("authorized: true"));
    member.write_all(b"hi\n").unwrap();
    member.flush().unwrap();
    let reply = b"secure reply: hi\n";
    let mut got = vec![0u8; reply.len()];
    member.read_exact(&mut got).unwrap();
    assert_eq!(got, reply);
    interrupt(&mut p);
}

#[test]
fn https_example_answers_hello_and_facts_over_keep_alive() {
    let (mut p, addr) = start("https", "HTTPS server listening on");
    let mut client = connect(addr);
    // Two requests in one write (pipelined), then one that asks to close.
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /facts HTTP/1.1\r\nHost: localhost\r\n\r\n\
              GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    client.flush().unwrap();
    let mut all = String::new();
    client
        .read_to_string(&mut all)
        .expect("close_notify after Connection: close");
    let statuses: Vec<&str> = all
        .lines()
        .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
        .collect();
    assert_eq!(statuses, ["200 OK", "200 OK", "404 Not Found"], "{all}");
    assert!(all.contains("hello world, over TLSv1.3 with TLS_"), "{all}");
    assert!(
        all.contains(
            r#""request":{"method":"GET","path":"/facts","httpVersion":"1.1","number":2}"#
        ),
        "{all}"
    );
    p.stdout.wait_for("the request line", |l| {
        l.contains("GET /facts (request 2 on this connection)")
    });
    p.stdout.wait_for("the summary line", |l| {
        l.contains("done after 3 request(s): Close")
    });
    interrupt(&mut p);
}
