//! The command line's names for the library's settings, so that every message the library
//! writes (a startup error, a handshake's fix, a refusal) names the flag to change.

use std::time::Duration;

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

/// A duration at the command line: a number of seconds (`5`, `0.5`), or a number with a
/// unit (`500ms`, `5s`, `2m`, `1h`). Never panics: a value too large for a `Duration` is an
/// error like any other.
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
        .into_iter()
        .find_map(|(suffix, unit)| Some((s.strip_suffix(suffix)?, unit)))
        .unwrap_or((s, 1.0));
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v * unit).ok())
        .ok_or_else(|| {
            format!("{s:?} is not a duration: give seconds (5, 0.5) or a unit (500ms, 5s, 2m, 1h)")
        })
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

    #[test]
    fn durations_take_seconds_or_a_unit() {
        assert_eq!(duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_that_do_not_fit_are_errors() {
        for bad in ["", "x", "-1", "5d", "NaN", "inf", "1e300", "1e300h"] {
            let e = duration(bad).expect_err(bad);
            assert!(e.contains("is not a duration"), "{bad}: {e}");
        }
    }
}
