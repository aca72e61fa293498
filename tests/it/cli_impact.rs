//! `polc impact OLD NEW` end to end: the seed against a modified copy (Sales Engineer
//! Access gains a grant, loses one and raises a level; a new policy for Solutions
//! Architects that breaks a new separation-of-duties conflict; a stricter `require`), in
//! human, JSON and Markdown; identical bundles; a compiled bundle against its sources;
//! `git:REV:PATH`; the CI gates; and bad input.

use crate::support::{polc_in, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEED: &str = "examples/seed/policies";
const USERS: &str = "examples/seed/users.json";
const ACCESS: &str = "examples/seed/access.json";
const AT: &str = "2025-06-01";

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(root!()), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The changes under review, applied to a copy of the seed's policies in `dir`.
fn modify(dir: &Path) {
    let edit = |name: &str, from: &str, to: &str| {
        let p = dir.join(name);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{name} has no `{from}`");
        std::fs::write(&p, text.replace(from, to)).unwrap();
    };
    edit(
        "sales.pol",
        "  grant gitlab:group:customer-solutions (reporter)\n  grant slack:channel:#customer-success\n",
        "  grant gitlab:group:customer-solutions (developer)\n  grant jira:project:SE (contributor)\n",
    );
    edit(
        "base.pol",
        "require employment_status == \"Active\"",
        "require employment_status == \"Active\" and employment_type != \"Contractor\"",
    );
    std::fs::write(
        dir.join("architects.pol"),
        r#"/// Architects review customer deals.
policy "Solutions Architect Deal Review" {
  when job_title == "Solutions Architect"
  grant salesforce:permission-set:deal-review
  grant confluence:space:architecture-reviews (admin)
}

conflict "Customer data vs production" {
  salesforce:*, deploy:environment:production
  reason "Nobody both reads customer data and touches production"
}
"#,
    )
    .unwrap();
}

/// Drops the new conflict from the changes: with it, some user can reach it (E0501), and
/// `polc build` refuses a bundle with errors.
fn without_conflict(dir: &Path) {
    let p = dir.join("architects.pol");
    let text = std::fs::read_to_string(&p).unwrap();
    let cut = text.find("conflict ").expect("the new conflict");
    std::fs::write(&p, &text[..cut]).unwrap();
}

fn copy_seed(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let src = Path::new(root!()).join(SEED);
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A temp dir holding `new/`: the modified seed.
fn modified() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new");
    copy_seed(&new);
    modify(&new);
    (dir, new)
}

fn impact(old: &str, new: &str, extra: &[&str]) -> Output {
    let mut args = vec!["impact", old, new, "--users", USERS, "--at", AT];
    args.extend_from_slice(extra);
    polc(&args)
}

#[test]
fn seed_change_human() {
    let (_d, new) = modified();
    let o = impact(SEED, s(&new), &["--access", ACCESS]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o).replace(s(&new), "[NEW]");
    insta::assert_snapshot!("impact_seed_human", text);
}

#[test]
fn seed_change_markdown() {
    let (_d, new) = modified();
    let o = impact(SEED, s(&new), &["--access", ACCESS, "--format", "markdown"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o).replace(s(&new), "[NEW]");
    insta::assert_snapshot!("impact_seed_markdown", text);
}

#[test]
fn seed_change_json() {
    let (_d, new) = modified();
    let o = impact(SEED, s(&new), &["--access", ACCESS, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o).replace(s(&new), "[NEW]");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The exact counts of people and of entitlement changes.
    let sum = &v["summary"];
    assert_eq!(sum["people_gaining"], 3);
    assert_eq!(sum["gains"], 3);
    assert_eq!(sum["people_losing"], 3);
    assert_eq!(sum["losses"], 16);
    assert_eq!(sum["people_level_changed"], 3);
    assert_eq!(sum["new_violations"], 1);
    assert_eq!(sum["people_losing_everything"], 1);
    // Users in input order, grants by text, policies by name.
    let ids: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sarah.chen", "john.doe", "priya.nair", "lee.park"]);
    for key in ["grants", "policies"] {
        let field = if key == "grants" { "grant" } else { "name" };
        let names: Vec<&str> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g[field].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "{key} are sorted");
    }
    insta::assert_snapshot!("impact_seed_json", text);
}

#[test]
fn without_access_there_is_no_access_section() {
    let (_d, new) = modified();
    let o = impact(SEED, s(&new), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("access").is_none());
    assert!(v["users"][0]["gains"][0].get("current").is_none());
    let o = impact(SEED, s(&new), &[]);
    let text = stdout(&o);
    assert!(!text.contains("Current access"), "{text}");
    assert!(!text.contains("to provision"), "{text}");
}

#[test]
fn identical_bundles_are_no_change() {
    let o = impact(SEED, SEED, &["--access", ACCESS]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(
            "No change in access: all 5 people evaluated get the same access under both bundles."
        ),
        "{text}"
    );
    assert!(!text.contains("People\n"), "{text}");
    let o = impact(
        SEED,
        SEED,
        &["--format", "json", "--fail-on-loss", "--fail-on-violation"],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["users"], serde_json::json!([]));
    assert_eq!(v["grants"], serde_json::json!([]));
    assert_eq!(v["policies"], serde_json::json!([]));
    assert_eq!(v["summary"]["users_changed"], 0);
    // A copy in another directory is the same bundle.
    let dir = tempfile::tempdir().unwrap();
    copy_seed(dir.path());
    let o = impact(SEED, s(dir.path()), &["--format", "markdown"]);
    assert!(
        stdout(&o).contains("**No change in access"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn ci_gates() {
    let (_d, new) = modified();
    for (flag, code) in [
        ("--fail-on-loss", 1),
        ("--fail-on-violation", 1),
        ("--format=json", 0),
    ] {
        let o = impact(SEED, s(&new), &[flag]);
        assert_eq!(o.status.code(), Some(code), "{flag}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{flag}: the report is printed anyway");
    }
    // The reverse change gains, and resolves the violation instead: nothing to gate on.
    let o = impact(s(&new), SEED, &["--fail-on-violation"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_compiled_bundle_answers_as_its_sources() {
    let (d, new) = modified();
    without_conflict(&new);
    let polb = d.path().join("new.polb");
    let o = polc(&["build", s(&new), "-o", s(&polb)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Detected by content too, whatever the extension.
    let plain = d.path().join("new-bundle");
    std::fs::copy(&polb, &plain).unwrap();
    let json = |old: &str, new_arg: &str| -> serde_json::Value {
        let o = impact(old, new_arg, &["--access", ACCESS, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["old"] = serde_json::Value::Null;
        v["new"] = serde_json::Value::Null;
        v
    };
    let from_sources = json(SEED, s(&new));
    assert_eq!(json(SEED, s(&polb)), from_sources);
    assert_eq!(json(SEED, s(&plain)), from_sources);
    // And as OLD.
    let seed_polb = d.path().join("seed.polb");
    let o = polc(&["build", SEED, "-o", s(&seed_polb)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(s(&seed_polb), s(&polb)), from_sources);
}

#[test]
fn bad_input_exits_2_naming_it() {
    let (d, new) = modified();
    let o = impact("no/such/policies", s(&new), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("error: OLD `no/such/policies`: no such file or directory"),
        "{}",
        stderr(&o)
    );
    let o = impact(SEED, "missing.polb", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("NEW `missing.polb`"), "{}", stderr(&o));

    // A NEW with errors: its diagnostics, then a refusal naming it.
    let broken = d.path().join("broken");
    copy_seed(&broken);
    std::fs::write(
        broken.join("oops.pol"),
        "policy \"Oops\" { when department == \"Sales\" inherits \"Sales Team Acess\" }\n",
    )
    .unwrap();
    let o = impact(SEED, s(&broken), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("E0101"), "{err}");
    assert!(
        err.contains(&format!(
            "error: NEW `{}`: the policies have 1 error(s)",
            s(&broken)
        )),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    // A damaged bundle.
    let bad = d.path().join("bad.polb");
    std::fs::write(&bad, "{\"magic\":\"polc-bundle\"}\n").unwrap();
    let o = impact(s(&bad), SEED, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("error: OLD: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.polb"), "{}", stderr(&o));

    // An unreadable access file.
    let o = impact(SEED, s(&new), &["--access", "nope.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.json"), "{}", stderr(&o));

    // A malformed git spec.
    let o = impact("git:HEAD", SEED, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected `git:REV:PATH`"),
        "{}",
        stderr(&o)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
}

#[test]
fn git_revisions() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("git is not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    copy_seed(&repo.join("policies"));
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "seed"]);
    modify(&repo.join("policies"));
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "change"]);
    let root = Path::new(root!());
    let users = root.join(USERS);
    let access = root.join(ACCESS);
    let run = |old: &str, new: &str| {
        polc_in(
            repo,
            &[
                "impact",
                old,
                new,
                "--users",
                s(&users),
                "--access",
                s(&access),
                "--at",
                AT,
                "--format",
                "json",
            ],
        )
    };
    let summary = |o: &Output| {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["summary"].clone()
    };
    // The tree at HEAD~1 against the working tree: the same as the seed against the copy.
    let (_d, new) = modified();
    let expected = summary(&impact(
        SEED,
        s(&new),
        &["--access", ACCESS, "--format", "json"],
    ));
    assert_eq!(summary(&run("git:HEAD~1:policies", "policies")), expected);
    assert_eq!(
        summary(&run("git:HEAD~1:policies", "git:HEAD:policies")),
        expected
    );
    assert_eq!(
        summary(&run("git:HEAD:policies", "policies"))["users_changed"],
        0
    );
    // From a subdirectory, PATH is relative to it, as git takes it.
    let o = polc_in(
        &repo.join("policies"),
        &[
            "impact",
            "git:HEAD~1:.",
            ".",
            "--users",
            s(&users),
            "--at",
            AT,
            "--format",
            "json",
        ],
    );
    assert_eq!(summary(&o)["losses"], expected["losses"]);
    // A compiled bundle committed to the repository (of a change that `polc build`
    // accepts: without the reachable conflict).
    without_conflict(&repo.join("policies"));
    let o = polc_in(repo, &["build", "policies", "-o", "policies.polb"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    git(repo, &["add", "policies.polb"]);
    git(repo, &["commit", "-q", "-m", "bundle"]);
    assert_eq!(
        summary(&run("git:HEAD:policies.polb", "policies"))["users_changed"],
        0
    );
    // Diagnostics of a revision name its files as REV:path.
    std::fs::write(
        repo.join("policies/oops.pol"),
        "policy \"Oops\" { when department == \"Sales\" inherits \"Nope\" }\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "oops"]);
    let o = run("git:HEAD:policies", "policies");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("HEAD:policies/oops.pol"),
        "{}",
        stderr(&o)
    );
    // Unknown revision or path.
    let o = run("git:no-such-rev:policies", "policies");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("OLD `git:no-such-rev:policies`"),
        "{}",
        stderr(&o)
    );
    let o = run("git:HEAD:nothing-here", "policies");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no such file or directory at revision `HEAD`"),
        "{}",
        stderr(&o)
    );
}

/// `git:REV:PATH` follows imports only inside PATH at that revision: a file elsewhere in the
/// repository (`../secret.pol`) is never read, so its text cannot leak into the report.
#[test]
fn git_revisions_do_not_follow_imports_out_of_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    copy_seed(&repo.join("policies"));
    std::fs::write(
        repo.join("secret.pol"),
        "policy \"TOPSECRET-7731\" {\n  when department == \"Sales\"\n  grant slack:channel:#topsecret-7731\n}\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("policies/leak.pol"),
        "import \"std/hris\"\nimport \"../secret.pol\"\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "seed"]);
    let users = Path::new(root!()).join(USERS);
    let o = polc_in(
        repo,
        &[
            "impact",
            "git:HEAD:policies",
            "git:HEAD:policies",
            "--users",
            s(&users),
        ],
    );
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("7731"), "{all}");
    assert_ne!(o.status.code(), Some(0), "{all}");
}
