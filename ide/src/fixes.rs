//! Quick fixes: apply a "did you mean" (names, attributes, systems, types, levels, enum
//! values), remove a redundant grant (W0101).

use polc_lsp::{CodeAction, Edit};

use super::Snapshot;
use polc::diagnostics::Diagnostic;

/// The suggestion of a `did you mean …?` help, and how to write it over the primary span.
fn suggestion(d: &Diagnostic, text: &str) -> Option<String> {
    if let Some((_, fix)) = &d.fix {
        return Some(fix.clone());
    }
    let help = d.help.as_deref()?;
    let rest = help.strip_prefix("did you mean ")?;
    let s = rest.trim_end_matches('?');
    let (quoted, inner) = if let Some(x) = s.strip_prefix('`').and_then(|x| x.strip_suffix('`')) {
        (false, x)
    } else if let Some(x) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        (true, x)
    } else {
        return None;
    };
    let inner = match d.code {
        // `system:type`: only the type is under the span
        "E0302" => inner.rsplit(':').next()?,
        _ => inner,
    };
    let current = text.get(d.primary.span.range())?;
    Some(if quoted || current.starts_with('"') {
        polc::syntax::ast::quote(inner)
    } else {
        inner.to_string()
    })
}

fn line_span(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i + 1);
    start..end
}

pub fn code_actions(snap: &Snapshot, uri: &str, range: std::ops::Range<usize>) -> Vec<CodeAction> {
    let Some(f) = snap.file(uri) else {
        return Vec::new();
    };
    let text = snap.text(f);
    let mut out = Vec::new();
    for d in snap
        .checked()
        .diagnostics
        .iter()
        .filter(|d| d.primary.file == f)
    {
        let span = d.primary.span.range();
        if span.end < range.start || span.start > range.end {
            continue;
        }
        if let Some(new) = suggestion(d, text) {
            let (at, _) = d.fix.clone().unwrap_or((d.primary.span, String::new()));
            out.push(CodeAction {
                title: format!("Replace with {new}"),
                fixes: Some(d.code.to_string()),
                edits: vec![Edit {
                    uri: uri.to_string(),
                    range: at.range(),
                    text: new,
                }],
                preferred: true,
            });
        }
        if d.code == "W0101" {
            out.push(CodeAction {
                title: "Remove the redundant grant".into(),
                fixes: Some(d.code.to_string()),
                edits: vec![Edit {
                    uri: uri.to_string(),
                    range: line_span(text, span),
                    text: String::new(),
                }],
                preferred: true,
            });
        }
    }
    out
}
