//! The analysis is incremental: an edit re-checks the file it touches and what depends on
//! it, and reuses the rest.

use polc::check::check_bundle;
use polc::db::{Database, Loaded};
use salsa::Setter;

const A: &str = "import \"std/hris\"\nimport \"std/saas\"\npolicy \"A\" {\n  when department == \"Sales\"\n  grant slack:workspace-member\n}\n";
const B: &str = "policy \"B\" {\n  when department == \"Eng\"\n  inherits \"A\"\n  grant zoom:account\n}\npolicy \"C\" {\n  when job_title == \"x\"\n  grant okta:app:c\n}\n";

fn executed(log: &polc::db::QueryLog, query: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|e| e.starts_with(query))
        .count()
}

#[test]
fn an_edit_inside_a_policy_rechecks_only_its_file() {
    let (db, log) = Database::logging();
    let mut loaded = Loaded::from_sources_in(db, &[("a.pol", A), ("b.pol", B)]);
    let ws = loaded.workspace;
    assert!(!check_bundle(&loaded.db, ws).has_errors());
    log.lock().unwrap().clear();

    // Edit b.pol inside a body, moving every span after it: a.pol is not re-checked.
    let b_file = ws.files(&loaded.db)[1];
    let edited = B.replace(
        "grant zoom:account",
        "grant zoom:account\n  grant okta:app:extra",
    );
    b_file.set_text(&mut loaded.db).to(edited);
    let checked = check_bundle(&loaded.db, ws);
    assert!(!checked.has_errors());
    assert_eq!(
        executed(&log, "parse_file"),
        1,
        "only b.pol is parsed again: {:?}",
        log.lock().unwrap()
    );
    assert_eq!(
        executed(&log, "check_file"),
        1,
        "only b.pol is checked again: {:?}",
        log.lock().unwrap()
    );
    assert!(checked.bundle.policies.iter().any(|p| p.grants.len() == 2));

    // An edit that changes a declaration (a new policy) re-checks the other files too.
    log.lock().unwrap().clear();
    a_file_add_policy(&mut loaded);
    let checked = check_bundle(&loaded.db, ws);
    assert!(!checked.has_errors());
    assert!(executed(&log, "check_file") >= 2);
}

fn a_file_add_policy(loaded: &mut Loaded) {
    let a = loaded.workspace.files(&loaded.db)[0];
    let text =
        format!("{A}policy \"D\" {{\n  when department == \"Ops\"\n  grant zoom:account\n}}\n");
    a.set_text(&mut loaded.db).to(text);
}

#[test]
fn an_unchanged_text_reuses_everything() {
    let (db, log) = Database::logging();
    let mut loaded = Loaded::from_sources_in(db, &[("a.pol", A), ("b.pol", B)]);
    let ws = loaded.workspace;
    check_bundle(&loaded.db, ws);
    log.lock().unwrap().clear();
    let a = ws.files(&loaded.db)[0];
    a.set_text(&mut loaded.db).to(A.to_string());
    check_bundle(&loaded.db, ws);
    assert_eq!(executed(&log, "check_file"), 0, "{:?}", log.lock().unwrap());
}
