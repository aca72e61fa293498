//! Every `polc explain` text holds a wrong example that produces its code and a fixed one
//! that is clean: the documentation cannot drift from the compiler.

use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::explain::{example, EXPLANATIONS};
use polc::diagnostics::render::render_plain;

fn diagnose(src: &str) -> (Vec<&'static str>, String) {
    let loaded = Loaded::from_sources(&[("example.pol", src)]);
    let checked = check_bundle(&loaded.db, loaded.workspace);
    let codes = checked.diagnostics.iter().map(|d| d.code).collect();
    (codes, render_plain(&loaded.db, &checked.diagnostics))
}

/// Codes whose analysis is not built yet.
const PENDING: &[&str] = &[];

#[test]
fn wrong_examples_produce_their_code_and_fixed_ones_are_clean() {
    let mut failures = Vec::new();
    for (code, _) in EXPLANATIONS {
        let wrong = example(code, "Wrong").unwrap_or_else(|| panic!("{code}: no Wrong example"));
        let fixed = example(code, "Fixed").unwrap_or_else(|| panic!("{code}: no Fixed example"));
        let (codes, rendered) = diagnose(wrong);
        if !codes.contains(code) && !PENDING.contains(code) {
            failures.push(format!(
                "{code}: the Wrong example gives {codes:?}, not {code}:\n{rendered}"
            ));
        }
        let (codes, rendered) = diagnose(fixed);
        if !codes.is_empty() {
            failures.push(format!(
                "{code}: the Fixed example is not clean: {codes:?}\n{rendered}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_has_a_title() {
    for (code, text) in EXPLANATIONS {
        assert!(
            text.starts_with(&format!("# {code}: ")),
            "{code}: first line must be `# {code}: title`"
        );
    }
}
