//! Lifecycle outcomes as the `event` JSON of docs/commands.md and in the seed's own layout ("Policies that
//! applied / Policies that apply now / Delta: Add, Remove, Keep (with modification)").

use serde::Serialize;

use super::apply::Outcome;
use super::delta::Action;
use crate::eval::{Evaluation, Plan};

#[derive(Serialize)]
pub struct PoliciesJson {
    pub policies: Vec<String>,
}

#[derive(Serialize)]
pub struct ChangeJson {
    pub action: Action,
    pub grant: String,
    #[serde(skip_serializing_if = "is_modify_level")]
    pub level: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace: Option<String>,
}

fn is_modify_level(l: &Option<Option<String>>) -> bool {
    l.is_none()
}

#[derive(Serialize)]
pub struct EventJson {
    pub user_id: String,
    pub event: &'static str,
    pub effective_date: String,
    /// `mover`, `joiner` or `leaver`.
    pub kind: &'static str,
    /// A joiner who was inactive (or failing a `require`) before: a rehire.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rehire: bool,
    /// How the event was applied, when the file does not say it: out of file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub before: Option<PoliciesJson>,
    pub after: PoliciesJson,
    pub changes: Vec<ChangeJson>,
}

fn names(plan: &Plan, e: &Evaluation) -> Vec<String> {
    e.policies
        .iter()
        .map(|&p| plan.bundle.policy(p).name.clone())
        .collect()
}

pub fn event_json(plan: &Plan, o: &Outcome) -> EventJson {
    let lvl = |ent, l| plan.level_name(ent, l).map(str::to_string);
    EventJson {
        user_id: o.event.user_id.clone(),
        event: o.event.kind.name(),
        effective_date: o.event.effective.to_string(),
        kind: o.kind.name(),
        rehire: o.rehire,
        notes: o.notes.clone(),
        before: o.before.as_ref().map(|b| PoliciesJson {
            policies: names(plan, b),
        }),
        after: PoliciesJson {
            policies: names(plan, &o.after),
        },
        changes: o
            .changes
            .iter()
            .map(|c| {
                let modify = c.action == Action::Modify;
                ChangeJson {
                    action: c.action,
                    grant: plan.ent_text(c.ent).to_string(),
                    level: (!modify).then(|| lvl(c.ent, c.level)),
                    from: modify.then(|| lvl(c.ent, c.from)),
                    to: modify.then(|| lvl(c.ent, c.level)),
                    not_before: c.not_before.map(|d| d.to_string()),
                    grace: c.grace.map(|g| g.to_string()),
                }
            })
            .collect(),
    }
}

pub fn human(plan: &Plan, o: &Outcome) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}, effective {} ({}{})",
        o.event.kind.name(),
        crate::text::terminal(&o.event.user_id),
        o.event.effective,
        o.kind.name(),
        if o.rehire { ": a rehire" } else { "" }
    );
    for n in &o.notes {
        let _ = writeln!(out, "Note: {n}");
    }
    if let Some(b) = &o.before {
        let _ = writeln!(out, "Policies that applied:");
        list(&mut out, &names(plan, b));
    }
    let _ = writeln!(out, "Policies that apply now:");
    list(&mut out, &names(plan, &o.after));
    let count = |a: Action| o.changes.iter().filter(|c| c.action == a).count();
    let text = |c: &super::delta::Change, l: Option<u8>| {
        let lv = plan
            .level_name(c.ent, l)
            .map(|x| format!(" ({x})"))
            .unwrap_or_default();
        format!("{}{lv}", plan.ent_text(c.ent))
    };
    let _ = writeln!(out, "Delta:");
    let _ = writeln!(out, "  Add ({}):", count(Action::Add));
    for c in o.changes.iter().filter(|c| c.action == Action::Add) {
        let _ = writeln!(out, "    + {}", text(c, c.level));
    }
    let _ = writeln!(out, "  Remove ({}):", count(Action::Remove));
    let width = o
        .changes
        .iter()
        .filter(|c| c.action == Action::Remove)
        .map(|c| text(c, c.level).chars().count())
        .max()
        .unwrap_or(0);
    for c in o.changes.iter().filter(|c| c.action == Action::Remove) {
        let when = match (c.not_before, c.grace) {
            (Some(d), Some(g)) => format!("on {d} (grace {g})"),
            (Some(d), None) => format!("on {d} (at once)"),
            _ => String::new(),
        };
        let _ = writeln!(out, "    - {:<width$}  {when}", text(c, c.level));
    }
    let modified = count(Action::Modify);
    let _ = writeln!(
        out,
        "  Keep ({}, {modified} with modification):",
        count(Action::Keep) + modified
    );
    for c in o.changes.iter().filter(|c| c.action == Action::Modify) {
        let from = plan.level_name(c.ent, c.from).unwrap_or("-");
        let to = plan.level_name(c.ent, c.level).unwrap_or("-");
        let _ = writeln!(out, "    ~ {} ({from} → {to})", plan.ent_text(c.ent));
    }
    for c in o.changes.iter().filter(|c| c.action == Action::Keep) {
        let _ = writeln!(out, "    = {}", text(c, c.level));
    }
    out
}

fn list(out: &mut String, names: &[String]) {
    use std::fmt::Write;
    if names.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for n in names {
        let _ = writeln!(out, "  - {n}");
    }
}
