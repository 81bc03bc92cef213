//! Reloading certificates without a restart (Node's `setSecureContext`; SIGHUP in the
//! CLI): checked first, the old set kept on error, open connections untouched, new ones
//! served the new certificate.

mod support;

use support::*;
use tls_server::tls::SecureContext;
use tls_server::{Event, ServerOptions};

fn with_pair(cert: &str, key: &str) -> ServerOptions {
    ServerOptions::new()
        .cert_file(support::cert(cert))
        .key_file(support::cert(key))
        .bind("127.0.0.1:0")
}

/// The leaf certificate a verifying client (demo CA, name `localhost`) receives.
fn leaf_seen(client: &Client) -> Vec<u8> {
    client.conn.peer_certificates().unwrap()[0].to_vec()
}

#[test]
fn a_reload_swaps_the_certificate_for_new_connections_only() {
    let (server, events, addr) = serve_echo_streams(with_pair("server.crt", "server.key"));
    let mut before = connect(addr);
    assert_eq!(leaf_seen(&before), leaf_der("server.crt"));
    assert_eq!(echo_roundtrip(&mut before, b"one"), b"one");

    let report = server
        .handle()
        .reload(&with_pair("sni/next.crt", "sni/next.key"))
        .expect("reload");
    let old = SecureContext::from_files(cert("server.crt"), cert("server.key")).unwrap();
    let new = SecureContext::from_files(cert("sni/next.crt"), cert("sni/next.key")).unwrap();
    assert_eq!(
        report.old[0].fingerprint256,
        old.certificate().fingerprint256
    );
    assert_eq!(
        report.new[0].fingerprint256,
        new.certificate().fingerprint256
    );
    assert_eq!(report.new[0].name, "(default)");
    let event = wait_for(&events, "reloaded", |e| match e {
        Event::Reloaded(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(*event, report);
    let line = report.to_string();
    assert!(line.contains("(default)") && line.contains("→"), "{line}");

    let mut after = connect(addr);
    assert_eq!(leaf_seen(&after), leaf_der("sni/next.crt"));
    assert_eq!(echo_roundtrip(&mut after, b"two"), b"two");
    // The connection from before the reload still works, with the certificate it had.
    assert_eq!(echo_roundtrip(&mut before, b"three"), b"three");
    assert_eq!(leaf_seen(&before), leaf_der("server.crt"));
}

#[test]
fn a_bad_reload_keeps_the_old_certificate_and_says_why() {
    let (server, events, addr) = serve_echo_streams(with_pair("server.crt", "server.key"));
    let handle = server.handle();
    // A key that is not the certificate's.
    let e = handle
        .reload(&with_pair("sni/next.crt", "server.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not match"), "{e}");
    let reported = wait_for(&events, "reloadFailed", |e| match e {
        Event::ReloadFailed { error } => Some(error.clone()),
        _ => None,
    });
    assert_eq!(reported, e);
    // An expired certificate: caught by the same checks as `tls-server check`.
    let e = handle
        .reload(&with_pair("check/expired.crt", "check/expired.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expired"), "{e}");
    // A file that is not there.
    let e = handle
        .reload(&with_pair("sni/missing.crt", "sni/next.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.crt"), "{e}");
    let mut client = connect(addr);
    assert_eq!(leaf_seen(&client), leaf_der("server.crt"));
    assert_eq!(echo_roundtrip(&mut client, b"still"), b"still");
}

#[test]
fn names_added_at_run_time_survive_a_reload_and_sessions_still_resume() {
    let (server, _events, addr) = serve_echo_streams(with_pair("server.crt", "server.key"));
    let handle = server.handle();
    let b = SecureContext::from_files(cert("sni/b.crt"), cert("sni/b.key")).unwrap();
    handle.add_context("b.example.test", b).unwrap();
    let config = client_config();
    let mut first = connect_with(addr, config.clone());
    assert_eq!(echo_roundtrip(&mut first, b"x"), b"x"); // tickets read

    let report = handle
        .reload(&with_pair("server.crt", "server.key").sni(
            "a.example.test",
            cert("sni/a.crt"),
            cert("sni/a.key"),
        ))
        .unwrap();
    let names: Vec<_> = report.new.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["(default)", "a.example.test", "b.example.test"]);
    assert!(
        report.to_string().contains("a.example.test added"),
        "{report}"
    );
    assert_eq!(
        served_leaf(addr, Some("b.example.test")).unwrap(),
        leaf_der("sni/b.crt")
    );
    assert_eq!(
        served_leaf(addr, Some("a.example.test")).unwrap(),
        leaf_der("sni/a.crt")
    );
    let second = connect_with(addr, config);
    assert_eq!(
        second.conn.handshake_kind(),
        Some(tls_server::rustls::HandshakeKind::Resumed),
        "the ticket from before the reload still resumes"
    );
}
