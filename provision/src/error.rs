//! The crate's one error type. Messages name the file, the key or the plan at fault and
//! say what to do; none of them ever holds a secret (tokens are read from the environment
//! at the last moment and never formatted).

use std::path::PathBuf;

/// Everything that can go wrong in provisioning.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project file is wrong: the file, the key (with line:column when known), the fix.
    #[error("{}{}: {message}", file.display(), at.as_ref().map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Config {
        file: PathBuf,
        /// `(line, column)`, 1-based, of the key at fault.
        at: Option<(usize, usize)>,
        message: String,
    },
    /// An input file (a snapshot, events, a plan file, the policies) cannot be used.
    #[error("{0}")]
    Input(String),
    /// The state database cannot be opened or written.
    #[error("state {}: {message}", path.display())]
    State { path: PathBuf, message: String },
    /// The command was refused on purpose; nothing was sent or changed.
    #[error("refused: {0}")]
    Refused(String),
    /// Another polc process holds a system's lock.
    #[error("system `{system}` is locked by pid {pid} on {host} since {since}: wait for it to finish (or pass wait)")]
    Locked {
        system: String,
        pid: String,
        host: String,
        since: String,
    },
    /// The lease this work ran under was taken over by another process (a replica paused
    /// or cut off past its lease): nothing more was sent; the other process finishes.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// A connector failed in a way that stops the whole command (e.g. a listing).
    #[error("system `{system}`: {source}")]
    Connector {
        system: String,
        #[source]
        source: polc_connectors::ConnectorError,
    },
    /// A broken invariant: this is a polc bug, please report it.
    #[error("internal error (a polc bug, please report it): {0}")]
    Bug(String),
}

impl Error {
    /// The exit code the command line should use: 1 when another process holds a lock
    /// (try again later), 2 for everything else (a refusal included: nothing was sent or
    /// changed).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Locked { .. } | Error::LeaseLost(_) => 1,
            _ => 2,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps database errors with the state's name.
pub(crate) trait StateContext<T> {
    fn state(self, path: &std::path::Path) -> Result<T>;
}

impl<T> StateContext<T> for Result<T, crate::db::DbError> {
    fn state(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}
