//! What `tls-server serve` says, worded for the command line: a failure after the handshake
//! as an `error` JSON line and a log line; a name the certificate does not cover; fixes that
//! fit their cause (an expired certificate served with `--no-check`, an unknown name under
//! `--sni-fallback refuse-unknown`); and what `--no-check` lets through. Real clients:
//! rustls (with records written by hand after its handshake), curl and Python when
//! installed.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use support::json::{json, Obj};
use support::process::{level, run, skip_unless_installed, start_serve, Proc};
use support::raw::{alert, Raw};
use tls_server::rustls;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::CertificateDer;
use tls_server::rustls::ContentType;

/// The next `--events json` line of `event`.
fn next_event(server: &mut Proc, event: &str) -> Obj {
    let line = server.stdout.wait_for(event, |l| json(l).event() == event);
    json(&line)
}

/// `serve` with `args`, and a corrupted record sent on an open connection: the `error`
/// line, the log line, and the alert the client read.
#[test]
fn an_error_after_the_handshake_is_explained_in_the_json_line_and_the_log_line() {
    let (mut server, addr) = start_serve(&[]);
    let mut raw = Raw::connect(addr);
    // Only once the server has finished its handshake does the open connection read.
    next_event(&mut server, "secureConnection");
    let mut record = raw.record(ContentType::ApplicationData, b"changed on the way");
    record[7] ^= 0x20;
    raw.tcp.write_all(&record).unwrap();
    let (records, _) = raw.read_all();
    assert_eq!(
        alert(&records),
        Some((true, rustls::AlertDescription::BadRecordMac))
    );
    let error = next_event(&mut server, "error");
    assert_eq!(error.str("cause"), "undecryptable-record");
    assert_eq!(error.str("alertSent"), "BadRecordMac");
    assert!(error.str("message").contains("did not decrypt"));
    assert!(error.str("fix").contains("changes bytes"));
    let line = server.stderr.wait_for("the error's log line", |l| {
        l.contains("connection failed (")
    });
    assert_eq!(level(&line), Some("WARN"), "{line}");
    assert!(
        line.contains(
            "connection failed (undecryptable-record; we sent BadRecordMac): a record from the client did not decrypt"
        ),
        "{line}"
    );
    assert!(!line.contains("TLS error: received"), "{line}");
}

/// Python closing its socket with SO_LINGER 0 after one echo: a reset, named as such.
#[test]
fn a_python_client_that_resets_is_named_peer_reset() {
    if skip_unless_installed("python3") {
        return;
    }
    let (mut server, addr) = start_serve(&[]);
    let script = r#"
import socket, ssl, struct, sys
ctx = ssl.create_default_context(cafile="certs/ca.crt")
tcp = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
tls = ctx.wrap_socket(tcp, server_hostname="localhost")
tls.sendall(b"ping")
assert tls.recv(4) == b"ping"
tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
tls.close()
"#;
    let (status, client, _) = run(
        "python3",
        Command::new("python3")
            .args(["-c", script, &addr.port().to_string()])
            .current_dir(support::repo_root()),
    );
    assert!(status.success(), "{}", client.stderr.text());
    let error = next_event(&mut server, "error");
    assert_eq!(error.str("cause"), "peer-reset");
    assert!(error.is_null("alertSent"));
    assert!(error.str("message").contains("reset the connection"));
    let line = server.stderr.wait_for("the reset's log line", |l| {
        l.contains("connection failed (")
    });
    assert!(
        line.contains("connection failed (peer-reset; no alert sent)"),
        "{line}"
    );
}

/// A rustls client that verifies against `ca` (a file under certs/), asking for `name`.
fn verifying_client(ca: &str, addr: SocketAddr, name: &str) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(support::cert(ca)).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(support::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(support::WAIT)).unwrap();
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), server_name).unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    let refused = client.write_all(b"x").and_then(|_| client.flush());
    assert!(refused.is_err(), "the client refuses the certificate");
}

#[test]
fn no_check_warns_what_it_lets_through_and_an_expired_certificate_gets_renew() {
    let (mut server, addr) = start_serve(&[
        "--cert",
        "certs/check/expired.crt",
        "--key",
        "certs/check/expired.key",
        "--no-check",
    ]);
    let warning = server.stderr.wait_for("the --no-check warning", |l| {
        l.contains("--no-check lets this through")
    });
    assert_eq!(level(&warning), Some("WARN"), "{warning}");
    assert!(
        warning.contains("(preflight validity)")
            && warning.contains("expired on Jan  1 00:00:00 2021 GMT"),
        "{warning}"
    );
    verifying_client("check/root.crt", addr, "localhost");
    let failure = next_event(&mut server, "tlsClientError");
    assert_eq!(failure.str("cause"), "certificate-rejected");
    let fix = failure.str("fix");
    assert!(
        fix.starts_with(
            "renew the certificate (expired on Jan  1 00:00:00 2021 GMT) and serve the new one with --cert"
        ),
        "{fix}"
    );
    for generic in ["trust", "SANs", "intermediate", "ServerOptions"] {
        assert!(!fix.contains(generic), "no {generic:?} in {fix}");
    }
}

#[test]
fn an_unknown_name_is_refused_with_the_flag_and_the_default_names_are_known() {
    let (mut server, addr) = start_serve(&[
        "--sni",
        "a.example.test=certs/sni/a.crt,certs/sni/a.key",
        "--sni-fallback",
        "refuse-unknown",
    ]);
    assert!(support::served_leaf(addr, Some("nope.test")).is_err());
    let failure = next_event(&mut server, "tlsClientError");
    assert_eq!(failure.str("cause"), "unknown-server-name");
    assert!(
        failure.str("message").contains(
            "we serve a.example.test, and localhost, 127.0.0.1, ::1 with the default certificate"
        ),
        "{}",
        failure.str("message")
    );
    let fix = failure.str("fix");
    assert!(
        fix.contains("serve a certificate for nope.test with --sni,"),
        "{fix}"
    );
    assert!(
        !fix.contains("add_context") && !fix.contains("ServerHandle"),
        "{fix}"
    );
    // A name the default certificate covers is ours: served, not refused.
    assert_eq!(
        support::served_leaf(addr, Some("localhost")).unwrap(),
        support::leaf_der("server.crt")
    );
    let secure = next_event(&mut server, "secureConnection");
    assert_eq!(secure.str("servername"), "localhost");
    assert!(secure.bool("servernameCovered"));
}

/// `curl -k --resolve wrong.test:PORT:127.0.0.1`: the handshake completes (curl was told
/// not to check), and the server says the name is not covered.
#[test]
fn curl_asking_for_a_name_our_certificate_lacks_is_warned_about() {
    if skip_unless_installed("curl") {
        return;
    }
    let (mut server, addr) = start_serve(&["--mode", "https"]);
    let port = addr.port();
    let (status, curl, _) = run(
        "curl",
        Command::new("curl")
            .args(["--silent", "--show-error", "--insecure", "--max-time", "20"])
            .args(["--resolve", &format!("wrong.test:{port}:127.0.0.1")])
            .arg(format!("https://wrong.test:{port}/")),
    );
    assert!(status.success(), "{}", curl.stderr.text());
    let secure = next_event(&mut server, "secureConnection");
    assert_eq!(secure.str("servername"), "wrong.test");
    assert!(!secure.bool("servernameCovered"));
    let warning = server
        .stderr
        .wait_for("the name warning", |l| l.contains("\"wrong.test\""));
    assert_eq!(level(&warning), Some("WARN"), "{warning}");
    assert!(
        warning.contains(
            "which the certificate we sent does not cover (it covers localhost, 127.0.0.1, ::1)"
        ),
        "{warning}"
    );
    assert!(
        warning.contains("serve a certificate for wrong.test with --sni"),
        "{warning}"
    );
}
