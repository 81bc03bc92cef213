//! `tls-server serve --mode https` in a real browser: Debian's headless Chromium loads the
//! handshake page over https on 127.0.0.1 (trusting our certificate by its public key's
//! hash, `--ignore-certificate-errors-spki-list`, which needs no network and no NSS
//! database), the rendered DOM is checked — one arrow per flight, the flight labels, the
//! suite chosen — in English and in Japanese, the failures page lists a plain-HTTP client,
//! and a screenshot is taken: into the target folder, or into docs/handshake-page.png
//! (which the README shows) with `UPDATE_SCREENSHOT=1` (`make screenshot`). Skipped,
//! visibly, when chromium is not installed (`apt-get install chromium`).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::json::json;
use support::process::{run, send_signal, skip_unless_installed, start_serve};
use support::WAIT;
use tls_server::rustls;
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::CertificateDer;

#[test]
fn cli_handshake_page_in_headless_chromium() {
    if skip_unless_installed("chromium") {
        return;
    }
    let (mut server, addr) = start_serve(&["--mode", "https"]);
    let browser = Browser::new(addr);

    // The page of the connection Chromium opened.
    let dom = browser.dump_dom("/", &[]);
    assert!(dom.contains("<html lang=\"en\">"), "{dom}");
    let id = page_connection_id(&dom);
    let flights: Vec<&str> = dom
        .match_indices("<g class=\"flight\" data-from=\"")
        .map(|(at, m)| &dom[at + m.len()..at + m.len() + 6])
        .collect();
    assert!(
        flights.starts_with(&["client", "server", "client"]),
        "{flights:?}"
    );
    for label in [
        "ClientHello — TLSv1.3",
        "SNI localhost",
        "EncryptedExtensions* — ALPN http/1.1",
        "Certificate* — CN=localhost ← CN=tls-server demo CA",
        "CertificateVerify*",
        "Finished*",
        "✓ secure after ",
    ] {
        assert!(dom.contains(label), "{label:?} in the DOM: {dom}");
    }
    // The suite in the ladder's ServerHello is the one the server reported for this
    // connection (its secureConnection event).
    let secure = server
        .stdout
        .wait_for("this connection's secureConnection", |l| {
            l.starts_with(r#"{"event":"secureConnection""#) && l.contains(&format!(r#""id":{id},"#))
        });
    let cipher = json(&secure).str("cipher").to_string();
    assert!(
        dom.contains(&format!("ServerHello — TLSv1.3 · {cipher}")),
        "{cipher} in the DOM: {dom}"
    );

    // In Japanese when the browser asks for it.
    let dom = browser.dump_dom("/", &["--accept-lang=ja"]);
    assert!(dom.contains("<html lang=\"ja\">"), "{dom}");
    assert!(dom.contains("フライトごとのハンドシェイク"), "{dom}");

    // A plain-HTTP client fails; once its event is out, the failures page lists it.
    let mut plain = TcpStream::connect(addr).unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = plain.read_to_string(&mut answer);
    server.stdout.wait_for("the failure's event", |l| {
        l.starts_with(r#"{"event":"tlsClientError""#) && l.contains(r#""cause":"not-tls""#)
    });
    let dom = browser.dump_dom("/failures", &[]);
    assert!(dom.contains("data-cause=\"not-tls\""), "{dom}");
    assert!(dom.contains("not TLS — \"GET / HTTP/1.1"), "{dom}");

    // The picture.
    let shot = match std::env::var_os("UPDATE_SCREENSHOT") {
        Some(_) => support::repo_root().join("docs/handshake-page.png"),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("handshake-page.png"),
    };
    browser.screenshot("/", &shot);
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());

    send_signal("INT", server.pid());
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr.text());
}

/// The connection id the page shows: `<p class="summary"><strong>#7 · `.
fn page_connection_id(dom: &str) -> u64 {
    let start = "<p class=\"summary\"><strong>#";
    let at = dom.find(start).expect("the summary line") + start.len();
    let rest = &dom[at..];
    rest[..rest.find(' ').expect("a space")]
        .parse()
        .expect("an id")
}

/// Headless Chromium with its own profile (removed at the end), trusting the demo
/// certificate by its key and resolving `localhost` to 127.0.0.1 only.
struct Browser {
    addr: SocketAddr,
    profile: PathBuf,
    spki: String,
}

impl Browser {
    fn new(addr: SocketAddr) -> Browser {
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-profile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        Browser {
            addr,
            profile,
            spki: spki_pin(&support::cert("server.crt")),
        }
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            // Root in a container has no user namespaces for the sandbox; the page is ours.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", self.profile.display()))
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            self.spki
        ))
        .arg("--host-resolver-rules=MAP localhost 127.0.0.1")
        .args(extra)
        .stdin(std::process::Stdio::null());
        cmd
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// The DOM after the page loaded (`--dump-dom`).
    fn dump_dom(&self, path: &str, extra: &[&str]) -> String {
        let mut cmd = self.command(extra);
        cmd.arg("--dump-dom").arg(self.url(path));
        let (status, p, _) = run("chromium", &mut cmd);
        let dom = p.stdout.text();
        assert!(
            status.success() && dom.contains("</html>"),
            "chromium --dump-dom {path}: {status}\nstderr: {}",
            p.stderr.text()
        );
        dom
    }

    /// A PNG of the top of the page.
    fn screenshot(&self, path: &str, to: &Path) {
        let _ = std::fs::remove_file(to);
        let mut cmd = self.command(&["--window-size=1000,1180"]);
        cmd.arg(format!("--screenshot={}", to.display()))
            .arg(self.url(path));
        let (status, p, _) = run("chromium", &mut cmd);
        assert!(
            status.success(),
            "chromium --screenshot: {status}\nstderr: {}",
            p.stderr.text()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What `--ignore-certificate-errors-spki-list` takes: the base64 SHA-256 of the
/// certificate's SubjectPublicKeyInfo (the seventh element of the TBSCertificate, or the
/// sixth without the optional version).
fn spki_pin(pem: &Path) -> String {
    let der = CertificateDer::from_pem_file(pem).expect("the certificate reads");
    let (certificate, _) = der_item(&der).expect("a Certificate");
    let (tbs, _) = der_item(certificate).expect("a TBSCertificate");
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = der_item(rest).expect("the version").1;
    }
    for _ in 0..5 {
        // serial, signature, issuer, validity, subject
        rest = der_item(rest).expect("a TBSCertificate field").1;
    }
    let (_, after) = der_item(rest).expect("the SubjectPublicKeyInfo");
    let spki = &rest[..rest.len() - after.len()];
    let provider = support::provider();
    let sha256 = provider
        .cipher_suites
        .iter()
        .find_map(|s| match s {
            rustls::SupportedCipherSuite::Tls13(t)
                if t.common.hash_provider.algorithm()
                    == rustls::crypto::hash::HashAlgorithm::SHA256 =>
            {
                Some(t.common.hash_provider)
            }
            _ => None,
        })
        .expect("a SHA-256 suite");
    base64(sha256.hash(spki).as_ref())
}

/// One DER element: (its contents, what follows it).
fn der_item(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = b.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |l, &x| (l << 8) | usize::from(x)),
            2 + n,
        )
    };
    let end = header.checked_add(len)?;
    Some((b.get(header..end)?, b.get(end..)?))
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn spki_pin_matches_openssl() {
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
    if skip_unless_installed("openssl") {
        return;
    }
    for name in ["server.crt", "server-rsa.crt"] {
        let pipeline = format!(
            "openssl x509 -in certs/{name} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A"
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &pipeline])
            .current_dir(support::repo_root())
            .stdin(std::process::Stdio::null());
        let (status, p, _) = run("openssl", &mut cmd);
        assert!(status.success(), "{}", p.stderr.text());
        assert_eq!(
            spki_pin(&support::cert(name)),
            p.stdout.text().trim(),
            "{name}"
        );
    }
}
