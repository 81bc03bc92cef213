//! A client that refuses our certificate: the server names the likely cause from what it
//! knows — the name the client asked for against our SANs, our chain, our validity.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use tls_server::explain::Cause;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::{CertificateDer, ServerName};
use tls_server::{rustls, Event};

fn refused_with_name(name: &str, config: Arc<rustls::ClientConfig>) -> tls_server::TlsClientError {
    let (_server, events, addr) = start(options());
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from(name.to_string()).unwrap())
            .unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    let err = std::io::Write::write_all(&mut client, b"x")
        .and_then(|_| std::io::Write::flush(&mut client))
        .expect_err("the client refuses our certificate");
    assert!(err.to_string().contains("certificate"), "{err}");
    wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(t) => Some((**t).clone()),
        _ => None,
    })
}

#[test]
fn a_name_outside_our_sans_is_named_with_the_sans() {
    let e = refused_with_name("wrong.example.test", client_config());
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert_eq!(e.alert_received.as_deref(), Some("BadCertificate"), "{e}");
    assert!(
        e.message.contains("it asked for \"wrong.example.test\""),
        "{e}"
    );
    assert!(e.message.contains("localhost, 127.0.0.1"), "{e}");
}

#[test]
fn an_untrusted_issuer_is_named() {
    // The client trusts an unrelated CA only.
    let mut roots = rustls::RootCertStore::empty();
    let other =
        CertificateDer::from_pem_file(certs_dir().join("client").join("other-ca.crt")).unwrap();
    roots.add(other).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let e = refused_with_name("localhost", Arc::new(config));
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert_eq!(e.alert_received.as_deref(), Some("UnknownCA"), "{e}");
    assert!(e.message.contains("CN=tls-server demo CA"), "{e}");
    assert!(e.fix.contains("give the client the CA"), "{e}");
    assert!(e.fix.contains("intermediate"), "{e}");
}

/// A server with `certs/check/NAME.crt`, and a client that trusts the check root: what the
/// server says when the client refuses that certificate.
fn refused_certificate(name: &str) -> tls_server::TlsClientError {
    let (_server, events, addr) = start(
        options()
            .cert_file(certs_dir().join(format!("check/{name}.crt")))
            .key_file(certs_dir().join(format!("check/{name}.key"))),
    );
    let mut roots = rustls::RootCertStore::empty();
    for ca in ["root.crt", "intermediate.crt"] {
        roots
            .add(CertificateDer::from_pem_file(certs_dir().join("check").join(ca)).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let _ = try_handshake(addr, Arc::new(config));
    wait_for(&events, "tlsClientError", |e| match e {
        Event::TlsClientError(t) => Some((**t).clone()),
        _ => None,
    })
}

#[test]
fn our_certificate_without_server_auth_is_named() {
    let e = refused_certificate("client-only");
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert!(e.message.contains("not for server authentication"), "{e}");
    assert!(e.message.contains("clientAuth, without serverAuth"), "{e}");
}

#[test]
fn our_ca_certificate_as_the_leaf_is_named() {
    let e = refused_certificate("ca-as-leaf");
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert!(
        e.message
            .contains("a CA certificate (basicConstraints CA:TRUE)"),
        "{e}"
    );
}

#[test]
fn our_sha1_signature_is_named() {
    let e = refused_certificate("sha1");
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert!(e.message.contains("signed with SHA-1"), "{e}");
}

/// The fix fits the reason: the dates of an expired certificate, not "trust our CA".
#[test]
fn an_expired_certificate_gets_renew_with_its_date() {
    let e = refused_certificate("expired");
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert_eq!(
        e.alert_received.as_deref(),
        Some("CertificateExpired"),
        "{e}"
    );
    assert!(
        e.message
            .contains("our certificate expired on Jan  1 00:00:00 2021 GMT"),
        "{e}"
    );
    assert!(
        e.fix.starts_with(
            "renew the certificate (expired on Jan  1 00:00:00 2021 GMT) and serve the new one with ServerOptions::cert_file"
        ),
        "{e}"
    );
    for generic in ["trust", "SANs", "intermediate"] {
        assert!(!e.fix.contains(generic), "no {generic:?} in the fix: {e}");
    }
}

#[test]
fn a_certificate_not_valid_yet_points_to_the_clock_or_the_certificate() {
    let e = refused_certificate("not-yet-valid");
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert!(e.message.contains("not valid yet"), "{e}");
    assert!(e.fix.contains("issued for the future"), "{e}");
    assert!(e.fix.contains("if our clock is wrong, set it"), "{e}");
    assert!(!e.fix.contains("trust"), "{e}");
}

#[test]
fn a_self_signed_certificate_gets_trust_this_certificate() {
    let e = refused_certificate("self-signed");
    assert!(e.message.contains("self-signed"), "{e}");
    assert!(e.fix.contains("give each client this certificate"), "{e}");
}

#[test]
fn a_name_outside_our_sans_gets_a_fix_for_that_name() {
    let e = refused_with_name("wrong.example.test", client_config());
    assert!(
        e.fix
            .contains("connect with a name our certificate covers (localhost, 127.0.0.1"),
        "{e}"
    );
    assert!(
        e.fix.contains(
            "serve a certificate for wrong.example.test with ServerOptions::sni (or ServerHandle::add_context while running)"
        ),
        "{e}"
    );
    assert!(!e.fix.contains("trust"), "{e}");
}

/// A client whose clock is far ahead says "expired" of a valid certificate.
#[derive(Debug)]
struct Ahead;

impl rustls::time_provider::TimeProvider for Ahead {
    fn current_time(&self) -> Option<rustls::pki_types::UnixTime> {
        let years_ahead = std::time::SystemTime::now() + Duration::from_secs(200 * 365 * 86_400);
        Some(rustls::pki_types::UnixTime::since_unix_epoch(
            years_ahead.duration_since(std::time::UNIX_EPOCH).unwrap(),
        ))
    }
}

#[test]
fn a_client_clock_far_ahead_is_named_when_our_certificate_is_valid() {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert("ca.crt")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_details(provider(), Arc::new(Ahead))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let e = refused_with_name("localhost", Arc::new(config));
    assert_eq!(
        e.alert_received.as_deref(),
        Some("CertificateExpired"),
        "{e}"
    );
    assert!(
        e.message
            .contains("it says our certificate has expired, but by our clock"),
        "{e}"
    );
    assert!(e.fix.contains("check the client's clock"), "{e}");
}
