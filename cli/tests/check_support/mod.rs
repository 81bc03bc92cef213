//! What the `check` tests share: running `tls-server check`, finding one check's line in
//! its output, the fixtures, temporary directories.
#![allow(dead_code)]

use std::path::PathBuf;

use crate::support::process::{run_tls_server, Out};

/// `certs/check/NAME`, relative to the crate root (the child's working directory), so
/// messages show short paths.
pub fn fixture(name: &str) -> String {
    format!("certs/check/{name}")
}

/// The checks of one run, line by line.
pub trait Lines {
    fn check(&self, name: &str) -> (String, String, String);
    fn expect(&self, name: &str, status: &str, message: &[&str], fix: &[&str]);
}

impl Lines for Out {
    /// The line of check `name`: (status, message, fix). Panics with the whole output if
    /// the check did not run.
    fn check(&self, name: &str) -> (String, String, String) {
        let lines: Vec<&str> = self.stdout.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let mut words = line.split_whitespace();
            let (Some(status), Some(check)) = (words.next(), words.next()) else {
                continue;
            };
            if check != name || !["OK", "NOTE", "WARN", "ERROR"].contains(&status) {
                continue;
            }
            // The rest of the line as printed (dates keep their double spaces).
            let message = line[status.len()..].trim_start()[check.len()..]
                .trim_start()
                .to_string();
            let fix = lines
                .get(i + 1)
                .and_then(|l| l.trim().strip_prefix("fix: "))
                .unwrap_or("")
                .to_string();
            return (status.to_string(), message, fix);
        }
        panic!(
            "no {name} line in:\n{}\nstderr: {}",
            self.stdout, self.stderr
        );
    }

    /// Asserts check `name` has `status` and its message (and fix) contain the fragments.
    fn expect(&self, name: &str, status: &str, message: &[&str], fix: &[&str]) {
        let (got, msg, got_fix) = self.check(name);
        let all = &self.stdout;
        assert_eq!(got, status, "{name}: {msg}\n{all}");
        for f in message {
            assert!(msg.contains(f), "{name}: expected {f:?} in {msg:?}\n{all}");
        }
        for f in fix {
            assert!(
                got_fix.contains(f),
                "{name}: expected {f:?} in the fix {got_fix:?}\n{all}"
            );
        }
        if status == "WARN" || status == "ERROR" {
            assert!(!got_fix.is_empty(), "{name}: a {status} needs a fix\n{all}");
        }
    }
}

pub fn check(args: &[&str]) -> Out {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    run_tls_server(&all)
}

/// `check --cert certs/check/NAME.crt --key certs/check/NAME.key ARGS`.
pub fn check_fixture(name: &str, args: &[&str]) -> Out {
    let cert = fixture(&format!("{name}.crt"));
    let key = fixture(&format!("{name}.key"));
    let mut all = vec!["--cert", &cert, "--key", &key];
    all.extend_from_slice(args);
    check(&all)
}

/// A private directory for files whose mode a test sets; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("tls-server-check-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
