//! Making the set with rcgen: keys, the two CAs, every fixture, the client certificates,
//! the CRL, and writing them out.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber,
};

use crate::error::Error;
use crate::pki::fixtures::{readme, FIXTURES, NOT_MADE};
use crate::pki::{days_from, KeyType, Made, Options};

/// What a step of making failed on.
pub(super) fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::credential(
        what,
        format!("could not be made: {e}"),
        "report this: the set is made with rcgen and the crypto provider built in",
    )
}

/// Writes files, remembering their names relative to the directory.
pub(super) struct Writer<'a> {
    pub(super) dir: &'a Path,
    pub(super) files: Vec<PathBuf>,
}

impl Writer<'_> {
    pub(super) fn write(&mut self, name: &str, data: &[u8], secret: bool) -> Result<(), Error> {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::credential(
                    parent,
                    format!("cannot be created: {e}"),
                    "choose a directory you can write to",
                )
            })?;
        }
        std::fs::write(&path, data).map_err(|e| {
            Error::credential(
                &path,
                format!("cannot be written: {e}"),
                "choose a directory you can write to",
            )
        })?;
        if secret {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        self.files.push(PathBuf::from(name));
        Ok(())
    }

    pub(super) fn pair(&mut self, stem: &str, cert_pem: &str, key: &KeyPair) -> Result<(), Error> {
        self.write(&format!("{stem}.crt"), cert_pem.as_bytes(), false)?;
        self.write(&format!("{stem}.key"), key.serialize_pem().as_bytes(), true)
    }
}

pub(super) fn new_key(kind: KeyType) -> Result<KeyPair, Error> {
    let made = match kind {
        KeyType::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        #[cfg(feature = "aws-lc-rs")]
        KeyType::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
        #[cfg(feature = "aws-lc-rs")]
        KeyType::Rsa3072 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        KeyType::Rsa2048 | KeyType::Rsa3072 => {
            return Err(Error::credential(
                kind.name(),
                "RSA keys cannot be made with the ring provider",
                "use p256, p384 or ed25519, or a build with aws-lc-rs",
            ))
        }
    };
    made.map_err(|e| failed(&format!("a {} key", kind.name()), e))
}

pub(super) fn time(t: SystemTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from(t)
}

/// Parameters valid from `from` to `until` days after `now`, with `cn` as the subject.
fn params(
    names: &[String],
    cn: &str,
    now: SystemTime,
    from: i64,
    until: i64,
    serial: u64,
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| failed(cn, e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tls-server test PKI");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = time(days_from(now, from));
    p.not_after = time(days_from(now, until));
    p.serial_number = Some(SerialNumber::from(serial));
    Ok(p)
}

fn ca_params(cn: &str, now: SystemTime, serial: u64) -> Result<CertificateParams, Error> {
    let mut p = params(&[], cn, now, -1, 3650, serial)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn leaf_params(
    names: &[String],
    now: SystemTime,
    from: i64,
    until: i64,
    serial: u64,
    usage: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams, Error> {
    let cn = names
        .first()
        .map(String::as_str)
        .unwrap_or("tls-server test");
    let mut p = params(names, cn, now, from, until, serial)?;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![usage];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

pub(super) fn all(options: &Options) -> Result<Made, Error> {
    let now = options.now;
    let days = i64::from(options.days);
    let kind = options.key_type;
    let names = &options.names;
    let mut w = Writer {
        dir: &options.dir,
        files: Vec::new(),
    };
    let mut serial = 1u64;
    let mut next = || {
        serial += 1;
        serial
    };

    let root = CertifiedIssuer::self_signed(
        ca_params("tls-server test root CA", now, next())?,
        new_key(kind)?,
    )
    .map_err(|e| failed("the root CA", e))?;
    w.pair("ca", &root.pem(), root.key())?;
    let mut inter_params = ca_params("tls-server test intermediate CA", now, next())?;
    inter_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let inter = CertifiedIssuer::signed_by(inter_params, new_key(kind)?, &root)
        .map_err(|e| failed("the intermediate CA", e))?;
    w.pair("intermediate", &inter.pem(), inter.key())?;

    let server = ExtendedKeyUsagePurpose::ServerAuth;
    // A leaf issued by the intermediate: (certificate PEM, key).
    let leaf =
        |names: &[String], from: i64, until: i64, usage: ExtendedKeyUsagePurpose, serial: u64| {
            let key = new_key(kind)?;
            let cert = leaf_params(names, now, from, until, serial, usage)?
                .signed_by(&key, &*inter)
                .map_err(|e| failed("a server certificate", e))?;
            Ok::<_, Error>((cert.pem(), key))
        };
    let chain = |leaf: &str| format!("{leaf}{}", inter.pem());

    let (good, good_key) = leaf(names, -1, days, server.clone(), next())?;
    w.pair("good/server", &chain(&good), &good_key)?;
    let (cert, key) = leaf(names, -30, -1, server.clone(), next())?;
    w.pair("expired/server", &chain(&cert), &key)?;
    let (cert, key) = leaf(names, 1, days, server.clone(), next())?;
    w.pair("not-yet-valid/server", &chain(&cert), &key)?;
    let (cert, key) = leaf(
        names,
        -1,
        i64::from(options.expiring_in),
        server.clone(),
        next(),
    )?;
    w.pair("expiring-soon/server", &chain(&cert), &key)?;
    let (cert, key) = leaf(
        &["wrong.test".to_string()],
        -1,
        days,
        server.clone(),
        next(),
    )?;
    w.pair("wrong-host/server", &chain(&cert), &key)?;
    let (cert, key) = leaf(names, -1, days, server.clone(), next())?;
    w.pair("missing-intermediate/server", &cert, &key)?;
    let (cert, key) = leaf(names, -1, days, server.clone(), next())?;
    w.pair(
        "wrong-order/server",
        &format!("{}{cert}", inter.pem()),
        &key,
    )?;
    let self_key = new_key(kind)?;
    let self_signed = leaf_params(names, now, -1, days, next(), server.clone())?
        .self_signed(&self_key)
        .map_err(|e| failed("the self-signed certificate", e))?;
    w.pair("self-signed/server", &self_signed.pem(), &self_key)?;
    let ca_key = new_key(kind)?;
    let mut ca_leaf = leaf_params(names, now, -1, days, next(), server.clone())?;
    ca_leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_leaf.key_usages.push(KeyUsagePurpose::KeyCertSign);
    let ca_leaf = ca_leaf
        .signed_by(&ca_key, &*inter)
        .map_err(|e| failed("the CA-as-leaf certificate", e))?;
    w.pair("ca-as-leaf/server", &chain(&ca_leaf.pem()), &ca_key)?;
    let (cert, key) = leaf(names, -1, days, ExtendedKeyUsagePurpose::ClientAuth, next())?;
    w.pair("no-server-auth/server", &chain(&cert), &key)?;
    let other_key = new_key(kind)?;
    w.write("key-mismatch/server.crt", chain(&good).as_bytes(), false)?;
    w.write(
        "key-mismatch/server.key",
        other_key.serialize_pem().as_bytes(),
        true,
    )?;
    let key = new_key(kind)?;
    let der = leaf_params(names, now, -1, days, next(), server.clone())?
        .signed_by(&key, &*inter)
        .map_err(|e| failed("the DER certificate", e))?;
    w.write("der/server.der", der.der(), false)?;
    w.write("der/server.key", key.serialize_pem().as_bytes(), true)?;
    let (cert, key) = leaf(names, -1, days, server.clone(), next())?;
    w.write("swapped/server.crt", key.serialize_pem().as_bytes(), true)?;
    w.write("swapped/server.key", chain(&cert).as_bytes(), false)?;

    clients(&mut w, &root, now, days, kind, &mut next)?;

    let mut made = Made {
        dir: options.dir.clone(),
        set: options.set,
        key_type: kind,
        files: Vec::new(),
        fixtures: FIXTURES.iter().collect(),
        not_made: NOT_MADE.to_vec(),
    };
    let text = readme(&made);
    w.write("README.md", text.as_bytes(), false)?;
    made.files = w.files;
    Ok(made)
}

/// Client certificates from the root CA (good, expired, revoked), one from an unrelated
/// CA, and the root's CRL revoking one.
fn clients(
    w: &mut Writer<'_>,
    root: &Issuer<'_, KeyPair>,
    now: SystemTime,
    days: i64,
    kind: KeyType,
    next: &mut impl FnMut() -> u64,
) -> Result<(), Error> {
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let issue = |cn: &str, from: i64, until: i64, issuer: &Issuer<'_, KeyPair>, serial: u64| {
        let key = new_key(kind)?;
        let mut p = leaf_params(&[], now, from, until, serial, client.clone())?;
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p
            .signed_by(&key, issuer)
            .map_err(|e| failed("a client certificate", e))?;
        Ok::<_, Error>((cert.pem(), key))
    };
    let (cert, key) = issue("good client", -1, days, root, next())?;
    w.pair("client/good", &cert, &key)?;
    let (cert, key) = issue("expired client", -30, -1, root, next())?;
    w.pair("client/expired", &cert, &key)?;
    let revoked_serial = next();
    let (cert, key) = issue("revoked client", -1, days, root, revoked_serial)?;
    w.pair("client/revoked", &cert, &key)?;
    let crl = CertificateRevocationListParams {
        this_update: time(days_from(now, -1)),
        next_update: time(days_from(now, 30)),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(revoked_serial),
            revocation_time: time(days_from(now, -1)),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(root)
    .map_err(|e| failed("the CRL", e))?;
    let crl_pem = crl.pem().map_err(|e| failed("the CRL", e))?;
    w.write("client/crl.pem", crl_pem.as_bytes(), false)?;
    let other =
        CertifiedIssuer::self_signed(ca_params("unrelated test CA", now, next())?, new_key(kind)?)
            .map_err(|e| failed("the unrelated CA", e))?;
    w.write("client/other-ca.crt", other.pem().as_bytes(), false)?;
    let (cert, key) = issue("client of another CA", -1, days, &other, next())?;
    w.pair("client/other", &cert, &key)?;
    Ok(())
}
