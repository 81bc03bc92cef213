//! SIGHUP reloads `tls-server serve`'s certificate files; a broken file keeps the old
//! certificate. Reloading in the library is tested in tests/reload.rs.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use support::process::{installed, send_signal, start_serve};
use support::{cert, connect, leaf_der, Client};
use tls_server::tls::SecureContext;

fn leaf_seen(client: &Client) -> Vec<u8> {
    client.conn.peer_certificates().expect("a certificate")[0].to_vec()
}

fn copy(from: &str, to: &Path) {
    std::fs::copy(cert(from), to).unwrap();
}

/// SIGHUP makes the CLI reload the same files; a broken file keeps the old certificate.
#[test]
fn sighup_reloads_the_cli_and_a_broken_file_keeps_the_old_certificate() {
    if !installed("kill") {
        eprintln!("skipped: no kill command");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tls-server-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (crt, key): (PathBuf, PathBuf) = (dir.join("server.crt"), dir.join("server.key"));
    copy("server.crt", &crt);
    copy("server.key", &key);
    let (mut server, addr) = start_serve(&[
        "--cert",
        crt.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let before = connect(addr);
    assert_eq!(leaf_seen(&before), leaf_der("server.crt"));

    let hup = |pid: u32| send_signal("HUP", pid);
    copy("sni/next.crt", &crt);
    copy("sni/next.key", &key);
    hup(server.pid());
    let line = server
        .stdout
        .wait_for("reloaded", |l| l.contains("\"event\":\"reloaded\""));
    let next = SecureContext::from_files(cert("sni/next.crt"), cert("sni/next.key")).unwrap();
    assert!(line.contains(&next.certificate().fingerprint256), "{line}");
    assert_eq!(leaf_seen(&connect(addr)), leaf_der("sni/next.crt"));

    std::fs::write(&crt, b"not a certificate\n").unwrap();
    hup(server.pid());
    let line = server
        .stdout
        .wait_for("reloadFailed", |l| l.contains("\"event\":\"reloadFailed\""));
    assert!(line.contains("server.crt"), "{line}");
    server
        .stderr
        .wait_for("the refusal logged", |l| l.contains("reload refused"));
    assert_eq!(leaf_seen(&connect(addr)), leaf_der("sni/next.crt"));
    drop(before);
    let _ = std::fs::remove_dir_all(&dir);
}
