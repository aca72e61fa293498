//! Bundle tests: the interchange schema round-trips the IR exactly (the seed, a source
//! using every construct, a hand-built bundle with every IR variant) and `to_ir` refuses
//! out-of-range indices and bad text. File-level tests (tampering, signing, keys) are in
//! [`file_tests`].

mod file_tests;
mod variants;

pub(super) use variants::every_variant;

use std::path::PathBuf;

use chrono::NaiveDate;

use super::format::{from_ir, Content};
use crate::ir::{self, Duration};
use crate::syntax::lexer::DurationUnit;

/// The checked IR of sources; panics if they have errors.
pub(super) fn checked(paths: &[PathBuf]) -> ir::Bundle {
    let loaded = crate::db::Loaded::from_paths(paths).expect("load");
    let c = crate::check::check_bundle(&loaded.db, loaded.workspace);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
    (*c.bundle).clone()
}

pub(super) fn seed() -> ir::Bundle {
    checked(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/seed/policies")])
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dur(amount: u32, unit: DurationUnit) -> Duration {
    Duration { amount, unit }
}

/// Through the schema and through JSON text: both must give `b` back.
fn assert_round_trip(b: &ir::Bundle) {
    let c = from_ir(b);
    assert_eq!(c.to_ir().as_ref(), Ok(b));
    let json = serde_json::to_string(&c).unwrap();
    let back: Content = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.to_ir().as_ref(), Ok(b));
}

#[test]
fn seed_round_trips() {
    let b = seed();
    assert!(b.policies.len() >= 8 && !b.tests.is_empty() && !b.exceptions.is_empty());
    assert_round_trip(&b);
}

const RICH: &str = r#"
schema {
  user_id: string key
  job_title: string
  department: string
  employment_status: enum { Active, Inactive, "On leave" }
  start_date: date
  manager: string?
  level: int?
  tags: list<string>?
  admin: bool
}
system gitlab "GitLab" {
  grace 30d
  resource group { levels guest < reporter < developer  default reporter }
  resource project { levels guest < maintainer  grace 7d }
  resource license
}
system aws { resource role { grace 12h } }
system bare { resource r { levels a < b  default b  grace 2w } }
require employment_status == "Active" or admin == true
require not (level < 3) and department in ["x", "y"] or job_title not in [] and job_title matches "Eng*"
require days_since(start_date) >= 90 and lower(job_title) != "intern" and contains(tags, "eng") and has(manager)
require start_date < 2025-01-01 and today > 2024-06-01
require department in [job_title, "z"]
/// A template.
template "Base" { grant gitlab:license }
/// Documented.
policy "P" {
  version "2" effective 2024-01-01 expires 2030-01-01 owner "o@x" description "d"
  when department == "Eng"
  when level >= 2
  inherits "Base"
  grant gitlab:group:eng (developer) grace 3d
  grant gitlab:group:"odd name" 
  grant aws:role:"arn:aws:iam::1:role/R"
  deny bare:*
  deny gitlab:group:secret-*
}
exception "E" {
  user "u1"
  grant gitlab:project:p (maintainer)
  justification "j" approved_by "a" effective 2024-12-01 expires 2025-01-01
  ticket "SEC-1"
}
exception { user "u2" grant aws:role:r grace 3d justification "x" approved_by "y" expires 2099-01-01 }
conflict "SoD" { gitlab:group:a, gitlab:group:b* reason "r" }
conflict "No reason" { aws:role:x, bare:r }
test "t" {
  given { user_id: "u", department: "Eng", level: 3, start_date: 2024-01-02, admin: false,
          employment_status: "Active", job_title: "E", tags: ["a", "b"] }
  at 2024-06-01
  expect policies ["P"]
  expect grant gitlab:group:eng (developer)
  expect grant gitlab:license
  expect no grant bare:r
}
test "u" { given { user_id: "v" } expect no grant gitlab:group:eng }
"#;

#[test]
fn a_source_with_every_construct_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rich.pol");
    std::fs::write(&p, RICH).unwrap();
    let b = checked(&[p]);
    assert_eq!(b.requires.len(), 5);
    assert_eq!(b.exceptions.len(), 2);
    assert_eq!(b.conflicts.len(), 2);
    assert_eq!(b.tests.len(), 2);
    assert_round_trip(&b);
}

#[test]
fn every_ir_variant_round_trips() {
    assert_round_trip(&every_variant());
    assert_round_trip(&ir::Bundle::default());
}

/// The content of `every_variant` edited as JSON, then converted: the error it gives.
fn to_ir_error(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v = serde_json::to_value(from_ir(&every_variant())).unwrap();
    edit(&mut v);
    let c: Content = serde_json::from_value(v).expect("still the schema");
    c.to_ir().expect_err("must be refused").to_string()
}

#[test]
fn to_ir_refuses_bad_indices_and_text() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| v["policies"][0]["inherits"][0] = 2.into()),
            "policy 0 \"A\": inherits policy id 2 out of range (2 policies)",
        ),
        (
            Box::new(|v| v["policies"][0]["grants"][1]["entitlement"]["system"] = 7.into()),
            "policy 0 \"A\": grant 1: system id 7 out of range (2 systems)",
        ),
        (
            Box::new(|v| v["policies"][0]["grants"][0]["entitlement"]["type"] = 2.into()),
            "policy 0 \"A\": grant 0: type id 2 out of range (system `gitlab` has 2 types)",
        ),
        (
            Box::new(|v| v["policies"][0]["grants"][0]["level"] = 3.into()),
            "policy 0 \"A\": grant 0: level rank 3 out of range (the type has 3 levels)",
        ),
        (
            Box::new(|v| v["policies"][0]["grants"][1]["level"] = 0.into()),
            "policy 0 \"A\": grant 1: level rank 0 out of range (the type has 0 levels)",
        ),
        (
            Box::new(|v| v["exceptions"][0]["grants"][0]["entitlement"]["system"] = 1.into()),
            "exception 0: grant 0: type id 0 out of range (system `empty` has 0 types)",
        ),
        (
            Box::new(|v| v["tests"][0]["expect_grants"][0]["level"] = 9.into()),
            "test 0 \"t\": expect grant 0: level rank 9 out of range (the type has 3 levels)",
        ),
        (
            Box::new(|v| v["systems"][0]["types"][0]["default"] = 3.into()),
            "system 0 `gitlab`: type 0 `group`: default level rank 3 out of range (3 levels)",
        ),
        (
            Box::new(|v| v["systems"][0]["grace"] = "30x".into()),
            "system 0 `gitlab`: `30x` is not a duration (expected digits then h, d or w, as `30d`)",
        ),
        (
            Box::new(|v| v["systems"][0]["grace"] = "d".into()),
            "is not a duration",
        ),
        (
            Box::new(|v| v["systems"][0]["grace"] = "99999999999d".into()),
            "is not a duration",
        ),
        (
            Box::new(|v| v["policies"][0]["effective"] = "2024-02-30".into()),
            "policy 0 \"A\": effective: `2024-02-30` is not an ISO date",
        ),
        (
            Box::new(|v| v["exceptions"][1]["expires"] = "tomorrow".into()),
            "exception 1: expires: `tomorrow` is not an ISO date",
        ),
        (
            Box::new(|v| v["requires"][3]["cmp"]["op"] = "=~".into()),
            "require: expression 3: unknown comparison operator `=~`",
        ),
        (
            Box::new(|v| v["requires"][13]["call"]["func"] = "exec".into()),
            "require: expression 13: unknown function `exec`",
        ),
        (
            Box::new(|v| v["tests"][0]["given"][1]["value"]["date"] = "2024-1-2x".into()),
            "test 0 \"t\": f3: `2024-1-2x` is not an ISO date",
        ),
    ];
    for (edit, want) in cases {
        let got = to_ir_error(edit);
        assert!(got.contains(want), "got: {got}\nwant: {want}");
    }
}

#[test]
fn durations_and_dates_have_one_text() {
    use super::expr::{duration_text, parse_date, parse_duration};
    for (t, d) in [
        ("30d", dur(30, DurationUnit::Days)),
        ("2w", dur(2, DurationUnit::Weeks)),
        ("12h", dur(12, DurationUnit::Hours)),
    ] {
        assert_eq!(duration_text(d), t);
        assert_eq!(parse_duration(t), Ok(d));
    }
    for bad in ["", "h", "-1d", "+1d", "1.5d", "1D", "1 d", "1y"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert!(parse_date("2024-13-01").is_err());
    assert_eq!(parse_date("2024-02-29"), Ok(date("2024-02-29")));
}
