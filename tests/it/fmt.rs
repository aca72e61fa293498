//! Tests of the canonical formatter.
//!
//! - Golden files: every `tests/fmt/NAME.pol` is formatted and compared with
//!   `tests/fmt/NAME.expected.pol` beside it; a mismatch prints a line diff.
//!   `UPDATE_EXPECT=1 cargo test --test fmt` rewrites the expected files.
//! - Every `.pol` file of the repository that parses is a fixed point after one pass, means
//!   the same after formatting and keeps all its comments, in order.

use std::path::{Path, PathBuf};

use polc::fmt::{format_source, normalize_comment, verify};
use polc::syntax::lexer;

fn root() -> PathBuf {
    PathBuf::from(root!())
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// A line diff of `expected` against `actual` (longest common subsequence; files are small).
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str("(the files differ in their final newline)\n");
    }
    out
}

/// Checks, independently of the parser's view of `out`, that every comment of `src`
/// appears in `out`, in the same order.
fn comments_in_order(src: &str, out: &str) -> Result<(), String> {
    let mut at = 0;
    for c in lexer::lex(src).comments {
        let text = normalize_comment(src.get(c.span.range()).unwrap_or_default());
        match out.get(at..).and_then(|rest| rest.find(&text)) {
            Some(i) => at += i + text.len(),
            None => return Err(format!("comment {text:?} is missing or out of order")),
        }
    }
    Ok(())
}

/// Everything that must hold of one formatting: faithful, idempotent, comments kept.
fn check_output(src: &str, out: &str) -> Result<(), String> {
    verify(src, out).map_err(|e| e.to_string())?;
    comments_in_order(src, out)?;
    match format_source(out) {
        Ok(again) if again == out => Ok(()),
        Ok(again) => Err(format!(
            "a second pass changes the output:\n{}",
            diff(out, &again)
        )),
        Err(e) => Err(format!("the output has syntax errors: {e:?}")),
    }
}

fn golden_cases() -> Vec<PathBuf> {
    let dir = root().join("tests/fmt");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".pol") && !name.ends_with(".expected.pol")
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn golden_files() {
    let update = std::env::var("UPDATE_EXPECT").is_ok_and(|v| !v.is_empty() && v != "0");
    let cases = golden_cases();
    assert!(
        cases.len() >= 8,
        "expected at least 8 golden cases, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for input in &cases {
        let name = relative(input);
        let src = std::fs::read_to_string(input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = match format_source(&src) {
            Ok(out) => out,
            Err(errors) => {
                failures.push(format!("{name}: refused: {errors:?}"));
                continue;
            }
        };
        if let Err(e) = check_output(&src, &out) {
            failures.push(format!("{name}: {e}"));
        }
        let expected_path = input.with_extension("expected.pol");
        if update {
            std::fs::write(&expected_path, &out)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if out != expected {
            failures.push(format!(
                "{name}: the output differs from {} (- expected, + actual; UPDATE_EXPECT=1 to accept):\n{}",
                relative(&expected_path),
                diff(&expected, &out)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The expected files are themselves canonical: formatting one changes nothing.
#[test]
fn expected_files_are_fixed_points() {
    for input in golden_cases() {
        let path = input.with_extension("expected.pol");
        let Ok(expected) = std::fs::read_to_string(&path) else {
            continue;
        };
        assert_eq!(
            format_source(&expected).as_deref(),
            Ok(expected.as_str()),
            "{}",
            relative(&path)
        );
    }
}

#[test]
fn every_pol_file_in_the_repository_is_idempotent() {
    let walk = walkdir::WalkDir::new(root()).into_iter().filter_entry(|e| {
        let name = e.file_name().to_str().unwrap_or_default();
        !(e.file_type().is_dir()
            && (name == "target"
                || name == "node_modules"
                || (name.starts_with('.') && e.depth() > 0)))
    });
    let (mut checked, mut skipped, mut failures) = (0, 0, Vec::new());
    for entry in walk.filter_map(Result::ok) {
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "pol") {
            continue;
        }
        let Ok(src) = std::fs::read_to_string(path) else {
            skipped += 1;
            continue;
        };
        // Fixtures with deliberate syntax errors are refused, not formatted.
        let Ok(once) = format_source(&src) else {
            skipped += 1;
            continue;
        };
        checked += 1;
        if let Err(e) = check_output(&src, &once) {
            failures.push(format!("{}: {e}", relative(path)));
        }
    }
    eprintln!("formatted {checked} files, skipped {skipped} with syntax errors");
    assert!(checked >= 8, "only {checked} .pol files found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A comment inserted anywhere a comment may go, in every golden input, is kept in its
/// place in the order, and the result is still faithful and a fixed point.
#[test]
fn comments_inserted_anywhere_are_kept() {
    let mut tried = 0;
    let mut failures = Vec::new();
    for input in golden_cases() {
        let src = std::fs::read_to_string(&input).unwrap_or_default();
        for (i, (at, _)) in src.char_indices().enumerate() {
            let other = ["// ·\n", "/// ·\n", "/* a\n  b */"][i % 3];
            for comment in ["/*·*/", other] {
                let mutated = format!("{}{comment}{}", &src[..at], &src[at..]);
                let Ok(out) = format_source(&mutated) else {
                    continue;
                };
                tried += 1;
                if let Err(e) = check_output(&mutated, &out) {
                    failures.push(format!(
                        "{} with {comment:?} at {at}: {e}",
                        relative(&input)
                    ));
                }
            }
        }
    }
    eprintln!("{tried} insertions formatted");
    assert!(tried > 1000, "only {tried} insertions parsed");
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n\n")
    );
}
