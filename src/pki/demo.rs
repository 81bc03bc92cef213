//! The repository's own demo and test credentials (`certs/` in its source), made with
//! rcgen: `tls-server pki certs --set demo`. Unlike the default set, the names, subjects
//! and dates here are fixed — the test suite and the README rely on them — and the good
//! certificates are valid for 100 years, so a checkout keeps working.
//!
//! What rcgen cannot make is listed in [`DEMO_NOT_MADE`]; the repository's
//! `certs/openssl-only.sh` makes those files with the `openssl` command.

use std::net::IpAddr;
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose as Eku, IsCa, Issuer, KeyPair,
    KeyUsagePurpose as Ku, RevokedCertParams, SanType, SerialNumber,
};

use crate::error::Error;
use crate::pki::make::{failed, new_key, time, Writer};
use crate::pki::{days_from, KeyType, Made, Options};

/// The files of the demo set that rcgen cannot make, and why.
pub const DEMO_NOT_MADE: &[(&str, &str)] = &[
    (
        "check/sha1.crt, check/sha1.key",
        "a SHA-1 signature: rcgen signs with SHA-256 or stronger only",
    ),
    (
        "check/rsa1024.crt, check/rsa1024.key",
        "an RSA 1024 key: the crypto providers make RSA keys of 2048 bits or more only",
    ),
    (
        "bad/encrypted.key",
        "a passphrase-encrypted PKCS#8 key: rcgen writes unencrypted keys only",
    ),
    (
        "bad/trusted.crt",
        "OpenSSL's own TRUSTED CERTIFICATE format (`openssl x509 -trustout`)",
    ),
    (
        "bad/rsa-traditional.key",
        "an RSA key in PKCS#1 form (`BEGIN RSA PRIVATE KEY`): rcgen writes PKCS#8 only",
    ),
];

/// The validity of every good certificate: about 100 years. Dates after 2049 are
/// GeneralizedTime, which webpki accepts.
const DAYS: i64 = 36_500;

/// Subject `CN=cn` (then `O=org`), the names, valid for [`DAYS`] from the day before `now`.
fn params(
    cn: &str,
    org: Option<&str>,
    names: &[&str],
    now: SystemTime,
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(org) = org {
        dn.push(DnType::OrganizationName, org);
    }
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .map(|n| san(n))
        .collect::<Result<_, _>>()
        .map_err(|e| failed(cn, e))?;
    // From yesterday: a clock a little behind (or a program built a moment before the set
    // was made, whose build time stands in for a clock that was never set) accepts it.
    let from = days_from(now, -1);
    p.not_before = time(from);
    p.not_after = time(days_from(from, DAYS));
    Ok(p)
}

/// `email:a@b`, `URI:spiffe://x`, an IP address, or a DNS name.
fn san(name: &str) -> Result<SanType, rcgen::Error> {
    Ok(if let Some(email) = name.strip_prefix("email:") {
        SanType::Rfc822Name(email.try_into()?)
    } else if let Some(uri) = name.strip_prefix("URI:") {
        SanType::URI(uri.try_into()?)
    } else if let Ok(ip) = name.parse::<IpAddr>() {
        SanType::IpAddress(ip)
    } else {
        SanType::DnsName(name.try_into()?)
    })
}

/// A root CA (`keyCertSign`, `cRLSign`).
fn ca_params(cn: &str, now: SystemTime) -> Result<CertificateParams, Error> {
    let mut p = params(cn, None, &[], now)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![Ku::KeyCertSign, Ku::CrlSign];
    Ok(p)
}

/// An end-entity certificate for `purpose`: `CA:FALSE`, `digitalSignature`.
fn leaf(mut p: CertificateParams, purpose: Eku) -> CertificateParams {
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![Ku::DigitalSignature];
    p.extended_key_usages = vec![purpose];
    p.use_authority_key_identifier_extension = true;
    p
}

/// Valid from `from` to `until` (each `(year, month, day)`, midnight UTC).
fn dated(mut p: CertificateParams, from: (i32, u8, u8), until: (i32, u8, u8)) -> CertificateParams {
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
    p
}

/// Signs `p` for a new key of `kind` with `issuer`; writes `stem.crt` and `stem.key`.
fn issue(
    w: &mut Writer<'_>,
    stem: &str,
    p: &CertificateParams,
    kind: KeyType,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(String, KeyPair), Error> {
    let key = new_key(kind)?;
    let cert = p.signed_by(&key, issuer).map_err(|e| failed(stem, e))?;
    w.pair(stem, &cert.pem(), &key)?;
    Ok((cert.pem(), key))
}

/// A new key and a certificate signed by that key; writes `stem.crt` and `stem.key`.
fn self_signed(w: &mut Writer<'_>, stem: &str, p: &CertificateParams) -> Result<(), Error> {
    let key = new_key(KeyType::P256)?;
    let cert = p.self_signed(&key).map_err(|e| failed(stem, e))?;
    w.pair(stem, &cert.pem(), &key)
}

/// A CA made and written as `stem.crt` / `stem.key`.
fn write_ca(
    w: &mut Writer<'_>,
    stem: &str,
    p: CertificateParams,
) -> Result<CertifiedIssuer<'static, KeyPair>, Error> {
    let ca =
        CertifiedIssuer::self_signed(p, new_key(KeyType::P256)?).map_err(|e| failed(stem, e))?;
    w.pair(stem, &ca.pem(), ca.key())?;
    Ok(ca)
}

pub(super) fn all(options: &Options) -> Result<Made, Error> {
    let now = options.now;
    let mut w = Writer {
        dir: &options.dir,
        files: Vec::new(),
    };
    server(&mut w, now)?;
    check(&mut w, now)?;
    clients(&mut w, now)?;
    Ok(Made {
        dir: options.dir.clone(),
        set: options.set,
        key_type: KeyType::P256,
        files: w.files,
        fixtures: Vec::new(),
        not_made: DEMO_NOT_MADE.to_vec(),
    })
}

/// The demo CA, the server's certificates (ECDSA, RSA, the chain file), the names served
/// by SNI (`sni/`) and the broken inputs for configuration errors (`bad/`).
fn server(w: &mut Writer<'_>, now: SystemTime) -> Result<(), Error> {
    let ca = write_ca(w, "ca", ca_params("tls-server demo CA", now)?)?;
    let host = ["localhost", "127.0.0.1", "::1"];
    let server = leaf(params("localhost", None, &host, now)?, Eku::ServerAuth);
    let key = new_key(KeyType::P256)?;
    let cert = server
        .signed_by(&key, &ca)
        .map_err(|e| failed("server", e))?;
    w.pair("server", &cert.pem(), &key)?;
    w.write(
        "server-chain.crt",
        format!("{}{}", cert.pem(), ca.pem()).as_bytes(),
        false,
    )?;
    issue(w, "server-rsa", &server, KeyType::Rsa2048, &ca)?;

    for (stem, cn, names) in [
        ("sni/a", "a.example.test", &["a.example.test"][..]),
        ("sni/b", "b.example.test", &["b.example.test"]),
        ("sni/wildcard", "*.example.test", &["*.example.test"]),
        ("sni/next", "localhost", &host),
    ] {
        let p = leaf(params(cn, None, names, now)?, Eku::ServerAuth);
        issue(w, stem, &p, KeyType::P256, &ca)?;
    }

    w.write("bad/empty.pem", b"", false)?;
    w.write("bad/server.der", cert.der(), false)?;
    w.write("bad/server-key.der", &key.serialize_der(), true)?;
    let csr = params("localhost", None, &[], now)?
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(|e| failed("bad/server.csr", e))?;
    w.write("bad/server.csr", csr.as_bytes(), false)?;
    w.write(
        "bad/other.key",
        new_key(KeyType::P256)?.serialize_pem().as_bytes(),
        true,
    )?;
    w.write(
        "bad/garbage.pem",
        b"This file is named like a PEM file but contains no PEM blocks at all.\n\
          It exists so that tests can check that loading it as a certificate or a\n\
          private key fails with a clear error instead of silently succeeding.\n",
        false,
    )
}

/// `check/`: one certificate per mistake `tls-server check` and `probe` find, under a
/// hierarchy of their own (check root → check intermediate), unrelated to the demo CA.
fn check(w: &mut Writer<'_>, now: SystemTime) -> Result<(), Error> {
    let root = write_ca(w, "check/root", ca_params("tls-server check root CA", now)?)?;
    let mut p = ca_params("tls-server check intermediate CA", now)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.use_authority_key_identifier_extension = true;
    let key = new_key(KeyType::P256)?;
    let inter =
        CertifiedIssuer::signed_by(p, key, &root).map_err(|e| failed("check/intermediate", e))?;
    w.pair("check/intermediate", &inter.pem(), inter.key())?;

    let names = ["localhost", "*.example.test", "127.0.0.1"];
    let server = leaf(params("localhost", None, &names, now)?, Eku::ServerAuth);
    let key = new_key(KeyType::P256)?;
    let chain = server
        .signed_by(&key, &inter)
        .map_err(|e| failed("check/chain", e))?
        .pem();
    w.write("check/chain.key", key.serialize_pem().as_bytes(), true)?;
    let (chain, inter_pem) = (chain.as_str(), inter.pem());
    w.write(
        "check/chain-complete.crt",
        format!("{chain}{inter_pem}").as_bytes(),
        false,
    )?;
    w.write("check/chain-missing.crt", chain.as_bytes(), false)?;
    w.write(
        "check/chain-reversed.crt",
        format!("{inter_pem}{chain}").as_bytes(),
        false,
    )?;

    let expired = dated(server.clone(), (2020, 1, 1), (2021, 1, 1));
    issue(w, "check/expired", &expired, KeyType::P256, &root)?;
    let later = dated(server.clone(), (2090, 1, 1), (2100, 1, 1));
    issue(w, "check/not-yet-valid", &later, KeyType::P256, &root)?;

    let just_localhost = params("localhost", None, &["localhost"], now)?;
    let client_only = leaf(just_localhost.clone(), Eku::ClientAuth);
    issue(w, "check/client-only", &client_only, KeyType::P256, &root)?;
    let mut ca_as_leaf = leaf(just_localhost.clone(), Eku::ServerAuth);
    ca_as_leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_as_leaf.key_usages = vec![Ku::DigitalSignature, Ku::KeyCertSign, Ku::CrlSign];
    issue(w, "check/ca-as-leaf", &ca_as_leaf, KeyType::P256, &root)?;
    let cn_only = leaf(params("localhost", None, &[], now)?, Eku::ServerAuth);
    issue(w, "check/cn-only", &cn_only, KeyType::P256, &root)?;
    // keyEncipherment alone: the key may not sign, which every TLS 1.3 handshake needs.
    let mut no_signing = leaf(just_localhost.clone(), Eku::ServerAuth);
    no_signing.key_usages = vec![Ku::KeyEncipherment];
    issue(
        w,
        "check/no-digital-signature",
        &no_signing,
        KeyType::P256,
        &root,
    )?;
    let mut self_signed_leaf = leaf(just_localhost, Eku::ServerAuth);
    self_signed_leaf.use_authority_key_identifier_extension = false;
    self_signed(w, "check/self-signed", &self_signed_leaf)
}

/// `client/`: the client CA and its CRL, an unrelated CA, and one client certificate per
/// outcome, each `CN=<name> client, O=tls-server demo` with an e-mail and a SPIFFE name.
fn clients(w: &mut Writer<'_>, now: SystemTime) -> Result<(), Error> {
    let ca = write_ca(w, "client/ca", ca_params("tls-server demo client CA", now)?)?;
    let other = write_ca(
        w,
        "client/other-ca",
        ca_params("tls-server unrelated CA", now)?,
    )?;
    let client = |name: &str, cn: &str| {
        let email = format!("email:{name}@example.test");
        let uri = format!("URI:spiffe://example.test/{name}");
        let p = params(cn, Some("tls-server demo"), &[&email, &uri], now)?;
        Ok::<_, Error>(leaf(p, Eku::ClientAuth))
    };
    let p256 = KeyType::P256;
    issue(
        w,
        "client/client",
        &client("client", "demo client")?,
        p256,
        &ca,
    )?;
    let expired = dated(
        client("expired", "expired client")?,
        (2020, 1, 1),
        (2021, 1, 1),
    );
    issue(w, "client/expired", &expired, p256, &ca)?;
    let later = dated(
        client("not-yet-valid", "not-yet-valid client")?,
        (2099, 1, 1),
        (2100, 1, 1),
    );
    issue(w, "client/not-yet-valid", &later, p256, &ca)?;
    let unknown = client("unknown-ca", "unknown-ca client")?;
    issue(w, "client/unknown-ca", &unknown, p256, &other)?;
    let mut revoked = client("revoked", "revoked client")?;
    // Its serial is needed for the CRL: the time it was made, in nanoseconds.
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let serial = SerialNumber::from(nanos.as_nanos() as u64 & (u64::MAX >> 1));
    revoked.serial_number = Some(serial.clone());
    issue(w, "client/revoked", &revoked, p256, &ca)?;
    let mut ca_as_leaf = client("ca-as-leaf", "ca-as-leaf client")?;
    ca_as_leaf.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_as_leaf.key_usages = vec![Ku::DigitalSignature, Ku::KeyCertSign, Ku::CrlSign];
    issue(w, "client/ca-as-leaf", &ca_as_leaf, p256, &ca)?;
    let mut wrong_purpose = client("wrong-purpose", "wrong-purpose client")?;
    wrong_purpose.extended_key_usages = vec![Eku::ServerAuth];
    issue(w, "client/wrong-purpose", &wrong_purpose, p256, &ca)?;
    let mut alone = client("self-signed", "self-signed client")?;
    alone.use_authority_key_identifier_extension = false;
    self_signed(w, "client/self-signed", &alone)?;

    // A version 2 CRL (number and authority key identifier: the only kind webpki takes).
    let crl = CertificateRevocationListParams {
        this_update: time(days_from(now, -1)),
        next_update: time(days_from(now, DAYS - 1)),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: serial,
            revocation_time: time(days_from(now, -1)),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&ca)
    .and_then(|crl| crl.pem())
    .map_err(|e| failed("client/ca.crl", e))?;
    w.write("client/ca.crl", crl.as_bytes(), false)
}
