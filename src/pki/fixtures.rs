//! The catalogue of the test PKI: each fixture, what it is broken for, what the server
//! says, what clients say — and the README written next to the files.

use std::fmt::Write;

use crate::pki::Made;

/// One server certificate and key of the set, broken (or not) in one known way.
#[derive(Debug)]
pub struct Fixture {
    /// Its name: the folder it is in, and `serve --fixture NAME`.
    pub name: &'static str,
    /// The certificate (or chain) file and the key file, relative to the set's directory.
    pub files: [&'static str; 2],
    /// What is wrong with it, in one sentence.
    pub broken_for: &'static str,
    /// What the server says: at startup (when it refuses to serve it) or when a client
    /// fails on it.
    pub server_says: &'static str,
    /// What clients say when they verify it against `ca.crt` (openssl s_client, curl,
    /// Python's ssl, rustls), or that they accept it.
    pub clients_say: &'static str,
}

/// Every fixture [`generate`](crate::pki::generate) makes, in the order of the README.
pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "good",
        files: ["good/server.crt", "good/server.key"],
        broken_for: "nothing: a leaf for the names asked for, issued by the intermediate, with the intermediate in the chain file; the control",
        server_says: "a secure connection",
        clients_say: "they connect (openssl: `Verify return code: 0 (ok)`)",
    },
    Fixture {
        name: "expired",
        files: ["expired/server.crt", "expired/server.key"],
        broken_for: "its validity ended yesterday",
        server_says: "at startup, the check refuses it (\"expired\"; `--no-check` serves it); when a client rejects it, that it expired, and to renew it (with the date)",
        clients_say: "openssl: `certificate has expired`; Python: `certificate verify failed: certificate has expired`; rustls: `certificate expired`",
    },
    Fixture {
        name: "not-yet-valid",
        files: ["not-yet-valid/server.crt", "not-yet-valid/server.key"],
        broken_for: "its validity starts tomorrow (what a wrong clock on either side looks like)",
        server_says: "at startup, the check refuses it (\"not valid yet\"); when a client rejects it, that it is not valid yet, with the dates and our clock",
        clients_say: "openssl: `certificate is not yet valid`; Python: `certificate verify failed: certificate is not yet valid`; rustls: `certificate not valid yet`",
    },
    Fixture {
        name: "expiring-soon",
        files: ["expiring-soon/server.crt", "expiring-soon/server.key"],
        broken_for: "nothing yet: it expires in a few days (`--expiring-in`, 10 by default)",
        server_says: "at startup, a warning that it expires soon, with the date",
        clients_say: "they connect, until it expires",
    },
    Fixture {
        name: "wrong-host",
        files: ["wrong-host/server.crt", "wrong-host/server.key"],
        broken_for: "it covers only wrong.test, not the names clients connect with",
        server_says: "when a client rejects it, that the name it asked for is not in the certificate",
        clients_say: "openssl (with `-verify_hostname localhost`): `hostname mismatch`; Python: `certificate verify failed: Hostname mismatch`; rustls: `certificate not valid for name`",
    },
    Fixture {
        name: "missing-intermediate",
        files: ["missing-intermediate/server.crt", "missing-intermediate/server.key"],
        broken_for: "the chain file holds the leaf only: clients that trust only the root cannot link it",
        server_says: "at startup, a warning that the issuer is not in the chain file; when a client rejects it, that it could not link our certificate to a CA it trusts",
        clients_say: "openssl: `unable to get local issuer certificate`; Python: `certificate verify failed: unable to get local issuer certificate`; rustls: `UnknownIssuer`",
    },
    Fixture {
        name: "wrong-order",
        files: ["wrong-order/server.crt", "wrong-order/server.key"],
        broken_for: "the chain file has the intermediate first and the leaf second",
        server_says: "at startup, an error: the key matches certificate #2 in the file, not the first — put the leaf first",
        clients_say: "nothing: the server does not start",
    },
    Fixture {
        name: "self-signed",
        files: ["self-signed/server.crt", "self-signed/server.key"],
        broken_for: "a leaf signed by its own key, not by a CA clients trust",
        server_says: "at startup, a warning that it is self-signed; when a client rejects it, that the client does not trust it",
        clients_say: "openssl: `self-signed certificate`; Python: `certificate verify failed: self-signed certificate`; rustls: `UnknownIssuer`",
    },
    Fixture {
        name: "ca-as-leaf",
        files: ["ca-as-leaf/server.crt", "ca-as-leaf/server.key"],
        broken_for: "a CA certificate (basicConstraints CA:TRUE) served as the server's own",
        server_says: "at startup, the check refuses a CA certificate as a leaf; when a client rejects it, that it is a CA certificate",
        clients_say: "rustls: `CaUsedAsEndEntity`; OpenSSL and Python accept it",
    },
    Fixture {
        name: "no-server-auth",
        files: ["no-server-auth/server.crt", "no-server-auth/server.key"],
        broken_for: "its extended key usage allows client authentication only, not serverAuth",
        server_says: "at startup, the check refuses it (not for servers); when a client rejects it, that it is not for servers",
        clients_say: "openssl: `unsuitable certificate purpose`; Python: `certificate verify failed: unsuitable certificate purpose`; rustls: `extended key usage`",
    },
    Fixture {
        name: "key-mismatch",
        files: ["key-mismatch/server.crt", "key-mismatch/server.key"],
        broken_for: "the key file holds a different key from the certificate's",
        server_says: "at startup, an error: the key is not the certificate's",
        clients_say: "nothing: the server does not start",
    },
    Fixture {
        name: "der",
        files: ["der/server.der", "der/server.key"],
        broken_for: "the certificate is DER (binary), where PEM text is expected",
        server_says: "at startup, an error that names the file as DER and the `openssl x509 -inform der` command that converts it",
        clients_say: "nothing: the server does not start",
    },
    Fixture {
        name: "swapped",
        files: ["swapped/server.crt", "swapped/server.key"],
        broken_for: "the certificate file holds the key and the key file the certificate",
        server_says: "at startup, an error that the certificate file holds a private key (and the fix: swap them)",
        clients_say: "nothing: the server does not start",
    },
];

/// What is not made, and why.
pub const NOT_MADE: &[(&str, &str)] = &[
    (
        "sha1",
        "rcgen signs with SHA-256 or stronger only (certs/check/sha1.crt in the repository was made with openssl)",
    ),
    (
        "encrypted-key",
        "rcgen writes unencrypted keys; make one with `openssl pkey -in good/server.key -aes256 -out encrypted.key`",
    ),
];

/// The other files: the CAs, the client certificates, the revocation list.
pub(crate) const OTHER_FILES: &[(&str, &str)] = &[
    (
        "ca.crt",
        "the root CA: what clients trust (`--cacert`, `-CAfile`, `cafile=`)",
    ),
    ("ca.key", "its key"),
    (
        "intermediate.crt",
        "the intermediate CA that issues the server certificates",
    ),
    ("intermediate.key", "its key"),
    (
        "client/good.crt, client/good.key",
        "a client certificate issued by the root CA",
    ),
    (
        "client/expired.crt, client/expired.key",
        "a client certificate that expired yesterday",
    ),
    (
        "client/revoked.crt, client/revoked.key",
        "a client certificate revoked by client/crl.pem",
    ),
    (
        "client/crl.pem",
        "the root CA's revocation list, revoking client/revoked.crt",
    ),
    ("client/other-ca.crt", "an unrelated CA"),
    (
        "client/other.crt, client/other.key",
        "a client certificate from the unrelated CA",
    ),
];

/// `DIR/README.md`.
pub(crate) fn readme(made: &Made) -> String {
    let dir = made.dir.display();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# A test PKI\n\nMade by `tls-server pki {dir}` ({} keys). Every certificate is relative to the day it was made: run the command again for a fresh set. Trust `ca.crt` in clients.\n",
        made.key_type.name()
    );
    let _ = writeln!(out, "## The server certificates\n");
    let _ = writeln!(
        out,
        "Each folder holds one server certificate (or chain) and its key. To see a failure from both sides:\n\n```sh\ntls-server serve --fixture expired --pki {dir}                                # the server's side\nopenssl s_client -connect 127.0.0.1:8000 -CAfile {dir}/ca.crt -verify_return_error   # a client's\n```\n"
    );
    let _ = writeln!(
        out,
        "| fixture | broken for | the server says | clients say |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for f in made.fixtures.iter() {
        let _ = writeln!(
            out,
            "| `{}` (`{}`, `{}`) | {} | {} | {} |",
            f.name, f.files[0], f.files[1], f.broken_for, f.server_says, f.clients_say
        );
    }
    let _ = writeln!(out, "\nNot made:\n");
    for (name, why) in &made.not_made {
        let _ = writeln!(out, "- `{name}`: {why}");
    }
    let _ = writeln!(out, "\n## The other files\n");
    for (file, what) in OTHER_FILES {
        let _ = writeln!(out, "- `{file}`: {what}");
    }
    let _ = writeln!(
        out,
        "\nClient certificates, checked by the server:\n\n```sh\ntls-server serve --fixture good --pki {dir} --client-auth required --ca {dir}/ca.crt --crl {dir}/client/crl.pem\ncurl --cacert {dir}/ca.crt --cert {dir}/client/revoked.crt --key {dir}/client/revoked.key https://localhost:8000/\n```"
    );
    out
}
