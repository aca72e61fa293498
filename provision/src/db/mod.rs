//! The state's database behind one interface, with two back ends: SQLite (embedded, the
//! default, nothing to install) and PostgreSQL (`[state] url`, for several `polc serve`
//! replicas on one database).
//!
//! Callers write one SQL text: SQLite's numbered parameters (`?1`), `json_extract(col,
//! '$.a.b')`, `coalesce`, `ON CONFLICT … DO …`, `RETURNING`, `count(*) FILTER (WHERE …)`,
//! and a `rowid` column on the few tables that are ordered by insertion (the PostgreSQL
//! schema declares one). [`dialect`] rewrites that text for PostgreSQL once per statement;
//! the rare query with no common form asks [`Db::dialect`]. Values cross the boundary as
//! [`Value`]s (null, integer, real, text, blob): on PostgreSQL each parameter is converted to
//! the type the server inferred for it, and each column read back is converted from its
//! type, so integers stay `BIGINT` and text stays `TEXT` on both sides. PostgreSQL must be
//! able to infer each parameter's type from the statement: one whose first use fixes none
//! (`?1 IS NULL OR col = ?1`) is written `CAST(?1 AS TEXT) IS NULL`, which both accept.

pub mod dialect;
mod pg;
mod pg_tls;
mod sqlite;

use std::fmt;

pub use pg::{client as pg_client, config as pg_config, redact_url};

/// Which SQL the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A database error: the back end's own, or a value that does not convert.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg::message(.0))]
    Postgres(#[from] postgres::Error),
    /// A query that must return a row returned none ([`OptionalExt::optional`]).
    #[error("the query returned no row")]
    NoRows,
    /// The interface used against its contract (a polc bug).
    #[error("{0} (a polc bug)")]
    Misuse(&'static str),
    /// The connection's encryption asked for by the URL cannot be set up (an unknown
    /// `sslmode`, an unreadable `sslrootcert`).
    #[error("{0}")]
    Tls(String),
    /// A column's value is not of the type asked for.
    #[error("column {column}: {message}")]
    Type { column: usize, message: String },
}

impl DbError {
    /// A unique or primary-key constraint refused the write (another writer got there first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// `query_row(…).optional()`: no row is `None`, not an error.
pub trait OptionalExt<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExt<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// What can be a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                // a count or index beyond i64 does not exist in the state
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_value!(i64, i32, i16, u32, u16, u8, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

/// A statement's parameters: `[]`, `[a, b]` (one type), `params![a, b, …]` (any types).
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}

impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(&self) -> Vec<Value<'_>> {
                self.iter().map(|v| v.to_value()).collect()
            }
        }
        impl<T: ToValue> Params for &[T; $n] {
            fn values(&self) -> Vec<Value<'_>> {
                self.iter().map(|v| v.to_value()).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Parameters of mixed types: `params![user, 3, None::<String>]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::ToValue),+] as &[&dyn $crate::db::ToValue] };
}
pub use crate::params;

/// A column's value as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    fn kind(&self) -> &'static str {
        match self {
            ValueRef::Null => "null",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
        }
    }
}

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String>;
}

fn wrong<T>(v: ValueRef<'_>, want: &str) -> Result<T, String> {
    Err(format!("{} where {want} was expected", v.kind()))
}

impl FromValue for i64 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Int(i) => Ok(i),
            // PostgreSQL's `->>` gives JSON numbers and booleans as text
            ValueRef::Text("true") => Ok(1),
            ValueRef::Text("false") => Ok(0),
            ValueRef::Text(t) => t
                .parse()
                .map_err(|_| format!("text `{t}` where an integer was expected")),
            _ => wrong(v, "an integer"),
        }
    }
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
int_from!(i32, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Real(f) => Ok(f),
            ValueRef::Int(i) => Ok(i as f64),
            ValueRef::Text(t) => t
                .parse()
                .map_err(|_| format!("text `{t}` where a number was expected")),
            _ => wrong(v, "a number"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Text(t) => Ok(t.to_string()),
            // SQLite's json_extract gives JSON numbers as integers
            ValueRef::Int(i) => Ok(i.to_string()),
            ValueRef::Real(f) => Ok(f.to_string()),
            _ => wrong(v, "text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            ValueRef::Text(t) => Ok(t.as_bytes().to_vec()),
            _ => wrong(v, "a blob"),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> Result<Self, String> {
        match v {
            ValueRef::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column index (`r.get(0)`).
pub trait RowIndex {
    fn index(&self) -> usize;
}
impl RowIndex for usize {
    fn index(&self) -> usize {
        *self
    }
}

/// A row being read.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` (0-based) as a `T`.
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> DbResult<T> {
        let i = i.index();
        let conv = |v: ValueRef<'_>| {
            T::from_value(v).map_err(|message| DbError::Type { column: i, message })
        };
        match self {
            Row::Sqlite(r) => conv(sqlite::value(r, i)?),
            Row::Postgres(r) => conv(pg::value(r, i)?),
        }
    }
}

impl Row<'_> {
    /// Column `i` (0-based) as text borrowed from the row: no copy (large scans).
    pub fn text(&self, i: usize) -> DbResult<&str> {
        let v = match self {
            Row::Sqlite(r) => sqlite::value(r, i)?,
            Row::Postgres(r) => pg::value(r, i)?,
        };
        match v {
            ValueRef::Text(t) => Ok(t),
            other => Err(DbError::Type {
                column: i,
                message: format!("{} where text was expected", other.kind()),
            }),
        }
    }
}

/// The rows of a query, read one at a time (SQLite streams; PostgreSQL's are fetched whole).
pub struct Rows<'s> {
    inner: RowsInner<'s>,
}

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres {
        rows: std::vec::IntoIter<postgres::Row>,
        current: Option<postgres::Row>,
    },
}

impl<'s> Rows<'s> {
    /// The next row, or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> DbResult<Option<Row<'_>>> {
        match &mut self.inner {
            RowsInner::Sqlite(rows) => Ok(rows.next()?.map(Row::Sqlite)),
            RowsInner::Postgres { rows, current } => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Postgres))
            }
        }
    }
}

/// The rows of a query, each mapped by a function.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F: FnMut(&Row<'_>) -> DbResult<T>> Iterator for MappedRows<'_, F> {
    type Item = DbResult<T>;
    fn next(&mut self) -> Option<DbResult<T>> {
        match self.rows.next() {
            Ok(Some(r)) => Some((self.f)(&r)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A prepared statement.
pub struct Stmt<'c> {
    inner: StmtInner<'c>,
}

enum StmtInner<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    Postgres(&'c pg::Pg, postgres::Statement),
}

impl Stmt<'_> {
    /// Runs it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, params: P) -> DbResult<usize> {
        let values = params.values();
        match &mut self.inner {
            StmtInner::Sqlite(s) => {
                Ok(s.execute(rusqlite::params_from_iter(values.iter().map(sqlite::Bind)))?)
            }
            StmtInner::Postgres(pg, s) => pg.execute(s, &values),
        }
    }

    /// Its rows.
    pub fn query<P: Params>(&mut self, params: P) -> DbResult<Rows<'_>> {
        let values = params.values();
        let inner = match &mut self.inner {
            StmtInner::Sqlite(s) => RowsInner::Sqlite(
                s.query(rusqlite::params_from_iter(values.iter().map(sqlite::Bind)))?,
            ),
            StmtInner::Postgres(pg, s) => RowsInner::Postgres {
                rows: pg.query(s, &values)?.into_iter(),
                current: None,
            },
        };
        Ok(Rows { inner })
    }

    /// Its rows, each mapped by `f`.
    pub fn query_map<P: Params, T, F: FnMut(&Row<'_>) -> DbResult<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> DbResult<MappedRows<'_, F>> {
        Ok(MappedRows {
            rows: self.query(params)?,
            f,
        })
    }

    /// Its first row mapped by `f`; no row is [`DbError::NoRows`].
    pub fn query_row<P: Params, T, F: FnOnce(&Row<'_>) -> DbResult<T>>(
        &mut self,
        params: P,
        f: F,
    ) -> DbResult<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(r) => f(&r),
            None => Err(DbError::NoRows),
        }
    }
}

/// A connection to the state's database.
pub struct Db {
    inner: DbInner,
    /// The cursor's transaction depth (0: none open).
    depth: std::cell::Cell<u32>,
}

enum DbInner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<pg::Pg>),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Db({:?})", self.dialect())
    }
}

impl Db {
    /// An SQLite database at `path` (created if absent), in WAL mode with full fsync.
    pub fn open_sqlite(path: &std::path::Path) -> DbResult<Db> {
        Ok(Db {
            inner: DbInner::Sqlite(sqlite::open(path)?),
            depth: 0.into(),
        })
    }

    /// A PostgreSQL database at `url` (`postgres://user:password@host:port/database`).
    pub fn open_postgres(url: &str) -> DbResult<Db> {
        Ok(Db {
            inner: DbInner::Postgres(Box::new(pg::Pg::connect(url)?)),
            depth: 0.into(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            DbInner::Sqlite(_) => Dialect::Sqlite,
            DbInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A statement, cached on the connection.
    pub fn prepare(&self, sql: &str) -> DbResult<Stmt<'_>> {
        let inner = match &self.inner {
            DbInner::Sqlite(c) => StmtInner::Sqlite(c.prepare_cached(sql)?),
            DbInner::Postgres(pg) => StmtInner::Postgres(pg, pg.prepare(sql)?),
        };
        Ok(Stmt { inner })
    }

    /// Same as [`Db::prepare`] (every statement is cached).
    pub fn prepare_cached(&self, sql: &str) -> DbResult<Stmt<'_>> {
        self.prepare(sql)
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> DbResult<usize> {
        self.prepare(sql)?.execute(params)
    }

    pub fn query_row<P: Params, T, F: FnOnce(&Row<'_>) -> DbResult<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> DbResult<T> {
        self.prepare(sql)?.query_row(params, f)
    }

    /// Several statements without parameters (a migration), as they are: no rewriting.
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.inner {
            DbInner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            DbInner::Postgres(pg) => pg.batch(sql),
        }
    }

    /// Opens a transaction: SQLite's `BEGIN IMMEDIATE` (the write lock at once, waiting
    /// for it), PostgreSQL's `BEGIN`. Dropped without [`Tx::commit`], it rolls back.
    /// Transactions do not nest: opening one inside another is a bug, refused.
    pub fn transaction(&self) -> DbResult<Tx<'_>> {
        if self.depth.get() > 0 {
            return Err(DbError::Misuse(
                "a transaction is already open on this connection",
            ));
        }
        match &self.inner {
            DbInner::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            DbInner::Postgres(pg) => pg.batch("BEGIN")?,
        }
        self.depth.set(1);
        Ok(Tx {
            db: self,
            open: true,
        })
    }

    /// Is a transaction open?
    pub fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    /// The SQLite connection, for what only SQLite has (pragmas); `None` on PostgreSQL.
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            DbInner::Sqlite(c) => Some(c),
            DbInner::Postgres(_) => None,
        }
    }
}

/// An open transaction; derefs to its [`Db`].
pub struct Tx<'c> {
    db: &'c Db,
    open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.db.depth.set(0);
        self.db.execute_batch("COMMIT")
    }

    pub fn rollback(mut self) -> DbResult<()> {
        self.open = false;
        self.db.depth.set(0);
        self.db.execute_batch("ROLLBACK")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.db.depth.set(0);
            // a failed rollback leaves the connection as the server left it: the next
            // BEGIN reports it
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}
