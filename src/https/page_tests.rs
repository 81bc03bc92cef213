//! The pages without a network: the failures list's bound, and escaping of every field a
//! peer fills, even those rustls would never let through.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::failures_page::failures_page;
use super::page::handshake_page;
use super::words::{EN, JA};
use super::{Failures, Request};
use crate::connection::SocketInfo;
use crate::explain::{Cause, ClientHello, Flight, HandshakeLog, Phase, TlsClientError};

const EVIL: &str = "<script>alert('x')</script>";

fn failure(id: u64, cause: Cause) -> TlsClientError {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    TlsClientError {
        id,
        peer,
        local: peer,
        phase: Phase::ClientHello,
        cause,
        tls_error: None,
        message: format!("client asked for {EVIL}"),
        fix: "fix it".into(),
        alert_sent: Some("ProtocolVersion".into()),
        alert_received: None,
        proxied_by: None,
        authorization: None,
        offered: None,
        first_bytes: EVIL.as_bytes().to_vec(),
        bytes_received: EVIL.len(),
        elapsed: Duration::from_millis(2),
        handshake: None,
    }
}

fn hello() -> ClientHello {
    ClientHello {
        versions: vec!["TLSv1.3".into()],
        cipher_suites: vec!["TLS_AES_128_GCM_SHA256".into(), EVIL.into()],
        groups: vec!["x25519".into()],
        key_shares: vec!["x25519".into()],
        signature_schemes: vec![EVIL.into()],
        alpn: vec![EVIL.into(), "http/1.1".into()],
        server_name: Some(EVIL.into()),
    }
}

#[test]
fn the_list_keeps_the_newest_and_skips_quiet_ones() {
    let failures = Failures::new(2);
    assert!(!failures.record(&failure(1, Cause::Probe)));
    for id in 2..=5 {
        assert!(failures.record(&failure(id, Cause::ProtocolVersion)));
    }
    let ids: Vec<u64> = failures.recent().iter().map(|f| f.error.id).collect();
    assert_eq!(ids, [5, 4]);
    assert_eq!((failures.len(), failures.recorded()), (2, 4));
    assert_eq!(Failures::new(0).capacity(), 1);
    let json = failures.to_json();
    assert!(
        json.starts_with("[{\"id\":5,") && json.ends_with("}]"),
        "{json}"
    );
}

#[test]
fn nothing_a_peer_sends_becomes_markup() {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let info = SocketInfo {
        id: 7,
        remote_addr: peer,
        local_addr: peer,
        protocol: "TLSv1.3",
        cipher: "TLS_AES_128_GCM_SHA256".into(),
        cipher_openssl: "TLS_AES_128_GCM_SHA256".into(),
        group: Some("x25519".into()),
        server_name: Some(EVIL.into()),
        server_name_ip: None,
        alpn_protocol: Some(EVIL.into()),
        resumed: false,
        handshake_duration: Duration::from_millis(3),
        authorized: false,
        authorization_error: None,
        peer_chain: Vec::new(),
        proxied_by: None,
        server_name_covered: Some(false),
        handshake: Some(Arc::new(HandshakeLog {
            offered: Some(hello()),
            flights: vec![Flight {
                at: Duration::from_millis(1),
                from_client: true,
                bytes: 300,
                records: vec!["ClientHello".into(), EVIL.into()],
            }],
            served: None,
            client_certificate_requested: false,
        })),
    };
    let request = Request {
        method: "GET".into(),
        target: format!("/?{EVIL}"),
        version: 1,
        headers: Vec::new(),
        body: Vec::new(),
        number: 1,
    };
    for words in [&EN, &JA] {
        let page = handshake_page(&info, &request, words, 0);
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    }
    let failures = Failures::default();
    let mut e = failure(8, Cause::NotTls);
    e.offered = Some(hello());
    e.handshake = info.handshake.clone();
    failures.record(&e);
    let page = failures_page(&failures, &EN);
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("client asked for &lt;script&gt;"), "{page}");
}
