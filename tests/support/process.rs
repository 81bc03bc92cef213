//! Child processes for tests that drive a binary or an outside client: every line of its
//! output read by a thread, every wait bounded by [`WAIT`], and the child killed (by its
//! PID) when the test is done with it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::WAIT;

/// The lines a child writes on one of its pipes, read by a thread, with a timeout on every
/// wait. Keeps every line seen so failures can show them.
pub struct Lines {
    pub name: String,
    rx: Receiver<String>,
    pub seen: Vec<String>,
    eof: bool,
}

impl Lines {
    pub fn new(name: String, pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']).to_string();
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Lines {
            name,
            rx,
            seen: Vec::new(),
            eof: false,
        }
    }

    /// The next line, or `None` at end of file. Panics after [`WAIT`].
    pub fn next(&mut self, what: &str) -> Option<String> {
        if self.eof {
            return None;
        }
        match self.rx.recv_timeout(WAIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: timed out waiting for {what}; lines so far: {:#?}",
                self.name, self.seen
            ),
        }
    }

    /// The next line; end of file is a failure.
    pub fn expect_line(&mut self, what: &str) -> String {
        match self.next(what) {
            Some(line) => line,
            None => panic!(
                "{}: ended while waiting for {what}; lines: {:#?}",
                self.name, self.seen
            ),
        }
    }

    /// Skips lines until one satisfies `pick`.
    pub fn wait_for(&mut self, what: &str, mut pick: impl FnMut(&str) -> bool) -> String {
        loop {
            let line = self.expect_line(what);
            if pick(&line) {
                return line;
            }
        }
    }

    /// The next line if one has arrived, without waiting.
    pub fn try_line(&mut self) -> Option<String> {
        let line = self.rx.try_recv().ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Reads to end of file; returns every line seen, from the first.
    pub fn read_to_eof(&mut self, what: &str) -> &[String] {
        while self.next(what).is_some() {}
        &self.seen
    }

    pub fn text(&self) -> String {
        self.seen.join("\n")
    }
}

/// A child process, killed (by its PID) and reaped when dropped if still running.
pub struct Proc {
    pub child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr piped (stdin as the caller set it).
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Lines::new(format!("{name} stdout"), child.stdout.take().unwrap());
        let stderr = Lines::new(format!("{name} stderr"), child.stderr.take().unwrap());
        Proc {
            child,
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most [`WAIT`]) for the process to exit, after its output pipes close.
    pub fn wait_exit(&mut self) -> ExitStatus {
        self.stdout.read_to_eof("exit (stdout)");
        self.stderr.read_to_eof("exit (stderr)");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {} did not exit; stdout: {:#?} stderr: {:#?}",
                self.pid(),
                self.stdout.seen,
                self.stderr.seen
            );
            std::thread::yield_now();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // Child::kill sends SIGKILL to this child's PID.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a command to completion (at most [`WAIT`]).
pub fn run(name: &str, cmd: &mut Command) -> (ExitStatus, Proc, Duration) {
    let started = Instant::now();
    let mut p = Proc::spawn(name, cmd);
    let status = p.wait_exit();
    (status, p, started.elapsed())
}

/// Whether `tool` is on the PATH, by `which`.
pub fn installed(tool: &str) -> bool {
    Command::new("which")
        .arg(tool)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn skip_unless_installed(tool: &str) -> bool {
    if installed(tool) {
        return false;
    }
    // Visible with or without --nocapture.
    println!("skipped: {tool} not installed");
    eprintln!("skipped: {tool} not installed");
    true
}

/// The `tls-server` binary. Only the command line's tests (cli/tests) may run it: cargo
/// builds it for them, and tells them where it is.
pub fn tls_server_bin() -> &'static str {
    match option_env!("CARGO_BIN_EXE_tls-server") {
        Some(path) => path,
        None => {
            panic!("the tls-server binary is known only to the command line's tests (cli/tests)")
        }
    }
}

/// `tls-server ARGS`, run in the repository (so `certs/` and the messages' short paths
/// work), stdin closed.
pub fn tls_server(args: &[&str]) -> Command {
    let mut cmd = Command::new(tls_server_bin());
    cmd.args(args)
        .current_dir(super::repo_root())
        .stdin(Stdio::null());
    cmd
}

/// What one run of the binary printed, and its exit status.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `tls-server ARGS` to completion (at most [`WAIT`]).
pub fn run_tls_server(args: &[&str]) -> Out {
    let (status, p, _) = run("tls-server", &mut tls_server(args));
    Out {
        code: status.code().expect("an exit status, not a signal"),
        stdout: p.stdout.text(),
        stderr: p.stderr.text(),
    }
}

/// `tls-server serve --port 0 --events json ARGS`, up to its `listening` line: the process
/// and the address it listens on.
pub fn start_serve(args: &[&str]) -> (Proc, std::net::SocketAddr) {
    let mut all = vec!["serve", "--port", "0", "--events", "json"];
    all.extend_from_slice(args);
    let mut server = Proc::spawn("tls-server", &mut tls_server(&all));
    let first = server.stdout.expect_line("the listening event");
    let listening = super::json::json(&first);
    assert_eq!(listening.event(), "listening", "{first}");
    let addr: std::net::SocketAddr = listening
        .str("addr")
        .parse()
        .unwrap_or_else(|e| panic!("bad addr in {first}: {e}"));
    assert_ne!(addr.port(), 0, "a real port: {first}");
    (server, addr)
}

/// The `closed` line of `serve --events json`'s stdout, after checking that only the
/// `summary` object follows it: `None` if the output does not end that way.
pub fn closing_lines(stdout: &[String]) -> Option<&str> {
    match stdout {
        [.., closed, summary] if super::json::json(summary).event() == "summary" => {
            Some(closed.as_str())
        }
        _ => None,
    }
}

/// Sends `signal` (`INT`, `TERM`, `HUP`, ...) to `pid` with the `kill` command.
pub fn send_signal(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// curl against `https://localhost:PORT{path}` for each path, trusting the demo CA:
/// (success, stdout, stderr).
pub fn curl(addr: std::net::SocketAddr, args: &[&str], paths: &[&str]) -> (bool, String, String) {
    let port = addr.port();
    let mut cmd = Command::new("curl");
    cmd.current_dir(super::repo_root())
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(["--cacert", "certs/ca.crt"])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(args)
        .args(paths.iter().map(|p| format!("https://localhost:{port}{p}")))
        .stdin(Stdio::null());
    let (status, p, _) = run("curl", &mut cmd);
    (status.success(), p.stdout.text(), p.stderr.text())
}

/// What curl negotiated, from `SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384` in
/// its --verbose output: (protocol, cipher).
pub fn curl_negotiated(verbose: &str) -> (String, String) {
    let line = verbose
        .lines()
        .find_map(|l| l.split("SSL connection using ").nth(1))
        .unwrap_or_else(|| panic!("no 'SSL connection using' in {verbose}"));
    let (protocol, cipher) = line.split_once(" / ").expect("protocol / cipher");
    (protocol.trim().into(), cipher.trim().into())
}

/// The level of a log line, `2026-12-02T08:20:29.914Z WARN  [target] message`, after
/// checking its timestamp's shape; `None` for a line that is not a log line.
pub fn level(line: &str) -> Option<&str> {
    let (time, rest) = line.split_once(' ')?;
    let stamp = time.len() == 24
        && time.ends_with('Z')
        && time.as_bytes()[10] == b'T'
        && time.as_bytes()[19] == b'.';
    stamp.then(|| rest.split_whitespace().next()).flatten()
}

/// Runs `tls-server ARGS`, which must fail fast with `error: ` naming `fragments[0]` on
/// stderr (after log lines only), with every fragment somewhere on stderr, and nothing on
/// stdout about listening.
pub fn expect_config_error(args: &[&str], fragments: &[&str]) {
    let (status, p, took) = run("tls-server", &mut tls_server(args));
    assert!(!status.success(), "{args:?} should fail");
    assert!(
        status.code().is_some_and(|c| c != 0),
        "a non-zero exit code, not a signal: {status}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let stderr = p.stderr.text();
    // Preflight lines (warnings, the demo pair's note) may come first; the error follows.
    let error = p
        .stderr
        .seen
        .iter()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error: ` line in stderr: {stderr}"));
    assert!(
        p.stderr
            .seen
            .iter()
            .take_while(|l| !l.starts_with("error: "))
            .all(|l| level(l) == Some("WARN") || level(l) == Some("INFO")),
        "only log lines before the error: {stderr}"
    );
    if let Some(first) = fragments.first() {
        assert!(
            error.contains(first),
            "the error line should name {first:?}: {error}"
        );
    }
    for f in fragments {
        assert!(stderr.contains(f), "expected {f:?} in stderr: {stderr}");
    }
    assert!(!stderr.contains("no items found"), "{stderr}");
    assert!(
        !p.stdout.text().contains("listening"),
        "stdout: {}",
        p.stdout.text()
    );
}
