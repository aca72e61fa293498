//! Leases on work, shared by the processes of one state (several `polc serve` on one
//! PostgreSQL database): a named lease is held by one holder until it expires; taking over
//! an expired lease increases its **fencing token**, and the token is checked in the same
//! transaction that journals actions as sent ([`check`]), so a holder that was paused past
//! its lease cannot send anything after another took its work over.
//!
//! Time is the database's clock (PostgreSQL's `clock_timestamp()`, SQLite's `julianday`),
//! in milliseconds since the Unix epoch: one clock for every replica.

use crate::db::{params, Db, DbResult, Dialect};

/// A lease held: its name, holder and fencing token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub token: i64,
}

/// The database's clock in milliseconds, in SQL.
fn now_ms(db: &Db) -> &'static str {
    match db.dialect() {
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Dialect::Postgres => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// Takes lease `name` for `ttl_ms` if nobody holds it (absent or expired): its new fencing
/// token, or `None` when another holder has it.
pub fn acquire(db: &Db, name: &str, holder: &str, ttl_ms: i64) -> DbResult<Option<i64>> {
    let now = now_ms(db);
    let sql = format!(
        "INSERT INTO leases(name, holder, token, expires_ms) VALUES (?1, ?2, 1, {now} + ?3)
         ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1, expires_ms = excluded.expires_ms
         WHERE leases.expires_ms < {now}
         RETURNING token"
    );
    let mut stmt = db.prepare(&sql)?;
    let mut rows = stmt.query(params![name, holder, ttl_ms])?;
    match rows.next()? {
        Some(r) => Ok(Some(r.get(0)?)),
        None => Ok(None),
    }
}

/// Extends a lease still held (same holder and token, even if it just expired and nobody
/// took it): `false` when it was lost.
pub fn renew(db: &Db, f: &Fence, ttl_ms: i64) -> DbResult<bool> {
    let sql = format!(
        "UPDATE leases SET expires_ms = {} + ?4 WHERE name = ?1 AND holder = ?2 AND token = ?3",
        now_ms(db)
    );
    Ok(db.execute(&sql, params![f.name, f.holder, f.token, ttl_ms])? == 1)
}

/// Gives a lease up (expired at once; the token stays, so the next holder's is higher).
pub fn release(db: &Db, f: &Fence) -> DbResult<()> {
    db.execute(
        "UPDATE leases SET expires_ms = 0 WHERE name = ?1 AND holder = ?2 AND token = ?3",
        params![f.name, f.holder, f.token],
    )?;
    Ok(())
}

/// Is the lease still held and unexpired? Called inside a transaction: on PostgreSQL the
/// lease's row stays locked until it ends, so no takeover commits in between.
pub fn check(db: &Db, f: &Fence) -> DbResult<bool> {
    let lock = match db.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE",
    };
    let sql = format!(
        "SELECT token FROM leases WHERE name = ?1 AND holder = ?2 AND token = ?3 AND expires_ms >= {}{lock}",
        now_ms(db)
    );
    let mut stmt = db.prepare(&sql)?;
    let mut rows = stmt.query(params![f.name, f.holder, f.token])?;
    Ok(rows.next()?.is_some())
}

/// Who holds `name` and for how many more milliseconds (negative: expired).
pub fn holder(db: &Db, name: &str) -> DbResult<Option<(String, i64, i64)>> {
    use crate::db::OptionalExt;
    let sql = format!(
        "SELECT holder, token, expires_ms - {} FROM leases WHERE name = ?1",
        now_ms(db)
    );
    db.query_row(&sql, [name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, crate::state::State) {
        let dir = tempfile::tempdir().unwrap();
        let st = crate::state::State::open(&dir.path().join("s.db")).unwrap();
        (dir, st)
    }

    #[test]
    fn one_holder_at_a_time_and_tokens_only_grow() {
        let (_d, st) = db();
        let c = &st.conn;
        let t1 = acquire(c, "work", "a", 60_000).unwrap().unwrap();
        assert_eq!(acquire(c, "work", "b", 60_000).unwrap(), None);
        let fa = Fence {
            name: "work".into(),
            holder: "a".into(),
            token: t1,
        };
        assert!(check(c, &fa).unwrap());
        assert!(renew(c, &fa, 60_000).unwrap());
        // a expires (ttl in the past): b takes over with a higher token
        assert!(renew(c, &fa, -1).unwrap());
        assert!(!check(c, &fa).unwrap());
        let t2 = acquire(c, "work", "b", 60_000).unwrap().unwrap();
        assert!(t2 > t1);
        // a's fence is dead and cannot be renewed
        assert!(!renew(c, &fa, 60_000).unwrap());
        assert!(!check(c, &fa).unwrap());
        let fb = Fence {
            name: "work".into(),
            holder: "b".into(),
            token: t2,
        };
        release(c, &fb).unwrap();
        let t3 = acquire(c, "work", "a", 60_000).unwrap().unwrap();
        assert!(t3 > t2);
        let (h, t, left) = holder(c, "work").unwrap().unwrap();
        assert_eq!((h.as_str(), t), ("a", t3));
        assert!(left > 50_000 && left <= 60_000, "{left}");
    }
}
