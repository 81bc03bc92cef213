//! What the rustls callbacks of one handshake saw: how the certificate was chosen by name
//! (SNI), the client certificate presented and webpki's verdict on it, and what the ALPN
//! callback answered.
//!
//! rustls calls our resolver and verifier from inside `process_new_packets`, with no way to
//! say which connection they serve. So each handshake gets its own record and its own
//! configuration whose resolver and verifier hold that record
//! ([`Setup::config_for`](crate::tls::setup::Setup::config_for)); the handshake takes the
//! record back with its outcome. Nothing is kept per thread, so one client's facts cannot
//! reach another client's report.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::tls::alpn;
use crate::tls::client_auth::Presented;
use crate::tls::sni::{Choice, Chosen};

/// The facts, once the handshake is over.
#[derive(Default)]
pub(crate) struct Record {
    /// How the certificate was chosen by name, if the resolver ran.
    pub sni: Option<Choice>,
    /// The client certificate presented, if client authentication ran.
    pub presented: Option<Presented>,
    /// What the ALPN callback was offered and answered, if it ran.
    pub alpn: Option<alpn::Answer>,
}

/// One handshake's record, shared with its callbacks (which run on the handshake's own
/// thread, so the lock is never contended).
#[derive(Clone, Default)]
pub(crate) struct HandshakeRecord(Arc<Mutex<Record>>);

impl HandshakeRecord {
    fn lock(&self) -> MutexGuard<'_, Record> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_sni(&self, choice: Choice) {
        self.lock().sni = Some(choice);
    }

    pub(crate) fn set_presented(&self, presented: Presented) {
        self.lock().presented = Some(presented);
    }

    pub(crate) fn set_alpn(&self, answer: Option<alpn::Answer>) {
        self.lock().alpn = answer;
    }

    /// Whether our resolver refused the client by name (its alert must say why).
    pub(crate) fn refused_by_name(&self) -> bool {
        self.lock()
            .sni
            .as_ref()
            .is_some_and(|c| c.chosen == Chosen::Refused)
    }

    /// The facts recorded so far.
    pub(crate) fn take(&self) -> Record {
        std::mem::take(&mut *self.lock())
    }
}

impl std::fmt::Debug for HandshakeRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandshakeRecord")
    }
}
