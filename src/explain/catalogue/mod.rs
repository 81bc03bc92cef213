//! The words: for each [`Finding`] about a failed handshake, one sentence that says what
//! happened with the specifics, and one that says what to do about exactly that. Kept
//! apart from the decisions (`diagnose.rs`) so the wording can be read and reviewed in one
//! place: here the handshake, in `certificate.rs` why a client refuses our certificate and
//! our names, in `after.rs` a secure connection that fails later.
//!
//! Settings the reader can change are named through the setup's
//! [`Naming`](crate::setting::Naming): `ServerOptions::cipher_suites` for a program,
//! `--ciphers` at the command line.

pub(crate) mod after;
pub(crate) mod certificate;

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use rustls::{AlertDescription, Error as TlsError, InvalidMessage, PeerIncompatible};

pub(crate) use certificate::Rejection;

use crate::explain::client_hello::ClientHello;
use crate::explain::failure::ProxyRefusal;
use crate::explain::sniff::{identify_protocol, printable};
use crate::setting::Setting;
use crate::tls::accepts::Accepts;
use crate::tls::alpn::Answer;
use crate::tls::client_auth::{fix_for, AuthorizationError};
use crate::tls::sni::Choice;

/// What a failed handshake means, decided by `diagnose.rs`.
pub(crate) enum Finding<'a> {
    /// The first bytes are not a TLS record.
    NotTls {
        first_bytes: &'a [u8],
        answered_http: bool,
    },
    Shutdown,
    /// We closed it to make room for a newer connection.
    Evicted,
    /// The PROXY protocol header was required; it was not there, not usable, or not from
    /// a trusted balancer.
    Proxy(&'a ProxyRefusal),
    /// Nothing arrived before the deadline (the first-bytes one, or the whole handshake's
    /// when that is shorter).
    SilentClient {
        timeout: Duration,
        setting: Setting,
    },
    /// Part of a ClientHello arrived before the deadline.
    SlowClientHello {
        bytes: usize,
        timeout: Duration,
    },
    /// We answered; the client did not finish before the deadline.
    UnfinishedHandshake {
        timeout: Duration,
    },
    /// Connected and closed without a byte.
    Probe,
    VanishedInClientHello {
        bytes: usize,
    },
    /// Closed after our reply without an alert: most often a silent rejection.
    VanishedAfterReply(Vec<Rejection<'a>>),
    Network(&'a io::Error),
    /// Refused by the SNI fallback policy.
    UnknownName {
        choice: &'a Choice,
        ip_as_name: Option<IpAddr>,
    },
    /// The ALPN callback refused, or chose a protocol the client did not offer.
    AlpnCallback(&'a Answer),
    ClientCertificate {
        error: AuthorizationError,
        alert: AlertDescription,
    },
    /// `disjoint`: we read the client's versions and none is ours (else rustls found the
    /// version problem itself).
    NoCommonVersion {
        offered: Option<&'a ClientHello>,
        disjoint: bool,
    },
    NoCommonCipher {
        offered: Option<&'a ClientHello>,
    },
    RsaKeyExchangeOnly {
        offered: &'a ClientHello,
    },
    NoCommonGroup {
        offered: Option<&'a ClientHello>,
    },
    NoCommonSignature {
        offered: Option<&'a ClientHello>,
    },
    IncompatibleHello(&'a PeerIncompatible),
    NoCommonAlpn {
        offered: Option<&'a ClientHello>,
    },
    /// The client sent a certificate alert (or decrypt_error for a SHA-1 chain).
    CertificateRejected {
        alert: AlertDescription,
        why: Vec<Rejection<'a>>,
    },
    /// The client said protocol_version.
    VersionAlert,
    /// handshake_failure or insufficient_security from the client.
    NothingAcceptable(AlertDescription),
    PeerAlert(AlertDescription),
    Malformed(&'a InvalidMessage),
    OtherTls(&'a TlsError),
}

impl Finding<'_> {
    /// (what happened, what to do).
    pub(crate) fn sentences(&self, ours: &Accepts) -> (String, String) {
        let name = |s: Setting| ours.naming.of(s);
        match self {
            Finding::NotTls {
                first_bytes,
                answered_http,
            } => {
                let (what, fix) = identify_protocol(first_bytes);
                (
                    format!(
                        "the client is not speaking TLS: it sent {what}, starting {}{}",
                        printable(first_bytes, 48),
                        if *answered_http {
                            " (we answered with an HTTP 400 saying to use https://)"
                        } else {
                            ""
                        }
                    ),
                    fix,
                )
            }
            Finding::Shutdown => (
                "the server was shutting down".into(),
                "connect again once the server is back".into(),
            ),
            Finding::Proxy(ProxyRefusal::Untrusted { trusted }) => (
                format!(
                    "the connection does not come from a trusted balancer ({} {trusted}); with {} on, only the balancers may connect, since a PROXY header could claim any client address",
                    name(Setting::ProxyFrom),
                    name(Setting::ProxyProtocol)
                ),
                format!(
                    "if this address is one of your balancers, add it to {}; clients must connect through the balancer",
                    name(Setting::ProxyFrom)
                ),
            ),
            Finding::Proxy(ProxyRefusal::Missing { wanted, tls }) => (
                format!(
                    "the connection did not start with a PROXY protocol header ({wanted}), which {} requires{}",
                    name(Setting::ProxyProtocol),
                    if *tls {
                        ": it started with a TLS handshake record, as a client connecting directly (or through a balancer not told to send the header) does"
                    } else {
                        ""
                    }
                ),
                format!(
                    "the balancer is not sending the PROXY header: add `send-proxy-v2` (or `send-proxy` for v1) to the HAProxy server line, `proxy_protocol on;` to the nginx stream server block; or turn {} off if clients connect directly",
                    name(Setting::ProxyProtocol)
                ),
            ),
            Finding::Proxy(ProxyRefusal::Malformed { why }) => (
                format!("the PROXY protocol header could not be used: {why}"),
                "check the balancer's PROXY protocol setting (HAProxy: send-proxy or send-proxy-v2 on the server line) and that nothing else writes to this port first".into(),
            ),
            Finding::Evicted => (
                "the server closed this handshake to make room for a newer connection (the evicted event names the limit)".into(),
                format!(
                    "nothing to fix on a client that had stalled; if live clients are evicted, raise {} or {}",
                    name(Setting::MaxHandshakes),
                    name(Setting::MaxConnections)
                ),
            ),
            Finding::SilentClient { timeout, setting } => (
                format!(
                    "the client sent nothing within {timeout:?} of connecting ({} {timeout:?})",
                    name(*setting)
                ),
                "check that the client speaks TLS on this port (a plain-TCP client waiting for the server to talk first looks like this)".into(),
            ),
            Finding::SlowClientHello { bytes, timeout } => (
                format!("the ClientHello was still incomplete after {bytes} bytes when the {timeout:?} deadline passed"),
                "a very slow or stalled network, or a client trickling bytes; check the path between client and server".into(),
            ),
            Finding::UnfinishedHandshake { timeout } => (
                format!("the client did not finish the handshake within {timeout:?} after our reply"),
                format!(
                    "the client may be waiting on a user prompt or stalled; raise {} if that is expected",
                    name(Setting::HandshakeTimeout)
                ),
            ),
            Finding::Probe => (
                "the client connected and closed without sending anything (health check or port scan)".into(),
                "nothing to fix if this is a load balancer's TCP check; point TLS-aware checks at the port with a TLS client".into(),
            ),
            Finding::VanishedInClientHello { bytes } => (
                format!("the client closed the connection after {bytes} bytes, before its ClientHello was complete"),
                "the client gave up early; check its logs".into(),
            ),
            Finding::VanishedAfterReply(why) => (
                format!(
                    "the client closed the connection after our ServerHello without sending an alert — most often it rejected our certificate silently; {}",
                    certificate::reasons(why)
                ),
                format!(
                    "if it rejected our certificate: {}; otherwise see the client's own log",
                    certificate::fixes(why, ours)
                ),
            ),
            Finding::Network(e) => (
                format!("socket error during the handshake: {e}"),
                "check the network between client and server".into(),
            ),
            Finding::UnknownName { choice, ip_as_name } => {
                certificate::unknown_name(choice, *ip_as_name, ours)
            }
            Finding::AlpnCallback(answer) => {
                let theirs = list(&answer.offer.protocols);
                match &answer.chosen {
                    None => (
                        format!("our ALPN callback accepted none of the client's protocols ({theirs})"),
                        "have the client offer a protocol the callback accepts, or accept one of these in the callback".into(),
                    ),
                    Some(p) => (
                        format!("our ALPN callback chose {p:?}, which the client did not offer (it offered {theirs})"),
                        "return one of the offered protocols from the ALPN callback".into(),
                    ),
                }
            }
            Finding::ClientCertificate { error, .. } => {
                (error.message.clone(), fix_for(error.code, ours.naming))
            }
            Finding::NoCommonVersion { offered, disjoint } => {
                let theirs = offered.map(|o| &o.versions);
                let modern = theirs.is_some_and(|t| t.iter().any(|v| v == "TLSv1.3" || v == "TLSv1.2"));
                (
                    format!(
                        "no protocol version in common: {}",
                        versus("versions", theirs, &ours.versions)
                    ),
                    match (disjoint, modern) {
                        (true, true) => format!(
                            "allow one of the client's versions with {}, or change what the client offers",
                            name(Setting::Versions)
                        ),
                        (true, false) => "upgrade the client to TLS 1.2 or later (TLS 1.0 and 1.1 are not supported)".into(),
                        (false, _) => format!(
                            "allow the client's version with {}, or upgrade the client (TLS 1.0 and 1.1 are not supported)",
                            name(Setting::Versions)
                        ),
                    },
                )
            }
            Finding::NoCommonCipher { offered } => (
                format!(
                    "no cipher suite in common: {}",
                    versus("cipher suites", offered.map(|o| &o.cipher_suites), &ours.suites)
                ),
                format!(
                    "allow one of the client's suites with {} (or use the defaults), or enable a modern suite on the client",
                    name(Setting::CipherSuites)
                ),
            ),
            Finding::RsaKeyExchangeOnly { offered } => (
                format!(
                    "the client offered only cipher suites without ECDHE key exchange ({}), which tls-server does not support (no forward secrecy); we accept {}",
                    list(&offered.cipher_suites),
                    list(&ours.suites)
                ),
                "enable ECDHE or TLS 1.3 suites on the client (any client from the last decade has them)".into(),
            ),
            Finding::NoCommonGroup { offered } => (
                format!(
                    "no key-exchange group in common: {}",
                    versus("groups", offered.map(|o| &o.groups), &ours.groups)
                ),
                format!(
                    "allow one of the client's groups with {} (or use the defaults)",
                    name(Setting::KxGroups)
                ),
            ),
            Finding::NoCommonSignature { offered } => (
                format!(
                    "no signature scheme in common: our certificate's key is {}{}",
                    ours.key_algorithm.as_deref().unwrap_or("of an unknown type"),
                    match offered {
                        Some(o) => format!(", and the client accepts only {}", list(&o.signature_schemes)),
                        None => String::new(),
                    }
                ),
                format!(
                    "serve a certificate whose key type the client supports with {} (ECDSA P-256 and RSA 2048 are the most widely accepted)",
                    name(Setting::Cert)
                ),
            ),
            Finding::IncompatibleHello(other) => (
                format!("the client's hello is incompatible: {other:?}"),
                "update the client, or compare its settings with ours".into(),
            ),
            Finding::NoCommonAlpn { offered } => (
                format!(
                    "no ALPN protocol in common: {}",
                    versus("ALPN protocols", offered.map(|o| &o.alpn), &ours.alpn)
                ),
                format!(
                    "add one of the client's protocols to {}, or have the client offer one of ours",
                    name(Setting::Alpn)
                ),
            ),
            Finding::CertificateRejected { alert, why } => (
                format!(
                    "the client rejected our certificate (alert {alert:?}); {}",
                    certificate::reasons(why)
                ),
                certificate::fixes(why, ours),
            ),
            Finding::VersionAlert => (
                format!(
                    "the client found no protocol version in common with us (alert ProtocolVersion); we accept {}",
                    list(&ours.versions)
                ),
                format!(
                    "allow the client's version with {}, or upgrade the client",
                    name(Setting::Versions)
                ),
            ),
            Finding::NothingAcceptable(alert) => (
                format!("the client aborted the handshake (alert {alert:?}): it found nothing acceptable in our reply"),
                format!(
                    "compare the client's versions, suites and groups with ours ({}, {}, {})",
                    name(Setting::Versions),
                    name(Setting::CipherSuites),
                    name(Setting::KxGroups)
                ),
            ),
            Finding::PeerAlert(alert) => (
                format!("the client aborted the handshake with alert {alert:?}"),
                "see the client's own error message for why".into(),
            ),
            Finding::Malformed(m) => (
                format!("the client sent a malformed TLS message ({m:?})"),
                "the client's TLS library is broken or something in between altered the bytes".into(),
            ),
            Finding::OtherTls(e) => (
                format!("TLS error: {e}"),
                "see the client's own error message for its side of the story".into(),
            ),
        }
    }
}

/// `a, b, c` — or `(none)`; long lists are cut after 12 items.
pub(crate) fn list(items: &[String]) -> String {
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
