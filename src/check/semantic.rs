//! The diagnostics that need the decision procedure of [`crate::analysis`]: W0102 (a
//! policy whose triggers can never hold), W0104 (a grant a deny always removes), W0301 (a
//! policy another shadows) and E0501 (a separation-of-duties conflict some user can
//! reach, with a witness the interpreter confirmed). The analysis says what is true; this
//! file says where and in which words.

use chrono::NaiveDate;

use super::Lowered;
use crate::analysis::conflicts::{self, Reach};
use crate::analysis::findings::{self, Origin, Via};
use crate::analysis::policies::BundleAnalysis;
use crate::diagnostics::Diagnostic;
use crate::ir::PolicyId;

pub fn run(l: &Lowered<'_>, today: NaiveDate) -> Vec<Diagnostic> {
    let mut ba = BundleAnalysis::new(&l.bundle, today);
    let mut out = Vec::new();
    never(l, &mut ba, &mut out);
    denied(l, &mut ba, &mut out);
    shadowed(l, &mut ba, &mut out);
    for r in conflicts::reachable(&mut ba) {
        if let Some(d) = reach(l, &r) {
            out.push(d);
        }
    }
    out
}

fn name<'l>(l: &'l Lowered<'_>, p: PolicyId) -> &'l str {
    &l.bundle.policy(p).name
}

fn never(l: &Lowered<'_>, ba: &mut BundleAnalysis<'_>, out: &mut Vec<Diagnostic>) {
    for n in findings::never_applies(ba) {
        let Some(lp) = l.lowered(n.policy) else {
            continue;
        };
        let mut d = Diagnostic::new(
            "W0102",
            format!("`{}` can never apply: {}", lp.policy.name, n.clash),
            lp.file,
            lp.name_span,
            "applies to no one",
        );
        for o in &n.involved {
            d = match *o {
                Origin::Trigger(i) => match lp.when_spans.get(i) {
                    Some(s) => d.with_label(lp.file, *s, "trigger"),
                    None => d,
                },
                Origin::Require(i) => match l.requires.get(i) {
                    Some((f, s)) => d.with_label(*f, *s, "required of every policy"),
                    None => d,
                },
            };
        }
        out.push(d.with_help(
            "its triggers (with the bundle's `require`s) contradict each other: fix or remove one",
        ));
    }
}

fn denied(l: &Lowered<'_>, ba: &mut BundleAnalysis<'_>, out: &mut Vec<Diagnostic>) {
    let b = &l.bundle;
    for f in findings::always_denied(ba) {
        let (Some(lp), Some(holder)) = (l.lowered(f.policy), l.lowered(f.holder)) else {
            continue;
        };
        let (Some(g), Some(&grant_span), Some(deny), Some(&deny_span)) = (
            lp.policy.grants.get(f.grant),
            lp.grant_spans.get(f.grant),
            holder.policy.denies.get(f.deny),
            holder.deny_spans.get(f.deny),
        ) else {
            continue;
        };
        let text = b.entitlement_text(&g.entitlement);
        let mut d = Diagnostic::new(
            "W0104",
            format!("`{text}` is always removed by `deny {}`", deny.text),
            lp.file,
            grant_span,
            "granted here",
        )
        .with_label(
            holder.file,
            deny_span,
            "and denied here, whenever the grant applies",
        )
        .with_help("a deny overrides every grant: remove the grant, or narrow the deny");
        let note = match f.via {
            Via::Closure if f.holder == f.policy => None,
            Via::Closure => Some(format!(
                "the deny comes from `{}`, which this policy inherits",
                holder.policy.name
            )),
            Via::Implied { root, by } if root == by => Some(format!(
                "the deny comes from `{}`, which `{}` inherits; every policy that brings this grant brings the deny too",
                holder.policy.name,
                name(l, root)
            )),
            Via::Implied { root, by } => {
                let through = if by == f.holder {
                    String::new()
                } else {
                    format!(" (through `{}`)", holder.policy.name)
                };
                let whom = if root == f.policy {
                    "this policy".to_string()
                } else {
                    format!("`{}`, which brings this grant,", name(l, root))
                };
                Some(format!(
                    "the deny comes from `{}`{through}, which applies whenever {whom} does",
                    name(l, by)
                ))
            }
        };
        if let Some(n) = note {
            d = d.with_note(n);
        }
        out.push(d);
    }
}

fn shadowed(l: &Lowered<'_>, ba: &mut BundleAnalysis<'_>, out: &mut Vec<Diagnostic>) {
    for s in findings::shadowed(ba) {
        let (Some(lp), Some(by)) = (l.lowered(s.policy), l.lowered(s.by)) else {
            continue;
        };
        let d = if s.identical {
            Diagnostic::new(
                "W0301",
                format!(
                    "`{}` has the same triggers and grants as `{}`",
                    lp.policy.name, by.policy.name
                ),
                lp.file,
                lp.name_span,
                "shadowed by an identical policy",
            )
            .with_label(by.file, by.name_span, "the same policy, declared first")
            .with_help("delete one, or merge them under one name")
        } else {
            Diagnostic::new(
                "W0301",
                format!(
                    "`{}` is shadowed by `{}`: whenever it applies, so does `{}`, which gives everything it gives",
                    lp.policy.name, by.policy.name, by.policy.name
                ),
                lp.file,
                lp.name_span,
                "adds no access",
            )
            .with_label(
                by.file,
                by.name_span,
                format!("applies whenever `{}` does", lp.policy.name),
            )
            .with_help(format!(
                "delete `{}`, or make it give something `{}` does not",
                lp.policy.name, by.policy.name
            ))
        };
        out.push(d);
    }
}

fn reach(l: &Lowered<'_>, r: &Reach) -> Option<Diagnostic> {
    let b = &l.bundle;
    let c = b.conflicts.get(r.conflict)?;
    let (file, name_span, pattern_spans) = l.conflicts.get(r.conflict)?;
    let [s0, s1] = &r.sides;
    let ent = |s: &conflicts::Side| b.entitlement_text(&s.entitlement);
    let (&root0, &root1) = (s0.path.first()?, s1.path.first()?);
    let message = if root0 == root1 {
        format!(
            "conflict `{}` can be reached: `{}` gives both `{}` and `{}`",
            c.name,
            name(l, root0),
            ent(s0),
            ent(s1)
        )
    } else {
        format!(
            "conflict `{}` can be reached: `{}` gives `{}` and `{}` gives `{}` to the same user",
            c.name,
            name(l, root0),
            ent(s0),
            name(l, root1),
            ent(s1)
        )
    };
    let mut d = Diagnostic::new(
        "E0501",
        message,
        *file,
        *name_span,
        "some user can hold grants matching two of these patterns",
    );
    for s in [s0, s1] {
        if let Some(ps) = pattern_spans.get(s.pattern) {
            d = d.with_label(*file, *ps, format!("matched by `{}`", ent(s)));
        }
        let holder = *s.path.last()?;
        if let Some(lp) = l.lowered(holder) {
            if let Some(&span) = lp.grant_spans.get(s.grant) {
                d = d.with_label(lp.file, span, format!("`{}` given here", ent(s)));
            }
        }
    }
    for s in [s0, s1] {
        if s.path.len() > 1 {
            let path: Vec<&str> = s.path.iter().map(|&p| name(l, p)).collect();
            d = d.with_note(format!("`{}` comes through `{}`", ent(s), path.join(" > ")));
        }
    }
    d = d.with_note(format!("witness: {}", r.witness));
    if !r.denies.is_empty() {
        let shown: Vec<String> = r
            .denies
            .iter()
            .take(3)
            .filter_map(|&(q, i)| {
                let deny = b.policy(q).denies.get(i)?;
                Some(format!("`deny {}` of `{}`", deny.text, name(l, q)))
            })
            .collect();
        let more = if r.denies.len() > 3 { ", …" } else { "" };
        d = d.with_note(format!(
            "denies taken into account: {}{more}; none applies to the witness",
            shown.join(", ")
        ));
    }
    Some(d.with_help(
        "make the policies' triggers exclude each other (for example on `department`), or add a `deny` of one pattern to the policy that grants the other",
    ))
}
