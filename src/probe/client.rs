//! The probing client: a rustls client configuration whose verifier records what the
//! server presented, the trust to verify against, and the handshake driven by hand so the
//! server's first bytes are kept (to show a server that does not speak TLS).

use std::io::{self, Read};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, Error as TlsError,
    RootCertStore, SignatureScheme,
};

use super::Options;
use crate::error::Error;
use crate::explain::sniff::FIRST_BYTES;
use crate::setting::Setting;
use crate::tls::credentials::{self, Pem};
use crate::tls::{trust_store, CertificateInfo, TlsVersion};

/// What the verifier saw: the chain and webpki's verdict.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    pub verdict: Option<Result<(), TlsError>>,
}

/// Records the presented chain, then returns the real verifier's verdict unchanged.
#[derive(Debug)]
struct Recorder {
    /// `None` when there is nothing to trust: every certificate is then refused.
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let verdict = match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        seen.verdict = Some(verdict.as_ref().map(|_| ()).map_err(Clone::clone));
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Our client certificate, if any, and a record of the server asking for one (with the CA
/// names it listed): rustls calls `resolve` exactly when a CertificateRequest arrives.
#[derive(Debug)]
struct ClientCert {
    key: Option<Arc<CertifiedKey>>,
    asked: Arc<Mutex<Option<Vec<String>>>>,
}

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let names = root_hint_subjects.iter().map(|n| name_text(n)).collect();
        *self.asked.lock().unwrap_or_else(|e| e.into_inner()) = Some(names);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// A CA name from a CertificateRequest (DER, with its SEQUENCE header) as `CN=…, O=…`.
fn name_text(der: &[u8]) -> String {
    use x509_parser::prelude::{FromDer, X509Name};
    match X509Name::from_der(der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => format!("({} bytes that are not an X.500 name)", der.len()),
    }
}

/// The trust anchors and how to name them.
pub(super) struct Trust {
    pub roots: RootCertStore,
    /// `certs/check/root.crt`, `certs/ca.crt (default: no --ca given)`, ...
    pub described: String,
}

pub(super) fn load_trust(options: &Options) -> Result<Trust, Error> {
    let mut roots = RootCertStore::empty();
    let add = |roots: &mut RootCertStore, path: &PathBuf| -> Result<(), Error> {
        for der in credentials::load_certs(&Pem::File(path.clone()))? {
            roots.add(der).map_err(|e| {
                Error::credential(
                    path,
                    format!("holds a certificate that cannot be used as a trust anchor ({e})"),
                    "pass the CA certificate (PEM) that issued the server's chain",
                )
            })?;
        }
        Ok(())
    };
    if !options.ca.is_empty() {
        for path in &options.ca {
            add(&mut roots, path)?;
        }
        let described = options
            .ca
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(Trust { roots, described });
    }
    if let Some((path, certs)) = trust_store::system() {
        let (added, _) = roots.add_parsable_certificates(certs);
        if added > 0 {
            return Ok(Trust {
                roots,
                described: format!("this machine's trust store {}", path.display()),
            });
        }
    }
    Ok(Trust {
        roots,
        described: "nothing (no CA given, and no system trust store found)".into(),
    })
}

/// The client configuration, and the subject of our client certificate if we have one.
pub(super) fn config(
    options: &Options,
    provider: &Arc<CryptoProvider>,
    trust: &Trust,
    seen: Arc<Mutex<Seen>>,
    asked: Arc<Mutex<Option<Vec<String>>>>,
) -> Result<(Arc<ClientConfig>, Option<String>), Error> {
    let inner = if trust.roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(trust.roots.clone()),
                provider.clone(),
            )
            .build()
            .map_err(|e| {
                options.naming.error(
                    Setting::ProbeCa,
                    format!("cannot build a verifier: {e}"),
                    "pass the CA certificate (PEM) that issued the server's chain",
                )
            })?,
        )
    };
    let recorder = Recorder {
        inner,
        provider: provider.clone(),
        seen,
    };
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = if options.versions.is_empty() {
        vec![&rustls::version::TLS13, &rustls::version::TLS12]
    } else {
        options
            .versions
            .iter()
            .map(|v| match v {
                TlsVersion::Tls12 => &rustls::version::TLS12,
                _ => &rustls::version::TLS13,
            })
            .collect()
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(recorder));
    // load_certified_key explains a swapped, mismatched or encrypted pair, as for serve.
    let key = match &options.client_cert {
        None => None,
        Some((cert, key)) => Some(credentials::load_certified_key(cert, key, provider)?),
    };
    let subject = key.as_ref().and_then(|k| {
        k.cert
            .first()
            .and_then(|der| CertificateInfo::parse(der, provider))
            .map(|c| c.subject_line)
    });
    let mut config = builder.with_client_cert_resolver(Arc::new(ClientCert { key, asked }));
    config.alpn_protocols = options.alpn.clone();
    Ok((Arc::new(config), subject))
}

/// Why the handshake stopped.
pub(super) enum Failure {
    Tls(TlsError),
    /// The server closed the connection (EOF) before the handshake finished.
    Closed,
    Timeout(Duration),
    Io(io::Error),
}

/// Drives the handshake by hand, keeping the first bytes the server sends so a non-TLS
/// answer can be shown. Each read waits at most until the handshake deadline.
pub(super) fn handshake(
    conn: &mut ClientConnection,
    tcp: &mut TcpStream,
    timeout: Duration,
    received: &mut Vec<u8>,
) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while conn.wants_write() {
            conn.write_tls(tcp).map_err(Failure::Io)?;
        }
        if !conn.is_handshaking() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout(timeout));
        }
        tcp.set_read_timeout(Some(left)).map_err(Failure::Io)?;
        let n = match tcp.read(&mut buf) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Failure::Timeout(timeout))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e)),
        };
        let keep = n.min(FIRST_BYTES.saturating_sub(received.len()));
        received.extend_from_slice(&buf[..keep]);
        feed(conn, tcp, &buf[..n])?;
    }
}

/// Hands bytes to rustls; on an error, sends the alert rustls queued before reporting it.
fn feed(conn: &mut ClientConnection, tcp: &mut TcpStream, mut bytes: &[u8]) -> Result<(), Failure> {
    while !bytes.is_empty() {
        conn.read_tls(&mut bytes).map_err(Failure::Io)?;
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(tcp);
            return Err(Failure::Tls(e));
        }
    }
    Ok(())
}

/// How long to wait for the server's verdict on our client certificate in TLS 1.3 when it
/// says nothing: a server that accepts but sends no session ticket is silent.
const VERDICT_WAIT: Duration = Duration::from_secs(2);

/// After a TLS 1.3 handshake in which the server asked for a client certificate: the
/// server judges it after our Finished, so wait for its next record. Session tickets mean
/// it accepted (they can only follow our Finished); an alert means it refused. Only then
/// close_notify — sent earlier, it could reach the server in the same read as our Finished.
pub(super) fn await_verdict(
    conn: &mut ClientConnection,
    tcp: &mut TcpStream,
    timeout: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout.min(VERDICT_WAIT);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break; // no news: accepted
        }
        tcp.set_read_timeout(Some(left)).map_err(Failure::Io)?;
        match tcp.read(&mut buf) {
            Ok(0) => return Err(Failure::Closed),
            Ok(n) => {
                feed(conn, tcp, &buf[..n])?;
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Io(e)),
        }
    }
    close_cleanly(conn, tcp, timeout);
    Ok(())
}

/// close_notify, our FIN, then read until the server closes too, so that closing the socket
/// with its tickets or close_notify unread does not reset the connection (which the server
/// would report as an error).
pub(super) fn close_cleanly(conn: &mut ClientConnection, tcp: &mut TcpStream, timeout: Duration) {
    conn.send_close_notify();
    while conn.wants_write() {
        if conn.write_tls(tcp).is_err() {
            return;
        }
    }
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let _ = tcp.set_read_timeout(Some(timeout.min(Duration::from_secs(1))));
    let mut sink = [0u8; 4096];
    while let Ok(n) = tcp.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}
