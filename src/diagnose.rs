//! Turning a failed handshake into one plain sentence: what happened, why, and the fix.
//!
//! rustls reports a client speaking plain HTTP as "received corrupt message of type
//! InvalidContentType"; we say "the client sent plain HTTP (`GET / HTTP/1.1`) to a TLS port".

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::{
    AlertDescription, Error as TlsError, PeerIncompatible, ProtocolVersion, ServerConfig,
};

use crate::certificate::CertificateInfo;
use crate::client_auth::{authorization_error, fix_for, Presented, Trust};
use crate::client_hello::ClientHello;
use crate::handshake::{Failed, Failure, Phase};
use crate::provider::{group_name, suite_name};
use crate::sni::{Choice, Chosen};

/// Our side of each negotiation, kept to explain failures against what the client offered.
#[derive(Clone)]
pub(crate) struct Settings {
    versions: Vec<String>,
    suites: Vec<String>,
    groups: Vec<String>,
    alpn: Vec<String>,
    key_algorithm: Option<String>,
    handshake_timeout: Duration,
    pub(crate) trust: Trust,
    pub(crate) provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    /// Our own certificate chain, leaf first (empty for a ready-made config).
    chain: Vec<CertificateInfo>,
}

impl Settings {
    /// `versions`: the ones we enabled, or `None` for a ready-made config (then the
    /// versions its cipher suites cover are shown).
    pub(crate) fn new(
        config: &ServerConfig,
        versions: Option<&[crate::TlsVersion]>,
        key_algorithm: Option<String>,
        handshake_timeout: Duration,
        trust: Trust,
        chain: &[rustls::pki_types::CertificateDer<'static>],
    ) -> Settings {
        let provider = config.crypto_provider();
        let versions = match versions {
            Some(v) => {
                let mut v = v.to_vec();
                v.sort_unstable_by(|a, b| b.cmp(a));
                v.dedup();
                v.into_iter().map(|v| v.name().to_string()).collect()
            }
            None => [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
                .into_iter()
                .filter(|v| {
                    provider
                        .cipher_suites
                        .iter()
                        .any(|s| s.version().version == *v)
                })
                .map(|v| crate::client_hello::version_name(u16::from(v)))
                .collect(),
        };
        Settings {
            versions,
            suites: provider.cipher_suites.iter().map(suite_name).collect(),
            groups: provider
                .kx_groups
                .iter()
                .map(|g| group_name(g.name()))
                .collect(),
            alpn: config
                .alpn_protocols
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect(),
            key_algorithm,
            handshake_timeout,
            trust,
            provider: provider.clone(),
            chain: chain
                .iter()
                .filter_map(|c| CertificateInfo::parse(c, provider))
                .collect(),
        }
    }
}

/// What kind of failure a [`TlsClientError`] is. Stable names for logs and JSON via
/// [`Cause::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The client connected and closed without sending a byte: a health check or port
    /// scan. Logged at debug level only.
    Probe,
    /// The bytes were not TLS: plain HTTP, an SSH or SMTP client, random bytes.
    NotTls,
    /// The handshake did not finish before the deadline.
    Timeout,
    /// The client disappeared mid-handshake without an alert.
    PeerVanished,
    /// No protocol version in common.
    ProtocolVersion,
    /// No cipher suite in common.
    NoCommonCipher,
    /// No key-exchange group in common.
    NoCommonGroup,
    /// No signature scheme in common (often: our certificate's key type).
    NoCommonSignature,
    /// The client asked for ALPN protocols we do not speak.
    AlpnMismatch,
    /// The client rejected our certificate (it sent a certificate alert).
    CertificateRejected,
    /// The client sent another alert.
    PeerAlert,
    /// The client broke the TLS protocol.
    Protocol,
    /// A socket error.
    Network,
    /// The server was shutting down.
    Shutdown,
    /// Client authentication: no certificate, or one we do not accept.
    ClientCertificate,
    /// The client asked for a server name we have no certificate for, or for none, and the
    /// SNI fallback policy refuses that.
    UnknownServerName,
}

impl Cause {
    /// A stable kebab-case name: `probe`, `not-tls`, `timeout`, ...
    pub fn name(self) -> &'static str {
        match self {
            Cause::Probe => "probe",
            Cause::NotTls => "not-tls",
            Cause::Timeout => "timeout",
            Cause::PeerVanished => "peer-vanished",
            Cause::ProtocolVersion => "protocol-version",
            Cause::NoCommonCipher => "no-common-cipher",
            Cause::NoCommonGroup => "no-common-group",
            Cause::NoCommonSignature => "no-common-signature",
            Cause::AlpnMismatch => "alpn-mismatch",
            Cause::CertificateRejected => "certificate-rejected",
            Cause::PeerAlert => "peer-alert",
            Cause::Protocol => "protocol",
            Cause::Network => "network",
            Cause::Shutdown => "shutdown",
            Cause::ClientCertificate => "client-certificate",
            Cause::UnknownServerName => "unknown-server-name",
        }
    }
}

/// A handshake that failed: who, when, what rustls said, and what it means. Node's
/// `'tlsClientError'`, with the explanation Node leaves to you.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsClientError {
    /// The connection id (as in the `Connection` event).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
    /// How far the handshake got.
    pub phase: Phase,
    /// The category.
    pub cause: Cause,
    /// rustls's error, if rustls raised one.
    pub tls_error: Option<TlsError>,
    /// What happened, in one sentence with the specifics.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The alert we sent, when known (e.g. `"ProtocolVersion"`).
    pub alert_sent: Option<String>,
    /// The alert the client sent, if any.
    pub alert_received: Option<String>,
    /// For a refused client certificate: Node's `authorizationError` code and sentence.
    pub authorization: Option<crate::AuthorizationError>,
    /// What the client offered, when its ClientHello arrived whole.
    pub offered: Option<ClientHello>,
    /// The first bytes the client sent (up to 4 KiB).
    pub first_bytes: Vec<u8>,
    /// How many bytes the client sent in all.
    pub bytes_received: usize,
    /// From accept to failure.
    pub elapsed: Duration,
}

impl TlsClientError {
    /// Whether this was a zero-byte connection (health check, port scan), not a real error.
    pub fn is_probe(&self) -> bool {
        self.cause == Cause::Probe
    }
}

impl fmt::Display for TlsClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {}: handshake failed ({}, {}): {} — {}",
            self.id,
            self.peer,
            self.cause.name(),
            self.phase.name(),
            self.message,
            self.fix
        )
    }
}

impl std::error::Error for TlsClientError {}

/// Explains a failed handshake.
pub(crate) fn explain(
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    failed: Failed,
    ours: &Settings,
) -> TlsClientError {
    let handshake_timeout = ours.handshake_timeout;
    let Failed {
        failure,
        phase,
        first_bytes,
        bytes_received,
        alert_sent,
        elapsed,
        presented,
        sni,
        alpn,
        answered_http,
        ..
    } = failed;
    // With several certificates, explain with the one this client was served.
    let served;
    let ours = match sni.as_ref().and_then(|c| c.served.as_ref()) {
        Some(ctx)
            if !ours
                .chain
                .first()
                .is_some_and(|l| l.der == ctx.certificate().der) =>
        {
            served = Settings {
                chain: ctx.chain().to_vec(),
                key_algorithm: Some(format!("{:?}", ctx.certified_key().key.algorithm())),
                ..ours.clone()
            };
            &served
        }
        _ => ours,
    };
    let mut phase = phase;
    let mut alert_sent = alert_sent.map(|a| format!("{a:?}"));
    let mut authorization = None;
    let not_tls = !first_bytes.is_empty() && !looks_like_tls(&first_bytes);
    let offered = ClientHello::parse(&first_bytes);
    let (cause, message, fix): (Cause, String, String) = match &failure {
        _ if not_tls && !matches!(failure, Failure::Shutdown) => {
            let (what, fix) = identify_protocol(&first_bytes);
            (
                Cause::NotTls,
                format!(
                    "the client is not speaking TLS: it sent {what}, starting {}{}",
                    printable(&first_bytes, 48),
                    if answered_http {
                        " (we answered with an HTTP 400 saying to use https://)"
                    } else {
                        ""
                    }
                ),
                fix,
            )
        }
        Failure::Shutdown => (
            Cause::Shutdown,
            "the server was shutting down".into(),
            "connect again once the server is back".into(),
        ),
        Failure::Timeout => match phase {
            Phase::BeforeAnyBytes => (
                Cause::Timeout,
                format!("the client sent nothing within the {handshake_timeout:?} handshake deadline"),
                "check that the client speaks TLS on this port (a plain-TCP client waiting for the server to talk first looks like this)".into(),
            ),
            Phase::ClientHello => (
                Cause::Timeout,
                format!("the ClientHello was still incomplete after {bytes_received} bytes when the {handshake_timeout:?} deadline passed"),
                "a very slow or stalled network, or a client trickling bytes; check the path between client and server".into(),
            ),
            Phase::AfterServerHello | Phase::ClientCertificate => (
                Cause::Timeout,
                format!("the client did not finish the handshake within {handshake_timeout:?} after our reply"),
                "the client may be waiting on a user prompt or stalled; raise --handshake-timeout if that is expected".into(),
            ),
        },
        Failure::PeerClosed => match phase {
            Phase::BeforeAnyBytes => (
                Cause::Probe,
                "the client connected and closed without sending anything (health check or port scan)".into(),
                "nothing to fix if this is a load balancer's TCP check; point TLS-aware checks at the port with a TLS client".into(),
            ),
            Phase::ClientHello => (
                Cause::PeerVanished,
                format!("the client closed the connection after {bytes_received} bytes, before its ClientHello was complete"),
                "the client gave up early; check its logs".into(),
            ),
            Phase::AfterServerHello | Phase::ClientCertificate => (
                Cause::PeerVanished,
                format!(
                    "the client closed the connection after our ServerHello without sending an alert — most often it rejected our certificate silently; {}",
                    why_rejected(offered.as_ref(), local, ours)
                ),
                "make the client trust our CA, connect with a name in our certificate's SANs, and send the intermediates with the leaf".into(),
            ),
        },
        Failure::Io(e) => (
            Cause::Network,
            format!("socket error during the handshake: {e}"),
            "check the network between client and server".into(),
        ),
        Failure::Tls(_) if sni.as_ref().is_some_and(|c| c.chosen == Chosen::Refused) => {
            let choice = sni.as_ref().expect("checked above");
            unknown_name(choice, offered.as_ref())
        }
        Failure::Tls(TlsError::NoApplicationProtocol) if alpn.is_some() => {
            let answer = alpn.as_ref().expect("checked above");
            let theirs = list(&answer.offer.protocols);
            match &answer.chosen {
                None => (
                    Cause::AlpnMismatch,
                    format!("our ALPN callback accepted none of the client's protocols ({theirs})"),
                    "have the client offer a protocol the callback accepts, or accept one of these in the callback".into(),
                ),
                Some(p) => (
                    Cause::AlpnMismatch,
                    format!("our ALPN callback chose {p:?}, which the client did not offer (it offered {theirs})"),
                    "return one of the offered protocols from the ALPN callback".into(),
                ),
            }
        }
        Failure::Tls(e) => match client_certificate_failure(e, presented.as_ref(), ours) {
            Some((error, alert, provider_fix)) => {
                phase = Phase::ClientCertificate;
                alert_sent = Some(alert);
                let message = error.message.clone();
                authorization = Some(error);
                (Cause::ClientCertificate, message, provider_fix.to_string())
            }
            None => explain_tls(e, offered.as_ref(), local, ours),
        },
    };
    // rustls settles ALPN while writing EncryptedExtensions, after the ServerHello, so this
    // alert goes out encrypted where we cannot read it back; rustls always sends it.
    if alert_sent.is_none() && matches!(failure, Failure::Tls(TlsError::NoApplicationProtocol)) {
        alert_sent = Some("NoApplicationProtocol".into());
    }
    let alert_received = match &failure {
        Failure::Tls(TlsError::AlertReceived(a)) => Some(format!("{a:?}")),
        _ => None,
    };
    let tls_error = match failure {
        Failure::Tls(e) => Some(e),
        _ => None,
    };
    let mut first_bytes = first_bytes;
    first_bytes.truncate(crate::handshake::KEEP);
    TlsClientError {
        id,
        peer,
        local,
        phase,
        cause,
        tls_error,
        message,
        fix,
        alert_sent,
        authorization,
        alert_received,
        offered,
        first_bytes,
        bytes_received,
        elapsed,
    }
}

/// A client refused by the SNI fallback policy: what it asked for, what we serve.
fn unknown_name(choice: &Choice, offered: Option<&ClientHello>) -> (Cause, String, String) {
    let ours = if choice.names.is_empty() {
        "no names".to_string()
    } else {
        list(&choice.names)
    };
    let ip = offered
        .and_then(|o| o.server_name.as_deref())
        .filter(|n| n.parse::<std::net::IpAddr>().is_ok());
    let message = match (&choice.asked, ip) {
        (Some(name), _) => format!(
            "the client asked for the server name {name:?} (SNI), which we have no certificate for (we serve {ours}), and --sni-fallback {} refuses unknown names",
            choice.fallback.name()
        ),
        (None, Some(ip)) => format!(
            "the client sent the IP address {ip} as its server name (SNI), which TLS does not allow (RFC 6066), so it counts as no name; --sni-fallback {} refuses clients without a name (we serve {ours})",
            choice.fallback.name()
        ),
        (None, None) => format!(
            "the client sent no server name (SNI) and --sni-fallback {} refuses clients without one (we serve {ours})",
            choice.fallback.name()
        ),
    };
    let fix = match &choice.asked {
        Some(name) => format!(
            "connect with one of our names, add a certificate for {name} (--sni {name}=CERT,KEY or ServerHandle::add_context), or serve the default certificate to unknown names (--sni-fallback default)"
        ),
        None => "have the client send a name (connect by host name, e.g. openssl s_client -servername, curl --resolve), or serve the default certificate to clients without one (--sni-fallback default or refuse-unknown)".into(),
    };
    (Cause::UnknownServerName, message, fix)
}

/// The likely reasons a client refuses our certificate, from what we know of it and of
/// the name the client asked for.
fn why_rejected(offered: Option<&ClientHello>, local: SocketAddr, ours: &Settings) -> String {
    let Some(leaf) = ours.chain.first() else {
        return "check that the client trusts our CA and connects with a name our certificate covers".into();
    };
    let covered = || {
        list(
            &leaf
                .names()
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>(),
        )
    };
    let mut reasons = Vec::new();
    match offered.and_then(|o| o.server_name.as_deref()) {
        Some(name) if !covers(leaf, name) => reasons.push(format!(
            "it asked for {name:?}, which our certificate does not cover (it covers {})",
            covered()
        )),
        Some(_) => {}
        // No SNI: the client connected by address. Fine if that address is in our SANs.
        None if !covers(leaf, &ip_san(local.ip())) => reasons.push(format!(
            "it sent no server name (SNI) and connected to {}, which our certificate does not cover (it covers {})",
            local.ip(),
            covered()
        )),
        None => {}
    }
    let now = std::time::SystemTime::now();
    if !leaf.is_valid_at(now) {
        reasons.push(format!(
            "our certificate is outside its validity ({} to {}; our clock says {})",
            leaf.valid_from,
            leaf.valid_to,
            crate::certificate::openssl_time(now)
        ));
    }
    if leaf.self_issued {
        reasons
            .push("our certificate is self-signed, so each client must be told to trust it".into());
    } else if leaf.is_ca {
        reasons.push("our certificate is a CA certificate (basicConstraints CA:TRUE), which clients refuse as a server certificate".into());
    }
    if !leaf.extended_key_usage.is_empty()
        && !leaf
            .extended_key_usage
            .iter()
            .any(|u| u == "serverAuth" || u == "anyExtendedKeyUsage")
    {
        reasons.push(format!(
            "our certificate is not for server authentication (its extended key usage is {}, without serverAuth)",
            leaf.extended_key_usage.join(", ")
        ));
    }
    if weak_signature(leaf) {
        reasons.push(format!(
            "our certificate is signed with SHA-1 ({}), which current clients refuse",
            leaf.signature_algorithm
        ));
    }
    if reasons.is_empty() {
        // Nothing specific is wrong with what we send: the client does not trust our
        // issuer. If that issuer is an intermediate we do not send, that is the same symptom.
        let sends_issuer = ours
            .chain
            .iter()
            .skip(1)
            .any(|c| c.subject_line == leaf.issuer_line);
        reasons.push(format!(
            "it does not trust \"{}\", which issued our certificate — give the client that CA (curl --cacert, openssl s_client -CAfile, Node's ca){}",
            leaf.issuer_line,
            if sends_issuer {
                ""
            } else {
                "; if that issuer is an intermediate CA, add it after our certificate in --cert"
            }
        ));
    }
    reasons.join("; ")
}

/// An IP address as OpenSSL prints it in a SAN (IPv6 uncompressed), for [`covers`].
fn ip_san(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:X}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// Signed with SHA-1 (or MD5), which current clients refuse.
fn weak_signature(cert: &CertificateInfo) -> bool {
    let alg = cert.signature_algorithm.to_ascii_lowercase();
    alg.contains("sha1") || alg.contains("md5")
}

/// Whether `cert` is valid for `name`: an exact SAN, or a wildcard for one label.
pub(crate) fn covers(cert: &CertificateInfo, name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    cert.names().iter().any(|san| {
        let san = san.to_ascii_lowercase();
        match san.strip_prefix("*.") {
            Some(suffix) => name
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => san == name,
        }
    })
}

/// A client-certificate failure explained: the error, the alert rustls sent for it, the fix.
fn client_certificate_failure(
    e: &TlsError,
    presented: Option<&Presented>,
    ours: &Settings,
) -> Option<(crate::AuthorizationError, String, &'static str)> {
    let (verdict, alert) = match e {
        TlsError::NoCertificatesPresented => (None, AlertDescription::CertificateRequired),
        TlsError::InvalidCertificate(c) if presented.is_some() => {
            (Some(e), AlertDescription::from(c.clone()))
        }
        _ => return None,
    };
    let leaf = presented
        .and_then(|p| p.chain.first())
        .and_then(|der| CertificateInfo::parse(der, &ours.provider));
    let error = authorization_error(verdict, leaf.as_ref(), &ours.trust);
    let fix = fix_for(error.code);
    Some((error, format!("{alert:?}"), fix))
}

/// `a, b, c` — or `(none)`; long lists are cut after 12 items.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    let mut s = items
        .iter()
        .take(12)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > 12 {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

/// "the client offered X; we accept Y", or just "we accept Y" if we could not read X.
fn versus(what: &str, theirs: Option<&Vec<String>>, ours: &[String]) -> String {
    match theirs {
        Some(t) => format!(
            "the client offered {what} {}; we accept {}",
            list(t),
            list(ours)
        ),
        None => format!("we accept {what} {}", list(ours)),
    }
}

fn explain_tls(
    e: &TlsError,
    offered: Option<&ClientHello>,
    local: SocketAddr,
    ours: &Settings,
) -> (Cause, String, String) {
    // A TLS 1.0/1.1-only client fails on some missing extension before rustls looks at
    // versions; the version is the real story.
    if let Some(o) = offered {
        if !e.to_string().contains("alert") && !o.versions.iter().any(|v| ours.versions.contains(v))
        {
            return (
                Cause::ProtocolVersion,
                format!(
                    "no protocol version in common: {}",
                    versus("versions", Some(&o.versions), &ours.versions)
                ),
                if o.versions.iter().any(|v| v == "TLSv1.3" || v == "TLSv1.2") {
                    "allow one of the client's versions with --tls-versions, or change what the client offers".into()
                } else {
                    "upgrade the client to TLS 1.2 or later (TLS 1.0 and 1.1 are not supported)"
                        .into()
                },
            );
        }
    }
    match e {
        TlsError::PeerIncompatible(p) => match p {
            PeerIncompatible::NoCipherSuitesInCommon => (
                Cause::NoCommonCipher,
                format!(
                    "no cipher suite in common: {}",
                    versus("cipher suites", offered.map(|o| &o.cipher_suites), &ours.suites)
                ),
                "allow one of the client's suites with --ciphers (or use the defaults), or enable a modern suite on the client".into(),
            ),
            // A TLS 1.2 client that offers only RSA key exchange sends no groups at all:
            // the real mismatch is its cipher suites (we allow only ECDHE, for forward
            // secrecy).
            PeerIncompatible::NoKxGroupsInCommon
                if offered.is_some_and(|o| {
                    o.groups.is_empty()
                        && !o.cipher_suites.iter().any(|s| {
                            s.starts_with("TLS_ECDHE_")
                                || s.starts_with("TLS_AES_")
                                || s.starts_with("TLS_CHACHA20_")
                        })
                }) =>
            {
                (
                    Cause::NoCommonCipher,
                    format!(
                        "the client offered only cipher suites without ECDHE key exchange ({}), which tls-server does not support (no forward secrecy); we accept {}",
                        list(&offered.map(|o| o.cipher_suites.clone()).unwrap_or_default()),
                        list(&ours.suites)
                    ),
                    "enable ECDHE or TLS 1.3 suites on the client (any client from the last decade has them)".into(),
                )
            }
            PeerIncompatible::NoKxGroupsInCommon => (
                Cause::NoCommonGroup,
                format!(
                    "no key-exchange group in common: {}",
                    versus("groups", offered.map(|o| &o.groups), &ours.groups)
                ),
                "allow one of the client's groups with --groups (or use the defaults)".into(),
            ),
            PeerIncompatible::NoSignatureSchemesInCommon => (
                Cause::NoCommonSignature,
                format!(
                    "no signature scheme in common: our certificate's key is {}{}",
                    ours.key_algorithm.as_deref().unwrap_or("of an unknown type"),
                    match offered {
                        Some(o) => format!(", and the client accepts only {}", list(&o.signature_schemes)),
                        None => String::new(),
                    }
                ),
                "use a certificate whose key type the client supports (ECDSA P-256 and RSA 2048 are the most widely accepted)".into(),
            ),
            PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled => (
                Cause::ProtocolVersion,
                format!(
                    "no protocol version in common: {}",
                    versus("versions", offered.map(|o| &o.versions), &ours.versions)
                ),
                "allow the client's version with --tls-versions, or upgrade the client (TLS 1.0 and 1.1 are not supported)".into(),
            ),
            other => (
                Cause::Protocol,
                format!("the client's hello is incompatible: {other:?}"),
                "update the client, or compare its settings with ours".into(),
            ),
        },
        TlsError::NoApplicationProtocol => (
            Cause::AlpnMismatch,
            format!(
                "no ALPN protocol in common: {}",
                versus("ALPN protocols", offered.map(|o| &o.alpn), &ours.alpn)
            ),
            "add one of the client's protocols to --alpn, or have the client offer one of ours".into(),
        ),
        TlsError::AlertReceived(alert) => match alert {
            // rustls (and others) answer a certificate signature algorithm they refuse,
            // such as SHA-1, with decrypt_error.
            AlertDescription::DecryptError if ours.chain.iter().any(weak_signature) => (
                Cause::CertificateRejected,
                format!(
                    "the client rejected our certificate (alert {alert:?}); {}",
                    why_rejected(offered, local, ours)
                ),
                "reissue the certificate with a SHA-256 (or stronger) signature".into(),
            ),
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied => (
                Cause::CertificateRejected,
                format!(
                    "the client rejected our certificate (alert {alert:?}); {}",
                    why_rejected(offered, local, ours)
                ),
                "make the client trust our CA (e.g. --cacert / -CAfile), connect with a name in our certificate's SANs, and send the intermediates with the leaf".into(),
            ),
            AlertDescription::ProtocolVersion => (
                Cause::ProtocolVersion,
                format!("the client found no protocol version in common with us (alert ProtocolVersion); we accept {}", list(&ours.versions)),
                "allow the client's version with --tls-versions, or upgrade the client".into(),
            ),
            AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => (
                Cause::PeerAlert,
                format!("the client aborted the handshake (alert {alert:?}): it found nothing acceptable in our reply"),
                "compare the client's versions, suites and groups with ours".into(),
            ),
            other => (
                Cause::PeerAlert,
                format!("the client aborted the handshake with alert {other:?}"),
                "see the client's own error message for why".into(),
            ),
        },
        TlsError::InvalidMessage(m) => (
            Cause::Protocol,
            format!("the client sent a malformed TLS message ({m:?})"),
            "the client's TLS library is broken or something in between altered the bytes".into(),
        ),
        other => (
            Cause::Protocol,
            format!("TLS error: {other}"),
            "see the client's own error message for its side of the story".into(),
        ),
    }
}

/// A TLS record starts with a content type (20–24), major version 3, minor 0–4.
pub(crate) fn looks_like_tls(b: &[u8]) -> bool {
    match b {
        [t, rest @ ..] if (20..=24).contains(t) => match rest {
            [] => true,
            [3, ..] => rest.len() < 2 || rest[1] <= 4,
            _ => false,
        },
        _ => false,
    }
}

/// Whether the client's first bytes are a plain-HTTP request line.
pub(crate) fn is_plain_http(b: &[u8]) -> bool {
    const HTTP: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"PRI * ",
    ];
    HTTP.iter().any(|m| b.starts_with(m))
}

fn identify_protocol(b: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(&b[..b.len().min(16)]);
    if is_plain_http(b) {
        (
            "plain HTTP".into(),
            "use https:// (not http://) for this port, or send plain HTTP to the plain-HTTP port"
                .into(),
        )
    } else if text.starts_with("SSH-") {
        (
            "an SSH banner".into(),
            "the SSH client has the wrong port; TLS is served here".into(),
        )
    } else if text.starts_with("EHLO") || text.starts_with("HELO") {
        (
            "SMTP".into(),
            "the mail client has the wrong port, or expects STARTTLS; TLS must start at the first byte here".into(),
        )
    } else if b[..b.len().min(32)]
        .iter()
        .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        (
            "plain text".into(),
            "the client must speak TLS from the first byte on this port (e.g. `openssl s_client -connect HOST:PORT`)".into(),
        )
    } else {
        (
            "bytes that are not a TLS record".into(),
            "the client must speak TLS on this port; check that it is the right port and protocol"
                .into(),
        )
    }
}

/// The first `max` bytes, printable ASCII as is and the rest as `\xNN`, quoted.
pub(crate) fn printable(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(max) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > max {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_records_are_recognised() {
        assert!(looks_like_tls(&[22, 3, 1, 0, 200]));
        assert!(looks_like_tls(&[22]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_tls(&[22, 9, 9]));
    }

    #[test]
    fn protocols_are_named() {
        assert_eq!(identify_protocol(b"GET / HTTP/1.1\r\n").0, "plain HTTP");
        assert_eq!(
            identify_protocol(b"SSH-2.0-OpenSSH_9.2\r\n").0,
            "an SSH banner"
        );
        assert_eq!(
            identify_protocol(&[0xde, 0xad, 0xbe, 0xef]).0,
            "bytes that are not a TLS record"
        );
        assert_eq!(printable(b"GET /\r\n\x01", 48), "\"GET /\\r\\n\\x01\"");
    }
}
