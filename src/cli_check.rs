//! `tls-server check`: the preflight of certificate, key and CA files, printed for people
//! or as one JSON object. Exit status 0 without errors (warnings allowed), 1 with errors;
//! usage errors return `Err` and `main` exits 2.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lexopt::prelude::*;
use tls_server::{check, CertificateInfo, Check, CheckOptions, CheckReport, Provider};

use crate::json::Obj;

const HELP: &str = "\
tls-server check — is this certificate, key and chain ready to serve? (nothing connects)

USAGE:
    tls-server check [OPTIONS]

OPTIONS (defaults in brackets):
    --cert FILE       certificate chain, PEM, leaf first [certs/server.crt]
    --key FILE        private key, PEM [certs/server.key]
    --ca FILE         a CA your clients trust; repeat for more. Verifies the chain as a
                      rustls client would, and completes it [none]
    --host NAME       the name or IP address clients connect with; must be in the SANs
    --at TIME         check validity at TIME instead of now: 2030-01-31, 2030-01-31T12:00:00Z
                      or @UNIX_SECONDS
    --provider NAME   crypto provider: aws-lc-rs or ring [aws-lc-rs if built in]
    --json            print one JSON object instead of lines

Each check prints one line: OK, NOTE, WARN or ERROR, its name, what was found, and the fix.
Exit status: 0 with no errors (warnings allowed), 1 with errors, 2 for a usage error.
";

pub(crate) fn run(parser: &mut lexopt::Parser) -> Result<(), Box<dyn std::error::Error>> {
    let mut options = CheckOptions::new();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("cert") => options = options.cert_file(parser.value()?),
            Long("key") => options = options.key_file(parser.value()?),
            Long("ca") => options = options.ca_file(parser.value()?),
            Long("host") => options = options.host(parser.value()?.string()?),
            Long("at") => options = options.at(parse_time(&parser.value()?.string()?)?),
            Long("provider") => {
                let name = parser.value()?.string()?;
                let provider = Provider::parse(&name).ok_or_else(|| {
                    format!(
                        "--provider: {name:?} is not built in — this binary has {}",
                        Provider::default().name()
                    )
                })?;
                options = options.provider(provider);
            }
            Long("json") => json = true,
            Long("help") | Short('h') => {
                print!("{HELP}");
                return Ok(());
            }
            other => {
                return Err(
                    format!("{} — see `tls-server check --help`", other.unexpected()).into(),
                )
            }
        }
    }
    let report = check(&options);
    let text = if json {
        format!("{}\n", report_json(&report))
    } else {
        human(&report)
    };
    crate::cli::print_and_exit(&text, report.passed())
}

fn human(r: &CheckReport) -> String {
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
    let mut s = format!("{:<5} {:<15} {}\n", c.status.label(), c.check, c.message);
    if !c.fix.is_empty() {
        s += &format!("{:<21} fix: {}\n", "", c.fix);
    }
    s
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn report_json(r: &CheckReport) -> String {
    let checks = array(r.checks.iter().map(|c| {
        Obj::new()
            .str("check", c.check)
            .str("status", c.status.name())
            .str("message", &c.message)
            .str("fix", &c.fix)
            .finish()
    }));
    Obj::new()
        .str("cert", &r.cert.display().to_string())
        .str("key", &r.key.display().to_string())
        .raw(
            "ca",
            &array(r.ca.iter().map(|p| json_string(&p.display().to_string()))),
        )
        .opt_str("host", r.host.as_deref())
        .str("clock", &r.clock())
        .bool("passed", r.passed())
        .num("errors", r.errors())
        .num("warnings", r.warnings())
        .raw("chain", &chain_json(&r.chain))
        .raw("checks", &checks)
        .finish()
}

/// `[{"subject":…,"issuer":…,…}, …]` — shared with `probe --json`.
pub(crate) fn chain_json(chain: &[CertificateInfo]) -> String {
    array(chain.iter().map(|c| {
        Obj::new()
            .str("subject", &c.subject_line)
            .str("issuer", &c.issuer_line)
            .str("valid_from", &c.valid_from)
            .str("valid_to", &c.valid_to)
            .str("key", &c.key)
            .str("signature", &c.signature_algorithm)
            .raw(
                "san",
                &array(c.subject_alt_names.iter().map(|n| json_string(n))),
            )
            .bool("ca", c.is_ca)
            .bool("self_signed", c.self_issued)
            .str("sha256", &c.fingerprint256)
            .finish()
    }))
}

/// A JSON string: the value of a one-field object, so the escaping is json.rs's own.
pub(crate) fn json_string(s: &str) -> String {
    let o = Obj::new().str("s", s).finish(); // {"s":"…"}
    o["{\"s\":".len()..o.len() - 1].to_string()
}

pub(crate) fn array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

/// `2030-01-31`, `2030-01-31T12:00:00Z` or `@1900000000`.
fn parse_time(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("--at: {s:?} — use 2030-01-31, 2030-01-31T12:00:00Z or @UNIX_SECONDS");
    if let Some(secs) = s.strip_prefix('@') {
        let secs: u64 = secs.parse().map_err(|_| bad())?;
        return Ok(UNIX_EPOCH + Duration::from_secs(secs));
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z').ok_or_else(bad)?),
        None => (s, "00:00:00"),
    };
    let num = |t: &str| t.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(bad());
    }
    let (y, mo, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (h, mi, sec) = (num(t[0])?, num(t[1])?, num(t[2])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, day) * 86_400 + h * 3600 + mi * 60 + sec;
    if secs < 0 {
        return Err(bad());
    }
    Ok(UNIX_EPOCH + Duration::from_secs(secs as u64))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
