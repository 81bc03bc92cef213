//! Every input the fuzzers (fuzz/, `make fuzz`) ever found a fault with, replayed through
//! the same entry points: each must now return normally. An input is a file in
//! `fuzz/regressions/<target>/`, named for what it found. The seed corpora
//! (`fuzz/corpus/<target>/`) are replayed too, so a seed that starts to fail is seen here,
//! on stable, without a fuzzer.
#![cfg(feature = "fuzzing")]

use std::path::PathBuf;

use tls_server::fuzzing;

/// (file name, bytes) of every regression input and seed of `target`.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    for kind in ["fuzz/regressions", "fuzz/corpus"] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(kind)
            .join(target);
        found.extend(
            std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .filter(|path| path.file_name().is_some_and(|n| n != ".keep"))
                .map(|path| {
                    let bytes = std::fs::read(&path).expect("readable");
                    (path.display().to_string(), bytes)
                }),
        );
    }
    found.sort();
    assert!(!found.is_empty(), "no seeds for {target}");
    found
}

/// The credentials target splits its input in two at the first NUL: certificate, key.
pub fn split_credentials(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

#[test]
fn client_hello_inputs() {
    for (_, data) in inputs("client_hello") {
        fuzzing::client_hello(&data);
    }
}

#[test]
fn first_bytes_inputs() {
    for (_, data) in inputs("first_bytes") {
        let sentences = fuzzing::first_bytes(&data);
        assert!(sentences.iter().all(|s| !s.is_empty()));
    }
}

#[test]
fn credentials_inputs() {
    for (_, data) in inputs("credentials") {
        let (cert, key) = split_credentials(&data);
        fuzzing::credentials(cert, key);
    }
}

#[test]
fn ticket_keys_inputs() {
    for (_, data) in inputs("ticket_keys") {
        fuzzing::ticket_keys(&data);
    }
}

#[test]
fn https_request_inputs() {
    for (_, data) in inputs("https_request") {
        fuzzing::https_request(&data);
    }
}

/// The entry points themselves, on inputs that must work.
#[test]
fn the_entry_points_answer_ordinary_input() {
    fuzzing::client_hello(&[22, 3, 1, 0, 4, 1, 0, 0, 0]);
    let sentences = fuzzing::first_bytes(b"GET / HTTP/1.1\r\n\r\n");
    assert!(
        sentences.iter().any(|s| s.contains("plain HTTP")),
        "{sentences:?}"
    );
    fuzzing::ticket_keys(format!("{}\n", "ab".repeat(32)).as_bytes());
    let reply = fuzzing::https_request(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(
        reply.starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    fuzzing::credentials(b"not pem", b"");
}
