//! `tls-server serve` with real third-party clients when they are installed: OpenSSL's
//! `s_client` (TLS 1.2 and 1.3, client certificates, the alerts it sees), Node, Python,
//! curl over plain HTTP, and the certificate facts compared with `openssl x509`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use support::json::json;
use support::process::{run, skip_unless_installed, start_serve, Proc};
use support::WAIT;

// ---------------------------------------------------------------------------------------
// The server under test

/// `tls-server serve --port 0 --events json ARGS` on 127.0.0.1, up to `listening`.
fn start_server(args: &[&str]) -> (Proc, SocketAddr) {
    let (server, addr) = start_serve(args);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    (server, addr)
}

// ---------------------------------------------------------------------------------------
// Other TLS stacks

fn openssl_s_client_echo(extra: &[&str], protocol: &str) {
    if skip_unless_installed("openssl") {
        return;
    }
    let (mut server, addr) = start_server(&[]);
    let connect = addr.to_string();
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-CAfile",
        "certs/ca.crt",
        "-verify_return_error",
        "-servername",
        "localhost",
    ];
    args.extend_from_slice(extra);
    let mut client = Proc::spawn(
        "openssl s_client",
        Command::new("openssl")
            .args(&args)
            .current_dir(support::repo_root())
            .stdin(Stdio::piped()),
    );
    // s_client quits at end of input: keep stdin open until the echo is back.
    let mut stdin = client.child.stdin.take().unwrap();
    let line = format!("hello from openssl s_client {protocol}");
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
    client.stdout.wait_for("the echo", |l| l == line);
    drop(stdin);
    let status = client.wait_exit();

    let out = client.stdout.text();
    let seen = &client.stdout.seen;
    let position = |pred: &dyn Fn(&str) -> bool| seen.iter().position(|l| pred(l));
    let verified = position(&|l| l.trim() == "Verify return code: 0 (ok)")
        .unwrap_or_else(|| panic!("no successful verification in: {out}"));
    assert!(
        position(&|l| l.starts_with(&format!("New, {protocol}, Cipher is "))).is_some(),
        "{protocol} not negotiated: {out}"
    );
    let echoed = position(&|l| l == line).unwrap();
    assert!(verified < echoed, "{out}");
    assert!(
        status.success(),
        "s_client: {status}; stderr: {}",
        client.stderr.text()
    );

    // The server's log line for the handshake names the protocol and an IANA cipher name.
    let logged = server.stderr.wait_for("the secure log line", |l| {
        l.contains(&format!("secure: {protocol} TLS_"))
    });
    let secure = server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    let secure = json(&secure);
    assert_eq!(secure.str("protocol"), protocol);
    assert!(logged.contains(secure.str("cipher")), "{logged}");
    assert_eq!(secure.str("servername"), "localhost");
    if protocol == "TLSv1.2" {
        assert!(
            secure.str("cipher").starts_with("TLS_ECDHE_ECDSA_"),
            "{secure:?}"
        );
    }
}

#[test]
fn openssl_s_client_tls13() {
    openssl_s_client_echo(&[], "TLSv1.3");
}

#[test]
fn openssl_s_client_tls12() {
    openssl_s_client_echo(&["-tls1_2"], "TLSv1.2");
}

#[test]
fn node_client_echo() {
    if skip_unless_installed("node") {
        return;
    }
    let (_server, addr) = start_server(&[]);
    let script = r#"
const tls = require('tls'), fs = require('fs');
const msg = 'ping from node';
const s = tls.connect({
  port: Number(process.env.TLS_SERVER_PORT), host: '127.0.0.1',
  ca: fs.readFileSync('certs/ca.crt'), servername: 'localhost',
}, () => {
  console.log('protocol ' + s.getProtocol() + ' authorized ' + s.authorized);
  s.write(msg);
});
let got = '';
s.setEncoding('utf8');
s.on('data', (d) => {
  got += d;
  if (got.length >= msg.length) { console.log('echo ' + got); s.end(); }
});
s.on('error', (e) => { console.error('error ' + e.message); process.exit(1); });
s.on('close', () => process.exit(got === msg ? 0 : 3));
"#;
    let out = client_script("node", "-e", script, addr);
    assert!(out.contains("protocol TLSv1.3 authorized true"), "{out}");
    assert!(out.contains("echo ping from node"), "{out}");
}

/// Runs `tool FLAG script` with `TLS_SERVER_PORT` set to the server's port, from the crate
/// root; asserts it succeeds and returns its stdout.
fn client_script(tool: &str, flag: &str, script: &str, addr: SocketAddr) -> String {
    let (status, p, _) = run(
        tool,
        Command::new(tool)
            .args([flag, script])
            .env("TLS_SERVER_PORT", addr.port().to_string())
            .current_dir(support::repo_root())
            .stdin(Stdio::null()),
    );
    let out = p.stdout.text();
    assert!(
        status.success(),
        "{tool}: {status}; stdout: {out}; stderr: {}",
        p.stderr.text()
    );
    out
}

#[test]
fn python_client_echo() {
    if skip_unless_installed("python3") {
        return;
    }
    let (_server, addr) = start_server(&[]);
    let script = r#"
import os, socket, ssl
ctx = ssl.create_default_context(cafile='certs/ca.crt')
msg = b'ping from python'
with socket.create_connection(('127.0.0.1', int(os.environ['TLS_SERVER_PORT'])), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname='localhost') as s:
        print('protocol', s.version())
        s.sendall(msg)
        got = b''
        while len(got) < len(msg):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        print('echo', got.decode())
"#;
    let out = client_script("python3", "-c", script, addr);
    assert!(out.contains("protocol TLSv1.3"), "{out}");
    assert!(out.contains("echo ping from python"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Not TLS at all

#[test]
fn plain_http_is_reported_and_the_server_keeps_serving() {
    let (mut server, addr) = start_server(&[]);

    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let http_peer = tcp.local_addr().unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    // The server answers (an alert, perhaps) and closes: read to its end.
    let mut answer = Vec::new();
    if let Err(e) = tcp.read_to_end(&mut answer) {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "the server should close the connection: {e}"
        );
    }
    // Closing our side lets the server finish at once (it waits briefly for our FIN so
    // that its alert is not destroyed by a reset).
    drop(tcp);

    let line = server.stdout.expect_line("connection");
    let connection = json(&line);
    assert_eq!(connection.event(), "connection", "{line}");
    assert_eq!(connection.str("peer"), http_peer.to_string());
    let line = server.stdout.expect_line("tlsClientError");
    let error = json(&line);
    assert_eq!(error.event(), "tlsClientError", "{line}");
    assert_eq!(error.str("cause"), "not-tls", "{line}");
    assert_eq!(error.num("id"), connection.num("id"));
    assert_eq!(error.str("peer"), http_peer.to_string());
    assert!(error.str("message").contains("HTTP"), "{line}");
    assert_eq!(error.num("bytesReceived"), 18.0, "{line}");
    assert!(!error.str("fix").is_empty(), "{line}");

    // Still serving.
    let mut client = support::connect(addr);
    assert_eq!(
        support::echo_roundtrip(&mut client, b"still here"),
        b"still here"
    );
    let line = server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    assert_eq!(
        json(&line).str("peer"),
        client.sock.local_addr().unwrap().to_string()
    );
}

#[test]
fn plain_http_fails_in_the_client_hello_phase() {
    let (mut server, addr) = start_server(&[]);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let _ = tcp.read_to_end(&mut Vec::new());
    drop(tcp);
    let line = server
        .stdout
        .wait_for("tlsClientError", |l| json(l).event() == "tlsClientError");
    let error = json(&line);
    assert_eq!(error.str("cause"), "not-tls", "{line}");
    // The server never answered with a ServerHello, only with a fatal alert: the failure
    // is in the ClientHello phase, not "after-server-hello".
    assert_eq!(error.str("phase"), "client-hello", "{line}");
}

// ---------------------------------------------------------------------------------------
// Client authentication with real openssl clients

/// `openssl s_client` with `extra` flags, one line written; returns the finished process.
fn s_client(addr: SocketAddr, extra: &[&str], line: &str, wait_echo: bool) -> Proc {
    let connect = addr.to_string();
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-CAfile",
        "certs/ca.crt",
        "-servername",
        "localhost",
    ];
    args.extend_from_slice(extra);
    let mut client = Proc::spawn(
        "openssl s_client",
        Command::new("openssl")
            .args(&args)
            .current_dir(support::repo_root())
            .stdin(Stdio::piped()),
    );
    let mut stdin = client.child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{line}");
    let _ = stdin.flush();
    if wait_echo {
        // s_client prints session-ticket details through a buffer of its own, so the echo
        // can land in the middle of one of those lines: look for it at a line's end.
        client.stdout.wait_for("the echo", |l| l.ends_with(line));
    }
    drop(stdin);
    client.wait_exit();
    client
}

#[test]
fn client_auth_required_accepts_openssl_with_a_client_certificate() {
    if skip_unless_installed("openssl") {
        return;
    }
    let (mut server, addr) =
        start_server(&["--client-auth", "required", "--ca", "certs/client/ca.crt"]);
    let client = s_client(
        addr,
        &[
            "-cert",
            "certs/client/client.crt",
            "-key",
            "certs/client/client.key",
        ],
        "hello with a client certificate",
        true,
    );
    assert!(client.stdout.text().contains("Verify return code: 0 (ok)"));
    server
        .stderr
        .wait_for("the log line with the client's subject", |l| {
            l.contains("client=\"CN=demo client, O=tls-server demo\" authorized")
        });
    let secure = server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    let secure = json(&secure);
    assert!(secure.bool("authorized"), "{secure:?}");
}

#[test]
fn client_auth_required_refuses_openssl_without_a_certificate_and_says_why() {
    if skip_unless_installed("openssl") {
        return;
    }
    let (mut server, addr) =
        start_server(&["--client-auth", "required", "--ca", "certs/client/ca.crt"]);
    // -ign_eof: keep reading after our line, until the server's alert arrives.
    let client = s_client(addr, &["-ign_eof"], "hello without a certificate", false);
    let seen = format!("{}\n{}", client.stdout.text(), client.stderr.text());
    assert!(
        seen.contains("certificate required"),
        "the client should see the certificate_required alert: {seen}"
    );
    let line = server
        .stdout
        .wait_for("tlsClientError", |l| json(l).event() == "tlsClientError");
    let error = json(&line);
    assert_eq!(error.str("cause"), "client-certificate", "{line}");
    assert_eq!(
        error.str("authorizationError"),
        "NO_PEER_CERTIFICATE",
        "{line}"
    );
    server.stderr.wait_for("the log's reason", |l| {
        l.contains("the client sent no certificate")
    });
}

/// `openssl x509 -noout ... -in FILE`, as `key=value` pairs.
fn openssl_x509(file: &str) -> Vec<(String, String)> {
    let (status, p, _) = run(
        "openssl x509",
        Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-subject",
                "-issuer",
                "-serial",
                "-fingerprint",
                "-sha256",
                "-dates",
                "-ext",
                "subjectAltName",
                "-in",
                file,
            ])
            .current_dir(support::repo_root())
            .stdin(Stdio::null()),
    );
    assert!(status.success(), "{}", p.stderr.text());
    let mut out = Vec::new();
    let mut lines = p.stdout.seen.iter().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("X509v3 Subject Alternative Name") {
            let value = lines
                .next()
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            out.push(("san".to_string(), value));
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

#[test]
fn peer_certificate_facts_match_openssl_x509() {
    if skip_unless_installed("openssl") {
        return;
    }
    let (mut server, addr) =
        start_server(&["--client-auth", "required", "--ca", "certs/client/ca.crt"]);
    s_client(
        addr,
        &[
            "-cert",
            "certs/client/client.crt",
            "-key",
            "certs/client/client.key",
        ],
        "facts",
        true,
    );
    let line = server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    let cert = json(&line).obj("peerCertificate");
    let field = |name: &str| -> String {
        if name == "subjectaltname" {
            cert.strs(name).join(", ")
        } else {
            cert.str(name).to_string()
        }
    };
    let facts = openssl_x509("certs/client/client.crt");
    let get = |k: &str| {
        facts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("openssl printed no {k}: {facts:?}"))
    };
    // openssl 3 prints `CN = demo client, O = tls-server demo`.
    let compact = |s: String| s.replace(" = ", "=");
    assert_eq!(field("subject"), compact(get("subject")));
    assert_eq!(field("issuer"), compact(get("issuer")));
    assert_eq!(field("serialNumber"), get("serial"));
    assert_eq!(field("fingerprint256"), get("sha256 Fingerprint"));
    assert_eq!(field("valid_from"), get("notBefore"));
    assert_eq!(field("valid_to"), get("notAfter"));
    assert_eq!(field("subjectaltname"), get("san"));
}

// ---------------------------------------------------------------------------------------
// What OpenSSL and curl see when refused

#[test]
fn openssl_clients_see_the_alert_for_each_refused_client_certificate() {
    if skip_unless_installed("openssl") {
        return;
    }
    let (mut server, addr) = start_server(&[
        "--client-auth",
        "required",
        "--ca",
        "certs/client/ca.crt",
        "--crl",
        "certs/client/ca.crl",
    ]);
    // What OpenSSL prints for the alert rustls sends (RFC 8446 §6.2 names).
    let cases = [
        ("unknown-ca", "alert unknown ca"),
        ("expired", "alert certificate expired"),
        ("revoked", "alert certificate revoked"),
        ("wrong-purpose", "alert unsupported certificate"),
        ("ca-as-leaf", "alert certificate unknown"),
        ("self-signed", "alert unknown ca"),
    ];
    for (name, alert) in cases {
        let cert = format!("certs/client/{name}.crt");
        let key = format!("certs/client/{name}.key");
        let client = s_client(
            addr,
            &["-cert", &cert, "-key", &key, "-ign_eof"],
            "hello",
            false,
        );
        let seen = format!("{}\n{}", client.stdout.text(), client.stderr.text());
        assert!(
            seen.contains(alert),
            "{name}: expected {alert:?} on the client side: {seen}"
        );
        let line = server
            .stdout
            .wait_for("tlsClientError", |l| json(l).event() == "tlsClientError");
        assert_eq!(
            json(&line).str("cause"),
            "client-certificate",
            "{name}: {line}"
        );
    }
}

/// `curl http://` against the TLS port shows a sentence saying to use https://.
#[test]
fn curl_over_plain_http_is_told_to_use_https() {
    if !support::process::installed("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let (_server, addr) = start_server(&[]);
    let (status, out, _) = support::process::run(
        "curl http://",
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
            .arg(format!("http://{addr}/")),
    );
    let text = out.stdout.text();
    assert!(status.success(), "{text} {}", out.stderr.text());
    assert!(text.contains("use https:// instead of http://"), "{text}");
    assert!(text.trim_end().ends_with("400"), "{text}");
}
