//! A `tls-server serve` process under watch, for `bench soak`: started on port 0 with
//! `--events json`, every event it prints tallied by connection id, its descriptors,
//! threads and memory read from /proc, its log kept in a file.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::driver::root;
use crate::peers::CHILDREN;
use crate::procfs;

/// What the events said so far.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Events by name.
    pub counts: BTreeMap<String, u64>,
    /// Connections announced (`connection`) and not yet ended (`close` or
    /// `tlsClientError`).
    pub open: HashSet<u64>,
    /// Connections that ended.
    ended: HashSet<u64>,
    /// An end for a connection that had already ended, or was never announced.
    pub ended_twice: u64,
    pub ended_unknown: u64,
    /// `refused` and `evicted` by limit; `tlsClientError` by cause.
    pub refused: BTreeMap<String, u64>,
    pub evicted: BTreeMap<String, u64>,
    pub causes: BTreeMap<String, u64>,
    /// Lines on stdout that were not a JSON event.
    pub bad_lines: u64,
    /// The `closed` event arrived; stdout ended.
    pub closed: bool,
    pub eof: bool,
}

impl Tally {
    pub fn count(&self, event: &str) -> u64 {
        self.counts.get(event).copied().unwrap_or(0)
    }

    /// Connections the server accepted: announced, or refused at the door.
    pub fn accepted(&self) -> u64 {
        self.count("connection") + self.count("refused")
    }

    fn add(&mut self, line: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            self.bad_lines += 1;
            return;
        };
        let name = v["event"].as_str().unwrap_or("?").to_string();
        let id = v["id"].as_u64();
        let text = |key: &str| v[key].as_str().unwrap_or("?").to_string();
        match name.as_str() {
            "connection" => {
                if let Some(id) = id {
                    self.open.insert(id);
                }
            }
            "close" | "tlsClientError" => {
                if name == "tlsClientError" {
                    *self.causes.entry(text("cause")).or_default() += 1;
                }
                if let Some(id) = id {
                    if !self.open.remove(&id) {
                        match self.ended.contains(&id) {
                            true => self.ended_twice += 1,
                            false => self.ended_unknown += 1,
                        }
                    }
                    self.ended.insert(id);
                }
            }
            "refused" => *self.refused.entry(text("limit")).or_default() += 1,
            "evicted" => *self.evicted.entry(text("limit")).or_default() += 1,
            "closed" => self.closed = true,
            _ => {}
        }
        *self.counts.entry(name).or_default() += 1;
    }
}

/// Descriptors, threads and resident memory of the process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub fds: u64,
    pub threads: u64,
    pub rss_kib: u64,
}

/// The running server. Killed (by PID) when dropped, unless it has exited.
pub struct Watched {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub log: PathBuf,
    shared: Arc<(Mutex<Tally>, Condvar)>,
    exited: Option<ExitStatus>,
}

impl Watched {
    /// Starts `program serve --port 0 --events json ARGS` with `env` added to its
    /// environment, in the repository root (so the demo certificates are found), and
    /// waits for its `listening` event.
    pub fn start(
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Watched, String> {
        let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(program);
        cmd.args(["serve", "--port", "0", "--events", "json"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        // SAFETY: prctl is async-signal-safe; the server dies with us, whatever kills us.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.display()))?;
        let pid = child.id();
        CHILDREN.lock().unwrap().push(pid);
        let stdout = child.stdout.take().expect("piped stdout");
        let shared = Arc::new((Mutex::new(Tally::default()), Condvar::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line
                    .contains("\"listening\"")
                    .then(|| serde_json::from_str::<serde_json::Value>(&line).ok())
                    .flatten()
                    .and_then(|v| v["addr"].as_str()?.parse::<SocketAddr>().ok())
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                reader.0.lock().unwrap().add(&line);
                reader.1.notify_all();
            }
            reader.0.lock().unwrap().eof = true;
            reader.1.notify_all();
        });
        let mut watched = Watched {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: log.to_path_buf(),
            shared,
            exited: None,
        };
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(addr) => {
                watched.addr = addr;
                Ok(watched)
            }
            Err(_) => {
                let _ = watched.child.kill();
                let status = watched.child.wait().ok();
                Err(format!(
                    "{} did not print its listening event within 15 s ({status:?}): {}",
                    program.display(),
                    std::fs::read_to_string(log).unwrap_or_default().trim()
                ))
            }
        }
    }

    /// A copy of the tally so far.
    pub fn tally(&self) -> Tally {
        self.shared.0.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the tally, or `timeout` passes; returns whether it held.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Tally) -> bool) -> bool {
        let until = Instant::now() + timeout;
        let mut tally = self.shared.0.lock().unwrap();
        while !done(&tally) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            tally = self.shared.1.wait_timeout(tally, left).unwrap().0;
        }
        true
    }

    pub fn sample(&self) -> Sample {
        let mem = procfs::mem(self.pid).unwrap_or_default();
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Sample {
            fds,
            threads: mem.threads,
            rss_kib: mem.rss_kib,
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the PID of a child we have not reaped.
        unsafe {
            libc::kill(self.pid as libc::pid_t, signal);
        }
    }

    /// Waits up to `timeout` for the process to exit; its status, if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                CHILDREN.lock().unwrap().retain(|p| *p != self.pid);
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.exited.is_none() && matches!(self.child.try_wait(), Ok(None))
    }

    /// Lines of the log that report a panic.
    pub fn panics(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("panicked") || l.contains("panic:"))
            .map(String::from)
            .collect()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            CHILDREN.lock().unwrap().retain(|p| *p != self.pid);
        }
    }
}
