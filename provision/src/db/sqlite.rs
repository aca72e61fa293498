//! The SQLite back end.
//!
//! Durability: WAL mode with `synchronous = FULL`, so every committed transaction is on
//! disk before `COMMIT` returns and a journal entry marked `sent` is never lost after the
//! connector was called, even on power loss (`NORMAL` would survive a process crash but may
//! drop the last transactions on an OS crash). Batching (one transaction marks a whole batch
//! `sent`, one records its results) keeps the cost, one fsync per commit, small.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef as SqlRef};
use rusqlite::Connection;

use super::{DbResult, Value, ValueRef};

pub(super) fn open(path: &Path) -> DbResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Column `i` of a row.
pub(super) fn value<'a>(r: &'a rusqlite::Row<'a>, i: usize) -> DbResult<ValueRef<'a>> {
    Ok(match r.get_ref(i)? {
        SqlRef::Null => ValueRef::Null,
        SqlRef::Integer(n) => ValueRef::Int(n),
        SqlRef::Real(f) => ValueRef::Real(f),
        SqlRef::Text(t) => {
            ValueRef::Text(std::str::from_utf8(t).map_err(|e| super::DbError::Type {
                column: i,
                message: format!("text that is not UTF-8: {e}"),
            })?)
        }
        SqlRef::Blob(b) => ValueRef::Blob(b),
    })
}

/// A parameter bound by SQLite.
pub(super) struct Bind<'a>(pub &'a Value<'a>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => SqlRef::Null,
            Value::Int(i) => SqlRef::Integer(*i),
            Value::Real(f) => SqlRef::Real(*f),
            Value::Text(t) => SqlRef::Text(t.as_bytes()),
            Value::Blob(b) => SqlRef::Blob(b),
        }))
    }
}
