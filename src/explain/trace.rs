//! `--trace`: the teaching view of a handshake — each flight in each direction with its
//! size, time and the TLS records in it, what the client offered, what was chosen, and how
//! it ended.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::explain::client_hello::ClientHello;
use crate::explain::flights::Flight;
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

/// Collects the flights of one handshake as the bytes go by: for a trace, and for the
/// [`HandshakeLog`](crate::explain::HandshakeLog) kept with `keep_handshakes`.
pub(crate) struct Recorder {
    started: Instant,
    flights: Vec<Flight>,
    /// Bytes still to come of a record that began in an earlier read, per direction.
    carry: [usize; 2],
    /// Whether the sender has sent ChangeCipherSpec: in TLS 1.2 its records are encrypted
    /// from then on; in TLS 1.3 it means nothing (TLS 1.3 encrypts as application_data
    /// records), so a handshake record after it is still read when it parses as one.
    encrypted: [bool; 2],
    /// Bytes still to come of a handshake message that began in an earlier record, per
    /// direction (a message may span records, and a record may carry several messages).
    message_carry: [usize; 2],
    /// Whether the record carried over in `carry` is a handshake record.
    carry_is_handshake: [bool; 2],
    /// The client's first bytes, to read its ClientHello.
    first: Vec<u8>,
}

impl Recorder {
    pub(crate) fn new(started: Instant) -> Recorder {
        Recorder {
            started,
            flights: Vec::new(),
            carry: [0, 0],
            encrypted: [false, false],
            message_carry: [0, 0],
            carry_is_handshake: [false, false],
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
        let at = self.started.elapsed();
        let mut parts: Vec<String> = Vec::new();
        let mut rest = bytes;
        let skip = self.carry[dir].min(rest.len());
        if skip > 0 {
            parts.push("(rest of a record)".into());
            rest = &rest[skip..];
            self.carry[dir] -= skip;
            if self.carry_is_handshake[dir] {
                self.message_carry[dir] = self.message_carry[dir].saturating_sub(skip);
            }
        }
        while rest.len() >= 5 {
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            let body = &rest[5..rest.len().min(5 + len)];
            parts.extend(self.describe(dir, rest[0], body, body.len() == len));
            if rest.len() < 5 + len {
                self.carry[dir] = 5 + len - rest.len();
                self.carry_is_handshake[dir] = rest[0] == 22;
                break;
            }
            rest = &rest[5 + len..];
        }
        self.flights.push(Flight {
            at,
            from_client: incoming,
            bytes: bytes.len(),
            records: parts,
        });
    }

    /// The names of what one record carries: one for most records, one per handshake
    /// message for a handshake record (rustls puts a whole TLS 1.2 flight in one).
    /// `whole`: the record's body is all here.
    fn describe(&mut self, dir: usize, content_type: u8, body: &[u8], whole: bool) -> Vec<String> {
        let one = |s: String| vec![s];
        match content_type {
            20 => {
                self.encrypted[dir] = true;
                one("ChangeCipherSpec".into())
            }
            21 if !self.encrypted[dir] && body.len() >= 2 => {
                let level = if body[0] == 2 { "fatal" } else { "warning" };
                one(format!(
                    "{level} alert {:?}",
                    rustls::AlertDescription::from(body[1])
                ))
            }
            21 => one("encrypted alert".into()),
            22 => {
                // After ChangeCipherSpec, only a record that parses exactly as handshake
                // messages is taken for plaintext (TLS 1.3's second ClientHello after a
                // HelloRetryRequest); TLS 1.2's encrypted Finished does not.
                let (names, carry) = handshake_messages(body, self.message_carry[dir]);
                let plaintext = !self.encrypted[dir] || (whole && carry == Some(0));
                match names {
                    Some(names) if plaintext => {
                        self.message_carry[dir] = carry.unwrap_or(0);
                        names.into_iter().map(String::from).collect()
                    }
                    _ if plaintext => one(match body.first() {
                        Some(&t) => handshake_name(t).into(),
                        None => "handshake".into(),
                    }),
                    _ => one("encrypted handshake".into()),
                }
            }
            23 => one("encrypted record".into()),
            other => one(format!("record type {other}")),
        }
    }

    /// The flights recorded so far.
    #[cfg(test)]
    pub(crate) fn flights(&self) -> &[Flight] {
        &self.flights
    }

    /// The flights, for a [`HandshakeLog`](crate::explain::HandshakeLog).
    pub(crate) fn into_flights(self) -> Vec<Flight> {
        self.flights
    }

    /// The story so far, with what the client offered after its first flight and `outcome`
    /// (what was chosen, or why it failed) at the end.
    pub(crate) fn finish(
        &self,
        id: u64,
        peer: SocketAddr,
        outcome: String,
        took: Duration,
    ) -> HandshakeTrace {
        let mut steps: Vec<String> = self.flights.iter().map(step).collect();
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

/// `+0.4 ms → client 1234 B: ServerHello, ChangeCipherSpec, encrypted record ×4`.
fn step(flight: &Flight) -> String {
    let arrow = if flight.from_client {
        "← client"
    } else {
        "→ client"
    };
    format!(
        "+{:.1} ms {arrow} {} B: {}",
        flight.at.as_secs_f64() * 1000.0,
        flight.bytes,
        flight.records_line()
    )
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(",")
    }
}

/// The handshake messages in one record's body, skipping first the `carry` bytes of a
/// message begun in an earlier record: their names, and how many bytes of the last one
/// are still to come (`None` for a body that does not parse: encrypted, or garbage).
fn handshake_messages(body: &[u8], carry: usize) -> (Option<Vec<&'static str>>, Option<usize>) {
    let mut names = Vec::new();
    let skip = carry.min(body.len());
    if skip > 0 {
        names.push("(rest of a message)");
    }
    let mut rest = &body[skip..];
    let mut left = carry - skip;
    while left == 0 && !rest.is_empty() {
        if rest.len() < 4 || handshake_name(rest[0]) == "handshake message" {
            return (None, None);
        }
        names.push(handshake_name(rest[0]));
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        if rest.len() < 4 + len {
            left = 4 + len - rest.len();
            rest = &[];
        } else {
            rest = &rest[4 + len..];
        }
    }
    (Some(names), Some(left))
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
    fn a_record_of_several_messages_and_a_plaintext_hello_after_ccs() {
        let mut r = Recorder::new(Instant::now());
        // ServerHello, Certificate, ServerHelloDone in one record (TLS 1.2, rustls).
        let mut out = vec![
            22, 3, 3, 0, 15, 2, 0, 0, 0, 11, 0, 0, 3, 1, 2, 3, 14, 0, 0, 0,
        ];
        // ChangeCipherSpec, then an encrypted Finished (random bytes).
        out.extend_from_slice(&[20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 6, 0x9c, 7, 7, 7, 7, 7]);
        r.flight(false, &out);
        assert_eq!(
            r.flights()[0].records,
            [
                "ServerHello",
                "Certificate",
                "ServerHelloDone",
                "ChangeCipherSpec",
                "encrypted handshake"
            ]
        );
        // TLS 1.3 after a HelloRetryRequest: ChangeCipherSpec, then a plaintext ClientHello.
        r.flight(true, &[20, 3, 3, 0, 1, 1, 22, 3, 3, 0, 6, 1, 0, 0, 2, 3, 3]);
        assert_eq!(r.flights()[1].records, ["ChangeCipherSpec", "ClientHello"]);
        // A message spanning two records, before any ChangeCipherSpec.
        let mut r = Recorder::new(Instant::now());
        r.flight(
            true,
            &[
                22, 3, 3, 0, 4, 11, 0, 0, 6, 22, 3, 3, 0, 6, 1, 2, 3, 4, 5, 6,
            ],
        );
        assert_eq!(
            r.flights()[0].records,
            ["Certificate", "(rest of a message)"]
        );
    }

    #[test]
    fn records_are_named_and_counted() {
        let mut r = Recorder::new(Instant::now());
        // A ServerHello record, a CCS, then two encrypted records.
        let mut out = vec![22, 3, 3, 0, 4, 2, 0, 0, 0];
        out.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
        out.extend_from_slice(&[23, 3, 3, 0, 2, 9, 9, 23, 3, 3, 0, 1, 9]);
        r.flight(false, &out);
        let steps: Vec<String> = r.flights().iter().map(step).collect();
        assert!(
            steps[0].ends_with("ServerHello, ChangeCipherSpec, encrypted record ×2"),
            "{}",
            steps[0]
        );
        assert!(steps[0].contains("→ client 28 B: "), "{}", steps[0]);
        // A record split over two reads.
        r.flight(true, &[22, 3, 1, 0, 10, 1, 0]);
        r.flight(true, &[0, 0, 0, 0, 0, 0, 0, 0]);
        let steps: Vec<String> = r.flights().iter().map(step).collect();
        assert!(steps[1].ends_with("ClientHello"), "{}", steps[1]);
        assert!(steps[2].ends_with("(rest of a record)"), "{}", steps[2]);
        assert_eq!(r.flights()[1].records, ["ClientHello"]);
    }
}
