//! Tells the command which rustls version Cargo resolved, for `tls-server --version`: read
//! from the workspace's Cargo.lock (the library asks for any rustls 0.23); and when it was
//! built, for a clock that was never set.

use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let version = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| locked_version(&text, "rustls"))
        .unwrap_or_else(|| "0.23 (exact version not recorded)".to_string());
    println!("cargo:rustc-env=TLS_SERVER_RUSTLS_VERSION={version}");
    // A time this binary cannot have been built before: a clock earlier than it is not set
    // (`serve` then checks certificates as of this time). SOURCE_DATE_EPOCH when given,
    // for reproducible builds.
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let built = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    println!("cargo:rustc-env=TLS_SERVER_BUILT_UNIX={built}");
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
