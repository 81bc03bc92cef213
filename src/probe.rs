//! A TLS client that connects and explains: what `tls-server probe HOST:PORT` prints, for
//! machines without `openssl s_client`.
//!
//! Verification is rustls's own (webpki): our verifier records the chain the server
//! presented and webpki's verdict, then returns that verdict unchanged, so a chain that
//! does not verify still aborts the handshake. The record only serves the explanation.

use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    Error as TlsError, PeerIncompatible, RootCertStore, SignatureScheme,
};

use crate::certificate::signature_name;
use crate::certificate::{openssl_time, CertificateInfo};
use crate::check::{chain_line, covering_name, system_trust_store, Check, Status};
use crate::credentials::{self, Pem};
use crate::diagnose::printable;
use crate::provider::{group_name, suite_name};
use crate::{Error, Provider, TlsVersion};

/// Where `--ca` defaults to when it is not given: the demo CA, as `serve` defaults to the
/// demo certificate.
const DEFAULT_CA: &str = "certs/ca.crt";

/// How many bytes of the server's first answer are kept to show a non-TLS reply.
const KEEP: usize = 4096;

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    target: String,
    server_name: Option<String>,
    ca: Vec<PathBuf>,
    client_cert: Option<(Pem, Pem)>,
    versions: Vec<TlsVersion>,
    alpn: Vec<Vec<u8>>,
    timeout: Duration,
    provider: Provider,
}

impl ProbeOptions {
    /// Probes `target` (`HOST:PORT`, `[IPv6]:PORT`) with TLS 1.2 and 1.3 offered, no ALPN,
    /// no client certificate, a 5 s timeout, and the default trust (see [`ProbeOptions::ca_file`]).
    pub fn new(target: impl Into<String>) -> Self {
        ProbeOptions {
            target: target.into(),
            server_name: None,
            ca: Vec::new(),
            client_cert: None,
            versions: Vec::new(),
            alpn: Vec::new(),
            timeout: Duration::from_secs(5),
            provider: Provider::default(),
        }
    }

    /// The name to send (SNI) and verify; defaults to the host of the target.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Adds a CA file to verify the server against. Without any, `certs/ca.crt` is used if
    /// it exists (the demo CA), else this machine's trust store.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca.push(path.into());
        self
    }

    /// A client certificate chain and its key, for servers that ask for one.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// The versions to offer (default: TLS 1.2 and 1.3).
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// ALPN protocols to offer, in preference order.
    pub fn alpn<S: AsRef<[u8]>>(mut self, protocols: &[S]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// How long to wait for the TCP connection, and then for the handshake.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The crypto provider.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }
}

/// How a probe ended. Names follow the server's [`Cause`](crate::Cause) names where the
/// failure is the same one seen from the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handshake completed and the server's certificate verified.
    Verified,
    /// The host name did not resolve.
    Resolve,
    /// The TCP connection was refused.
    Refused,
    /// No TCP connection, or no handshake, within the timeout.
    Timeout,
    /// The network said the address cannot be reached.
    Unreachable,
    /// The server answered with something that is not TLS.
    NotTls,
    /// The server closed the connection without an alert.
    PeerVanished,
    /// No protocol version in common.
    ProtocolVersion,
    /// No cipher suite in common.
    NoCommonCipher,
    /// No key-exchange group in common.
    NoCommonGroup,
    /// No signature scheme in common.
    NoCommonSignature,
    /// No ALPN protocol in common.
    AlpnMismatch,
    /// We rejected the server's certificate (chain, dates, name or purpose).
    CertificateRejected,
    /// There was no CA to verify the server's certificate against.
    NoTrust,
    /// The server wanted a client certificate, or rejected ours.
    ClientCertificate,
    /// The server sent another alert.
    PeerAlert,
    /// The server broke the TLS protocol, or another TLS error.
    Protocol,
}

impl Outcome {
    /// A stable kebab-case name: `verified`, `refused`, `not-tls`, ...
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Resolve => "resolve",
            Outcome::Refused => "refused",
            Outcome::Timeout => "timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::NotTls => "not-tls",
            Outcome::PeerVanished => "peer-vanished",
            Outcome::ProtocolVersion => "protocol-version",
            Outcome::NoCommonCipher => "no-common-cipher",
            Outcome::NoCommonGroup => "no-common-group",
            Outcome::NoCommonSignature => "no-common-signature",
            Outcome::AlpnMismatch => "alpn-mismatch",
            Outcome::CertificateRejected => "certificate-rejected",
            Outcome::NoTrust => "no-trust",
            Outcome::ClientCertificate => "client-certificate",
            Outcome::PeerAlert => "peer-alert",
            Outcome::Protocol => "protocol",
        }
    }
}

/// What a probe found, as far as it got.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProbeReport {
    /// The target as given.
    pub target: String,
    /// The address connected to (or the last one tried).
    pub addr: Option<SocketAddr>,
    /// The name sent as SNI (none for an IP address) and verified.
    pub server_name: String,
    /// What the certificate was verified against, in words.
    pub trust: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What happened, in one sentence.
    pub message: String,
    /// What to do; empty on success.
    pub fix: String,
    /// `TLSv1.3` or `TLSv1.2`, once the server chose.
    pub protocol: Option<String>,
    /// The cipher suite's IANA name, once the server chose.
    pub cipher: Option<String>,
    /// The key-exchange group, once known.
    pub group: Option<String>,
    /// The ALPN protocol the server selected.
    pub alpn: Option<String>,
    /// The certificates the server presented, in its order.
    pub chain: Vec<CertificateInfo>,
    /// Verification of the chain against the trusted CAs.
    pub verification: Option<Check>,
    /// Whether the certificate covers the server name.
    pub host_name: Option<Check>,
    /// The alert the server sent, e.g. `ProtocolVersion`.
    pub alert_received: Option<String>,
    /// rustls's error, if the handshake failed in rustls.
    pub tls_error: Option<TlsError>,
    /// The server's first bytes (up to 4 KiB).
    pub received: Vec<u8>,
    /// Time to connect.
    pub connect_time: Option<Duration>,
    /// Time from connected to handshake done (or failed).
    pub handshake_time: Option<Duration>,
    /// `Some` when the server asked for a client certificate: the CA names it accepts
    /// (often empty: many servers do not list them).
    pub client_cert_requested: Option<Vec<String>>,
    /// The subject of the client certificate we offered, if any.
    pub client_cert: Option<String>,
}

impl ProbeReport {
    /// Whether the handshake completed and the server's certificate verified.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Verified
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.target,
            self.outcome.name(),
            self.message
        )?;
        if !self.fix.is_empty() {
            write!(f, " — {}", self.fix)?;
        }
        Ok(())
    }
}

/// What the verifier saw: the chain and webpki's verdict.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    verdict: Option<Result<(), TlsError>>,
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
struct Trust {
    roots: RootCertStore,
    /// `certs/check/root.crt`, `certs/ca.crt (default: no --ca given)`, ...
    described: String,
}

fn load_trust(options: &ProbeOptions) -> Result<Trust, Error> {
    let mut roots = RootCertStore::empty();
    let add = |roots: &mut RootCertStore, path: &PathBuf| -> Result<(), Error> {
        for der in credentials::load_certs(&Pem::File(path.clone()))? {
            roots.add(der).map_err(|e| {
                Error::credential(
                    path,
                    format!("holds a certificate that cannot be used as a trust anchor ({e}) — pass the CA certificate (PEM) that issued the server's chain"),
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
    let default = PathBuf::from(DEFAULT_CA);
    if default.is_file() {
        add(&mut roots, &default)?;
        return Ok(Trust {
            roots,
            described: format!("{DEFAULT_CA} (the default: no --ca given)"),
        });
    }
    if let Some((path, certs)) = system_trust_store() {
        let (added, _) = roots.add_parsable_certificates(certs);
        if added > 0 {
            return Ok(Trust {
                roots,
                described: format!(
                    "this machine's trust store {} (no --ca given)",
                    path.display()
                ),
            });
        }
    }
    Ok(Trust {
        roots,
        described: "nothing (no --ca given, no certs/ca.crt, no system trust store found)".into(),
    })
}

/// `host:port`, `[v6]:port` → (host, port).
fn split_target(target: &str) -> Option<(String, u16)> {
    if let Some(rest) = target.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host.to_string(), port.parse().ok()?));
    }
    let (host, port) = target.rsplit_once(':')?;
    if host.is_empty() || host.contains(':') {
        return None; // a bare IPv6 address needs brackets to tell the port apart
    }
    Some((host.to_string(), port.parse().ok()?))
}

/// Connects to `options.target`, runs one handshake, and explains the result. `Err` only
/// for our own mistakes (an unreadable --ca file, a bad target or server name); every
/// failure on the way to the server or in the handshake is a report.
pub fn probe(options: &ProbeOptions) -> Result<ProbeReport, Error> {
    let (host, port) = split_target(&options.target).ok_or_else(|| {
        Error::option(
            "HOST:PORT",
            format!(
                "{:?} is not HOST:PORT — e.g. localhost:8000, 127.0.0.1:443 or [::1]:8443",
                options.target
            ),
        )
    })?;
    let name_text = options.server_name.clone().unwrap_or_else(|| host.clone());
    let server_name = ServerName::try_from(name_text.clone()).map_err(|_| {
        Error::option(
            "--servername",
            format!("{name_text:?} is neither a DNS name nor an IP address — pass a name such as example.com with --servername"),
        )
    })?;
    let provider = Arc::new(options.provider.crypto_provider());
    let trust = load_trust(options)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let asked = Arc::new(Mutex::new(None));
    let (config, client_cert) =
        client_config(options, &provider, &trust, seen.clone(), asked.clone())?;
    let mut conn = ClientConnection::new(config, server_name).map_err(Error::Tls)?;

    let mut report = ProbeReport {
        target: options.target.clone(),
        addr: None,
        server_name: name_text.clone(),
        trust: trust.described.clone(),
        outcome: Outcome::Protocol,
        message: String::new(),
        fix: String::new(),
        protocol: None,
        cipher: None,
        group: None,
        alpn: None,
        chain: Vec::new(),
        verification: None,
        host_name: None,
        alert_received: None,
        tls_error: None,
        received: Vec::new(),
        connect_time: None,
        handshake_time: None,
        client_cert_requested: None,
        client_cert,
    };

    // --- TCP ---------------------------------------------------------------------------
    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            report.outcome = Outcome::Resolve;
            report.message = format!("cannot resolve {host}: {e}");
            report.fix =
                "check the host name for typos, and this machine's DNS (`getent hosts NAME`)"
                    .into();
            return Ok(report);
        }
    };
    let started = Instant::now();
    let mut tcp = None;
    let mut last_error = None;
    for addr in &addrs {
        let left = options.timeout.saturating_sub(started.elapsed());
        report.addr = Some(*addr);
        if left.is_zero() {
            last_error = Some(io::Error::from(io::ErrorKind::TimedOut));
            break;
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some(mut tcp) = tcp else {
        connect_failed(&mut report, &addrs, last_error, options.timeout);
        return Ok(report);
    };
    report.connect_time = Some(started.elapsed());
    let _ = tcp.set_nodelay(true);

    // --- handshake -----------------------------------------------------------------------
    let started = Instant::now();
    let result = handshake(&mut conn, &mut tcp, options.timeout, &mut report.received);
    report.handshake_time = Some(started.elapsed());
    record_negotiation(&conn, &mut report);
    report.client_cert_requested = asked.lock().unwrap_or_else(|e| e.into_inner()).take();
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let now = SystemTime::now();
    record_certificates(&seen, &trust, &name_text, &provider, now, &mut report);

    match result {
        Ok(()) => {
            let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
            if report.client_cert_requested.is_some() && tls13 {
                // With TLS 1.3 the server judges our certificate (or its absence) after our
                // Finished, so a refusal arrives after the handshake completed on our side.
                if let Err(failure) = await_verdict(&mut conn, &mut tcp, options.timeout) {
                    explain_failure(failure, &seen, options, &trust, now, &mut report);
                    return Ok(report);
                }
            } else {
                close_cleanly(&mut conn, &mut tcp, options.timeout);
            }
            report.outcome = Outcome::Verified;
            report.message = format!(
                "verified {} handshake with {}",
                report.protocol.as_deref().unwrap_or("TLS"),
                report.addr.map(|a| a.to_string()).unwrap_or_default()
            );
        }
        Err(failure) => explain_failure(failure, &seen, options, &trust, now, &mut report),
    }
    Ok(report)
}

/// The client configuration, and the subject of our client certificate if we have one.
fn client_config(
    options: &ProbeOptions,
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
            .map_err(|e| Error::option("--ca", format!("cannot build a verifier: {e}")))?,
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

fn connect_failed(
    report: &mut ProbeReport,
    addrs: &[SocketAddr],
    error: Option<io::Error>,
    timeout: Duration,
) {
    let tried = addrs
        .iter()
        .map(SocketAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(e) = error else {
        report.outcome = Outcome::Resolve;
        report.message = format!("{} resolved to no address", report.target);
        report.fix = "check the host name and this machine's DNS".into();
        return;
    };
    let (outcome, message, fix) = match e.kind() {
        io::ErrorKind::ConnectionRefused => (
            Outcome::Refused,
            format!("connection refused by {tried}: nothing is listening there, or a firewall rejects the connection"),
            "start the server, or check the port (`ss -ltn` on the server shows what listens); a server bound to 127.0.0.1 cannot be reached from another machine",
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            Outcome::Timeout,
            format!("no answer from {tried} within {timeout:?}: the packets are dropped by a firewall, or the address is wrong"),
            "check the address and port, and the firewalls between here and the server; raise --timeout for a very slow network",
        ),
        _ => (
            Outcome::Unreachable,
            format!("cannot connect to {tried}: {e}"),
            "check the address, this machine's network and routes (`ip route get ADDRESS`)",
        ),
    };
    report.outcome = outcome;
    report.message = message;
    report.fix = fix.into();
}

/// Why the handshake stopped.
enum Failure {
    Tls(TlsError),
    /// The server closed the connection (EOF) before the handshake finished.
    Closed,
    Timeout(Duration),
    Io(io::Error),
}

/// Drives the handshake by hand, keeping the first bytes the server sends so a non-TLS
/// answer can be shown. Each read waits at most until the handshake deadline.
fn handshake(
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
        let keep = n.min(KEEP.saturating_sub(received.len()));
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
fn await_verdict(
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
fn close_cleanly(conn: &mut ClientConnection, tcp: &mut TcpStream, timeout: Duration) {
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

fn record_negotiation(conn: &ClientConnection, report: &mut ProbeReport) {
    report.protocol = conn
        .protocol_version()
        .map(|v| crate::client_hello::version_name(u16::from(v)));
    report.cipher = conn.negotiated_cipher_suite().map(|s| suite_name(&s));
    report.group = conn
        .negotiated_key_exchange_group()
        .map(|g| group_name(g.name()));
    report.alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
}

/// The chain lines, the verification verdict and the host-name check.
fn record_certificates(
    seen: &Seen,
    trust: &Trust,
    name: &str,
    provider: &CryptoProvider,
    now: SystemTime,
    report: &mut ProbeReport,
) {
    report.chain = seen
        .chain
        .iter()
        .filter_map(|der| CertificateInfo::parse(der, provider))
        .collect();
    let Some(verdict) = &seen.verdict else {
        return;
    };
    report.verification = Some(match verdict {
        _ if trust.roots.is_empty() => Check {
            check: "verification",
            status: Status::Error,
            message: "not verified: there is no CA to verify against".into(),
            fix: "pass --ca FILE with the CA that issued the server's certificate".into(),
        },
        // webpki checks the chain before the name: a name error means the chain is fine.
        Ok(())
        | Err(TlsError::InvalidCertificate(CertificateError::NotValidForName))
        | Err(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            Check {
                check: "verification",
                status: Status::Ok,
                message: format!(
                    "the chain leads to a CA in {}{}",
                    trust.described,
                    anchor_name(&report.chain)
                ),
                fix: String::new(),
            }
        }
        Err(e) => {
            let (why, fix) = explain_verification(e, &trust.described, &seen.chain, provider, now);
            Check {
                check: "verification",
                status: Status::Error,
                message: why,
                fix,
            }
        }
    });
    if let Some(leaf) = report.chain.first() {
        report.host_name = Some(match covering_name(leaf, name) {
            Some(san) => Check {
                check: "host-name",
                status: Status::Ok,
                message: format!("{name} is covered by {san}"),
                fix: String::new(),
            },
            None => Check {
                check: "host-name",
                status: Status::Error,
                message: format!(
                    "{name} is not among the certificate's names: {}",
                    names_of(leaf)
                ),
                fix: format!(
                    "connect with one of those names (or pass it with --servername), or have the certificate reissued with {name} in its subjectAltName"
                ),
            },
        });
    }
}

/// ` (issued by CN=…)` for the last certificate in the chain, the one a CA vouches for.
fn anchor_name(chain: &[CertificateInfo]) -> String {
    match chain.last() {
        Some(c) if !c.self_issued => format!(": {}", c.issuer_line),
        _ => String::new(),
    }
}

fn names_of(c: &CertificateInfo) -> String {
    if c.subject_alt_names.is_empty() {
        format!(
            "none — it has no subjectAltName, only CN={}, which modern clients ignore",
            c.common_name().unwrap_or("(none)")
        )
    } else {
        c.subject_alt_names.join(", ")
    }
}

/// A certificate verification error in words, with the certificates' own names and dates.
/// Shared with `check`, which verifies the same way.
// The deprecated context-free variants are still produced by other verifiers.
#[allow(deprecated)]
pub(crate) fn explain_verification(
    e: &TlsError,
    trust: &str,
    chain: &[CertificateDer<'_>],
    provider: &CryptoProvider,
    now: SystemTime,
) -> (String, String) {
    let infos: Vec<CertificateInfo> = chain
        .iter()
        .filter_map(|d| CertificateInfo::parse(d, provider))
        .collect();
    let clock = openssl_time(now);
    let TlsError::InvalidCertificate(ce) = e else {
        return (
            format!("verification failed: {e}"),
            "see the certificate details above".into(),
        );
    };
    let who = |pick: &dyn Fn(&CertificateInfo) -> bool| {
        infos
            .iter()
            .enumerate()
            .find(|(_, c)| pick(c))
            .map(|(i, c)| format!("certificate #{} ({})", i + 1, c.subject_line))
            .unwrap_or_else(|| "a certificate in the chain".into())
    };
    match ce {
        CertificateError::UnknownIssuer => {
            let Some(last) = infos.last() else {
                return (format!("the chain does not lead to a CA in {trust}"), "pass the CA that issued the server's certificate with --ca".into());
            };
            if infos.len() == 1 && last.self_issued {
                (
                    format!("the certificate ({}) is self-signed and is not in {trust}", last.subject_line),
                    "if you trust this server, pass its certificate itself with --ca; better, give the server a certificate from a CA".into(),
                )
            } else if infos.len() == 1 {
                (
                    format!(
                        "the server's certificate ({}) is issued by {}, which is not in {trust} — and the server sends no intermediate, so if {} is an intermediate CA the server's chain is incomplete",
                        last.subject_line, last.issuer_line, last.issuer_line
                    ),
                    "pass the CA that issued it with --ca; if it is an intermediate, the server must send it after its own certificate (e.g. fullchain.pem)".into(),
                )
            } else {
                (
                    format!(
                        "the chain ends at {}, issued by {}, which is not in {trust}",
                        last.subject_line, last.issuer_line
                    ),
                    format!("pass the CA {} with --ca (ask the server's operator for it), or check that the server sends the chain for the right CA", last.issuer_line),
                )
            }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let expired = who(&|c: &CertificateInfo| c.not_after < now);
            let when = infos
                .iter()
                .find(|c| c.not_after < now)
                .map(|c| format!(" on {}", c.valid_to))
                .unwrap_or_default();
            (
                format!("{expired} expired{when}; our clock says {clock}"),
                "renew the server's certificate; if it is not really expired, this machine's clock is wrong".into(),
            )
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let early = who(&|c: &CertificateInfo| c.not_before > now);
            let when = infos
                .iter()
                .find(|c| c.not_before > now)
                .map(|c| format!(" before {}", c.valid_from))
                .unwrap_or_default();
            (
                format!("{early} is not valid{when}; our clock says {clock} — one of the two clocks (ours or the issuer's) may be wrong"),
                "check this machine's clock (`date -u`, NTP); if it is right, the certificate was issued with a future start date".into(),
            )
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
            format!(
                "the server's certificate is not for TLS servers: its extendedKeyUsage is {} without serverAuth",
                infos
                    .first()
                    .map(|c| c.extended_key_usage.join(", "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "other purposes".into())
            ),
            "have the certificate reissued with extendedKeyUsage = serverAuth".into(),
        ),
        CertificateError::BadSignature => (
            "a signature in the chain does not verify: a certificate was altered, or is paired with the wrong issuer".into(),
            "check that the server sends its own certificate followed by the intermediate that really issued it".into(),
        ),
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => (
            format!(
                "the chain uses a signature algorithm rustls does not accept ({})",
                infos
                    .iter()
                    .filter(|c| !c.self_issued)
                    .map(|c| signature_name(&c.signature_algorithm).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "have the certificate reissued with a SHA-256 (or stronger) signature; SHA-1 is refused everywhere".into(),
        ),
        CertificateError::BadEncoding => (
            "a certificate in the chain is malformed".into(),
            "export the server's certificate again".into(),
        ),
        CertificateError::Revoked => (
            "the certificate has been revoked".into(),
            "the server needs a new certificate".into(),
        ),
        other => {
            let text = format!("{other:?}");
            if text.contains("CaUsedAsEndEntity") {
                (
                    "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which clients refuse as a server's".into(),
                    "issue a server certificate (CA:FALSE, extendedKeyUsage serverAuth) from that CA and use it instead".into(),
                )
            } else if text.contains("EndEntityUsedAsCa") {
                (
                    "a certificate in the chain that issued another is not a CA (basicConstraints CA:FALSE or absent)".into(),
                    "check the chain order: the server's certificate first, then the CA certificates that issued it".into(),
                )
            } else {
                (format!("the certificate was refused: {other}"), "see the chain above".into())
            }
        }
    }
}

/// Nothing yet, or the start of a TLS record (the same test the server applies).
fn looks_like_tls(b: &[u8]) -> bool {
    b.is_empty() || crate::diagnose::looks_like_tls(b)
}

/// What a non-TLS answer is, and where to go instead.
fn identify_reply(b: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(&b[..b.len().min(16)]);
    if text.starts_with("HTTP/") {
        (
            "a plain-HTTP response".into(),
            "this port serves plain HTTP: use http:// here, or find the HTTPS port (often 443)"
                .into(),
        )
    } else if text.starts_with("SSH-") {
        (
            "an SSH banner".into(),
            "this port runs SSH, not TLS: find the TLS port of the service you meant".into(),
        )
    } else if text.starts_with('<')
        && String::from_utf8_lossy(&b[..b.len().min(64)])
            .to_ascii_lowercase()
            .contains("html")
    {
        (
            "an HTML page (a plain-HTTP server, answering our ClientHello as a bad request)".into(),
            "this port serves plain HTTP: use http:// here, or find the HTTPS port (often 443)"
                .into(),
        )
    } else if text.starts_with("220") || text.starts_with("+OK") || text.starts_with("* OK") {
        (
            "a plain-text greeting (SMTP, FTP, POP3 or IMAP)".into(),
            "this service starts in plain text and may offer STARTTLS; probe its implicit-TLS port instead (465, 990, 995, 993)".into(),
        )
    } else if b
        .iter()
        .take(32)
        .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        (
            "plain text".into(),
            "this port does not speak TLS: check the port number".into(),
        )
    } else {
        (
            "bytes that are not a TLS record".into(),
            "this port does not speak TLS: check the port number and the protocol".into(),
        )
    }
}

fn explain_failure(
    failure: Failure,
    seen: &Seen,
    options: &ProbeOptions,
    trust: &Trust,
    now: SystemTime,
    report: &mut ProbeReport,
) {
    let offered_versions = if options.versions.is_empty() {
        "TLSv1.3 and TLSv1.2".to_string()
    } else {
        options
            .versions
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let received = report.received.clone();
    let (outcome, message, fix): (Outcome, String, String) = match &failure {
        _ if !looks_like_tls(&received) => {
            let (what, fix) = identify_reply(&received);
            (
                Outcome::NotTls,
                format!(
                    "the server is not speaking TLS: it answered with {what}: {}",
                    printable(&received, 120)
                ),
                fix,
            )
        }
        Failure::Closed => (
            Outcome::PeerVanished,
            if received.is_empty() {
                "the server closed the connection without answering our ClientHello, and without an alert".into()
            } else {
                "the server closed the connection mid-handshake without an alert".into()
            },
            "it may not speak TLS on this port, or it refused us silently (an unknown server name, an IP filter): check its log, and try --servername with the name it serves".into(),
        ),
        Failure::Timeout(t) => (
            Outcome::Timeout,
            if received.is_empty() {
                format!("connected, but the server sent nothing within {t:?} after our ClientHello")
            } else {
                format!("the handshake did not finish within {t:?}")
            },
            "the service may not speak TLS (a protocol where the client talks first, but not TLS), or it is overloaded; check the port, or raise --timeout".into(),
        ),
        Failure::Io(e) => (
            Outcome::Unreachable,
            format!("the connection failed during the handshake: {e}"),
            if e.kind() == io::ErrorKind::ConnectionReset {
                "the server (or a firewall) reset the connection: check the server's log; some servers reset instead of sending an alert".into()
            } else {
                "check the network between here and the server".into()
            },
        ),
        Failure::Tls(e) => explain_tls(e, seen, options, trust, now, &offered_versions, report),
    };
    if let Failure::Tls(e) = &failure {
        if let TlsError::AlertReceived(a) = e {
            report.alert_received = Some(format!("{a:?}"));
        }
        report.tls_error = Some(e.clone());
    }
    report.outcome = outcome;
    report.message = message;
    report.fix = fix;
}

fn explain_tls(
    e: &TlsError,
    seen: &Seen,
    options: &ProbeOptions,
    trust: &Trust,
    now: SystemTime,
    offered_versions: &str,
    report: &ProbeReport,
) -> (Outcome, String, String) {
    let offered_alpn = options
        .alpn
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    let sent_cert = options.client_cert.is_some();
    match e {
        TlsError::InvalidCertificate(_) => {
            if trust.roots.is_empty() {
                return (
                    Outcome::NoTrust,
                    "the handshake stopped at the server's certificate: there is no CA to verify it against (no --ca given, no certs/ca.crt, no system trust store)".into(),
                    "pass --ca FILE with the CA that issued the server's certificate".into(),
                );
            }
            let (why, fix) = match (&report.verification, &report.host_name) {
                (Some(v), _) if v.status != Status::Ok => (v.message.clone(), v.fix.clone()),
                (_, Some(h)) if h.status != Status::Ok => (h.message.clone(), h.fix.clone()),
                _ => explain_verification(e, &trust.described, &seen.chain, &options.provider.crypto_provider(), now),
            };
            (
                Outcome::CertificateRejected,
                format!("we rejected the server's certificate: {why}"),
                fix,
            )
        }
        TlsError::AlertReceived(alert) => explain_alert(*alert, offered_versions, &offered_alpn, sent_cert, report),
        TlsError::PeerIncompatible(p) => match p {
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired => (
                Outcome::ProtocolVersion,
                format!("the server chose a protocol version we did not offer (we offered {offered_versions})"),
                "the server is too old for TLS 1.2 or later; upgrade it".into(),
            ),
            other => (
                Outcome::Protocol,
                format!("the server's reply is incompatible with our offer: {other:?}"),
                "compare the server's configuration with ours (versions, suites, groups)".into(),
            ),
        },
        TlsError::NoApplicationProtocol => (
            Outcome::AlpnMismatch,
            format!("no ALPN protocol in common: we offered {offered_alpn}"),
            "offer a protocol the server supports with --alpn".into(),
        ),
        TlsError::InvalidMessage(m) => (
            Outcome::Protocol,
            format!("the server sent a malformed TLS message ({m:?})"),
            "the server's TLS library is broken, or something in between altered the bytes".into(),
        ),
        other => (
            Outcome::Protocol,
            format!("TLS error: {other}"),
            "see the server's log for its side of the story".into(),
        ),
    }
}

/// An alert from the server, as what it most likely means.
fn explain_alert(
    alert: AlertDescription,
    offered_versions: &str,
    offered_alpn: &str,
    sent_cert: bool,
    report: &ProbeReport,
) -> (Outcome, String, String) {
    use AlertDescription as A;
    let server_name = &report.server_name;
    let accepted_cas = match &report.client_cert_requested {
        Some(cas) if !cas.is_empty() => {
            format!(" (it accepts certificates from {})", cas.join("; "))
        }
        _ => String::new(),
    };
    match alert {
        A::ProtocolVersion => (
            Outcome::ProtocolVersion,
            format!("the server accepts none of the protocol versions we offered ({offered_versions}) (alert ProtocolVersion)"),
            "offer another version (drop --tls1.2 / --tls1.3 to offer both), or enable this version on the server (tls-server: --tls-versions 1.2,1.3)".into(),
        ),
        A::NoApplicationProtocol => (
            Outcome::AlpnMismatch,
            format!(
                "the server speaks none of the ALPN protocols we offered ({}) (alert NoApplicationProtocol)",
                if offered_alpn.is_empty() { "none" } else { offered_alpn }
            ),
            "offer a protocol the server supports with --alpn (e.g. h2 or http/1.1), or add ours to the server's --alpn list".into(),
        ),
        A::HandshakeFailure | A::InsufficientSecurity => (
            Outcome::PeerAlert,
            format!("the server found nothing acceptable in our ClientHello (alert {alert:?}): no cipher suite, key-exchange group or signature scheme in common{}", if sent_cert { "" } else { ", or it requires a client certificate" }),
            "compare the server's versions, suites and groups with ours; its log says which (tls-server logs the client's offer)".into(),
        ),
        A::CertificateRequired => (
            Outcome::ClientCertificate,
            format!("the server requires a client certificate, and we sent none (alert CertificateRequired){accepted_cas}"),
            "pass --cert and --key with a client certificate issued by a CA the server trusts".into(),
        ),
        A::BadCertificate
        | A::UnsupportedCertificate
        | A::CertificateRevoked
        | A::CertificateExpired
        | A::CertificateUnknown
        | A::UnknownCA
        | A::AccessDenied
            if sent_cert =>
        {
            (
                Outcome::ClientCertificate,
                format!(
                    "the server rejected our client certificate{} (alert {alert:?}){accepted_cas}",
                    report.client_cert.as_deref().map(|s| format!(" {s}")).unwrap_or_default()
                ),
                "use a client certificate issued by a CA the server trusts, valid now, with extendedKeyUsage clientAuth; the server's log says which check failed".into(),
            )
        }
        A::UnrecognisedName => (
            Outcome::PeerAlert,
            format!("the server does not serve the name we sent, {server_name} (alert UnrecognisedName)"),
            "pass a name the server serves with --servername".into(),
        ),
        A::InternalError => (
            Outcome::PeerAlert,
            "the server hit an internal error (alert InternalError)".into(),
            "see the server's log".into(),
        ),
        A::DecodeError | A::IllegalParameter | A::UnexpectedMessage | A::DecryptError => (
            Outcome::Protocol,
            format!("the server could not process our messages (alert {alert:?})"),
            "a bug on one side, or a middlebox altering the bytes; see the server's log".into(),
        ),
        other => (
            Outcome::PeerAlert,
            format!("the server aborted the handshake with alert {other:?}"),
            "see the server's log for why".into(),
        ),
    }
}

impl ProbeReport {
    /// The presented chain as `#1 CN=leaf → CN=issuer (…)` lines, in the server's order.
    pub fn chain_lines(&self) -> Vec<String> {
        self.chain
            .iter()
            .enumerate()
            .map(|(i, c)| chain_line(i, c))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_host_and_port() {
        assert_eq!(
            split_target("localhost:8000"),
            Some(("localhost".into(), 8000))
        );
        assert_eq!(split_target("[::1]:443"), Some(("::1".into(), 443)));
        assert_eq!(split_target("::1:443"), None);
        assert_eq!(split_target("localhost"), None);
        assert_eq!(split_target(":443"), None);
        assert_eq!(split_target("host:99999"), None);
    }

    #[test]
    fn replies_are_recognised() {
        assert!(looks_like_tls(&[22, 3, 3, 0, 10]));
        assert!(looks_like_tls(&[21]));
        assert!(!looks_like_tls(b"SSH-2.0-x\r\n"));
        assert_eq!(
            identify_reply(b"SSH-2.0-OpenSSH_9.6\r\n").0,
            "an SSH banner"
        );
        assert_eq!(
            identify_reply(b"HTTP/1.1 400 Bad Request\r\n").0,
            "a plain-HTTP response"
        );
        assert_eq!(
            identify_reply(b"220 mail ESMTP\r\n").0,
            "a plain-text greeting (SMTP, FTP, POP3 or IMAP)"
        );
        assert_eq!(
            identify_reply(&[0, 1, 2, 0xff]).0,
            "bytes that are not a TLS record"
        );
    }
}
