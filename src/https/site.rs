//! [`pages`]: the `--mode https` responder with its pages for people — the handshake page
//! at `/` and the failures page at `/failures` for a browser, the JSON of [`facts`] for
//! everyone else.

use super::facts::{error_json, facts};
use super::failures::Failures;
use super::failures_page::failures_page;
use super::negotiate::{wants_html, words};
use super::page::handshake_page;
use super::{Request, Response};
use crate::connection::SocketInfo;

/// What the answers on `/` and `/failures` depend on, for caches.
const VARY: &str = "Accept, Accept-Language";

/// The responder of `tls-server serve --mode https`: [`facts`] for programs, and two pages
/// for people.
///
/// - `GET /` with `text/html` in `Accept` (a browser): the handshake page, which draws
///   this connection's handshake as a ladder — each flight with its messages, time and
///   size — with what the client offered, what the server chose, the certificate chain,
///   the facts and the client certificate. Without `text/html` (curl's `*/*`) or with
///   `Accept: application/json` preferred: [`facts`]'s JSON, as before.
/// - `GET /failures`: the recent failed handshakes in `failures`, with their cause,
///   explanation, fix and ladder up to the failure (HTML for a browser; otherwise the
///   JSON array of [`Failures::to_json`]).
/// - `Accept-Language` preferring `ja`: the pages' labels in Japanese (the explanations
///   stay English). `?format=json|html` and `?lang=ja|en` override the headers.
/// - Anything else: as [`facts`] answers it (`405` with `Allow`, `404`).
///
/// The ladder needs [`ServerOptions::keep_handshakes`](crate::ServerOptions::keep_handshakes);
/// without it the page draws what the protocol sends and says that times were not
/// recorded. Pages are one self-contained HTML document each — inline style and SVG, no
/// script (their `Content-Security-Policy` allows none), nothing fetched — and everything
/// the peer sent is escaped.
pub fn pages(info: &SocketInfo, failures: &Failures, request: &Request) -> Response {
    let get = matches!(request.method.as_str(), "GET" | "HEAD");
    let response = match request.path() {
        "/" if get && wants_html(request) => html(handshake_page(
            info,
            request,
            words(request),
            failures.len(),
        )),
        "/failures" if get && wants_html(request) => html(failures_page(failures, words(request))),
        "/failures" if get => Response::json(200, failures.to_json() + "\n"),
        "/failures" => {
            Response::json(405, error_json(405, request)).with_header("Allow", "GET, HEAD")
        }
        // The JSON facts (or 405): what `/` answers when no page is asked for.
        "/" => facts(info, request),
        _ => return facts(info, request),
    };
    response.with_header("Vary", VARY)
}

/// A page: HTML that may run no script and load nothing but itself, never cached.
fn html(body: String) -> Response {
    Response::new(200)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Cache-Control", "no-store")
        .with_body(body)
}
