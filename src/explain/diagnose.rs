//! Deciding what a failure means: for a handshake, from the record of the failure (what
//! rustls said, the bytes, the phase, what the callbacks saw) to one [`Finding`]; for a
//! secure connection that failed later, from what broke it to one [`AfterFinding`] and the
//! alert that went out. The words for each finding are in [`catalogue`](super::catalogue);
//! this file holds only the decisions.
//!
//! rustls reports a client speaking plain HTTP as "received corrupt message of type
//! InvalidContentType"; the finding is `NotTls`, and the sentence says "the client is not
//! speaking TLS: it sent plain HTTP".

use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use rustls::{
    AlertDescription, Error as TlsError, InvalidMessage, PeerIncompatible, PeerMisbehaved,
};

use crate::explain::catalogue::after::AfterFinding;
use crate::explain::catalogue::{Finding, Rejection};
use crate::explain::client_hello::ClientHello;
use crate::explain::failure::{
    Broke, Cause, ConnectionError, Failed, Failure, Phase, TlsClientError,
};
use crate::explain::sniff::{looks_like_tls, FIRST_BYTES};
use crate::setting::Naming;
use crate::tls::accepts::Accepts;
use crate::tls::client_auth::{authorization_error, Presented};
use crate::tls::sni::Chosen;
use crate::tls::CertificateInfo;

/// Explains a failed handshake.
pub(crate) fn explain(
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    failed: Failed,
    ours: &Accepts,
) -> TlsClientError {
    let Failed {
        failure,
        phase,
        mut first_bytes,
        bytes_received,
        alert_sent,
        elapsed,
        timeout,
        timeout_setting,
        record,
        answered_http,
        ..
    } = failed;
    // With several certificates, explain with the one this client was served.
    let served;
    let ours = match record.sni.as_ref().and_then(|c| c.served.as_ref()) {
        Some(ctx)
            if ours
                .chain
                .first()
                .is_none_or(|l| l.der != ctx.certificate().der) =>
        {
            served = ours.served(ctx);
            &served
        }
        _ => ours,
    };
    let offered = ClientHello::parse(&first_bytes);
    let finding = diagnose(&Facts {
        failure: &failure,
        phase,
        first_bytes: &first_bytes,
        bytes_received,
        timeout,
        timeout_setting,
        answered_http,
        offered: offered.as_ref(),
        local,
        ours,
        record: &record,
    });
    let cause = finding.cause();
    let (message, fix) = finding.sentences(ours);
    let mut phase = phase;
    let mut alert_sent = alert_sent.map(|a| format!("{a:?}"));
    let mut authorization = None;
    if let Finding::ClientCertificate { error, alert } = finding {
        phase = Phase::ClientCertificate;
        alert_sent = Some(format!("{alert:?}"));
        authorization = Some(error);
    }
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
    first_bytes.truncate(FIRST_BYTES);
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
        proxied_by: None,
        handshake: None,
    }
}

/// Everything a decision may look at.
struct Facts<'a> {
    failure: &'a Failure,
    phase: Phase,
    first_bytes: &'a [u8],
    bytes_received: usize,
    timeout: std::time::Duration,
    timeout_setting: crate::setting::Setting,
    answered_http: bool,
    offered: Option<&'a ClientHello>,
    local: SocketAddr,
    ours: &'a Accepts,
    record: &'a crate::tls::record::Record,
}

fn diagnose<'a>(f: &Facts<'a>) -> Finding<'a> {
    let not_tls = !f.first_bytes.is_empty() && !looks_like_tls(f.first_bytes);
    match f.failure {
        Failure::Shutdown => Finding::Shutdown,
        Failure::Evicted => Finding::Evicted,
        Failure::Proxy(refusal) => Finding::Proxy(refusal),
        _ if not_tls => Finding::NotTls {
            first_bytes: f.first_bytes,
            answered_http: f.answered_http,
        },
        Failure::Timeout => match f.phase {
            Phase::BeforeAnyBytes => Finding::SilentClient {
                timeout: f.timeout,
                setting: f.timeout_setting,
            },
            Phase::ClientHello => Finding::SlowClientHello {
                bytes: f.bytes_received,
                timeout: f.timeout,
            },
            Phase::AfterServerHello | Phase::ClientCertificate => {
                Finding::UnfinishedHandshake { timeout: f.timeout }
            }
        },
        Failure::PeerClosed => match f.phase {
            Phase::BeforeAnyBytes => Finding::Probe,
            Phase::ClientHello => Finding::VanishedInClientHello {
                bytes: f.bytes_received,
            },
            Phase::AfterServerHello | Phase::ClientCertificate => {
                Finding::VanishedAfterReply(rejection(f.offered, f.local, f.ours, None))
            }
        },
        Failure::Io(e) => Finding::Network(e),
        Failure::Tls(e) => diagnose_tls(e, f),
    }
}

fn diagnose_tls<'a>(e: &'a TlsError, f: &Facts<'a>) -> Finding<'a> {
    if let Some(choice) = f
        .record
        .sni
        .as_ref()
        .filter(|c| c.chosen == Chosen::Refused)
    {
        return Finding::UnknownName {
            choice,
            ip_as_name: f
                .offered
                .and_then(|o| o.server_name.as_deref())
                .and_then(|n| n.parse::<IpAddr>().ok()),
        };
    }
    if let (TlsError::NoApplicationProtocol, Some(answer)) = (e, &f.record.alpn) {
        return Finding::AlpnCallback(answer);
    }
    if let Some(finding) = client_certificate(e, f.record.presented.as_ref(), f.ours) {
        return finding;
    }
    let theirs = f.offered;
    // A TLS 1.0/1.1-only client fails on some missing extension before rustls looks at
    // versions; the version is the real story.
    if let Some(o) = theirs {
        if !matches!(e, TlsError::AlertReceived(_))
            && !o.versions.iter().any(|v| f.ours.versions.contains(v))
        {
            return Finding::NoCommonVersion {
                offered: theirs,
                disjoint: true,
            };
        }
    }
    match e {
        TlsError::PeerIncompatible(p) => match p {
            PeerIncompatible::NoCipherSuitesInCommon => Finding::NoCommonCipher { offered: theirs },
            // A TLS 1.2 client that offers only RSA key exchange sends no groups at all:
            // the real mismatch is its cipher suites (we allow only ECDHE, for forward
            // secrecy).
            PeerIncompatible::NoKxGroupsInCommon if theirs.is_some_and(offers_only_rsa_kx) => {
                Finding::RsaKeyExchangeOnly {
                    offered: theirs.expect("checked by the guard"),
                }
            }
            PeerIncompatible::NoKxGroupsInCommon => Finding::NoCommonGroup { offered: theirs },
            PeerIncompatible::NoSignatureSchemesInCommon => {
                Finding::NoCommonSignature { offered: theirs }
            }
            PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled => Finding::NoCommonVersion {
                offered: theirs,
                disjoint: false,
            },
            other => Finding::IncompatibleHello(other),
        },
        TlsError::NoApplicationProtocol => Finding::NoCommonAlpn { offered: theirs },
        TlsError::AlertReceived(alert) => match alert {
            // rustls (and others) answer a certificate signature algorithm they refuse,
            // such as SHA-1, with decrypt_error.
            AlertDescription::DecryptError
                if f.ours.chain.iter().any(CertificateInfo::has_weak_signature) =>
            {
                Finding::CertificateRejected {
                    alert: *alert,
                    why: rejection(theirs, f.local, f.ours, Some(*alert)),
                }
            }
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied => Finding::CertificateRejected {
                alert: *alert,
                why: rejection(theirs, f.local, f.ours, Some(*alert)),
            },
            AlertDescription::ProtocolVersion => Finding::VersionAlert,
            AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => {
                Finding::NothingAcceptable(*alert)
            }
            other => Finding::PeerAlert(*other),
        },
        TlsError::InvalidMessage(m) => Finding::Malformed(m),
        other => Finding::OtherTls(other),
    }
}

/// A TLS 1.2 client whose suites all lack ECDHE (RSA key exchange only).
fn offers_only_rsa_kx(o: &ClientHello) -> bool {
    o.groups.is_empty()
        && !o.cipher_suites.iter().any(|s| {
            s.starts_with("TLS_ECDHE_")
                || s.starts_with("TLS_AES_")
                || s.starts_with("TLS_CHACHA20_")
        })
}

/// A client-certificate failure: Node's authorization error and the alert rustls sent.
fn client_certificate<'a>(
    e: &TlsError,
    presented: Option<&Presented>,
    ours: &Accepts,
) -> Option<Finding<'a>> {
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
    Some(Finding::ClientCertificate { error, alert })
}

/// The likely reasons a client refuses our certificate, from what we know of it, of the
/// name the client asked for (or the address it connected to), and of its alert.
fn rejection<'a>(
    offered: Option<&ClientHello>,
    local: SocketAddr,
    ours: &'a Accepts,
    alert: Option<AlertDescription>,
) -> Vec<Rejection<'a>> {
    let Some(leaf) = ours.chain.first() else {
        return vec![Rejection::Unknown];
    };
    let mut reasons = Vec::new();
    match offered.and_then(|o| o.server_name.as_deref()) {
        Some(name) if leaf.covering_name(name).is_none() => {
            reasons.push(Rejection::NameNotCovered {
                asked: name.to_string(),
                leaf,
            })
        }
        Some(_) => {}
        // No SNI: the client connected by address. Fine if that address is in our SANs.
        None if leaf.covering_name(&local.ip().to_string()).is_none() => {
            reasons.push(Rejection::AddressNotCovered {
                addr: local.ip(),
                leaf,
            })
        }
        None => {}
    }
    let now = SystemTime::now();
    if leaf.not_after < now {
        reasons.push(Rejection::Expired { leaf, now });
    } else if leaf.not_before > now {
        reasons.push(Rejection::NotYetValid { leaf, now });
    } else if alert == Some(AlertDescription::CertificateExpired) {
        reasons.push(Rejection::ClientClock { leaf, now });
    }
    if leaf.self_issued {
        reasons.push(Rejection::SelfSigned);
    } else if leaf.is_ca {
        reasons.push(Rejection::CaAsLeaf);
    }
    if !leaf.extended_key_usage.is_empty()
        && !leaf
            .extended_key_usage
            .iter()
            .any(|u| u == "serverAuth" || u == "anyExtendedKeyUsage")
    {
        reasons.push(Rejection::NotForServers { leaf });
    }
    if leaf.has_weak_signature() {
        reasons.push(Rejection::WeakSignature { leaf });
    }
    if reasons.is_empty() {
        // Nothing specific is wrong with what we send: the client does not trust our
        // issuer. If that issuer is an intermediate we do not send, that is the same symptom.
        reasons.push(Rejection::UntrustedIssuer {
            leaf,
            sends_issuer: ours
                .chain
                .iter()
                .skip(1)
                .any(|c| c.subject_line == leaf.issuer_line),
        });
    }
    reasons
}

impl Finding<'_> {
    /// The category this finding is reported under.
    pub(crate) fn cause(&self) -> Cause {
        match self {
            Finding::NotTls { .. } => Cause::NotTls,
            Finding::Shutdown => Cause::Shutdown,
            Finding::Evicted => Cause::Evicted,
            Finding::Proxy(_) => Cause::ProxyHeader,
            Finding::SilentClient { .. }
            | Finding::SlowClientHello { .. }
            | Finding::UnfinishedHandshake { .. } => Cause::Timeout,
            Finding::Probe => Cause::Probe,
            Finding::VanishedInClientHello { .. } | Finding::VanishedAfterReply(_) => {
                Cause::PeerVanished
            }
            Finding::Network(_) => Cause::Network,
            Finding::UnknownName { .. } => Cause::UnknownServerName,
            Finding::AlpnCallback(_) | Finding::NoCommonAlpn { .. } => Cause::AlpnMismatch,
            Finding::ClientCertificate { .. } => Cause::ClientCertificate,
            Finding::NoCommonVersion { .. } | Finding::VersionAlert => Cause::ProtocolVersion,
            Finding::NoCommonCipher { .. } | Finding::RsaKeyExchangeOnly { .. } => {
                Cause::NoCommonCipher
            }
            Finding::NoCommonGroup { .. } => Cause::NoCommonGroup,
            Finding::NoCommonSignature { .. } => Cause::NoCommonSignature,
            Finding::CertificateRejected { .. } => Cause::CertificateRejected,
            Finding::NothingAcceptable(_) | Finding::PeerAlert(_) => Cause::PeerAlert,
            Finding::IncompatibleHello(_) | Finding::Malformed(_) | Finding::OtherTls(_) => {
                Cause::Protocol
            }
        }
    }
}

/// Explains a secure connection that failed after its handshake.
pub(crate) fn explain_after(broke: Broke, naming: Naming) -> ConnectionError {
    let finding = diagnose_after(&broke);
    let cause = finding.cause();
    let (message, fix) = finding.sentences(naming);
    let (alert_sent, alert_received) = match &broke {
        Broke::Tls {
            error,
            alert_queued,
        } => (
            // Where rustls queued no alert, we sent close_notify.
            match alert_queued {
                true => alert_rustls_sends(error).map(|a| format!("{a:?}")),
                false => Some("CloseNotify".to_string()),
            },
            match error {
                TlsError::AlertReceived(a) => Some(format!("{a:?}")),
                _ => None,
            },
        ),
        _ => (None, None),
    };
    let (tls_error, io_error) = match broke {
        Broke::Tls { error, .. } => (Some(error), None),
        Broke::Input(e) | Broke::Receive(e) | Broke::Send(e) | Broke::NoWriter(e) => {
            (None, Some(e.to_string()))
        }
        Broke::HandlerPanic { .. } => (None, None),
    };
    ConnectionError {
        cause,
        message,
        fix,
        alert_sent,
        alert_received,
        tls_error,
        io_error,
    }
}

fn diagnose_after(broke: &Broke) -> AfterFinding<'_> {
    let reset = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
        )
    };
    match broke {
        Broke::Tls { error, .. } => diagnose_tls_after(error),
        Broke::Input(e) => AfterFinding::InputRejected(e),
        Broke::Receive(e) if reset(e) => AfterFinding::Reset { sending: false },
        Broke::Send(e) if reset(e) => AfterFinding::Reset { sending: true },
        Broke::Receive(error) => AfterFinding::Network {
            sending: false,
            error,
        },
        Broke::Send(error) => AfterFinding::Network {
            sending: true,
            error,
        },
        Broke::NoWriter(e) => AfterFinding::NoWriter(e),
        Broke::HandlerPanic { place, panic } => AfterFinding::HandlerPanic { place, panic },
    }
}

fn diagnose_tls_after(e: &TlsError) -> AfterFinding<'_> {
    match e {
        TlsError::DecryptError => AfterFinding::Undecryptable,
        TlsError::PeerSentOversizedRecord => AfterFinding::OversizedPlaintext,
        TlsError::InvalidMessage(InvalidMessage::MessageTooLarge) => AfterFinding::OversizedHeader,
        TlsError::InvalidMessage(InvalidMessage::InvalidKeyUpdate) => AfterFinding::BadKeyUpdate,
        TlsError::InvalidMessage(m) => AfterFinding::Corrupt(m),
        TlsError::PeerMisbehaved(PeerMisbehaved::TooManyKeyUpdateRequests) => {
            AfterFinding::TooManyKeyUpdates
        }
        TlsError::PeerMisbehaved(PeerMisbehaved::MessageInterleavedWithHandshakeMessage) => {
            AfterFinding::Interleaved
        }
        TlsError::PeerMisbehaved(PeerMisbehaved::KeyEpochWithPendingFragment) => {
            AfterFinding::KeyChangeMidMessage
        }
        TlsError::PeerMisbehaved(
            p @ (PeerMisbehaved::TooManyEmptyFragments
            | PeerMisbehaved::TooManyWarningAlertsReceived
            | PeerMisbehaved::TooManyRenegotiationRequests),
        ) => AfterFinding::Flood(p),
        TlsError::InappropriateMessage {
            expect_types,
            got_type,
        } => AfterFinding::UnexpectedRecord {
            got: *got_type,
            expected: expect_types,
        },
        TlsError::InappropriateHandshakeMessage { got_type, .. } => {
            AfterFinding::UnexpectedHandshake(format!("{got_type:?}"))
        }
        TlsError::AlertReceived(alert) => AfterFinding::PeerAlert(*alert),
        other => AfterFinding::OtherTls(other),
    }
}

/// The fatal alert rustls 0.23 sends for `e` after the handshake, when it sends one (it
/// queues the alert before returning the error; see its `conn.rs` and `common_state.rs`).
/// `tests/connection_errors.rs` reads the alerts back off the wire.
fn alert_rustls_sends(e: &TlsError) -> Option<AlertDescription> {
    Some(match e {
        TlsError::DecryptError => AlertDescription::BadRecordMac,
        TlsError::PeerSentOversizedRecord => AlertDescription::RecordOverflow,
        TlsError::InvalidMessage(InvalidMessage::InvalidKeyUpdate) => {
            AlertDescription::IllegalParameter
        }
        TlsError::InvalidMessage(m) => AlertDescription::from(*m),
        TlsError::InappropriateMessage { .. }
        | TlsError::InappropriateHandshakeMessage { .. }
        | TlsError::PeerMisbehaved(
            PeerMisbehaved::KeyEpochWithPendingFragment
            | PeerMisbehaved::IllegalMiddleboxChangeCipherSpec,
        ) => AlertDescription::UnexpectedMessage,
        // A warning alert, which TLS 1.3 forbids, is answered with decode_error.
        TlsError::AlertReceived(_) => AlertDescription::DecodeError,
        _ => return None,
    })
}

impl AfterFinding<'_> {
    /// The category this finding is reported under.
    pub(crate) fn cause(&self) -> Cause {
        match self {
            AfterFinding::Undecryptable => Cause::UndecryptableRecord,
            AfterFinding::OversizedPlaintext | AfterFinding::OversizedHeader => {
                Cause::OversizedRecord
            }
            AfterFinding::BadKeyUpdate | AfterFinding::TooManyKeyUpdates => Cause::BadKeyUpdate,
            AfterFinding::Interleaved | AfterFinding::KeyChangeMidMessage => {
                Cause::InterleavedMessage
            }
            AfterFinding::Corrupt(_) => Cause::CorruptRecord,
            AfterFinding::UnexpectedRecord { .. }
            | AfterFinding::UnexpectedHandshake(_)
            | AfterFinding::Flood(_)
            | AfterFinding::OtherTls(_)
            | AfterFinding::InputRejected(_) => Cause::Protocol,
            AfterFinding::PeerAlert(_) => Cause::PeerAlert,
            AfterFinding::Reset { .. } => Cause::PeerReset,
            AfterFinding::Network { .. } => Cause::Network,
            AfterFinding::NoWriter(_) => Cause::Resources,
            AfterFinding::HandlerPanic { .. } => Cause::HandlerPanic,
        }
    }
}
