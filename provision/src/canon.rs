//! Canonical JSON (RFC 8785, JCS) and the digests made from it: plan digests and audit
//! hashes are SHA-256 over these bytes, so any program that canonicalises the same JSON
//! the same way recomputes them.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The RFC 8785 text of a value.
pub fn canonical<T: Serialize>(v: &T) -> Result<String> {
    serde_json_canonicalizer::to_string(v)
        .map_err(|e| Error::Bug(format!("cannot canonicalise JSON: {e}")))
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 hex of the canonical JSON of a value.
pub fn digest<T: Serialize>(v: &T) -> Result<String> {
    Ok(sha256_hex(canonical(v)?.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc8785_orders_keys_and_formats_numbers() {
        let v = json!({"b": 1, "a": [1.0, 1e21, "é\u{1}"], "c": {"z": null, "y": true}});
        assert_eq!(
            canonical(&v).unwrap(),
            "{\"a\":[1,1e+21,\"é\\u0001\"],\"b\":1,\"c\":{\"y\":true,\"z\":null}}"
        );
        // RFC 8785 §3.2.3: keys sort by UTF-16 code units
        // (code point order would put U+FB33 before U+1F600)
        let v = json!({"\u{fb33}": 1, "\r": 2, "1": 3, "\u{1f600}": 4, "\u{20ac}": 5});
        assert_eq!(
            canonical(&v).unwrap(),
            "{\"\\r\":2,\"1\":3,\"\u{20ac}\":5,\"\u{1f600}\":4,\"\u{fb33}\":1}"
        );
    }
}

#[cfg(test)]
mod timing {
    #[test]
    #[ignore]
    fn canonical_of_a_large_array() {
        let v: Vec<serde_json::Value> = (0..8000)
            .map(|i| serde_json::json!({"id": format!("a{i}"), "user_id": format!("u{i}"), "grant": "gitlab:group:x", "level": "reporter", "sources": ["A > B"]}))
            .collect();
        let t = std::time::Instant::now();
        let s = super::canonical(&v).unwrap();
        eprintln!(
            "canonical of 8000 objects ({} bytes): {:?}",
            s.len(),
            t.elapsed()
        );
    }
}
