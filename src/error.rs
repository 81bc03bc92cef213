//! The one error type for everything that can go wrong before the server serves.
//!
//! Every variant's message names the file or setting involved, says what was expected, and
//! gives the fix. Handshake failures are not errors of this kind: they are reported as
//! [`Event::TlsClientError`](crate::Event::TlsClientError) while the server keeps serving.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the server could not be configured or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A certificate, key or other credential file could not be used. `path` is the file (or
    /// the name given to in-memory bytes); `problem` is one sentence with the cause and the fix.
    Credential {
        /// The file, or the label given to in-memory bytes.
        path: PathBuf,
        /// What was wrong and how to fix it.
        problem: String,
    },
    /// An option had a value that cannot work (an unknown cipher suite name, an empty version
    /// list, ...). The message lists the valid values.
    Option {
        /// The option's name, as the command line spells it.
        option: &'static str,
        /// What was wrong and what would be accepted.
        problem: String,
    },
    /// rustls refused the configuration for a reason we did not anticipate.
    Tls(rustls::Error),
    /// Binding the listening socket failed.
    Bind {
        /// The address we tried to bind.
        addr: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another I/O failure while starting (spawning a thread, reading the socket's address).
    Io {
        /// What we were doing.
        context: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn credential(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::Credential {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn option(option: &'static str, problem: impl Into<String>) -> Self {
        Error::Option {
            option,
            problem: problem.into(),
        }
    }

    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Credential { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Option { option, problem } => write!(f, "option {option}: {problem}"),
            Error::Tls(e) => write!(f, "tls configuration: {e}"),
            Error::Bind { addr, source } => {
                let hint = match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        " — another process is listening there; stop it or choose another port (port 0 picks a free one)"
                    }
                    io::ErrorKind::PermissionDenied => {
                        " — ports below 1024 need privileges; choose a port of 1024 or more"
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        " — that address does not belong to this machine; use 127.0.0.1, ::1 or 0.0.0.0"
                    }
                    _ => "",
                };
                write!(f, "cannot listen on {addr}: {source}{hint}")
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Tls(e) => Some(e),
            Error::Bind { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}
