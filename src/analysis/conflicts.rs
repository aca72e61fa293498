//! E0501: separation-of-duties conflicts that some user can reach (docs/language.md §10).
//!
//! For each conflict: the policies whose grants (their own or inherited, along a path in
//! force) match one of its patterns, minus what their own denies always remove; then the
//! pairs of such policies (or one policy alone) giving two different entitlements for two
//! different patterns, among the pairs the index says can co-occur; for each, whether
//! their triggers and the `require`s can hold together. A model is then evaluated by the
//! interpreter (on the part of the bundle that can matter: the two policies and whatever
//! could deny their grants, without exceptions): only when the conflict shows up as a
//! violation is it reported. When a deny of some other policy that happens to apply
//! removed a grant, that policy's triggers are negated and the question asked again, a
//! few times; a witness that never reproduces is not reported at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::policies::{meet, BundleAnalysis, Window};
use super::solve::{Model, Outcome};
use super::{DateRange, Witness};
use crate::eval::Plan;
use crate::index_vec::IndexVec;
use crate::ir::{Bundle, Entitlement, PolicyId, Value};

/// How many questions one conflict may ask before giving up.
const MAX_QUERIES: usize = 20_000;
/// How many pairs of sides are tried for one pair of policies.
const MAX_SIDE_PAIRS: usize = 8;
/// How many times a witness is refined after a deny got in its way.
const MAX_REFINEMENTS: usize = 4;

/// One side of a reachable conflict: an entitlement matching one pattern, and how it
/// gets to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub pattern: usize,
    pub entitlement: Entitlement,
    /// The applying policy first, the policy or template holding the grant last.
    pub path: Vec<PolicyId>,
    /// The grant's index in the last policy of the path.
    pub grant: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub conflict: usize,
    pub sides: [Side; 2],
    /// Other policies whose triggers the witness had to avoid (their denies would have
    /// removed a side).
    pub avoided: Vec<PolicyId>,
    /// Every deny matching a side's entitlement, as `(policy, index)`: none applies to
    /// the witness.
    pub denies: Vec<(PolicyId, usize)>,
    pub witness: Witness,
}

#[derive(Debug, Clone)]
struct Contrib {
    side: Side,
    range: DateRange,
}

/// The part of the bundle that decides whether `ents` reach a user: `roots`, every policy
/// that brings a deny matching one of them, and everything these inherit; only conflict
/// `ci`; no exceptions. The other policies can only add grants, and more grants never undo
/// a violation, so a violation here is one of the whole bundle. With the map from its
/// policy ids to the bundle's.
fn excerpt(
    ba: &BundleAnalysis<'_>,
    ci: usize,
    roots: &[PolicyId],
    ents: &[&Entitlement],
) -> Option<(Bundle, IndexVec<PolicyId, PolicyId>)> {
    let b = ba.bundle;
    let mut start: Vec<PolicyId> = roots.to_vec();
    for (h, pol) in b.policies.iter_enumerated() {
        if pol
            .denies
            .iter()
            .any(|d| ents.iter().any(|e| b.pattern_matches(d, e)))
        {
            start.push(h);
            start.extend(ba.ancestors(h, 4096)?);
        }
    }
    let mut keep: IndexVec<PolicyId, bool> = IndexVec::from_elem_n(false, b.policies.len());
    while let Some(p) = start.pop() {
        if keep.get_mut(p).is_some_and(|k| !std::mem::replace(k, true)) {
            start.extend_from_slice(&b.policy(p).inherits);
        }
    }
    let old: IndexVec<PolicyId, PolicyId> = keep
        .iter_enumerated()
        .filter(|&(_, &k)| k)
        .map(|(p, _)| p)
        .collect();
    let mut new_id: IndexVec<PolicyId, Option<PolicyId>> =
        IndexVec::from_elem_n(None, b.policies.len());
    for (i, &p) in old.iter_enumerated() {
        if let Some(n) = new_id.get_mut(p) {
            *n = Some(i);
        }
    }
    let policies = old
        .iter()
        .map(|&p| {
            let mut pol = b.policy(p).clone();
            // What a kept policy inherits is kept: every id maps.
            pol.inherits = pol
                .inherits
                .iter()
                .filter_map(|&w| new_id.get(w).copied().flatten())
                .collect();
            pol
        })
        .collect();
    let part = Bundle {
        schema: b.schema.clone(),
        systems: b.systems.clone(),
        requires: b.requires.clone(),
        policies,
        exceptions: Vec::new(),
        conflicts: vec![b.conflicts.get(ci)?.clone()],
        tests: Vec::new(),
    };
    Some((part, old))
}

/// Evaluates the model with the interpreter: `Ok` when it violates conflict `ci`; else the
/// applying policies whose denies removed one of the entitlements, each with the days the
/// deny's path is in force. `None` when the bundle is too large to cut.
fn evaluate(
    ba: &BundleAnalysis<'_>,
    ci: usize,
    roots: &[PolicyId],
    ents: &[&Entitlement],
    m: &Model,
) -> Option<Result<(), Vec<(PolicyId, Window)>>> {
    let (part, old) = excerpt(ba, ci, roots, ents)?;
    let fields = ba.record_fields();
    let plan = Plan::new(Arc::new(part), &fields, m.today);
    let id = match fields.iter().position(|f| *f == ba.az.key) {
        Some(k) => match m.values.get(k) {
            Some(Some(Value::Str(s))) => s.clone(),
            _ => "w".to_string(),
        },
        None => "w".to_string(),
    };
    let eval = plan.evaluate(&id, &m.values);
    if !eval.violations.is_empty() {
        return Some(Ok(()));
    }
    let mut blockers: Vec<(PolicyId, Window)> = eval
        .denied
        .iter()
        .filter(|d| ents.iter().any(|e| *plan.ent(d.ent) == **e))
        .filter_map(|d| {
            let path = plan.path(d.by);
            // The excerpt's ids are all in `old`.
            let window = path
                .iter()
                .filter_map(|&p| old.get(p))
                .fold((None, None), |w, &p| {
                    let p = ba.bundle.policy(p);
                    meet(w, (p.effective, p.expires))
                });
            Some((*old.get(*path.first()?)?, window))
        })
        .collect();
    blockers.sort_unstable();
    blockers.dedup();
    Some(Err(blockers))
}

/// Every conflict some user can reach, with a witness the interpreter confirmed; at most
/// one per conflict.
pub fn reachable(ba: &mut BundleAnalysis<'_>) -> Vec<Reach> {
    let mut out = Vec::new();
    for ci in 0..ba.bundle.conflicts.len() {
        let contribs = contributions(ba, ci);
        if let Some(r) = search(ba, ci, &contribs) {
            out.push(r);
        }
    }
    out
}

/// What each policy brings that matches a pattern of conflict `ci`.
fn contributions(ba: &mut BundleAnalysis<'_>, ci: usize) -> BTreeMap<PolicyId, Vec<Contrib>> {
    let b = ba.bundle;
    let Some(conflict) = b.conflicts.get(ci) else {
        return BTreeMap::new();
    };
    // Per policy: (its grant's index, the grant's entitlement, the pattern it matches).
    type Provided<'b> = (usize, &'b Entitlement, usize);
    let mut providers: FxHashMap<PolicyId, Vec<Provided<'_>>> = FxHashMap::default();
    for (h, pol) in b.policies.iter_enumerated() {
        for (gi, g) in pol.grants.iter().enumerate() {
            for (pi, pat) in conflict.patterns.iter().enumerate() {
                if b.pattern_matches(pat, &g.entitlement) {
                    providers
                        .entry(h)
                        .or_default()
                        .push((gi, &g.entitlement, pi));
                }
            }
        }
    }
    let mut roots: FxHashSet<PolicyId> = FxHashSet::default();
    for &h in providers.keys() {
        if !b.policy(h).template {
            roots.insert(h);
        }
        if let Some(anc) = ba.ancestors(h, 4096) {
            roots.extend(anc.into_iter().filter(|&r| !b.policy(r).template));
        }
    }
    let mut roots: Vec<PolicyId> = roots.into_iter().collect();
    roots.sort_unstable();
    let mut out: BTreeMap<PolicyId, Vec<Contrib>> = BTreeMap::new();
    for r in roots {
        // Breadth-first from the root: the shortest path to each provider.
        let mut parent: FxHashMap<PolicyId, PolicyId> = FxHashMap::default();
        let mut order = vec![r];
        parent.insert(r, r);
        let mut i = 0;
        while let Some(&v) = order.get(i) {
            if order.len() > 4096 {
                break;
            }
            for &w in &b.policy(v).inherits {
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                    e.insert(v);
                    order.push(w);
                }
            }
            i += 1;
        }
        for &h in &order {
            let Some(grants) = providers.get(&h) else {
                continue;
            };
            let mut path = vec![h];
            let mut at = h;
            while at != r {
                // Every policy of `order` has a parent on the way to `r`.
                let Some(&up) = parent.get(&at) else { break };
                path.push(up);
                at = up;
            }
            path.reverse();
            let Some(range) = ba.window(&path) else {
                continue;
            };
            for &(gi, ent, pi) in grants {
                // Removed whenever the root applies by a deny it brings itself.
                let denied = b.policies.iter_enumerated().any(|(q, pol)| {
                    pol.denies.iter().any(|d| b.pattern_matches(d, ent))
                        && ba.reaches_in_force(r, q, range)
                });
                if denied {
                    continue;
                }
                out.entry(r).or_default().push(Contrib {
                    side: Side {
                        pattern: pi,
                        entitlement: ent.clone(),
                        path: path.clone(),
                        grant: gi,
                    },
                    range,
                });
            }
        }
    }
    out
}

fn search(
    ba: &mut BundleAnalysis<'_>,
    ci: usize,
    contribs: &BTreeMap<PolicyId, Vec<Contrib>>,
) -> Option<Reach> {
    let mut queries = 0usize;
    for (&r1, c1s) in contribs {
        let mut partners: Vec<PolicyId> = vec![r1];
        partners.extend(
            ba.candidates(r1)
                .into_iter()
                .filter(|r2| *r2 > r1 && contribs.contains_key(r2)),
        );
        for r2 in partners {
            let Some(c2s) = contribs.get(&r2) else {
                continue;
            };
            // Pairs of sides on two patterns, two entitlements, one day.
            let pairs = c1s.iter().flat_map(|a| {
                c2s.iter().filter_map(move |b| {
                    let range =
                        DateRange::new(a.range.from.max(b.range.from), a.range.to.min(b.range.to));
                    (a.side.pattern != b.side.pattern
                        && a.side.entitlement != b.side.entitlement
                        && range.from <= range.to)
                        .then_some((a, b, range))
                })
            });
            for (a, b, range) in pairs.take(MAX_SIDE_PAIRS) {
                queries += 1;
                if queries > MAX_QUERIES {
                    return None;
                }
                if let Some(r) = confirm(ba, ci, [r1, r2], a, b, range) {
                    return Some(r);
                }
            }
        }
    }
    None
}

/// Solves for a user both roots apply to and confirms the violation with the
/// interpreter, negating the triggers of policies whose denies got in the way.
fn confirm(
    ba: &mut BundleAnalysis<'_>,
    ci: usize,
    roots: [PolicyId; 2],
    a: &Contrib,
    b: &Contrib,
    range: DateRange,
) -> Option<Reach> {
    let pos: Vec<PolicyId> = if roots[0] == roots[1] {
        vec![roots[0]]
    } else {
        roots.to_vec()
    };
    let mut avoided: Vec<(PolicyId, Window)> = Vec::new();
    for _ in 0..=MAX_REFINEMENTS {
        let Outcome::Sat(m) = ba.query_avoiding(&pos, &avoided, range) else {
            return None;
        };
        let ents = [&a.side.entitlement, &b.side.entitlement];
        match evaluate(ba, ci, &pos, &ents, &m)? {
            Ok(()) => {
                let bundle = ba.bundle;
                let denies = bundle
                    .policies
                    .iter_enumerated()
                    .flat_map(|(q, pol)| {
                        pol.denies
                            .iter()
                            .enumerate()
                            .filter(|(_, d)| ents.iter().any(|e| bundle.pattern_matches(d, e)))
                            .map(move |(i, _)| (q, i))
                    })
                    .collect();
                let mut avoided: Vec<PolicyId> = avoided.iter().map(|a| a.0).collect();
                avoided.dedup();
                return Some(Reach {
                    conflict: ci,
                    sides: [a.side.clone(), b.side.clone()],
                    avoided,
                    denies,
                    witness: ba.az.witness(&m),
                });
            }
            Err(blockers) => {
                // A deny met again would be met forever: give up on this pair.
                if blockers.is_empty() || blockers.iter().any(|q| avoided.contains(q)) {
                    return None;
                }
                avoided.extend(blockers);
            }
        }
    }
    None
}
