//! `polc check` end to end, as a user runs it: exit codes, messages naming files, and the
//! bad inputs of the language-core issue (never a panic, never a stack overflow).

use crate::support::{polc_in, stderr};
use std::path::Path;
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(root!()), args)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn seed_bundle_has_no_errors() {
    // As of the day the seed starts, nothing is even a warning.
    let o = polc(&[
        "check",
        "examples/seed/policies",
        "--today",
        "2024-11-24",
        "--deny-warnings",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("no problems"));
    // Later, the Q4 exception has expired: a warning, not an error.
    let o = polc(&[
        "check",
        "examples/seed/policies",
        "--today",
        "2026-01-01",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"], 0);
    assert_eq!(v["warnings"], 1);
    assert_eq!(v["diagnostics"][0]["code"], "W0201");
    assert_eq!(
        v["diagnostics"][0]["file"],
        "examples/seed/policies/exceptions.pol"
    );
    assert_eq!(v["diagnostics"][0]["line"], 6);
}

#[test]
fn errors_exit_1_and_warnings_only_with_deny_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.pol",
        b"import \"std/hris\"\npolicy \"A\" { when job_titel == \"x\" }\n",
    );
    let o = polc(&["check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("E0201"), "{}", stderr(&o));
    let g = write(
        dir.path(),
        "b.pol",
        b"import \"std/hris\"\ntemplate \"T\" { }\n",
    );
    assert_eq!(polc(&["check", &g]).status.code(), Some(0));
    assert_eq!(
        polc(&["check", &g, "--deny-warnings"]).status.code(),
        Some(1)
    );
}

#[test]
fn sarif_output_is_sarif_2_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.pol",
        b"import \"std/hris\"\npolicy \"A\" { when job_titel == \"x\" }\n",
    );
    let o = polc(&["check", &f, "--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "E0201");
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert_eq!(v["runs"][0]["tool"]["driver"]["rules"][0]["id"], "E0201");
}

#[test]
fn missing_path_is_exit_2_naming_it() {
    let o = polc(&["check", "no/such/dir"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));
}

#[test]
fn directory_without_pol_files_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = polc(&["check", &dir.path().display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no .pol files"), "{}", stderr(&o));
}

#[test]
fn non_utf8_file_is_exit_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "latin1.pol",
        b"policy \"A\" {\n  when x == \"caf\xe9\"\n}\n",
    );
    let o = polc(&["check", &f]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("latin1.pol:2:"), "{e}");
    assert!(e.contains("UTF-8"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn binary_garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    // Invalid UTF-8: exit 2.
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let f = write(dir.path(), "garbage.pol", &bytes);
    let o = polc(&["check", &f]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Valid UTF-8 noise: diagnostics, exit 1.
    let noise: String = (0..4096u32)
        .map(|i| {
            char::from(
                b"{}()[]\"*:,<>=!?/ \nabc019#@"[(i.wrapping_mul(2654435761) >> 7) as usize % 25],
            )
        })
        .collect();
    let g = write(dir.path(), "noise.pol", noise.as_bytes());
    let o = polc(&["check", &g]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn deep_nesting_gets_a_diagnostic_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "policy \"A\" {{ when {}x{} }}",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let f = write(dir.path(), "deep.pol", src.as_bytes());
    let o = polc(&["check", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nesting deeper than"), "{}", stderr(&o));
    let nots = format!("policy \"A\" {{ when {}x == 1 }}", "not ".repeat(20_000));
    let g = write(dir.path(), "nots.pol", nots.as_bytes());
    let o = polc(&["check", &g]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nesting deeper than"), "{}", stderr(&o));
    let ors = format!(
        "policy \"A\" {{ when {} x == 0 grant a:b }}",
        "x == 1 or ".repeat(50_000)
    );
    let h = write(dir.path(), "ors.pol", ors.as_bytes());
    let o = polc(&["check", &h]);
    assert!(
        !stderr(&o).contains("panicked") && o.status.code().is_some(),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_5000_deep_inheritance_chain_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = String::from("import \"std/hris\"\nimport \"std/saas\"\n");
    for i in 0..5000 {
        src.push_str(&format!(
            "template \"T{i}\" {{\n  inherits \"T{}\"\n  grant slack:channel:#c{i}\n}}\n",
            i + 1
        ));
    }
    src.push_str("template \"T5000\" {\n  grant slack:workspace-member\n}\n");
    src.push_str("policy \"Entry\" {\n  when department == \"Sales\"\n  inherits \"T0\"\n}\n");
    let f = write(dir.path(), "chain.pol", src.as_bytes());
    let o = polc(&["check", &f, "--deny-warnings"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Close the chain into a cycle: reported once.
    let cyclic = src.replace(
        "template \"T5000\" {\n",
        "template \"T5000\" {\n  inherits \"T0\"\n",
    );
    let g = write(dir.path(), "cycle.pol", cyclic.as_bytes());
    let o = polc(&["check", &g, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cycles: Vec<_> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "E0102")
        .collect();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0]["labels"].as_array().unwrap().len(), 5000);
}

#[test]
fn empty_file_is_fine_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "empty.pol", b"");
    let o = polc(&["check", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["diagnostics"][0]["code"], "N0001");
}

#[test]
fn explain_prints_a_code_and_refuses_unknown_ones() {
    let o = polc(&["explain", "E0101"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("# E0101"));
    assert!(out.contains("## Wrong") && out.contains("## Fixed"));
    assert_eq!(polc(&["explain", "E9999"]).status.code(), Some(2));
}

#[test]
fn file_imports_are_followed_and_bad_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    write(
        &dir.path().join("lib"),
        "common.pol",
        b"template \"Common\" { grant slack:workspace-member }\n",
    );
    let main = write(
        dir.path(),
        "main.pol",
        b"import \"std/hris\"\nimport \"std/saas\"\nimport \"lib/common.pol\"\npolicy \"A\" { when department == \"x\" inherits \"Common\" }\n",
    );
    let o = polc(&["check", &main, "--deny-warnings"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bad = write(
        dir.path(),
        "bad.pol",
        b"import \"lib/missing.pol\"\nimport \"std/sass\"\n",
    );
    let o = polc(&["check", &bad, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<_> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| *c == "E0003").count(),
        2,
        "{codes:?}"
    );
}
