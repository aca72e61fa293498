//! docs/diagnostics.md is generated from the `polc explain` texts, so the page and the
//! terminal can never disagree. `UPDATE_DOCS=1 cargo test --test docs_diagnostics` rewrites it.

use polc::diagnostics::explain::{title, EXPLANATIONS};
use polc::diagnostics::Severity;

const HEADER: &str = "# Diagnostics

Every diagnostic that `polc check` (and the language server) reports has a stable code, a
severity, a primary span and a message; most have secondary labels and a `help:` line.
Codes are part of the contract: they are stable and never reused, even for a diagnostic
that is retired. Codes starting with `E` are errors (the bundle is rejected and `polc check`
exits 1), `W` are warnings (fatal only with `--deny-warnings`), `N` are notes.

`polc explain CODE` (for example `polc explain E0101`) prints the same text as the section
below in the terminal. This page is generated from those texts
(`src/diagnostics/explain/*.md`); every wrong example is checked to produce its code and
every fixed one to be clean (`tests/it/explain_examples.rs`).

Output formats: `polc check --format human` (the default, as rendered below),
`--format json` ([commands.md](commands.md#check): `code`, `severity`, `message`, `file`, `line`, `column`,
`end_line`, `end_column`, `labels`, `help`, plus `label` and `notes`) and `--format sarif`
(SARIF 2.1.0, for code-scanning uploads).
";

fn generate() -> String {
    let mut out = String::from(HEADER);
    out.push_str("\n| code | severity | meaning |\n|---|---|---|\n");
    for (code, _) in EXPLANATIONS {
        let sev = Severity::of_code(code).as_str();
        out.push_str(&format!(
            "| [{code}](#{}) | {sev} | {} |\n",
            code.to_lowercase(),
            title(code).unwrap()
        ));
    }
    for (code, text) in EXPLANATIONS {
        let sev = Severity::of_code(code).as_str();
        let mut lines = text.lines();
        let head = lines.next().unwrap();
        out.push_str(&format!(
            "\n<a id=\"{}\"></a>\n\n#{head}\n\n*Severity: {sev}.*\n",
            code.to_lowercase()
        ));
        for line in lines {
            if let Some(rest) = line.strip_prefix("## ") {
                out.push_str(&format!("### {rest}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn docs_diagnostics_is_generated_from_the_explanations() {
    let path = std::path::Path::new(root!()).join("docs/diagnostics.md");
    let want = generate();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/diagnostics.md is stale: run `UPDATE_DOCS=1 cargo test --test docs_diagnostics`"
    );
}
