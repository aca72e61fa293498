//! The formatter's safety net: checks that a formatted text means the same as its source.
//! Used by the tests, and cheap enough for `polc fmt` to run before it overwrites a file.

use crate::syntax::ast::{Clause, ExceptionClause, File, Item, Name, RefAst, TestClause};
use crate::syntax::{lexer, parse, Span};

use super::normalize_comment;

/// Checks that `formatted` parses without errors to the same tree as `src` (spans ignored,
/// and the formatter's canonical forms allowed: level case, quoting of reference names),
/// and carries the same comments in the same order. The error says what differs.
pub fn verify(src: &str, formatted: &str) -> Result<(), VerifyError> {
    let before = parse(src);
    if !before.errors.is_empty() {
        return Err(VerifyError::SourceErrors);
    }
    let after = parse(formatted);
    if let Some(e) = after.errors.first() {
        return Err(VerifyError::Unparsable {
            message: e.message.clone(),
            span: e.span,
        });
    }
    let (a, b) = (tree_text(&before.file), tree_text(&after.file));
    if a != b {
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let from = at.saturating_sub(80);
        return Err(VerifyError::TreeChanged {
            before: a
                .get(from..(at + 80).min(a.len()))
                .unwrap_or_default()
                .to_string(),
            after: b
                .get(from..(at + 80).min(b.len()))
                .unwrap_or_default()
                .to_string(),
        });
    }
    let (ca, cb) = (
        comment_texts(src, &before.comments),
        comment_texts(formatted, &after.comments),
    );
    if ca != cb {
        return Err(VerifyError::CommentsChanged {
            before: ca,
            after: cb,
        });
    }
    Ok(())
}

/// How a formatted text differs from its source: the formatter's bug (or a source that
/// does not parse, which is never formatted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the source has syntax errors")]
    SourceErrors,
    #[error("the formatted text does not parse: {message} at {}..{}", span.start, span.end)]
    Unparsable { message: String, span: Span },
    #[error("the tree changed near …{before}… (now …{after}…)")]
    TreeChanged { before: String, after: String },
    #[error("the comments changed: {before:?} became {after:?}")]
    CommentsChanged {
        before: Vec<String>,
        after: Vec<String>,
    },
}

/// The normalized texts of a file's comments, in order.
pub(crate) fn comment_texts(src: &str, comments: &[lexer::Comment]) -> Vec<String> {
    comments
        .iter()
        .map(|c| normalize_comment(src.get(c.span.range()).unwrap_or_default()))
        .collect()
}

/// The tree as text, without spans, after the canonicalizations the formatter may make.
fn tree_text(file: &File) -> String {
    let mut file = file.clone();
    for item in &mut file.items {
        match item {
            Item::Policy(p) => {
                for c in &mut p.clauses {
                    match c {
                        Clause::Grant(g) => {
                            canonical_ref(&mut g.target);
                            canonical_level(&mut g.level);
                        }
                        Clause::Deny(r, _) => canonical_ref(r),
                        _ => {}
                    }
                }
            }
            Item::Exception(x) => {
                for c in &mut x.clauses {
                    if let ExceptionClause::Grant(g) = c {
                        canonical_ref(&mut g.target);
                        canonical_level(&mut g.level);
                    }
                }
            }
            Item::Conflict(c) => c.patterns.iter_mut().for_each(canonical_ref),
            Item::Test(t) => {
                for c in &mut t.clauses {
                    if let TestClause::ExpectGrant { target, level, .. } = c {
                        canonical_ref(target);
                        canonical_level(level);
                    }
                }
            }
            _ => {}
        }
    }
    strip_spans(&format!("{:?}", file.items))
}

/// Whether a name was quoted matters only for whether the reference is a pattern.
fn canonical_ref(r: &mut RefAst) {
    r.quoted = r.is_pattern();
}

/// Levels compare case-insensitively.
fn canonical_level(l: &mut Option<Name>) {
    if let Some(l) = l {
        l.node.make_ascii_lowercase();
    }
}

/// Replaces every `Span { start: N, end: M }` of a `Debug` text with `_`.
fn strip_spans(debug: &str) -> String {
    const OPEN: &str = "Span { start: ";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        match rest[i..].find(" }") {
            Some(j) => {
                out.push('_');
                rest = &rest[i + j + 2..];
            }
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_do_not_count_but_everything_else_does() {
        assert!(verify(
            "policy \"A\" { when a == 1 }",
            "policy   \"A\" {\n  when a == 1\n}\n"
        )
        .is_ok());
        assert!(verify(
            "policy \"A\" { when a == 1 }",
            "policy \"A\" {\n  when a == 2\n}\n"
        )
        .is_err());
        assert!(verify(
            "policy \"A\" { when (a == 1) }",
            "policy \"A\" {\n  when a == 1\n}\n"
        )
        .is_err());
        assert!(verify("// c\npolicy \"A\" {}", "policy \"A\" {}\n").is_err());
        assert!(verify(
            "policy \"A\" { grant a:b (Dev) }",
            "policy \"A\" { grant a:b (dev) }"
        )
        .is_ok());
        assert!(verify(
            "policy \"A\" { deny a:b:\"x*\" }",
            "policy \"A\" { deny a:b:x* }"
        )
        .is_err());
    }

    #[test]
    fn strip_spans_replaces_every_span() {
        assert_eq!(
            strip_spans("A(Span { start: 1, end: 2 }, Span { start: 3, end: 40 })"),
            "A(_, _)"
        );
    }
}
