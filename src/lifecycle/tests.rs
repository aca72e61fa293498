//! Applying events on the seed (examples/seed): each user's events in date order, a leaver
//! losing everything they hold, and the lifecycle details a demanding user checks: `old`
//! values that do not follow the record, a second termination, a rehire.

use std::sync::Arc;

use chrono::NaiveDate;

use super::apply::{run_events, Kind, Outcome};
use super::delta::Action;
use super::events::parse_events;
use crate::input::{self, Format, Users};
use crate::ir;

fn seed() -> Arc<ir::Bundle> {
    let loaded =
        crate::db::Loaded::from_paths(&["examples/seed/policies".into()]).expect("the seed");
    crate::check::check_bundle(&loaded.db, loaded.workspace)
        .bundle
        .clone()
}

fn users(bundle: &ir::Bundle, text: &str) -> Users {
    input::parse_users(text, "u.json", Format::Json, bundle.schema.as_ref(), None).unwrap()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const HIRE: &str = r#"{"event": "employee.hired", "user_id": "sarah.chen", "job_title": "Sales Engineer", "department": "Sales", "employment_type": "FTE", "employment_status": "Active", "start_date": "2024-11-24"}"#;
const PROMOTE: &str = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"job_title": {"old": "Sales Engineer", "new": "Senior Sales Engineer"}, "effective_date": "2025-05-24"}}"#;
const TRANSFER: &str = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"job_title": {"old": "Senior Sales Engineer", "new": "Solutions Architect"}, "department": {"old": "Sales", "new": "Engineering"}, "effective_date": "2026-05-24"}}"#;
const TERMINATE: &str =
    r#"{"event": "employee.terminated", "user_id": "sarah.chen", "last_day": "2027-03-15"}"#;

/// A run's outcomes, with the text of each change's grant (`texts[i][k]`: outcome i,
/// change k).
struct Done {
    outs: Vec<Outcome>,
    texts: Vec<Vec<String>>,
}

/// Runs JSONL events on a directory (`[]`: nobody).
fn run(directory: &str, lines: &[&str]) -> Result<Done, String> {
    let bundle = seed();
    let mut u = users(&bundle, directory);
    let evs = parse_events(&lines.join("\n"), "e.jsonl", d("2030-01-01")).map_err(|e| e.0)?;
    let (mut plans, outs) = run_events(&bundle, &mut u, evs, "e.jsonl").map_err(|e| e.0)?;
    let texts = outs
        .iter()
        .map(|o| {
            let plan = plans.at(o.event.effective);
            o.changes
                .iter()
                .map(|c| plan.ent_text(c.ent).to_string())
                .collect()
        })
        .collect();
    Ok(Done { outs, texts })
}

/// The message of a run that must fail.
fn fails(directory: &str, lines: &[&str]) -> String {
    match run(directory, lines) {
        Err(e) => e,
        Ok(_) => panic!("applied: {lines:?}"),
    }
}

fn count(o: &Outcome, a: Action) -> usize {
    o.changes.iter().filter(|c| c.action == a).count()
}

#[test]
fn each_users_events_apply_in_date_order() {
    let in_order = run("[]", &[HIRE, PROMOTE, TRANSFER, TERMINATE]).unwrap();
    // the termination and the transfer swapped in the file
    let swapped = run("[]", &[HIRE, PROMOTE, TERMINATE, TRANSFER]).unwrap();
    let lines: Vec<usize> = swapped.outs.iter().map(|o| o.event.line).collect();
    assert_eq!(lines, [1, 2, 4, 3]);
    assert_eq!(in_order.texts, swapped.texts);
    for (a, b) in in_order.outs.iter().zip(&swapped.outs) {
        assert_eq!(a.changes, b.changes);
        assert_eq!(a.kind, b.kind);
    }
    assert_eq!(swapped.outs[3].kind, Kind::Leaver);
    assert_eq!(count(&swapped.outs[3], Action::Remove), 13);
    assert_eq!(
        swapped.outs[2].notes,
        ["applied before e.jsonl:3 (employee.terminated, effective 2027-03-15), which the file gives first but takes effect later: each user's events apply in date order"]
    );
    assert!(in_order.outs.iter().all(|o| o.notes.is_empty()));
    // other users' events keep their places; equal dates keep the file's order
    let other =
        r#"{"event": "employee.terminated", "user_id": "john.doe", "last_day": "2020-01-01"}"#;
    let john = r#"[{"user_id": "john.doe", "job_title": "Sales Engineer", "department": "Sales", "employment_type": "FTE", "employment_status": "Active"}]"#;
    let mixed = run(john, &[HIRE, TERMINATE, other, PROMOTE]).unwrap();
    let order: Vec<(&str, usize)> = mixed
        .outs
        .iter()
        .map(|o| (o.event.user_id.as_str(), o.event.line))
        .collect();
    assert_eq!(
        order,
        [
            ("sarah.chen", 1),
            ("sarah.chen", 4),
            ("john.doe", 3),
            ("sarah.chen", 2)
        ]
    );
}

#[test]
fn a_termination_dated_before_the_hire_is_refused_naming_both() {
    let early =
        r#"{"event": "employee.terminated", "user_id": "sarah.chen", "last_day": "2024-10-01"}"#;
    assert_eq!(
        fails("[]", &[HIRE, PROMOTE, early]),
        "e.jsonl:3 (employee.terminated sarah.chen): field `user_id`: no user `sarah.chen` in the directory to terminate on 2024-10-01: their employee.hired (e.jsonl:1) takes effect later, on 2024-11-24"
    );
}

#[test]
fn a_leaver_loses_what_a_grace_period_still_lets_them_keep() {
    // Terminated 8 days after the transfer, inside the 30-day grace of the sales grants.
    let early =
        r#"{"event": "employee.terminated", "user_id": "sarah.chen", "last_day": "2026-06-01"}"#;
    let done = run("[]", &[HIRE, PROMOTE, TRANSFER, early]).unwrap();
    let delayed: Vec<&String> = done.outs[2]
        .changes
        .iter()
        .zip(&done.texts[2])
        .filter(|(c, _)| c.action == Action::Remove && c.not_before == Some(d("2026-06-23")))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(delayed.len(), 4, "{delayed:?}");
    let term = &done.outs[3];
    assert_eq!(term.kind, Kind::Leaver);
    for c in &term.changes {
        assert_eq!(
            (c.action, c.not_before, c.grace),
            (Action::Remove, Some(d("2026-06-01")), None)
        );
    }
    for g in &delayed {
        assert!(done.texts[3].contains(g), "{g} kept by a leaver");
    }
    // terminated after the grace ended: those are gone already
    let late =
        r#"{"event": "employee.terminated", "user_id": "sarah.chen", "last_day": "2026-07-01"}"#;
    let after = run("[]", &[HIRE, PROMOTE, TRANSFER, late]).unwrap();
    assert_eq!(done.texts[3].len(), after.texts[3].len() + delayed.len());
}

#[test]
fn a_grant_given_again_inside_its_grace_says_so() {
    let back = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"job_title": {"old": "Solutions Architect", "new": "Senior Sales Engineer"}, "department": {"old": "Engineering", "new": "Sales"}, "effective_date": "2026-06-01"}}"#;
    let done = run("[]", &[HIRE, PROMOTE, TRANSFER, back]).unwrap();
    let o = &done.outs[3];
    assert_eq!(o.kind, Kind::Mover);
    assert_eq!(o.notes.len(), 4, "{:?}", o.notes);
    assert!(o.notes.iter().any(|n| n
        == "salesforce:user-license is given again: its removal on 2026-06-23, which e.jsonl:3 scheduled, no longer holds"));
}

#[test]
fn an_old_value_that_is_not_the_records_is_refused() {
    let wrong = PROMOTE.replace(
        r#""old": "Sales Engineer""#,
        r#""old": "Account Executive""#,
    );
    assert_eq!(
        fails("[]", &[HIRE, &wrong]),
        "e.jsonl:2 (employee.updated sarah.chen): field `changes.job_title.old`: the event says the value was \"Account Executive\", but the directory has \"Sales Engineer\": the event does not follow the record (check the users file and the order of the events)"
    );
    // null for a value the record has, a typed value (a date) that differs, an absent value
    let null_old = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"department": {"old": null, "new": "Engineering"}}, "effective_date": "2025-01-01"}"#;
    assert!(fails("[]", &[HIRE, null_old])
        .contains("the event says the value was null, but the directory has \"Sales\""));
    let date_old = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"start_date": {"old": "2024-11-25", "new": "2024-12-01"}}, "effective_date": "2025-01-01"}"#;
    assert!(
        fails("[]", &[HIRE, date_old]).contains("was 2024-11-25, but the directory has 2024-11-24")
    );
    let team_old = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"team": {"old": "Enterprise", "new": "SMB"}}, "effective_date": "2025-01-01"}"#;
    assert!(fails("[]", &[HIRE, team_old]).contains("the directory has no value"));
    // the right old values, null for an absent one, or no `old` at all: applied
    let ok = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"team": {"old": null, "new": "SMB"}, "start_date": {"old": "2024-11-24", "new": "2024-12-01"}, "department": "Sales"}, "effective_date": "2025-01-01"}"#;
    assert_eq!(run("[]", &[HIRE, ok]).unwrap().outs[1].kind, Kind::Mover);
}

#[test]
fn a_second_termination_is_refused() {
    let again = TERMINATE.replace("2027-03-15", "2027-04-01");
    assert_eq!(
        fails("[]", &[HIRE, TERMINATE, &again]),
        "e.jsonl:3 (employee.terminated sarah.chen): field `event`: `sarah.chen` is already terminated (employment_status is \"Inactive\" since e.jsonl:2): a second termination is refused"
    );
    // inactive in the users file
    let omar = r#"[{"user_id": "omar.haddad", "job_title": "Senior Sales Engineer", "department": "Sales", "employment_type": "FTE", "employment_status": "Inactive"}]"#;
    let t =
        r#"{"event": "employee.terminated", "user_id": "omar.haddad", "last_day": "2025-01-01"}"#;
    assert!(fails(omar, &[t])
        .contains("already terminated (employment_status is \"Inactive\" in the users file)"));
    // a rehire is not a hire
    let hire = r#"{"event": "employee.hired", "user_id": "omar.haddad", "employment_status": "Active", "start_date": "2025-01-01"}"#;
    assert!(fails(omar, &[hire]).contains(
        "a hire needs a new id (they are inactive: a rehire is an employee.updated of employment_status to \"Active\")"
    ));
}

#[test]
fn a_reactivation_is_a_rehire_a_joiner() {
    let back = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"employment_status": {"old": "Inactive", "new": "Active"}}, "effective_date": "2027-06-01"}"#;
    let done = run("[]", &[HIRE, TERMINATE, back]).unwrap();
    let o = &done.outs[2];
    assert_eq!((o.kind, o.rehire), (Kind::Joiner, true));
    assert!(o.before.is_some());
    assert!(o.changes.iter().all(|c| c.action == Action::Add));
    // everything of the hire but the exception, expired by then
    assert_eq!(count(o, Action::Add), count(&done.outs[0], Action::Add) - 1);
    // and terminating them again is fine
    let later = TERMINATE.replace("2027-03-15", "2027-09-01");
    let done = run("[]", &[HIRE, TERMINATE, back, &later]).unwrap();
    assert_eq!(done.outs[3].kind, Kind::Leaver);
}

#[test]
fn made_inactive_by_an_update_is_a_leaver_even_without_a_require() {
    let src = "import \"std/hris\"\nimport \"std/saas\"\npolicy \"Sales\" { when department == \"Sales\" grant zoom:account }\n";
    let loaded = crate::db::Loaded::from_sources(&[("t.pol", src)]);
    let bundle = crate::check::check_bundle(&loaded.db, loaded.workspace)
        .bundle
        .clone();
    let off = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"employment_status": "Inactive"}, "effective_date": "2025-01-01"}"#;
    let evs = parse_events(
        &[HIRE, off, TERMINATE].join("\n"),
        "e.jsonl",
        d("2030-01-01"),
    )
    .unwrap();
    let mut u = users(&bundle, "[]");
    let e = run_events(&bundle, &mut u, evs.clone(), "e.jsonl")
        .err()
        .unwrap();
    assert!(
        e.0.contains("already terminated (employment_status is \"Inactive\" since e.jsonl:2)"),
        "{}",
        e.0
    );
    let mut u = users(&bundle, "[]");
    let (_, outs) = run_events(&bundle, &mut u, evs[..2].to_vec(), "e.jsonl").unwrap();
    // the policy still matches an inactive person, but a leaver loses everything
    assert!(!outs[1].after.grants.is_empty());
    assert_eq!(outs[1].kind, Kind::Leaver);
    assert_eq!(outs[1].changes.len(), 1);
    assert_eq!(count(&outs[1], Action::Remove), 1);
}
