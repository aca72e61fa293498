//! `polc mine` on the seed, as a user runs it: snapshots of the report (human and JSON) and
//! of the drafted policies, the drafts checked by `polc check --deny-warnings`, bad input,
//! and a property: an org whose groups each hold exactly one set of access is mined into
//! drafts that reproduce everyone's access (no drift at all).

use std::path::Path;
use std::process::Output;

use crate::support::{polc_in, stderr, stdout};
use proptest::prelude::*;

const SEED: &str = concat!(root!(), "/examples/seed");

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(SEED), args)
}

fn mine(by: &str, format: &str) -> Output {
    polc(&[
        "mine",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        by,
        "--format",
        format,
    ])
}

fn json_of(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn seed_by_job_title_human() {
    let o = mine("job_title", "human");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("The drafts would cover 13 of 51 current entries (25.5%)"),
        "{out}"
    );
    insta::assert_snapshot!("mine_seed_job_title_human", out);
}

#[test]
fn seed_by_job_title_json() {
    let v = json_of(&mine("job_title", "json"));
    assert_eq!(v["by"], "job_title");
    let values: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["Sales Engineer", "Solutions Architect"]);
    // Omar has left: not mined. old.intern is in no HRIS record: an orphan.
    assert_eq!(v["excluded"][0]["user_id"], "omar.haddad");
    assert_eq!(v["orphans"], serde_json::json!(["old.intern"]));
    assert_eq!(
        v["coverage"],
        serde_json::json!({"covered": 13, "entries": 51, "percent": 25.5})
    );
    let se = &v["groups"][0];
    assert_eq!(se["members"], 3);
    assert_eq!(se["without_access"], serde_json::json!(["lee.park"]));
    let finance = se["outliers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["grant"] == "gitlab:group:finance")
        .unwrap();
    assert_eq!(
        finance,
        &serde_json::json!({"grant": "gitlab:group:finance", "level": "developer", "share": 0.333, "holders": ["sarah.chen"]})
    );
    insta::assert_json_snapshot!("mine_seed_job_title_json", v);
}

#[test]
fn seed_by_department_and_job_title() {
    let v = json_of(&mine("department,job_title", "json"));
    assert_eq!(v["by"], serde_json::json!(["department", "job_title"]));
    assert_eq!(
        v["groups"][0]["value"],
        serde_json::json!(["Engineering", "Solutions Architect"])
    );
    assert_eq!(
        v["groups"][1]["value"],
        serde_json::json!(["Sales", "Sales Engineer"])
    );
    insta::assert_json_snapshot!("mine_seed_department_job_title_json", v);
    let o = mine("department,job_title", "human");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("mine_seed_department_job_title_human", stdout(&o));
}

/// The emitted files, concatenated under their names, for a snapshot.
fn emitted(dir: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            format!(
                "==> {n} <==\n{}",
                std::fs::read_to_string(dir.join(n)).unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn emitted_drafts_check_clean_and_measure_what_mine_says() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("drafts");
    let d = dir.to_str().unwrap();
    let o = polc(&[
        "mine",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "job_title",
        "--emit",
        d,
        "--format",
        "json",
    ]);
    let v = json_of(&o);
    assert_eq!(
        v["emitted"]["files"],
        serde_json::json!(["mined.pol", "sales-engineer.pol", "solutions-architect.pol"])
    );
    insta::assert_snapshot!("mine_seed_emitted", emitted(&dir));

    let check = polc(&["check", "--deny-warnings", d]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(stderr(&check).contains("no problems"), "{}", stderr(&check));
    // The drafts are what the coverage was measured on.
    let drift = polc(&[
        "drift",
        d,
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--format",
        "json",
    ]);
    let dv = json_of(&drift);
    assert_eq!(dv["summary"]["covered"], v["coverage"]["covered"]);
    assert_eq!(dv["summary"]["current_entries"], v["coverage"]["entries"]);
    assert_eq!(dv["summary"]["coverage_percent"], v["coverage"]["percent"]);

    // Emitting again into the same place would mix two runs: refused.
    let again = polc(&[
        "mine",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "job_title",
        "--emit",
        d,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already holds .pol files"));
}

#[test]
fn mining_against_the_seed_policies_declares_their_systems() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("drafts");
    let o = polc(&[
        "mine",
        "policies",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "department",
        "--emit",
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let header = std::fs::read_to_string(d.join("mined.pol")).unwrap();
    assert!(header.contains("import \"std/saas\""), "{header}");
    assert!(header.contains("require employment_status == \"Active\""));
    // The bundle's own order of levels, not the export's.
    assert!(
        header.contains("resource environment { levels viewer < deployer < admin }"),
        "{header}"
    );
    let check = polc(&["check", "--deny-warnings", d.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn an_attribute_outside_the_schema_is_a_usage_error() {
    let o = mine("job_titel", "human");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("`job_titel` is not an attribute of the schema (did you mean `job_title`?)"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
    let o = mine("department,department", "human");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_access_entries_and_thresholds_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"sarah.chen": ["slack:emoji:party"]}"#,
            "unknown resource type `slack:emoji`",
        ),
        (
            r#"{"sarah.chen": ["gitlab:group:x (boss)"]}"#,
            "unknown level `boss` for `gitlab:group`",
        ),
        (
            r#"[{"user_id": "sarah.chen", "grant": "my vpn:profile"}]"#,
            "`my vpn` is not a valid system name",
        ),
        (
            r#"{"sarah.chen": "google:workspace-account"}"#,
            "expected a list of grants",
        ),
        (r#"{"sarah.chen": [1]}"#, "expected a string"),
    ];
    for (i, (text, message)) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("access{i}.json"));
        std::fs::write(&p, text).unwrap();
        let o = polc(&[
            "mine",
            "--users",
            "users.json",
            "--access",
            p.to_str().unwrap(),
            "--by",
            "job_title",
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{text}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("access{i}.json")),
            "{}",
            stderr(&o)
        );
    }
    let o = polc(&[
        "mine",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "job_title",
        "--candidate",
        "0.4",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("thresholds out of order"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn thresholds_move_entitlements_between_buckets() {
    let v = json_of(&polc(&[
        "mine",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--by",
        "job_title",
        "--baseline",
        "0.6",
        "--candidate",
        "0.5",
        "--review",
        "0.3",
        "--format",
        "json",
    ]));
    let se = &v["groups"][0];
    assert_eq!(se["value"], "Sales Engineer");
    assert_eq!(se["baseline"].as_array().unwrap().len(), 15);
    assert_eq!(se["review"].as_array().unwrap().len(), 3);
    assert!(se["outliers"].as_array().unwrap().is_empty());
    let cs = se["baseline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["grant"] == "gitlab:group:customer-solutions")
        .unwrap();
    // Tied levels: the lowest (least privilege), and the split is shown.
    assert_eq!(cs["level"], "reporter");
    assert_eq!(cs["lacking"], serde_json::json!(["lee.park"]));
    assert_eq!(
        cs["levels"],
        serde_json::json!([{"level": "reporter", "holders": 1}, {"level": "developer", "holders": 1}])
    );
}

/// The export is read as a stream at each pass (the systems it names, the mining, the drafts'
/// coverage): in its three formats and cut in many pieces, it mines the same; one that
/// cannot be read is refused first, as when it was read whole before anything else.
#[test]
fn the_export_is_read_at_each_pass_in_any_format_and_refused_first() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(SEED).join("access.json")).unwrap();
    let seed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    // the seed's accounts, then 20,000 orphans: 1 MB, several pieces of the stream
    let mut entries: Vec<(String, String)> = Vec::new();
    for (user, grants) in &seed {
        for g in grants.as_array().unwrap() {
            entries.push((user.clone(), g.as_str().unwrap().to_string()));
        }
    }
    for i in 0..20_000 {
        entries.push((format!("orphan{i}"), "slack:workspace-member".into()));
    }
    let mut object = serde_json::Map::new();
    for (u, g) in &entries {
        let list = object
            .entry(u.clone())
            .or_insert_with(|| serde_json::json!([]));
        list.as_array_mut().unwrap().push(g.clone().into());
    }
    let json = serde_json::to_string_pretty(&object).unwrap();
    // in the object's order (serde_json's map is sorted)
    let entries: Vec<(&String, &str)> = object
        .iter()
        .flat_map(|(u, gs)| {
            gs.as_array()
                .unwrap()
                .iter()
                .map(move |g| (u, g.as_str().unwrap()))
        })
        .collect();
    let jsonl: String = entries
        .iter()
        .map(|(u, g)| format!("{}\n", serde_json::json!({"user_id": u, "grant": g})))
        .collect();
    let csv: String = std::iter::once("user_id,grant\n".to_string())
        .chain(entries.iter().map(|(u, g)| format!("{u},\"{g}\"\n")))
        .collect();
    let mut outputs = Vec::new();
    for (name, text) in [("a.json", &json), ("a.jsonl", &jsonl), ("a.csv", &csv)] {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        for bundle in [None, Some("policies")] {
            let mut args = vec!["mine"];
            args.extend(bundle);
            args.extend(["--users", "users.json", "--access", p.to_str().unwrap()]);
            args.extend(["--by", "job_title", "--format", "json"]);
            let v = json_of(&polc(&args));
            // the seed's own orphan, and the 20,000
            assert_eq!(v["orphans"].as_array().unwrap().len(), 20_001, "{name}");
            outputs.push((bundle, v));
        }
    }
    for (i, (bundle, v)) in outputs.iter().enumerate().skip(2) {
        let first = if bundle.is_some() {
            &outputs[1].1
        } else {
            &outputs[0].1
        };
        assert!(
            v == first,
            "output {i} ({bundle:?}) differs from the .json export's"
        );
    }
    // a bad byte at the end, a bad --by: the export is refused first
    let p = tmp.path().join("bad.json");
    std::fs::write(&p, [json.as_bytes(), b"\xff"].concat()).unwrap();
    for bundle in [None, Some("policies")] {
        let mut args = vec!["mine"];
        args.extend(bundle);
        args.extend(["--users", "users.json", "--access", p.to_str().unwrap()]);
        args.extend(["--by", "nosuch"]);
        let o = polc(&args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("bad.json:"), "{}", stderr(&o));
        assert!(stderr(&o).contains(": not UTF-8 text"), "{}", stderr(&o));
    }
}

// ---- the property -------------------------------------------------------------------------

/// Entitlements a group may hold: `(grant, levels it may be held at)`. Two systems are not in
/// the standard library (one with levels, one without), one name needs quotes.
const POOL: &[(&str, &[&str])] = &[
    ("google:workspace-account", &[]),
    ("slack:workspace-member", &[]),
    ("slack:channel:#general", &["member", "admin"]),
    ("gitlab:group:platform", &["reporter", "developer"]),
    ("github:org:acme", &["member", "owner"]),
    ("notion:space:wiki", &["read", "edit"]),
    ("salesforce:user-license", &[]),
    ("aws:role:\"arn:aws:iam::1:role/ReadOnly\"", &[]),
    ("deploy:environment:prod", &["viewer", "deployer"]),
    ("vpn:account", &[]),
];

const TITLES: &[&str] = &["AE", "Engineer", "Ops", "Counsel"];
const DEPARTMENTS: &[&str] = &["Sales", "R&D"];

/// A group's access: per pool entry, absent or held at one of its levels.
fn access_set() -> impl Strategy<Value = Vec<Option<usize>>> {
    proptest::collection::vec(proptest::option::of(0usize..2), POOL.len())
}

fn entry(i: usize, level: usize) -> String {
    let (grant, levels) = POOL[i];
    match levels.get(level) {
        Some(l) => format!("{grant} ({l})"),
        None => grant.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn uniform_groups_are_reproduced_by_their_drafts(
        sets in proptest::collection::vec(access_set(), TITLES.len() * (DEPARTMENTS.len() + 1)),
        people in proptest::collection::vec((0..TITLES.len(), 0..=DEPARTMENTS.len()), 1..20),
        two_attributes in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut users = Vec::new();
        let mut access = serde_json::Map::new();
        for (n, (t, d)) in people.iter().enumerate() {
            let id = format!("user{n}");
            let mut rec = serde_json::json!({"user_id": id, "job_title": TITLES[*t], "employment_status": "Active"});
            if let Some(dep) = DEPARTMENTS.get(*d) {
                rec["department"] = serde_json::json!(dep);
            }
            users.push(rec);
            // One access set per group: per title, or per (title, department).
            let group = if two_attributes { t * (DEPARTMENTS.len() + 1) + d } else { *t };
            let held: Vec<String> = sets[group]
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.map(|l| entry(i, l)))
                .collect();
            access.insert(id, serde_json::json!(held));
        }
        std::fs::write(tmp.path().join("users.json"), serde_json::to_string(&users).unwrap()).unwrap();
        std::fs::write(tmp.path().join("access.json"), serde_json::to_string(&access).unwrap()).unwrap();
        let by = if two_attributes { "job_title,department" } else { "job_title" };
        let o = polc_in(tmp.path(), &[
            "mine", "--users", "users.json", "--access", "access.json", "--by", by,
            "--emit", "drafts", "--format", "json",
        ]);
        prop_assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        prop_assert_eq!(&v["coverage"]["covered"], &v["coverage"]["entries"], "{}", v);
        prop_assert_eq!(v["coverage"]["percent"].as_f64(), Some(100.0));
        for g in v["groups"].as_array().unwrap() {
            prop_assert!(g["candidates"].as_array().unwrap().is_empty());
            prop_assert!(g["review"].as_array().unwrap().is_empty());
            prop_assert!(g["outliers"].as_array().unwrap().is_empty());
        }

        let check = polc_in(tmp.path(), &["check", "--deny-warnings", "drafts"]);
        prop_assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
        // Everyone gets exactly what they hold: nothing excess, missing or at another level.
        let drift = polc_in(tmp.path(), &[
            "drift", "drafts", "--users", "users.json", "--access", "access.json", "--format", "json",
        ]);
        prop_assert_eq!(drift.status.code(), Some(0), "{}", stderr(&drift));
        let d: serde_json::Value = serde_json::from_slice(&drift.stdout).unwrap();
        let s = &d["summary"];
        prop_assert_eq!((&s["excess"], &s["missing"], &s["level_mismatch"]),
            (&serde_json::json!(0), &serde_json::json!(0), &serde_json::json!(0)), "{}", d);
    }
}
