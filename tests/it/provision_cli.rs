//! Provisioning through the `polc` binary on the `file` connector: init, hris import, pull,
//! plan, apply, status, audit verify, with the system's file checked after each step;
//! refusals exit 2 and change nothing; two processes contending for one system's lock.

use std::path::Path;

use serde_json::Value;

use crate::support::{polc_in, stderr, stdout};

const AT: &str = "2025-06-01";

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = polc_in(dir, args);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args);
    assert_eq!(code, 0, "polc {args:?}: exit {code}\n{out}\n{err}");
    out
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// What the file system holds, sorted: `user grant level`.
fn held(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("systems/gitlab.json")).unwrap();
    let v = json(&text);
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["user_id"].as_str().unwrap(),
                e["grant"].as_str().unwrap(),
                e["level"].as_str().unwrap_or("-")
            )
        })
        .collect();
    out.sort();
    out
}

/// A seed project, imported and pulled; its plan written to plan.json.
fn planned() -> (tempfile::TempDir, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = ok(dir, &["init", "."]);
    assert!(out.contains("polc.toml"), "{out}");
    assert_eq!(held(dir), Vec::<String>::new());
    let out = ok(dir, &["hris", "import", "--at", AT]);
    assert!(!out.is_empty());
    let out = ok(dir, &["pull", "--format", "json"]);
    assert_eq!(json(&out)["systems"][0]["entries"], 0, "{out}");
    ok(
        dir,
        &["plan", "--at", AT, "-o", "plan.json", "--format", "json"],
    );
    let plan = json(&std::fs::read_to_string(dir.join("plan.json")).unwrap());
    assert!(plan["id"].as_str().is_some() && plan["digest"].as_str().is_some());
    assert!(plan["actions"].as_array().unwrap().len() >= 5, "{plan}");
    (tmp, plan)
}

#[test]
fn init_import_pull_plan_apply_status_verify_on_a_file_system() {
    let (tmp, plan) = planned();
    let dir = tmp.path();
    assert_eq!(held(dir), Vec::<String>::new(), "planning sends nothing");
    let digest = plan["digest"].as_str().unwrap();
    let id = plan["id"].as_str().unwrap();

    // the human plan names its id and digest
    let human = ok(dir, &["plan", "--at", AT]);
    assert!(human.contains(digest), "{human}");

    let (code, out, err) = run(
        dir,
        &[
            "apply",
            "plan.json",
            "--approve",
            digest,
            "--at",
            AT,
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let rep = json(&out);
    assert_eq!(rep["plan"], id);
    assert_eq!(rep["digest"], digest);
    let n = plan["actions"].as_array().unwrap().len();
    assert_eq!(rep["summary"]["done"], n, "{out}");
    for k in ["failed", "stale", "skipped"] {
        assert_eq!(rep["summary"][k], 0, "{out}");
    }
    let r0 = &rep["results"][0];
    for k in ["id", "status", "attempts", "error"] {
        assert!(r0.get(k).is_some(), "results carry {k}: {r0}");
    }
    // the system holds exactly the plan's grants
    let mut want: Vec<String> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "grant")
        .map(|a| {
            format!(
                "{} {} {}",
                a["user_id"].as_str().unwrap(),
                a["grant"].as_str().unwrap(),
                a["level"].as_str().unwrap_or("-")
            )
        })
        .collect();
    want.sort();
    assert_eq!(held(dir), want);

    // a pull sees nothing out of band; a new plan has nothing to do
    let out = ok(dir, &["pull", "--system", "gitlab", "--format", "json"]);
    let p = &json(&out)["systems"][0];
    assert_eq!(p["appeared"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(p["disappeared"].as_array().unwrap().len(), 0, "{out}");
    let again = json(&ok(dir, &["plan", "--at", AT, "--format", "json"]));
    assert_eq!(again["actions"].as_array().unwrap().len(), 0, "{again}");

    let status = ok(dir, &["status", "--at", AT]);
    assert!(status.contains("gitlab"), "{status}");
    json(&ok(dir, &["status", "--at", AT, "--format", "json"]));
    let v = ok(dir, &["audit", "verify"]);
    assert!(v.contains("intact"), "{v}");
    let head = json(&ok(dir, &["audit", "verify", "--format", "json"]))["head"]
        .as_str()
        .unwrap()
        .to_string();
    ok(dir, &["audit", "verify", "--head", &head]);
    let (code, _, _) = run(dir, &["audit", "verify", "--head", "sha256:00"]);
    assert_ne!(code, 0);

    // The evidence pack of the period: every section with its controls, in each format;
    // signed, the signature file is written beside it.
    let pack = json(&ok(
        dir,
        &[
            "audit",
            "export",
            "--from",
            "2025-01-01",
            "--to",
            "2030-01-01",
            "--format",
            "json",
        ],
    ));
    assert!(pack.to_string().contains("CC6.2"), "{pack}");
    let md = ok(
        dir,
        &["audit", "export", "--to", "2030-01-01", "--format", "md"],
    );
    assert!(md.contains(r"CC6\.2") && md.contains(r"A\.9\.2\.6"), "{md}");
    ok(dir, &["keygen", "-o", "ev.key"]);
    ok(
        dir,
        &[
            "audit",
            "export",
            "--to",
            "2030-01-01",
            "--sign-key",
            "ev.key",
            "-o",
            "pack.html",
        ],
    );
    let html = std::fs::read_to_string(dir.join("pack.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html") || html.starts_with("<!doctype html"),
        "{html}"
    );
    assert!(dir.join("pack.html.sig").is_file());
    let (code, _, err) = run(dir, &["audit", "export", "--format", "pdf"]);
    assert_eq!(code, 2, "{err}");
    held(dir);
}

#[test]
fn refusals_exit_2_and_change_nothing() {
    let (tmp, plan) = planned();
    let dir = tmp.path();
    let digest = plan["digest"].as_str().unwrap();
    let id = plan["id"].as_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        // another digest
        vec!["apply", id, "--approve", "sha256:0000", "--at", AT],
        // dated other than the plan
        vec!["apply", id, "--approve", digest, "--at", "2025-06-02"],
        // review systems need a person
        vec!["apply", id, "--auto-approve", "--at", AT],
    ];
    for args in &cases {
        let (code, out, err) = run(dir, args);
        assert_eq!(code, 2, "polc {args:?}: {out}\n{err}");
        assert!(err.contains("refused"), "{err}");
        assert_eq!(
            held(dir),
            Vec::<String>::new(),
            "polc {args:?} sent something"
        );
    }
    // a plan file whose digest was changed
    let mut tampered = plan.clone();
    tampered["digest"] = Value::String("sha256:1111".into());
    std::fs::write(dir.join("tampered.json"), tampered.to_string()).unwrap();
    let (code, _, err) = run(
        dir,
        &[
            "apply",
            "tampered.json",
            "--approve",
            "sha256:1111",
            "--at",
            AT,
        ],
    );
    assert_eq!(code, 2, "{err}");
    // stale: the directory changed since the plan
    let users = std::fs::read_to_string(dir.join("hris/users.json")).unwrap();
    let mut v = json(&users);
    v[0]["job_title"] = Value::String("Solutions Architect".into());
    std::fs::write(dir.join("hris/users.json"), v.to_string()).unwrap();
    // one change in five people is more than max_missing_percent: refused, then forced
    let (code, _, err) = run(dir, &["hris", "import", "--at", AT]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("max_missing_percent"), "{err}");
    ok(
        dir,
        &["hris", "import", "--at", AT, "--force", "--reason", "reorg"],
    );
    let (code, _, err) = run(dir, &["apply", id, "--approve", digest, "--at", AT]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stale"), "{err}");
    assert_eq!(held(dir), Vec::<String>::new());
    // no project: exit 2 with the fix
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run(empty.path(), &["status"]);
    assert_eq!(code, 2);
    assert!(err.contains("polc init"), "{err}");
    // the offline plan still works with --users and --access
    let seed = concat!(root!(), "/examples/seed");
    let (code, out, err) = run(
        Path::new(seed),
        &[
            "plan",
            "policies",
            "--users",
            "users.json",
            "--access",
            "access.json",
            "--at",
            AT,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
}

#[test]
fn a_second_process_says_who_holds_the_lock_or_waits() {
    let (tmp, plan) = planned();
    let dir = tmp.path();
    // hold gitlab's lock from this process, as another apply would
    let locks = dir.join(".polc/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(locks.join("gitlab.lock"))
        .unwrap();
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).unwrap();
    std::fs::write(
        locks.join("gitlab.lock"),
        "4242 otherhost 2025-06-01T00:00:00Z\n",
    )
    .unwrap();
    let digest = plan["digest"].as_str().unwrap();
    let (code, out, err) = run(
        dir,
        &["apply", "plan.json", "--approve", digest, "--at", AT],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("4242") && err.contains("otherhost"), "{err}");
    assert_eq!(held(dir), Vec::<String>::new());
    // --wait: waits until the holder lets go
    let child = std::process::Command::new(crate::support::POLC)
        .args([
            "apply",
            "plan.json",
            "--approve",
            digest,
            "--at",
            AT,
            "--wait",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(
        held(dir),
        Vec::<String>::new(),
        "sent while the lock was held"
    );
    drop(f);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!held(dir).is_empty());
}

/// An `exec` system whose program fails every call once a `down` file exists; it counts
/// its starts in `starts`. Imported, pulled (while it answers), planned to plan.json.
fn exec_planned() -> (tempfile::TempDir, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["init", "."]);
    let script = dir.join("gitlab.sh");
    let store = concat!(root!(), "/examples/connectors/json-store.py");
    std::fs::write(
        &script,
        format!(
            "echo start >> '{d}/starts'\n\
             if [ -e '{d}/down' ]; then echo 'gitlab is down for maintenance' >&2; exit 3; fi\n\
             exec python3 '{store}' '{d}/store.json'\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let toml = std::fs::read_to_string(dir.join("polc.toml")).unwrap();
    let file_system = "connector = \"file\"\npath = \"systems/gitlab.json\"\n";
    assert!(toml.contains(file_system), "{toml}");
    let exec_system = format!(
        "connector = \"exec\"\ncommand = [\"sh\", \"{}\"]\nmax_attempts = 1\nquarantine_after = 2\ntimeout_seconds = 10\nread_back_seconds = 5\n",
        script.display()
    );
    std::fs::write(
        dir.join("polc.toml"),
        toml.replacen(file_system, &exec_system, 1),
    )
    .unwrap();
    ok(dir, &["hris", "import", "--at", AT]);
    let out = ok(dir, &["pull", "--format", "json"]);
    assert_eq!(json(&out)["systems"][0]["entries"], 0, "{out}");
    ok(dir, &["plan", "--at", AT, "-o", "plan.json"]);
    let plan = json(&std::fs::read_to_string(dir.join("plan.json")).unwrap());
    assert!(plan["actions"].as_array().unwrap().len() >= 5, "{plan}");
    (tmp, plan)
}

fn starts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("starts"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn an_exec_system_that_keeps_failing_is_quarantined_skipped_and_released_by_a_pull() {
    let (tmp, plan) = exec_planned();
    let dir = tmp.path();
    let digest = plan["digest"].as_str().unwrap();
    let n = plan["actions"].as_array().unwrap().len();
    let apply = ["apply", "plan.json", "--approve", digest, "--at", AT];
    std::fs::write(dir.join("down"), "").unwrap();

    // quarantine_after = 2 failed calls in a row: the rest of the plan is not sent
    let before = starts(dir);
    let (code, out, err) = run(dir, &apply);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("quarantined"), "apply says so: {out}\n{err}");
    assert_eq!(starts(dir) - before, 2, "two calls, then none: {out}");
    let status = ok(dir, &["status", "--at", AT]);
    assert!(status.contains("QUARANTINED gitlab"), "{status}");
    let st = json(&ok(dir, &["status", "--at", AT, "--format", "json"]));
    assert_eq!(st["quarantined"][0]["system"], "gitlab", "{st}");

    // later applies skip it: the program is not even started, the actions wait
    let before = starts(dir);
    let (code, out, err) = run(dir, &[&apply[..], &["--format", "json"]].concat());
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(starts(dir), before, "a quarantined system is not called");
    let rep = json(&out);
    assert_eq!(rep["summary"]["done"], 0, "{out}");
    assert_eq!(rep["summary"]["pending"], n, "every action waits: {out}");
    assert!(
        rep["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["error"].as_str().unwrap_or("").contains("quarantined")),
        "{out}"
    );

    // a pull of the system alone that fails does not release it
    let (code, _, err) = run(dir, &["pull", "--system", "gitlab"]);
    assert_ne!(code, 0, "{err}");
    assert!(ok(dir, &["status", "--at", AT]).contains("QUARANTINED gitlab"));

    // the documented release: the system answers again and `pull --system` succeeds
    std::fs::remove_file(dir.join("down")).unwrap();
    let out = ok(dir, &["pull", "--system", "gitlab"]);
    assert!(out.contains("released from quarantine"), "{out}");
    let status = ok(dir, &["status", "--at", AT]);
    assert!(!status.contains("QUARANTINED"), "{status}");

    // and the same apply then finishes the plan
    let (code, out, err) = run(dir, &[&apply[..], &["--format", "json"]].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)["summary"]["done"], n, "{out}");
    let store = json(&std::fs::read_to_string(dir.join("store.json")).unwrap());
    assert_eq!(store["grants"].as_array().unwrap().len(), n, "{store}");
}
