//! Impact of a policy change (`polc impact OLD NEW`): every user evaluated under both
//! bundles on one date, and the difference said in people: who gains, loses or changes
//! the level of which entitlement, through which policy; which policies changed and how
//! many people each reaches; new separation-of-duties violations; and, given current
//! access, what would actually have to be provisioned or revoked.
//!
//! The two bundles intern entitlements differently, so everything is compared by canonical
//! text (`system:type[:name]`) and level names. Pure: plans, users and access in, an
//! [`Impact`] (plain strings and counts, serializable as the JSON output) out. Rendering is
//! [`render`].

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::access::Access;
use super::drift;
use crate::eval::{EntId, Evaluation, Plan};
use crate::index_vec::IndexVec;
use crate::input::{UserRecord, Users};
use crate::ir::{self, PolicyId};

mod headline;
mod person;
mod policy;
pub mod render;

use crate::text::plural;
pub use headline::headline;
use person::*;
use policy::*;

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
    let reached =
        |reach: &IndexVec<PolicyId, Vec<PolicyId>>, e: &Evaluation| -> BTreeSet<PolicyId> {
            e.policies
                .iter()
                .flat_map(|&p| reach.get(p).into_iter().flatten().copied())
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
                .entry(old.plan.bundle.policy(p).name.as_str())
                .or_default() += 1;
        }
        for p in reached(&reach_new, &en) {
            *count_new
                .entry(new.plan.bundle.policy(p).name.as_str())
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

#[cfg(test)]
mod tests;
