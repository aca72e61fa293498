//! JSON objects that give a key twice (`employment_status` twice in a record): serde_json's
//! own readers keep the last value silently, so polc's readers refuse them, naming the line,
//! the column (the second key's closing quote) and the key. The users reader checks as it
//! streams ([`UniqueKeys`] in its object visitor); the events reader, whose files are small,
//! checks the text first ([`check_unique_keys`]); the access reader checks the few keys of
//! each entry itself.

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::typing::Key;

/// The message for a key given twice in one JSON object; serde_json adds the line and
/// column (the second key's closing quote).
pub(crate) fn repeated_key(k: &str) -> String {
    format!(
        "key {} {REPEATED}",
        serde_json::Value::String(k.to_string())
    )
}

/// How [`repeated_key`]'s message ends, so readers can tell it from a shape error.
pub(crate) const REPEATED: &str = "given twice in one object (which value holds would be a guess)";

/// Finds a key given twice in one JSON object, as its keys arrive: a scan of the few keys
/// of a small object; past that, a 1024-bit filter of their hashes on the stack (no
/// allocation per record of a wide HR export), scanning only when a key's bit is already
/// set (a repeat, or one key in ~25 of a 40-key record).
#[derive(Default, Clone)]
pub(crate) struct UniqueKeys {
    bits: [u64; 16],
    /// How many keys are in `bits`.
    filtered: usize,
}

impl UniqueKeys {
    const SCAN: usize = 16;

    /// Whether `k` is among `before` (the object's keys so far, in order); then remembers it.
    pub(crate) fn repeated<'k>(
        &mut self,
        k: &str,
        before: impl DoubleEndedIterator<Item = &'k str> + ExactSizeIterator + Clone,
    ) -> bool {
        let n = before.len();
        if n < Self::SCAN {
            return before.clone().any(|x| x == k);
        }
        // the keys the filter has not seen yet (the first SCAN, then none), from the end
        for x in before.clone().rev().take(n.saturating_sub(self.filtered)) {
            self.set(x);
        }
        self.filtered = n + 1;
        self.set(k) && before.clone().any(|x| x == k)
    }

    /// Sets `k`'s bit; whether it was set already.
    fn set(&mut self, k: &str) -> bool {
        use std::hash::BuildHasher;
        let h = rustc_hash::FxBuildHasher.hash_one(k);
        // A repeat always finds its bit set; another key only costs a scan.
        let bit = ((h ^ (h >> 21) ^ (h >> 42)) & 1023) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        let was = self.bits[word] & mask != 0;
        self.bits[word] |= mask;
        was
    }
}

/// Checks that no object of a JSON text gives a key twice (serde_json's own readers keep
/// the last value silently). The error is serde_json's, with the line and column of the
/// repeated key's closing quote, and [`repeated_key`]'s message; a text that is not JSON is
/// an error too.
pub fn check_unique_keys(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    Walk.deserialize(&mut de)?;
    de.end()
}

/// Walks any JSON value, refusing a repeated key in any object.
#[derive(Clone, Copy)]
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        let mut unique = UniqueKeys::default();
        while let Some(Key(k)) = map.next_key()? {
            if unique.repeated(&k, keys.iter().map(|k| &**k)) {
                return Err(de::Error::custom(repeated_key(&k)));
            }
            keys.push(k);
            map.next_value_seed(Walk)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_in_small_and_wide_objects() {
        for width in [1usize, 15, 16, 17, 40, 300] {
            let keys: Vec<String> = (0..width).map(|i| format!("Custom{i:02}")).collect();
            let mut u = UniqueKeys::default();
            for (i, k) in keys.iter().enumerate() {
                let before = keys[..i].iter().map(String::as_str);
                assert!(!u.repeated(k, before), "{width}: {k}");
            }
            for k in [&keys[0], &keys[width / 2], &keys[width - 1]] {
                let mut again = u.clone();
                assert!(
                    again.repeated(k, keys.iter().map(String::as_str)),
                    "{width}: {k}"
                );
            }
            assert!(!u.repeated("other", keys.iter().map(String::as_str)));
        }
        let e = check_unique_keys("{\"a\": [{\"b\": 1}, {\"b\": 2, \"c\": {\"b\": 3}}], \"a\": 0}")
            .unwrap_err();
        assert_eq!(
            (e.to_string(), e.line(), e.column()),
            (format!("key \"a\" {REPEATED} at line 1 column 46"), 1, 46)
        );
        assert!(check_unique_keys("{\"a\": [{\"b\": 1}, {\"b\": 2}]}").is_ok());
        assert!(check_unique_keys("{").is_err());
    }
}
