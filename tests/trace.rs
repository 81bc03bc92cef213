//! `trace(true)`: a handshake's story arrives as an `Event::Trace` just before its outcome.

mod support;

use std::process::{Command, Stdio};

use support::*;
use tls_server::explain::Cause;
use tls_server::{rustls, Event, TlsVersion};

fn trace_then(events: &tls_server::Events) -> (Vec<String>, Event) {
    let steps = wait_for(events, "trace", |e| match e {
        Event::Trace(t) => Some(t.steps.clone()),
        Event::SecureConnection(_) | Event::TlsClientError(_) => {
            panic!("outcome before its trace: {e:?}")
        }
        _ => None,
    });
    let outcome = wait_for(events, "outcome", |e| match e {
        Event::SecureConnection(s) => Some(Event::SecureConnection(s.clone())),
        Event::TlsClientError(t) => Some(Event::TlsClientError(t.clone())),
        _ => None,
    });
    (steps, outcome)
}

#[test]
fn a_good_handshake_is_told_flight_by_flight() {
    let (_server, events, addr) = start(options().trace(true).alpn(&["h2"]));
    let mut config = (*client_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let _client = connect_with(addr, std::sync::Arc::new(config));
    let (steps, outcome) = trace_then(&events);
    let text = steps.join("\n");
    assert!(matches!(outcome, Event::SecureConnection(_)));
    assert!(
        steps[0].contains("← client") && steps[0].ends_with("ClientHello"),
        "{text}"
    );
    assert!(text.contains("client offered TLSv1.3,TLSv1.2"), "{text}");
    assert!(text.contains("SNI localhost; ALPN h2"), "{text}");
    assert!(
        text.contains("→ client") && text.contains("ServerHello"),
        "{text}"
    );
    assert!(text.contains("secure: chose TLSv1.3 TLS_"), "{text}");
    assert!(text.contains("ALPN h2"), "{text}");
}

#[test]
fn a_failed_handshake_is_told_up_to_the_alert() {
    let (_server, events, addr) = start(options().trace(true).versions(&[TlsVersion::Tls13]));
    let _ = try_handshake(addr, client_config_with(&[&rustls::version::TLS12]));
    let (steps, outcome) = trace_then(&events);
    let text = steps.join("\n");
    assert!(matches!(outcome, Event::TlsClientError(_)));
    assert!(text.contains("client offered TLSv1.2;"), "{text}");
    assert!(text.contains("fatal alert ProtocolVersion"), "{text}");
    assert!(
        text.contains("failed: no protocol version in common"),
        "{text}"
    );
}

#[test]
fn no_trace_unless_asked() {
    let (_server, events, addr) = start(options());
    let _client = connect(addr);
    let first = wait_for(&events, "secureConnection or trace", |e| match e {
        Event::Trace(_) => Some("trace"),
        Event::SecureConnection(_) => Some("secureConnection"),
        _ => None,
    });
    assert_eq!(first, "secureConnection");
}

/// Runs `openssl s_client -connect ADDR EXTRA...` against a fresh server and returns the
/// server's `TlsClientError`; `None` (with a visible note) when openssl is not installed.
fn openssl_failure(extra: &[&str]) -> Option<Box<tls_server::TlsClientError>> {
    if support::process::installed("openssl") {
        let (_server, events, addr) = start(options());
        let addr = addr.to_string();
        let mut args = vec!["s_client", "-connect", &addr];
        args.extend_from_slice(extra);
        let status = Command::new("openssl")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "openssl {args:?} should fail");
        Some(wait_for(&events, "tlsClientError", |e| match e {
            Event::TlsClientError(t) => Some(t.clone()),
            _ => None,
        }))
    } else {
        println!("skipped: openssl not installed");
        None
    }
}

#[test]
fn rsa_key_exchange_only_is_explained_as_a_cipher_mismatch() {
    let Some(error) = openssl_failure(&["-tls1_2", "-cipher", "AES128-SHA"]) else {
        return;
    };
    assert_eq!(error.cause, Cause::NoCommonCipher, "{error}");
    assert!(
        error
            .message
            .contains("without ECDHE key exchange (TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{error}"
    );
}

#[test]
fn a_tls11_client_is_told_about_versions() {
    let Some(error) = openssl_failure(&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]) else {
        return;
    };
    assert_eq!(error.cause, Cause::ProtocolVersion, "{error}");
    assert!(
        error
            .message
            .contains("the client offered versions TLSv1.1"),
        "{error}"
    );
    assert!(
        error.message.contains("we accept TLSv1.3, TLSv1.2"),
        "{error}"
    );
}
