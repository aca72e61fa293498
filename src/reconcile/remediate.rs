//! `polc plan`: the remediation plan for drift. Grant what is missing, revoke what is
//! excess, set levels that are wrong, keep what an exception covers. A JSON plan file that a
//! person reviews and `polc apply` (the provisioning issue) carries out, with a summary and a
//! per-system breakdown for the review.

use std::collections::BTreeMap;

use serde::Serialize;

use super::access::Access;
use super::drift::{DriftReport, Finding, Summary as DriftSummary, UserDrift};
use crate::eval::{EntId, Plan};
use crate::input::Users;

pub const PLAN_FORMAT: &str = "polc-plan";
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Grant,
    Revoke,
    SetLevel,
    Keep,
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub id: usize,
    pub action: ActionKind,
    pub user_id: String,
    pub system: String,
    pub grant: String,
    /// Grant, revoke, keep: the level; set_level: the new level.
    pub level: Option<String>,
    /// set_level: the level held now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub grant: usize,
    pub revoke: usize,
    pub set_level: usize,
    pub keep: usize,
}

impl Counts {
    fn add(&mut self, k: ActionKind) {
        match k {
            ActionKind::Grant => self.grant += 1,
            ActionKind::Revoke => self.revoke += 1,
            ActionKind::SetLevel => self.set_level += 1,
            ActionKind::Keep => self.keep += 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemCounts {
    pub system: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub users: usize,
    pub actions: usize,
    #[serde(flatten)]
    pub counts: Counts,
    pub coverage_percent: f64,
    pub coverage_after: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemediationPlan {
    pub format: &'static str,
    pub version: u32,
    pub generated_by: String,
    pub as_of: String,
    pub summary: Summary,
    pub systems: Vec<SystemCounts>,
    pub actions: Vec<Action>,
}

/// One user's actions, without their ids, in the order `polc drift` lists their findings:
/// excess (revoke), level mismatches, missing (grant), excepted (keep); each by grant.
fn user_actions(plan: &Plan, u: &UserDrift) -> Vec<Action> {
    let b = &*plan.bundle;
    let lvl = |ent: EntId, l: Option<u8>| plan.level_name(ent, l).map(str::to_string);
    let sys = |ent: EntId| b.system(plan.ent(ent).system).name.clone();
    let mut actions = Vec::new();
    for f in &u.findings {
        let (kind, ent, level, from, reason) = match f {
            Finding::Covered { .. } => continue,
            Finding::Missing {
                ent,
                level,
                sources,
            } => (
                ActionKind::Grant,
                *ent,
                lvl(*ent, *level),
                None,
                format!("expected by {}", sources.join("; ")),
            ),
            Finding::Excess { ent, level } => (
                ActionKind::Revoke,
                *ent,
                lvl(*ent, *level),
                None,
                if u.orphaned {
                    "orphaned account: in no HRIS record".to_string()
                } else {
                    "not expected by any policy".to_string()
                },
            ),
            Finding::LevelMismatch {
                ent,
                current,
                expected,
                sources,
            } => (
                ActionKind::SetLevel,
                *ent,
                lvl(*ent, *expected),
                lvl(*ent, *current),
                format!(
                    "policy gives {} ({})",
                    lvl(*ent, *expected).unwrap_or_default(),
                    sources.join("; ")
                ),
            ),
            Finding::Excepted {
                ent,
                level,
                exception,
            } => {
                let Some(x) = b.exceptions.get(*exception) else {
                    continue;
                };
                (
                    ActionKind::Keep,
                    *ent,
                    lvl(*ent, *level),
                    None,
                    format!(
                        "{} until {}, approved by {}",
                        x.source_label(),
                        x.expires,
                        x.approved_by
                    ),
                )
            }
        };
        actions.push(Action {
            id: 0,
            action: kind,
            user_id: u.user_id.clone(),
            system: sys(ent),
            grant: plan.ent_text(ent).to_string(),
            level,
            from,
            reason,
        });
    }
    let rank = |k: ActionKind| match k {
        ActionKind::Revoke => 0,
        ActionKind::SetLevel => 1,
        ActionKind::Grant => 2,
        ActionKind::Keep => 3,
    };
    actions.sort_by(|a, b| (rank(a.action), &a.grant).cmp(&(rank(b.action), &b.grant)));
    actions
}

/// What a plan's actions add up to, counted before they are listed.
#[derive(Debug, Clone, Default)]
struct Tally {
    counts: Counts,
    per_system: BTreeMap<String, Counts>,
    actions: usize,
}

impl Tally {
    fn add(&mut self, a: &Action) {
        self.actions += 1;
        self.counts.add(a.action);
        match self.per_system.get_mut(&a.system) {
            Some(c) => c.add(a.action),
            None => {
                let mut c = Counts::default();
                c.add(a.action);
                self.per_system.insert(a.system.clone(), c);
            }
        }
    }

    /// The plan's summary, from the drift's: `users` holds the users with an action.
    fn summary(self, users: usize, s: &DriftSummary) -> (Summary, Vec<SystemCounts>) {
        // After the plan: every remaining entry is covered, except the excepted ones kept.
        let after_entries = s.covered + s.level_mismatch + s.missing + s.excepted;
        let coverage_after =
            super::drift::coverage_percent(s.covered + s.level_mismatch + s.missing, after_entries);
        let summary = Summary {
            users,
            actions: self.actions,
            counts: self.counts,
            coverage_percent: s.coverage_percent,
            coverage_after,
        };
        let systems = self
            .per_system
            .into_iter()
            .map(|(system, counts)| SystemCounts { system, counts })
            .collect();
        (summary, systems)
    }
}

/// The actions that bring current access to what policy expects (and keep excepted access).
pub fn remediate(plan: &Plan, drift: &DriftReport) -> RemediationPlan {
    let mut actions = Vec::new();
    for u in &drift.users {
        actions.extend(user_actions(plan, u));
    }
    let mut tally = Tally::default();
    for (i, a) in actions.iter_mut().enumerate() {
        a.id = i + 1;
        tally.add(a);
    }
    let users = actions
        .iter()
        .map(|a| a.user_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let (summary, systems) = tally.summary(users, &drift.summary);
    RemediationPlan {
        format: PLAN_FORMAT,
        version: PLAN_VERSION,
        generated_by: generated_by(),
        as_of: drift.as_of.to_string(),
        summary,
        systems,
        actions,
    }
}

fn generated_by() -> String {
    format!("polc {}", env!("CARGO_PKG_VERSION"))
}

/// A plan's head (everything but its actions), counted in a pass over every user so that
/// [`write_json`] and [`write_human`] can write it before the actions, which they make
/// again user by user: the plan of millions of people is never held.
#[derive(Debug, Clone)]
pub struct PlanHead {
    pub as_of: String,
    pub summary: Summary,
    pub systems: Vec<SystemCounts>,
}

/// [`remediate`]'s head, without keeping the drift report or the actions.
pub fn head(plan: &Plan, users: &Users, access: &Access) -> PlanHead {
    let mut tally = Tally::default();
    let mut with_actions = 0;
    let drift = super::drift::each_user_counted(plan, users, access, |u| {
        let actions = user_actions(plan, u);
        // a user is listed once (the users file's ids are unique, orphans are in none)
        with_actions += usize::from(!actions.is_empty());
        for a in &actions {
            tally.add(a);
        }
    });
    let (summary, systems) = tally.summary(with_actions, &drift);
    PlanHead {
        as_of: plan.at.to_string(),
        summary,
        systems,
    }
}

/// Each action of the plan in order with its id, made user by user.
fn each_action(
    plan: &Plan,
    users: &Users,
    access: &Access,
    mut f: impl FnMut(&Action) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut id = 0;
    let mut result = Ok(());
    super::drift::for_each_user(plan, users, access, |u| {
        if result.is_err() {
            return;
        }
        for mut a in user_actions(plan, &u) {
            id += 1;
            a.id = id;
            result = f(&a);
            if result.is_err() {
                return;
            }
        }
    });
    result
}

/// The plan as JSON, byte for byte `serde_json::to_string_pretty` of [`remediate`]'s, written
/// action by action after its `head` (a second pass over every user).
pub fn write_json<W: std::io::Write + ?Sized>(
    plan: &Plan,
    users: &Users,
    access: &Access,
    head: &PlanHead,
    w: &mut W,
) -> std::io::Result<()> {
    use super::report::pretty_at;
    let text = |s: &str| serde_json::to_string(s).map_err(std::io::Error::other);
    write!(
        w,
        "{{\n  \"format\": {},\n  \"version\": {PLAN_VERSION},\n  \"generated_by\": {},\n  \"as_of\": {},\n  \"summary\": {},\n  \"systems\": {},\n  \"actions\": [",
        text(PLAN_FORMAT)?,
        text(&generated_by())?,
        text(&head.as_of)?,
        pretty_at(&head.summary, 1)?,
        pretty_at(&head.systems, 1)?,
    )?;
    let mut first = true;
    each_action(plan, users, access, |a| {
        let sep = if first { "\n    " } else { ",\n    " };
        first = false;
        write!(w, "{sep}{}", pretty_at(a, 2)?)
    })?;
    if first {
        write!(w, "]\n}}")
    } else {
        write!(w, "\n  ]\n}}")
    }
}

/// The plan as a person reviews it, byte for byte [`human`] of [`remediate`]'s through
/// [`crate::text::terminal_lines`], written action by action after its `head`.
pub fn write_human<W: std::io::Write + ?Sized>(
    plan: &Plan,
    users: &Users,
    access: &Access,
    head: &PlanHead,
    w: &mut W,
) -> std::io::Result<()> {
    let mut chunk = String::new();
    human_head(&head.as_of, &head.summary, &head.systems, &mut chunk);
    w.write_all(crate::text::terminal_lines(&chunk).as_bytes())?;
    let mut user = String::new();
    each_action(plan, users, access, |a| {
        chunk.clear();
        human_action(a, &mut user, &mut chunk);
        w.write_all(crate::text::terminal_lines(&chunk).as_bytes())
    })
}

/// The plan as a person reviews it.
pub fn human(p: &RemediationPlan) -> String {
    let mut out = String::new();
    human_head(&p.as_of, &p.summary, &p.systems, &mut out);
    let mut user = String::new();
    for a in &p.actions {
        human_action(a, &mut user, &mut out);
    }
    out
}

/// The title, the counts and the table of systems.
fn human_head(as_of: &str, summary: &Summary, systems: &[SystemCounts], out: &mut String) {
    use std::fmt::Write;
    let c = &summary.counts;
    let _ = writeln!(out, "Remediation plan as of {as_of}");
    let _ = writeln!(
        out,
        "{} actions for {} users: {} grant, {} revoke, {} set level, {} keep (excepted)",
        summary.actions, summary.users, c.grant, c.revoke, c.set_level, c.keep
    );
    let _ = writeln!(
        out,
        "coverage {:.1}% now, {:.1}% after the plan\n",
        summary.coverage_percent, summary.coverage_after
    );
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>6} {:>9} {:>5}",
        "SYSTEM", "GRANT", "REVOKE", "SET LEVEL", "KEEP"
    );
    for s in systems {
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>9} {:>5}",
            s.system, s.counts.grant, s.counts.revoke, s.counts.set_level, s.counts.keep
        );
    }
}

/// One action's line, after its user's when it is the first of theirs (`user`: the user of
/// the action before).
fn human_action(a: &Action, user: &mut String, out: &mut String) {
    use std::fmt::Write;
    if a.user_id != *user {
        user.clone_from(&a.user_id);
        let _ = writeln!(out, "\n{}", crate::text::terminal(user));
    }
    let lvl = match (&a.from, &a.level) {
        (Some(f), Some(t)) => format!(" ({f} → {t})"),
        (_, Some(l)) => format!(" ({l})"),
        _ => String::new(),
    };
    let verb = match a.action {
        ActionKind::Grant => "+ grant ",
        ActionKind::Revoke => "- revoke",
        ActionKind::SetLevel => "~ level ",
        ActionKind::Keep => "= keep  ",
    };
    let _ = writeln!(
        out,
        "  #{:<4} {verb} {}{lvl}  ({})",
        a.id, a.grant, a.reason
    );
}
