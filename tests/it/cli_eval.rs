//! `polc eval`, `polc explain` and `polc test` on the seed, as a user runs them: snapshots of
//! the outputs, and the exit codes and messages of bad input.

use crate::support::{polc_in, stderr, stdout, POLC};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(concat!(root!(), "/examples/seed")), args)
}

#[test]
fn eval_json_on_day_one() {
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        "users.json",
        "--at",
        "2024-11-24",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["as_of"], "2024-11-24");
    let sarah = &v["users"][0];
    assert_eq!(sarah["user_id"], "sarah.chen");
    assert_eq!(sarah["grants"].as_array().unwrap().len(), 17);
    assert_eq!(sarah["exceptions"][0]["name"], "Q4 migration");
    insta::assert_json_snapshot!("eval_seed_2024_11_24", v);
}

#[test]
fn eval_json_mid_2025_has_denies_and_no_exception() {
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        "users.json",
        "--at",
        "2025-06-01",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let lee = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "lee.park")
        .unwrap();
    let denied: Vec<&str> = lee["denied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["grant"].as_str().unwrap())
        .collect();
    assert_eq!(
        denied,
        vec![
            "salesforce:profile:sales-engineer",
            "salesforce:user-license"
        ]
    );
    assert_eq!(lee["grants"].as_array().unwrap().len(), 14);
    let omar = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "omar.haddad")
        .unwrap();
    assert!(omar["grants"].as_array().unwrap().is_empty());
    insta::assert_json_snapshot!("eval_seed_2025_06_01", v);
}

#[test]
fn eval_table() {
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        "users.json",
        "--at",
        "2025-06-01",
        "--format",
        "table",
    ]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("eval_seed_table", stdout(&o));
}

#[test]
fn explain_why_and_why_not() {
    let cases: &[(&str, &[&str])] = &[
        (
            "explain_sarah_all",
            &["--user", "sarah.chen", "--at", "2024-11-24"],
        ),
        (
            "explain_sarah_mid_2025",
            &["--user", "sarah.chen", "--at", "2025-06-01"],
        ),
        (
            "explain_lee_denied",
            &[
                "--user",
                "lee.park",
                "--at",
                "2025-06-01",
                "--grant",
                "salesforce:user-license",
            ],
        ),
        (
            "explain_sarah_expired_exception",
            &[
                "--user",
                "sarah.chen",
                "--at",
                "2025-06-01",
                "--grant",
                "gitlab:group:platform-engineering",
            ],
        ),
        (
            "explain_priya_not_in_sales",
            &[
                "--user",
                "priya.nair",
                "--at",
                "2025-06-01",
                "--grant",
                "salesforce:user-license",
            ],
        ),
        (
            "explain_omar_fails_require",
            &[
                "--user",
                "omar.haddad",
                "--at",
                "2025-06-01",
                "--grant",
                "google:workspace-account",
            ],
        ),
        (
            "explain_john_level",
            &[
                "--user",
                "john.doe",
                "--at",
                "2025-06-01",
                "--grant",
                "gitlab:group:customer-solutions (developer)",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut all = vec!["explain", "policies", "--users", "users.json"];
        all.extend_from_slice(args);
        let o = polc(&all);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        insta::assert_snapshot!(*name, stdout(&o));
    }
    let o = polc(&[
        "explain",
        "policies",
        "--users",
        "users.json",
        "--user",
        "lee.park",
        "--at",
        "2025-06-01",
        "--grant",
        "salesforce:user-license",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["grants"][0]["held"], false);
    assert!(v["grants"][0]["why_not"][0]
        .as_str()
        .unwrap()
        .contains("deny salesforce:*"));
}

#[test]
fn bad_input_is_exit_2_with_the_record_or_file_named() {
    let o = polc(&[
        "explain",
        "policies",
        "--users",
        "users.json",
        "--user",
        "nobody",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nobody"));
    let o = polc(&[
        "explain",
        "policies",
        "--users",
        "users.json",
        "--user",
        "lee.park",
        "--grant",
        "gitlabb:group:x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown system `gitlabb`"),
        "{}",
        stderr(&o)
    );
    let o = polc(&["eval", "policies", "--users", "no-such-file.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-file.json"));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "[{\"user_id\": \"a\",\n \"employment_status\": \"Active\"},\n {\"user_id\": }]",
    )
    .unwrap();
    let o = polc(&["eval", "policies", "--users", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.json:3"), "{}", stderr(&o));

    // One bad record: reported in `errors`, the others evaluated.
    let mixed = dir.path().join("mixed.json");
    std::fs::write(
        &mixed,
        r#"[{"user_id": "ok", "employment_status": "Active", "department": "Sales"},
            {"user_id": "bad.record", "employment_status": "Active", "start_date": "soon"},
            {"user_id": "worse", "employment_status": "Fired"}]"#,
    )
    .unwrap();
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        mixed.to_str().unwrap(),
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["user_id"], "bad.record");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("start_date"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[1]["field"], "employment_status");

    // Policies with errors are refused.
    let bad_pol = dir.path().join("bad.pol");
    std::fs::write(
        &bad_pol,
        "import \"std/hris\"\npolicy \"A\" { when job_titel == \"x\" }",
    )
    .unwrap();
    let o = polc(&["eval", bad_pol.to_str().unwrap(), "--users", "users.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("E0201"));
}

#[test]
fn users_from_stdin_jsonl_and_csv_agree() {
    let json = polc(&[
        "eval",
        "policies",
        "--users",
        "users.json",
        "--at",
        "2025-06-01",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let users: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(root!(), "/examples/seed/users.json")).unwrap(),
    )
    .unwrap();
    let jsonl: String = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{u}\n"))
        .collect();
    let p = dir.path().join("users.jsonl");
    std::fs::write(&p, &jsonl).unwrap();
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        p.to_str().unwrap(),
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(o.stdout, json.stdout);
    let mut child = Command::new(POLC)
        .args(["eval", "policies", "--users", "-", "--at", "2025-06-01"])
        .current_dir(concat!(root!(), "/examples/seed"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(users.to_string().as_bytes())
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().stdout, json.stdout);
    let csv = "user_id,job_title,department,employment_status,employment_type\nlee.park,Sales Engineer,Sales,Active,Contractor\n";
    let c = dir.path().join("users.csv");
    std::fs::write(&c, csv).unwrap();
    let o = polc(&[
        "eval",
        "policies",
        "--users",
        c.to_str().unwrap(),
        "--at",
        "2025-06-01",
        "--user",
        "lee.park",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["users"][0]["grants"].as_array().unwrap().len(), 14);
}

#[test]
fn seed_tests_pass() {
    let o = polc(&["test", "policies"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert_eq!(out.lines().last(), Some("4 passed, 0 failed"));
    assert!(
        out.contains("never: \"Senior Sales Engineer Access\""),
        "{out}"
    );
}

#[test]
fn failing_tests_exit_1_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.pol");
    std::fs::write(
        &f,
        r#"import "std/hris"
import "std/saas"
policy "Sales" { when department == "Sales" grant slack:channel:#sales grant gitlab:group:crm (reporter) }
test "wrong" {
  given { user_id: "t", employment_status: "Active", department: "Sales" }
  expect policies ["Engineering"]
  expect grant gitlab:group:crm (developer)
  expect no grant slack:channel:#sales
  expect grant zoom:account
}
test "right" {
  given { user_id: "t", employment_status: "Active", department: "Sales" }
  expect policies ["Sales"]
}
"#,
    )
    .unwrap();
    let o = Command::new(POLC)
        .args(["test", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "unknown policy in expect policies is an error: {}",
        stderr(&o)
    );
    let fixed = std::fs::read_to_string(&f)
        .unwrap()
        .replace("[\"Engineering\"]", "[]");
    std::fs::write(&f, fixed).unwrap();
    let o = Command::new(POLC)
        .args(["test", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("test_failures", stdout(&o));
}

#[test]
fn a_compiled_bundle_answers_exactly_as_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("seed.polb");
    let b = b.to_str().unwrap();
    assert_eq!(polc(&["build", "policies", "-o", b]).status.code(), Some(0));
    for at in ["2024-11-24", "2025-01-15", "2025-06-01"] {
        let from_source = polc(&["eval", "policies", "--users", "users.json", "--at", at]);
        let from_bundle = polc(&["eval", "--bundle", b, "--users", "users.json", "--at", at]);
        assert_eq!(from_source.stdout, from_bundle.stdout, "eval at {at}");
        let d1 = polc(&[
            "drift",
            "policies",
            "--users",
            "users.json",
            "--access",
            "access.json",
            "--at",
            at,
            "--format",
            "json",
        ]);
        let d2 = polc(&[
            "drift",
            "--bundle",
            b,
            "--users",
            "users.json",
            "--access",
            "access.json",
            "--at",
            at,
            "--format",
            "json",
        ]);
        assert_eq!(d1.stdout, d2.stdout, "drift at {at}");
    }
    let t = polc(&["test", "--bundle", b]);
    assert_eq!(stdout(&t).lines().last(), Some("4 passed, 0 failed"));
    let x1 = polc(&[
        "explain",
        "policies",
        "--users",
        "users.json",
        "--user",
        "lee.park",
        "--at",
        "2025-06-01",
    ]);
    let x2 = polc(&[
        "explain",
        "--bundle",
        b,
        "--users",
        "users.json",
        "--user",
        "lee.park",
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(x1.stdout, x2.stdout);
    // Fail closed: a verify key refuses an unsigned bundle.
    let key = dir.path().join("k");
    assert_eq!(
        polc(&["keygen", "-o", key.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let pubkey = format!("{}.pub", key.display());
    let o = polc(&[
        "eval",
        "--bundle",
        b,
        "--verify-key",
        &pubkey,
        "--users",
        "users.json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not signed"), "{}", stderr(&o));
    let signed = dir.path().join("signed.polb");
    let signed = signed.to_str().unwrap();
    assert_eq!(
        polc(&[
            "build",
            "policies",
            "-o",
            signed,
            "--sign-key",
            key.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    let o = polc(&[
        "eval",
        "--bundle",
        signed,
        "--verify-key",
        &pubkey,
        "--users",
        "users.json",
        "--at",
        "2025-06-01",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        o.stdout,
        polc(&[
            "eval",
            "policies",
            "--users",
            "users.json",
            "--at",
            "2025-06-01"
        ])
        .stdout
    );
}

#[test]
fn access_snapshots_are_written_compared_diffed_and_updated() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.json");
    std::fs::copy(concat!(root!(), "/examples/seed/users.json"), &users).unwrap();
    let u = users.to_str().unwrap();
    let first = polc(&["test", "policies", "--snapshot", u, "--at", "2025-06-01"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let snap = std::fs::read_to_string(format!("{u}.snap")).unwrap();
    assert!(snap.starts_with("# polc access snapshot of users.json as of 2025-06-01"));
    // Unchanged: passes, on the date the snapshot records.
    let again = polc(&["test", "policies", "--snapshot", u]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(stdout(&again).lines().last(), Some("5 passed, 0 failed"));
    // Priya moves to Sales: her diff is shown and the run fails.
    let moved = std::fs::read_to_string(&users).unwrap().replace(
        "\"department\": \"Engineering\"",
        "\"department\": \"Sales\"",
    );
    std::fs::write(&users, moved).unwrap();
    let changed = polc(&["test", "policies", "--snapshot", u]);
    assert_eq!(changed.status.code(), Some(1));
    let out = stdout(&changed);
    assert!(
        out.contains("priya.nair:") && out.contains("+   salesforce:user-license"),
        "{out}"
    );
    assert!(
        !out.contains("sarah.chen:"),
        "only the users whose access changed are shown"
    );
    assert_eq!(out.lines().last(), Some("4 passed, 1 failed"));
    // --update accepts it.
    assert_eq!(
        polc(&["test", "policies", "--snapshot", u, "--update"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        polc(&["test", "policies", "--snapshot", u]).status.code(),
        Some(0)
    );
}
