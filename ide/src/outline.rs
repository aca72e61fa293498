//! Document and workspace symbols, semantic tokens, and "applies to N people" lenses.

use polc_lsp::{Lens, SemanticToken, Symbol, SymbolKind, TokenKind};

use super::{Host, Snapshot};
use polc::db::SourceFile;
use polc::syntax::ast::{
    Clause, ExceptionClause, Expr, ExprKind, Item, RefAst, SystemClause, TestClause,
};
use polc::syntax::lexer::{self, Token};

fn sym(
    name: String,
    kind: SymbolKind,
    detail: Option<String>,
    range: std::ops::Range<usize>,
    selection: std::ops::Range<usize>,
) -> Symbol {
    Symbol {
        name,
        kind,
        detail,
        range,
        selection,
        children: Vec::new(),
    }
}

pub fn symbols(snap: &Snapshot, f: SourceFile) -> Vec<Symbol> {
    let mut out = Vec::new();
    for item in &snap.parsed(f).file.items {
        let r = item.span().range();
        match item {
            Item::Policy(p) => {
                let kind = if p.kind == polc::syntax::ast::PolicyKind::Template {
                    SymbolKind::Template
                } else {
                    SymbolKind::Policy
                };
                out.push(sym(
                    p.name.node.clone(),
                    kind,
                    Some(p.kind.keyword().into()),
                    r,
                    p.name.span.range(),
                ));
            }
            Item::System(s) => {
                let mut x = sym(
                    s.name.node.clone(),
                    SymbolKind::System,
                    s.display.as_ref().map(|d| d.node.clone()),
                    r,
                    s.name.span.range(),
                );
                for c in &s.clauses {
                    if let SystemClause::Resource(res) = c {
                        x.children.push(sym(
                            res.name.node.clone(),
                            SymbolKind::Resource,
                            None,
                            res.span.range(),
                            res.name.span.range(),
                        ));
                    }
                }
                out.push(x);
            }
            Item::Schema(s) => {
                let mut x = sym(
                    "schema".into(),
                    SymbolKind::Schema,
                    None,
                    r.clone(),
                    r.start..r.start + 6,
                );
                for fl in &s.fields {
                    x.children.push(sym(
                        fl.name.node.clone(),
                        SymbolKind::Field,
                        None,
                        fl.span.range(),
                        fl.name.span.range(),
                    ));
                }
                out.push(x);
            }
            Item::Exception(e) => {
                let user = e.clauses.iter().find_map(|c| {
                    if let ExceptionClause::User(u, _) = c {
                        Some(u.node.clone())
                    } else {
                        None
                    }
                });
                let name = e
                    .name
                    .as_ref()
                    .map_or_else(|| "exception".to_string(), |n| n.node.clone());
                out.push(sym(
                    name,
                    SymbolKind::Exception,
                    user.map(|u| format!("for {u}")),
                    r,
                    e.head.range(),
                ));
            }
            Item::Conflict(c) => out.push(sym(
                c.name.node.clone(),
                SymbolKind::Conflict,
                None,
                r,
                c.name.span.range(),
            )),
            Item::Test(t) => out.push(sym(
                t.name.node.clone(),
                SymbolKind::Test,
                None,
                r,
                t.name.span.range(),
            )),
            _ => {}
        }
    }
    out
}

pub fn workspace_symbols(snap: &Snapshot, query: &str) -> Vec<(String, Symbol)> {
    let q = query.to_lowercase();
    let mut out = Vec::new();
    for (uri, f) in snap.own_files() {
        for s in symbols(snap, f) {
            if s.name.to_lowercase().contains(&q) {
                out.push((uri.to_string(), s));
            }
        }
    }
    out
}

fn ref_tokens(r: &RefAst, out: &mut Vec<SemanticToken>) {
    let s = r.span.start as usize;
    let sys_end = s + r.system.len();
    out.push(SemanticToken {
        range: (s, sys_end),
        kind: TokenKind::System,
    });
    out.push(SemanticToken {
        range: (sys_end + 1, sys_end + 1 + r.rtype.len()),
        kind: TokenKind::Type,
    });
}

fn expr_tokens(e: &Expr, out: &mut Vec<SemanticToken>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Attr(_) => out.push(SemanticToken {
                range: (e.span.start as usize, e.span.end as usize),
                kind: TokenKind::Attribute,
            }),
            ExprKind::Call(f, args) => {
                out.push(SemanticToken {
                    range: (f.span.start as usize, f.span.end as usize),
                    kind: TokenKind::Function,
                });
                stack.extend(args.iter());
            }
            ExprKind::Or(v) | ExprKind::And(v) | ExprKind::List(v) => stack.extend(v.iter()),
            ExprKind::Not(x) | ExprKind::Paren(x) => stack.push(x),
            ExprKind::Cmp(_, a, b)
            | ExprKind::Matches(a, b)
            | ExprKind::In { lhs: a, rhs: b, .. } => {
                stack.push(a);
                stack.push(b);
            }
            _ => {}
        }
    }
}

/// Tokens from the lexer (keywords, literals, comments, operators) refined by the AST
/// (policy names, attributes, functions, systems, types, levels).
pub fn semantic_tokens(snap: &Snapshot, f: SourceFile) -> Vec<SemanticToken> {
    let text = snap.text(f);
    let lexed = lexer::lex(text);
    let mut out: Vec<SemanticToken> = lexed
        .comments
        .iter()
        .map(|c| SemanticToken {
            range: (c.span.start as usize, c.span.end as usize),
            kind: TokenKind::Comment,
        })
        .collect();
    let mut ast_tokens = Vec::new();
    for item in &snap.parsed(f).file.items {
        match item {
            Item::Policy(p) => {
                ast_tokens.push(SemanticToken {
                    range: (p.name.span.start as usize, p.name.span.end as usize),
                    kind: TokenKind::Policy,
                });
                for c in &p.clauses {
                    match c {
                        Clause::When(e, _) => expr_tokens(e, &mut ast_tokens),
                        Clause::Inherits(names, _) => {
                            ast_tokens.extend(names.iter().map(|n| SemanticToken {
                                range: (n.span.start as usize, n.span.end as usize),
                                kind: TokenKind::Policy,
                            }))
                        }
                        Clause::Grant(g) => {
                            ref_tokens(&g.target, &mut ast_tokens);
                            if let Some(l) = &g.level {
                                ast_tokens.push(SemanticToken {
                                    range: (l.span.start as usize, l.span.end as usize),
                                    kind: TokenKind::Level,
                                });
                            }
                        }
                        Clause::Deny(r, _) => ref_tokens(r, &mut ast_tokens),
                        _ => {}
                    }
                }
            }
            Item::Require(r) => expr_tokens(&r.expr, &mut ast_tokens),
            Item::Exception(e) => {
                for c in &e.clauses {
                    if let ExceptionClause::Grant(g) = c {
                        ref_tokens(&g.target, &mut ast_tokens);
                    }
                }
            }
            Item::Conflict(c) => c
                .patterns
                .iter()
                .for_each(|p| ref_tokens(p, &mut ast_tokens)),
            Item::Test(t) => {
                for c in &t.clauses {
                    match c {
                        TestClause::ExpectGrant { target, .. } => {
                            ref_tokens(target, &mut ast_tokens)
                        }
                        TestClause::ExpectPolicies(names, _) => {
                            ast_tokens.extend(names.iter().map(|n| SemanticToken {
                                range: (n.span.start as usize, n.span.end as usize),
                                kind: TokenKind::Policy,
                            }))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let covered = |s: usize, e: usize| ast_tokens.iter().any(|t| t.range.0 < e && s < t.range.1);
    for (s, tok, e) in &lexed.tokens {
        let kind = match tok {
            Token::Str(_) => TokenKind::String,
            Token::Int(_) | Token::Date(_) | Token::Duration(_) => TokenKind::Number,
            t if t.is_keyword() => TokenKind::Keyword,
            Token::EqEq | Token::NotEq | Token::Lt | Token::Le | Token::Gt | Token::Ge => {
                TokenKind::Operator
            }
            _ => continue,
        };
        if !covered(*s, *e) {
            out.push(SemanticToken {
                range: (*s, *e),
                kind,
            });
        }
    }
    out.extend(ast_tokens);
    out.sort_by_key(|t| t.range.0);
    out
}

/// Per policy id, how many users of the users file it applies to directly; and the number
/// of users. `None` without a users file or when the bundle has errors.
pub fn applies_counts(host: &Host, snap: &Snapshot) -> Option<std::sync::Arc<super::PolicyCounts>> {
    let checked = snap.checked();
    if checked.blocking_errors().next().is_some() {
        return None;
    }
    let users = host.users(snap, &checked.bundle)?;
    Some(host.applies_counts(&checked.bundle, &users, snap.ws.today(&snap.db)))
}

pub fn lenses(host: &Host, snap: &Snapshot, uri: &str) -> Vec<Lens> {
    let Some(f) = snap.file(uri) else {
        return Vec::new();
    };
    let Some(counts) = applies_counts(host, snap) else {
        return Vec::new();
    };
    let (counts, total) = (&counts.0, counts.1);
    let b = &snap.checked().bundle;
    let mut out = Vec::new();
    for item in &snap.parsed(f).file.items {
        if let Item::Policy(p) = item {
            let Some(id) = b.policy_id(&p.name.node) else {
                continue;
            };
            if b.policy(id).template {
                continue;
            }
            let n = counts[id];
            out.push(Lens {
                range: p.name.span.range(),
                title: format!(
                    "applies to {n} of {total} {}",
                    if total == 1 { "person" } else { "people" }
                ),
            });
        }
    }
    out
}
