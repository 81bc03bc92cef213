//! `tls-server pki DIR`: a complete test PKI — good and deliberately broken certificates
//! for every failure the server explains — written to DIR with its README.

use std::path::PathBuf;

use lexopt::prelude::*;
use tls_server::pki::{self, KeyType, Set};

use crate::{flags, Command};

pub(crate) const HELP: &str = "\
tls-server pki — make a test PKI: a CA, an intermediate, a good server certificate and
one broken on purpose for each failure the server explains, client certificates and a CRL

USAGE:
    tls-server pki DIR [OPTIONS]     then: tls-server serve --fixture expired --pki DIR

OPTIONS (defaults in brackets):
    --out DIR           the directory, instead of the first argument
    --key-type TYPE     p256, p384, ed25519, rsa2048 or rsa3072 [p256]
    --names LIST        names the server certificates cover, comma-separated
                        [localhost,127.0.0.1,::1]
    --days N            validity of the good certificates, in days [365]
    --expiring-in N     days until the expiring-soon certificate expires [10]
    --json              print what was written as one JSON object
    --set SET           fixtures, or demo: the demo credentials of tls-server's own
                        repository (certs/; fixed names, 100 years) [fixtures]

DIR/README.md lists every file, what it is broken for, the command that shows the server
explaining it, and what clients say about it. Existing files in DIR are replaced.
";

/// What `pki` was asked.
pub struct Pki {
    options: pki::Options,
    json: bool,
}

pub(crate) fn parse(parser: &mut lexopt::Parser) -> Result<Command, Box<dyn std::error::Error>> {
    let mut dir: Option<PathBuf> = None;
    let mut key_type = KeyType::default();
    let mut names: Option<Vec<String>> = None;
    let mut days = 365;
    let mut expiring_in = 10;
    let mut json = false;
    let mut set = Set::default();
    // The flags that shape the fixtures set, which the demo set (fixed) cannot take.
    let mut shaping: Option<&str> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Value(v) if dir.is_none() => dir = Some(v.into()),
            Long("out") => dir = Some(parser.value()?.into()),
            Long("set") => {
                let name = parser.value()?.string()?;
                set = Set::parse(&name)
                    .ok_or_else(|| format!("--set: {name:?} — use fixtures or demo"))?;
            }
            Long("key-type") => {
                shaping = Some("--key-type");
                let name = parser.value()?.string()?;
                key_type = KeyType::parse(&name).ok_or_else(|| {
                    format!("--key-type: {name:?} — use p256, p384, ed25519, rsa2048 or rsa3072")
                })?;
            }
            Long("names") => {
                shaping = Some("--names");
                let list = parser.value()?.string()?;
                let list: Vec<String> = list
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err("--names: give at least one name, e.g. localhost,127.0.0.1".into());
                }
                names = Some(list);
            }
            Long("days") => {
                shaping = Some("--days");
                days = flags::number(parser, "--days", "a number of days, 1 or more")?
            }
            Long("expiring-in") => {
                shaping = Some("--expiring-in");
                expiring_in = flags::number(parser, "--expiring-in", "a number of days")?
            }
            Long("json") => json = true,
            Long("help") | Short('h') => return Ok(Command::Help(HELP.to_string())),
            other => return Err(flags::unknown(other, HELP, "pki ").into()),
        }
    }
    let Some(dir) = dir else {
        return Err("pki: give the directory to write, e.g. `tls-server pki /tmp/pki`".into());
    };
    if days == 0 {
        return Err(
            "--days: 0 — give at least 1 (the good certificates would expire at once)".into(),
        );
    }
    if let (Set::Demo, Some(flag)) = (set, shaping) {
        return Err(format!(
            "{flag}: the demo set's names, keys and dates are fixed (its tests rely on them) — drop {flag}, or make the fixtures set"
        )
        .into());
    }
    let mut options = pki::Options::new(dir)
        .set(set)
        .key_type(key_type)
        .days(days)
        .expiring_in(expiring_in);
    if let Some(names) = names {
        options = options.names(&names);
    }
    Ok(Command::Pki(Pki { options, json }))
}

pub(crate) fn run(cmd: Pki) -> Result<(), Box<dyn std::error::Error>> {
    let made = pki::generate(&cmd.options)?;
    if cmd.json {
        println!("{}", made.to_json());
        return Ok(());
    }
    if made.set == Set::Demo {
        println!(
            "wrote {} files to {} (the demo set)",
            made.files.len(),
            made.dir.display()
        );
        for (files, why) in &made.not_made {
            println!("  not made: {files} — {why}");
        }
        println!("the repository's certs/openssl-only.sh makes those with openssl");
        return Ok(());
    }
    println!(
        "wrote {} files to {} ({} keys):",
        made.files.len(),
        made.dir.display(),
        made.key_type.name()
    );
    for f in &made.fixtures {
        println!("  {:<22} {}", f.name, f.broken_for);
    }
    for (name, why) in &made.not_made {
        println!("  {name:<22} not made: {why}");
    }
    println!(
        "trust {}/ca.crt in clients; {}/README.md says what each is for.\nsee one fail from both sides: tls-server serve --fixture expired --pki {}",
        made.dir.display(),
        made.dir.display(),
        made.dir.display()
    );
    Ok(())
}
