//! `status`: the state at a glance.

use chrono::NaiveDate;
use serde::Serialize;

use crate::error::{Result, StateContext};
use crate::{directory, Provision};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastImport {
    pub id: i64,
    pub kind: String,
    pub at: String,
    pub recorded_at: String,
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastPull {
    pub system: String,
    pub at: Option<String>,
    pub entries: Option<i64>,
    pub suspect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingPlan {
    pub id: String,
    pub as_of: String,
    pub digest: String,
    pub open_actions: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldDue {
    pub user_id: String,
    pub grant: String,
    pub level: Option<String>,
    pub until: String,
    pub policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRef {
    pub plan: String,
    pub id: String,
    pub system: String,
    pub user_id: String,
    pub action: String,
    pub status: String,
    pub error: Option<String>,
    pub planned_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub system: String,
    pub since: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub entries: i64,
    pub head: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub at: NaiveDate,
    pub directory: usize,
    pub last_import: Option<LastImport>,
    pub pulls: Vec<LastPull>,
    pub pending_plans: Vec<PendingPlan>,
    pub holds_due: Vec<HoldDue>,
    pub failed_actions: Vec<ActionRef>,
    /// Leavers' revocations not done within `[evidence] leaver_sla_hours` of being planned.
    pub overdue_leaver_revocations: Vec<ActionRef>,
    pub quarantined: Vec<Quarantined>,
    pub audit: AuditHead,
}

impl StatusReport {
    pub fn human(&self) -> String {
        let mut s = format!("directory at {}: {} people\n", self.at, self.directory);
        match &self.last_import {
            Some(i) => {
                s += &format!(
                    "last {}: #{} at {} ({}), recorded {}\n",
                    i.kind,
                    i.id,
                    i.at,
                    i.file.as_deref().unwrap_or("-"),
                    i.recorded_at
                )
            }
            None => s += "no import yet\n",
        }
        for p in &self.pulls {
            s += &format!(
                "pull {}: {}{}\n",
                p.system,
                p.at.as_deref().map_or("never".to_string(), |a| format!(
                    "{a}, {} entries",
                    p.entries.unwrap_or(0)
                )),
                p.suspect
                    .as_ref()
                    .map(|w| format!(" (failed listing: {w})"))
                    .unwrap_or_default()
            );
        }
        s += &format!("pending plans: {}\n", self.pending_plans.len());
        for p in &self.pending_plans {
            s += &format!(
                "  {} at {}: {} open action(s)\n",
                p.id, p.as_of, p.open_actions
            );
        }
        s += &format!("holds due in 30 days: {}\n", self.holds_due.len());
        for h in &self.holds_due {
            s += &format!(
                "  {} {} until {} ({})\n",
                h.user_id, h.grant, h.until, h.policy
            );
        }
        s += &format!("failed actions: {}\n", self.failed_actions.len());
        for a in self.failed_actions.iter().take(20) {
            s += &format!(
                "  {} {} {} {}: {}\n",
                a.plan,
                a.id,
                a.system,
                a.user_id,
                a.error.as_deref().unwrap_or("")
            );
        }
        s += &format!(
            "overdue leaver revocations: {}\n",
            self.overdue_leaver_revocations.len()
        );
        for q in &self.quarantined {
            s += &format!("QUARANTINED {} since {}: {}\n", q.system, q.since, q.reason);
        }
        s += &format!(
            "audit: {} entries, head {}\n",
            self.audit.entries,
            self.audit.head.as_deref().unwrap_or("-")
        );
        s
    }
}

impl Provision {
    /// `status [--at D]`.
    pub fn status(&self, at: NaiveDate) -> Result<StatusReport> {
        let c = &self.state.conn;
        let p = &self.state.path;
        let directory = directory::load_at(c, p, at)?.len();
        let last_import = c
            .query_row(
                "SELECT id, kind, at, recorded_at, file FROM imports ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(LastImport {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        at: r.get(2)?,
                        recorded_at: r.get(3)?,
                        file: r.get(4)?,
                    })
                },
            )
            .ok();
        let mut pulls = Vec::new();
        for name in self.project.systems.keys() {
            let row = c
                .query_row(
                    "SELECT at, entries, suspect FROM pulls WHERE system = ?1 ORDER BY id DESC LIMIT 1",
                    [name],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<String>>(2)?)),
                )
                .ok();
            pulls.push(LastPull {
                system: name.clone(),
                at: row.as_ref().map(|r| r.0.clone()),
                entries: row.as_ref().map(|r| r.1),
                suspect: row.and_then(|r| r.2),
            });
        }
        let mut stmt = c
            .prepare(
                "SELECT p.id, p.as_of, p.digest, count(*) FROM plans p JOIN actions a ON a.plan_id = p.id
                 WHERE a.status IN ('pending', 'sent') GROUP BY p.id ORDER BY p.created_at",
            )
            .state(p)?;
        let pending_plans = stmt
            .query_map([], |r| {
                Ok(PendingPlan {
                    id: r.get(0)?,
                    as_of: r.get(1)?,
                    digest: r.get(2)?,
                    open_actions: r.get(3)?,
                })
            })
            .state(p)?
            .collect::<Result<Vec<_>, _>>()
            .state(p)?;
        let horizon = at + chrono::Days::new(30);
        let mut stmt = c
            .prepare("SELECT user_id, grant_ref, level, until, policy FROM holds WHERE closed_at IS NULL AND until > ?1 AND until <= ?2 ORDER BY until, user_id")
            .state(p)?;
        let holds_due = stmt
            .query_map([at.to_string(), horizon.to_string()], |r| {
                Ok(HoldDue {
                    user_id: r.get(0)?,
                    grant: r.get(1)?,
                    level: r.get(2)?,
                    until: r.get(3)?,
                    policy: r.get(4)?,
                })
            })
            .state(p)?
            .collect::<Result<Vec<_>, _>>()
            .state(p)?;
        let actions = |sql: &str, params: &[&dyn crate::db::ToValue]| -> Result<Vec<ActionRef>> {
            let mut stmt = c.prepare(sql).state(p)?;
            let rows = stmt
                .query_map(params, |r| {
                    Ok(ActionRef {
                        plan: r.get(0)?,
                        id: r.get(1)?,
                        system: r.get(2)?,
                        user_id: r.get(3)?,
                        action: r.get(4)?,
                        status: r.get(5)?,
                        error: r.get(6)?,
                        planned_at: r.get(7)?,
                    })
                })
                .state(p)?;
            rows.collect::<Result<Vec<_>, _>>().state(p)
        };
        const COLS: &str = "plan_id, id, system, user_id, action, status, last_error, planned_at";
        let failed_actions = actions(
            &format!("SELECT {COLS} FROM actions WHERE status = 'failed' ORDER BY plan_id, idx"),
            &[],
        )?;
        let cutoff = (chrono::Utc::now()
            - chrono::Duration::hours(self.project.evidence.leaver_sla_hours as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let overdue = actions(
            &format!(
                "SELECT {COLS} FROM actions WHERE leaver = 1 AND status NOT IN ('done', 'stale') AND planned_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.system = actions.system AND b.user_id = actions.user_id
                                 AND b.change = actions.change AND b.status = 'done')
                 ORDER BY planned_at"
            ),
            &[&cutoff],
        )?;
        let mut stmt = c
            .prepare("SELECT system, since, reason FROM quarantine ORDER BY system")
            .state(p)?;
        let quarantined = stmt
            .query_map([], |r| {
                Ok(Quarantined {
                    system: r.get(0)?,
                    since: r.get(1)?,
                    reason: r.get(2)?,
                })
            })
            .state(p)?
            .collect::<Result<Vec<_>, _>>()
            .state(p)?;
        let audit = c
            .query_row(
                "SELECT count(*), (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) FROM audit",
                [],
                |r| {
                    Ok(AuditHead {
                        entries: r.get(0)?,
                        head: r.get(1)?,
                    })
                },
            )
            .state(p)?;
        Ok(StatusReport {
            at,
            directory,
            last_import,
            pulls,
            pending_plans,
            holds_due,
            failed_actions,
            overdue_leaver_revocations: overdue,
            quarantined,
            audit,
        })
    }
}
