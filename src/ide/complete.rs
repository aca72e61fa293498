//! Completion from the text before the cursor: keywords; policy names inside `inherits`
//! and `expect policies`; attributes, functions and enum values in expressions; systems →
//! types → levels in grants.

use polc_lsp::{Completion, CompletionKind};

use super::Snapshot;

const ITEM_KEYWORDS: &[&str] = &[
    "import",
    "require",
    "schema",
    "system",
    "policy",
    "template",
    "exception",
    "conflict",
    "test",
];
const POLICY_KEYWORDS: &[&str] = &[
    "when",
    "inherits",
    "grant",
    "deny",
    "version",
    "owner",
    "description",
    "effective",
    "expires",
];
const EXCEPTION_KEYWORDS: &[&str] = &[
    "user",
    "grant",
    "justification",
    "approved_by",
    "expires",
    "effective",
    "ticket",
];
const TEST_KEYWORDS: &[&str] = &[
    "given",
    "at",
    "expect policies",
    "expect grant",
    "expect no grant",
];
const EXPR_KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "matches", "today", "true", "false",
];

fn kw(list: &[&str]) -> Vec<Completion> {
    list.iter()
        .map(|k| Completion {
            label: k.to_string(),
            kind: CompletionKind::Keyword,
            detail: None,
            insert: None,
        })
        .collect()
}

/// The kind of block the offset is in, from the nearest unclosed `{`.
fn block(text: &str) -> Option<&'static str> {
    let mut depth = 0i32;
    let bytes = text.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b'}' => depth += 1,
            b'{' if depth > 0 => depth -= 1,
            b'{' => {
                let head = text[..i].trim_end();
                let line = head.rsplit('\n').next().unwrap_or("").trim_start();
                for k in [
                    "policy",
                    "template",
                    "exception",
                    "test",
                    "system",
                    "schema",
                    "conflict",
                    "resource",
                    "given",
                ] {
                    if line.starts_with(k) {
                        return Some(k);
                    }
                }
                return Some("other");
            }
            _ => {}
        }
    }
    None
}

pub fn completion(snap: &Snapshot, uri: &str, offset: usize) -> Vec<Completion> {
    let Some(f) = snap.file(uri) else {
        return Vec::new();
    };
    let text = snap.text(f);
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.rsplit('\n').next().unwrap_or("");
    let trimmed = line.trim_start();
    let env = snap.env();
    // Inside an open string after `inherits` or `expect policies`: policy names.
    let quotes = line.matches('"').count();
    if quotes % 2 == 1
        && (trimmed.starts_with("inherits") || trimmed.starts_with("expect policies"))
    {
        return env
            .policies
            .iter()
            .map(|p| Completion {
                label: p.name.clone(),
                kind: if p.kind == crate::syntax::ast::PolicyKind::Template {
                    CompletionKind::Template
                } else {
                    CompletionKind::Policy
                },
                detail: Some(p.kind.keyword().to_string()),
                insert: Some(format!("{}\"", p.name)),
            })
            .collect();
    }
    // The word being typed.
    let word_start = line
        .rfind(|c: char| c.is_whitespace() || c == '(' || c == ',')
        .map_or(0, |i| i + 1);
    let word = &line[word_start..];
    let grant_line = ["grant", "deny", "expect grant", "expect no grant"]
        .iter()
        .any(|k| trimmed.starts_with(k))
        || matches!(block(before), Some("conflict"));
    // A level: `system:type:name (`
    if let Some(open) = line.rfind('(') {
        let after = &line[open + 1..];
        if grant_line && !after.contains(')') {
            let head = line[..open].trim_end();
            let r = head.rsplit(char::is_whitespace).next().unwrap_or("");
            let mut parts = r.splitn(3, ':');
            if let (Some(s), Some(t)) = (parts.next(), parts.next()) {
                if let Some((_, ty)) = env.system(s).and_then(|(_, sys)| sys.rtype(t)) {
                    return ty
                        .levels
                        .iter()
                        .map(|l| Completion {
                            label: l.clone(),
                            kind: CompletionKind::Level,
                            detail: Some(format!("{s}:{t}")),
                            insert: Some(format!("{l})")),
                        })
                        .collect();
                }
            }
        }
    }
    // Typing the entitlement itself (not the `grant` keyword): systems, then types.
    let typing_keyword = trimmed == word;
    if grant_line && !typing_keyword {
        let system = word.split(':').next().unwrap_or("");
        return match word.matches(':').count() {
            0 => env
                .systems
                .iter()
                .map(|s| Completion {
                    label: s.name.clone(),
                    kind: CompletionKind::System,
                    detail: s.display.clone(),
                    insert: Some(format!("{}:", s.name)),
                })
                .collect(),
            1 => env
                .system(system)
                .map(|(_, sys)| {
                    sys.types
                        .iter()
                        .map(|t| Completion {
                            label: t.name.clone(),
                            kind: CompletionKind::ResourceType,
                            detail: Some(if t.levels.is_empty() {
                                "no levels".into()
                            } else {
                                t.levels.join(" < ")
                            }),
                            insert: None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
    }
    // Expressions: after `when` / `require`, or an operator.
    let in_expr = trimmed.starts_with("when") || trimmed.starts_with("require");
    if in_expr {
        // `attr == "` → the enum's values
        if quotes % 2 == 1 {
            let lhs = line[..line.rfind('"').unwrap_or(0)]
                .trim_end()
                .trim_end_matches(|c| "=!<>".contains(c))
                .trim_end();
            let attr = lhs
                .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '[')
                .next()
                .unwrap_or("");
            if let Some(crate::ir::Type::Enum(members)) = env.field(attr).map(|f| &f.ty) {
                return members
                    .iter()
                    .map(|m| Completion {
                        label: m.clone(),
                        kind: CompletionKind::Value,
                        detail: Some(attr.to_string()),
                        insert: Some(format!("{m}\"")),
                    })
                    .collect();
            }
            return Vec::new();
        }
        let mut out: Vec<Completion> = env
            .schema
            .iter()
            .flat_map(|s| s.fields.iter())
            .map(|f| Completion {
                label: f.name.clone(),
                kind: CompletionKind::Attribute,
                detail: Some(f.ty.to_string()),
                insert: None,
            })
            .collect();
        out.extend(crate::ir::Func::ALL.iter().map(|(n, _)| Completion {
            label: n.to_string(),
            kind: CompletionKind::Function,
            detail: None,
            insert: Some(format!("{n}(")),
        }));
        out.extend(kw(EXPR_KEYWORDS));
        return out;
    }
    if trimmed.starts_with("import") {
        return crate::stdlib::MODULES
            .iter()
            .map(|(n, _)| Completion {
                label: format!("std/{n}"),
                kind: CompletionKind::Module,
                detail: None,
                insert: None,
            })
            .collect();
    }
    match block(before) {
        None => kw(ITEM_KEYWORDS),
        Some("policy") | Some("template") => kw(POLICY_KEYWORDS),
        Some("exception") => kw(EXCEPTION_KEYWORDS),
        Some("test") => kw(TEST_KEYWORDS),
        Some("system") => kw(&["resource", "grace"]),
        Some("resource") => kw(&["levels", "default", "grace"]),
        Some("schema") => Vec::new(),
        _ => Vec::new(),
    }
}
