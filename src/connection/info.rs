//! [`SocketInfo`]: what a handshake settled, fixed for the life of the connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::explain::HandshakeLog;
use crate::tls::{AuthorizationError, CertificateInfo};
use crate::util::json::Obj;

/// What a handshake settled, fixed for the life of the connection (Node's
/// `getProtocol()`, `getCipher()` — `standardName` is [`cipher`](Self::cipher), `name` is
/// [`cipher_openssl`](Self::cipher_openssl) — `servername`, `alpnProtocol`,
/// `isSessionReused()`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The connection's id, unique within the server, counting from 1.
    pub id: u64,
    /// The client's address (Node's `remoteAddress` and `remotePort`).
    pub remote_addr: SocketAddr,
    /// Our address the client connected to.
    pub local_addr: SocketAddr,
    /// `"TLSv1.3"` or `"TLSv1.2"`.
    pub protocol: &'static str,
    /// The cipher suite's IANA name, such as `TLS_AES_128_GCM_SHA256` or
    /// `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384` (Node's `getCipher().standardName`).
    pub cipher: String,
    /// The cipher suite's OpenSSL name, such as `ECDHE-ECDSA-AES256-GCM-SHA384` (Node's
    /// `getCipher().name`). OpenSSL calls TLS 1.3 suites by their IANA names, so for them it
    /// equals [`cipher`](Self::cipher), as it does for a suite OpenSSL's name is not known
    /// for (see [`openssl_cipher_suite_name`](crate::tls::openssl_cipher_suite_name)).
    pub cipher_openssl: String,
    /// The key-exchange group's IANA name (`X25519MLKEM768`, `x25519`, `secp256r1`, ...),
    /// when known.
    pub group: Option<String>,
    /// The server name the client asked for (SNI), if it sent one (Node's `servername`).
    pub server_name: Option<String>,
    /// Whether the certificate we sent covers [`server_name`](Self::server_name): `false`
    /// means a client that checks the name refuses it (the server logs a warning);
    /// `None` when the client sent no name, or when we do not know our certificate (a
    /// ready-made rustls configuration).
    pub server_name_covered: Option<bool>,
    /// An IP address the client sent as its server name, which TLS does not allow
    /// (RFC 6066) and which therefore counts as no name: some clients do it when told to
    /// connect to an address.
    pub server_name_ip: Option<std::net::IpAddr>,
    /// The ALPN protocol agreed on, if any.
    pub alpn_protocol: Option<String>,
    /// Whether the session was resumed rather than a full handshake.
    pub resumed: bool,
    /// From TCP accept to handshake complete.
    pub handshake_duration: Duration,
    /// Whether the client presented a certificate that our CAs vouch for (Node's
    /// `authorized`). Always `false` when client authentication is off.
    pub authorized: bool,
    /// Why the client is not authorized, when client authentication is on (Node's
    /// `authorizationError`).
    pub authorization_error: Option<AuthorizationError>,
    /// The client's certificate chain as presented, leaf first; empty when none was sent
    /// (Node's `getPeerCertificate(true)`).
    pub peer_chain: Vec<CertificateInfo>,
    /// The load balancer that passed the connection on, when a PROXY protocol header
    /// named the client (then [`remote_addr`](Self::remote_addr) is that client);
    /// see [`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol).
    pub proxied_by: Option<SocketAddr>,
    /// The handshake as the server saw it — each flight with its time, size and records,
    /// what the client offered, the certificate we chose — when
    /// [`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes) is on
    /// (`tls-server serve --mode https` turns it on for its handshake page). Not part of
    /// [`to_json`](Self::to_json).
    pub handshake: Option<Arc<HandshakeLog>>,
}

impl SocketInfo {
    /// These facts as one JSON object, with Node's field names where Node has one — what
    /// `tls-server serve --events json` prints for `secureConnection`:
    ///
    /// ```text
    /// {"id":1,"peer":"127.0.0.1:33164","local":"127.0.0.1:8000","protocol":"TLSv1.3",
    ///  "cipher":"TLS_AES_256_GCM_SHA384","cipherOpenssl":"TLS_AES_256_GCM_SHA384",
    ///  "group":"x25519","servername":"localhost","servernameCovered":true,"alpn":null,"resumed":false,
    ///  "authorized":false,"authorizationError":null,"authorizationMessage":null,
    ///  "peerCertificate":null,"handshakeMs":6.752}
    /// ```
    ///
    /// `cipher` is the suite's IANA name and `cipherOpenssl` its OpenSSL name (Node's
    /// `getCipher().standardName` and `.name`): the same for TLS 1.3, different for TLS 1.2
    /// (`"cipher":"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    /// "cipherOpenssl":"ECDHE-ECDSA-AES256-GCM-SHA384"`).
    /// `servernameCovered` is [`server_name_covered`](Self::server_name_covered) (`null`
    /// without SNI). `peerCertificate` is [`CertificateInfo::to_json`] of the client's
    /// certificate, or `null`; `servernameIp` appears only when the client sent an IP
    /// address as its server name, `proxiedBy` (the load balancer's address) only when a
    /// PROXY protocol header named the client; `handshakeMs` is milliseconds from TCP
    /// accept to handshake complete.
    pub fn to_json(&self) -> String {
        let o = Obj::new()
            .num("id", self.id)
            .str("peer", &self.remote_addr.to_string())
            .str("local", &self.local_addr.to_string())
            .str("protocol", self.protocol)
            .str("cipher", &self.cipher)
            .str("cipherOpenssl", &self.cipher_openssl)
            .opt_str("group", self.group.as_deref())
            .some_str(
                "proxiedBy",
                self.proxied_by.map(|a| a.to_string()).as_deref(),
            )
            .opt_str("servername", self.server_name.as_deref())
            .raw(
                "servernameCovered",
                match self.server_name_covered {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "null",
                },
            );
        // Only when it happened: an IP address sent as the server name (RFC 6066 forbids it).
        let o = match self.server_name_ip {
            Some(ip) => o.str("servernameIp", &ip.to_string()),
            None => o,
        };
        o.opt_str("alpn", self.alpn_protocol.as_deref())
            .bool("resumed", self.resumed)
            .bool("authorized", self.authorized)
            .opt_str(
                "authorizationError",
                self.authorization_error.as_ref().map(|e| e.code),
            )
            .opt_str(
                "authorizationMessage",
                self.authorization_error
                    .as_ref()
                    .map(|e| e.message.as_str()),
            )
            .raw(
                "peerCertificate",
                &self
                    .peer_chain
                    .first()
                    .map_or_else(|| "null".into(), CertificateInfo::to_json),
            )
            .num(
                "handshakeMs",
                format!("{:.3}", self.handshake_duration.as_secs_f64() * 1000.0),
            )
            .finish()
    }
}
