//! The audit log: an append-only hash chain in the state. Each entry's hash is SHA-256 over
//! the previous entry's hash and the canonical JSON (RFC 8785) of the entry
//! `{seq, time, as_of, actor, kind, details, prev}`; the first entry's `prev` is 64 zeros.
//! SQLite triggers refuse every UPDATE and DELETE of the table; [`verify`] finds what an
//! attacker who drops them changes, removes or reorders.

use crate::db::{Db, OptionalExt};
use serde::Serialize;
use serde_json::Value as Json;

use crate::canon;
use crate::error::{Result, StateContext};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    time: &'a str,
    as_of: Option<&'a str>,
    actor: &'a str,
    kind: &'a str,
    details: &'a Json,
    prev: &'a str,
}

fn entry_hash(e: &Hashed<'_>) -> Result<String> {
    let mut bytes = e.prev.as_bytes().to_vec();
    bytes.extend(canon::canonical_reference(e)?.as_bytes());
    Ok(canon::sha256_hex(&bytes))
}

/// The canonical JSON of an entry whose details are already canonical: the same text as
/// `canon::canonical` of [`Hashed`] (its keys in RFC 8785 order), without canonicalising the
/// details twice ([`verify`] recomputes every hash with the canonicaliser crate).
fn entry_text(e: &Hashed<'_>, details: &str) -> Result<String> {
    let mut out = String::with_capacity(details.len() + 256);
    out.push_str("{\"actor\":");
    out.push_str(&canon::canonical_str(e.actor));
    out.push_str(",\"as_of\":");
    match e.as_of {
        Some(d) => out.push_str(&canon::canonical_str(d)),
        None => out.push_str("null"),
    }
    out.push_str(",\"details\":");
    out.push_str(details);
    out.push_str(",\"kind\":");
    out.push_str(&canon::canonical_str(e.kind));
    out.push_str(",\"prev\":");
    out.push_str(&canon::canonical_str(e.prev));
    out.push_str(",\"seq\":");
    out.push_str(&canon::canonical(&e.seq)?);
    out.push_str(",\"time\":");
    out.push_str(&canon::canonical_str(e.time));
    out.push('}');
    Ok(out)
}

/// The advisory lock serialising the audit log's writers on PostgreSQL.
const AUDIT_LOCK: i64 = 0x706f_6c63_0002;

/// Appends entries inside one transaction: reads the head once, then chains.
pub struct Writer<'c> {
    conn: &'c Db,
    path: &'c std::path::Path,
    seq: i64,
    head: String,
    pub actor: String,
}

impl<'c> Writer<'c> {
    /// Opens the writer inside the caller's transaction. With several writers on one
    /// PostgreSQL state, the transaction first takes the audit log's advisory lock (held
    /// until it ends), so the head read here is still the head when the entries are
    /// inserted: one chain, no fork, no gap. (SQLite's `BEGIN IMMEDIATE` already
    /// serialises writers.)
    pub fn new(conn: &'c Db, path: &'c std::path::Path, actor: &str) -> Result<Writer<'c>> {
        if !conn.in_transaction() {
            return Err(crate::Error::Bug(
                "an audit entry written outside a transaction".into(),
            ));
        }
        if conn.dialect() == crate::db::Dialect::Postgres {
            conn.query_row("SELECT pg_advisory_xact_lock(?1)", [AUDIT_LOCK], |_| Ok(()))
                .state(path)?;
        }
        let last: Option<(i64, String)> = conn
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .state(path)?;
        let (seq, head) = last.unwrap_or((0, GENESIS.to_string()));
        Ok(Writer {
            conn,
            path,
            seq,
            head,
            actor: actor.to_string(),
        })
    }

    /// Appends one entry; returns its hash.
    pub fn append(&mut self, as_of: Option<&str>, kind: &str, details: Json) -> Result<String> {
        let time = crate::state::now_text();
        let seq = self.seq + 1;
        let e = Hashed {
            seq,
            time: &time,
            as_of,
            actor: &self.actor,
            kind,
            details: &details,
            prev: &self.head,
        };
        let details_text = canon::canonical_value(&details)?;
        let mut bytes = e.prev.as_bytes().to_vec();
        bytes.extend(entry_text(&e, &details_text)?.as_bytes());
        let hash = canon::sha256_hex(&bytes);
        self.conn
            .prepare_cached(
                "INSERT INTO audit(seq, time, as_of, actor, kind, details, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .state(self.path)?
            .execute(crate::db::params![seq, time, as_of, self.actor, kind, details_text, self.head, hash])
            .state(self.path)?;
        self.seq = seq;
        self.head = hash.clone();
        Ok(hash)
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub intact: bool,
    pub entries: i64,
    /// The hash of the last entry (of the last good one when broken).
    pub head: String,
    /// The first entry (seq) that does not match, when broken.
    pub first_bad: Option<i64>,
    pub problem: Option<String>,
    /// With `--head`: the entry (seq) whose hash is the given head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_entry: Option<i64>,
}

impl VerifyReport {
    pub fn human(&self) -> String {
        if self.intact {
            let mut s = format!(
                "audit log intact: {} entries, head {}\n",
                self.entries, self.head
            );
            if let Some(n) = self.head_entry {
                s += &format!("the given head is entry {n}: nothing before it was changed, removed or reordered\n");
            }
            s
        } else {
            format!(
                "audit log BROKEN at entry {}: {}\n",
                self.first_bad.map_or("?".into(), |s| s.to_string()),
                self.problem.as_deref().unwrap_or("")
            )
        }
    }
}

/// A head as given (`--head`): 64 hex digits, upper or lower case, optionally after
/// `sha256:`.
pub fn parse_head(head: &str) -> Result<String> {
    let h = head.trim();
    let h = h.strip_prefix("sha256:").unwrap_or(h).to_ascii_lowercase();
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(crate::Error::Input(format!(
            "--head {head}: not an audit hash (64 hex digits, as `audit verify` or `status` shows the head)"
        )));
    }
    Ok(h)
}

/// Recomputes the chain. With `head` (a hash recorded elsewhere earlier: an exported
/// `audit verify`, a signed evidence pack), also detects a cut tail or a chain recomputed
/// after a change: the head must be the hash of some entry, and then every entry up to it
/// is as it was when the head was taken. Entries after the head are checked for
/// consistency only: the head does not commit to them.
pub fn verify(conn: &Db, path: &std::path::Path, head: Option<&str>) -> Result<VerifyReport> {
    let head = head.map(parse_head).transpose()?;
    let head = head.as_deref();
    let mut head_entry = None;
    let mut stmt = conn
        .prepare(
            "SELECT seq, time, as_of, actor, kind, details, prev, hash FROM audit ORDER BY seq",
        )
        .state(path)?;
    let mut rows = stmt.query([]).state(path)?;
    let mut expect_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut head_seen = head.is_none();
    let broken = |seq: i64, why: String, prev: &str, n: i64| VerifyReport {
        intact: false,
        entries: n,
        head: prev.to_string(),
        first_bad: Some(seq),
        problem: Some(why),
        head_entry: None,
    };
    while let Some(r) = rows.next().state(path)? {
        let seq: i64 = r.get(0).state(path)?;
        let time: String = r.get(1).state(path)?;
        let as_of: Option<String> = r.get(2).state(path)?;
        let actor: String = r.get(3).state(path)?;
        let kind: String = r.get(4).state(path)?;
        let details_text: String = r.get(5).state(path)?;
        let stored_prev: String = r.get(6).state(path)?;
        let hash: String = r.get(7).state(path)?;
        let n = expect_seq - 1;
        if seq != expect_seq {
            let why = if seq > expect_seq {
                format!("entry {expect_seq} is missing (removed), the next one is {seq}")
            } else {
                format!("entry {seq} comes after entry {n} (reordered or duplicated)")
            };
            return Ok(broken(expect_seq, why, &prev, n));
        }
        if stored_prev != prev {
            return Ok(broken(seq, "its previous hash is not the hash of the entry before it (an entry was removed, reordered or changed)".into(), &prev, n));
        }
        let details: Json = match serde_json::from_str(&details_text) {
            Ok(d) => d,
            Err(_) => {
                return Ok(broken(
                    seq,
                    "its details are not JSON (changed)".into(),
                    &prev,
                    n,
                ))
            }
        };
        let e = Hashed {
            seq,
            time: &time,
            as_of: as_of.as_deref(),
            actor: &actor,
            kind: &kind,
            details: &details,
            prev: &prev,
        };
        if entry_hash(&e)? != hash {
            return Ok(broken(
                seq,
                "its content does not match its hash (changed)".into(),
                &prev,
                n,
            ));
        }
        if head == Some(hash.as_str()) {
            head_seen = true;
            head_entry = Some(seq);
        }
        prev = hash;
        expect_seq += 1;
    }
    let entries = expect_seq - 1;
    if !head_seen {
        return Ok(VerifyReport {
            intact: false,
            entries,
            head: prev,
            first_bad: Some(entries + 1),
            problem: Some(format!(
                "the head {} is the hash of no entry: the log's tail was cut or the chain was recomputed",
                head.unwrap_or("")
            )),
            head_entry: None,
        });
    }
    Ok(VerifyReport {
        intact: true,
        entries,
        head: prev,
        first_bad: None,
        problem: None,
        head_entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_spliced_entry_text_is_the_canonical_one() {
        let details = [
            json!({"plan": "p-1", "action": "a1", "change": {"op": "grant", "grant": "slack:channel:#x", "level": null}}),
            json!({"z": [3, 1.5, "é\u{1}\"\\"], "a": {"\u{fb33}": 1, "\r": 2, "\u{1f600}": 4}}),
            json!([]),
            json!(null),
        ];
        for (i, d) in details.iter().enumerate() {
            for as_of in [None, Some("2025-06-01")] {
                let e = Hashed {
                    seq: 1 + i as i64 * 1_000_003,
                    time: "2026-12-03T09:00:00.123Z",
                    as_of,
                    actor: "ana \"the\" approver\u{7}\u{e9}",
                    kind: "sent",
                    details: d,
                    prev: GENESIS,
                };
                let text = entry_text(&e, &canon::canonical_value(d).unwrap()).unwrap();
                assert_eq!(text, canon::canonical_reference(&e).unwrap());
            }
        }
    }
}
