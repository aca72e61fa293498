//! What is at an offset of a file: a policy name (declared or used), a part of a grant
//! reference, a level, an attribute, a function, an import, a keyword.

use polc::syntax::ast::{self, Clause, ExceptionClause, Expr, ExprKind, Item, RefAst, TestClause};
use polc::syntax::lexer::{self, Token};
use polc::syntax::{Parsed, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The name in `policy "…" {` or `template "…" {`.
    PolicyDecl {
        name: String,
        span: Span,
    },
    /// A name in `inherits` or `expect policies`.
    PolicyUse {
        name: String,
        span: Span,
    },
    System {
        system: String,
        span: Span,
    },
    ResourceType {
        system: String,
        rtype: String,
        span: Span,
    },
    /// The name part of a grant reference: the whole entitlement.
    Entitlement {
        r: RefAst,
        span: Span,
    },
    Level {
        system: String,
        rtype: String,
        level: String,
        span: Span,
    },
    Attribute {
        name: String,
        span: Span,
    },
    Function {
        name: String,
        span: Span,
    },
    Import {
        path: String,
        span: Span,
    },
    Keyword {
        word: &'static str,
        span: Span,
    },
}

fn inside(span: Span, offset: usize) -> bool {
    span.start as usize <= offset && offset <= span.end as usize
}

fn in_ref(r: &RefAst, level: Option<&ast::Name>, offset: usize) -> Option<Target> {
    if let Some(l) = level {
        if inside(l.span, offset) {
            return Some(Target::Level {
                system: r.system.clone(),
                rtype: r.rtype.clone(),
                level: l.node.clone(),
                span: l.span,
            });
        }
    }
    if !inside(r.span, offset) {
        return None;
    }
    let sys_end = r.span.start as usize + r.system.len();
    let type_end = sys_end + 1 + r.rtype.len();
    if offset <= sys_end {
        Some(Target::System {
            system: r.system.clone(),
            span: Span::new(r.span.start as usize, sys_end),
        })
    } else if offset <= type_end {
        Some(Target::ResourceType {
            system: r.system.clone(),
            rtype: r.rtype.clone(),
            span: Span::new(sys_end + 1, type_end),
        })
    } else {
        Some(Target::Entitlement {
            r: r.clone(),
            span: r.span,
        })
    }
}

fn in_expr(e: &Expr, offset: usize) -> Option<Target> {
    if !inside(e.span, offset) {
        return None;
    }
    // Iterative descent: the innermost node containing the offset.
    let mut cur = e;
    loop {
        let children: Vec<&Expr> = match &cur.kind {
            ExprKind::Or(v) | ExprKind::And(v) | ExprKind::List(v) => v.iter().collect(),
            ExprKind::Call(f, args) => {
                if inside(f.span, offset) {
                    return Some(Target::Function {
                        name: f.node.clone(),
                        span: f.span,
                    });
                }
                args.iter().collect()
            }
            ExprKind::Not(x) | ExprKind::Paren(x) => vec![&**x],
            ExprKind::Cmp(_, a, b)
            | ExprKind::Matches(a, b)
            | ExprKind::In { lhs: a, rhs: b, .. } => vec![&**a, &**b],
            ExprKind::Attr(a) => {
                return Some(Target::Attribute {
                    name: a.clone(),
                    span: cur.span,
                })
            }
            _ => return None,
        };
        match children.into_iter().find(|c| inside(c.span, offset)) {
            Some(c) => cur = c,
            None => return None,
        }
    }
}

/// The most specific target at `offset`.
pub fn at(parsed: &Parsed, text: &str, offset: usize) -> Option<Target> {
    for item in &parsed.file.items {
        if !inside(item.span(), offset) {
            continue;
        }
        let found = match item {
            Item::Import(i) if inside(i.path.span, offset) => Some(Target::Import {
                path: i.path.node.clone(),
                span: i.path.span,
            }),
            Item::Require(r) => in_expr(&r.expr, offset),
            Item::Policy(p) => {
                if inside(p.name.span, offset) {
                    return Some(Target::PolicyDecl {
                        name: p.name.node.clone(),
                        span: p.name.span,
                    });
                }
                p.clauses.iter().find_map(|c| match c {
                    Clause::When(e, _) => in_expr(e, offset),
                    Clause::Inherits(names, _) => names
                        .iter()
                        .find(|n| inside(n.span, offset))
                        .map(|n| Target::PolicyUse {
                            name: n.node.clone(),
                            span: n.span,
                        }),
                    Clause::Grant(g) => in_ref(&g.target, g.level.as_ref(), offset),
                    Clause::Deny(r, _) => in_ref(r, None, offset),
                    _ => None,
                })
            }
            Item::Exception(e) => e.clauses.iter().find_map(|c| match c {
                ExceptionClause::Grant(g) => in_ref(&g.target, g.level.as_ref(), offset),
                _ => None,
            }),
            Item::Conflict(c) => c.patterns.iter().find_map(|p| in_ref(p, None, offset)),
            Item::Test(t) => t.clauses.iter().find_map(|c| match c {
                TestClause::ExpectPolicies(names, _) => names
                    .iter()
                    .find(|n| inside(n.span, offset))
                    .map(|n| Target::PolicyUse {
                        name: n.node.clone(),
                        span: n.span,
                    }),
                TestClause::ExpectGrant { target, level, .. } => {
                    in_ref(target, level.as_ref(), offset)
                }
                TestClause::Given(fields, _) => fields
                    .iter()
                    .find(|(n, _)| inside(n.span, offset))
                    .map(|(n, _)| Target::Attribute {
                        name: n.node.clone(),
                        span: n.span,
                    }),
                _ => None,
            }),
            Item::System(s) => s.clauses.iter().find_map(|c| match c {
                ast::SystemClause::Resource(r) if inside(r.name.span, offset) => {
                    Some(Target::ResourceType {
                        system: s.name.node.clone(),
                        rtype: r.name.node.clone(),
                        span: r.name.span,
                    })
                }
                _ => None,
            }),
            Item::Schema(s) => s
                .fields
                .iter()
                .find(|f| inside(f.name.span, offset))
                .map(|f| Target::Attribute {
                    name: f.name.node.clone(),
                    span: f.name.span,
                }),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    keyword_at(text, offset)
}

/// The keyword token at `offset`, if any.
pub fn keyword_at(text: &str, offset: usize) -> Option<Target> {
    let lexed = lexer::lex(text);
    let (l, tok, r) = lexed
        .tokens
        .iter()
        .find(|(l, _, r)| *l <= offset && offset <= *r)?;
    match tok {
        t @ Token::Ident(_) | t @ Token::Ref(_) | t @ Token::Str(_) => {
            let _ = t;
            None
        }
        t if t.is_keyword() => Some(Target::Keyword {
            word: t.text()?,
            span: Span::new(*l, *r),
        }),
        _ => None,
    }
}
