//! One person under both bundles: their grants, policies and violations as text, and the
//! difference.

use super::*;
/// One entitlement of a final grant set, in text.
pub(super) struct G {
    ent: EntId,
    level: Option<String>,
    sources: Vec<String>,
    /// The sources that give it at its (highest) level.
    top_sources: Vec<String>,
}

pub(super) fn grant_map(plan: &Plan, e: &Evaluation) -> BTreeMap<String, G> {
    e.grants
        .iter()
        .map(|g| {
            (
                plan.ent_text(g.ent).to_string(),
                G {
                    ent: g.ent,
                    level: plan.level_name(g.ent, g.level).map(str::to_string),
                    sources: g.sources.iter().map(|s| plan.source_text(s)).collect(),
                    top_sources: g
                        .sources
                        .iter()
                        .filter(|s| s.level == g.level)
                        .map(|s| plan.source_text(s))
                        .collect(),
                },
            )
        })
        .collect()
}

pub(super) fn policy_names(plan: &Plan, e: &Evaluation) -> Vec<String> {
    e.policies
        .iter()
        .map(|&p| plan.bundle.policy(p).name.clone())
        .collect()
}

pub(super) fn violations(plan: &Plan, e: &Evaluation) -> Vec<ViolationText> {
    e.violations
        .iter()
        .map(|v| ViolationText {
            conflict: plan
                .bundle
                .conflicts
                .get(v.conflict)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            grants: v
                .ents
                .iter()
                .map(|&x| plan.ent_text(x).to_string())
                .collect(),
        })
        .collect()
}

pub(super) fn failed_require(plan: &Plan, e: &Evaluation) -> Option<String> {
    e.failed_require
        .and_then(|i| plan.bundle.requires.get(i))
        .map(ToString::to_string)
}

/// Per applying policy: every policy its derivation paths reach (itself included).
pub(super) fn reach_of_roots(plan: &Plan) -> IndexVec<PolicyId, Vec<PolicyId>> {
    plan.roots
        .iter_enumerated()
        .map(|(pid, root)| {
            let Some(root) = root else {
                return Vec::new();
            };
            let mut set: BTreeSet<PolicyId> = BTreeSet::new();
            set.insert(pid);
            let paths = root
                .contributions
                .iter()
                .map(|c| c.path)
                .chain(root.denies.iter().map(|d| d.1));
            for path in paths {
                set.extend(plan.path(path).iter().copied());
            }
            set.into_iter().collect()
        })
        .collect()
}

/// The rank order of two level names, by NEW's levels of the type, else OLD's.
pub(super) fn direction(
    old: (&Plan, EntId),
    new: (&Plan, EntId),
    from: Option<&str>,
    to: Option<&str>,
) -> Direction {
    for (plan, ent) in [new, old] {
        let levels = &plan.bundle.rtype(plan.ent(ent)).levels;
        let pos = |l: Option<&str>| l.and_then(|l| levels.iter().position(|x| x == l));
        if let (Some(a), Some(b)) = (pos(from), pos(to)) {
            return if b > a {
                Direction::Up
            } else {
                Direction::Down
            };
        }
    }
    Direction::Changed
}

type HeldMap = FxHashMap<String, FxHashMap<String, Option<String>>>;

/// Current access as text: user → entitlement → level.
pub(super) fn held_map(plan: &Plan, access: &Access) -> HeldMap {
    let mut out: HeldMap = FxHashMap::default();
    for a in &access.entries {
        out.entry(access.user_id(a).to_string())
            .or_default()
            .insert(
                plan.ent_text(a.ent).to_string(),
                plan.level_name(a.ent, a.level).map(str::to_string),
            );
    }
    out
}

pub(super) fn held(map: Option<&HeldMap>, user: &str, grant: &str) -> Option<Held> {
    let map = map?;
    Some(match map.get(user).and_then(|m| m.get(grant)) {
        Some(level) => Held {
            held: true,
            level: level.clone(),
        },
        None => Held {
            held: false,
            level: None,
        },
    })
}

/// Compares one user's evaluations.
pub(super) fn compare_user(
    id: &str,
    old: &Plan,
    eo: &Evaluation,
    new: &Plan,
    en: &Evaluation,
    heldm: Option<&HeldMap>,
) -> UserImpact {
    let go = grant_map(old, eo);
    let gn = grant_map(new, en);
    let mut u = UserImpact {
        user_id: id.to_string(),
        policies_before: policy_names(old, eo),
        policies_after: policy_names(new, en),
        gains: Vec::new(),
        losses: Vec::new(),
        level_changes: Vec::new(),
        new_violations: Vec::new(),
        resolved_violations: Vec::new(),
        loses_everything: !go.is_empty() && gn.is_empty(),
        fails_require_before: failed_require(old, eo),
        fails_require_after: failed_require(new, en),
    };
    for (text, n) in &gn {
        match go.get(text) {
            None => u.gains.push(Change {
                grant: text.clone(),
                level: n.level.clone(),
                sources: n.sources.clone(),
                current: held(heldm, id, text),
            }),
            Some(o) if o.level != n.level => u.level_changes.push(LevelChange {
                grant: text.clone(),
                from: o.level.clone(),
                to: n.level.clone(),
                direction: direction(
                    (old, o.ent),
                    (new, n.ent),
                    o.level.as_deref(),
                    n.level.as_deref(),
                ),
                sources: n.top_sources.clone(),
                current: held(heldm, id, text),
            }),
            Some(_) => {}
        }
    }
    for (text, o) in &go {
        if !gn.contains_key(text) {
            u.losses.push(Change {
                grant: text.clone(),
                level: o.level.clone(),
                sources: o.sources.clone(),
                current: held(heldm, id, text),
            });
        }
    }
    let vo = violations(old, eo);
    let vn = violations(new, en);
    let had: FxHashSet<&str> = vo.iter().map(|v| v.conflict.as_str()).collect();
    let has: FxHashSet<&str> = vn.iter().map(|v| v.conflict.as_str()).collect();
    u.new_violations = vn
        .iter()
        .filter(|v| !had.contains(v.conflict.as_str()))
        .cloned()
        .collect();
    u.resolved_violations = vo
        .iter()
        .filter(|v| !has.contains(v.conflict.as_str()))
        .cloned()
        .collect();
    u.new_violations.sort_by(|a, b| a.conflict.cmp(&b.conflict));
    u.resolved_violations
        .sort_by(|a, b| a.conflict.cmp(&b.conflict));
    u
}
