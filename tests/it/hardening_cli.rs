//! Hardening of the command line (issue 11): a key that cannot be enforced is refused, data
//! from inputs cannot inject into CSV, terminal or Markdown outputs, outputs never replace
//! inputs, help describes every option, a project file names the default bundle, and SARIF
//! validates with Microsoft's SARIF Multitool.

use crate::support::{polc_in, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(root!()), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn seed(rel: &str) -> String {
    format!("{}/examples/seed/{rel}", root!())
}

/// Builds the seed into `dir/name`, signed with `key` if given.
fn build_seed(dir: &Path, name: &str, key: Option<&Path>) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "build",
        "examples/seed/policies",
        "-o",
        s(&out),
        "--today",
        "2024-11-24",
    ];
    if let Some(k) = key {
        args.extend(["--sign-key", s(k)]);
    }
    let o = polc(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let o = polc(&["keygen", "-o", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    key
}

fn assert_exit2(o: &Output, what: &str, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    assert!(stderr(o).contains(needle), "{what}: {}", stderr(o));
}

// Item 2: --verify-key is never a silent no-op.

/// Every command that reads policies, with sources (or, for `mine` and `analyze`, none):
/// a key there cannot be enforced, so it is an error, whatever the position of PATHS.
#[test]
fn a_verify_key_without_a_bundle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k");
    let pubkey = format!("{}.pub", s(&key));
    let (pol, users, access) = (seed("policies"), seed("users.json"), seed("access.json"));
    let event = seed("events/01-hired.json");
    let commands: Vec<Vec<&str>> = vec![
        vec!["eval", &pol, "--users", &users],
        vec!["eval", "--users", &users],
        vec!["test", &pol],
        vec!["explain", &pol, "--users", &users, "--user", "sarah.chen"],
        vec!["explain", "E0101"],
        vec!["drift", &pol, "--users", &users, "--access", &access],
        vec!["plan", &pol, "--users", &users, "--access", &access],
        vec!["event", &pol, "--users", &users, "--event", &event],
        vec![
            "mine",
            &pol,
            "--users",
            &users,
            "--access",
            &access,
            "--by",
            "department",
        ],
        vec![
            "mine",
            "--users",
            &users,
            "--access",
            &access,
            "--by",
            "department",
        ],
        vec!["analyze", "--overlaps", &pol],
        vec!["impact", &pol, &pol, "--users", &users],
    ];
    for mut args in commands {
        let what = args.join(" ");
        args.extend(["--verify-key", &pubkey]);
        let o = polc(&args);
        assert_exit2(&o, &what, "--verify-key");
        assert!(
            stderr(&o).contains("no signature"),
            "{what}: {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{what}: {}", stdout(&o));
    }
}

/// `impact --verify-key` checks both sides: signed by the key, both are compared; an
/// unsigned bundle, one signed by another key, or sources on either side are refused.
#[test]
fn impact_verifies_both_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k");
    let other = keygen(dir.path(), "other");
    let pubkey = format!("{}.pub", s(&key));
    let signed = build_seed(dir.path(), "signed.polb", Some(&key));
    let by_other = build_seed(dir.path(), "other.polb", Some(&other));
    let unsigned = build_seed(dir.path(), "unsigned.polb", None);
    let users = seed("users.json");
    let impact = |old: &Path, new: &str| {
        polc(&[
            "impact",
            s(old),
            new,
            "--users",
            &users,
            "--at",
            "2024-11-24",
            "--verify-key",
            &pubkey,
        ])
    };
    let o = impact(&signed, s(&signed));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("No change"), "{}", stdout(&o));
    for (old, new) in [
        (&signed, &unsigned),
        (&unsigned, &signed),
        (&signed, &by_other),
    ] {
        let o = impact(old, s(new));
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let o = impact(&signed, &seed("policies"));
    assert_exit2(&o, "NEW sources", "NEW `");
    assert!(stderr(&o).contains("no signature"), "{}", stderr(&o));
}

// Item 3: data from inputs cannot inject into CSV, terminal or Markdown outputs.

/// User ids (and a location) that try every injection: spreadsheet formulas, terminal
/// escape sequences (colour, OSC 8 hyperlink, bell), a forged report line, bidirectional
/// overrides, and Markdown/HTML links and markup.
const HOSTILE: &[&str] = &[
    "=HYPERLINK(\"http://evil\",\"x\")",
    "@SUM(A1)",
    "+1",
    "-1",
    "\tTAB",
    "\rCR",
    "esc\u{1b}[31mRED\u{1b}]8;;http://evil\u{7}",
    "line\n  EXCESS     forged:entry",
    "bidi\u{202e}txt.exe\u{2066}x\u{2069}",
    "[link](http://evil) <img src=x onerror=alert(1)> **b** | `c` # h",
];

/// A copy of the seed's first user under each hostile id (their location hostile too), in
/// `dir`: `users.json`, `access.json` (the seed user's access, plus an orphaned account per
/// id) and one `hired.json` event per id (`hired-N.json`).
fn hostile_inputs(dir: &Path) {
    let users: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed("users.json")).unwrap()).unwrap();
    let base = users[0].clone();
    let access: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(seed("access.json")).unwrap()).unwrap();
    let held = access["sarah.chen"].clone();
    let mut out_users = Vec::new();
    let mut out_access = serde_json::Map::new();
    for (i, id) in HOSTILE.iter().enumerate() {
        let mut u = base.clone();
        u["user_id"] = serde_json::json!(id);
        u["location"] = serde_json::json!(id);
        out_users.push(u.clone());
        out_access.insert(id.to_string(), held.clone());
        out_access.insert(
            format!("orphan {id}"),
            serde_json::json!(["slack:workspace-member"]),
        );
        let mut ev = u;
        ev["event"] = serde_json::json!("employee.hired");
        std::fs::write(dir.join(format!("hired-{i}.json")), ev.to_string()).unwrap();
    }
    std::fs::write(
        dir.join("users.json"),
        serde_json::to_string(&out_users).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("access.json"),
        serde_json::Value::Object(out_access).to_string(),
    )
    .unwrap();
}

fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A report for a terminal: no control character but line breaks, no bidirectional control,
/// and the forged line stays on the line of its id (escaped as `\n`).
fn assert_terminal_safe(what: &str, out: &str) {
    assert!(!out.is_empty(), "{what}: no output");
    if let Some(c) = out.chars().find(|&c| is_unsafe(c)) {
        panic!("{what}: U+{:04X} reaches the terminal:\n{out}", c as u32);
    }
    for line in out.lines().filter(|l| l.contains("forged:entry")) {
        assert!(
            line.contains("line\\n"),
            "{what}: a forged line: {line:?}\n{out}"
        );
    }
}

#[test]
fn human_outputs_escape_controls_from_inputs() {
    let dir = tempfile::tempdir().unwrap();
    hostile_inputs(dir.path());
    let d = |n: &str| s(&dir.path().join(n)).to_string();
    let (pol, users, access) = (seed("policies"), d("users.json"), d("access.json"));
    let at = ["--at", "2024-11-24"];
    let mut runs: Vec<(String, Vec<String>)> = vec![
        (
            "eval table".into(),
            vec![
                "eval".into(),
                pol.clone(),
                "--users".into(),
                users.clone(),
                "--format".into(),
                "table".into(),
            ],
        ),
        (
            "drift".into(),
            vec![
                "drift".into(),
                pol.clone(),
                "--users".into(),
                users.clone(),
                "--access".into(),
                access.clone(),
            ],
        ),
        (
            "plan".into(),
            vec![
                "plan".into(),
                pol.clone(),
                "--users".into(),
                users.clone(),
                "--access".into(),
                access.clone(),
            ],
        ),
    ];
    for (i, id) in HOSTILE.iter().enumerate() {
        runs.push((
            format!("explain {id:?}"),
            vec![
                "explain".into(),
                pol.clone(),
                "--users".into(),
                users.clone(),
                format!("--user={id}"),
            ],
        ));
        runs.push((
            format!("event {id:?}"),
            vec![
                "event".into(),
                pol.clone(),
                "--users".into(),
                seed("empty-users.json"),
                "--event".into(),
                d(&format!("hired-{i}.json")),
            ],
        ));
    }
    for (_, args) in &mut runs {
        args.extend(at.iter().map(|a| a.to_string()));
    }
    runs.push((
        "mine".into(),
        [
            "mine", "--users", &users, "--access", &access, "--by", "location",
        ]
        .map(String::from)
        .to_vec(),
    ));
    for (what, args) in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = polc(&args);
        assert!(
            o.status.code().is_some_and(|c| c < 2),
            "{what}: {}",
            stderr(&o)
        );
        assert_terminal_safe(what, &stdout(&o));
        assert!(!stderr(&o).chars().any(is_unsafe), "{what}: {}", stderr(&o));
    }
}

/// OLD: the seed; NEW: the seed without `slack:workspace-member` for everyone, so that each
/// hostile user is in the report.
fn impact_hostile(format: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    hostile_inputs(dir.path());
    let new = dir.path().join("new");
    std::fs::create_dir(&new).unwrap();
    for f in std::fs::read_dir(seed("policies")).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let text = text.replace("  grant slack:workspace-member\n", "");
        std::fs::write(new.join(f.file_name().unwrap()), text).unwrap();
    }
    polc(&[
        "impact",
        &seed("policies"),
        s(&new),
        "--users",
        s(&dir.path().join("users.json")),
        "--at",
        "2024-11-24",
        "--format",
        format,
    ])
}

#[test]
fn impact_human_escapes_controls() {
    let o = impact_hostile("human");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_terminal_safe("impact human", &stdout(&o));
}

/// A pull-request comment: no HTML, no link, no raw newline in a table row, no emphasis or
/// code from the data; the ids still read as they are.
#[test]
fn impact_markdown_escapes_markup() {
    let o = impact_hostile("markdown");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(!md.chars().any(is_unsafe), "{md}");
    assert!(!md.contains("<img"), "{md}");
    assert!(!md.contains("](http"), "{md}");
    assert!(!md.contains("**b**"), "{md}");
    assert!(md.contains("\\[link\\]\\(http://evil\\) &lt;img src=x onerror=alert\\(1\\)&gt; \\*\\*b\\*\\* \\| \\`c\\` \\# h"), "{md}");
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(
            line.ends_with('|'),
            "a table row broken by the data: {line:?}\n{md}"
        );
    }
    for line in md.lines().filter(|l| l.contains("forged:entry")) {
        assert!(
            line.contains("line\\\\n") || line.contains("line&#92;n"),
            "a forged line: {line:?}\n{md}"
        );
    }
}

/// Every CSV cell is text to a spreadsheet (OWASP: a leading `'` before `= + - @`, tab and
/// carriage return) and holds no control character.
#[test]
fn drift_csv_cells_are_not_formulas() {
    let dir = tempfile::tempdir().unwrap();
    hostile_inputs(dir.path());
    let o = polc(&[
        "drift",
        &seed("policies"),
        "--users",
        s(&dir.path().join("users.json")),
        "--access",
        s(&dir.path().join("access.json")),
        "--at",
        "2024-11-24",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let mut ids = std::collections::BTreeSet::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for cell in rec.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula cell: {cell:?}\n{text}"
            );
            assert!(!cell.chars().any(|c| c.is_control()), "{cell:?}\n{text}");
        }
        ids.insert(rec[0].to_string());
    }
    for want in [
        "'=HYPERLINK(\"http://evil\",\"x\")",
        "'@SUM(A1)",
        "'+1",
        "'-1",
        "'\\tTAB",
        "'\\rCR",
        "line\\n  EXCESS     forged:entry",
    ] {
        assert!(ids.contains(want), "{want:?} not in {ids:?}");
    }
}

// Item 4: outputs never replace inputs.

/// A copy of the seed (policies, users, access) in a temporary folder.
fn seed_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("policies");
    std::fs::create_dir(&pol).unwrap();
    for f in std::fs::read_dir(seed("policies")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, pol.join(f.file_name().unwrap())).unwrap();
    }
    for f in ["users.json", "access.json"] {
        std::fs::copy(seed(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// Runs `polc` in `dir`; `out` must be refused (exit 2, naming it) and left as it was.
fn assert_refused(dir: &Path, args: &[&str], out: &Path) {
    let before = std::fs::read(out).unwrap();
    let o = polc_in(dir, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains("refusing to overwrite"),
        "{args:?}: {}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(out).unwrap(),
        before,
        "{args:?} wrote {}",
        out.display()
    );
}

#[test]
fn build_refuses_to_overwrite_a_source_or_its_key() {
    let d = seed_copy();
    let dir = d.path();
    let key = keygen(dir, "k");
    for out in ["policies/base.pol", "./policies/../policies/sales.pol", "k"] {
        let target = dir.join(out);
        assert_refused(
            dir,
            &["build", "policies", "-o", out, "--sign-key", s(&key)],
            &target,
        );
    }
    // A new file is written as before.
    let o = polc_in(dir, &["build", "policies", "-o", "seed.polb"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn plan_refuses_to_overwrite_its_inputs() {
    let d = seed_copy();
    let dir = d.path();
    let bundle = build_seed(dir, "seed.polb", None);
    let base = ["plan", "--users", "users.json", "--access", "access.json"];
    for out in ["users.json", "access.json", "policies/engineering.pol"] {
        let mut args = base.to_vec();
        args.extend(["policies", "-o", out]);
        assert_refused(dir, &args, &dir.join(out));
    }
    let mut args = base.to_vec();
    args.extend(["--bundle", s(&bundle), "-o", "seed.polb"]);
    assert_refused(dir, &args, &bundle);
    let mut args = base.to_vec();
    args.extend(["policies", "-o", "plan.json"]);
    let o = polc_in(dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("plan.json").is_file());
}

#[test]
fn a_snapshot_never_replaces_an_input() {
    let d = seed_copy();
    let dir = d.path();
    for (file, update) in [
        ("users.json", true),
        ("policies/tests.pol", true),
        ("policies/tests.pol", false),
    ] {
        let mut args = vec![
            "test",
            "policies",
            "--snapshot",
            "users.json",
            "--snapshot-file",
            file,
            "--at",
            "2024-11-24",
        ];
        if update {
            args.push("--update");
        }
        assert_refused(dir, &args, &dir.join(file));
    }
}

/// A draft's name can be a symbolic link to a source of the mined bundle: `mine --emit`
/// follows no link onto its inputs.
#[cfg(unix)]
#[test]
fn mine_emit_never_writes_over_a_source() {
    let d = seed_copy();
    let dir = d.path();
    let out = dir.join("drafts");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(dir.join("policies/sales.pol"), out.join("sales.pol")).unwrap();
    let args = [
        "mine",
        "policies",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "department",
        "--emit",
        "drafts",
    ];
    assert_refused(dir, &args, &dir.join("policies/sales.pol"));
    // Into the bundle's own folder: refused as before.
    let mut args = args.to_vec();
    *args.last_mut().unwrap() = "policies";
    let o = polc_in(dir, &args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

// Item 18: a project file names the default bundle.

/// At the repository root, bare `polc check` checks the seed (`polc.toml`), not every .pol
/// file under the root (the fixtures of the tests have hundreds of errors by design).
#[test]
fn bare_check_at_the_root_checks_the_seed() {
    let o = polc(&["check", "--today", "2024-11-24"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("checked 5 files: no problems"),
        "{}",
        stderr(&o)
    );
    // In a subfolder, the nearest polc.toml up the tree is used.
    let o = polc_in(
        &Path::new(root!()).join("examples/seed/events"),
        &["check", "--today", "2024-11-24"],
    );
    assert!(
        stderr(&o).contains("checked 5 files: no problems"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn polc_toml_paths_or_bundle_are_the_default_policies() {
    let d = seed_copy();
    let dir = d.path();
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let users = s(&dir.join("users.json")).to_string();
    let eval = |cwd: &Path, extra: &[&str]| {
        let mut args = vec!["eval", "--users", &users, "--at", "2024-11-24"];
        args.extend(extra);
        polc_in(cwd, &args)
    };
    let with_paths = polc_in(
        dir,
        &["eval", "policies", "--users", &users, "--at", "2024-11-24"],
    );
    assert_eq!(with_paths.status.code(), Some(0), "{}", stderr(&with_paths));

    std::fs::write(
        dir.join("polc.toml"),
        "[policies]\npaths = [\"policies\"]\n[other]\nx = 1\n",
    )
    .unwrap();
    let o = eval(&sub, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&with_paths));
    let o = polc_in(&sub, &["check", "--today", "2024-11-24"]);
    assert!(stderr(&o).contains("checked 5 files"), "{}", stderr(&o));

    let key = keygen(dir, "k");
    let pubkey = format!("{}.pub", s(&key));
    build_seed(dir, "seed.polb", Some(&key));
    std::fs::write(
        dir.join("polc.toml"),
        "[policies]\nbundle = \"seed.polb\"\n",
    )
    .unwrap();
    let o = eval(&sub, &["--verify-key", &pubkey]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&with_paths));
    let o = polc_in(&sub, &["check"]);
    assert_exit2(
        &o,
        "check with a project bundle",
        "polc.toml names a compiled bundle",
    );

    std::fs::write(dir.join("polc.toml"), "[policies]\npaths = \"policies\"\n").unwrap();
    let o = eval(&sub, &[]);
    assert_exit2(&o, "a malformed polc.toml", "polc.toml: [policies] paths");
}

// Item 19: SARIF that GitHub and other consumers accept.

/// Microsoft's SARIF Multitool, installed by `.ci/deps`.
fn sarif_multitool() -> PathBuf {
    let bin = Path::new(root!())
        .join("target/sarif-tool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool");
    assert!(
        bin.is_file(),
        "the SARIF Multitool is not installed ({}): run `bash .ci/deps`",
        bin.display()
    );
    bin
}

/// Validates a SARIF file with the Multitool: no error, no warning.
fn assert_valid_sarif(what: &str, sarif: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("check.sarif");
    std::fs::write(&file, sarif).unwrap();
    let o = std::process::Command::new(sarif_multitool())
        .args(["validate", s(&file)])
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("run the SARIF Multitool (`bash .ci/deps` installs it)");
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{what}: {out}");
    assert!(
        out.contains("Analysis completed successfully"),
        "{what}: {out}"
    );
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(": error ") || l.contains(": warning "))
        .collect();
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn sarif_validates_for_relative_and_absolute_paths() {
    let tests = Path::new(root!()).join("tests");
    let abs_diags = tests.join("diagnostics");
    let abs_seed = Path::new(root!()).join("examples/seed/policies");
    let runs: [(&str, &Path, Vec<&str>); 3] = [
        ("relative", &tests, vec!["diagnostics"]),
        ("absolute", &tests, vec![s(&abs_diags)]),
        ("absolute, one warning", &tests, vec![s(&abs_seed)]),
    ];
    for (what, cwd, paths) in runs {
        let mut args = vec!["check", "--format", "sarif", "--today", "2026-01-01"];
        args.extend(paths);
        let o = polc_in(cwd, &args);
        let sarif = stdout(&o);
        let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
        let results = v["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{what}: no results");
        let uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert_eq!(
            uri.starts_with("file:///"),
            what.starts_with("absolute"),
            "{uri}"
        );
        for r in v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap() {
            assert_ne!(r["name"], r["id"], "{r}");
        }
        assert_valid_sarif(what, &sarif);
    }
}

// Item 17: help and flags.

/// `drift` and `plan` list a user's entries in one order: excess, level mismatches,
/// missing, excepted, each by grant.
#[test]
fn drift_and_plan_list_a_users_entries_in_one_order() {
    let args = |cmd: &'static str| {
        vec![
            cmd,
            "examples/seed/policies",
            "--users",
            "examples/seed/users.json",
            "--access",
            "examples/seed/access.json",
            "--at",
            "2024-11-24",
        ]
    };
    // Per user: the grants, in the order listed.
    let lists = |text: &str, grant_at: usize| {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut prev = "";
        for line in text.lines() {
            if prev.is_empty() && !line.is_empty() && !line.starts_with(' ') {
                let user = line.split_whitespace().next().unwrap();
                out.push((user.to_string(), Vec::new()));
            } else if line.starts_with("  ") && !out.is_empty() {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let Some(g) = words.get(grant_at) {
                    out.last_mut().unwrap().1.push(g.to_string());
                }
            }
            prev = line;
        }
        out.retain(|(_, grants)| !grants.is_empty());
        out
    };
    let drift = stdout(&polc(&args("drift")));
    let plan = stdout(&polc(&args("plan")));
    let d = lists(&drift, 1);
    let p = lists(&plan, 3);
    assert!(!d.is_empty());
    assert_eq!(d, p, "drift:\n{drift}\nplan:\n{plan}");
}

#[test]
fn check_names_a_file_that_is_not_pol() {
    let o = polc(&["check", "examples/seed/users.json"]);
    assert_exit2(
        &o,
        "check users.json",
        "examples/seed/users.json: not a .pol file",
    );
}

/// One wording when a file is missing, whatever reads it.
#[test]
fn a_missing_file_has_one_wording() {
    let (pol, users) = (seed("policies"), seed("users.json"));
    let runs: Vec<Vec<&str>> = vec![
        vec!["check", "nope.pol"],
        vec!["eval", "nope", "--users", &users],
        vec!["eval", &pol, "--users", "nope.json"],
        vec!["drift", &pol, "--users", &users, "--access", "nope.json"],
        vec!["event", &pol, "--users", &users, "--event", "nope.json"],
        vec![
            "mine",
            "--users",
            &users,
            "--access",
            "nope.json",
            "--by",
            "department",
        ],
        vec!["impact", "nope", &pol, "--users", &users],
    ];
    for args in runs {
        let o = polc(&args);
        assert_exit2(&o, &args.join(" "), "nope");
        assert!(
            stderr(&o).contains(": no such file or directory"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = polc(&["check", "--at", "2024-11-24", "examples/seed/policies"]);
    assert_eq!(o.status.code(), Some(0), "--at: {}", stderr(&o));
    let o = polc(&["check", "--today", "2024-11-24", "examples/seed/policies"]);
    assert_eq!(o.status.code(), Some(0), "--today: {}", stderr(&o));
}
