//! Trigger expressions compiled for evaluation: attributes resolved to the slots of the
//! user records, literals kept as values. Absent attributes follow docs/language.md §12: a
//! comparison (and `in`, `matches`) that reads one is false; `not` of it is true.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::NaiveDate;

use crate::ir::{glob_match, CmpOp, Expr, Func, Value};

/// An expression with attribute names replaced by record slots.
#[derive(Debug, Clone)]
pub enum CExpr {
    Lit(Value),
    /// `None`: the attribute is not a column of the records, so always absent.
    Attr(Option<usize>),
    Today,
    Call(Func, Vec<CExpr>),
    Not(Box<CExpr>),
    And(Vec<CExpr>),
    Or(Vec<CExpr>),
    Cmp(CmpOp, Box<CExpr>, Box<CExpr>),
    In {
        lhs: Box<CExpr>,
        rhs: Box<CExpr>,
        negated: bool,
    },
    Matches(Box<CExpr>, Box<CExpr>),
    List(Vec<CExpr>),
    /// `x in [literals]`: the list prepared for constant-time membership.
    InSet {
        lhs: Box<CExpr>,
        members: Members,
        negated: bool,
    },
}

/// The members of a literal list, for membership tests that agree with [`equal`] (text
/// read as a number, a date or a boolean when the other side is one) in constant time:
/// a long `in [...]` list costs one lookup per test, not one comparison per member.
#[derive(Debug, Clone, Default)]
pub struct Members {
    /// The text members.
    text: rustc_hash::FxHashSet<String>,
    /// The other members (numbers, dates, booleans, lists), exactly.
    other: rustc_hash::FxHashSet<Value>,
    /// What the text members read as (a number, a date, a boolean), for values of those
    /// types.
    coerced: rustc_hash::FxHashSet<Value>,
}

impl Members {
    pub fn new(items: &[Value]) -> Members {
        let mut m = Members::default();
        for v in items {
            match v {
                Value::Str(s) => {
                    for like in [
                        Value::Int(0),
                        Value::Date(crate::dates::FIRST),
                        Value::Bool(false),
                    ] {
                        if let Some(c) = coerce(s, &like) {
                            m.coerced.insert(c);
                        }
                    }
                    m.text.insert(s.clone());
                }
                other => {
                    m.other.insert(other.clone());
                }
            }
        }
        m
    }

    /// Whether some member is [`equal`] to `x`.
    pub fn contains(&self, x: &Value) -> bool {
        match x {
            Value::Str(s) => {
                self.text.contains(s)
                    || (!self.other.is_empty()
                        && [
                            Value::Int(0),
                            Value::Date(crate::dates::FIRST),
                            Value::Bool(false),
                        ]
                        .iter()
                        .filter_map(|like| coerce(s, like))
                        .any(|c| self.other.contains(&c)))
            }
            other => self.other.contains(other) || self.coerced.contains(other),
        }
    }
}

impl CExpr {
    /// Compiles `e`, resolving attributes with `slot`.
    pub fn compile(e: &Expr, slot: &dyn Fn(&str) -> Option<usize>) -> CExpr {
        let c = |x: &Expr| Box::new(CExpr::compile(x, slot));
        match e {
            Expr::Lit(v) => CExpr::Lit(v.clone()),
            Expr::Attr(a) => CExpr::Attr(slot(a)),
            Expr::Today => CExpr::Today,
            Expr::Call(f, args) => {
                CExpr::Call(*f, args.iter().map(|a| CExpr::compile(a, slot)).collect())
            }
            Expr::Not(x) => CExpr::Not(c(x)),
            Expr::And(v) => CExpr::And(v.iter().map(|a| CExpr::compile(a, slot)).collect()),
            Expr::Or(v) => CExpr::Or(v.iter().map(|a| CExpr::compile(a, slot)).collect()),
            Expr::Cmp(op, a, b) => CExpr::Cmp(*op, c(a), c(b)),
            Expr::In { lhs, rhs, negated } => match &**rhs {
                Expr::Lit(Value::List(items)) => CExpr::InSet {
                    lhs: c(lhs),
                    members: Members::new(items),
                    negated: *negated,
                },
                _ => CExpr::In {
                    lhs: c(lhs),
                    rhs: c(rhs),
                    negated: *negated,
                },
            },
            Expr::Matches(a, b) => CExpr::Matches(c(a), c(b)),
            Expr::List(v) => CExpr::List(v.iter().map(|a| CExpr::compile(a, slot)).collect()),
        }
    }
}

/// What an expression reads: a user's values and the evaluation date.
pub struct Env<'a> {
    pub values: &'a [Option<Value>],
    pub today: NaiveDate,
}

impl Env<'_> {
    /// The value of an expression; `None` when it reads an absent attribute. Literals and
    /// record values are borrowed: a comparison copies nothing.
    pub fn value<'e>(&'e self, e: &'e CExpr) -> Option<Cow<'e, Value>> {
        match e {
            CExpr::Lit(v) => Some(Cow::Borrowed(v)),
            CExpr::Attr(slot) => slot
                .and_then(|s| self.values.get(s))
                .and_then(Option::as_ref)
                .map(Cow::Borrowed),
            CExpr::Today => Some(Cow::Owned(Value::Date(self.today))),
            CExpr::List(items) => Some(Cow::Owned(Value::List(
                items
                    .iter()
                    .map(|i| self.value(i).map(Cow::into_owned))
                    .collect::<Option<Vec<_>>>()?,
            ))),
            CExpr::Call(f, args) => self.call(*f, args).map(Cow::Owned),
            other => Some(Cow::Owned(Value::Bool(self.test(other)))),
        }
    }

    fn call(&self, f: Func, args: &[CExpr]) -> Option<Value> {
        match f {
            Func::Has => Some(Value::Bool(
                args.first().is_some_and(|a| self.value(a).is_some()),
            )),
            Func::DaysSince => match &*self.value(args.first()?)? {
                Value::Date(d) => Some(Value::Int((self.today - *d).num_days())),
                Value::Str(s) => {
                    crate::dates::parse(s).map(|d| Value::Int((self.today - d).num_days()))
                }
                _ => None,
            },
            Func::Lower => match &*self.value(args.first()?)? {
                Value::Str(s) => Some(Value::Str(s.to_lowercase())),
                other => Some(other.clone()),
            },
            Func::Contains => {
                let list = self.value(args.first()?)?;
                let x = self.value(args.get(1)?)?;
                match &*list {
                    Value::List(items) => Some(Value::Bool(items.iter().any(|i| equal(i, &x)))),
                    _ => None,
                }
            }
        }
    }

    /// Whether a condition holds.
    pub fn test(&self, e: &CExpr) -> bool {
        match e {
            CExpr::And(v) => v.iter().all(|x| self.test(x)),
            CExpr::Or(v) => v.iter().any(|x| self.test(x)),
            CExpr::Not(x) => !self.test(x),
            CExpr::Cmp(op, a, b) => {
                let (Some(a), Some(b)) = (self.value(a), self.value(b)) else {
                    return false;
                };
                match op {
                    CmpOp::Eq => equal(&a, &b),
                    CmpOp::Ne => !equal(&a, &b),
                    _ => match order(&a, &b) {
                        Some(o) => match op {
                            CmpOp::Lt => o == Ordering::Less,
                            CmpOp::Le => o != Ordering::Greater,
                            CmpOp::Gt => o == Ordering::Greater,
                            _ => o != Ordering::Less,
                        },
                        None => false,
                    },
                }
            }
            CExpr::In { lhs, rhs, negated } => {
                let (Some(x), Some(rhs)) = (self.value(lhs), self.value(rhs)) else {
                    return false;
                };
                let Value::List(items) = &*rhs else {
                    return false;
                };
                items.iter().any(|i| equal(i, &x)) != *negated
            }
            CExpr::InSet {
                lhs,
                members,
                negated,
            } => match self.value(lhs) {
                Some(x) => members.contains(&x) != *negated,
                None => false,
            },
            CExpr::Matches(a, b) => match (self.value(a).as_deref(), self.value(b).as_deref()) {
                (Some(Value::Str(s)), Some(Value::Str(g))) => glob_match(g, s),
                _ => false,
            },
            other => matches!(self.value(other).as_deref(), Some(Value::Bool(true))),
        }
    }
}

/// Equality, reading text as a number or a date when the other side is one (untyped
/// records hold text).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(s), other) | (other, Value::Str(s)) if !matches!(other, Value::Str(_)) => {
            coerce(s, other).is_some_and(|v| v == *other)
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Str(s), other @ (Value::Int(_) | Value::Date(_))) => {
            order(&coerce(s, other)?, other)
        }
        (other @ (Value::Int(_) | Value::Date(_)), Value::Str(s)) => {
            order(other, &coerce(s, other)?)
        }
        _ => None,
    }
}

fn coerce(s: &str, like: &Value) -> Option<Value> {
    match like {
        Value::Int(_) => s.trim().parse().ok().map(Value::Int),
        Value::Date(_) => crate::dates::parse(s.trim()).map(Value::Date),
        Value::Bool(_) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Expr;

    fn run(e: Expr, values: &[Option<Value>]) -> bool {
        let c = CExpr::compile(&e, &|a| match a {
            "a" => Some(0),
            "b" => Some(1),
            _ => None,
        });
        Env {
            values,
            today: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        }
        .test(&c)
    }
    fn attr(a: &str) -> Box<Expr> {
        Box::new(Expr::Attr(a.into()))
    }
    fn s(x: &str) -> Box<Expr> {
        Box::new(Expr::Lit(Value::Str(x.into())))
    }

    #[test]
    fn absent_attributes_make_comparisons_false_and_not_true() {
        let eq = Expr::Cmp(CmpOp::Eq, attr("a"), s("x"));
        let ne = Expr::Cmp(CmpOp::Ne, attr("a"), s("x"));
        assert!(!run(eq.clone(), &[None, None]));
        assert!(
            !run(ne, &[None, None]),
            "!= reads the attribute: false when absent"
        );
        assert!(run(Expr::Not(Box::new(eq.clone())), &[None, None]));
        assert!(run(eq, &[Some(Value::Str("x".into())), None]));
        let in_ = Expr::In {
            lhs: attr("a"),
            rhs: Box::new(Expr::Lit(Value::List(vec![Value::Str("x".into())]))),
            negated: true,
        };
        assert!(
            !run(in_, &[None, None]),
            "not in reads the attribute: false when absent"
        );
        let m = Expr::Matches(attr("zzz"), s("*"));
        assert!(
            !run(m, &[None, None]),
            "an attribute that is not a column is absent"
        );
    }

    #[test]
    fn days_since_and_today_use_the_evaluation_date() {
        let d = Expr::Cmp(
            CmpOp::Ge,
            Box::new(Expr::Call(Func::DaysSince, vec![Expr::Attr("a".into())])),
            Box::new(Expr::Lit(Value::Int(31))),
        );
        let may1 = Value::Date(NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        assert!(run(d.clone(), &[Some(may1), None]));
        let may2 = Value::Date(NaiveDate::from_ymd_opt(2025, 5, 2).unwrap());
        assert!(!run(d, &[Some(may2.clone()), None]));
        let t = Expr::Cmp(CmpOp::Lt, attr("a"), Box::new(Expr::Today));
        assert!(run(t, &[Some(may2), None]));
    }

    #[test]
    fn untyped_text_compares_as_numbers_and_dates() {
        let e = Expr::Cmp(CmpOp::Ge, attr("a"), Box::new(Expr::Lit(Value::Int(3))));
        assert!(run(e.clone(), &[Some(Value::Str("5".into())), None]));
        assert!(!run(e, &[Some(Value::Str("2".into())), None]));
    }

    #[test]
    fn has_lower_contains_matches() {
        assert!(run(
            Expr::Call(Func::Has, vec![Expr::Attr("a".into())]),
            &[Some(Value::Int(1)), None]
        ));
        assert!(!run(
            Expr::Call(Func::Has, vec![Expr::Attr("b".into())]),
            &[Some(Value::Int(1)), None]
        ));
        let low = Expr::Cmp(
            CmpOp::Eq,
            Box::new(Expr::Call(Func::Lower, vec![Expr::Attr("a".into())])),
            s("sales"),
        );
        assert!(run(low, &[Some(Value::Str("SaLes".into())), None]));
        let list = Value::List(vec![Value::Str("x".into()), Value::Str("y".into())]);
        let c = Expr::Call(
            Func::Contains,
            vec![Expr::Attr("b".into()), Expr::Lit(Value::Str("y".into()))],
        );
        assert!(run(c, &[None, Some(list)]));
        assert!(run(
            Expr::Matches(attr("a"), s("Sales*")),
            &[Some(Value::Str("Sales Engineer".into())), None]
        ));
    }
}

#[cfg(test)]
mod members_tests {
    use super::*;
    use crate::ir::Expr;

    fn values() -> Vec<Value> {
        let d = |s: &str| Value::Date(crate::dates::parse(s).unwrap());
        let s = |x: &str| Value::Str(x.into());
        vec![
            s("a"),
            s("5"),
            s(" 5 "),
            s("2025-01-01"),
            s("TRUE"),
            s("false"),
            s(""),
            Value::Int(5),
            Value::Int(7),
            d("2025-01-01"),
            d("2025-01-02"),
            Value::Bool(true),
            Value::Bool(false),
            Value::List(vec![s("a")]),
        ]
    }

    #[test]
    fn members_agree_with_equal() {
        let all = values();
        // every subset of up to three members, against every value
        for i in 0..all.len() {
            for j in i..all.len() {
                for k in j..all.len() {
                    let items = vec![all[i].clone(), all[j].clone(), all[k].clone()];
                    let m = Members::new(&items);
                    for x in &all {
                        assert_eq!(
                            m.contains(x),
                            items.iter().any(|i| equal(i, x)),
                            "{x:?} in {items:?}"
                        );
                    }
                }
            }
        }
    }

    /// `x in [200,000 literals]` for 200,000 values: one lookup each, not a scan each.
    #[test]
    fn a_long_in_list_is_a_lookup() {
        let n = 200_000;
        let list: Vec<Value> = (0..n).map(|i| Value::Str(format!("d{i}"))).collect();
        let e = Expr::In {
            lhs: Box::new(Expr::Attr("a".into())),
            rhs: Box::new(Expr::Lit(Value::List(list))),
            negated: false,
        };
        let c = CExpr::compile(&e, &|_| Some(0));
        assert!(matches!(c, CExpr::InSet { .. }));
        let today = crate::dates::parse("2025-06-01").unwrap();
        let mut hits = 0;
        for i in (0..2 * n).step_by(2) {
            let values = [Some(Value::Str(format!("d{i}")))];
            hits += usize::from(
                Env {
                    values: &values,
                    today,
                }
                .test(&c),
            );
        }
        assert_eq!(hits, n / 2);
    }
}
