//! The comparison on small bundles written inline.

use std::sync::Arc;

use chrono::NaiveDate;

use super::*;
use crate::input::{self, Users};
use crate::ir;

const HEAD: &str = "import \"std/hris\"\nimport \"std/saas\"\n";

fn bundle(files: &[(&str, &str)]) -> Arc<ir::Bundle> {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), format!("{HEAD}{t}")))
        .collect();
    let refs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let loaded = crate::db::Loaded::from_sources(&refs);
    let checked = crate::check::check_bundle(&loaded.db, loaded.workspace);
    let errors: Vec<String> = checked
        .blocking_errors()
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    checked.bundle.clone()
}

fn users(b: &ir::Bundle, json: &str) -> Users {
    input::parse_users(
        json,
        "users.json",
        input::Format::Json,
        b.schema.as_ref(),
        None,
    )
    .unwrap()
}

const PEOPLE: &str = r#"[
  {"user_id": "ann", "employment_status": "Active", "department": "Sales", "job_title": "Rep", "employment_type": "FTE"},
  {"user_id": "bob", "employment_status": "Active", "department": "Eng", "job_title": "Dev", "employment_type": "Contractor"},
  {"user_id": "cat", "employment_status": "Active", "department": "Sales", "job_title": "Lead", "employment_type": "FTE"},
  {"user_id": "dan", "employment_status": "Inactive", "department": "Sales", "job_title": "Rep"}
]"#;

const OLD: &str = r#"
require employment_status == "Active"
policy "Base" { when employment_status == "Active" grant slack:workspace-member grant google:workspace-account }
policy "Sales" { when department == "Sales" inherits "Base" grant salesforce:user-license grant gitlab:group:sales (reporter) grant slack:channel:#sales }
policy "Eng" { when department == "Eng" grant github:org:eng (member) grant gitlab:group:eng (developer) }
"#;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn run(old: &str, new: &str, people: &str) -> Impact {
    run_files(&[("p.pol", old)], &[("p.pol", new)], people, None)
}

fn run_files(
    old: &[(&str, &str)],
    new: &[(&str, &str)],
    people: &str,
    access: Option<&str>,
) -> Impact {
    let (ob, nb) = (bundle(old), bundle(new));
    let (ou, nu) = (users(&ob, people), users(&nb, people));
    let mut op = Plan::new(ob, &ou.fields, day());
    let mut np = Plan::new(nb, &nu.fields, day());
    let (oa, na) = match access {
        Some(text) => (
            Some(super::super::access::parse_access(text, "a.json", "json", &mut op).unwrap()),
            Some(super::super::access::parse_access(text, "a.json", "json", &mut np).unwrap()),
        ),
        None => (None, None),
    };
    compare(
        &Side {
            plan: &op,
            users: &ou,
            access: oa.as_ref(),
        },
        &Side {
            plan: &np,
            users: &nu,
            access: na.as_ref(),
        },
        access.is_some(),
    )
}

fn user<'a>(x: &'a Impact, id: &str) -> &'a UserImpact {
    x.users
        .iter()
        .find(|u| u.user_id == id)
        .unwrap_or_else(|| panic!("no change for {id}"))
}

#[test]
fn identical_bundles_change_nothing() {
    let x = run(OLD, OLD, PEOPLE);
    assert!(x.users.is_empty());
    assert!(x.grants.is_empty());
    assert!(x.policies.is_empty());
    assert!(x.bundle_changes.is_empty());
    assert_eq!(x.summary.users, 4);
    assert_eq!(
        x.headline,
        "No change in access: all 4 people evaluated get the same access under both bundles"
    );
    assert!(!x.has_loss() && !x.has_new_violation());
}

#[test]
fn entitlements_compare_by_text_not_by_interned_id() {
    // Other file order and other grant order: every id differs, nothing changes.
    let a = r#"policy "A" { when department == "Sales" grant zoom:account grant okta:app:crm grant gitlab:group:x (developer) }"#;
    let b = r#"policy "B" { when department == "Eng" grant gitlab:group:x (reporter) grant okta:app:crm }"#;
    let b2 = r#"policy "B" { when department == "Eng" grant okta:app:crm grant gitlab:group:x (reporter) }"#;
    let a2 = r#"policy "A" { when department == "Sales" grant gitlab:group:x (developer) grant okta:app:crm grant zoom:account }"#;
    let x = run_files(
        &[("a.pol", a), ("b.pol", b)],
        &[("b.pol", b2), ("c.pol", a2)],
        PEOPLE,
        None,
    );
    assert!(x.users.is_empty(), "{:#?}", x.users);
    assert!(x.policies.is_empty(), "{:#?}", x.policies);
}

#[test]
fn gains_losses_and_level_changes_with_their_sources() {
    let new = r#"
require employment_status == "Active"
policy "Base" { when employment_status == "Active" grant slack:workspace-member grant google:workspace-account }
policy "Sales" { when department == "Sales" inherits "Base" grant salesforce:user-license grant gitlab:group:sales (developer) grant jira:project:S (contributor) }
policy "Eng" { when department == "Eng" grant github:org:eng (member) grant gitlab:group:eng (reporter) }
"#;
    let x = run(OLD, new, PEOPLE);
    let ann = user(&x, "ann");
    assert_eq!(ann.gains.len(), 1);
    assert_eq!(ann.gains[0].grant, "jira:project:S");
    assert_eq!(ann.gains[0].level.as_deref(), Some("contributor"));
    assert_eq!(ann.gains[0].sources, ["Sales"]);
    assert_eq!(ann.gains[0].current, None);
    assert_eq!(ann.losses.len(), 1);
    assert_eq!(ann.losses[0].grant, "slack:channel:#sales");
    assert_eq!(ann.losses[0].level.as_deref(), Some("member"));
    assert_eq!(ann.losses[0].sources, ["Sales"]);
    assert_eq!(ann.level_changes.len(), 1);
    let l = &ann.level_changes[0];
    assert_eq!(
        (
            l.grant.as_str(),
            l.from.as_deref(),
            l.to.as_deref(),
            l.direction
        ),
        (
            "gitlab:group:sales",
            Some("reporter"),
            Some("developer"),
            Direction::Up
        )
    );
    let bob = user(&x, "bob");
    assert_eq!(bob.level_changes[0].direction, Direction::Down);
    assert!(bob.gains.is_empty() && bob.losses.is_empty());
    assert!(!bob.loses_everything);
    // dan fails the require under both: unchanged, not listed.
    assert!(x.users.iter().all(|u| u.user_id != "dan"));

    let s = &x.summary;
    assert_eq!((s.people_gaining, s.gains), (2, 2));
    assert_eq!((s.people_losing, s.losses), (2, 2));
    assert_eq!((s.people_level_changed, s.level_changes), (3, 3));
    assert_eq!((s.levels_up, s.levels_down), (2, 1));
    assert!(x.has_loss());
    assert_eq!(
        x.headline,
        "This change gives 2 people new access (2 grants), removes access from 2 people (2 grants), changes 3 levels for 3 people (2 up, 1 down)"
    );

    // Per grant, by text, users in input order.
    let texts: Vec<&str> = x.grants.iter().map(|g| g.grant.as_str()).collect();
    assert_eq!(
        texts,
        [
            "gitlab:group:eng",
            "gitlab:group:sales",
            "jira:project:S",
            "slack:channel:#sales"
        ]
    );
    let sales = &x.grants[1];
    assert_eq!(sales.level_changes, 2);
    assert_eq!(
        sales
            .level_changed
            .iter()
            .map(|m| m.user_id.as_str())
            .collect::<Vec<_>>(),
        ["ann", "cat"]
    );
    assert_eq!(x.grants[2].gained_by, ["ann", "cat"]);

    // Per policy.
    assert_eq!(x.policies.len(), 2);
    let p = &x.policies[1];
    assert_eq!(p.name, "Sales");
    assert_eq!(p.status, Status::Changed);
    assert_eq!(p.summary, "+1 grant, -1 grant, 1 level changed");
    assert_eq!(
        p.details,
        [
            "+grant jira:project:S (contributor)",
            "-grant slack:channel:#sales (member)",
            "grant gitlab:group:sales: reporter → developer"
        ]
    );
    assert_eq!((p.users_before, p.users_after), (2, 2));
    assert_eq!(x.policies[0].summary, "1 level changed");
}

#[test]
fn a_level_change_names_the_sources_of_the_new_level() {
    let new = format!(
        "{OLD}\npolicy \"Leads\" {{ when job_title == \"Lead\" grant gitlab:group:sales (maintainer) }}"
    );
    let x = run(OLD, &new, PEOPLE);
    let cat = user(&x, "cat");
    assert_eq!(cat.policies_added(), ["Leads"]);
    assert_eq!(cat.level_changes[0].sources, ["Leads"]);
    let p = x.policies.iter().find(|p| p.name == "Leads").unwrap();
    assert_eq!(p.status, Status::Added);
    assert_eq!(p.summary, "new policy");
    assert_eq!((p.users_before, p.users_after), (0, 1));
}

#[test]
fn a_require_change_takes_everything_from_those_it_excludes() {
    let new = OLD.replace(
        "require employment_status == \"Active\"",
        "require employment_status == \"Active\" and employment_type != \"Contractor\"",
    );
    let x = run(OLD, &new, PEOPLE);
    assert_eq!(x.users.len(), 1);
    let bob = user(&x, "bob");
    assert!(bob.loses_everything);
    assert_eq!(bob.losses.len(), 4);
    assert!(bob.fails_require_before.is_none());
    assert_eq!(
        bob.fails_require_after.as_deref(),
        Some("employment_status == \"Active\" and employment_type != \"Contractor\"")
    );
    assert_eq!(bob.policies_removed(), ["Base", "Eng"]);
    assert_eq!(x.summary.people_losing_everything, 1);
    assert!(x.bundle_changes[0].starts_with("require: employment_status == \"Active\" → "));
    // Unchanged policies that reach fewer people are listed; Sales, reaching the same
    // people, is not.
    let reach: Vec<(&str, Status, usize, usize)> = x
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.status, p.users_before, p.users_after))
        .collect();
    assert_eq!(
        reach,
        [
            ("Base", Status::Unchanged, 3, 2),
            ("Eng", Status::Unchanged, 1, 0)
        ]
    );
    assert_eq!(x.policies[0].summary, "reach changed");
    assert!(
        x.headline.ends_with("; 1 person loses all access"),
        "{}",
        x.headline
    );
}

#[test]
fn new_and_resolved_separation_of_duties_violations() {
    let conflict = "conflict \"SoD\" { salesforce:*, github:org:* reason \"no\" }";
    let old = format!("{OLD}\n{conflict}");
    let new = format!(
        "{}\n{conflict}",
        OLD.replace(
            "grant github:org:eng (member)",
            "grant github:org:eng (member) grant salesforce:user-license"
        )
    );
    let x = run(&old, &new, PEOPLE);
    let bob = user(&x, "bob");
    assert_eq!(bob.new_violations.len(), 1);
    assert_eq!(bob.new_violations[0].conflict, "SoD");
    assert_eq!(
        bob.new_violations[0].grants,
        ["github:org:eng", "salesforce:user-license"]
    );
    assert!(x.has_new_violation());
    assert!(x
        .headline
        .contains("creates 1 separation-of-duties violation for 1 person"));
    // And back: resolved, not new.
    let back = run(&new, &old, PEOPLE);
    assert_eq!(user(&back, "bob").resolved_violations.len(), 1);
    assert!(!back.has_new_violation());
    assert_eq!(back.summary.resolved_violations, 1);
}

#[test]
fn policy_differences_are_summarized() {
    let old = r#"
template "T" { grant zoom:account }
template "U" { grant okta:app:u }
policy "P" { when department == "Sales" inherits "T" grant gitlab:group:a (reporter) grant okta:app:b deny slack:* }
policy "Gone" { when department == "Eng" grant okta:app:g }
"#;
    let new = r#"
template "T" { grant zoom:account }
template "U" { grant okta:app:u }
policy "P" { when department == "Sales" or job_title == "Dev" inherits "U" grant gitlab:group:a (reporter) grace 7d grant okta:app:c grant okta:app:d deny slack:channel:* effective 2024-01-01 }
"#;
    let x = run(old, new, PEOPLE);
    let by = |n: &str| x.policies.iter().find(|p| p.name == n).unwrap();
    let p = by("P");
    assert_eq!(
        p.summary,
        "triggers changed, +1 inherited, -1 inherited, +2 grants, -1 grant, 1 grace changed, +1 deny, -1 deny, dates changed"
    );
    assert!(p.details.contains(
        &"when: department == \"Sales\" → department == \"Sales\" or job_title == \"Dev\""
            .to_string()
    ));
    assert!(p.details.contains(&"+inherits \"U\"".to_string()));
    assert!(p.details.contains(&"-inherits \"T\"".to_string()));
    assert!(p
        .details
        .contains(&"grant gitlab:group:a: grace none → 7d".to_string()));
    // No require here: dan counts too.
    assert_eq!((p.users_before, p.users_after), (3, 4));
    let gone = by("Gone");
    assert_eq!(
        (gone.status, gone.kind, gone.users_before, gone.users_after),
        (Status::Removed, "policy", 1, 0)
    );
    // Templates count the people they reach through inherits.
    assert_eq!((by("T").users_before, by("T").users_after), (3, 0));
    assert_eq!((by("U").users_before, by("U").users_after), (0, 4));
    assert_eq!(by("U").kind, "template");
    assert_eq!(x.summary.policies_changed, 1);
    assert_eq!(x.summary.policies_removed, 1);
}

#[test]
fn current_access_says_what_to_provision_and_revoke_and_the_coverage() {
    let new = OLD
        .replace(
            "grant slack:channel:#sales",
            "grant jira:project:S (viewer) grant zoom:account",
        )
        .replace(
            "grant gitlab:group:sales (reporter)",
            "grant gitlab:group:sales (developer)",
        );
    let access = r#"{
      "ann": ["slack:workspace-member", "google:workspace-account", "salesforce:user-license",
              "gitlab:group:sales (developer)", "slack:channel:#sales", "zoom:account", "jira:project:S (admin)"],
      "cat": ["gitlab:group:sales (reporter)"]
    }"#;
    let x = run_files(&[("p.pol", OLD)], &[("p.pol", &new)], PEOPLE, Some(access));
    let ann = user(&x, "ann");
    let zoom = ann
        .gains
        .iter()
        .find(|g| g.grant == "zoom:account")
        .unwrap();
    assert_eq!(
        zoom.current,
        Some(Held {
            held: true,
            level: None
        })
    );
    let jira = ann
        .gains
        .iter()
        .find(|g| g.grant == "jira:project:S")
        .unwrap();
    assert_eq!(
        jira.current,
        Some(Held {
            held: true,
            level: Some("admin".into())
        })
    );
    assert_eq!(ann.losses[0].current.as_ref().map(|h| h.held), Some(true));
    let a = x.access.as_ref().unwrap();
    // ann: zoom held, jira held at admin; cat: both to provision.
    assert_eq!(
        (a.gains_held, a.gains_held_other_level, a.gains_to_provision),
        (1, 1, 2)
    );
    // ann holds #sales, cat does not.
    assert_eq!((a.losses_to_revoke, a.losses_not_held), (1, 1));
    // ann already at developer, cat at reporter.
    assert_eq!(
        (
            a.level_changes_at_target,
            a.level_changes_to_apply,
            a.level_changes_not_held
        ),
        (1, 1, 0)
    );
    // Before: ann 4 of 7 covered (not gitlab's level, zoom, jira), cat 1 of 1: 5/8.
    assert_eq!(a.coverage_before, Some(62.5));
    // After: ann 5 of 7 (not #sales, jira's level), cat 0 of 1 (level): 5/8.
    assert_eq!(a.coverage_after, Some(62.5));
}

#[test]
fn schemas_that_differ_read_the_users_under_each() {
    let old = format!("schema {{ badge: int }}\n{OLD}");
    let people = r#"[
      {"user_id": "ann", "employment_status": "Active", "department": "Sales", "badge": 7},
      {"user_id": "bob", "employment_status": "Active", "department": "Eng", "badge": "x"}
    ]"#;
    let x = run(&old, OLD, people);
    assert!(x.bundle_changes.contains(&"schema changed".to_string()));
    assert_eq!(x.summary.users, 1);
    assert_eq!(x.errors.len(), 1);
    assert_eq!(x.errors[0].user_id.as_deref(), Some("bob"));
    assert_eq!(x.errors[0].side, "old");
    assert!(
        x.errors[0].message.contains("badge"),
        "{}",
        x.errors[0].message
    );
}

#[test]
fn exceptions_and_conflicts_are_bundle_changes() {
    let exc = r#"exception "Q4" { user "ann" grant okta:app:q justification "j" approved_by "c" expires 2030-01-01 }"#;
    let new = format!("{OLD}\n{exc}\nconflict \"C\" {{ okta:*, zoom:* }}");
    let x = run(OLD, &new, PEOPLE);
    assert_eq!(
        x.bundle_changes,
        ["+conflict \"C\"", "+exception \"Q4\" (user ann)"]
    );
    let ann = user(&x, "ann");
    assert_eq!(ann.gains[0].sources, ["exception \"Q4\""]);
}

#[test]
fn headline_wording() {
    let mut s = Summary {
        users: 1,
        ..Summary::default()
    };
    assert_eq!(
        headline(&s, 0),
        "No change in access: the 1 person evaluated gets the same access under both bundles"
    );
    s.users = 10;
    s.policies_changed = 2;
    assert_eq!(
        headline(&s, 1),
        "No change in access: all 10 people evaluated get the same access under both bundles (2 policies changed, 1 other change)"
    );
    s.people_gaining = 37;
    s.gains = 40;
    s.people_losing = 1;
    s.losses = 1;
    assert_eq!(
        headline(&s, 0),
        "This change gives 37 people new access (40 grants), removes access from 1 person (1 grant)"
    );
}

/// 40,000 policies on each side, in another order, one changed: the policies were looked
/// up by name with a scan each (10 s); by a map now.
#[test]
fn many_policies_are_compared_in_linear_time() {
    let n = 40_000;
    let side = |order: &mut dyn Iterator<Item = usize>, changed: Option<usize>| {
        let mut b = ir::Bundle::default();
        for i in order {
            let mut p = ir::Policy::named(format!("P{i}"), true, None);
            if Some(i) == changed {
                p.version = Some("2".into());
            }
            b.policies.push(p);
        }
        b.conflicts = (0..n / 10)
            .map(|i| ir::Conflict {
                name: format!("C{i}"),
                patterns: Vec::new(),
                reason: None,
            })
            .collect();
        Arc::new(b)
    };
    let old = side(&mut (0..n), None);
    let new = side(&mut (0..n).rev(), Some(7));
    let users = Users::default();
    let (op, np) = (Plan::new(old, &[], day()), Plan::new(new, &[], day()));
    let x = compare(
        &Side {
            plan: &op,
            users: &users,
            access: None,
        },
        &Side {
            plan: &np,
            users: &users,
            access: None,
        },
        false,
    );
    assert_eq!(
        x.policies.len(),
        1,
        "{:?}",
        &x.policies[..x.policies.len().min(3)]
    );
    assert_eq!(x.policies[0].name, "P7");
    assert_eq!(x.summary.policies_changed, 1);
}
