//! Numeric readings of terms for the atoms: integers, dates (as day numbers), `today` and
//! `days_since` as linear forms, and comparisons between them as difference constraints
//! `x - y REL c` when they are of that shape (at most one variable on each side, with
//! coefficient one). Anything else is left to the interpreter.

use chrono::NaiveDate;

use super::atoms::{Atom, NVar, Rel, Term};
use super::normal::Analyzer;
use crate::ir::{CmpOp, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Date,
}

/// Days since the common era: the numeric value of a date.
pub fn days(d: NaiveDate) -> i128 {
    i128::from(chrono::Datelike::num_days_from_ce(&d))
}

/// `sum(coef * var)` as `x - y` (zero standing in for a missing side).
fn difference(coefs: &[(NVar, i128)]) -> Option<(NVar, NVar)> {
    match coefs {
        [(v, 1)] => Some((*v, NVar::Zero)),
        [(v, -1)] => Some((NVar::Zero, *v)),
        [(v, 1), (w, -1)] | [(w, -1), (v, 1)] => Some((*v, *w)),
        _ => None,
    }
}

/// `sum(coef * var) + k`, with its kind.
pub type Linear = (Vec<(NVar, i128)>, i128, Kind);

fn num(x: NVar, y: NVar, rel: Rel, negated: bool) -> Atom {
    Atom::Num { x, y, rel, negated }
}

impl Analyzer {
    /// A numeric reading of a term: typed int and date attributes, literals, `today`,
    /// `days_since`. Untyped attributes are not: their records may hold text, which the
    /// interpreter coerces or not.
    pub(super) fn linear(&self, t: Term) -> Option<Linear> {
        match t {
            Term::Const(Value::Int(n)) => Some((Vec::new(), i128::from(n), Kind::Int)),
            Term::Const(Value::Date(d)) => Some((Vec::new(), days(d), Kind::Date)),
            Term::Attr(a) => {
                let kind = match self.attr_info(a).ty {
                    Type::Int | Type::Duration => Kind::Int,
                    Type::Date => Kind::Date,
                    _ => return None,
                };
                Some((vec![(NVar::Attr(a), 1)], 0, kind))
            }
            Term::Lin(v, k, kind) => Some((v, k, kind)),
            _ => None,
        }
    }

    /// `a OP b` on numbers, as a difference constraint.
    pub(super) fn num_cmp(&self, op: CmpOp, a: Term, b: Term) -> Option<Atom> {
        let (av, ak, akind) = self.linear(a)?;
        let (bv, bk, bkind) = self.linear(b)?;
        if akind != bkind {
            return None;
        }
        // a - b OP 0, as sum(coef * var) + k.
        let mut coefs: Vec<(NVar, i128)> = Vec::new();
        for (v, c) in av.into_iter().chain(bv.into_iter().map(|(v, c)| (v, -c))) {
            match coefs.iter_mut().find(|(w, _)| *w == v) {
                Some(e) => e.1 += c,
                None => coefs.push((v, c)),
            }
        }
        coefs.retain(|(_, c)| *c != 0);
        let k = ak - bk;
        // Only `today` cancelled out when `coefs` is empty: rare, left to the interpreter.
        let (x, y) = difference(&coefs)?;
        // x - y + k OP 0  <=>  x - y OP -k
        let c = -k;
        Some(match op {
            CmpOp::Le => num(x, y, Rel::Le(c), false),
            CmpOp::Lt => num(x, y, Rel::Le(c - 1), false),
            CmpOp::Ge => num(y, x, Rel::Le(-c), false),
            CmpOp::Gt => num(y, x, Rel::Le(-c - 1), false),
            CmpOp::Eq | CmpOp::Ne => {
                let (x, y, c) = if x <= y { (x, y, c) } else { (y, x, -c) };
                num(x, y, Rel::Eq(c), op == CmpOp::Ne)
            }
        })
    }

    /// `a in [values]` (or `not in`) on a number, as a difference in a set.
    pub(super) fn num_in(&self, lt: Term, vals: &[Value], negated: bool) -> Option<Atom> {
        let (vars, k, kind) = self.linear(lt)?;
        let mut set = Vec::new();
        for v in vals {
            match (v, kind) {
                (Value::Int(n), Kind::Int) => set.push(i128::from(*n) - k),
                (Value::Date(d), Kind::Date) => set.push(days(*d) - k),
                _ => return None,
            }
        }
        let (x, y) = difference(&vars)?;
        if set.is_empty() {
            return None;
        }
        set.sort_unstable();
        set.dedup();
        let rel = match set.as_slice() {
            &[one] => Rel::Eq(one),
            _ => Rel::In(set),
        };
        Some(num(x, y, rel, negated))
    }
}
