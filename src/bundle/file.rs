//! The bundle file: a one-line JSON header, then the content as compact JSON, each ending
//! with `\n` (docs/bundles.md):
//!
//! ```text
//! {"magic":"polc-bundle","format_version":1,"compiler_version":"0.1.0","created_from":[…],"digest":"sha256:<hex>","signature":null,"key_id":null}
//! {"schema":…,"systems":[…],"requires":[…],"policies":[…],…}
//! ```
//!
//! The digest is the SHA-256 of the content line's bytes exactly (without its `\n`). A
//! signature is the ed25519 signature of [`signed_message`]: the header with `signature`
//! set to null, so it covers every header field and, through the digest, the content.
//!
//! [`decode`] checks, in order: the magic, the format version, the header's shape, the
//! end of the content (truncation), the digest, the signature when a verify key is given
//! (fail-closed: unsigned, another key's or a bad signature is refused), then the content's
//! JSON and every index in it. Nothing in a file can make it panic.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{PublicKey, SecretKey};
use super::{format, ContentError, ErrorKind, WriteError};
use crate::ir;

pub const MAGIC: &str = "polc-bundle";
/// The format version this polc writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Deepest JSON nesting the content may have; deeper content is refused before parsing
/// (the IR's expressions are recursive, and so is reading them).
pub const MAX_DEPTH: usize = 20_000;
/// Content nested at most this deep is read on the caller's thread.
const SHALLOW: usize = 64;
const READER_STACK: usize = 256 * 1024 * 1024;

/// The first line of a bundle file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub magic: String,
    pub format_version: u64,
    /// The version of the polc that built it.
    pub compiler_version: String,
    /// The source files it was built from, as named on the command line.
    pub created_from: Vec<String>,
    /// `sha256:<64 hex digits>` of the content line.
    pub digest: String,
    /// `ed25519:<128 hex digits>`, or null when unsigned.
    pub signature: Option<String>,
    /// The id of the key that signed it ([`PublicKey::id`]), or null when unsigned.
    pub key_id: Option<String>,
}

/// The bytes a signature signs: a fixed prefix, then the header as compact JSON with
/// `signature` null.
pub fn signed_message(h: &Header) -> Vec<u8> {
    let unsigned = Header {
        signature: None,
        ..h.clone()
    };
    let mut m = b"polc-bundle signature\n".to_vec();
    m.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
    m
}

pub fn digest_of(content: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(content)))
}

/// The header and the bytes of a bundle file for `bundle`, signed when a key is given.
pub fn encode(
    bundle: &ir::Bundle,
    created_from: Vec<String>,
    key: Option<&SecretKey>,
) -> Result<(Header, Vec<u8>), WriteError> {
    let content = serde_json::to_vec(&format::from_ir(bundle))
        .map_err(|e| WriteError::Serialize(e.to_string()))?;
    let mut header = Header {
        magic: MAGIC.to_string(),
        format_version: FORMAT_VERSION,
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        created_from,
        digest: digest_of(&content),
        signature: None,
        key_id: key.map(|k| k.public().id()),
    };
    if let Some(k) = key {
        let sig = k.sign(&signed_message(&header));
        header.signature = Some(format!("ed25519:{}", hex::encode(sig)));
    }
    let mut out = serde_json::to_vec(&header).map_err(|e| WriteError::Serialize(e.to_string()))?;
    out.push(b'\n');
    out.extend(content);
    out.push(b'\n');
    Ok((header, out))
}

/// Reads a bundle file's bytes: see the module doc for what is checked.
pub fn decode(bytes: &[u8], verify: Option<&PublicKey>) -> Result<(Header, ir::Bundle), ErrorKind> {
    let (header, content) = split(bytes)?;
    if digest_of(content) != header.digest {
        return Err(ErrorKind::Digest);
    }
    let signature = parse_signature(&header)?;
    if let Some(key) = verify {
        let Some(sig) = signature else {
            return Err(ErrorKind::Unsigned);
        };
        let expected = key.id();
        match &header.key_id {
            Some(id) if *id != expected => {
                return Err(ErrorKind::WrongKey {
                    signed_by: id.clone(),
                    expected,
                })
            }
            _ => {}
        }
        if !key.verify(&signed_message(&header), &sig) {
            return Err(ErrorKind::BadSignature);
        }
    }
    let depth = json_depth(content);
    if depth > MAX_DEPTH {
        return Err(ErrorKind::Content(ContentError::TooDeep {
            depth,
            max: MAX_DEPTH,
        }));
    }
    let parse = || -> Result<ir::Bundle, ErrorKind> {
        let mut de = serde_json::Deserializer::from_slice(content);
        de.disable_recursion_limit();
        let parsed = format::Content::deserialize(&mut de)
            .and_then(|c| de.end().map(|_| c))
            .map_err(|e| ErrorKind::Content(ContentError::Json(e.to_string())))?;
        parsed.to_ir().map_err(ErrorKind::Content)
    };
    // Reading recurses as deep as the content nests: deep content is read on a thread with
    // a stack as large as the one `polc` runs on, whatever thread the caller is on.
    let bundle = if depth <= SHALLOW {
        parse()?
    } else {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("polc-bundle-read".into())
                .stack_size(READER_STACK)
                .spawn_scoped(s, parse)
                .map_err(|e| ErrorKind::Io(format!("cannot start a reader thread: {e}")))?
                .join()
                .unwrap_or(Err(ErrorKind::Content(ContentError::ReaderFailed)))
        })?
    };
    Ok((header, bundle))
}

/// Separates and checks the header; returns it with the content line (without its `\n`).
fn split(bytes: &[u8]) -> Result<(Header, &[u8]), ErrorKind> {
    let prefix = format!("{{\"magic\":\"{MAGIC}\"");
    let Some(nl) = bytes.iter().position(|&b| b == b'\n') else {
        return Err(if bytes.is_empty() {
            ErrorKind::NotABundle("the file is empty".into())
        } else if bytes.starts_with(prefix.as_bytes()) {
            ErrorKind::Truncated("the header line is incomplete")
        } else {
            ErrorKind::NotABundle("it has no bundle header".into())
        });
    };
    let (line, rest) = bytes.split_at(nl);
    let value: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) if line.starts_with(prefix.as_bytes()) => {
            return Err(ErrorKind::Header(format!("the header is not JSON: {e}")))
        }
        Err(_) => return Err(ErrorKind::NotABundle("it has no bundle header".into())),
    };
    match value.get("magic").and_then(|m| m.as_str()) {
        Some(MAGIC) => {}
        Some(other) => {
            return Err(ErrorKind::NotABundle(format!(
                "its magic is `{other}`, not `{MAGIC}`"
            )))
        }
        None => return Err(ErrorKind::NotABundle("it has no bundle header".into())),
    }
    match value.get("format_version").map(|v| v.as_u64()) {
        Some(Some(FORMAT_VERSION)) => {}
        Some(Some(v)) => return Err(ErrorKind::Version(v.to_string())),
        Some(None) => {
            let v = value
                .get("format_version")
                .map(|v| v.to_string())
                .unwrap_or_default();
            return Err(ErrorKind::Version(v));
        }
        None => return Err(ErrorKind::Header("no `format_version`".into())),
    }
    let header: Header =
        serde_json::from_value(value).map_err(|e| ErrorKind::Header(e.to_string()))?;
    let rest = rest.get(1..).unwrap_or_default(); // after the newline at `nl`
    let Some(content) = rest.strip_suffix(b"\n") else {
        return Err(ErrorKind::Truncated(
            "the content does not end where it should",
        ));
    };
    if content.is_empty() {
        return Err(ErrorKind::Truncated("the content is missing"));
    }
    let digest_ok = header
        .digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !digest_ok {
        return Err(ErrorKind::Header(format!(
            "the digest `{}` is not `sha256:` and 64 hex digits",
            header.digest
        )));
    }
    Ok((header, content))
}

fn parse_signature(h: &Header) -> Result<Option<[u8; 64]>, ErrorKind> {
    let Some(text) = &h.signature else {
        if h.key_id.is_some() {
            return Err(ErrorKind::Header("a `key_id` without a signature".into()));
        }
        return Ok(None);
    };
    let mut sig = [0u8; 64];
    let ok = text
        .strip_prefix("ed25519:")
        .is_some_and(|x| x.len() == 128 && hex::decode_to_slice(x, &mut sig).is_ok());
    if !ok {
        return Err(ErrorKind::Header(
            "the signature is not `ed25519:` and 128 hex digits".into(),
        ));
    }
    let id_ok = h
        .key_id
        .as_ref()
        .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    if !id_ok {
        return Err(ErrorKind::Header(
            "a signature needs a `key_id` of 16 hex digits".into(),
        ));
    }
    Ok(Some(sig))
}

/// The deepest nesting of `[` and `{` outside strings.
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so that a
/// failed write never leaves a partial bundle under the name.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
