//! `tls_server::check` as a library call: the report's structure (file, status, message,
//! fix as fields), on the committed fixtures. The command line's rendering of the same
//! report is tested in cli/tests/check.rs.

mod support;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use support::cert;
use tls_server::check::{self, Options, Status};

fn fixture(name: &str) -> (PathBuf, PathBuf) {
    (
        cert("check").join(format!("{name}.crt")),
        cert("check").join(format!("{name}.key")),
    )
}

#[test]
fn the_demo_pair_passes_and_verifies_against_its_ca() {
    let report = check::check(
        &Options::new(cert("server.crt"), cert("server.key"))
            .ca_file(cert("ca.crt"))
            .host("localhost"),
    );
    assert!(report.passed(), "{:#?}", report.checks);
    assert_eq!(report.leaf, Some(0));
    assert_eq!(report.chain[0].common_name(), Some("localhost"));
    let trust = report.get("trust").expect("trust ran");
    assert_eq!(trust.status, Status::Ok, "{trust}");
    let host = report.get("host").expect("host ran");
    assert_eq!(host.message, "localhost is covered by DNS:localhost");
    // A finding about a file names the file in its own field, not in the sentence.
    let cert_file = report.get("cert-file").expect("cert-file ran");
    assert_eq!(
        cert_file.file.as_deref(),
        Some(cert("server.crt").as_path())
    );
    assert!(cert_file.message.starts_with("readable ("), "{cert_file}");
    assert!(
        cert_file.to_string().starts_with("OK cert-file: "),
        "{cert_file}"
    );
}

#[test]
fn an_expired_certificate_is_an_error_with_its_fix() {
    let (crt, key) = fixture("expired");
    let report = check::check(&Options::new(crt, key));
    assert!(!report.passed());
    let problems: Vec<_> = report.problems().collect();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].check, "validity");
    assert!(
        problems[0].message.contains("expired on"),
        "{}",
        problems[0]
    );
    assert!(problems[0].fix.starts_with("renew the certificate"));
}

#[test]
fn validity_is_checked_at_the_time_asked() {
    // The demo certificate is valid now; a century on it is not.
    let later = SystemTime::now() + Duration::from_secs(200 * 365 * 86_400);
    let report = check::check(&Options::new(cert("server.crt"), cert("server.key")).at(later));
    let validity = report.get("validity").expect("validity ran");
    assert_eq!(validity.status, Status::Error, "{validity}");
    assert_eq!(report.now, later);
}

#[test]
fn a_missing_file_is_a_finding_not_a_failure_of_the_call() {
    let missing = cert("check/no-such.crt");
    let report = check::check(&Options::new(&missing, cert("server.key")));
    let c = report.get("cert-file").expect("cert-file ran");
    assert_eq!(c.status, Status::Error);
    assert_eq!(c.file.as_deref(), Some(missing.as_path()));
    assert!(c.message.contains("not found"), "{c}");
    assert!(c.fix.contains("check the path"), "{c}");
    // Nothing that needs the certificate ran.
    assert!(report.get("chain-order").is_none());
}

#[test]
fn a_reversed_chain_is_an_error_with_the_order_to_use() {
    let (_, key) = fixture("chain");
    let (crt, _) = fixture("chain-reversed");
    let report = check::check(&Options::new(crt, key));
    let order = report.get("chain-order").expect("chain-order ran");
    assert_eq!(order.status, Status::Error, "{order}");
    assert!(order.fix.starts_with("reorder the file"), "{order}");
}

#[test]
fn fixes_name_the_library_settings_by_default() {
    // Without a CA the chain is not verified; the note says which setting would do it.
    let report = check::check(&Options::new(cert("server.crt"), cert("server.key")));
    let trust = report.get("trust").expect("trust ran");
    assert_eq!(trust.status, Status::Note);
    assert!(trust.message.contains("check::Options::ca_file"), "{trust}");
    assert!(!trust.message.contains("--ca"), "{trust}");
}

#[test]
fn the_report_as_json_has_the_same_facts() {
    let (crt, key) = fixture("expired");
    let report = check::check(&Options::new(&crt, key));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["passed"], false);
    assert_eq!(json["errors"], 1);
    assert_eq!(json["cert"], crt.display().to_string());
    let validity = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "validity")
        .expect("validity");
    assert_eq!(validity["status"], "error");
    assert_eq!(json["chain"][0]["subject"], "CN=localhost");
}
