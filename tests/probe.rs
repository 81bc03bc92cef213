//! `probe` against real servers on loopback: the library server in several configurations
//! (good, TLS 1.2 only, ALPN, client certificates), a closed port, a plain-TCP server that
//! talks SSH, and one that says nothing. Each test checks the probe's report and, where
//! the server saw the failure too, the server's side of it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use support::{cert, options, start, WAIT};
use tls_server::check::Status;
use tls_server::explain::Cause;
use tls_server::probe::{probe, Options, Outcome, Report};
use tls_server::{ClientAuth, Event, Server, ServerOptions, TlsClientError, TlsVersion};

fn check_fixture(name: &str) -> PathBuf {
    cert("check").join(name)
}

/// What the server saw, forwarded by a thread that drops every event at once (an `End`
/// left unread would keep the connection open until shutdown's grace period).
#[derive(Debug)]
enum Seen {
    Secure {
        protocol: &'static str,
        alpn: Option<String>,
        authorized: bool,
    },
    Failed(Box<TlsClientError>),
}

struct Served {
    server: Option<Server>,
    addr: SocketAddr,
    rx: mpsc::Receiver<Seen>,
    /// `had_error` of each `Close`, in order.
    closes: mpsc::Receiver<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    fn new(options: ServerOptions) -> Served {
        let (server, events, addr) = start(options);
        let (tx, rx) = mpsc::channel();
        let (close_tx, closes) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            for event in events.iter() {
                if let Event::Close { had_error, .. } = &event {
                    let _ = close_tx.send(*had_error);
                }
                let seen = match &event {
                    Event::SecureConnection(s) => {
                        let info = s.info();
                        Some(Seen::Secure {
                            protocol: info.protocol,
                            alpn: info.alpn_protocol.clone(),
                            authorized: info.authorized,
                        })
                    }
                    Event::TlsClientError(e) => Some(Seen::Failed(e.clone())),
                    _ => None,
                };
                drop(event);
                if let Some(seen) = seen {
                    let _ = tx.send(seen);
                }
            }
        });
        Served {
            server: Some(server),
            addr,
            rx,
            closes,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    fn target(&self) -> String {
        self.addr.to_string()
    }

    /// The server's view of the next connection.
    fn next(&self, what: &str) -> Seen {
        self.rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("the server saw no {what}: {e}"))
    }

    fn expect_failure(&self, cause: Cause) -> Box<TlsClientError> {
        match self.next("tlsClientError") {
            Seen::Failed(e) => {
                assert_eq!(e.cause, cause, "{e}");
                e
            }
            other => panic!(
                "expected a TlsClientError ({}), got {other:?}",
                cause.name()
            ),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.server.take()); // graceful shutdown; the event thread ends at Closed
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Probe options that trust the demo CA (explicitly: not relying on the working directory).
fn demo(target: &str) -> Options {
    Options::new(target).ca_file(cert("ca.crt"))
}

fn run_probe(options: &Options) -> Report {
    let report = probe(options).expect("the probe's own configuration is fine");
    println!("{report}");
    assert!(!report.message.is_empty(), "{report:?}");
    if !report.passed() {
        assert!(!report.fix.is_empty(), "a failure needs a fix: {report}");
    }
    report
}

// ---------------------------------------------------------------------------------------
// Handshakes that work

#[test]
fn good_server_is_verified() {
    let served = Served::new(options());
    let report = run_probe(&demo(&served.target()));
    assert_eq!(report.outcome, Outcome::Verified, "{report}");
    // The probe closes cleanly (close_notify, then waits for ours): no error on the server.
    let had_error = served
        .closes
        .recv_timeout(WAIT)
        .expect("the connection closed");
    assert!(!had_error, "the probe left the server an error");
    assert!(report.passed());
    assert_eq!(report.protocol.as_deref(), Some("TLSv1.3"));
    assert!(
        report.cipher.as_deref().unwrap().starts_with("TLS_"),
        "{report:?}"
    );
    assert!(report.group.is_some(), "{report:?}");
    assert_eq!(report.alpn, None);
    assert_eq!(report.addr, Some(served.addr));
    assert_eq!(report.server_name, "127.0.0.1");
    let lines = report.chain_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("#1 CN=localhost → CN=tls-server demo CA (ECDSA P-256, valid "),
        "{}",
        lines[0]
    );
    let verification = report.verification.as_ref().expect("verified");
    assert_eq!(verification.status, Status::Ok, "{verification}");
    assert!(
        verification.message.contains("CN=tls-server demo CA"),
        "{verification}"
    );
    let host = report.host_name.as_ref().expect("host name checked");
    assert_eq!(host.status, Status::Ok);
    assert_eq!(host.message, "127.0.0.1 is covered by IP Address:127.0.0.1");
    assert!(matches!(
        served.next("secureConnection"),
        Seen::Secure {
            protocol: "TLSv1.3",
            ..
        }
    ));
}

#[test]
fn tls12_only_server() {
    let served = Served::new(options().versions(&[TlsVersion::Tls12]));
    let report = run_probe(&demo(&served.target()));
    assert_eq!(report.outcome, Outcome::Verified, "{report}");
    assert_eq!(report.protocol.as_deref(), Some("TLSv1.2"));
    assert!(
        report
            .cipher
            .as_deref()
            .unwrap()
            .starts_with("TLS_ECDHE_ECDSA_"),
        "{report:?}"
    );
    assert!(matches!(
        served.next("secureConnection"),
        Seen::Secure {
            protocol: "TLSv1.2",
            ..
        }
    ));

    // Offering only TLS 1.3 to it: the server's ProtocolVersion alert, explained.
    let report = run_probe(&demo(&served.target()).versions(&[TlsVersion::Tls13]));
    assert_eq!(report.outcome, Outcome::ProtocolVersion, "{report}");
    assert_eq!(report.alert_received.as_deref(), Some("ProtocolVersion"));
    assert!(
        report
            .message
            .contains("the server accepts none of the protocol versions we offered (TLSv1.3)"),
        "{report}"
    );
    assert!(report.fix.contains("probe::Options::versions"), "{report}");
    assert!(
        report.chain.is_empty(),
        "no certificate before the version: {report:?}"
    );
    served.expect_failure(Cause::ProtocolVersion);
}

#[test]
fn alpn_agreed_and_refused() {
    let served = Served::new(options().alpn(&["h2"]));
    let report = run_probe(&demo(&served.target()).alpn(&["h2"]));
    assert_eq!(report.outcome, Outcome::Verified, "{report}");
    assert_eq!(report.alpn.as_deref(), Some("h2"));
    match served.next("secureConnection") {
        Seen::Secure { alpn, .. } => assert_eq!(alpn.as_deref(), Some("h2")),
        other => panic!("{other:?}"),
    }

    let report = run_probe(&demo(&served.target()).alpn(&["http/1.1"]));
    assert_eq!(report.outcome, Outcome::AlpnMismatch, "{report}");
    assert_eq!(
        report.alert_received.as_deref(),
        Some("NoApplicationProtocol")
    );
    assert!(
        report
            .message
            .contains("the server speaks none of the ALPN protocols we offered (http/1.1)"),
        "{report}"
    );
    assert!(report.fix.contains("probe::Options::alpn"), "{report}");
    served.expect_failure(Cause::AlpnMismatch);
}

// ---------------------------------------------------------------------------------------
// Certificates we refuse

#[test]
fn unrelated_ca_fails_verification_with_the_chain_shown() {
    let served = Served::new(options());
    let root = check_fixture("root.crt");
    let report = run_probe(&Options::new(served.target()).ca_file(&root));
    assert_eq!(report.outcome, Outcome::CertificateRejected, "{report}");
    assert!(!report.passed());
    assert!(
        report.message.contains(&format!(
            "issued by CN=tls-server demo CA, which is not in {}",
            root.display()
        )),
        "{report}"
    );
    assert!(report.fix.contains("probe::Options::ca_file"), "{report}");
    // The chain is still shown: the recording verifier saw it before refusing it.
    assert_eq!(report.chain.len(), 1, "{report:?}");
    assert_eq!(report.chain[0].issuer_line, "CN=tls-server demo CA");
    assert_eq!(report.verification.as_ref().unwrap().status, Status::Error);
    // The handshake really was refused: the server got our alert.
    served.expect_failure(Cause::CertificateRejected);
}

#[test]
fn wrong_server_name_fails_the_host_check() {
    let served = Served::new(options());
    let report = run_probe(&demo(&served.target()).server_name("example.com"));
    assert_eq!(report.outcome, Outcome::CertificateRejected, "{report}");
    assert!(
        report.message.contains(
            "example.com is not among the certificate's names: DNS:localhost, IP Address:127.0.0.1"
        ),
        "{report}"
    );
    // The chain itself verified; only the name failed.
    assert_eq!(report.verification.as_ref().unwrap().status, Status::Ok);
    assert_eq!(report.host_name.as_ref().unwrap().status, Status::Error);
    served.expect_failure(Cause::CertificateRejected);
}

// ---------------------------------------------------------------------------------------
// Client certificates (the server side is `ClientAuth::Required` with the check root CA)

fn mutual_tls() -> Served {
    Served::new(
        options()
            .client_auth(ClientAuth::Required)
            .client_ca_file(check_fixture("root.crt")),
    )
}

#[test]
fn client_certificate_required_but_not_sent() {
    let served = mutual_tls();
    let report = run_probe(&demo(&served.target()));
    // TLS 1.3: the refusal arrives after our Finished; the probe waits for it.
    assert_eq!(report.outcome, Outcome::ClientCertificate, "{report}");
    assert_eq!(
        report.alert_received.as_deref(),
        Some("CertificateRequired")
    );
    assert!(
        report
            .message
            .contains("requires a client certificate, and we sent none"),
        "{report}"
    );
    assert!(
        report.message.contains("CN=tls-server check root CA"),
        "the CA it asked for: {report}"
    );
    assert!(
        report.fix.contains("probe::Options::client_cert"),
        "{report}"
    );
    assert_eq!(
        report.client_cert_requested.as_deref(),
        Some(&["CN=tls-server check root CA".to_string()][..])
    );
    served.expect_failure(Cause::ClientCertificate);
}

#[test]
fn client_certificate_accepted() {
    let served = mutual_tls();
    let report = run_probe(&demo(&served.target()).client_cert(
        check_fixture("client-only.crt"),
        check_fixture("client-only.key"),
    ));
    assert_eq!(report.outcome, Outcome::Verified, "{report}");
    assert_eq!(report.client_cert.as_deref(), Some("CN=localhost"));
    assert!(report.client_cert_requested.is_some());
    assert!(matches!(
        served.next("secureConnection"),
        Seen::Secure {
            authorized: true,
            ..
        }
    ));
}

#[test]
fn client_certificate_from_an_untrusted_ca_is_rejected() {
    let served = mutual_tls();
    let report =
        run_probe(&demo(&served.target()).client_cert(cert("server.crt"), cert("server.key")));
    assert_eq!(report.outcome, Outcome::ClientCertificate, "{report}");
    assert!(
        report
            .message
            .contains("the server rejected our client certificate CN=localhost"),
        "{report}"
    );
    served.expect_failure(Cause::ClientCertificate);
}

// ---------------------------------------------------------------------------------------
// No TLS server there

#[test]
fn closed_port_is_refused() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let report = run_probe(&demo(&addr.to_string()));
    assert_eq!(report.outcome, Outcome::Refused, "{report}");
    assert!(
        report
            .message
            .contains(&format!("connection refused by {addr}")),
        "{report}"
    );
    assert!(
        report
            .message
            .contains("nothing is listening there, or a firewall rejects"),
        "{report}"
    );
    assert!(report.protocol.is_none() && report.chain.is_empty());
}

/// A plain-TCP server on a thread: accepts one connection, sends `greeting`, then reads
/// until the client closes. Returns its address and the thread (joined by the caller).
fn plain_tcp_server(greeting: &'static [u8]) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(greeting).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got); // until the probe closes
        got
    });
    (addr, thread)
}

#[test]
fn ssh_server_is_not_tls() {
    let (addr, thread) = plain_tcp_server(b"SSH-2.0-test\r\n");
    let report = run_probe(&demo(&addr.to_string()));
    assert_eq!(report.outcome, Outcome::NotTls, "{report}");
    assert!(
        report.message.contains(
            r#"the server is not speaking TLS: it answered with an SSH banner: "SSH-2.0-test\r\n""#
        ),
        "{report}"
    );
    assert!(report.fix.contains("SSH"), "{report}");
    let sent = thread.join().unwrap();
    assert_eq!(
        sent.first(),
        Some(&22),
        "our ClientHello reached it: {sent:?}"
    );
}

#[test]
fn silent_server_times_out() {
    let (addr, thread) = plain_tcp_server(b"");
    // The timeout is what is under test: a short one keeps the test fast.
    let report = run_probe(&demo(&addr.to_string()).timeout(Duration::from_millis(300)));
    assert_eq!(report.outcome, Outcome::Timeout, "{report}");
    assert!(
        report
            .message
            .contains("connected, but the server sent nothing within 300ms after our ClientHello"),
        "{report}"
    );
    thread.join().unwrap();
}

#[test]
fn bad_target_is_our_error() {
    let e = probe(&Options::new("localhost")).unwrap_err().to_string();
    assert!(e.contains("is not HOST:PORT"), "{e}");
}
