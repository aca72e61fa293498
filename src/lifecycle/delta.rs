//! The lifecycle delta between two evaluations of one user (docs/language.md §14): `add`,
//! `remove` (with `not_before` from grace for movers, the effective date for leavers),
//! `modify` (same entitlement, another level) and `keep`.

use chrono::NaiveDate;
use serde::Serialize;

use crate::eval::{EntId, Evaluation, Plan, SourceKind};
use crate::ir::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Remove,
    Modify,
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub ent: EntId,
    /// For add, remove, keep: the level; for modify: the new level.
    pub level: Option<u8>,
    /// For modify: the level before.
    pub from: Option<u8>,
    /// For remove: the first day the entitlement may be taken away.
    pub not_before: Option<NaiveDate>,
    /// For remove: the grace that delays it, if any.
    pub grace: Option<Duration>,
}

/// `before` is `None` for a hire. A leaver loses everything at once; a mover keeps what
/// they lose until the longest grace of the policy sources that gave it before.
pub fn delta(
    plan: &Plan,
    before: Option<&Evaluation>,
    after: &Evaluation,
    effective: NaiveDate,
    leaver: bool,
) -> Vec<Change> {
    let mut out = Vec::new();
    let empty = Evaluation::default();
    let before = before.unwrap_or(&empty);
    for g in &after.grants {
        match before.grant(g.ent) {
            None => out.push(Change {
                action: Action::Add,
                ent: g.ent,
                level: g.level,
                from: None,
                not_before: None,
                grace: None,
            }),
            Some(b) if b.level != g.level => out.push(Change {
                action: Action::Modify,
                ent: g.ent,
                level: g.level,
                from: b.level,
                not_before: None,
                grace: None,
            }),
            Some(_) => out.push(Change {
                action: Action::Keep,
                ent: g.ent,
                level: g.level,
                from: None,
                not_before: None,
                grace: None,
            }),
        }
    }
    for b in &before.grants {
        if after.grant(b.ent).is_some() {
            continue;
        }
        let grace = if leaver {
            None
        } else {
            b.sources
                .iter()
                .filter(|s| matches!(s.kind, SourceKind::Path(_)))
                .filter_map(|s| s.grace)
                .max_by_key(|d| d.hours())
        };
        // Saturates at the last date of the calendar: never earlier, never a year past 9999.
        let days = grace.map_or(0, |d| d.days_ceil().max(0) as u64);
        let not_before = crate::dates::add_days(effective, days);
        out.push(Change {
            action: Action::Remove,
            ent: b.ent,
            level: b.level,
            from: None,
            not_before: Some(not_before),
            grace,
        });
    }
    out.sort_by(|a, b| (a.action, &plan.ent_text(a.ent)).cmp(&(b.action, &plan.ent_text(b.ent))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Granted, Source};

    fn plan() -> Plan {
        let loaded = crate::db::Loaded::from_sources(&[(
            "t.pol",
            "import \"std/hris\"\nimport \"std/saas\"\npolicy \"P\" { when department == \"x\" grant zoom:account grant gitlab:group:a grant gitlab:group:b grant okta:app:c }",
        )]);
        let checked = crate::check::check_bundle(&loaded.db, loaded.workspace);
        Plan::new(
            checked.bundle.clone(),
            &[],
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        )
    }

    fn granted(ent: u32, level: Option<u8>, grace_days: Option<u32>) -> Granted {
        let grace = grace_days.map(|amount| Duration {
            amount,
            unit: crate::ir::DurationUnit::Days,
        });
        Granted {
            ent: EntId::from(ent),
            level,
            sources: vec![Source {
                kind: SourceKind::Path(0.into()),
                level,
                grace,
            }],
        }
    }

    #[test]
    fn add_remove_modify_keep_and_grace() {
        let p = plan();
        let d = NaiveDate::from_ymd_opt(2026, 5, 24).unwrap();
        let before = Evaluation {
            grants: vec![
                granted(0, None, Some(30)),
                granted(1, Some(1), None),
                granted(2, Some(0), None),
            ],
            ..Default::default()
        };
        let after = Evaluation {
            grants: vec![
                granted(1, Some(2), None),
                granted(2, Some(0), None),
                granted(3, None, None),
            ],
            ..Default::default()
        };
        let changes = delta(&p, Some(&before), &after, d, false);
        let kinds: Vec<Action> = changes.iter().map(|c| c.action).collect();
        assert_eq!(
            kinds,
            vec![Action::Add, Action::Remove, Action::Modify, Action::Keep]
        );
        assert_eq!(changes[1].not_before, NaiveDate::from_ymd_opt(2026, 6, 23));
        assert_eq!((changes[2].from, changes[2].level), (Some(1), Some(2)));
        // a leaver loses everything at once
        let gone = delta(&p, Some(&before), &Evaluation::default(), d, true);
        assert!(gone
            .iter()
            .all(|c| c.action == Action::Remove && c.not_before == Some(d)));
        // a hire only adds
        assert!(delta(&p, None, &after, d, false)
            .iter()
            .all(|c| c.action == Action::Add));
    }

    #[test]
    fn a_grace_past_the_end_of_the_calendar_ends_with_the_calendar() {
        let p = plan();
        let after = Evaluation::default();
        for (effective, grace) in [
            ("9990-06-01", 36_525),
            ("2025-06-01", u32::MAX),
            ("9999-12-31", 1),
        ] {
            let d = crate::dates::parse(effective).unwrap();
            let before = Evaluation {
                grants: vec![granted(0, None, Some(grace))],
                ..Default::default()
            };
            let changes = delta(&p, Some(&before), &after, d, false);
            // Not "at once" (the effective date): the grace holds until the last day there is.
            assert_eq!(
                changes[0].not_before,
                Some(crate::dates::LAST),
                "{effective}"
            );
            assert_eq!(changes[0].not_before.unwrap().to_string(), "9999-12-31");
        }
    }
}
