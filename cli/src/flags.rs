//! The command line's names for the library's settings, so that every message the library
//! writes (a startup error, a handshake's fix, a refusal) names the flag to change.

use tls_server::setting::{Naming, Setting};

/// How messages name settings at the command line.
pub(crate) fn naming() -> Naming {
    Naming::new(flag)
}

fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Cert => "--cert",
        Setting::Key => "--key",
        Setting::Versions => "--tls-versions",
        Setting::CipherSuites => "--ciphers",
        Setting::KxGroups => "--groups",
        Setting::Alpn => "--alpn",
        Setting::Sni => "--sni",
        Setting::SniFallback => "--sni-fallback",
        Setting::SessionCache => "--session-cache",
        Setting::SessionTickets => "--no-tickets",
        Setting::TicketKeys => "--ticket-keys",
        Setting::ClientAuth => "--client-auth",
        Setting::ClientCa => "--ca",
        Setting::Crl => "--crl",
        Setting::HandshakeTimeout => "--handshake-timeout",
        Setting::MaxConnections => "--max-connections",
        Setting::ClientHelloTimeout => "--client-hello-timeout",
        Setting::IdleTimeout => "--idle-timeout",
        Setting::MaxHandshakes => "--max-handshakes",
        Setting::MaxPerAddress => "--max-per-address",
        Setting::WhenFull => "--when-full",
        Setting::Bind => "--bind",
        Setting::KeyLog => "--keylog",
        Setting::CheckCa => "--ca",
        Setting::CheckHost => "--host",
        Setting::ProbeTarget => "HOST:PORT",
        Setting::ProbeServerName => "--servername",
        Setting::ProbeCa => "--ca",
        Setting::ProbeVersions => "--tls1.2 / --tls1.3 (or neither, to offer both)",
        Setting::ProbeAlpn => "--alpn",
        Setting::ProbeClientCert => "--cert and --key",
        Setting::ProbeTimeout => "--timeout",
        // No flag: only a program using the library can set it.
        other => other.method(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_with_flags_are_named_by_them() {
        assert_eq!(naming().of(Setting::CipherSuites), "--ciphers");
        assert_eq!(
            naming().of(Setting::ServerConfig),
            "ServerOptions::server_config"
        );
    }
}
