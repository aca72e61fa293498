//! The whole seed story of examples/seed/README.md, exactly: day one, promotion, transfer
//! (4 grace removals on 2026-06-23 and 7 at once), termination, and the drift numbers.

use crate::support::polc_in;
use std::path::Path;
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(concat!(root!(), "/examples/seed")), args)
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = polc(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `CMD policies --users users.json --access access.json --at AT EXTRA…` (`drift`, `plan`).
fn on_seed_access<'a>(cmd: &'a str, at: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        cmd,
        "policies",
        "--users",
        "users.json",
        "--access",
        "access.json",
        "--at",
        at,
    ];
    args.extend_from_slice(extra);
    args
}

fn actions<'a>(ev: &'a serde_json::Value, action: &str) -> Vec<&'a serde_json::Value> {
    ev["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .collect()
}

fn policies(v: &serde_json::Value) -> Vec<&str> {
    v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

#[test]
fn sarahs_lifecycle_from_nobody() {
    let evs = json(&[
        "event",
        "policies",
        "--users",
        "empty-users.json",
        "--event",
        "events/lifecycle.jsonl",
        "--format",
        "json",
    ]);
    let evs = evs.as_array().unwrap();
    assert_eq!(evs.len(), 4);

    // Day one: three direct policies, 16 entitlements from them, 17 with the exception.
    let hire = &evs[0];
    assert_eq!(hire["event"], "employee.hired");
    assert_eq!(hire["effective_date"], "2024-11-24");
    assert!(hire["before"].is_null());
    assert_eq!(
        policies(&hire["after"]),
        vec![
            "Base Employee Access",
            "Sales Engineer Access",
            "Sales Team Access"
        ]
    );
    assert_eq!(actions(hire, "add").len(), 17);
    assert!(actions(hire, "add")
        .iter()
        .any(|c| c["grant"] == "gitlab:group:platform-engineering" && c["level"] == "developer"));

    // Promotion: 3 adds, 16 keeps.
    let promo = &evs[1];
    assert_eq!(promo["effective_date"], "2025-05-24");
    assert_eq!(
        policies(&promo["after"]),
        vec![
            "Base Employee Access",
            "Sales Team Access",
            "Senior Sales Engineer Access"
        ]
    );
    let adds: Vec<&str> = actions(promo, "add")
        .iter()
        .map(|c| c["grant"].as_str().unwrap())
        .collect();
    assert_eq!(
        adds,
        vec![
            "notion:space:sales-engineer-resources",
            "salesforce:permission-set:sales-engineering-lead",
            "slack:channel:#sales-leadership"
        ]
    );
    assert_eq!(actions(promo, "keep").len(), 16);
    assert!(actions(promo, "remove").is_empty() && actions(promo, "modify").is_empty());

    // Transfer: 5 adds, 2 modifies, 6 keeps, 11 removes (4 after a 30-day grace, 7 at once).
    let transfer = &evs[2];
    assert_eq!(
        policies(&transfer["after"]),
        vec![
            "Base Employee Access",
            "Engineering Team Access",
            "Solutions Architect Access"
        ]
    );
    assert_eq!(actions(transfer, "add").len(), 5);
    let modifies: Vec<(&str, &str, &str)> = actions(transfer, "modify")
        .iter()
        .map(|c| {
            (
                c["grant"].as_str().unwrap(),
                c["from"].as_str().unwrap(),
                c["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        modifies,
        vec![
            ("gitlab:group:customer-solutions", "reporter", "developer"),
            ("slack:channel:#engineering-general", "guest", "member")
        ]
    );
    assert_eq!(actions(transfer, "keep").len(), 6);
    let removes = actions(transfer, "remove");
    assert_eq!(removes.len(), 11);
    let late: Vec<&str> = removes
        .iter()
        .filter(|c| c["not_before"] == "2026-06-23")
        .map(|c| c["grant"].as_str().unwrap())
        .collect();
    assert_eq!(
        late,
        vec![
            "salesforce:permission-set:sales-engineering-lead",
            "salesforce:profile:sales-engineer",
            "salesforce:user-license",
            "slack:channel:#sales-leadership"
        ]
    );
    assert_eq!(
        removes
            .iter()
            .filter(|c| c["not_before"] == "2026-05-24")
            .count(),
        7
    );

    // Termination: all 13 removed on the last day, no grace.
    let term = &evs[3];
    assert_eq!(term["effective_date"], "2027-03-15");
    assert!(policies(&term["after"]).is_empty());
    let removes = actions(term, "remove");
    assert_eq!(removes.len(), 13);
    assert!(removes.iter().all(|c| c["not_before"] == "2027-03-15"));
    assert_eq!(term["changes"].as_array().unwrap().len(), 13);
}

#[test]
fn one_event_file_gives_one_object() {
    let ev = json(&[
        "event",
        "policies",
        "--users",
        "empty-users.json",
        "--event",
        "events/01-hired.json",
        "--format",
        "json",
    ]);
    assert!(ev.is_object());
    assert_eq!(ev["user_id"], "sarah.chen");
    // The promotion applied to the directory where Sarah is a Sales Engineer.
    let ev = json(&[
        "event",
        "policies",
        "--users",
        "users.json",
        "--event",
        "events/02-promoted.json",
        "--format",
        "json",
    ]);
    assert_eq!(actions(&ev, "add").len(), 3);
}

#[test]
fn lifecycle_human_report() {
    let o = polc(&[
        "event",
        "policies",
        "--users",
        "empty-users.json",
        "--event",
        "events/lifecycle.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("lifecycle_human", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn drift_mid_2025() {
    let d = json(&on_seed_access(
        "drift",
        "2025-06-01",
        &["--format", "json"],
    ));
    let s = &d["summary"];
    assert_eq!(s["current_entries"], 51);
    assert_eq!(s["covered"], 43);
    assert_eq!(s["coverage_percent"], 84.3);
    assert_eq!(s["excess"], 7);
    assert_eq!(s["level_mismatch"], 1);
    assert_eq!(s["missing"], 15);
    assert_eq!(s["excepted"], 0);
    let user = |id: &str| {
        d["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == id)
            .unwrap()
            .clone()
    };
    let sarah = user("sarah.chen");
    let excess: Vec<&str> = sarah["excess"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["grant"].as_str().unwrap())
        .collect();
    assert_eq!(
        excess,
        vec!["gitlab:group:finance", "gitlab:group:platform-engineering"]
    );
    assert_eq!(user("omar.haddad")["excess"].as_array().unwrap().len(), 3);
    assert_eq!(user("old.intern")["excess"].as_array().unwrap().len(), 2);
    let john = user("john.doe");
    assert_eq!(
        john["level_mismatch"][0]["grant"],
        "gitlab:group:customer-solutions"
    );
    assert_eq!(john["level_mismatch"][0]["current"], "developer");
    assert_eq!(john["level_mismatch"][0]["expected"], "reporter");
    assert_eq!(
        john["missing"][0]["grant"],
        "slack:channel:#customer-success"
    );
    let lee = user("lee.park");
    assert_eq!(lee["missing"].as_array().unwrap().len(), 14);
    assert!(!lee["missing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["grant"].as_str().unwrap().starts_with("salesforce:")));
    assert!(
        d["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["user_id"] != "priya.nair"),
        "users without findings are left out"
    );
}

#[test]
fn drift_while_the_exception_is_in_force() {
    let d = json(&on_seed_access(
        "drift",
        "2025-01-15",
        &["--format", "json"],
    ));
    assert_eq!(d["summary"]["excepted"], 1);
    assert_eq!(d["summary"]["excess"], 6);
    let sarah = d["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "sarah.chen")
        .unwrap();
    assert_eq!(
        sarah["excepted"][0]["grant"],
        "gitlab:group:platform-engineering"
    );
    assert_eq!(sarah["excepted"][0]["exception"], "Q4 migration");
}

#[test]
fn drift_human_csv_plan_and_fail_on_drift() {
    let o = polc(&on_seed_access("drift", "2025-06-01", &[]));
    insta::assert_snapshot!("drift_human", String::from_utf8_lossy(&o.stdout));
    let o = polc(&on_seed_access("drift", "2025-06-01", &["--format", "csv"]));
    let csv = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        csv.lines().count(),
        1 + 51 + 15,
        "one row per current entry and per missing one"
    );
    insta::assert_snapshot!("drift_csv", csv);
    let o = polc(&on_seed_access("drift", "2025-06-01", &["--fail-on-drift"]));
    assert_eq!(o.status.code(), Some(1));
    let o = polc(&on_seed_access("plan", "2025-01-15", &[]));
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("plan_human", String::from_utf8_lossy(&o.stdout));
    let p = json(&on_seed_access("plan", "2025-01-15", &["--format", "json"]));
    assert_eq!(p["format"], "polc-plan");
    assert_eq!(p["summary"]["grant"], 15);
    assert_eq!(p["summary"]["revoke"], 6);
    assert_eq!(p["summary"]["set_level"], 1);
    assert_eq!(p["summary"]["keep"], 1);
}

#[test]
fn event_errors_name_the_event_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases = [
        ("unknown.jsonl", "{\"event\": \"employee.updated\", \"user_id\": \"ghost\", \"changes\": {\"department\": {\"old\": \"a\", \"new\": \"b\"}}, \"effective_date\": \"2025-01-01\"}\n", "unknown.jsonl:1", "ghost"),
        ("rehire.jsonl", "\n{\"event\": \"employee.hired\", \"user_id\": \"sarah.chen\", \"employment_status\": \"Active\", \"start_date\": \"2025-01-01\"}\n", "rehire.jsonl:2", "already"),
        ("undeclared.jsonl", "{\"event\": \"employee.updated\", \"user_id\": \"sarah.chen\", \"changes\": {\"shoe_size\": {\"old\": 1, \"new\": 2}}, \"effective_date\": \"2025-01-01\"}\n", "changes.shoe_size", "not an attribute"),
        ("baddate.jsonl", "{\"event\": \"employee.terminated\", \"user_id\": \"sarah.chen\", \"last_day\": \"2025-13-01\"}\n", "last_day", "not a date"),
        ("badenum.jsonl", "{\"event\": \"employee.updated\", \"user_id\": \"sarah.chen\", \"changes\": {\"employment_type\": {\"new\": \"Freelance\"}}, \"effective_date\": \"2025-01-01\"}\n", "changes.employment_type", "Freelance"),
    ];
    for (name, text, where_, what) in cases {
        let p = write(name, text);
        let o = polc(&["event", "policies", "--users", "users.json", "--event", &p]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(where_) && err.contains(what), "{name}: {err}");
    }
}
