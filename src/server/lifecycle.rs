//! The life of one connection on its pool thread, and the one place that announces it:
//! `Connection`, the handshake, then `SecureConnection` (or `TlsClientError`), the event
//! loop's reader or the user's stream handler, and `Close`.

use std::net::{SocketAddr, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::ServerConnection;

use crate::connection::{Conn, SocketInfo};
use crate::event::Event;
use crate::explain::catalogue::certificate::name_not_covered;
use crate::explain::client_hello::ClientHello;
use crate::explain::diagnose;
use crate::explain::failure::{Broke, Failed, Failure};
use crate::explain::trace::Recorder;
use crate::explain::{HandshakeLog, HandshakeTrace};
use crate::server::handshake::{self, Done};
use crate::server::pool::Slot;
use crate::server::reader;
use crate::server::registry::Admitted;
use crate::server::shared::{Mode, Shared};
use crate::socket::TlsSocket;
use crate::stream::{self, TlsStream};
use crate::tls::accepts::Accepts;
use crate::tls::client_auth::{self, ClientAuth, Presented};
use crate::tls::provider::{both_names, cipher_suite_name, group_name, openssl_or_iana_name};
use crate::tls::CertificateInfo;
use crate::util::json::{Fields, Obj};
use crate::util::panic_message;

pub(crate) fn serve(
    shared: Arc<Shared>,
    sock: Arc<TcpStream>,
    admitted: Admitted,
    peer: SocketAddr,
    started: Instant,
    slot: Slot,
) {
    let id = admitted.id;
    let local = sock.local_addr().unwrap_or(shared.local_addr);
    let _ = sock.set_nodelay(true);
    // Behind a load balancer, its PROXY header names the client.
    let first_bytes_by = started + shared.client_hello_timeout;
    let (peer, proxied_by) = match shared.proxy.read(&sock, peer, first_bytes_by) {
        Ok(Some(client)) => {
            // From now on the per-address limit counts the client, not the balancer.
            if let Err(refusal) = shared.registry.readdress(id, client) {
                let _ = sock.shutdown(std::net::Shutdown::Both);
                drop(sock);
                drop(slot);
                drop(admitted);
                shared.events.send(Event::Refused {
                    peer: client,
                    limit: refusal.limit,
                    reason: refusal.reason,
                });
                return;
            }
            (client, Some(peer))
        }
        Ok(None) => (peer, None),
        Err((failure, bytes)) => {
            let proxied_by = None;
            shared.events.send(Event::Connection {
                id,
                peer,
                local,
                proxied_by,
            });
            let failed = Failed::before_tls(
                failure,
                bytes,
                started.elapsed(),
                shared.client_hello_timeout,
            );
            let error = diagnose::explain(id, peer, local, failed, &shared.tls().accepts);
            drop(sock);
            drop(slot);
            drop(admitted);
            shared.events.send(Event::TlsClientError(Box::new(error)));
            return;
        }
    };
    shared.events.send(Event::Connection {
        id,
        peer,
        local,
        proxied_by,
    });
    // The certificates in use now; a reload during this connection does not change them.
    let setup = shared.tls();
    let outcome = handshake::run(
        &sock,
        &setup,
        handshake::Deadlines {
            started,
            first_bytes: started + shared.client_hello_timeout,
            whole: started + shared.handshake_timeout,
        },
        &admitted.heard,
        &|| shared.stopping(),
        shared.trace || shared.keep_handshakes,
    );
    let mut done = match outcome {
        Ok(done) => done,
        Err(mut failed) => {
            if shared.registry.was_evicted(id) {
                failed.failure = Failure::Evicted;
            }
            let recorder = failed.trace.take();
            let served = failed.record.sni.as_ref().and_then(|c| c.served.clone());
            let mut error = diagnose::explain(id, peer, local, *failed, &setup.accepts);
            error.proxied_by = proxied_by;
            // Zero-byte probes stay quiet (debug level), trace or not.
            if let Some(trace) = recorder.as_ref() {
                if shared.trace && !error.is_probe() {
                    let outcome = format!("failed: {} — {}", error.message, error.fix);
                    emit_trace(&shared, trace.finish(id, peer, outcome, error.elapsed));
                }
            }
            if shared.keep_handshakes {
                error.handshake = Some(Arc::new(HandshakeLog {
                    offered: error.offered.clone(),
                    flights: recorder.map(Recorder::into_flights).unwrap_or_default(),
                    served,
                    client_certificate_requested: setup.accepts.trust.mode != ClientAuth::Off,
                }));
            }
            // The connection and its place in the pool are free before anyone hears of it.
            drop(sock);
            drop(slot);
            drop(admitted);
            shared.events.send(Event::TlsClientError(Box::new(error)));
            return;
        }
    };
    let mut info = secure_info(&mut done, &setup.accepts, id, peer, local, started, &shared);
    info.proxied_by = proxied_by;
    let info = Arc::new(info);
    log_secure(&info);
    let conn = Conn::new(
        info,
        sock,
        into_connection(done),
        shared.notify.clone(),
        shared.limits.clone(),
        shared.timers.clone(),
    );
    shared.registry.opened(id, Arc::downgrade(&conn));
    conn.start_idle_clock();
    if shared.stopping() {
        // Shutdown began while this handshake was finishing.
        conn.end();
    }
    let socket = TlsSocket::of(&conn);
    shared.events.send(Event::SecureConnection(socket.clone()));
    let open = Open {
        conn,
        socket,
        admitted,
    };
    match &shared.mode {
        Mode::Events => {
            // Reading moves to a reader thread, which never runs a handshake: an idle
            // connection keeps only the stack pages reading touches. This thread's place
            // goes with the connection and is given up by the reader as it starts: so
            // this thread is idle again before the connection can end (a client that
            // reconnects at once finds it), and it is never on the idle list while it
            // still waits here for a reader.
            let handoff = Arc::new(Mutex::new(Some((open, slot))));
            let theirs = Arc::clone(&handoff);
            let reader_shared = Arc::clone(&shared);
            let job = Box::new(move |reader_slot| {
                if let Some((open, handshake_slot)) = take(&theirs) {
                    drop(handshake_slot);
                    read(&reader_shared, open, reader_slot)
                }
            });
            if let Err(rejected) = shared.readers.submit(job) {
                drop(rejected.job);
                if let Some((open, slot)) = take(&handoff) {
                    // No reader thread could be had: this thread reads, keeping its place.
                    read(&shared, open, slot);
                }
            }
        }
        Mode::Stream(handler) => {
            let Open {
                conn,
                socket,
                admitted,
            } = open;
            let run = catch_unwind(AssertUnwindSafe(|| handler(TlsStream::new(conn.clone()))));
            if let Err(panic) = run {
                // The Error event's log line says it.
                conn.report(conn.explain(Broke::HandlerPanic {
                    place: "stream handler".into(),
                    panic: panic_message(&panic),
                }));
                conn.destroy();
            }
            let had_error = stream::finish(&conn);
            closed(&shared, conn, slot, admitted, socket, had_error);
        }
    }
}

/// A secure connection, on its way to the thread that reads it.
struct Open {
    conn: Arc<Conn>,
    socket: TlsSocket,
    admitted: Admitted,
}

/// The events style after the handshake, on a reader thread: read until the end, then
/// `Close`.
fn read(shared: &Shared, open: Open, slot: Slot) {
    let had_error = reader::run(&open.conn, &shared.events);
    closed(
        shared,
        open.conn,
        slot,
        open.admitted,
        open.socket,
        had_error,
    );
}

/// A connection and the handshake thread's place, waiting for a reader thread.
type Handoff = Mutex<Option<(Open, Slot)>>;

fn take(handoff: &Handoff) -> Option<(Open, Slot)> {
    handoff.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Frees the connection and its place in the pool before telling: after `Close`, a new
/// connection must find the slot free ("its thread is free again").
fn closed(
    shared: &Shared,
    conn: Arc<Conn>,
    slot: Slot,
    admitted: Admitted,
    socket: TlsSocket,
    had_error: bool,
) {
    drop(conn);
    drop(slot);
    drop(admitted);
    shared.events.send(Event::Close { socket, had_error });
}

/// The rustls connection of a finished handshake. The rest of what the handshake kept for
/// the explanations (the client's first bytes, its record and trace) and the box holding
/// it are freed here, not when the connection ends.
fn into_connection(done: Box<Done>) -> rustls::ServerConnection {
    let Done { conn, .. } = *done;
    conn
}

/// What the handshake settled, with the client certificate judged; the trace (when on)
/// is finished and emitted here, just before `SecureConnection`.
fn secure_info(
    done: &mut Done,
    accepts: &Accepts,
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    started: Instant,
    shared: &Shared,
) -> SocketInfo {
    let tls = &done.conn;
    let mut info = negotiated(tls, id, peer, local, started);
    if info.server_name.is_none() {
        // rustls ignores an IP address sent as SNI (RFC 6066 forbids it); say so.
        info.server_name_ip = ClientHello::parse(&done.first_bytes)
            .and_then(|h| h.server_name)
            .and_then(|n| n.parse().ok());
        if let Some(ip) = info.server_name_ip {
            log::info!("#{id} {peer} sent the IP address {ip} as its server name (SNI), which TLS does not allow (RFC 6066); treated as no name");
        }
    }
    info.server_name_covered = name_covered(&info, done, accepts);
    authorize(&mut info, tls, done.record.presented.as_ref(), accepts);
    let recorder = done.trace.take();
    if let Some(trace) = recorder.as_ref().filter(|_| shared.trace) {
        let outcome = format!(
            "secure: chose {} {} with group {}{}{} (rustls takes the client's preferred suite and group among those we allow)",
            info.protocol,
            both_names(&info.cipher, &info.cipher_openssl),
            info.group.as_deref().unwrap_or("-"),
            info.alpn_protocol.as_deref().map(|p| format!(", ALPN {p}")).unwrap_or_default(),
            if info.resumed { ", session resumed" } else { "" },
        );
        emit_trace(
            shared,
            trace.finish(id, peer, outcome, info.handshake_duration),
        );
    }
    if shared.keep_handshakes {
        info.handshake = Some(Arc::new(HandshakeLog {
            offered: ClientHello::parse(&done.first_bytes),
            flights: recorder.map(Recorder::into_flights).unwrap_or_default(),
            served: done.record.sni.as_ref().and_then(|c| c.served.clone()),
            client_certificate_requested: accepts.trust.mode != ClientAuth::Off,
        }));
    }
    info
}

/// Whether the certificate we sent covers the name the client asked for: `None` without a
/// name, on resumption (no certificate is sent) or when we do not know our certificate. A
/// name it does not cover is warned about: a client that checks it will refuse the
/// certificate, after the handshake (curl) or during it (then `TlsClientError` says so).
fn name_covered(info: &SocketInfo, done: &Done, accepts: &Accepts) -> Option<bool> {
    let name = info.server_name.as_deref().filter(|_| !info.resumed)?;
    let leaf = match done.record.sni.as_ref().and_then(|c| c.served.as_ref()) {
        Some(ctx) => ctx.certificate(),
        None => accepts.chain.first()?,
    };
    let covered = leaf.covering_name(name).is_some();
    if !covered {
        log::warn!(
            "#{} {}: {}",
            info.id,
            info.remote_addr,
            name_not_covered(name, leaf, accepts.naming)
        );
    }
    Some(covered)
}

fn negotiated(
    tls: &ServerConnection,
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    started: Instant,
) -> SocketInfo {
    SocketInfo {
        id,
        remote_addr: peer,
        local_addr: local,
        protocol: match tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLSv1.3",
        },
        cipher: tls
            .negotiated_cipher_suite()
            .map(|s| cipher_suite_name(s.suite()))
            .unwrap_or_default(),
        cipher_openssl: tls
            .negotiated_cipher_suite()
            .map(|s| openssl_or_iana_name(s.suite()))
            .unwrap_or_default(),
        group: tls
            .negotiated_key_exchange_group()
            .map(|g| group_name(g.name())),
        server_name: tls.server_name().map(str::to_string),
        server_name_covered: None,
        server_name_ip: None,
        alpn_protocol: tls
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        resumed: tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        handshake_duration: started.elapsed(),
        authorized: false,
        authorization_error: None,
        peer_chain: Vec::new(),
        proxied_by: None,
        handshake: None,
    }
}

/// Node's `authorized` / `authorizationError` and the peer certificate, from what the
/// client presented in this handshake.
fn authorize(
    info: &mut SocketInfo,
    tls: &ServerConnection,
    presented: Option<&Presented>,
    accepts: &Accepts,
) {
    let trust = &accepts.trust;
    if trust.mode == ClientAuth::Off {
        return;
    }
    let provider = &accepts.provider;
    if info.resumed {
        // A resumed session carries the chain rustls verified in the full handshake
        // (Inspect mode turns resumption off, so this chain was accepted).
        info.peer_chain = tls
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .filter_map(|der| CertificateInfo::parse(der, provider))
            .collect();
        info.authorized = !info.peer_chain.is_empty();
        if !info.authorized {
            info.authorization_error = Some(client_auth::authorization_error(None, None, trust));
        }
        return;
    }
    if let Some(p) = presented {
        info.peer_chain = p
            .chain
            .iter()
            .filter_map(|der| CertificateInfo::parse(der, provider))
            .collect();
    }
    match presented.map(|p| &p.verdict) {
        Some(None) => info.authorized = true,
        verdict => {
            info.authorization_error = Some(client_auth::authorization_error(
                verdict.and_then(Option::as_ref),
                info.peer_chain.first(),
                trust,
            ));
        }
    }
}

/// The trace at info level, human form, and as an event.
fn emit_trace(shared: &Shared, trace: HandshakeTrace) {
    log::info!("{trace}");
    shared.events.send(Event::Trace(Box::new(trace)));
}

/// What Node's classic `secureConnection` example prints, as one log line (plus the client
/// certificate's subject and whether it is authorized, as its client-auth example prints).
fn log_secure(info: &SocketInfo) {
    let client = match (info.peer_chain.first(), &info.authorization_error) {
        (Some(cert), None) => format!(" client=\"{}\" authorized", cert.subject_line),
        (Some(cert), Some(e)) => format!(
            " client=\"{}\" unauthorized ({})",
            cert.subject_line, e.code
        ),
        (None, Some(e)) => format!(" client=none unauthorized ({})", e.code),
        (None, None) => String::new(),
    };
    let fields = Fields(|| {
        Obj::new()
            .str("event", "secureConnection")
            .extend(&info.to_json())
            .finish()
    });
    log::info!(
        fields:% = fields;
        "#{} {} secure: {} {} group={} sni={} alpn={}{}{} in {:.1} ms",
        info.id,
        info.remote_addr,
        info.protocol,
        both_names(&info.cipher, &info.cipher_openssl),
        info.group.as_deref().unwrap_or("-"),
        info.server_name.as_deref().unwrap_or("-"),
        info.alpn_protocol.as_deref().unwrap_or("-"),
        if info.resumed { " resumed" } else { "" },
        client,
        info.handshake_duration.as_secs_f64() * 1000.0
    );
}
