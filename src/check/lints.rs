//! Warnings about bundles that compile but say something other than their author meant:
//! W0101 redundant grant, W0102 a policy that can never apply (the obvious cases; the
//! full decision procedure is the analysis module's), W0103 unused template, W0104 a grant
//! its own denies remove, W0201 expired exception, W0301 identical policies.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;

use rustc_hash::{FxHashMap, FxHashSet};

use super::Lowered;
use crate::diagnostics::Diagnostic;
use crate::ir::{self, CmpOp, Expr, Value};

pub fn run(l: &Lowered<'_>, today: NaiveDate) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    redundant_and_denied(l, &mut out);
    unused_templates(l, &mut out);
    never_applies(l, &mut out);
    identical(l, &mut out);
    expired_exceptions(l, today, &mut out);
    out
}

/// Everything that inherits `q`, directly or not (reverse breadth-first search).
fn ancestors(inheritors: &[Vec<ir::PolicyId>], q: ir::PolicyId) -> FxHashSet<ir::PolicyId> {
    let mut seen = FxHashSet::default();
    let mut queue = vec![q];
    while let Some(v) = queue.pop() {
        for &w in &inheritors[v as usize] {
            if seen.insert(w) {
                queue.push(w);
            }
        }
    }
    seen
}

/// W0101 and W0104. Both look from the source down: for each entitlement granted by more
/// than one policy, and for each policy with a `deny`, the policies that inherit it. That
/// keeps a long inheritance chain linear instead of quadratic.
fn redundant_and_denied(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    let mut inheritors: Vec<Vec<ir::PolicyId>> = vec![Vec::new(); b.policies.len()];
    for (i, p) in b.policies.iter().enumerate() {
        for &w in &p.inherits {
            inheritors[w as usize].push(i as ir::PolicyId);
        }
    }
    let mut memo: FxHashMap<ir::PolicyId, FxHashSet<ir::PolicyId>> = FxHashMap::default();
    let mut anc = |q: ir::PolicyId| -> FxHashSet<ir::PolicyId> {
        memo.entry(q)
            .or_insert_with(|| ancestors(&inheritors, q))
            .clone()
    };

    // W0101: p grants e, and p inherits q which grants e at the same or a higher level.
    let mut holders: FxHashMap<&ir::Entitlement, Vec<(ir::PolicyId, usize)>> = FxHashMap::default();
    for lp in l.policies.iter().flatten() {
        for (gi, g) in lp.policy.grants.iter().enumerate() {
            holders.entry(&g.entitlement).or_default().push((lp.id, gi));
        }
    }
    let mut found: Vec<(ir::PolicyId, usize, ir::PolicyId, usize)> = Vec::new();
    for list in holders.values().filter(|v| v.len() > 1) {
        for &(q, qgi) in list {
            let inheritors_of_q = anc(q);
            let qlevel = b.policies[q as usize].grants[qgi].level;
            for &(p, pgi) in list {
                if p != q
                    && inheritors_of_q.contains(&p)
                    && qlevel >= b.policies[p as usize].grants[pgi].level
                {
                    match found.iter_mut().find(|f| f.0 == p && f.1 == pgi) {
                        Some(f) if b.policies[f.2 as usize].grants[f.3].level < qlevel => {
                            *f = (p, pgi, q, qgi)
                        }
                        Some(_) => {}
                        None => found.push((p, pgi, q, qgi)),
                    }
                }
            }
        }
    }
    for (p, pgi, q, qgi) in found {
        let (Some(lp), Some(parent)) = (l.policies[p as usize], l.policies[q as usize]) else {
            continue;
        };
        let g = &parent.policy.grants[qgi];
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
                lp.grant_spans[pgi],
                "already given through `inherits`",
            )
            .with_label(parent.file, parent.grant_spans[qgi], "given here")
            .with_help("remove this grant, or raise its level if it should give more"),
        );
    }

    // W0104: a deny of q removes a grant of q or of anything that inherits q.
    let mut reported: FxHashSet<(ir::PolicyId, usize)> = FxHashSet::default();
    for src in l
        .policies
        .iter()
        .flatten()
        .filter(|lp| !lp.policy.denies.is_empty())
    {
        let mut targets: Vec<ir::PolicyId> = anc(src.id).into_iter().collect();
        targets.push(src.id);
        targets.sort_unstable();
        for p in targets {
            let Some(lp) = l.policies[p as usize] else {
                continue;
            };
            for (gi, g) in lp.policy.grants.iter().enumerate() {
                let Some(di) = src
                    .policy
                    .denies
                    .iter()
                    .position(|pat| b.pattern_matches(pat, &g.entitlement))
                else {
                    continue;
                };
                if !reported.insert((p, gi)) {
                    continue;
                }
                let text = b.entitlement_text(&g.entitlement);
                let mut d = Diagnostic::new(
                    "W0104",
                    format!(
                        "`{text}` is always removed by `deny {}`",
                        src.policy.denies[di].text
                    ),
                    lp.file,
                    lp.grant_spans[gi],
                    "granted here",
                )
                .with_label(
                    src.file,
                    src.deny_spans[di],
                    "and denied here, whenever the grant applies",
                )
                .with_help("a deny overrides every grant: remove the grant, or narrow the deny");
                if p != src.id {
                    d = d.with_note(format!(
                        "the deny comes from `{}`, which this policy inherits",
                        src.policy.name
                    ));
                }
                out.push(d);
            }
        }
    }
}

fn unused_templates(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    let mut inherited = vec![false; b.policies.len()];
    for p in &b.policies {
        for &w in &p.inherits {
            inherited[w as usize] = true;
        }
    }
    for lp in l.policies.iter().flatten() {
        if lp.policy.template && !inherited[lp.id as usize] {
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

/// Conjuncts of a trigger list, `and`s flattened.
fn conjuncts<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Vec<&'e Expr> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = exprs.into_iter().collect();
    stack.reverse();
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(items) => stack.extend(items.iter().rev()),
            other => out.push(other),
        }
    }
    out
}

/// The obvious contradictions: one attribute required equal to two values, `in []`,
/// `false`, `a == v` with `a != v`. Returns a description of the clash.
pub fn obvious_contradiction(triggers: &[&Expr]) -> Option<String> {
    let mut allowed: HashMap<&str, (BTreeSet<&Value>, String)> = HashMap::new();
    let mut excluded: HashMap<&str, BTreeSet<&Value>> = HashMap::new();
    for e in conjuncts(triggers.iter().copied()) {
        let (attr, vals, text): (&str, BTreeSet<&Value>, String) = match e {
            Expr::Lit(Value::Bool(false)) => return Some("`false` never holds".into()),
            Expr::Cmp(CmpOp::Eq, a, b) => match attr_lit(a, b) {
                Some((a, v)) => (a, BTreeSet::from([v]), e.to_string()),
                None => continue,
            },
            Expr::In {
                lhs,
                rhs,
                negated: false,
            } => match (&**lhs, &**rhs) {
                (_, Expr::Lit(Value::List(v))) if v.is_empty() => {
                    return Some(format!("`{e}` never holds: the list is empty"))
                }
                (Expr::Attr(a), Expr::Lit(Value::List(v))) => {
                    (a.as_str(), v.iter().collect(), e.to_string())
                }
                _ => continue,
            },
            Expr::Cmp(CmpOp::Ne, a, b) => {
                if let Some((a, v)) = attr_lit(a, b) {
                    excluded.entry(a).or_default().insert(v);
                }
                continue;
            }
            _ => continue,
        };
        match allowed.get_mut(attr) {
            None => {
                allowed.insert(attr, (vals, text));
            }
            Some((prev, prev_text)) => {
                let both: BTreeSet<&Value> = prev.intersection(&vals).copied().collect();
                if both.is_empty() {
                    return Some(format!("`{prev_text}` and `{text}` cannot both hold"));
                }
                *prev = both;
                *prev_text = format!("{prev_text} and {text}");
            }
        }
    }
    for (attr, (vals, text)) in &allowed {
        if let Some(ex) = excluded.get(attr) {
            if vals.iter().all(|v| ex.contains(v)) {
                return Some(format!("`{text}` contradicts `{attr} != …`"));
            }
        }
    }
    None
}

/// `attr == literal` in either order.
fn attr_lit<'e>(a: &'e Expr, b: &'e Expr) -> Option<(&'e str, &'e Value)> {
    match (a, b) {
        (Expr::Attr(a), Expr::Lit(v)) | (Expr::Lit(v), Expr::Attr(a)) => Some((a.as_str(), v)),
        _ => None,
    }
}

fn never_applies(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
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
        if p.template {
            continue;
        }
        let triggers: Vec<&Expr> = b.requires.iter().chain(&p.triggers).collect();
        if let Some(why) = obvious_contradiction(&triggers) {
            let mut d = Diagnostic::new("W0102", format!("`{}` can never apply: {why}", p.name), lp.file, lp.name_span, "applies to no one")
                .with_help("its triggers (with the bundle's `require`s) contradict each other: fix or remove one");
            for s in &lp.when_spans {
                d = d.with_label(lp.file, *s, "trigger");
            }
            out.push(d);
        }
    }
}

fn identical(l: &Lowered<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    type Key = (
        BTreeSet<String>,
        BTreeSet<(ir::Entitlement, Option<u8>)>,
        Vec<ir::PolicyId>,
    );
    let mut seen: HashMap<Key, &super::items::LoweredPolicy> = HashMap::new();
    for lp in l.policies.iter().flatten() {
        let p = &lp.policy;
        if p.template || p.triggers.is_empty() {
            continue;
        }
        let mut inherits = p.inherits.clone();
        inherits.sort_unstable();
        let key: Key = (
            conjuncts(&p.triggers)
                .iter()
                .map(|e| e.to_string())
                .collect(),
            p.grants
                .iter()
                .map(|g| (g.entitlement.clone(), g.level))
                .collect(),
            inherits,
        );
        if !p.denies.is_empty() {
            continue;
        }
        match seen.get(&key) {
            Some(first) => out.push(
                Diagnostic::new(
                    "W0301",
                    format!(
                        "`{}` has the same triggers and grants as `{}`",
                        p.name, first.policy.name
                    ),
                    lp.file,
                    lp.name_span,
                    "shadowed by an identical policy",
                )
                .with_label(
                    first.file,
                    first.name_span,
                    "the same policy, declared first",
                )
                .with_help("delete one, or merge them under one name"),
            ),
            None => {
                seen.insert(key, lp);
            }
        }
    }
    let _ = b;
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
