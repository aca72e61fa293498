//! `polc plan`: the remediation plan for drift. Grant what is missing, revoke what is
//! excess, set levels that are wrong, keep what an exception covers. A JSON plan file that a
//! person reviews and `polc apply` (the provisioning issue) carries out, with a summary and a
//! per-system breakdown for the review.

use std::collections::BTreeMap;

use serde::Serialize;

use super::drift::{DriftReport, Finding};
use crate::eval::{EntId, Plan};

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

/// The actions that bring current access to what policy expects (and keep excepted access).
pub fn remediate(plan: &Plan, drift: &DriftReport) -> RemediationPlan {
    let b = &*plan.bundle;
    let mut actions = Vec::new();
    let lvl = |ent: EntId, l: Option<u8>| plan.level_name(ent, l).map(str::to_string);
    let sys = |ent: EntId| b.system(plan.ent(ent).system).name.clone();
    for u in &drift.users {
        let first = actions.len();
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
        // A user's actions in the order `polc drift` lists their findings: excess (revoke),
        // level mismatches, missing (grant), excepted (keep); each by grant.
        let rank = |k: ActionKind| match k {
            ActionKind::Revoke => 0,
            ActionKind::SetLevel => 1,
            ActionKind::Grant => 2,
            ActionKind::Keep => 3,
        };
        if let Some(mine) = actions.get_mut(first..) {
            mine.sort_by(|a, b| (rank(a.action), &a.grant).cmp(&(rank(b.action), &b.grant)));
        }
    }
    for (i, a) in actions.iter_mut().enumerate() {
        a.id = i + 1;
    }
    let mut counts = Counts::default();
    let mut per_system: BTreeMap<String, Counts> = BTreeMap::new();
    for a in &actions {
        counts.add(a.action);
        per_system
            .entry(a.system.clone())
            .or_default()
            .add(a.action);
    }
    let s = &drift.summary;
    // After the plan: every remaining entry is covered, except the excepted ones kept.
    let after_entries = s.covered + s.level_mismatch + s.missing + s.excepted;
    let coverage_after =
        super::drift::coverage_percent(s.covered + s.level_mismatch + s.missing, after_entries);
    RemediationPlan {
        format: PLAN_FORMAT,
        version: PLAN_VERSION,
        generated_by: format!("polc {}", env!("CARGO_PKG_VERSION")),
        as_of: drift.as_of.to_string(),
        summary: Summary {
            users: actions
                .iter()
                .map(|a| a.user_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            actions: actions.len(),
            counts,
            coverage_percent: s.coverage_percent,
            coverage_after,
        },
        systems: per_system
            .into_iter()
            .map(|(system, counts)| SystemCounts { system, counts })
            .collect(),
        actions,
    }
}

/// The plan as a person reviews it.
pub fn human(p: &RemediationPlan) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let c = &p.summary.counts;
    let _ = writeln!(out, "Remediation plan as of {}", p.as_of);
    let _ = writeln!(
        out,
        "{} actions for {} users: {} grant, {} revoke, {} set level, {} keep (excepted)",
        p.summary.actions, p.summary.users, c.grant, c.revoke, c.set_level, c.keep
    );
    let _ = writeln!(
        out,
        "coverage {:.1}% now, {:.1}% after the plan\n",
        p.summary.coverage_percent, p.summary.coverage_after
    );
    let _ = writeln!(
        out,
        "{:<16} {:>6} {:>6} {:>9} {:>5}",
        "SYSTEM", "GRANT", "REVOKE", "SET LEVEL", "KEEP"
    );
    for s in &p.systems {
        let _ = writeln!(
            out,
            "{:<16} {:>6} {:>6} {:>9} {:>5}",
            s.system, s.counts.grant, s.counts.revoke, s.counts.set_level, s.counts.keep
        );
    }
    let mut user = "";
    for a in &p.actions {
        if a.user_id != user {
            user = &a.user_id;
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
    out
}
