//! Warnings about bundles that compile but say something other than their author meant,
//! found from the structure alone: W0101 redundant grant, W0102 a policy never in force
//! (its dates), W0103 unused template, W0201 expired exception. The warnings that need
//! the decision procedure (W0102 for triggers, W0104, W0301, E0501) are in
//! [`semantic`](super::semantic).

use chrono::NaiveDate;

use rustc_hash::{FxHashMap, FxHashSet};

use super::Lowered;
use crate::diagnostics::Diagnostic;
use crate::index_vec::IndexVec;
use crate::ir;

pub fn run(l: &Lowered<'_>, today: NaiveDate) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    redundant(l, &mut out);
    unused_templates(l, &mut out);
    never_in_force(l, &mut out);
    expired_exceptions(l, today, &mut out);
    out
}

/// Everything that inherits `q`, directly or not (reverse breadth-first search).
fn ancestors(
    inheritors: &IndexVec<ir::PolicyId, Vec<ir::PolicyId>>,
    q: ir::PolicyId,
) -> FxHashSet<ir::PolicyId> {
    let mut seen = FxHashSet::default();
    let mut queue = vec![q];
    while let Some(v) = queue.pop() {
        for &w in &inheritors[v] {
            if seen.insert(w) {
                queue.push(w);
            }
        }
    }
    seen
}

/// W0101. It looks from the source down: for each entitlement granted by more than one
/// policy, the policies that inherit it. That keeps a long inheritance chain linear
/// instead of quadratic.
fn redundant(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    let mut inheritors: IndexVec<ir::PolicyId, Vec<ir::PolicyId>> =
        IndexVec::from_elem_n(Vec::new(), b.policies.len());
    for (i, p) in b.policies.iter_enumerated() {
        for &w in &p.inherits {
            if let Some(list) = inheritors.get_mut(w) {
                list.push(i);
            }
        }
    }
    let mut memo: FxHashMap<ir::PolicyId, FxHashSet<ir::PolicyId>> = FxHashMap::default();
    let mut anc = |q: ir::PolicyId| -> FxHashSet<ir::PolicyId> {
        memo.entry(q)
            .or_insert_with(|| ancestors(&inheritors, q))
            .clone()
    };

    // W0101: p grants e, and p inherits q which grants e at the same or a higher level.
    // Each grant as (policy, its index in the policy's grants, its level).
    type At = (ir::PolicyId, usize, Option<u8>);
    let mut holders: FxHashMap<&ir::Entitlement, Vec<At>> = FxHashMap::default();
    for lp in l.policies.iter().flatten() {
        for (gi, g) in lp.policy.grants.iter().enumerate() {
            holders
                .entry(&g.entitlement)
                .or_default()
                .push((lp.id, gi, g.level));
        }
    }
    // (the redundant grant, the grant that already gives it)
    let mut found: Vec<(At, At)> = Vec::new();
    for list in holders.values().filter(|v| v.len() > 1) {
        for &q in list {
            let inheritors_of_q = anc(q.0);
            for &p in list {
                if p.0 != q.0 && inheritors_of_q.contains(&p.0) && q.2 >= p.2 {
                    match found.iter_mut().find(|f| f.0 .0 == p.0 && f.0 .1 == p.1) {
                        Some(f) if f.1 .2 < q.2 => *f = (p, q),
                        Some(_) => {}
                        None => found.push((p, q)),
                    }
                }
            }
        }
    }
    for ((p, pgi, _), (q, qgi, _)) in found {
        let (Some(lp), Some(parent)) = (l.lowered(p), l.lowered(q)) else {
            continue;
        };
        let (Some(&span), Some(g), Some(&given)) = (
            lp.grant_spans.get(pgi),
            parent.policy.grants.get(qgi),
            parent.grant_spans.get(qgi),
        ) else {
            continue;
        };
        let text = b.entitlement_text(&g.entitlement);
        let lvl = b
            .level_name(&g.entitlement, g.level)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        out.push(
            Diagnostic::new(
                "W0101",
                format!(
                    "redundant grant: `{}` already gives `{text}`{lvl}",
                    parent.policy.name
                ),
                lp.file,
                span,
                "already given through `inherits`",
            )
            .with_label(parent.file, given, "given here")
            .with_help("remove this grant, or raise its level if it should give more"),
        );
    }
}

fn unused_templates(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    let mut inherited: IndexVec<ir::PolicyId, bool> =
        IndexVec::from_elem_n(false, b.policies.len());
    for p in &b.policies {
        for &w in &p.inherits {
            if let Some(x) = inherited.get_mut(w) {
                *x = true;
            }
        }
    }
    for lp in l.policies.iter().flatten() {
        if lp.policy.template && inherited.get(lp.id) == Some(&false) {
            out.push(
                Diagnostic::new(
                    "W0103",
                    format!("template `{}` is never inherited", lp.policy.name),
                    lp.file,
                    lp.name_span,
                    "nothing inherits this",
                )
                .with_help(format!(
                    "add `inherits \"{}\"` to the policies that need it, or delete it",
                    lp.policy.name
                )),
            );
        }
    }
}

fn never_in_force(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    for lp in l.policies.iter().flatten() {
        let p = &lp.policy;
        if let (Some(e), Some(x)) = (p.effective, p.expires) {
            if e >= x {
                let span = lp
                    .expires_span
                    .or(lp.effective_span)
                    .unwrap_or(lp.name_span);
                let mut d = Diagnostic::new(
                    "W0102",
                    format!(
                        "`{}` is never in force: it expires ({x}) before it takes effect ({e})",
                        p.name
                    ),
                    lp.file,
                    span,
                    "expires here",
                )
                .with_help(
                    "a policy is in force on days `effective <= d < expires`: fix one of the dates",
                );
                if let Some(es) = lp.effective_span {
                    d = d.with_label(lp.file, es, "takes effect here");
                }
                out.push(d);
                continue;
            }
        }
    }
}

fn expired_exceptions(l: &Lowered<'_>, today: NaiveDate, out: &mut Vec<Diagnostic>) {
    for le in &l.exceptions {
        let e = &le.exception;
        if e.expires <= today {
            let name = e.name.as_ref().map_or_else(
                || format!("the exception for `{}`", e.user),
                |n| format!("exception `{n}`"),
            );
            out.push(
                Diagnostic::new("W0201", format!("{name} expired on {}", e.expires), le.file, le.expires_span, format!("expired (today is {today})"))
                    .with_label(le.file, le.head, "this exception")
                    .with_help("remove it, or renew it with a new `expires` and approval; an expired exception grants nothing"),
            );
        }
    }
}
