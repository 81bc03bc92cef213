//! `tls-server check` on files and formats, and on the demo certificates: driven as a
//! child process on the committed fixtures, one test per check, each asserting the
//! check's line (status, message, fix) and the exit status — 0 without errors (warnings
//! allowed), 1 with errors, 2 for a usage error. The fixtures are in certs/check/
//! (`make certs` makes them); `check_chain.rs` has the chain and the leaf.

mod check_support;
#[path = "../../tests/support/mod.rs"]
mod support;

use check_support::*;

// ---------------------------------------------------------------------------------------
// The demo certificates pass

#[test]
fn demo_certificates_pass_with_the_defaults() {
    let out = check(&[]);
    out.exit(0);
    assert!(!out.stdout.contains("\nERROR"), "{}", out.stdout);
    out.expect(
        "cert-format",
        "OK",
        &["certs/server.crt", "PEM, 1 certificate"],
        &[],
    );
    out.expect(
        "key-match",
        "OK",
        &["certs/server.key", "certificate #1 (CN=localhost)"],
        &[],
    );
    out.expect("validity", "OK", &["valid from", "our clock says"], &[]);
    out.expect("server-auth", "OK", &["serverAuth"], &[]);
    assert!(
        out.stdout
            .contains("#1 CN=localhost → CN=tls-server demo CA (ECDSA P-256"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("result: 0 errors"), "{}", out.stdout);
}

#[test]
fn demo_certificates_verify_against_the_demo_ca() {
    let out = check(&["--ca", "certs/ca.crt"]);
    out.exit(0);
    out.expect(
        "chain-complete",
        "OK",
        &["complete", "CN=tls-server demo CA", "certs/ca.crt"],
        &[],
    );
    out.expect("trust", "OK", &["verifies against certs/ca.crt"], &[]);
}

#[test]
fn host_names_of_the_demo_certificate() {
    let out = check(&["--host", "localhost"]);
    out.exit(0).expect(
        "host",
        "OK",
        &["localhost is covered by DNS:localhost"],
        &[],
    );

    let out = check(&["--host", "127.0.0.1"]);
    out.exit(0).expect(
        "host",
        "OK",
        &["127.0.0.1 is covered by IP Address:127.0.0.1"],
        &[],
    );

    let out = check(&["--host", "example.com"]);
    out.exit(1).expect(
        "host",
        "ERROR",
        &[
            "example.com is not covered",
            "DNS:localhost",
            "IP Address:127.0.0.1",
        ],
        &["DNS:example.com"],
    );
}

// ---------------------------------------------------------------------------------------
// Files and formats (the words come from credentials.rs, as `serve` prints them)

#[test]
fn missing_certificate_file() {
    check(&["--cert", "certs/check/no-such.crt"])
        .exit(1)
        .expect(
            "cert-file",
            "ERROR",
            &["certs/check/no-such.crt", "not found"],
            &["check the path"],
        );
}

#[test]
fn key_readable_by_others_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("mode");
    let key = dir.0.join("server.key");
    std::fs::copy(support::repo_root().join("certs/server.key"), &key).unwrap();
    let key_arg = key.to_str().unwrap();

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    check(&["--key", key_arg]).exit(0).expect(
        "key-permissions",
        "WARN",
        &["mode 0644", "readable by its group and all other users"],
        &[&format!("chmod 600 {key_arg}")],
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    check(&["--key", key_arg]).exit(0).expect(
        "key-permissions",
        "WARN",
        &["mode 0640", "readable by its group"],
        &["chmod 600"],
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    check(&["--key", key_arg]).exit(0).expect(
        "key-permissions",
        "OK",
        &["mode 0600", "owner only"],
        &[],
    );
}

#[test]
fn der_certificate() {
    check(&["--cert", "certs/bad/server.der"]).exit(1).expect(
        "cert-format",
        "ERROR",
        &["certs/bad/server.der", "DER (binary)"],
        &["openssl x509 -inform der"],
    );
}

#[test]
fn csr_instead_of_certificate() {
    check(&["--cert", "certs/bad/server.csr"]).exit(1).expect(
        "cert-format",
        "ERROR",
        &["certificate signing request (CSR)"],
        &["have it signed by your CA"],
    );
}

#[test]
fn trusted_certificate_form() {
    check(&["--cert", "certs/bad/trusted.crt"]).exit(1).expect(
        "cert-format",
        "ERROR",
        &["TRUSTED CERTIFICATE"],
        &["openssl x509 -in certs/bad/trusted.crt"],
    );
}

#[test]
fn swapped_certificate_and_key() {
    let out = check(&["--cert", "certs/server.key", "--key", "certs/server.crt"]);
    out.exit(1);
    out.expect(
        "cert-format",
        "ERROR",
        &["contains a PRIVATE KEY, not a CERTIFICATE"],
        &["swapped"],
    );
    out.expect(
        "key-format",
        "ERROR",
        &["contains a CERTIFICATE, not a PRIVATE KEY"],
        &["swapped"],
    );
    // A certificate is no secret: its file mode is not reported as a readable private key.
    assert!(!out.stdout.contains("key-permissions"), "{}", out.stdout);
}

#[test]
fn encrypted_key() {
    check(&["--key", "certs/bad/encrypted.key"]).exit(1).expect(
        "key-format",
        "ERROR",
        &["encrypted with a passphrase"],
        &["openssl pkey"],
    );
}

#[test]
fn key_of_another_certificate() {
    check(&["--key", "certs/bad/other.key"]).exit(1).expect(
        "key-match",
        "ERROR",
        &["certs/bad/other.key does not match the certificate"],
        &["openssl pkey -in certs/bad/other.key -pubout"],
    );
}
