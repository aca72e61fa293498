//! Impact of a policy change (`polc impact OLD NEW`): every user evaluated under both
//! bundles on one date, and the difference said in people: who gains, loses or changes
//! the level of which entitlement, through which policy; which policies changed and how
//! many people each reaches; new separation-of-duties violations; and, given current
//! access, what would actually have to be provisioned or revoked.
//!
//! The two bundles intern entitlements differently, so everything is compared by canonical
//! text (`system:type[:name]`) and level names. Pure: plans, users and access in, an
//! [`Impact`] (plain strings and counts, serializable as the JSON output) out. Rendering is
//! [`super::impact_render`].

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::access::Access;
use super::drift;
use crate::eval::{EntId, Evaluation, Plan};
use crate::input::{UserRecord, Users};
use crate::ir::{self, PolicyId};

/// One side of the comparison: a bundle's plan, the users read under its schema, and the
/// current access resolved against its systems (`None`: not given, or not resolvable).
pub struct Side<'a> {
    pub plan: &'a Plan,
    pub users: &'a Users,
    pub access: Option<&'a Access>,
}

/// What the user holds today of a changed entitlement (only with `--access`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    pub held: bool,
    /// The level held (`None` when not held or for a type without levels).
    pub level: Option<String>,
}

/// An entitlement gained or lost.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub grant: String,
    pub level: Option<String>,
    /// Gains: the sources in NEW; losses: the sources it had in OLD.
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Held>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    /// The two levels are not comparable (the type's levels were redefined).
    Changed,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Changed => "changed",
        }
    }
}

/// The same entitlement at another level.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LevelChange {
    pub grant: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Direction,
    /// The sources in NEW that give the new level.
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Held>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ViolationText {
    pub conflict: String,
    pub grants: Vec<String>,
}

/// One user whose policies, grants or violations differ.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserImpact {
    pub user_id: String,
    pub policies_before: Vec<String>,
    pub policies_after: Vec<String>,
    pub gains: Vec<Change>,
    pub losses: Vec<Change>,
    pub level_changes: Vec<LevelChange>,
    pub new_violations: Vec<ViolationText>,
    pub resolved_violations: Vec<ViolationText>,
    /// Had at least one grant under OLD and has none under NEW.
    pub loses_everything: bool,
    /// The `require` the user fails, under each bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fails_require_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fails_require_after: Option<String>,
}

impl UserImpact {
    pub fn policies_added(&self) -> Vec<&str> {
        only_in(&self.policies_after, &self.policies_before)
    }

    pub fn policies_removed(&self) -> Vec<&str> {
        only_in(&self.policies_before, &self.policies_after)
    }

    fn is_change(&self) -> bool {
        !(self.gains.is_empty()
            && self.losses.is_empty()
            && self.level_changes.is_empty()
            && self.new_violations.is_empty()
            && self.resolved_violations.is_empty()
            && self.policies_before == self.policies_after)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LevelMove {
    pub user_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Direction,
}

/// One entitlement that someone gains, loses or gets at another level.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GrantImpact {
    pub grant: String,
    pub gains: usize,
    pub losses: usize,
    pub level_changes: usize,
    /// User ids, in input order.
    pub gained_by: Vec<String>,
    pub lost_by: Vec<String>,
    pub level_changed: Vec<LevelMove>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    Changed,
    Unchanged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
        }
    }
}

/// A policy or template that was added, removed or changed, or whose reach changed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PolicyImpact {
    pub name: String,
    /// `policy` or `template` (NEW's, or OLD's for a removed one).
    pub kind: &'static str,
    pub status: Status,
    /// Short, comma-separated: `triggers changed, +2 grants, -1 grant`.
    pub summary: String,
    /// One line per difference: `+grant jira:project:SE (contributor)`.
    pub details: Vec<String>,
    /// People it applies to (directly, or through `inherits`) under each bundle.
    pub users_before: usize,
    pub users_after: usize,
}

/// Counts of people (`people_*`) and of entitlement changes.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Users evaluated under both bundles.
    pub users: usize,
    pub users_changed: usize,
    pub people_gaining: usize,
    pub gains: usize,
    pub people_losing: usize,
    pub losses: usize,
    pub people_level_changed: usize,
    pub level_changes: usize,
    pub levels_up: usize,
    pub levels_down: usize,
    pub people_losing_everything: usize,
    pub people_with_new_violations: usize,
    pub new_violations: usize,
    pub resolved_violations: usize,
    pub policies_added: usize,
    pub policies_removed: usize,
    pub policies_changed: usize,
}

/// Current access against the changes (with `--access`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AccessImpact {
    /// Gains already held at that level: nothing to provision.
    pub gains_held: usize,
    /// Gains held at another level: a level to adjust.
    pub gains_held_other_level: usize,
    /// Gains not held at all: to provision.
    pub gains_to_provision: usize,
    /// Losses actually held: to revoke.
    pub losses_to_revoke: usize,
    pub losses_not_held: usize,
    /// Level changes already held at the new level.
    pub level_changes_at_target: usize,
    /// Level changes held at another level: to adjust.
    pub level_changes_to_apply: usize,
    pub level_changes_not_held: usize,
    /// `polc drift` coverage with each bundle (`None` when the access file does not
    /// resolve against that bundle's systems).
    pub coverage_before: Option<f64>,
    pub coverage_after: Option<f64>,
}

/// A record that could not be evaluated under one bundle or both.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserError {
    pub user_id: Option<String>,
    pub line: usize,
    /// `old`, `new` or `both`.
    pub side: &'static str,
    pub message: String,
    #[serde(skip)]
    index: usize,
}

/// Everything `polc impact` reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Impact {
    pub as_of: String,
    /// How OLD and NEW were named on the command line (set by the caller).
    pub old: String,
    pub new: String,
    pub headline: String,
    pub summary: Summary,
    /// Differences outside policies: `require`, conflicts, exceptions, schema.
    pub bundle_changes: Vec<String>,
    /// By name.
    pub policies: Vec<PolicyImpact>,
    /// By canonical text.
    pub grants: Vec<GrantImpact>,
    /// Users whose access, policies or violations change, in input order.
    pub users: Vec<UserImpact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessImpact>,
    pub errors: Vec<UserError>,
    pub notes: Vec<String>,
}

impl Impact {
    /// Whether anyone loses an entitlement or has one lowered (`--fail-on-loss`).
    pub fn has_loss(&self) -> bool {
        self.summary.losses + self.summary.levels_down > 0
    }

    /// Whether a user gets a separation-of-duties violation they did not have
    /// (`--fail-on-violation`).
    pub fn has_new_violation(&self) -> bool {
        self.summary.new_violations > 0
    }
}

/// One entitlement of a final grant set, in text.
struct G {
    ent: EntId,
    level: Option<String>,
    sources: Vec<String>,
    /// The sources that give it at its (highest) level.
    top_sources: Vec<String>,
}

fn grant_map(plan: &Plan, e: &Evaluation) -> BTreeMap<String, G> {
    e.grants
        .iter()
        .map(|g| {
            (
                plan.ent_text[g.ent as usize].clone(),
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

fn policy_names(plan: &Plan, e: &Evaluation) -> Vec<String> {
    e.policies
        .iter()
        .map(|&p| plan.bundle.policies[p as usize].name.clone())
        .collect()
}

fn violations(plan: &Plan, e: &Evaluation) -> Vec<ViolationText> {
    e.violations
        .iter()
        .map(|v| ViolationText {
            conflict: plan.bundle.conflicts[v.conflict].name.clone(),
            grants: v
                .ents
                .iter()
                .map(|&x| plan.ent_text[x as usize].clone())
                .collect(),
        })
        .collect()
}

fn failed_require(plan: &Plan, e: &Evaluation) -> Option<String> {
    e.failed_require
        .map(|i| plan.bundle.requires[i].to_string())
}

/// Per applying policy: every policy its derivation paths reach (itself included).
fn reach_of_roots(plan: &Plan) -> Vec<Vec<PolicyId>> {
    plan.roots
        .iter()
        .enumerate()
        .map(|(pid, root)| {
            let Some(root) = root else {
                return Vec::new();
            };
            let mut set: BTreeSet<PolicyId> = BTreeSet::new();
            set.insert(pid as PolicyId);
            let paths = root
                .contributions
                .iter()
                .map(|c| c.path)
                .chain(root.denies.iter().map(|d| d.1));
            for path in paths {
                set.extend(plan.paths[path as usize].iter().copied());
            }
            set.into_iter().collect()
        })
        .collect()
}

/// The rank order of two level names, by NEW's levels of the type, else OLD's.
fn direction(
    old: (&Plan, EntId),
    new: (&Plan, EntId),
    from: Option<&str>,
    to: Option<&str>,
) -> Direction {
    for (plan, ent) in [new, old] {
        let levels = &plan.bundle.rtype(&plan.ents[ent as usize]).levels;
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
fn held_map(plan: &Plan, access: &Access) -> HeldMap {
    let mut out: HeldMap = FxHashMap::default();
    for a in &access.entries {
        out.entry(access.user_id(a).to_string())
            .or_default()
            .insert(
                plan.ent_text[a.ent as usize].clone(),
                plan.level_name(a.ent, a.level).map(str::to_string),
            );
    }
    out
}

fn held(map: Option<&HeldMap>, user: &str, grant: &str) -> Option<Held> {
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
fn compare_user(
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

/// Evaluates every user under both bundles and compares.
pub fn compare(old: &Side, new: &Side, with_access: bool) -> Impact {
    let old_by_id: FxHashMap<&str, &UserRecord> = old
        .users
        .records
        .iter()
        .map(|r| (r.id.as_str(), r))
        .collect();
    // The first error of each user id under OLD.
    let mut old_errors: FxHashMap<&str, &crate::input::RecordError> = FxHashMap::default();
    for e in &old.users.errors {
        if let Some(id) = e.user_id.as_deref() {
            old_errors.entry(id).or_insert(e);
        }
    }
    let old_err = |id: &str| old_errors.get(id).copied();
    let heldm = if with_access {
        match (new.access, old.access) {
            (Some(a), _) => Some(held_map(new.plan, a)),
            (None, Some(a)) => Some(held_map(old.plan, a)),
            (None, None) => None,
        }
    } else {
        None
    };
    let reach_old = reach_of_roots(old.plan);
    let reach_new = reach_of_roots(new.plan);
    let mut count_old: FxHashMap<&str, usize> = FxHashMap::default();
    let mut count_new: FxHashMap<&str, usize> = FxHashMap::default();
    let reached = |reach: &[Vec<PolicyId>], e: &Evaluation| -> BTreeSet<PolicyId> {
        e.policies
            .iter()
            .flat_map(|&p| reach[p as usize].iter().copied())
            .collect()
    };

    let mut users: Vec<(usize, UserImpact)> = Vec::new();
    let mut errors: Vec<UserError> = Vec::new();
    let mut evaluated = 0usize;
    for rec in &new.users.records {
        let Some(orec) = old_by_id.get(rec.id.as_str()) else {
            let (line, message) = old_err(&rec.id)
                .map(|e| (e.line, e.message.clone()))
                .unwrap_or((rec.line, "not read under OLD's schema".into()));
            errors.push(UserError {
                user_id: Some(rec.id.clone()),
                line,
                side: "old",
                message,
                index: rec.index,
            });
            continue;
        };
        evaluated += 1;
        let eo = old.plan.evaluate(&orec.id, &orec.values);
        let en = new.plan.evaluate(&rec.id, &rec.values);
        for p in reached(&reach_old, &eo) {
            *count_old
                .entry(old.plan.bundle.policies[p as usize].name.as_str())
                .or_default() += 1;
        }
        for p in reached(&reach_new, &en) {
            *count_new
                .entry(new.plan.bundle.policies[p as usize].name.as_str())
                .or_default() += 1;
        }
        let u = compare_user(&rec.id, old.plan, &eo, new.plan, &en, heldm.as_ref());
        if u.is_change() {
            users.push((rec.index, u));
        }
    }
    for e in &new.users.errors {
        let side = match &e.user_id {
            Some(id) if old_by_id.contains_key(id.as_str()) => "new",
            _ => "both",
        };
        errors.push(UserError {
            user_id: e.user_id.clone(),
            line: e.line,
            side,
            message: e.message.clone(),
            index: e.index,
        });
    }
    errors.sort_by_key(|e| e.index);
    users.sort_by_key(|(i, _)| *i);
    let users: Vec<UserImpact> = users.into_iter().map(|(_, u)| u).collect();

    let policies = compare_policies(old.plan, new.plan, &count_old, &count_new);
    let grants = per_grant(&users);
    let mut summary = Summary {
        users: evaluated,
        users_changed: users.len(),
        ..Summary::default()
    };
    for u in &users {
        summary.people_gaining += usize::from(!u.gains.is_empty());
        summary.gains += u.gains.len();
        summary.people_losing += usize::from(!u.losses.is_empty());
        summary.losses += u.losses.len();
        summary.people_level_changed += usize::from(!u.level_changes.is_empty());
        summary.level_changes += u.level_changes.len();
        for l in &u.level_changes {
            summary.levels_up += usize::from(l.direction == Direction::Up);
            summary.levels_down += usize::from(l.direction == Direction::Down);
        }
        summary.people_losing_everything += usize::from(u.loses_everything);
        summary.people_with_new_violations += usize::from(!u.new_violations.is_empty());
        summary.new_violations += u.new_violations.len();
        summary.resolved_violations += u.resolved_violations.len();
    }
    for p in &policies {
        match p.status {
            Status::Added => summary.policies_added += 1,
            Status::Removed => summary.policies_removed += 1,
            Status::Changed => summary.policies_changed += 1,
            Status::Unchanged => {}
        }
    }
    let bundle_changes = compare_bundles(old.plan, new.plan);

    let access = with_access.then(|| {
        let mut a = AccessImpact::default();
        for u in &users {
            for g in &u.gains {
                match &g.current {
                    Some(h) if h.held && h.level == g.level => a.gains_held += 1,
                    Some(h) if h.held => a.gains_held_other_level += 1,
                    _ => a.gains_to_provision += 1,
                }
            }
            for l in &u.losses {
                match &l.current {
                    Some(h) if h.held => a.losses_to_revoke += 1,
                    _ => a.losses_not_held += 1,
                }
            }
            for l in &u.level_changes {
                match &l.current {
                    Some(h) if h.held && h.level == l.to => a.level_changes_at_target += 1,
                    Some(h) if h.held => a.level_changes_to_apply += 1,
                    _ => a.level_changes_not_held += 1,
                }
            }
        }
        let coverage = |s: &Side| {
            s.access
                .map(|acc| drift::drift(s.plan, s.users, acc).summary.coverage_percent)
        };
        a.coverage_before = coverage(old);
        a.coverage_after = coverage(new);
        a
    });

    Impact {
        as_of: new.plan.at.to_string(),
        old: String::new(),
        new: String::new(),
        headline: headline(&summary, bundle_changes.len()),
        summary,
        bundle_changes,
        policies,
        grants,
        users,
        access,
        errors,
        notes: Vec::new(),
    }
}

/// The items of `a` that are not in `b`, in `a`'s order (through a set: linear).
fn only_in<'x>(a: &'x [String], b: &[String]) -> Vec<&'x str> {
    let b: FxHashSet<&str> = b.iter().map(String::as_str).collect();
    a.iter()
        .map(String::as_str)
        .filter(|x| !b.contains(x))
        .collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `gives 3 people new access (5 grants), removes access from 1 person (2 grants), …`.
pub fn headline(s: &Summary, bundle_changes: usize) -> String {
    let mut parts = Vec::new();
    if s.gains > 0 {
        parts.push(format!(
            "gives {} new access ({})",
            plural(s.people_gaining, "person", "people"),
            plural(s.gains, "grant", "grants")
        ));
    }
    if s.losses > 0 {
        parts.push(format!(
            "removes access from {} ({})",
            plural(s.people_losing, "person", "people"),
            plural(s.losses, "grant", "grants")
        ));
    }
    if s.level_changes > 0 {
        parts.push(format!(
            "changes {} for {} ({} up, {} down)",
            plural(s.level_changes, "level", "levels"),
            plural(s.people_level_changed, "person", "people"),
            s.levels_up,
            s.levels_down
        ));
    }
    if s.new_violations > 0 {
        parts.push(format!(
            "creates {} for {}",
            plural(
                s.new_violations,
                "separation-of-duties violation",
                "separation-of-duties violations"
            ),
            plural(s.people_with_new_violations, "person", "people")
        ));
    }
    let changed = s.policies_added + s.policies_removed + s.policies_changed + bundle_changes;
    if parts.is_empty() {
        let everyone = match s.users {
            1 => "the 1 person evaluated gets".to_string(),
            n => format!("all {n} people evaluated get"),
        };
        let mut out = format!("No change in access: {everyone} the same access under both bundles");
        if changed > 0 {
            let mut what = Vec::new();
            for (n, one, many) in [
                (s.policies_added, "policy added", "policies added"),
                (s.policies_removed, "policy removed", "policies removed"),
                (s.policies_changed, "policy changed", "policies changed"),
                (bundle_changes, "other change", "other changes"),
            ] {
                if n > 0 {
                    what.push(plural(n, one, many));
                }
            }
            out.push_str(&format!(" ({})", what.join(", ")));
        }
        if s.resolved_violations > 0 {
            out.push_str(&format!(
                "; resolves {}",
                plural(
                    s.resolved_violations,
                    "separation-of-duties violation",
                    "separation-of-duties violations"
                )
            ));
        }
        return out;
    }
    let mut out = format!("This change {}", parts.join(", "));
    if s.people_losing_everything > 0 {
        out.push_str(&format!(
            "; {} {} all access",
            plural(s.people_losing_everything, "person", "people"),
            if s.people_losing_everything == 1 {
                "loses"
            } else {
                "lose"
            }
        ));
    }
    out
}

/// Per entitlement, by text: who gains, loses or changes level (users in input order).
fn per_grant(users: &[UserImpact]) -> Vec<GrantImpact> {
    fn entry<'m>(map: &'m mut BTreeMap<String, GrantImpact>, g: &str) -> &'m mut GrantImpact {
        map.entry(g.to_string()).or_insert_with(|| GrantImpact {
            grant: g.to_string(),
            gains: 0,
            losses: 0,
            level_changes: 0,
            gained_by: Vec::new(),
            lost_by: Vec::new(),
            level_changed: Vec::new(),
        })
    }
    let mut map: BTreeMap<String, GrantImpact> = BTreeMap::new();
    for u in users {
        for g in &u.gains {
            entry(&mut map, &g.grant).gained_by.push(u.user_id.clone());
        }
        for g in &u.losses {
            entry(&mut map, &g.grant).lost_by.push(u.user_id.clone());
        }
        for l in &u.level_changes {
            entry(&mut map, &l.grant).level_changed.push(LevelMove {
                user_id: u.user_id.clone(),
                from: l.from.clone(),
                to: l.to.clone(),
                direction: l.direction,
            });
        }
    }
    map.into_values()
        .map(|mut g| {
            g.gains = g.gained_by.len();
            g.losses = g.lost_by.len();
            g.level_changes = g.level_changed.len();
            g
        })
        .collect()
}

fn grant_text(b: &ir::Bundle, g: &ir::Grant) -> (String, Option<String>) {
    (
        b.entitlement_text(&g.entitlement),
        b.level_name(&g.entitlement, g.level).map(str::to_string),
    )
}

fn with_level(text: &str, level: Option<&str>) -> String {
    match level {
        Some(l) => format!("{text} ({l})"),
        None => text.to_string(),
    }
}

fn triggers_text(p: &ir::Policy) -> String {
    if p.triggers.is_empty() {
        return "(none)".into();
    }
    p.triggers
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

fn opt_date(d: Option<chrono::NaiveDate>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.to_string())
}

/// The differences of two same-name policies: `(short summary items, detail lines)`.
fn diff_policy(
    ob: &ir::Bundle,
    op: &ir::Policy,
    nb: &ir::Bundle,
    np: &ir::Policy,
) -> (Vec<String>, Vec<String>) {
    let mut short = Vec::new();
    let mut details = Vec::new();
    if op.template != np.template {
        let k = |t: bool| if t { "template" } else { "policy" };
        short.push(format!("now a {}", k(np.template)));
        details.push(format!("{} → {}", k(op.template), k(np.template)));
    }
    if op.triggers != np.triggers {
        short.push("triggers changed".into());
        details.push(format!(
            "when: {} → {}",
            triggers_text(op),
            triggers_text(np)
        ));
    }
    let names = |b: &ir::Bundle, p: &ir::Policy| -> Vec<String> {
        p.inherits
            .iter()
            .map(|&i| b.policies[i as usize].name.clone())
            .collect()
    };
    let (oi, ni) = (names(ob, op), names(nb, np));
    let inh_added = only_in(&ni, &oi);
    let inh_removed = only_in(&oi, &ni);
    if !inh_added.is_empty() {
        short.push(format!("+{} inherited", inh_added.len()));
    }
    if !inh_removed.is_empty() {
        short.push(format!("-{} inherited", inh_removed.len()));
    }
    details.extend(inh_added.iter().map(|n| format!("+inherits \"{n}\"")));
    details.extend(inh_removed.iter().map(|n| format!("-inherits \"{n}\"")));

    let grants = |b: &ir::Bundle, p: &ir::Policy| -> BTreeMap<String, (Option<String>, String)> {
        p.grants
            .iter()
            .map(|g| {
                let (t, l) = grant_text(b, g);
                let grace = g.grace.map(|d| d.to_string()).unwrap_or_default();
                (t, (l, grace))
            })
            .collect()
    };
    let (og, ng) = (grants(ob, op), grants(nb, np));
    let mut added = 0;
    let mut removed = 0;
    let mut levels = 0;
    let mut graces = 0;
    for (t, (l, _)) in &ng {
        if !og.contains_key(t) {
            added += 1;
            details.push(format!("+grant {}", with_level(t, l.as_deref())));
        }
    }
    for (t, (l, _)) in &og {
        if !ng.contains_key(t) {
            removed += 1;
            details.push(format!("-grant {}", with_level(t, l.as_deref())));
        }
    }
    for (t, (nl, ngr)) in &ng {
        if let Some((ol, ogr)) = og.get(t) {
            if ol != nl {
                levels += 1;
                details.push(format!(
                    "grant {t}: {} → {}",
                    ol.as_deref().unwrap_or("-"),
                    nl.as_deref().unwrap_or("-")
                ));
            }
            if ogr != ngr {
                graces += 1;
                let g = |s: &str| {
                    if s.is_empty() {
                        "none".to_string()
                    } else {
                        s.to_string()
                    }
                };
                details.push(format!("grant {t}: grace {} → {}", g(ogr), g(ngr)));
            }
        }
    }
    if added > 0 {
        short.push(format!("+{}", plural(added, "grant", "grants")));
    }
    if removed > 0 {
        short.push(format!("-{}", plural(removed, "grant", "grants")));
    }
    if levels > 0 {
        short.push(plural(levels, "level changed", "levels changed"));
    }
    if graces > 0 {
        short.push(plural(graces, "grace changed", "graces changed"));
    }

    let pats =
        |p: &ir::Policy| -> Vec<String> { p.denies.iter().map(|d| d.text.clone()).collect() };
    let (od, nd) = (pats(op), pats(np));
    let d_added = only_in(&nd, &od);
    let d_removed = only_in(&od, &nd);
    if !d_added.is_empty() {
        short.push(format!("+{}", plural(d_added.len(), "deny", "denies")));
    }
    if !d_removed.is_empty() {
        short.push(format!("-{}", plural(d_removed.len(), "deny", "denies")));
    }
    details.extend(d_added.iter().map(|d| format!("+deny {d}")));
    details.extend(d_removed.iter().map(|d| format!("-deny {d}")));

    if (op.effective, op.expires) != (np.effective, np.expires) {
        short.push("dates changed".into());
        details.push(format!(
            "in force: effective {} expires {} → effective {} expires {}",
            opt_date(op.effective),
            opt_date(op.expires),
            opt_date(np.effective),
            opt_date(np.expires)
        ));
    }
    let meta = |p: &ir::Policy| {
        (
            p.version.clone(),
            p.owner.clone(),
            p.description.clone(),
            p.doc.clone(),
        )
    };
    if meta(op) != meta(np) {
        short.push("metadata changed".into());
        if op.version != np.version {
            details.push(format!(
                "version {} → {}",
                op.version.as_deref().unwrap_or("-"),
                np.version.as_deref().unwrap_or("-")
            ));
        }
        if op.owner != np.owner {
            details.push(format!(
                "owner {} → {}",
                op.owner.as_deref().unwrap_or("-"),
                np.owner.as_deref().unwrap_or("-")
            ));
        }
    }
    (short, details)
}

fn kind(p: &ir::Policy) -> &'static str {
    if p.template {
        "template"
    } else {
        "policy"
    }
}

fn policy_details(b: &ir::Bundle, p: &ir::Policy, sign: char) -> Vec<String> {
    let mut out = Vec::new();
    if !p.template {
        out.push(format!("when: {}", triggers_text(p)));
    }
    for &i in &p.inherits {
        out.push(format!(
            "{sign}inherits \"{}\"",
            b.policies[i as usize].name
        ));
    }
    for g in &p.grants {
        let (t, l) = grant_text(b, g);
        out.push(format!("{sign}grant {}", with_level(&t, l.as_deref())));
    }
    for d in &p.denies {
        out.push(format!("{sign}deny {}", d.text));
    }
    out
}

/// Policies by name: added, removed, changed, or unchanged but reaching other people.
fn compare_policies(
    old: &Plan,
    new: &Plan,
    count_old: &FxHashMap<&str, usize>,
    count_new: &FxHashMap<&str, usize>,
) -> Vec<PolicyImpact> {
    let (ob, nb) = (&*old.bundle, &*new.bundle);
    let mut names: BTreeSet<&str> = BTreeSet::new();
    names.extend(ob.policies.iter().map(|p| p.name.as_str()));
    names.extend(nb.policies.iter().map(|p| p.name.as_str()));
    // By name through a map: looking each up by a scan was quadratic in the policies.
    fn by_name(b: &ir::Bundle) -> FxHashMap<&str, &ir::Policy> {
        let mut m = FxHashMap::default();
        for p in &b.policies {
            m.entry(p.name.as_str()).or_insert(p);
        }
        m
    }
    let (obn, nbn) = (by_name(ob), by_name(nb));
    let mut out = Vec::new();
    for name in names {
        let op = obn.get(name).copied();
        let np = nbn.get(name).copied();
        let users_before = count_old.get(name).copied().unwrap_or(0);
        let users_after = count_new.get(name).copied().unwrap_or(0);
        let (status, kind, short, details) = match (op, np) {
            (None, Some(p)) => (
                Status::Added,
                kind(p),
                Vec::new(),
                policy_details(nb, p, '+'),
            ),
            (Some(p), None) => (
                Status::Removed,
                kind(p),
                Vec::new(),
                policy_details(ob, p, '-'),
            ),
            (Some(o), Some(n)) => {
                let (short, details) = diff_policy(ob, o, nb, n);
                let status = if short.is_empty() {
                    Status::Unchanged
                } else {
                    Status::Changed
                };
                (status, kind(n), short, details)
            }
            (None, None) => unreachable!("a name from one of the bundles"),
        };
        if status == Status::Unchanged && users_before == users_after {
            continue;
        }
        let summary = match status {
            Status::Added => format!("new {kind}"),
            Status::Removed => format!("{kind} removed"),
            Status::Changed => short.join(", "),
            Status::Unchanged => "reach changed".into(),
        };
        out.push(PolicyImpact {
            name: name.to_string(),
            kind,
            status,
            summary,
            details,
            users_before,
            users_after,
        });
    }
    out
}

/// Differences outside policies: `require`s, conflicts, exceptions, the schema.
fn compare_bundles(old: &Plan, new: &Plan) -> Vec<String> {
    let (ob, nb) = (&*old.bundle, &*new.bundle);
    let mut out = Vec::new();
    if ob.requires != nb.requires {
        let text = |b: &ir::Bundle| {
            if b.requires.is_empty() {
                "(none)".to_string()
            } else {
                b.requires
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            }
        };
        out.push(format!("require: {} → {}", text(ob), text(nb)));
    }
    fn conflicts(b: &ir::Bundle) -> FxHashMap<&str, &ir::Conflict> {
        let mut m = FxHashMap::default();
        for c in &b.conflicts {
            m.entry(c.name.as_str()).or_insert(c);
        }
        m
    }
    let (oc, nc) = (conflicts(ob), conflicts(nb));
    let conflict =
        |m: &FxHashMap<&str, &ir::Conflict>, name: &str| m.get(name).map(|c| (*c).clone());
    let mut cnames: BTreeSet<&str> = ob.conflicts.iter().map(|c| c.name.as_str()).collect();
    cnames.extend(nb.conflicts.iter().map(|c| c.name.as_str()));
    for name in cnames {
        match (conflict(&oc, name), conflict(&nc, name)) {
            (None, Some(_)) => out.push(format!("+conflict \"{name}\"")),
            (Some(_), None) => out.push(format!("-conflict \"{name}\"")),
            (Some(a), Some(b)) => {
                let pats = |c: &ir::Conflict| {
                    c.patterns
                        .iter()
                        .map(|p| p.text.clone())
                        .collect::<Vec<_>>()
                };
                if pats(&a) != pats(&b) {
                    out.push(format!(
                        "conflict \"{name}\": {} → {}",
                        pats(&a).join(", "),
                        pats(&b).join(", ")
                    ));
                }
            }
            (None, None) => {}
        }
    }
    // Exceptions by label and user; the same one with other grants or dates is "changed".
    let exc = |b: &ir::Bundle| -> BTreeMap<(String, String), ir::Exception> {
        b.exceptions
            .iter()
            .map(|e| ((e.source_label(), e.user.clone()), e.clone()))
            .collect()
    };
    let (oe, ne) = (exc(ob), exc(nb));
    let grants = |b: &ir::Bundle, e: &ir::Exception| -> Vec<(String, Option<String>)> {
        e.grants.iter().map(|g| grant_text(b, g)).collect()
    };
    let mut keys: BTreeSet<&(String, String)> = oe.keys().collect();
    keys.extend(ne.keys());
    for key @ (label, user) in keys {
        match (oe.get(key), ne.get(key)) {
            (None, Some(_)) => out.push(format!("+{label} (user {user})")),
            (Some(_), None) => out.push(format!("-{label} (user {user})")),
            (Some(a), Some(b))
                if grants(ob, a) != grants(nb, b)
                    || (a.effective, a.expires) != (b.effective, b.expires) =>
            {
                out.push(format!("{label} (user {user}) changed"))
            }
            _ => {}
        }
    }
    if ob.schema != nb.schema {
        out.push("schema changed".into());
    }
    out
}

#[cfg(test)]
mod tests;
