//! Normal forms: conditions in negation normal form over literals (an atom and a
//! polarity), then in disjunctive normal form with a cap. A negative literal means "the
//! atom does not hold", which, exactly as in the interpreter, is also true when an
//! attribute it reads is absent: no case split on presence is needed here; the solver
//! decides presence per attribute.

use rustc_hash::FxHashMap;

use super::atoms::{Atom, AttrId};
use crate::index_vec::{self, IndexVec};
use crate::ir::{Expr, Schema, Type, Value};

/// An atom id shifted left once, the low bit set for the negative literal.
pub type Lit = u32;

index_vec::define_id! {
    /// An atom the analyzer interned: its place in [`Analyzer::atoms`].
    pub struct AtomId;
}

/// The atom of a literal.
fn atom_id(l: Lit) -> AtomId {
    AtomId::from(l >> 1)
}

/// A conjunction of literals, sorted and without duplicates.
pub type Conj = Vec<Lit>;

/// A disjunction of conjunctions.
pub type Dnf = Vec<Conj>;

/// How many conjunctions a normal form may have before the analysis gives up ("unknown").
pub const DNF_CAP: usize = 512;

pub fn negate(l: Lit) -> Lit {
    l ^ 1
}

pub fn positive(l: Lit) -> bool {
    l & 1 == 0
}

#[derive(Debug, Clone)]
pub struct AttrInfo {
    pub name: String,
    pub ty: Type,
    /// Present in every valid record (a required schema field).
    pub required: bool,
    /// Not a field of the schema: absent in every record.
    pub never: bool,
}

#[derive(Debug, Clone)]
pub struct AtomData {
    pub atom: Atom,
    /// The expression it came from, for messages.
    pub src: Expr,
}

/// A condition in negation normal form.
#[derive(Debug, Clone)]
pub enum Nnf {
    True,
    False,
    Lit(Lit),
    And(Vec<Nnf>),
    Or(Vec<Nnf>),
}

/// The shared tables of one analysis: attributes and atoms, interned.
pub struct Analyzer {
    pub attrs: IndexVec<AttrId, AttrInfo>,
    attr_index: FxHashMap<String, AttrId>,
    pub atoms: IndexVec<AtomId, AtomData>,
    atom_index: FxHashMap<Atom, AtomId>,
    /// The key field (`user_id` unless the schema marks another).
    pub key: String,
    pub typed: bool,
}

impl Analyzer {
    pub fn new(schema: Option<&Schema>) -> Analyzer {
        let mut az = Analyzer {
            attrs: IndexVec::new(),
            attr_index: FxHashMap::default(),
            atoms: IndexVec::new(),
            atom_index: FxHashMap::default(),
            key: schema.map_or_else(|| "user_id".to_string(), |s| s.key.clone()),
            typed: schema.is_some(),
        };
        if let Some(s) = schema {
            for f in &s.fields {
                az.attr_index.insert(f.name.clone(), az.attrs.next_id());
                az.attrs.push(AttrInfo {
                    name: f.name.clone(),
                    ty: f.ty.clone(),
                    required: !f.optional,
                    never: false,
                });
            }
        }
        let key = az.key.clone();
        az.attr(&key);
        az
    }

    /// The id of an attribute, adding it (untyped, optional) when the schema lacks it.
    pub fn attr(&mut self, name: &str) -> AttrId {
        if let Some(&a) = self.attr_index.get(name) {
            return a;
        }
        let id = self.attrs.next_id();
        self.attr_index.insert(name.to_string(), id);
        self.attrs.push(AttrInfo {
            name: name.to_string(),
            ty: Type::Any,
            // Untyped records may hold the key as any other attribute: keep it present.
            required: !self.typed && name == self.key,
            never: self.typed,
        });
        id
    }

    pub fn attr_id(&self, name: &str) -> Option<AttrId> {
        self.attr_index.get(name).copied()
    }

    /// What is known of an attribute.
    #[allow(
        clippy::indexing_slicing,
        reason = "attribute ids are made by `attr` (or `new`) on this analyzer's table, which never shrinks"
    )]
    pub fn attr_info(&self, a: AttrId) -> &AttrInfo {
        &self.attrs[a]
    }

    fn intern(&mut self, atom: Atom, src: &Expr) -> AtomId {
        if let Some(&id) = self.atom_index.get(&atom) {
            return id;
        }
        let id = self.atoms.push(AtomData {
            atom: atom.clone(),
            src: src.clone(),
        });
        self.atom_index.insert(atom, id);
        id
    }

    /// The atom of a literal, and the condition it was read from.
    #[allow(
        clippy::indexing_slicing,
        reason = "literals are made by `nnf` from atoms this analyzer interned, which are never removed"
    )]
    fn atom_data(&self, l: Lit) -> &AtomData {
        &self.atoms[atom_id(l)]
    }

    pub fn atom_of(&self, l: Lit) -> &Atom {
        &self.atom_data(l).atom
    }

    /// The negation normal form of `e` (of `not e` when `!pos`).
    pub fn nnf(&mut self, e: &Expr, pos: bool) -> Nnf {
        match e {
            Expr::And(v) | Expr::Or(v) => {
                let parts = v.iter().map(|x| self.nnf(x, pos)).collect();
                if matches!(e, Expr::And(_)) == pos {
                    Nnf::And(parts)
                } else {
                    Nnf::Or(parts)
                }
            }
            Expr::Not(x) => self.nnf(x, !pos),
            _ => match self.atom(e) {
                Atom::Const(b) => {
                    if b == pos {
                        Nnf::True
                    } else {
                        Nnf::False
                    }
                }
                atom => {
                    let id = self.intern(atom, e);
                    Nnf::Lit(u32::from(id) << 1 | u32::from(!pos))
                }
            },
        }
    }

    /// The text of a literal as written (`not …` for a negative one).
    pub fn lit_text(&self, l: Lit) -> String {
        let src = &self.atom_data(l).src;
        if positive(l) {
            src.to_string()
        } else {
            Expr::Not(Box::new(src.clone())).to_string()
        }
    }

    /// The disjunctive normal form of a conjunction of conditions, `None` past the cap.
    pub fn dnf_of(&mut self, exprs: &[&Expr], pos: bool) -> Option<Dnf> {
        let parts: Vec<Nnf> = exprs.iter().map(|e| self.nnf(e, pos)).collect();
        let n = if pos { Nnf::And(parts) } else { Nnf::Or(parts) };
        dnf(&n, DNF_CAP)
    }
}

/// The disjunctive normal form of `n`, contradictory conjunctions (a literal and its
/// negation) dropped; `None` when it would exceed `cap` conjunctions.
pub fn dnf(n: &Nnf, cap: usize) -> Option<Dnf> {
    match n {
        Nnf::True => Some(vec![Vec::new()]),
        Nnf::False => Some(Vec::new()),
        Nnf::Lit(l) => Some(vec![vec![*l]]),
        Nnf::Or(v) => {
            let mut out: Dnf = Vec::new();
            for x in v {
                out.extend(dnf(x, cap)?);
                if out.len() > cap {
                    return None;
                }
            }
            out.sort();
            out.dedup();
            Some(out)
        }
        Nnf::And(v) => {
            let mut acc: Dnf = vec![Vec::new()];
            for x in v {
                let d = dnf(x, cap)?;
                acc = product(&acc, &d, cap)?;
                if acc.is_empty() {
                    break;
                }
            }
            Some(acc)
        }
    }
}

/// Every conjunction of one of `a` with one of `b`, without contradictory ones.
pub fn product(a: &Dnf, b: &Dnf, cap: usize) -> Option<Dnf> {
    let mut out: Dnf = Vec::new();
    for x in a {
        for y in b {
            if let Some(c) = merge(x, y) {
                out.push(c);
                if out.len() > cap {
                    return None;
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// The union of two sorted conjunctions; `None` when it holds a literal and its negation.
pub fn merge(x: &[Lit], y: &[Lit]) -> Option<Conj> {
    let mut out = Vec::with_capacity(x.len() + y.len());
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let next = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) if a == b => {
                i += 1;
                j += 1;
                a
            }
            (Some(&a), Some(&b)) if a < b => {
                i += 1;
                a
            }
            (Some(_), Some(&b)) => {
                j += 1;
                b
            }
            (Some(&a), None) => {
                i += 1;
                a
            }
            (None, Some(&b)) => {
                j += 1;
                b
            }
            (None, None) => unreachable!(),
        };
        if out.last().is_some_and(|&l: &Lit| l == negate(next)) {
            return None;
        }
        out.push(next);
    }
    Some(out)
}

/// A literal's value set when it is a positive raw equality or `in` on a text attribute
/// (the keys the pair index uses).
pub fn key_values(az: &Analyzer, l: Lit) -> Option<(AttrId, Vec<Value>)> {
    if !positive(l) {
        return None;
    }
    match az.atom_of(l) {
        Atom::Str {
            attr,
            lower: false,
            test,
            negated: false,
        } => match test {
            super::atoms::Test::Eq(v) => Some((*attr, vec![v.clone()])),
            super::atoms::Test::In(vs) => Some((*attr, vs.clone())),
            super::atoms::Test::Glob(_) => None,
        },
        _ => None,
    }
}
