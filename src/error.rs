//! The one error type for everything that can go wrong before the server serves.
//!
//! Every variant names the file or setting involved and says what was wrong (`problem`)
//! and what to do (`fix`), as separate fields, so a program can show them apart. Handshake
//! failures are not errors of this kind: they are reported as
//! [`Event::TlsClientError`](crate::Event::TlsClientError) while the server keeps serving.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::setting::{Naming, Setting};

/// Why the server (or `check`, `probe`) could not be configured or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A certificate, key or other file could not be used.
    Credential {
        /// The file, or the label given to in-memory bytes.
        path: PathBuf,
        /// What was wrong, with the specifics.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// A setting had a value that cannot work (an unknown cipher suite name, an empty
    /// version list, ...).
    Option {
        /// Which setting.
        setting: Setting,
        /// The setting's name as the messages give it (see [`Naming`](crate::setting::Naming)).
        name: &'static str,
        /// What was wrong, with the specifics.
        problem: String,
        /// What would be accepted, or what to do.
        fix: String,
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
    pub(crate) fn credential(
        path: impl Into<PathBuf>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Credential {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn option(
        setting: Setting,
        name: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Option {
            setting,
            name,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }

    /// What was wrong, without the file or setting and without the fix.
    pub fn problem(&self) -> String {
        match self {
            Error::Credential { problem, .. } | Error::Option { problem, .. } => problem.clone(),
            Error::Tls(e) => e.to_string(),
            Error::Bind { source, .. } | Error::Io { source, .. } => source.to_string(),
        }
    }

    /// What to do about it; empty when there is nothing specific to say.
    pub fn fix(&self) -> &str {
        match self {
            Error::Credential { fix, .. } | Error::Option { fix, .. } => fix,
            Error::Bind { source, .. } => match source.kind() {
                io::ErrorKind::AddrInUse => {
                    "another process is listening there; stop it or choose another port (port 0 picks a free one)"
                }
                io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need privileges; choose a port of 1024 or more"
                }
                io::ErrorKind::AddrNotAvailable => {
                    "that address does not belong to this machine; use 127.0.0.1, ::1 or 0.0.0.0"
                }
                _ => "",
            },
            Error::Tls(_) | Error::Io { .. } => "",
        }
    }
}

// Here rather than in setting.rs, which sits below this module and knows no `Error`.
impl Naming {
    /// An [`Error::Option`] about `setting`, named this way.
    pub(crate) fn error(
        self,
        setting: Setting,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Error {
        Error::option(setting, self.of(setting), problem, fix)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Credential { path, problem, .. } => write!(f, "{}: {problem}", path.display())?,
            Error::Option { name, problem, .. } => write!(f, "{name}: {problem}")?,
            Error::Tls(e) => write!(f, "tls configuration: {e}")?,
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}")?,
            Error::Io { context, source } => write!(f, "{context}: {source}")?,
        }
        match self.fix() {
            "" => Ok(()),
            fix => write!(f, " — {fix}"),
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
