//! [`SecureContext`]: a certificate chain and its key, loaded and checked together — what
//! Node calls a secure context, and what [`ServerOptions::sni_context`] and
//! [`ServerHandle::add_context`] take.
//!
//! [`ServerOptions::sni_context`]: crate::ServerOptions::sni_context
//! [`ServerHandle::add_context`]: crate::ServerHandle::add_context

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

use crate::error::Error;
use crate::tls::certificate::CertificateInfo;
use crate::tls::credentials::{self, Pem};
use crate::tls::provider::Provider;

/// A certificate chain and the private key that belongs to it, checked when it is made:
/// what Node calls a secure context. Cheap to clone.
///
/// ```no_run
/// let ctx = tls_server::tls::SecureContext::from_files("certs/a.crt", "certs/a.key")?;
/// println!("{} {}", ctx.certificate().subject_line, ctx.certificate().fingerprint256);
/// # Ok::<(), tls_server::Error>(())
/// ```
#[derive(Clone)]
pub struct SecureContext {
    inner: Arc<Context>,
}

struct Context {
    key: Arc<CertifiedKey>,
    chain: Vec<CertificateInfo>,
    /// The certificate file (or label), for messages.
    source: PathBuf,
}

impl SecureContext {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key, and checks that
    /// the key belongs to the leaf. Errors name the file and the fix.
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::load(
            &Pem::File(cert.into()),
            &Pem::File(key.into()),
            &Provider::default().crypto_provider(),
        )
    }

    /// Same as [`from_files`](Self::from_files), from PEM text in memory; the labels name
    /// the texts in error messages.
    pub fn from_pem(
        cert_label: impl Into<String>,
        cert_pem: impl Into<Vec<u8>>,
        key_label: impl Into<String>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Result<Self, Error> {
        let cert = Pem::Bytes {
            label: cert_label.into(),
            data: cert_pem.into(),
        };
        let key = Pem::Bytes {
            label: key_label.into(),
            data: key_pem.into(),
        };
        Self::load(&cert, &key, &Provider::default().crypto_provider())
    }

    pub(crate) fn load(cert: &Pem, key: &Pem, provider: &CryptoProvider) -> Result<Self, Error> {
        let key_pair = credentials::load_certified_key(cert, key, provider)?;
        let chain: Vec<CertificateInfo> = key_pair
            .cert
            .iter()
            .filter_map(|der| CertificateInfo::parse(der, provider))
            .collect();
        if chain.is_empty() {
            return Err(Error::credential(
                cert.label(),
                "the first certificate cannot be parsed as X.509",
                "export the certificate again; the file may be damaged",
            ));
        }
        Ok(SecureContext {
            inner: Arc::new(Context {
                key: key_pair,
                chain,
                source: cert.label(),
            }),
        })
    }

    /// The leaf certificate: subject, SANs, validity, fingerprint.
    pub fn certificate(&self) -> &CertificateInfo {
        &self.inner.chain[0]
    }

    /// The whole chain as loaded, leaf first.
    pub fn chain(&self) -> &[CertificateInfo] {
        &self.inner.chain
    }

    /// The certificate file, or the label given to PEM text.
    pub fn source(&self) -> &std::path::Path {
        &self.inner.source
    }

    pub(crate) fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.inner.key
    }
}

impl fmt::Debug for SecureContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureContext")
            .field("source", &self.inner.source)
            .field("subject", &self.certificate().subject_line)
            .field("fingerprint256", &self.certificate().fingerprint256)
            .finish()
    }
}
