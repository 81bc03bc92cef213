//! The troubleshooting catalogue, cause by cause, with real rustls clients: each failure's
//! sentence carries the specifics that make it actionable — both sides' lists, the first
//! bytes, the names.

mod support;

use std::io::Write;
use std::sync::Arc;

use support::*;
use tls_server::explain::Cause;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::CertificateDer;
use tls_server::{rustls, Event, Events, TlsClientError, TlsVersion};

fn client_error(events: &Events) -> TlsClientError {
    wait_for(events, "tlsClientError", |e| match e {
        Event::TlsClientError(t) => Some((**t).clone()),
        _ => None,
    })
}

/// A client config with the demo CA and a provider cut down by `edit`.
fn client_with(
    edit: impl FnOnce(&mut rustls::crypto::CryptoProvider),
    alpn: &[&[u8]],
) -> Arc<rustls::ClientConfig> {
    let mut provider = tls_server::tls::Provider::default().crypto_provider();
    edit(&mut provider);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert("ca.crt")).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn suite_named(name: &str) -> impl Fn(&rustls::SupportedCipherSuite) -> bool + '_ {
    move |s| tls_server::tls::suite_name(s) == name
}

#[test]
fn versions_name_both_lists() {
    let (_server, events, addr) = start(options().versions(&[TlsVersion::Tls13]));
    let _ = try_handshake(addr, client_config_with(&[&rustls::version::TLS12]));
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::ProtocolVersion, "{e}");
    assert!(
        e.message
            .contains("the client offered versions TLSv1.2; we accept TLSv1.3"),
        "{e}"
    );
}

#[test]
fn disjoint_cipher_suites_name_both_lists() {
    let (_server, events, addr) = start(options().cipher_suites(&["TLS_AES_256_GCM_SHA384"]));
    let config = client_with(
        |p| {
            p.cipher_suites
                .retain(suite_named("TLS_AES_128_GCM_SHA256"))
        },
        &[],
    );
    let _ = try_handshake(addr, config);
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::NoCommonCipher, "{e}");
    assert!(
        e.message
            .contains("offered cipher suites TLS_AES_128_GCM_SHA256"),
        "{e}"
    );
    assert!(
        e.message.contains("we accept TLS_AES_256_GCM_SHA384"),
        "{e}"
    );
    assert_eq!(e.alert_sent.as_deref(), Some("HandshakeFailure"), "{e}");
}

#[test]
fn the_suites_we_accept_carry_their_openssl_names() {
    // Chosen by OpenSSL name; the client offers only another TLS 1.2 suite.
    let (_server, events, addr) = start(
        options()
            .versions(&[TlsVersion::Tls12])
            .cipher_suites(&["ECDHE-ECDSA-AES256-GCM-SHA384"]),
    );
    let config = client_with(
        |p| {
            p.cipher_suites
                .retain(suite_named("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"))
        },
        &[],
    );
    let _ = try_handshake(addr, config);
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::NoCommonCipher, "{e}");
    assert!(
        e.message.contains(
            "we accept TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (ECDHE-ECDSA-AES256-GCM-SHA384)"
        ),
        "{e}"
    );
}

#[test]
fn disjoint_groups_name_both_lists() {
    let (_server, events, addr) = start(options().kx_groups(&["secp384r1"]));
    let config = client_with(
        |p| {
            p.kx_groups
                .retain(|g| tls_server::tls::group_name(g.name()) == "x25519")
        },
        &[],
    );
    let _ = try_handshake(addr, config);
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::NoCommonGroup, "{e}");
    assert!(
        e.message
            .contains("offered groups x25519; we accept secp384r1"),
        "{e}"
    );
}

#[test]
fn alpn_mismatch_names_both_lists() {
    let (_server, events, addr) = start(options().alpn(&["h2"]));
    let _ = try_handshake(addr, client_with(|_| {}, &[b"http/1.1"]));
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::AlpnMismatch, "{e}");
    assert!(
        e.message
            .contains("offered ALPN protocols http/1.1; we accept h2"),
        "{e}"
    );
}

#[test]
fn not_tls_shows_the_first_bytes() {
    let (_server, events, addr) = start(options());
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(b"HELO mail.example\r\n").unwrap();
    drop(tcp);
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::NotTls, "{e}");
    assert!(e.message.contains("SMTP"), "{e}");
    assert!(e.message.contains("\"HELO mail.example\\r\\n\""), "{e}");
}

#[test]
fn a_chain_without_its_intermediate_is_named() {
    // The server sends only its leaf; the client trusts the root above the missing
    // intermediate, so it cannot build a path.
    let (_server, events, addr) = start(
        options()
            .cert_file(certs_dir().join("check/chain-missing.crt"))
            .key_file(certs_dir().join("check/chain.key")),
    );
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certs_dir().join("check/root.crt")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let _ = try_handshake(addr, Arc::new(config));
    let e = client_error(&events);
    assert_eq!(e.cause, Cause::CertificateRejected, "{e}");
    assert_eq!(e.alert_received.as_deref(), Some("UnknownCA"), "{e}");
    assert!(
        e.message.contains("CN=tls-server check intermediate CA"),
        "{e}"
    );
    assert!(
        e.fix
            .contains("add it after our certificate in ServerOptions::cert_file"),
        "{e}"
    );
}
