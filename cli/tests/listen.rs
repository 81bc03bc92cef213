//! Where `serve` listens, as a test suite uses it: several `--bind`s, a socket inherited
//! with `--listen-fd` or systemd's `LISTEN_FDS` (bound by the parent, so no race for a
//! port), and `--exit-after N`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::Command;

use support::json::json;
use support::process::{
    expect_config_error, skip_unless_installed, tls_server, tls_server_bin, Proc,
};

/// The address of each `listening` line, up to the first other line.
fn listening_lines(server: &mut Proc, n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|_| {
            let line = server.stdout.expect_line("listening");
            let event = json(&line);
            assert_eq!(event.event(), "listening", "{line}");
            event.str("addr").parse().unwrap()
        })
        .collect()
}

/// One echo through a real TLS client.
fn echoes(addr: SocketAddr) {
    let mut client = support::connect(addr);
    let msg = format!("via {addr}");
    assert_eq!(
        support::echo_roundtrip(&mut client, msg.as_bytes()),
        msg.as_bytes()
    );
}

#[test]
fn several_binds_listen_on_each() {
    let mut server = Proc::spawn(
        "tls-server",
        &mut tls_server(&[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--bind",
            "[::1]:0",
            "--events",
            "json",
        ]),
    );
    let addrs = listening_lines(&mut server, 2);
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    for addr in addrs {
        echoes(addr);
    }
}

/// Python binds a listening socket on 127.0.0.1:0 and execs `tls-server serve ARGS` (the
/// same process, so LISTEN_PID can name it), with the socket as descriptor `fd`; `env`
/// is set first. `{port}` in ARGS is not needed: the server reports the address.
fn inherit(fd: i32, env: &[(&str, &str)], args: &[&str]) -> (Proc, SocketAddr) {
    let script = format!(
        r#"
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
os.dup2(s.fileno(), {fd})
os.set_inheritable({fd}, True)
for k, v in {env:?}:
    os.environ[k] = v.replace("SELF", str(os.getpid()))
os.execv(sys.argv[1], sys.argv[1:])
"#
    );
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(tls_server_bin())
        .args(["serve", "--events", "json"])
        .args(args)
        .current_dir(support::repo_root())
        .stdin(std::process::Stdio::null());
    let mut server = Proc::spawn("tls-server (via python3)", &mut cmd);
    let addr = listening_lines(&mut server, 1)[0];
    (server, addr)
}

#[test]
fn serves_on_a_socket_inherited_with_listen_fd() {
    if skip_unless_installed("python3") {
        return;
    }
    let (server, addr) = inherit(5, &[], &["--listen-fd", "5"]);
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    echoes(addr);
    drop(server);
}

#[test]
fn serves_on_systemd_sockets_when_listen_pid_is_ours() {
    if skip_unless_installed("python3") {
        return;
    }
    let (_server, addr) = inherit(3, &[("LISTEN_FDS", "1"), ("LISTEN_PID", "SELF")], &[]);
    echoes(addr);
}

#[test]
fn systemd_sockets_for_another_process_are_left_alone() {
    if skip_unless_installed("python3") {
        return;
    }
    // LISTEN_PID names another process: the server binds --bind as usual instead.
    let (_server, addr) = inherit(
        3,
        &[("LISTEN_FDS", "1"), ("LISTEN_PID", "1")],
        &["--bind", "127.0.0.1:0"],
    );
    echoes(addr);
}

#[test]
fn inherited_sockets_that_cannot_work_are_refused_with_the_reason() {
    for (args, wants) in [
        (&["--listen-fd", "1"][..], &["--listen-fd 1", "stdout"][..]),
        (&["--listen-fd", "x"], &["\"x\" is not a file descriptor"]),
        (&["--listen-fd", "4", "--listen-fd", "4"], &["given twice"]),
        (
            &["--listen-fd", "4", "--bind", "127.0.0.1:0"],
            &["both say where to listen"],
        ),
        // Nothing is open as descriptor 200 in the child.
        (&["--listen-fd", "200", "--no-check"], &["not a socket"]),
    ] {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        expect_config_error(&all, wants);
    }
}

/// `serve --port 0 --events json --exit-after N`.
fn exit_after(n: &str) -> Proc {
    Proc::spawn(
        "tls-server",
        &mut tls_server(&[
            "serve",
            "--port",
            "0",
            "--events",
            "json",
            "--exit-after",
            n,
        ]),
    )
}

#[test]
fn exit_after_serves_n_connections_then_exits_cleanly() {
    let mut server = exit_after("2");
    let addr = listening_lines(&mut server, 1)[0];
    let mut first = support::connect(addr);
    let mut second = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut first, b"one"), b"one");
    assert_eq!(support::echo_roundtrip(&mut second, b"two"), b"two");
    drop(first);
    drop(second);
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
    let events: Vec<String> = server
        .stdout
        .seen
        .iter()
        .map(|l| json(l).event().to_string())
        .collect();
    assert_eq!(
        events.iter().filter(|e| *e == "close").count(),
        2,
        "{events:?}"
    );
    assert_eq!(
        &events[events.len() - 2..],
        ["closed", "summary"],
        "the summary comes last: {events:?}"
    );
    let summary = json(server.stdout.seen.last().unwrap());
    assert_eq!(summary.num("connections"), 2.0);
    assert_eq!(summary.num("secure"), 2.0);
    assert_eq!(summary.num("failures"), 0.0);
    assert_eq!(summary.num("bytesRead"), 6.0, "\"one\" and \"two\"");
    assert_eq!(summary.num("bytesWritten"), 6.0, "echoed");
    let line = server
        .stderr
        .seen
        .iter()
        .find(|l| l.contains("summary: "))
        .expect("a summary log line");
    assert!(
        line.contains("2 connections, 2 secure (0 resumed), 0 failed"),
        "{line}"
    );
}

#[test]
fn the_summary_counts_failed_handshakes_by_cause() {
    let mut server = exit_after("1");
    let addr = listening_lines(&mut server, 1)[0];
    // Plain HTTP at a TLS port: a not-tls failure.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut plain, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut rest);
    assert!(server.wait_exit().success());
    let summary = json(server.stdout.seen.last().unwrap());
    assert_eq!(summary.event(), "summary");
    assert_eq!(summary.num("failures"), 1.0);
    assert_eq!(summary.obj("failed").num("not-tls"), 1.0);
    assert!(server
        .stderr
        .seen
        .iter()
        .any(|l| l.contains("1 failed (not-tls 1)")));
}
