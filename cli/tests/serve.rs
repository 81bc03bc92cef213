//! `tls-server serve`, driven as a child process: `--events json`, Ctrl-C, the startup
//! checks, server errors, logging. Arguments, addresses, `--help` and `--version` are in
//! arguments.rs; third-party clients in clients.rs.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use support::json::json;
use support::process::{expect_config_error, level, run, start_serve, tls_server, Proc};

// ---------------------------------------------------------------------------------------
// The server under test

/// `tls-server serve --port 0 --events json ARGS` on 127.0.0.1, up to `listening`.
fn start_server(args: &[&str]) -> (Proc, SocketAddr) {
    let (server, addr) = start_serve(args);
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    (server, addr)
}

// ---------------------------------------------------------------------------------------
// serve --events json

#[test]
fn serve_prints_each_event_as_a_json_line() {
    let (mut server, addr) = start_server(&[]);

    let mut client = support::connect(addr);
    let client_addr = client.sock.local_addr().unwrap();
    let msg = b"hello through the command line";
    assert_eq!(support::echo_roundtrip(&mut client, msg), msg);
    client.conn.send_close_notify();
    client.flush().unwrap();
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the server closes with close_notify");
    assert!(rest.is_empty());

    let out = &mut server.stdout;
    let line = out.expect_line("connection");
    let connection = json(&line);
    assert_eq!(connection.event(), "connection", "{line}");
    let id = connection.num("id");
    assert!(id >= 1.0, "{line}");
    assert_eq!(connection.str("peer"), client_addr.to_string());
    assert_eq!(connection.str("local"), addr.to_string());

    let line = out.expect_line("secureConnection");
    let secure = json(&line);
    assert_eq!(secure.event(), "secureConnection", "{line}");
    assert_eq!(secure.num("id"), id);
    assert_eq!(secure.str("peer"), client_addr.to_string());
    assert_eq!(secure.str("protocol"), "TLSv1.3");
    assert!(
        secure.str("cipher").starts_with("TLS_AES_")
            || secure.str("cipher").starts_with("TLS_CHACHA20_"),
        "{line}"
    );
    assert!(!secure.str("group").is_empty(), "{line}");
    assert_eq!(secure.str("servername"), "localhost");
    assert!(!secure.bool("resumed"));
    assert!(secure.num("handshakeMs") >= 0.0);

    // One or more data lines (one per read), adding up to what was sent.
    let mut bytes = 0.0;
    let mut line = out.expect_line("data");
    loop {
        let data = json(&line);
        if data.event() != "data" {
            break;
        }
        assert_eq!(data.num("id"), id);
        bytes += data.num("bytes");
        line = out.expect_line("end");
    }
    assert_eq!(bytes, msg.len() as f64, "data lines: {:#?}", out.seen);

    let end = json(&line);
    assert_eq!(end.event(), "end", "{line}");
    assert_eq!(end.num("id"), id);
    assert!(end.bool("clean"), "close_notify makes a clean end: {line}");

    let line = out.expect_line("close");
    let close = json(&line);
    assert_eq!(close.event(), "close", "{line}");
    assert_eq!(close.num("id"), id);
    assert!(!close.bool("hadError"), "{line}");
}

#[test]
fn ctrl_c_closes_connections_cleanly_and_exits_0() {
    let (mut server, addr) = start_server(&[]);
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"before"), b"before");
    server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    // Ctrl-C handling is installed by then: the listening line is printed after it.

    let status = Command::new("kill")
        .args(["-INT", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -INT failed");

    // close_notify, not a reset or an unexpected EOF.
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected bytes {rest:?}"),
        Err(e) => panic!("the server did not close cleanly: {e} ({:?})", e.kind()),
    }
    // Answer with our own close_notify so the server need not wait out its grace period.
    client.conn.send_close_notify();
    let _ = client.flush();
    drop(client);

    let status = server.wait_exit();
    let lines = &server.stdout.seen;
    assert_eq!(
        support::process::closing_lines(lines),
        Some(r#"{"event":"closed"}"#),
        "stdout: {lines:#?}"
    );
    for line in lines {
        json(line);
    }
    assert!(
        lines.iter().any(|l| json(l).event() == "close"),
        "the connection's close comes before closed: {lines:#?}"
    );
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}; stderr: {:#?}",
        server.stderr.seen
    );
    assert!(
        server.stderr.text().contains("Ctrl-C"),
        "{}",
        server.stderr.text()
    );
}

// ---------------------------------------------------------------------------------------
// Server errors

#[test]
fn running_out_of_descriptors_is_a_server_error_and_the_server_recovers() {
    // A descriptor limit so low that a few idle TCP connections exhaust it.
    let script = format!(
        "ulimit -n 24 && exec '{}' serve --port 0 --events json --handshake-timeout 30",
        support::process::tls_server_bin()
    );
    let mut server = Proc::spawn(
        "tls-server (ulimit -n 24)",
        Command::new("sh")
            .args(["-c", &script])
            .current_dir(support::repo_root())
            .stdin(Stdio::null()),
    );
    let first = server.stdout.expect_line("the listening event");
    let addr: SocketAddr = json(&first).str("addr").parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..24 {
        match TcpStream::connect(addr) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    let line = server
        .stdout
        .wait_for("serverError", |l| json(l).event() == "serverError");
    assert!(
        json(&line).str("error").contains("Too many open files"),
        "{line}"
    );
    assert!(json(&line).str("error").contains("ulimit -n"), "{line}");
    // Meanwhile a waiting client is not left hanging: it is refused, and told why.
    let refused = server
        .stdout
        .wait_for("refused", |l| json(l).event() == "refused");
    assert_eq!(json(&refused).str("limit"), "descriptors", "{refused}");
    // Once the idle clients leave, descriptors are free again and TLS works.
    drop(idle);
    let mut client = support::connect(addr);
    assert_eq!(
        support::echo_roundtrip(&mut client, b"still here"),
        b"still here"
    );
    server.stdout.wait_for("secureConnection", |l| {
        json(l).event() == "secureConnection"
    });
    // The shortage was reported once, not once per attempt, and its end was logged.
    let reports = server
        .stdout
        .seen
        .iter()
        .filter(|l| json(l).event() == "serverError")
        .count();
    assert_eq!(reports, 1, "{:#?}", server.stdout.seen);
    server.stderr.wait_for("the recovery", |l| {
        l.contains("file descriptors are available again")
    });
}

#[test]
fn sslkeylogfile_makes_the_server_write_a_private_key_log_and_warn() {
    use std::os::unix::fs::PermissionsExt;
    let path =
        std::env::temp_dir().join(format!("tls-server-cli-keylog-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut cmd = tls_server(&["serve", "--port", "0", "--events", "json"]);
    cmd.env("SSLKEYLOGFILE", &path);
    let mut server = Proc::spawn("tls-server with SSLKEYLOGFILE", &mut cmd);
    let first = server.stdout.expect_line("the listening event");
    let addr: SocketAddr = json(&first).str("addr").parse().unwrap();
    server.stderr.wait_for("the key-log warning", |l| {
        l.contains("anyone with this file can decrypt")
    });
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"k"), b"k");
    let written = std::fs::read_to_string(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let _ = std::fs::remove_file(&path);
    assert_eq!(mode, 0o600);
    assert!(written.contains("CLIENT_TRAFFIC_SECRET_0 "), "{written}");
}

#[test]
fn a_key_log_that_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!(
        "tls-server-cli-keylog-open-{}.txt",
        std::process::id()
    ));
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = tls_server(&["serve", "--port", "0", "--events", "json", "--keylog"]);
    cmd.arg(&path);
    let mut server = Proc::spawn("tls-server with an open key log", &mut cmd);
    server.stdout.expect_line("the listening event");
    let warning = server.stderr.wait_for("the mode warning", |l| {
        l.contains("readable by other users")
    });
    let _ = std::fs::remove_file(&path);
    assert!(
        warning.contains("mode 0644") && warning.contains("chmod 600"),
        "{warning}"
    );
}

#[test]
fn serve_runs_the_preflight_check_and_stops_on_errors() {
    expect_config_error(
        &[
            "serve",
            "--port",
            "0",
            "--cert",
            "certs/check/expired.crt",
            "--key",
            "certs/check/expired.key",
        ],
        &[
            "expired on Jan  1 00:00:00 2021 GMT",
            "our clock says",
            "--no-check",
        ],
    );
    // --no-check starts anyway (to demonstrate what clients do with an expired certificate).
    let (_server, addr) = start_server(&[
        "--cert",
        "certs/check/expired.crt",
        "--key",
        "certs/check/expired.key",
        "--no-check",
    ]);
    assert_ne!(addr.port(), 0);
}

#[test]
fn serve_logs_preflight_warnings_and_starts() {
    let (mut server, _addr) = start_server(&[
        "--cert",
        "certs/check/chain-missing.crt",
        "--key",
        "certs/check/chain.key",
    ]);
    server
        .stderr
        .wait_for("the missing-intermediate warning", |l| {
            level(l) == Some("WARN")
                && l.contains("preflight chain-complete")
                && l.contains("many clients will fail")
        });
}

#[test]
fn log_lines_are_time_stamped_and_filtered_like_rust_log() {
    // --log-level debug reaches rustls's own records (a handshake logs the suite).
    let (mut server, addr) = start_server(&["--log-level", "debug"]);
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"x"), b"x");
    let line = server
        .stderr
        .wait_for("a record of rustls", |l| l.contains(" [rustls::"));
    assert_eq!(level(&line), Some("DEBUG"), "{line}");
    drop(server);
    // RUST_LOG: only the targets it names at info; the rest at warn.
    let mut cmd = tls_server(&["serve", "--port", "0", "--events", "json"]);
    cmd.env("RUST_LOG", "warn,tls_server::server=info");
    let mut server = Proc::spawn("tls-server with RUST_LOG", &mut cmd);
    server.stdout.expect_line("the listening event");
    let listening = server
        .stderr
        .wait_for("the listening line", |l| l.contains("listening on"));
    assert_eq!(level(&listening), Some("INFO"), "{listening}");
    let _ = server.child.kill();
    let text = server.stderr.read_to_eof("the rest of stderr").join("\n");
    assert!(
        !text.contains("echo mode"),
        "tls_server_cli is at warn: {text}"
    );
    expect_config_error(
        &["serve", "--log-level", "loud"],
        &["--log-level", "not a level"],
    );
}

/// `--log-format json`: every line on stderr is a JSON object with the time, level, target
/// and message, and a line that tells an event carries that event's fields.
#[test]
fn log_format_json_gives_one_object_per_line_with_the_events_fields() {
    let (mut server, addr) = start_server(&["--log-format", "json", "--exit-after", "1"]);
    let mut client = support::connect(addr);
    assert_eq!(support::echo_roundtrip(&mut client, b"json"), b"json");
    drop(client);
    assert!(server.wait_exit().success());
    let lines: Vec<_> = server.stderr.seen.iter().map(|l| (l, json(l))).collect();
    for (line, object) in &lines {
        assert!(object.str("time").ends_with('Z'), "{line}");
        assert!(
            ["error", "warn", "info"].contains(&object.str("level")),
            "{line}"
        );
        assert!(!object.str("target").is_empty() && !object.str("message").is_empty());
    }
    let with = |event: &str| {
        lines
            .iter()
            .find(|(_, o)| o.opt_str("event") == Some(event))
            .unwrap_or_else(|| panic!("no {event} line in {lines:#?}"))
            .1
            .clone()
    };
    let secure = with("secureConnection");
    assert!(secure.str("message").contains(" secure: TLSv1.3"));
    assert_eq!(secure.str("servername"), "localhost");
    assert!(secure.str("cipher").starts_with("TLS_"));
    assert_eq!(with("listening").str("addr"), addr.to_string());
    assert_eq!(with("close").num("bytesRead"), 4.0);
    let summary = with("summary");
    assert_eq!(summary.num("connections"), 1.0);
    assert!(summary
        .str("message")
        .starts_with("summary: 1 connection, 1 secure"));
    expect_config_error(
        &["serve", "--log-format", "xml"],
        &["--log-format", "use plain", "or json"],
    );
}

/// The demo key is published, and a checkout makes it 0644: serving it is not warned
/// about (an info line says it is the demo pair), by default or named with --key. A copy
/// of it given with --key is.
#[test]
fn the_demo_key_is_not_warned_about_but_an_open_key_given_with_key_is() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("tls-server-open-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("server.key");
    std::fs::copy(support::repo_root().join("certs/server.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut given, _) =
        start_server(&["--cert", "certs/server.crt", "--key", key.to_str().unwrap()]);
    given.stderr.wait_for("the key-permissions warning", |l| {
        level(l) == Some("WARN")
            && l.contains("preflight key-permissions")
            && l.contains("chmod 600")
    });
    drop(given);
    let _ = std::fs::remove_dir_all(&dir);
    // The demo pair, by default: every preflight line comes before the echo-mode line.
    let (mut demo, _) = start_server(&[]);
    demo.stderr
        .wait_for("the echo-mode line", |l| l.contains("echo mode"));
    let stderr = demo.stderr.text();
    assert!(!stderr.contains("key-permissions"), "{stderr}");
    // The demo key named by its absolute path (as the benchmark does) is still the demo
    // key. (A clone has it 0644, so a warning would show here.)
    let demo_key = support::repo_root().join("certs/server.key");
    let (mut named, _) = start_server(&["--key", demo_key.to_str().unwrap()]);
    named.stderr.wait_for("the demo-pair line", |l| {
        l.contains("serving the demo certificate and key")
    });
    named
        .stderr
        .wait_for("the echo-mode line", |l| l.contains("echo mode"));
    let stderr = named.stderr.text();
    assert!(!stderr.contains("key-permissions"), "{stderr}");
}

/// A board without a real-time clock starts in 1970: the certificate is checked as of the
/// build time (with a warning that the clock is not set), so the server starts; an expired
/// certificate is still an error. Needs libfaketime (the `faketime` package, installed by
/// .ci/run), preloaded into the server itself: the `faketime` command would fork, and
/// killing it would leave the server running.
#[test]
fn a_clock_that_was_never_set_does_not_stop_the_server() {
    let Some(lib) = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
        "/usr/lib64/faketime/libfaketime.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file()) else {
        eprintln!("SKIPPED: libfaketime is not installed (apt-get install faketime)");
        return;
    };
    let in_1970 = |args: &[&str]| {
        let mut cmd = tls_server(args);
        cmd.env("LD_PRELOAD", lib)
            .env("FAKETIME", "@1970-01-02 00:00:00")
            .env("DONT_FAKE_MONOTONIC", "1");
        cmd
    };
    let mut server = Proc::spawn(
        "tls-server serve in 1970",
        &mut in_1970(&["serve", "--port", "0", "--events", "json"]),
    );
    let listening = server.stdout.expect_line("the listening event");
    assert!(listening.contains("\"listening\""), "{listening}");
    let warning = server
        .stderr
        .wait_for("the clock warning", |l| level(l) == Some("WARN"));
    assert!(
        warning.contains("the system clock says Fri, 02 Jan 1970")
            && warning.contains("it is not set"),
        "{warning}"
    );
    drop(server);
    // Expired before this program was built: still refused.
    let (status, p, _) = run(
        "tls-server serve in 1970 with an expired certificate",
        &mut in_1970(&[
            "serve",
            "--port",
            "0",
            "--cert",
            "certs/check/expired.crt",
            "--key",
            "certs/check/expired.key",
        ]),
    );
    assert_eq!(status.code(), Some(2), "{}", p.stderr.text());
    assert!(p.stderr.text().contains("expired"), "{}", p.stderr.text());
}

/// The startup checks cover each `--sni` pair too, as a reload (SIGHUP) does: an expired
/// certificate stops the server with the fix.
#[test]
fn sni_pairs_are_checked_at_startup() {
    let out = tls_server(&[
        "serve",
        "--port",
        "0",
        "--sni",
        "localhost=certs/check/expired.crt,certs/check/expired.key",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expired") && err.contains("renew"), "{err}");
    // A malformed --sni value says what is expected.
    let out = tls_server(&["serve", "--port", "0", "--sni", "a.example.test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected NAME=CERT,KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In `serve`, `--ca` is the CA of client certificates; the CA clients trust, for the
/// startup check, is `--check-ca`, and the check's hint names that flag.
#[test]
fn the_startup_check_names_check_ca_and_it_silences_the_unknown_issuer() {
    let pair = ["--cert", "certs/server.crt", "--key", "certs/server.key"];
    let (mut plain, _) = start_server(&pair);
    let hint = plain.stderr.wait_for("the chain warning", |l| {
        l.contains("preflight chain-complete")
    });
    assert!(hint.contains("pass it with --check-ca"), "{hint}");
    drop(plain);
    let mut with_ca = pair.to_vec();
    with_ca.extend(["--check-ca", "certs/ca.crt"]);
    let (mut checked, _) = start_server(&with_ca);
    checked
        .stderr
        .wait_for("the echo-mode line", |l| l.contains("echo mode"));
    let stderr = checked.stderr.text();
    assert!(!stderr.contains("chain-complete"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Scheduling

/// The (nice, policy) of each of process `pid`'s threads whose name starts with `prefix`.
fn threads_scheduling(pid: u32, prefix: &str) -> Vec<(i64, u32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .map(|stat| support::nice_and_policy(&stat))
        .collect()
}

#[test]
fn connection_threads_run_under_sched_batch_unless_told_not_to() {
    let ours =
        support::nice_and_policy(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
    // 3 is SCHED_BATCH; a process started under `nice` or `chrt` keeps its policy.
    let batch = if ours == (0, 0) { (0, 3) } else { ours };
    for (args, expected) in [(&[][..], batch), (&["--no-batch-scheduling"][..], ours)] {
        let (server, addr) = start_server(args);
        let mut client = support::connect(addr);
        assert_eq!(support::echo_roundtrip(&mut client, b"ping"), b"ping");
        // The handshake thread and the reader of the open connection.
        for prefix in ["tls-server-c", "tls-server-r"] {
            let found = threads_scheduling(server.pid(), prefix);
            assert!(!found.is_empty(), "{args:?}: no {prefix}N thread");
            for t in found {
                assert_eq!(t, expected, "{args:?}: a {prefix}N thread");
            }
        }
    }
}
