//! Reading what a client offered from the ClientHello bytes we fed to rustls.
//!
//! rustls's own view of the ClientHello lacks the offered protocol versions, and it is
//! gone once the handshake failed. We keep the first bytes of every connection, so we can
//! show what the client asked for next to what we allow (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).

use rustls::{CipherSuite, NamedGroup, ProtocolVersion, SignatureScheme};

use crate::tls::provider::{cipher_suite_name, group_name};

/// What a client offered in its ClientHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHello {
    /// Protocol versions, from `supported_versions` if present, else the legacy field.
    pub versions: Vec<String>,
    /// Cipher suites by IANA name (unknown ones as `0xNNNN`), in the client's order.
    pub cipher_suites: Vec<String>,
    /// Key-exchange groups by IANA name.
    pub groups: Vec<String>,
    /// Groups the client sent a key share for (TLS 1.3).
    pub key_shares: Vec<String>,
    /// Signature schemes.
    pub signature_schemes: Vec<String>,
    /// ALPN protocols.
    pub alpn: Vec<String>,
    /// The SNI host name.
    pub server_name: Option<String>,
}

impl ClientHello {
    /// Parses the ClientHello out of the first bytes of a connection (one or more TLS
    /// records). `None` if the bytes are not a complete ClientHello.
    pub fn parse(bytes: &[u8]) -> Option<ClientHello> {
        let body = handshake_body(bytes)?;
        let mut r = Reader(&body);
        if r.u8()? != 1 {
            return None; // not a ClientHello
        }
        let len = r.u24()?;
        let mut r = Reader(r.take(len)?);
        let legacy_version = r.u16()?;
        r.take(32)?; // random
        let sid = r.u8()? as usize;
        r.take(sid)?;
        let n = r.u16()? as usize;
        let mut suites = Reader(r.take(n)?);
        let mut hello = ClientHello::default();
        while let Some(s) = suites.u16() {
            if !is_grease(s) && s != 0x00ff {
                hello
                    .cipher_suites
                    .push(cipher_suite_name(CipherSuite::from(s)));
            }
        }
        let n = r.u8()? as usize;
        r.take(n)?; // compression methods
        let mut supported_versions = Vec::new();
        if let Some(n) = r.u16() {
            let mut exts = Reader(r.take(n as usize)?);
            while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
                let mut e = Reader(exts.take(len as usize)?);
                match kind {
                    0 => hello.server_name = parse_sni(&mut e),
                    10 => {
                        let mut l = Reader(e.vec16()?);
                        while let Some(g) = l.u16() {
                            if !is_grease(g) {
                                hello.groups.push(group_name(NamedGroup::from(g)));
                            }
                        }
                    }
                    13 => {
                        let mut l = Reader(e.vec16()?);
                        while let Some(s) = l.u16() {
                            if !is_grease(s) {
                                hello
                                    .signature_schemes
                                    .push(scheme_name(SignatureScheme::from(s)));
                            }
                        }
                    }
                    16 => {
                        let mut l = Reader(e.vec16()?);
                        while let Some(n) = l.u8() {
                            let p = l.take(n as usize)?;
                            hello.alpn.push(String::from_utf8_lossy(p).into_owned());
                        }
                    }
                    43 => {
                        let n = e.u8()? as usize;
                        let mut l = Reader(e.take(n)?);
                        while let Some(v) = l.u16() {
                            if !is_grease(v) {
                                supported_versions.push(v);
                            }
                        }
                    }
                    51 => {
                        let mut l = Reader(e.vec16()?);
                        while let (Some(g), Some(n)) = (l.u16(), l.u16()) {
                            l.take(n as usize)?;
                            if !is_grease(g) {
                                hello.key_shares.push(group_name(NamedGroup::from(g)));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if supported_versions.is_empty() {
            supported_versions.push(legacy_version);
        }
        hello.versions = supported_versions.into_iter().map(version_name).collect();
        Some(hello)
    }
}

/// The concatenated payloads of the leading handshake records (type 22).
fn handshake_body(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while bytes.len() >= 5 && bytes[0] == 22 {
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        let record = bytes.get(5..5 + len)?;
        body.extend_from_slice(record);
        bytes = &bytes[5 + len..];
        if body.len() >= 4 {
            let want = 4 + u32::from_be_bytes([0, body[1], body[2], body[3]]) as usize;
            if body.len() >= want {
                return Some(body);
            }
        }
    }
    None
}

fn parse_sni(e: &mut Reader<'_>) -> Option<String> {
    let mut l = Reader(e.vec16()?);
    while let Some(kind) = l.u8() {
        let name = l.vec16()?;
        if kind == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

/// RFC 8701 GREASE values (0x?A?A) are noise clients add to keep servers honest.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// `TLSv1.3`, `TLSv1.2`, ... as Node and OpenSSL spell them.
pub(crate) fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLSv1.3".into(),
        0x0303 => "TLSv1.2".into(),
        0x0302 => "TLSv1.1".into(),
        0x0301 => "TLSv1".into(),
        0x0300 => "SSLv3".into(),
        other => match ProtocolVersion::from(other).as_str() {
            Some(s) => s.to_string(),
            None => format!("0x{other:04x}"),
        },
    }
}

/// The IANA name of a signature scheme (`ecdsa_secp256r1_sha256`, `rsa_pss_rsae_sha256`).
pub(crate) fn scheme_name(s: SignatureScheme) -> String {
    let iana = match u16::from(s) {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        _ => {
            return match s.as_str() {
                Some(name) => name.to_ascii_lowercase(),
                None => format!("0x{:04x}", u16::from(s)),
            }
        }
    };
    iana.to_string()
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn hello_bytes(
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Vec<u8> {
        let provider = Arc::new(crate::tls::Provider::default().crypto_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let mut c =
            rustls::ClientConnection::new(Arc::new(config), "example.test".try_into().unwrap())
                .unwrap();
        let mut out = Vec::new();
        c.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_a_rustls_client_hello() {
        let bytes = hello_bytes(
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            &[b"h2", b"http/1.1"],
        );
        let h = ClientHello::parse(&bytes).expect("parses");
        assert_eq!(h.versions, ["TLSv1.3", "TLSv1.2"]);
        assert_eq!(h.server_name.as_deref(), Some("example.test"));
        assert_eq!(h.alpn, ["h2", "http/1.1"]);
        assert!(
            h.cipher_suites
                .iter()
                .any(|s| s == "TLS_AES_128_GCM_SHA256"),
            "{:?}",
            h.cipher_suites
        );
        assert!(h.groups.iter().any(|g| g == "x25519"), "{:?}", h.groups);
        assert!(!h.key_shares.is_empty());
        assert!(
            h.signature_schemes
                .iter()
                .any(|s| s == "ecdsa_secp256r1_sha256"),
            "{:?}",
            h.signature_schemes
        );
    }

    #[test]
    fn tls12_only_and_truncated() {
        let bytes = hello_bytes(&[&rustls::version::TLS12], &[]);
        assert_eq!(ClientHello::parse(&bytes).unwrap().versions, ["TLSv1.2"]);
        assert_eq!(ClientHello::parse(&bytes[..bytes.len() - 1]), None);
        assert_eq!(ClientHello::parse(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn grease() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a0b));
        assert!(!is_grease(0x1301));
    }
}
