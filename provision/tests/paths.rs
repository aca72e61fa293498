//! Provisioning paths docs/provisioning.md promises and no other test walks (issue #12):
//! `[hris] missing`, a snapshot that loses a column, `manage = "all"` against `"policy"`,
//! `[rollout] policies`, and failed listings. Each test runs on SQLite and on PostgreSQL.

mod common;
use std::path::PathBuf;

use common::*;
use polc_connectors::{Change, Holding, LeaverMode, Listing};
use polc_provision::plan::ActionKind;
use polc_provision::testing::MemSystem;
use polc_provision::{ApplyOptions, Approval, Error, Plan, Provision};
use serde_json::Value;

const GITLAB: &str =
    "[systems.gitlab]\nconnector = \"file\"\npath = \"systems/gitlab.json\"\nmode = \"review\"\n";

const CS: &str = "gitlab:group:customer-solutions";
const DOCS: &str = "gitlab:group:engineering-docs";

/// Replaces the first `from` in the fixture's polc.toml (which must hold it).
fn edit(f: &Fixture, from: &str, to: &str) {
    let file = f.path("polc.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "`{from}` is not in polc.toml:\n{text}");
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
}

/// The seed snapshot, changed by `change`, written to `hris/NAME`.
fn snapshot(f: &Fixture, name: &str, change: impl Fn(&mut Vec<Value>)) -> PathBuf {
    let text = std::fs::read_to_string(users_json(f.dir.path())).unwrap();
    let mut people: Vec<Value> = serde_json::from_str(&text).unwrap();
    change(&mut people);
    f.write(
        &format!("hris/{name}"),
        &serde_json::to_string(&people).unwrap(),
    )
}

fn count(p: &Provision, sql: &str) -> i64 {
    p.state.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The details of every audit entry of `kind`, oldest first.
fn audited(p: &Provision, kind: &str) -> Vec<String> {
    let mut stmt = p
        .state
        .conn
        .prepare("SELECT details FROM audit WHERE kind = ?1 ORDER BY seq")
        .unwrap();
    let rows = stmt.query_map([kind], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

fn actions_of<'a>(plan: &'a Plan, user: &str) -> Vec<&'a polc_provision::plan::Action> {
    plan.actions.iter().filter(|a| a.user_id == user).collect()
}

fn approve(plan: &Plan) -> ApplyOptions {
    let mut o = ApplyOptions::new(Approval::Digest(plan.digest.clone()), plan.as_of);
    o.fail_at = None;
    o
}

/// A seed project whose gitlab has accounts, where john.doe holds what the policies give
/// him; the baseline imported on 2025-06-01 and gitlab pulled. Dropping one person of five
/// is within `max_missing_percent` here: the guard is not what these tests are about.
fn absence_setup(missing: Option<&str>) -> (Fixture, Provision) {
    let f = Fixture::new(GITLAB);
    if let Some(m) = missing {
        edit(
            &f,
            "# missing = \"ignore\"",
            &format!("missing = \"{m}\" #"),
        );
    }
    edit(&f, "max_missing_percent = 5", "max_missing_percent = 25");
    let g = f.conns.add("gitlab", MemSystem::with_accounts());
    g.hold("john.doe", CS, Some("reporter"));
    g.hold("john.doe", DOCS, Some("reporter"));
    let mut p = f.open();
    p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
        .unwrap();
    p.pull(None).unwrap();
    (f, p)
}

fn without_john(f: &Fixture) -> PathBuf {
    snapshot(f, "without-john.json", |people| {
        people.retain(|r| r["user_id"] != "john.doe")
    })
}

on_both! {
    fn missing_terminate_makes_a_person_absent_from_a_later_snapshot_a_leaver() {
        let (f, mut p) = absence_setup(Some("terminate"));
        let g = f.sys("gitlab");
        let at = d("2025-06-02");
        let rep = p.hris_import(&without_john(&f), at, None).unwrap();
        assert!(!rep.unchanged && !rep.baseline, "{}", rep.human());
        assert_eq!(rep.absent, 1, "{}", rep.human());
        let ev: Vec<_> = rep.events.iter().filter(|e| e.user_id == "john.doe").collect();
        assert_eq!(ev.len(), 1, "{}", rep.human());
        assert_eq!((ev[0].kind.as_str(), ev[0].cause.as_str()), ("leaver", "absence"));
        assert_eq!(ev[0].effective, at);
        assert_eq!(rep.events.len(), 1, "only john is derived: {}", rep.human());

        let plan = p.plan(at).unwrap();
        let john = actions_of(&plan, "john.doe");
        let mut revoked: Vec<&str> = john
            .iter()
            .filter(|a| a.action == ActionKind::Revoke)
            .map(|a| a.grant.as_deref().unwrap())
            .collect();
        revoked.sort_unstable();
        assert_eq!(revoked, vec![CS, DOCS], "{}", plan.human());
        let deprov: Vec<_> = john
            .iter()
            .filter(|a| a.action == ActionKind::Deprovision)
            .collect();
        assert_eq!(deprov.len(), 1, "{}", plan.human());
        assert_eq!(deprov[0].mode, Some(LeaverMode::Deactivate));
        assert_eq!(john.len(), 3, "{}", plan.human());
        // leavers inferred from absence are always reviewed
        assert!(
            john.iter().all(|a| a.leaver && a.review && !a.protected),
            "{}",
            plan.human()
        );
        assert!(
            john.iter()
                .filter(|a| a.action == ActionKind::Revoke)
                .all(|a| a.reason.contains("absent")),
            "{}",
            plan.human()
        );

        g.clear_calls();
        let done = p.apply(&plan.id, &approve(&plan)).unwrap();
        assert!(done.all_done(), "{}", done.human());
        assert!(
            !g.holdings().iter().any(|h| h.user_id == "john.doe"),
            "{:?}",
            g.holdings()
        );
        assert_eq!(g.lock().accounts.get("john.doe"), Some(&false), "deactivated");
        assert!(g.applied().contains(&(
            "john.doe".into(),
            Change::Deprovision { mode: LeaverMode::Deactivate }
        )));
    }
}

on_both! {
    fn missing_ignore_by_default_leaves_a_person_absent_from_a_later_snapshot_alone() {
        let (f, mut p) = absence_setup(None);
        let g = f.sys("gitlab");
        let at = d("2025-06-02");
        let imports = count(&p, "SELECT count(*) FROM imports");
        let rep = p.hris_import(&without_john(&f), at, None).unwrap();
        assert!(rep.unchanged, "{}", rep.human());
        assert!(rep.events.is_empty(), "{}", rep.human());
        assert_eq!(count(&p, "SELECT count(*) FROM imports"), imports);
        assert_eq!(
            count(&p, "SELECT count(*) FROM directory WHERE user_id = 'john.doe'"),
            1,
            "nothing recorded for john"
        );

        let plan = p.plan(at).unwrap();
        assert!(actions_of(&plan, "john.doe").is_empty(), "{}", plan.human());
        g.clear_calls();
        let done = p.apply(&plan.id, &approve(&plan)).unwrap();
        assert!(done.all_done(), "{}", done.human());
        assert!(!g.applied().iter().any(|(u, _)| u == "john.doe"));
        let held: Vec<Holding> = g
            .holdings()
            .into_iter()
            .filter(|h| h.user_id == "john.doe")
            .collect();
        assert_eq!(held.len(), 2, "{held:?}");
        assert_eq!(g.lock().accounts.get("john.doe"), Some(&true));
    }
}

on_both! {
    fn a_snapshot_that_loses_a_column_is_refused_without_force_and_records_nothing() {
        let f = Fixture::new(GITLAB);
        // the share of changed people is not what this test is about
        edit(&f, "max_missing_percent = 5", "max_missing_percent = 100");
        let mut p = f.open();
        p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .unwrap();
        let snap = snapshot(&f, "no-location.json", |people| {
            for r in people {
                r.as_object_mut().unwrap().remove("location");
            }
        });
        let tables = |p: &Provision| {
            (
                count(p, "SELECT count(*) FROM imports"),
                count(p, "SELECT count(*) FROM directory"),
                count(p, "SELECT count(*) FROM audit WHERE kind = 'import'"),
            )
        };
        let before = tables(&p);
        let err = p.hris_import(&snap, d("2025-06-02"), None).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Refused(_)), "{msg}");
        assert!(msg.contains("lost column") && msg.contains("`location`"), "{msg}");
        assert!(msg.contains("--force"), "the message says the way out: {msg}");
        assert_eq!(tables(&p), before, "a refused snapshot records nothing");
        let refusals = audited(&p, "refusal");
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(refusals[0].contains("location"), "{refusals:?}");

        let reason = "location moved to the facilities system";
        let rep = p
            .hris_import(&snap, d("2025-06-02"), Some(reason))
            .unwrap();
        assert_eq!(rep.forced.as_deref(), Some(reason), "{}", rep.human());
        assert!(!rep.unchanged);
        let (imports, _, _) = tables(&p);
        assert_eq!(imports, before.0 + 1);
        let forces = audited(&p, "force");
        assert_eq!(forces.len(), 1, "{forces:?}");
        assert!(
            forces[0].contains(reason) && forces[0].contains("location"),
            "{forces:?}"
        );
        assert!(audited(&p, "import").last().unwrap().contains(reason));
    }
}

/// A seed project whose gitlab `manage`s as said; sarah.chen holds what her policies give
/// her and an entry no policy names and polc never granted.
fn stray_plan(manage: &str) -> Plan {
    let f = Fixture::new(&format!("{GITLAB}manage = \"{manage}\"\n"));
    let g = f.sys("gitlab");
    g.hold("sarah.chen", CS, Some("reporter"));
    g.hold("sarah.chen", DOCS, Some("reporter"));
    g.hold("sarah.chen", "gitlab:group:random-stuff", Some("developer"));
    let mut p = f.open();
    p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
        .unwrap();
    p.pull(None).unwrap();
    let plan = p.plan(d("2025-06-01")).unwrap();
    // what her policies give her is never touched
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| a.user_id == "sarah.chen"
                && matches!(a.grant.as_deref(), Some(CS) | Some(DOCS))),
        "{}",
        plan.human()
    );
    plan
}

fn stray(plan: &Plan) -> Vec<&polc_provision::plan::Action> {
    plan.actions
        .iter()
        .filter(|a| a.grant.as_deref() == Some("gitlab:group:random-stuff"))
        .collect()
}

fn gitlab(plan: &Plan) -> &polc_provision::plan::SystemPlan {
    plan.systems.iter().find(|s| s.system == "gitlab").unwrap()
}

on_both! {
    fn manage_all_plans_the_revocation_of_what_no_policy_grants() {
        let plan = stray_plan("all");
        let s = stray(&plan);
        assert_eq!(s.len(), 1, "{}", plan.human());
        assert_eq!(s[0].action, ActionKind::Revoke);
        assert_eq!(s[0].user_id, "sarah.chen");
        assert!(s[0].review && !s[0].leaver, "a review system: {:?}", s[0]);
        assert_eq!(gitlab(&plan).unmanaged_count, 0, "{}", plan.human());
    }
}

on_both! {
    fn manage_policy_never_revokes_what_no_policy_grants_nor_polc_granted() {
        let plan = stray_plan("policy");
        assert!(stray(&plan).is_empty(), "{}", plan.human());
        let sp = gitlab(&plan);
        assert_eq!(sp.unmanaged_count, 1, "{}", plan.human());
        assert_eq!(sp.unmanaged[0].user_id, "sarah.chen");
        assert_eq!(sp.unmanaged[0].grant, "gitlab:group:random-stuff");
    }
}

on_both! {
    fn rollout_plans_only_the_named_policies_grants_and_leaves_the_rest_alone() {
        let f = Fixture::new(&format!(
            "{GITLAB}\n[rollout]\npolicies = [\"Solutions Architect Access\"]\n"
        ));
        let g = f.sys("gitlab");
        // john's customer-solutions comes from "Sales Engineer Access" (not rolled out),
        // although the rolled-out policy names that entitlement too
        g.hold("john.doe", CS, Some("reporter"));
        // sarah's engineering-docs comes from a template the rollout does not inherit
        g.hold("sarah.chen", DOCS, Some("reporter"));
        let mut p = f.open();
        p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .unwrap();
        p.pull(None).unwrap();
        let plan = p.plan(d("2025-06-01")).unwrap();
        let got: Vec<_> = plan
            .actions
            .iter()
            .map(|a| {
                (
                    a.action,
                    a.user_id.as_str(),
                    a.grant.as_deref().unwrap_or("-"),
                    a.level.as_deref().unwrap_or("-"),
                )
            })
            .collect();
        // priya is the one solutions architect: her grant is the plan, nothing else
        assert_eq!(
            got,
            vec![(ActionKind::Grant, "priya.nair", CS, "developer")],
            "{}",
            plan.human()
        );
        assert_eq!(
            plan.actions[0].sources,
            vec!["Solutions Architect Access".to_string()]
        );
    }
}

on_both! {
    fn rollout_naming_no_policy_is_a_config_error_naming_the_file_and_the_key() {
        let f = Fixture::new(&format!(
            "{GITLAB}\n[rollout]\npolicies = [\"Solutions Architect Acess\"]\n"
        ));
        let mut p = f.open();
        let err = p
            .hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .err()
            .or_else(|| p.pull(None).err())
            .or_else(|| p.plan(d("2025-06-01")).err())
            .expect("an unknown policy in [rollout] is an error");
        let msg = err.to_string();
        assert!(matches!(err, Error::Config { .. }), "{msg}");
        let text = std::fs::read_to_string(f.path("polc.toml")).unwrap();
        let line = text
            .lines()
            .position(|l| l.starts_with("policies = [\"Solutions Architect Acess\"]"))
            .unwrap()
            + 1;
        assert!(
            msg.contains(&format!("polc.toml:{line}:")),
            "the file, line and column of the key: {msg}"
        );
        assert!(
            msg.contains("[rollout]") && msg.contains("\"Solutions Architect Acess\""),
            "{msg}"
        );
        assert!(
            msg.contains("\"Solutions Architect Access\""),
            "the fix names the policies there are: {msg}"
        );
        // nothing was done with a project file that is wrong
        assert_eq!(count(&p, "SELECT count(*) FROM imports"), 0);
        assert_eq!(count(&p, "SELECT count(*) FROM plans"), 0);
    }
}

/// A seed project whose gitlab holds six entries: sarah's and john's (what their policies
/// give them) and an orphan's (old.intern, no HRIS record: its entries are revoked); the
/// baseline imported and a good pull made.
fn listing_setup() -> (Fixture, Provision) {
    let f = Fixture::new(GITLAB);
    let g = f.sys("gitlab");
    for user in ["sarah.chen", "john.doe", "old.intern"] {
        g.hold(user, CS, Some("reporter"));
        g.hold(user, DOCS, Some("reporter"));
    }
    let mut p = f.open();
    p.hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
        .unwrap();
    let good = p.pull(None).unwrap();
    assert_eq!(good.systems[0].suspect, None);
    let plan = p.plan(d("2025-06-01")).unwrap();
    assert_eq!(
        actions_of(&plan, "old.intern")
            .iter()
            .filter(|a| a.action == ActionKind::Revoke)
            .count(),
        2,
        "a good listing plans the orphan's revocations: {}",
        plan.human()
    );
    (f, p)
}

/// Every observed row: system, user, holdings, active, version.
fn observed_rows(p: &Provision) -> Vec<(String, String, String, Option<bool>, i64)> {
    let mut stmt = p
        .state
        .conn
        .prepare("SELECT system, user_id, holdings, active, version FROM observed ORDER BY system, user_id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// After a failed listing of gitlab: recorded and shown, the last good observation kept,
/// the plan revokes nothing there and grants only what the last good pull did not show;
/// a good pull then plans the revocations again.
fn check_failed_listing(f: &Fixture, p: &mut Provision, listing: Listing, why: &str) {
    let g = f.sys("gitlab");
    let before = observed_rows(p);
    assert!(!before.is_empty());
    g.lock().list_override = Some(listing);
    let rep = p.pull(None).unwrap();
    let sus = rep.systems[0].suspect.clone().expect("a failed listing");
    assert!(sus.contains(why), "{sus}");
    assert!(rep.human().contains("failed listing"), "{}", rep.human());
    assert!(rep.human().contains("not recorded"), "{}", rep.human());
    assert_eq!(
        observed_rows(p),
        before,
        "a failed listing keeps the last good observation"
    );
    assert!(rep.systems[0].disappeared.is_empty() && rep.systems[0].appeared.is_empty());
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM pulls WHERE system = 'gitlab' AND suspect IS NOT NULL"
        ),
        1,
        "the failed listing is recorded"
    );
    let st = p.status(d("2025-06-02")).unwrap();
    let last = st.pulls.iter().find(|x| x.system == "gitlab").unwrap();
    assert_eq!(last.suspect.as_deref(), Some(sus.as_str()));
    assert!(st.human().contains("failed listing"), "{}", st.human());

    let plan = p.plan(d("2025-06-02")).unwrap();
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| a.action.is_revocation() || a.action == ActionKind::SetLevel),
        "no revocation from a failed listing: {}",
        plan.human()
    );
    assert!(
        plan.actions
            .iter()
            .any(|a| a.action == ActionKind::Grant && a.user_id == "priya.nair"),
        "grants are still planned: {}",
        plan.human()
    );
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| a.user_id == "sarah.chen" && a.grant.as_deref() == Some(CS)),
        "what the last good pull showed is not granted again: {}",
        plan.human()
    );
    assert_eq!(gitlab(&plan).failed_listing.as_deref(), Some(sus.as_str()));
    assert!(plan.human().contains("failed listing"), "{}", plan.human());

    // a good pull: the revocations are planned again
    let rep = p.pull(None).unwrap();
    assert_eq!(rep.systems[0].suspect, None);
    let plan = p.plan(d("2025-06-02")).unwrap();
    assert_eq!(gitlab(&plan).failed_listing, None);
    assert_eq!(
        actions_of(&plan, "old.intern")
            .iter()
            .filter(|a| a.action == ActionKind::Revoke)
            .count(),
        2,
        "{}",
        plan.human()
    );
}

on_both! {
    fn an_empty_listing_is_a_failed_listing_and_plans_no_revocation() {
        let (f, mut p) = listing_setup();
        check_failed_listing(&f, &mut p, Listing::default(), "empty");
    }
}

on_both! {
    fn a_listing_under_half_of_the_last_is_a_failed_listing_and_plans_no_revocation() {
        let (f, mut p) = listing_setup();
        // two of six entries: the orphan's, which a good listing would revoke
        let holdings = f
            .sys("gitlab")
            .holdings()
            .into_iter()
            .filter(|h| h.user_id == "old.intern")
            .collect();
        let listing = Listing {
            holdings,
            accounts: Vec::new(),
        };
        check_failed_listing(&f, &mut p, listing, "less than half");
    }
}

on_both! {
    fn a_listing_that_fails_keeps_the_last_good_observation_and_is_reported() {
        let (f, mut p) = listing_setup();
        let before = observed_rows(&p);
        f.sys("gitlab").lock().list_error = Some("HTTP 503 from the listing".into());
        let err = p.pull(None).unwrap_err();
        assert!(matches!(err, Error::Connector { .. }), "{err}");
        assert!(err.to_string().contains("HTTP 503"), "{err}");
        assert_eq!(observed_rows(&p), before, "the last good observation is kept");
        let failed = audited(&p, "pull_failed");
        assert_eq!(failed.len(), 1);
        assert!(failed[0].contains("HTTP 503"), "{}", failed[0]);
        // the plan is the last good pull's: the orphan's revocations, nothing granted again
        let plan = p.plan(d("2025-06-02")).unwrap();
        assert_eq!(
            actions_of(&plan, "old.intern")
                .iter()
                .filter(|a| a.action == ActionKind::Revoke)
                .count(),
            2,
            "{}",
            plan.human()
        );
        assert!(!plan
            .actions
            .iter()
            .any(|a| a.user_id == "sarah.chen" && a.action == ActionKind::Grant));
    }
}

/// A progress that records what it is told: (what, done, total).
#[derive(Clone, Default)]
struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<(String, u64, u64)>>>);

impl polc_provision::Progress for Recorded {
    fn report(&self, what: &str, done: u64, total: u64) {
        self.0.lock().unwrap().push((what.to_string(), done, total));
    }
}

on_both! {
    fn pull_and_apply_report_how_far_they_are() {
        let (_f, mut p) = listing_setup();
        let rec = Recorded::default();
        p.set_progress(Some(Box::new(rec.clone())));
        p.pull(None).unwrap();
        assert_eq!(
            rec.0.lock().unwrap().clone(),
            vec![("reading gitlab".to_string(), 0, 1), ("read gitlab".to_string(), 1, 1)]
        );
        rec.0.lock().unwrap().clear();
        let plan = p.plan(d("2025-06-01")).unwrap();
        let n = plan.actions.len() as u64;
        assert!(n > 0, "{}", plan.human());
        let rep = p.apply(&plan.id, &approve(&plan)).unwrap();
        assert!(rep.all_done(), "{:?}", rep.summary);
        let seen = rec.0.lock().unwrap().clone();
        assert_eq!(seen.first().map(|x| (x.1, x.2)), Some((0, n)), "{seen:?}");
        assert_eq!(seen.last().map(|x| (x.1, x.2)), Some((n, n)), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
        assert!(seen.iter().all(|x| x.2 == n), "{seen:?}");
    }
}

on_both! {
    fn an_import_reports_how_far_it_is() {
        let f = Fixture::new(GITLAB);
        edit(&f, "max_missing_percent = 5", "max_missing_percent = 25");
        let mut p = f.open();
        let rec = Recorded::default();
        p.set_progress(Some(Box::new(rec.clone())));
        // the baseline: every record written
        let rep = p
            .hris_import(&users_json(f.dir.path()), d("2025-06-01"), None)
            .unwrap();
        let n = rep.records as u64;
        assert!(n > 1, "{}", rep.human());
        let seen = std::mem::take(&mut *rec.0.lock().unwrap());
        let phases: Vec<&str> = seen.iter().map(|x| x.0.as_str()).collect();
        assert!(phases[0].starts_with("reading "), "{seen:?}");
        assert_eq!(phases[1], "comparing with the directory", "{seen:?}");
        let counted: Vec<(u64, u64)> = seen
            .iter()
            .filter(|x| x.0 == "recording")
            .map(|x| (x.1, x.2))
            .collect();
        assert_eq!(counted.first(), Some(&(0, n)), "{seen:?}");
        assert_eq!(counted.last(), Some(&(n, n)), "{seen:?}");
        // a later snapshot with one change: one record to write
        let changed = snapshot(&f, "moved.json", |people| {
            let r = people.iter_mut().find(|r| r["user_id"] == "john.doe").unwrap();
            r["department"] = "Engineering".into();
        });
        let rep = p.hris_import(&changed, d("2025-06-02"), None).unwrap();
        assert_eq!(rep.changed, 1, "{}", rep.human());
        let seen = rec.0.lock().unwrap().clone();
        let counted: Vec<(u64, u64)> = seen
            .iter()
            .filter(|x| x.0 == "recording")
            .map(|x| (x.1, x.2))
            .collect();
        assert_eq!(counted, vec![(0, 1), (1, 1)], "{seen:?}");
    }
}

on_both! {
    fn a_plans_digest_is_the_canonical_json_of_its_date_inputs_and_actions() {
        let (_f, mut p) = listing_setup();
        let plan = p.plan(d("2025-06-01")).unwrap();
        assert!(plan.actions.len() > 2, "{}", plan.human());
        let whole = polc_provision::canon::digest(&serde_json::json!({
            "as_of": plan.as_of, "inputs": plan.inputs, "actions": plan.actions,
        }))
        .unwrap();
        assert_eq!(plan.digest, whole);
        assert_eq!(
            Plan::compute_digest(plan.as_of, &plan.inputs, &plan.actions[..1]).unwrap(),
            polc_provision::canon::digest(&serde_json::json!({
                "as_of": plan.as_of, "inputs": plan.inputs, "actions": &plan.actions[..1],
            }))
            .unwrap()
        );
    }
}
