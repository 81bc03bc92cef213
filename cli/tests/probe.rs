//! `tls-server probe` on the command line: the human report and its exit status, the JSON
//! report, usage errors. The library's probe is tested in tests/probe.rs.

#[path = "../../tests/support/mod.rs"]
mod support;

use support::json::json;
use support::process::{run_tls_server, start_serve};

#[test]
fn command_line_prints_and_exits_0_or_1() {
    let (_server, addr) = start_serve(&[]);
    let target = addr.to_string();
    // certs/ca.crt is the command's default trust in the repository.
    let out = run_tls_server(&["probe", &target]);
    out.exit(0);
    for f in [
        "trusting certs/ca.crt (the default: no --ca given)",
        "protocol      TLSv1.3",
        "#1 CN=localhost → CN=tls-server demo CA",
        "verification  OK:",
        "host name     OK: 127.0.0.1 is covered by IP Address:127.0.0.1",
        "OK verified TLSv1.3 handshake",
    ] {
        assert!(out.stdout.contains(f), "expected {f:?} in:\n{}", out.stdout);
    }

    let out = run_tls_server(&["probe", &target, "--ca", "certs/check/root.crt", "--json"]);
    out.exit(1);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let report = json(out.stdout.trim());
    assert_eq!(report.str("outcome"), "certificate-rejected");
    assert!(!report.bool("passed"));
    assert_eq!(report.str("protocol"), "TLSv1.3");
    let chain = report.objs("chain");
    assert_eq!(chain[0].str("subject"), "CN=localhost");
    assert_eq!(chain[0].str("issuer"), "CN=tls-server demo CA");
    assert_eq!(report.obj("verification").str("status"), "error");
    // A fix names the command's own flag.
    assert!(
        report.obj("verification").str("fix").contains("--ca"),
        "{}",
        report.line
    );

    let out = run_tls_server(&["probe"]);
    out.exit(2);
    assert!(
        out.stderr.contains("probe needs HOST:PORT"),
        "{}",
        out.stderr
    );
}
