//! `tls-server pki DIR` and `serve --fixture NAME --pki DIR`: every fixture seen from both
//! sides — the client fails for the intended reason (rustls always; openssl s_client and
//! Python's ssl when installed) and the server's explanation names it.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use support::json::json;
use support::process::{installed, run_tls_server, tls_server, Proc};
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tls_server::rustls::{self, RootCertStore};

/// A fresh set in a scratch directory, removed when dropped.
struct Set(PathBuf);

impl Set {
    fn make(name: &str) -> Set {
        let dir =
            std::env::temp_dir().join(format!("tls-server-pki-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        run_tls_server(&["pki", dir.to_str().unwrap()]).exit(0);
        Set(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Set {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A rustls client trusting the set's root, presenting `client` (`client/NAME`) if given.
fn client_config(set: &Set, client: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(set.path("ca.crt")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(support::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        None => builder.with_no_client_auth(),
        Some(name) => {
            let chain = CertificateDer::pem_file_iter(set.path(&format!("client/{name}.crt")))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key =
                PrivateKeyDer::from_pem_file(set.path(&format!("client/{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    })
}

/// A handshake (and one byte each way) for `localhost`; the client's error as text.
fn rustls_connects(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<(), String> {
    let tcp = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(support::WAIT)).unwrap();
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    use std::io::{Read, Write};
    client.write_all(b"x").map_err(|e| e.to_string())?;
    client.flush().map_err(|e| e.to_string())?;
    let mut one = [0u8; 1];
    client.read_exact(&mut one).map_err(|e| e.to_string())?;
    Ok(())
}

/// `openssl s_client` verifying against the set's root and the name localhost: its
/// verify line (`Verify return code: ...`).
fn openssl_says(set: &Set, addr: SocketAddr) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ])
        .args(["-verify_hostname", "localhost", "-verify_return_error"])
        .args(["-CAfile", set.path("ca.crt").to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.contains("verify error:") || l.contains("Verify return code"))
        .unwrap_or("no verify line")
        .to_string()
}

/// Python's ssl with the default context (verifies, checks the name): `OK` or its error.
fn python_says(set: &Set, addr: SocketAddr) -> String {
    let script = "import socket,ssl,sys\nc=ssl.create_default_context(cafile=sys.argv[2])\ntry:\n    c.wrap_socket(socket.create_connection(('127.0.0.1',int(sys.argv[1]))),server_hostname='localhost').close()\n    print('OK')\nexcept ssl.SSLError as e:\n    print('ERR', e)\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.port().to_string(),
            set.path("ca.crt").to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `serve --fixture NAME --pki DIR --port 0 --events json ARGS`, up to `listening`.
fn serve_fixture(set: &Set, name: &str, args: &[&str]) -> (Proc, SocketAddr) {
    let mut all = vec![
        "serve",
        "--fixture",
        name,
        "--pki",
        set.s(),
        "--port",
        "0",
        "--events",
        "json",
    ];
    all.extend_from_slice(args);
    let mut server = Proc::spawn("tls-server", &mut tls_server(&all));
    let line = server.stdout.expect_line("listening");
    (server, json(&line).str("addr").parse().unwrap())
}

/// The server's next `tlsClientError`, or `None` if the next outcome is a secure
/// connection.
fn server_outcome(server: &mut Proc) -> Option<String> {
    let line = server.stdout.wait_for("an outcome", |l| {
        l.contains(r#""event":"tlsClientError""#) || l.contains(r#""event":"secureConnection""#)
    });
    let event = json(&line);
    (event.event() == "tlsClientError")
        .then(|| format!("{} — {}", event.str("message"), event.str("fix")))
}

struct Expect {
    name: &'static str,
    /// What the rustls client's error contains; `None`: it connects.
    rustls: Option<&'static str>,
    /// What the server's explanation of that failure contains.
    server: &'static str,
    openssl: &'static str,
    python: &'static str,
}

const SERVED: &[Expect] = &[
    Expect {
        name: "good",
        rustls: None,
        server: "",
        openssl: "Verify return code: 0 (ok)",
        python: "OK",
    },
    Expect {
        name: "expired",
        rustls: Some("certificate expired"),
        server: "renew the certificate (expired on",
        openssl: "certificate has expired",
        python: "certificate has expired",
    },
    Expect {
        name: "not-yet-valid",
        rustls: Some("certificate not valid yet"),
        server: "our certificate is not valid yet",
        openssl: "certificate is not yet valid",
        python: "certificate is not yet valid",
    },
    Expect {
        name: "expiring-soon",
        rustls: None,
        server: "",
        openssl: "Verify return code: 0 (ok)",
        python: "OK",
    },
    Expect {
        name: "wrong-host",
        rustls: Some("certificate not valid for name"),
        server: "does not cover",
        openssl: "hostname mismatch",
        python: "Hostname mismatch",
    },
    Expect {
        name: "missing-intermediate",
        rustls: Some("UnknownIssuer"),
        server: "does not trust",
        openssl: "unable to get local issuer certificate",
        python: "unable to get local issuer certificate",
    },
    Expect {
        name: "self-signed",
        rustls: Some("UnknownIssuer"),
        server: "self-signed",
        openssl: "self-signed certificate",
        python: "self-signed certificate",
    },
    Expect {
        name: "ca-as-leaf",
        rustls: Some("CaUsedAsEndEntity"),
        server: "CA certificate",
        openssl: "Verify return code: 0 (ok)",
        python: "OK",
    },
    Expect {
        name: "no-server-auth",
        rustls: Some("extended key usage"),
        server: "not for server authentication",
        openssl: "unsuitable certificate purpose",
        python: "unsuitable certificate purpose",
    },
];

#[test]
fn every_served_fixture_fails_each_client_for_its_reason_and_the_server_says_why() {
    let set = Set::make("served");
    let (openssl, python) = (installed("openssl"), installed("python3"));
    if !openssl || !python {
        println!("skipped parts: openssl installed {openssl}, python3 installed {python}");
    }
    for e in SERVED {
        let (mut server, addr) = serve_fixture(&set, e.name, &[]);
        let result = rustls_connects(addr, client_config(&set, None));
        match (e.rustls, &result) {
            (None, Ok(())) => assert_eq!(server_outcome(&mut server), None, "{}", e.name),
            (Some(want), Err(got)) => {
                assert!(
                    got.contains(want),
                    "{}: rustls said {got:?}, not {want:?}",
                    e.name
                );
                let said =
                    server_outcome(&mut server).unwrap_or_else(|| panic!("{}: served", e.name));
                assert!(
                    said.contains(e.server),
                    "{}: the server said {said:?}",
                    e.name
                );
            }
            (want, got) => panic!("{}: rustls {got:?}, expected {want:?}", e.name),
        }
        if openssl {
            let said = openssl_says(&set, addr);
            assert!(
                said.contains(e.openssl),
                "{}: openssl said {said:?}",
                e.name
            );
        }
        if python {
            let said = python_says(&set, addr);
            assert!(said.contains(e.python), "{}: python said {said:?}", e.name);
        }
    }
}

#[test]
fn fixtures_the_server_cannot_serve_stop_it_at_startup_with_the_reason() {
    let set = Set::make("startup");
    for (name, says) in [
        ("key-mismatch", "does not match the certificate"),
        ("der", "is DER (binary), but PEM text is expected"),
        ("swapped", "are the certificate and the key swapped"),
        (
            "wrong-order",
            "matches certificate #2 in this file, not the first one",
        ),
    ] {
        let out = run_tls_server(&["serve", "--fixture", name, "--pki", set.s(), "--port", "0"]);
        assert_ne!(out.code, 0, "{name} started");
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("broken on purpose"),
            "{name}: the check warned first"
        );
    }
    // The expiring one starts, with the date in a warning.
    let (mut server, _) = serve_fixture(&set, "expiring-soon", &[]);
    server.stderr.wait_for("the expiry warning", |l| {
        l.contains("expires in 9 days") || l.contains("expires in 10 days")
    });
}

#[test]
fn the_client_certificates_are_told_apart_by_the_server() {
    let set = Set::make("clients");
    let crl = set.path("client/crl.pem");
    let ca = set.path("ca.crt");
    let (mut server, addr) = serve_fixture(
        &set,
        "good",
        &[
            "--client-auth",
            "required",
            "--ca",
            ca.to_str().unwrap(),
            "--crl",
            crl.to_str().unwrap(),
        ],
    );
    assert_eq!(
        rustls_connects(addr, client_config(&set, Some("good"))),
        Ok(())
    );
    assert_eq!(server_outcome(&mut server), None);
    for (client, says) in [
        ("expired", "expired"),
        ("revoked", "revoked"),
        ("other", "not among our trusted cas"),
    ] {
        let _ = rustls_connects(addr, client_config(&set, Some(client)));
        let said = server_outcome(&mut server).unwrap_or_else(|| panic!("{client} was served"));
        assert!(said.to_lowercase().contains(says), "{client}: {said}");
    }
}

#[test]
fn the_set_has_its_readme_private_keys_and_json() {
    let dir = std::env::temp_dir().join(format!("tls-server-pki-json-{}", std::process::id()));
    let out = run_tls_server(&[
        "pki",
        "--out",
        dir.to_str().unwrap(),
        "--key-type",
        "p384",
        "--json",
    ]);
    out.exit(0);
    let made = json(out.stdout.trim());
    assert_eq!(made.str("keyType"), "p384");
    let files = made.strs("files");
    for f in &files {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for fixture in tls_server::pki::FIXTURES {
        assert!(
            readme.contains(&format!("`{}`", fixture.name)),
            "{} not in README",
            fixture.name
        );
    }
    assert!(readme.contains("Not made"), "{readme}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("good/server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "keys are private: {mode:o}");
    let _ = std::fs::remove_dir_all(&dir);
    let out = run_tls_server(&["serve", "--fixture", "sha1", "--pki", "/nonexistent"]);
    assert!(out.stderr.contains("is not a fixture"), "{}", out.stderr);
    let out = run_tls_server(&["serve", "--fixture", "expired"]);
    assert!(out.stderr.contains("--pki DIR"), "{}", out.stderr);
}
