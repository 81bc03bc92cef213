//! Session resumption is on by default (tickets and the session cache): a client that
//! connects again resumes, and the socket says so.

mod support;

use std::io::Read;

use support::*;
use tls_server::{rustls, Event, Events};

/// Connects with `config`, reads the server's tickets, closes cleanly; returns `resumed`
/// from the server's view and from the client's.
fn visit(
    events: &Events,
    addr: std::net::SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> (bool, bool) {
    let mut client = connect_with(addr, config);
    let server_says = wait_for(events, "secureConnection", |e| match e {
        Event::SecureConnection(s) => Some(s.resumed()),
        _ => None,
    });
    // Echo a byte so the tickets the server sent after its handshake have been read.
    let back = std::thread::scope(|scope| {
        let echo = scope.spawn(|| {
            wait_for(events, "data", |e| match e {
                Event::Data { socket, data } => {
                    socket.write(data);
                    Some(())
                }
                _ => None,
            })
        });
        let back = echo_roundtrip(&mut client, b"x");
        echo.join().unwrap();
        back
    });
    assert_eq!(back, b"x");
    let client_says = client.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    client.conn.send_close_notify();
    let _ = std::io::Write::flush(&mut client);
    // Dropping the End event is what makes the server end its side.
    wait_for(events, "end", |e| {
        matches!(e, Event::End { .. }).then_some(())
    });
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    wait_for(events, "close", |e| {
        matches!(e, Event::Close { .. }).then_some(())
    });
    (server_says, client_says)
}

#[test]
fn a_second_connection_resumes_with_tls13_and_tls12() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (_server, events, addr) = start(options());
        let config = client_config_with(versions);
        assert_eq!(
            visit(&events, addr, config.clone()),
            (false, false),
            "{versions:?}: first is full"
        );
        assert_eq!(
            visit(&events, addr, config),
            (true, true),
            "{versions:?}: second resumes"
        );
    }
}

#[test]
fn resumption_can_be_turned_off() {
    let (_server, events, addr) = start(options().session_tickets(false).session_cache_size(0));
    let config = client_config();
    visit(&events, addr, config.clone());
    assert_eq!(visit(&events, addr, config), (false, false));
}

#[test]
fn tickets_alone_resume_without_a_server_side_cache() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (_server, events, addr) = start(options().session_cache_size(0));
        let config = client_config_with(versions);
        visit(&events, addr, config.clone());
        assert_eq!(visit(&events, addr, config), (true, true), "{versions:?}");
    }
}

/// Writes a ticket-key file with `keys` (64 hex digits each), mode 0600.
fn key_file(name: &str, keys: &[&str]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("tls-server-{}-{name}.keys", std::process::id()));
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    std::fs::write(&path, format!("# ticket keys for the test {name}\n{text}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

const K1: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const K2: &str = "a5a5a5a55a5a5a5a0123456789abcdeffedcba98765432100f0f0f0ff0f0f0f0";

/// Behind a load balancer: a ticket from instance A resumes on instance B when both read
/// the same key file (no server-side cache, so only the ticket can do it).
#[test]
fn a_shared_ticket_key_file_resumes_on_another_instance() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let keys = key_file("shared", &[K1]);
        let instance = || start(options().session_cache_size(0).ticket_keys_file(&keys));
        let (_a, events_a, addr_a) = instance();
        let (_b, events_b, addr_b) = instance();
        let config = client_config_with(versions);
        assert_eq!(visit(&events_a, addr_a, config.clone()), (false, false));
        assert_eq!(
            visit(&events_b, addr_b, config),
            (true, true),
            "{versions:?}: A's ticket resumes on B"
        );
        // Without the shared file, B cannot read A's tickets.
        let (_c, events_c, addr_c) = start(options().session_cache_size(0));
        let config = client_config_with(versions);
        visit(&events_a, addr_a, config.clone());
        assert_eq!(visit(&events_c, addr_c, config), (false, false));
        let _ = std::fs::remove_file(keys);
    }
}

/// Rotation: a new key on top encrypts; the old one, still listed, decrypts older tickets.
#[test]
fn rotated_keys_still_accept_tickets_from_the_old_key() {
    let old = key_file("old", &[K1]);
    let rotated = key_file("rotated", &[K2, K1]);
    let only_new = key_file("only-new", &[K2]);
    let config = client_config_with(&[&rustls::version::TLS13]);
    let (_a, events_a, addr_a) = start(options().session_cache_size(0).ticket_keys_file(&old));
    visit(&events_a, addr_a, config.clone());
    let (_b, events_b, addr_b) = start(options().session_cache_size(0).ticket_keys_file(&rotated));
    assert_eq!(visit(&events_b, addr_b, config.clone()), (true, true));
    // B issued its new tickets with K2; a server that knows only K1 cannot read them...
    assert_eq!(visit(&events_a, addr_a, config.clone()), (false, false));
    // ...and one that knows only K2 cannot read A's fresh K1 tickets.
    let (_c, events_c, addr_c) = start(options().session_cache_size(0).ticket_keys_file(&only_new));
    assert_eq!(visit(&events_c, addr_c, config), (false, false));
    for f in [old, rotated, only_new] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn a_bad_ticket_key_file_stops_the_server_with_the_line_and_the_fix() {
    let bad = key_file("bad", &["not-hex"]);
    let e = tls_server::Server::bind(options().ticket_keys_file(&bad))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains(&bad.display().to_string()), "{e}");
    assert!(
        e.contains("line 2") && e.contains("openssl rand -hex 32"),
        "{e}"
    );
    let _ = std::fs::remove_file(bad);
}

/// `openssl s_client -reconnect` connects six times with the same session: "Reused".
/// TLS 1.2 only: OpenSSL 3.0's s_client takes the session for `-reconnect` before TLS 1.3
/// tickets arrive, so it prints "New" six times even against `openssl s_server`.
#[test]
fn openssl_reconnect_reports_reused() {
    if !support::process::installed("openssl") {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let server = tls_server::Server::bind_streams(options(), |_s| {}).unwrap();
    let addr = server.local_addr();
    {
        let version = "-tls1_2";
        let (_, out, _) = support::process::run(
            "openssl s_client -reconnect",
            std::process::Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &addr.to_string(),
                    "-reconnect",
                    version,
                ])
                .arg("-CAfile")
                .arg(cert("ca.crt"))
                .stdin(std::process::Stdio::null()),
        );
        let text = out.stdout.text();
        let reused = text.lines().filter(|l| l.starts_with("Reused")).count();
        assert!(reused >= 4, "{version}: {reused} reused\n{text}");
    }
}
