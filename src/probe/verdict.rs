//! What a probe found, in words: why the TCP connection failed, whether the chain
//! verified and covers the name, and what each way of failing a handshake (an alert, a
//! version the server chose, an answer that is not TLS) most likely means.

use std::io;
use std::net::SocketAddr;
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::{
    AlertDescription, CertificateError, ClientConnection, Error as TlsError, PeerIncompatible,
};

use super::client::{Failure, Seen, Trust};
use super::{Options, Outcome, Report};
use crate::check::{Check, Status};
use crate::explain::client_hello::version_name;
use crate::explain::sniff;
use crate::explain::verification::explain_verification;
use crate::setting::Setting;
use crate::tls::provider::{group_name, openssl_or_iana_name, suite_name};
use crate::tls::CertificateInfo;

pub(super) fn connect_failed(
    report: &mut Report,
    addrs: &[SocketAddr],
    error: Option<io::Error>,
    options: &Options,
) {
    let timeout = options.timeout;
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
            "start the server, or check the port (`ss -ltn` on the server shows what listens); a server bound to 127.0.0.1 cannot be reached from another machine".to_string(),
        ),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            Outcome::Timeout,
            format!("no answer from {tried} within {timeout:?}: the packets are dropped by a firewall, or the address is wrong"),
            format!("check the address and port, and the firewalls between here and the server; raise {} for a very slow network", options.naming.of(Setting::ProbeTimeout)),
        ),
        _ => (
            Outcome::Unreachable,
            format!("cannot connect to {tried}: {e}"),
            "check the address, this machine's network and routes (`ip route get ADDRESS`)".to_string(),
        ),
    };
    report.outcome = outcome;
    report.message = message;
    report.fix = fix;
}

pub(super) fn record_negotiation(conn: &ClientConnection, report: &mut Report) {
    report.protocol = conn.protocol_version().map(|v| version_name(u16::from(v)));
    report.cipher = conn.negotiated_cipher_suite().map(|s| suite_name(&s));
    report.cipher_openssl = conn
        .negotiated_cipher_suite()
        .map(|s| openssl_or_iana_name(s.suite()));
    report.group = conn
        .negotiated_key_exchange_group()
        .map(|g| group_name(g.name()));
    report.alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
}

/// The chain lines, the verification verdict and the host-name check.
pub(super) fn record_certificates(
    seen: &Seen,
    trust: &Trust,
    name: &str,
    options: &Options,
    provider: &CryptoProvider,
    now: SystemTime,
    report: &mut Report,
) {
    let ca = options.naming.of(Setting::ProbeCa);
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
            file: None,
            message: "not verified: there is no CA to verify against".into(),
            fix: format!("pass {ca} with the CA that issued the server's certificate"),
        },
        // webpki checks the chain before the name: a name error means the chain is fine.
        Ok(())
        | Err(TlsError::InvalidCertificate(CertificateError::NotValidForName))
        | Err(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            Check {
                check: "verification",
                status: Status::Ok,
                file: None,
                message: format!(
                    "the chain leads to a CA in {}{}",
                    trust.described,
                    anchor_name(&report.chain)
                ),
                fix: String::new(),
            }
        }
        Err(e) => {
            let (why, fix) =
                explain_verification(e, &trust.described, ca, &seen.chain, provider, now);
            Check {
                check: "verification",
                status: Status::Error,
                file: None,
                message: why,
                fix,
            }
        }
    });
    if let Some(leaf) = report.chain.first() {
        let server_name = options.naming.of(Setting::ProbeServerName);
        report.host_name = Some(match leaf.covering_name(name) {
            Some(san) => Check {
                check: "host-name",
                status: Status::Ok,
                file: None,
                message: format!("{name} is covered by {san}"),
                fix: String::new(),
            },
            None => Check {
                check: "host-name",
                status: Status::Error,
                file: None,
                message: format!(
                    "{name} is not among the certificate's names: {}",
                    names_of(leaf)
                ),
                fix: format!(
                    "connect with one of those names (or pass it with {server_name}), or have the certificate reissued with {name} in its subjectAltName"
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

/// Nothing yet, or the start of a TLS record (the same test the server applies).
fn looks_like_tls(b: &[u8]) -> bool {
    b.is_empty() || sniff::looks_like_tls(b)
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

pub(super) fn explain_failure(
    failure: Failure,
    seen: &Seen,
    options: &Options,
    trust: &Trust,
    now: SystemTime,
    report: &mut Report,
) {
    let name = |s: Setting| options.naming.of(s);
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
                    sniff::printable(&received, 120)
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
            format!("it may not speak TLS on this port, or it refused us silently (an unknown server name, an IP filter): check its log, and try {} with the name it serves", name(Setting::ProbeServerName)),
        ),
        Failure::Timeout(t) => (
            Outcome::Timeout,
            if received.is_empty() {
                format!("connected, but the server sent nothing within {t:?} after our ClientHello")
            } else {
                format!("the handshake did not finish within {t:?}")
            },
            format!("the service may not speak TLS (a protocol where the client talks first, but not TLS), or it is overloaded; check the port, or raise {}", name(Setting::ProbeTimeout)),
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
    options: &Options,
    trust: &Trust,
    now: SystemTime,
    offered_versions: &str,
    report: &Report,
) -> (Outcome, String, String) {
    let name = |s: Setting| options.naming.of(s);
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
                    format!("the handshake stopped at the server's certificate: there is no CA to verify it against (no {} given, and no system trust store)", name(Setting::ProbeCa)),
                    format!("pass {} with the CA that issued the server's certificate", name(Setting::ProbeCa)),
                );
            }
            let (why, fix) = match (&report.verification, &report.host_name) {
                (Some(v), _) if v.status != Status::Ok => (v.message.clone(), v.fix.clone()),
                (_, Some(h)) if h.status != Status::Ok => (h.message.clone(), h.fix.clone()),
                _ => explain_verification(
                    e,
                    &trust.described,
                    name(Setting::ProbeCa),
                    &seen.chain,
                    &options.provider.crypto_provider(),
                    now,
                ),
            };
            (
                Outcome::CertificateRejected,
                format!("we rejected the server's certificate: {why}"),
                fix,
            )
        }
        TlsError::AlertReceived(alert) => {
            explain_alert(*alert, offered_versions, &offered_alpn, sent_cert, options, report)
        }
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
            format!("offer a protocol the server supports with {}", name(Setting::ProbeAlpn)),
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
    options: &Options,
    report: &Report,
) -> (Outcome, String, String) {
    use AlertDescription as A;
    let name = |s: Setting| options.naming.of(s);
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
            format!("offer another version ({}), or enable this version on the server (tls-server: --tls-versions 1.2,1.3)", name(Setting::ProbeVersions)),
        ),
        A::NoApplicationProtocol => (
            Outcome::AlpnMismatch,
            format!(
                "the server speaks none of the ALPN protocols we offered ({}) (alert NoApplicationProtocol)",
                if offered_alpn.is_empty() { "none" } else { offered_alpn }
            ),
            format!("offer a protocol the server supports with {} (e.g. h2 or http/1.1), or add ours to the server's ALPN list", name(Setting::ProbeAlpn)),
        ),
        A::HandshakeFailure | A::InsufficientSecurity => (
            Outcome::PeerAlert,
            format!("the server found nothing acceptable in our ClientHello (alert {alert:?}): no cipher suite, key-exchange group or signature scheme in common{}", if sent_cert { "" } else { ", or it requires a client certificate" }),
            "compare the server's versions, suites and groups with ours; its log says which (tls-server logs the client's offer)".into(),
        ),
        A::CertificateRequired => (
            Outcome::ClientCertificate,
            format!("the server requires a client certificate, and we sent none (alert CertificateRequired){accepted_cas}"),
            format!("pass a client certificate issued by a CA the server trusts, with its key ({})", name(Setting::ProbeClientCert)),
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
            format!("pass a name the server serves with {}", name(Setting::ProbeServerName)),
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

#[cfg(test)]
mod tests {
    use super::*;

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
