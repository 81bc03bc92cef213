//! Clients that fail their handshake in every way we know of: each failure is reported as
//! exactly one `TlsClientError` with the right cause and phase, and the server goes on
//! serving good clients.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use tls_server::explain::{Cause, Phase};
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::CertificateDer;
use tls_server::rustls::{self, ClientConnection};
use tls_server::{Event, Events, TlsClientError, TlsVersion};

/// A short deadline for reads that must end (EOF or error) rather than hang.
const READ_DEADLINE: Duration = Duration::from_secs(5);

/// A plain TCP connection to the server, with read and write timeouts.
fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("tcp connect");
    s.set_read_timeout(Some(READ_DEADLINE)).unwrap();
    s.set_write_timeout(Some(READ_DEADLINE)).unwrap();
    s
}

/// The id of the connection from `peer` (the client's local address).
fn connection_id(events: &Events, peer: SocketAddr) -> u64 {
    wait_for(events, "connection", |e| match e {
        Event::Connection { id, peer: p, .. } if *p == peer => Some(*id),
        _ => None,
    })
}

/// Waits for the `TlsClientError` of connection `id`; fails if it completes its handshake.
fn client_error(events: &Events, id: u64) -> Box<TlsClientError> {
    let error = wait_for(events, "tlsClientError", |e| match e {
        Event::TlsClientError(err) if err.id == id => Some(err.clone()),
        Event::SecureConnection(s) if s.id() == id => {
            panic!("connection #{id} completed its handshake; expected it to fail")
        }
        _ => None,
    });
    println!("{error}");
    assert!(!error.message.is_empty(), "{error}");
    assert!(!error.fix.is_empty(), "{error}");
    error
}

/// Reads until EOF or an error, which must come before the read timeout (no hang).
/// Returns the bytes received.
fn read_until_closed(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                assert!(
                    !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ),
                    "the server left the connection open: the client's read timed out after {got:?}"
                );
                return got;
            }
        }
    }
}

/// A good client handshakes and echoes after a failed one, and the failed connection `bad`
/// reports no second `TlsClientError` before the good one is secure.
fn assert_still_serving(events: &Events, addr: SocketAddr, bad: u64) {
    let mut client = connect(addr);
    let me = client.sock.local_addr().unwrap();
    let seen = collect_until(
        events,
        "the good client's secureConnection",
        |e| matches!(e, Event::SecureConnection(s) if s.remote_addr() == me),
    );
    for e in &seen {
        if let Event::TlsClientError(err) = e {
            assert_ne!(err.id, bad, "a second tlsClientError for #{bad}: {err}");
        }
    }
    let id = match seen.last() {
        Some(Event::SecureConnection(s)) => s.id(),
        _ => unreachable!(),
    };
    assert_ne!(id, bad);

    client.write_all(b"still serving").unwrap();
    client.flush().unwrap();
    let mut echoed = 0;
    while echoed < b"still serving".len() {
        echoed += wait_for(events, "the good client's data", |e| match e {
            Event::Data { socket, data } if socket.id() == id => {
                assert!(socket.write(data));
                Some(data.len())
            }
            Event::TlsClientError(err) if err.id == bad => {
                panic!("a second tlsClientError for #{bad}: {err}")
            }
            _ => None,
        });
    }
    let mut back = [0u8; 13];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"still serving");
}

/// The first TLS records a real rustls client sends (its ClientHello).
fn real_client_hello() -> Vec<u8> {
    let mut c = ClientConnection::new(client_config(), "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    while c.wants_write() {
        c.write_tls(&mut hello).unwrap();
    }
    assert_eq!(hello[0], 22, "a ClientHello is a handshake record");
    assert!(hello.len() > 100, "{} bytes", hello.len());
    hello
}

/// Sends `bytes` over plain TCP, and returns the server's error and what the client got
/// back before the server closed.
fn send_raw(bytes: &[u8], events: &Events, addr: SocketAddr) -> (Box<TlsClientError>, Vec<u8>) {
    let mut sock = tcp(addr);
    let id = connection_id(events, sock.local_addr().unwrap());
    sock.write_all(bytes).unwrap();
    let got = read_until_closed(&mut sock);
    let error = client_error(events, id);
    // What the server kept is what we sent (all of it, unless it stopped reading early).
    assert!(error.bytes_received > 0, "{error}");
    assert!(!error.first_bytes.is_empty(), "{error}");
    assert!(bytes.starts_with(&error.first_bytes), "{error}");
    (error, got)
}

#[test]
fn plain_http_is_not_tls() {
    let (_server, events, addr) = start(options());
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let (error, reply) = send_raw(request, &events, addr);
    // The HTTP client gets HTTP back, not a TLS alert it would show as garbage.
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{reply:?}"
    );
    assert!(
        reply.contains("Connection: close")
            && reply.ends_with("use https:// instead of http:// for this address.\n"),
        "{reply:?}"
    );
    assert_eq!(error.cause, Cause::NotTls, "{error}");
    assert!(error.message.contains("plain HTTP"), "{error}");
    assert!(error.message.contains("HTTP 400"), "{error}");
    assert!(error.message.contains("GET /"), "{error}");
    assert!(error.fix.contains("https://"), "{error}");
    // Unacceptable bytes from the client, and no ServerHello from us.
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn ssh_banner_is_not_tls() {
    let (_server, events, addr) = start(options());
    let (error, _reply) = send_raw(b"SSH-2.0-OpenSSH_9.2\r\n", &events, addr);
    assert_eq!(error.cause, Cause::NotTls, "{error}");
    assert!(error.message.contains("SSH"), "{error}");
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn random_bytes_are_not_tls() {
    let (_server, events, addr) = start(options());
    let bytes = (1..)
        .map(|seed| pattern(300, seed))
        .find(|b| !(20..=24).contains(&b[0]))
        .unwrap();
    let (error, _reply) = send_raw(&bytes, &events, addr);
    assert_eq!(error.cause, Cause::NotTls, "{error}");
    assert!(error.message.contains("not speaking TLS"), "{error}");
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn garbage_inside_a_tls_record_is_a_protocol_error_with_a_plaintext_alert() {
    let (_server, events, addr) = start(options());
    // A handshake record of 50 bytes: a "ClientHello" of 46 bytes that is garbage.
    let mut bytes = vec![22, 3, 1, 0, 50, 1, 0, 0, 46];
    bytes.extend(pattern(46, 7).iter().map(|b| b | 0x80));
    let (error, reply) = send_raw(&bytes, &events, addr);
    assert_eq!(error.cause, Cause::Protocol, "{error}");
    assert!(error.tls_error.is_some(), "{error}");
    assert!(error.alert_sent.is_some(), "alert_sent is None: {error}");
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    // The alert went out in plaintext before the close: an alert record (type 21),
    // two bytes long, level fatal (2).
    assert!(reply.len() >= 7, "the client got {reply:?}");
    assert_eq!(reply[0], 21, "the client got {reply:?}");
    assert_eq!(&reply[3..5], &[0, 2], "the client got {reply:?}");
    assert_eq!(reply[5], 2, "not a fatal alert: {reply:?}");
    assert_eq!(
        error.alert_sent.as_deref(),
        Some(format!("{:?}", rustls::AlertDescription::from(reply[6])).as_str()),
        "alert_sent does not name the alert the client received"
    );
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn silent_client_times_out_and_gets_eof() {
    let (_server, events, addr) = start(options().handshake_timeout(Duration::from_millis(300)));
    let mut sock = tcp(addr);
    let id = connection_id(&events, sock.local_addr().unwrap());
    let started = Instant::now();
    let error = client_error(&events, id);
    assert_eq!(error.cause, Cause::Timeout, "{error}");
    assert_eq!(error.phase, Phase::BeforeAnyBytes, "{error}");
    assert_eq!(error.bytes_received, 0);
    assert!(
        error.elapsed >= Duration::from_millis(300),
        "failed before the deadline: {:?}",
        error.elapsed
    );
    assert!(
        error.message.contains("300ms"),
        "the message should name the deadline: {error}"
    );
    // The server closed the connection: EOF, not a hang.
    let got = read_until_closed(&mut sock);
    assert!(got.is_empty(), "the server sent {got:?} to a silent client");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_still_serving(&events, addr, id);
}

#[test]
fn zero_byte_connection_is_a_probe() {
    let (_server, events, addr) = start(options());
    let sock = tcp(addr);
    let me = sock.local_addr().unwrap();
    drop(sock);
    let id = connection_id(&events, me);
    let error = client_error(&events, id);
    assert_eq!(error.cause, Cause::Probe, "{error}");
    assert_eq!(error.phase, Phase::BeforeAnyBytes, "{error}");
    assert!(error.is_probe());
    assert_eq!(error.bytes_received, 0);
    assert_still_serving(&events, addr, id);
}

#[test]
fn client_vanishing_mid_client_hello() {
    let (_server, events, addr) = start(options());
    let hello = real_client_hello();
    let mut sock = tcp(addr);
    let id = connection_id(&events, sock.local_addr().unwrap());
    sock.write_all(&hello[..20]).unwrap();
    drop(sock);
    let error = client_error(&events, id);
    assert_eq!(error.cause, Cause::PeerVanished, "{error}");
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_eq!(error.bytes_received, 20, "{error}");
    assert!(error.message.contains("20 bytes"), "{error}");
    assert_still_serving(&events, addr, id);
}

#[test]
fn client_vanishing_after_server_hello_suggests_certificate_trouble() {
    let (_server, events, addr) = start(options());
    let hello = real_client_hello();
    let mut sock = tcp(addr);
    let id = connection_id(&events, sock.local_addr().unwrap());
    sock.write_all(&hello).unwrap();
    let mut reply = [0u8; 5];
    sock.read_exact(&mut reply)
        .expect("the server answers a real ClientHello");
    assert_eq!(reply[0], 22, "ServerHello is a handshake record: {reply:?}");
    drop(sock);
    let error = client_error(&events, id);
    assert_eq!(error.cause, Cause::PeerVanished, "{error}");
    assert_eq!(error.phase, Phase::AfterServerHello, "{error}");
    assert!(error.message.contains("ServerHello"), "{error}");
    // The explanation (Display = message — fix) points at the certificate and trust.
    let text = error.to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(text.contains("trust"), "{text}");
    assert_still_serving(&events, addr, id);
}

#[test]
fn tls12_client_against_tls13_only_server() {
    let (_server, events, addr) = start(options().versions(&[TlsVersion::Tls13]));
    let config = client_config_with(&[&rustls::version::TLS12]);
    let client_error_text = match try_handshake(addr, config) {
        Ok(_) => panic!("a TLS 1.2 client completed a handshake with a TLS 1.3-only server"),
        Err(e) => e.to_string(),
    };
    println!("client: {client_error_text}");
    assert!(
        client_error_text.contains("ProtocolVersion")
            || client_error_text.contains("protocol version"),
        "the client should have received a protocol_version alert: {client_error_text}"
    );
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(err) => Some(err.clone()),
        Event::SecureConnection(_) => panic!("handshake completed"),
        _ => None,
    });
    println!("{error}");
    assert_eq!(error.cause, Cause::ProtocolVersion, "{error}");
    assert_eq!(
        error.alert_sent.as_deref(),
        Some("ProtocolVersion"),
        "{error}"
    );
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn client_that_does_not_trust_our_ca_rejects_the_certificate() {
    let (_server, events, addr) = start(options());
    // The client trusts only our leaf certificate as a root. A trust anchor is matched by
    // the issuer's name, and our leaf is issued by the demo CA, so the chain does not
    // verify: to the client, our certificate comes from an unknown CA.
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert("server.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let client_error_text = match try_handshake(addr, config) {
        Ok(_) => panic!("a client that does not trust our CA accepted our certificate"),
        Err(e) => e.to_string(),
    };
    println!("client: {client_error_text}");
    assert!(
        client_error_text.contains("UnknownIssuer"),
        "{client_error_text}"
    );
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(err) => Some(err.clone()),
        Event::SecureConnection(_) => panic!("handshake completed"),
        _ => None,
    });
    println!("{error}");
    assert_eq!(error.cause, Cause::CertificateRejected, "{error}");
    assert_eq!(
        error.alert_received.as_deref(),
        Some("UnknownCA"),
        "{error}"
    );
    assert_eq!(error.phase, Phase::AfterServerHello, "{error}");
    assert!(
        error
            .fix
            .contains("give the client the CA \"CN=tls-server demo CA\" to trust"),
        "{error}"
    );
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn alpn_mismatch() {
    let (_server, events, addr) = start(options().alpn(&["h2"]));
    let mut config = (*client_config()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client_error_text = match try_handshake(addr, Arc::new(config)) {
        Ok(_) => panic!("the handshake completed without a common ALPN protocol"),
        Err(e) => e.to_string(),
    };
    println!("client: {client_error_text}");
    assert!(
        client_error_text.contains("NoApplicationProtocol"),
        "{client_error_text}"
    );
    let error = wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(err) => Some(err.clone()),
        Event::SecureConnection(_) => panic!("handshake completed"),
        _ => None,
    });
    println!("{error}");
    assert_eq!(error.cause, Cause::AlpnMismatch, "{error}");
    assert!(error.message.contains("ALPN"), "{error}");
    // The ClientHello was unacceptable. (rustls settles ALPN while writing
    // EncryptedExtensions, after the ServerHello, so the alert goes out encrypted; rustls
    // always sends no_application_protocol for it, and we say so.)
    assert_eq!(error.phase, Phase::ClientHello, "{error}");
    assert_eq!(error.alert_sent.as_deref(), Some("NoApplicationProtocol"));
    assert_still_serving(&events, addr, error.id);
}

#[test]
fn a_silent_client_does_not_delay_others() {
    let timeout = Duration::from_secs(2);
    let (_server, events, addr) = start(options().handshake_timeout(timeout));
    let silent = tcp(addr);
    let silent_id = connection_id(&events, silent.local_addr().unwrap());

    let started = Instant::now();
    let mut client = connect(addr);
    let me = client.sock.local_addr().unwrap();
    let seen = collect_until(
        &events,
        "the good client's secureConnection",
        |e| matches!(e, Event::SecureConnection(s) if s.remote_addr() == me),
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::TlsClientError(err) if err.id == silent_id)),
        "the silent client failed before the good one was served"
    );
    let id = seen.last().unwrap().socket().unwrap().id();
    client.write_all(b"not waiting").unwrap();
    client.flush().unwrap();
    let mut echoed = 0;
    while echoed < 11 {
        echoed += wait_for(&events, "data", |e| match e {
            Event::Data { socket, data } if socket.id() == id => {
                assert!(socket.write(data));
                Some(data.len())
            }
            _ => None,
        });
    }
    let mut back = [0u8; 11];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"not waiting");
    let took = started.elapsed();
    assert!(
        took < timeout / 2,
        "the good client took {took:?}, as if it waited for the silent one"
    );

    // The silent client gives up: it was holding a connection all along.
    drop(silent);
    let error = client_error(&events, silent_id);
    assert_eq!(error.cause, Cause::Probe, "{error}");
    assert_eq!(error.phase, Phase::BeforeAnyBytes, "{error}");
}
