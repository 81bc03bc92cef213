//! A client that refuses our certificate: the server names the likely cause from what it
//! knows — the name the client asked for against our SANs, our chain, our validity.

mod support;

use std::sync::Arc;

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
    assert!(e.message.contains("intermediate"), "{e}");
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
