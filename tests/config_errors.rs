//! Every configuration mistake is reported by `Server::bind` as an `Error` whose message
//! names the file (or option) and says how to fix it — never rustls's bare
//! "no items found".

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;
use tls_server::setting::Setting;
use tls_server::{Error, Server, ServerOptions, TlsVersion};

/// Binds and expects an error; returns its message after the checks every message must pass.
fn bind_error(options: ServerOptions) -> (Error, String) {
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
fn expect_credential_error(options: ServerOptions, path: &Path, fragments: &[&str]) -> String {
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
fn expect_option_error(options: ServerOptions, setting: Setting, fragments: &[&str]) -> String {
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

fn assert_contains(msg: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(msg.contains(f), "expected {f:?} in the message: {msg}");
    }
}

fn bad(name: &str) -> PathBuf {
    cert("bad").join(name)
}

fn opts(cert_file: &Path, key_file: &Path) -> ServerOptions {
    ServerOptions::new()
        .cert_file(cert_file)
        .key_file(key_file)
        .bind("127.0.0.1:0")
}

/// A file under the temp dir with a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tls-server-config-errors-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The effective uid, from /proc/self/status (`Uid: real effective saved fs`).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

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

// ---------------------------------------------------------------------------------------
// Options

#[test]
fn unknown_cipher_suite() {
    expect_option_error(
        support::options().cipher_suites(&["TLS_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_MD5"]),
        Setting::CipherSuites,
        &[
            "TLS_RSA_WITH_RC4_128_MD5",
            "unknown cipher suite",
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            tls_server::tls::Provider::default().name(),
        ],
    );
}

#[test]
fn rustls_spelling_of_tls13_suites_is_not_what_the_list_shows() {
    // The valid names listed are IANA names, never rustls's TLS13_ prefix.
    let msg = expect_option_error(
        support::options().cipher_suites(&["nope"]),
        Setting::CipherSuites,
        &["TLS_AES_256_GCM_SHA384"],
    );
    assert!(!msg.contains("TLS13_"), "{msg}");
}

#[test]
fn unknown_group() {
    expect_option_error(
        support::options().kx_groups(&["x448"]),
        Setting::KxGroups,
        &["unknown key-exchange group", "x448", "x25519", "secp256r1"],
    );
}

#[test]
fn empty_version_list() {
    expect_option_error(
        support::options().versions(&[]),
        Setting::Versions,
        &["no protocol version", "1.2", "1.3"],
    );
}

#[test]
fn suites_that_do_not_fit_the_versions() {
    expect_option_error(
        support::options()
            .versions(&[TlsVersion::Tls12])
            .cipher_suites(&["TLS_AES_128_GCM_SHA256"]),
        Setting::CipherSuites,
        &["TLSv1.2", "TLS_ECDHE_"],
    );
}

#[test]
fn no_certificate_given() {
    expect_option_error(
        ServerOptions::new()
            .key_file(cert("server.key"))
            .bind("127.0.0.1:0"),
        Setting::Cert,
        &["no certificate"],
    );
}

#[test]
fn no_key_given() {
    expect_option_error(
        ServerOptions::new()
            .cert_file(cert("server.crt"))
            .bind("127.0.0.1:0"),
        Setting::Key,
        &["no private key"],
    );
}

// ---------------------------------------------------------------------------------------
// In-memory PEM

#[test]
fn in_memory_pem_is_named_by_its_label() {
    let csr = std::fs::read(bad("server.csr")).unwrap();
    let label = PathBuf::from("embedded cert");
    let msg = expect_credential_error(
        ServerOptions::new()
            .cert_pem("embedded cert", csr)
            .key_file(cert("server.key"))
            .bind("127.0.0.1:0"),
        &label,
        &["embedded cert", "certificate signing request"],
    );
    assert!(msg.starts_with("embedded cert: "), "{msg}");
}

#[test]
fn in_memory_key_mismatch_names_both_labels() {
    let crt = std::fs::read(cert("server.crt")).unwrap();
    let key = std::fs::read(bad("other.key")).unwrap();
    expect_credential_error(
        ServerOptions::new()
            .cert_pem("embedded cert", crt)
            .key_pem("embedded key", key)
            .bind("127.0.0.1:0"),
        Path::new("embedded cert"),
        &["embedded key", "does not match"],
    );
}

// ---------------------------------------------------------------------------------------
// Positive controls: good files load, and the server then serves with them.

fn handshake_seen(events: &tls_server::Events) {
    wait_for(events, "secureConnection", |e| match e {
        tls_server::Event::SecureConnection(_) => Some(()),
        _ => None,
    });
}

#[test]
fn demo_files_load() {
    let (server, events, addr) = start(support::options());
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn demo_chain_file_loads() {
    let (server, events, addr) = start(support::options().cert_file(cert("server-chain.crt")));
    let client = connect(addr);
    handshake_seen(&events);
    assert_eq!(
        client.conn.peer_certificates().map(|c| c.len()),
        Some(2),
        "the whole chain is sent"
    );
    drop(client);
    server.shutdown();
}

#[test]
fn pkcs1_rsa_key_loads() {
    let (server, events, addr) = start(opts(&cert("server-rsa.crt"), &bad("rsa-traditional.key")));
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn in_memory_pem_loads() {
    let (server, events, addr) = start(
        ServerOptions::new()
            .cert_pem("embedded cert", std::fs::read(cert("server.crt")).unwrap())
            .key_pem("embedded key", std::fs::read(cert("server.key")).unwrap())
            .bind("127.0.0.1:0"),
    );
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}

#[test]
fn crlf_line_endings_load() {
    let crlf = |p: PathBuf| {
        std::fs::read_to_string(p)
            .unwrap()
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
    };
    let crt = TempFile::new("crlf.crt", crlf(cert("server.crt")).as_bytes());
    let key = TempFile::new("crlf.key", crlf(cert("server.key")).as_bytes());
    let (server, events, addr) = start(opts(crt.path(), key.path()));
    let client = connect(addr);
    handshake_seen(&events);
    drop(client);
    server.shutdown();
}
