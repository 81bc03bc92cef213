//! Every option that cannot be used is reported by `Server::bind` as an `Error::Option`
//! naming the method to change (never a command-line flag) and how; in-memory PEM is named
//! by its label; good files load and serve. `credential_errors.rs` has the files.

mod config_support;
mod support;

use std::path::{Path, PathBuf};

use config_support::*;
use support::*;
use tls_server::setting::Setting;
use tls_server::{ServerOptions, TlsVersion};

// ---------------------------------------------------------------------------------------
// Options

#[test]
fn unknown_cipher_suite() {
    expect_option_error(
        support::options().cipher_suites(&["TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_MD5"]),
        Setting::CipherSuites,
        &[
            "TLS_RSA_WITH_RC4_128_MD5",
            "unknown cipher suite",
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (ECDHE-ECDSA-AES128-GCM-SHA256)",
            tls_server::tls::Provider::default().name(),
        ],
    );
}

#[test]
fn openssl_names_are_accepted_in_any_case_and_mixed_with_iana_names() {
    use tls_server::rustls::version::{TLS12, TLS13};
    let (_server, events, addr) = start(
        support::options()
            .cipher_suites(&["ecdhe-ecdsa-chacha20-poly1305", "TLS_AES_256_GCM_SHA384"]),
    );
    let secure = |events: &tls_server::Events| {
        wait_for(events, "secureConnection", |e| match e {
            tls_server::Event::SecureConnection(s) => Some(s.clone()),
            _ => None,
        })
    };
    let _tls12 = connect_with(addr, client_config_with(&[&TLS12]));
    let socket = secure(&events);
    assert_eq!(
        socket.cipher(),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    );
    assert_eq!(socket.cipher_openssl(), "ECDHE-ECDSA-CHACHA20-POLY1305");
    let facts = socket.info().to_json();
    assert!(
        facts.contains(
            r#""cipher":"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256","cipherOpenssl":"ECDHE-ECDSA-CHACHA20-POLY1305","#
        ),
        "{facts}"
    );
    let _tls13 = connect_with(addr, client_config_with(&[&TLS13]));
    let socket = secure(&events);
    assert_eq!(socket.cipher(), "TLS_AES_256_GCM_SHA384");
    assert_eq!(socket.cipher_openssl(), "TLS_AES_256_GCM_SHA384");

    // A suite by OpenSSL name that no certificate can use is refused like its IANA name.
    expect_option_error(
        support::options()
            .versions(&[TlsVersion::Tls12])
            .cipher_suites(&["ECDHE-RSA-AES128-GCM-SHA256"]),
        Setting::CipherSuites,
        &["whose key is ECDSA", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    );
}

#[test]
fn rustls_spelling_of_tls13_suites_is_not_what_the_list_shows() {
    // The valid names listed are IANA names, never rustls's TLS13_ prefix.
    let msg = expect_option_error(
        support::options().cipher_suites(&["nope"]),
        Setting::CipherSuites,
        &["TLS_AES_256_GCM_SHA384"],
    );
    assert!(!msg.contains("TLS13_"), "{msg}");
}

#[test]
fn unknown_group() {
    expect_option_error(
        support::options().kx_groups(&["x448"]),
        Setting::KxGroups,
        &["unknown key-exchange group", "x448", "x25519", "secp256r1"],
    );
}

#[test]
fn empty_version_list() {
    expect_option_error(
        support::options().versions(&[]),
        Setting::Versions,
        &["no protocol version", "1.2", "1.3"],
    );
}

#[test]
fn suites_that_do_not_fit_the_versions() {
    expect_option_error(
        support::options()
            .versions(&[TlsVersion::Tls12])
            .cipher_suites(&["TLS_AES_128_GCM_SHA256"]),
        Setting::CipherSuites,
        &["TLSv1.2", "TLS_ECDHE_"],
    );
}

#[test]
fn values_no_server_can_work_with_are_refused() {
    use std::time::Duration;
    let cases: [(ServerOptions, Setting, &[&str]); 5] = [
        (
            support::options().handshake_timeout(Duration::ZERO),
            Setting::HandshakeTimeout,
            &[
                "ServerOptions::handshake_timeout",
                "every handshake would fail",
                "10s",
            ],
        ),
        (
            support::options().client_hello_timeout(Duration::ZERO),
            Setting::ClientHelloTimeout,
            &["before its client could speak"],
        ),
        (
            support::options().max_connections(0),
            Setting::MaxConnections,
            &["could take no connection", "at least 1"],
        ),
        (
            support::options().max_handshakes(0),
            Setting::MaxHandshakes,
            &["no handshake could ever start"],
        ),
        (
            support::options().max_connections_per_address(0),
            Setting::MaxPerAddress,
            &["every client would be refused"],
        ),
    ];
    for (options, setting, fragments) in cases {
        expect_option_error(options, setting, fragments);
    }
}

#[test]
fn tls12_suites_for_the_other_key_type_are_refused_at_bind() {
    // The demo certificate's key is ECDSA; an RSA-only TLS 1.2 list could serve nobody.
    expect_option_error(
        support::options().cipher_suites(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]),
        Setting::CipherSuites,
        &[
            "the default certificate, whose key is ECDSA",
            "every handshake would fail",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ],
    );
    // With a TLS 1.3 suite beside it, the ECDSA key is served by TLS 1.3: accepted.
    let (server, _events, _addr) = start(support::options().cipher_suites(&[
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
    ]));
    drop(server);
}

#[test]
fn alpn_names_must_be_1_to_255_bytes() {
    expect_option_error(
        support::options().alpn(&["h2", "", "http/1.1"]),
        Setting::Alpn,
        &["an empty protocol name", "h2,http/1.1"],
    );
    expect_option_error(
        support::options().alpn(&["x".repeat(300)]),
        Setting::Alpn,
        &["300 bytes", "at most 255", "RFC 7301"],
    );
    // 255 is allowed.
    let (server, _events, _addr) = start(support::options().alpn(&["y".repeat(255)]));
    drop(server);
}

#[test]
fn no_certificate_given() {
    expect_option_error(
        ServerOptions::new()
            .key_file(cert("server.key"))
            .bind("127.0.0.1:0"),
        Setting::Cert,
        &["no certificate"],
    );
}

#[test]
fn no_key_given() {
    expect_option_error(
        ServerOptions::new()
            .cert_file(cert("server.crt"))
            .bind("127.0.0.1:0"),
        Setting::Key,
        &["no private key"],
    );
}

// ---------------------------------------------------------------------------------------
// In-memory PEM

#[test]
fn in_memory_pem_is_named_by_its_label() {
    let csr = std::fs::read(bad("server.csr")).unwrap();
    let label = PathBuf::from("embedded cert");
    let msg = expect_credential_error(
        ServerOptions::new()
            .cert_pem("embedded cert", csr)
            .key_file(cert("server.key"))
            .bind("127.0.0.1:0"),
        &label,
        &["embedded cert", "certificate signing request"],
    );
    assert!(msg.starts_with("embedded cert: "), "{msg}");
}

#[test]
fn in_memory_key_mismatch_names_both_labels() {
    let crt = std::fs::read(cert("server.crt")).unwrap();
    let key = std::fs::read(bad("other.key")).unwrap();
    expect_credential_error(
        ServerOptions::new()
            .cert_pem("embedded cert", crt)
            .key_pem("embedded key", key)
            .bind("127.0.0.1:0"),
        Path::new("embedded cert"),
        &["embedded key", "does not match"],
    );
}

// ---------------------------------------------------------------------------------------
// Positive controls: good files load, and the server then serves with them.

fn handshake_seen(events: &tls_server::Events) {
    wait_for(events, "secureConnection", |e| match e {
        tls_server::Event::SecureConnection(_) => Some(()),
        _ => None,
    });
}

#[test]
fn demo_files_load() {
    let (server, events, addr) = start(support::options());
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn demo_chain_file_loads() {
    let (server, events, addr) = start(support::options().cert_file(cert("server-chain.crt")));
    let client = connect(addr);
    handshake_seen(&events);
    assert_eq!(
        client.conn.peer_certificates().map(|c| c.len()),
        Some(2),
        "the whole chain is sent"
    );
    drop(client);
    server.shutdown();
}

#[test]
fn pkcs1_rsa_key_loads() {
    let (server, events, addr) = start(opts(&cert("server-rsa.crt"), &bad("rsa-traditional.key")));
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn in_memory_pem_loads() {
    let (server, events, addr) = start(
        ServerOptions::new()
            .cert_pem("embedded cert", std::fs::read(cert("server.crt")).unwrap())
            .key_pem("embedded key", std::fs::read(cert("server.key")).unwrap())
            .bind("127.0.0.1:0"),
    );
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn crlf_line_endings_load() {
    let crlf = |p: PathBuf| {
        std::fs::read_to_string(p)
            .unwrap()
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
    };
    let crt = TempFile::new("crlf.crt", crlf(cert("server.crt")).as_bytes());
    let key = TempFile::new("crlf.key", crlf(cert("server.key")).as_bytes());
    let (server, events, addr) = start(opts(crt.path(), key.path()));
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}
