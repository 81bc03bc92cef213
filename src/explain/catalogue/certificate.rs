//! The words about our certificate and our names: why a client may refuse our certificate
//! (each [`Rejection`] with the fix for exactly that reason), a client refused by the SNI
//! fallback policy, and a name the certificate we send does not cover.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::explain::catalogue::list;
use crate::setting::{Naming, Setting};
use crate::tls::accepts::Accepts;
use crate::tls::sni::Choice;
use crate::tls::CertificateInfo;
use crate::util::time::openssl_time;

/// Why a client may refuse our certificate.
pub(crate) enum Rejection<'a> {
    /// We do not know our own chain (a ready-made configuration).
    Unknown,
    NameNotCovered {
        asked: String,
        leaf: &'a CertificateInfo,
    },
    AddressNotCovered {
        addr: IpAddr,
        leaf: &'a CertificateInfo,
    },
    Expired {
        leaf: &'a CertificateInfo,
        now: SystemTime,
    },
    NotYetValid {
        leaf: &'a CertificateInfo,
        now: SystemTime,
    },
    /// The client said "expired" of a certificate that is valid by our clock.
    ClientClock {
        leaf: &'a CertificateInfo,
        now: SystemTime,
    },
    SelfSigned,
    CaAsLeaf,
    NotForServers {
        leaf: &'a CertificateInfo,
    },
    WeakSignature {
        leaf: &'a CertificateInfo,
    },
    UntrustedIssuer {
        leaf: &'a CertificateInfo,
        sends_issuer: bool,
    },
}

/// The reasons a client may refuse our certificate, as one clause list.
pub(crate) fn reasons(why: &[Rejection]) -> String {
    why.iter().map(reason).collect::<Vec<_>>().join("; ")
}

/// What to do about each of those reasons, in the same order, without repeats.
pub(crate) fn fixes(why: &[Rejection], ours: &Accepts) -> String {
    let mut out: Vec<String> = Vec::new();
    for fix in why.iter().map(|r| fix(r, ours.naming)) {
        if !out.contains(&fix) {
            out.push(fix);
        }
    }
    out.join("; ")
}

/// `localhost, 127.0.0.1, ::1`: the names a certificate covers.
pub(crate) fn covered(leaf: &CertificateInfo) -> String {
    names(leaf.names())
}

/// Names as a list, IP addresses the short way (`::1`, where certificates print
/// `0:0:0:0:0:0:0:1`).
fn names<S: AsRef<str>>(all: impl IntoIterator<Item = S>) -> String {
    let shown: Vec<String> = all
        .into_iter()
        .map(|n| match n.as_ref().parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => n.as_ref().to_string(),
        })
        .collect();
    list(&shown)
}

fn reason(r: &Rejection) -> String {
    match r {
        Rejection::Unknown => "we do not know our own certificate here (a ready-made rustls configuration), so we cannot say which check failed".into(),
        Rejection::NameNotCovered { asked, leaf } => format!(
            "it asked for {asked:?}, which our certificate does not cover (it covers {})",
            covered(leaf)
        ),
        Rejection::AddressNotCovered { addr, leaf } => format!(
            "it sent no server name (SNI) and connected to {addr}, which our certificate does not cover (it covers {})",
            covered(leaf)
        ),
        Rejection::Expired { leaf, now } => format!(
            "our certificate expired on {} (valid from {}; our clock says {})",
            leaf.valid_to,
            leaf.valid_from,
            openssl_time(*now)
        ),
        Rejection::NotYetValid { leaf, now } => format!(
            "our certificate is not valid yet: it is valid from {} (to {}), and our clock says {}",
            leaf.valid_from,
            leaf.valid_to,
            openssl_time(*now)
        ),
        Rejection::ClientClock { leaf, now } => format!(
            "it says our certificate has expired, but by our clock ({}) it is valid from {} to {}",
            openssl_time(*now),
            leaf.valid_from,
            leaf.valid_to
        ),
        Rejection::SelfSigned => "our certificate is self-signed, so each client must be told to trust it".into(),
        Rejection::CaAsLeaf => "our certificate is a CA certificate (basicConstraints CA:TRUE), which clients refuse as a server certificate".into(),
        Rejection::NotForServers { leaf } => format!(
            "our certificate is not for server authentication (its extended key usage is {}, without serverAuth)",
            leaf.extended_key_usage.join(", ")
        ),
        Rejection::WeakSignature { leaf } => format!(
            "our certificate is signed with SHA-1 ({}), which current clients refuse",
            leaf.signature_algorithm
        ),
        Rejection::UntrustedIssuer { leaf, .. } => format!(
            "it does not trust \"{}\", which issued our certificate",
            leaf.issuer_line
        ),
    }
}

/// The fix for one reason, naming our settings through `naming`.
fn fix(r: &Rejection, naming: Naming) -> String {
    let cert = naming.of(Setting::Cert);
    match r {
        Rejection::Unknown => "make the client trust the CA that issued our certificate, and connect with a name the certificate covers".into(),
        Rejection::NameNotCovered { asked, leaf } => format!(
            "connect with a name our certificate covers ({}), or serve a certificate for {asked} with {}",
            covered(leaf),
            add_certificate(naming)
        ),
        Rejection::AddressNotCovered { addr, leaf } => format!(
            "connect by a name our certificate covers ({}) so that the client sends it, or serve a certificate with IP Address:{addr} in its subjectAltName ({cert})",
            covered(leaf)
        ),
        Rejection::Expired { leaf, .. } => format!(
            "renew the certificate (expired on {}) and serve the new one with {cert}",
            leaf.valid_to
        ),
        Rejection::NotYetValid { leaf, .. } => format!(
            "if our clock is right, the certificate was issued for the future: reissue it with a start date in the past, or wait until {}; if our clock is wrong, set it (`date -u`, NTP)",
            leaf.valid_from
        ),
        Rejection::ClientClock { .. } => "check the client's clock (`date -u`, NTP): one that is ahead refuses certificates that are still valid; if it is right, a CA certificate above ours has expired on the client's side".into(),
        Rejection::SelfSigned => format!("give each client this certificate to trust (curl --cacert, openssl s_client -CAfile, Node's ca), or serve a certificate from a CA the clients already trust with {cert}"),
        Rejection::CaAsLeaf => format!("issue a server certificate (basicConstraints CA:FALSE, extendedKeyUsage serverAuth) from this CA and serve it with {cert}"),
        Rejection::NotForServers { .. } => "reissue the certificate with extendedKeyUsage serverAuth".into(),
        Rejection::WeakSignature { .. } => "reissue the certificate with a SHA-256 (or stronger) signature".into(),
        Rejection::UntrustedIssuer { leaf, sends_issuer } => format!(
            "give the client the CA \"{}\" to trust (curl --cacert, openssl s_client -CAfile, Node's ca){}",
            leaf.issuer_line,
            if *sends_issuer {
                String::new()
            } else {
                format!("; if that issuer is an intermediate CA, add it after our certificate in {cert}")
            }
        ),
    }
}

/// How to serve a certificate for another name: `ServerOptions::sni (or
/// ServerHandle::add_context while running)` in a program; just the way there is where
/// certificates cannot be added at run time (`--sni`, which a naming says by naming
/// [`Setting::AddContext`] as it names [`Setting::Sni`]).
pub(crate) fn add_certificate(naming: Naming) -> String {
    let sni = naming.of(Setting::Sni);
    let add = naming.of(Setting::AddContext);
    if add == sni {
        sni.to_string()
    } else {
        format!("{sni} (or {add} while running)")
    }
}

/// A client refused by the SNI fallback policy: what it asked for, and every name we serve
/// (the SNI entries', then those of the default certificate).
pub(crate) fn unknown_name(
    choice: &Choice,
    ip: Option<IpAddr>,
    ours: &Accepts,
) -> (String, String) {
    let fallback = ours.naming.of(Setting::SniFallback);
    let served = match (choice.names.is_empty(), choice.default_names.is_empty()) {
        (true, true) => "no names".to_string(),
        (false, true) => list(&choice.names),
        (true, false) => format!(
            "{} with the default certificate",
            names(&choice.default_names)
        ),
        (false, false) => format!(
            "{}, and {} with the default certificate",
            list(&choice.names),
            names(&choice.default_names)
        ),
    };
    let policy = choice.fallback.name();
    let message = match (&choice.asked, ip) {
        (Some(name), _) => format!(
            "the client asked for the server name {name:?} (SNI), which we have no certificate for (we serve {served}), and {fallback} {policy} refuses unknown names"
        ),
        (None, Some(ip)) => format!(
            "the client sent the IP address {ip} as its server name (SNI), which TLS does not allow (RFC 6066), so it counts as no name; {fallback} {policy} refuses clients without a name (we serve {served})"
        ),
        (None, None) => format!(
            "the client sent no server name (SNI) and {fallback} {policy} refuses clients without one (we serve {served})"
        ),
    };
    let fix = match &choice.asked {
        Some(name) => format!(
            "connect with one of those names, serve a certificate for {name} with {}, or serve the default certificate to unknown names ({fallback} default)",
            add_certificate(ours.naming)
        ),
        None => format!("have the client send a name (connect by host name, e.g. openssl s_client -servername, curl --resolve), or serve the default certificate to clients without one ({fallback} default or refuse-unknown)"),
    };
    (message, fix)
}

/// The warning for a client that asked for a name the certificate we send does not cover.
pub(crate) fn name_not_covered(asked: &str, leaf: &CertificateInfo, naming: Naming) -> String {
    format!(
        "the client asked for {asked:?} (SNI), which the certificate we sent does not cover (it covers {}): a client that checks the name will refuse it — connect with one of those names, or serve a certificate for {asked} with {}",
        covered(leaf),
        add_certificate(naming)
    )
}
