//! The canonical text of the small pieces: expressions, grant references, levels, types and
//! literals. Everything here fits on one line; the layout of lines is `super`'s job.

use chrono::NaiveDate;

use crate::syntax::ast::{quote, Expr, ExprKind, Field, GrantClause, Name, RefAst, TypeExpr};

use crate::syntax::names::is_bare_name;

/// An enum member: bare when it can be, else quoted (`enum { Active, "Part time" }`).
pub(super) fn enum_member(s: &str) -> String {
    if is_bare_name(s) {
        s.to_string()
    } else {
        quote(s)
    }
}

/// A level in a grant, printed in lower case (levels compare case-insensitively), unless the
/// lower-case form would be a keyword the grammar refuses there (`(Policy)` stays as is).
pub(super) fn level(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    if is_bare_name(&lower) || lower == "key" {
        lower
    } else {
        s.to_string()
    }
}

/// The canonical text of a grant reference or pattern ([`RefAst::canonical`]), except that
/// an empty quoted name stays quoted: `aws:role:""` has no bare form.
pub(super) fn reference(r: &RefAst) -> String {
    match &r.name {
        Some(n) if n.is_empty() => format!("{}:{}:{}", r.system, r.rtype, quote(n)),
        _ => r.canonical(),
    }
}

/// `REF [(level)]`, shared by grants and `expect grant`.
pub(super) fn target(r: &RefAst, lvl: &Option<Name>) -> String {
    match lvl {
        Some(l) => format!("{} ({})", reference(r), level(&l.node)),
        None => reference(r),
    }
}

/// `grant REF [(level)] [grace D]`.
pub(super) fn grant(g: &GrantClause) -> String {
    let mut s = format!("grant {}", target(&g.target, &g.level));
    if let Some(d) = &g.grace {
        s.push_str(&format!(" grace {}", d.node));
    }
    s
}

/// An ISO date. `None` only stands for a malformed date, which the formatter never sees
/// (it refuses files with syntax errors).
pub(super) fn date(d: &Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub(super) fn type_expr(t: &TypeExpr) -> String {
    match t {
        TypeExpr::String => "string".into(),
        TypeExpr::Int => "int".into(),
        TypeExpr::Bool => "bool".into(),
        TypeExpr::Date => "date".into(),
        TypeExpr::Enum(members) if members.is_empty() => "enum {}".into(),
        TypeExpr::Enum(members) => {
            let m: Vec<String> = members.iter().map(|m| enum_member(&m.node)).collect();
            format!("enum {{ {} }}", m.join(", "))
        }
        TypeExpr::List(t) => format!("list<{}>", type_expr(&t.node)),
    }
}

/// A schema field: `name: type[?][ key]`.
pub(super) fn field(f: &Field) -> String {
    let mut s = format!("{}: {}", f.name.node, type_expr(&f.ty.node));
    if f.optional {
        s.push('?');
    }
    if f.key {
        s.push_str(" key");
    }
    s
}

/// `"A", "B"`.
pub(super) fn strings(names: &[Name]) -> String {
    let v: Vec<String> = names.iter().map(|n| quote(&n.node)).collect();
    v.join(", ")
}

/// Binding strength, loosest first: `or` < `and` < `not` < comparison < primary.
fn prec(k: &ExprKind) -> u8 {
    match k {
        ExprKind::Or(_) => 1,
        ExprKind::And(_) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::Cmp(..) | ExprKind::In { .. } | ExprKind::Matches(..) => 4,
        _ => 5,
    }
}

/// An expression on one line. Parentheses the author wrote ([`ExprKind::Paren`]) are kept;
/// others are added only where the tree could not be read back without them (which never
/// happens for a tree the parser built).
pub(super) fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(e, 0, &mut out);
    out
}

/// A value in `given { … }`, where the grammar takes a primary expression.
pub(super) fn primary(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(e, 5, &mut out);
    out
}

fn write_list(items: &[Expr], sep: &str, min: u8, out: &mut String) {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_expr(e, min, out);
    }
}

fn write_expr(e: &Expr, min: u8, out: &mut String) {
    if prec(&e.kind) < min {
        out.push('(');
        write_expr(e, 0, out);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Or(v) => write_list(v, " or ", 2, out),
        ExprKind::And(v) => write_list(v, " and ", 3, out),
        ExprKind::Not(x) => {
            out.push_str("not ");
            write_expr(x, 3, out);
        }
        ExprKind::Cmp(op, a, b) => {
            write_expr(a, 5, out);
            out.push_str(&format!(" {} ", op.text()));
            write_expr(b, 5, out);
        }
        ExprKind::In { lhs, rhs, negated } => {
            write_expr(lhs, 5, out);
            out.push_str(if *negated { " not in " } else { " in " });
            write_expr(rhs, 5, out);
        }
        ExprKind::Matches(a, b) => {
            write_expr(a, 5, out);
            out.push_str(" matches ");
            write_expr(b, 5, out);
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.node);
            out.push('(');
            write_list(args, ", ", 0, out);
            out.push(')');
        }
        ExprKind::Attr(a) => out.push_str(a),
        ExprKind::Str(s) => out.push_str(&quote(s)),
        ExprKind::Int(n) => out.push_str(&n.to_string()),
        ExprKind::Date(d) => out.push_str(&date(d)),
        ExprKind::Duration(d) => out.push_str(&d.to_string()),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Today => out.push_str("today"),
        ExprKind::List(items) => {
            out.push('[');
            write_list(items, ", ", 0, out);
            out.push(']');
        }
        ExprKind::Paren(x) => {
            out.push('(');
            write_expr(x, 0, out);
            out.push(')');
        }
        // Only in files with syntax errors, which are never formatted.
        ExprKind::Error => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::span::Span;

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, Span::default())
    }

    fn attr(a: &str) -> Expr {
        e(ExprKind::Attr(a.into()))
    }

    #[test]
    fn levels_are_lower_case_unless_that_makes_a_keyword() {
        assert_eq!(level("Developer"), "developer");
        assert_eq!(level("KEY"), "key");
        assert_eq!(level("Policy"), "Policy");
        assert_eq!(level("Owner"), "owner");
    }

    #[test]
    fn enum_members_are_quoted_only_when_needed() {
        assert_eq!(enum_member("Active"), "Active");
        assert_eq!(enum_member("user"), "user");
        assert_eq!(enum_member("Part time"), "\"Part time\"");
        assert_eq!(enum_member("policy"), "\"policy\"");
        assert_eq!(enum_member("key"), "\"key\"");
        assert_eq!(enum_member(""), "\"\"");
        assert_eq!(enum_member("9lives"), "\"9lives\"");
    }

    #[test]
    fn empty_quoted_names_stay_quoted() {
        let r = RefAst::parse("aws:role:\"\"", Span::default());
        assert_eq!(reference(&r), "aws:role:\"\"");
        let r = RefAst::parse("aws:role:\"plain\"", Span::default());
        assert_eq!(reference(&r), "aws:role:plain");
        let r = RefAst::parse("aws:role:\"a*\"", Span::default());
        assert_eq!(reference(&r), "aws:role:\"a*\"");
    }

    #[test]
    fn built_trees_get_the_parentheses_they_need() {
        // `(a or b) and c` built without a Paren node.
        let or = e(ExprKind::Or(vec![attr("a"), attr("b")]));
        assert_eq!(
            expr(&e(ExprKind::And(vec![or.clone(), attr("c")]))),
            "(a or b) and c"
        );
        assert_eq!(
            expr(&e(ExprKind::Not(Box::new(or.clone())))),
            "not (a or b)"
        );
        let not = e(ExprKind::Not(Box::new(attr("a"))));
        let cmp = e(ExprKind::Cmp(
            crate::syntax::ast::CmpOp::Eq,
            Box::new(not),
            Box::new(attr("b")),
        ));
        assert_eq!(expr(&cmp), "(not a) == b");
        assert_eq!(primary(&or), "(a or b)");
        // An `or` nested in an `or` is not what the parser builds (it flattens): keep it.
        assert_eq!(expr(&e(ExprKind::Or(vec![or, attr("c")]))), "(a or b) or c");
    }
}
