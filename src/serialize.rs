//! `serde::Serialize` for what the library reports (feature `serde`): events, socket
//! facts, failures (of handshakes and of connections later), traces, certificates, reloads, summaries, and the `check` and `probe`
//! reports.
//!
//! Each is serialized as exactly what its `to_json` writes — the same keys, the same
//! values — so there is one definition of every field, and `--events json`, the HTTPS
//! facts and a program's own `serde_json::to_string(&event)` always agree. The object is
//! read back into a `serde_json::Value` and handed to your serializer, so any serde format
//! works (JSON, CBOR, YAML, ...); the price is one parse per value, paid only by programs
//! that turn the feature on.

use serde::ser::{Error as _, Serialize, Serializer};

/// `json`, one of our own objects, to `serializer`.
fn serialize_json<S: Serializer>(json: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| S::Error::custom(format!("tls-server wrote invalid JSON ({e}): {json}")))?;
    value.serialize(serializer)
}

macro_rules! serialize_as_json {
    ($($t:ty),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_json(&self.to_json(), serializer)
            }
        }
    )*};
}

serialize_as_json!(
    crate::event::Event,
    crate::connection::SocketInfo,
    crate::explain::TlsClientError,
    crate::explain::ConnectionError,
    crate::summary::Summary,
    crate::explain::HandshakeTrace,
    crate::tls::CertificateInfo,
    crate::tls::Reloaded,
    crate::check::Report,
);

#[cfg(feature = "probe")]
serialize_as_json!(crate::probe::Report);
