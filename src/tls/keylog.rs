//! `--keylog FILE` / `SSLKEYLOGFILE`: the NSS key-log format that Wireshark reads to
//! decrypt a capture (File → Preferences → Protocols → TLS → (Pre)-Master-Secret log).
//!
//! Anyone holding this file can read every connection it covers, so it is created
//! readable by its owner only, and the server warns at startup.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;

/// Appends one line per secret: `LABEL CLIENT_RANDOM_HEX SECRET_HEX`.
pub(crate) struct KeyLogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl KeyLogFile {
    pub(crate) fn create(path: &Path) -> Result<KeyLogFile, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                Error::credential(
                    path,
                    format!("cannot open the key-log file for writing: {e}"),
                    "choose a writable path",
                )
            })?;
        log::warn!(
            "writing TLS secrets to {} (key log): anyone with this file can decrypt the traffic — use it for debugging only, then delete it",
            path.display()
        );
        // A new file is created 0600; one that already existed keeps its mode.
        if let Ok(meta) = file.metadata() {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                log::warn!(
                    "{}: mode {mode:04o}: the key log is readable by other users — chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
        }
        Ok(KeyLogFile {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }
}

impl std::fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyLogFile({})", self.path.display())
    }
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line =
            String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
        line.push_str(label);
        line.push(' ');
        for b in client_random {
            let _ = write!(line, "{b:02x}");
        }
        line.push(' ');
        for b in secret {
            let _ = write!(line, "{b:02x}");
        }
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            log::warn!("key log {}: {e}", self.path.display());
        }
    }
}
