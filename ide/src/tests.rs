//! The host on its own (no protocol): which files a workspace is made of, and the day it
//! checks on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use polc_lsp::{Analysis, Severity};

use super::{file_uri, Host};

fn seed() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/seed/policies"
    ))
    .canonicalize()
    .unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A host whose clock the test turns.
fn host_at(start: &str) -> (Host, Arc<Mutex<NaiveDate>>) {
    let now = Arc::new(Mutex::new(day(start)));
    let clock = now.clone();
    (Host::with_clock(move || *clock.lock().unwrap()), now)
}

/// `(uri, code)` of every diagnostic of the given severity.
fn codes(h: &Host, severity: Severity) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = h
        .diagnostics()
        .unwrap()
        .into_iter()
        .flat_map(|(u, ds)| {
            ds.into_iter()
                .filter(|d| d.severity == severity)
                .map(move |d| (u.clone(), d.code))
        })
        .collect();
    out.sort();
    out
}

fn names(h: &Host) -> Vec<String> {
    h.uris()
        .iter()
        .map(|u| u.rsplit('/').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_root_folder_is_read_as_the_cli_reads_it() {
    let (h, _) = host_at("2024-11-24");
    h.set_roots(vec![seed()]);
    assert_eq!(
        names(&h),
        [
            "base.pol",
            "engineering.pol",
            "exceptions.pol",
            "sales.pol",
            "tests.pol"
        ]
    );
    assert_eq!(codes(&h, Severity::Error), []);
    assert_eq!(codes(&h, Severity::Warning), []);
}

#[test]
fn a_file_opened_alone_brings_its_folder() {
    let (h, _) = host_at("2024-11-24");
    let sales = seed().join("sales.pol");
    let uri = file_uri(&sales);
    // the editor's text, not the disk's: one more policy
    let text = std::fs::read_to_string(&sales).unwrap()
        + "\npolicy \"Extra\" {\n  when department == \"Sales\"\n  inherits \"Base Employee Access\"\n}\n";
    h.set_file(&uri, text.clone());
    assert_eq!(names(&h).len(), 5, "{:?}", h.uris());
    assert_eq!(codes(&h, Severity::Error), []);
    assert_eq!(h.text(&uri).as_deref(), Some(text.as_str()));
    // a second file of the same folder is already there: nothing read again
    let base = file_uri(&seed().join("base.pol"));
    h.set_file(
        &base,
        std::fs::read_to_string(seed().join("base.pol")).unwrap(),
    );
    assert_eq!(names(&h).len(), 5);
    assert_eq!(h.text(&uri).as_deref(), Some(text.as_str()));
}

#[test]
fn a_manifest_above_a_lone_file_makes_its_folder_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("polc.toml"), "").unwrap();
    std::fs::create_dir_all(root.join("base")).unwrap();
    std::fs::create_dir_all(root.join("teams")).unwrap();
    std::fs::write(
        root.join("base/base.pol"),
        "import \"std/hris\"\nimport \"std/saas\"\n\npolicy \"Base\" {\n  when employment_status == \"Active\"\n  grant slack:workspace-member\n}\n",
    )
    .unwrap();
    let sales = "policy \"Sales\" {\n  when department == \"Sales\"\n  inherits \"Base\"\n  grant slack:channel:#sales\n}\n";
    std::fs::write(root.join("teams/sales.pol"), sales).unwrap();
    let (h, _) = host_at("2024-11-24");
    h.set_file(&file_uri(&root.join("teams/sales.pol")), sales.into());
    assert_eq!(names(&h), ["base.pol", "sales.pol"]);
    assert_eq!(codes(&h, Severity::Error), []);

    // without the manifest, only the file's own folder: `Base` is unknown
    std::fs::remove_file(root.join("polc.toml")).unwrap();
    let (h, _) = host_at("2024-11-24");
    h.set_file(&file_uri(&root.join("teams/sales.pol")), sales.into());
    assert_eq!(names(&h), ["sales.pol"]);
    assert!(codes(&h, Severity::Error).iter().any(|(_, c)| c == "E0101"));
}

#[test]
fn a_document_that_is_no_file_brings_nothing() {
    let (h, _) = host_at("2024-11-24");
    h.set_file("untitled:Untitled-1", "policy \"A\" { when true }".into());
    h.set_file("file:///no/such/folder/a.pol", String::new());
    assert_eq!(h.uris().len(), 2);
}

#[test]
fn today_follows_the_clock_between_requests() {
    let (h, now) = host_at("2025-01-30");
    h.set_roots(vec![seed()]);
    assert_eq!(codes(&h, Severity::Warning), []);
    // past midnight: the exception of the seed expired on 2025-01-31
    *now.lock().unwrap() = day("2025-01-31");
    let w = codes(&h, Severity::Warning);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].0.ends_with("/exceptions.pol") && w[0].1 == "W0201",
        "{w:?}"
    );
    assert_eq!(h.snapshot().ws.today(&h.snapshot().db), day("2025-01-31"));
}

#[test]
fn lenses_count_on_the_same_day_as_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let users = root.join("users.json");
    std::fs::write(
        &users,
        r#"[{"user_id": "a", "employment_status": "Active", "start_date": "2025-01-01"},
            {"user_id": "b", "employment_status": "Active", "start_date": "2025-03-01"}]"#,
    )
    .unwrap();
    let text = "import \"std/hris\"\nimport \"std/saas\"\n\npolicy \"Started\" {\n  when start_date <= today\n  grant slack:workspace-member\n}\n";
    let (h, now) = host_at("2025-02-01");
    h.set_users_file(Some(users));
    let uri = file_uri(&root.join("p.pol"));
    h.set_file(&uri, text.into());
    let title = |h: &Host| h.code_lenses(&uri).unwrap()[0].title.clone();
    assert_eq!(title(&h), "applies to 1 of 2 people");
    *now.lock().unwrap() = day("2025-03-01");
    assert_eq!(title(&h), "applies to 2 of 2 people");
}
