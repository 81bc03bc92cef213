//! Entry points for the fuzzers in `fuzz/` (`make fuzz`) and for the regression tests that
//! replay what they found (`tests/fuzz_regressions.rs`). Each takes bytes no one controls
//! and must return — never panic, never hang. Behind the `fuzzing` feature; not an API.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::explain::client_hello::ClientHello;
use crate::explain::diagnose;
use crate::explain::failure::{Failed, Failure, Phase};
use crate::explain::trace::Recorder;
use crate::explain::HandshakeLog;
use crate::setting::Setting;
use crate::tls::options::TlsOptions;
use crate::tls::record::Record;
use crate::tls::setup::{self, Setup};
use crate::tls::ticket_keys;

/// The demo certificate, built in: a fuzzer has no working directory to rely on.
const CERT: &[u8] = include_bytes!("../certs/server.crt");
const KEY: &[u8] = include_bytes!("../certs/server.key");

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let options = TlsOptions {
            cert: Some(crate::tls::credentials::Pem::Bytes {
                label: "server.crt".into(),
                data: CERT.to_vec(),
            }),
            key: Some(crate::tls::credentials::Pem::Bytes {
                label: "server.key".into(),
                data: KEY.to_vec(),
            }),
            ..TlsOptions::default()
        };
        setup::build(&options, None).expect("the demo certificate loads")
    })
}

/// The ClientHello parser.
pub fn client_hello(data: &[u8]) {
    if let Some(hello) = ClientHello::parse(data) {
        let _ = format!("{hello:?}");
    }
}

/// A handshake that failed after the client sent `data`: rustls reads it (as our server
/// does), and whatever rustls says — or a timeout, or the peer vanishing — is explained
/// with `data` as the client's first bytes; the flight recorder reads `data` too (in two
/// reads, split where its first byte says), and with the `https` feature the failures
/// page shows the result, which must hold no markup from `data`. Returns the sentences.
pub fn first_bytes(data: &[u8]) -> Vec<String> {
    let setup = setup();
    let record = crate::tls::record::HandshakeRecord::default();
    let mut conn = match rustls::ServerConnection::new(Arc::new(setup.config_for(&record))) {
        Ok(conn) => conn,
        Err(_) => return Vec::new(),
    };
    let mut input = data;
    let mut failure = None;
    while !input.is_empty() {
        match conn.read_tls(&mut input) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                failure = Some(rustls::Error::General(e.to_string()));
                break;
            }
        }
        if let Err(e) = conn.process_new_packets() {
            failure = Some(e);
            break;
        }
    }
    let peer = SocketAddr::from(([127, 0, 0, 1], 4433));
    let mut failures = vec![Failure::Timeout, Failure::PeerClosed];
    if let Some(e) = failure {
        failures.push(Failure::Tls(e));
    }
    let mut recorder = Recorder::new(Instant::now());
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    recorder.flight(true, &data[..split]);
    recorder.flight(true, &data[split..]);
    let flights = recorder.into_flights();
    failures
        .into_iter()
        .map(|failure| {
            let failed = Failed {
                failure,
                phase: if data.is_empty() {
                    Phase::BeforeAnyBytes
                } else {
                    Phase::ClientHello
                },
                first_bytes: data.to_vec(),
                bytes_received: data.len(),
                alert_sent: None,
                elapsed: Duration::from_millis(1),
                timeout: Duration::from_secs(10),
                timeout_setting: Setting::HandshakeTimeout,
                record: Record::default(),
                trace: None,
                answered_http: false,
            };
            let mut e = diagnose::explain(1, peer, peer, failed, &setup.accepts);
            e.handshake = Some(Arc::new(HandshakeLog {
                offered: e.offered.clone(),
                flights: flights.clone(),
                served: None,
                client_certificate_requested: false,
            }));
            #[cfg(feature = "https")]
            {
                let page = crate::https::failure_page(&e);
                assert!(!page.contains("<script"), "markup from the peer in {page}");
            }
            format!("{e} {}", e.to_json())
        })
        .collect()
}

/// A session-ticket key file; when it loads, a ticket sealed with it opens again and a
/// tampered one does not.
pub fn ticket_keys(text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    if let Ok(keys) = ticket_keys::from_text(Path::new("fuzz.keys"), &text) {
        use rustls::server::ProducesTickets;
        let sealed = keys.encrypt(b"session state").expect("sealing works");
        assert_eq!(
            keys.decrypt(&sealed).as_deref(),
            Some(&b"session state"[..])
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(keys.decrypt(&tampered).is_none());
    }
}

/// Certificate and key bytes, through the loader the server uses and through `check`.
pub fn credentials(cert: &[u8], key: &[u8]) {
    let _ = crate::tls::SecureContext::from_pem("cert", cert, "key", key);
    let report = crate::check::check(
        &crate::check::Options::new("unused.crt", "unused.key")
            .cert_pem("cert", cert)
            .key_pem("key", key),
    );
    let _ = report.to_json();
}

/// Bytes from a client to the HTTPS responder, in reads of up to 97 bytes: what it wrote
/// back.
#[cfg(feature = "https")]
pub fn https_request(data: &[u8]) -> Vec<u8> {
    use crate::https::script::Script;
    use crate::https::{conversation, Options, Response};
    let mut script = Script {
        reads: data.chunks(97).map(<[u8]>::to_vec).collect(),
        idle: data.first().is_some_and(|b| b & 1 == 1),
        written: Vec::new(),
        ended: false,
    };
    let options = Options::new().max_header_bytes(4096).max_body(8192);
    let _ = conversation::run(&mut script, &options, |request| {
        Response::text(200, format!("{} {}\n", request.method, request.path()))
            .with_body(request.body.clone())
    });
    script.written
}
