//! `apply`: carries out a stored plan, crash-safely.
//!
//! Every action is journalled `pending → sent` in a committed transaction *before* the
//! connector is called, then read back and marked `done`, `failed` or `stale` in a second
//! transaction. A crash anywhere leaves actions `pending` (never sent: sent next time) or
//! `sent` (maybe sent): the next apply or pull reads those back first and marks them done
//! without sending again when the system already shows the change. Journal writes are
//! batched (one transaction marks a batch sent, one records its results), which is what
//! makes tens of thousands of actions a second possible with `synchronous = FULL`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::db::Db;
use chrono::NaiveDate;
use polc_connectors::{Change, Connector, ConnectorError, LeaverMode, Person, ReadBack};
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result, StateContext};
use crate::plan::Plan;
use crate::pull::store_observed;
use crate::state::now_text;
use crate::{audit, directory, Provision};

/// How a plan is approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// A person approves exactly this digest (everything in the plan).
    Digest(String),
    /// No person: refused when an action needs review (leavers' revocations excepted).
    AutoApprove,
}

/// `apply`'s options.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub approve: Approval,
    /// The date of the apply: the plan must be dated so.
    pub at: NaiveDate,
    /// Apply although a guard trips, for this reason (audited).
    pub force: Option<String>,
    /// Who approves (the audit's actor; with four_eyes, not the plan's author).
    pub as_name: Option<String>,
    /// Wait for another process's lock on a system instead of refusing.
    pub wait: bool,
    /// Actions per journal transaction; 0 (the default) lets the connector decide: a `file`
    /// system is rewritten once per [`FILE_BATCH`] actions, the others go [`NET_BATCH`] at a
    /// time.
    pub batch: usize,
    /// A fail point (tests): `journalled`, `sent:N` (after the Nth change is sent),
    /// `read:N` (after the Nth change is read back), `confirmed`. Default: the
    /// `POLC_FAILPOINT` environment variable.
    pub fail_at: Option<String>,
    /// At the fail point, kill the process with SIGKILL (else panic).
    pub fail_kill: bool,
    /// The lease this apply runs under (`polc serve`): checked in the transaction that
    /// journals each batch as sent; lost, nothing more is sent.
    pub fence: Option<crate::lease::Fence>,
}

/// Actions per batch on a `file` system: the file is read and rewritten once per batch, so
/// small batches make a large apply quadratic.
pub const FILE_BATCH: usize = 50_000;
/// Actions per batch on the other systems (each action is its own call anyway; the batch
/// only groups the journal's transactions).
pub const NET_BATCH: usize = 512;

impl ApplyOptions {
    pub fn new(approve: Approval, at: NaiveDate) -> ApplyOptions {
        ApplyOptions {
            approve,
            at,
            force: None,
            as_name: None,
            wait: false,
            batch: 0,
            fail_at: std::env::var("POLC_FAILPOINT").ok(),
            fail_kill: std::env::var_os("POLC_FAILPOINT_KILL").is_some(),
            fence: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    pub id: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    pub done: usize,
    pub failed: usize,
    pub stale: usize,
    pub skipped: usize,
    /// Not finished (a quarantined system stopped them, or they stay `sent` unconfirmed).
    pub pending: usize,
}

/// The revocation guard on one system of a plan (see [`Provision::guard_verdict`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardLine {
    pub system: String,
    /// Revocations (and deprovisionings) the plan still has to make in the system.
    pub planned: u64,
    /// Revocations done in the system in the last 24 hours.
    pub recent: u64,
    pub managed_entries: u64,
    /// `planned + recent` of `managed_entries`, in percent (one decimal).
    pub percent: f64,
    /// Over both `max_revoke_count` and `max_revoke_percent`: the apply is refused.
    pub over: bool,
    /// In words.
    pub message: String,
}

/// What the guards say of a stored plan before it is approved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardVerdict {
    /// A system is over the revocation guard's limits: approving is refused without
    /// `--force`.
    pub tripped: bool,
    /// Each system with revocations planned.
    pub revocations: Vec<GuardLine>,
    /// Why the plan is stale (approving is refused: make a new plan), if it is.
    pub stale: Option<String>,
    /// Actions not yet done (pending or sent).
    pub open: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub plan: String,
    pub digest: String,
    pub results: Vec<ActionResult>,
    pub summary: ApplySummary,
}

impl ApplyReport {
    /// Everything done (or skipped on purpose): exit 0; otherwise 1 (re-run finishes it).
    pub fn all_done(&self) -> bool {
        self.summary.failed == 0 && self.summary.pending == 0 && self.summary.stale == 0
    }

    pub fn human(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "plan {}: {} done, {} failed, {} stale, {} skipped, {} pending\n",
            self.plan, s.done, s.failed, s.stale, s.skipped, s.pending
        );
        for r in self.results.iter().filter(|r| r.status != "done").take(100) {
            out += &format!(
                "  {} {} (attempts {}){}\n",
                r.id,
                r.status,
                r.attempts,
                r.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
        if !self.all_done() {
            out += "run the same apply again to finish what failed\n";
        }
        out
    }
}

/// A listing by (user id, grant): the levels held.
type Listed = HashMap<(String, String), Vec<Option<String>>>;

/// One journalled action.
struct Row {
    plan_id: String,
    idx: i64,
    id: String,
    user_id: String,
    change: Change,
    leaver: bool,
    protected: bool,
    _status: String,
}

fn rows(conn: &Db, path: &Path, sql: &str, params: &[&dyn crate::db::ToValue]) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql).state(path)?;
    let it = stmt
        .query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .state(path)?;
    let mut out = Vec::new();
    for x in it {
        let (plan_id, idx, id, user_id, change, leaver, protected, status) = x.state(path)?;
        let change: Change = serde_json::from_str(&change).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: format!("action {id} of {plan_id} is damaged: {e}"),
        })?;
        out.push(Row {
            plan_id,
            idx,
            id,
            user_id,
            change,
            leaver,
            protected,
            _status: status,
        });
    }
    Ok(out)
}

const COLS: &str = "plan_id, idx, id, user_id, change, leaver, protected, status";

/// The grant a change reads back (None: the account).
fn grant_of(c: &Change) -> Option<&str> {
    match c {
        Change::Grant { grant, .. } | Change::Revoke { grant } | Change::SetLevel { grant, .. } => {
            Some(grant)
        }
        Change::Deprovision { .. } | Change::Reactivate => None,
    }
}

/// Whether what the system shows is what the change makes.
pub fn confirmed(c: &Change, rb: &ReadBack) -> bool {
    match c {
        Change::Grant { level, .. } => rb.levels.contains(level),
        Change::Revoke { .. } => rb.levels.is_empty(),
        Change::SetLevel { from, to, .. } => {
            rb.levels.contains(to) && (from == to || !rb.levels.contains(from))
        }
        Change::Deprovision {
            mode: LeaverMode::Deactivate,
        } => rb.active != Some(true),
        Change::Deprovision {
            mode: LeaverMode::Delete,
        } => rb.active.is_none(),
        Change::Deprovision {
            mode: LeaverMode::Keep,
        } => true,
        Change::Reactivate => rb.active != Some(false),
    }
}

/// The observed holdings after a confirmed change.
fn apply_to_observed(h: &mut crate::pull::Holdings, active: &mut Option<bool>, c: &Change) {
    match c {
        Change::Grant { grant, level } => {
            if !h.iter().any(|(g, l)| g == grant && l == level) {
                h.push((grant.clone(), level.clone()));
            }
        }
        Change::Revoke { grant } => h.retain(|(g, _)| g != grant),
        Change::SetLevel { grant, from, to } => {
            h.retain(|(g, l)| !(g == grant && (l == from || l == to)));
            h.push((grant.clone(), to.clone()));
        }
        Change::Deprovision {
            mode: LeaverMode::Delete,
        } => {
            h.clear();
            *active = None;
        }
        Change::Deprovision {
            mode: LeaverMode::Deactivate,
        } => {
            if active.is_some() {
                *active = Some(false);
            }
        }
        Change::Deprovision {
            mode: LeaverMode::Keep,
        } => {}
        Change::Reactivate => {
            if active.is_some() {
                *active = Some(true);
            }
        }
    }
    h.sort();
}

/// An action's outcome, to record.
struct Outcome {
    status: &'static str,
    tries: i64,
    error: Option<String>,
    /// The change as the system shows it now (for observed access).
    effect: bool,
}

impl Outcome {
    /// Never sent (the system is quarantined): to send on a later run.
    fn not_sent(why: String) -> Outcome {
        Outcome {
            status: "pending",
            tries: 0,
            error: Some(why),
            effect: false,
        }
    }
    /// Maybe sent, not confirmed (the system was quarantined meanwhile): read back first
    /// on the next run.
    fn unconfirmed(why: String) -> Outcome {
        Outcome {
            status: "sent",
            tries: 0,
            error: Some(why),
            effect: false,
        }
    }
}

/// Records outcomes: statuses, observed access, polc's own grants, audit entries.
fn record(
    p: &Provision,
    system: &str,
    as_of: &str,
    batch: &[(&Row, Outcome)],
    resumed: bool,
) -> Result<()> {
    let path = p.state.path.clone();
    let tx = p.tx()?;
    {
        let mut w = audit::Writer::new(&tx, &path, &p.actor)?;
        let now = now_text();
        let mut by_user: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        // the grants this batch has recorded as granted (a batch grants a few of them to
        // many people: each is written once)
        let mut granted: HashSet<&str> = HashSet::new();
        for (r, o) in batch {
            tx.prepare_cached(
                "UPDATE actions SET status = ?3, attempts = attempts + ?4, last_error = ?5, updated_at = ?6 WHERE plan_id = ?1 AND idx = ?2",
            )
            .state(&path)?
            .execute(crate::db::params![r.plan_id, r.idx, o.status, o.tries, o.error, now])
            .state(&path)?;
            let kind = match o.status {
                "done" => "confirmed",
                "pending" | "sent" => "unconfirmed",
                other => other,
            };
            w.append(
                Some(as_of),
                kind,
                json!({"plan": r.plan_id, "action": r.id, "system": system, "user_id": r.user_id, "change": r.change,
                       "error": o.error, "resumed": resumed}),
            )?;
            if o.effect {
                by_user.entry(r.user_id.as_str()).or_default().push(r);
                if let Change::Grant { grant, .. } | Change::SetLevel { grant, .. } = &r.change {
                    if !granted.insert(grant.as_str()) {
                        continue;
                    }
                    tx.prepare_cached("INSERT INTO granted(system, grant_ref, first_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
                        .state(&path)?
                        .execute(crate::db::params![system, grant, now])
                        .state(&path)?;
                }
            }
        }
        for (user, rs) in by_user {
            let row = tx
                .prepare_cached(
                    "SELECT holdings, active FROM observed WHERE system = ?1 AND user_id = ?2",
                )
                .state(&path)?
                .query_row([system, user], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<bool>>(1)?))
                })
                .ok();
            let (mut h, mut active): (crate::pull::Holdings, Option<bool>) = match row {
                Some((t, a)) => (serde_json::from_str(&t).unwrap_or_default(), a),
                None => (Vec::new(), None),
            };
            for r in &rs {
                apply_to_observed(&mut h, &mut active, &r.change);
            }
            let plan_id = &rs[0].plan_id;
            let v = store_observed(&tx, &path, system, user, &h, active, plan_id)?;
            // the plan's own changes do not make it stale
            tx.prepare_cached("UPDATE plan_users SET version = ?4 WHERE plan_id = ?1 AND system = ?2 AND user_id = ?3")
                .state(&path)?
                .execute(crate::db::params![plan_id, system, user, v])
                .state(&path)?;
        }
    }
    p.commit(tx)
}

/// Reads back every action of `system` left `sent` (by any plan): done when the system
/// shows it, else back to `pending` to be sent again. Returns how many were confirmed.
pub(crate) fn recover(p: &Provision, system: &str, conn: &mut dyn Connector) -> Result<usize> {
    let path = p.state.path.clone();
    let sent = rows(
        &p.state.conn,
        &path,
        &format!("SELECT {COLS} FROM actions WHERE system = ?1 AND status = 'sent' ORDER BY plan_id, idx"),
        &[&system],
    )?;
    if sent.is_empty() {
        return Ok(0);
    }
    let mut persons = Persons::default();
    let mut out = Vec::new();
    let mut done = 0;
    for r in &sent {
        let as_of = plan_as_of(&p.state.conn, &path, &r.plan_id)?;
        let person = persons.get(p, &r.user_id, as_of)?;
        match conn.read_back(&person, grant_of(&r.change)) {
            Ok(rb) if confirmed(&r.change, &rb) => {
                done += 1;
                out.push((
                    r,
                    Outcome {
                        status: "done",
                        tries: 0,
                        error: None,
                        effect: true,
                    },
                ));
            }
            Ok(_) => out.push((
                r,
                Outcome {
                    status: "pending",
                    tries: 0,
                    error: Some(
                        "sent before an interruption, not shown by the system: to send again"
                            .into(),
                    ),
                    effect: false,
                },
            )),
            Err(_) => {} // stays sent; the next run reads it again
        }
    }
    // group by as-of for the audit entries
    let as_of = plan_as_of(&p.state.conn, &path, &sent[0].plan_id)?.to_string();
    record(p, system, &as_of, &out, true)?;
    Ok(done)
}

fn plan_as_of(conn: &Db, path: &Path, plan: &str) -> Result<NaiveDate> {
    let s: String = conn
        .prepare_cached("SELECT as_of FROM plans WHERE id = ?1")
        .state(path)?
        .query_row([plan], |r| r.get(0))
        .state(path)?;
    s.parse()
        .map_err(|_| Error::Bug(format!("plan {plan} has a bad date {s}")))
}

/// People as connectors see them (user id and text attributes), read once each. A `file`
/// system knows people by user id only: their records are not read (`ids_only`).
#[derive(Default)]
struct Persons(HashMap<String, Person>, bool);

impl Persons {
    fn ids_only() -> Persons {
        Persons(HashMap::new(), true)
    }

    fn get(&mut self, p: &Provision, user: &str, at: NaiveDate) -> Result<Person> {
        if self.1 {
            return Ok(Person {
                user_id: user.to_string(),
                attributes: Default::default(),
            });
        }
        if let Some(x) = self.0.get(user) {
            return Ok(x.clone());
        }
        let attributes = directory::load_user(&p.state.conn, &p.state.path, user, at)?
            .map(|s| directory::attributes(&s.record))
            .unwrap_or_default();
        let person = Person {
            user_id: user.to_string(),
            attributes,
        };
        self.0.insert(user.to_string(), person.clone());
        Ok(person)
    }
}

/// What a listing shows of the people of `rows`: (user, grant) → levels.
fn listed(listing: polc_connectors::Listing, rows: &[&Row]) -> Listed {
    let people: std::collections::HashSet<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    let mut m: Listed = HashMap::new();
    for h in listing.holdings {
        if people.contains(h.user_id.as_str()) {
            m.entry((h.user_id, h.grant)).or_default().push(h.level);
        }
    }
    m
}

struct FailPoint {
    at: Option<String>,
    kill: bool,
    sent: usize,
    read: usize,
}

/// A fail point outside an apply (tests; `polc serve` has `serve:recorded`, after a batch of
/// events is recorded and before its plan): when `POLC_FAILPOINT` names `point`, the process
/// is killed with SIGKILL (`POLC_FAILPOINT_KILL` set) or panics.
pub fn fail_point(point: &str) {
    FailPoint {
        at: std::env::var("POLC_FAILPOINT").ok(),
        kill: std::env::var_os("POLC_FAILPOINT_KILL").is_some(),
        sent: 0,
        read: 0,
    }
    .hit(point)
}

impl FailPoint {
    fn hit(&self, point: &str) {
        if self.at.as_deref() == Some(point) {
            if self.kill {
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::KILL,
                );
            }
            panic!("fail point {point}");
        }
    }
    fn sent(&mut self) {
        self.sent += 1;
        if self.at.is_some() {
            let p = format!("sent:{}", self.sent);
            self.hit(&p);
        }
    }
    fn read(&mut self) {
        self.read += 1;
        if self.at.is_some() {
            let p = format!("read:{}", self.read);
            self.hit(&p);
        }
    }
}

impl Provision {
    fn refuse(&self, as_of: &str, plan: &str, actor: &str, reason: String) -> Error {
        let details = json!({"command": "apply", "plan": plan, "reason": reason, "actor": actor});
        if let Err(e) = self.audit(Some(as_of), "refusal", details) {
            return e;
        }
        Error::Refused(reason)
    }

    /// `apply PLAN (--approve DIGEST | --auto-approve) [--at D] [--force REASON] [--as NAME]`.
    /// `plan` is a plan id or a plan file (which must carry the stored plan's digest).
    pub fn apply(&mut self, plan: &str, opts: &ApplyOptions) -> Result<ApplyReport> {
        let (stored, created_by) = match self.stored_plan(plan)? {
            Some(x) => x,
            None => {
                let p = Path::new(plan);
                if !p.is_file() {
                    return Err(Error::Input(format!(
                        "no plan `{plan}` in the state, and no such file"
                    )));
                }
                let text = std::fs::read_to_string(p)
                    .map_err(|e| Error::Input(format!("{plan}: cannot read: {e}")))?;
                let file: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Error::Input(format!("{plan}: not a plan file: {e}")))?;
                let id = file
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let digest = file
                    .get("digest")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                let Some((s, by)) = self.stored_plan(&id)? else {
                    return Err(Error::Refused(format!("{plan}: plan `{id}` is not in the state: only plans made by `plan` on this state can be applied")));
                };
                if s.digest != digest {
                    return Err(self.refuse(&s.as_of.to_string(), &id, &self.actor.clone(), format!(
                        "{plan}: its digest {digest} is not the stored plan's ({}): the file was changed", s.digest
                    )));
                }
                (s, by)
            }
        };
        let actor = opts.as_name.clone().unwrap_or_else(|| self.actor.clone());
        let as_of = stored.as_of.to_string();
        let id = stored.id.clone();
        let refuse = |p: &Provision, reason: String| p.refuse(&as_of, &id, &actor, reason);

        if let Approval::Digest(d) = &opts.approve {
            if *d != stored.digest {
                return Err(refuse(
                    self,
                    format!(
                        "the approved digest {d} is not the plan's ({}): review the plan again",
                        stored.digest
                    ),
                ));
            }
            if self.project.server.four_eyes && created_by == actor {
                return Err(refuse(self, format!("four eyes: {actor} made the plan and cannot approve it: another person must")));
            }
        }
        if opts.at != stored.as_of {
            return Err(refuse(
                self,
                format!(
                    "the plan is dated {}, the apply {}: make a new plan for {}",
                    stored.as_of, opts.at, opts.at
                ),
            ));
        }
        let b = self.bundle()?;
        if b.digest != stored.inputs.bundle {
            return Err(refuse(self, format!("stale plan: the policies changed since it was made (bundle {} now, {} then): make a new plan", b.digest, stored.inputs.bundle)));
        }
        if let Some(why) = self.staleness(&stored)? {
            return Err(refuse(self, format!("stale plan: {why}: make a new plan")));
        }
        let path = self.state.path.clone();
        // unfinished actions
        let open = rows(
            &self.state.conn,
            &path,
            &format!("SELECT {COLS} FROM actions WHERE plan_id = ?1 AND status IN ('pending', 'sent') ORDER BY idx"),
            &[&id],
        )?;
        if opts.approve == Approval::AutoApprove {
            let need: Vec<&str> = open
                .iter()
                .filter(|r| {
                    !r.protected && stored.actions.get(r.idx as usize).is_some_and(|a| a.review)
                })
                .map(|r| r.id.as_str())
                .collect();
            if !need.is_empty() {
                return Err(refuse(self, format!(
                    "{} action(s) need review ({}…): approve the plan's digest instead of auto-approving",
                    need.len(),
                    need.iter().take(5).copied().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        // guards
        let tripped: Vec<String> = self
            .revocation_guard(&stored, &open)?
            .into_iter()
            .filter(|l| l.over)
            .map(|l| l.message)
            .collect();
        if !tripped.is_empty() {
            match &opts.force {
                Some(reason) if !reason.trim().is_empty() => {
                    self.with_actor_audit(
                        &actor,
                        Some(&as_of),
                        "force",
                        json!({"plan": id, "guards": tripped, "reason": reason}),
                    )?;
                }
                _ => {
                    return Err(refuse(
                        self,
                        format!(
                            "guard: {}: check the plan, or pass --force with a reason",
                            tripped.join("; ")
                        ),
                    ));
                }
            }
        }
        self.with_actor_audit(
            &actor,
            Some(&as_of),
            "approval",
            json!({"plan": id, "digest": stored.digest, "approver": actor, "auto": opts.approve == Approval::AutoApprove}),
        )?;

        // what failed before is tried again (every change is idempotent)
        self.state
            .conn
            .execute(
                "UPDATE actions SET status = 'pending' WHERE plan_id = ?1 AND status = 'failed'",
                [&id],
            )
            .state(&path)?;
        // carry it out, system by system
        let saved_actor = std::mem::replace(&mut self.actor, actor.clone());
        let result = self.run(&stored, opts);
        self.actor = saved_actor;
        result?;
        self.report(&stored)
    }

    fn with_actor_audit(
        &mut self,
        actor: &str,
        as_of: Option<&str>,
        kind: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        let saved = std::mem::replace(&mut self.actor, actor.to_string());
        let r = self.audit(as_of, kind, details);
        self.actor = saved;
        r.map(|_| ())
    }

    /// The revocation guard on a plan's open actions, system by system: each system's
    /// revocations planned plus those done in the last 24 hours, against its managed
    /// entries and the `[guard]` limits (over both: tripped).
    fn revocation_guard(&self, stored: &Plan, open: &[Row]) -> Result<Vec<GuardLine>> {
        let path = self.state.path.clone();
        let mut out = Vec::new();
        let since = (chrono::Utc::now() - chrono::Duration::hours(24))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for sp in stored.systems.iter().filter(|s| s.provisioned) {
            let planned = open
                .iter()
                .filter(|r| {
                    !r.protected
                        && stored
                            .actions
                            .get(r.idx as usize)
                            .is_some_and(|a| a.system == sp.system && a.action.is_revocation())
                })
                .count() as u64;
            if planned == 0 {
                continue;
            }
            let recent: i64 = self
                .state
                .conn
                .query_row(
                    "SELECT count(*) FROM actions WHERE system = ?1 AND status = 'done' AND action IN ('revoke', 'deprovision') AND updated_at >= ?2",
                    crate::db::params![sp.system, since],
                    |r| r.get(0),
                )
                .state(&path)?;
            let total = planned + recent as u64;
            let base = sp.managed_entries.max(1) as f64;
            let pct = total as f64 * 100.0 / base;
            let g = &self.project.guard;
            let over = total > g.max_revoke_count && pct > g.max_revoke_percent;
            let message = if over {
                format!(
                    "`{}`: {total} revocations within 24 h ({planned} planned, {recent} done) of {} managed entries ({pct:.1}%), above max_revoke_count = {} and max_revoke_percent = {}%",
                    sp.system, sp.managed_entries, g.max_revoke_count, g.max_revoke_percent
                )
            } else {
                format!(
                    "`{}`: {total} revocations within 24 h ({planned} planned, {recent} done) of {} managed entries ({pct:.1}%): not above both max_revoke_count = {} and max_revoke_percent = {}%",
                    sp.system, sp.managed_entries, g.max_revoke_count, g.max_revoke_percent
                )
            };
            out.push(GuardLine {
                system: sp.system.clone(),
                planned,
                recent: recent as u64,
                managed_entries: sp.managed_entries as u64,
                percent: (pct * 10.0).round() / 10.0,
                over,
                message,
            });
        }
        Ok(out)
    }

    /// What the guards would say if the stored plan `id` were approved now, without
    /// applying anything (the review page shows it beside the approve button): the
    /// revocation guard per system, and why the plan is stale, if it is. `None`: no such
    /// plan.
    pub fn guard_verdict(&mut self, id: &str) -> Result<Option<GuardVerdict>> {
        let Some((stored, _)) = self.stored_plan(id)? else {
            return Ok(None);
        };
        let path = self.state.path.clone();
        let open = rows(
            &self.state.conn,
            &path,
            &format!("SELECT {COLS} FROM actions WHERE plan_id = ?1 AND status IN ('pending', 'sent') ORDER BY idx"),
            &[&stored.id],
        )?;
        let revocations = self.revocation_guard(&stored, &open)?;
        let b = self.bundle()?;
        let stale = if b.digest != stored.inputs.bundle {
            Some(format!(
                "the policies changed since it was made (bundle {} now, {} then)",
                b.digest, stored.inputs.bundle
            ))
        } else {
            self.staleness(&stored)?
        };
        Ok(Some(GuardVerdict {
            tripped: revocations.iter().any(|l| l.over),
            revocations,
            stale,
            open: open.len(),
        }))
    }

    /// Why a plan is stale, if it is: a directory record or the observed access of a user
    /// it touches changed since it was made (its own apply's changes excepted).
    fn staleness(&self, plan: &Plan) -> Result<Option<String>> {
        let path = &self.state.path;
        let mut stmt = self
            .state
            .conn
            .prepare(
                "SELECT pu.system, pu.user_id, pu.version, pu.record, coalesce(o.version, 0) FROM plan_users pu
                 LEFT JOIN observed o ON o.system = pu.system AND o.user_id = pu.user_id WHERE pu.plan_id = ?1",
            )
            .state(path)?;
        let rows = stmt
            .query_map([&plan.id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .state(path)?;
        let mut checked_users: HashMap<String, ()> = HashMap::new();
        for r in rows {
            let (system, user, v0, rec0, v) = r.state(path)?;
            if v != v0 {
                return Ok(Some(format!(
                    "what `{system}` holds for `{user}` changed since the plan was made"
                )));
            }
            if checked_users.insert(user.clone(), ()).is_none() {
                let now = directory::load_user(&self.state.conn, path, &user, plan.as_of)?
                    .map(|s| s.digest)
                    .unwrap_or_default();
                if now != rec0 {
                    return Ok(Some(format!(
                        "the directory record of `{user}` changed since the plan was made"
                    )));
                }
            }
        }
        Ok(None)
    }

    fn run(&mut self, plan: &Plan, opts: &ApplyOptions) -> Result<()> {
        let path = self.state.path.clone();
        let as_of = plan.as_of.to_string();
        let mut fp = FailPoint {
            at: opts.fail_at.clone(),
            kill: opts.fail_kill,
            sent: 0,
            read: 0,
        };
        let mut systems: Vec<&str> = plan.actions.iter().map(|a| a.system.as_str()).collect();
        systems.sort_unstable();
        systems.dedup();
        // progress: the actions to carry out, and how many are
        let total: u64 = self
            .state
            .conn
            .query_row(
                "SELECT count(*) FROM actions WHERE plan_id = ?1 AND status IN ('pending', 'sent')",
                [&plan.id],
                |r| r.get(0),
            )
            .state(&path)?;
        let mut done = 0u64;
        self.show_progress("applying", 0, total);
        for system in systems {
            let Some(cfg) = self.project.systems.get(system).cloned() else {
                return Err(Error::Bug(format!(
                    "plan {} names system `{system}` the project does not have",
                    plan.id
                )));
            };
            let _lock = self.state.lock_system(system, opts.wait)?;
            let pending = |p: &Provision| {
                rows(
                    &p.state.conn,
                    &path,
                    &format!("SELECT {COLS} FROM actions WHERE plan_id = ?1 AND system = ?2 AND status = 'pending' ORDER BY idx"),
                    &[&plan.id, &system],
                )
            };
            if let Some((since, reason)) = self.quarantined(system)? {
                // left pending: a `pull --system` that succeeds releases the system, and
                // the same apply then finishes them
                let rs = pending(self)?;
                let why = format!(
                    "system quarantined since {since}: {reason}: `polc pull --system {system}` releases it once it answers"
                );
                let out: Vec<(&Row, Outcome)> = rs
                    .iter()
                    .map(|r| (r, Outcome::not_sent(why.clone())))
                    .collect();
                record(self, system, &as_of, &out, false)?;
                done += rs.len() as u64;
                self.show_progress(&format!("{system} is quarantined"), done, total);
                continue;
            }
            let mut conn = self.open_connector(system, plan.as_of)?;
            recover(self, system, &mut conn)?;
            let all = pending(self)?;
            let by_listing = matches!(cfg.connector, crate::config::ConnectorConfig::File { .. });
            let mut persons = if by_listing {
                Persons::ids_only()
            } else {
                Persons::default()
            };
            let size = match opts.batch {
                0 if by_listing => FILE_BATCH,
                0 => NET_BATCH,
                n => n,
            };
            for chunk in all.chunks(size) {
                // protected: skipped, never sent
                let (skip, send_rows): (Vec<&Row>, Vec<&Row>) =
                    chunk.iter().partition(|r| r.protected);
                if !skip.is_empty() {
                    let out: Vec<(&Row, Outcome)> = skip
                        .into_iter()
                        .map(|r| {
                            (
                                r,
                                Outcome {
                                    status: "skipped",
                                    tries: 0,
                                    error: Some("protected in [guard]".into()),
                                    effect: false,
                                },
                            )
                        })
                        .collect();
                    record(self, system, &as_of, &out, false)?;
                }
                if send_rows.is_empty() {
                    done += chunk.len() as u64;
                    self.show_progress(&format!("applied to {system}"), done, total);
                    continue;
                }
                // journal: sent, committed before any call
                {
                    let tx = self.tx()?;
                    if let Some(f) = &opts.fence {
                        if !crate::lease::check(&tx, f).state(&path)? {
                            return Err(Error::LeaseLost(format!(
                                "`{}` was taken over by another process: nothing more is sent by this one",
                                f.name
                            )));
                        }
                    }
                    {
                        let mut w = audit::Writer::new(&tx, &path, &self.actor)?;
                        let now = now_text();
                        let mut up = tx
                            .prepare_cached("UPDATE actions SET status = 'sent', attempts = attempts + 1, updated_at = ?3 WHERE plan_id = ?1 AND idx = ?2")
                            .state(&path)?;
                        for r in &send_rows {
                            up.execute(crate::db::params![r.plan_id, r.idx, now])
                                .state(&path)?;
                            w.append(
                                Some(&as_of),
                                "sent",
                                json!({"plan": r.plan_id, "action": r.id, "system": system, "user_id": r.user_id, "change": r.change}),
                            )?;
                        }
                    }
                    self.commit(tx)?;
                }
                fp.hit("journalled");
                let mut out: Vec<(&Row, Outcome)> = Vec::with_capacity(send_rows.len());
                let mut items: Vec<(Person, Change)> = Vec::with_capacity(send_rows.len());
                let mut to_send: Vec<&Row> = Vec::with_capacity(send_rows.len());
                // a file is read once for the level changes of the batch (not once each)
                let mut before: Option<Option<Listed>> = None;
                for r in &send_rows {
                    let person = persons.get(self, &r.user_id, plan.as_of)?;
                    // a level change the plan did not foresee: stale, not sent
                    if let (Change::SetLevel { grant, from, to }, false) = (&r.change, r.leaver) {
                        let seen = if by_listing {
                            let listed = before.get_or_insert_with(|| {
                                conn.list().ok().map(|l| listed(l, &send_rows))
                            });
                            listed.as_ref().map(|m| ReadBack {
                                levels: m
                                    .get(&(r.user_id.clone(), grant.clone()))
                                    .cloned()
                                    .unwrap_or_default(),
                                active: None,
                            })
                        } else {
                            conn.read_back(&person, Some(grant)).ok()
                        };
                        if let Some(rb) = seen {
                            if !rb.levels.contains(from) && !rb.levels.contains(to) {
                                out.push((r, Outcome {
                                    status: "stale",
                                    tries: 0,
                                    error: Some(format!("`{grant}` is no longer held at {} (the system changed since the plan)", from.as_deref().unwrap_or("no level"))),
                                    effect: false,
                                }));
                                continue;
                            }
                        }
                    }
                    items.push((person, r.change.clone()));
                    to_send.push(r);
                }
                // a file takes the batch in one write; the other systems are called one
                // change at a time, so that once the wrapper quarantines the system nothing
                // more is sent (`None`: not sent, left pending)
                let results: Vec<Option<std::result::Result<_, ConnectorError>>> =
                    if items.is_empty() {
                        Vec::new()
                    } else if by_listing {
                        conn.apply_batch(&items).into_iter().map(Some).collect()
                    } else {
                        let what = format!("applying to {system}");
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, (person, change))| {
                                self.show_progress(&what, done + i as u64, total);
                                (!conn.is_quarantined()).then(|| conn.apply(person, change))
                            })
                            .collect()
                    };
                for _ in results.iter().flatten() {
                    fp.sent();
                }
                // confirm: a file is read once for the whole batch; anything it does not
                // show yet (and every other system's change) is read back until it shows
                let listed: Option<Listed> =
                    if by_listing && results.iter().any(|r| matches!(r, Some(Ok(_)))) {
                        conn.list().ok().map(|l| listed(l, &to_send))
                    } else {
                        None
                    };
                // the other systems: the grants and level changes of the batch are read
                // together where the connector can (SCIM: each group once); only what that
                // shows is confirmed by it, the rest is read back one by one
                let mut read_together: HashMap<usize, Vec<Option<String>>> = HashMap::new();
                if !by_listing {
                    let which: Vec<usize> = (0..items.len())
                        .filter(|&i| {
                            matches!(results[i], Some(Ok(_)))
                                && matches!(
                                    items[i].1,
                                    Change::Grant { .. } | Change::SetLevel { .. }
                                )
                        })
                        .collect();
                    let reads: Vec<(Person, String)> = which
                        .iter()
                        .map(|&i| {
                            let grant = items[i].1.grant().unwrap_or_default().to_string();
                            (items[i].0.clone(), grant)
                        })
                        .collect();
                    if !reads.is_empty() {
                        if let Some(levels) = conn.read_back_batch(&reads) {
                            for (i, read) in which.into_iter().zip(levels) {
                                if let Ok(levels) = read {
                                    read_together.insert(i, levels);
                                }
                            }
                        }
                    }
                }
                for (i, ((r, (person, change)), res)) in
                    to_send.iter().zip(&items).zip(results).enumerate()
                {
                    let shown_together = read_together.get(&i).is_some_and(|levels| {
                        change.is_shown_by(&ReadBack {
                            levels: levels.clone(),
                            active: None,
                        })
                    });
                    let o = match res {
                        None => Outcome::not_sent(format!(
                            "not sent: `{system}` was quarantined during this apply: `polc pull --system {system}` releases it once it answers"
                        )),
                        Some(Ok(_)) if shown_together => Outcome {
                            status: "done",
                            tries: 0,
                            error: None,
                            effect: true,
                        },
                        Some(Ok(_))
                            if listed.as_ref().is_some_and(|m| {
                                change.is_shown_by(&ReadBack {
                                    levels: change
                                        .grant()
                                        .and_then(|g| {
                                            m.get(&(person.user_id.clone(), g.to_string()))
                                        })
                                        .cloned()
                                        .unwrap_or_default(),
                                    active: None,
                                })
                            }) =>
                        {
                            Outcome {
                                status: "done",
                                tries: 0,
                                error: None,
                                effect: true,
                            }
                        }
                        Some(Ok(_)) => match conn.confirm(person, change) {
                            Ok(_) => Outcome {
                                status: "done",
                                tries: 0,
                                error: None,
                                effect: true,
                            },
                            Err(e @ ConnectorError::Quarantined { .. }) => {
                                Outcome::unconfirmed(format!("read back: {e}"))
                            }
                            Err(e) => Outcome {
                                status: "failed",
                                tries: 0,
                                error: Some(e.to_string()),
                                effect: false,
                            },
                        },
                        Some(Err(e @ ConnectorError::Quarantined { .. })) => {
                            Outcome::unconfirmed(e.to_string())
                        }
                        Some(Err(e)) => Outcome {
                            status: "failed",
                            tries: 0,
                            error: Some(e.to_string()),
                            effect: false,
                        },
                    };
                    fp.read();
                    out.push((r, o));
                }
                record(self, system, &as_of, &out, false)?;
                done += chunk.len() as u64;
                self.show_progress(&format!("applied to {system}"), done, total);
                fp.hit("confirmed");
                if conn.is_quarantined() {
                    let last = out
                        .iter()
                        .rev()
                        .find_map(|(_, o)| o.error.clone())
                        .unwrap_or_default();
                    self.quarantine(
                        system,
                        &format!(
                            "{} failed calls in a row during apply of {}; last: {last}",
                            conn.failures_in_a_row(),
                            plan.id
                        ),
                    )?;
                    break;
                }
            }
        }
        // (actions an interrupted apply left sent were confirmed by reading them back)
        self.show_progress("applied", total, total);
        Ok(())
    }

    /// Since when and why a system is quarantined, if it is.
    pub fn quarantined(&self, system: &str) -> Result<Option<(String, String)>> {
        use crate::db::OptionalExt;
        self.state
            .conn
            .query_row(
                "SELECT since, reason FROM quarantine WHERE system = ?1",
                [system],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .state(&self.state.path)
    }

    fn report(&self, plan: &Plan) -> Result<ApplyReport> {
        let path = &self.state.path;
        let mut stmt = self
            .state
            .conn
            .prepare("SELECT id, status, attempts, last_error FROM actions WHERE plan_id = ?1 ORDER BY idx")
            .state(path)?;
        let rows = stmt
            .query_map([&plan.id], |r| {
                Ok(ActionResult {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    attempts: r.get(2)?,
                    error: r.get(3)?,
                })
            })
            .state(path)?;
        let mut results = Vec::new();
        let mut summary = ApplySummary::default();
        for r in rows {
            let r = r.state(path)?;
            match r.status.as_str() {
                "done" => summary.done += 1,
                "failed" => summary.failed += 1,
                "stale" => summary.stale += 1,
                "skipped" => summary.skipped += 1,
                _ => summary.pending += 1,
            }
            results.push(r);
        }
        Ok(ApplyReport {
            plan: plan.id.clone(),
            digest: plan.digest.clone(),
            results,
            summary,
        })
    }

    /// Puts a system in quarantine: its actions are skipped until [`Provision::release`].
    pub fn quarantine(&self, system: &str, reason: &str) -> Result<()> {
        let path = self.state.path.clone();
        let tx = self.tx()?;
        tx.execute(
            "INSERT INTO quarantine(system, since, reason) VALUES (?1, ?2, ?3) ON CONFLICT(system) DO UPDATE SET reason = excluded.reason",
            crate::db::params![system, now_text(), reason],
        )
        .state(&path)?;
        audit::Writer::new(&tx, &path, &self.actor)?.append(
            None,
            "quarantine",
            json!({"system": system, "reason": reason}),
        )?;
        self.commit(tx)
    }

    /// Takes a system out of quarantine.
    pub fn release(&self, system: &str) -> Result<()> {
        let path = self.state.path.clone();
        let tx = self.tx()?;
        tx.execute("DELETE FROM quarantine WHERE system = ?1", [system])
            .state(&path)?;
        audit::Writer::new(&tx, &path, &self.actor)?.append(
            None,
            "release",
            json!({"system": system}),
        )?;
        self.commit(tx)
    }
}
