//! `polc demo`: the seed story end to end on a kept project, checked in its system files.

use crate::support::{polc_in, stderr, stdout};

#[test]
fn the_demo_runs_the_seed_story_and_leaves_sarah_with_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let o = polc_in(dir.path(), &["demo", "--keep", "demo"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    for step in [
        "Sarah is hired",
        "promoted",
        "grace period ends",
        "the daily pull finds it",
        "Sarah leaves",
        "audit log intact",
    ] {
        assert!(out.contains(step), "missing {step:?}:\n{out}");
    }
    // The grant made by hand was found by the pull and revoked after review.
    assert!(out.contains("+ sarah.chen gitlab:group:finance"), "{out}");
    // After her last day, no system holds anything of Sarah; the others keep their access.
    let mut others = 0;
    for entry in std::fs::read_dir(project.join("systems")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let held: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert!(
                held.iter().all(|h| h["user_id"] != "sarah.chen"),
                "{}: {held:?}",
                path.display()
            );
            others += held.len();
        }
    }
    assert!(others > 0);
    let pack = std::fs::read_to_string(project.join("evidence.html")).unwrap();
    assert!(pack.contains("sarah.chen") && pack.contains("CC6.2"));
}
