//! Where the server listens: sockets made by the caller (`Server::from_listener`), several
//! addresses at once (`ServerOptions::also_bind`; an IPv4 client is one address on all of
//! them), and stopping after a number of
//! connections (`ServerOptions::exit_after`).

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};

use support::*;
use tls_server::{Event, Server};

/// The `Listening` events at startup, `n` of them.
fn listening(events: &tls_server::Events, n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|_| {
            wait_for(events, "listening", |e| match e {
                Event::Listening { addr } => Some(*addr),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn serves_on_a_listener_the_caller_bound() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // ServerOptions::bind is not used: the options' address here is not free to take.
    let server = Server::from_listener(listener, options().bind("127.0.0.1:1")).unwrap();
    let events = server.events();
    assert_eq!(listening(&events, 1), vec![addr]);
    assert_eq!(server.local_addr(), addr);
    let (mut client, id) = connect_secure(&events, addr);
    echo(&events, &mut client, id, b"inherited");
}

#[test]
fn a_socket_that_is_not_listening_is_refused_with_the_fix() {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let not_listening: TcpListener = socket.into();
    let e = Server::from_listener(not_listening, options())
        .err()
        .expect("refused")
        .to_string();
    for part in [
        "Server::from_listeners",
        "is not listening",
        "call listen()",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
    let none = Server::from_listeners(Vec::new(), options())
        .err()
        .expect("refused")
        .to_string();
    assert!(none.contains("no listening socket"), "{none}");
}

#[test]
fn listens_on_every_address_given() {
    let server = Server::bind(options().bind("127.0.0.1:0").also_bind("[::1]:0")).unwrap();
    let events = server.events();
    let addrs = listening(&events, 2);
    assert_eq!(server.local_addrs(), &addrs[..]);
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    for addr in &addrs {
        let (mut client, id) = connect_secure(&events, *addr);
        echo(&events, &mut client, id, addr.to_string().as_bytes());
    }
    // Dropping the server must stop both accept threads (each woken by its own address).
    drop(server);
}

/// An IPv4 client is one address whether it reaches an IPv4 listener (127.0.0.1) or a
/// dual-stack one (`::ffff:127.0.0.1`): the per-address limit counts both together.
#[test]
fn an_ipv4_client_on_a_dual_stack_listener_is_the_same_address() {
    let server = Server::bind(
        options()
            .bind("127.0.0.1:0")
            .also_bind("[::ffff:127.0.0.1]:0")
            .max_connections_per_address(1),
    )
    .unwrap();
    let events = server.events();
    let addrs = listening(&events, 2);
    let (mut first, id) = connect_secure(&events, addrs[0]);
    echo(&events, &mut first, id, b"over IPv4");
    let second = TcpStream::connect(addrs[1]).unwrap();
    let me = second.local_addr().unwrap();
    assert!(me.is_ipv6(), "{me}");
    let reason = wait_for(&events, "refused", |e| match e {
        Event::Refused { peer, reason, .. } if *peer == me => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.starts_with("127.0.0.1 already holds 1 connection,"),
        "{reason}"
    );
    drop(first);
}

#[test]
fn one_address_that_cannot_be_bound_stops_the_start() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = Server::bind(
        options()
            .bind("127.0.0.1:0")
            .also_bind(taken.local_addr().unwrap().to_string()),
    )
    .err()
    .expect("the second address is in use")
    .to_string();
    assert!(
        e.contains(&taken.local_addr().unwrap().to_string()),
        "the error names the address: {e}"
    );
}

#[test]
fn exit_after_serves_that_many_connections_to_their_end_then_closes() {
    let server = Server::bind(options().exit_after(2)).unwrap();
    let events = server.events();
    let addr = listening(&events, 1)[0];
    let (mut first, first_id) = connect_secure(&events, addr);
    let (mut second, second_id) = connect_secure(&events, addr);
    // The listener is closed once the second is accepted (the log says so): a third
    // client is not served, by refusal or by a closed connection.
    eventually("the listener to close", || {
        TcpStream::connect(addr).is_err()
    });
    // The two accepted connections go on as long as their clients like.
    echo(&events, &mut first, first_id, b"still served");
    echo(&events, &mut second, second_id, b"me too");
    assert_eq!(server.handle().connections(), 2);
    drop(first);
    drop(second);
    // Each End is dropped as it comes (which ends our side), so each connection closes.
    let mut closed = Vec::new();
    wait_for(&events, "closed", |e| match e {
        Event::Close { socket, .. } => {
            closed.push(socket.id());
            None
        }
        Event::Closed => Some(()),
        _ => None,
    });
    closed.sort();
    assert_eq!(
        closed,
        vec![first_id, second_id],
        "both closed before the server"
    );
    server.wait();
}

#[test]
fn exit_after_zero_is_refused() {
    let e = Server::bind(options().exit_after(0))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("ServerOptions::exit_after"), "{e}");
}
