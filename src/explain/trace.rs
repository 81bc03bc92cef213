//! `--trace`: the teaching view of a handshake — each flight in each direction with its
//! size, time and the TLS records in it, what the client offered, what was chosen, and how
//! it ended.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::explain::client_hello::ClientHello;
use crate::explain::sniff::FIRST_BYTES;
use crate::util::json::Obj;

/// The story of one handshake, emitted as [`Event::Trace`](crate::Event::Trace) before
/// `SecureConnection` or `TlsClientError` when tracing is on.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandshakeTrace {
    /// The connection id.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// One line per step, in order: `+0.0 ms ← 517 B: handshake ClientHello`, ...
    pub steps: Vec<String>,
}

impl HandshakeTrace {
    /// `{"id":…,"peer":…,"steps":[…]}`.
    pub fn to_json(&self) -> String {
        Obj::new()
            .num("id", self.id)
            .str("peer", &self.peer.to_string())
            .strs("steps", &self.steps)
            .finish()
    }
}

impl fmt::Display for HandshakeTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} handshake trace:", self.id, self.peer)?;
        for step in &self.steps {
            write!(f, "\n    {step}")?;
        }
        Ok(())
    }
}

/// Collects the flights of one handshake as the bytes go by.
pub(crate) struct Recorder {
    started: Instant,
    steps: Vec<String>,
    /// Bytes still to come of a record that began in an earlier read, per direction.
    carry: [usize; 2],
    /// Whether the sender has switched to encrypted records (after ChangeCipherSpec in
    /// TLS 1.2; TLS 1.3 encrypts as application_data records).
    encrypted: [bool; 2],
    /// The client's first bytes, to read its ClientHello.
    first: Vec<u8>,
}

impl Recorder {
    pub(crate) fn new(started: Instant) -> Recorder {
        Recorder {
            started,
            steps: Vec::new(),
            carry: [0, 0],
            encrypted: [false, false],
            first: Vec::new(),
        }
    }

    /// Notes a flight: `incoming` from the client, or outgoing from us.
    pub(crate) fn flight(&mut self, incoming: bool, bytes: &[u8]) {
        let dir = usize::from(incoming);
        if incoming && self.first.len() < FIRST_BYTES {
            let take = bytes.len().min(FIRST_BYTES - self.first.len());
            self.first.extend_from_slice(&bytes[..take]);
        }
        let mut parts: Vec<String> = Vec::new();
        let mut rest = bytes;
        let skip = self.carry[dir].min(rest.len());
        if skip > 0 {
            parts.push("(rest of a record)".into());
            rest = &rest[skip..];
            self.carry[dir] -= skip;
        }
        while rest.len() >= 5 {
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            let body = &rest[5..rest.len().min(5 + len)];
            parts.push(self.describe(dir, rest[0], body));
            if rest.len() < 5 + len {
                self.carry[dir] = 5 + len - rest.len();
                break;
            }
            rest = &rest[5 + len..];
        }
        let arrow = if incoming { "← client" } else { "→ client" };
        self.steps.push(format!(
            "+{:.1} ms {arrow} {} B: {}",
            self.started.elapsed().as_secs_f64() * 1000.0,
            bytes.len(),
            compress(&parts).join(", ")
        ));
    }

    fn describe(&mut self, dir: usize, content_type: u8, body: &[u8]) -> String {
        match content_type {
            20 => {
                self.encrypted[dir] = true;
                "ChangeCipherSpec".into()
            }
            21 if !self.encrypted[dir] && body.len() >= 2 => {
                let level = if body[0] == 2 { "fatal" } else { "warning" };
                format!(
                    "{level} alert {:?}",
                    rustls::AlertDescription::from(body[1])
                )
            }
            21 => "encrypted alert".into(),
            22 if !self.encrypted[dir] => match body.first() {
                Some(&t) => handshake_name(t).into(),
                None => "handshake".into(),
            },
            22 => "encrypted handshake".into(),
            23 => "encrypted record".into(),
            other => format!("record type {other}"),
        }
    }

    /// The story so far, with what the client offered after its first flight and `outcome`
    /// (what was chosen, or why it failed) at the end.
    pub(crate) fn finish(
        self,
        id: u64,
        peer: SocketAddr,
        outcome: String,
        took: Duration,
    ) -> HandshakeTrace {
        let mut steps = self.steps;
        if let Some(hello) = ClientHello::parse(&self.first) {
            let sni = hello.server_name.as_deref().unwrap_or("(none)");
            let alpn = if hello.alpn.is_empty() {
                "(none)".to_string()
            } else {
                hello.alpn.join(",")
            };
            let at = usize::from(!steps.is_empty());
            steps.insert(
                at,
                format!(
                    "         client offered {}; {} cipher suite{}, first {}; groups {} (key shares for {}); SNI {sni}; ALPN {alpn}",
                    hello.versions.join(","),
                    hello.cipher_suites.len(),
                    if hello.cipher_suites.len() == 1 { "" } else { "s" },
                    hello.cipher_suites.first().map(String::as_str).unwrap_or("-"),
                    or_none(&hello.groups),
                    or_none(&hello.key_shares),
                ),
            );
        }
        steps.push(format!("+{:.1} ms {outcome}", took.as_secs_f64() * 1000.0));
        HandshakeTrace { id, peer, steps }
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(",")
    }
}

/// `encrypted record ×4` instead of four equal entries.
fn compress(parts: &[String]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for p in parts {
        match out.last_mut() {
            Some((last, n)) if last == p => *n += 1,
            _ => out.push((p.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(p, n)| if n > 1 { format!("{p} ×{n}") } else { p })
        .collect()
}

fn handshake_name(t: u8) -> &'static str {
    match t {
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        _ => "handshake message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_named_and_counted() {
        let mut r = Recorder::new(Instant::now());
        // A ServerHello record, a CCS, then two encrypted records.
        let mut out = vec![22, 3, 3, 0, 4, 2, 0, 0, 0];
        out.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
        out.extend_from_slice(&[23, 3, 3, 0, 2, 9, 9, 23, 3, 3, 0, 1, 9]);
        r.flight(false, &out);
        assert!(
            r.steps[0].ends_with("ServerHello, ChangeCipherSpec, encrypted record ×2"),
            "{}",
            r.steps[0]
        );
        // A record split over two reads.
        r.flight(true, &[22, 3, 1, 0, 10, 1, 0]);
        r.flight(true, &[0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(r.steps[1].ends_with("ClientHello"), "{}", r.steps[1]);
        assert!(r.steps[2].ends_with("(rest of a record)"), "{}", r.steps[2]);
    }
}
