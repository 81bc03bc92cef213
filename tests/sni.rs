//! Several certificates by server name (SNI): exact names, wildcards, added at run time, a
//! callback, and the fallback policies for clients with no name or an unknown one.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::process::{installed, run};
use support::*;
use tls_server::explain::Cause;
use tls_server::tls::{SecureContext, SniFallback};
use tls_server::{Event, Events, Server, ServerOptions};

fn sni(file: &str) -> std::path::PathBuf {
    cert(&format!("sni/{file}"))
}

fn two_names() -> ServerOptions {
    options()
        .sni("a.example.test", sni("a.crt"), sni("a.key"))
        .sni("b.example.test", sni("b.crt"), sni("b.key"))
}

/// The server's view of the next handshake: the name asked for, or the failure.
fn next_outcome(events: &Events) -> Result<Option<String>, Box<tls_server::TlsClientError>> {
    wait_for(events, "secureConnection or tlsClientError", |e| match e {
        Event::SecureConnection(s) => Some(Ok(s.server_name().map(str::to_string))),
        Event::TlsClientError(e) => Some(Err(e.clone())),
        _ => None,
    })
}

#[test]
fn each_name_gets_its_certificate_and_the_socket_reports_the_name() {
    let (_server, events, addr) = serve_echo_streams(two_names());
    for (name, file) in [
        ("a.example.test", "sni/a.crt"),
        ("b.example.test", "sni/b.crt"),
    ] {
        assert_eq!(
            served_leaf(addr, Some(name)).unwrap(),
            leaf_der(file),
            "{name}"
        );
        assert_eq!(next_outcome(&events).unwrap().as_deref(), Some(name));
    }
    // A verifying client (trusting the demo CA) accepts each, by name.
    for name in ["a.example.test", "B.Example.Test"] {
        let config = client_config();
        let tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let server_name =
            tls_server::rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let conn = tls_server::rustls::ClientConnection::new(config, server_name).unwrap();
        let mut client = tls_server::rustls::StreamOwned::new(conn, tcp);
        assert_eq!(echo_roundtrip(&mut client, b"hi"), b"hi", "{name}");
    }
}

#[test]
fn a_wildcard_covers_one_label_and_exact_names_win() {
    let (_server, _events, addr) = serve_echo_streams(
        options()
            .sni("*.example.test", sni("wildcard.crt"), sni("wildcard.key"))
            .sni("a.example.test", sni("a.crt"), sni("a.key"))
            .sni_fallback(SniFallback::RefuseUnknown),
    );
    let wildcard = leaf_der("sni/wildcard.crt");
    assert_eq!(served_leaf(addr, Some("c.example.test")).unwrap(), wildcard);
    assert_eq!(
        served_leaf(addr, Some("zz.example.test")).unwrap(),
        wildcard
    );
    assert_eq!(
        served_leaf(addr, Some("a.example.test")).unwrap(),
        leaf_der("sni/a.crt")
    );
    // One label only, as certificates' wildcards do.
    for name in ["x.y.example.test", "example.test"] {
        let e = served_leaf(addr, Some(name)).unwrap_err().to_string();
        assert!(e.contains("UnrecognisedName"), "{name}: {e}");
    }
}

#[test]
fn default_policy_serves_the_default_certificate_to_no_name_and_unknown_names() {
    let (_server, events, addr) = serve_echo_streams(two_names());
    let default = leaf_der("server.crt");
    assert_eq!(served_leaf(addr, None).unwrap(), default);
    assert_eq!(next_outcome(&events).unwrap(), None);
    assert_eq!(served_leaf(addr, Some("unknown.test")).unwrap(), default);
    assert_eq!(
        next_outcome(&events).unwrap().as_deref(),
        Some("unknown.test")
    );
}

#[test]
fn refuse_policy_sends_unrecognized_name_and_explains_with_our_names() {
    let (_server, events, addr) = serve_echo_streams(two_names().sni_fallback(SniFallback::Refuse));
    let e = served_leaf(addr, Some("unknown.test"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("UnrecognisedName"), "client saw {e}");
    let error = next_outcome(&events).unwrap_err();
    assert_eq!(error.cause, Cause::UnknownServerName);
    assert_eq!(error.alert_sent.as_deref(), Some("UnrecognisedName"));
    for part in [
        "\"unknown.test\"",
        "a.example.test",
        "b.example.test",
        "refuse",
    ] {
        assert!(error.message.contains(part), "{part} in {}", error.message);
    }
    assert!(
        error.fix.contains(
            "serve a certificate for unknown.test with ServerOptions::sni (or ServerHandle::add_context while running)"
        ),
        "{}",
        error.fix
    );
    // Every name we serve: the entries', then the default certificate's.
    assert!(
        error.message.contains(
            "we serve a.example.test, b.example.test, and localhost, 127.0.0.1, ::1 with the default certificate"
        ),
        "{}",
        error.message
    );

    // No name at all is refused too, and said so.
    let e = served_leaf(addr, None).unwrap_err().to_string();
    assert!(e.contains("UnrecognisedName"), "client saw {e}");
    let error = next_outcome(&events).unwrap_err();
    assert_eq!(error.cause, Cause::UnknownServerName);
    assert!(
        error.message.contains("no server name"),
        "{}",
        error.message
    );

    // Known names still work.
    assert_eq!(
        served_leaf(addr, Some("a.example.test")).unwrap(),
        leaf_der("sni/a.crt")
    );
}

#[test]
fn refuse_unknown_policy_serves_no_name_but_refuses_unknown_names() {
    let (_server, events, addr) =
        serve_echo_streams(two_names().sni_fallback(SniFallback::RefuseUnknown));
    assert_eq!(served_leaf(addr, None).unwrap(), leaf_der("server.crt"));
    assert_eq!(next_outcome(&events).unwrap(), None);
    assert!(served_leaf(addr, Some("unknown.test")).is_err());
    assert_eq!(
        next_outcome(&events).unwrap_err().cause,
        Cause::UnknownServerName
    );
}

/// The names the default certificate covers are ours: asking for one of them is not asking
/// for an unknown name, under either refusing policy.
#[test]
fn refusing_policies_serve_the_names_the_default_certificate_covers() {
    for policy in [SniFallback::RefuseUnknown, SniFallback::Refuse] {
        let (_server, events, addr) = serve_echo_streams(two_names().sni_fallback(policy));
        assert_eq!(
            served_leaf(addr, Some("localhost")).unwrap(),
            leaf_der("server.crt"),
            "{policy:?}"
        );
        assert_eq!(next_outcome(&events).unwrap().as_deref(), Some("localhost"));
        assert!(served_leaf(addr, Some("nope.test")).is_err(), "{policy:?}");
        let error = next_outcome(&events).unwrap_err();
        assert!(error.message.contains("localhost"), "{}", error.message);
    }
}

/// `servernameCovered`: whether the certificate we sent covers the name asked for.
#[test]
fn the_facts_say_whether_our_certificate_covers_the_name_asked_for() {
    let (_server, events, addr) = serve_echo_streams(two_names());
    let covered = |name: Option<&str>| {
        served_leaf(addr, name).unwrap();
        wait_for(&events, "secureConnection", |e| match e {
            Event::SecureConnection(s) => Some((s.info().server_name_covered, s.info().to_json())),
            _ => None,
        })
    };
    // The default certificate (localhost, 127.0.0.1, ::1) for an unknown name.
    let (wrong, json) = covered(Some("wrong.test"));
    assert_eq!(wrong, Some(false), "{json}");
    assert!(
        json.contains(r#""servername":"wrong.test","servernameCovered":false"#),
        "{json}"
    );
    assert_eq!(covered(Some("localhost")).0, Some(true));
    assert_eq!(covered(Some("a.example.test")).0, Some(true));
    let (none, json) = covered(None);
    assert_eq!(none, None);
    assert!(json.contains(r#""servernameCovered":null"#), "{json}");
}

#[test]
fn refusing_everyone_needs_no_default_certificate() {
    let options =
        ServerOptions::new()
            .bind("127.0.0.1:0")
            .sni("a.example.test", sni("a.crt"), sni("a.key"));
    let e = Server::bind(options.clone())
        .err()
        .expect("no default")
        .to_string();
    assert!(e.contains("ServerOptions::sni_fallback refuse"), "{e}");
    let (_server, _events, addr) = serve_echo_streams(options.sni_fallback(SniFallback::Refuse));
    assert!(served_leaf(addr, Some("a.example.test")).is_ok());
    assert!(served_leaf(addr, None).is_err());
}

#[test]
fn entries_are_checked_when_added_not_when_a_client_arrives() {
    // A key that is not the certificate's.
    let e = Server::bind(options().sni("a.example.test", sni("a.crt"), sni("b.key")))
        .err()
        .expect("mismatched key refused")
        .to_string();
    assert!(e.contains("a.crt") && e.contains("does not match"), "{e}");
    let e = SecureContext::from_files(sni("a.crt"), sni("b.key"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not match"), "{e}");
    // A certificate for another name.
    let e = Server::bind(options().sni("c.example.test", sni("a.crt"), sni("a.key")))
        .err()
        .expect("wrong name refused")
        .to_string();
    assert!(
        e.contains("does not cover c.example.test") && e.contains("a.example.test"),
        "{e}"
    );
    // Not a name.
    let e = Server::bind(options().sni("127.0.0.1", sni("a.crt"), sni("a.key")))
        .err()
        .expect("IP refused")
        .to_string();
    assert!(e.contains("ServerOptions::sni"), "{e}");
    // At run time too.
    let (server, _events, _addr) = serve_echo_streams(options());
    let ctx = SecureContext::from_files(sni("b.crt"), sni("b.key")).unwrap();
    let e = server
        .handle()
        .add_context("a.example.test", ctx)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not cover a.example.test"), "{e}");
}

#[test]
fn add_context_serves_a_new_name_from_the_next_handshake() {
    let (server, _events, addr) = serve_echo_streams(options());
    assert_eq!(
        served_leaf(addr, Some("b.example.test")).unwrap(),
        leaf_der("server.crt")
    );
    let ctx = SecureContext::from_files(sni("b.crt"), sni("b.key")).unwrap();
    assert_eq!(ctx.certificate().der, leaf_der("sni/b.crt"));
    server.handle().add_context("b.example.test", ctx).unwrap();
    assert_eq!(server.handle().sni_names(), ["b.example.test"]);
    assert_eq!(
        served_leaf(addr, Some("b.example.test")).unwrap(),
        leaf_der("sni/b.crt")
    );
}

#[test]
fn the_callback_is_asked_for_names_no_entry_matches() {
    let calls = Arc::new(AtomicUsize::new(0));
    let b = SecureContext::from_files(sni("b.crt"), sni("b.key")).unwrap();
    let counted = calls.clone();
    let (_server, events, addr) = serve_echo_streams(
        options()
            .sni("a.example.test", sni("a.crt"), sni("a.key"))
            .sni_callback(move |name| {
                counted.fetch_add(1, Ordering::SeqCst);
                (name == "b.example.test").then(|| b.clone())
            })
            .sni_fallback(SniFallback::RefuseUnknown),
    );
    assert_eq!(
        served_leaf(addr, Some("b.example.test")).unwrap(),
        leaf_der("sni/b.crt")
    );
    assert_eq!(
        served_leaf(addr, Some("a.example.test")).unwrap(),
        leaf_der("sni/a.crt")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "entries first");
    assert!(served_leaf(addr, Some("c.example.test")).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let failures: Vec<_> = collect_until(&events, "the refusal", |e| {
        matches!(e, Event::TlsClientError(_))
    });
    match failures.last() {
        Some(Event::TlsClientError(e)) => assert_eq!(e.cause, Cause::UnknownServerName),
        other => panic!("{other:?}"),
    }
}

/// `openssl s_client -servername` against two names shows the two certificates; an IP
/// address sent as a name is reported as such.
#[test]
fn openssl_sees_one_certificate_per_name_and_an_ip_name_is_reported() {
    if !installed("openssl") {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let (_server, events, addr) = serve_echo_streams(two_names());
    // `openssl s_client -brief` asking for `name`; its output (stdout and stderr).
    let s_client = |name: &str, verify: bool| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            name,
        ])
        .arg("-brief")
        .stdin(std::process::Stdio::null());
        if verify {
            cmd.arg("-CAfile")
                .arg(cert("ca.crt"))
                .arg("-verify_return_error");
        }
        let (status, out, _) = run("openssl s_client", &mut cmd);
        (
            status.success(),
            format!("{}{}", out.stdout.text(), out.stderr.text()),
        )
    };
    for name in ["a.example.test", "b.example.test"] {
        let (ok, text) = s_client(name, true);
        assert!(ok, "{name}: {text}");
        assert!(
            text.contains(&format!("CN = {name}")) || text.contains(&format!("CN={name}")),
            "{name}: {text}"
        );
        assert_eq!(next_outcome(&events).unwrap().as_deref(), Some(name));
    }
    let (_, text) = s_client("127.0.0.1", false);
    let ip = wait_for(&events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.info().server_name_ip),
        _ => None,
    });
    assert_eq!(ip, Some("127.0.0.1".parse().unwrap()), "{text}");
}

#[test]
fn a_panicking_callback_costs_only_that_handshake() {
    let (_server, events, addr) = serve_echo_streams(options().sni_callback(|name| {
        if name == "boom.example.test" {
            panic!("callback bug");
        }
        None
    }));
    // The fallback (the default certificate) answers, and the server keeps serving.
    assert_eq!(
        served_leaf(addr, Some("boom.example.test")).unwrap(),
        leaf_der("server.crt")
    );
    assert_eq!(
        next_outcome(&events).unwrap().as_deref(),
        Some("boom.example.test")
    );
    assert_eq!(served_leaf(addr, None).unwrap(), leaf_der("server.crt"));
}
