//! Type-checks trigger expressions against the schema (docs/language.md §12) and lowers them to
//! IR: E0201 unknown attribute, E0202 type mismatch, E0203 enum value, E0204 functions.

use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::ir::{self, CmpOp, Func, Type, Value};
use crate::syntax::ast::{Expr, ExprKind};
use crate::syntax::Span;

use super::Ctx;

/// Checks a trigger (`when`, `require`): it must be a condition.
pub fn check_condition(cx: &mut Ctx<'_>, e: &Expr) -> ir::Expr {
    let (ir, ty) = check(cx, e);
    expect_bool(cx, e.span, &ty, "a trigger must be a condition");
    ir
}

fn expect_bool(cx: &mut Ctx<'_>, span: Span, ty: &Type, what: &str) {
    if !matches!(ty, Type::Bool | Type::Any) {
        cx.push(
            Diagnostic::new(
                "E0202",
                format!("{what}, found a value of type `{ty}`"),
                cx.file,
                span,
                format!("this is a `{ty}`, not a `bool`"),
            )
            .with_help("compare it with something: `attribute == \"value\"`"),
        );
    }
}

/// The type of an expression and its IR. Errors are reported once; the type of a wrong
/// expression is `Any` so that one mistake does not cascade.
pub fn check(cx: &mut Ctx<'_>, e: &Expr) -> (ir::Expr, Type) {
    match &e.kind {
        ExprKind::Paren(inner) => check(cx, inner),
        ExprKind::Or(items) | ExprKind::And(items) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                let (x, t) = check(cx, it);
                let kw = if matches!(e.kind, ExprKind::Or(_)) {
                    "or"
                } else {
                    "and"
                };
                expect_bool(
                    cx,
                    it.span,
                    &t,
                    &format!("the operands of `{kw}` must be conditions"),
                );
                out.push(x);
            }
            let ir = if matches!(e.kind, ExprKind::Or(_)) {
                ir::Expr::Or(out)
            } else {
                ir::Expr::And(out)
            };
            (ir, Type::Bool)
        }
        ExprKind::Not(inner) => {
            let (x, t) = check(cx, inner);
            expect_bool(
                cx,
                inner.span,
                &t,
                "the operand of `not` must be a condition",
            );
            (ir::Expr::Not(Box::new(x)), Type::Bool)
        }
        ExprKind::Cmp(op, a, b) => {
            let (xa, ta) = check(cx, a);
            let (xb, tb) = check(cx, b);
            check_comparison(cx, *op, a, &ta, b, &tb, e.span);
            (ir::Expr::Cmp(*op, Box::new(xa), Box::new(xb)), Type::Bool)
        }
        ExprKind::In { lhs, rhs, negated } => {
            let (xa, ta) = check(cx, lhs);
            let (xb, tb) = check(cx, rhs);
            match &tb {
                Type::List(elem) => {
                    if let ExprKind::List(items) = &rhs.kind {
                        for it in items {
                            let te = elem_type_of(cx, it);
                            check_equatable(cx, lhs, &ta, it, te, it.span);
                        }
                    } else if !compatible(&ta, elem) {
                        mismatch(cx, lhs.span, &ta, &format!("an element of `{tb}`"));
                    }
                }
                Type::Any => {}
                other => {
                    cx.push(
                        Diagnostic::new(
                            "E0202",
                            format!("`in` needs a list on its right, found `{other}`"),
                            cx.file,
                            rhs.span,
                            "not a list",
                        )
                        .with_help("write the values as a list: `x in [\"a\", \"b\"]`"),
                    );
                }
            }
            (
                ir::Expr::In {
                    lhs: Box::new(xa),
                    rhs: Box::new(xb),
                    negated: *negated,
                },
                Type::Bool,
            )
        }
        ExprKind::Matches(a, b) => {
            let (xa, ta) = check(cx, a);
            let (xb, tb) = check(cx, b);
            if !matches!(ta, Type::String | Type::Enum(_) | Type::Any) {
                mismatch(
                    cx,
                    a.span,
                    &ta,
                    "a `string` (`matches` compares text with a glob)",
                );
            }
            if !matches!(tb, Type::String | Type::Any) {
                mismatch(cx, b.span, &tb, "a glob string such as \"Sales*\"");
            }
            (ir::Expr::Matches(Box::new(xa), Box::new(xb)), Type::Bool)
        }
        ExprKind::Call(name, args) => check_call(cx, e, name, args),
        ExprKind::Attr(a) => {
            let ty = attr_type(cx, a, e.span);
            (ir::Expr::Attr(a.clone()), ty)
        }
        ExprKind::Str(s) => (ir::Expr::Lit(Value::Str(s.clone())), Type::String),
        ExprKind::Int(n) => (ir::Expr::Lit(Value::Int(*n)), Type::Int),
        ExprKind::Date(Some(d)) => (ir::Expr::Lit(Value::Date(*d)), Type::Date),
        ExprKind::Date(None) | ExprKind::Error => (ir::Expr::Lit(Value::Bool(false)), Type::Any),
        ExprKind::Duration(d) => {
            super::refs::check_duration(cx, *d, e.span, false);
            (ir::Expr::Lit(Value::Int(d.days_ceil())), Type::Duration)
        }
        ExprKind::Bool(b) => (ir::Expr::Lit(Value::Bool(*b)), Type::Bool),
        ExprKind::Today => (ir::Expr::Today, Type::Date),
        ExprKind::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut elem = Type::Any;
            for it in items {
                let (x, t) = check(cx, it);
                if elem == Type::Any {
                    elem = t;
                } else if !compatible(&elem, &t) && t != Type::Any {
                    mismatch(
                        cx,
                        it.span,
                        &t,
                        &format!("`{elem}` like the list's first element"),
                    );
                }
                out.push(x);
            }
            // A list of literals is a literal: keep it as a value for fast membership tests.
            let ir = match out
                .iter()
                .map(|x| {
                    if let ir::Expr::Lit(v) = x {
                        Some(v.clone())
                    } else {
                        None
                    }
                })
                .collect::<Option<Vec<_>>>()
            {
                Some(vals) => ir::Expr::Lit(Value::List(vals)),
                None => ir::Expr::List(out),
            };
            (ir, Type::List(Box::new(elem)))
        }
    }
}

fn elem_type_of(cx: &mut Ctx<'_>, e: &Expr) -> Type {
    // Types of list elements were already checked (and reported) by `check` on the list.
    let mut quiet = cx.quiet();
    check(&mut quiet, e).1
}

fn attr_type(cx: &mut Ctx<'_>, name: &str, span: Span) -> Type {
    let Some(schema) = &cx.env.schema else {
        return Type::Any;
    };
    match schema.index.get(name) {
        Some(&i) => schema.fields.get(i).map_or(Type::Any, |f| f.ty.clone()),
        None => {
            let help = did_you_mean(name, schema.fields.iter().map(|f| f.name.as_str()))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    "declare it in a `schema { … }` block, or check the spelling".to_string()
                });
            cx.push(
                Diagnostic::new(
                    "E0201",
                    format!("unknown attribute `{name}`"),
                    cx.file,
                    span,
                    "not a field of the schema",
                )
                .with_help(help),
            );
            Type::Any
        }
    }
}

fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Any, _) | (_, Type::Any) => true,
        (Type::Enum(_), Type::String)
        | (Type::String, Type::Enum(_))
        | (Type::Enum(_), Type::Enum(_)) => true,
        (Type::Int, Type::Duration) | (Type::Duration, Type::Int) => true,
        (Type::List(x), Type::List(y)) => compatible(x, y),
        (x, y) => x == y,
    }
}

fn mismatch(cx: &mut Ctx<'_>, span: Span, found: &Type, expected: &str) {
    cx.push(Diagnostic::new(
        "E0202",
        format!("type mismatch: expected {expected}, found `{found}`"),
        cx.file,
        span,
        format!("this is a `{found}`"),
    ));
}

/// `==` / `!=` / `in` between two operands; checks enum membership of string literals.
fn check_equatable(cx: &mut Ctx<'_>, a: &Expr, ta: &Type, b: &Expr, tb: Type, span: Span) {
    if let (Type::Enum(members), ExprKind::Str(s)) = (ta, &b.kind) {
        enum_member(cx, members, s, b.span, a);
        return;
    }
    if let (Type::Enum(members), ExprKind::Str(s)) = (&tb, &a.kind) {
        enum_member(cx, members, s, a.span, b);
        return;
    }
    if !compatible(ta, &tb) {
        cx.push(
            Diagnostic::new(
                "E0202",
                format!("cannot compare `{ta}` with `{tb}`"),
                cx.file,
                span,
                "these have different types",
            )
            .with_label(cx.file, a.span, format!("`{ta}`"))
            .with_label(cx.file, b.span, format!("`{tb}`"))
            .with_help(literal_hint(ta)),
        );
    }
}

fn literal_hint(t: &Type) -> String {
    match t {
        Type::Date => "dates are written unquoted: `start_date < 2025-01-01`".into(),
        Type::Int => "integers are written unquoted: `level >= 3`".into(),
        Type::Bool => "booleans are `true` and `false`, unquoted".into(),
        Type::String | Type::Enum(_) => {
            "text is written in double quotes: `department == \"Sales\"`".into()
        }
        _ => "compare values of the same type".into(),
    }
}

fn enum_member(cx: &mut Ctx<'_>, members: &[String], s: &str, span: Span, attr: &Expr) {
    if members.iter().any(|m| m == s) {
        return;
    }
    let what = match &attr.kind {
        ExprKind::Attr(a) => format!("`{a}`"),
        _ => "this enum".to_string(),
    };
    let help = match did_you_mean(s, members.iter().map(String::as_str)) {
        Some(m) => format!("did you mean \"{m}\"?"),
        None => format!(
            "the values of {what} are: {}",
            members
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    cx.push(
        Diagnostic::new(
            "E0203",
            format!("\"{s}\" is not a value of {what}"),
            cx.file,
            span,
            "not a member of the enum",
        )
        .with_help(help),
    );
}

fn check_comparison(
    cx: &mut Ctx<'_>,
    op: CmpOp,
    a: &Expr,
    ta: &Type,
    b: &Expr,
    tb: &Type,
    span: Span,
) {
    match op {
        CmpOp::Eq | CmpOp::Ne => check_equatable(cx, a, ta, b, tb.clone(), span),
        _ => {
            let ordered =
                |t: &Type| matches!(t, Type::Int | Type::Date | Type::Duration | Type::Any);
            if !ordered(ta) || !ordered(tb) {
                let (bad, t) = if !ordered(ta) { (a, ta) } else { (b, tb) };
                cx.push(
                    Diagnostic::new(
                        "E0202",
                        format!(
                            "`{}` orders only `int` and `date` values, found `{t}`",
                            op.text()
                        ),
                        cx.file,
                        bad.span,
                        format!("a `{t}` has no order"),
                    )
                    .with_help("use `==`, `!=`, `in` or `matches` for text"),
                );
            } else if !compatible(ta, tb) {
                check_equatable(cx, a, ta, b, tb.clone(), span);
            }
        }
    }
}

fn check_call(
    cx: &mut Ctx<'_>,
    e: &Expr,
    name: &crate::syntax::Sp<String>,
    args: &[Expr],
) -> (ir::Expr, Type) {
    let Some(func) = Func::ALL
        .iter()
        .find(|(n, _)| *n == name.node)
        .map(|(_, f)| *f)
    else {
        let help = did_you_mean(&name.node, Func::ALL.iter().map(|(n, _)| *n))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                "the functions are `days_since`, `lower`, `has` and `contains`".into()
            });
        cx.push(
            Diagnostic::new(
                "E0204",
                format!("unknown function `{}`", name.node),
                cx.file,
                name.span,
                "not a function",
            )
            .with_help(help),
        );
        for a in args {
            check(cx, a);
        }
        return (ir::Expr::Lit(Value::Bool(false)), Type::Any);
    };
    let (params, ret): (&[&str], Type) = match func {
        Func::DaysSince => (&["date"], Type::Int),
        Func::Lower => (&["string"], Type::String),
        Func::Has => (&["attribute"], Type::Bool),
        Func::Contains => (&["list<string>", "string"], Type::Bool),
    };
    let signature = format!("{}({}) -> {}", name.node, params.join(", "), ret);
    if args.len() != params.len() {
        cx.push(
            Diagnostic::new(
                "E0204",
                format!(
                    "`{}` takes {} argument{}, found {}",
                    name.node,
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    args.len()
                ),
                cx.file,
                e.span,
                "wrong number of arguments",
            )
            .with_help(format!("its signature is `{signature}`")),
        );
        for a in args {
            check(cx, a);
        }
        return (ir::Expr::Lit(Value::Bool(false)), ret);
    }
    let mut out = Vec::new();
    // As many arguments as parameters (checked above).
    for (i, (a, param)) in args.iter().zip(params.iter()).enumerate() {
        if func == Func::Has {
            match &a.kind {
                ExprKind::Attr(n) => {
                    attr_type(cx, n, a.span);
                    out.push(ir::Expr::Attr(n.clone()));
                }
                _ => {
                    cx.push(
                        Diagnostic::new(
                            "E0204",
                            "`has` takes an attribute name",
                            cx.file,
                            a.span,
                            "not an attribute",
                        )
                        .with_help("write `has(manager)`"),
                    );
                    out.push(ir::Expr::Lit(Value::Bool(false)));
                }
            }
            continue;
        }
        let (x, t) = check(cx, a);
        let ok = match (func, i) {
            (Func::DaysSince, _) => matches!(t, Type::Date | Type::Any),
            (Func::Lower, _) => matches!(t, Type::String | Type::Enum(_) | Type::Any),
            (Func::Contains, 0) => {
                matches!(&t, Type::Any)
                    || matches!(&t, Type::List(el) if matches!(**el, Type::String | Type::Enum(_) | Type::Any))
            }
            (Func::Contains, _) => matches!(t, Type::String | Type::Enum(_) | Type::Any),
            _ => true,
        };
        if !ok {
            cx.push(
                Diagnostic::new(
                    "E0204",
                    format!(
                        "argument {} of `{}` must be a `{}`, found `{t}`",
                        i + 1,
                        name.node,
                        param
                    ),
                    cx.file,
                    a.span,
                    format!("this is a `{t}`"),
                )
                .with_help(format!("its signature is `{signature}`")),
            );
        }
        out.push(x);
    }
    (ir::Expr::Call(func, out), ret)
}

/// The value of a literal expression (in `given { … }`), or `None` when it is not a literal.
pub fn literal(e: &Expr) -> Option<Value> {
    Some(match &e.kind {
        ExprKind::Str(s) => Value::Str(s.clone()),
        ExprKind::Int(n) => Value::Int(*n),
        ExprKind::Date(Some(d)) => Value::Date(*d),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::List(items) => {
            Value::List(items.iter().map(literal).collect::<Option<Vec<_>>>()?)
        }
        ExprKind::Paren(inner) => return literal(inner),
        _ => return None,
    })
}

/// Whether a literal value fits a schema type (for test records); the reason when not.
pub fn value_fits(v: &Value, t: &Type) -> Result<(), ValueMismatch> {
    match (v, t) {
        (_, Type::Any) => Ok(()),
        (Value::Str(_), Type::String)
        | (Value::Int(_), Type::Int)
        | (Value::Bool(_), Type::Bool)
        | (Value::Date(_), Type::Date) => Ok(()),
        (Value::Str(s), Type::Enum(m)) => {
            if m.contains(s) {
                Ok(())
            } else {
                Err(ValueMismatch::NotAMember {
                    value: s.clone(),
                    members: m.clone(),
                })
            }
        }
        (Value::List(items), Type::List(el)) => items.iter().try_for_each(|i| value_fits(i, el)),
        (v, t) => Err(ValueMismatch::Type {
            expected: t.clone(),
            found: v.clone(),
        }),
    }
}

/// Why a literal value does not fit a schema type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueMismatch {
    #[error("\"{value}\" is not one of {}", members.join(", "))]
    NotAMember { value: String, members: Vec<String> },
    #[error("expected a `{expected}`, found {found}")]
    Type { expected: Type, found: Value },
}
