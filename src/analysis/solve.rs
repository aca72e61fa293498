//! Solving one conjunction of literals: presence first (an attribute a positive literal
//! reads must be present; `not has(a)` makes it absent; a required field is always
//! present; an attribute nothing forces is left absent, which satisfies every negative
//! literal on it), then each present text attribute on its own ([`strings`]), list
//! membership, and every integer and date together with `today` ([`numeric`]).
//! Opaque literals take no part: a model is only a candidate until the caller has
//! checked it with the interpreter.
//!
//! [`strings`]: super::strings
//! [`numeric`]: super::numeric

#![allow(
    clippy::indexing_slicing,
    reason = "attribute, atom, clause and policy ids index the tables built with them in this analysis; to become typed vectors"
)]

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::atoms::{Atom, AttrId, NVar, Rel};
use super::linear::days;
use super::normal::{positive, Analyzer, Lit};
use super::numeric::{Edge, NumOutcome, Pref, Problem, Why};
use super::strings::{self, StrCon, StrOutcome};
use super::DateRange;
use crate::index_vec::Idx;
use crate::ir::{Type, Value};

/// Values for the attributes (by id; `None`: absent) and the evaluation date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub values: Vec<Option<Value>>,
    pub today: NaiveDate,
    /// Attributes some literal of the solved conjunction reads (shown first).
    pub read: Vec<AttrId>,
}

/// A clash: the literals that cannot hold together, and whether the dates asked about
/// take part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    pub lits: Vec<Lit>,
    pub range: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sat(Model),
    /// One clash per case of the disjunctive normal form (deduplicated).
    Unsat(Vec<Core>),
    Unknown,
}

enum Part {
    Ok,
    Clash(Core),
    Unknown,
}

impl Analyzer {
    /// Solves one conjunction (sorted, without a literal and its negation).
    pub fn solve_conj(&mut self, conj: &[Lit], range: DateRange) -> Outcome {
        let mut present: BTreeMap<AttrId, Lit> = BTreeMap::new();
        let mut absent: BTreeMap<AttrId, Lit> = BTreeMap::new();
        for &l in conj {
            match self.atom_of(l) {
                Atom::Present(a) if !positive(l) => {
                    absent.insert(*a, l);
                }
                Atom::Opaque(_) => {}
                atom if positive(l) => {
                    for a in atom.reads() {
                        present.entry(a).or_insert(l);
                    }
                }
                _ => {}
            }
        }
        for (&a, &by) in &present {
            let info = &self.attrs[a];
            if info.never {
                return clash(vec![by], false);
            }
            if let Some(&q) = absent.get(&a) {
                return clash(vec![by, q], false);
            }
        }
        for (&a, &q) in &absent {
            if self.attrs[a].required {
                return clash(vec![q], false);
            }
        }
        let is_present =
            |az: &Analyzer, a: AttrId| az.attrs[a].required || present.contains_key(&a);

        let mut texts: BTreeMap<AttrId, Vec<Lit>> = BTreeMap::new();
        let mut lists: BTreeMap<AttrId, Vec<Lit>> = BTreeMap::new();
        let mut nums: Vec<Lit> = Vec::new();
        let mut read: Vec<AttrId> = Vec::new();
        for &l in conj {
            let atom = self.atom_of(l);
            read.extend(atom.reads());
            if !atom.reads().iter().all(|&a| is_present(self, a)) {
                continue; // a negative literal on an absent attribute holds
            }
            match atom {
                Atom::Str { attr, .. } => texts.entry(*attr).or_default().push(l),
                Atom::Contains { attr, .. } => lists.entry(*attr).or_default().push(l),
                Atom::Num { .. } => nums.push(l),
                _ => {}
            }
        }
        read.sort_unstable();
        read.dedup();

        let mut values: Vec<Option<Value>> = vec![None; self.attrs.len()];
        let mut unknown = false;
        for (&a, lits) in &texts {
            match self.text(a, lits) {
                StrOutcome::Sat(v) => values[a.index()] = Some(v),
                StrOutcome::Unsat => {
                    let core = self.text_core(a, lits);
                    return clash(self.with_presence(core, &present), false);
                }
                StrOutcome::Unknown => unknown = true,
            }
        }
        for (&a, lits) in &lists {
            match self.list(a, lits) {
                Ok(v) => values[a.index()] = Some(v),
                Err(core) => return clash(self.with_presence(core, &present), false),
            }
        }
        let mut today = range.from;
        match self.numbers(&nums, range, &mut values, &mut today) {
            Part::Ok => {}
            Part::Clash(c) => {
                return clash(self.with_presence(c.lits, &present), c.range);
            }
            Part::Unknown => unknown = true,
        }
        if unknown {
            return Outcome::Unknown;
        }
        for (a, info) in self.attrs.iter().enumerate() {
            if values[a].is_none() && is_present(self, AttrId::from_usize(a)) {
                values[a] = Some(if info.name == self.key {
                    Value::Str("w".into())
                } else {
                    default_value(&info.ty, today)
                });
            }
        }
        Outcome::Sat(Model {
            values,
            today,
            read,
        })
    }

    /// Adds to a clash why each optional attribute it reads only through negative
    /// literals (which an absent attribute satisfies) is present.
    fn with_presence(&self, mut core: Vec<Lit>, present: &BTreeMap<AttrId, Lit>) -> Vec<Lit> {
        let mut need = Vec::new();
        for &l in &core {
            for a in self.atom_of(l).reads() {
                let forced = core
                    .iter()
                    .any(|&k| positive(k) && self.atom_of(k).reads().contains(&a));
                if !forced && !self.attrs[a].required {
                    need.extend(present.get(&a).copied());
                }
            }
        }
        core.extend(need);
        core
    }

    fn cons<'a>(&'a self, lits: &[Lit]) -> Vec<StrCon<'a>> {
        lits.iter()
            .filter_map(|&l| match self.atom_of(l) {
                Atom::Str {
                    lower,
                    test,
                    negated,
                    ..
                } => Some(StrCon {
                    lower: *lower,
                    test,
                    want: positive(l) != *negated,
                }),
                _ => None,
            })
            .collect()
    }

    fn text(&self, a: AttrId, lits: &[Lit]) -> StrOutcome {
        let domain: Option<Vec<Value>> = match &self.attrs[a].ty {
            Type::Enum(m) => Some(m.iter().map(|s| Value::Str(s.clone())).collect()),
            Type::Bool => Some(vec![Value::Bool(true), Value::Bool(false)]),
            _ => None,
        };
        strings::solve(domain.as_deref(), &self.cons(lits))
    }

    /// A smallest set of the literals that still clash (each dropped in turn).
    fn text_core(&self, a: AttrId, lits: &[Lit]) -> Vec<Lit> {
        let mut core = lits.to_vec();
        if core.len() > 12 {
            return core;
        }
        let mut i = 0;
        while i < core.len() {
            let mut trial = core.clone();
            trial.remove(i);
            if self.text(a, &trial) == StrOutcome::Unsat {
                core = trial;
            } else {
                i += 1;
            }
        }
        core
    }

    fn list(&self, a: AttrId, lits: &[Lit]) -> Result<Value, Vec<Lit>> {
        let mut need: Vec<(Value, Lit)> = Vec::new();
        let mut avoid: Vec<(Value, Lit)> = Vec::new();
        for &l in lits {
            if let Atom::Contains { value, negated, .. } = self.atom_of(l) {
                if positive(l) != *negated {
                    need.push((value.clone(), l));
                } else {
                    avoid.push((value.clone(), l));
                }
            }
        }
        if let Type::List(el) = &self.attrs[a].ty {
            if let Type::Enum(m) = &**el {
                let member = |v: &Value| matches!(v, Value::Str(s) if m.contains(s));
                if let Some((_, l)) = need.iter().find(|(v, _)| !member(v)) {
                    return Err(vec![*l]);
                }
            }
        }
        for (v, l) in &need {
            if let Some((_, q)) = avoid.iter().find(|(w, _)| w == v) {
                return Err(vec![*l, *q]);
            }
        }
        let mut items: Vec<Value> = Vec::new();
        let mut seen: rustc_hash::FxHashSet<Value> = Default::default();
        for (v, _) in need {
            if seen.insert(v.clone()) {
                items.push(v);
            }
        }
        Ok(Value::List(items))
    }

    /// The integer and date literals with `today`, solved together.
    fn numbers(
        &self,
        lits: &[Lit],
        range: DateRange,
        values: &mut [Option<Value>],
        today: &mut NaiveDate,
    ) -> Part {
        if lits.is_empty() {
            return Part::Ok;
        }
        let mut vars: Vec<NVar> = vec![NVar::Zero, NVar::Today];
        let index = |v: NVar, vars: &mut Vec<NVar>| match vars.iter().position(|w| *w == v) {
            Some(i) => i,
            None => {
                vars.push(v);
                vars.len() - 1
            }
        };
        let mut p = Problem::default();
        for &l in lits {
            let Atom::Num { x, y, rel, negated } = self.atom_of(l) else {
                continue;
            };
            let (xi, yi) = (index(*x, &mut vars), index(*y, &mut vars));
            let want = positive(l) != *negated;
            let why = Why::Lit(l);
            match (rel, want) {
                (Rel::Le(c), true) => p.edges.push(Edge {
                    x: xi,
                    y: yi,
                    c: *c,
                    why,
                }),
                (Rel::Le(c), false) => p.edges.push(Edge {
                    x: yi,
                    y: xi,
                    c: -c - 1,
                    why,
                }),
                (Rel::Eq(c), true) => {
                    p.edges.push(Edge {
                        x: xi,
                        y: yi,
                        c: *c,
                        why,
                    });
                    p.edges.push(Edge {
                        x: yi,
                        y: xi,
                        c: -c,
                        why,
                    });
                }
                (Rel::Eq(c), false) => p.diseqs.push((xi, yi, *c, l)),
                (Rel::In(set), true) => p.choices.push((xi, yi, set.clone(), l)),
                (Rel::In(set), false) => {
                    p.diseqs.extend(set.iter().map(|c| (xi, yi, *c, l)));
                }
            }
        }
        p.n = vars.len();
        // Dates are read only in the ISO range (years 0001–9999), so witnesses stay there.
        let (dmin, dmax) = (days(crate::dates::FIRST), days(crate::dates::LAST));
        for (i, v) in vars.iter().enumerate().skip(1) {
            let (lo, hi, why, pref) = match v {
                NVar::Today => (
                    days(range.from),
                    days(range.to),
                    Why::Range,
                    Pref::At(days(range.from)),
                ),
                NVar::Attr(a) if self.attrs[*a].ty == Type::Date => {
                    (dmin, dmax, Why::Domain, Pref::Like(1))
                }
                _ => (
                    i128::from(i64::MIN),
                    i128::from(i64::MAX),
                    Why::Domain,
                    Pref::At(0),
                ),
            };
            p.edges.push(Edge {
                x: i,
                y: 0,
                c: hi,
                why,
            });
            p.edges.push(Edge {
                x: 0,
                y: i,
                c: -lo,
                why,
            });
            p.prefer.push(pref);
        }
        p.prefer.insert(0, Pref::At(0));
        p.order = (1..p.n).collect();
        match p.solve() {
            NumOutcome::Sat(vals) => {
                for (i, v) in vars.iter().enumerate().skip(1) {
                    let date = || {
                        i32::try_from(vals[i])
                            .ok()
                            .and_then(NaiveDate::from_num_days_from_ce_opt)
                    };
                    match v {
                        NVar::Today => match date() {
                            Some(d) => *today = d,
                            None => return Part::Unknown,
                        },
                        NVar::Attr(a) if self.attrs[*a].ty == Type::Date => match date() {
                            Some(d) => values[a.index()] = Some(Value::Date(d)),
                            None => return Part::Unknown,
                        },
                        NVar::Attr(a) => match i64::try_from(vals[i]) {
                            Ok(n) => values[a.index()] = Some(Value::Int(n)),
                            Err(_) => return Part::Unknown,
                        },
                        NVar::Zero => {}
                    }
                }
                Part::Ok
            }
            NumOutcome::Unsat(lits, range) => Part::Clash(Core { lits, range }),
            NumOutcome::Unknown => Part::Unknown,
        }
    }
}

fn clash(mut lits: Vec<Lit>, range: bool) -> Outcome {
    lits.sort_unstable();
    lits.dedup();
    Outcome::Unsat(vec![Core { lits, range }])
}

/// A valid value of a type, for a required field nothing constrains.
pub fn default_value(ty: &Type, today: NaiveDate) -> Value {
    match ty {
        Type::Enum(m) => Value::Str(m.first().cloned().unwrap_or_default()),
        Type::Int | Type::Duration => Value::Int(0),
        Type::Bool => Value::Bool(false),
        Type::Date => Value::Date(today),
        Type::List(_) => Value::List(Vec::new()),
        Type::String | Type::Any => Value::Str("x".into()),
    }
}
