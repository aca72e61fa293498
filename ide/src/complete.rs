//! Completion from the tokens before the cursor (the lexer's, so strings, comments and
//! braces inside them never mislead it): keywords; policy names inside `inherits` and
//! `expect policies`; attributes, functions and enum values in expressions, on any line of
//! a clause; systems → types → levels in grants.

use polc_lsp::{Completion, CompletionKind};

use super::Snapshot;
use polc::syntax::lexer::{lex, CommentKind, Token};
use polc::syntax::names::{
    EXCEPTION_KEYWORDS, EXPR_KEYWORDS, ITEM_KEYWORDS, POLICY_KEYWORDS, RESOURCE_KEYWORDS,
    SYSTEM_KEYWORDS, TEST_KEYWORDS,
};

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

/// Where the cursor is, from the tokens before it.
struct Context<'s> {
    /// The item keyword of the innermost open block (`policy`, `template`, `exception`,
    /// `test`, `system`, `schema`, `conflict`, `resource`, `given`), `other`, or `None` at
    /// the top level.
    block: Option<&'static str>,
    /// The clause the cursor is in: its first keyword and the tokens after it (the word
    /// being typed excluded).
    clause: Option<(Token<'s>, Vec<Token<'s>>)>,
    /// The last token before the cursor (and before the word being typed), and the one
    /// before it.
    last: Option<Token<'s>>,
    prev: Option<Token<'s>>,
    /// Inside a string that is not closed yet.
    in_string: bool,
    /// Inside a comment.
    in_comment: bool,
}

fn starts_clause(t: &Token) -> bool {
    matches!(
        t,
        Token::Import
            | Token::Require
            | Token::When
            | Token::Inherits
            | Token::Grant
            | Token::Deny
            | Token::Version
            | Token::Owner
            | Token::Description
            | Token::Effective
            | Token::Expires
            | Token::User
            | Token::Justification
            | Token::ApprovedBy
            | Token::Reason
            | Token::Given
            | Token::At
            | Token::Expect
            | Token::Levels
            | Token::Default
            | Token::Grace
            | Token::Resource
            | Token::Policy
            | Token::Template
            | Token::Exception
            | Token::Test
            | Token::System
            | Token::Schema
            | Token::Conflict
    )
}

fn block_kind(t: &Token) -> &'static str {
    match t {
        Token::Policy => "policy",
        Token::Template => "template",
        Token::Exception => "exception",
        Token::Test => "test",
        Token::System => "system",
        Token::Schema => "schema",
        Token::Conflict => "conflict",
        Token::Resource => "resource",
        Token::Given => "given",
        _ => "other",
    }
}

fn context(before: &str) -> Context<'_> {
    let lexed = lex(before);
    let end = before.len();
    let in_comment = lexed.comments.iter().any(|c| {
        c.span.end as usize == end
            && match c.kind {
                // a line comment runs to the end of its line: the cursor is in it
                CommentKind::Line | CommentKind::Doc => true,
                // a block comment is open unless it ends with `*/`
                CommentKind::Block => !before.ends_with("*/"),
            }
    });
    let mut tokens = lexed.tokens;
    let in_string = matches!(
        tokens.last(),
        Some((s, Token::BadLiteral, e)) if *e == end && before[*s..].starts_with('"')
    );
    if in_string {
        tokens.pop();
    }
    // The word being typed (`gitlab:gr`, `depart`, `an`) is not part of the context.
    if !in_string {
        let mut word_begin = end;
        while let Some((s, t, e)) = tokens.last() {
            let word =
                matches!(t, Token::Ident(_) | Token::Ref(_) | Token::Colon) || t.is_keyword();
            if *e != word_begin || !word {
                break;
            }
            word_begin = *s;
            tokens.pop();
        }
    }
    // The innermost open block.
    let mut open: Vec<usize> = Vec::new();
    for (i, (_, t, _)) in tokens.iter().enumerate() {
        match t {
            Token::LBrace => open.push(i),
            Token::RBrace => {
                open.pop();
            }
            _ => {}
        }
    }
    // Its kind: the nearest block keyword before the brace (`policy "X" {`, `given {`).
    let block = open.last().map(|&i| {
        tokens[..i]
            .iter()
            .rev()
            .map(|(_, t, _)| t)
            .take_while(|t| !matches!(t, Token::LBrace | Token::RBrace))
            .map(block_kind)
            .find(|k| *k != "other")
            .unwrap_or("other")
    });
    // The clause: back to its first keyword, within the block.
    let mut clause = None;
    for i in (0..tokens.len()).rev() {
        let t = &tokens[i].1;
        if matches!(t, Token::LBrace | Token::RBrace) {
            break;
        }
        if starts_clause(t) {
            let rest = tokens[i + 1..].iter().map(|(_, t, _)| t.clone()).collect();
            clause = Some((t.clone(), rest));
            break;
        }
    }
    Context {
        block,
        clause,
        last: tokens.last().map(|(_, t, _)| t.clone()),
        prev: tokens.len().checked_sub(2).map(|i| tokens[i].1.clone()),
        in_string,
        in_comment,
    }
}

pub fn completion(snap: &Snapshot, uri: &str, offset: usize) -> Vec<Completion> {
    let Some(f) = snap.file(uri) else {
        return Vec::new();
    };
    let text = snap.text(f);
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.rsplit('\n').next().unwrap_or("");
    let env = snap.env();
    let cx = context(before);
    if cx.in_comment {
        return Vec::new();
    }
    let head = cx.clause.as_ref().map(|(t, _)| t.clone());
    let rest: &[Token] = cx.clause.as_ref().map_or(&[], |(_, r)| r.as_slice());
    // Inside an open string after `inherits` or `expect policies`: policy names.
    let names_policies = match &head {
        Some(Token::Inherits) => true,
        Some(Token::Expect) => matches!(rest.first(), Some(Token::Policies)),
        _ => false,
    };
    if cx.in_string && names_policies {
        return env
            .policies
            .iter()
            .map(|p| Completion {
                label: p.name.clone(),
                kind: if p.kind == polc::syntax::ast::PolicyKind::Template {
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
        .rfind(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == '{')
        .map_or(0, |i| i + 1);
    let word = &line[word_start..];
    let grant_line = match &head {
        Some(Token::Grant) | Some(Token::Deny) => true,
        Some(Token::Expect) => rest.iter().take(2).any(|t| matches!(t, Token::Grant)),
        _ => cx.block == Some("conflict") && !matches!(head, Some(Token::Reason)),
    };
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
    // Typing the entitlement itself (right after `grant`, `deny`, `expect [no] grant`, or
    // between a conflict's patterns): systems, then types.
    let entitlement_position = match &head {
        Some(Token::Grant) | Some(Token::Deny) => rest.is_empty(),
        Some(Token::Expect) => {
            rest.iter().any(|t| matches!(t, Token::Grant))
                && rest.iter().all(|t| matches!(t, Token::Grant | Token::No))
        }
        None => {
            cx.block == Some("conflict") && matches!(cx.last, Some(Token::LBrace | Token::Comma))
        }
        _ => false,
    };
    if entitlement_position && !cx.in_string {
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
    // Expressions: in a `when` or `require` clause, on any of its lines.
    if matches!(head, Some(Token::When) | Some(Token::Require)) {
        // `attr == "`, `attr != "`, `attr in ["x", "` → the enum's values
        if cx.in_string {
            return enum_values(env, compared_attribute(rest).unwrap_or(""));
        }
        // After a complete operand the expression may go on, or a new clause begin.
        let operand_end = matches!(
            cx.last,
            Some(
                Token::Ident(_)
                    | Token::Str(_)
                    | Token::Int(_)
                    | Token::Date(_)
                    | Token::True
                    | Token::False
                    | Token::Today
                    | Token::RParen
                    | Token::RBracket
            )
        );
        if operand_end && !rest.is_empty() {
            let mut out = block_keywords(cx.block);
            out.extend(kw(&["and", "or", "in", "not in", "matches"]));
            return out;
        }
        let mut out = attributes(env, "");
        out.extend(polc::ir::Func::ALL.iter().map(|(n, _)| Completion {
            label: n.to_string(),
            kind: CompletionKind::Function,
            detail: None,
            insert: Some(format!("{n}(")),
        }));
        out.extend(kw(EXPR_KEYWORDS));
        return out;
    }
    if matches!(head, Some(Token::Import)) && rest.is_empty() {
        return polc::stdlib::MODULES
            .iter()
            .map(|(n, _)| Completion {
                label: format!("std/{n}"),
                kind: CompletionKind::Module,
                detail: None,
                insert: None,
            })
            .collect();
    }
    // A test's record: `given { attr: value, … }`.
    if cx.block == Some("given") {
        return given(&cx, env);
    }
    if cx.in_string {
        return Vec::new();
    }
    block_keywords(cx.block)
}

/// In `given { … }`: attribute names where a key goes, an enum's values in `attr: "`.
fn given(cx: &Context, env: &polc::check::Env) -> Vec<Completion> {
    match (&cx.last, &cx.prev) {
        (Some(Token::Colon), Some(Token::Ident(attr))) if cx.in_string => enum_values(env, attr),
        (Some(Token::LBrace | Token::Comma), _) if !cx.in_string => attributes(env, ": "),
        _ => Vec::new(),
    }
}

/// The schema's attributes; `then` is inserted after the name (`": "` in a record).
fn attributes(env: &polc::check::Env, then: &str) -> Vec<Completion> {
    env.schema
        .iter()
        .flat_map(|s| s.fields.iter())
        .map(|f| Completion {
            label: f.name.clone(),
            kind: CompletionKind::Attribute,
            detail: Some(f.ty.to_string()),
            insert: (!then.is_empty()).then(|| format!("{}{then}", f.name)),
        })
        .collect()
}

/// The members of an enum attribute, to finish an open string (none for other types).
fn enum_values(env: &polc::check::Env, attr: &str) -> Vec<Completion> {
    match env.field(attr).map(|f| &f.ty) {
        Some(polc::ir::Type::Enum(members)) => members
            .iter()
            .map(|m| Completion {
                label: m.clone(),
                kind: CompletionKind::Value,
                detail: Some(attr.to_string()),
                insert: Some(format!("{m}\"")),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The keywords that may start a clause in a block (or an item, at the top level).
fn block_keywords(block: Option<&str>) -> Vec<Completion> {
    match block {
        None => kw(ITEM_KEYWORDS),
        Some("policy") | Some("template") => kw(POLICY_KEYWORDS),
        Some("exception") => kw(EXCEPTION_KEYWORDS),
        Some("test") => kw(TEST_KEYWORDS),
        Some("system") => kw(SYSTEM_KEYWORDS),
        Some("resource") => kw(RESOURCE_KEYWORDS),
        Some("schema") => Vec::new(),
        _ => Vec::new(),
    }
}

/// The attribute an open string is compared with: `attr ==`, `attr !=`, or `attr in [` with
/// earlier list items.
fn compared_attribute<'s>(clause: &[Token<'s>]) -> Option<&'s str> {
    let mut i = clause.len();
    // skip `"x",` items of an open list
    while i >= 2 && matches!(clause[i - 1], Token::Comma) && matches!(clause[i - 2], Token::Str(_))
    {
        i -= 2;
    }
    let op = clause.get(i.checked_sub(1)?)?;
    let attr_at = match op {
        Token::EqEq | Token::NotEq => i.checked_sub(2)?,
        Token::LBracket if matches!(clause.get(i.checked_sub(2)?), Some(Token::In)) => {
            i.checked_sub(3)?
        }
        _ => return None,
    };
    match clause.get(attr_at)? {
        Token::Ident(a) => Some(a),
        _ => None,
    }
}
