//! Feature `serde`: what the library reports serializes to exactly what its `to_json`
//! writes (`make test` turns the feature on).
#![cfg(feature = "serde")]

mod support;

use serde_json::Value;
use support::*;
use tls_server::{check, probe, Event, Summary};

/// `value` through serde equals `json`, its own `to_json`.
fn same<T: serde::Serialize>(value: &T, json: &str) {
    let through_serde = serde_json::to_value(value).expect("serializes");
    let written: Value = serde_json::from_str(json).expect("to_json is JSON");
    assert_eq!(through_serde, written, "serde and to_json disagree");
}

#[test]
fn events_facts_failures_and_reports_serialize_as_their_json() {
    let (server, events, addr) = start(options());
    let mut summary = Summary::new();
    let (mut client, id) = connect_secure(&events, addr);
    echo(&events, &mut client, id, b"serde");
    drop(client);
    // A failure too: plain text at the TLS port.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut plain, b"hello?\r\n").unwrap();
    let mut kinds = Vec::new();
    wait_for(&events, "the failure and the close", |e| {
        summary.record(e);
        same(e, &e.to_json());
        kinds.push(e.name());
        match e {
            Event::SecureConnection(s) => same(s.info(), &s.info().to_json()),
            Event::TlsClientError(failure) => same(failure.as_ref(), &failure.to_json()),
            _ => {}
        }
        (kinds.contains(&"close") && kinds.contains(&"tlsClientError")).then_some(())
    });
    same(&summary, &summary.to_json());
    let report = check::check(&check::Options::new(cert("server.crt"), cert("server.key")));
    same(&report, &report.to_json());
    let probed = probe::probe(&probe::Options::new(addr.to_string()).ca_file(cert("ca.crt")))
        .expect("probe connects");
    same(&probed, &probed.to_json());
    drop(server);
}
