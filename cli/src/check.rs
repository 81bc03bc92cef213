//! `tls-server check`: the preflight of certificate, key and CA files, printed for people
//! or as one JSON object. Exit status 0 without errors (warnings allowed), 1 with errors;
//! usage errors return `Err` and `main` exits 2.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexopt::prelude::*;
use tls_server::check::{self, Check, Report};
use tls_server::tls::Provider;

use crate::{flags, Command};

const HELP: &str = "\
tls-server check — is this certificate, key and chain ready to serve? (nothing connects)

USAGE:
    tls-server check [OPTIONS]

OPTIONS (defaults in brackets):
    --cert FILE       certificate chain, PEM, leaf first [certs/server.crt]
    --key FILE        private key, PEM [certs/server.key]
    --ca FILE         a CA your clients trust; repeat for more. Verifies the chain as a
                      rustls client would, and completes it [none] (serve calls this
                      --check-ca; serve's --ca is the CA of client certificates)
    --host NAME       the name or IP address clients connect with; must be in the SANs
    --at TIME         check validity at TIME instead of now: 2030-01-31, 2030-01-31T12:00:00Z
                      or @UNIX_SECONDS
    --provider NAME   crypto provider: aws-lc-rs or ring [aws-lc-rs if built in]
    --json            print one JSON object instead of lines

Each check prints one line: OK, NOTE, WARN or ERROR, its name, what was found, and the fix.
Exit status: 0 with no errors (warnings allowed), 1 with errors, 2 for a usage error.
";

/// What `check` was asked.
pub struct CheckCommand {
    options: check::Options,
    json: bool,
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Command, Box<dyn std::error::Error>> {
    let mut cert = PathBuf::from("certs/server.crt");
    let mut key = PathBuf::from("certs/server.key");
    let mut ca: Vec<PathBuf> = Vec::new();
    let mut host = None;
    let mut at = None;
    let mut provider = Provider::default();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("cert") => cert = parser.value()?.into(),
            Long("key") => key = parser.value()?.into(),
            Long("ca") => ca.push(parser.value()?.into()),
            Long("host") => host = Some(parser.value()?.string()?),
            Long("at") => at = Some(parse_time(&parser.value()?.string()?)?),
            Long("provider") => {
                let name = parser.value()?.string()?;
                provider = Provider::parse(&name).ok_or_else(|| {
                    format!(
                        "--provider: {name:?} is not built in — this binary has {}",
                        Provider::default().name()
                    )
                })?;
            }
            Long("json") => json = true,
            Long("help") | Short('h') => return Ok(Command::Help(HELP.to_string())),
            other => return Err(crate::flags::unknown(other, HELP, "check ").into()),
        }
    }
    let mut options = check::Options::new(cert, key)
        .provider(provider)
        .naming(flags::naming());
    for file in ca {
        options = options.ca_file(file);
    }
    if let Some(host) = host {
        options = options.host(host);
    }
    if let Some(at) = at {
        options = options.at(at);
    }
    Ok(Command::Check(CheckCommand { options, json }))
}

pub(crate) fn run(cmd: CheckCommand) -> Result<(), Box<dyn std::error::Error>> {
    let CheckCommand { options, json } = cmd;
    let report = check::check(&options);
    let text = if json {
        format!("{}\n", report.to_json())
    } else {
        human(&report)
    };
    crate::print_and_exit(&text, report.passed())
}

fn human(r: &Report) -> String {
    let mut s = format!(
        "tls-server check: {} with key {}\n",
        r.cert.display(),
        r.key.display()
    );
    let ca = if r.ca.is_empty() {
        "none given (--ca FILE)".to_string()
    } else {
        r.ca.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    s += &format!("  trusted CAs  {ca}\n");
    s += &format!(
        "  host         {}\n",
        r.host.as_deref().unwrap_or("not checked (--host NAME)")
    );
    s += &format!("  clock        {}\n", r.clock());
    if !r.chain.is_empty() {
        s += "\nchain, as the server will send it (subject → issuer):\n";
        for line in r.chain_lines() {
            s += &format!("  {line}\n");
        }
    }
    s.push('\n');
    for c in &r.checks {
        s += &check_line(c);
    }
    let (errors, warnings) = (r.errors(), r.warnings());
    s += &format!(
        "\nresult: {}, {} — {}\n",
        count(errors, "error", "errors"),
        count(warnings, "warning", "warnings"),
        match (errors, warnings) {
            (0, 0) => "ready to serve",
            (0, _) => "usable; read the warnings",
            _ => "fix the errors before serving",
        }
    );
    s
}

fn check_line(c: &Check) -> String {
    let mut s = format!("{:<5} {:<15} {}\n", c.status.label(), c.check, c.located());
    if !c.fix.is_empty() {
        s += &format!("{:<21} fix: {}\n", "", c.fix);
    }
    s
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2030-01-31`, `2030-01-31T12:00:00Z` or `@1900000000`.
/// 9999-12-31T23:59:59Z in seconds since 1970.
const LAST_SECOND: u64 = 253_402_300_799;

fn parse_time(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("--at: {s:?} — use 2030-01-31, 2030-01-31T12:00:00Z or @UNIX_SECONDS");
    if let Some(secs) = s.strip_prefix('@') {
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        // Certificates end by 9999-12-31 (RFC 5280); later instants are refused, not
        // allowed to overflow the clock.
        return (secs <= LAST_SECOND)
            .then(|| UNIX_EPOCH + Duration::from_secs(secs))
            .ok_or_else(|| {
                format!("--at: {s:?} is after 9999-12-31, the latest time a certificate can name — give a seconds count up to @{LAST_SECOND}")
            });
    }
    let (date, clock) = match s.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z').ok_or_else(bad)?),
        None => (s, "00:00:00"),
    };
    let numbers = |text: &str| -> Result<Vec<u32>, String> {
        text.split(&['-', ':'][..])
            .map(|n| n.parse::<u32>().map_err(|_| bad()))
            .collect()
    };
    let (d, t) = (numbers(date)?, numbers(clock)?);
    let (&[y, mo, day], &[h, mi, sec]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    let month = u8::try_from(mo)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| time::Date::from_calendar_date(y, month, u8::try_from(day).ok()?).ok())
        .ok_or_else(bad)?;
    let clock = time::Time::from_hms(
        u8::try_from(h).map_err(|_| bad())?,
        u8::try_from(mi).map_err(|_| bad())?,
        u8::try_from(sec).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let secs = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp();
    u64::try_from(secs)
        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-01"), Ok(UNIX_EPOCH));
        assert_eq!(
            parse_time("2026-11-26T04:32:37Z"),
            Ok(UNIX_EPOCH + Duration::from_secs(1_795_667_557))
        );
        assert_eq!(
            parse_time("@1795667557"),
            Ok(UNIX_EPOCH + Duration::from_secs(1_795_667_557))
        );
        for bad in [
            "2026-13-01",
            "2026-11-26T04:32:37",
            "yesterday",
            "@-1",
            "1969-12-31",
            "@253402300800",
            "@18446744073709551615",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_time("@253402300799"),
            Ok(UNIX_EPOCH + Duration::from_secs(LAST_SECOND)),
            "9999-12-31T23:59:59Z"
        );
        assert!(parse_time("@99999999999999")
            .unwrap_err()
            .contains("after 9999-12-31"));
    }
}
