//! The state: one SQLite database holding the directory (effective-dated HRIS records),
//! observed access, holds, plans with their actions' journal, and the audit log.
//!
//! Durability. The database runs in WAL mode with `synchronous = FULL`: every committed
//! transaction is on disk before `COMMIT` returns, so a journal entry marked `sent` is never
//! lost after the connector was called, even on power loss. `NORMAL` would survive a
//! process crash (what the tests simulate) but may drop the last transactions on an OS
//! crash; the cost of `FULL` is one fsync per commit, which batching (one transaction marks
//! a whole batch `sent`, one records its results) makes small.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result, StateContext};

/// Schema migrations, in order; `PRAGMA user_version` is how many were applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- one row per snapshot import or events file
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- import | event
    at TEXT NOT NULL,                -- the as-of date
    recorded_at TEXT NOT NULL,
    file TEXT,
    digest TEXT NOT NULL,            -- SHA-256 of the file's bytes
    columns TEXT NOT NULL,           -- JSON: the columns that held a value
    records INTEGER NOT NULL,
    actor TEXT NOT NULL
);

-- the directory: effective-dated records; at a date D the record of a user is the one
-- recorded last (highest seq) among those effective on or before D
CREATE TABLE directory (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    effective TEXT NOT NULL,
    record TEXT NOT NULL,            -- canonical JSON of the typed record
    digest TEXT NOT NULL,            -- SHA-256 of record
    cause TEXT NOT NULL,             -- import | absence | employee.hired | employee.updated | employee.terminated
    source INTEGER NOT NULL REFERENCES imports(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX directory_user ON directory(user_id, effective, seq);

CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    grant_ref TEXT NOT NULL,
    level TEXT,
    until TEXT NOT NULL,             -- held on days before this one
    policy TEXT NOT NULL,
    source INTEGER NOT NULL REFERENCES imports(id),
    created_at TEXT NOT NULL,
    closed_at TEXT,
    closed_reason TEXT
);
CREATE INDEX holds_user ON holds(user_id);

-- observed access: one row per account of a system
CREATE TABLE observed (
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    holdings TEXT NOT NULL,          -- JSON [[grant, level|null], ...], sorted
    active INTEGER,                  -- account active? NULL: no account notion
    version INTEGER NOT NULL,        -- bumped by every change
    changed_by TEXT NOT NULL,        -- pull:N or a plan id
    PRIMARY KEY (system, user_id)
) WITHOUT ROWID;

CREATE TABLE pulls (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    at TEXT NOT NULL,
    entries INTEGER NOT NULL,
    accounts INTEGER NOT NULL,
    suspect TEXT                     -- why the listing is not trusted for revocations
);

-- entitlements polc granted itself (managed ever after)
CREATE TABLE granted (
    system TEXT NOT NULL,
    grant_ref TEXT NOT NULL,
    first_at TEXT NOT NULL,
    PRIMARY KEY (system, grant_ref)
) WITHOUT ROWID;

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    digest TEXT NOT NULL,
    bundle TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    document TEXT NOT NULL           -- the plan JSON
);  -- a rowid table: the actions' foreign key is checked on the id's index, not on the
    -- (large) rows themselves

CREATE TABLE actions (
    plan_id TEXT NOT NULL REFERENCES plans(id),
    idx INTEGER NOT NULL,
    id TEXT NOT NULL,
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    change TEXT NOT NULL,            -- JSON of the connector Change
    review INTEGER NOT NULL,
    leaver INTEGER NOT NULL,
    protected INTEGER NOT NULL,
    status TEXT NOT NULL,            -- pending | sent | done | failed | stale | skipped
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    planned_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, idx)
) WITHOUT ROWID;
CREATE INDEX actions_status ON actions(status, system);

-- what a plan saw of each (system, user) it touches: for staleness
CREATE TABLE plan_users (
    plan_id TEXT NOT NULL,
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version INTEGER NOT NULL,        -- observed.version (0: no row)
    record TEXT NOT NULL,            -- directory digest of the user at as_of ('' none)
    PRIMARY KEY (plan_id, system, user_id)
) WITHOUT ROWID;

CREATE TABLE quarantine (
    system TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    as_of TEXT,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,           -- JSON
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 2: the service (`polc serve`, docs/serve.md): HRIS webhook events stored before they
    // are acknowledged, the review queue's decisions, the schedule's last runs
    r#"
-- one row per event of a webhook delivery; (webhook_id, idx) makes a redelivery a no-op
CREATE TABLE serve_events (
    seq INTEGER PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    event TEXT NOT NULL,             -- employee.hired | employee.updated | employee.terminated
    user_id TEXT NOT NULL,
    effective TEXT NOT NULL,
    body TEXT NOT NULL,              -- the event's JSON as received
    status TEXT NOT NULL,            -- received | waiting | processed | rejected | failed
    reason TEXT,
    received_at TEXT NOT NULL,
    received_by TEXT NOT NULL,       -- the token's name
    processed_at TEXT,
    UNIQUE (webhook_id, idx)
);
CREATE INDEX serve_events_open ON serve_events(status, effective, seq);

-- what the service decided about a stored plan
CREATE TABLE serve_plans (
    plan_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- auto | review
    status TEXT NOT NULL,            -- pending | applying | applied | incomplete | rejected | superseded | refused
    decided_by TEXT,
    digest TEXT,
    reason TEXT,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE serve_schedule (
    job TEXT PRIMARY KEY,            -- pull | plan | drift
    last_run TEXT NOT NULL           -- RFC 3339, UTC
) WITHOUT ROWID;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An open state database.
pub struct State {
    pub path: PathBuf,
    pub conn: Connection,
}

impl State {
    /// Opens (creating it and its folder on first use) and migrates the state. A schema
    /// newer than this build knows is refused.
    pub fn open(path: &Path) -> Result<State> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| Error::State {
                    path: path.to_path_buf(),
                    message: format!("cannot create its folder: {e}"),
                })?;
            }
        }
        let conn = Connection::open(path).state(path)?;
        conn.busy_timeout(Duration::from_secs(30)).state(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .state(path)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .state(path)?;
        conn.pragma_update(None, "foreign_keys", "ON").state(path)?;
        let mut st = State {
            path: path.to_path_buf(),
            conn,
        };
        st.migrate()?;
        Ok(st)
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .state(&path)?;
        let v: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .state(&path)?;
        if v > SCHEMA_VERSION {
            return Err(Error::State {
                path,
                message: format!(
                    "its schema is version {v}, newer than this polc knows ({SCHEMA_VERSION}): use a newer polc"
                ),
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.execute_batch(m).state(&path)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .state(&path)?;
        }
        tx.commit().state(&path)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .state(&self.path)
    }

    pub fn set_meta(conn: &Connection, path: &Path, key: &str, value: &str) -> Result<()> {
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .state(path)?;
        Ok(())
    }
}

/// The current time, UTC, as stored (RFC 3339 with milliseconds).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The per-system lock: an exclusive `flock` on `locks/SYSTEM.lock` beside the state.
/// The file says who holds it (pid, host, since); the lock itself dies with the process.
pub struct SystemLock {
    _file: std::fs::File,
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

impl SystemLock {
    /// Takes the lock of `system`; when another process holds it, waits (`wait`) or says
    /// who holds it.
    pub fn acquire(state_path: &Path, system: &str, wait: bool) -> Result<SystemLock> {
        use std::io::{Read, Seek, Write};
        let dir = state_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("locks");
        let err = |m: String| Error::State {
            path: dir.clone(),
            message: m,
        };
        std::fs::create_dir_all(&dir).map_err(|e| err(format!("cannot create: {e}")))?;
        let safe: String = system
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        let op = if wait {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::NonBlockingLockExclusive
        };
        if rustix::fs::flock(&file, op).is_err() {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            let mut parts = who.split_whitespace();
            return Err(Error::Locked {
                system: system.to_string(),
                pid: parts.next().unwrap_or("?").to_string(),
                host: parts.next().unwrap_or("?").to_string(),
                since: parts.next().unwrap_or("?").to_string(),
            });
        }
        let info = format!("{} {} {}\n", std::process::id(), hostname(), now_text());
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = file.write_all(info.as_bytes());
        let _ = file.flush();
        Ok(SystemLock { _file: file })
    }
}
