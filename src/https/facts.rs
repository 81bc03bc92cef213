//! The "connection facts" responder of `tls-server serve --mode https`.

use super::respond::reason_phrase;
use super::{Request, Response};
use crate::connection::SocketInfo;
use crate::util::json::Obj;

/// The connection facts as one JSON object: [`SocketInfo::to_json`] (protocol, cipher,
/// group, `servername`, `alpn`, `resumed`, `handshake_ms`, `peer` — the client's address —,
/// `authorized`, `authorizationError`, `peerCertificate`) plus
/// `"request":{"method","path","httpVersion","number"}`, `number` counting the requests on
/// this connection from 1.
pub fn facts_json(info: &SocketInfo, request: &Request) -> String {
    Obj::new()
        .extend(&info.to_json())
        .raw(
            "request",
            &Obj::new()
                .str("method", &request.method)
                .str("path", &request.target)
                .str("httpVersion", request.http_version())
                .num("number", request.number)
                .finish(),
        )
        .finish()
}

/// The "connection facts" responder of `tls-server serve --mode https`: `GET /` and
/// `HEAD /` answer [`facts_json`] (`application/json`), other methods on `/` get `405`
/// with `Allow: GET, HEAD`, other paths `404`, both with a JSON body.
pub fn facts(info: &SocketInfo, request: &Request) -> Response {
    let error = |status: u16| error_json(status, request);
    match (request.path(), request.method.as_str()) {
        ("/", "GET" | "HEAD") => Response::json(200, facts_json(info, request) + "\n"),
        ("/", _) => Response::json(405, error(405)).with_header("Allow", "GET, HEAD"),
        _ => Response::json(404, error(404)),
    }
}

/// `{"status":404,"error":"Not Found","method":"GET","path":"/x"}` and a newline.
pub(super) fn error_json(status: u16, request: &Request) -> String {
    Obj::new()
        .num("status", status)
        .str("error", reason_phrase(status))
        .str("method", &request.method)
        .str("path", &request.target)
        .finish()
        + "\n"
}
