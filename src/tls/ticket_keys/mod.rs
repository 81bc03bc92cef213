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
mod tests;
