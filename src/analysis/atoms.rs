//! Trigger expressions cut into atoms: the smallest conditions the solvers understand.
//! An atom reads at most a couple of attributes (and `today`) and says one thing about
//! them: a string or enum test, a difference constraint between integers or dates,
//! presence, list membership. What no solver understands is kept *opaque*: it never
//! takes part in a proof of unsatisfiability, and a witness must pass it in the
//! interpreter before it is believed.
//!
//! Classification is deliberately conservative about untyped attributes (no schema, or a
//! type error already reported): their records may hold text where a number is compared,
//! and the interpreter coerces. Only the forms whose meaning does not depend on that are
//! classified; see [`Analyzer::atom`].

use chrono::NaiveDate;

use super::linear::Kind;
use super::normal::Analyzer;
use crate::eval::expr::{CExpr, Env};
use crate::ir::{CmpOp, Expr, Func, Type, Value};

crate::index_vec::define_id! {
    /// An attribute, by its index in the analyzer's table ([`Analyzer::attrs`]).
    pub struct AttrId;
}

/// A numeric variable: the constant zero, the evaluation date, or an int or date attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NVar {
    Zero,
    Today,
    Attr(AttrId),
}

/// The relation of a difference `x - y` to constants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rel {
    Le(i128),
    Eq(i128),
    In(Vec<i128>),
}

/// A test on one text-like value (string, enum, bool).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Test {
    Eq(Value),
    In(Vec<Value>),
    Glob(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Atom {
    Const(bool),
    /// `has(a)`: present and non-null.
    Present(AttrId),
    /// `test` on `a` (or on `lower(a)`), inverted when `negated` (`!=`, `not in`). Like
    /// every atom that reads an attribute, false when it is absent.
    Str {
        attr: AttrId,
        lower: bool,
        test: Test,
        negated: bool,
    },
    /// `x - y REL`, inverted when `negated`.
    Num {
        x: NVar,
        y: NVar,
        rel: Rel,
        negated: bool,
    },
    /// `contains(a, value)` (or `value in a`), inverted when `negated` (`not in`).
    Contains {
        attr: AttrId,
        value: Value,
        negated: bool,
    },
    /// Understood by the interpreter only.
    Opaque(Expr),
}

impl Atom {
    /// The attributes the atom reads (an absent one makes it false).
    pub fn reads(&self) -> Vec<AttrId> {
        match self {
            Atom::Present(a) | Atom::Str { attr: a, .. } | Atom::Contains { attr: a, .. } => {
                vec![*a]
            }
            Atom::Num { x, y, .. } => [x, y]
                .into_iter()
                .filter_map(|v| match v {
                    NVar::Attr(a) => Some(*a),
                    _ => None,
                })
                .collect(),
            Atom::Const(_) | Atom::Opaque(_) => Vec::new(),
        }
    }
}

/// What a comparison operand is, for classification.
pub(super) enum Term {
    Const(Value),
    Attr(AttrId),
    Lower(AttrId),
    /// A linear form over numeric variables: `sum(coef * var) + k`, with its kind.
    Lin(Vec<(NVar, i128)>, i128, Kind),
    Other,
}

/// Text the interpreter could read as a number, a date or a boolean when compared with
/// one: equality with such text depends on the record's value types.
pub fn coercible(s: &str) -> bool {
    let t = s.trim();
    t.parse::<i64>().is_ok()
        || crate::dates::parse(t).is_some()
        || t.eq_ignore_ascii_case("true")
        || t.eq_ignore_ascii_case("false")
}

fn reads_nothing(e: &Expr) -> bool {
    match e {
        Expr::Attr(_) | Expr::Today => false,
        Expr::Lit(_) => true,
        Expr::Call(_, v) | Expr::And(v) | Expr::Or(v) | Expr::List(v) => {
            v.iter().all(reads_nothing)
        }
        Expr::Not(x) => reads_nothing(x),
        Expr::Cmp(_, a, b) | Expr::Matches(a, b) => reads_nothing(a) && reads_nothing(b),
        Expr::In { lhs, rhs, .. } => reads_nothing(lhs) && reads_nothing(rhs),
    }
}

/// The truth of a condition that reads no attribute and not `today`, as the interpreter
/// says.
fn closed(e: &Expr) -> bool {
    let c = CExpr::compile(e, &|_| None);
    Env {
        values: &[],
        today: NaiveDate::MIN,
    }
    .test(&c)
}

impl Analyzer {
    /// The atom of a condition that is not `and`, `or` or `not`.
    pub fn atom(&mut self, e: &Expr) -> Atom {
        if reads_nothing(e) {
            return Atom::Const(closed(e));
        }
        let opaque = || Atom::Opaque(e.clone());
        match e {
            Expr::Cmp(op, a, b) => {
                let (ta, tb) = (self.term(a), self.term(b));
                self.comparison(*op, ta, tb).unwrap_or_else(opaque)
            }
            Expr::In { lhs, rhs, negated } => {
                self.membership(lhs, rhs, *negated).unwrap_or_else(opaque)
            }
            Expr::Matches(a, g) => match (self.term(a), &**g) {
                (Term::Attr(x), Expr::Lit(Value::Str(g))) if self.is_text(x) => Atom::Str {
                    attr: x,
                    lower: false,
                    test: Test::Glob(g.clone()),
                    negated: false,
                },
                (Term::Lower(x), Expr::Lit(Value::Str(g))) => Atom::Str {
                    attr: x,
                    lower: true,
                    test: Test::Glob(g.clone()),
                    negated: false,
                },
                _ => opaque(),
            },
            Expr::Call(Func::Has, args) => match args.as_slice() {
                [Expr::Attr(a)] => Atom::Present(self.attr(a)),
                _ => opaque(),
            },
            Expr::Call(Func::Contains, args) => match args.as_slice() {
                [Expr::Attr(l), Expr::Lit(v)] => {
                    let l = self.attr(l);
                    self.contains(l, v, false).unwrap_or_else(opaque)
                }
                _ => opaque(),
            },
            Expr::Attr(a) => {
                let a = self.attr(a);
                match self.attr_info(a).ty {
                    Type::Bool => Atom::Str {
                        attr: a,
                        lower: false,
                        test: Test::Eq(Value::Bool(true)),
                        negated: false,
                    },
                    // A typed non-boolean value is never `true`.
                    Type::Any => opaque(),
                    _ => Atom::Const(false),
                }
            }
            _ => opaque(),
        }
    }

    /// Whether an attribute holds text the string solver may reason about.
    fn is_text(&self, a: AttrId) -> bool {
        matches!(self.attr_info(a).ty, Type::String | Type::Enum(_))
    }

    fn term(&mut self, e: &Expr) -> Term {
        match e {
            Expr::Lit(v) => Term::Const(v.clone()),
            Expr::Today => Term::Lin(vec![(NVar::Today, 1)], 0, Kind::Date),
            Expr::Attr(a) => Term::Attr(self.attr(a)),
            Expr::Call(Func::Lower, args) => match args.as_slice() {
                [Expr::Attr(a)] => {
                    let a = self.attr(a);
                    if self.is_text(a) {
                        Term::Lower(a)
                    } else {
                        Term::Other
                    }
                }
                _ => Term::Other,
            },
            Expr::Call(Func::DaysSince, args) => match args.as_slice() {
                [x] => {
                    let t = self.term(x);
                    self.days_since(t)
                }
                _ => Term::Other,
            },
            _ => Term::Other,
        }
    }

    /// `days_since(t)`: `today - t` for a date `t`.
    fn days_since(&self, t: Term) -> Term {
        match self.linear(t) {
            Some((mut vars, k, Kind::Date)) => {
                for v in &mut vars {
                    v.1 = -v.1;
                }
                vars.push((NVar::Today, 1));
                Term::Lin(vars, -k, Kind::Int)
            }
            _ => Term::Other,
        }
    }

    fn comparison(&mut self, op: CmpOp, a: Term, b: Term) -> Option<Atom> {
        // Text: attribute (or lower of it) against a literal, either way round.
        let text = match (&a, &b) {
            (_, Term::Const(v)) => text_side(&a).map(|(x, l)| (x, l, v.clone())),
            (Term::Const(v), _) => text_side(&b).map(|(x, l)| (x, l, v.clone())),
            _ => None,
        };
        if let Some((x, lower, v)) = text {
            if let Some(atom) = self.text_cmp(op, x, lower, &v) {
                return Some(atom);
            }
        }
        self.num_cmp(op, a, b)
    }

    /// `a OP "text"` on a text attribute; `None` when it is not one the string solver may
    /// decide.
    fn text_cmp(&mut self, op: CmpOp, x: AttrId, lower: bool, v: &Value) -> Option<Atom> {
        let ty = self.attr_info(x).ty.clone();
        let ok = match (&ty, v) {
            (Type::String | Type::Enum(_), Value::Str(_)) => true,
            (Type::Bool, Value::Bool(_)) => !lower,
            (Type::Any, Value::Str(s)) => !lower && !coercible(s),
            _ => false,
        };
        if !ok {
            return None;
        }
        match op {
            CmpOp::Eq | CmpOp::Ne => Some(Atom::Str {
                attr: x,
                lower,
                test: Test::Eq(v.clone()),
                negated: op == CmpOp::Ne,
            }),
            // Text has no order: the interpreter says false.
            _ if ty != Type::Any => Some(Atom::Const(false)),
            _ => None,
        }
    }

    fn membership(&mut self, lhs: &Expr, rhs: &Expr, negated: bool) -> Option<Atom> {
        let lt = self.term(lhs);
        if let (Term::Const(v), Expr::Attr(l)) = (&lt, rhs) {
            let l = self.attr(l);
            return self.contains(l, v, negated);
        }
        let Expr::Lit(Value::List(vals)) = rhs else {
            return None;
        };
        let mut vals = vals.clone();
        let mut seen = rustc_hash::FxHashSet::default();
        vals.retain(|v| seen.insert(v.clone()));
        if let Term::Attr(x) | Term::Lower(x) = lt {
            let lower = matches!(lt, Term::Lower(_));
            if vals.is_empty() {
                // `a in []` never holds; `a not in []` holds whenever `a` is present.
                return Some(if negated {
                    Atom::Present(x)
                } else {
                    Atom::Const(false)
                });
            }
            let ty = self.attr_info(x).ty.clone();
            let text = vals.iter().all(|v| match (&ty, v) {
                (Type::String | Type::Enum(_), Value::Str(_)) => true,
                (Type::Bool, Value::Bool(_)) => !lower,
                (Type::Any, Value::Str(s)) => !lower && !coercible(s),
                _ => false,
            });
            if text {
                let test = if vals.len() == 1 {
                    Test::Eq(vals.remove(0))
                } else {
                    Test::In(vals)
                };
                return Some(Atom::Str {
                    attr: x,
                    lower,
                    test,
                    negated,
                });
            }
            if lower {
                return None;
            }
        }
        self.num_in(lt, &vals, negated)
    }

    fn contains(&mut self, l: AttrId, v: &Value, negated: bool) -> Option<Atom> {
        let ok = match (&self.attr_info(l).ty, v) {
            (Type::List(_), Value::Str(_)) => true,
            (Type::Any, Value::Str(s)) => !coercible(s),
            _ => false,
        };
        ok.then(|| Atom::Contains {
            attr: l,
            value: v.clone(),
            negated,
        })
    }
}

fn text_side(t: &Term) -> Option<(AttrId, bool)> {
    match t {
        Term::Attr(x) => Some((*x, false)),
        Term::Lower(x) => Some((*x, true)),
        _ => None,
    }
}
