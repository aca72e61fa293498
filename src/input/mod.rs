//! User records: the `--users` input (docs/inputs.md), typed by the bundle's schema
//! (docs/language.md §4, §14 step 1), optionally through a [`Mapping`] of an HR export's columns.
//!
//! [`load_users`] reads a file (JSON, JSONL or CSV, by extension; `-` is stdin as JSON) into
//! [`Users`]: the fields (the schema's, in schema order; untyped: every key seen, first-seen
//! order), the key, the good records and the bad ones. A bad record (a wrong type, a missing
//! required field, a missing or duplicate key) is a [`RecordError`] and the others still load:
//! every input record ends in exactly one of `records` and `errors`. A file that is not a
//! users file at all is a [`LoadError`]. docs/inputs.md is the user-facing reference.

pub mod limits;
mod mapping;
pub(crate) mod pieces;
mod record;
mod typing;
mod unique;
mod users;
pub use typing::ValueError;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_mapping;
#[cfg(test)]
mod tests_stream;
#[cfg(test)]
mod tests_typing;

use std::path::Path;

pub use mapping::{Key, Mapping, Rule};
pub(crate) use typing::StrSeed;
pub use unique::check_unique_keys;
pub(crate) use unique::repeated_key;
pub(crate) use users::record_lines;

use crate::ir;
use record::{Builder, Plan};
use typing::Cell;

/// One user's typed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The key's value: the user id.
    pub id: String,
    /// 0-based position in input order (bad records count too).
    pub index: usize,
    /// Where the record came from, for messages: 1-based line in the file (JSONL/CSV: the
    /// record's line; JSON array: the line where the record's object starts).
    pub line: usize,
    /// Aligned with [`Users::fields`]; `None`: absent or null.
    pub values: Vec<Option<ir::Value>>,
}

/// A record that could not be loaded; it is left out of [`Users::records`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's user id, when it has a usable one.
    pub user_id: Option<String>,
    pub index: usize,
    pub line: usize,
    /// The field at fault (the key for a missing or duplicate id).
    pub field: Option<String>,
    /// E.g. ``field `start_date`: expected a date, found "soon"``.
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.user_id {
            Some(id) => write!(f, "line {} (user `{id}`): {}", self.line, self.message),
            None => write!(
                f,
                "line {} (record {}): {}",
                self.line,
                self.index + 1,
                self.message
            ),
        }
    }
}

/// The loaded users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    /// Attribute names; each record's `values` are aligned with them.
    pub fields: Vec<String>,
    /// The key field (the user id): the schema's key, else `user_id`.
    pub key: String,
    /// The good records, in input order.
    pub records: Vec<UserRecord>,
    /// The bad records, in input order.
    pub errors: Vec<RecordError>,
}

impl Users {
    /// The position of a field in `values`.
    pub fn slot(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == field)
    }

    /// A record's value of a field; `None` when absent (or not a field).
    pub fn get<'a>(&self, rec: &'a UserRecord, field: &str) -> Option<&'a ir::Value> {
        rec.values.get(self.slot(field)?)?.as_ref()
    }

    /// The record of a user id.
    pub fn find(&self, id: &str) -> Option<&UserRecord> {
        self.records.iter().find(|r| r.id == id)
    }
}

/// A whole-file failure: the message names the file and the line (and column when known).
/// The CLI prints it and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// A users file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
}

impl Format {
    /// By extension: `.json`, `.jsonl`/`.ndjson`, `.csv` (any case).
    pub fn from_path(path: &Path) -> Result<Format, LoadError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("json") => Ok(Format::Json),
            Some("jsonl" | "ndjson") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            other => Err(LoadError(format!(
                "{}: unknown users file format{}: use .json, .jsonl, .ndjson or .csv",
                path.display(),
                other.map(|e| format!(" `.{e}`")).unwrap_or_default()
            ))),
        }
    }
}

/// Reads a users file. `-` reads stdin as JSON; otherwise the format is the extension's.
/// The file is read as a stream, never whole, with [`parse_users`]'s records and messages;
/// a file that is too large or not UTF-8 is refused for that, even after a bad record.
pub fn load_users(
    path: &Path,
    schema: Option<&ir::Schema>,
    mapping: Option<&Mapping>,
) -> Result<Users, LoadError> {
    use limits::{Kind, TextStream};
    if path.as_os_str() == "-" {
        let stdin = TextStream::new(std::io::stdin().lock(), Kind::Users, Kind::Users.limit());
        return stream_users(
            stdin,
            "<stdin>",
            Format::Json,
            schema,
            mapping,
            pieces::PIECE,
        );
    }
    let format = Format::from_path(path)?;
    let name = path.display().to_string();
    let stream = TextStream::open(path, Kind::Users).map_err(|e| LoadError(e.describe(&name)))?;
    stream_users(stream, &name, format, schema, mapping, pieces::PIECE)
}

/// [`parse_users`] of a text read from a stream (JSON in pieces of `size` bytes or so).
fn stream_users<R: std::io::Read>(
    mut stream: limits::TextStream<R>,
    name: &str,
    format: Format,
    schema: Option<&ir::Schema>,
    mapping: Option<&Mapping>,
    size: usize,
) -> Result<Users, LoadError> {
    use std::io::BufRead;
    let read = |stream: &mut limits::TextStream<R>| {
        let mut b = Builder::new(Plan::new(schema, mapping)?);
        // as `parse_users`, without a byte order mark (a character: handed over whole)
        let bom = "\u{feff}".as_bytes();
        if stream
            .fill_buf()
            .map_err(|e| LoadError(e.to_string()))?
            .starts_with(bom)
        {
            stream.consume(bom.len());
        }
        match format {
            Format::Json => users::read_json_pieces(&mut *stream, name, &mut b, size)?,
            Format::Jsonl => users::read_jsonl(&mut *stream, name, &mut b)?,
            Format::Csv => users::read_csv(&mut *stream, name, &mut b, mapping)?,
        }
        Ok(b.finish())
    };
    read(&mut stream).map_err(|e| match stream.finish() {
        Some(r) => LoadError(r.describe(name)),
        None => e,
    })
}

/// Parses the text of a users file; `name` is the file as messages name it.
pub fn parse_users(
    text: &str,
    name: &str,
    format: Format,
    schema: Option<&ir::Schema>,
    mapping: Option<&Mapping>,
) -> Result<Users, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut b = Builder::new(Plan::new(schema, mapping)?);
    match format {
        Format::Json => users::read_json(text, name, &mut b)?,
        Format::Jsonl => users::read_jsonl(text.as_bytes(), name, &mut b)?,
        Format::Csv => users::read_csv(text.as_bytes(), name, &mut b, mapping)?,
    }
    Ok(b.finish())
}

/// Converts one JSON object (an HRIS record) into a record aligned with `users_fields` (the
/// [`Users::fields`] it joins): typed by the schema, else JSON's own types. Keys that are not
/// among `users_fields` are ignored. Used again by lifecycle events; duplicate ids are the
/// caller's business.
pub fn record_from_json(
    obj: &serde_json::Map<String, serde_json::Value>,
    users_fields: &[String],
    schema: Option<&ir::Schema>,
    index: usize,
    line: usize,
) -> Result<UserRecord, RecordError> {
    let plan = Plan::with_fields(users_fields, schema);
    let cells: Vec<(std::borrow::Cow<str>, Cell)> = obj
        .iter()
        .map(|(k, v)| (std::borrow::Cow::Borrowed(k.as_str()), Cell::from_json(v)))
        .collect();
    let mut plan = plan;
    let cols = plan.object_columns(&cells);
    plan.record(&cols, index, line)
}

/// The 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Converts one JSON value to a field's type (`None` for `null`), as records are read; used
/// by lifecycle events to apply `changes`. `ty` is `Type::Any` for an untyped bundle.
pub fn typed_value(
    v: &serde_json::Value,
    ty: &ir::Type,
) -> Result<Option<ir::Value>, typing::ValueError> {
    let cell = typing::Cell::from_json(v);
    typing::convert(typing::View::of(&cell), ty, &typing::Dates::new(None))
}
