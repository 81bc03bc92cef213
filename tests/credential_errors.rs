//! Every certificate or key file that cannot be used is reported by `Server::bind` as an
//! `Error::Credential` naming the file, saying what is wrong with it and what to do —
//! never rustls's bare "no items found": files that cannot be read, files in the wrong
//! format, files that do not belong together. `config_errors.rs` has the options.

mod config_support;
mod support;

use std::path::PathBuf;

use config_support::*;
use support::*;
use tls_server::Server;

// ---------------------------------------------------------------------------------------
// Files that cannot be read

#[test]
fn cert_file_missing() {
    let missing = cert("does-not-exist.crt");
    let msg = expect_credential_error(
        opts(&missing, &cert("server.key")),
        &missing,
        &["certificate file not found", "check the path"],
    );
    assert!(!msg.contains("private key"), "{msg}");
}

#[test]
fn key_file_missing() {
    let missing = cert("does-not-exist.key");
    expect_credential_error(
        opts(&cert("server.crt"), &missing),
        &missing,
        &["private key file not found", "check the path"],
    );
}

#[test]
fn relative_missing_path_names_the_directory_it_was_looked_up_from() {
    let missing = PathBuf::from("no-such-dir/server.crt");
    let cwd = std::env::current_dir().unwrap();
    expect_credential_error(
        opts(&missing, &cert("server.key")),
        &missing,
        &["not found", &cwd.display().to_string()],
    );
}

#[test]
fn key_file_without_read_permission() {
    if effective_uid() == Some(0) {
        println!("skipped: running as root (permission bits do not stop root from reading)");
        eprintln!("skipped: running as root (permission bits do not stop root from reading)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let key = TempFile::new(
        "no-permission.key",
        &std::fs::read(cert("server.key")).unwrap(),
    );
    std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    expect_credential_error(
        opts(&cert("server.crt"), key.path()),
        key.path(),
        &["no permission", "chmod", &key.path().display().to_string()],
    );
}

#[test]
fn cert_path_is_a_directory() {
    let dir = cert("bad");
    expect_credential_error(opts(&dir, &cert("server.key")), &dir, &["directory"]);
}

// ---------------------------------------------------------------------------------------
// Files in the wrong format

#[test]
fn empty_cert_file() {
    let empty = bad("empty.pem");
    expect_credential_error(
        opts(&empty, &cert("server.key")),
        &empty,
        &["certificate file is empty", "-----BEGIN"],
    );
}

#[test]
fn empty_key_file() {
    let empty = bad("empty.pem");
    expect_credential_error(
        opts(&cert("server.crt"), &empty),
        &empty,
        &["private key file is empty"],
    );
}

#[test]
fn whitespace_only_cert_file_counts_as_empty() {
    let blank = TempFile::new("blank.crt", b"\n  \r\n\t\n");
    expect_credential_error(
        opts(blank.path(), &cert("server.key")),
        blank.path(),
        &["empty"],
    );
}

#[test]
fn der_certificate() {
    let der = bad("server.der");
    let shown = der.display().to_string();
    expect_credential_error(
        opts(&der, &cert("server.key")),
        &der,
        &[
            "DER",
            "PEM",
            "openssl x509 -inform der",
            &format!("-in {shown} -out {shown}.pem"),
        ],
    );
}

#[test]
fn der_key() {
    let der = bad("server-key.der");
    let shown = der.display().to_string();
    expect_credential_error(
        opts(&cert("server.crt"), &der),
        &der,
        &[
            "DER",
            "openssl pkey -inform der",
            &format!("-in {shown} -out {shown}.pem"),
        ],
    );
}

#[test]
fn csr_instead_of_certificate() {
    let csr = bad("server.csr");
    expect_credential_error(
        opts(&csr, &cert("server.key")),
        &csr,
        &["certificate signing request", "CSR", "signed"],
    );
}

#[test]
fn openssl_trusted_certificate() {
    let trusted = bad("trusted.crt");
    let shown = trusted.display().to_string();
    expect_credential_error(
        opts(&trusted, &cert("server.key")),
        &trusted,
        &[
            "TRUSTED CERTIFICATE",
            "openssl x509",
            &format!("-in {shown} -out {shown}.pem"),
        ],
    );
}

#[test]
fn cert_and_key_swapped() {
    // Both swapped: the certificate is read first, so the key file given as --cert is named.
    let key_as_cert = cert("server.key");
    expect_credential_error(
        opts(&key_as_cert, &cert("server.crt")),
        &key_as_cert,
        &["PRIVATE KEY", "not a CERTIFICATE", "swapped"],
    );
}

#[test]
fn certificate_given_as_key_says_swapped() {
    // The other direction: the certificate file passed as the key.
    let cert_as_key = cert("server.crt");
    expect_credential_error(
        opts(&cert("server.crt"), &cert_as_key),
        &cert_as_key,
        &["CERTIFICATE", "not a PRIVATE KEY", "swapped"],
    );
}

#[test]
fn encrypted_key() {
    let encrypted = bad("encrypted.key");
    let shown = encrypted.display().to_string();
    expect_credential_error(
        opts(&cert("server.crt"), &encrypted),
        &encrypted,
        &[
            "encrypted",
            "passphrase",
            &format!("openssl pkey -in {shown}"),
        ],
    );
}

#[test]
fn traditional_openssl_encrypted_key() {
    // The pre-PKCS#8 form: "BEGIN EC PRIVATE KEY" with Proc-Type/DEK-Info headers.
    let pem = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let key = TempFile::new("traditional-encrypted.key", pem.as_bytes());
    expect_credential_error(
        opts(&cert("server.crt"), key.path()),
        key.path(),
        &["encrypted", "openssl pkey"],
    );
}

#[test]
fn garbage_cert_file() {
    let garbage = bad("garbage.pem");
    expect_credential_error(
        opts(&garbage, &cert("server.key")),
        &garbage,
        &["no PEM block", "-----BEGIN CERTIFICATE-----"],
    );
}

#[test]
fn garbage_key_file() {
    let garbage = bad("garbage.pem");
    expect_credential_error(
        opts(&cert("server.crt"), &garbage),
        &garbage,
        &["no PEM block", "PRIVATE KEY"],
    );
}

#[test]
fn truncated_key_file() {
    // A key whose END line was lost while copying: the label is there, the block is not.
    let full = std::fs::read_to_string(cert("server.key")).unwrap();
    let cut = &full[..full.find("-----END").expect("END line")];
    let key = TempFile::new("truncated.key", cut.as_bytes());
    let msg = expect_credential_error(
        opts(&cert("server.crt"), key.path()),
        key.path(),
        &["-----END PRIVATE KEY-----", "truncated"],
    );
    assert_no_byte_lists(&msg);
}

#[test]
fn truncated_cert_file() {
    let full = std::fs::read_to_string(cert("server.crt")).unwrap();
    let cut = &full[..full.find("-----END").expect("END line")];
    let crt = TempFile::new("truncated.crt", cut.as_bytes());
    let msg = expect_credential_error(
        opts(crt.path(), &cert("server.key")),
        crt.path(),
        &["-----END CERTIFICATE-----", "truncated"],
    );
    assert_no_byte_lists(&msg);
}

/// rustls-pki-types prints PEM markers as `Vec<u8>` debug output (`[67, 69, 82, ...]`);
/// a message for people must not.
fn assert_no_byte_lists(msg: &str) {
    let bytes = msg.as_bytes();
    let leaked = bytes
        .windows(3)
        .any(|w| w[0] == b'[' && w[1].is_ascii_digit() && (w[2].is_ascii_digit() || w[2] == b','));
    assert!(!leaked, "raw byte list in the message: {msg}");
}

#[test]
fn indented_pem_is_loaded_or_explained() {
    // PEM pasted from YAML or a config file keeps its indentation.
    let indented: String = std::fs::read_to_string(cert("server.crt"))
        .unwrap()
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    let crt = TempFile::new("indented.crt", indented.as_bytes());
    match Server::bind(opts(crt.path(), &cert("server.key"))) {
        Ok(server) => server.shutdown(),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with(&crt.path().display().to_string()), "{msg}");
            assert!(!msg.contains("peer"), "it is our file, not a peer's: {msg}");
            assert!(
                msg.contains("indent"),
                "expected the indentation to be named: {msg}"
            );
        }
    }
}

#[test]
fn openssh_private_key() {
    // `ssh-keygen` output is not a TLS key; it must not end in "no items found".
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
    let key = TempFile::new("id_ed25519", pem.as_bytes());
    expect_credential_error(
        opts(&cert("server.crt"), key.path()),
        key.path(),
        &["OPENSSH PRIVATE KEY", "PKCS#8"],
    );
}

#[test]
fn dsa_private_key() {
    let pem = "-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n-----END DSA PRIVATE KEY-----\n";
    let key = TempFile::new("dsa.key", pem.as_bytes());
    expect_credential_error(
        opts(&cert("server.crt"), key.path()),
        key.path(),
        &["DSA PRIVATE KEY", "PKCS#8"],
    );
}

// ---------------------------------------------------------------------------------------
// Files that are fine alone but do not belong together

#[test]
fn key_does_not_match_certificate() {
    let crt = cert("server.crt");
    let other = bad("other.key");
    let msg = expect_credential_error(
        opts(&crt, &other),
        &crt,
        &[
            "does not match",
            &other.display().to_string(),
            "openssl x509",
            "openssl pkey",
        ],
    );
    assert!(!msg.contains("matches certificate #"), "{msg}");
}

#[test]
fn chain_in_the_wrong_order() {
    let mut chain = std::fs::read(cert("ca.crt")).unwrap();
    chain.extend(std::fs::read(cert("server.crt")).unwrap());
    let chain = TempFile::new("ca-then-server.crt", &chain);
    expect_credential_error(
        opts(chain.path(), &cert("server.key")),
        chain.path(),
        &["matches certificate #2", "first", "leaf"],
    );
}

#[test]
fn ca_key_with_a_correctly_ordered_chain_is_not_called_wrong_order() {
    // server-chain.crt is leaf first, then the CA. Given the CA's key, the order is right and
    // the key is wrong: telling the user to put certificate #2 (the CA) first is bad advice.
    let chain = cert("server-chain.crt");
    let ca_key = cert("ca.key");
    let msg = expect_credential_error(
        opts(&chain, &ca_key),
        &chain,
        &[&ca_key.display().to_string()],
    );
    assert!(
        !msg.contains("leaf) certificate first"),
        "the chain is already leaf first: {msg}"
    );
}
