//! What the server saw of one handshake, kept for whoever wants to show it: each flight
//! with its time, size and TLS records, what the client offered, and the certificate we
//! served. Recorded only when asked for
//! ([`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes), or `trace`
//! for the flights of a trace).

use std::time::Duration;

use crate::explain::client_hello::ClientHello;
use crate::tls::SecureContext;

/// One read from the client, or one write of ours, during a handshake.
///
/// A TLS flight (the messages one side sends before it waits for the other) usually
/// arrives in one read and leaves in one write; a large one may take several.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Flight {
    /// From the TCP accept to the moment the server read it or wrote it.
    pub at: Duration,
    /// `true`: read from the client; `false`: written by us.
    pub from_client: bool,
    /// How many bytes it carried.
    pub bytes: usize,
    /// Its TLS records, in order, as the wire shows them: `ClientHello`, `ServerHello`,
    /// `ChangeCipherSpec`, `fatal alert ProtocolVersion` while they are in plaintext;
    /// `encrypted record` (TLS 1.3) or `encrypted handshake` (TLS 1.2, after
    /// ChangeCipherSpec) once they are not; `(rest of a record)` for the tail of a record
    /// that began in an earlier read.
    pub records: Vec<String>,
}

impl Flight {
    /// The records with repeats counted: `ServerHello, ChangeCipherSpec, encrypted record ×4`.
    pub fn records_line(&self) -> String {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for r in &self.records {
            match out.last_mut() {
                Some((last, n)) if *last == r.as_str() => *n += 1,
                _ => out.push((r.as_str(), 1)),
            }
        }
        out.into_iter()
            .map(|(r, n)| match n {
                1 => r.to_string(),
                n => format!("{r} ×{n}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the server saw of one handshake, successful or not:
/// [`SocketInfo::handshake`](crate::SocketInfo::handshake) and
/// [`TlsClientError::handshake`](crate::TlsClientError::handshake) when
/// [`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes) is on.
///
/// What it cannot hold: the contents of encrypted records. In TLS 1.3 everything after
/// the ServerHello is encrypted, so a page naming EncryptedExtensions, Certificate, ... in
/// those records names them by the protocol, not by reading them.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct HandshakeLog {
    /// What the client offered, when its ClientHello arrived whole.
    pub offered: Option<ClientHello>,
    /// Every read and write of the handshake, in order.
    pub flights: Vec<Flight>,
    /// The certificate chain and key our resolver chose for this client. rustls asks for
    /// one even when it then resumes a session and sends none (see
    /// [`SocketInfo::resumed`](crate::SocketInfo::resumed)). `None` with a ready-made
    /// [`ServerOptions::server_config`](crate::ServerOptions::server_config), or when the
    /// handshake failed before a certificate was chosen.
    pub served: Option<SecureContext>,
    /// Whether client authentication was on, so that a full handshake asked the client for
    /// a certificate (CertificateRequest).
    pub client_certificate_requested: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted() {
        let f = Flight {
            at: Duration::ZERO,
            from_client: false,
            bytes: 10,
            records: ["ServerHello", "encrypted record", "encrypted record"]
                .map(String::from)
                .to_vec(),
        };
        assert_eq!(f.records_line(), "ServerHello, encrypted record ×2");
    }
}
