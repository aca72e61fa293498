//! `audit verify --head HASH`: a head exported (or signed in an evidence pack) earlier
//! catches what recomputing the chain alone cannot: a cut tail, and a chain recomputed
//! after a change.

mod common;
use common::*;
use polc_provision::{audit, canon};
use rusqlite::Connection;

const SYSTEMS: &str =
    "[systems.gitlab]\nconnector = \"file\"\npath = \"systems/gitlab.json\"\nmode = \"auto\"\n";

/// A state with some history; returns the fixture and the head after it.
fn history() -> (Fixture, String, i64) {
    let f = Fixture::new(SYSTEMS);
    let mut p = f.open();
    let at = d("2025-06-01");
    p.hris_import(&users_json(f.dir.path()), at, None).unwrap();
    p.pull(None).unwrap();
    p.plan(at).unwrap();
    let v = p.audit_verify(None).unwrap();
    assert!(v.intact && v.entries >= 4, "{}", v.human());
    (f, v.head, v.entries)
}

/// A copy of the state whose append-only triggers are gone (what an attacker with the
/// file can do).
fn tamperable(f: &Fixture, name: &str) -> Connection {
    let c = Connection::open(f.path(".polc/state.db")).unwrap();
    let copy = f.path(name);
    c.execute(&format!("VACUUM INTO '{}'", copy.display()), [])
        .unwrap();
    let c2 = Connection::open(&copy).unwrap();
    c2.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c2
}

fn verify(c: &Connection, head: Option<&str>) -> audit::VerifyReport {
    // the same file through the state's own interface
    let db = polc_provision::db::Db::open_sqlite(std::path::Path::new(c.path().unwrap())).unwrap();
    audit::verify(&db, std::path::Path::new("state.db"), head).unwrap()
}

/// Recomputes every hash from `from_seq` on, as audit.rs does: what an attacker who
/// read the code does after changing an entry.
fn recompute(c: &Connection, from_seq: i64) {
    let rows: Vec<(i64, String, Option<String>, String, String, String)> = c
        .prepare("SELECT seq, time, as_of, actor, kind, details FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = audit::GENESIS.to_string();
    for (seq, time, as_of, actor, kind, details) in rows {
        if seq >= from_seq {
            let details: serde_json::Value = serde_json::from_str(&details).unwrap();
            let e = serde_json::json!({"seq": seq, "time": time, "as_of": as_of, "actor": actor,
                                       "kind": kind, "details": details, "prev": prev});
            let mut bytes = prev.as_bytes().to_vec();
            bytes.extend(canon::canonical(&e).unwrap().as_bytes());
            let hash = canon::sha256_hex(&bytes);
            c.execute(
                "UPDATE audit SET prev = ?2, hash = ?3 WHERE seq = ?1",
                rusqlite::params![seq, prev, hash],
            )
            .unwrap();
        }
        prev = c
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0))
            .unwrap();
    }
}

#[test]
fn the_head_is_accepted_in_its_usual_spellings() {
    let (f, head, entries) = history();
    let p = f.open();
    let v = p.audit_verify(Some(&head)).unwrap();
    assert!(v.intact, "{}", v.human());
    assert_eq!(v.head_entry, Some(entries));
    assert!(v
        .human()
        .contains(&format!("the given head is entry {entries}")));
    for spelled in [
        head.to_uppercase(),
        format!("sha256:{head}"),
        format!(" {head}\n"),
    ] {
        assert!(p.audit_verify(Some(&spelled)).unwrap().intact, "{spelled}");
    }
    // an older head is fine too: the log only grew since
    let c = Connection::open(f.path(".polc/state.db")).unwrap();
    let first: String = c
        .query_row("SELECT hash FROM audit WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(p.audit_verify(Some(&first)).unwrap().head_entry, Some(1));
    // not a hash at all: an input error, not a broken log
    let e = p.audit_verify(Some("abc")).unwrap_err().to_string();
    assert!(e.contains("not an audit hash"), "{e}");
}

#[test]
fn a_cut_tail_is_detected_against_the_head() {
    let (f, head, entries) = history();
    let c = tamperable(&f, "cut.db");
    c.execute("DELETE FROM audit WHERE seq >= ?1", [entries - 1])
        .unwrap();
    // the chain alone is consistent
    let alone = verify(&c, None);
    assert!(alone.intact, "{}", alone.human());
    assert_eq!(alone.entries, entries - 2);
    // the head says otherwise
    let v = verify(&c, Some(&head));
    assert!(!v.intact);
    assert_eq!(v.first_bad, Some(entries - 1));
    assert!(
        v.problem.as_deref().unwrap().contains("tail was cut"),
        "{v:?}"
    );
    assert!(v.human().contains("BROKEN"));
}

#[test]
fn a_recomputed_chain_is_detected_against_the_head() {
    let (f, head, _) = history();
    let c = tamperable(&f, "recomputed.db");
    // change the import's record count, then recompute every hash from there on
    let seq: i64 = c
        .query_row("SELECT seq FROM audit WHERE kind = 'import'", [], |r| {
            r.get(0)
        })
        .unwrap();
    c.execute(
        "UPDATE audit SET details = json_set(details, '$.records', 4) WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    assert_eq!(
        verify(&c, None).first_bad,
        Some(seq),
        "caught before recomputing"
    );
    recompute(&c, seq);
    let alone = verify(&c, None);
    assert!(
        alone.intact,
        "the recomputed chain is consistent: {}",
        alone.human()
    );
    assert_ne!(alone.head, head);
    let v = verify(&c, Some(&head));
    assert!(!v.intact, "{}", v.human());
    assert!(
        v.problem.as_deref().unwrap().contains("recomputed"),
        "{v:?}"
    );
    // the untouched state still matches the head
    let orig = Connection::open(f.path(".polc/state.db")).unwrap();
    assert!(verify(&orig, Some(&head)).intact);
}

#[test]
fn a_change_after_the_head_is_found_by_the_chain() {
    // the head commits to the entries up to it; later ones are checked for consistency
    let (f, head, entries) = history();
    {
        let mut p = f.open();
        p.pull(None).unwrap();
    }
    let c = tamperable(&f, "later.db");
    c.execute(
        "UPDATE audit SET actor = 'mallory' WHERE seq = ?1",
        [entries + 1],
    )
    .unwrap();
    let v = verify(&c, Some(&head));
    assert!(!v.intact);
    assert_eq!(v.first_bad, Some(entries + 1));
}
