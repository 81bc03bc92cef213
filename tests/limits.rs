//! Connections as a defended resource: one address cannot take every connection, stalled
//! handshakes make room for new ones, a full server closes its longest-idle connection,
//! silent clients meet the first-bytes deadline, idle connections time out, a thread that
//! cannot be started refuses only its connection — and a client from another address gets
//! in while one address floods the server. Every refusal and eviction is an event that
//! names its limit.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::*;
use tls_server::event::Limit;
use tls_server::explain::{Cause, Phase};
use tls_server::rustls;
use tls_server::rustls::pki_types::ServerName;
use tls_server::{Event, Events, WhenFull};

const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A TCP connection to `addr` from the loopback address `from`.
fn tcp_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind to a loopback address");
    socket.connect(&addr.into()).expect("connect");
    let tcp: TcpStream = socket.into();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    tcp
}

/// A completed TLS handshake from `from`.
fn secure_from(from: IpAddr, addr: SocketAddr) -> Client {
    handshake_over(tcp_from(from, addr), client_config())
}

/// Waits for the server's `SecureConnection` of the client at `me`; its id.
fn secured(events: &Events, me: SocketAddr) -> u64 {
    wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
        Event::Refused { peer, reason, .. } if *peer == me => panic!("{me} refused: {reason}"),
        _ => None,
    })
}

/// Waits for `Connection` from `me`; its id.
fn accepted(events: &Events, me: SocketAddr) -> u64 {
    accepted_all(events, &[me])[0]
}

/// The ids of the connections from `peers`, in that order. Each connection announces
/// itself from its own thread, so their `Connection` events come in any order.
fn accepted_all(events: &Events, peers: &[SocketAddr]) -> Vec<u64> {
    let mut ids = vec![None; peers.len()];
    while ids.iter().any(Option::is_none) {
        let (at, id) = wait_for(events, "connection", |e| match e {
            Event::Connection { id, peer, .. } => {
                peers.iter().position(|p| p == peer).map(|at| (at, *id))
            }
            _ => None,
        });
        ids[at] = Some(id);
    }
    ids.into_iter().flatten().collect()
}

#[test]
fn one_address_cannot_take_every_connection() {
    // 8 connections at most, so 6 per address by default.
    let (server, events, addr) = start(options().max_connections(8));
    let mut held = Vec::new();
    for _ in 0..6 {
        let client = secure_from(IpAddr::V4(Ipv4Addr::LOCALHOST), addr);
        secured(&events, client.sock.local_addr().unwrap());
        held.push(client);
    }
    let seventh = tcp_from(IpAddr::V4(Ipv4Addr::LOCALHOST), addr);
    let me = seventh.local_addr().unwrap();
    let (limit, reason) = wait_for(&events, "refused", |e| match e {
        Event::Refused {
            peer,
            limit,
            reason,
        } if *peer == me => Some((*limit, reason.clone())),
        _ => None,
    });
    assert_eq!(limit, Limit::MaxPerAddress);
    assert!(
        reason.contains("127.0.0.1 already holds 6 connections")
            && reason.contains("ServerOptions::max_connections_per_address 6"),
        "{reason}"
    );
    // Another address still gets in.
    let mut other = secure_from(OTHER, addr);
    let id = secured(&events, other.sock.local_addr().unwrap());
    echo(&events, &mut other, id, b"from 127.0.0.2");
    assert_eq!(server.handle().connections(), 7);
    drop(held);
}

#[test]
fn a_stalled_handshake_makes_room_for_a_new_client() {
    let (_server, events, addr) = start(
        options()
            .max_connections(16)
            .max_handshakes(2)
            .handshake_timeout(Duration::from_secs(60))
            .client_hello_timeout(Duration::from_secs(60)),
    );
    // Two connections that never send a byte hold both handshake places.
    let silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let first = accepted_all(
        &events,
        &[
            silent[0].local_addr().unwrap(),
            silent[1].local_addr().unwrap(),
        ],
    )[0];
    // A real client still completes its handshake: the oldest silent one made room.
    let mut client = connect(addr);
    let me = client.sock.local_addr().unwrap();
    let seen = collect_until(
        &events,
        "secureConnection",
        |e| matches!(e, Event::SecureConnection(s) if s.remote_addr() == me),
    );
    let evicted = seen.iter().find_map(|e| match e {
        Event::Evicted {
            id, limit, reason, ..
        } => Some((*id, *limit, reason.clone())),
        _ => None,
    });
    let (id, limit, reason) = evicted.expect("an eviction before the new client's handshake");
    assert_eq!(id, first, "the oldest silent handshake goes first");
    assert_eq!(limit, Limit::MaxHandshakes);
    assert!(
        reason.contains("ServerOptions::max_handshakes 2"),
        "{reason}"
    );
    assert!(reason.contains("had sent nothing"), "{reason}");
    // The evicted handshake's failure says what happened to it.
    let error = seen_or_wait(&seen, &events, "tlsClientError", |e| match e {
        Event::TlsClientError(e) if e.id == first => Some(e.clone()),
        _ => None,
    });
    assert_eq!(error.cause, Cause::Evicted, "{error}");
    let id = secured_id(&seen, me);
    echo(&events, &mut client, id, b"in");
}

/// The first event in `seen` that `pick` accepts, or else the next one to come.
fn seen_or_wait<T>(
    seen: &[Event],
    events: &Events,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    match seen.iter().find_map(&mut pick) {
        Some(found) => found,
        None => wait_for(events, what, pick),
    }
}

fn secured_id(seen: &[Event], me: SocketAddr) -> u64 {
    seen.iter()
        .find_map(|e| match e {
            Event::SecureConnection(s) if s.remote_addr() == me => Some(s.id()),
            _ => None,
        })
        .expect("secureConnection")
}

#[test]
fn a_full_server_closes_its_longest_idle_connection() {
    let (_server, events, addr) =
        start(options().max_connections(3).max_connections_per_address(8));
    let (mut a, a_id) = connect_secure(&events, addr);
    let (mut b, b_id) = connect_secure(&events, addr);
    let (mut c, c_id) = connect_secure(&events, addr);
    // a is the least recently active.
    echo(&events, &mut b, b_id, b"b");
    echo(&events, &mut c, c_id, b"c");
    let mut d = connect(addr);
    let me = d.sock.local_addr().unwrap();
    let mut seen = collect_until(
        &events,
        "secureConnection of d",
        |e| matches!(e, Event::SecureConnection(s) if s.remote_addr() == me),
    );
    let d_id = secured_id(&seen, me);
    // a was evicted, said so, and closed: its client sees the end of the stream. (Its
    // `Close` comes from its own thread, before or after d's events: collected first, as
    // `echo` drops the events it is not waiting for.)
    let mut rest = Vec::new();
    let _ = a.read_to_end(&mut rest);
    let closed = |e: &Event| matches!(e, Event::Close { socket, .. } if socket.id() == a_id);
    if !seen.iter().any(closed) {
        seen.extend(collect_until(&events, "close of a", closed));
    }
    echo(&events, &mut d, d_id, b"d got in");
    assert!(
        seen.iter().any(|e| matches!(e,
            Event::Evicted { id, limit: Limit::MaxConnections, reason, .. }
                if *id == a_id && reason.contains("idle longest"))),
        "{:?}",
        seen.iter().map(Event::name).collect::<Vec<_>>()
    );
    // The others are untouched.
    echo(&events, &mut b, b_id, b"still b");
    echo(&events, &mut c, c_id, b"still c");
}

#[test]
fn a_full_server_closes_a_connection_of_the_address_holding_the_most() {
    let (_server, events, addr) =
        start(options().max_connections(4).max_connections_per_address(4));
    // 127.0.0.2's connection is the idle longest of all...
    let mut other = secure_from(OTHER, addr);
    let other_id = secured(&events, other.sock.local_addr().unwrap());
    // ...but 127.0.0.1 holds three.
    let mut flood = Vec::new();
    for _ in 0..3 {
        let client = secure_from(IpAddr::V4(Ipv4Addr::LOCALHOST), addr);
        secured(&events, client.sock.local_addr().unwrap());
        flood.push(client);
    }
    let newcomer = tcp_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), addr);
    let me = newcomer.local_addr().unwrap();
    let seen = collect_until(
        &events,
        "connection of the newcomer",
        |e| matches!(e, Event::Connection { peer, .. } if *peer == me),
    );
    let (victim, reason) = seen
        .iter()
        .find_map(|e| match e {
            Event::Evicted { peer, reason, .. } => Some((*peer, reason.clone())),
            _ => None,
        })
        .expect("an eviction before the newcomer's connection");
    assert_eq!(victim.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST), "{reason}");
    assert!(reason.contains("the address holding the most"), "{reason}");
    echo(&events, &mut other, other_id, b"127.0.0.2 stays");
}

#[test]
fn a_stalled_handshake_of_the_flooding_address_goes_first() {
    let (_server, events, addr) = start(
        options()
            .max_connections(16)
            .max_connections_per_address(16)
            .max_handshakes(3)
            .handshake_timeout(Duration::from_secs(60))
            .client_hello_timeout(Duration::from_secs(60)),
    );
    // The oldest silent handshake is 127.0.0.2's; 127.0.0.1 has two.
    let lone = tcp_from(OTHER, addr);
    let lone_id = accepted(&events, lone.local_addr().unwrap());
    let flood: Vec<TcpStream> = (0..2)
        .map(|_| tcp_from(IpAddr::V4(Ipv4Addr::LOCALHOST), addr))
        .collect();
    let flood_addrs: Vec<SocketAddr> = flood.iter().map(|t| t.local_addr().unwrap()).collect();
    let flood_ids = accepted_all(&events, &flood_addrs);
    let newcomer = tcp_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), addr);
    let me = newcomer.local_addr().unwrap();
    let seen = collect_until(
        &events,
        "connection of the newcomer",
        |e| matches!(e, Event::Connection { peer, .. } if *peer == me),
    );
    let victim = seen
        .iter()
        .find_map(|e| match e {
            Event::Evicted { id, .. } => Some(*id),
            _ => None,
        })
        .expect("an eviction before the newcomer's connection");
    assert_eq!(victim, flood_ids[0], "not {lone_id}, the lone client's");
}

#[test]
fn refuse_policy_keeps_idle_connections_and_refuses_the_newcomer() {
    let (_server, events, addr) = start(
        options()
            .max_connections(1)
            .max_connections_per_address(4)
            .when_full(WhenFull::Refuse),
    );
    let (mut a, a_id) = connect_secure(&events, addr);
    let tcp = TcpStream::connect(addr).unwrap();
    let me = tcp.local_addr().unwrap();
    let reason = wait_for(&events, "refused", |e| match e {
        Event::Refused {
            peer,
            limit: Limit::MaxConnections,
            reason,
        } if *peer == me => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.contains("ServerOptions::when_full evict-idle"),
        "{reason}"
    );
    echo(&events, &mut a, a_id, b"a stays");
}

#[test]
fn a_silent_client_meets_the_first_bytes_deadline() {
    let (_server, events, addr) = start(
        options()
            .client_hello_timeout(Duration::from_millis(200))
            .handshake_timeout(Duration::from_secs(60)),
    );
    let silent = TcpStream::connect(addr).unwrap();
    let me = silent.local_addr().unwrap();
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(e) if e.peer == me => Some(e.clone()),
        _ => None,
    });
    assert_eq!(error.cause, Cause::Timeout);
    assert_eq!(error.phase, Phase::BeforeAnyBytes);
    assert!(
        error
            .message
            .contains("ServerOptions::client_hello_timeout 200ms"),
        "{error}"
    );
}

#[test]
fn a_client_that_has_spoken_gets_the_whole_handshake_deadline() {
    let (_server, events, addr) = start(
        options()
            .client_hello_timeout(Duration::from_millis(100))
            .handshake_timeout(Duration::from_millis(600)),
    );
    // The start of a ClientHello record, then nothing.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(&[22, 3, 1, 0, 200, 1]).unwrap();
    let me = slow.local_addr().unwrap();
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(e) if e.peer == me => Some(e.clone()),
        _ => None,
    });
    assert_eq!(error.cause, Cause::Timeout);
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert!(error.message.contains("600ms"), "{error}");
}

#[test]
fn an_idle_connection_times_out_with_an_event_and_close_notify() {
    let (_server, events, addr) = start(options().idle_timeout(Some(Duration::from_millis(200))));
    let (mut client, id) = connect_secure(&events, addr);
    let idle = wait_for(&events, "timeout", |e| match e {
        Event::Timeout { socket, idle } if socket.id() == id => Some(*idle),
        _ => None,
    });
    assert!(idle >= Duration::from_millis(200), "{idle:?}");
    // The server ended it with close_notify: a clean end of stream for the client.
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("close_notify, not a reset");
    assert!(rest.is_empty());
    wait_for(&events, "close", |e| match e {
        Event::Close { socket, .. } if socket.id() == id => Some(()),
        _ => None,
    });
}

#[test]
fn a_busy_connection_does_not_time_out() {
    let (_server, events, addr) = start(options().idle_timeout(Some(Duration::from_millis(150))));
    let (mut client, id) = connect_secure(&events, addr);
    let started = Instant::now();
    // Echo for four times the idle timeout: never idle that long.
    while started.elapsed() < Duration::from_millis(600) {
        client.write_all(b"tick").unwrap();
        client.flush().unwrap();
        let mut echoed = 0;
        while echoed < 4 {
            match events.recv_timeout(WAIT).expect("an event") {
                Event::Data { socket, data } if socket.id() == id => {
                    socket.write(&data);
                    echoed += data.len();
                }
                Event::Timeout { socket, idle } if socket.id() == id => {
                    panic!("a busy connection timed out after {idle:?}")
                }
                _ => {}
            }
        }
        let mut back = [0u8; 4];
        client.read_exact(&mut back).unwrap();
    }
}

#[test]
fn a_peer_that_stops_reading_times_out_too() {
    let (_server, events, addr) = start(
        options()
            .idle_timeout(Some(Duration::from_millis(300)))
            .high_water_mark(16 * 1024),
    );
    let (mut client, id) = connect_secure(&events, addr);
    // The client sends a lot and reads nothing; the server echoes (pausing when its output
    // is full), so bytes stop moving both ways.
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 16 * 1024];
        while client
            .write_all(&chunk)
            .and_then(|()| client.flush())
            .is_ok()
        {}
    });
    let idle = wait_for(&events, "timeout", |e| match e {
        Event::Data { socket, data } if socket.id() == id => {
            if !socket.write(data) {
                socket.pause();
            }
            None
        }
        Event::Drain(socket) => {
            socket.resume();
            None
        }
        Event::Timeout { socket, idle } if socket.id() == id => Some(*idle),
        _ => None,
    });
    assert!(idle >= Duration::from_millis(300), "{idle:?}");
    wait_for(&events, "close", |e| match e {
        Event::Close { socket, .. } if socket.id() == id => Some(()),
        _ => None,
    });
    sender.join().unwrap();
}

#[test]
fn no_thread_for_a_connection_refuses_only_that_connection() {
    // A stack no system can give: every thread start fails.
    let (server, events, addr) = start(options().thread_stack_size(1 << 46));
    let tcp = TcpStream::connect(addr).unwrap();
    let me = tcp.local_addr().unwrap();
    let reason = wait_for(&events, "refused", |e| match e {
        Event::Refused {
            peer,
            limit: Limit::Threads,
            reason,
        } if *peer == me => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.contains("cannot start a connection thread"),
        "{reason}"
    );
    // The server is still there: it refuses the next one the same way, and stops cleanly.
    let again = TcpStream::connect(addr).unwrap();
    let me = again.local_addr().unwrap();
    wait_for(&events, "refused again", |e| match e {
        Event::Refused { peer, .. } if *peer == me => Some(()),
        _ => None,
    });
    assert_eq!(server.handle().connections(), 0);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

/// The scenario, small: while 127.0.0.1 holds 4 × the cap in idle secure
/// connections and 4 × the cap in handshakes that send nothing, every client from
/// 127.0.0.2 completes its handshake (the timing is measured by `make soak`, not here).
#[test]
fn a_flood_from_one_address_does_not_lock_out_another() {
    let cap = 16;
    let (_server, events, addr) = start(options().max_connections(cap));
    let drain = std::thread::spawn(move || {
        // Drop every event so that no `End` waits on us.
        while !matches!(events.recv(), Ok(Event::Closed) | Err(_)) {}
    });
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    for _ in 0..4 * cap {
        // Over its share the address is refused: that is the point.
        let conn = rustls::ClientConnection::new(
            client_config(),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut client = rustls::StreamOwned::new(conn, tcp_from(local, addr));
        while client.conn.is_handshaking() {
            if client.conn.complete_io(&mut client.sock).is_err() {
                break;
            }
        }
        held.push(Box::new(client));
        held.push(Box::new(tcp_from(local, addr)));
    }
    for round in 0..20 {
        let client = try_handshake_from(OTHER, addr);
        assert!(client.is_ok(), "round {round}: {:?}", client.err());
    }
    drop(held);
    drop(drain);
}

fn try_handshake_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<Client> {
    let conn =
        rustls::ClientConnection::new(client_config(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp_from(from, addr));
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    // A round trip: the server really serves this connection.
    client.write_all(b"ping")?;
    client.flush()?;
    Ok(client)
}

#[test]
fn an_event_loop_that_falls_behind_pauses_accepting_until_it_catches_up() {
    let (server, events, addr) = start(
        options()
            .max_queued_events(8)
            .client_hello_timeout(Duration::from_secs(60))
            .handshake_timeout(Duration::from_secs(60)),
    );
    // Nobody reads events: eight connections (one `Connection` event each) fill the
    // queue, and the server stops serving newcomers.
    let quiet: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let handle = server.handle();
    let until = Instant::now() + WAIT;
    while handle.queued_events() < 8 && Instant::now() < until {
        std::thread::yield_now();
    }
    assert_eq!(handle.queued_events(), 8);
    // A client now waits in the kernel's accept queue: its handshake gets no answer.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(client_config(), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut waiting = rustls::StreamOwned::new(conn, tcp);
    let unanswered = waiting.conn.complete_io(&mut waiting.sock);
    assert!(
        unanswered.is_err() && waiting.conn.is_handshaking(),
        "the server should not have accepted: {unanswered:?}"
    );
    assert_eq!(handle.connections(), 8);
    // The event loop catches up: the waiting client is accepted and served.
    let me = waiting.sock.local_addr().unwrap();
    waiting.sock.set_read_timeout(Some(WAIT)).unwrap();
    let reader = std::thread::spawn(move || {
        while waiting.conn.is_handshaking() {
            waiting
                .conn
                .complete_io(&mut waiting.sock)
                .expect("handshake once the server accepts again");
        }
        waiting
    });
    secured(&events, me);
    let waiting = reader.join().unwrap();
    assert!(!waiting.conn.is_handshaking());
    drop(quiet);
}
