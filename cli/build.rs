//! Tells the command which rustls version Cargo resolved, for `tls-server --version`: read
//! from the workspace's Cargo.lock (the library asks for any rustls 0.23).

use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| locked_version(&text, "rustls"))
        .unwrap_or_else(|| "0.23 (exact version not recorded)".to_string());
    println!("cargo:rustc-env=TLS_SERVER_RUSTLS_VERSION={version}");
}

/// The version of package `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}
