//! What the configuration-error tests share: binding and expecting an error, the checks
//! every message must pass, the deliberately bad files, temporary files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;
use tls_server::setting::Setting;
use tls_server::{Error, Server, ServerOptions};

/// Binds and expects an error; returns its message after the checks every message must pass.
pub fn bind_error(options: ServerOptions) -> (Error, String) {
    match Server::bind(options) {
        Ok(server) => panic!(
            "expected a configuration error, but the server started on {}",
            server.local_addr()
        ),
        Err(e) => {
            let msg = e.to_string();
            println!("error: {msg}");
            assert!(
                !msg.to_ascii_lowercase().contains("no items found"),
                "rustls's unhelpful message leaked: {msg}"
            );
            assert!(!msg.trim().is_empty());
            (e, msg)
        }
    }
}

/// Expects a credential error about `path` whose message contains every fragment.
pub fn expect_credential_error(options: ServerOptions, path: &Path, fragments: &[&str]) -> String {
    let (e, msg) = bind_error(options);
    match &e {
        Error::Credential {
            path: p,
            problem,
            fix,
        } => {
            assert_eq!(p, path, "error is about the wrong file: {msg}");
            assert!(!problem.is_empty());
            assert!(
                !fix.is_empty(),
                "every credential error says what to do: {msg}"
            );
            assert_eq!(e.fix(), fix);
        }
        other => panic!(
            "expected Error::Credential for {}, got {other:?}",
            path.display()
        ),
    }
    assert!(
        msg.starts_with(&path.display().to_string()),
        "the message should start with the file name {}: {msg}",
        path.display()
    );
    assert_contains(&msg, fragments);
    msg
}

/// Expects an error about `setting` whose message contains every fragment. The library
/// names its own methods (`ServerOptions::cipher_suites`), never command-line flags.
pub fn expect_option_error(options: ServerOptions, setting: Setting, fragments: &[&str]) -> String {
    let (e, msg) = bind_error(options);
    match &e {
        Error::Option {
            setting: s,
            name,
            problem,
            fix,
        } => {
            assert_eq!(*s, setting, "{msg}");
            assert_eq!(*name, setting.method(), "{msg}");
            assert!(!problem.is_empty() && !fix.is_empty(), "{msg}");
        }
        other => panic!("expected Error::Option for {setting:?}, got {other:?}"),
    }
    assert!(
        msg.starts_with(setting.method()),
        "the message should start with {}: {msg}",
        setting.method()
    );
    assert!(
        !msg.contains(" --"),
        "a library message names no flag: {msg}"
    );
    assert_contains(&msg, fragments);
    msg
}

pub fn assert_contains(msg: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(msg.contains(f), "expected {f:?} in the message: {msg}");
    }
}

pub fn bad(name: &str) -> PathBuf {
    cert("bad").join(name)
}

pub fn opts(cert_file: &Path, key_file: &Path) -> ServerOptions {
    ServerOptions::new()
        .cert_file(cert_file)
        .key_file(key_file)
        .bind("127.0.0.1:0")
}

/// A file under the temp dir with a unique name, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(name: &str, contents: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tls-server-config-errors-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The effective uid, from /proc/self/status (`Uid: real effective saved fs`).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
