//! Ed25519 signing keys and their files (`polc keygen`).
//!
//! A key file holds the key as 64 hex digits on one line; lines starting with `#` are
//! comments. `polc keygen -o KEY` writes the secret key's 32-byte seed to `KEY` (mode 0600)
//! and the public key to `KEY.pub`, each after a comment line saying which it is, so that
//! passing one where the other is expected is caught instead of signing with (or
//! verifying against) the wrong bytes. A file of bare hex is read too.
//!
//! A key's id is the first 16 hex digits of the SHA-256 of its 32 public-key bytes; a
//! signed bundle records it so that "signed by another key" can be told from "bad
//! signature".

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// A secret key: signs bundles.
pub struct SecretKey(SigningKey);

/// A public key: verifies bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

const SECRET_COMMENT: &str = "# polc ed25519 secret key: keep private";
const PUBLIC_COMMENT: &str = "# polc ed25519 public key";

/// A key file that cannot be used; shown as `FILE: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", file.display())]
pub struct KeyError {
    pub file: PathBuf,
    pub problem: KeyProblem,
}

/// What is wrong with a key, or with making or writing one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("cannot read the key file: {0}")]
    Read(String),
    /// Larger than a key file may be, or not text: the reader's message.
    #[error("{0}")]
    Limit(String),
    #[error("not a polc key file (expected 64 hex digits on one line, as `polc keygen` writes)")]
    Malformed,
    #[error("this is a public key: signing needs the secret key file (the one without `.pub`)")]
    PublicNotSecret,
    #[error("this is a secret key: verifying takes the public key file (`KEY.pub`)")]
    SecretNotPublic,
    #[error("not a valid ed25519 public key (not a point of the curve)")]
    NotOnCurve,
    #[error("no random source: {0}")]
    NoRandom(String),
    #[error("already exists; not overwriting a key (pass --force to replace it)")]
    Exists,
    #[error("cannot write: {0}")]
    Write(String),
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, KeyProblem> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyProblem::NoRandom(e.to_string()))?;
        Ok(SecretKey::from_seed(seed))
    }

    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The text of a secret key file.
    pub fn to_file_text(&self) -> String {
        format!("{SECRET_COMMENT}\n{}\n", hex::encode(self.0.to_bytes()))
    }

    pub fn from_file_text(text: &str) -> Result<SecretKey, KeyProblem> {
        Ok(SecretKey::from_seed(key_bytes(text, Kind::Secret)?))
    }

    pub fn read(path: &Path) -> Result<SecretKey, KeyError> {
        read_key(path, SecretKey::from_file_text)
    }
}

impl PublicKey {
    pub fn to_file_text(&self) -> String {
        format!("{PUBLIC_COMMENT}\n{}\n", hex::encode(self.0.to_bytes()))
    }

    pub fn from_file_text(text: &str) -> Result<PublicKey, KeyProblem> {
        let bytes = key_bytes(text, Kind::Public)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| KeyProblem::NotOnCurve)
    }

    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        read_key(path, PublicKey::from_file_text)
    }

    /// The first 16 hex digits of the SHA-256 of the public key.
    pub fn id(&self) -> String {
        hex::encode(
            Sha256::digest(self.0.as_bytes())
                .get(..8)
                .unwrap_or_default(),
        )
    }

    /// Whether `signature` is this key's signature of `message` (strict verification:
    /// no malleable or small-order signatures).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    Public,
}

fn read_key<K>(path: &Path, parse: fn(&str) -> Result<K, KeyProblem>) -> Result<K, KeyError> {
    let err = |problem: KeyProblem| KeyError {
        file: path.to_path_buf(),
        problem,
    };
    use crate::input::limits::{self, ReadError};
    let bytes = limits::read_bytes(path, limits::Kind::KeyFile).map_err(|e| match e {
        ReadError::Io(e) => err(KeyProblem::Read(e.to_string())),
        e => err(KeyProblem::Limit(e.to_string())),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| err(KeyProblem::Malformed))?;
    parse(&text).map_err(err)
}

/// The 32 bytes of a key file's text, refusing a file of the other kind.
fn key_bytes(text: &str, want: Kind) -> Result<[u8; 32], KeyProblem> {
    let mut data = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            let (other, problem) = match want {
                Kind::Secret => (PUBLIC_COMMENT, KeyProblem::PublicNotSecret),
                Kind::Public => (SECRET_COMMENT, KeyProblem::SecretNotPublic),
            };
            if line == other {
                return Err(problem);
            }
            continue;
        }
        data.push(line);
    }
    let [line] = data.as_slice() else {
        return Err(KeyProblem::Malformed);
    };
    let mut out = [0u8; 32];
    if line.len() != 64 || hex::decode_to_slice(line, &mut out).is_err() {
        return Err(KeyProblem::Malformed);
    }
    Ok(out)
}

/// Writes a new key pair: `path` (the secret seed, mode 0600) and `path.pub`. Refuses to
/// overwrite either file unless `force`. Returns the public key file's path.
pub fn write_pair(key: &SecretKey, path: &Path, force: bool) -> Result<PathBuf, KeyError> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    for p in [path, pub_path.as_path()] {
        if !force && p.exists() {
            return Err(KeyError {
                file: p.to_path_buf(),
                problem: KeyProblem::Exists,
            });
        }
    }
    write_file(path, &key.to_file_text(), 0o600)?;
    write_file(&pub_path, &key.public().to_file_text(), 0o644)?;
    Ok(pub_path)
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    let err = |e: std::io::Error| KeyError {
        file: path.to_path_buf(),
        problem: KeyProblem::Write(e.to_string()),
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(mode);
        let mut f = opts.open(path).map_err(err)?;
        // An existing file keeps its mode on open: set it.
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        let mut f = opts.open(path).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
    }
    Ok(())
}
