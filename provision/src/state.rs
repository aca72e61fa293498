//! The state: one database holding the directory (effective-dated HRIS records), observed
//! access, holds, plans with their actions' journal, and the audit log. SQLite by default
//! (`[state] path`), PostgreSQL with `[state] url`; both behind [`crate::db::Db`], with the
//! same tables (the PostgreSQL schema is the SQLite one in its types).

use std::path::{Path, PathBuf};

use crate::config::StateConfig;
use crate::db::{Db, Dialect, OptionalExt};
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
    // 3: leases on work shared by the processes of one state (lease.rs): one holder per
    // name until `expires_ms` (the database's clock); `token` grows at each takeover
    r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,           -- work | plan:ID
    holder TEXT NOT NULL,            -- host:pid:random of the process
    token INTEGER NOT NULL,          -- the fencing token
    expires_ms INTEGER NOT NULL      -- milliseconds since the Unix epoch
) WITHOUT ROWID;
"#,
    // 4: the imports of one source file or name (the service looks up whether a stored
    // event was already recorded: without it, a scan of every import per event), and a
    // person's accounts in every system (`GET /v1/users/{id}`: without it, a scan)
    r#"
CREATE INDEX imports_file ON imports(file, kind);
CREATE INDEX observed_user ON observed(user_id);
"#,
];

/// The same migrations for PostgreSQL, one for one: `BIGINT` for integers, identity columns
/// for SQLite's automatic row ids (and a `rowid` column on `plans`, ordered by insertion),
/// a trigger function keeping the audit log append-only (truncation included). Every
/// `TEXT` column compares bytewise (`COLLATE "C"`), as SQLite does, whatever the database's
/// locale: listings come out in the same order on both.
const PG_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE imports (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    file TEXT,
    digest TEXT NOT NULL,
    columns TEXT NOT NULL,
    records BIGINT NOT NULL,
    actor TEXT NOT NULL
);
CREATE TABLE directory (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id TEXT NOT NULL,
    effective TEXT NOT NULL,
    record TEXT NOT NULL,
    digest TEXT NOT NULL,
    cause TEXT NOT NULL,
    source BIGINT NOT NULL REFERENCES imports(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX directory_user ON directory(user_id, effective, seq);
CREATE TABLE holds (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id TEXT NOT NULL,
    grant_ref TEXT NOT NULL,
    level TEXT,
    until TEXT NOT NULL,
    policy TEXT NOT NULL,
    source BIGINT NOT NULL REFERENCES imports(id),
    created_at TEXT NOT NULL,
    closed_at TEXT,
    closed_reason TEXT
);
CREATE INDEX holds_user ON holds(user_id);
CREATE TABLE observed (
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    holdings TEXT NOT NULL,
    active BIGINT,
    version BIGINT NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (system, user_id)
);
CREATE TABLE pulls (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    system TEXT NOT NULL,
    at TEXT NOT NULL,
    entries BIGINT NOT NULL,
    accounts BIGINT NOT NULL,
    suspect TEXT
);
CREATE TABLE granted (
    system TEXT NOT NULL,
    grant_ref TEXT NOT NULL,
    first_at TEXT NOT NULL,
    PRIMARY KEY (system, grant_ref)
);
CREATE TABLE plans (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    digest TEXT NOT NULL,
    bundle TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE actions (
    plan_id TEXT NOT NULL REFERENCES plans(id),
    idx BIGINT NOT NULL,
    id TEXT NOT NULL,
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    change TEXT NOT NULL,
    review BIGINT NOT NULL,
    leaver BIGINT NOT NULL,
    protected BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    planned_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, idx)
);
CREATE INDEX actions_status ON actions(status, system);
CREATE TABLE plan_users (
    plan_id TEXT NOT NULL,
    system TEXT NOT NULL,
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (plan_id, system, user_id)
);
CREATE TABLE quarantine (
    system TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    time TEXT NOT NULL,
    as_of TEXT,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE FUNCTION polc_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION polc_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION polc_audit_append_only();
"#,
    r#"
CREATE TABLE serve_events (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT NOT NULL,
    effective TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    received_at TEXT NOT NULL,
    received_by TEXT NOT NULL,
    processed_at TEXT,
    UNIQUE (webhook_id, idx)
);
CREATE INDEX serve_events_open ON serve_events(status, effective, seq);
CREATE TABLE serve_plans (
    plan_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    digest TEXT,
    reason TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE serve_schedule (
    job TEXT PRIMARY KEY,
    last_run TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"#,
    r#"
CREATE INDEX imports_file ON imports(file, kind);
CREATE INDEX observed_user ON observed(user_id);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock that serialises migrations between replicas starting at once.
const PG_MIGRATION_LOCK: i64 = 0x706f_6c63_0001;

/// An open state database.
pub struct State {
    /// What the state is called in messages: the SQLite file, or the PostgreSQL URL without
    /// its password.
    pub path: PathBuf,
    /// The local folder for what is per machine: system locks of SQLite states, the
    /// service's inbox.
    pub dir: PathBuf,
    pub conn: Db,
    /// The PostgreSQL URL (with its password: never shown), for the system locks'
    /// connections.
    url: Option<String>,
}

impl State {
    /// Opens (creating it and its folder on first use) and migrates the state of a project:
    /// PostgreSQL when `url` is set, else SQLite at `path`. A schema newer than this build
    /// knows is refused.
    pub fn open_config(cfg: &StateConfig) -> Result<State> {
        match &cfg.url {
            Some(url) => State::open_postgres(url, &cfg.path),
            None => State::open(&cfg.path),
        }
    }

    /// Opens the SQLite state at `path`.
    pub fn open(path: &Path) -> Result<State> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: format!("cannot create its folder: {e}"),
        })?;
        let conn = Db::open_sqlite(path).state(path)?;
        let mut st = State {
            path: path.to_path_buf(),
            dir,
            conn,
            url: None,
        };
        st.migrate()?;
        Ok(st)
    }

    /// Opens the PostgreSQL state at `url`; `local` is where a SQLite state would be (its
    /// folder holds what stays per machine).
    pub fn open_postgres(url: &str, local: &Path) -> Result<State> {
        let shown = PathBuf::from(crate::db::redact_url(url));
        let dir = local
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let conn = Db::open_postgres(url).map_err(|e| Error::State {
            path: shown.clone(),
            message: format!("cannot connect: {e}"),
        })?;
        let mut st = State {
            path: shown,
            dir,
            conn,
            url: Some(url.to_string()),
        };
        st.migrate()?;
        Ok(st)
    }

    /// The PostgreSQL URL, when the state is there.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let dialect = self.conn.dialect();
        let tx = self.conn.transaction().state(&path)?;
        let v: i64 = match dialect {
            Dialect::Sqlite => tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .state(&path)?,
            Dialect::Postgres => {
                tx.query_row(
                    "SELECT pg_advisory_xact_lock(?1)",
                    [PG_MIGRATION_LOCK],
                    |_| Ok(()),
                )
                .state(&path)?;
                tx.execute_batch(
                    "CREATE TABLE IF NOT EXISTS polc_schema (version BIGINT NOT NULL)",
                )
                .state(&path)?;
                tx.query_row("SELECT max(version) FROM polc_schema", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
                .state(&path)?
                .unwrap_or(0)
            }
        };
        if v > SCHEMA_VERSION {
            return Err(Error::State {
                path,
                message: format!(
                    "its schema is version {v}, newer than this polc knows ({SCHEMA_VERSION}): use a newer polc"
                ),
            });
        }
        let migrations = match dialect {
            Dialect::Sqlite => MIGRATIONS,
            Dialect::Postgres => PG_MIGRATIONS,
        };
        for (i, m) in migrations.iter().enumerate().skip(v as usize) {
            let version = (i + 1) as i64;
            match dialect {
                Dialect::Sqlite => {
                    tx.execute_batch(m).state(&path)?;
                    tx.execute_batch(&format!("PRAGMA user_version = {version}"))
                        .state(&path)?;
                }
                Dialect::Postgres => {
                    tx.execute_batch(&m.replace(" TEXT", " TEXT COLLATE \"C\""))
                        .state(&path)?;
                    tx.execute("DELETE FROM polc_schema", []).state(&path)?;
                    tx.execute("INSERT INTO polc_schema(version) VALUES (?1)", [version])
                        .state(&path)?;
                }
            }
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

    pub fn set_meta(conn: &Db, path: &Path, key: &str, value: &str) -> Result<()> {
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
        .state(path)?;
        Ok(())
    }

    /// Takes the lock of `system` (see [`SystemLock`]).
    pub fn lock_system(&self, system: &str, wait: bool) -> Result<SystemLock> {
        match &self.url {
            None => SystemLock::acquire(&self.dir, system, wait),
            Some(url) => SystemLock::acquire_pg(url, &self.path, system, wait),
        }
    }
}

/// The current time, UTC, as stored (RFC 3339 with milliseconds).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The per-system lock, so that two polc processes never apply to one system at once.
/// SQLite state: an exclusive `flock` on `locks/SYSTEM.lock` beside the state; the file says
/// who holds it (pid, host, since). PostgreSQL state: a session advisory lock on a
/// connection of its own, named after the holder (pid, host, since), so replicas on other
/// machines see it too. Either way the lock dies with the process.
pub struct SystemLock {
    _file: Option<std::fs::File>,
    _pg: Option<postgres::Client>,
}

/// This machine's name.
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// The advisory-lock key of a system: the first 8 bytes of SHA-256 of its name.
fn pg_lock_key(system: &str) -> i64 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("polc system {system}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    i64::from_be_bytes(b)
}

impl SystemLock {
    /// Takes the PostgreSQL lock of `system`.
    fn acquire_pg(url: &str, shown: &Path, system: &str, wait: bool) -> Result<SystemLock> {
        let err = |m: String| Error::State {
            path: shown.to_path_buf(),
            message: m,
        };
        let holder = format!("polc {} {} {}", std::process::id(), hostname(), now_text());
        let mut client = crate::db::pg_client(url, Some(&holder))
            .map_err(|e| err(format!("cannot connect for the lock of `{system}`: {e}")))?;
        let key = pg_lock_key(system);
        if wait {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&key])
                .map_err(|e| err(format!("cannot lock `{system}`: {e}")))?;
        } else {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .and_then(|r| r.try_get(0))
                .map_err(|e| err(format!("cannot lock `{system}`: {e}")))?;
            if !got {
                let who: Option<String> = client
                    .query_opt(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE l.locktype = 'advisory' AND l.granted
                         AND l.objsubid = 1 AND l.classid::bigint = (($1 >> 32) & 4294967295) AND l.objid::bigint = ($1 & 4294967295)",
                        &[&key],
                    )
                    .ok()
                    .flatten()
                    .and_then(|r| r.try_get(0).ok());
                let who = who.unwrap_or_default();
                let mut parts = who.split_whitespace().skip(1);
                return Err(Error::Locked {
                    system: system.to_string(),
                    pid: parts.next().unwrap_or("?").to_string(),
                    host: parts.next().unwrap_or("?").to_string(),
                    since: parts.next().unwrap_or("?").to_string(),
                });
            }
        }
        Ok(SystemLock {
            _file: None,
            _pg: Some(client),
        })
    }

    /// Takes the file lock of `system` in `dir`/locks; when another process holds it, waits
    /// (`wait`) or says who holds it.
    pub fn acquire(dir: &Path, system: &str, wait: bool) -> Result<SystemLock> {
        use std::io::{Read, Seek, Write};
        let dir = dir.join("locks");
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
        Ok(SystemLock {
            _file: Some(file),
            _pg: None,
        })
    }
}
