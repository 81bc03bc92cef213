//! A TLS client that connects and explains: what `tls-server probe HOST:PORT` prints, for
//! machines without `openssl s_client`.
//!
//! ```no_run
//! use tls_server::probe;
//! let report = probe::probe(&probe::Options::new("localhost:8000").ca_file("certs/ca.crt"))?;
//! println!("{report}"); // localhost:8000 (verified): verified TLSv1.3 handshake with …
//! # Ok::<(), tls_server::Error>(())
//! ```
//!
//! Verification is rustls's own (webpki): our verifier records the chain the server
//! presented and webpki's verdict, then returns that verdict unchanged, so a chain that
//! does not verify still aborts the handshake. The record only serves the explanation.
//!
//! - `client.rs`: the client itself (configuration, trust, driving the handshake);
//! - `verdict.rs`: what each way of failing means, in words.

mod client;
mod verdict;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Error as TlsError};

use crate::check::Check;
use crate::error::Error;
use crate::setting::{Naming, Setting};
use crate::tls::credentials::Pem;
use crate::tls::{CertificateInfo, Provider, TlsVersion};
use crate::util::json::Obj;

use self::client::Seen;

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct Options {
    target: String,
    server_name: Option<String>,
    ca: Vec<PathBuf>,
    client_cert: Option<(Pem, Pem)>,
    versions: Vec<TlsVersion>,
    alpn: Vec<Vec<u8>>,
    timeout: Duration,
    provider: Provider,
    naming: Naming,
}

impl Options {
    /// Probes `target` (`HOST:PORT`, `[IPv6]:PORT`) with TLS 1.2 and 1.3 offered, no ALPN,
    /// no client certificate, a 5 s timeout, and this machine's trust store (see
    /// [`Options::ca_file`]).
    pub fn new(target: impl Into<String>) -> Self {
        Options {
            target: target.into(),
            server_name: None,
            ca: Vec::new(),
            client_cert: None,
            versions: Vec::new(),
            alpn: Vec::new(),
            timeout: Duration::from_secs(5),
            provider: Provider::default(),
            naming: Naming::default(),
        }
    }

    /// The name to send (SNI) and verify; defaults to the host of the target.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Adds a CA file to verify the server against. Without any, this machine's trust
    /// store is used (`SSL_CERT_FILE`, or the usual bundle of the distribution).
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

    /// How fixes name settings (see [`setting`](crate::setting)); the command line names
    /// its flags.
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }
}

/// How a probe ended. Names follow the server's [`Cause`](crate::explain::Cause) names where the
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
pub struct Report {
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
    /// The cipher suite's OpenSSL name (`ECDHE-ECDSA-AES256-GCM-SHA384`; the IANA name for
    /// TLS 1.3 suites, as in OpenSSL), once the server chose.
    pub cipher_openssl: Option<String>,
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

impl Report {
    /// Whether the handshake completed and the server's certificate verified.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Verified
    }

    /// The presented chain as `#1 CN=leaf → CN=issuer (…)` lines, in the server's order.
    pub fn chain_lines(&self) -> Vec<String> {
        self.chain
            .iter()
            .enumerate()
            .map(|(i, c)| c.chain_line(i))
            .collect()
    }

    /// The report as one JSON object (what `tls-server probe --json` prints). `chain` is a
    /// list of [`CertificateInfo::to_json`]; `verification` and `host_name` are
    /// `{status, message, fix}` or `null`; `cipher` is the suite's IANA name and
    /// `cipher_openssl` its OpenSSL name; `received` holds the server's first bytes (as
    /// text) only when it did not speak TLS.
    pub fn to_json(&self) -> String {
        let millis = |d: Option<Duration>| match d {
            Some(d) => format!("{:.3}", d.as_secs_f64() * 1000.0),
            None => "null".into(),
        };
        let check = |c: Option<&Check>| match c {
            None => "null".to_string(),
            Some(c) => Obj::new()
                .str("status", c.status.name())
                .str("message", &c.message)
                .str("fix", &c.fix)
                .finish(),
        };
        let received = (self.outcome == Outcome::NotTls).then(|| {
            String::from_utf8_lossy(&self.received[..self.received.len().min(256)]).into_owned()
        });
        let o = Obj::new()
            .str("target", &self.target)
            .opt_str("addr", self.addr.map(|a| a.to_string()).as_deref())
            .str("servername", &self.server_name)
            .str("trust", &self.trust)
            .str("outcome", self.outcome.name())
            .bool("passed", self.passed())
            .str("message", &self.message)
            .str("fix", &self.fix)
            .opt_str("protocol", self.protocol.as_deref())
            .opt_str("cipher", self.cipher.as_deref())
            .opt_str("cipherOpenssl", self.cipher_openssl.as_deref())
            .opt_str("group", self.group.as_deref())
            .opt_str("alpn", self.alpn.as_deref())
            .opt_str("alertReceived", self.alert_received.as_deref())
            .opt_str(
                "tlsError",
                self.tls_error.as_ref().map(|e| e.to_string()).as_deref(),
            )
            .opt_str("received", received.as_deref());
        let o = match &self.client_cert_requested {
            Some(cas) => o.strs("clientCertRequested", cas),
            None => o.raw("clientCertRequested", "null"),
        };
        o.opt_str("clientCert", self.client_cert.as_deref())
            .raw("connectMs", &millis(self.connect_time))
            .raw("handshakeMs", &millis(self.handshake_time))
            .raw("chain", &CertificateInfo::list_json(&self.chain))
            .raw("verification", &check(self.verification.as_ref()))
            .raw("hostName", &check(self.host_name.as_ref()))
            .finish()
    }
}

impl fmt::Display for Report {
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
pub fn probe(options: &Options) -> Result<Report, Error> {
    let (host, port) = split_target(&options.target).ok_or_else(|| {
        options.naming.error(
            Setting::ProbeTarget,
            format!("{:?} is not HOST:PORT", options.target),
            "e.g. localhost:8000, 127.0.0.1:443 or [::1]:8443",
        )
    })?;
    let name_text = options.server_name.clone().unwrap_or_else(|| host.clone());
    let server_name = ServerName::try_from(name_text.clone()).map_err(|_| {
        options.naming.error(
            Setting::ProbeServerName,
            format!("{name_text:?} is neither a DNS name nor an IP address"),
            format!(
                "pass a name such as example.com with {}",
                options.naming.of(Setting::ProbeServerName)
            ),
        )
    })?;
    let provider = Arc::new(options.provider.crypto_provider());
    let trust = client::load_trust(options)?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let asked = Arc::new(Mutex::new(None));
    let (config, client_cert) =
        client::config(options, &provider, &trust, seen.clone(), asked.clone())?;
    let mut conn = ClientConnection::new(config, server_name).map_err(Error::Tls)?;

    let mut report = Report {
        target: options.target.clone(),
        addr: None,
        server_name: name_text.clone(),
        trust: trust.described.clone(),
        outcome: Outcome::Protocol,
        message: String::new(),
        fix: String::new(),
        protocol: None,
        cipher: None,
        cipher_openssl: None,
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
        verdict::connect_failed(&mut report, &addrs, last_error, options);
        return Ok(report);
    };
    report.connect_time = Some(started.elapsed());
    let _ = tcp.set_nodelay(true);

    // --- handshake -----------------------------------------------------------------------
    let started = Instant::now();
    let result = client::handshake(&mut conn, &mut tcp, options.timeout, &mut report.received);
    report.handshake_time = Some(started.elapsed());
    verdict::record_negotiation(&conn, &mut report);
    report.client_cert_requested = asked.lock().unwrap_or_else(|e| e.into_inner()).take();
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let now = SystemTime::now();
    verdict::record_certificates(
        &seen,
        &trust,
        &name_text,
        options,
        &provider,
        now,
        &mut report,
    );

    match result {
        Ok(()) => {
            let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
            if report.client_cert_requested.is_some() && tls13 {
                // With TLS 1.3 the server judges our certificate (or its absence) after our
                // Finished, so a refusal arrives after the handshake completed on our side.
                if let Err(failure) = client::await_verdict(&mut conn, &mut tcp, options.timeout) {
                    verdict::explain_failure(failure, &seen, options, &trust, now, &mut report);
                    return Ok(report);
                }
            } else {
                client::close_cleanly(&mut conn, &mut tcp, options.timeout);
            }
            report.outcome = Outcome::Verified;
            report.message = format!(
                "verified {} handshake with {}",
                report.protocol.as_deref().unwrap_or("TLS"),
                report.addr.map(|a| a.to_string()).unwrap_or_default()
            );
        }
        Err(failure) => verdict::explain_failure(failure, &seen, options, &trust, now, &mut report),
    }
    Ok(report)
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
}
