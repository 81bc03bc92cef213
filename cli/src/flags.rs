//! The command line's names for the library's settings, so that every message the library
//! writes (a startup error, a handshake's fix, a refusal) names the flag to change.

use std::time::Duration;

use lexopt::ValueExt;

use tls_server::setting::{Naming, Setting};

/// The value of `flag` as a number, or an error that names the flag and what it expects
/// (`--max-connections: "abc" is not a number of connections, 1 or more`).
pub(crate) fn number<T: std::str::FromStr>(
    parser: &mut lexopt::Parser,
    flag: &str,
    expects: &str,
) -> Result<T, Box<dyn std::error::Error>> {
    let value = parser.value()?.string()?;
    value
        .trim()
        .parse::<T>()
        .map_err(|_| format!("{flag}: {value:?} is not {expects}").into())
}

/// How messages name settings at the command line.
pub(crate) fn naming() -> Naming {
    Naming::new(flag)
}

/// The same, in `serve`, whose `--ca` is for client certificates: the startup check's CA
/// (what `check --ca` is) is `--check-ca` there.
pub(crate) fn serve_naming() -> Naming {
    Naming::new(|setting| match setting {
        Setting::CheckCa => "--check-ca",
        other => flag(other),
    })
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
        // The command adds names only at startup: messages then name --sni alone.
        Setting::AddContext => "--sni",
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
        Setting::Listener => "--listen-fd",
        Setting::ExitAfter => "--exit-after",
        Setting::MaxFragmentSize => "--max-fragment",
        Setting::ProxyProtocol => "--proxy-protocol",
        Setting::ProxyFrom => "--proxy-from",
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

/// An argument the command does not know, with the closest one it does (from `help`, the
/// command's help text) when one is near enough to be a typo, and where to look.
pub(crate) fn unknown(arg: lexopt::Arg<'_>, help: &str, command: &str) -> String {
    let typed = match &arg {
        lexopt::Arg::Long(name) => format!("--{name}"),
        lexopt::Arg::Short(c) => format!("-{c}"),
        lexopt::Arg::Value(v) => v.to_string_lossy().into_owned(),
    };
    let message = arg.unexpected().to_string();
    let see = format!("see `tls-server {command}--help`");
    match closest(&typed, help) {
        Some(known) => format!("{message} — did you mean {known}? ({see})"),
        None => format!("{message} — {see}"),
    }
}

/// The word of `help` closest to `typed` (flags if `typed` is one, command names
/// otherwise), if it is a likely typo: it starts with `typed` (an abbreviation), or is at
/// most a third of its length in edits away.
fn closest(typed: &str, help: &str) -> Option<String> {
    let flag = typed.starts_with('-');
    let words = help
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']'))
        .map(|w| w.trim_end_matches(['.', ':', ';']))
        .filter(|w| {
            w.len() > 1
                && match flag {
                    true => w.starts_with("--"),
                    false => w.chars().all(|c| c.is_ascii_lowercase()),
                }
        });
    let mut best: Option<(usize, &str)> = None;
    for word in words {
        let d = if word.starts_with(typed) && typed.len() > 3 {
            1
        } else {
            edits(typed, word)
        };
        match best {
            Some((bd, _)) if bd <= d => {}
            _ => best = Some((d, word)),
        }
    }
    let (d, word) = best?;
    (d > 0 && d <= typed.len().div_ceil(3)).then(|| word.to_string())
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
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

    #[test]
    fn a_typo_finds_the_closest_flag_and_nonsense_finds_none() {
        let help = "--tls-versions LIST  --cert FILE  --max-connections N  --max-handshakes N";
        assert_eq!(
            super::closest("--tls-version", help).as_deref(),
            Some("--tls-versions")
        );
        assert_eq!(
            super::closest("--max-conn", help).as_deref(),
            Some("--max-connections")
        );
        assert_eq!(super::closest("--cetr", help).as_deref(), Some("--cert"));
        assert_eq!(super::closest("--frobnicate", help), None);
        assert_eq!(super::edits("kitten", "sitting"), 3);
    }
}
