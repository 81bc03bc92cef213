//! More than one process: two `tls-server serve` instances behind a real HAProxy (TCP mode,
//! `send-proxy-v2`, health checks) sharing one ticket-key file, and two instances sharing
//! one port with `--reuse-port`. All on 127.0.0.1.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use support::json::json;
use support::process::{skip_unless_installed, tls_server, Proc};
use tls_server::rustls;

/// A scratch directory for this test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tls-server-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tls-server serve --events json ARGS`, up to its `listening` line.
fn serve(args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec!["serve", "--events", "json"];
    all.extend_from_slice(args);
    let mut server = Proc::spawn("tls-server", &mut tls_server(&all));
    let line = server.stdout.expect_line("listening");
    let addr = json(&line).str("addr").parse().unwrap();
    (server, addr)
}

/// An instance behind the balancer: PROXY v2 from 127.0.0.1 only, the shared ticket keys.
fn instance(keys: &Path) -> (Proc, SocketAddr) {
    serve(&[
        "--port",
        "0",
        "--proxy-protocol",
        "v2",
        "--proxy-from",
        "127.0.0.1",
        "--ticket-keys",
        keys.to_str().unwrap(),
    ])
}

/// A port free a moment ago, for HAProxy's frontend.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which of `servers` reports the next line containing `needle`, and that line (the
/// others' lines meanwhile are skipped). Panics after the tests' wait.
fn first_to_report(servers: &mut [&mut Proc], needle: &str) -> (usize, String) {
    let deadline = std::time::Instant::now() + support::WAIT;
    loop {
        for (i, server) in servers.iter_mut().enumerate() {
            while let Some(line) = server.stdout.try_line() {
                if line.contains(needle) {
                    return (i, line);
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle} from any server"
        );
        std::thread::yield_now();
    }
}

/// The next `secureConnection` line of `server`, as JSON.
fn next_secure(server: &mut Proc) -> support::json::Obj {
    let line = server.stdout.wait_for("secureConnection", |l| {
        l.contains(r#""event":"secureConnection""#)
    });
    json(&line)
}

#[test]
fn behind_haproxy_clients_keep_their_address_resume_anywhere_and_survive_an_instance() {
    if skip_unless_installed("haproxy") {
        return;
    }
    let dir = Scratch::new("haproxy");
    let keys = dir.0.join("ticket.keys");
    std::fs::write(
        &keys,
        "# shared by both instances\n4f0e0d8a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccd\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&keys).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&keys, perms).unwrap();
    let (mut a, a_addr) = instance(&keys);
    let (mut b, b_addr) = instance(&keys);
    let front = free_port();
    let config = dir.0.join("haproxy.cfg");
    std::fs::write(
        &config,
        format!(
            "global
    nbthread 1
    log stderr format raw local0 notice
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend tls
    bind 127.0.0.1:{front}
    default_backend instances
backend instances
    balance roundrobin
    server a {a_addr} send-proxy-v2 check inter 100ms fall 1 rise 1
    server b {b_addr} send-proxy-v2 check inter 100ms fall 1 rise 1
"
        ),
    )
    .unwrap();
    let mut haproxy = Proc::spawn(
        "haproxy",
        Command::new("haproxy").arg("-db").arg("-f").arg(&config),
    );
    let front: SocketAddr = ([127, 0, 0, 1], front).into();
    support::eventually("haproxy to listen", || {
        std::net::TcpStream::connect(front).is_ok()
    });

    // (a) and (b): the client's own address in the events, and a session from one
    // instance resumed on the other: connect until HAProxy has sent one connection to
    // each (round robin does it at the second, unless a health check got in between).
    let store = Arc::new(rustls::client::ClientSessionMemoryCache::new(64));
    let mut config = (*support::client_config()).clone();
    config.resumption = rustls::client::Resumption::store(store);
    let config = Arc::new(config);
    let mut first = None;
    for round in 0..20 {
        let mut client = support::connect_with(front, config.clone());
        let me = client.sock.local_addr().unwrap();
        // The tickets arrive with the first answer.
        assert_eq!(support::echo_roundtrip(&mut client, b"hi"), b"hi");
        let resumed = client.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        drop(client);
        // Whichever instance took it reports it.
        let (which, line) = first_to_report(&mut [&mut a, &mut b], "secureConnection");
        let secure = json(&line);
        assert_eq!(
            secure.str("peer"),
            me.to_string(),
            "the client, not HAProxy"
        );
        let balancer: SocketAddr = secure.str("proxiedBy").parse().unwrap();
        assert!(balancer.ip().is_loopback() && balancer != me);
        // Every connection after the first resumes, wherever it lands.
        assert_eq!(secure.bool("resumed"), round > 0, "round {round}");
        assert_eq!(resumed, round > 0, "the client agrees");
        match first {
            None => first = Some(which),
            Some(f) if f != which => break,
            Some(_) => assert!(round < 19, "HAProxy sent 20 connections to one instance"),
        }
    }

    // (c) Straight to an instance, without HAProxy: refused and explained.
    assert!(support::try_handshake(a_addr, support::client_config()).is_err());
    let line = a.stdout.wait_for("tlsClientError", |l| {
        l.contains(r#""cause":"proxy-header""#)
    });
    assert!(json(&line).str("fix").contains("send-proxy-v2"), "{line}");

    // (d) One instance dies; once HAProxy's check has seen it, no new connection is lost.
    drop(a);
    haproxy.stderr.wait_for("HAProxy marks a down", |l| {
        l.contains("instances/a is DOWN")
    });
    for _ in 0..10 {
        let mut client = support::connect(front);
        assert_eq!(support::echo_roundtrip(&mut client, b"still"), b"still");
        next_secure(&mut b);
    }
}

#[test]
fn reuse_port_lets_two_processes_serve_one_port() {
    let (mut first, addr) = serve(&["--port", "0", "--reuse-port"]);
    let port = addr.port().to_string();
    let (mut second, same) = serve(&["--port", &port, "--reuse-port"]);
    assert_eq!(addr, same);
    // The kernel spreads connections by their addresses: some go to each.
    let mut seen = [false, false];
    for _ in 0..200 {
        let mut client = support::connect(addr);
        assert_eq!(support::echo_roundtrip(&mut client, b"x"), b"x");
        drop(client);
        let (line, _) = first_to_report(&mut [&mut first, &mut second], "secureConnection");
        seen[line] = true;
        if seen == [true, true] {
            return;
        }
    }
    panic!("200 connections all went to one process: {seen:?}");
}
