//! The evidence pack (`evidence --from D --to D --format F [--sign KEY]`): what the state
//! and the audit log show about access governance over a period, section by section, each
//! naming the SOC 2 and ISO 27001 controls it evidences (docs/evidence.md).
//!
//! One typed model ([`Pack`]) is built from the state (the directory, holds, plans,
//! actions and their journal times, pulls) and the audit log; four renderers write it:
//! HTML (one self-contained, script-free, print-friendly file), Markdown, CSV and JSON.
//! Every value that comes from data goes through one escaping function per format
//! ([`html_escape`], [`md_escape`], [`csv_cell`]); JSON is escaped by serde.
//!
//! Period. Everything is placed in the period by the time it was *recorded* in the state
//! (UTC): an HR change by when it was imported, an action by its journal times, a pull by
//! when it ran. The period runs from `from` 00:00 UTC to the end of `to`.
//!
//! Delays are measured from the start of the HR change (the later of its recording in the
//! state and 00:00 UTC on its effective date) to the last action confirmed by read-back.
//!
//! Limits: the state keeps each action's current status and its last update time; an
//! action last updated after the period counts as open at its end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::db::Db;
use chrono::{DateTime, NaiveDate, Utc};
use polc::eval::Plan as EvalPlan;
use polc::ir;
use serde::Serialize;
use serde_json::Value as Json;

use crate::config::Mode;
use crate::directory::{self, Stored};
use crate::error::{Error, Result, StateContext};
use crate::{audit, LoadedBundle, Provision};

/// The format of a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Html,
    Markdown,
    Csv,
    Json,
}

impl Format {
    /// `html`, `markdown` (or `md`), `csv`, `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "html" => Some(Format::Html),
            "markdown" | "md" => Some(Format::Markdown),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// A rendered pack.
pub struct Evidence {
    pub format: Format,
    /// The pack's bytes in `format`.
    pub bytes: Vec<u8>,
    /// When signed: the content of the signature file (`PACK.sig`), see
    /// [`verify_signature`].
    pub signature: Option<String>,
    /// The model the bytes render.
    pub pack: Pack,
}

// ---------------------------------------------------------------------------------------
// The controls (normative: docs/evidence.md repeats this table)

/// The controls one section evidences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Controls {
    /// SOC 2, 2017 Trust Services Criteria.
    pub soc2: Vec<&'static str>,
    pub iso27001_2013: Vec<&'static str>,
    pub iso27001_2022: Vec<&'static str>,
}

type ControlRow = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// Section id, title, SOC 2, ISO 27001:2013, ISO 27001:2022.
pub const CONTROLS: &[ControlRow] = &[
    (
        "policies",
        "Policies in force",
        &["CC6.1", "CC6.3"],
        &["A.9.1.1", "A.9.2.2"],
        &["5.15", "5.18"],
    ),
    (
        "joiners",
        "Joiners",
        &["CC6.2"],
        &["A.9.2.1", "A.9.2.2"],
        &["5.16", "5.18"],
    ),
    (
        "movers",
        "Movers",
        &["CC6.2", "CC6.3"],
        &["A.9.2.2", "A.9.2.6"],
        &["5.18"],
    ),
    (
        "leavers",
        "Leavers",
        &["CC6.2", "CC6.3"],
        &["A.9.2.1", "A.9.2.6"],
        &["5.16", "5.18"],
    ),
    (
        "exceptions",
        "Exceptions",
        &["CC6.1", "CC6.3"],
        &["A.9.2.2", "A.9.2.5"],
        &["5.18"],
    ),
    (
        "separation_of_duties",
        "Separation of duties",
        &["CC6.1", "CC6.3"],
        &["A.6.1.2"],
        &["5.3"],
    ),
    (
        "drift",
        "Drift",
        &["CC6.1", "CC7.2"],
        &["A.9.2.5"],
        &["5.18"],
    ),
    (
        "reviews",
        "Reviews",
        &["CC6.2", "CC8.1"],
        &["A.9.2.2"],
        &["5.18"],
    ),
    (
        "open_items",
        "Open items at the end of the period",
        &["CC6.2", "CC7.2"],
        &["A.9.2.6"],
        &["5.18"],
    ),
    (
        "integrity",
        "Integrity",
        &["CC7.2"],
        &["A.12.4.2"],
        &["8.15"],
    ),
];

fn controls(id: &str) -> (&'static str, &'static str, Controls) {
    let row = CONTROLS
        .iter()
        .find(|r| r.0 == id)
        .copied()
        .unwrap_or(("?", "?", &[], &[], &[]));
    (
        row.0,
        row.1,
        Controls {
            soc2: row.2.to_vec(),
            iso27001_2013: row.3.to_vec(),
            iso27001_2022: row.4.to_vec(),
        },
    )
}

// ---------------------------------------------------------------------------------------
// The model

/// One section: which controls it evidences, a one-line summary, its content.
#[derive(Clone, Debug, Serialize)]
pub struct Section<T> {
    pub id: &'static str,
    pub title: &'static str,
    pub controls: Controls,
    pub summary: String,
    #[serde(flatten)]
    pub content: T,
}

fn section<T>(id: &'static str, summary: String, content: T) -> Section<T> {
    let (id2, title, controls) = controls(id);
    debug_assert_eq!(id, id2);
    Section {
        id,
        title,
        controls,
        summary,
        content,
    }
}

/// The pack.
#[derive(Clone, Debug, Serialize)]
pub struct Pack {
    /// `polc-evidence`.
    pub format: &'static str,
    pub version: u32,
    pub parameters: Parameters,
    pub policies: Section<Policies>,
    pub joiners: Section<Joiners>,
    pub movers: Section<Movers>,
    pub leavers: Section<Leavers>,
    pub exceptions: Section<Exceptions>,
    pub separation_of_duties: Section<SeparationOfDuties>,
    pub drift: Section<Drift>,
    pub reviews: Section<Reviews>,
    pub open_items: Section<OpenItems>,
    pub integrity: Section<Integrity>,
}

/// What the pack covers and how it was made.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub generated_at: String,
    pub generated_by: String,
    /// How an item is placed in the period.
    pub period_basis: &'static str,
    /// What delays are measured from and to.
    pub delay_basis: &'static str,
    pub leaver_sla_hours: u64,
    /// The bundles (policies) in force during the period, oldest first.
    pub bundles: Vec<String>,
    /// The audit log's head and length when the pack was made.
    pub audit_head: String,
    pub audit_entries: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Policies {
    /// Each bundle recorded up to the end of the period (the last one before it, then
    /// the period's changes) and who approved plans made from it.
    pub bundles: Vec<BundleItem>,
    /// The policies of the current bundle.
    pub policies: Vec<PolicyItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BundleItem {
    pub digest: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub policies: i64,
    /// Recorded within the period (else: in force when it began).
    pub changed_in_period: bool,
    /// People who approved a plan made from this bundle, in the period.
    pub approved_by: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyItem {
    pub name: String,
    pub template: bool,
    pub owner: Option<String>,
    pub version: Option<String>,
    pub effective: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub inherits: Vec<String>,
    pub grants: Vec<String>,
}

/// An action of a plan as the journal shows it at the end of the period.
#[derive(Clone, Debug, Serialize)]
pub struct ActionItem {
    pub plan: String,
    pub user_id: String,
    pub action_id: String,
    pub system: String,
    pub action: String,
    pub grant: Option<String>,
    /// At the end of the period: done, failed, stale, skipped, sent or pending.
    pub status: String,
    pub planned_at: String,
    /// When it was confirmed by read-back (status done).
    pub confirmed_at: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Joiners {
    pub items: Vec<Joiner>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Joiner {
    pub user_id: String,
    pub effective: NaiveDate,
    /// `employee.hired`, `import` (a new id in a snapshot)…
    pub cause: String,
    pub recorded_at: String,
    pub actions: Vec<ActionItem>,
    pub confirmed: usize,
    pub open: usize,
    pub last_confirmed_at: Option<String>,
    /// From the HR change to the last grant confirmed (when all are).
    pub delay_seconds: Option<i64>,
    /// Every grant planned for the joiner is confirmed.
    pub complete: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Movers {
    pub items: Vec<Mover>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttributeChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Grace {
    pub grant: String,
    pub level: Option<String>,
    /// Held on days before this one.
    pub until: String,
    pub policy: String,
    /// `revoked after the grace`, `REVOKED BEFORE THE END OF GRACE`, `held (grace
    /// running)`, `closed: leaver`…
    pub outcome: String,
    /// `false` when the access was taken away before the grace ended.
    pub honoured: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mover {
    pub user_id: String,
    pub effective: NaiveDate,
    pub cause: String,
    pub recorded_at: String,
    pub changed: Vec<AttributeChange>,
    pub actions: Vec<ActionItem>,
    pub grace: Vec<Grace>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Leavers {
    pub items: Vec<Leaver>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportOnly {
    pub system: String,
    pub grant: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Leaver {
    pub user_id: String,
    pub effective: NaiveDate,
    /// `employee.terminated`, `absence`, `import`…
    pub cause: String,
    pub recorded_at: String,
    pub actions: Vec<ActionItem>,
    pub last_revocation_at: Option<String>,
    /// From the termination to the last revocation confirmed (when all are).
    pub delay_seconds: Option<i64>,
    pub complete: bool,
    /// Over `[evidence] leaver_sla_hours`: done late, or still open past it.
    pub over_sla: bool,
    /// What the policies gave them in systems polc does not provision (to remove by hand).
    pub report_only: Vec<ReportOnly>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Exceptions {
    pub items: Vec<ExceptionItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExceptionItem {
    pub name: Option<String>,
    pub user_id: String,
    pub grants: Vec<String>,
    pub justification: String,
    pub approved_by: String,
    pub effective: Option<NaiveDate>,
    pub expires: NaiveDate,
    pub meta: Vec<(String, String)>,
    /// At the end of the period: `in force`, `expired`, `not yet in force`.
    pub state: String,
    /// For an expired exception: `revoked on …`, `not held`, `STILL HELD …`.
    pub revocation: Option<String>,
    /// Expired but still held at the end of the period.
    pub flagged: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeparationOfDuties {
    pub conflicts: Vec<ConflictItem>,
    pub violations: Vec<ViolationItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConflictItem {
    pub name: String,
    pub patterns: Vec<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ViolationItem {
    pub conflict: String,
    pub user_id: String,
    /// `policy` (the policies grant both at the end of the period) or the system that
    /// holds both.
    pub found_in: String,
    pub grants: Vec<String>,
    pub fate: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    pub pulls: Vec<PullItem>,
    pub coverage: Vec<CoverageItem>,
    pub orphans: Vec<OrphanItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PullItem {
    pub system: String,
    pub pull: i64,
    pub at: String,
    pub entries: i64,
    pub accounts: i64,
    /// Holdings that appeared / disappeared out of band since the pull before.
    pub appeared: i64,
    pub disappeared: i64,
    pub suspect: Option<String>,
    /// Actions confirmed in the system after this pull and before the next one.
    pub remediated: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CoverageItem {
    pub plan: String,
    pub created_at: String,
    pub system: String,
    pub managed_entries: i64,
    pub unmanaged_entries: i64,
    pub orphan_accounts: i64,
    /// managed / (managed + unmanaged), in percent.
    pub coverage_percent: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OrphanItem {
    pub system: String,
    pub user_id: String,
    pub first_plan: String,
    pub fate: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Reviews {
    pub plans: Vec<PlanItem>,
    pub approvals: Vec<ApprovalItem>,
    pub refusals: Vec<RefusalItem>,
    pub forced: Vec<ForcedItem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlanItem {
    pub plan: String,
    pub as_of: String,
    pub digest: String,
    pub created_at: String,
    pub created_by: String,
    pub actions: i64,
    pub review: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApprovalItem {
    pub time: String,
    pub plan: String,
    pub digest: String,
    pub approver: String,
    pub auto: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct RefusalItem {
    pub time: String,
    pub actor: String,
    pub command: String,
    pub plan: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ForcedItem {
    pub time: String,
    pub actor: String,
    pub command: String,
    pub plan: Option<String>,
    pub guards: Vec<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpenItems {
    pub pending_plans: Vec<PendingPlanItem>,
    pub failed_actions: Vec<ActionItem>,
    pub overdue_leavers: Vec<OverdueLeaver>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PendingPlanItem {
    pub plan: String,
    pub as_of: String,
    pub open_actions: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct OverdueLeaver {
    pub user_id: String,
    pub recorded_at: String,
    pub open_actions: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Integrity {
    /// The whole chain recomputed when the pack was made.
    pub verified: bool,
    pub entries: i64,
    pub head: String,
    pub problem: Option<String>,
    /// The last entry recorded before the end of the period.
    pub head_at_end: Option<String>,
    pub entries_at_end: i64,
}

// ---------------------------------------------------------------------------------------
// Building the model

fn day_start(d: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Seconds from `from` to `to` (stored times).
fn seconds(from: &str, to: &str) -> Option<i64> {
    Some((parse_time(to)? - parse_time(from)?).num_seconds())
}

struct Cx<'a> {
    conn: &'a Db,
    path: &'a Path,
    start: String,
    end: String,
}

impl Cx<'_> {
    fn in_period(&self, t: &str) -> bool {
        t >= self.start.as_str() && t < self.end.as_str()
    }

    /// Audit entries of a kind recorded in the period: (time, actor, details).
    fn audit(&self, kind: &str) -> Result<Vec<(String, String, Json)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT time, actor, details FROM audit WHERE kind = ?1 AND time >= ?2 AND time < ?3 ORDER BY seq",
            )
            .state(self.path)?;
        let rows = stmt
            .query_map(crate::db::params![kind, self.start, self.end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .state(self.path)?;
        let mut out = Vec::new();
        for r in rows {
            let (t, a, d) = r.state(self.path)?;
            out.push((t, a, serde_json::from_str(&d).unwrap_or(Json::Null)));
        }
        Ok(out)
    }

    /// A user's actions planned at or after `since` and before the end of the period,
    /// their status at its end; one per (system, action, grant): the done one if any,
    /// else the latest.
    fn actions(&self, user: &str, since: &str, only_leaver: bool) -> Result<Vec<ActionItem>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT plan_id, id, system, action, json_extract(change, '$.grant'), status, planned_at, updated_at, leaver
                 FROM actions WHERE user_id = ?1 AND planned_at >= ?2 AND planned_at < ?3 ORDER BY planned_at, plan_id, idx",
            )
            .state(self.path)?;
        let rows = stmt
            .query_map(crate::db::params![user, since, self.end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, bool>(8)?,
                ))
            })
            .state(self.path)?;
        let mut by_key: BTreeMap<(String, String, Option<String>), ActionItem> = BTreeMap::new();
        for r in rows {
            let (plan, id, system, action, grant, status, planned_at, updated_at, leaver) =
                r.state(self.path)?;
            if only_leaver && !leaver {
                continue;
            }
            let status = if updated_at < self.end {
                status
            } else {
                "pending".to_string()
            };
            let confirmed_at = (status == "done").then(|| updated_at.clone());
            let item = ActionItem {
                plan,
                user_id: user.to_string(),
                action_id: id,
                system: system.clone(),
                action: action.clone(),
                grant: grant.clone(),
                status,
                planned_at,
                confirmed_at,
            };
            let key = (system, action, grant);
            match by_key.get(&key) {
                Some(old) if old.status == "done" => {}
                _ => {
                    by_key.insert(key, item);
                }
            }
        }
        let mut out: Vec<ActionItem> = by_key.into_values().collect();
        out.sort_by(|a, b| (&a.system, &a.action, &a.grant).cmp(&(&b.system, &b.action, &b.grant)));
        Ok(out)
    }
}

/// An action still to finish (not done, and not given up on purpose).
fn is_open(a: &ActionItem) -> bool {
    matches!(a.status.as_str(), "pending" | "sent" | "failed")
}

/// One directory row recorded in the period.
struct Row {
    seq: i64,
    user_id: String,
    effective: NaiveDate,
    record: String,
    digest: String,
    cause: String,
    source: i64,
    recorded_at: String,
}

#[derive(PartialEq, Eq)]
enum Kind {
    Joiner,
    Mover,
    Leaver,
    None,
}

fn attributes(record: &str) -> BTreeMap<String, String> {
    directory::attributes(record)
}

impl Provision {
    /// The evidence pack for `from..=to` (dates, UTC) in `format`; signed with the
    /// ed25519 secret key file `sign_key` (as `polc keygen` writes) when given.
    pub fn evidence(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        format: Format,
        sign_key: Option<&Path>,
    ) -> Result<Evidence> {
        if to < from {
            return Err(Error::Input(format!(
                "the period ends ({to}) before it begins ({from})"
            )));
        }
        let key = match sign_key {
            Some(k) => {
                Some(polc::bundle::SecretKey::read(k).map_err(|e| Error::Input(e.to_string()))?)
            }
            None => None,
        };
        let pack = self.evidence_pack(from, to)?;
        let bytes = render(&pack, format)?;
        let signature = key.map(|k| signature_file(&k, &bytes));
        Ok(Evidence {
            format,
            bytes,
            signature,
            pack,
        })
    }

    /// The pack's model, without rendering it.
    pub fn evidence_pack(&self, from: NaiveDate, to: NaiveDate) -> Result<Pack> {
        let b = self.quiet_bundle()?;
        let bundle = &b.bundle;
        let cx = Cx {
            conn: &self.state.conn,
            path: &self.state.path,
            start: day_start(from),
            end: day_start(to + chrono::Days::new(1)),
        };
        let sla = self.project.evidence.leaver_sla_hours;
        let generated_at = crate::state::now_text();
        let verify = audit::verify(cx.conn, cx.path, None)?;

        // systems polc provisions (the others are report only)
        let provisioned: BTreeSet<&str> = self
            .project
            .systems
            .values()
            .filter(|s| s.mode != Mode::Off)
            .map(|s| s.name.as_str())
            .collect();

        let policies = self.policies_section(&cx, bundle, &b.digest)?;
        let bundles_in_force: Vec<String> =
            policies.bundles.iter().map(|b| b.digest.clone()).collect();
        let (joiners, movers, leavers) = self.lifecycle_sections(&cx, bundle, &provisioned, sla)?;
        let exceptions = exceptions_section(&cx, bundle, to)?;
        let sod = sod_section(&cx, bundle, to)?;
        let drift = drift_section(&cx)?;
        let reviews = reviews_section(&cx)?;
        let open = open_section(&cx, &leavers)?;
        let integrity = integrity_section(&cx, &verify)?;

        let n_sla = leavers.iter().filter(|l| l.over_sla).count();
        Ok(Pack {
            format: "polc-evidence",
            version: 1,
            parameters: Parameters {
                from,
                to,
                generated_at,
                generated_by: self.actor.clone(),
                period_basis: "items are placed in the period by the time they were recorded in the state (UTC), from 00:00 on the first day to the end of the last",
                delay_basis: "from the HR change (the later of its recording in the state and 00:00 UTC on its effective date) to the last action confirmed by read-back",
                leaver_sla_hours: sla,
                bundles: bundles_in_force,
                audit_head: verify.head.clone(),
                audit_entries: verify.entries,
            },
            policies: section(
                "policies",
                format!(
                    "{} bundle(s) in force, {} change(s) in the period; {} policies in the current bundle",
                    policies.bundles.len(),
                    policies.bundles.iter().filter(|b| b.changed_in_period).count(),
                    policies.policies.len()
                ),
                policies,
            ),
            joiners: section(
                "joiners",
                format!(
                    "{} joiner(s); {} with every grant confirmed",
                    joiners.len(),
                    joiners.iter().filter(|j| j.complete).count()
                ),
                Joiners { items: joiners },
            ),
            movers: section(
                "movers",
                format!(
                    "{} mover(s); {} grace period(s), {} not honoured",
                    movers.len(),
                    movers.iter().map(|m| m.grace.len()).sum::<usize>(),
                    movers
                        .iter()
                        .flat_map(|m| &m.grace)
                        .filter(|g| !g.honoured)
                        .count()
                ),
                Movers { items: movers },
            ),
            leavers: section(
                "leavers",
                format!(
                    "{} leaver(s); {} with every revocation confirmed; {} over the SLA of {sla} h",
                    leavers.len(),
                    leavers.iter().filter(|l| l.complete).count(),
                    n_sla
                ),
                Leavers { items: leavers },
            ),
            exceptions: section(
                "exceptions",
                format!(
                    "{} exception(s); {} expired and still held",
                    exceptions.len(),
                    exceptions.iter().filter(|e| e.flagged).count()
                ),
                Exceptions { items: exceptions },
            ),
            separation_of_duties: section(
                "separation_of_duties",
                format!(
                    "{} conflict(s) declared; {} violation(s) found",
                    sod.conflicts.len(),
                    sod.violations.len()
                ),
                sod,
            ),
            drift: section(
                "drift",
                format!(
                    "{} pull(s); {} orphan account(s)",
                    drift.pulls.len(),
                    drift.orphans.len()
                ),
                drift,
            ),
            reviews: section(
                "reviews",
                format!(
                    "{} plan(s), {} approval(s), {} refusal(s), {} forced",
                    reviews.plans.len(),
                    reviews.approvals.len(),
                    reviews.refusals.len(),
                    reviews.forced.len()
                ),
                reviews,
            ),
            open_items: section(
                "open_items",
                format!(
                    "{} pending plan(s), {} failed action(s), {} overdue leaver(s)",
                    open.pending_plans.len(),
                    open.failed_actions.len(),
                    open.overdue_leavers.len()
                ),
                open,
            ),
            integrity: section(
                "integrity",
                if integrity.verified {
                    format!("audit chain intact: {} entries", integrity.entries)
                } else {
                    "AUDIT CHAIN BROKEN".to_string()
                },
                integrity,
            ),
        })
    }

    /// The bundle, loaded without recording it in the audit log (the pack only reads).
    fn quiet_bundle(&self) -> Result<LoadedBundle> {
        if let Some(b) = &self.bundle {
            return Ok(b.clone());
        }
        let p = &self.project.policies;
        match &p.bundle {
            Some(file) => {
                let (header, b) = polc::bundle::load(file, p.verify_key.as_deref())
                    .map_err(|e| Error::Input(e.to_string()))?;
                Ok(LoadedBundle {
                    bundle: std::sync::Arc::new(b),
                    digest: header.digest,
                })
            }
            None => {
                let loaded = polc::db::Loaded::from_paths(&p.paths)
                    .map_err(|e| Error::Input(e.to_string()))?;
                let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
                if let Some(first) = checked.blocking_errors().next() {
                    return Err(Error::Input(format!(
                        "the policies have errors, the first: {} {}: fix them first (`polc check`)",
                        first.code, first.message
                    )));
                }
                let content = serde_json::to_vec(&polc::bundle::from_ir(&checked.bundle))
                    .map_err(|e| Error::Bug(format!("cannot serialize the bundle: {e}")))?;
                Ok(LoadedBundle {
                    bundle: checked.bundle.clone(),
                    digest: polc::bundle::file::digest_of(&content),
                })
            }
        }
    }

    fn policies_section(&self, cx: &Cx<'_>, bundle: &ir::Bundle, digest: &str) -> Result<Policies> {
        let mut stmt = cx
            .conn
            .prepare(
                "SELECT time, actor, json_extract(details, '$.digest'), coalesce(json_extract(details, '$.policies'), '0')
                 FROM audit WHERE kind = 'bundle' AND time < ?1 ORDER BY seq",
            )
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .state(cx.path)?;
        let mut all = Vec::new();
        for r in rows {
            all.push(r.state(cx.path)?);
        }
        // the last one before the period, then those within it
        let first_in = all
            .iter()
            .position(|r| r.0 >= cx.start)
            .unwrap_or(all.len());
        let keep = first_in.saturating_sub(1);
        let mut bundles = Vec::new();
        for (time, actor, d, n) in all.into_iter().skip(keep) {
            let d = d.unwrap_or_default();
            let mut approvers: Vec<String> = {
                let mut st = cx
                    .conn
                    .prepare_cached(
                        "SELECT DISTINCT json_extract(a.details, '$.approver') FROM audit a JOIN plans p ON p.id = json_extract(a.details, '$.plan')
                         WHERE a.kind = 'approval' AND p.bundle = ?1 AND a.time >= ?2 AND a.time < ?3",
                    )
                    .state(cx.path)?;
                let rows = st
                    .query_map(crate::db::params![d, cx.start, cx.end], |r| {
                        r.get::<_, Option<String>>(0)
                    })
                    .state(cx.path)?;
                let mut v = Vec::new();
                for r in rows {
                    if let Some(a) = r.state(cx.path)? {
                        v.push(a);
                    }
                }
                v
            };
            approvers.sort();
            bundles.push(BundleItem {
                changed_in_period: cx.in_period(&time),
                digest: d,
                recorded_at: time,
                recorded_by: actor,
                policies: n,
                approved_by: approvers,
            });
        }
        if bundles.is_empty() {
            // never recorded (no command ran with it yet): the current one
            bundles.push(BundleItem {
                digest: digest.to_string(),
                recorded_at: String::new(),
                recorded_by: String::new(),
                policies: bundle.policies.len() as i64,
                changed_in_period: false,
                approved_by: Vec::new(),
            });
        }
        let policies = bundle
            .policies
            .iter()
            .map(|p| PolicyItem {
                name: p.name.clone(),
                template: p.template,
                owner: p.owner.clone(),
                version: p.version.clone(),
                effective: p.effective,
                expires: p.expires,
                inherits: p
                    .inherits
                    .iter()
                    .map(|&i| bundle.policy(i).name.clone())
                    .collect(),
                grants: p
                    .grants
                    .iter()
                    .map(|g| bundle.entitlement_text(&g.entitlement))
                    .collect(),
            })
            .collect();
        Ok(Policies { bundles, policies })
    }

    fn lifecycle_sections(
        &self,
        cx: &Cx<'_>,
        bundle: &std::sync::Arc<ir::Bundle>,
        provisioned: &BTreeSet<&str>,
        sla: u64,
    ) -> Result<(Vec<Joiner>, Vec<Mover>, Vec<Leaver>)> {
        // the baseline imports derive nothing: left out
        let mut baseline: BTreeSet<i64> = BTreeSet::new();
        {
            let mut stmt = cx
                .conn
                .prepare("SELECT json_extract(details, '$.import'), json_extract(details, '$.baseline') FROM audit WHERE kind = 'import'")
                .state(cx.path)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<bool>>(1)?))
                })
                .state(cx.path)?;
            for r in rows {
                if let (Some(id), Some(true)) = r.state(cx.path)? {
                    baseline.insert(id);
                }
            }
        }
        let mut rows = Vec::new();
        {
            let mut stmt = cx
                .conn
                .prepare(
                    "SELECT seq, user_id, effective, record, digest, cause, source, recorded_at FROM directory
                     WHERE recorded_at >= ?1 AND recorded_at < ?2 ORDER BY seq",
                )
                .state(cx.path)?;
            let it = stmt
                .query_map([&cx.start, &cx.end], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })
                .state(cx.path)?;
            for r in it {
                let (seq, user_id, eff, record, digest, cause, source, recorded_at) =
                    r.state(cx.path)?;
                if baseline.contains(&source) {
                    continue;
                }
                rows.push(Row {
                    seq,
                    user_id,
                    effective: eff.parse().map_err(|_| {
                        Error::Bug(format!("directory row {seq} has a bad date {eff}"))
                    })?,
                    record,
                    digest,
                    cause,
                    source,
                    recorded_at,
                });
            }
        }
        let (mut joiners, mut movers, mut leavers) = (Vec::new(), Vec::new(), Vec::new());
        let now = crate::state::now_text();
        let horizon = if now < cx.end { now } else { cx.end.clone() };
        for row in &rows {
            let prev: Option<Stored> = cx
                .conn
                .prepare_cached(
                    "SELECT user_id, record, digest, cause FROM directory WHERE user_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1",
                )
                .state(cx.path)?
                .query_row(crate::db::params![row.user_id, row.seq], |r| {
                    Ok(Stored {
                        user_id: r.get(0)?,
                        record: r.get(1)?,
                        digest: r.get(2)?,
                        cause: r.get(3)?,
                    })
                })
                .ok();
            let cur = Stored {
                user_id: row.user_id.clone(),
                record: row.record.clone(),
                digest: row.digest.clone(),
                cause: row.cause.clone(),
            };
            // evaluate both records on one plan (their fields aligned)
            let cur_users =
                directory::to_users(std::slice::from_ref(&cur), bundle.schema.as_ref())?;
            let prev_users = match &prev {
                Some(p) => Some(directory::to_users(
                    std::slice::from_ref(p),
                    bundle.schema.as_ref(),
                )?),
                None => None,
            };
            let mut fields = cur_users.fields.clone();
            if let Some(pu) = &prev_users {
                for f in &pu.fields {
                    if !fields.contains(f) {
                        fields.push(f.clone());
                    }
                }
            }
            let aligned = |u: &polc::input::Users| -> Option<(String, Vec<Option<ir::Value>>)> {
                let r = u.records.first()?;
                Some((
                    r.id.clone(),
                    fields
                        .iter()
                        .map(|f| u.slot(f).and_then(|i| r.values.get(i).cloned().flatten()))
                        .collect(),
                ))
            };
            let Some(cur_rec) = aligned(&cur_users) else {
                continue;
            };
            let prev_rec = prev_users.as_ref().and_then(aligned);
            let eplan = EvalPlan::new(bundle.clone(), &fields, row.effective);
            let cur_gone =
                eplan.failed_require(&cur_rec.1).is_some() || row.cause == "employee.terminated";
            let prev_in = prev_rec
                .as_ref()
                .is_some_and(|p| eplan.failed_require(&p.1).is_none());
            let kind = match (prev_in, cur_gone) {
                (true, true) => Kind::Leaver,
                (false, false) => Kind::Joiner,
                (true, false) if prev.as_ref().is_some_and(|p| p.digest != row.digest) => {
                    Kind::Mover
                }
                _ => Kind::None,
            };
            let start = {
                let eff = day_start(row.effective);
                if eff > row.recorded_at {
                    eff
                } else {
                    row.recorded_at.clone()
                }
            };
            match kind {
                Kind::None => {}
                Kind::Joiner => {
                    let actions: Vec<ActionItem> = cx
                        .actions(&row.user_id, &row.recorded_at, false)?
                        .into_iter()
                        .filter(|a| {
                            matches!(a.action.as_str(), "grant" | "set_level" | "reactivate")
                        })
                        .collect();
                    let confirmed = actions.iter().filter(|a| a.status == "done").count();
                    let open = actions.iter().filter(|a| is_open(a)).count();
                    let last = actions.iter().filter_map(|a| a.confirmed_at.clone()).max();
                    let complete = open == 0 && confirmed > 0;
                    joiners.push(Joiner {
                        user_id: row.user_id.clone(),
                        effective: row.effective,
                        cause: row.cause.clone(),
                        recorded_at: row.recorded_at.clone(),
                        delay_seconds: if complete {
                            last.as_deref().and_then(|l| seconds(&start, l))
                        } else {
                            None
                        },
                        actions,
                        confirmed,
                        open,
                        last_confirmed_at: last,
                        complete,
                    });
                }
                Kind::Mover => {
                    let before = attributes(prev.as_ref().map_or("{}", |p| p.record.as_str()));
                    let after = attributes(&row.record);
                    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
                    let changed = keys
                        .into_iter()
                        .filter(|k| before.get(*k) != after.get(*k))
                        .map(|k| AttributeChange {
                            field: k.clone(),
                            from: before.get(k).cloned(),
                            to: after.get(k).cloned(),
                        })
                        .collect();
                    let actions = cx.actions(&row.user_id, &row.recorded_at, false)?;
                    let grace = grace_of(cx, row, &horizon)?;
                    movers.push(Mover {
                        user_id: row.user_id.clone(),
                        effective: row.effective,
                        cause: row.cause.clone(),
                        recorded_at: row.recorded_at.clone(),
                        changed,
                        actions,
                        grace,
                    });
                }
                Kind::Leaver => {
                    let actions = cx.actions(&row.user_id, &row.recorded_at, true)?;
                    let open = actions.iter().filter(|a| is_open(a)).count();
                    let last = actions.iter().filter_map(|a| a.confirmed_at.clone()).max();
                    let complete = open == 0;
                    let delay = if complete {
                        last.as_deref().and_then(|l| seconds(&start, l))
                    } else {
                        None
                    };
                    let limit = sla as i64 * 3600;
                    let over_sla = match delay {
                        Some(d) => d > limit,
                        // open: over once the SLA has elapsed
                        None => !complete && seconds(&start, &horizon).is_some_and(|s| s >= limit),
                    };
                    // what the policies gave them before, where polc does not provision
                    let mut report_only = Vec::new();
                    if let Some(p) = &prev_rec {
                        let ev = eplan.evaluate(&p.0, &p.1);
                        for g in &ev.grants {
                            let sys = &bundle.system(eplan.ent(g.ent).system).name;
                            if !provisioned.contains(sys.as_str()) {
                                report_only.push(ReportOnly {
                                    system: sys.clone(),
                                    grant: eplan.ent_text(g.ent).to_string(),
                                });
                            }
                        }
                    }
                    leavers.push(Leaver {
                        user_id: row.user_id.clone(),
                        effective: row.effective,
                        cause: row.cause.clone(),
                        recorded_at: row.recorded_at.clone(),
                        actions,
                        last_revocation_at: last,
                        delay_seconds: delay,
                        complete,
                        over_sla,
                        report_only,
                    });
                }
            }
        }
        Ok((joiners, movers, leavers))
    }
}

/// The grace periods a mover's change opened, and whether each was honoured.
fn grace_of(cx: &Cx<'_>, row: &Row, horizon: &str) -> Result<Vec<Grace>> {
    let mut stmt = cx
        .conn
        .prepare_cached(
            "SELECT grant_ref, level, until, policy, closed_at, closed_reason FROM holds WHERE user_id = ?1 AND source = ?2 ORDER BY id",
        )
        .state(cx.path)?;
    let holds = stmt
        .query_map(crate::db::params![row.user_id, row.source], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .state(cx.path)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .state(cx.path)?;
    let mut out = Vec::new();
    for (grant, level, until, policy, closed_at, closed_reason) in holds {
        // the first confirmed revocation of the grant after the change, and its plan's date
        let revoked: Option<(String, String)> = cx
            .conn
            .prepare_cached(
                "SELECT a.updated_at, p.as_of FROM actions a JOIN plans p ON p.id = a.plan_id
                 WHERE a.user_id = ?1 AND a.action IN ('revoke', 'set_level') AND a.status = 'done'
                 AND json_extract(a.change, '$.grant') = ?2 AND a.updated_at >= ?3 AND a.updated_at < ?4
                 ORDER BY a.updated_at LIMIT 1",
            )
            .state(cx.path)?
            .query_row(
                crate::db::params![row.user_id, grant, row.recorded_at, cx.end],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        let (outcome, honoured) = match (&revoked, &closed_reason) {
            (Some((at, as_of)), _) if as_of.as_str() >= until.as_str() => (
                format!("taken away after the grace (plan of {as_of}, confirmed {at})"),
                true,
            ),
            (Some((at, as_of)), _) => (
                format!("TAKEN AWAY BEFORE THE END OF GRACE (plan of {as_of}, confirmed {at})"),
                false,
            ),
            (None, Some(reason)) => (
                format!(
                    "hold closed ({reason}) {}",
                    closed_at.as_deref().unwrap_or("")
                ),
                true,
            ),
            (None, None) if until.as_str() > &horizon[..10] => {
                ("held: the grace is running".to_string(), true)
            }
            (None, None) => ("grace over, not yet taken away".to_string(), true),
        };
        out.push(Grace {
            grant,
            level,
            until,
            policy,
            outcome,
            honoured,
        });
    }
    Ok(out)
}

/// Whether a system holds `grant` for `user` now (any level).
fn observed_holds(cx: &Cx<'_>, user: &str, grant: &str) -> Result<Vec<String>> {
    let mut stmt = cx
        .conn
        .prepare_cached("SELECT system, holdings FROM observed WHERE user_id = ?1")
        .state(cx.path)?;
    let rows = stmt
        .query_map([user], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .state(cx.path)?;
    let mut out = Vec::new();
    for r in rows {
        let (system, h) = r.state(cx.path)?;
        let h: crate::pull::Holdings = serde_json::from_str(&h).unwrap_or_default();
        if h.iter().any(|(g, _)| g == grant) {
            out.push(system);
        }
    }
    Ok(out)
}

fn exceptions_section(
    cx: &Cx<'_>,
    bundle: &ir::Bundle,
    to: NaiveDate,
) -> Result<Vec<ExceptionItem>> {
    let mut out = Vec::new();
    for e in &bundle.exceptions {
        let grants: Vec<String> = e
            .grants
            .iter()
            .map(|g| bundle.entitlement_text(&g.entitlement))
            .collect();
        let state = if e.in_force(to) {
            "in force"
        } else if to >= e.expires {
            "expired"
        } else {
            "not yet in force"
        };
        let mut revocation = None;
        let mut flagged = false;
        if state == "expired" {
            let mut parts = Vec::new();
            for g in &grants {
                let revoked: Option<(String, String)> = cx
                    .conn
                    .prepare_cached(
                        "SELECT a.updated_at, a.plan_id FROM actions a JOIN plans p ON p.id = a.plan_id
                         WHERE a.user_id = ?1 AND a.action IN ('revoke', 'deprovision') AND a.status = 'done'
                         AND (json_extract(a.change, '$.grant') = ?2 OR a.action = 'deprovision') AND p.as_of >= ?3 AND a.updated_at < ?4
                         ORDER BY a.updated_at LIMIT 1",
                    )
                    .state(cx.path)?
                    .query_row(
                        crate::db::params![e.user, g, e.expires.to_string(), cx.end],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .ok();
                let held = observed_holds(cx, &e.user, g)?;
                match revoked {
                    Some((at, plan)) if held.is_empty() => {
                        parts.push(format!("{g}: revoked {at} ({plan})"))
                    }
                    _ if held.is_empty() => parts.push(format!("{g}: not held")),
                    _ => {
                        flagged = true;
                        parts.push(format!(
                            "{g}: STILL HELD after expiry in {}",
                            held.join(", ")
                        ))
                    }
                }
            }
            revocation = Some(parts.join("; "));
        }
        out.push(ExceptionItem {
            name: e.name.clone(),
            user_id: e.user.clone(),
            grants,
            justification: e.justification.clone(),
            approved_by: e.approved_by.clone(),
            effective: e.effective,
            expires: e.expires,
            meta: e.meta.clone(),
            state: state.to_string(),
            revocation,
            flagged,
        });
    }
    Ok(out)
}

fn sod_section(
    cx: &Cx<'_>,
    bundle: &std::sync::Arc<ir::Bundle>,
    to: NaiveDate,
) -> Result<SeparationOfDuties> {
    let conflicts: Vec<ConflictItem> = bundle
        .conflicts
        .iter()
        .map(|c| ConflictItem {
            name: c.name.clone(),
            patterns: c.patterns.iter().map(|p| p.text.clone()).collect(),
            reason: c.reason.clone(),
        })
        .collect();
    let mut violations = Vec::new();
    if !bundle.conflicts.is_empty() {
        // what the policies grant at the end of the period
        let stored = directory::load_at(cx.conn, cx.path, to)?;
        if !stored.is_empty() {
            let users = directory::to_users(&stored, bundle.schema.as_ref())?;
            let eplan = EvalPlan::new(bundle.clone(), &users.fields, to);
            for r in &users.records {
                let ev = eplan.evaluate(&r.id, &r.values);
                for v in &ev.violations {
                    violations.push(ViolationItem {
                        conflict: bundle.conflicts[v.conflict].name.clone(),
                        user_id: r.id.clone(),
                        found_in: "policy".into(),
                        grants: v.ents.iter().map(|&e| eplan.ent_text(e).to_string()).collect(),
                        fate: "granted by the policies: open (change the policies or declare an exception)".into(),
                    });
                }
            }
        }
        // what the systems hold (a person's accounts in every system together)
        let mut held: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        {
            let mut stmt = cx
                .conn
                .prepare("SELECT system, user_id, holdings FROM observed ORDER BY system, user_id")
                .state(cx.path)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .state(cx.path)?;
            for r in rows {
                let (system, user, h) = r.state(cx.path)?;
                let h: crate::pull::Holdings = serde_json::from_str(&h).unwrap_or_default();
                held.entry(user)
                    .or_default()
                    .extend(h.into_iter().map(|(g, _)| (system.clone(), g)));
            }
        }
        for (user, h) in &held {
            for c in &bundle.conflicts {
                let hits: Vec<Vec<&(String, String)>> = c
                    .patterns
                    .iter()
                    .map(|p| {
                        h.iter()
                            .filter(|(_, g)| {
                                let mut it = g.splitn(3, ':');
                                let (s, t, n) = (it.next(), it.next(), it.next());
                                matches!((s, t), (Some(s), Some(t)) if p.matches(s, t, n))
                            })
                            .collect()
                    })
                    .collect();
                let violated = hits.iter().enumerate().any(|(i, a)| {
                    hits[i + 1..]
                        .iter()
                        .any(|b| a.iter().any(|x| b.iter().any(|y| x.1 != y.1)))
                });
                if !violated {
                    continue;
                }
                let mut grants: Vec<String> = hits.iter().flatten().map(|x| x.1.clone()).collect();
                grants.sort();
                grants.dedup();
                let mut systems: Vec<&str> = hits.iter().flatten().map(|x| x.0.as_str()).collect();
                systems.sort_unstable();
                systems.dedup();
                // a revocation planned for one side?
                let mut planned = Vec::new();
                for g in &grants {
                    let mut st = cx
                        .conn
                        .prepare_cached(
                            "SELECT plan_id, status FROM actions WHERE user_id = ?1 AND action = 'revoke' AND json_extract(change, '$.grant') = ?2 AND planned_at < ?3 ORDER BY planned_at DESC LIMIT 1",
                        )
                        .state(cx.path)?;
                    if let Ok((plan, status)) = st
                        .query_row(crate::db::params![user, g, cx.end], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                        })
                    {
                        planned.push(format!("{g}: revocation in {plan} ({status})"));
                    }
                }
                let fate = if planned.is_empty() {
                    "held when the pack was made: open (no revocation planned: polc does not manage these entries, remove by hand)".to_string()
                } else {
                    format!("held when the pack was made: {}", planned.join("; "))
                };
                violations.push(ViolationItem {
                    conflict: c.name.clone(),
                    user_id: user.clone(),
                    found_in: systems.join(", "),
                    grants,
                    fate,
                });
            }
        }
    }
    Ok(SeparationOfDuties {
        conflicts,
        violations,
    })
}

fn drift_section(cx: &Cx<'_>) -> Result<Drift> {
    let mut pulls = Vec::new();
    {
        let mut stmt = cx
            .conn
            .prepare(
                "SELECT p.id, p.system, p.at, p.entries, p.accounts, p.suspect,
                   (SELECT json_extract(details, '$.appeared') FROM audit WHERE kind = 'pull' AND CAST(json_extract(details, '$.pull') AS BIGINT) = p.id),
                   (SELECT json_extract(details, '$.disappeared') FROM audit WHERE kind = 'pull' AND CAST(json_extract(details, '$.pull') AS BIGINT) = p.id),
                   (SELECT min(n.at) FROM pulls n WHERE n.system = p.system AND n.id > p.id)
                 FROM pulls p WHERE p.at >= ?1 AND p.at < ?2 ORDER BY p.id",
            )
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.start, &cx.end], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .state(cx.path)?;
        for r in rows {
            let (id, system, at, entries, accounts, suspect, appeared, disappeared, next) =
                r.state(cx.path)?;
            let until = next.unwrap_or_else(|| cx.end.clone());
            let remediated: i64 = cx
                .conn
                .query_row(
                    "SELECT count(*) FROM actions WHERE system = ?1 AND status = 'done' AND updated_at >= ?2 AND updated_at < ?3 AND updated_at < ?4",
                    crate::db::params![system, at, until, cx.end],
                    |r| r.get(0),
                )
                .state(cx.path)?;
            pulls.push(PullItem {
                system,
                pull: id,
                at,
                entries,
                accounts,
                appeared: appeared.unwrap_or(0),
                disappeared: disappeared.unwrap_or(0),
                suspect,
                remediated,
            });
        }
    }
    let mut coverage = Vec::new();
    let mut orphans: BTreeMap<(String, String), String> = BTreeMap::new();
    {
        let mut stmt = cx
            .conn
            .prepare("SELECT id, created_at, json_extract(document, '$.systems') FROM plans WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id")
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.start, &cx.end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .state(cx.path)?;
        for r in rows {
            let (plan, created_at, systems) = r.state(cx.path)?;
            let systems: Vec<crate::plan::SystemPlan> = systems
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            for s in systems.iter().filter(|s| s.provisioned) {
                let managed = s.managed_entries as i64;
                let unmanaged = s.unmanaged_count as i64;
                coverage.push(CoverageItem {
                    plan: plan.clone(),
                    created_at: created_at.clone(),
                    system: s.system.clone(),
                    managed_entries: managed,
                    unmanaged_entries: unmanaged,
                    orphan_accounts: s.orphans.len() as i64,
                    coverage_percent: if managed + unmanaged == 0 {
                        100.0
                    } else {
                        ((managed as f64 * 1000.0) / (managed + unmanaged) as f64).round() / 10.0
                    },
                });
                for o in &s.orphans {
                    orphans
                        .entry((s.system.clone(), o.clone()))
                        .or_insert_with(|| plan.clone());
                }
            }
        }
    }
    let mut orphan_items = Vec::new();
    for ((system, user), first_plan) in orphans {
        let (done, open): (i64, i64) = cx
            .conn
            .query_row(
                "SELECT count(*) FILTER (WHERE status = 'done' AND updated_at < ?3), count(*) FILTER (WHERE status != 'done' OR updated_at >= ?3) FROM actions WHERE system = ?1 AND user_id = ?2",
                crate::db::params![system, user, cx.end],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .state(cx.path)?;
        let fate = match (done, open) {
            (0, 0) => "reported: nothing planned (unmanaged access)".to_string(),
            (d, 0) => format!("removed: {d} action(s) confirmed"),
            (d, o) => format!("open: {d} action(s) confirmed, {o} not"),
        };
        orphan_items.push(OrphanItem {
            system,
            user_id: user,
            first_plan,
            fate,
        });
    }
    Ok(Drift {
        pulls,
        coverage,
        orphans: orphan_items,
    })
}

fn s(v: &Json, k: &str) -> String {
    match v.get(k) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn opt(v: &Json, k: &str) -> Option<String> {
    v.get(k).and_then(Json::as_str).map(str::to_string)
}

fn reviews_section(cx: &Cx<'_>) -> Result<Reviews> {
    let mut plans = Vec::new();
    {
        let mut stmt = cx
            .conn
            .prepare(
                "SELECT id, as_of, digest, created_at, created_by, coalesce(json_extract(document, '$.summary.actions'), '0'), coalesce(json_extract(document, '$.summary.review'), '0')
                 FROM plans WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id",
            )
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.start, &cx.end], |r| {
                Ok(PlanItem {
                    plan: r.get(0)?,
                    as_of: r.get(1)?,
                    digest: r.get(2)?,
                    created_at: r.get(3)?,
                    created_by: r.get(4)?,
                    actions: r.get(5)?,
                    review: r.get(6)?,
                })
            })
            .state(cx.path)?;
        for r in rows {
            plans.push(r.state(cx.path)?);
        }
    }
    let approvals = cx
        .audit("approval")?
        .into_iter()
        .map(|(time, _, d)| ApprovalItem {
            time,
            plan: s(&d, "plan"),
            digest: s(&d, "digest"),
            approver: s(&d, "approver"),
            auto: d.get("auto").and_then(Json::as_bool).unwrap_or(false),
        })
        .collect();
    let refusals = cx
        .audit("refusal")?
        .into_iter()
        .map(|(time, actor, d)| RefusalItem {
            time,
            actor: opt(&d, "actor").unwrap_or(actor),
            command: s(&d, "command"),
            plan: opt(&d, "plan"),
            reason: s(&d, "reason"),
        })
        .collect();
    let forced = cx
        .audit("force")?
        .into_iter()
        .map(|(time, actor, d)| ForcedItem {
            time,
            actor,
            command: opt(&d, "command").unwrap_or_else(|| "apply".into()),
            plan: opt(&d, "plan"),
            guards: d
                .get("guards")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .map(|g| g.as_str().map_or_else(|| g.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            reason: s(&d, "reason"),
        })
        .collect();
    Ok(Reviews {
        plans,
        approvals,
        refusals,
        forced,
    })
}

fn open_section(cx: &Cx<'_>, leavers: &[Leaver]) -> Result<OpenItems> {
    let mut pending_plans = Vec::new();
    {
        let mut stmt = cx
            .conn
            .prepare(
                "SELECT p.id, p.as_of, count(*) FROM plans p JOIN actions a ON a.plan_id = p.id
                 WHERE p.created_at < ?1 AND (a.status IN ('pending', 'sent') OR a.updated_at >= ?1)
                 GROUP BY p.id ORDER BY p.created_at, p.id",
            )
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.end], |r| {
                Ok(PendingPlanItem {
                    plan: r.get(0)?,
                    as_of: r.get(1)?,
                    open_actions: r.get(2)?,
                })
            })
            .state(cx.path)?;
        for r in rows {
            pending_plans.push(r.state(cx.path)?);
        }
    }
    let mut failed_actions = Vec::new();
    {
        let mut stmt = cx
            .conn
            .prepare(
                "SELECT plan_id, id, system, action, json_extract(change, '$.grant'), planned_at, user_id FROM actions
                 WHERE status = 'failed' AND updated_at < ?1 ORDER BY plan_id, idx",
            )
            .state(cx.path)?;
        let rows = stmt
            .query_map([&cx.end], |r| {
                Ok(ActionItem {
                    plan: r.get(0)?,
                    action_id: r.get(1)?,
                    system: r.get(2)?,
                    action: r.get(3)?,
                    grant: r.get(4)?,
                    status: "failed".into(),
                    planned_at: r.get(5)?,
                    user_id: r.get(6)?,
                    confirmed_at: None,
                })
            })
            .state(cx.path)?;
        for r in rows {
            failed_actions.push(r.state(cx.path)?);
        }
    }
    let overdue_leavers = leavers
        .iter()
        .filter(|l| l.over_sla && !l.complete)
        .map(|l| OverdueLeaver {
            user_id: l.user_id.clone(),
            recorded_at: l.recorded_at.clone(),
            open_actions: l.actions.iter().filter(|a| is_open(a)).count(),
        })
        .collect();
    Ok(OpenItems {
        pending_plans,
        failed_actions,
        overdue_leavers,
    })
}

fn integrity_section(cx: &Cx<'_>, v: &audit::VerifyReport) -> Result<Integrity> {
    let (head_at_end, entries_at_end): (Option<String>, i64) = cx
        .conn
        .query_row(
            "SELECT (SELECT hash FROM audit WHERE time < ?1 ORDER BY seq DESC LIMIT 1), (SELECT count(*) FROM audit WHERE time < ?1)",
            [&cx.end],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .state(cx.path)?;
    Ok(Integrity {
        verified: v.intact,
        entries: v.entries,
        head: v.head.clone(),
        problem: v.problem.clone(),
        head_at_end,
        entries_at_end,
    })
}

// ---------------------------------------------------------------------------------------
// Tables: the projection the text renderers share

/// One table of a section: column names and rows of cells (raw data, unescaped).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Rows to draw attention to (over the SLA, still held, broken…).
    pub flagged: Vec<bool>,
}

fn table(title: &'static str, columns: &[&'static str]) -> Table {
    Table {
        title,
        columns: columns.to_vec(),
        rows: Vec::new(),
        flagged: Vec::new(),
    }
}

impl Table {
    fn row(&mut self, cells: Vec<String>, flag: bool) {
        self.rows.push(cells);
        self.flagged.push(flag);
    }
}

fn o<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn delay_text(s: Option<i64>) -> String {
    match s {
        None => String::new(),
        Some(s) => format!("{}h {:02}m {:02}s", s / 3600, (s % 3600) / 60, s % 60),
    }
}

fn actions_text(a: &[ActionItem]) -> String {
    a.iter()
        .map(|a| {
            format!(
                "{} {} {} [{}]",
                a.action,
                a.system,
                a.grant.as_deref().unwrap_or("(account)"),
                a.status
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A section's metadata and tables, for rendering.
pub struct View<'a> {
    pub id: &'static str,
    pub title: &'static str,
    pub controls: &'a Controls,
    pub summary: &'a str,
    pub tables: Vec<Table>,
}

fn view<'a, T>(s: &'a Section<T>, tables: Vec<Table>) -> View<'a> {
    View {
        id: s.id,
        title: s.title,
        controls: &s.controls,
        summary: &s.summary,
        tables,
    }
}

impl Pack {
    /// The parameters as (name, value) pairs.
    pub fn parameter_rows(&self) -> Vec<(&'static str, String)> {
        let p = &self.parameters;
        vec![
            ("period", format!("{} to {} (inclusive)", p.from, p.to)),
            ("period basis", p.period_basis.to_string()),
            ("delays", p.delay_basis.to_string()),
            ("leaver SLA", format!("{} hours", p.leaver_sla_hours)),
            ("bundle digests", p.bundles.join(", ")),
            (
                "audit head",
                format!("{} ({} entries)", p.audit_head, p.audit_entries),
            ),
            (
                "generated",
                format!("{} by {}", p.generated_at, p.generated_by),
            ),
        ]
    }

    /// Every section, in order, with its tables.
    pub fn views(&self) -> Vec<View<'_>> {
        let mut out = Vec::new();

        let mut t1 = table(
            "Bundles",
            &[
                "digest",
                "recorded_at",
                "recorded_by",
                "policies",
                "changed_in_period",
                "plans_approved_by",
            ],
        );
        for b in &self.policies.content.bundles {
            t1.row(
                vec![
                    b.digest.clone(),
                    b.recorded_at.clone(),
                    b.recorded_by.clone(),
                    b.policies.to_string(),
                    b.changed_in_period.to_string(),
                    b.approved_by.join(", "),
                ],
                false,
            );
        }
        let mut t2 = table(
            "Policies",
            &[
                "policy",
                "template",
                "owner",
                "version",
                "effective",
                "expires",
                "inherits",
                "grants",
            ],
        );
        for p in &self.policies.content.policies {
            t2.row(
                vec![
                    p.name.clone(),
                    p.template.to_string(),
                    o(&p.owner),
                    o(&p.version),
                    o(&p.effective),
                    o(&p.expires),
                    p.inherits.join(", "),
                    p.grants.join(", "),
                ],
                false,
            );
        }
        out.push(view(&self.policies, vec![t1, t2]));

        let mut t = table(
            "Joiners",
            &[
                "user_id",
                "cause",
                "effective",
                "recorded_at",
                "grants_confirmed",
                "grants_open",
                "last_confirmed_at",
                "delay",
                "complete",
                "actions",
            ],
        );
        for j in &self.joiners.content.items {
            t.row(
                vec![
                    j.user_id.clone(),
                    j.cause.clone(),
                    j.effective.to_string(),
                    j.recorded_at.clone(),
                    j.confirmed.to_string(),
                    j.open.to_string(),
                    o(&j.last_confirmed_at),
                    delay_text(j.delay_seconds),
                    j.complete.to_string(),
                    actions_text(&j.actions),
                ],
                !j.complete,
            );
        }
        out.push(view(&self.joiners, vec![t]));

        let mut t = table(
            "Movers",
            &[
                "user_id",
                "cause",
                "effective",
                "recorded_at",
                "changed",
                "actions",
            ],
        );
        let mut g = table(
            "Grace periods",
            &[
                "user_id", "grant", "level", "until", "policy", "honoured", "outcome",
            ],
        );
        for m in &self.movers.content.items {
            t.row(
                vec![
                    m.user_id.clone(),
                    m.cause.clone(),
                    m.effective.to_string(),
                    m.recorded_at.clone(),
                    m.changed
                        .iter()
                        .map(|c| format!("{}: {} -> {}", c.field, o(&c.from), o(&c.to)))
                        .collect::<Vec<_>>()
                        .join("; "),
                    actions_text(&m.actions),
                ],
                false,
            );
            for x in &m.grace {
                g.row(
                    vec![
                        m.user_id.clone(),
                        x.grant.clone(),
                        o(&x.level),
                        x.until.clone(),
                        x.policy.clone(),
                        x.honoured.to_string(),
                        x.outcome.clone(),
                    ],
                    !x.honoured,
                );
            }
        }
        out.push(view(&self.movers, vec![t, g]));

        let mut t = table(
            "Leavers",
            &[
                "user_id",
                "cause",
                "effective",
                "recorded_at",
                "last_revocation_at",
                "delay",
                "complete",
                "over_sla",
                "report_only_access",
                "actions",
            ],
        );
        for l in &self.leavers.content.items {
            t.row(
                vec![
                    l.user_id.clone(),
                    l.cause.clone(),
                    l.effective.to_string(),
                    l.recorded_at.clone(),
                    o(&l.last_revocation_at),
                    delay_text(l.delay_seconds),
                    l.complete.to_string(),
                    l.over_sla.to_string(),
                    l.report_only
                        .iter()
                        .map(|r| r.grant.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    actions_text(&l.actions),
                ],
                l.over_sla || !l.complete,
            );
        }
        out.push(view(&self.leavers, vec![t]));

        let mut t = table(
            "Exceptions",
            &[
                "exception",
                "user_id",
                "grants",
                "justification",
                "approved_by",
                "effective",
                "expires",
                "state",
                "revocation",
            ],
        );
        for e in &self.exceptions.content.items {
            t.row(
                vec![
                    o(&e.name),
                    e.user_id.clone(),
                    e.grants.join(", "),
                    e.justification.clone(),
                    e.approved_by.clone(),
                    o(&e.effective),
                    e.expires.to_string(),
                    e.state.clone(),
                    o(&e.revocation),
                ],
                e.flagged,
            );
        }
        out.push(view(&self.exceptions, vec![t]));

        let sod = &self.separation_of_duties.content;
        let mut c = table("Conflicts declared", &["conflict", "patterns", "reason"]);
        for x in &sod.conflicts {
            c.row(
                vec![x.name.clone(), x.patterns.join(", "), o(&x.reason)],
                false,
            );
        }
        let mut v = table(
            "Violations found",
            &["conflict", "user_id", "found_in", "grants", "fate"],
        );
        for x in &sod.violations {
            v.row(
                vec![
                    x.conflict.clone(),
                    x.user_id.clone(),
                    x.found_in.clone(),
                    x.grants.join(", "),
                    x.fate.clone(),
                ],
                true,
            );
        }
        out.push(view(&self.separation_of_duties, vec![c, v]));

        let d = &self.drift.content;
        let mut p = table(
            "Pulls",
            &[
                "system",
                "pull",
                "at",
                "entries",
                "accounts",
                "appeared",
                "disappeared",
                "suspect",
                "remediated",
            ],
        );
        for x in &d.pulls {
            p.row(
                vec![
                    x.system.clone(),
                    x.pull.to_string(),
                    x.at.clone(),
                    x.entries.to_string(),
                    x.accounts.to_string(),
                    x.appeared.to_string(),
                    x.disappeared.to_string(),
                    o(&x.suspect),
                    x.remediated.to_string(),
                ],
                x.suspect.is_some(),
            );
        }
        let mut c = table(
            "Coverage",
            &[
                "plan",
                "created_at",
                "system",
                "managed_entries",
                "unmanaged_entries",
                "orphan_accounts",
                "coverage_percent",
            ],
        );
        for x in &d.coverage {
            c.row(
                vec![
                    x.plan.clone(),
                    x.created_at.clone(),
                    x.system.clone(),
                    x.managed_entries.to_string(),
                    x.unmanaged_entries.to_string(),
                    x.orphan_accounts.to_string(),
                    format!("{:.1}", x.coverage_percent),
                ],
                false,
            );
        }
        let mut a = table(
            "Orphan accounts",
            &["system", "user_id", "first_plan", "fate"],
        );
        for x in &d.orphans {
            a.row(
                vec![
                    x.system.clone(),
                    x.user_id.clone(),
                    x.first_plan.clone(),
                    x.fate.clone(),
                ],
                x.fate.starts_with("open"),
            );
        }
        out.push(view(&self.drift, vec![p, c, a]));

        let r = &self.reviews.content;
        let mut pl = table(
            "Plans",
            &[
                "plan",
                "as_of",
                "digest",
                "created_at",
                "created_by",
                "actions",
                "review",
            ],
        );
        for x in &r.plans {
            pl.row(
                vec![
                    x.plan.clone(),
                    x.as_of.clone(),
                    x.digest.clone(),
                    x.created_at.clone(),
                    x.created_by.clone(),
                    x.actions.to_string(),
                    x.review.to_string(),
                ],
                false,
            );
        }
        let mut ap = table("Approvals", &["time", "plan", "digest", "approver", "auto"]);
        for x in &r.approvals {
            ap.row(
                vec![
                    x.time.clone(),
                    x.plan.clone(),
                    x.digest.clone(),
                    x.approver.clone(),
                    x.auto.to_string(),
                ],
                false,
            );
        }
        let mut rf = table("Refusals", &["time", "actor", "command", "plan", "reason"]);
        for x in &r.refusals {
            rf.row(
                vec![
                    x.time.clone(),
                    x.actor.clone(),
                    x.command.clone(),
                    o(&x.plan),
                    x.reason.clone(),
                ],
                false,
            );
        }
        let mut fo = table(
            "Forced applies",
            &["time", "actor", "command", "plan", "guards", "reason"],
        );
        for x in &r.forced {
            fo.row(
                vec![
                    x.time.clone(),
                    x.actor.clone(),
                    x.command.clone(),
                    o(&x.plan),
                    x.guards.join("; "),
                    x.reason.clone(),
                ],
                true,
            );
        }
        out.push(view(&self.reviews, vec![pl, ap, rf, fo]));

        let op = &self.open_items.content;
        let mut pp = table("Pending plans", &["plan", "as_of", "open_actions"]);
        for x in &op.pending_plans {
            pp.row(
                vec![x.plan.clone(), x.as_of.clone(), x.open_actions.to_string()],
                true,
            );
        }
        let mut fa = table(
            "Failed actions",
            &[
                "plan",
                "action_id",
                "system",
                "user_id",
                "action",
                "grant",
                "planned_at",
            ],
        );
        for x in &op.failed_actions {
            fa.row(
                vec![
                    x.plan.clone(),
                    x.action_id.clone(),
                    x.system.clone(),
                    x.user_id.clone(),
                    x.action.clone(),
                    o(&x.grant),
                    x.planned_at.clone(),
                ],
                true,
            );
        }
        let mut ol = table(
            "Overdue leavers",
            &["user_id", "recorded_at", "open_actions"],
        );
        for x in &op.overdue_leavers {
            ol.row(
                vec![
                    x.user_id.clone(),
                    x.recorded_at.clone(),
                    x.open_actions.to_string(),
                ],
                true,
            );
        }
        out.push(view(&self.open_items, vec![pp, fa, ol]));

        let i = &self.integrity.content;
        let mut t = table(
            "Audit chain",
            &[
                "verified",
                "entries",
                "head",
                "problem",
                "head_at_end_of_period",
                "entries_at_end_of_period",
            ],
        );
        t.row(
            vec![
                i.verified.to_string(),
                i.entries.to_string(),
                i.head.clone(),
                o(&i.problem),
                o(&i.head_at_end),
                i.entries_at_end.to_string(),
            ],
            !i.verified,
        );
        out.push(view(&self.integrity, vec![t]));
        out
    }
}

// ---------------------------------------------------------------------------------------
// Escaping: one function per format; every value from data goes through it

/// Control characters (ANSI escapes, newlines, tabs…) made visible and inert:
/// `\u{1b}`, `\u{a}`.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// HTML text or attribute value: `& < > " '` as entities, control characters inert.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown text (also inside a table cell): HTML specials as entities, markdown
/// punctuation backslash-escaped, control characters inert.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // `:`, `.` and `@` stop autolinks (`https://…`, `www.…`, e-mail addresses);
            // data never starts a line (it follows `| `, `## ` or `_`), so `-`, `=` and
            // digits cannot start a list or a heading
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '.' | '!'
            | '|' | '~' | ':' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// One CSV cell: a value starting with `=`, `+`, `-`, `@` or a control character (tab,
/// CR, LF…) is neutralised by a leading `'` (the OWASP rule against formula injection);
/// control characters are made inert; the cell is quoted when it holds `,` or `"`.
pub fn csv_cell(s: &str) -> String {
    let risky = s
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@') || c.is_control());
    let mut v = clean(s);
    if risky {
        v.insert(0, '\'');
    }
    if v.contains([',', '"', ';']) || v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

// ---------------------------------------------------------------------------------------
// Renderers

/// Renders a pack.
pub fn render(pack: &Pack, format: Format) -> Result<Vec<u8>> {
    Ok(match format {
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(pack).map_err(|e| Error::Bug(e.to_string()))?;
            v.push(b'\n');
            v
        }
        Format::Html => render_html(pack).into_bytes(),
        Format::Markdown => render_markdown(pack).into_bytes(),
        Format::Csv => render_csv(pack).into_bytes(),
    })
}

fn controls_line(c: &Controls) -> [(&'static str, String); 3] {
    [
        ("SOC 2 (2017 TSC)", c.soc2.join(", ")),
        ("ISO/IEC 27001:2013", c.iso27001_2013.join(", ")),
        ("ISO/IEC 27001:2022", c.iso27001_2022.join(", ")),
    ]
}

const CSS: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:13px;color:#111;margin:2em;line-height:1.4}\
h1{font-size:22px;margin-bottom:.2em}h2{font-size:17px;margin-top:1.8em;border-bottom:2px solid #333;padding-bottom:.2em}\
h3{font-size:14px;margin:1em 0 .3em}table{border-collapse:collapse;width:100%;margin-bottom:.8em}\
th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top;word-break:break-word}\
th{background:#eee}tr.flag td{background:#fde2e2}.controls{font-size:12px;color:#333}.controls b{font-weight:600}\
.summary{font-style:italic}.empty{color:#666}code{font-family:Menlo,Consolas,monospace;font-size:12px}\
@media print{body{margin:0;font-size:10px}section{break-inside:auto}h2{break-after:avoid}tr{break-inside:avoid}th{background:#eee !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}tr.flag td{-webkit-print-color-adjust:exact;print-color-adjust:exact}nav{display:none}}";

fn render_html(pack: &Pack) -> String {
    let h = html_escape;
    let p = &pack.parameters;
    let mut s = String::new();
    s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    s += &format!(
        "<title>Access governance evidence {} to {}</title>\n",
        h(&p.from.to_string()),
        h(&p.to.to_string())
    );
    s += &format!("<style>{CSS}</style>\n</head>\n<body>\n");
    s += &format!(
        "<h1>Access governance evidence: {} to {}</h1>\n",
        h(&p.from.to_string()),
        h(&p.to.to_string())
    );
    s += "<table class=\"params\">\n";
    for (k, v) in pack.parameter_rows() {
        s += &format!("<tr><th>{}</th><td>{}</td></tr>\n", h(k), h(&v));
    }
    s += "</table>\n<nav><ol>\n";
    let views = pack.views();
    for v in &views {
        s += &format!("<li><a href=\"#{}\">{}</a></li>\n", h(v.id), h(v.title));
    }
    s += "</ol></nav>\n";
    for v in &views {
        s += &format!("<section id=\"{}\">\n<h2>{}</h2>\n", h(v.id), h(v.title));
        s += "<p class=\"controls\">";
        for (i, (std, list)) in controls_line(v.controls).iter().enumerate() {
            if i > 0 {
                s += " &middot; ";
            }
            s += &format!("<b>{}</b>: {}", h(std), h(list));
        }
        s += "</p>\n";
        s += &format!("<p class=\"summary\">{}</p>\n", h(v.summary));
        for t in &v.tables {
            s += &format!("<h3>{}</h3>\n", h(t.title));
            if t.rows.is_empty() {
                s += "<p class=\"empty\">none</p>\n";
                continue;
            }
            s += "<table>\n<thead><tr>";
            for c in &t.columns {
                s += &format!("<th>{}</th>", h(c));
            }
            s += "</tr></thead>\n<tbody>\n";
            for (r, flag) in t.rows.iter().zip(&t.flagged) {
                s += if *flag { "<tr class=\"flag\">" } else { "<tr>" };
                for c in r {
                    s += &format!("<td>{}</td>", h(c));
                }
                s += "</tr>\n";
            }
            s += "</tbody>\n</table>\n";
        }
        s += "</section>\n";
    }
    s += "</body>\n</html>\n";
    s
}

fn render_markdown(pack: &Pack) -> String {
    let m = md_escape;
    let p = &pack.parameters;
    let mut s = format!(
        "# Access governance evidence: {} to {}\n\n| parameter | value |\n|---|---|\n",
        m(&p.from.to_string()),
        m(&p.to.to_string())
    );
    for (k, v) in pack.parameter_rows() {
        s += &format!("| {} | {} |\n", m(k), m(&v));
    }
    for v in pack.views() {
        s += &format!("\n## {}\n\n", m(v.title));
        let parts: Vec<String> = controls_line(v.controls)
            .iter()
            .map(|(std, list)| format!("**{}**: {}", m(std), m(list)))
            .collect();
        s += &format!("Controls: {}\n\n", parts.join("; "));
        s += &format!("_{}_\n", m(v.summary));
        for t in &v.tables {
            s += &format!("\n### {}\n\n", m(t.title));
            if t.rows.is_empty() {
                s += "none\n";
                continue;
            }
            s += "| flag | ";
            s += &t
                .columns
                .iter()
                .map(|c| m(c))
                .collect::<Vec<_>>()
                .join(" | ");
            s += " |\n|---|";
            s += &"---|".repeat(t.columns.len());
            s += "\n";
            for (r, flag) in t.rows.iter().zip(&t.flagged) {
                s += if *flag { "| **!** | " } else { "|  | " };
                s += &r.iter().map(|c| m(c)).collect::<Vec<_>>().join(" | ");
                s += " |\n";
            }
        }
    }
    s
}

/// One row per evidence item: the section, its controls, the table, whether it is
/// flagged, then every column of every table (empty where a table has no such column).
fn render_csv(pack: &Pack) -> String {
    let views = pack.views();
    let mut columns: Vec<&'static str> = Vec::new();
    for v in &views {
        for t in &v.tables {
            for c in &t.columns {
                if !columns.contains(c) {
                    columns.push(c);
                }
            }
        }
    }
    let mut out = String::new();
    let head: Vec<String> = [
        "section",
        "soc2",
        "iso27001_2013",
        "iso27001_2022",
        "table",
        "flagged",
    ]
    .iter()
    .chain(columns.iter())
    .map(|c| csv_cell(c))
    .collect();
    out += &head.join(",");
    out += "\r\n";
    let mut line = |section: &str,
                    c: Option<&Controls>,
                    table: &str,
                    flag: bool,
                    cells: &HashMap<&str, &str>| {
        let mut row = vec![
            csv_cell(section),
            csv_cell(&c.map(|c| c.soc2.join(" ")).unwrap_or_default()),
            csv_cell(&c.map(|c| c.iso27001_2013.join(" ")).unwrap_or_default()),
            csv_cell(&c.map(|c| c.iso27001_2022.join(" ")).unwrap_or_default()),
            csv_cell(table),
            csv_cell(if flag { "yes" } else { "" }),
        ];
        for col in &columns {
            row.push(csv_cell(cells.get(col).copied().unwrap_or("")));
        }
        out += &row.join(",");
        out += "\r\n";
    };
    for (k, v) in pack.parameter_rows() {
        let cells: HashMap<&str, &str> = [("parameter", k), ("value", v.as_str())].into();
        line("parameters", None, k, false, &cells);
    }
    for v in &views {
        for t in &v.tables {
            for (r, flag) in t.rows.iter().zip(&t.flagged) {
                let cells: HashMap<&str, &str> = t
                    .columns
                    .iter()
                    .copied()
                    .zip(r.iter().map(String::as_str))
                    .collect();
                line(v.id, Some(v.controls), t.title, *flag, &cells);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Signatures

const SIG_PREFIX: &[u8] = b"polc-evidence signature\n";
const SIG_COMMENT: &str = "# polc evidence signature (ed25519)";

/// The bytes a signature signs: a fixed prefix, then the pack's bytes.
fn signed_message(bytes: &[u8]) -> Vec<u8> {
    let mut m = SIG_PREFIX.to_vec();
    m.extend_from_slice(bytes);
    m
}

/// The text of a signature file: a comment, the key id, the pack's SHA-256 and the
/// signature.
pub fn signature_file(key: &polc::bundle::SecretKey, bytes: &[u8]) -> String {
    let sig = key.sign(&signed_message(bytes));
    format!(
        "{SIG_COMMENT}\nkey_id {}\nsha256 {}\nsignature ed25519:{}\n",
        key.public().id(),
        crate::canon::sha256_hex(bytes),
        hex::encode(sig)
    )
}

/// Checks a pack's bytes against its signature file and a public key (`KEY.pub`).
pub fn verify_signature(
    bytes: &[u8],
    signature_file: &str,
    key: &polc::bundle::PublicKey,
) -> std::result::Result<(), String> {
    let mut key_id = None;
    let mut digest = None;
    let mut sig = None;
    for line in signature_file.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(' ') {
            Some(("key_id", v)) => key_id = Some(v.trim()),
            Some(("sha256", v)) => digest = Some(v.trim()),
            Some(("signature", v)) => sig = Some(v.trim()),
            _ => return Err(format!("not a polc evidence signature line: {line}")),
        }
    }
    let sig = sig.ok_or("no `signature` line")?;
    let hexsig = sig
        .strip_prefix("ed25519:")
        .ok_or("the signature is not `ed25519:` and 128 hex digits")?;
    let raw: [u8; 64] = hex::decode(hexsig)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("the signature is not `ed25519:` and 128 hex digits")?;
    if let Some(id) = key_id {
        if id != key.id() {
            return Err(format!(
                "signed by another key ({id}), not this one ({})",
                key.id()
            ));
        }
    }
    if let Some(d) = digest {
        if d != crate::canon::sha256_hex(bytes) {
            return Err("the pack's SHA-256 is not the signed one: the pack was changed".into());
        }
    }
    if key.verify(&signed_message(bytes), &raw) {
        Ok(())
    } else {
        Err("bad signature: the pack or the signature was changed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\\u{9}x");
        assert_eq!(csv_cell("\rx"), "'\\u{d}x");
        assert_eq!(csv_cell("\nx"), "'\\u{a}x");
        assert_eq!(csv_cell("a\nb"), "a\\u{a}b");
        assert_eq!(csv_cell("\u{1b}[31mred"), "'\\u{1b}[31mred");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn html_and_markdown_escape() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&\"\u{1b}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\u{1b}"
        );
        let m = md_escape("<b>|*x*|</b>\n[l](u)");
        assert!(!m.contains('<') && !m.contains('\n'), "{m}");
        assert!(m.contains("\\|\\*x\\*\\|"), "{m}");
        assert!(m.contains("\\[l\\]\\(u\\)"), "{m}");
    }

    #[test]
    fn every_section_has_its_controls() {
        assert_eq!(CONTROLS.len(), 10);
        let (_, _, c) = controls("integrity");
        assert_eq!(c.soc2, ["CC7.2"]);
        assert_eq!(c.iso27001_2013, ["A.12.4.2"]);
        assert_eq!(c.iso27001_2022, ["8.15"]);
    }
}
