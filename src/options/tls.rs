//! The TLS half of [`ServerOptions`]'s builder: certificates and keys, versions, suites and
//! groups, ALPN, SNI, client authentication, sessions and tickets, the provider, and the
//! ways to reach rustls's own configuration. What they set is
//! [`TlsOptions`](crate::tls::options), which a reload replaces.

use std::path::PathBuf;
use std::sync::Arc;

use crate::options::ServerOptions;
use crate::tls::alpn::AlpnOffer;
use crate::tls::client_auth::ClientAuth;
use crate::tls::context::SecureContext;
use crate::tls::credentials::Pem;
use crate::tls::options::{Callback, SniSource, TlsVersion};
use crate::tls::provider::Provider;
use crate::tls::sni::SniFallback;

impl ServerOptions {
    /// The certificate chain, leaf first then intermediates, as a PEM file. No default.
    pub fn cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.cert = Some(Pem::File(path.into()));
        self
    }

    /// The certificate chain as PEM text in memory; `label` names it in error messages.
    pub fn cert_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.cert = Some(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// The private key (PKCS#8, PKCS#1 or SEC1, unencrypted) as a PEM file. No default.
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.key = Some(Pem::File(path.into()));
        self
    }

    /// The private key as PEM text in memory; `label` names it in error messages.
    pub fn key_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.key = Some(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// The protocol versions to accept. Defaults to TLS 1.2 and TLS 1.3 (Node's
    /// `minVersion: 'TLSv1.2'`). TLS 1.0 and 1.1 are not supported.
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.tls.versions = versions.to_vec();
        self
    }

    /// Cipher suites by IANA name (`TLS_AES_128_GCM_SHA256`,
    /// `TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256`, ...) or OpenSSL name
    /// (`ECDHE-ECDSA-CHACHA20-POLY1305`), in any case, in order of preference.
    /// Defaults to the crypto provider's list. An unknown name is an error that lists the
    /// valid ones.
    pub fn cipher_suites<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.tls.cipher_suites = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// Key-exchange groups by IANA name (`X25519MLKEM768`, `x25519`, `secp256r1`, ...), in
    /// order of preference (Node's `ecdhCurve`). Defaults to the crypto provider's list.
    pub fn kx_groups<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.tls.kx_groups = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// ALPN protocols the server speaks, in order of preference (Node's `ALPNProtocols`).
    /// Defaults to none: ALPN is not negotiated.
    pub fn alpn<S: AsRef<[u8]>>(mut self, protocols: &[S]) -> Self {
        self.tls.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Lets `choose` pick the ALPN protocol for each client that offers some (Node's
    /// `ALPNCallback`), instead of the [`alpn`](Self::alpn) list. `choose` runs on the
    /// connection's thread during the handshake; returning `None` refuses the client with a
    /// `no_application_protocol` alert, and the `TlsClientError` lists what it offered.
    ///
    /// ```no_run
    /// let options = tls_server::ServerOptions::new().alpn_callback(|offer| {
    ///     // h2 only for api.example.test, HTTP/1.1 for everyone else.
    ///     let want = if offer.server_name.as_deref() == Some("api.example.test") { "h2" } else { "http/1.1" };
    ///     offer.protocols.iter().find(|p| *p == want).cloned()
    /// });
    /// ```
    pub fn alpn_callback<F>(mut self, choose: F) -> Self
    where
        F: Fn(&AlpnOffer) -> Option<String> + Send + Sync + 'static,
    {
        self.tls.alpn_callback = Some(Callback(Arc::new(choose)));
        self
    }

    /// Serves this certificate chain and key (PEM files) to clients asking for `name` by SNI
    /// (Node's `addContext`). `name` is a host name (`api.example.test`) or a wildcard for
    /// one label (`*.example.test`). Exact names win over wildcards. The pair is loaded and
    /// checked when the server starts: the key must match, and the certificate must cover
    /// `name`. Clients asking for no name or another one get the
    /// [`sni_fallback`](Self::sni_fallback) treatment.
    pub fn sni(
        mut self,
        name: impl Into<String>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.sni.push((
            name.into(),
            SniSource::Files {
                cert: Pem::File(cert.into()),
                key: Pem::File(key.into()),
            },
        ));
        self
    }

    /// Same as [`sni`](Self::sni), with a certificate already loaded.
    pub fn sni_context(mut self, name: impl Into<String>, context: SecureContext) -> Self {
        self.tls
            .sni
            .push((name.into(), SniSource::Context(context)));
        self
    }

    /// Node's `SNICallback`: asked for a certificate for each server name no
    /// [`sni`](Self::sni) entry matches, on the connection's thread during the handshake.
    /// `None` leaves the client to the [`sni_fallback`](Self::sni_fallback) policy. Load
    /// contexts ahead of time and hand out clones: this runs for every such handshake.
    pub fn sni_callback<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&str) -> Option<SecureContext> + Send + Sync + 'static,
    {
        self.tls.sni_callback = Some(Callback(Arc::new(lookup)));
        self
    }

    /// What clients that send no server name, or one we do not serve, get: the default
    /// certificate (Node's behaviour, the default) or an `unrecognized_name` alert. See
    /// [`SniFallback`].
    pub fn sni_fallback(mut self, policy: SniFallback) -> Self {
        self.tls.sni_fallback = policy;
        self
    }

    /// Encrypts session tickets with the keys in this file instead of random per-process
    /// keys, so that several instances behind a load balancer resume each other's sessions
    /// (Node's `ticketKeys`). One key per line, 64 hex digits (`openssl rand -hex 32`); the
    /// first encrypts, all decrypt. Read at start and on every reload: rotate by adding a
    /// line (README, "Resumption across instances"). Keep the file private (mode 0600).
    pub fn ticket_keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ticket_keys = Some(path.into());
        self
    }

    /// Whether clients must present a certificate; see [`ClientAuth`]. Defaults to
    /// [`ClientAuth::Off`]. Any other mode needs at least one CA ([`client_ca_file`](Self::client_ca_file)).
    pub fn client_auth(mut self, mode: ClientAuth) -> Self {
        self.tls.client_auth = mode;
        self.tls.reject_unauthorized = mode != ClientAuth::Inspect;
        self
    }

    /// Node's `requestCert`: `true` asks for a client certificate ([`ClientAuth::Required`],
    /// or [`ClientAuth::Inspect`] with `reject_unauthorized(false)`, in either order);
    /// `false` is [`ClientAuth::Off`]. Defaults to `false`.
    pub fn request_cert(mut self, request: bool) -> Self {
        self.tls.client_auth = match (request, self.tls.reject_unauthorized) {
            (false, _) => ClientAuth::Off,
            (true, true) => ClientAuth::Required,
            (true, false) => ClientAuth::Inspect,
        };
        self
    }

    /// Node's `rejectUnauthorized`: with `request_cert(true)`, `false` lets clients with a
    /// missing or invalid certificate in ([`ClientAuth::Inspect`]). Defaults to `true`.
    pub fn reject_unauthorized(mut self, reject: bool) -> Self {
        self.tls.reject_unauthorized = reject;
        self.tls.client_auth = match (self.tls.client_auth, reject) {
            (ClientAuth::Required, false) => ClientAuth::Inspect,
            (ClientAuth::Inspect, true) => ClientAuth::Required,
            (mode, _) => mode,
        };
        self
    }

    /// A PEM file of CA certificates trusted to issue client certificates (Node's `ca`).
    /// May be given several times. Their names are sent to clients in the
    /// CertificateRequest so they can pick the right certificate.
    pub fn client_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.client_cas.push(Pem::File(path.into()));
        self
    }

    /// Client CA certificates as PEM text in memory.
    pub fn client_ca_pem(mut self, label: impl Into<String>, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.client_cas.push(Pem::Bytes {
            label: label.into(),
            data: pem.into(),
        });
        self
    }

    /// A PEM file of certificate revocation lists (Node's `crl`); a client certificate
    /// listed there is refused as revoked. May be given several times. Certificates whose
    /// issuer has no CRL here are not checked for revocation.
    pub fn crl_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.crls.push(Pem::File(path.into()));
        self
    }

    /// How many sessions the server remembers for resumption by session ID (TLS 1.2) and
    /// stateful tickets (TLS 1.3); 0 turns resumption off. Defaults to 256.
    pub fn session_cache_size(mut self, n: usize) -> Self {
        self.tls.session_cache_size = n;
        self
    }

    /// Whether to issue session tickets (RFC 5077 / RFC 8446 §4.6.1), so clients resume
    /// without the server remembering them. Ticket keys are random per process and rotate
    /// every 6 hours, unless they come from a [`ticket_keys_file`](Self::ticket_keys_file).
    /// Defaults to `true`, as in Node. Turned off in
    /// [`ClientAuth::Inspect`] mode.
    pub fn session_tickets(mut self, on: bool) -> Self {
        self.tls.session_tickets = on;
        self
    }

    /// Appends every connection's TLS secrets to `path` in the NSS key-log format, so
    /// Wireshark can decrypt a capture (the `SSLKEYLOGFILE` convention). The file is created
    /// with mode 0600 and a warning is logged: anyone with it can read the traffic.
    /// Defaults to none.
    pub fn key_log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.key_log = Some(path.into());
        self
    }

    /// The crypto provider. Defaults to aws-lc-rs when the `aws-lc-rs` feature is on (the
    /// default), else ring.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.tls.provider = provider;
        self
    }

    /// Use this ready rustls configuration instead of building one from the certificate,
    /// key, version, suite, group and ALPN options (which are then ignored). For advanced
    /// needs: a custom certificate resolver, client verifier, session storage, ...
    pub fn server_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls.server_config = Some(config);
        self
    }

    /// Adjusts the rustls configuration after the server has built it from these options
    /// (and again on each reload), for a knob this type does not have: the certificates,
    /// SNI, client verification, session storage and tickets, key log and the diagnosis
    /// all stay in place, unlike with [`server_config`](Self::server_config). The
    /// certificate resolver and client verifier you see are replaced for each connection
    /// (they record what the handshake did); change them with the options instead.
    ///
    /// ```
    /// # use tls_server::ServerOptions;
    /// let options = ServerOptions::new().configure(|config| config.max_early_data_size = 0);
    /// ```
    pub fn configure<F>(mut self, adjust: F) -> Self
    where
        F: Fn(&mut rustls::ServerConfig) + Send + Sync + 'static,
    {
        self.tls.configure = Some(Callback(Arc::new(adjust)));
        self
    }

    /// TLS 1.3 session tickets sent after each full handshake (rustls's default is 2; a
    /// browser opening several connections at once can use more; 0 sends none, which
    /// turns TLS 1.3 resumption off). Node: no option; OpenSSL's `SSL_CTX_set_num_tickets`.
    pub fn tickets_per_handshake(mut self, n: usize) -> Self {
        self.tls.tickets_per_handshake = Some(n);
        self
    }

    /// The largest TLS record we send, in bytes, the 5-byte header included: 32 to 16389
    /// (the default, a full 16 KiB record). Smaller records reach a client's TLS stack
    /// sooner on a slow link (a record is decrypted only once whole); about 1400 fits one
    /// TCP segment. Checked by [`Server::bind`](crate::Server::bind).
    pub fn max_fragment_size(mut self, bytes: usize) -> Self {
        self.tls.max_fragment_size = Some(bytes);
        self
    }

    /// Choose the cipher suite by our order ([`cipher_suites`](Self::cipher_suites), or
    /// the provider's) instead of the client's. Node's `honorCipherOrder`; off by default,
    /// as in rustls, since a client knows best whether it has AES hardware.
    pub fn honor_cipher_order(mut self, on: bool) -> Self {
        self.tls.honor_cipher_order = on;
        self
    }
}
