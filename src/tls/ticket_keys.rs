//! `--ticket-keys FILE`: session-ticket keys shared by several server instances (what
//! Node.js calls `ticketKeys`), so that a client given a ticket by one instance behind a
//! load balancer can resume its session on another.
//!
//! rustls's own ticketer makes random keys in each process, which no other process can
//! read. This one takes its keys from a file that every instance is given a copy of.
//!
//! # The file
//!
//! UTF-8 text with one key per line: 64 hex digits (32 bytes), made with
//! `openssl rand -hex 32`. Blank lines are ignored, `#` starts a comment that runs to the
//! end of the line, and spaces around a key do not matter:
//!
//! ```text
//! # session-ticket keys: the first one encrypts, all of them decrypt
//! 6f1d0c...64 hex digits...9a   # added 2024-06-01
//! 0b7e42...64 hex digits...e3   # previous key, delete after 2024-06-01 18:00
//! ```
//!
//! The **first** key encrypts every new ticket; **every** key in the file can decrypt one,
//! which is what makes rotation possible. At most [`MAX_KEYS`] keys. (The format is ours:
//! Node's 48-byte `ticketKeys` buffer cannot be used here.)
//!
//! Each ticket is `key id (16 bytes) || nonce (12 random bytes) || AES-256-GCM ciphertext
//! and tag`, with the key id as additional authenticated data. The key id is a SHA-256 of a
//! fixed label and the key, so it names the key without revealing it.
//!
//! # Rotating keys across several instances
//!
//! Instances are never all reloaded at the same instant, so a new key must be known
//! everywhere before anyone encrypts with it, and an old key must stay until every ticket
//! made with it has expired:
//!
//! 1. Add the new key as the **second** line of the file on every instance, and reload them
//!    all. Nothing changes yet, but every instance can now decrypt with the new key.
//! 2. Move the new key to the **first** line everywhere, and reload. New tickets use it;
//!    tickets made with the old key still decrypt.
//! 3. After the ticket lifetime — 6 hours — has passed since step 2 finished everywhere,
//!    delete the old key's line and reload.
//!
//! Rotate regularly (daily, say): a ticket key is not forward secret. Whoever obtains it
//! can decrypt every ticket it ever made, and with it the session secrets of those
//! connections, including recorded ones.
//!
//! # Keep the file private
//!
//! For that same reason the file must be readable only by the server's user
//! (`chmod 600`); [`permission_warning`] says when it is not. Copy it between machines
//! over a secure channel, keep it out of version control, and never log it.

use std::fmt;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as crypto;
#[cfg(not(feature = "aws-lc-rs"))]
use ring as crypto;

use crypto::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use crypto::digest;
use crypto::rand::{SecureRandom, SystemRandom};

use crate::error::Error;

/// The most keys a file may hold: one encrypting, the rest still decrypting.
pub(crate) const MAX_KEYS: usize = 16;

/// Bytes in a key, and hex digits on its line.
const KEY_LEN: usize = 32;
const KEY_HEX_LEN: usize = 2 * KEY_LEN;

/// Bytes of the key id that starts each ticket.
const ID_LEN: usize = 16;

/// Bytes of the AES-GCM tag at the end of each ticket.
const TAG_LEN: usize = 16;

/// Hashed before the key to make its id, so the id is of no use for anything else.
const ID_LABEL: &[u8] = b"tls-server session-ticket key id v1\0";

/// Lifetime hint given to clients, in seconds; the same as rustls's rotating ticketer.
const LIFETIME_SECS: u32 = 6 * 60 * 60;

/// The shape of the file, for error messages.
const EXPECTED: &str =
    "expected one key per line as 64 hex digits (32 bytes), made with `openssl rand -hex 32`";

/// One key: its public id and the AEAD key itself.
struct Key {
    id: [u8; ID_LEN],
    aead: LessSafeKey,
}

/// Session-ticket keys loaded from a file shared by every instance: the first key encrypts,
/// all of them decrypt. Its `Debug` shows key ids only, never keys.
pub(crate) struct TicketKeys {
    source: PathBuf,
    /// Never empty; `keys[0]` encrypts.
    keys: Vec<Key>,
    rng: SystemRandom,
}

/// Reads and checks a key file, or explains in one sentence what is wrong with it.
///
/// Call [`permission_warning`] too, and log what it returns.
pub(crate) fn load(path: &Path) -> Result<Arc<TicketKeys>, Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::credential(
            path,
            format!("cannot read the session-ticket key file: {e}"),
            "create it with `openssl rand -hex 32 > FILE && chmod 600 FILE` and give every server instance the same file",
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::credential(
            path,
            "the session-ticket key file is not UTF-8 text",
            EXPECTED,
        )
    })?;
    from_text(path, &text).map(Arc::new)
}

/// Parses the text of a key file; `label` names it in error messages and the description.
pub(crate) fn from_text(label: &Path, text: &str) -> Result<TicketKeys, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let fail = |problem: String, fix: &str| Error::credential(label, problem, fix);
    // (line number, key bytes), in file order.
    let mut found: Vec<(usize, [u8; KEY_LEN])> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let content = match line.find('#') {
            Some(at) => &line[..at],
            None => line,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        let key =
            parse_key(content).map_err(|(why, fix)| fail(format!("line {number} {why}"), &fix))?;
        if let Some((first, _)) = found.iter().find(|(_, k)| *k == key) {
            return Err(fail(
                format!("line {number} repeats the key on line {first}"),
                "delete one of the two lines",
            ));
        }
        if found.len() == MAX_KEYS {
            return Err(fail(
                format!(
                    "line {number} holds key number {}, but at most {MAX_KEYS} are allowed",
                    MAX_KEYS + 1
                ),
                "delete the oldest keys (the last lines) once their tickets have expired",
            ));
        }
        found.push((number, key));
    }
    if found.is_empty() {
        return Err(fail(
            "the session-ticket key file holds no key".into(),
            &format!("{EXPECTED}; the first key encrypts new tickets"),
        ));
    }
    let keys = found
        .iter()
        .map(|(number, bytes)| {
            let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| {
                fail(
                    format!(
                        "line {number}: the crypto library refused the key as an AES-256-GCM key"
                    ),
                    "replace it with the output of `openssl rand -hex 32`",
                )
            })?;
            Ok(Key {
                id: key_id(bytes),
                aead: LessSafeKey::new(unbound),
            })
        })
        .collect::<Result<Vec<Key>, Error>>()?;
    Ok(TicketKeys {
        source: label.to_path_buf(),
        keys,
        rng: SystemRandom::new(),
    })
}

/// Decodes one key line (already trimmed, comment removed). The error is (problem, fix);
/// the problem completes the sentence "line N ..." and neither contains the line itself.
fn parse_key(content: &str) -> Result<[u8; KEY_LEN], (String, String)> {
    let chars = content.chars().count();
    if content.contains(char::is_whitespace) {
        return Err((
            format!("has spaces inside its {chars} characters"),
            "put each key on a line of its own, as 64 hex digits; comments start with #".into(),
        ));
    }
    if chars != KEY_HEX_LEN {
        let hint = if content.starts_with("0x") || content.starts_with("0X") {
            "remove the 0x prefix"
        } else if chars < KEY_HEX_LEN {
            "the key looks cut short; generate a new one with `openssl rand -hex 32`"
        } else {
            "generate a key with `openssl rand -hex 32`"
        };
        return Err((
            format!("is not a key: it has {chars} characters, {EXPECTED}"),
            hint.into(),
        ));
    }
    let mut key = [0u8; KEY_LEN];
    let digits = content.as_bytes();
    for (i, byte) in key.iter_mut().enumerate() {
        let pair = (hex_value(digits[2 * i]), hex_value(digits[2 * i + 1]));
        match pair {
            (Some(high), Some(low)) => *byte = (high << 4) | low,
            (high, _) => {
                let column = 2 * i + if high.is_some() { 2 } else { 1 };
                return Err((
                    format!(
                        "is not a key: character {column} of its {chars} is not a hex digit (0-9, a-f)"
                    ),
                    EXPECTED.into(),
                ));
            }
        }
    }
    Ok(key)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The first 16 bytes of SHA-256(label || key): names the key in tickets without revealing it.
fn key_id(key: &[u8; KEY_LEN]) -> [u8; ID_LEN] {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(ID_LABEL);
    context.update(key);
    let digest = context.finish();
    let mut id = [0u8; ID_LEN];
    id.copy_from_slice(&digest.as_ref()[..ID_LEN]);
    id
}

/// A warning to log when the key file can be read by group or others (unix permissions),
/// or `None` when it is private (or cannot be inspected: [`load`] reports that).
pub(crate) fn permission_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o044 == 0 {
        return None;
    }
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => "its group and all other users",
        (true, false) => "its group",
        _ => "all other users",
    };
    Some(format!(
        "session-ticket key file {} is readable by {who} (mode {:03o}): anyone who can read it can decrypt session tickets and the session secrets in them — run `chmod 600 {}`",
        path.display(),
        mode & 0o777,
        path.display()
    ))
}

impl TicketKeys {
    /// How many keys the file held (1 to [`MAX_KEYS`]).
    #[cfg(test)]
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// A short description for logs, without secrets:
    /// `3 keys from /etc/tls/ticket.keys (encrypting with key id 1a2b3c4d…)`.
    pub(crate) fn description(&self) -> String {
        let count = self.keys.len();
        format!(
            "{count} key{} from {} (encrypting with key id {}…)",
            if count == 1 { "" } else { "s" },
            self.source.display(),
            self.short_id(0)
        )
    }

    /// The first 4 bytes of key `index`'s id, in hex.
    fn short_id(&self, index: usize) -> String {
        let mut out = String::with_capacity(8);
        for b in &self.keys[index].id[..4] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = (0..self.keys.len()).map(|i| self.short_id(i)).collect();
        f.debug_struct("TicketKeys")
            .field("source", &self.source)
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl rustls::server::ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME_SECS
    }

    /// `key id || nonce || AES-256-GCM(plain) || tag`, under the first key. `None` (no
    /// ticket is sent, the connection goes on) if no random nonce could be had.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut ticket = Vec::with_capacity(ID_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        ticket.extend_from_slice(&key.id);
        ticket.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.id),
                &mut sealed,
            )
            .ok()?;
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    /// The ticket comes from the client: anything short, unknown or altered gives `None`.
    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < ID_LEN + NONCE_LEN + TAG_LEN {
            return None;
        }
        let (id, rest) = ticket.split_at(ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        // Ids are public; the AEAD is the real check. Trying every key with this id also
        // copes with the (astronomically unlikely) case of two keys sharing one.
        for key in self.keys.iter().filter(|k| k.id[..] == *id) {
            let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
            let mut buf = sealed.to_vec();
            if let Ok(plain) = key.aead.open_in_place(nonce, Aad::from(id), &mut buf) {
                let len = plain.len();
                buf.truncate(len);
                return Some(buf);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
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
}
