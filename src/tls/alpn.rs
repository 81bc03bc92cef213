//! ALPN chosen by your code (Node's `ALPNCallback`): the callback sees the protocols the
//! client offers and the server name it asked for, and picks one, or none to refuse.
//!
//! rustls picks ALPN from a fixed list in its `ServerConfig`, so with a callback the
//! handshake first reads the whole ClientHello (rustls's `Acceptor`), asks the callback, and
//! then continues with a configuration whose list is exactly the chosen protocol.

use rustls::ServerConfig;

use crate::error::Error;
use crate::setting::{Naming, Setting};

/// What the client offered, for an [`AlpnCallback`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlpnOffer {
    /// The server name the client asked for (SNI), if any.
    pub server_name: Option<String>,
    /// The client's ALPN protocols, in its order of preference (`h2`, `http/1.1`, ...).
    pub protocols: Vec<String>,
}

/// Node's `ALPNCallback`: returns the protocol to use, which should be one of
/// [`AlpnOffer::protocols`]; `None` refuses the client with a `no_application_protocol`
/// alert. Called on the connection's thread, only for clients that offer ALPN.
pub type AlpnCallback = dyn Fn(&AlpnOffer) -> Option<String> + Send + Sync;

/// What the callback answered, kept to explain a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub offer: AlpnOffer,
    pub chosen: Option<String>,
}

/// Asks the callback, and makes its choice the only ALPN protocol of `config` (one
/// connection's). A refusal is a protocol no client can offer, so rustls itself ends the
/// handshake with `no_application_protocol`.
pub(crate) fn configure(
    config: &mut ServerConfig,
    callback: &AlpnCallback,
    server_name: Option<&str>,
    offered: Option<Vec<&[u8]>>,
) -> Option<Answer> {
    let Some(offered) = offered else {
        // No ALPN from the client: nothing to choose (as in Node).
        return None;
    };
    let offer = AlpnOffer {
        server_name: server_name.map(str::to_string),
        protocols: offered
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
    };
    // A panicking callback costs only this handshake: it counts as a refusal.
    let chosen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&offer)))
        .unwrap_or_else(|panic| {
            log::error!(
                "the ALPN callback panicked: {} — refusing the client",
                crate::util::panic_message(&panic)
            );
            None
        });
    config.alpn_protocols = vec![match &chosen {
        Some(p) => p.as_bytes().to_vec(),
        None => REFUSED.to_vec(),
    }];
    Some(Answer { offer, chosen })
}

/// Not a valid protocol name to offer in practice: makes rustls refuse.
const REFUSED: &[u8] = b"\0tls-server: refused by the ALPN callback";

/// The ALPN list is one a client can match: each name 1 to 255 bytes (RFC 7301).
pub(crate) fn check_names(names: &[Vec<u8>], naming: Naming) -> Result<(), Error> {
    for name in names {
        if name.is_empty() {
            return Err(naming.error(
                Setting::Alpn,
                "an empty protocol name (two commas in a row, or a comma at either end?)",
                "list names separated by single commas, e.g. h2,http/1.1",
            ));
        }
        if name.len() > 255 {
            return Err(naming.error(
                Setting::Alpn,
                format!(
                    "a protocol name of {} bytes (\"{}…\"); TLS allows at most 255 (RFC 7301)",
                    name.len(),
                    String::from_utf8_lossy(&name[..16])
                ),
                "use the registered name, e.g. h2 or http/1.1",
            ));
        }
    }
    Ok(())
}
