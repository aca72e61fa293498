//! A bundle prepared for questions about its policies: each policy's triggers (and the
//! bundle's `require`s) in normal form once, compiled for the interpreter once; in-force
//! windows; inheritance closures; and an index so that questions about pairs of policies
//! only meet pairs that can apply to one person. Policies keyed on different values of
//! one attribute (`department == "Sales"` and `department == "Finance"`) are disjoint
//! without solving anything.

use std::rc::Rc;

use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};

use super::normal::{Analyzer, Dnf};
use super::overlaps::{keys_of, Index, Keys};
use super::solve::{Model, Outcome};
use super::DateRange;
use crate::eval::expr::CExpr;
use crate::index_vec::IndexVec;
use crate::ir::{Bundle, CmpOp, Entitlement, Expr, PolicyId, Value};

/// What a policy brings through inheritance (itself included), when every policy of its
/// closure is in force.
#[derive(Debug, Default)]
pub struct Closure {
    pub members: Vec<PolicyId>,
    /// The highest level of each entitlement.
    pub grants: FxHashMap<Entitlement, Option<u8>>,
    /// The texts of its deny patterns, sorted.
    pub denies: Vec<String>,
}

/// The days something is in force: `effective <= d < expires`, either end open.
pub type Window = (Option<NaiveDate>, Option<NaiveDate>);

/// The days both windows share.
pub fn meet(a: Window, b: Window) -> Window {
    let later = |x: Option<NaiveDate>, y: Option<NaiveDate>| match (x, y) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    let sooner = |x: Option<NaiveDate>, y: Option<NaiveDate>| match (x, y) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    (later(a.0, b.0), sooner(a.1, b.1))
}

pub fn in_window(w: Window, d: NaiveDate) -> bool {
    w.0.is_none_or(|e| e <= d) && w.1.is_none_or(|x| d < x)
}

/// `today >= effective`, `today < expires`.
fn window_exprs(w: Window) -> Vec<Expr> {
    let date = |d: NaiveDate| Box::new(Expr::Lit(Value::Date(d)));
    let mut out = Vec::new();
    if let Some(e) = w.0 {
        out.push(Expr::Cmp(CmpOp::Ge, Box::new(Expr::Today), date(e)));
    }
    if let Some(x) = w.1 {
        out.push(Expr::Cmp(CmpOp::Lt, Box::new(Expr::Today), date(x)));
    }
    out
}

/// Closures larger than this are not examined (a pathological chain stays linear).
const MAX_CLOSURE: usize = 1024;

pub struct BundleAnalysis<'b> {
    pub bundle: &'b Bundle,
    pub az: Analyzer,
    pub today: NaiveDate,
    /// From today to today plus the horizon.
    pub horizon: DateRange,
    requires: Option<Dnf>,
    requires_c: Vec<CExpr>,
    pos: IndexVec<PolicyId, Option<Dnf>>,
    neg: FxHashMap<(PolicyId, Window), Option<Dnf>>,
    triggers_c: IndexVec<PolicyId, Vec<CExpr>>,
    pub(super) keys: IndexVec<PolicyId, Keys>,
    pub(super) index: Option<Index>,
    closures: FxHashMap<PolicyId, Option<Rc<Closure>>>,
    /// Per policy: the policies that inherit it directly.
    pub inheritors: IndexVec<PolicyId, Vec<PolicyId>>,
}

impl<'b> BundleAnalysis<'b> {
    /// Prepares `bundle` for questions about the dates from `today` to `today` plus
    /// [`HORIZON_YEARS`](super::HORIZON_YEARS).
    pub fn new(bundle: &'b Bundle, today: NaiveDate) -> BundleAnalysis<'b> {
        let mut az = Analyzer::new(bundle.schema.as_ref());
        let requires: Vec<&Expr> = bundle.requires.iter().collect();
        let req = az.dnf_of(&requires, true);
        let pos: IndexVec<PolicyId, Option<Dnf>> = bundle
            .policies
            .iter()
            .map(|p| {
                let t: Vec<&Expr> = p.triggers.iter().collect();
                az.dnf_of(&t, true)
            })
            .collect();
        let requires_c = bundle.requires.iter().map(|e| az.compile(e)).collect();
        let triggers_c = bundle
            .policies
            .iter()
            .map(|p| p.triggers.iter().map(|e| az.compile(e)).collect())
            .collect();
        let keys = pos
            .iter()
            .map(|d| d.as_ref().map(|d| keys_of(&az, d)).unwrap_or_default())
            .collect();
        let mut inheritors = IndexVec::from_elem_n(Vec::new(), bundle.policies.len());
        for (i, p) in bundle.policies.iter_enumerated() {
            for &w in &p.inherits {
                if let Some(list) = inheritors.get_mut(w) {
                    list.push(i);
                }
            }
        }
        let mut ba = BundleAnalysis {
            bundle,
            az,
            today,
            horizon: DateRange::horizon(today, super::HORIZON_YEARS),
            requires: req,
            requires_c,
            neg: FxHashMap::default(),
            pos,
            triggers_c,
            keys,
            index: None,
            closures: FxHashMap::default(),
            inheritors,
        };
        ba.build_index();
        ba
    }

    /// The policies proper (not templates), in declaration order.
    pub fn policies(&self) -> impl Iterator<Item = PolicyId> + '_ {
        self.bundle
            .policies
            .iter_enumerated()
            .filter(|(_, p)| !p.template)
            .map(|(id, _)| id)
    }

    /// The days from today on when every one of `ps` is in force, at most a horizon long
    /// (from the first of them).
    pub fn window(&self, ps: &[PolicyId]) -> Option<DateRange> {
        let mut from = self.today;
        let mut until: Option<NaiveDate> = None;
        for &p in ps {
            let p = &self.bundle.policy(p);
            if let Some(e) = p.effective {
                from = from.max(e);
            }
            if let Some(x) = p.expires {
                until = Some(until.map_or(x, |u| u.min(x)));
            }
        }
        let cap = crate::dates::add_days(from, self.horizon.days().max(0) as u64);
        let to = match until {
            Some(u) => u.pred_opt()?.min(cap),
            None => cap,
        };
        (from <= to).then_some(DateRange { from, to })
    }

    /// The days a policy's triggers are judged on: its window from today on; for a policy
    /// that has already expired, its last horizon of days in force.
    pub fn own_range(&self, p: PolicyId) -> Option<DateRange> {
        let pol = &self.bundle.policy(p);
        match pol.expires {
            Some(x) if x <= self.today => {
                let to = x.pred_opt()?;
                let mut from = crate::dates::sub_days(to, self.horizon.days().max(0) as u64);
                if let Some(e) = pol.effective {
                    from = from.max(e);
                }
                (from <= to).then_some(DateRange { from, to })
            }
            _ => self.window(&[p]),
        }
    }

    /// Whether `p` is in force on every day of `range`.
    pub fn covers(&self, p: PolicyId, range: DateRange) -> bool {
        let p = &self.bundle.policy(p);
        p.in_force(range.from) && p.in_force(range.to)
    }

    /// The days a policy is in force.
    pub fn window_of(&self, p: PolicyId) -> Window {
        let p = &self.bundle.policy(p);
        (p.effective, p.expires)
    }

    /// Can the bundle's `require`s and the triggers of every policy of `pos` hold
    /// together, with no policy of `neg` applying, on a day of `range`? A model is
    /// returned only once the interpreter agrees. (`range` must lie in the windows of
    /// `pos`; those of `neg` are part of the question.)
    pub fn query(&mut self, pos: &[PolicyId], neg: &[PolicyId], range: DateRange) -> Outcome {
        let avoid: Vec<(PolicyId, Window)> = neg.iter().map(|&q| (q, self.window_of(q))).collect();
        self.query_avoiding(pos, &avoid, range)
    }

    /// Like [`query`](Self::query), each avoided policy given with the days it would
    /// bring what must be avoided: on a day of its window, its triggers must fail.
    pub fn query_avoiding(
        &mut self,
        pos: &[PolicyId],
        neg: &[(PolicyId, Window)],
        range: DateRange,
    ) -> Outcome {
        for &(q, w) in neg {
            if !self.neg.contains_key(&(q, w)) {
                let mut t: Vec<Expr> = self.bundle.policy(q).triggers.clone();
                t.extend(window_exprs(w));
                let refs: Vec<&Expr> = t.iter().collect();
                let d = self.az.dnf_of(&refs, false);
                self.neg.insert((q, w), d);
            }
        }
        let mut parts: Vec<&Dnf> = Vec::new();
        let Some(r) = &self.requires else {
            return Outcome::Unknown;
        };
        parts.push(r);
        for &p in pos {
            match self.pos.get(p) {
                Some(Some(d)) => parts.push(d),
                _ => return Outcome::Unknown,
            }
        }
        for key in neg {
            match self.neg.get(key) {
                Some(Some(d)) => parts.push(d),
                _ => return Outcome::Unknown,
            }
        }
        let (req, trig) = (&self.requires_c, &self.triggers_c);
        let mut verify = |az: &Analyzer, m: &Model| {
            req.iter().all(|c| az.holds(c, m))
                && pos.iter().all(|&p| {
                    trig.get(p)
                        .is_some_and(|t| t.iter().all(|c| az.holds(c, m)))
                })
                && neg.iter().all(|&(q, w)| {
                    !(in_window(w, m.today)
                        && trig
                            .get(q)
                            .is_some_and(|t| t.iter().all(|c| az.holds(c, m))))
                })
        };
        self.az.solve_parts(&parts, range, &mut verify)
    }

    /// The closure of `p` (itself and everything it inherits, each once), or `None` when
    /// it is too large to examine.
    pub fn closure(&mut self, p: PolicyId) -> Option<Rc<Closure>> {
        if let Some(c) = self.closures.get(&p) {
            return c.clone();
        }
        let b = self.bundle;
        let mut seen = FxHashSet::default();
        let mut members = vec![p];
        seen.insert(p);
        let mut i = 0;
        while let Some(&v) = members.get(i) {
            if members.len() > MAX_CLOSURE {
                break;
            }
            for &w in &b.policy(v).inherits {
                if seen.insert(w) {
                    members.push(w);
                }
            }
            i += 1;
        }
        let result = (members.len() <= MAX_CLOSURE).then(|| {
            let mut c = Closure::default();
            for &m in &members {
                let pol = &b.policy(m);
                for g in &pol.grants {
                    let e = c.grants.entry(g.entitlement.clone()).or_insert(g.level);
                    *e = (*e).max(g.level);
                }
                c.denies.extend(pol.denies.iter().map(|d| d.text.clone()));
            }
            c.denies.sort();
            c.denies.dedup();
            c.members = members;
            Rc::new(c)
        });
        self.closures.insert(p, result.clone());
        result
    }

    /// Whether `to` is reachable from `from` through policies in force on every day of
    /// `range` (`from` itself included).
    pub fn reaches_in_force(&self, from: PolicyId, to: PolicyId, range: DateRange) -> bool {
        if !self.covers(from, range) {
            return false;
        }
        let mut seen = FxHashSet::default();
        let mut stack = vec![from];
        seen.insert(from);
        while let Some(v) = stack.pop() {
            if v == to {
                return true;
            }
            for &w in &self.bundle.policy(v).inherits {
                if self.covers(w, range) && seen.insert(w) {
                    stack.push(w);
                }
            }
        }
        false
    }

    /// The policies that inherit `p` directly.
    pub fn inheritors(&self, p: PolicyId) -> &[PolicyId] {
        self.inheritors.get(p).map_or(&[], Vec::as_slice)
    }

    /// Every policy that inherits `p`, directly or not; `None` past `cap`.
    pub fn ancestors(&self, p: PolicyId, cap: usize) -> Option<Vec<PolicyId>> {
        let mut seen = FxHashSet::default();
        let mut out = Vec::new();
        let mut stack = vec![p];
        while let Some(v) = stack.pop() {
            for &w in self.inheritors(v) {
                if w != p && seen.insert(w) {
                    out.push(w);
                    if out.len() > cap {
                        return None;
                    }
                    stack.push(w);
                }
            }
        }
        out.sort_unstable();
        Some(out)
    }

    /// The policy's trigger expressions with the bundle's requires (for messages).
    pub fn record_fields(&self) -> Vec<String> {
        self.az.attrs.iter().map(|a| a.name.clone()).collect()
    }
}
