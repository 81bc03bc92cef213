//! `--keylog` / `key_log_file`: the server writes NSS key-log lines that match what the
//! client itself derived, into a file only its owner can read.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use support::*;
use tls_server::{rustls, Event};

/// A client-side key log, to compare with the server's file.
#[derive(Debug, Default)]
struct Captured(Mutex<Vec<String>>);

impl rustls::KeyLog for Captured {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        self.0
            .lock()
            .unwrap()
            .push(format!("{label} {} {}", hex(client_random), hex(secret)));
    }
}

#[test]
fn key_log_lines_match_the_clients_secrets_for_tls13_and_tls12() {
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let path = std::env::temp_dir().join(format!(
            "tls-server-keylog-{}-{}.txt",
            std::process::id(),
            versions[0].version.as_str().unwrap_or("v")
        ));
        let _ = std::fs::remove_file(&path);
        let (server, events, addr) = start(options().key_log_file(&path));
        let captured = Arc::new(Captured::default());
        let mut config = (*client_config_with(versions)).clone();
        config.key_log = captured.clone();
        let mut client = connect_with(addr, Arc::new(config));
        let socket = wait_for(&events, "secureConnection", |e| match e {
            Event::SecureConnection(s) => Some(s.clone()),
            _ => None,
        });
        socket.write(b"k");
        let mut one = [0u8; 1];
        std::io::Read::read_exact(&mut client, &mut one).unwrap();
        drop(client);
        drop(server);

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key log must be private");
        let written = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let mut server_lines: Vec<&str> = written.lines().collect();
        let client_lines = captured.0.lock().unwrap().clone();
        let mut client_lines: Vec<&str> = client_lines.iter().map(String::as_str).collect();
        server_lines.sort_unstable();
        client_lines.sort_unstable();
        assert!(!server_lines.is_empty(), "{versions:?}: nothing logged");
        let expected_label = if versions[0] == &rustls::version::TLS13 {
            "CLIENT_TRAFFIC_SECRET_0"
        } else {
            "CLIENT_RANDOM"
        };
        assert!(
            server_lines.iter().any(|l| l.starts_with(expected_label)),
            "{versions:?}: {server_lines:?}"
        );
        // The same labels, client randoms and secrets as the client derived.
        for line in &client_lines {
            assert!(
                server_lines.contains(line),
                "{versions:?}: the server did not log {line}"
            );
        }
    }
}
