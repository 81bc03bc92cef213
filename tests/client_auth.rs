//! Client authentication: every kind of client certificate against every mode, checked on
//! both sides — the server's event (`SecureConnection` with `authorized` and
//! `authorization_error`, or `TlsClientError` with the cause) and the alert the client
//! actually received.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use support::*;
use tls_server::explain::{Cause, Phase};
use tls_server::rustls::pki_types::ServerName;
use tls_server::{rustls, ClientAuth, Event, Events, ServerOptions};

fn client_file(name: &str) -> std::path::PathBuf {
    certs_dir().join("client").join(name)
}

fn server_options(mode: ClientAuth) -> ServerOptions {
    options()
        .client_auth(mode)
        .client_ca_file(client_file("ca.crt"))
        .crl_file(client_file("ca.crl"))
}

/// Handshakes, sends a line and reads the echo. Returns the echo, or the client's error
/// (for a refused certificate, TLS 1.3 reports the server's alert on the first read).
fn talk(addr: SocketAddr, cert: Option<&str>) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let conn = rustls::ClientConnection::new(
        client_config_presenting(cert),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut go = || -> std::io::Result<Vec<u8>> {
        tls.write_all(b"ping\n")?;
        tls.flush()?;
        let mut back = [0u8; 5];
        tls.read_exact(&mut back)?;
        Ok(back.to_vec())
    };
    go().map_err(|e| e.to_string())
}

/// The server's verdict on one connection.
#[derive(Debug)]
enum Verdict {
    Secure {
        authorized: bool,
        code: Option<&'static str>,
        subject: Option<String>,
    },
    Refused {
        cause: Cause,
        phase: Phase,
        code: Option<&'static str>,
        alert: Option<String>,
        message: String,
    },
}

/// Echoes for the client (so `talk` sees its bytes back) and returns the verdict.
fn verdict(events: &Events) -> Verdict {
    let v = wait_for(events, "secureConnection or tlsClientError", |e| match e {
        Event::SecureConnection(s) => Some(Verdict::Secure {
            authorized: s.authorized(),
            code: s.authorization_error().map(|e| e.code),
            subject: s.peer_certificate().map(|c| c.subject_line.clone()),
        }),
        Event::TlsClientError(e) => Some(Verdict::Refused {
            cause: e.cause,
            phase: e.phase,
            code: e.authorization.as_ref().map(|a| a.code),
            alert: e.alert_sent.clone(),
            message: e.message.clone(),
        }),
        _ => None,
    });
    if matches!(v, Verdict::Secure { .. }) {
        wait_for(events, "data", |e| match e {
            Event::Data { socket, data } => {
                socket.write(data);
                Some(())
            }
            _ => None,
        });
    }
    v
}

/// One case: what the server must say and what the client must see.
struct Case {
    cert: Option<&'static str>,
    code: &'static str,
    alert: &'static str,
    mention: &'static str,
}

const CASES: &[Case] = &[
    Case {
        cert: None,
        code: "NO_PEER_CERTIFICATE",
        alert: "CertificateRequired",
        mention: "no certificate",
    },
    Case {
        cert: Some("unknown-ca"),
        code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        alert: "UnknownCA",
        mention: "tls-server unrelated CA",
    },
    Case {
        cert: Some("expired"),
        code: "CERT_HAS_EXPIRED",
        alert: "CertificateExpired",
        mention: "2021",
    },
    Case {
        cert: Some("revoked"),
        code: "CERT_REVOKED",
        alert: "CertificateRevoked",
        mention: "revoked",
    },
    Case {
        cert: Some("wrong-purpose"),
        code: "INVALID_PURPOSE",
        alert: "UnsupportedCertificate",
        mention: "clientAuth",
    },
    Case {
        cert: Some("ca-as-leaf"),
        code: "INVALID_CA",
        alert: "CertificateUnknown",
        mention: "CA certificate",
    },
    Case {
        cert: Some("self-signed"),
        code: "DEPTH_ZERO_SELF_SIGNED_CERT",
        alert: "UnknownCA",
        mention: "self-signed",
    },
    Case {
        cert: Some("not-yet-valid"),
        code: "CERT_NOT_YET_VALID",
        alert: "CertificateExpired",
        mention: "clock",
    },
];

#[test]
fn a_good_certificate_is_authorized_in_every_mode() {
    for mode in [
        ClientAuth::Optional,
        ClientAuth::Required,
        ClientAuth::Inspect,
    ] {
        let (_server, events, addr) = start(server_options(mode));
        let client = std::thread::spawn(move || talk(addr, Some("client")));
        match verdict(&events) {
            Verdict::Secure {
                authorized,
                code,
                subject,
            } => {
                assert!(authorized, "{mode:?}");
                assert_eq!(code, None, "{mode:?}");
                assert_eq!(
                    subject.as_deref(),
                    Some("CN=demo client, O=tls-server demo"),
                    "{mode:?}"
                );
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        assert_eq!(
            client.join().unwrap().as_deref(),
            Ok(&b"ping\n"[..]),
            "{mode:?}"
        );
    }
}

#[test]
fn without_a_certificate_optional_and_inspect_connect_unauthorized() {
    for mode in [ClientAuth::Optional, ClientAuth::Inspect] {
        let (_server, events, addr) = start(server_options(mode));
        let client = std::thread::spawn(move || talk(addr, None));
        match verdict(&events) {
            Verdict::Secure {
                authorized,
                code,
                subject,
            } => {
                assert!(!authorized);
                assert_eq!(code, Some("NO_PEER_CERTIFICATE"));
                assert_eq!(subject, None);
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        assert!(client.join().unwrap().is_ok(), "{mode:?}");
    }
}

#[test]
fn bad_certificates_are_refused_with_the_right_alert_in_required_and_optional() {
    for mode in [ClientAuth::Required, ClientAuth::Optional] {
        for case in CASES {
            if case.cert.is_none() && mode == ClientAuth::Optional {
                continue; // covered above: optional lets it in
            }
            let (_server, events, addr) = start(server_options(mode));
            let cert = case.cert;
            let client = std::thread::spawn(move || talk(addr, cert));
            match verdict(&events) {
                Verdict::Refused {
                    cause,
                    phase,
                    code,
                    alert,
                    message,
                } => {
                    assert_eq!(cause, Cause::ClientCertificate, "{mode:?} {:?}", case.cert);
                    assert_eq!(phase, Phase::ClientCertificate);
                    assert_eq!(code, Some(case.code), "{mode:?} {:?}: {message}", case.cert);
                    assert_eq!(
                        alert.as_deref(),
                        Some(case.alert),
                        "{mode:?} {:?}",
                        case.cert
                    );
                    assert!(message.contains(case.mention), "{:?}: {message}", case.cert);
                }
                other => panic!("{mode:?} {:?}: {other:?}", case.cert),
            }
            let client_error = client.join().unwrap().expect_err("the client is refused");
            assert!(
                client_error.contains(case.alert),
                "{mode:?} {:?}: the client saw {client_error:?}, expected the {} alert",
                case.cert,
                case.alert
            );
        }
    }
}

#[test]
fn inspect_lets_bad_certificates_in_and_reports_why() {
    for case in CASES {
        let (_server, events, addr) = start(server_options(ClientAuth::Inspect));
        let cert = case.cert;
        let client = std::thread::spawn(move || talk(addr, cert));
        match verdict(&events) {
            Verdict::Secure {
                authorized,
                code,
                subject,
            } => {
                assert!(!authorized, "{:?}", case.cert);
                assert_eq!(code, Some(case.code), "{:?}", case.cert);
                assert_eq!(subject.is_some(), case.cert.is_some());
            }
            other => panic!("{:?}: {other:?}", case.cert),
        }
        assert!(client.join().unwrap().is_ok(), "{:?}", case.cert);
    }
}

#[test]
fn the_refusal_names_the_certificate_our_cas_and_the_times() {
    let (_server, events, addr) = start(server_options(ClientAuth::Required));
    let client = std::thread::spawn(move || talk(addr, Some("unknown-ca")));
    match verdict(&events) {
        Verdict::Refused { message, .. } => {
            assert!(
                message.contains("issued by \"CN=tls-server unrelated CA"),
                "{message}"
            );
            assert!(message.contains("tls-server demo client CA"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let _ = client.join();
    let (_server, events, addr) = start(server_options(ClientAuth::Required));
    let client = std::thread::spawn(move || talk(addr, Some("expired")));
    match verdict(&events) {
        Verdict::Refused { message, .. } => {
            assert!(
                message.contains("valid from Jan  1 00:00:00 2020 GMT"),
                "{message}"
            );
            assert!(message.contains("our clock says"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let _ = client.join();
}

#[test]
fn client_auth_needs_a_ca() {
    let err = tls_server::Server::bind(options().client_auth(ClientAuth::Required))
        .err()
        .expect("refused without --ca");
    assert!(
        err.to_string().contains("ServerOptions::client_ca_file"),
        "{err}"
    );
}

#[test]
fn node_flags_map_to_the_modes_in_any_order() {
    // request_cert + reject_unauthorized(false), either order, is inspect: a client with
    // an unknown CA gets in, unauthorized.
    for opts in [
        options().request_cert(true).reject_unauthorized(false),
        options().reject_unauthorized(false).request_cert(true),
    ] {
        let (_server, events, addr) = start(opts.client_ca_file(client_file("ca.crt")));
        let client = std::thread::spawn(move || talk(addr, Some("unknown-ca")));
        match verdict(&events) {
            Verdict::Secure { authorized, .. } => assert!(!authorized),
            other => panic!("{other:?}"),
        }
        assert!(client.join().unwrap().is_ok());
    }
}
