//! The ticket-key file: parsing, rotation, tampering, permissions.

use super::*;
use rustls::server::ProducesTickets;
use std::sync::atomic::{AtomicUsize, Ordering};

const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0ffedcba98765432100123456789abcdef";
const K3: &str = "5555555555555555555555555555555555555555555555555555555555555555";
const PLAIN: &[u8] = b"session state: master secret, suite, sni, alpn...";

fn keys(text: &str) -> TicketKeys {
    from_text(Path::new("test.keys"), text).expect("valid key text")
}

fn error(text: &str) -> String {
    from_text(Path::new("test.keys"), text)
        .expect_err("invalid key text")
        .to_string()
}

/// No message may contain any key, in either case.
fn assert_no_secret(message: &str) {
    for k in [K1, K2, K3] {
        assert!(!message.to_lowercase().contains(k), "{message}");
        assert!(!message.contains(&k[..20]), "{message}");
    }
}

/// A file of its own in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tls-server-ticket-keys-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn round_trip() {
    let t = keys(K1);
    assert!(t.enabled());
    assert_eq!(t.lifetime(), 6 * 60 * 60);
    let ticket = t.encrypt(PLAIN).unwrap();
    assert_eq!(ticket.len(), ID_LEN + NONCE_LEN + PLAIN.len() + TAG_LEN);
    assert_eq!(t.decrypt(&ticket).unwrap(), PLAIN);
    let empty = t.encrypt(b"").unwrap();
    assert_eq!(t.decrypt(&empty).unwrap(), b"");
}

#[test]
fn rotation_decrypts_with_any_key_in_the_file() {
    let old = keys(K1);
    let ticket = old.encrypt(PLAIN).unwrap();
    // Step 1: the new key is second; step 2: it is first. Both still read old tickets.
    assert_eq!(
        keys(&format!("{K1}\n{K2}\n")).decrypt(&ticket).unwrap(),
        PLAIN
    );
    let rotated = keys(&format!("{K2}\n{K1}\n"));
    assert_eq!(rotated.decrypt(&ticket).unwrap(), PLAIN);
    // Step 3: the old key is gone.
    assert_eq!(keys(K2).decrypt(&ticket), None);
    // New tickets use the first key.
    let fresh = rotated.encrypt(PLAIN).unwrap();
    assert_eq!(keys(K2).decrypt(&fresh).unwrap(), PLAIN);
    assert_eq!(old.decrypt(&fresh), None);
}

#[test]
fn independently_loaded_instances_share_tickets() {
    let text = format!("{K1}\n{K2}\n");
    let file = TempFile::new(text.as_bytes());
    let a = load(&file.0).unwrap();
    let b = load(&file.0).unwrap();
    let c = keys(&text);
    let from_a = a.encrypt(PLAIN).unwrap();
    let from_b = b.encrypt(PLAIN).unwrap();
    assert_eq!(b.decrypt(&from_a).unwrap(), PLAIN);
    assert_eq!(a.decrypt(&from_b).unwrap(), PLAIN);
    assert_eq!(c.decrypt(&from_a).unwrap(), PLAIN);
    // As rustls will hold it.
    let dynamic: Arc<dyn ProducesTickets> = a;
    assert_eq!(dynamic.decrypt(&from_b).unwrap(), PLAIN);
}

#[test]
fn same_plaintext_encrypts_differently() {
    let t = keys(K1);
    let one = t.encrypt(PLAIN).unwrap();
    let two = t.encrypt(PLAIN).unwrap();
    assert_ne!(one, two);
    assert_eq!(one[..ID_LEN], two[..ID_LEN]);
    assert_ne!(
        one[ID_LEN..ID_LEN + NONCE_LEN],
        two[ID_LEN..ID_LEN + NONCE_LEN]
    );
}

#[test]
fn tampered_tickets_are_refused() {
    let t = keys(&format!("{K1}\n{K2}"));
    let ticket = t.encrypt(PLAIN).unwrap();
    for i in 0..ticket.len() {
        for bit in [0x01, 0x80] {
            let mut bad = ticket.clone();
            bad[i] ^= bit;
            assert_eq!(t.decrypt(&bad), None, "byte {i} flipped");
        }
    }
    let mut longer = ticket.clone();
    longer.push(0);
    assert_eq!(t.decrypt(&longer), None);
    // Another key's id with this key's ciphertext: the AAD does not match.
    let mut swapped = ticket.clone();
    swapped[..ID_LEN].copy_from_slice(&keys(K2).keys[0].id);
    assert_eq!(t.decrypt(&swapped), None);
}

#[test]
fn truncated_and_garbage_tickets_are_refused() {
    let t = keys(K1);
    let ticket = t.encrypt(PLAIN).unwrap();
    for len in 0..ticket.len() {
        assert_eq!(t.decrypt(&ticket[..len]), None, "length {len}");
    }
    let zeros = [0u8; 100];
    for len in 0..=40 {
        assert_eq!(t.decrypt(&zeros[..len]), None, "zeros of length {len}");
    }
    // Random garbage, including garbage that starts with the right key id.
    let rng = SystemRandom::new();
    for len in [0, 1, 15, 16, 27, 28, 43, 44, 45, 100, 1000, 70_000] {
        for _ in 0..8 {
            let mut garbage = vec![0u8; len];
            rng.fill(&mut garbage).unwrap();
            assert_eq!(t.decrypt(&garbage), None);
            if len >= ID_LEN {
                garbage[..ID_LEN].copy_from_slice(&t.keys[0].id);
                assert_eq!(t.decrypt(&garbage), None);
            }
        }
    }
}

#[test]
fn comments_blank_lines_crlf_and_case_are_accepted() {
    let text = format!(
        "\u{feff}# ticket keys\r\n\r\n   {K1}   # newest\r\n\t\r\n# old:\r\n{}\r\n",
        K2.to_uppercase()
    );
    let t = keys(&text);
    assert_eq!(t.key_count(), 2);
    let ticket = keys(K1).encrypt(PLAIN).unwrap();
    assert_eq!(t.decrypt(&ticket).unwrap(), PLAIN);
    let ticket = keys(K2).encrypt(PLAIN).unwrap();
    assert_eq!(t.decrypt(&ticket).unwrap(), PLAIN);
    // Encrypts with the first key.
    assert_eq!(keys(K1).decrypt(&t.encrypt(PLAIN).unwrap()).unwrap(), PLAIN);
}

#[test]
fn description_and_debug_name_ids_not_keys() {
    let t = keys(&format!("{K1}\n{K2}\n{K3}\n"));
    let d = t.description();
    assert!(
        d.starts_with("3 keys from test.keys (encrypting with key id "),
        "{d}"
    );
    assert!(d.ends_with("…)"), "{d}");
    assert!(d.contains(&t.short_id(0)), "{d}");
    assert_no_secret(&d);
    assert_eq!(
        keys(K1).description(),
        format!(
            "1 key from test.keys (encrypting with key id {}…)",
            keys(K1).short_id(0)
        )
    );
    let debug = format!("{t:?}");
    assert!(
        debug.contains("TicketKeys") && debug.contains(&t.short_id(2)),
        "{debug}"
    );
    assert_no_secret(&debug);
    // Ids depend on the key only, and differ between keys.
    assert_eq!(keys(K1).keys[0].id, t.keys[0].id);
    assert_ne!(t.keys[0].id, t.keys[1].id);
}

#[test]
fn wrong_length_line_is_explained_without_the_key() {
    let short = &K2[..63];
    let e = error(&format!("# keys\n{K1}\n{short}\n"));
    assert!(e.starts_with("test.keys: line 3 "), "{e}");
    assert!(e.contains("63 characters"), "{e}");
    assert!(
        e.contains("64 hex digits") && e.contains("openssl rand -hex 32"),
        "{e}"
    );
    assert_no_secret(&e);
    assert!(!e.contains(short), "{e}");

    let e = error(&format!("{K1}ff\n"));
    assert!(e.contains("line 1 ") && e.contains("66 characters"), "{e}");
    assert_no_secret(&e);

    let e = error(&format!("0x{K1}\n"));
    assert!(
        e.contains("line 1 ") && e.contains("remove the 0x prefix"),
        "{e}"
    );
    assert_no_secret(&e);

    let e = error(&format!("{K1} {K2}\n"));
    assert!(
        e.contains("line 1 ") && e.contains("line of its own"),
        "{e}"
    );
    assert_no_secret(&e);
}

#[test]
fn non_hex_line_is_explained_without_the_key() {
    let bad = format!("{}g{}", &K2[..16], &K2[17..]);
    let e = error(&format!("{K1}\n\n{bad}\n"));
    assert!(
        e.contains("line 3 ") && e.contains("character 17 of its 64"),
        "{e}"
    );
    assert!(
        e.contains("not a hex digit") && e.contains("openssl rand -hex 32"),
        "{e}"
    );
    assert_no_secret(&e);
    assert!(!e.contains(&bad[..20]), "{e}");
    let bad = format!("{}é{}", &K2[..3], &K2[5..]);
    let e = error(&bad);
    assert!(e.contains("line 1 ") && e.contains("63 characters"), "{e}");
    let bad = format!("{}Z", &K2[..63]);
    assert!(error(&bad).contains("character 64 of its 64"));
}

#[test]
fn duplicate_key_is_explained_without_the_key() {
    let e = error(&format!("{K1}\n{K2}\n# again\n{}\n", K1.to_uppercase()));
    assert!(e.contains("line 4 repeats the key on line 1"), "{e}");
    assert!(e.contains("delete one"), "{e}");
    assert_no_secret(&e);
}

#[test]
fn too_many_keys_is_explained() {
    let lines: Vec<String> = (0..=MAX_KEYS).map(|i| format!("{i:064x}")).collect();
    assert_eq!(keys(&lines[..MAX_KEYS].join("\n")).key_count(), MAX_KEYS);
    let e = error(&format!("# many\n{}", lines.join("\n")));
    assert!(e.contains("line 18 holds key number 17"), "{e}");
    assert!(
        e.contains("at most 16") && e.contains("delete the oldest"),
        "{e}"
    );
    for line in &lines {
        assert!(!e.contains(line.as_str()), "{e}");
    }
}

#[test]
fn empty_file_is_explained() {
    for text in ["", "\n\n", "# only a comment\n   \n"] {
        let e = error(text);
        assert!(e.starts_with("test.keys: "), "{e}");
        assert!(
            e.contains("holds no key") && e.contains("openssl rand -hex 32"),
            "{e}"
        );
    }
}

#[test]
fn missing_or_unreadable_file_is_explained() {
    let path = std::env::temp_dir().join("tls-server-ticket-keys-does-not-exist");
    let e = load(&path).unwrap_err().to_string();
    assert!(
        e.contains("does-not-exist") && e.contains("cannot read"),
        "{e}"
    );
    assert!(e.contains("openssl rand -hex 32"), "{e}");
    assert!(matches!(load(&path), Err(Error::Credential { .. })));

    let file = TempFile::new(b"\xff\xfe not text");
    let e = load(&file.0).unwrap_err().to_string();
    assert!(
        e.contains("not UTF-8 text") && e.contains("64 hex digits"),
        "{e}"
    );

    let file = TempFile::new(format!("{K1}\nnope\n").as_bytes());
    let e = load(&file.0).unwrap_err().to_string();
    assert!(e.starts_with(&file.0.display().to_string()), "{e}");
    assert!(e.contains("line 2 "), "{e}");
    assert_no_secret(&e);
}

#[test]
fn permissions_are_checked() {
    let file = TempFile::new(K1.as_bytes());
    assert_eq!(permission_warning(&file.0), None);
    for (mode, who) in [
        (0o644, "its group and all other users"),
        (0o640, "its group"),
        (0o604, "all other users"),
    ] {
        std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(mode)).unwrap();
        let w = permission_warning(&file.0).unwrap();
        assert!(
            w.contains(&format!("readable by {who} (mode {mode:03o})")),
            "{w}"
        );
        assert!(w.contains("chmod 600") && w.contains("decrypt"), "{w}");
    }
    let missing = std::env::temp_dir().join("tls-server-ticket-keys-no-such-file");
    assert_eq!(permission_warning(&missing), None);
}
