//! Behind a load balancer: the PROXY protocol header (v1 text, v2 binary) names the client,
//! only trusted balancers may send one, and a connection without one is refused and
//! explained. Also `reuse_port`: several servers on one port.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use support::*;
use tls_server::explain::Cause;
use tls_server::{Event, ProxyProtocol, Server, ServerOptions};

/// The client the balancer speaks for, in every test.
const CLIENT: &str = "192.0.2.7:50000";

fn behind_balancer(version: ProxyProtocol) -> ServerOptions {
    options().proxy_protocol(version).proxy_from(&["127.0.0.1"])
}

/// What a balancer sends: `header`, then the TLS client's bytes on the same connection.
fn connect_through(addr: SocketAddr, header: &[u8]) -> Client {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(header).unwrap();
    handshake_over(tcp, client_config())
}

fn v1(client: &str, server: SocketAddr) -> Vec<u8> {
    let client: SocketAddr = client.parse().unwrap();
    format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        client.ip(),
        server.ip(),
        client.port(),
        server.port()
    )
    .into_bytes()
}

/// A v2 header (PROXY command, TCP over IPv4), byte by byte as the protocol lays it out.
fn v2(client: &str, server: SocketAddr) -> Vec<u8> {
    let client: SocketAddr = client.parse().unwrap();
    let (SocketAddr::V4(c), SocketAddr::V4(s)) = (client, server) else {
        panic!("IPv4 only here")
    };
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x21); // version 2, PROXY
    h.push(0x11); // TCP over IPv4
    h.extend_from_slice(&12u16.to_be_bytes());
    h.extend_from_slice(&c.ip().octets());
    h.extend_from_slice(&s.ip().octets());
    h.extend_from_slice(&c.port().to_be_bytes());
    h.extend_from_slice(&s.port().to_be_bytes());
    h
}

/// The `Connection` and `SecureConnection` of the next connection: (peer, proxied_by) of
/// each.
fn seen(events: &tls_server::Events) -> ((SocketAddr, Option<SocketAddr>), tls_server::TlsSocket) {
    let connection = wait_for(events, "connection", |e| match e {
        Event::Connection {
            peer, proxied_by, ..
        } => Some((*peer, *proxied_by)),
        _ => None,
    });
    let secure = wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.clone()),
        Event::TlsClientError(e) => panic!("failed: {e}"),
        _ => None,
    });
    (connection, secure)
}

#[test]
fn a_v1_or_v2_header_names_the_client_in_every_event() {
    for (version, header) in [
        (ProxyProtocol::V1, v1 as fn(&str, SocketAddr) -> Vec<u8>),
        (ProxyProtocol::V2, v2),
        (ProxyProtocol::Any, v1),
        (ProxyProtocol::Any, v2),
    ] {
        let (_server, events, addr) = start(behind_balancer(version));
        let mut client = connect_through(addr, &header(CLIENT, addr));
        let balancer = client.sock.local_addr().unwrap();
        let ((peer, proxied_by), socket) = seen(&events);
        assert_eq!(peer.to_string(), CLIENT, "{version:?}");
        assert_eq!(proxied_by, Some(balancer));
        assert_eq!(socket.remote_addr().to_string(), CLIENT);
        assert_eq!(socket.info().proxied_by, Some(balancer));
        let facts = socket.info().to_json();
        assert!(
            facts.contains(&format!("\"proxiedBy\":\"{balancer}\"")),
            "{facts}"
        );
        // Not a byte of the TLS stream was taken with the header.
        echo(&events, &mut client, socket.id(), b"after the header");
    }
}

#[test]
fn a_local_header_is_the_balancer_speaking_for_itself() {
    let (_server, events, addr) = start(behind_balancer(ProxyProtocol::V2));
    // v2 LOCAL (a health check): no address block.
    let local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    let client = connect_through(addr, local);
    let balancer = client.sock.local_addr().unwrap();
    let ((peer, proxied_by), _) = seen(&events);
    assert_eq!((peer, proxied_by), (balancer, None));
}

#[test]
fn the_per_address_limit_counts_the_client_the_header_names_not_the_balancer() {
    // Two connections per address; every connection comes from the balancer (127.0.0.1).
    let (_server, events, addr) =
        start(behind_balancer(ProxyProtocol::V1).max_connections_per_address(2));
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(connect_through(addr, &v1(CLIENT, addr)));
        let ((peer, _), _) = seen(&events);
        assert_eq!(peer, CLIENT.parse().unwrap());
    }
    // A third from the same client is refused, naming it and the balancer.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    (&tcp).write_all(&v1(CLIENT, addr)).unwrap();
    let (peer, limit, reason) = wait_for(&events, "refused", |e| match e {
        Event::Refused {
            peer,
            limit,
            reason,
        } => Some((*peer, *limit, reason.clone())),
        Event::Connection { peer, .. } => panic!("{peer} was let in"),
        _ => None,
    });
    assert_eq!(peer, CLIENT.parse().unwrap());
    assert_eq!(limit, tls_server::event::Limit::MaxPerAddress);
    assert!(
        reason.starts_with("192.0.2.7 (through the balancer 127.0.0.1:")
            && reason.contains("already holds 2 connections"),
        "{reason}"
    );
    let mut rest = Vec::new();
    assert_eq!(
        (&tcp).read_to_end(&mut rest).unwrap_or(0),
        0,
        "closed at once"
    );
    // Another client through the same balancer still gets in: the balancer's own address
    // (now holding three) is not what is limited.
    held.push(connect_through(addr, &v1("192.0.2.8:40000", addr)));
    let ((peer, proxied_by), _) = seen(&events);
    assert_eq!(peer, "192.0.2.8:40000".parse().unwrap());
    assert!(proxied_by.is_some());
    // When one of the first client's connections closes, it may open another.
    drop(held.remove(0));
    wait_for(&events, "close", |e| {
        matches!(e, Event::Close { .. }).then_some(())
    });
    held.push(connect_through(addr, &v1(CLIENT, addr)));
    let ((peer, _), _) = seen(&events);
    assert_eq!(peer, CLIENT.parse().unwrap());
}

/// The `TlsClientError` of the next connection, after its `Connection` event.
fn refusal(events: &tls_server::Events) -> Box<tls_server::TlsClientError> {
    wait_for(events, "tlsClientError", |e| match e {
        Event::TlsClientError(e) => Some(e.clone()),
        Event::SecureConnection(s) => panic!("{} was served", s.remote_addr()),
        _ => None,
    })
}

#[test]
fn a_client_without_the_header_is_refused_and_told_what_the_balancer_misses() {
    let (_server, events, addr) = start(behind_balancer(ProxyProtocol::V2));
    assert!(try_handshake(addr, client_config()).is_err());
    let e = refusal(&events);
    assert_eq!(e.cause, Cause::ProxyHeader);
    assert!(
        e.message
            .contains("did not start with a PROXY protocol header (version 2, binary)"),
        "{e}"
    );
    assert!(e.message.contains("TLS handshake record"), "{e}");
    assert!(e.fix.contains("send-proxy-v2"), "{e}");
    assert!(e.fix.contains("ServerOptions::proxy_protocol"), "{e}");
    // A v1 header where only v2 is taken is refused as well.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(&v1(CLIENT, addr)).unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
    assert_eq!(refusal(&events).cause, Cause::ProxyHeader);
}

#[test]
fn a_health_check_that_connects_and_closes_is_a_quiet_probe() {
    let (_server, events, addr) = start(behind_balancer(ProxyProtocol::V2));
    drop(TcpStream::connect(addr).unwrap());
    let e = refusal(&events);
    assert_eq!(e.cause, Cause::Probe, "{e}");
    assert!(e.is_quiet());
}

#[test]
fn a_header_from_an_untrusted_address_is_refused() {
    let options = options()
        .proxy_protocol(ProxyProtocol::Any)
        .proxy_from(&["10.0.0.0/8"]);
    let (_server, events, addr) = start(options);
    let mut tcp = TcpStream::connect(addr).unwrap();
    let _ = tcp.write_all(&v1(CLIENT, addr));
    let e = refusal(&events);
    assert_eq!(e.cause, Cause::ProxyHeader);
    assert_eq!(
        e.peer,
        tcp.local_addr().unwrap(),
        "the address it came from"
    );
    assert!(
        e.message.contains("not come from a trusted balancer"),
        "{e}"
    );
    assert!(
        e.message.contains("ServerOptions::proxy_from 10.0.0.0/8"),
        "{e}"
    );
}

#[test]
fn a_malformed_header_is_refused_with_what_was_wrong() {
    let (_server, events, addr) = start(behind_balancer(ProxyProtocol::V1));
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(b"PROXY TCP4 not-an-address\r\n").unwrap();
    let e = refusal(&events);
    assert_eq!(e.cause, Cause::ProxyHeader);
    assert!(e.message.contains("could not be used"), "{e}");
    // A line that never ends within the protocol's 107 bytes.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(&[b"PROXY ".as_slice(), &[b'x'; 200]].concat())
        .unwrap();
    assert_eq!(refusal(&events).cause, Cause::ProxyHeader);
}

#[test]
fn proxy_settings_that_cannot_work_are_refused_at_start() {
    let error = |o: ServerOptions| Server::bind(o).err().expect("refused").to_string();
    let e = error(options().proxy_protocol(ProxyProtocol::V2));
    assert!(e.contains("ServerOptions::proxy_from"), "{e}");
    assert!(e.contains("no balancer is trusted"), "{e}");
    let e = error(behind_balancer(ProxyProtocol::V2).proxy_from(&["10.0.0.0/33"]));
    assert!(
        e.contains("\"10.0.0.0/33\" is not an address or a network"),
        "{e}"
    );
    assert_eq!(ProxyProtocol::parse("v2"), Some(ProxyProtocol::V2));
    assert_eq!(ProxyProtocol::parse("v3"), None);
}

#[test]
fn reuse_port_lets_two_servers_share_a_port() {
    let first = Server::bind(options().reuse_port(true)).unwrap();
    let port = first.local_addr();
    let second = Server::bind(options().bind(port.to_string()).reuse_port(true))
        .expect("the second binds the same port");
    assert_eq!(second.local_addr(), port);
    // Without it, the port is taken.
    let e = Server::bind(options().bind(port.to_string()))
        .err()
        .expect("address in use")
        .to_string();
    assert!(e.contains(&port.to_string()), "{e}");
    // A std listener on the port does not count: it did not ask to share.
    assert!(TcpListener::bind(port).is_err());
    drop((first, second));
}
