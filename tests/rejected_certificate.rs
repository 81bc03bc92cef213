//! A client that refuses our certificate: the server names the likely cause from what it
//! knows — the name the client asked for against our SANs, our chain, our validity.

mod support;

use std::sync::Arc;

use support::*;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::{CertificateDer, ServerName};
use tls_server::{rustls, Cause, Event};

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
