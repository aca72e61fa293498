//! The Rego that `polc_benches::rego` and `polc_benches::rego_indexed` write says what the
//! Pol bundle says: for a sample of users, regorus and polc give each user the same
//! `(entitlement, level)` set. Run with
//! `cargo test -p polc-benches` (the workspace's `cargo test` does not build this crate).

use polc_benches::{bundle, pipeline, users_json, OrgShape};

#[test]
fn regorus_and_polc_give_the_same_grants() {
    let shape = OrgShape::eval_benchmark();
    let users = users_json(shape, 200);
    let eq = pipeline::check_equivalence(shape, &users, 200).unwrap();
    assert_eq!(eq.users, 200);
    // the sample is not trivial: inactive users get nothing, active ones many grants, and
    // some hold an entitlement that two sources give at different levels
    assert!(
        eq.users_with_grants > 150 && eq.users_with_grants < 200,
        "{eq:?}"
    );
    assert!(eq.grants > 200 * 10, "{eq:?}");
    assert!(eq.merged_levels > 0, "{eq:?}");
}

#[test]
fn indexed_regorus_and_polc_give_the_same_grants() {
    let shape = OrgShape::eval_benchmark();
    let users = users_json(shape, 200);
    let eq = pipeline::check_equivalence_indexed(shape, &users, 200).unwrap();
    assert_eq!(eq.users, 200);
    assert!(
        eq.users_with_grants > 150 && eq.users_with_grants < 200,
        "{eq:?}"
    );
    assert!(eq.grants > 200 * 10, "{eq:?}");
    assert!(eq.merged_levels > 0, "{eq:?}");
}

#[test]
fn the_check_catches_an_indexed_rego_that_says_something_else() {
    let shape = OrgShape::eval_benchmark();
    let org = polc_benches::org(shape);
    let users = users_json(shape, 200);
    let pol = org.pol_files();
    let (rego, data) = org.rego_indexed();
    let mutate = |from: &str, to: &str| -> Vec<(String, String)> {
        assert!(rego[0].1.contains(from), "{from}");
        rego.iter()
            .map(|(p, t)| (p.clone(), t.replacen(from, to, 1)))
            .collect()
    };
    let compare =
        |rego: &[(String, String)]| pipeline::compare_with(&pol, rego, &data, &users, 200);
    // levels merged to the lowest
    assert!(compare(&mutate("max(", "min("))
        .unwrap_err()
        .contains("only polc"));
    // no `require` gate
    let e = compare(&mutate(
        "allowed if input.employment_status == \"Active\"",
        "allowed := true",
    ))
    .unwrap_err();
    assert!(e.contains("only regorus"), "{e}");
    // inheritance through expired templates
    let e = compare(&mutate(
        "reached := graph.reachable(live, applies)",
        "reached := inherited",
    ))
    .unwrap_err();
    assert!(e.contains("only regorus"), "{e}");
    // a policy's other triggers ignored (only the indexed one tested)
    let e = compare(&mutate(
        "every t in pol.when {\n\t\tholds(t)",
        "every t in [] {\n\t\tholds(t)",
    ))
    .unwrap_err();
    assert!(e.contains("only regorus"), "{e}");
    // no inheritance at all
    let e = compare(&mutate("some p in reached\n", "some p in applies\n")).unwrap_err();
    assert!(e.contains("only polc"), "{e}");
}

#[test]
fn the_check_benchmark_bundle_is_unchanged_and_clean() {
    // the check benchmark's numbers (docs/PERFORMANCE.md) are for this exact text
    let files = bundle(OrgShape::check_benchmark());
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    assert_eq!((files.len(), lines), (101, 139_165));
}

#[test]
fn the_eval_org_is_clean_and_the_access_export_is_what_drift_finds() {
    let shape = OrgShape::eval_benchmark();
    let b = pipeline::load_bundle(&bundle(shape));
    let users = users_json(shape, 2_000);
    let (access, st) = pipeline::access_json(&b, &users);
    let (_, r) = pipeline::polc_drift(&b, &users, &access);
    let s = &r.summary;
    assert_eq!(s.current_entries, st.entries);
    assert_eq!(s.missing, st.dropped);
    assert_eq!(s.level_mismatch, st.mismatched);
    assert_eq!(s.excess, st.excess);
    assert_eq!(s.orphaned_users, 500);
}

#[test]
fn the_check_catches_a_rego_that_says_something_else() {
    let shape = OrgShape::eval_benchmark();
    let org = polc_benches::org(shape);
    let users = users_json(shape, 200);
    let pol = org.pol_files();
    let rego = org.rego();
    let mutate = |from: &str, to: &str| -> Vec<(String, String)> {
        rego.iter()
            .map(|(p, t)| (p.clone(), t.replacen(from, to, 1)))
            .collect()
    };
    // levels merged to the lowest instead of the highest
    let e = pipeline::compare(&pol, &mutate("max(", "min("), &users, 200).unwrap_err();
    assert!(e.contains("only polc"), "{e}");
    // no `require` gate
    let e = pipeline::compare(
        &pol,
        &mutate(
            "allowed if input.employment_status == \"Active\"",
            "allowed := true",
        ),
        &users,
        200,
    )
    .unwrap_err();
    assert!(e.contains("only regorus"), "{e}");
    // an expired template that still gives its grants
    let e = pipeline::compare(
        &pol,
        &mutate("data.at < \"2025-01-01\"", "true"),
        &users,
        200,
    );
    assert!(
        e.is_err(),
        "expired templates are never reached by the sample"
    );
}
