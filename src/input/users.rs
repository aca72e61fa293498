//! The users file formats (docs/inputs.md): JSON (an array of records or
//! `{"users": [...]}`), JSONL (a record a line) and CSV (a header row).
//!
//! JSON is parsed in one streaming pass: each record is typed as soon as serde_json has read
//! it, its strings borrowed from the text, so a large export never exists twice in memory.
//! The line of each record comes from a cheap byte scan done beforehand ([`record_lines`]).
//! A file is read as a stream, never whole: JSON in pieces of whole records
//! ([`super::pieces`], the same messages as the whole text), JSONL one line at a time, CSV
//! one record at a time. A file that is not a users file at all is a [`LoadError`] naming the
//! file and line; a bad record is only a record error (see [`super::record`]).

#![allow(
    clippy::indexing_slicing,
    reason = "field slots and column indices index the schema and the header they were computed from"
)]

use std::fmt;

use std::io::BufRead;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::mapping::Mapping;
use super::pieces::{Pieces, Records as Cut, Shift};
use super::record::Builder;
use super::typing::{found, Cell, Key, View};
use super::unique::{repeated_key, UniqueKeys, REPEATED};
use super::LoadError;

/// Reads a JSON users file.
pub(crate) fn read_json(text: &str, name: &str, b: &mut Builder) -> Result<(), LoadError> {
    let mut st = State::new(b, name);
    st.lines = record_lines(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let r = Top(&mut st).deserialize(&mut de).and_then(|()| de.end());
    if let Some(f) = st.failure {
        return Err(f);
    }
    r.map_err(|e| json_error(name, 0, &e))
}

/// [`read_json`] of a file read in pieces of whole records of `size` bytes or so, with the
/// same records and messages. A reader's own failure ends the read with its message, which
/// the caller replaces with the stream's.
pub(crate) fn read_json_pieces(
    r: impl BufRead,
    name: &str,
    b: &mut Builder,
    size: usize,
) -> Result<(), LoadError> {
    let mut pieces = Pieces::new(r, Cut::Users, size);
    let mut st = State::new(b, name);
    while let Some(piece) = pieces.next_piece().map_err(|e| io_failure(name, &e))? {
        st.lines = record_lines(piece.text);
        if piece.stand_in {
            // the stand-in record is the first; the others' lines are the document's
            st.lines.remove(0);
            for l in &mut st.lines {
                *l = piece.shift.place(*l, 0).0;
            }
        }
        st.stand_in = piece.stand_in;
        let mut de = serde_json::Deserializer::from_str(piece.text);
        let r = Top(&mut st).deserialize(&mut de).and_then(|()| de.end());
        if let Some(f) = st.failure.take() {
            return Err(f);
        }
        r.map_err(|e| json_error_in(name, piece.shift, &e))?;
    }
    Ok(())
}

/// A failed read, replaced by the stream's own message when it has one.
fn io_failure(name: &str, e: &std::io::Error) -> LoadError {
    LoadError(crate::text::cannot_read(name, e))
}

/// Reads a JSONL users file: one record a line; blank lines are skipped. Read a line at a
/// time, as `str::lines` cuts a whole text.
pub(crate) fn read_jsonl(
    mut r: impl BufRead,
    name: &str,
    b: &mut Builder,
) -> Result<(), LoadError> {
    let mut buf = Vec::new();
    for n in 0.. {
        buf.clear();
        if r.read_until(b'\n', &mut buf)
            .map_err(|e| io_failure(name, &e))?
            == 0
        {
            break;
        }
        // Checked UTF-8 (a stream checks as it reads, a text is a `str`).
        let piece = std::str::from_utf8(&buf).map_err(|e| LoadError(format!("{name}: {e}")))?;
        let raw = piece.lines().next().unwrap_or("");
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let cell: Cell = serde_json::from_str(raw).map_err(|e| json_error(name, line - 1, &e))?;
        match &cell {
            Cell::Object(entries) => b.push_object(entries, line),
            other => {
                return Err(LoadError(format!(
                    "{name}:{line}: expected a user record (a JSON object), found {}",
                    found(View::of(other))
                )))
            }
        }
    }
    Ok(())
}

/// Reads a CSV users file: a header row, then one record a row; an empty cell is absent.
/// Cells are trimmed. The columns a mapping reads, or without one the schema's required
/// fields, must be in the header.
pub(crate) fn read_csv(
    r: impl std::io::Read,
    name: &str,
    b: &mut Builder,
    mapping: Option<&Mapping>,
) -> Result<(), LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(r);
    let header = rdr.headers().map_err(|e| csv_error(name, &e))?.clone();
    let names: Vec<&str> = header.iter().collect();
    // A set, not a scan of the columns before each: a wide header stays linear.
    let mut columns: rustc_hash::FxHashSet<&str> = Default::default();
    columns.reserve(names.len());
    for h in &names {
        if !columns.insert(h) {
            return Err(LoadError(format!(
                "{name}:1: column `{h}` appears twice in the header"
            )));
        }
    }
    let hint = |col: &str| {
        crate::diagnostics::did_you_mean(col, names.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    };
    if let Some(m) = mapping {
        for (k, col, what) in m.column_uses() {
            if !columns.contains(col) {
                return Err(LoadError(format!(
                    "{}:{}:{}: {what}, `{col}`, is not a column of {name}{}",
                    m.name,
                    k.line,
                    k.column,
                    hint(col)
                )));
            }
        }
    } else if !b.plan.open {
        if let Some(f) = b.plan.required().find(|f| !columns.contains(f)) {
            let what = if f == b.plan.key {
                "the key"
            } else {
                "a required field"
            };
            return Err(LoadError(format!(
                "{name}:1: the header has no column `{f}` ({what}){}",
                hint(f)
            )));
        }
    }
    let col_of: Vec<Option<usize>> = names.iter().map(|h| b.plan.column(h)).collect();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_error(name, &e))? {
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let mut cols: Vec<Option<View>> = vec![None; b.plan.ncols()];
        for (cell, col) in rec.iter().zip(&col_of) {
            if let (Some(c), false) = (col, cell.is_empty()) {
                cols[*c] = Some(View::Text(cell));
            }
        }
        b.push(&cols, line);
    }
    Ok(())
}

fn csv_error(name: &str, e: &csv::Error) -> LoadError {
    let line = e.position().map(|p| p.line());
    match (e.kind(), line) {
        (
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            },
            Some(l),
        ) => LoadError(format!(
            "{name}:{l}: this row has {len} cells, but the header has {expected_len}"
        )),
        (_, Some(l)) => LoadError(format!("{name}:{l}: invalid CSV: {e}")),
        (_, None) => LoadError(format!("{name}: invalid CSV: {e}")),
    }
}

/// A serde_json error as `name:line:column: message`; `line_offset` for JSONL lines.
fn json_error(name: &str, line_offset: usize, e: &serde_json::Error) -> LoadError {
    let line = match e.line() {
        0 => 0,
        l => l + line_offset,
    };
    json_error_at(name, (line, e.column()), e)
}

/// [`json_error`] of an error in a piece of a document, placed in the document.
fn json_error_in(name: &str, shift: Shift, e: &serde_json::Error) -> LoadError {
    json_error_at(name, shift.place(e.line(), e.column()), e)
}

/// A serde_json error as `name:line:column: message` at this place (line 0: none).
fn json_error_at(name: &str, (line, column): (usize, usize), e: &serde_json::Error) -> LoadError {
    let text = e.to_string();
    let msg = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    let what = match e.classify() {
        _ if msg.ends_with(REPEATED) => "",
        serde_json::error::Category::Data => "not a users file: ",
        _ => "invalid JSON: ",
    };
    match (line, column) {
        (0, _) => LoadError(format!("{name}: {what}{msg}")),
        (l, 0) => LoadError(format!("{name}:{l}: {what}{msg}")),
        (l, c) => LoadError(format!("{name}:{l}:{c}: {what}{msg}")),
    }
}

struct State<'x, 'm> {
    b: &'x mut Builder<'m>,
    /// The line of each record of the text being parsed.
    lines: Vec<usize>,
    name: &'x str,
    /// A failure of ours (not serde's) that stopped the parse.
    failure: Option<LoadError>,
    /// A piece of a document: it begins with a stand-in record to skip.
    stand_in: bool,
    /// The records read in the pieces before.
    before: usize,
}

impl<'x, 'm> State<'x, 'm> {
    fn new(b: &'x mut Builder<'m>, name: &'x str) -> Self {
        State {
            b,
            lines: Vec::new(),
            name,
            failure: None,
            stand_in: false,
            before: 0,
        }
    }
}

/// The whole document: `[...]` or `{"users": [...]}`.
struct Top<'s, 'x, 'm>(&'s mut State<'x, 'm>);

/// The records array.
struct Records<'s, 'x, 'm>(&'s mut State<'x, 'm>);

const SHAPE: &str = "an array of user records or {\"users\": [...]}";

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(SHAPE)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Records(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        let (mut keys, mut unique) = (Vec::new(), UniqueKeys::default());
        while let Some(Key(k)) = map.next_key()? {
            if unique.repeated(&k, keys.iter().map(|k: &std::borrow::Cow<str>| &**k)) {
                return Err(de::Error::custom(repeated_key(&k)));
            }
            keys.push(k.clone());
            if k == "users" {
                found = true;
                map.next_value_seed(Records(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !found {
            let name = self.0.name;
            self.0.failure = Some(LoadError(format!(
                "{name}:1: not a users file: an object without a \"users\" key (expected {SHAPE})"
            )));
            return Err(de::Error::custom("no users"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of user records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.0;
        if st.stand_in {
            seq.next_element::<IgnoredAny>()?;
        }
        let mut i = 0;
        while let Some(cell) = seq.next_element::<Cell>()? {
            let line = st.lines.get(i).copied().unwrap_or(0);
            match &cell {
                Cell::Object(entries) => st.b.push_object(entries, line),
                other => {
                    st.failure = Some(LoadError(format!(
                        "{}:{line}: record {} is not a JSON object (found {})",
                        st.name,
                        st.before + i + 1,
                        found(View::of(other))
                    )));
                    return Err(de::Error::custom("not an object"));
                }
            }
            i += 1;
        }
        st.before += i;
        Ok(())
    }
}

/// The 1-based line where each element of the records array starts: the top-level array, or
/// the array under the top-level key `"users"`. Exact for valid JSON (only then is it used).
pub(crate) fn record_lines(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut line, mut depth, mut i) = (1usize, 0usize, 0usize);
    // The depth of the records array's elements; 0 until the array is found.
    let mut target = 0usize;
    // The next value at `target` depth starts an element.
    let mut want = false;
    let (mut top_object, mut key_next, mut users_key) = (false, false, false);
    while i < b.len() {
        let c = b[i];
        if want && depth == target && !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']') {
            out.push(line);
            want = false;
        }
        match c {
            b'\n' => line += 1,
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if top_object && depth == 1 && key_next {
                    users_key = b.get(start..i) == Some(b"users");
                    key_next = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 && c == b'[' {
                    (target, want) = (1, true);
                } else if depth == 1 {
                    (top_object, key_next) = (true, true);
                } else if depth == 2 && top_object && users_key && c == b'[' && target == 0 {
                    (target, want) = (2, true);
                }
            }
            b'}' | b']' => {
                if depth == target && c == b']' {
                    return out;
                }
                depth = depth.saturating_sub(1);
            }
            b',' => {
                want |= depth == target;
                if top_object && depth == 1 {
                    (key_next, users_key) = (true, false);
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}
