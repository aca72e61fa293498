//! `polc test`: runs the bundle's `test` items (docs/language.md §11) through the interpreter and
//! reports which policies no test made apply.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use super::Plan;
use crate::ir::{self, Value};

#[derive(Serialize, Debug, Clone)]
pub struct TestOutcome {
    pub name: String,
    pub passed: bool,
    pub failures: Vec<String>,
}

#[derive(Serialize, Debug, Clone)]
pub struct TestReport {
    pub tests: Vec<TestOutcome>,
    pub passed: usize,
    pub failed: usize,
    /// Policies (not templates) that applied directly in at least one test.
    pub covered: Vec<String>,
    /// Policies no test made apply.
    pub uncovered: Vec<String>,
}

/// The record of a test's `given`, aligned with `fields`; missing required fields are
/// reported as failures.
fn record(
    bundle: &ir::Bundle,
    t: &ir::Test,
    fields: &[String],
) -> (Vec<Option<Value>>, Vec<String>) {
    let mut failures = Vec::new();
    let values: Vec<Option<Value>> = fields
        .iter()
        .map(|f| t.given.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone()))
        .collect();
    if let Some(schema) = &bundle.schema {
        for f in &schema.fields {
            if !f.optional && !t.given.iter().any(|(k, _)| *k == f.name) {
                failures.push(format!(
                    "the `given` record lacks the required field `{}`",
                    f.name
                ));
            }
        }
    }
    (values, failures)
}

/// Runs every test; `default_at` is the date of tests without `at`.
pub fn run_tests(bundle: &Arc<ir::Bundle>, default_at: NaiveDate) -> TestReport {
    let fields: Vec<String> = match &bundle.schema {
        Some(s) => s.fields.iter().map(|f| f.name.clone()).collect(),
        None => {
            let mut seen: Vec<String> = Vec::new();
            for t in &bundle.tests {
                for (k, _) in &t.given {
                    if !seen.contains(k) {
                        seen.push(k.clone());
                    }
                }
            }
            seen
        }
    };
    let key = bundle.schema.as_ref().map_or("user_id", |s| s.key.as_str());
    let mut plans: Vec<(NaiveDate, Plan)> = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    let mut tests = Vec::new();
    for t in &bundle.tests {
        let at = t.at.unwrap_or(default_at);
        if !plans.iter().any(|(d, _)| *d == at) {
            plans.push((at, Plan::new(bundle.clone(), &fields, at)));
        }
        let plan = &mut plans
            .iter_mut()
            .find(|(d, _)| *d == at)
            .expect("plan for the date")
            .1;
        let (values, mut failures) = record(bundle, t, &fields);
        let id = match t.given.iter().find(|(k, _)| k == key) {
            Some((_, Value::Str(s))) => s.clone(),
            _ => String::new(),
        };
        let e = plan.evaluate(&id, &values);
        let applied: Vec<String> = e
            .policies
            .iter()
            .map(|&p| bundle.policy(p).name.clone())
            .collect();
        covered.extend(applied.iter().cloned());
        if let Some(expected) = &t.expect_policies {
            let mut want = expected.clone();
            want.sort();
            if want != applied {
                failures.push(format!("expected policies {want:?}, but {applied:?} apply"));
            }
        }
        for g in &t.expect_grants {
            let ent = plan.intern(&g.entitlement);
            let held = e.grant(ent).map(|h| h.level);
            let want = g
                .level
                .and_then(|l| plan.level_name(ent, Some(l)))
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            let held_text = |lvl: Option<u8>| {
                plan.level_name(ent, lvl)
                    .map(|l| format!(" at `{l}`"))
                    .unwrap_or_default()
            };
            match (g.negated, held) {
                (false, None) => {
                    let why = match e.denied.iter().find(|d| d.ent == ent) {
                        Some(d) => format!(" (denied by {})", plan.path_text(d.by)),
                        None => String::new(),
                    };
                    failures.push(format!(
                        "expected grant {}{want}, but it is not held{why}",
                        g.text
                    ));
                }
                (false, Some(lvl)) if g.level.is_some() && lvl != g.level => {
                    failures.push(format!(
                        "expected grant {}{want}, but it is held{}",
                        g.text,
                        held_text(lvl)
                    ));
                }
                (true, Some(lvl)) if g.level.is_none() || lvl == g.level => {
                    failures.push(format!(
                        "expected no grant {}{want}, but it is held{}",
                        g.text,
                        held_text(lvl)
                    ));
                }
                _ => {}
            }
        }
        tests.push(TestOutcome {
            name: t.name.clone(),
            passed: failures.is_empty(),
            failures,
        });
    }
    let all: Vec<String> = bundle
        .policies
        .iter()
        .filter(|p| !p.template)
        .map(|p| p.name.clone())
        .collect();
    let uncovered = all
        .iter()
        .filter(|p| !covered.contains(*p))
        .cloned()
        .collect();
    let passed = tests.iter().filter(|t| t.passed).count();
    TestReport {
        failed: tests.len() - passed,
        passed,
        tests,
        covered: covered.into_iter().collect(),
        uncovered,
    }
}

/// The report as a terminal shows it; the last line is `N passed, N failed`.
pub fn human(r: &TestReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for t in &r.tests {
        let _ = writeln!(
            out,
            "test \"{}\" ... {}",
            t.name,
            if t.passed { "ok" } else { "FAILED" }
        );
        for f in &t.failures {
            let _ = writeln!(out, "    {f}");
        }
    }
    let total = r.covered.len() + r.uncovered.len();
    if r.uncovered.is_empty() {
        let _ = writeln!(out, "coverage: every policy ({total}) applies in some test");
    } else {
        let names: Vec<String> = r.uncovered.iter().map(|n| format!("\"{n}\"")).collect();
        let _ = writeln!(
            out,
            "coverage: {} of {total} policies apply in some test; never: {}",
            r.covered.len(),
            names.join(", ")
        );
    }
    let _ = writeln!(out, "{} passed, {} failed", r.passed, r.failed);
    out
}
