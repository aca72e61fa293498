//! One test per rule of docs/language.md §14, on small bundles written for the rule, plus the
//! seed's day-one access.

use std::sync::Arc;

use chrono::NaiveDate;
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::eval::{Evaluation, Plan};
use polc::ir::Value;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn compile(files: &[(&str, &str)]) -> Arc<polc::ir::Bundle> {
    let loaded = Loaded::from_sources(files);
    let checked = check_bundle(&loaded.db, loaded.workspace);
    // A reachable separation-of-duties conflict (E0501) is what some cases here evaluate.
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code != "E0501")
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "bundle has errors: {errors:?}");
    checked.bundle.clone()
}

const PRELUDE: &str = "import \"std/hris\"\nimport \"std/saas\"\n";

struct Run {
    plan: Plan,
    eval: Evaluation,
}

impl Run {
    fn grants(&self) -> Vec<String> {
        self.eval
            .grants
            .iter()
            .map(|g| match self.plan.level_name(g.ent, g.level) {
                Some(l) => format!("{} ({l})", self.plan.ent_text[g.ent]),
                None => self.plan.ent_text[g.ent].clone(),
            })
            .collect()
    }
    fn has(&self, text: &str) -> bool {
        self.grants()
            .iter()
            .any(|g| g == text || g.split(" (").next() == Some(text))
    }
    fn sources(&self, ent: &str) -> Vec<String> {
        let g = self
            .eval
            .grants
            .iter()
            .find(|g| self.plan.ent_text[g.ent] == ent)
            .expect("granted");
        g.sources.iter().map(|s| self.plan.source_text(s)).collect()
    }
    fn policies(&self) -> Vec<String> {
        self.eval
            .policies
            .iter()
            .map(|&p| self.plan.bundle.policy(p).name.clone())
            .collect()
    }
}

fn run(src: &str, user: &[(&str, &str)], at: &str) -> Run {
    let text = format!("{PRELUDE}{src}");
    let bundle = compile(&[("t.pol", &text)]);
    let schema = bundle.schema.clone().unwrap();
    let fields: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
    let values: Vec<Option<Value>> = fields
        .iter()
        .map(|f| {
            user.iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| match schema.field(f).unwrap().ty {
                    polc::ir::Type::Date => Value::Date(date(v)),
                    polc::ir::Type::Int => Value::Int(v.parse().unwrap()),
                    _ => Value::Str(v.to_string()),
                })
        })
        .collect();
    let id = user
        .iter()
        .find(|(k, _)| *k == "user_id")
        .map_or("u", |(_, v)| v)
        .to_string();
    let plan = Plan::new(bundle, &fields, date(at));
    let eval = plan.evaluate(&id, &values);
    Run { plan, eval }
}

const ACTIVE: (&str, &str) = ("employment_status", "Active");

#[test]
fn require_gates_every_policy_and_exception() {
    let src = r#"
require employment_status == "Active"
policy "All" { when department == "Sales" grant slack:workspace-member }
exception "E" { user "u1" grant zoom:account justification "j" approved_by "a" expires 2099-01-01 }
"#;
    let r = run(
        src,
        &[
            ("user_id", "u1"),
            ("employment_status", "Inactive"),
            ("department", "Sales"),
        ],
        "2025-01-01",
    );
    assert!(r.eval.grants.is_empty() && r.eval.policies.is_empty() && r.eval.exceptions.is_empty());
    assert_eq!(r.eval.failed_require, Some(0));
    let r = run(
        src,
        &[("user_id", "u1"), ACTIVE, ("department", "Sales")],
        "2025-01-01",
    );
    assert_eq!(r.grants(), vec!["slack:workspace-member", "zoom:account"]);
}

#[test]
fn effective_and_expires_bound_a_policy_and_what_it_brings() {
    let src = r#"
policy "P" { effective 2025-01-01 expires 2025-07-01 when department == "Sales" grant zoom:account }
"#;
    let u = [("department", "Sales"), ACTIVE];
    assert!(run(src, &u, "2024-12-31").eval.policies.is_empty());
    assert_eq!(run(src, &u, "2025-01-01").policies(), vec!["P"]);
    assert_eq!(run(src, &u, "2025-06-30").policies(), vec!["P"]);
    assert!(
        run(src, &u, "2025-07-01").eval.policies.is_empty(),
        "expires is exclusive"
    );
}

#[test]
fn an_inherited_policy_out_of_force_contributes_nothing_but_other_paths_count() {
    let src = r#"
template "Old" { expires 2025-01-01 inherits "Deep" grant zoom:account }
template "Deep" { grant okta:app:deep }
template "Other" { inherits "Deep" }
policy "P" { when department == "Sales" inherits "Old" grant okta:app:own }
policy "Q" { when department == "Sales" inherits "Old", "Other" }
"#;
    let r = run(src, &[("department", "Sales"), ACTIVE], "2025-06-01");
    assert!(!r.has("zoom:account"), "Old is out of force");
    assert!(r.has("okta:app:own"));
    // Deep is reached only through Old from P, but through Other from Q.
    assert_eq!(r.sources("okta:app:deep"), vec!["Q > Other > Deep"]);
    let r = run(src, &[("department", "Sales"), ACTIVE], "2024-06-01");
    assert_eq!(
        r.sources("okta:app:deep"),
        vec!["P > Old > Deep", "Q > Old > Deep", "Q > Other > Deep"]
    );
}

#[test]
fn inheritance_is_transitive_whatever_the_inherited_triggers_say() {
    let src = r#"
policy "Engineers" { when department == "Engineering" grant github:org:acme inherits "Tools" }
template "Tools" { grant jira:project:ENG }
policy "Leads" { when job_title == "Lead" inherits "Engineers" }
"#;
    let r = run(
        src,
        &[("department", "Sales"), ("job_title", "Lead"), ACTIVE],
        "2025-06-01",
    );
    assert_eq!(
        r.policies(),
        vec!["Leads"],
        "Engineers does not apply directly"
    );
    assert!(r.has("github:org:acme") && r.has("jira:project:ENG"));
    assert_eq!(
        r.sources("jira:project:ENG"),
        vec!["Leads > Engineers > Tools"]
    );
}

#[test]
fn levels_merge_to_the_highest_and_keep_every_source() {
    let src = r#"
policy "A" { when department == "Eng" grant gitlab:group:web (reporter) }
policy "B" { when job_title == "Dev" grant gitlab:group:web (maintainer) }
policy "C" { when job_title == "Dev" grant gitlab:group:web (Developer) }
"#;
    let r = run(
        src,
        &[("department", "Eng"), ("job_title", "Dev"), ACTIVE],
        "2025-06-01",
    );
    assert_eq!(r.grants(), vec!["gitlab:group:web (maintainer)"]);
    assert_eq!(r.sources("gitlab:group:web"), vec!["A", "B", "C"]);
}

#[test]
fn a_missing_level_means_the_default_or_the_lowest() {
    let src = r#"
policy "A" { when department == "Eng" grant slack:channel:#eng grant gitlab:group:web grant zoom:account }
"#;
    let r = run(src, &[("department", "Eng"), ACTIVE], "2025-06-01");
    assert_eq!(
        r.grants(),
        vec![
            "gitlab:group:web (guest)",
            "slack:channel:#eng (member)",
            "zoom:account"
        ]
    );
}

#[test]
fn denies_remove_grants_from_every_source_exceptions_included() {
    let src = r#"
policy "Sales" { when department == "Sales" grant salesforce:user-license grant salesforce:profile:se grant slack:channel:#sales }
policy "Contractors" { when employment_type == "Contractor" deny salesforce:* }
exception "X" { user "lee" grant salesforce:permission-set:extra justification "j" approved_by "a" expires 2099-01-01 }
"#;
    let r = run(
        src,
        &[
            ("user_id", "lee"),
            ("department", "Sales"),
            ("employment_type", "Contractor"),
            ACTIVE,
        ],
        "2025-06-01",
    );
    assert_eq!(r.grants(), vec!["slack:channel:#sales (member)"]);
    let denied: Vec<&str> = r
        .eval
        .denied
        .iter()
        .map(|d| r.plan.ent_text[d.ent].as_str())
        .collect();
    assert_eq!(
        denied,
        vec![
            "salesforce:permission-set:extra",
            "salesforce:profile:se",
            "salesforce:user-license"
        ]
    );
    assert!(r
        .eval
        .denied
        .iter()
        .all(|d| r.plan.path_text[d.by] == "Contractors"));
    // patterns match per segment
    let src2 = r#"policy "P" { when department == "x" grant github:org:acme-web grant github:org:other deny github:org:acme-* }"#;
    let r = run(src2, &[("department", "x"), ACTIVE], "2025-06-01");
    assert_eq!(r.grants(), vec!["github:org:other (member)"]);
}

#[test]
fn exceptions_are_in_force_before_expires() {
    let src = r#"
policy "Base" { when department == "Sales" grant zoom:account }
exception "Q4" { user "sarah" grant gitlab:group:platform (developer) justification "j" approved_by "a" effective 2024-10-01 expires 2025-01-31 }
"#;
    let u = [("user_id", "sarah"), ("department", "Sales"), ACTIVE];
    assert!(run(src, &u, "2025-01-30").has("gitlab:group:platform (developer)"));
    assert!(
        !run(src, &u, "2025-01-31").has("gitlab:group:platform"),
        "not in force on its expiry day"
    );
    assert!(
        !run(src, &u, "2024-09-30").has("gitlab:group:platform"),
        "not before its effective day"
    );
    let r = run(src, &u, "2025-01-30");
    assert_eq!(r.sources("gitlab:group:platform"), vec!["exception \"Q4\""]);
    // someone else never gets it
    assert!(!run(
        src,
        &[("user_id", "bob"), ("department", "Sales"), ACTIVE],
        "2025-01-30"
    )
    .has("gitlab:group:platform"));
}

#[test]
fn an_absent_optional_attribute_makes_comparisons_false() {
    let src = r#"
policy "HasManager" { when manager != "nobody" grant zoom:account }
policy "NoManager" { when not (manager == "x") grant okta:app:a }
policy "Remote" { when location in ["Remote"] or location matches "R*" grant okta:app:b }
"#;
    let r = run(src, &[ACTIVE], "2025-06-01");
    assert_eq!(r.policies(), vec!["NoManager"]);
    let r = run(
        src,
        &[ACTIVE, ("manager", "alice"), ("location", "Rome")],
        "2025-06-01",
    );
    assert_eq!(r.policies(), vec!["HasManager", "NoManager", "Remote"]);
}

#[test]
fn today_and_days_since_are_relative_to_the_evaluation_date() {
    let src = r#"
policy "New Joiners" { when days_since(start_date) < 30 grant okta:app:onboarding }
policy "Started" { when start_date <= today grant zoom:account }
"#;
    let u = [ACTIVE, ("start_date", "2025-06-01")];
    // before the start date, days_since is negative
    assert_eq!(run(src, &u, "2025-05-31").policies(), vec!["New Joiners"]);
    assert_eq!(
        run(src, &u, "2025-06-01").policies(),
        vec!["New Joiners", "Started"]
    );
    assert_eq!(
        run(src, &u, "2025-06-30").policies(),
        vec!["New Joiners", "Started"]
    );
    assert_eq!(run(src, &u, "2025-07-01").policies(), vec!["Started"]);
}

#[test]
fn a_policy_reached_twice_counts_once_with_both_paths() {
    let src = r#"
template "Base" { grant zoom:account }
policy "A" { when department == "x" inherits "Base" }
policy "B" { when department == "x" inherits "Base", "A" }
"#;
    let r = run(src, &[("department", "x"), ACTIVE], "2025-06-01");
    assert_eq!(r.grants(), vec!["zoom:account"]);
    assert_eq!(
        r.sources("zoom:account"),
        vec!["A > Base", "B > A > Base", "B > Base"]
    );
}

#[test]
fn conflicts_are_reported_as_violations() {
    let src = r#"
system netsuite { resource role }
policy "Clerks" { when department == "Finance" grant netsuite:role:ap-clerk }
policy "Approvers" { when job_title == "Controller" grant netsuite:role:ap-approver }
conflict "Payables SoD" { netsuite:role:ap-clerk, netsuite:role:ap-approver reason "no" }
"#;
    let r = run(
        src,
        &[
            ("department", "Finance"),
            ("job_title", "Controller"),
            ACTIVE,
        ],
        "2025-06-01",
    );
    assert_eq!(r.eval.violations.len(), 1);
    let grants: Vec<&str> = r.eval.violations[0]
        .ents
        .iter()
        .map(|&e| r.plan.ent_text[e].as_str())
        .collect();
    assert_eq!(
        grants,
        vec!["netsuite:role:ap-approver", "netsuite:role:ap-clerk"]
    );
    let r = run(src, &[("department", "Finance"), ACTIVE], "2025-06-01");
    assert!(r.eval.violations.is_empty());
}

fn seed() -> Arc<polc::ir::Bundle> {
    let root = std::path::Path::new(root!()).join("examples/seed/policies");
    let loaded = Loaded::from_paths(&[root]).unwrap();
    let checked = check_bundle(&loaded.db, loaded.workspace);
    assert!(!checked.has_errors());
    checked.bundle.clone()
}

#[test]
fn seed_day_one_sixteen_entitlements_seventeen_with_the_exception() {
    let bundle = seed();
    let fields: Vec<String> = bundle
        .schema
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let sarah = [
        ("user_id", "sarah.chen"),
        ("job_title", "Sales Engineer"),
        ("department", "Sales"),
        ("employment_type", "FTE"),
        ("employment_status", "Active"),
    ];
    let values: Vec<Option<Value>> = fields
        .iter()
        .map(|f| {
            sarah
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| Value::Str(v.to_string()))
        })
        .collect();
    let plan = Plan::new(bundle.clone(), &fields, date("2024-11-24"));
    let e = plan.evaluate("sarah.chen", &values);
    let names: Vec<&str> = e
        .policies
        .iter()
        .map(|&p| bundle.policy(p).name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "Base Employee Access",
            "Sales Engineer Access",
            "Sales Team Access"
        ]
    );
    assert_eq!(e.grants.len(), 17);
    let from_policy = e
        .grants
        .iter()
        .filter(|g| {
            g.sources
                .iter()
                .any(|s| matches!(s.kind, polc::eval::SourceKind::Path(_)))
        })
        .count();
    assert_eq!(from_policy, 16);
    // After the exception expires: 16.
    let plan = Plan::new(bundle, &fields, date("2025-01-31"));
    assert_eq!(plan.evaluate("sarah.chen", &values).grants.len(), 16);
}

#[test]
fn grants_policies_and_sources_are_sorted_by_their_text() {
    // Declared out of order; sources mix paths and an exception.
    let src = r#"
template "Zeta Base" { grant slack:channel:#all }
policy "Zulu" { inherits "Zeta Base" when department == "Eng" grant zoom:account grant gitlab:group:web (reporter) }
policy "Alpha" { when department == "Eng" grant slack:channel:#all grant gitlab:group:api }
policy "Mike" { inherits "Zeta Base" when department == "Eng" grant gitlab:group:web (maintainer) }
exception "Early" { user "u1" grant slack:channel:#all justification "j" approved_by "a" expires 2099-01-01 }
"#;
    let mut r = run(
        src,
        &[("user_id", "u1"), ("department", "Eng"), ACTIVE],
        "2025-06-01",
    );
    assert_eq!(r.policies(), vec!["Alpha", "Mike", "Zulu"]);
    assert_eq!(
        r.grants(),
        vec![
            "gitlab:group:api (guest)",
            "gitlab:group:web (maintainer)",
            "slack:channel:#all (member)",
            "zoom:account"
        ]
    );
    assert_eq!(
        r.sources("slack:channel:#all"),
        vec![
            "Alpha",
            "Mike > Zeta Base",
            "Zulu > Zeta Base",
            "exception \"Early\""
        ]
    );
    // Entitlements interned after the plan was built (as access exports do) sort by text
    // among the others.
    let late = |r: &mut Run, text: &str| {
        let (ent, _) = r.plan.resolve_ref(text).unwrap();
        ent
    };
    let b = late(&mut r, "gitlab:group:b-late");
    let a = late(&mut r, "aws:account:late");
    let z = late(&mut r, "slack:channel:#zz-late");
    let mut all: Vec<polc::eval::EntId> = r.eval.grants.iter().map(|g| g.ent).collect();
    all.extend([b, a, z]);
    all.sort_by(|&x, &y| r.plan.cmp_ents(x, y));
    let texts: Vec<&str> = all.iter().map(|&e| r.plan.ent_text[e].as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "aws:account:late",
            "gitlab:group:api",
            "gitlab:group:b-late",
            "gitlab:group:web",
            "slack:channel:#all",
            "slack:channel:#zz-late",
            "zoom:account"
        ]
    );
}
