//! The handshake pages of `tls_server::https::pages`, driven by real rustls clients over
//! loopback: HTML for a browser's `Accept`, the JSON facts otherwise, Japanese labels,
//! escaping of what a hostile client sends, the failures page with real failed handshakes
//! (a TLS 1.2-only client, plain HTTP, a forbidden SNI) and its bound, and the ladders of
//! TLS 1.2 and of a HelloRetryRequest. Nothing sleeps: a failure is waited for on a
//! channel, every read has a timeout. (The browser test is cli/tests/https_page.rs.)

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use support::json::json;
use support::{client_config, client_config_with, connect_with, try_handshake, WAIT};
use tls_server::https::{self, Failures};
use tls_server::rustls;
use tls_server::{Event, Server, ServerOptions, TlsVersion};

/// A `--mode https`-like server on the library: `pages` answers, failed handshakes go into
/// `failures`, and each recorded failure's id comes on `failed`.
struct Site {
    _server: Server,
    addr: SocketAddr,
    failures: Failures,
    failed: Receiver<u64>,
}

impl Site {
    fn start(options: ServerOptions, failures: Failures) -> Site {
        let pages = failures.clone();
        let server = Server::bind_streams(options, move |mut stream| {
            let socket = stream.socket();
            let _ = https::serve(&mut stream, |r| https::pages(socket.info(), &pages, r));
        })
        .expect("server starts");
        let addr = server.local_addr();
        let events = server.events();
        let (tx, failed) = mpsc::channel();
        let kept = failures.clone();
        std::thread::spawn(move || {
            for event in events {
                match event {
                    Event::TlsClientError(e) if kept.record(&e) => {
                        let _ = tx.send(e.id);
                    }
                    Event::Closed => break,
                    _ => {}
                }
            }
        });
        Site {
            _server: server,
            addr,
            failures,
            failed,
        }
    }

    /// Waits for the next failure to be recorded.
    fn next_failure(&self) -> u64 {
        self.failed
            .recv_timeout(WAIT)
            .expect("a failed handshake recorded within WAIT")
    }

    /// `GET path` from a client offering ALPN http/1.1, as browsers and curl do.
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (String, String) {
        let mut config = (*client_config()).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        get(self.addr, Arc::new(config), path, headers)
    }
}

/// The demo options with the flights kept and HTTP/1.1 agreed by ALPN.
fn options() -> ServerOptions {
    support::options().keep_handshakes(true).alpn(&["http/1.1"])
}

const BROWSER: (&str, &str) = (
    "Accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
);

/// One request on a new connection (`Connection: close`): the head and the body.
fn get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    let mut client = connect_with(addr, config);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    client.write_all(request.as_bytes()).expect("write");
    client.flush().expect("flush");
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).expect("the whole answer");
    let answer = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_string(), body.to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The text of the facts table's row `name`.
fn fact<'a>(page: &'a str, name: &str) -> &'a str {
    let start = format!("<th scope=\"row\">{name}</th><td><code>");
    let at = page.find(&start).unwrap_or_else(|| panic!("no {name} row"));
    let rest = &page[at + start.len()..];
    &rest[..rest.find("</code>").expect("closed")]
}

/// A TLS 1.2-only client against a TLS 1.3-only server: refused, and recorded.
fn fail_with_tls12(site: &Site) -> u64 {
    let refused = try_handshake(site.addr, client_config_with(&[&rustls::version::TLS12]));
    assert!(refused.is_err(), "a TLS 1.2-only client is refused");
    site.next_failure()
}

#[test]
fn a_browser_gets_the_ladder_and_curl_keeps_the_json() {
    let site = Site::start(options(), Failures::default());
    let (head, page) = site.get("/", &[BROWSER]);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = header(&head, "content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<html lang=\"en\">"));
    assert!(
        !page.contains("<script") && !page.contains("src=\"http"),
        "self-contained"
    );
    // One arrow per flight: ClientHello; our flight; the client's Finished; the tickets.
    let flights: Vec<&str> = page
        .match_indices("<g class=\"flight\" data-from=\"")
        .map(|(at, m)| &page[at + m.len()..at + m.len() + 6])
        .collect();
    assert_eq!(flights, ["client", "server", "client", "server"], "{page}");
    for message in [
        "ClientHello — TLSv1.3/TLSv1.2 · SNI localhost · ALPN http/1.1",
        "EncryptedExtensions* — ALPN http/1.1",
        "Certificate* — CN=localhost ← CN=tls-server demo CA",
        "CertificateVerify* — proves the key · ECDSA P-256",
        "Finished*",
        "NewSessionTicket* — for resuming later",
        "on the wire: ServerHello",
        "server: ",
        "client: ",
        "✓ secure after ",
    ] {
        assert!(page.contains(message), "{message:?} in {page}");
    }
    // The suite in our ServerHello is the one the facts table (the JSON's fields) reports.
    let cipher = fact(&page, "cipher");
    assert!(cipher.starts_with("TLS_"), "{cipher}");
    assert!(
        page.contains(&format!("ServerHello — TLSv1.3 · {cipher} · ")),
        "{page}"
    );
    assert!(page.contains(&format!(
        "<code class=\"chosen\">{cipher}</code> <strong>← chosen</strong>"
    )));
    // The chain we sent, and the facts of the request.
    assert!(
        page.contains("<h3>#1 <code>CN=localhost</code> → <code>CN=tls-server demo CA</code></h3>")
    );
    assert_eq!(fact(&page, "request.path"), "/");

    // Without text/html: the JSON, as before; Accept: application/json too.
    for headers in [
        &[][..],
        &[("Accept", "*/*")],
        &[("Accept", "application/json")],
    ] {
        let (head, body) = site.get("/", headers);
        assert_eq!(
            header(&head, "content-type"),
            Some("application/json"),
            "{headers:?}"
        );
        assert_eq!(header(&head, "vary"), Some("Accept, Accept-Language"));
        let facts = json(body.trim_end());
        assert_eq!(facts.str("protocol"), "TLSv1.3");
        assert_eq!(facts.str("cipher"), cipher);
        assert_eq!(facts.str("alpn"), "http/1.1");
    }
    // ?format=json in a browser.
    let (head, _) = site.get("/?format=json", &[BROWSER]);
    assert_eq!(header(&head, "content-type"), Some("application/json"));
}

#[test]
fn japanese_labels_when_the_browser_asks_for_japanese() {
    let site = Site::start(options(), Failures::default());
    let ja = ("Accept-Language", "ja,en-US;q=0.9,en;q=0.8");
    let (_, page) = site.get("/", &[BROWSER, ja]);
    assert!(page.contains("<html lang=\"ja\">"));
    for label in [
        "あなたの TLS ハンドシェイク",
        "フライトごとのハンドシェイク",
        "クライアントが提示したもの",
        "サーバーが選んだもの",
        "で確立",
        "原因と対処の説明文は英語のままです",
    ] {
        assert!(page.contains(label), "{label:?} in {page}");
    }
    // Protocol names stay as the standards spell them.
    assert!(page.contains("ClientHello"));
    let (_, page) = site.get("/failures", &[BROWSER, ja]);
    assert!(page.contains("最近失敗したハンドシェイク"), "{page}");
    let (_, page) = site.get("/", &[BROWSER, ("Accept-Language", "en-GB,ja;q=0.5")]);
    assert!(page.contains("<html lang=\"en\">"));
}

const HOSTILE: &str = "<script>alert(\"sni\")</script>";

#[test]
fn what_a_hostile_client_sends_is_text_not_markup() {
    let site = Site::start(options(), Failures::default());
    // ALPN names are any bytes: offered on a handshake that succeeds (we agree on
    // http/1.1), they are listed on the page.
    let mut config = (*client_config()).clone();
    config.alpn_protocols = vec![
        b"<img src=x onerror=alert(1)>".to_vec(),
        b"http/1.1".to_vec(),
    ];
    let (_, page) = get(site.addr, Arc::new(config), "/", &[BROWSER]);
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(!page.contains("<img"), "{page}");

    // An SNI that is no host name: rustls refuses it (illegal_parameter), so it can only
    // show on the failures page. A rustls ClientHello with a name of the same length,
    // rewritten on its way out.
    let name = format!("{}.test", "a".repeat(HOSTILE.len() - 5));
    let mut conn = rustls::ClientConnection::new(
        client_config(),
        rustls::pki_types::ServerName::try_from(name.clone()).unwrap(),
    )
    .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let at = hello
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("the name is in the ClientHello");
    hello[at..at + name.len()].copy_from_slice(HOSTILE.as_bytes());
    let mut tcp = TcpStream::connect(site.addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(&hello).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer); // the alert, then the close
    site.next_failure();

    let (_, page) = site.get("/failures", &[BROWSER]);
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&quot;sni&quot;)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("IllegalParameter"), "{page}");
}

#[test]
fn the_failures_page_lists_real_failed_handshakes() {
    let site = Site::start(
        options().versions(&[TlsVersion::Tls13]),
        Failures::default(),
    );
    let (_, page) = site.get("/failures", &[BROWSER]);
    assert!(page.contains("id=\"no-failures\""), "{page}");

    let tls12 = fail_with_tls12(&site);
    // Plain HTTP on the TLS port.
    let mut tcp = TcpStream::connect(site.addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let plain = site.next_failure();

    let (_, page) = site.get("/failures", &[BROWSER]);
    let first = page
        .find(&format!("id=\"failure-{plain}\""))
        .expect("the plain HTTP client");
    let second = page
        .find(&format!("id=\"failure-{tls12}\""))
        .expect("the TLS 1.2 client");
    assert!(first < second, "newest first");
    let article = &page[second..];
    assert!(
        article.contains("data-cause=\"protocol-version\""),
        "{article}"
    );
    for text in [
        "What happened",
        "What to do",
        "no protocol version in common",
        "ClientHello — TLSv1.2",
        "Alert — ProtocolVersion",
        "failed after ",
    ] {
        assert!(article.contains(text), "{text:?} in {article}");
    }
    let article = &page[first..second];
    assert!(article.contains("data-cause=\"not-tls\""), "{article}");
    assert!(
        article.contains("not TLS — &quot;GET /plain HTTP/1.1"),
        "{article}"
    );

    // Without text/html: the same list as JSON.
    let (head, body) = site.get("/failures", &[]);
    assert_eq!(header(&head, "content-type"), Some("application/json"));
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let causes: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["not-tls", "protocol-version"]);
}

#[test]
fn the_failures_list_is_bounded() {
    let site = Site::start(options().versions(&[TlsVersion::Tls13]), Failures::new(3));
    let ids: Vec<u64> = (0..5).map(|_| fail_with_tls12(&site)).collect();
    assert_eq!(site.failures.len(), 3);
    assert_eq!(site.failures.recorded(), 5);
    let (_, page) = site.get("/failures", &[BROWSER]);
    let shown: Vec<u64> = page
        .match_indices("<article class=\"failure\" id=\"failure-")
        .map(|(at, m)| {
            let rest = &page[at + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(
        shown,
        [ids[4], ids[3], ids[2]],
        "the newest three, newest first"
    );
    assert!(page.contains("Only the last 3 are kept"), "{page}");
}

#[test]
fn a_resumed_session_sends_no_certificate() {
    let site = Site::start(options(), Failures::default());
    // One client configuration: its ticket from the first connection resumes the second.
    let mut config = (*client_config()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let (_, first) = get(site.addr, config.clone(), "/", &[BROWSER]);
    assert!(first.contains("NewSessionTicket*"), "{first}");
    let (_, page) = get(site.addr, config, "/", &[BROWSER]);
    assert_eq!(fact(&page, "resumed"), "true", "{page}");
    assert!(
        page.contains("EncryptedExtensions* — ALPN http/1.1"),
        "{page}"
    );
    assert!(
        !page.contains("Certificate* —"),
        "no certificate on resumption: {page}"
    );
    assert!(
        page.contains("No certificate was sent in this handshake: the session was resumed"),
        "{page}"
    );
}

#[test]
fn a_tls12_handshake_is_read_off_the_wire() {
    let site = Site::start(
        options().versions(&[TlsVersion::Tls12]),
        Failures::default(),
    );
    let (_, page) = get(
        site.addr,
        client_config_with(&[&rustls::version::TLS12]),
        "/",
        &[BROWSER],
    );
    for message in [
        "ServerHello — TLSv1.2 · TLS_ECDHE_ECDSA_WITH_",
        "Certificate — CN=localhost ← CN=tls-server demo CA",
        "ServerKeyExchange — ",
        "ServerHelloDone",
        "ClientKeyExchange",
        "ChangeCipherSpec — encryption starts",
        "Finished*",
    ] {
        assert!(page.contains(message), "{message:?} in {page}");
    }
}

#[test]
fn a_hello_retry_request_gets_its_own_arrows() {
    // rustls sends key shares for its first groups only; a server that takes only
    // secp384r1 has to ask again.
    let site = Site::start(options().kx_groups(&["secp384r1"]), Failures::default());
    let (_, page) = site.get("/", &[BROWSER]);
    assert!(
        page.contains("HelloRetryRequest — asks again, for a key share for secp384r1"),
        "{page}"
    );
    assert!(
        page.contains("ClientHello — again, with a key share for secp384r1"),
        "{page}"
    );
    let flights = page.matches("<g class=\"flight\"").count();
    assert_eq!(flights, 6, "{page}");
}

#[test]
fn without_kept_handshakes_the_page_says_what_it_cannot_show() {
    let site = Site::start(support::options().alpn(&["http/1.1"]), Failures::default());
    let (_, page) = site.get("/", &[BROWSER]);
    assert!(page.contains("were not recorded"), "{page}");
    assert!(page.contains("ServerHello — TLSv1.3"), "{page}");
    assert!(!page.contains("on the wire:"), "{page}");
    assert!(
        page.contains("The ClientHello was not recorded or could not be read whole."),
        "{page}"
    );
}
