//! Client certificates (mutual TLS) with Node's semantics: `requestCert`,
//! `rejectUnauthorized`, `authorized`, `authorizationError`.
//!
//! rustls alone can require a certificate or make it optional, but it has no "complete the
//! handshake and mark the client unauthorized" mode. Our verifier wraps rustls's own
//! (webpki) verifier: it records what the client presented and what webpki said in the
//! handshake's own [`HandshakeRecord`], and in `Inspect` mode it lets the handshake complete
//! anyway.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};

use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::certificate::CertificateInfo;
use crate::tls::credentials::{self, Pem};
use crate::tls::record::HandshakeRecord;
use crate::util::time::openssl_time;

/// Whether and how clients must present a certificate (mutual TLS).
///
/// | mode | Node's options | without a certificate | with an invalid one |
/// |---|---|---|---|
/// | `Off` | `requestCert: false` | connects (none asked for) | — |
/// | `Optional` | — | connects, `authorized = false` | handshake fails, alert sent |
/// | `Required` | `requestCert: true, rejectUnauthorized: true` | handshake fails, `certificate_required` | handshake fails, alert sent |
/// | `Inspect` | `requestCert: true, rejectUnauthorized: false` | connects, `authorized = false` | connects, `authorized = false` + `authorization_error` |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No certificate is requested. The default.
    #[default]
    Off,
    /// A certificate is requested and verified if presented; clients without one connect
    /// unauthenticated.
    Optional,
    /// A valid certificate from one of the trusted CAs is required.
    Required,
    /// A certificate is requested and checked, but the handshake completes whatever the
    /// result; the socket reports it. Insecure by design: your code must check
    /// [`SocketInfo::authorized`](crate::SocketInfo::authorized). Logged as a warning at
    /// startup.
    Inspect,
}

impl ClientAuth {
    /// `off`, `optional`, `required`, `inspect`.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Off => "off",
            ClientAuth::Optional => "optional",
            ClientAuth::Required => "required",
            ClientAuth::Inspect => "inspect",
        }
    }

    /// Parses the names [`name`](Self::name) gives.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(ClientAuth::Off),
            "optional" => Some(ClientAuth::Optional),
            "required" => Some(ClientAuth::Required),
            "inspect" => Some(ClientAuth::Inspect),
            _ => None,
        }
    }
}

/// Why a client is not authorized. `code` follows OpenSSL's and Node's names
/// (`tlsSocket.authorizationError`), so it can be searched for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationError {
    /// `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`, `CERT_HAS_EXPIRED`, `CERT_NOT_YET_VALID`,
    /// `CERT_REVOKED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `INVALID_PURPOSE`, `INVALID_CA`,
    /// `NO_PEER_CERTIFICATE`, or `CERT_REJECTED` for anything else.
    pub code: &'static str,
    /// One sentence: what was wrong, with the certificate's names and times.
    pub message: String,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What the client presented during one handshake, and webpki's verdict.
#[derive(Default)]
pub(crate) struct Presented {
    pub chain: Vec<CertificateDer<'static>>,
    pub verdict: Option<rustls::Error>,
}

/// The trust settings, kept to explain rejections.
#[derive(Clone)]
pub(crate) struct Trust {
    pub mode: ClientAuth,
    /// One-line subjects of the trusted client CAs.
    pub ca_names: Vec<String>,
    /// How fixes name the CA setting.
    pub naming: Naming,
}

/// The client-certificate settings of a setup: webpki's verifier for our CAs and CRLs, the
/// mode, and what we trust (to explain refusals). Each handshake wraps the verifier in a
/// [`Recording`] that writes to that handshake's record.
#[derive(Clone)]
pub(crate) struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    mode: ClientAuth,
}

impl ClientVerifier {
    /// The verifier one handshake uses: ours, recording into `record`.
    pub(crate) fn recording(&self, record: &HandshakeRecord) -> Arc<dyn ClientCertVerifier> {
        Arc::new(Recording {
            inner: self.inner.clone(),
            mode: self.mode,
            record: record.clone(),
        })
    }
}

/// Builds the verifier for `mode`, or `None` for [`ClientAuth::Off`].
pub(crate) fn verifier(
    mode: ClientAuth,
    cas: &[Pem],
    crls: &[Pem],
    provider: &Arc<CryptoProvider>,
    naming: Naming,
) -> Result<(Option<ClientVerifier>, Trust), Error> {
    let mut trust = Trust {
        mode,
        ca_names: Vec::new(),
        naming,
    };
    if mode == ClientAuth::Off {
        return Ok((None, trust));
    }
    if cas.is_empty() {
        return Err(naming.error(
            Setting::ClientCa,
            format!(
                "client authentication \"{}\" needs the CA that issues client certificates",
                mode.name()
            ),
            format!("pass it with {}", naming.of(Setting::ClientCa)),
        ));
    }
    let mut roots = RootCertStore::empty();
    for pem in cas {
        for cert in credentials::load_certs(pem)? {
            if let Some(info) = CertificateInfo::parse(&cert, provider) {
                trust.ca_names.push(info.subject_line);
            }
            roots.add(cert).map_err(|e| {
                Error::credential(
                    pem.label(),
                    format!("a CA certificate cannot be used as a trust anchor ({e})"),
                    "pass the CA certificate (PEM) that issues the client certificates",
                )
            })?;
        }
    }
    let mut crl_list = Vec::new();
    for pem in crls {
        crl_list.extend(load_crls(pem)?);
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crl_list)
            // A CRL covers one CA; clients of CAs without a CRL here are not refused for it.
            .allow_unknown_revocation_status();
    if mode != ClientAuth::Required {
        builder = builder.allow_unauthenticated();
    }
    let inner = builder.build().map_err(|e| {
        naming.error(
            Setting::ClientCa,
            format!("cannot build the client verifier: {e}"),
            "check the CA and CRL files",
        )
    })?;
    if mode == ClientAuth::Inspect {
        log::warn!(
            "client-auth inspect: clients with a missing or invalid certificate are let in and marked unauthorized — check `authorized` before trusting one (Node's rejectUnauthorized: false)"
        );
    }
    Ok((Some(ClientVerifier { inner, mode }), trust))
}

fn load_crls(pem: &Pem) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
    let (label, data) = pem.read("CRL")?;
    let crls: Result<Vec<_>, _> = CertificateRevocationListDer::pem_slice_iter(&data).collect();
    match crls {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(Error::credential(
            label,
            "holds no \"-----BEGIN X509 CRL-----\" block",
            "pass the CA's certificate revocation list in PEM (convert DER with `openssl crl -inform der -in FILE -out FILE.pem`)",
        )),
        Err(e) => Err(Error::credential(
            label,
            format!("cannot be read as PEM ({e})"),
            "pass the CA's certificate revocation list in PEM",
        )),
    }
}

/// rustls's verifier, plus a record of the client certificate it saw in one handshake.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ClientCertVerifier>,
    mode: ClientAuth,
    record: HandshakeRecord,
}

impl ClientCertVerifier for Recording {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mode == ClientAuth::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        self.record.set_presented(Presented {
            chain,
            verdict: verdict.as_ref().err().cloned(),
        });
        match verdict {
            Err(_) if self.mode == ClientAuth::Inspect => Ok(ClientCertVerified::assertion()),
            other => other,
        }
    }

    // The proof that the client holds the certificate's key is always checked, in every
    // mode: `Inspect` relaxes trust in the certificate, never possession of its key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Node's `authorizationError` for a verdict on `leaf`, with one sentence naming the
/// certificate, our CAs and the times that matter.
pub(crate) fn authorization_error(
    verdict: Option<&rustls::Error>,
    leaf: Option<&CertificateInfo>,
    trust: &Trust,
) -> AuthorizationError {
    let Some(leaf) = leaf else {
        return AuthorizationError {
            code: "NO_PEER_CERTIFICATE",
            message: "the client sent no certificate".into(),
        };
    };
    let who = format!(
        "client certificate \"{}\" issued by \"{}\"",
        leaf.subject_line, leaf.issuer_line
    );
    let cas = if trust.ca_names.is_empty() {
        "(none)".to_string()
    } else {
        trust
            .ca_names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let now = openssl_time(SystemTime::now());
    let window = format!(
        "valid from {} to {}; our clock says {now}",
        leaf.valid_from, leaf.valid_to
    );
    let (code, message) = match verdict {
        None => ("CERT_REJECTED", format!("{who} was refused")),
        Some(rustls::Error::InvalidCertificate(e)) => match e {
            CertificateError::UnknownIssuer if leaf.self_issued => (
                "DEPTH_ZERO_SELF_SIGNED_CERT",
                format!("{who} is self-signed; we trust only certificates issued by {cas}"),
            ),
            CertificateError::UnknownIssuer => (
                "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
                format!("{who}: that issuer is not among our trusted CAs ({cas})"),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                "CERT_HAS_EXPIRED",
                format!("{who} has expired ({window})"),
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                "CERT_NOT_YET_VALID",
                format!("{who} is not valid yet ({window})"),
            ),
            CertificateError::Revoked => (
                "CERT_REVOKED",
                format!("{who} (serial {}) is revoked by the CRL we were given", leaf.serial),
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                "INVALID_PURPOSE",
                format!(
                    "{who} is not for client authentication: its extended key usage is {}, without clientAuth",
                    if leaf.extended_key_usage.is_empty() { "absent".to_string() } else { leaf.extended_key_usage.join(", ") }
                ),
            ),
            CertificateError::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => (
                "INVALID_CA",
                format!("{who} is a CA certificate (basicConstraints CA:TRUE) used as a client certificate"),
            ),
            other => ("CERT_REJECTED", format!("{who} was refused: {other}")),
        },
        Some(other) => ("CERT_REJECTED", format!("{who} was refused: {other}")),
    };
    AuthorizationError { code, message }
}

/// The fix for an authorization error code.
pub(crate) fn fix_for(code: &str, naming: Naming) -> String {
    let ca = naming.of(Setting::ClientCa);
    match code {
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" | "DEPTH_ZERO_SELF_SIGNED_CERT" => return format!("issue the client certificate from a CA passed with {ca}, or add its CA with {ca} (and have the client send its intermediates)"),
        "NO_PEER_CERTIFICATE" => "configure the client with a certificate and key (e.g. `openssl s_client -cert client.crt -key client.key`, `curl --cert client.crt --key client.key`)",
        "CERT_HAS_EXPIRED" => "renew the client certificate",
        "CERT_NOT_YET_VALID" => "if the dates look right, check this machine's clock (boards without a battery-backed clock often start in 1970); otherwise wait until the start date",
        "CERT_REVOKED" => "the CA revoked this certificate: issue the client a new one",
        "INVALID_PURPOSE" => "issue a certificate with extendedKeyUsage clientAuth",
        "INVALID_CA" => "issue a leaf certificate (basicConstraints CA:FALSE) for the client",
        _ => "see the certificate details above and compare them with the trusted CAs",
    }
    .to_string()
}
