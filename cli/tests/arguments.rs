//! The command line as a user types it: configuration errors and what they name, values
//! that cannot work, mistyped flags, `help` and `--version`, and the addresses `--bind`
//! takes — each with the real binary.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::process::{expect_config_error, run, run_tls_server, start_serve, tls_server};

// ---------------------------------------------------------------------------------------
// Configuration errors, --version, --help

#[test]
fn csr_as_certificate_is_a_clear_error() {
    expect_config_error(
        &["serve", "--port", "0", "--cert", "certs/bad/server.csr"],
        &["certs/bad/server.csr", "certificate signing request"],
    );
}

#[test]
fn missing_certificate_is_a_clear_error() {
    expect_config_error(
        &["serve", "--port", "0", "--cert", "does-not-exist.crt"],
        &["does-not-exist.crt", "not found", "check the path"],
    );
}

#[test]
fn unknown_cipher_is_a_clear_error() {
    expect_config_error(
        &["serve", "--port", "0", "--ciphers", "TLS_NOPE"],
        &[
            "--ciphers",
            "TLS_NOPE",
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (ECDHE-ECDSA-AES256-GCM-SHA384)",
        ],
    );
}

#[test]
fn unknown_option_is_a_clear_error() {
    expect_config_error(&["serve", "--bogus"], &["--bogus", "--help"]);
}

#[test]
fn values_that_cannot_work_are_refused_at_startup_naming_the_flag() {
    expect_config_error(
        &["serve", "--handshake-timeout", "0"],
        &["--handshake-timeout", "every handshake would fail"],
    );
    expect_config_error(
        &["serve", "--max-connections", "0"],
        &["--max-connections", "at least 1"],
    );
    expect_config_error(
        &["serve", "--alpn", "h2,,http/1.1"],
        &["--alpn", "an empty protocol name"],
    );
    expect_config_error(
        &["serve", "--alpn", ","],
        &["--alpn", "empty protocol name"],
    );
    expect_config_error(
        &["serve", "--max-fragment", "16390"],
        &["--max-fragment", "32 to 16389 bytes"],
    );
    expect_config_error(
        &["serve", "--exit-after", "0"],
        &["--exit-after", "before its first client"],
    );
    // A value that is not a number names the flag and what it takes.
    for (flag, expects) in [
        ("--max-connections", "is not a number of connections"),
        ("--max-handshakes", "is not a number of handshakes"),
        ("--max-per-address", "is not a number of connections"),
        ("--session-cache", "is not a number of sessions"),
        ("--tickets", "is not a number of tickets"),
        ("--max-fragment", "is not a size in bytes"),
        ("--exit-after", "is not a number of connections"),
    ] {
        expect_config_error(&["serve", flag, "-1"], &[flag, expects]);
    }
}

#[test]
fn a_mistyped_flag_or_command_gets_the_closest_valid_one() {
    expect_config_error(
        &["serve", "--tls-version", "1.3"],
        &["--tls-version", "did you mean --tls-versions?"],
    );
    expect_config_error(
        &["serve", "--max-conections", "3"],
        &["did you mean --max-connections?"],
    );
    expect_config_error(&["check", "--cetr", "x"], &["did you mean --cert?"]);
    expect_config_error(&["serv"], &["did you mean serve?"]);
    // Nothing close: no guess, only where to look.
    let out = run_tls_server(&["serve", "--frobnicate"]);
    out.exit(2);
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
    assert!(
        out.stderr.contains("tls-server serve --help"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_command_prints_the_usage_and_exits_2() {
    let out = run_tls_server(&[]);
    out.exit(2);
    assert!(out.stderr.contains("USAGE"), "{}", out.stderr);
    assert!(
        out.stderr.contains("error: no command given"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn help_command_gives_the_general_or_a_commands_help() {
    for (args, start) in [
        (&["help"][..], "tls-server — "),
        (&["help", "check"], "tls-server check"),
        (&["help", "probe"], "tls-server probe"),
    ] {
        let out = run_tls_server(args);
        out.exit(0);
        assert!(out.stdout.starts_with(start), "{args:?}: {}", out.stdout);
    }
    assert!(run_tls_server(&["help"]).stdout.contains("SERVE OPTIONS"));
}

#[test]
fn version_names_tls_server_rustls_and_the_provider() {
    let (status, p, _) = run("tls-server --version", &mut tls_server(&["--version"]));
    assert!(status.success(), "{status}");
    let out = p.stdout.text();
    assert!(
        out.contains(&format!("tls-server {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("rustls 0.23"), "{out}");
    assert!(
        out.contains(tls_server::tls::Provider::default().name()),
        "{out}"
    );
}

#[test]
fn help_lists_the_options() {
    let (status, p, _) = run("tls-server --help", &mut tls_server(&["--help"]));
    assert!(status.success(), "{status}");
    let out = p.stdout.text();
    for option in ["serve", "--events", "--cert", "--key", "--port"] {
        assert!(out.contains(option), "{option} missing from: {out}");
    }
}

// ---------------------------------------------------------------------------------------
// Addresses

#[test]
fn serve_listens_on_ipv6_loopback_given_with_or_without_brackets() {
    for bind in ["::1", "[::1]", "[::1]:0"] {
        let (server, addr) = start_serve(&["--bind", bind]);
        assert_eq!(addr.ip().to_string(), "::1", "--bind {bind}");
        let mut client = support::connect(addr);
        assert_eq!(
            support::echo_roundtrip(&mut client, b"over ::1"),
            b"over ::1"
        );
        drop(server);
    }
}

#[test]
fn addresses_that_cannot_work_name_the_flag_and_the_form() {
    expect_config_error(
        &["serve", "--bind", "::1:8443"],
        &["--bind", "goes in brackets", "[::1]:8443"],
    );
    expect_config_error(
        &["serve", "--port", "99999"],
        &["--port", "from 0 to 65535"],
    );
    expect_config_error(
        &["serve", "--bind", "localhost:http"],
        &["--bind", "not a number from 0 to 65535"],
    );
}
