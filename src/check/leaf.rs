//! The server certificate itself: a leaf or a CA, its validity against our clock, the
//! names it covers, what it may be used for, and the strength of keys and signatures in
//! the chain.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::chain::Cert;
use super::{plural, Checks, Status};
use crate::tls::certificate::shown_name;
use crate::util::time::openssl_time;

/// A certificate that expires sooner than this is a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// A CA certificate as the server's own is rejected; a self-signed one is trusted only by
/// clients told to trust exactly it.
pub(super) fn kind(leaf: &Cert, checks: &mut Checks) {
    let name = leaf.name();
    if leaf.info.is_ca {
        checks.push(
            "leaf-kind",
            Status::Error,
            None,
            format!(
                "the server certificate ({name}) is a CA certificate (basicConstraints CA:TRUE){} — rustls, Go and others refuse a CA certificate as a server's (\"CaUsedAsEndEntity\")",
                if leaf.self_issued() { " and self-signed" } else { "" }
            ),
            "issue a server certificate from this CA (basicConstraints CA:FALSE, extendedKeyUsage serverAuth) and use that one with its key",
        );
    } else if leaf.self_issued() {
        checks.push(
            "leaf-kind",
            Status::Warn,
            None,
            format!(
                "the server certificate ({name}) is self-signed: clients accept it only if told to trust exactly this certificate (e.g. `curl --cacert`, `openssl s_client -CAfile`); browsers show a warning"
            ),
            "for anything shared, use a certificate issued by a CA the clients trust; for tests, give this certificate to the clients as their CA",
        );
    } else {
        checks.ok(
            "leaf-kind",
            None,
            format!(
                "the server certificate ({name}) is an end-entity certificate issued by {}",
                shown_name(&leaf.info.issuer_line)
            ),
        );
    }
}

fn days(d: Duration) -> String {
    let n = d.as_secs() / 86_400;
    plural(n as usize, "day", "days")
}

/// The validity window of every certificate against our clock; the leaf's is the one that
/// matters most, but an expired intermediate fails the handshake just as well.
pub(super) fn validity(chain: &[Cert], leaf: usize, now: SystemTime, checks: &mut Checks) {
    let clock = openssl_time(now);
    let mut order: Vec<usize> = vec![leaf];
    order.extend((0..chain.len()).filter(|&i| i != leaf && !chain[i].self_issued()));
    for &i in &order {
        let c = &chain[i].info;
        let who = if i == leaf {
            format!("the server certificate ({})", shown_name(&c.subject_line))
        } else {
            format!("certificate #{} ({})", i + 1, shown_name(&c.subject_line))
        };
        let window = format!("valid from {} to {}", c.valid_from, c.valid_to);
        if now < c.not_before {
            let early = c.not_before.duration_since(now).unwrap_or_default();
            checks.push(
                "validity",
                Status::Error,
                None,
                format!(
                    "{who} is not valid yet: {window}, and our clock says {clock} ({} too early) — either it was issued with a future start date, or this machine's clock is wrong",
                    days(early)
                ),
                "check the clock (`date -u`; enable NTP, e.g. `timedatectl set-ntp true`); if the clock is right, reissue the certificate with a start date in the past",
            );
            return;
        }
        if now > c.not_after {
            let ago = now.duration_since(c.not_after).unwrap_or_default();
            checks.push(
                "validity",
                Status::Error,
                None,
                format!(
                    "{who} expired on {} ({} ago): {window}, and our clock says {clock}",
                    c.valid_to,
                    days(ago)
                ),
                "renew the certificate (and automate renewal); if it is not really expired, this machine's clock is wrong",
            );
            return;
        }
        let left = c.not_after.duration_since(now).unwrap_or_default();
        if left < EXPIRY_WARNING {
            checks.push(
                "validity",
                Status::Warn,
                None,
                format!("{who} expires in {}, on {}", days(left), c.valid_to),
                "renew it now, and automate renewal (e.g. an ACME client's renew timer)",
            );
            return;
        }
    }
    let c = &chain[leaf].info;
    let left = c.not_after.duration_since(now).unwrap_or_default();
    checks.ok(
        "validity",
        None,
        format!(
            "valid from {} to {} ({} left; our clock says {clock})",
            c.valid_from,
            c.valid_to,
            days(left)
        ),
    );
}

/// Subject alternative names (modern clients ignore the CN), and `--host` against them.
pub(super) fn names(leaf: &Cert, host: Option<&str>, checks: &mut Checks) {
    let sans = &leaf.info.subject_alt_names;
    let cn = leaf.info.common_name().unwrap_or("(none)");
    if sans.is_empty() {
        checks.push(
            "names",
            Status::Warn,
            None,
            format!(
                "the server certificate has no subjectAltName, only CN={cn} — browsers, Go, rustls and other modern clients ignore the CN and reject it"
            ),
            format!("reissue it with `subjectAltName = DNS:{cn}` (and every other name clients use)"),
        );
    } else {
        checks.ok("names", None, format!("names (SAN): {}", sans.join(", ")));
    }
    let Some(host) = host else {
        return;
    };
    match leaf.info.covering_name(host) {
        Some(san) => checks.ok("host", None, format!("{host} is covered by {san}")),
        None if sans.is_empty() => checks.push(
            "host",
            Status::Error,
            None,
            format!(
                "{host} is not covered: the certificate has no subjectAltName{}",
                if cn.eq_ignore_ascii_case(host) {
                    format!(", and its CN={cn} is ignored by modern clients")
                } else {
                    format!(" (CN={cn})")
                }
            ),
            format!("reissue the certificate with `subjectAltName = {}`", san_for(host)),
        ),
        None => checks.push(
            "host",
            Status::Error,
            None,
            format!(
                "{host} is not covered by the certificate's names: {} — clients connecting to {host} will fail (hostname mismatch){}",
                sans.join(", "),
                if host.parse::<IpAddr>().is_ok() && sans.iter().any(|s| s.starts_with("DNS:")) {
                    "; an IP address matches only IP address SANs"
                } else {
                    ""
                }
            ),
            format!(
                "connect with one of those names, or reissue the certificate with `{}` added to subjectAltName (a wildcard *.example.com covers one label only)",
                san_for(host)
            ),
        ),
    }
}

fn san_for(host: &str) -> String {
    if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        format!("IP:{}", host.trim_matches(['[', ']']))
    } else {
        format!("DNS:{host}")
    }
}

/// keyUsage must allow signing (RFC 8446 §4.4.2.2); extendedKeyUsage, when present, must
/// include serverAuth.
pub(super) fn usage(leaf: &Cert, checks: &mut Checks) {
    match leaf.key_usage {
        None => checks.ok("key-usage", None, "no keyUsage extension: any use allowed"),
        Some(ku) if ku.digital_signature => {
            checks.ok("key-usage", None, format!("keyUsage: {}", ku.list()))
        }
        Some(ku) => checks.push(
            "key-usage",
            Status::Error,
            None,
            format!(
                "keyUsage is {} without digitalSignature: the key may not sign the handshake, which TLS 1.3 and ECDHE require (RFC 8446 §4.4.2.2); strict clients reject it (Firefox: SEC_ERROR_INADEQUATE_KEY_USAGE)",
                ku.list()
            ),
            "reissue the certificate with `keyUsage = critical, digitalSignature` (RSA certificates may add keyEncipherment)",
        ),
    }
    let listed = if leaf.info.extended_key_usage.is_empty() {
        "only unnamed purposes".to_string()
    } else {
        leaf.info.extended_key_usage.join(", ")
    };
    match &leaf.eku {
        None => checks.ok(
            "server-auth",
            None,
            "no extendedKeyUsage extension: any purpose allowed, including serverAuth",
        ),
        Some(eku) if eku.server_auth => {
            checks.ok("server-auth", None, format!("extendedKeyUsage: {listed}"))
        }
        Some(eku) if eku.any => checks.push(
            "server-auth",
            Status::Warn,
            None,
            format!(
                "extendedKeyUsage is {listed}, without serverAuth: OpenSSL and Go accept anyExtendedKeyUsage, rustls does not"
            ),
            "reissue the certificate with `extendedKeyUsage = serverAuth`",
        ),
        Some(_) => checks.push(
            "server-auth",
            Status::Error,
            None,
            format!(
                "extendedKeyUsage is {listed}, without serverAuth: the certificate is not for TLS servers, and clients refuse it (rustls: InvalidPurpose; OpenSSL: \"unsupported certificate purpose\")"
            ),
            "reissue it with `extendedKeyUsage = serverAuth` (add clientAuth too if the same certificate also authenticates as a client)",
        ),
    }
}

/// Weak keys and signatures anywhere in what the server sends. A root's signature on
/// itself is never checked by clients, so SHA-1 there is harmless.
pub(super) fn strength(chain: &[Cert], checks: &mut Checks) {
    let mut weak = false;
    for (i, c) in chain.iter().enumerate() {
        if let Some(bits) = c
            .info
            .key
            .strip_prefix("RSA ")
            .and_then(|b| b.parse::<usize>().ok())
        {
            if bits < 2048 {
                weak = true;
                checks.push(
                    "key-strength",
                    Status::Error,
                    None,
                    format!(
                        "certificate #{} ({}) has an RSA {bits}-bit key: below the 2048-bit minimum of current clients and of rustls",
                        i + 1,
                        c.name()
                    ),
                    "generate a new key (ECDSA P-256: `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, or RSA 2048+) and have the certificate reissued for it",
                );
            }
        }
        if !c.self_issued() && c.info.has_weak_signature() {
            weak = true;
            checks.push(
                "signature",
                Status::Error,
                None,
                format!(
                    "certificate #{} ({}) is signed with {}: SHA-1 (and MD5) signatures are rejected by browsers, rustls and current OpenSSL",
                    i + 1,
                    c.name(),
                    c.info.signature_name()
                ),
                "have it reissued with a SHA-256 signature (`-sha256`)",
            );
        }
    }
    if !weak {
        checks.ok(
            "key-strength",
            None,
            format!(
                "keys and signatures: {}",
                chain
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let signature = c.info.signature_name();
                        format!("#{} {} {signature}", i + 1, c.info.key)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
    }
}
