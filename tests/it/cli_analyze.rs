//! `polc analyze --overlaps` on the seed: the pairs of policies that can apply to one
//! person, as text (snapshot) and JSON; and the usage error without `--overlaps`.

use crate::support::polc_in;
use std::path::Path;
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(concat!(root!(), "/examples/seed")), args)
}

#[test]
fn overlaps_of_the_seed() {
    let o = polc(&["analyze", "--overlaps", "policies", "--today", "2026-01-01"]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("analyze_overlaps_seed", String::from_utf8_lossy(&o.stdout));

    let o = polc(&[
        "analyze",
        "--overlaps",
        "policies",
        "--today",
        "2026-01-01",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["from"], "2026-01-01");
    let pairs = v["overlaps"].as_array().unwrap();
    assert_eq!(pairs.len(), 17);
    // Sales engineers and senior sales engineers are keyed on different titles.
    assert!(!pairs
        .iter()
        .any(|p| p["policies"][0] == "Sales Engineer Access"
            && p["policies"][1] == "Senior Sales Engineer Access"));
    assert_eq!(pairs[0]["witness"]["employment_status"], "Active");
}

#[test]
fn analyze_needs_a_question() {
    let o = polc(&["analyze", "policies"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--overlaps"));
}
