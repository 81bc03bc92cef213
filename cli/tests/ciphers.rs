//! Cipher suites by OpenSSL's names as well as IANA's: `--ciphers` takes either, and the
//! suite a handshake chose is shown both ways — the `secureConnection` JSON (`cipher` and
//! `cipherOpenssl`, as Node's `getCipher()` has `standardName` and `name`), the log line,
//! the handshake trace and `probe`'s report — with the real binary, a rustls client, and `openssl s_client` when it
//! is installed.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::json::json;
use support::process::{run_tls_server, skip_unless_installed, start_serve, Proc};

/// A TLS 1.2 suite for the demo certificate's ECDSA key, and its IANA name.
const OPENSSL: &str = "ECDHE-ECDSA-AES256-GCM-SHA384";
const IANA: &str = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";

/// The server's `secureConnection` event and log line name the suite both ways.
fn expect_both_names(server: &mut Proc) {
    let line = server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    let secure = json(&line);
    assert_eq!(secure.str("protocol"), "TLSv1.2", "{line}");
    assert_eq!(secure.str("cipher"), IANA, "{line}");
    assert_eq!(secure.str("cipherOpenssl"), OPENSSL, "{line}");
    assert!(
        line.contains(&format!(
            r#""cipher":"{IANA}","cipherOpenssl":"{OPENSSL}","#
        )),
        "cipherOpenssl right after cipher: {line}"
    );
    let logged = server
        .stderr
        .wait_for("the secure log line", |l| l.contains(" secure: TLSv1.2 "));
    assert!(
        logged.contains(&format!(" secure: TLSv1.2 {IANA} ({OPENSSL}) group=")),
        "{logged}"
    );
}

#[test]
fn openssl_name_on_the_command_line_with_a_rustls_client() {
    let (mut server, addr) = start_serve(&["--ciphers", OPENSSL, "--trace"]);
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"ping"), b"ping");
    let chosen = client.conn.negotiated_cipher_suite().expect("a suite");
    assert_eq!(tls_server::tls::suite_name(&chosen), IANA);
    assert_eq!(
        tls_server::tls::openssl_cipher_suite_name(chosen.suite()),
        Some(OPENSSL)
    );
    // The handshake trace's last step, logged just before the secure line.
    let chose = server
        .stderr
        .wait_for("the trace's outcome", |l| l.contains("secure: chose "));
    assert!(
        chose.contains(&format!(
            "secure: chose TLSv1.2 {IANA} ({OPENSSL}) with group "
        )),
        "{chose}"
    );
    expect_both_names(&mut server);
}

#[test]
fn openssl_name_on_the_command_line_with_openssl_s_client() {
    if skip_unless_installed("openssl") {
        return;
    }
    // Lower case, as OpenSSL itself accepts it.
    let (mut server, addr) = start_serve(&["--ciphers", &OPENSSL.to_ascii_lowercase()]);
    let connect = addr.to_string();
    let mut client = Proc::spawn(
        "openssl s_client",
        Command::new("openssl")
            .args(["s_client", "-connect", &connect, "-CAfile", "certs/ca.crt"])
            .args(["-verify_return_error", "-servername", "localhost"])
            .current_dir(support::repo_root())
            .stdin(Stdio::piped()),
    );
    // s_client quits at end of input: keep stdin open until the echo is back.
    let mut stdin = client.child.stdin.take().unwrap();
    let line = "hello from openssl s_client";
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
    client.stdout.wait_for("the echo", |l| l == line);
    drop(stdin);
    let status = client.wait_exit();
    assert!(
        status.success(),
        "s_client: {status}; stderr: {}",
        client.stderr.text()
    );
    // OpenSSL's own name for what it negotiated is the server's cipherOpenssl.
    let out = client.stdout.text();
    assert!(
        out.contains(&format!("New, TLSv1.2, Cipher is {OPENSSL}")),
        "{out}"
    );
    expect_both_names(&mut server);
}

#[test]
fn probe_shows_both_names() {
    let (_server, addr) = start_serve(&["--ciphers", &format!("{OPENSSL},TLS_AES_128_GCM_SHA256")]);
    let target = addr.to_string();

    // Offered TLS 1.2 only, so the server takes its TLS 1.2 suite.
    let out = run_tls_server(&["probe", &target, "--tls1.2"]);
    out.exit(0);
    let row = format!("  cipher        {IANA} ({OPENSSL})\n");
    assert!(out.stdout.contains(&row), "{row:?} in:\n{}", out.stdout);

    let out = run_tls_server(&["probe", &target, "--tls1.2", "--json"]);
    out.exit(0);
    let report = json(out.stdout.trim());
    assert_eq!(report.str("cipher"), IANA);
    assert_eq!(report.str("cipherOpenssl"), OPENSSL);

    // A TLS 1.3 suite has one name, which OpenSSL uses too: shown once.
    let out = run_tls_server(&["probe", &target, "--tls1.3", "--json"]);
    out.exit(0);
    let report = json(out.stdout.trim());
    assert_eq!(report.str("cipher"), "TLS_AES_128_GCM_SHA256");
    assert_eq!(report.str("cipherOpenssl"), "TLS_AES_128_GCM_SHA256");
    let out = run_tls_server(&["probe", &target, "--tls1.3"]);
    out.exit(0);
    assert!(
        out.stdout
            .contains("  cipher        TLS_AES_128_GCM_SHA256\n"),
        "{}",
        out.stdout
    );
}
