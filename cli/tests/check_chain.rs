//! `tls-server check` on the chain and the server certificate itself (dates, names, key
//! usage, key strength, signatures), the JSON report and usage errors: driven as a child
//! process on the committed fixtures (certs/check/), one test per check. `check.rs` has
//! the demo certificates and the files and formats.

mod check_support;
#[path = "../../tests/support/mod.rs"]
mod support;

use check_support::*;
use support::json::json;
use support::process::Out;

// ---------------------------------------------------------------------------------------
// The chain

#[test]
fn chain_in_the_wrong_order() {
    let out = check(&[
        "--cert",
        &fixture("chain-reversed.crt"),
        "--key",
        &fixture("chain.key"),
    ]);
    out.exit(1);
    // The classic "key values mismatch": the key belongs to the second certificate.
    out.expect(
        "key-match",
        "ERROR",
        &["matches certificate #2 in this file"],
        &["leaf) certificate first"],
    );
    out.expect(
        "chain-order",
        "ERROR",
        &["certificate #1 (CN=tls-server check intermediate CA) is a CA that issued certificate #2 (CN=localhost)"],
        &["server certificate first"],
    );
    for line in [
        "#1 CN=tls-server check intermediate CA → CN=tls-server check root CA",
        "#2 CN=localhost → CN=tls-server check intermediate CA",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in {}", out.stdout);
    }
}

#[test]
fn chain_missing_its_intermediate() {
    let out = check_fixture_chain("chain-missing.crt", &[]);
    out.exit(0).expect(
        "chain-complete",
        "WARN",
        &[
            "CN=tls-server check intermediate CA, is not in certs/check/chain-missing.crt",
            "many clients will fail",
        ],
        &["append the intermediate CA certificate"],
    );

    // The root alone does not complete it: verification fails and says why.
    let out = check_fixture_chain("chain-missing.crt", &["--ca", &fixture("root.crt")]);
    out.exit(1);
    out.expect("chain-complete", "WARN", &["many clients will fail"], &[]);
    out.expect(
        "trust",
        "ERROR",
        &["issued by CN=tls-server check intermediate CA, which is not in certs/check/root.crt"],
        &["fullchain.pem"],
    );

    // An issuer the clients have (--ca) is no warning.
    let out = check_fixture_chain("chain-missing.crt", &["--ca", &fixture("intermediate.crt")]);
    out.exit(0);
    out.expect(
        "chain-complete",
        "OK",
        &["complete", "in --ca certs/check/intermediate.crt"],
        &[],
    );
    out.expect("trust", "OK", &[], &[]);
}

fn check_fixture_chain(cert: &str, args: &[&str]) -> Out {
    let cert = fixture(cert);
    let key = fixture("chain.key");
    let mut all = vec!["--cert", &cert, "--key", &key];
    all.extend_from_slice(args);
    check(&all)
}

#[test]
fn complete_chain_is_shown_subject_to_issuer() {
    let out = check_fixture_chain("chain-complete.crt", &["--ca", &fixture("root.crt")]);
    out.exit(0);
    let chain: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .collect();
    assert_eq!(chain.len(), 2, "{}", out.stdout);
    assert!(
        chain[0].starts_with("#1 CN=localhost → CN=tls-server check intermediate CA ("),
        "{}",
        chain[0]
    );
    assert!(
        chain[1].starts_with("#2 CN=tls-server check intermediate CA → CN=tls-server check root CA (ECDSA P-256, CA,"),
        "{}",
        chain[1]
    );
    out.expect("chain-order", "OK", &["2 certificates in order"], &[]);
    out.expect(
        "chain-complete",
        "OK",
        &["complete: #1 CN=localhost → #2 CN=tls-server check intermediate CA → CN=tls-server check root CA (in --ca certs/check/root.crt)"],
        &[],
    );
    out.expect(
        "trust",
        "OK",
        &["verifies against certs/check/root.crt"],
        &[],
    );
    assert!(!out.stdout.contains("root-in-chain"), "{}", out.stdout);
}

#[test]
fn root_sent_in_the_chain_is_a_note() {
    let out = check(&["--cert", "certs/server-chain.crt", "--ca", "certs/ca.crt"]);
    out.exit(0).expect(
        "root-in-chain",
        "NOTE",
        &["certificate #2 (CN=tls-server demo CA) is a self-signed root"],
        &["remove the root"],
    );
}

// ---------------------------------------------------------------------------------------
// The server certificate itself

#[test]
fn self_signed_leaf() {
    check_fixture("self-signed", &[]).exit(0).expect(
        "leaf-kind",
        "WARN",
        &["(CN=localhost) is self-signed"],
        &["a CA the clients trust"],
    );
}

#[test]
fn ca_certificate_as_leaf() {
    check_fixture("ca-as-leaf", &[]).exit(1).expect(
        "leaf-kind",
        "ERROR",
        &["is a CA certificate (basicConstraints CA:TRUE)"],
        &["CA:FALSE"],
    );
}

#[test]
fn expired_leaf() {
    check_fixture("expired", &[]).exit(1).expect(
        "validity",
        "ERROR",
        &[
            "expired on Jan  1 00:00:00 2021 GMT",
            "valid from Jan  1 00:00:00 2020 GMT to Jan  1 00:00:00 2021 GMT",
            "our clock says",
        ],
        &["renew"],
    );
}

#[test]
fn not_yet_valid_leaf_blames_the_clock_too() {
    check_fixture("not-yet-valid", &[]).exit(1).expect(
        "validity",
        "ERROR",
        &[
            "is not valid yet",
            "valid from Jan  1 00:00:00 2090 GMT to Jan  1 00:00:00 2100 GMT",
            "our clock says",
            "clock is wrong",
        ],
        &["date -u"],
    );
}

#[test]
fn expiring_within_30_days_is_a_warning() {
    // --at moves our clock: 10 days before expired.crt's end, then well inside it.
    check_fixture("expired", &["--at", "2020-12-22"])
        .exit(0)
        .expect(
            "validity",
            "WARN",
            &["expires in 10 days, on Jan  1 00:00:00 2021 GMT"],
            &["renew"],
        );
    check_fixture("expired", &["--at", "2020-06-01"])
        .exit(0)
        .expect(
            "validity",
            "OK",
            &["our clock says Jun  1 00:00:00 2020 GMT"],
            &[],
        );
}

#[test]
fn wildcard_covers_exactly_one_label() {
    let host = |name: &str| check_fixture_chain("chain-complete.crt", &["--host", name]);
    host("a.example.test").exit(0).expect(
        "host",
        "OK",
        &["a.example.test is covered by DNS:*.example.test"],
        &[],
    );
    host("a.b.example.test").exit(1).expect(
        "host",
        "ERROR",
        &["a.b.example.test is not covered", "DNS:*.example.test"],
        &["one label only"],
    );
    host("example.test")
        .exit(1)
        .expect("host", "ERROR", &["example.test is not covered"], &[]);
}

#[test]
fn cn_only_certificate() {
    check_fixture("cn-only", &[]).exit(0).expect(
        "names",
        "WARN",
        &["no subjectAltName, only CN=localhost", "ignore the CN"],
        &["subjectAltName = DNS:localhost"],
    );
    check_fixture("cn-only", &["--host", "localhost"])
        .exit(1)
        .expect(
            "host",
            "ERROR",
            &["localhost is not covered", "CN=localhost is ignored"],
            &["subjectAltName = DNS:localhost"],
        );
}

#[test]
fn client_only_extended_key_usage() {
    check_fixture("client-only", &[]).exit(1).expect(
        "server-auth",
        "ERROR",
        &["extendedKeyUsage is clientAuth, without serverAuth"],
        &["extendedKeyUsage = serverAuth"],
    );
}

#[test]
fn key_usage_without_digital_signature() {
    check_fixture("no-digital-signature", &[]).exit(1).expect(
        "key-usage",
        "ERROR",
        &["keyUsage is keyEncipherment without digitalSignature"],
        &["digitalSignature"],
    );
}

#[test]
fn rsa_1024_key() {
    let out = check_fixture("rsa1024", &[]);
    out.exit(1);
    out.expect(
        "key-strength",
        "ERROR",
        &["RSA 1024-bit key", "2048-bit minimum"],
        &["openssl genpkey"],
    );
    // rustls cannot sign with it either: credentials.rs's words.
    out.expect(
        "key-type",
        "ERROR",
        &["key type is not supported"],
        &["RSA (2048+ bits)"],
    );
}

#[test]
fn sha1_signature() {
    check_fixture("sha1", &[]).exit(1).expect(
        "signature",
        "ERROR",
        &["certificate #1 (CN=localhost) is signed with ecdsa-with-SHA1"],
        &["SHA-256"],
    );
}

#[test]
fn verification_against_an_unrelated_ca_fails() {
    check(&["--ca", &fixture("root.crt")]).exit(1).expect(
        "trust",
        "ERROR",
        &[
            "does not verify against certs/check/root.crt",
            "CN=tls-server demo CA",
        ],
        &["--ca"],
    );
}

// ---------------------------------------------------------------------------------------
// --json and usage

#[test]
fn json_report() {
    let out = check(&["--json", "--host", "localhost"]);
    out.exit(0);
    assert_eq!(out.stdout.lines().count(), 1, "one line: {}", out.stdout);
    let report = json(out.stdout.trim());
    assert_eq!(report.str("cert"), "certs/server.crt");
    assert_eq!(report.str("host"), "localhost");
    assert!(report.bool("passed"));
    assert_eq!(report.num("errors"), 0.0);
    let chain = report.objs("chain");
    assert_eq!(chain[0].str("subject"), "CN=localhost");
    assert_eq!(chain[0].str("issuer"), "CN=tls-server demo CA");
    // The one shape of a certificate: Node's names.
    assert!(chain[0]
        .strs("subjectaltname")
        .contains(&"DNS:localhost".to_string()));
    assert_eq!(chain[0].str("fingerprint256").len(), 95);
    let checks = report.objs("checks");
    let first = &checks[0];
    assert_eq!(first.str("check"), "cert-file");
    assert_eq!(first.str("status"), "ok");
    assert_eq!(first.str("file"), "certs/server.crt");
    assert!(
        first.str("message").starts_with("readable"),
        "{}",
        first.line
    );
    let host = checks
        .iter()
        .find(|c| c.str("check") == "host")
        .expect("a host check");
    assert_eq!(host.str("message"), "localhost is covered by DNS:localhost");
    assert_eq!(host.str("fix"), "");

    let out = check_fixture("expired", &["--json"]);
    out.exit(1);
    let report = json(out.stdout.trim());
    assert!(!report.bool("passed"));
    let validity = report
        .objs("checks")
        .into_iter()
        .find(|c| c.str("check") == "validity")
        .expect("a validity check");
    assert_eq!(validity.str("status"), "error");
    assert!(
        validity.str("message").starts_with(
            "the server certificate (CN=localhost) expired on Jan  1 00:00:00 2021 GMT"
        ),
        "{}",
        validity.line
    );
    assert!(validity.str("fix").starts_with("renew the certificate"));
}

#[test]
fn usage_errors_exit_2() {
    let out = check(&["--no-such-option"]);
    out.exit(2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("tls-server check --help"),
        "{}",
        out.stderr
    );

    let out = check(&["--at", "yesterday"]);
    out.exit(2);
    assert!(out.stderr.contains("--at"), "{}", out.stderr);

    let out = check(&["--help"]);
    out.exit(0);
    assert!(out.stdout.contains("--host NAME"), "{}", out.stdout);
}
