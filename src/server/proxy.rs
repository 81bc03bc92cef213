//! The PROXY protocol: a load balancer in TCP mode (HAProxy's `send-proxy` /
//! `send-proxy-v2`, nginx's `proxy_protocol on`) starts each connection with a header that
//! names the client it is passing on, so that events and logs show the client's address
//! and not the balancer's. The header is read here, before TLS, byte for byte (nothing of
//! the ClientHello after it is consumed), and parsed by the `proxy-header` crate.
//!
//! Only the balancers in `proxy_from` may send one: otherwise any client could claim any
//! address. With the protocol on, a connection from anywhere else is refused.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Instant;

#[cfg(feature = "proxy-protocol")]
use proxy_header::{ParseConfig, Protocol, ProxyHeader};

use crate::error::Error;
use crate::explain::failure::{Failure, ProxyRefusal};
use crate::options::ProxyProtocol;
use crate::setting::{Naming, Setting};

/// The longest v1 header, `\r\n` included (the protocol's own bound).
const V1_MAX: usize = 107;
/// The v2 signature and the fixed part of its header.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V2_FIXED: usize = 16;

/// The PROXY protocol settings of a server, checked.
pub(crate) struct Proxy {
    pub accept: ProxyProtocol,
    trusted: Vec<Network>,
    /// `trusted` as configured, for messages.
    trusted_text: String,
}

/// An address or a network (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        // ::ffff:a.b.c.d/N is a.b.c.d/(N - 96), as the peers it is matched with are.
        match addr.to_canonical() {
            IpAddr::V4(v4) if addr.is_ipv6() && prefix >= 96 => Some(Network {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            }),
            _ => Some(Network { addr, prefix }),
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack socket shows an IPv4 client as ::ffff:a.b.c.d.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The first `prefix` bits of a `bits`-bit address.
fn masked(addr: u128, bits: u32, prefix: u8) -> u128 {
    match u32::from(prefix) {
        0 => 0,
        p => addr >> (bits - p.min(bits)),
    }
}

impl Proxy {
    /// The settings, or an error naming the setting and the fix: with the protocol on,
    /// at least one trusted balancer, each an address or network.
    pub(crate) fn new(
        accept: ProxyProtocol,
        from: &[String],
        naming: Naming,
    ) -> Result<Proxy, Error> {
        let mut trusted = Vec::new();
        for text in from {
            trusted.push(Network::parse(text).ok_or_else(|| {
                naming.error(
                    Setting::ProxyFrom,
                    format!("{text:?} is not an address or a network"),
                    "give addresses or networks such as 10.0.0.5, 10.0.0.0/8 or fd00::/8",
                )
            })?);
        }
        if accept != ProxyProtocol::Off && cfg!(not(feature = "proxy-protocol")) {
            return Err(naming.error(
                Setting::ProxyProtocol,
                "this build cannot read PROXY protocol headers",
                "build tls-server with its feature proxy-protocol (on by default)",
            ));
        }
        if accept != ProxyProtocol::Off && trusted.is_empty() {
            return Err(naming.error(
                Setting::ProxyFrom,
                format!(
                    "{} is on, but no balancer is trusted to send the header",
                    naming.of(Setting::ProxyProtocol)
                ),
                "name your balancers' addresses (e.g. 127.0.0.1 for one on this machine, 10.0.0.0/8 for a network): from any other address a header could claim to be any client",
            ));
        }
        Ok(Proxy {
            accept,
            trusted,
            trusted_text: from.join(","),
        })
    }

    /// Whether `ip` is a balancer trusted to send a header (the protocol on, `ip` in
    /// `proxy_from`): its connections are counted against the per-address limit under the
    /// client its header names, not under its own address.
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        self.accept != ProxyProtocol::Off && self.trusted.iter().any(|n| n.contains(ip))
    }

    /// The client a connection from `peer` is for: `Some` from a PROXY header, `None`
    /// when the protocol is off or the balancer speaks for itself (a v2 `LOCAL` header,
    /// such as its health checks). On failure, the failure and the bytes read.
    pub(crate) fn read(
        &self,
        sock: &TcpStream,
        peer: SocketAddr,
        deadline: Instant,
    ) -> Result<Option<SocketAddr>, (Failure, Vec<u8>)> {
        if self.accept == ProxyProtocol::Off {
            return Ok(None);
        }
        if !self.trusts(peer.ip()) {
            let trusted = self.trusted_text.clone();
            return Err((
                Failure::Proxy(ProxyRefusal::Untrusted { trusted }),
                Vec::new(),
            ));
        }
        let mut header = Vec::new();
        let read = read_header(sock, self.accept, deadline, &mut header);
        let _ = sock.set_read_timeout(None);
        let failure = match read {
            Ok(()) => return self.parse(&header).map_err(|f| (f, header)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Failure::PeerClosed,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Failure::Timeout
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Failure::Proxy(ProxyRefusal::Missing {
                    wanted: self.wanted(),
                    tls: header.first() == Some(&0x16),
                })
            }
            Err(e) => Failure::Io(e),
        };
        Err((failure, header))
    }

    /// Not reached: `Proxy::new` refuses to start with the protocol on in this build.
    #[cfg(not(feature = "proxy-protocol"))]
    fn parse(&self, header: &[u8]) -> Result<Option<SocketAddr>, Failure> {
        Err(Failure::Proxy(ProxyRefusal::Malformed {
            why: format!("this build cannot parse it ({})", shown(header)),
        }))
    }

    #[cfg(feature = "proxy-protocol")]
    fn parse(&self, header: &[u8]) -> Result<Option<SocketAddr>, Failure> {
        let malformed = |why: String| Failure::Proxy(ProxyRefusal::Malformed { why });
        let config = ParseConfig {
            include_tlvs: false,
            allow_v1: self.accept != ProxyProtocol::V2,
            allow_v2: self.accept != ProxyProtocol::V1,
        };
        match ProxyHeader::parse(header, config) {
            Ok((parsed, used)) if used == header.len() => match parsed.proxied_address() {
                None => Ok(None),
                Some(a) if a.protocol == Protocol::Stream => Ok(Some(a.source)),
                Some(_) => Err(malformed("it is for a datagram (UDP) connection".into())),
            },
            Ok(_) => Err(malformed("its length does not match its content".into())),
            Err(e) => Err(malformed(format!(
                "{e:?} (from the balancer: {})",
                shown(header)
            ))),
        }
    }

    fn wanted(&self) -> &'static str {
        match self.accept {
            ProxyProtocol::V1 => "version 1, text",
            ProxyProtocol::V2 => "version 2, binary",
            _ => "version 1 or 2",
        }
    }
}

/// Reads one header of a version `accept` allows into `header`, and nothing after it.
/// `InvalidData` when the first bytes are not such a header (they are in `header`).
fn read_header(
    sock: &TcpStream,
    accept: ProxyProtocol,
    deadline: Instant,
    header: &mut Vec<u8>,
) -> io::Result<()> {
    let not_a_header = || io::Error::from(io::ErrorKind::InvalidData);
    // Both versions and a TLS record are told apart by their first five bytes.
    read_more(sock, deadline, header, 5)?;
    if header.starts_with(b"PROXY") && accept != ProxyProtocol::V2 {
        // Up to the line's end: peek to find it, then take exactly that much.
        let mut peeked = [0u8; V1_MAX];
        loop {
            set_timeout(sock, deadline)?;
            let room = V1_MAX - header.len();
            let n = sock.peek(&mut peeked[..room])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = match peeked[..n].iter().position(|&b| b == b'\n') {
                Some(end) => end + 1,
                None => n,
            };
            read_more(sock, deadline, header, take)?;
            if header.ends_with(b"\n") {
                return Ok(());
            }
            if header.len() >= V1_MAX {
                return Err(not_a_header());
            }
        }
    }
    if V2_SIGNATURE.starts_with(header) && accept != ProxyProtocol::V1 {
        read_more(sock, deadline, header, V2_FIXED - header.len())?;
        if !header.starts_with(V2_SIGNATURE) {
            return Err(not_a_header());
        }
        let len = u16::from_be_bytes([header[14], header[15]]) as usize;
        return read_more(sock, deadline, header, len);
    }
    Err(not_a_header())
}

/// Appends exactly `n` more bytes from `sock` to `buf`, by the deadline.
fn read_more(
    mut sock: &TcpStream,
    deadline: Instant,
    buf: &mut Vec<u8>,
    n: usize,
) -> io::Result<()> {
    let start = buf.len();
    buf.resize(start + n, 0);
    let mut filled = start;
    while filled < buf.len() {
        set_timeout(sock, deadline)?;
        match sock.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok(got) => filled += got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(filled);
                return Err(e);
            }
        }
    }
    Ok(())
}

fn set_timeout(sock: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    sock.set_read_timeout(Some(left))
}

/// A header as text a person can read: printable ASCII kept, the rest as `\xNN`.
fn shown(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(64)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Network;

    #[test]
    fn networks_match_their_addresses_only() {
        let net = |s: &str| Network::parse(s).unwrap_or_else(|| panic!("{s}"));
        let ip = |s: &str| s.parse().unwrap();
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(
            net("127.0.0.1").contains(ip("::ffff:127.0.0.1")),
            "dual stack"
        );
        assert!(net("::ffff:10.0.0.1").contains(ip("10.0.0.1")), "mapped");
        assert!(net("::ffff:10.0.0.0/104").contains(ip("::ffff:10.9.9.9")));
        assert!(!net("::ffff:10.0.0.0/104").contains(ip("11.0.0.1")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        assert!(net("0.0.0.0/0").contains(ip("192.0.2.1")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")), "families apart");
        assert!(net("[::1]").contains(ip("::1")));
        for bad in ["10.0.0.0/33", "::/129", "localhost", "10.0.0/8", ""] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
    }
}
