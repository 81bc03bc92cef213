//! The three usage styles — events, handlers, blocking streams — each echo correctly over
//! real rustls clients on loopback.

mod support;

use std::hash::{DefaultHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;

use support::*;
use tls_server::rustls;
use tls_server::tls::cipher_suite_name;
use tls_server::{Event, Handler, Handlers, Server, TlsSocket, TlsStream};

/// Echoes `total` bytes of `pattern(total, seed)` in round trips of `chunk` bytes, checks
/// every byte, then closes with close_notify and expects the server's close_notify back.
/// Returns the client so callers can look at what was negotiated.
fn echo_client(
    addr: SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
    seed: u64,
    total: usize,
    chunk: usize,
) -> Client {
    let mut client = connect_with(addr, config);
    let data = pattern(total, seed);
    for (i, part) in data.chunks(chunk).enumerate() {
        let back = echo_roundtrip(&mut client, part);
        assert!(back == part, "client {seed}: chunk {i} came back different");
    }
    client.conn.send_close_notify();
    client.flush().expect("send close_notify");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the server answers close_notify with close_notify");
    assert!(
        rest.is_empty(),
        "nothing after the echo, got {} bytes",
        rest.len()
    );
    client
}

fn negotiated_cipher(client: &Client) -> String {
    cipher_suite_name(
        client
            .conn
            .negotiated_cipher_suite()
            .expect("suite")
            .suite(),
    )
}

// ----- (a) events ---------------------------------------------------------------------

#[test]
fn events_style_echoes_for_concurrent_clients() {
    let (server, events, addr) = start(options());
    const CLIENTS: u64 = 3;

    // The event loop: a thread of its own that writes every Data back and reports how
    // each connection ended.
    let (done_tx, done_rx) = mpsc::channel();
    let event_loop = thread::spawn(move || {
        let mut closes = Vec::new();
        let mut echoed = 0usize;
        for event in events {
            match event {
                Event::Data { socket, data } => {
                    echoed += data.len();
                    socket.write(&data);
                }
                Event::Close { socket, had_error } => closes.push((socket.id(), had_error)),
                Event::Closed => break,
                _ => {}
            }
        }
        let _ = done_tx.send((closes, echoed));
    });

    let clients: Vec<_> = (0..CLIENTS)
        .map(|seed| {
            thread::spawn(move || {
                echo_client(addr, client_config(), seed, 200 * 1024, 16 * 1024);
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client succeeded");
    }

    server.shutdown();
    let (closes, echoed) = done_rx
        .recv_timeout(WAIT)
        .expect("the event loop sees Closed after shutdown");
    event_loop.join().unwrap();
    assert_eq!(echoed, CLIENTS as usize * 200 * 1024);
    assert_eq!(closes.len(), CLIENTS as usize, "{closes:?}");
    assert!(closes.iter().all(|(_, e)| !e), "{closes:?}");
    server.wait();
}

// ----- (b) handlers -------------------------------------------------------------------

#[derive(Debug)]
enum Note {
    Secure {
        id: u64,
        protocol: &'static str,
        cipher: String,
    },
    Close {
        id: u64,
        had_error: bool,
    },
    Closed,
}

#[test]
fn handlers_closures_echo() {
    let server = Server::bind(options()).expect("server starts");
    let addr = server.local_addr();
    let handle = server.handle();
    let (tx, rx) = mpsc::channel();

    let runner = thread::spawn(move || {
        // Handlers hold closures that need not be Send: build them on the loop's thread.
        let (t1, t2, t3) = (tx.clone(), tx.clone(), tx);
        server.run(
            Handlers::new()
                .on_secure_connection(move |s| {
                    let _ = t1.send(Note::Secure {
                        id: s.id(),
                        protocol: s.protocol(),
                        cipher: s.cipher().to_string(),
                    });
                })
                .on_data(|s, d| {
                    s.write(d);
                })
                .on_close(move |s, had_error| {
                    let _ = t2.send(Note::Close {
                        id: s.id(),
                        had_error,
                    });
                })
                .on_closed(move || {
                    let _ = t3.send(Note::Closed);
                }),
        );
    });

    let client = echo_client(addr, client_config(), 7, 300 * 1024, 32 * 1024);
    let secure_id = match rx.recv_timeout(WAIT) {
        Ok(Note::Secure {
            id,
            protocol,
            cipher,
        }) => {
            assert_eq!(protocol, "TLSv1.3");
            assert_eq!(cipher, negotiated_cipher(&client));
            id
        }
        other => panic!("expected on_secure_connection first, got {other:?}"),
    };
    match rx.recv_timeout(WAIT) {
        Ok(Note::Close { id, had_error }) => {
            assert_eq!(id, secure_id);
            assert!(!had_error);
        }
        other => panic!("expected on_close, got {other:?}"),
    }
    handle.shutdown();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Note::Closed)));
    runner.join().expect("run() returns after Closed");
}

/// A handler that overrides only some of the trait's methods.
struct Echo {
    notes: mpsc::Sender<Note>,
}

impl Handler for Echo {
    fn on_secure_connection(&mut self, socket: &TlsSocket) {
        let _ = self.notes.send(Note::Secure {
            id: socket.id(),
            protocol: socket.protocol(),
            cipher: socket.cipher().to_string(),
        });
    }

    fn on_data(&mut self, socket: &TlsSocket, data: &[u8]) {
        socket.write(data);
    }

    fn on_close(&mut self, socket: &TlsSocket, had_error: bool) {
        let _ = self.notes.send(Note::Close {
            id: socket.id(),
            had_error,
        });
    }

    fn on_closed(&mut self) {
        let _ = self.notes.send(Note::Closed);
    }
}

#[test]
fn handler_trait_echoes_and_sees_protocol_cipher_and_close() {
    let server = Server::bind(options()).expect("server starts");
    let addr = server.local_addr();
    let handle = server.handle();
    let (tx, rx) = mpsc::channel();
    let runner = thread::spawn(move || server.run(Echo { notes: tx }));

    // One TLS 1.3 and one TLS 1.2 client, one after the other.
    let cases: [(&[&'static rustls::SupportedProtocolVersion], &str); 2] = [
        (&[&rustls::version::TLS13], "TLSv1.3"),
        (&[&rustls::version::TLS12], "TLSv1.2"),
    ];
    for (seed, (versions, want)) in cases.into_iter().enumerate() {
        let client = echo_client(
            addr,
            client_config_with(versions),
            seed as u64,
            100 * 1024,
            10 * 1024,
        );
        let id = match rx.recv_timeout(WAIT) {
            Ok(Note::Secure {
                id,
                protocol,
                cipher,
            }) => {
                assert_eq!(protocol, want);
                assert_eq!(cipher, negotiated_cipher(&client));
                id
            }
            other => panic!("expected on_secure_connection, got {other:?}"),
        };
        match rx.recv_timeout(WAIT) {
            Ok(Note::Close {
                id: closed,
                had_error,
            }) => {
                assert_eq!(closed, id);
                assert!(!had_error);
            }
            other => panic!("expected on_close, got {other:?}"),
        }
    }
    handle.shutdown();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Note::Closed)));
    runner.join().expect("run() returns after Closed");
}

// ----- (c) streams --------------------------------------------------------------------

/// Waits for `Close` of the one connection a stream server served.
fn wait_close(events: &tls_server::Events) -> bool {
    wait_for(events, "close", |e| match e {
        Event::Close { had_error, .. } => Some(*had_error),
        _ => None,
    })
}

#[test]
fn streams_echo_with_a_read_write_loop() {
    let (tx, rx) = mpsc::channel();
    let server = Server::bind_streams(options(), move |mut stream: TlsStream| {
        let socket = stream.socket();
        let _ = tx.send((socket.protocol(), socket.cipher().to_string()));
        let mut buf = [0u8; 8 * 1024];
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
    .expect("server starts");
    let events = server.events();
    let addr = server.local_addr();

    let client = echo_client(addr, client_config(), 11, 512 * 1024, 32 * 1024);
    let (protocol, cipher) = rx.recv_timeout(WAIT).expect("the stream handler ran");
    assert_eq!(protocol, "TLSv1.3");
    assert_eq!(cipher, negotiated_cipher(&client));
    // Close TCP too: the stream server reads until the peer closes (or its linger ends).
    drop(client);
    assert!(!wait_close(&events), "clean close");
    drop(server);
}

/// A `Write` that counts and hashes what it is given.
#[derive(Default)]
struct Digest {
    len: u64,
    hash: DefaultHasher,
}

impl Write for Digest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len += buf.len() as u64;
        self.hash.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn streams_work_with_io_copy() {
    // The handler drains the stream with io::copy until the client's close_notify, then
    // answers (also with io::copy) with the byte count and digest of what it got.
    let (tx, rx) = mpsc::channel();
    let server = Server::bind_streams(options(), move |mut stream: TlsStream| {
        let protocol = stream.socket().protocol();
        let mut digest = Digest::default();
        let copied = io::copy(&mut stream, &mut digest);
        let reply = format!("{} {:016x}", digest.len, digest.hash.finish());
        let written = io::copy(&mut reply.as_bytes(), &mut stream).and_then(|_| stream.flush());
        let _ = tx.send((protocol, copied.map_err(|e| e.to_string()), written.is_ok()));
    })
    .expect("server starts");
    let events = server.events();
    let addr = server.local_addr();

    const LEN: usize = 1 << 20;
    let data = pattern(LEN, 42);
    let mut want = Digest::default();
    want.write_all(&data).unwrap();

    let mut client = connect(addr);
    client.write_all(&data).expect("send 1 MiB");
    client.conn.send_close_notify();
    client.flush().expect("send close_notify");
    let mut reply = String::new();
    client
        .read_to_string(&mut reply)
        .expect("the reply, then the server's close_notify");
    assert_eq!(reply, format!("{LEN} {:016x}", want.hash.finish()));

    let (protocol, copied, written) = rx.recv_timeout(WAIT).expect("the stream handler ran");
    assert_eq!(protocol, "TLSv1.3");
    assert_eq!(
        copied,
        Ok(LEN as u64),
        "io::copy from the stream stops at close_notify"
    );
    assert!(written, "io::copy into the stream works");
    drop(client);
    assert!(!wait_close(&events), "clean close");
    drop(server);
}

// ----- IPv6 -----------------------------------------------------------------------------

#[test]
fn ipv6_loopback_echo() {
    let server = match Server::bind(options().bind("[::1]:0")) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("SKIPPED ipv6_loopback_echo: cannot bind [::1]:0 ({e})");
            return;
        }
    };
    let events = server.events();
    let addr = server.local_addr();
    assert!(addr.is_ipv6(), "{addr}");
    assert!(addr.ip().is_loopback(), "{addr}");

    let client = thread::spawn(move || {
        echo_client(addr, client_config(), 6, 64 * 1024, 8 * 1024);
    });
    let mut echoed = 0;
    let socket = loop {
        match events.recv_timeout(WAIT) {
            Ok(Event::Data { socket, data }) => {
                echoed += data.len();
                socket.write(&data);
            }
            Ok(Event::Close { socket, had_error }) => {
                assert!(!had_error);
                break socket;
            }
            Ok(_) => {}
            Err(e) => panic!("waiting for the IPv6 echo: {e}"),
        }
    };
    client.join().expect("IPv6 client succeeded");
    assert_eq!(echoed, 64 * 1024);
    assert!(socket.remote_addr().is_ipv6(), "{}", socket.remote_addr());
    assert_eq!(socket.local_addr(), addr);
    server.shutdown();
    wait_for(&events, "closed", |e| {
        matches!(e, Event::Closed).then_some(())
    });
}

/// Two receivers of one event stream, each blocked in `recv` on its own thread: shutdown
/// wakes both (each gets `Closed`, or `Err(Closed)` if another receiver already got it),
/// and later calls say `Closed` at once.
#[test]
fn every_receiver_blocked_in_recv_wakes_up_on_shutdown() {
    let server = tls_server::Server::bind(options()).expect("server starts");
    let events = server.events();
    match events.recv_timeout(WAIT) {
        Ok(tls_server::Event::Listening { .. }) => {}
        other => panic!("{other:?}"),
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let ready = std::sync::Arc::new(std::sync::Barrier::new(3));
    for _ in 0..2 {
        let mine = events.clone();
        let done = done_tx.clone();
        let ready = ready.clone();
        std::thread::spawn(move || {
            ready.wait();
            let mut last = None;
            while let Ok(e) = mine.recv() {
                last = Some(e.name());
            }
            let _ = done.send(last);
        });
    }
    ready.wait();
    server.shutdown();
    for _ in 0..2 {
        let last = done_rx
            .recv_timeout(WAIT)
            .expect("a receiver stayed blocked");
        assert!(matches!(last, Some("closed") | None), "{last:?}");
    }
    assert_eq!(
        events.try_recv().unwrap_err(),
        tls_server::events::RecvError::Closed
    );
    server.wait();
}
