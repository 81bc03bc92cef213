//! The words for a secure connection that failed after its handshake: for each
//! [`AfterFinding`] (decided in `diagnose.rs`), one sentence that names the peer's mistake
//! (or ours) and one that says what to do.

use std::io;

use rustls::{AlertDescription, ContentType, Error as TlsError, InvalidMessage, PeerMisbehaved};

use crate::setting::{Naming, Setting};

/// What a failure after the handshake means.
pub(crate) enum AfterFinding<'a> {
    /// A record's authentication tag did not match.
    Undecryptable,
    /// More than 2^14 bytes of plaintext in one record.
    OversizedPlaintext,
    /// A record header announcing more than rustls reads at all.
    OversizedHeader,
    /// A KeyUpdate with a request that is neither 0 nor 1.
    BadKeyUpdate,
    /// KeyUpdate after KeyUpdate, past rustls's allowance.
    TooManyKeyUpdates,
    /// Records between the pieces of a split handshake message.
    Interleaved,
    /// Keys changed while a handshake message was still incomplete.
    KeyChangeMidMessage,
    /// A record or message that does not parse.
    Corrupt(&'a InvalidMessage),
    /// A record of a type that has no place now.
    UnexpectedRecord {
        got: ContentType,
        expected: &'a [ContentType],
    },
    /// A handshake message that has no place after the handshake.
    UnexpectedHandshake(String),
    /// Too many empty records, warning alerts or renegotiation requests.
    Flood(&'a PeerMisbehaved),
    /// The peer ended the connection with a fatal alert.
    PeerAlert(AlertDescription),
    OtherTls(&'a TlsError),
    /// rustls would not take the bytes.
    InputRejected(&'a io::Error),
    /// The peer reset the connection.
    Reset {
        sending: bool,
    },
    /// Another socket error.
    Network {
        sending: bool,
        error: &'a io::Error,
    },
    NoWriter(&'a io::Error),
    HandlerPanic {
        place: &'a str,
        panic: &'a str,
    },
}

impl AfterFinding<'_> {
    /// (what happened, what to do).
    pub(crate) fn sentences(&self, naming: Naming) -> (String, String) {
        let keylog = naming.of(Setting::KeyLog);
        let broken_client = || {
            format!("the client's TLS library is at fault: update it, or report the bug to its authors with the bytes (a capture decrypted with {keylog} shows them)")
        };
        let rewritten = "look for something between client and server that changes bytes (a proxy or load balancer that is not TLS-aware, faulty hardware offload); if nothing is there, the client's TLS library is at fault: update it or report the bug";
        match self {
            AfterFinding::Undecryptable => (
                "a record from the client did not decrypt: its authentication tag does not match, so its bytes were changed on the way or it was encrypted with keys other than the ones this handshake agreed on".into(),
                rewritten.into(),
            ),
            AfterFinding::OversizedPlaintext => (
                "the client sent a record carrying more than 16384 bytes (2^14) of data, the most one TLS record may carry (RFC 8446 §5.1)".into(),
                format!("{}; no setting lets a peer exceed it", broken_client()),
            ),
            AfterFinding::OversizedHeader => (
                "the client sent a record header announcing more than 18432 bytes, longer than any TLS record (at most 2^14 bytes of data plus 256 of encryption overhead in TLS 1.3, 2048 in TLS 1.2): what arrived is not a TLS record".into(),
                "check what writes to the client's socket: bytes written beside its TLS library (plaintext, another protocol) break the stream of records; if nothing does, the client's TLS library is at fault".into(),
            ),
            AfterFinding::BadKeyUpdate => (
                "the client sent a KeyUpdate whose request is neither update_not_requested (0) nor update_requested (1) (RFC 8446 §4.6.3)".into(),
                broken_client(),
            ),
            AfterFinding::TooManyKeyUpdates => (
                "the client sent KeyUpdate after KeyUpdate, more than rustls accepts without application data between them (a way to make a server work for nothing)".into(),
                "a client needs a new key only after gigabytes of data: find out why this one asks so often (a bug, or an attack)".into(),
            ),
            AfterFinding::Interleaved => (
                "the client split a handshake message across records and sent other records between the pieces, which TLS forbids (RFC 8446 §5.1); rustls has no alert for this, so we closed with close_notify".into(),
                broken_client(),
            ),
            AfterFinding::KeyChangeMidMessage => (
                "the client changed its keys (KeyUpdate) while a handshake message it had begun was still incomplete, which TLS forbids (RFC 8446 §5.1)".into(),
                broken_client(),
            ),
            AfterFinding::Corrupt(m) => (
                format!(
                    "the client sent {} ({m:?}), which is not well-formed TLS",
                    match m {
                        InvalidMessage::InvalidContentType => "a record of an unknown content type",
                        InvalidMessage::UnknownProtocolVersion => "a record with an unknown version",
                        InvalidMessage::InvalidEmptyPayload => "an empty record",
                        _ => "a message that does not parse",
                    }
                ),
                "check what writes to the client's socket: bytes written beside its TLS library (plaintext, a second TLS session) break the stream of records; if nothing does, something in between altered the bytes or the client's TLS library is at fault".into(),
            ),
            AfterFinding::UnexpectedRecord { got, expected } => (
                format!(
                    "the client sent a {got:?} record where only {} may come",
                    expected
                        .iter()
                        .map(|t| format!("{t:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                broken_client(),
            ),
            AfterFinding::UnexpectedHandshake(what) => (
                format!("the client sent a {what} handshake message after the handshake, where it has no place (a client starting over, or renegotiating, which TLS 1.3 does not have)"),
                "have the client open a new connection instead of restarting the handshake on this one; if it does not mean to, its TLS library is at fault".into(),
            ),
            AfterFinding::Flood(p) => (
                format!(
                    "the client sent {}, more than rustls accepts (a way to make a server work for nothing)",
                    match p {
                        PeerMisbehaved::TooManyEmptyFragments => "empty record after empty record",
                        PeerMisbehaved::TooManyWarningAlertsReceived => "warning alert after warning alert",
                        PeerMisbehaved::TooManyRenegotiationRequests => "renegotiation request after renegotiation request",
                        _ => "the same message again and again",
                    }
                ),
                "find out why the client sends them: a bug, or an attack".into(),
            ),
            AfterFinding::PeerAlert(alert) => peer_alert(*alert, rewritten),
            AfterFinding::OtherTls(e) => (
                format!("TLS error after the handshake: {e}"),
                "see the client's own error message for its side of the story".into(),
            ),
            AfterFinding::InputRejected(e) => (
                format!("rustls would not take the client's bytes: {e}"),
                broken_client(),
            ),
            AfterFinding::Reset { sending: false } => (
                "the client reset the connection (TCP RST) instead of closing it with close_notify".into(),
                "nothing to fix if the client had finished: many close their socket with our last records unread (session tickets, a reply), and their system answers with a reset; otherwise the client aborted (see its log), or a firewall or load balancer in between dropped the connection".into(),
            ),
            AfterFinding::Reset { sending: true } => (
                "the client's side was gone when we sent: it had reset or closed the connection without close_notify".into(),
                "nothing to fix if the client had finished and did not wait for our reply; otherwise the client aborted (see its log), or a firewall or load balancer in between dropped the connection".into(),
            ),
            AfterFinding::Network { sending, error } => (
                format!(
                    "{} failed: {error}",
                    if *sending { "sending" } else { "receiving" }
                ),
                "check the network between client and server".into(),
            ),
            AfterFinding::NoWriter(e) => (
                format!("the client reads slower than we send, and no thread could be started to go on sending to it: {e}"),
                format!(
                    "the machine is out of threads or memory: lower {} or raise the system's limits (ulimit -u, memory)",
                    naming.of(Setting::MaxConnections)
                ),
            ),
            AfterFinding::HandlerPanic { place, panic } => (
                format!("the {place} panicked: {panic}"),
                "a bug in the program's handler, not the client's doing: this connection was closed and the server goes on; RUST_BACKTRACE=1 shows where it panicked".into(),
            ),
        }
    }
}

/// A fatal alert from the client after the handshake.
fn peer_alert(alert: AlertDescription, rewritten: &str) -> (String, String) {
    let said = format!("the client ended the connection with the fatal alert {alert:?}");
    match alert {
        AlertDescription::BadRecordMac => (
            format!("{said}: a record from us did not decrypt on its side"),
            rewritten.replace("the client's TLS library", "one of the two TLS libraries"),
        ),
        AlertDescription::DecodeError | AlertDescription::UnexpectedMessage => (
            format!("{said}: it could not make sense of a record from us"),
            "if the program writes to the socket beside tls-server, stop: only TLS records may go on it; otherwise see the client's own error message".into(),
        ),
        AlertDescription::UserCanceled => (
            format!("{said}: its user or program gave up"),
            "nothing to fix on the server".into(),
        ),
        _ => (
            said,
            "see the client's own error message for why".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_name_settings_through_the_naming() {
        let flags = Naming::new(|s| match s {
            Setting::KeyLog => "--keylog",
            Setting::MaxConnections => "--max-connections",
            other => other.method(),
        });
        let (_, fix) = AfterFinding::BadKeyUpdate.sentences(flags);
        assert!(fix.contains("--keylog"), "{fix}");
        let (_, fix) = AfterFinding::BadKeyUpdate.sentences(Naming::default());
        assert!(fix.contains("ServerOptions::key_log_file"), "{fix}");
        let e = io::Error::other("no threads");
        let (_, fix) = AfterFinding::NoWriter(&e).sentences(flags);
        assert!(fix.contains("--max-connections"), "{fix}");
    }
}
