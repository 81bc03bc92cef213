//! The repository's own `certs/` come from `tls-server pki certs --set demo` (plus
//! `certs/openssl-only.sh` for the five files rcgen cannot make): a fresh demo set has every
//! committed file, and each certificate in it has the committed one's subject, issuer,
//! names, purposes, key type, signature algorithm and validity span — so `make certs`
//! reproduces what the tests rely on, and a change to either side shows here.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use support::json::json;
use support::process::{installed, run_tls_server};
use tls_server::rustls::pki_types::pem::PemObject;
use tls_server::rustls::pki_types::CertificateDer;
use tls_server::tls::CertificateInfo;

/// Files of `certs/` that do not come from the demo set: its docs, and what
/// `certs/openssl-only.sh` makes.
const NOT_FROM_PKI: &[&str] = &[
    "README.md",
    "openssl-only.sh",
    "check/sha1.crt",
    "check/sha1.key",
    "check/rsa1024.crt",
    "check/rsa1024.key",
    "bad/encrypted.key",
    "bad/trusted.crt",
    "bad/rsa-traditional.key",
];

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// The certificates of a PEM file, parsed.
fn certificates(path: &Path) -> Vec<CertificateInfo> {
    CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|der| {
            let der = der.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            CertificateInfo::parse(&der, &support::provider())
                .unwrap_or_else(|| panic!("{}: not a certificate we can read", path.display()))
        })
        .collect()
}

fn days(from: SystemTime, to: SystemTime) -> u64 {
    to.duration_since(from).unwrap().as_secs() / 86_400
}

/// What must be the same in a committed certificate and a freshly made one: everything
/// but the key, the serial number and — for certificates valid "from now" — the dates.
fn shape(c: &CertificateInfo) -> String {
    let span = days(c.not_before, c.not_after);
    // Fixed dates (expired, not yet valid) are part of the fixture; "100 years from the
    // day it was made" is not.
    let dates = if span == 36_500 {
        "36500 days from when it was made".to_string()
    } else {
        format!("{} to {}", c.valid_from, c.valid_to)
    };
    format!(
        "subject {} | issuer {} | names {:?} | CA {} | self-issued {} | purposes {:?} | key {} | signature {} | valid {dates}",
        c.subject_line,
        c.issuer_line,
        c.subject_alt_names,
        c.is_ca,
        c.self_issued,
        c.extended_key_usage,
        c.key,
        c.signature_algorithm,
    )
}

/// `openssl x509 -text`'s extensions, one block per extension, sorted (rcgen writes them in
/// another order than openssl), without the key identifiers (they name the keys).
fn openssl_extensions(path: &Path) -> Vec<String> {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(path)
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(start) = text.find("X509v3 extensions:") else {
        return Vec::new();
    };
    let text = &text[start..];
    let end = text.find("Signature Algorithm:").unwrap_or(text.len());
    let mut blocks: Vec<String> = Vec::new();
    for line in text[..end].lines().skip(1) {
        if line.trim_start().starts_with("X509v3 ") {
            blocks.push(line.trim().to_string());
        } else if let Some(last) = blocks.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    blocks.retain(|b| !b.contains("Key Identifier"));
    blocks.sort();
    blocks
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_fresh_demo_set_matches_the_committed_certs_file_for_file() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("tls-server-demo-set-{}", std::process::id())));
    let dir = scratch.0.to_str().unwrap();
    let out = run_tls_server(&["pki", dir, "--set", "demo", "--json"]);
    out.exit(0);
    let made = json(out.stdout.trim());
    assert_eq!(made.str("set"), "demo", "{}", out.stdout);

    let committed = files(&support::certs_dir());
    let fresh = files(&scratch.0);
    let expected: BTreeSet<String> = committed
        .iter()
        .filter(|f| !NOT_FROM_PKI.contains(&f.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        fresh, expected,
        "the demo set and certs/ hold different files: update src/pki/demo.rs (or run `make certs`)"
    );
    // What the set says it did not make is what openssl-only.sh makes.
    let not_made: Vec<String> = made
        .objs("notMade")
        .iter()
        .map(|n| n.str("name").to_string())
        .collect();
    for file in NOT_FROM_PKI.iter().filter(|f| f.contains('/')) {
        assert!(
            not_made.iter().any(|n| n.contains(file)),
            "{file} is not in notMade: {not_made:?}"
        );
    }

    let openssl = installed("openssl");
    let mut compared = 0;
    for file in fresh.iter().filter(|f| f.ends_with(".crt")) {
        let old = support::certs_dir().join(file);
        let new = scratch.0.join(file);
        let (old_certs, new_certs) = (certificates(&old), certificates(&new));
        assert_eq!(
            old_certs.len(),
            new_certs.len(),
            "{file}: how many certificates"
        );
        for (o, n) in old_certs.iter().zip(&new_certs) {
            assert_eq!(shape(o), shape(n), "{file}");
            compared += 1;
        }
        if openssl {
            assert_eq!(
                openssl_extensions(&old),
                openssl_extensions(&new),
                "{file}: the extensions (openssl x509 -text)"
            );
        }
    }
    assert!(compared >= 30, "only {compared} certificates compared");
}

#[test]
fn the_demo_set_takes_no_shaping_flags() {
    let out = run_tls_server(&[
        "pki",
        "/nonexistent/x",
        "--set",
        "demo",
        "--names",
        "a.test",
    ]);
    out.exit(2);
    assert!(
        out.stderr
            .contains("--names: the demo set's names, keys and dates are fixed"),
        "{}",
        out.stderr
    );
    let out = run_tls_server(&["pki", "/nonexistent/x", "--set", "nope"]);
    out.exit(2);
    assert!(
        out.stderr
            .contains("--set: \"nope\" — use fixtures or demo"),
        "{}",
        out.stderr
    );
}
