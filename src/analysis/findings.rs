//! The facts behind three warnings, decided by the procedure:
//!
//! - W0102 [`never_applies`]: a policy whose triggers, with the bundle's `require`s, hold
//!   for no record on any day it is in force (from today on, within the horizon).
//! - W0301 [`shadowed`]: policy B whose triggers imply A's (`B and not A` is
//!   unsatisfiable) while A gives everything B gives (through inheritance, at the same or
//!   a higher level) and every deny B has: B adds nothing.
//! - W0104 [`always_denied`]: a grant that a deny removes whenever the grant applies: a
//!   deny of the same policy or of what it inherits, or of a *different* policy that
//!   applies whenever the granting one does.
//!
//! Each is reported only when proved; "unknown" reports nothing.

use super::cases::lits_of;
use super::normal::Nnf;
use super::policies::BundleAnalysis;
use super::solve::Outcome;
use super::DateRange;
use crate::ir::{Expr, PolicyId};

/// Where a clashing condition was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The bundle's `require` number `i`.
    Require(usize),
    /// The policy's `when` number `i`.
    Trigger(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Never {
    pub policy: PolicyId,
    pub clash: String,
    pub involved: Vec<Origin>,
    pub range: DateRange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    pub policy: PolicyId,
    pub by: PolicyId,
    /// Each implies the other and they give the same.
    pub identical: bool,
}

/// How a deny reaches a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A deny of the granting policy itself, or of what it inherits.
    Closure,
    /// A deny of `by` (or of what it inherits), which applies whenever `root` (a policy
    /// that brings the grant) does.
    Implied { root: PolicyId, by: PolicyId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlwaysDenied {
    pub policy: PolicyId,
    pub grant: usize,
    /// The policy holding the deny, and the deny's index in it.
    pub holder: PolicyId,
    pub deny: usize,
    pub via: Via,
}

/// W0102: policies (not templates) in force on some day that can never apply.
pub fn never_applies(ba: &mut BundleAnalysis<'_>) -> Vec<Never> {
    let mut out = Vec::new();
    let ids: Vec<PolicyId> = ba.policies().collect();
    for p in ids {
        let pol = &ba.bundle.policy(p);
        if pol.triggers.is_empty() {
            continue;
        }
        let Some(range) = ba.own_range(p) else {
            continue;
        };
        let Outcome::Unsat(cores) = ba.query(&[p], &[], range) else {
            continue;
        };
        let exprs: Vec<(Origin, &Expr)> = ba
            .bundle
            .requires
            .iter()
            .enumerate()
            .map(|(i, e)| (Origin::Require(i), e))
            .chain(
                pol.triggers
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (Origin::Trigger(i), e)),
            )
            .collect();
        let nnfs: Vec<Nnf> = exprs.iter().map(|(_, e)| ba.az.nnf(e, true)).collect();
        let (clash, involved) = if cores.is_empty() {
            // Some condition is false by itself.
            match exprs
                .iter()
                .find(|(_, e)| ba.az.dnf_of(&[e], true).is_some_and(|d| d.is_empty()))
            {
                Some(&(o, e)) => (format!("`{e}` never holds"), vec![o]),
                None => (
                    "its conditions never hold".to_string(),
                    exprs.iter().map(|(o, _)| *o).collect(),
                ),
            }
        } else {
            let involved = exprs
                .iter()
                .zip(&nnfs)
                .filter(|(_, n)| {
                    let lits = lits_of(n);
                    cores
                        .iter()
                        .any(|c| c.lits.iter().any(|l| lits.contains(l)))
                })
                .map(|((o, _), _)| *o)
                .collect();
            (ba.az.clash_text(&cores, range), involved)
        };
        out.push(Never {
            policy: p,
            clash,
            involved,
            range,
        });
    }
    out
}

/// W0301: for each policy, the first other policy that shadows it. Policies that others
/// inherit are left alone (what they give matters to those), and so are pairs whose
/// closures are not in force throughout.
pub fn shadowed(ba: &mut BundleAnalysis<'_>) -> Vec<Shadowed> {
    let mut out = Vec::new();
    let ids: Vec<PolicyId> = ba.policies().collect();
    for b in ids {
        if !ba.inheritors(b).is_empty() || ba.bundle.policy(b).triggers.is_empty() {
            continue;
        }
        let Some(range) = ba.own_range(b) else {
            continue;
        };
        let Some(cb) = ba.closure(b) else { continue };
        if !cb.members.iter().all(|&m| ba.covers(m, range)) {
            continue;
        }
        let mut applies: Option<bool> = None;
        for a in ba.candidates(b) {
            if ba.bundle.policy(a).triggers.is_empty() {
                continue;
            }
            let Some(ca) = ba.closure(a) else { continue };
            let gives_all = |x: &super::policies::Closure, y: &super::policies::Closure| {
                y.grants
                    .iter()
                    .all(|(e, l)| x.grants.get(e).is_some_and(|m| m >= l))
                    && y.denies.iter().all(|d| x.denies.binary_search(d).is_ok())
            };
            if !gives_all(&ca, &cb) || !ca.members.iter().all(|&m| ba.covers(m, range)) {
                continue;
            }
            // A policy that never applies implies everything (W0102 says so already).
            if !*applies
                .get_or_insert_with(|| matches!(ba.query(&[b], &[], range), Outcome::Sat(_)))
            {
                break;
            }
            if !matches!(ba.query(&[b], &[a], range), Outcome::Unsat(_)) {
                continue;
            }
            // The same both ways: report only the one declared later.
            let identical = gives_all(&cb, &ca)
                && ba.inheritors(a).is_empty()
                && ba.own_range(a) == Some(range)
                && matches!(ba.query(&[a], &[b], range), Outcome::Unsat(_));
            if identical && a > b {
                continue;
            }
            out.push(Shadowed {
                policy: b,
                by: a,
                identical,
            });
            break;
        }
    }
    out
}

/// W0104: grants (of policies and templates) that a deny always removes.
pub fn always_denied(ba: &mut BundleAnalysis<'_>) -> Vec<AlwaysDenied> {
    let b = ba.bundle;
    // Every deny: its policy, its index there, its pattern.
    let denies: Vec<(PolicyId, usize, &crate::ir::Pattern)> = b
        .policies
        .iter_enumerated()
        .flat_map(|(p, pol)| {
            pol.denies
                .iter()
                .enumerate()
                .map(move |(d, pat)| (p, d, pat))
        })
        .collect();
    let mut out = Vec::new();
    if denies.is_empty() {
        return out;
    }
    for (p, pol) in b.policies.iter_enumerated() {
        for (gi, g) in pol.grants.iter().enumerate() {
            let matching: Vec<(PolicyId, usize)> = denies
                .iter()
                .filter(|(_, _, pat)| b.pattern_matches(pat, &g.entitlement))
                .map(|&(h, d, _)| (h, d))
                .collect();
            if matching.is_empty() {
                continue;
            }
            // A deny this policy brings along itself, in force whenever it is.
            let own = window_of(b, p);
            if let Some(&(h, d)) = matching
                .iter()
                .find(|&&(h, _)| reaches_within(ba, p, h, own))
            {
                out.push(AlwaysDenied {
                    policy: p,
                    grant: gi,
                    holder: h,
                    deny: d,
                    via: Via::Closure,
                });
                continue;
            }
            // Otherwise every policy that brings the grant must meet a deny from a policy
            // that applies whenever it does.
            let Some(mut roots) = ba.ancestors(p, 64) else {
                continue;
            };
            if !pol.template {
                roots.insert(0, p);
            }
            roots.retain(|&r| !b.policy(r).template);
            let mut first = None;
            let mut all = !roots.is_empty();
            for &r in &roots {
                match implied_deny(ba, r, &matching) {
                    Some(found) => {
                        first.get_or_insert(found);
                    }
                    None => {
                        all = false;
                        break;
                    }
                }
            }
            if let (true, Some((root, by, h, d))) = (all, first) {
                out.push(AlwaysDenied {
                    policy: p,
                    grant: gi,
                    holder: h,
                    deny: d,
                    via: Via::Implied { root, by },
                });
            }
        }
    }
    out
}

/// `(effective, expires)` of a policy.
fn window_of(
    b: &crate::ir::Bundle,
    p: PolicyId,
) -> (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) {
    let pol = &b.policy(p);
    (pol.effective, pol.expires)
}

/// Whether `h` is reachable from `p` through policies whose windows contain `w`.
fn reaches_within(
    ba: &BundleAnalysis<'_>,
    p: PolicyId,
    h: PolicyId,
    w: (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
) -> bool {
    let b = ba.bundle;
    let contains = |x: PolicyId| {
        let (e, x) = window_of(b, x);
        let starts = match (e, w.0) {
            (None, _) => true,
            (Some(e), Some(we)) => e <= we,
            (Some(_), None) => false,
        };
        let ends = match (x, w.1) {
            (None, _) => true,
            (Some(x), Some(wx)) => x >= wx,
            (Some(_), None) => false,
        };
        starts && ends
    };
    let mut seen = rustc_hash::FxHashSet::default();
    let mut stack = vec![p];
    seen.insert(p);
    while let Some(v) = stack.pop() {
        if v == h {
            return true;
        }
        for &c in &b.policy(v).inherits {
            if contains(c) && seen.insert(c) {
                stack.push(c);
            }
        }
    }
    false
}

/// A matching deny that applies whenever root policy `r` does: `(r, policy, holder, deny)`.
fn implied_deny(
    ba: &mut BundleAnalysis<'_>,
    r: PolicyId,
    matching: &[(PolicyId, usize)],
) -> Option<(PolicyId, PolicyId, PolicyId, usize)> {
    let range = ba.own_range(r)?;
    for &(h, d) in matching {
        if ba.reaches_in_force(r, h, range) {
            return Some((r, r, h, d));
        }
    }
    // A policy that never applies implies everything: say nothing about it.
    if !matches!(ba.query(&[r], &[], range), Outcome::Sat(_)) {
        return None;
    }
    for &(h, d) in matching {
        let mut sources = ba.ancestors(h, 64)?;
        sources.insert(0, h);
        for q in sources {
            if q == r
                || ba.bundle.policy(q).template
                || ba.disjoint(r, q)
                || !ba.reaches_in_force(q, h, range)
            {
                continue;
            }
            if matches!(ba.query(&[r], &[q], range), Outcome::Unsat(_)) {
                return Some((r, q, h, d));
            }
        }
    }
    None
}
