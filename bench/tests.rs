//! Smoke tests, run by `cargo test` (so the benchmark cannot rot): every scenario of the
//! load generator, tiny, against tls-server in-process and the naive server; the floor
//! with a handful of sessions. Nothing here asserts on time.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use tls_server::{Event, Server, ServerOptions};

use std::sync::atomic::Ordering;

use crate::client::{self, Groups};
use crate::driver::root;
use crate::floor;
use crate::hostile;
use crate::{chan, pingpong, rate};

#[path = "naive_server.rs"]
#[allow(dead_code)]
mod naive;

const SHORT: Duration = Duration::from_millis(150);

/// tls-server in echo mode, as the CLI runs it; returns the server and its event loop.
fn tls_server() -> (Server, std::thread::JoinHandle<()>, SocketAddr) {
    tls_server_with(ServerOptions::new())
}

fn tls_server_with(options: ServerOptions) -> (Server, std::thread::JoinHandle<()>, SocketAddr) {
    let certs = root().join("certs");
    let server = Server::bind(
        options
            .cert_file(certs.join("server.crt"))
            .key_file(certs.join("server.key"))
            .bind("127.0.0.1:0"),
    )
    .expect("tls-server starts");
    let addr = server.local_addr();
    let events = server.events();
    let echo = std::thread::spawn(move || {
        for event in events {
            match event {
                Event::Data { socket, data } if !socket.write(&data) => socket.pause(),
                Event::Drain(socket) => socket.resume(),
                Event::Closed => break,
                _ => {}
            }
        }
    });
    (server, echo, addr)
}

fn naive_server() -> SocketAddr {
    naive_server_with(naive::serve)
}

fn naive_server_with(serve: fn(TcpListener, Arc<rustls::ServerConfig>)) -> SocketAddr {
    let certs = root().join("certs");
    let config = naive::config(
        certs.join("server.crt").to_str().unwrap(),
        certs.join("server.key").to_str().unwrap(),
    )
    .expect("naive config");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Runs until the test process exits.
    std::thread::spawn(move || serve(listener, Arc::new(config)));
    addr
}

fn every_scenario(addr: SocketAddr) {
    let pid = std::process::id();
    let ca = root().join("certs/ca.crt");
    let full = client::client_config(&ca, Groups::X25519, false).unwrap();
    let resume = client::client_config(&ca, Groups::X25519, true).unwrap();

    let r = rate::handshakes(addr, &full, 2, SHORT, SHORT, pid);
    assert!(r.ops > 0, "no full handshake: {:?}", r.first_error);
    assert_eq!(r.errors, 0, "{:?}", r.first_error);
    assert_eq!(
        r.unclean, 0,
        "every session ends with close_notify both ways"
    );
    assert_eq!(r.negotiated.suite, "TLS13_AES_128_GCM_SHA256");
    assert_eq!(r.negotiated.group, "X25519");

    let r = rate::handshakes(addr, &resume, 2, SHORT, SHORT, pid);
    assert!(r.ops > 0 && r.errors == 0, "{:?}", r.first_error);
    assert!(r.resumed > 0, "no session resumed: {r:?}");

    for shape in [chan::Shape::Poll, chan::Shape::Blocking] {
        let b = chan::bulk(addr, Some(&full), 2, 1 << 20, pid, shape).unwrap();
        assert_eq!(b.bytes, 2 << 20);
    }

    let p = pingpong::pingpong(addr, Some(&full), 10, 2, 64, SHORT, SHORT, pid).unwrap();
    assert!(p.rounds > 0);
    assert!(!p.latencies_ns.is_empty());
    let p = pingpong::pingpong_threads(addr, Some(&full), 10, 64, SHORT, SHORT, pid).unwrap();
    assert!(p.rounds > 0);
    assert!(!p.latencies_ns.is_empty());

    let (held, errors, first) = client::hold(addr, &full, 20, 4);
    assert_eq!((held.len(), errors), (20, 0), "{first:?}");
    for (mut conn, mut sock) in held {
        client::close(&mut conn, &mut sock).unwrap();
    }
}

#[test]
fn scenarios_against_tls_server() {
    let (server, echo, addr) = tls_server();
    every_scenario(addr);
    server.shutdown();
    echo.join().unwrap();
    server.wait();
}

#[test]
fn scenarios_against_the_naive_server() {
    every_scenario(naive_server());
}

/// `bench-naive-server --hop`: tls-server's shape in a few lines (bench/README.md).
#[test]
fn scenarios_against_the_naive_server_with_a_hop() {
    every_scenario(naive_server_with(naive::serve_with_hop));
}

#[test]
fn floor_figures() {
    let sizes = floor::Sizes {
        budget: Duration::ZERO,
        min_sessions: 5,
        mib: 1,
        rounds: 100,
    };
    let figures = floor::measure(&root().join("certs"), sizes).unwrap();
    let get = |k: &str| figures.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    for key in [
        "hs_full_ecdsa_us",
        "hs_full_rsa_us",
        "hs_resumed_us",
        "echo_us_per_MiB",
    ] {
        assert!(get(key).is_some_and(|v| v > 0.0), "{key}: {figures:?}");
    }
    assert_eq!(
        get("hs_resumed_share"),
        Some(1.0),
        "the in-memory client resumes"
    );
}

#[test]
fn report_formats() {
    use crate::report::{num, summary, Better, Results};
    assert_eq!(num(5432.4), "5,432");
    assert_eq!(num(1234567.0), "1,234,567");
    assert_eq!(num(190.2), "190");
    assert_eq!(num(19.55), "19.6");
    assert_eq!(summary(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
    let mut r = Results {
        servers: vec![("a".into(), "A".into()), ("b".into(), "B".into())],
        ..Results::default()
    };
    r.scenario("s", "about s");
    for v in [10.0, 12.0, 11.0] {
        r.add("s", "rate", Better::Higher, "a", v);
        r.add("s", "rate", Better::Higher, "b", v * 2.0);
    }
    let t = r.tables();
    assert!(t.contains("| A | 11.0 (10.0–12.0) |"), "{t}");
    assert!(t.contains("| B | 22.0 (20.0–24.0) ×2.00 |"), "{t}");
    let j = r.json();
    assert!(j.contains("\"ratio_to_reference\": 2"), "{j}");
}

/// Runs `peer` on two threads until it has had `want` sessions go as it expects (or a
/// generous deadline passes); returns its counts.
fn run_peer(
    addr: SocketAddr,
    want: u64,
    peer: impl Fn(&hostile::Ctx, &hostile::Counts) + Sync,
) -> hostile::Counts {
    let config =
        client::client_config(&root().join("certs/ca.crt"), Groups::X25519, false).unwrap();
    let ctx = hostile::Ctx::new(addr, config);
    let counts = hostile::Counts::default();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| peer(&ctx, &counts));
        }
        let until = std::time::Instant::now() + Duration::from_secs(60);
        while counts.ok.load(Ordering::Relaxed) < want && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        ctx.stop.store(true, Ordering::Relaxed);
    });
    counts
}

/// The soak's peers, each briefly, against tls-server in-process: each does what it is
/// meant to, and nothing fails.
#[test]
fn soak_peers() {
    let (server, echo, addr) = tls_server_with(
        ServerOptions::new()
            .client_hello_timeout(Duration::from_millis(200))
            .handshake_timeout(Duration::from_millis(400))
            .idle_timeout(Some(Duration::from_millis(200))),
    );
    let peers: [(&str, hostile::Peer); 5] = [
        ("good", hostile::good),
        ("reset in handshake", hostile::reset_in_handshake),
        ("reset in write", hostile::reset_in_write),
        ("garbage", hostile::garbage),
        ("slow reader", hostile::slow_reader),
    ];
    for (name, peer) in peers {
        let counts = run_peer(addr, 2, peer);
        assert!(
            counts.ok.load(Ordering::Relaxed) >= 2,
            "{name}: none went as expected"
        );
        assert_eq!(counts.failure_count(), 0, "{name}: {:?}", counts.failures());
    }
    for secure in [false, true] {
        let counts = run_peer(addr, 3, |ctx, counts| {
            hostile::Herd { n: 3, secure }.run(ctx, counts)
        });
        assert!(
            counts.ok.load(Ordering::Relaxed) >= 3,
            "herd (secure: {secure}): the server closed none"
        );
        assert_eq!(
            counts.failure_count(),
            0,
            "herd (secure: {secure}): {:?}",
            counts.failures()
        );
    }
    let config =
        client::client_config(&root().join("certs/ca.crt"), Groups::X25519, false).unwrap();
    let ctx = hostile::Ctx::new(addr, config);
    let counts = hostile::Counts::default();
    let from = std::net::IpAddr::from([127, 0, 0, 2]);
    let latencies = hostile::measure(&ctx, &counts, from, Duration::ZERO, Some(3));
    assert_eq!(latencies.len(), 3, "{:?}", counts.failures());
    assert!(latencies.iter().all(|l| l.total >= l.connect));
    server.shutdown();
    echo.join().unwrap();
    server.wait();
}

#[test]
fn chart_draws_each_figure_against_node_and_naive() {
    use crate::report::{Better, Results};
    let mut r = Results {
        servers: vec![
            ("tls-server-aws-lc-rs".into(), "ours".into()),
            ("naive-rustls".into(), "naive".into()),
            ("node".into(), "Node".into()),
        ],
        ..Results::default()
    };
    r.scenario("pingpong-100", "about");
    for (server, rounds, p999) in [
        ("tls-server-aws-lc-rs", 30.0, 10.0),
        ("node", 20.0, 5.0),
        ("naive-rustls", 40.0, 20.0),
    ] {
        r.add("pingpong-100", "rounds/s", Better::Higher, server, rounds);
        r.add("pingpong-100", "p99.9 µs", Better::Lower, server, p999);
    }
    let svg = crate::chart::svg(&r, "t").expect("a chart");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("ping-pong rounds/s (poll client)"), "{svg}");
    // Rounds: ahead of Node (bar to the right), behind naive (to the left).
    assert!(svg.contains(r#"text-anchor="start">×1.50"#), "{svg}");
    assert!(svg.contains(r#"text-anchor="end">×0.75"#), "{svg}");
    // p99.9, lower is better: twice Node's is behind (left), half naive's ahead (right).
    assert!(svg.contains(r#"text-anchor="end">×2.00"#), "{svg}");
    assert!(svg.contains(r#"text-anchor="start">×0.50"#), "{svg}");
    // Figures nobody measured are left out.
    assert!(!svg.contains("idle connection"), "{svg}");
}

#[test]
fn performance_targets_are_judged_on_medians() {
    use crate::report::{Better, Results};
    let mut r = Results::default();
    for (server, rounds, kib) in [
        ("tls-server-aws-lc-rs", 39.0, 23.0),
        ("node", 30.0, 35.0),
        ("naive-rustls", 40.0, 50.0),
    ] {
        r.add(
            "pingpong-100-threads",
            "rounds/s",
            Better::Higher,
            server,
            rounds,
        );
        r.add("idle-5000", "KiB/conn (RSS)", Better::Lower, server, kib);
    }
    let t = crate::sections::perf_targets_section(&r);
    // 39/30 = 1.30 ≥ 1.3 and 39/40 = 0.975 ≥ 0.9; 23/35 ≤ 1 and 23/50 = 0.46 ≤ 0.5.
    assert!(
        t.contains(
            "| pingpong-100-threads | rounds/s | 39.0 | Node | 30.0 | ≥ 1.3× | 1.30 | yes |"
        ),
        "{t}"
    );
    assert!(
        t.contains("| idle-5000 | KiB/conn (RSS) | 23.0 | naive | 50.0 | ≤ 0.5× | 0.46 | yes |"),
        "{t}"
    );
    r.add(
        "pingpong-100-threads",
        "p99.9 µs",
        Better::Lower,
        "tls-server-aws-lc-rs",
        9.0,
    );
    r.add(
        "pingpong-100-threads",
        "p99.9 µs",
        Better::Lower,
        "node",
        8.0,
    );
    let t = crate::sections::perf_targets_section(&r);
    assert!(t.contains("| ≤ 1× | 1.12 | **no** |"), "{t}");
}

/// /proc/PID/smaps split by kind: the stack of a thread that touched half a MiB of it is
/// `Stack`, a touched 4 MiB buffer is `Heap`, each resident as touched. (The mappings
/// holding them, not the process's totals: other tests run meanwhile.)
#[test]
fn smaps_tells_thread_stacks_from_the_heap() {
    use crate::procfs::{mappings, Kind};
    use std::sync::mpsc;
    let holding = |addr: usize| {
        mappings(std::process::id())
            .unwrap()
            .into_iter()
            .find(|m| m.start <= addr as u64 && (addr as u64) < m.end)
            .expect("a mapping holds it")
    };
    let (touched_tx, touched_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut deep = [0u8; 512 * 1024];
            for i in (0..deep.len()).step_by(4096) {
                deep[i] = i as u8;
            }
            std::hint::black_box(&mut deep);
            touched_tx.send(deep.as_ptr() as usize).unwrap();
            let _ = done_rx.recv();
        })
        .unwrap();
    let stack = holding(touched_rx.recv().unwrap());
    done_tx.send(()).unwrap();
    thread.join().unwrap();
    assert_eq!(stack.kind, Kind::Stack, "{stack:?}");
    assert!(stack.rss_kib >= 500, "{stack:?}");

    let mut buffer = vec![0u8; 4 << 20];
    for i in (0..buffer.len()).step_by(4096) {
        buffer[i] = 1;
    }
    std::hint::black_box(&mut buffer);
    let heap = holding(buffer.as_ptr() as usize);
    assert_eq!(heap.kind, Kind::Heap, "{heap:?}");
    assert!(heap.rss_kib >= 4000, "{heap:?}");
}
