//! Canonical JSON (RFC 8785, JCS) and the digests made from it: plan digests and audit
//! hashes are SHA-256 over these bytes, so any program that canonicalises the same JSON
//! the same way recomputes them.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The RFC 8785 text of a value.
///
/// Written here for the JSON polc itself makes (plans, audit details: strings, integers,
/// booleans, arrays, objects), which is hashed tens of thousands of times a second during an
/// apply; a value holding a number that is not an integer of at most 2^53 in magnitude
/// (whose text RFC 8785 takes from ECMAScript's number formatting) is handed whole to the
/// canonicaliser crate. Both give the same text: a property test compares them.
pub fn canonical<T: Serialize>(v: &T) -> Result<String> {
    let value = serde_json::to_value(v)
        .map_err(|e| Error::Bug(format!("cannot canonicalise JSON: {e}")))?;
    canonical_value(&value)
}

/// The canonicaliser crate's text of a value, the same as [`canonical`]'s: what `audit
/// verify` recomputes each entry's hash with, so that the log is checked by a second
/// implementation, not by the one that wrote it.
pub fn canonical_reference<T: Serialize>(v: &T) -> Result<String> {
    serde_json_canonicalizer::to_string(v)
        .map_err(|e| Error::Bug(format!("cannot canonicalise JSON: {e}")))
}

/// [`canonical`] of a JSON value.
pub fn canonical_value(v: &serde_json::Value) -> Result<String> {
    let mut out = String::new();
    match write_value(&mut out, v) {
        Ok(()) => Ok(out),
        Err(NotPlain) => canonical_reference(v),
    }
}

/// The RFC 8785 text of a string (a JSON string literal).
pub fn canonical_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

/// A number [`write_value`] leaves to the canonicaliser crate.
struct NotPlain;

/// The largest integer every JSON reader holds exactly (2^53), and whose RFC 8785 text is
/// its decimal digits.
const EXACT: u64 = 1 << 53;

fn write_value(out: &mut String, v: &serde_json::Value) -> std::result::Result<(), NotPlain> {
    use serde_json::Value;
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
                let _ = write!(out, "{u}");
            } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
                let _ = write!(out, "{i}");
            } else {
                return Err(NotPlain);
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // members in the order of their names' UTF-16 code units (RFC 8785 §3.2.3),
            // which is the bytes' order unless a name holds a character above U+FFFF
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            if members
                .iter()
                .any(|(k, _)| k.chars().any(|c| c > '\u{ffff}'))
            {
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            } else {
                members.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, v)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A string as ECMAScript's `JSON.stringify` writes it (RFC 8785 §3.2.2.2): `"` and `\`
/// escaped, the control characters as `\b \t \n \f \r` or `\u00xx`, all else as is.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            0x08 => Some("\\b"),
            b'\t' => Some("\\t"),
            b'\n' => Some("\\n"),
            0x0c => Some("\\f"),
            b'\r' => Some("\\r"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 hex of a file's bytes, read a block at a time (a snapshot may be hundreds of
/// megabytes: it is never held to be hashed).
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// SHA-256 hex of the canonical JSON of a value.
pub fn digest<T: Serialize>(v: &T) -> Result<String> {
    Ok(sha256_hex(canonical(v)?.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
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

    /// A JSON value of any shape: strings and names from all of Unicode (controls, quotes,
    /// characters above U+FFFF), integers of every size, and numbers with fractions.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let text = prop_oneof![
            "[\\x00-\\x7f]{0,12}",
            "\\PC{0,8}",
            any::<String>(),
            Just("\u{e000}\u{1f600}\u{fb33}".to_string()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
            any::<f64>()
                .prop_filter("a JSON number", |f| f.is_finite())
                .prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text.clone(), inner), 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_same_text_as_the_canonicaliser(v in any_json()) {
            let ours = canonical_value(&v).unwrap();
            let theirs = serde_json_canonicalizer::to_string(&v).unwrap();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn a_files_digest_is_its_bytes_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha256_hex(&bytes));
    }

    #[test]
    fn strings_escape_as_ecmascript_does() {
        let s = "\"\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}\u{2028}é";
        assert_eq!(
            canonical_str(s),
            serde_json_canonicalizer::to_string(&s).unwrap()
        );
        assert_eq!(
            canonical_str(s),
            "\"\\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}\u{2028}é\""
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
