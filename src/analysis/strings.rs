//! The text solver: is there one value of a string, enum or boolean attribute that passes
//! every test on it (equalities, `in` sets, `matches` globs, each possibly on `lower(a)`
//! and possibly required to fail)?
//!
//! A finite domain (an enum, a boolean, or a positive equality or `in` on the raw value)
//! is decided by trying each candidate. Otherwise quick candidates are tried first (the
//! literals themselves, each glob with its wildcards filled), and then an exact search:
//! every test is a finite automaton over characters (a glob's positions), their product
//! is explored breadth-first over an alphabet of the characters the tests mention plus
//! one fresh character, which stands for every other character. The search is complete,
//! so when it finds nothing the tests cannot all pass; when it would visit too many
//! states it answers "unknown".

#![allow(
    clippy::indexing_slicing,
    reason = "attribute, atom, clause and policy ids index the tables built with them in this analysis; to become typed vectors"
)]

use std::collections::VecDeque;
use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};

use super::atoms::Test;
use crate::eval::expr::{equal, Members};
use crate::ir::{glob_match, Value};

/// How many product states the exact search may visit.
const MAX_STATES: usize = 20_000;

/// One test on the attribute: it must pass when `want`, fail otherwise.
#[derive(Debug, Clone, Copy)]
pub struct StrCon<'a> {
    pub lower: bool,
    pub test: &'a Test,
    pub want: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrOutcome {
    Sat(Value),
    Unsat,
    Unknown,
}

fn lowered(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(s.to_lowercase()),
        other => other.clone(),
    }
}

/// Whether the value passes the test as the interpreter decides it.
pub fn holds(c: &StrCon<'_>, v: &Value) -> bool {
    let v = if c.lower { lowered(v) } else { v.clone() };
    let r = match c.test {
        Test::Eq(x) => equal(&v, x),
        Test::In(xs) => xs.iter().any(|x| equal(&v, x)),
        Test::Glob(g) => matches!(&v, Value::Str(s) if glob_match(g, s)),
    };
    r == c.want
}

/// The tests with their `in` lists prepared for constant-time membership, so that trying
/// every member of a long list against a long `not in` list stays linear.
struct Prepared<'c, 'a> {
    cons: &'c [StrCon<'a>],
    members: Vec<Option<Members>>,
}

impl<'c, 'a> Prepared<'c, 'a> {
    fn new(cons: &'c [StrCon<'a>]) -> Self {
        let members = cons
            .iter()
            .map(|c| match c.test {
                Test::In(xs) if xs.len() > 8 => Some(Members::new(xs)),
                _ => None,
            })
            .collect();
        Prepared { cons, members }
    }

    /// Whether `v` passes every test, as [`holds`] decides each.
    fn all_hold(&self, v: &Value) -> bool {
        self.cons.iter().zip(&self.members).all(|(c, m)| match m {
            Some(m) => {
                let v = if c.lower { lowered(v) } else { v.clone() };
                m.contains(&v) == c.want
            }
            None => holds(c, v),
        })
    }
}

/// A value passing every test; `domain` lists every value the attribute may take when it
/// is finite (an enum's members, `true` and `false`).
pub fn solve(domain: Option<&[Value]>, cons: &[StrCon<'_>]) -> StrOutcome {
    let prepared = Prepared::new(cons);
    let finite: Option<Vec<Value>> = match domain {
        Some(d) => Some(d.to_vec()),
        None => {
            let mut set: Option<Vec<Value>> = None;
            for c in cons.iter().filter(|c| c.want && !c.lower) {
                let vals: Vec<Value> = match c.test {
                    Test::Eq(v) => vec![v.clone()],
                    Test::In(vs) => vs.clone(),
                    Test::Glob(_) => continue,
                };
                set = Some(match set {
                    None => vals,
                    Some(prev) => {
                        let vals: FxHashSet<&Value> = vals.iter().collect();
                        prev.into_iter().filter(|v| vals.contains(v)).collect()
                    }
                });
            }
            set
        }
    };
    if let Some(cands) = finite {
        return match cands.into_iter().find(|v| prepared.all_hold(v)) {
            Some(v) => StrOutcome::Sat(v),
            None => StrOutcome::Unsat,
        };
    }
    for cand in quick_candidates(cons) {
        let v = Value::Str(cand);
        if prepared.all_hold(&v) {
            return StrOutcome::Sat(v);
        }
    }
    search(cons)
}

/// The literals, the globs with `*` dropped and `?` filled, and a few fresh strings.
fn quick_candidates(cons: &[StrCon<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    for c in cons.iter().filter(|c| c.want) {
        match c.test {
            Test::Eq(Value::Str(s)) => out.push(s.clone()),
            Test::In(vs) => out.extend(vs.iter().filter_map(|v| match v {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })),
            Test::Glob(g) => {
                out.push(g.replace('*', "").replace('?', "x"));
                out.push(g.replace(['*', '?'], "x"));
            }
            _ => {}
        }
    }
    out.extend(["x", "y", "z"].map(String::from));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Ch(char),
    Any,
    Star,
}

/// One test as automata: a value passes when one of its patterns accepts it.
struct Auto {
    lower: bool,
    want: bool,
    pats: Vec<Vec<Elem>>,
    /// Word offset of each pattern's position set in the state.
    offsets: Vec<usize>,
}

fn pattern(t: &Test) -> Vec<Vec<Elem>> {
    let exact = |s: &str| s.chars().map(Elem::Ch).collect::<Vec<_>>();
    match t {
        Test::Eq(Value::Str(s)) => vec![exact(s)],
        Test::In(vs) => vs
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(exact(s)),
                _ => None,
            })
            .collect(),
        Test::Glob(g) => vec![g
            .chars()
            .map(|c| match c {
                '*' => Elem::Star,
                '?' => Elem::Any,
                c => Elem::Ch(c),
            })
            .collect()],
        Test::Eq(_) => Vec::new(),
    }
}

fn get(state: &[u64], off: usize, i: usize) -> bool {
    state[off + i / 64] >> (i % 64) & 1 == 1
}

fn set(state: &mut [u64], off: usize, i: usize) {
    state[off + i / 64] |= 1 << (i % 64);
}

/// Follows the stars: a position before `*` also stands after it.
fn close(p: &[Elem], state: &mut [u64], off: usize) {
    for (i, e) in p.iter().enumerate() {
        if *e == Elem::Star && get(state, off, i) {
            set(state, off, i + 1);
        }
    }
}

fn step(p: &[Elem], from: &[u64], to: &mut [u64], off: usize, ch: char) {
    for (i, e) in p.iter().enumerate() {
        if !get(from, off, i) {
            continue;
        }
        match e {
            Elem::Ch(c) if *c == ch => set(to, off, i + 1),
            Elem::Any => set(to, off, i + 1),
            Elem::Star => set(to, off, i),
            Elem::Ch(_) => {}
        }
    }
    close(p, to, off);
}

fn words(p: &[Elem]) -> usize {
    (p.len() + 1).div_ceil(64)
}

/// Every character whose lower case contains one of `chars` or is not one character.
fn lower_preimages(chars: &FxHashSet<char>) -> Vec<char> {
    static MULTI: OnceLock<Vec<char>> = OnceLock::new();
    let multi = MULTI.get_or_init(|| {
        (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().count() != 1 || c.to_lowercase().next() != Some(*c))
            .collect()
    });
    // `multi` holds every character that lower-cases to something else; the others are
    // their own lower case.
    let mut out: Vec<char> = chars.iter().copied().collect();
    for &c in multi {
        if c.to_lowercase().count() != 1 || c.to_lowercase().any(|l| chars.contains(&l)) {
            out.push(c);
        }
    }
    out
}

/// The exact search over the product of the tests' automata.
fn search(cons: &[StrCon<'_>]) -> StrOutcome {
    let mut autos = Vec::new();
    let mut width = 0;
    let (mut raw_chars, mut low_chars) = (FxHashSet::default(), FxHashSet::default());
    for c in cons {
        let pats = pattern(c.test);
        let mut offsets = Vec::new();
        for p in &pats {
            offsets.push(width);
            width += words(p);
            for e in p {
                if let Elem::Ch(ch) = e {
                    if c.lower {
                        &mut low_chars
                    } else {
                        &mut raw_chars
                    }
                    .insert(*ch);
                }
            }
        }
        autos.push(Auto {
            lower: c.lower,
            want: c.want,
            pats,
            offsets,
        });
    }
    if low_chars.iter().any(|c| matches!(c, 'σ' | 'ς')) {
        // `to_lowercase` maps Σ by its position in the word: not a per-character automaton.
        return StrOutcome::Unknown;
    }
    let mut alphabet: Vec<char> = raw_chars.iter().copied().collect();
    if autos.iter().any(|a| a.lower) {
        alphabet.extend(lower_preimages(&low_chars));
    }
    let fresh = "xyzqjkvw0123456789"
        .chars()
        .find(|c| !alphabet.contains(c) && !low_chars.contains(c));
    let Some(fresh) = fresh else {
        return StrOutcome::Unknown;
    };
    alphabet.push(fresh);
    alphabet.sort_unstable();
    alphabet.dedup();

    let mut start = vec![0u64; width];
    for a in &autos {
        for (p, &off) in a.pats.iter().zip(&a.offsets) {
            set(&mut start, off, 0);
            close(p, &mut start, off);
        }
    }
    let accepted = |s: &[u64], a: &Auto| {
        a.pats
            .iter()
            .zip(&a.offsets)
            .any(|(p, &off)| get(s, off, p.len()))
    };
    let alive = |s: &[u64], a: &Auto| {
        !a.want
            || a.pats
                .iter()
                .zip(&a.offsets)
                .any(|(p, &off)| s[off..off + words(p)].iter().any(|w| *w != 0))
    };
    let mut seen: FxHashMap<Vec<u64>, usize> = FxHashMap::default();
    let mut states: Vec<(Vec<u64>, usize, char)> = Vec::new();
    let mut queue = VecDeque::new();
    seen.insert(start.clone(), 0);
    states.push((start, usize::MAX, '\0'));
    queue.push_back(0usize);
    while let Some(i) = queue.pop_front() {
        let cur = states[i].0.clone();
        if autos.iter().all(|a| accepted(&cur, a) == a.want) {
            let mut text = Vec::new();
            let mut j = i;
            while states[j].1 != usize::MAX {
                text.push(states[j].2);
                j = states[j].1;
            }
            text.reverse();
            return StrOutcome::Sat(Value::Str(text.into_iter().collect()));
        }
        for &ch in &alphabet {
            let mut next = vec![0u64; width];
            for a in &autos {
                for (p, &off) in a.pats.iter().zip(&a.offsets) {
                    if a.lower {
                        let mut from = cur.clone();
                        for l in ch.to_lowercase() {
                            let mut to = vec![0u64; width];
                            step(p, &from, &mut to, off, l);
                            from = to;
                        }
                        next[off..off + words(p)].copy_from_slice(&from[off..off + words(p)]);
                    } else {
                        step(p, &cur, &mut next, off, ch);
                    }
                }
            }
            if !autos.iter().all(|a| alive(&next, a)) || seen.contains_key(&next) {
                continue;
            }
            if states.len() >= MAX_STATES {
                return StrOutcome::Unknown;
            }
            seen.insert(next.clone(), states.len());
            queue.push_back(states.len());
            states.push((next, i, ch));
        }
    }
    StrOutcome::Unsat
}
