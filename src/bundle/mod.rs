//! Compiled bundles (docs/bundles.md): the checked IR in a versioned, digested and
//! optionally signed file that `polc build` writes, `polc inspect` shows and the
//! interpreter loads with `--bundle` instead of re-checking sources.
//!
//! - [`format`] and [`expr`]: the serde interchange schema, its own types mirroring the IR.
//! - [`validate`]: content → IR, checking every index.
//! - [`file`]: the header, the digest, encoding and decoding.
//! - [`keys`]: ed25519 keys and their files.
//!
//! [`load`] and [`read`] refuse, with a [`BundleError`] naming the file, anything that is not
//! a bundle of this format version whose content matches its digest (and, given a verify
//! key, whose signature is that key's). They never panic.

pub mod expr;
pub mod file;
pub mod format;
pub mod keys;
pub mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file::{Header, FORMAT_VERSION, MAGIC};
pub use format::{from_ir, Content};
pub use keys::{KeyError, KeyProblem, PublicKey, SecretKey};

use crate::ir;

/// Why a bundle was refused. `polc` prints it as `error: …` and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    /// The file at fault (the bundle, or the key file for [`ErrorKind::Key`]); `None` for
    /// bytes read from memory.
    pub file: Option<PathBuf>,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file cannot be read.
    Io(String),
    /// The file is larger than a bundle may be (`input::limits`); the message says the limit.
    TooLarge(String),
    /// No polc bundle header (or another magic).
    NotABundle(String),
    /// Another format version, as written in the header.
    Version(String),
    /// The file ends early.
    Truncated(&'static str),
    /// The header line has the magic and version but is malformed.
    Header(String),
    /// The content's SHA-256 is not the header's digest.
    Digest,
    /// A verify key was given and the bundle is not signed.
    Unsigned,
    /// A verify key was given and the bundle is signed by another key.
    WrongKey { signed_by: String, expected: String },
    /// A verify key was given and the signature is not valid.
    BadSignature,
    /// The verify key file cannot be used.
    Key(KeyProblem),
    /// The content matches its digest but does not describe a valid bundle.
    Content(ContentError),
}

/// What is wrong with a bundle's content that matches its digest: JSON of another shape,
/// an index out of range, or text without its syntax, with where it was found
/// (`policy 3 "Sales": grant 1: system id 7 out of range (2 systems)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// Not the JSON of a bundle's content: serde's message.
    #[error("{0}")]
    Json(String),
    #[error("nested {depth} levels deep, more than the {max} this polc reads")]
    TooDeep { depth: usize, max: usize },
    /// The thread that reads deep content stopped without an answer.
    #[error("the reader failed")]
    ReaderFailed,
    #[error("unknown function `{0}`")]
    UnknownFunction(String),
    #[error("unknown comparison operator `{0}`")]
    UnknownOperator(String),
    #[error("`{0}` is not an ISO date (0001-01-01 to 9999-12-31)")]
    Date(String),
    #[error("`{0}` is not a duration (expected digits then h, d or w, as `30d`)")]
    Duration(String),
    #[error("system id {id} out of range ({count} systems)")]
    SystemId { id: u32, count: usize },
    #[error("type id {id} out of range (system `{system}` has {count} types)")]
    TypeId {
        id: u32,
        system: String,
        count: usize,
    },
    #[error("inherits policy id {id} out of range ({count} policies)")]
    PolicyId { id: u32, count: usize },
    #[error("level rank {rank} out of range (the type has {levels} levels)")]
    Level { rank: u8, levels: usize },
    #[error("default level rank {rank} out of range ({levels} levels)")]
    DefaultLevel { rank: u8, levels: usize },
    #[error("more than 256 levels")]
    TooManyLevels,
    /// Where the problem is: `policy 3 "Sales"`, `grant 1`, `expires`.
    #[error("{place}: {problem}")]
    At {
        place: String,
        problem: Box<ContentError>,
    },
}

impl ContentError {
    /// This problem, found at `place`.
    pub fn at(self, place: String) -> ContentError {
        ContentError::At {
            place,
            problem: Box::new(self),
        }
    }
}

/// Why `polc build` could not make a bundle file it can read back: always a bug in polc.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot serialize the bundle: {0}")]
    Serialize(String),
    #[error("the bundle does not read back as it was written")]
    ReadsBackDifferent,
    #[error("the bundle cannot be read back: {0}")]
    Unreadable(BundleError),
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::TooLarge(e) => f.write_str(e),
            ErrorKind::NotABundle(why) => write!(f, "not a polc bundle ({why})"),
            ErrorKind::Version(v) => write!(
                f,
                "format version {v}, this polc reads {FORMAT_VERSION}: rebuild it with `polc build`"
            ),
            ErrorKind::Truncated(what) => write!(f, "truncated bundle: {what}"),
            ErrorKind::Header(e) => write!(f, "malformed bundle header: {e}"),
            ErrorKind::Digest => write!(
                f,
                "content does not match its digest: the bundle was modified or corrupted"
            ),
            ErrorKind::Unsigned => write!(
                f,
                "the bundle is not signed: refused, since a verify key was given"
            ),
            ErrorKind::WrongKey {
                signed_by,
                expected,
            } => write!(
                f,
                "signed by another key (key id {signed_by}), not by the verify key (key id {expected}): refused"
            ),
            ErrorKind::BadSignature => write!(
                f,
                "bad signature: the bundle was modified after it was signed: refused"
            ),
            ErrorKind::Key(e) => write!(f, "{e}"),
            ErrorKind::Content(e) => write!(f, "malformed bundle content: {e}"),
        }
    }
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}: {}", p.display(), self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for BundleError {}

impl From<KeyError> for BundleError {
    fn from(e: KeyError) -> BundleError {
        BundleError {
            file: Some(e.file),
            kind: ErrorKind::Key(e.problem),
        }
    }
}

/// Decodes a bundle from memory; with a verify key, only a bundle that key signed.
pub fn read(
    bytes: &[u8],
    verify_key: Option<&PublicKey>,
) -> Result<(Header, ir::Bundle), BundleError> {
    file::decode(bytes, verify_key).map_err(|kind| BundleError { file: None, kind })
}

/// Reads a bundle file; with a verify key file (`KEY.pub`), only a bundle that key signed
/// (fail-closed: unsigned or signed by another key is refused).
pub fn load(path: &Path, verify_key: Option<&Path>) -> Result<(Header, ir::Bundle), BundleError> {
    let key = verify_key.map(PublicKey::read).transpose()?;
    let at = |kind| BundleError {
        file: Some(path.to_path_buf()),
        kind,
    };
    use crate::input::limits::{self, ReadError};
    let bytes = limits::read_bytes(path, limits::Kind::Bundle).map_err(|e| match e {
        ReadError::Io(e) => at(ErrorKind::Io(e.to_string())),
        e => at(ErrorKind::TooLarge(e.to_string())),
    })?;
    file::decode(&bytes, key.as_ref()).map_err(at)
}

/// What the interpreter's `--bundle FILE [--verify-key KEY]` loads: the checked IR, ready
/// to evaluate.
pub fn load_for_eval(
    path: &Path,
    verify_key: Option<&Path>,
) -> Result<Arc<ir::Bundle>, BundleError> {
    Ok(Arc::new(load(path, verify_key)?.1))
}

/// Checks that `bytes` decode to exactly `bundle`: `polc build` runs it before writing, so
/// no file it writes is one it cannot read back.
pub fn verify_round_trip(bytes: &[u8], bundle: &ir::Bundle) -> Result<(), WriteError> {
    match read(bytes, None) {
        Ok((_, back)) if back == *bundle => Ok(()),
        Ok(_) => Err(WriteError::ReadsBackDifferent),
        Err(e) => Err(WriteError::Unreadable(e)),
    }
}
