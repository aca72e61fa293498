//! Properties of the lifecycle and reconciliation on random people of the seed organisation:
//! a delta applied to the before-state gives the after-state, and the drift of expected
//! access against itself is empty.

use std::sync::Arc;

use chrono::NaiveDate;
use polc::eval::{Evaluation, Plan};
use polc::ir::Value;
use polc::lifecycle::delta::{delta, Action};
use proptest::prelude::*;
use rustc_hash::FxHashMap;

fn seed() -> Arc<polc::ir::Bundle> {
    let root = std::path::Path::new(root!()).join("examples/seed/policies");
    let loaded = polc::db::Loaded::from_paths(&[root]).unwrap();
    polc::check::check_bundle(&loaded.db, loaded.workspace)
        .bundle
        .clone()
}

const TITLES: &[&str] = &[
    "Sales Engineer",
    "Senior Sales Engineer",
    "Solutions Architect",
    "Accountant",
];
const DEPTS: &[&str] = &["Sales", "Engineering", "Finance"];
const TYPES: &[&str] = &["FTE", "Contractor", "Intern"];
const STATUS: &[&str] = &["Active", "Active", "Inactive", "Leave"];

fn person() -> impl Strategy<Value = [usize; 4]> {
    [
        0..TITLES.len(),
        0..DEPTS.len(),
        0..TYPES.len(),
        0..STATUS.len(),
    ]
}

fn values(fields: &[String], id: &str, p: [usize; 4]) -> Vec<Option<Value>> {
    let pairs = [
        ("user_id", id),
        ("job_title", TITLES[p[0]]),
        ("department", DEPTS[p[1]]),
        ("employment_type", TYPES[p[2]]),
        ("employment_status", STATUS[p[3]]),
    ];
    fields
        .iter()
        .map(|f| {
            pairs
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| Value::Str(v.to_string()))
        })
        .collect()
}

/// The seed's bundle, its schema's fields, a plan on 2024-06-01 + `day`, and one record per
/// person (`u0`, `u1`, …).
fn population(
    people: &[[usize; 4]],
    day: i64,
) -> (
    Arc<polc::ir::Bundle>,
    Vec<String>,
    Plan,
    Vec<polc::input::UserRecord>,
) {
    let bundle = seed();
    let fields: Vec<String> = bundle
        .schema
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let at = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap() + chrono::Duration::days(day);
    let plan = Plan::new(bundle.clone(), &fields, at);
    let records = people
        .iter()
        .enumerate()
        .map(|(i, p)| polc::input::UserRecord {
            id: format!("u{i}"),
            index: i,
            line: i + 1,
            values: values(&fields, &format!("u{i}"), *p),
        })
        .collect();
    (bundle, fields, plan, records)
}

fn grant_set(e: &Evaluation) -> FxHashMap<polc::eval::EntId, Option<u8>> {
    e.grants.iter().map(|g| (g.ent, g.level)).collect()
}

/// A writer that keeps each write apart, to see how a report is written.
#[derive(Default)]
struct Writes {
    chunks: Vec<String>,
}

impl std::io::Write for Writes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunks.push(String::from_utf8(buf.to_vec()).unwrap());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_delta_applied_to_before_gives_after(a in person(), b in person(), day in 0i64..900) {
        let bundle = seed();
        let fields: Vec<String> = bundle.schema.as_ref().unwrap().fields.iter().map(|f| f.name.clone()).collect();
        let at = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap() + chrono::Duration::days(day);
        let plan = Plan::new(bundle, &fields, at);
        // sarah.chen has an exception: it must survive the round trip too
        let before = plan.evaluate("sarah.chen", &values(&fields, "sarah.chen", a));
        let after = plan.evaluate("sarah.chen", &values(&fields, "sarah.chen", b));
        let leaver = after.failed_require.is_some();
        let changes = delta(&plan, Some(&before), &after, at, leaver);
        let mut state = grant_set(&before);
        for c in &changes {
            match c.action {
                Action::Add => { prop_assert!(state.insert(c.ent, c.level).is_none()); }
                Action::Remove => {
                    prop_assert!(state.remove(&c.ent).is_some());
                    prop_assert!(c.not_before.unwrap() >= at);
                    if leaver { prop_assert_eq!(c.not_before.unwrap(), at); }
                }
                Action::Modify => { prop_assert_eq!(state.insert(c.ent, c.level), Some(c.from)); }
                Action::Keep => { prop_assert_eq!(state.get(&c.ent), Some(&c.level)); }
            }
        }
        prop_assert_eq!(state, grant_set(&after));
    }

    #[test]
    fn the_drift_of_expected_access_against_itself_is_empty(people in proptest::collection::vec(person(), 1..12), day in 0i64..900) {
        let (_, fields, mut plan, records) = population(&people, day);
        // Expected access (policy alone) written as an access export.
        let mut export = serde_json::Map::new();
        for r in &records {
            let e = plan.evaluate(&r.id, &r.values);
            let (exp, _) = polc::reconcile::drift::expected(&e);
            let entries: Vec<serde_json::Value> = exp
                .iter()
                .map(|(ent, l)| {
                    let text = &plan.ent_text[*ent];
                    serde_json::Value::String(match plan.level_name(*ent, *l) { Some(l) => format!("{text} ({l})"), None => text.clone() })
                })
                .collect();
            export.insert(r.id.clone(), serde_json::Value::Array(entries));
        }
        let text = serde_json::Value::Object(export).to_string();
        let access = polc::reconcile::access::parse_access(&text, "expected.json", "json", &mut plan).unwrap();
        let users = polc::input::Users { fields: fields.clone(), key: "user_id".into(), records, errors: vec![] };
        let report = polc::reconcile::drift::drift(&plan, &users, &access);
        let s = &report.summary;
        prop_assert_eq!(s.excess + s.missing + s.level_mismatch + s.excepted, 0);
        prop_assert_eq!(s.covered, s.current_entries);
        prop_assert_eq!(s.coverage_percent, 100.0);
    }

    #[test]
    fn drift_classifies_every_entry_once_and_its_summary_agrees(
        people in proptest::collection::vec(person(), 1..10),
        picks in proptest::collection::vec(proptest::collection::vec(0usize..10_000, 0..12), 12),
        day in 0i64..900,
    ) {
        let (bundle, fields, mut plan, records) = population(&people, day);
        // A pool of grant texts (everyone's expected access, every level), from which each
        // account (users, then two orphans) picks some, repeats included.
        let mut pool: Vec<String> = Vec::new();
        for r in &records {
            let e = plan.evaluate(&r.id, &r.values);
            for g in &e.grants {
                let text = &plan.ent_text[g.ent];
                let levels = &bundle.rtype(&plan.ents[g.ent]).levels;
                if levels.is_empty() {
                    pool.push(text.clone());
                }
                for l in levels {
                    pool.push(format!("{text} ({})", l));
                }
            }
        }
        pool.sort();
        pool.dedup();
        // an orphan's id that must not reach a terminal or a spreadsheet as it is
        let ids: Vec<String> = (0..records.len()).map(|i| format!("u{i}")).chain(["old1".into(), "old\n=2\u{1b}[31m\u{202e}".into()]).collect();
        let mut export = Vec::new();
        let mut distinct = std::collections::BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            let chosen: Vec<&str> = if pool.is_empty() { vec![] } else { picks[i].iter().map(|&k| pool[k % pool.len()].as_str()).collect() };
            // listed twice (at any level), an entitlement is one entry
            distinct.extend(chosen.iter().map(|g| (id.clone(), g.split(" (").next().unwrap().to_string())));
            export.push(format!("{}: {}", serde_json::to_string(id).unwrap(), serde_json::to_string(&chosen).unwrap()));
        }
        let text = format!("{{{}}}", export.join(","));
        let access = polc::reconcile::access::parse_access(&text, "a.json", "json", &mut plan).unwrap();
        let users = polc::input::Users { fields: fields.clone(), key: "user_id".into(), records, errors: vec![] };
        let report = polc::reconcile::drift::drift(&plan, &users, &access);
        let summary = polc::reconcile::drift::summary(&plan, &users, &access);
        prop_assert_eq!(&summary, &report.summary);
        prop_assert_eq!(summary.current_entries, access.entries.len());
        prop_assert_eq!(access.entries.len(), distinct.len());
        prop_assert_eq!(summary.users, report.users.len());
        for u in &report.users {
            let held = access.held_by(&u.user_id).len();
            let current = u.findings.iter().filter(|f| !matches!(f, polc::reconcile::drift::Finding::Missing { .. })).count();
            prop_assert_eq!(current, held, "user {}", u.user_id);
            prop_assert_eq!(u.orphaned, u.user_id.starts_with("old"));
        }
        // The streamed JSON and CSV are byte for byte the whole report's.
        let whole = serde_json::to_string_pretty(&polc::reconcile::report::json(&plan, &report)).unwrap();
        let mut streamed = Vec::new();
        let s2 = polc::reconcile::report::write_json(&plan, &users, &access, &mut streamed).unwrap();
        prop_assert_eq!(String::from_utf8(streamed).unwrap(), whole);
        prop_assert_eq!(&s2, &report.summary);
        let mut csv = Vec::new();
        polc::reconcile::report::write_csv(&plan, &users, &access, &mut csv).unwrap();
        prop_assert_eq!(String::from_utf8(csv).unwrap(), polc::reconcile::report::csv(&plan, &report));
        // So is the human one, which `polc drift` escaped whole for the terminal before.
        let mut human = Writes::default();
        let s3 = polc::reconcile::report::write_human(&plan, &users, &access, &mut human).unwrap();
        prop_assert_eq!(&s3, &report.summary);
        let whole = polc::text::terminal_lines(&polc::reconcile::report::human(&plan, &report)).into_owned();
        prop_assert_eq!(human.chunks.concat(), whole);
        // The remediation plan, streamed from a count of its head, is byte for byte the one
        // made from the whole report, as JSON and for people.
        let whole_plan = polc::reconcile::remediate::remediate(&plan, &report);
        let head = polc::reconcile::remediate::head(&plan, &users, &access);
        let mut streamed = Vec::new();
        polc::reconcile::remediate::write_json(&plan, &users, &access, &head, &mut streamed).unwrap();
        prop_assert_eq!(String::from_utf8(streamed).unwrap(), serde_json::to_string_pretty(&whole_plan).unwrap());
        let mut streamed = Vec::new();
        polc::reconcile::remediate::write_human(&plan, &users, &access, &head, &mut streamed).unwrap();
        let whole = polc::text::terminal_lines(&polc::reconcile::remediate::human(&whole_plan)).into_owned();
        prop_assert_eq!(String::from_utf8(streamed).unwrap(), whole);
        // It is written as it is made: the header, then one write per user with findings.
        let shown: Vec<_> = report.users.iter().filter(|u| u.has_findings()).collect();
        prop_assert_eq!(human.chunks.len(), 1 + shown.len());
        prop_assert!(human.chunks[0].starts_with("Drift Report (as of "));
        for (chunk, u) in human.chunks[1..].iter().zip(shown) {
            let head = format!("\n{}", polc::text::terminal(&u.user_id));
            prop_assert!(chunk.starts_with(&head), "{:?} for {:?}", chunk, u.user_id);
        }
    }
}
