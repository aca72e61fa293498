//! The directory in the state: every HRIS record, effective-dated. At a date D a user's
//! record is the one recorded last among those effective on or before D, so a later
//! record rescinds a future-dated one and corrects the past from its date on.

use std::collections::BTreeMap;

use crate::db::{Db, OptionalExt};
use chrono::NaiveDate;
use polc::input::{self, Users};
use polc::ir::{self, Value};
use serde_json::{Map, Value as Json};

use crate::canon;
use crate::error::{Error, Result, StateContext};

/// One user's record at a date, as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub user_id: String,
    /// Canonical JSON of the typed record.
    pub record: String,
    pub digest: String,
    pub cause: String,
}

/// A typed value as JSON (dates as `YYYY-MM-DD`).
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => Json::from(*n),
        Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
    }
}

/// A record as a JSON object of its non-null fields.
pub fn record_json(fields: &[String], values: &[Option<Value>]) -> Map<String, Json> {
    fields
        .iter()
        .zip(values)
        .filter_map(|(f, v)| v.as_ref().map(|v| (f.clone(), value_json(v))))
        .collect()
}

/// The canonical text and digest of a record.
pub fn canonical_record(obj: &Map<String, Json>) -> Result<(String, String)> {
    let text = canon::canonical(obj)?;
    let digest = canon::sha256_hex(text.as_bytes());
    Ok((text, digest))
}

/// Text attributes of a record (what connectors fill templates from).
pub fn attributes(record: &str) -> BTreeMap<String, String> {
    let Ok(Json::Object(m)) = serde_json::from_str::<Json>(record) else {
        return BTreeMap::new();
    };
    m.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Json::String(s) => s,
                other => other.to_string(),
            };
            (k, s)
        })
        .collect()
}

/// Every user's record at `at`, ordered by user id.
pub fn load_at(conn: &Db, path: &std::path::Path, at: NaiveDate) -> Result<Vec<Stored>> {
    // the record recorded last among those effective by `at`: SQLite returns the row of
    // `max(seq)` with the group's bare columns; PostgreSQL says it with DISTINCT ON
    let sql = match conn.dialect() {
        crate::db::Dialect::Sqlite => "SELECT user_id, record, digest, cause, max(seq) FROM directory WHERE effective <= ?1 GROUP BY user_id ORDER BY user_id",
        crate::db::Dialect::Postgres => "SELECT DISTINCT ON (user_id) user_id, record, digest, cause, seq FROM directory WHERE effective <= ?1 ORDER BY user_id, seq DESC",
    };
    let mut stmt = conn.prepare_cached(sql).state(path)?;
    let rows = stmt
        .query_map([at.to_string()], |r| {
            Ok(Stored {
                user_id: r.get(0)?,
                record: r.get(1)?,
                digest: r.get(2)?,
                cause: r.get(3)?,
            })
        })
        .state(path)?;
    rows.collect::<Result<Vec<_>, _>>().state(path)
}

/// One user's record at `at`.
pub fn load_user(
    conn: &Db,
    path: &std::path::Path,
    user: &str,
    at: NaiveDate,
) -> Result<Option<Stored>> {
    conn.prepare_cached(
        "SELECT user_id, record, digest, cause FROM directory WHERE user_id = ?1 AND effective <= ?2 ORDER BY seq DESC LIMIT 1",
    )
    .state(path)?
    .query_row(crate::db::params![user, at.to_string()], |r| {
        Ok(Stored {
            user_id: r.get(0)?,
            record: r.get(1)?,
            digest: r.get(2)?,
            cause: r.get(3)?,
        })
    })
    .optional()
    .state(path)
}

/// Typed users from stored records (one parse of one JSON array: the library's fast path).
pub fn to_users(stored: &[Stored], schema: Option<&ir::Schema>) -> Result<Users> {
    let mut text =
        String::with_capacity(stored.iter().map(|s| s.record.len() + 1).sum::<usize>() + 2);
    text.push('[');
    for (i, s) in stored.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&s.record);
    }
    text.push(']');
    let users = input::parse_users(
        &text,
        "<state directory>",
        input::Format::Json,
        schema,
        None,
    )
    .map_err(|e| {
        Error::Input(format!(
            "the stored directory no longer reads against the policies' schema: {}",
            e.0
        ))
    })?;
    if let Some(e) = users.errors.first() {
        return Err(Error::Input(format!(
            "the stored directory no longer reads against the policies' schema: {e} (import a snapshot that matches the schema)"
        )));
    }
    Ok(users)
}

/// The digest of a directory state: SHA-256 over each user id and record digest, in id
/// order.
pub fn digest(stored: &[Stored]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in stored {
        h.update(s.user_id.as_bytes());
        h.update([0]);
        h.update(s.digest.as_bytes());
        h.update([b'\n']);
    }
    hex::encode(h.finalize())
}
