//! The HR sample export (examples/hr-sample/hr-sample-1000.csv, MIT) through the shipped
//! mapping (examples/hr-sample/mapping.toml), typed by the schema of the hr-sample bundle.
//! A 20-record excerpt (same header) is also in tests/data, for the record-level tests.

use std::path::{Path, PathBuf};

use polc::input::{load_users, Mapping, Users};
use polc::ir::{Schema, Value};

const ROOT: &str = root!();
const FULL: &str = concat!(root!(), "/examples/hr-sample/hr-sample-1000.csv");

/// The schema of examples/hr-sample/policies, which must check clean (no diagnostic at all).
fn schema() -> Schema {
    let path = Path::new(ROOT).join("examples/hr-sample/policies");
    let loaded = polc::db::Loaded::from_paths(&[path]).expect("the bundle loads");
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    assert!(
        checked.diagnostics.is_empty(),
        "not clean: {:#?}",
        checked.diagnostics
    );
    checked
        .bundle
        .schema
        .clone()
        .expect("the bundle has a schema")
}

fn mapping() -> Mapping {
    Mapping::load(&Path::new(ROOT).join("examples/hr-sample/mapping.toml"))
        .expect("the mapping parses")
}

fn load(path: &Path) -> Users {
    let schema = schema();
    let mapping = mapping();
    load_users(path, Some(&schema), Some(&mapping)).unwrap_or_else(|e| panic!("{e}"))
}

fn str_of(users: &Users, id: &str, field: &str) -> Option<String> {
    let rec = users
        .records
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no user {id}"));
    users.get(rec, field).map(|v| match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    })
}

#[test]
fn excerpt_loads_every_record() {
    let users = load(&Path::new(ROOT).join("tests/data/hr-sample-excerpt.csv"));
    assert!(users.errors.is_empty(), "{:#?}", users.errors);
    assert_eq!(users.records.len(), 20);
    assert_eq!(users.key, "user_id");
    // Active, Employee, on leave: Leave and FTE.
    assert_eq!(
        str_of(&users, "EMP1783", "employment_status").as_deref(),
        Some("Leave")
    );
    assert_eq!(
        str_of(&users, "EMP1783", "employment_type").as_deref(),
        Some("FTE")
    );
    // Active, not on leave: stays Active.
    assert_eq!(
        str_of(&users, "EMP1513", "employment_status").as_deref(),
        Some("Active")
    );
    // Inactive and on leave: the rule needs Active, so still Inactive.
    assert_eq!(
        str_of(&users, "EMP1222", "employment_status").as_deref(),
        Some("Inactive")
    );
    assert_eq!(
        str_of(&users, "EMP1222", "employment_type").as_deref(),
        Some("Contractor")
    );
    // Intern passes through; an active intern on leave is on Leave.
    assert_eq!(
        str_of(&users, "EMP2000", "employment_type").as_deref(),
        Some("Intern")
    );
    assert_eq!(
        str_of(&users, "EMP2000", "employment_status").as_deref(),
        Some("Leave")
    );
    let rec = &users.records[2];
    assert_eq!((rec.id.as_str(), rec.line, rec.index), ("EMP1513", 4, 2));
    let date = users.get(rec, "start_date").cloned();
    assert_eq!(
        date,
        Some(Value::Date(
            chrono::NaiveDate::from_ymd_opt(2010, 7, 10).unwrap()
        ))
    );
    assert_eq!(
        str_of(&users, "EMP1513", "department").as_deref(),
        Some("Product Engineering")
    );
    assert_eq!(
        str_of(&users, "EMP1513", "job_title").as_deref(),
        Some("Project Manager")
    );
    assert_eq!(
        str_of(&users, "EMP1513", "division").as_deref(),
        Some("Food")
    );
    assert_eq!(str_of(&users, "EMP1513", "country").as_deref(), Some("UK"));
    // Unmapped attributes are absent.
    assert_eq!(str_of(&users, "EMP1513", "email"), None);
    assert_eq!(str_of(&users, "EMP1513", "team"), None);
}

#[test]
fn full_sample() {
    let path = PathBuf::from(FULL);
    let users = load(&path);
    // Every input row is accounted for.
    assert_eq!(users.records.len() + users.errors.len(), 1000);
    // The sample is synthetic: its 1,000 rows use only 624 distinct UserIDs (WorkerID is
    // no better). Each repeat is a duplicate-key error; no other record is bad.
    assert_eq!(
        users.records.len(),
        624,
        "{:#?}",
        &users.errors[..users.errors.len().min(5)]
    );
    assert_eq!(users.errors.len(), 376);
    for e in &users.errors {
        assert_eq!(e.field.as_deref(), Some("user_id"), "{e}");
        assert!(e.message.contains("duplicate user id"), "{e}");
        assert!(e.user_id.is_some(), "{e}");
    }
    let first = &users.errors[0];
    let rec = users
        .records
        .iter()
        .find(|r| Some(&r.id) == first.user_id.as_ref())
        .unwrap();
    assert!(
        rec.line < first.line && first.message.contains(&format!("line {}", rec.line)),
        "{first}"
    );
    assert_eq!(
        str_of(&users, "EMP1783", "employment_status").as_deref(),
        Some("Leave")
    );
    assert_eq!(
        str_of(&users, "EMP1783", "employment_type").as_deref(),
        Some("FTE")
    );
    assert_eq!(
        str_of(&users, "EMP1513", "employment_status").as_deref(),
        Some("Active")
    );
    let depts: std::collections::BTreeSet<String> = users
        .records
        .iter()
        .filter_map(|r| str_of(&users, &r.id, "department"))
        .collect();
    assert_eq!(
        depts.into_iter().collect::<Vec<_>>(),
        [
            "Finance",
            "Human Resources",
            "Manufacturing",
            "Product Engineering",
            "Product Marketing",
            "Sales"
        ]
    );
    let on_leave = users
        .records
        .iter()
        .filter(|r| str_of(&users, &r.id, "employment_status").as_deref() == Some("Leave"))
        .count();
    assert!(on_leave > 0);
}
