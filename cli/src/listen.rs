//! Where `serve` listens: the addresses of `--bind` and `--port`, or sockets it inherited
//! (`--listen-fd N`, systemd's `LISTEN_FDS`), already bound and listening, so that a test
//! suite or a service manager binds first and never races for a port.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;

use tls_server::{Server, ServerOptions, TlsStream};

/// The stream-style handler of `--mode https`, one call per secure connection.
pub(crate) type StreamHandler = Arc<dyn Fn(TlsStream) + Send + Sync>;

/// What the command line said about listening.
#[derive(Debug, Default)]
pub(crate) struct Listen {
    /// Each `--bind`, as typed.
    pub binds: Vec<String>,
    pub port: Option<u16>,
    /// Each `--listen-fd`.
    pub fds: Vec<i32>,
    /// systemd's `LISTEN_FDS` was set (for this process, if `LISTEN_PID` says so).
    pub systemd: bool,
}

impl Listen {
    /// The addresses to bind, for the library; at least the default one unless sockets
    /// are inherited. Refuses `--bind` together with inherited sockets: both say where.
    pub fn addresses(&self) -> Result<Vec<String>, String> {
        if let (Some(fd), true) = (self.fds.first(), self.systemd) {
            return Err(format!(
                "--listen-fd {fd} and systemd's LISTEN_FDS both give sockets — give one (systemd's are descriptors 3 and up)"
            ));
        }
        let inherited = !self.fds.is_empty() || self.systemd;
        if inherited && (!self.binds.is_empty() || self.port.is_some()) {
            let source = match self.fds.first() {
                Some(fd) => format!("--listen-fd {fd}"),
                None => "systemd's LISTEN_FDS".to_string(),
            };
            return Err(format!(
                "--bind/--port and {source} both say where to listen — give one: the inherited socket is already bound"
            ));
        }
        if inherited {
            return Ok(Vec::new());
        }
        let binds: Vec<&str> = match self.binds.is_empty() {
            true => vec!["127.0.0.1"],
            false => self.binds.iter().map(String::as_str).collect(),
        };
        Ok(binds.iter().map(|b| bind_address(b, self.port)).collect())
    }

    /// Starts the server on the inherited sockets or on `addresses`. Inherited sockets are
    /// taken only here, when the server starts (parsing touches nothing).
    pub fn start(
        &self,
        addresses: &[String],
        options: ServerOptions,
        streams: Option<StreamHandler>,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        if addresses.is_empty() {
            let listeners = self.inherited()?;
            return Ok(match streams {
                Some(handler) => {
                    Server::from_listeners_streams(listeners, options, move |s| handler(s))?
                }
                None => Server::from_listeners(listeners, options)?,
            });
        }
        let mut addresses = addresses.iter();
        let mut options = options.bind(addresses.next().cloned().unwrap_or_default());
        for addr in addresses {
            options = options.also_bind(addr.clone());
        }
        Ok(match streams {
            Some(handler) => Server::bind_streams(options, move |s| handler(s))?,
            None => Server::bind(options)?,
        })
    }

    /// systemd's sockets, then each `--listen-fd`.
    fn inherited(&self) -> Result<Vec<TcpListener>, String> {
        let mut listeners = Vec::new();
        if self.systemd {
            // listenfd checks LISTEN_PID and clears the variables, so that children of
            // this process do not take the sockets for theirs.
            let mut fds = listenfd::ListenFd::from_env();
            if fds.len() == 0 {
                return Err("LISTEN_FDS is set but LISTEN_PID names another process: these sockets are not ours — unset LISTEN_FDS, or let systemd start this program directly".into());
            }
            for i in 0..fds.len() {
                match fds.take_tcp_listener(i) {
                    Ok(Some(listener)) => listeners.push(listener),
                    Ok(None) => {}
                    Err(e) => return Err(format!(
                        "LISTEN_FDS: socket {} (descriptor {}): {e} — tls-server takes TCP stream sockets (ListenStream= in the .socket unit)",
                        i + 1,
                        3 + i
                    )),
                }
            }
        }
        for &fd in &self.fds {
            listeners.push(take_fd(fd)?);
        }
        Ok(listeners)
    }
}

/// The listening socket on descriptor `fd`, inherited from the parent process. listenfd
/// does the taking (it needs `unsafe`, which this crate forbids itself): it reads the
/// descriptors from the environment, so `fd` is named there for a moment, before any
/// thread that could read the environment runs.
fn take_fd(fd: i32) -> Result<TcpListener, String> {
    std::env::set_var("LISTEN_FDS", "1");
    std::env::set_var("LISTEN_FDS_FIRST_FD", fd.to_string());
    std::env::remove_var("LISTEN_PID");
    let taken = listenfd::ListenFd::from_env().take_tcp_listener(0);
    std::env::remove_var("LISTEN_FDS_FIRST_FD");
    match taken {
        Ok(Some(listener)) => Ok(listener),
        Ok(None) => Err(format!("--listen-fd {fd}: no socket")),
        Err(e) => Err(format!(
            "--listen-fd {fd}: {e} — pass a TCP socket this process inherited, bound and listening (e.g. Python: subprocess.Popen([...], pass_fds=[sock.fileno()]))"
        )),
    }
}

/// Whether systemd passed sockets: `LISTEN_FDS` set, and `LISTEN_PID` unset or ours.
pub(crate) fn systemd_sockets() -> bool {
    let set =
        std::env::var("LISTEN_FDS").is_ok_and(|n| n.trim().parse::<u32>().is_ok_and(|n| n > 0));
    let ours = match std::env::var("LISTEN_PID") {
        Ok(pid) => pid.trim() == std::process::id().to_string(),
        Err(_) => true,
    };
    set && ours
}

/// `--listen-fd VALUE`: a descriptor number, not one of the standard three, not twice.
pub(crate) fn parse_fd(value: &str, given: &[i32]) -> Result<i32, String> {
    match value.trim().parse::<i32>() {
        Ok(fd) if (0..=2).contains(&fd) => Err(format!(
            "--listen-fd {fd}: descriptors 0, 1 and 2 are stdin, stdout and stderr — pass the number of the inherited listening socket (3 or more)"
        )),
        Ok(fd) if given.contains(&fd) => Err(format!("--listen-fd {fd}: given twice")),
        Ok(fd) if fd > 2 => Ok(fd),
        _ => Err(format!(
            "--listen-fd: {value:?} is not a file descriptor number — give the number of an inherited listening socket, 3 or more"
        )),
    }
}

/// The port `serve` listens on when neither `--bind` nor `--port` names one.
const DEFAULT_PORT: u16 = 8000;

/// `--bind` and `--port` as one address for the library: `--port` replaces the port of
/// `--bind`, and an address without one gets [`DEFAULT_PORT`]. An IPv6 address gets its
/// brackets. Anything else goes on as typed, and the library says what is wrong with it.
fn bind_address(bind: &str, port: Option<u16>) -> String {
    if let Ok(mut addr) = bind.parse::<SocketAddr>() {
        if let Some(port) = port {
            addr.set_port(port);
        }
        return addr.to_string();
    }
    let bare = bind
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(bind);
    // "::1:8443" is an address, but more likely ::1 with a port: the library refuses it
    // as ambiguous (a last group of two digits or more after an address).
    let ambiguous = bind.rsplit_once(':').is_some_and(|(ip, last)| {
        last.len() >= 2 && last.bytes().all(|b| b.is_ascii_digit()) && ip.parse::<IpAddr>().is_ok()
    });
    if let (Ok(ip), false) = (bare.parse::<IpAddr>(), ambiguous) {
        return SocketAddr::new(ip, port.unwrap_or(DEFAULT_PORT)).to_string();
    }
    match bind.rsplit_once(':') {
        // HOST:PORT
        Some((host, given)) if !host.contains(':') && given.parse::<u16>().is_ok() => {
            format!(
                "{host}:{}",
                port.map_or(given.to_string(), |p| p.to_string())
            )
        }
        // HOST
        None if !bind.is_empty() => format!("{bind}:{}", port.unwrap_or(DEFAULT_PORT)),
        _ => bind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::bind_address;

    #[test]
    fn bind_and_port_make_one_address() {
        let cases: [(&str, Option<u16>, &str); 13] = [
            ("127.0.0.1:8443", None, "127.0.0.1:8443"),
            ("127.0.0.1:8443", Some(0), "127.0.0.1:0"),
            ("127.0.0.1", None, "127.0.0.1:8000"),
            ("0.0.0.0", Some(9000), "0.0.0.0:9000"),
            ("::1", Some(0), "[::1]:0"),
            ("::1", None, "[::1]:8000"),
            ("[::1]", Some(0), "[::1]:0"),
            ("[::1]:8443", None, "[::1]:8443"),
            ("[::]", None, "[::]:8000"),
            ("localhost:8443", Some(0), "localhost:0"),
            ("localhost", None, "localhost:8000"),
            // Left as typed, for the library to explain.
            ("localhost:https", None, "localhost:https"),
            ("::1:8443", Some(0), "::1:8443"),
        ];
        for (bind, port, want) in cases {
            assert_eq!(
                bind_address(bind, port),
                want,
                "--bind {bind} --port {port:?}"
            );
        }
    }
}
