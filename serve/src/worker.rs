//! The worker: one thread owns the [`Provision`] (blocking, SQLite) and runs jobs from a
//! bounded queue, one at a time. The HTTP handlers and the schedule send it closures.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::NaiveDate;
use polc_provision::config::{Mode, Project};
use polc_provision::db::{params, OptionalExt};
use polc_provision::{audit, ApplyOptions, Approval, Connectors, Error, Provision};
use serde_json::{json, Value as Json};
use tracing::{error, info, warn};

use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::replicas::Leases;

/// A unit of work for the worker.
pub type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// Opens the connectors (again on each reload).
pub type ConnectorsFactory = Arc<dyn Fn() -> Box<dyn Connectors> + Send + Sync>;

/// The actor of what the service does on its own (schedule, reconcile after events).
pub const SERVICE: &str = "polc-serve";

/// The lease of event processing, planning and the schedule.
pub const WORK: &str = "work";

/// The meta key of what each system's last pull found out of band.
pub const LAST_PULL: &str = "serve.pull";

/// The meta key of the coverage of each drift run (oldest first).
pub const DRIFT_HISTORY: &str = "serve.drift.history";

/// Drift runs whose coverage is kept.
pub const DRIFT_KEPT: usize = 400;

/// Holdings kept of what a pull found out of band, each way, per system.
pub const PULL_KEPT: usize = 1000;

/// The `meta` key a replica sets when it changed the directory without holding the work
/// lease: the holder plans at its next tick.
const REPLAN: &str = "serve.replan";

/// Who starts an apply, and the digest approved (see [`Worker::run_apply`]).
pub struct Start<'a> {
    pub by: &'a str,
    pub digest: &'a str,
}

/// How often the worker looks for work other replicas left (events stored, applies
/// orphaned).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// Stored events recorded in one transaction (and planned once) at most.
pub const BATCH: usize = 64;

/// The `review` systems' plan covers everyone, so its cost grows with the directory (and
/// with what waits for review). After a batch of events it is made at once if the last one
/// took under [`REVIEW_CHEAP`] (a small directory); otherwise once [`REVIEW_SHARE`] times
/// the last one's duration has passed since it was made (so it takes at most 1/50 of the
/// worker's time), and at most this long after the last one. The `auto` systems' plan of
/// each batch's people is applied at once.
pub const REVIEW_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// See [`REVIEW_EVERY`].
pub const REVIEW_SHARE: u32 = 50;

/// See [`REVIEW_EVERY`].
pub const REVIEW_CHEAP: std::time::Duration = std::time::Duration::from_millis(20);

/// The `meta` key saying a `review` plan is due (its value: who caused it), so that a
/// restart after a crash makes it.
const REVIEW_DUE: &str = "serve.review_due";

/// The `meta` key of the people whose events are recorded in the directory but whose
/// `auto` plan is not made yet, and who sent those events (`{"by": […], "people": […]}`).
/// Written in the events' own transaction and cleared once their plan is made and its
/// apply marked `applying` (from then on an interrupted apply is resumed from its journal),
/// so that a crash in between is finished by the next holder of the work lease.
const AUTO_DUE: &str = "serve.auto_due";

/// What [`AUTO_DUE`] holds.
#[derive(Default, Debug, PartialEq, Eq)]
struct AutoDue {
    by: BTreeSet<String>,
    people: BTreeSet<String>,
}

impl AutoDue {
    fn parse(text: &str) -> AutoDue {
        let v: Json = serde_json::from_str(text).unwrap_or(Json::Null);
        let set = |k: &str| -> BTreeSet<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        AutoDue {
            by: set("by"),
            people: set("people"),
        }
    }

    fn text(&self) -> String {
        json!({"by": self.by, "people": self.people}).to_string()
    }

    fn by(&self) -> String {
        self.by.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A `review` plan to make: whose events caused it.
pub struct ReviewDue {
    pub by: BTreeSet<String>,
}

pub struct Worker {
    pub p: Provision,
    pub config: PathBuf,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub auth: Arc<RwLock<Arc<Auth>>>,
    pub connectors: ConnectorsFactory,
    /// The leases this process holds (several replicas on one state).
    pub leases: Arc<Leases>,
    /// The schedule, for the runs missed while no replica held the work.
    pub schedules: Vec<(&'static str, cron::Schedule)>,
    /// Ticks since the last look for applies orphaned by a lost replica.
    pub ticks: u32,
    /// Queues the next batch of events.
    pub wake: crate::receiver::Wake,
    /// The `review` systems' plan is due.
    pub review_due: Option<ReviewDue>,
    /// When the last `review` plan was made, and how long it took.
    pub last_review: Option<(Instant, std::time::Duration)>,
    /// The readers' policies follow the worker's.
    pub readers: Arc<crate::reads::Readers>,
}

/// One event of a delivery, parsed.
pub struct Incoming {
    pub event: String,
    pub user_id: String,
    pub effective: NaiveDate,
    pub body: String,
}

#[derive(Debug)]
pub enum StoreError {
    /// Dated before what is already applied for that person.
    OutOfOrder(String),
    Failed(Error),
}

impl From<Error> for StoreError {
    fn from(e: Error) -> StoreError {
        StoreError::Failed(e)
    }
}

type R<T> = polc_provision::Result<T>;

/// An apply under way: plan, kind, approver, digest, as-of date.
type Resumable = (String, String, Option<String>, Option<String>, String);

/// A stored event: seq, event, user, effective, body, status, received by.
type StoredEvent = (i64, String, String, String, String, String, String);

fn st<T>(r: polc_provision::db::DbResult<T>, path: &Path) -> R<T> {
    r.map_err(|e| Error::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub fn today() -> NaiveDate {
    polc_provision::today()
}

impl Worker {
    fn path(&self) -> PathBuf {
        self.p.state.path.clone()
    }

    pub(crate) fn inbox(&self) -> PathBuf {
        self.p.state.dir.join("inbox")
    }

    /// Appends an audit entry as `actor`.
    pub fn audit(&self, actor: &str, kind: &str, details: Json) -> R<()> {
        let path = self.path();
        let tx = st(self.p.state.conn.transaction(), &path)?;
        {
            let mut w = audit::Writer::new(&tx, &path, actor)?;
            w.append(Some(&today().to_string()), kind, details)?;
        }
        st(tx.commit(), &path)
    }

    fn mark(&self, seq: i64, status: &str, reason: Option<&str>) -> R<()> {
        st(
            self.p.state.conn.execute(
                "UPDATE serve_events SET status = ?2, reason = ?3, processed_at = ?4 WHERE seq = ?1",
                params![seq, status, reason, polc_provision::state::now_text()],
            ),
            &self.path(),
        )
        .map(|_| ())
    }

    /// Holds the `work` lease (taking it if it is free): only its holder processes
    /// events, plans and runs the schedule. Taking it runs the scheduled jobs missed while
    /// nobody held it.
    pub fn holds_work(&mut self) -> bool {
        let had = self.leases.fence(WORK).is_some();
        match self.leases.take(&self.p.state, WORK) {
            Ok(Some(_)) => {
                if !had {
                    self.catch_up();
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                warn!(error = %e, "cannot take the work lease");
                false
            }
        }
    }

    /// The scheduled runs missed (while stopped, or while no replica held the work) run
    /// once now.
    fn catch_up(&mut self) {
        self.finish_auto_due();
        let now = chrono::Utc::now();
        let due: Vec<&'static str> = self
            .schedules
            .iter()
            .filter(|(job, sched)| {
                self.last_run(job)
                    .is_some_and(|t| sched.after(&t).next().is_some_and(|n| n <= now))
            })
            .map(|(job, _)| *job)
            .collect();
        for job in due {
            info!(job, "a scheduled run was missed: running it once now");
            self.scheduled(job);
        }
    }

    /// Every tick: the work lease's holder picks up events other replicas stored; now and
    /// then every replica looks for applies whose replica was lost.
    pub fn tick(&mut self) {
        self.ticks = self.ticks.wrapping_add(1);
        let every = (self.leases.ttl_ms / 2 / TICK.as_millis() as i64).max(1) as u32;
        if self.ticks % every == 0 {
            self.resume_orphans();
        }
        if !self.holds_work() {
            return;
        }
        let open: i64 = self
            .p
            .state
            .conn
            .query_row(
                "SELECT count(*) FROM serve_events WHERE status = 'received' OR (status = 'waiting' AND effective <= ?1)",
                [today().to_string()],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if open > 0 {
            self.process();
        }
        if let Some(actor) = self.take_replan() {
            self.reconcile(&actor);
        }
        self.review_if_due(false);
    }

    /// Applies the stored events that are due, in effective-date order, then plans (on the
    /// holder of the work lease; the others leave them to it).
    pub fn process(&mut self) {
        if !self.holds_work() {
            return;
        }
        // the directory is written only while the work lease is ours
        self.p.fence = self.leases.fence(WORK);
        let r = self.try_process();
        self.p.fence = None;
        match r {
            Ok(()) => {}
            Err(Error::LeaseLost(_)) => {
                warn!("the work lease was lost: the events left are another replica's")
            }
            Err(e) => error!(error = %e, "processing HRIS events failed"),
        }
    }

    /// Stops at [`Error::LeaseLost`] (nothing written after that).
    fn try_process(&mut self) -> R<()> {
        let path = self.path();
        let today = today().to_string();
        // events dated later wait for their day
        let later: Vec<(i64, String, String)> = {
            let mut stmt = st(self.p.state.conn.prepare(
                "SELECT seq, user_id, effective FROM serve_events WHERE status = 'received' AND effective > ?1 ORDER BY seq",
            ), &path)?;
            let it = st(
                stmt.query_map([&today], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))),
                &path,
            )?;
            st(it.collect::<polc_provision::db::DbResult<Vec<_>>>(), &path)?
        };
        for (seq, user, effective) in later {
            self.mark(seq, "waiting", Some("effective later: applied on its day"))?;
            info!(seq, user = %user, effective = %effective, "event waits for its day");
        }
        // the events due, one batch: recorded and marked in one transaction, then planned
        // and applied once; a full batch leaves the rest to the next job, so that other
        // jobs (reads, approvals) take their turn in between
        let rows: Vec<StoredEvent> = {
            let mut stmt = st(self.p.state.conn.prepare_cached(
                "SELECT seq, event, user_id, effective, body, status, received_by FROM serve_events WHERE status IN ('received', 'waiting') AND effective <= ?1 ORDER BY effective, seq LIMIT ?2",
            ), &path)?;
            let it = st(
                stmt.query_map(params![today, BATCH as i64], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                }),
                &path,
            )?;
            st(it.collect::<polc_provision::db::DbResult<Vec<_>>>(), &path)?
        };
        if rows.is_empty() {
            return Ok(());
        }
        let full = rows.len() == BATCH;
        let (by, people) = self.record_batch(rows)?;
        // (tests: a crash here, between the record and its plan, loses nothing)
        polc_provision::apply::fail_point("serve:recorded");
        if !people.is_empty() {
            self.reconcile_events(&by, &people);
        }
        if full {
            self.wake.wake();
        }
        Ok(())
    }

    /// Records a batch of due events in the directory, in order: each sender's run of
    /// events in one transaction (the audit names the sender). The senders of what was
    /// recorded, joined by `, ` (the plan they cause is theirs: four eyes), and the people
    /// it was recorded for.
    fn record_batch(&mut self, rows: Vec<StoredEvent>) -> R<(String, BTreeSet<String>)> {
        let path = self.path();
        let mut senders = BTreeSet::new();
        let mut people = BTreeSet::new();
        let mut run: Vec<StoredEvent> = Vec::new();
        for row in rows {
            let (seq, event, user, effective, ..) = &row;
            // recorded by a version that wrote each event to a file, before a crash, not
            // yet marked: its import row says so
            let file = self.inbox().join(format!("event-{seq}.json"));
            let shown = file
                .strip_prefix(&self.p.project.root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let done: i64 = st(
                self.p.state.conn.query_row(
                    "SELECT count(*) FROM imports WHERE file = ?1 AND kind = 'event'",
                    [&shown],
                    |r| r.get(0),
                ),
                &path,
            )?;
            if done > 0 {
                self.mark(*seq, "processed", None)?;
                senders.insert(row.6.clone());
                people.insert(user.clone());
                continue;
            }
            // dated before what is recorded for that person (the batch is in date order:
            // only what was recorded before it counts)
            let last = st(
                crate::receiver::last_effective(&self.p.state.conn, user),
                &path,
            )?;
            if let Some(last) = last.filter(|l| effective < l) {
                let reason = format!("{event} for `{user}` is effective {effective}, before what is already applied (effective {last}): not applied out of order");
                warn!(seq, user = %user, "{reason}");
                self.mark(*seq, "rejected", Some(&reason))?;
                self.audit(
                    SERVICE,
                    "event_rejected",
                    json!({"seq": seq, "user_id": user, "effective": effective, "reason": reason}),
                )?;
                Metrics::inc(&self.metrics.events_processed, "rejected");
                continue;
            }
            if run.last().is_some_and(|r| r.6 != row.6) {
                if self.record_run(&run)? > 0 {
                    senders.insert(run[0].6.clone());
                    people.extend(run.iter().map(|r| r.2.clone()));
                }
                run.clear();
            }
            run.push(row);
        }
        if !run.is_empty() && self.record_run(&run)? > 0 {
            senders.insert(run[0].6.clone());
            people.extend(run.iter().map(|r| r.2.clone()));
        }
        Ok((senders.into_iter().collect::<Vec<_>>().join(", "), people))
    }

    /// One sender's events, in one transaction; when that fails, each on its own (an
    /// event that does not record is marked failed). How many were recorded.
    fn record_run(&mut self, run: &[StoredEvent]) -> R<usize> {
        let today = today();
        let actor = std::mem::replace(&mut self.p.actor, run[0].6.clone());
        let r = if run.len() == 1 {
            self.record_one(&run[0], today)
        } else {
            match self.record(run, today) {
                Ok(n) => Ok(n),
                Err(e @ Error::LeaseLost(_)) => Err(e),
                Err(e) => {
                    warn!(error = %e, events = run.len(), "a batch of events failed: recording them one by one");
                    let mut n = 0;
                    let mut r = Ok(());
                    for row in run {
                        match self.record_one(row, today) {
                            Ok(k) => n += k,
                            Err(e) => {
                                r = Err(e);
                                break;
                            }
                        }
                    }
                    r.map(|()| n)
                }
            }
        };
        self.p.actor = actor;
        r
    }

    /// One event of a failed batch, alone: recorded, or marked failed. How many recorded.
    fn record_one(&mut self, row: &StoredEvent, today: NaiveDate) -> R<usize> {
        match self.record(std::slice::from_ref(row), today) {
            Ok(n) => Ok(n),
            Err(e @ Error::LeaseLost(_)) => Err(e),
            Err(e) => {
                let (seq, _, user, ..) = row;
                let reason = e.to_string();
                warn!(seq, user = %user, error = %reason, "event failed");
                self.mark(*seq, "failed", Some(&reason))?;
                Metrics::inc(&self.metrics.events_processed, "failed");
                Ok(0)
            }
        }
    }

    /// Records events in the directory and marks them processed, in one transaction.
    fn record(&mut self, rows: &[StoredEvent], today: NaiveDate) -> R<usize> {
        let first = rows[0].0;
        let last = rows[rows.len() - 1].0;
        let name = if first == last {
            format!("serve_events {first}")
        } else {
            format!("serve_events {first}..{last}")
        };
        let mut text = String::new();
        for r in rows {
            text.push_str(&r.4);
            text.push('\n');
        }
        let path = self.path();
        let now = polc_provision::state::now_text();
        let rep = self.p.hris_events_text(&text, &name, today, |tx| {
            for r in rows {
                st(
                    tx.prepare_cached(
                        "UPDATE serve_events SET status = 'processed', reason = NULL, processed_at = ?2 WHERE seq = ?1",
                    )
                    .and_then(|mut s| s.execute(params![r.0, now])),
                    &path,
                )?;
            }
            // their plan is due: whoever holds the work after a crash makes it
            let mut due = st(
                tx.query_row("SELECT value FROM meta WHERE key = ?1", [AUTO_DUE], |r| {
                    r.get::<_, String>(0)
                })
                .optional(),
                &path,
            )?
            .map(|t| AutoDue::parse(&t))
            .unwrap_or_default();
            due.by.extend(rows.iter().map(|r| r.6.clone()));
            due.people.extend(rows.iter().map(|r| r.2.clone()));
            polc_provision::state::State::set_meta(tx, &path, AUTO_DUE, &due.text())?;
            Ok(())
        })?;
        Metrics::add(
            &self.metrics.events_processed,
            "processed",
            rows.len() as u64,
        );
        info!(
            events = rows.len(),
            first,
            last,
            derived = rep.events.len(),
            "events applied to the directory"
        );
        Ok(rows.len())
    }

    /// Pulls every system, then plans as [`Worker::reconcile`] does: what the pull found
    /// out of band is revoked in `auto` systems and queued for review in `review` ones.
    pub fn pull_and_plan(&mut self, actor: &str) -> R<polc_provision::PullReport> {
        let rep = self.pull(None)?;
        self.reconcile(actor);
        Ok(rep)
    }

    /// Pulls the provisioned systems never pulled (a plan needs to know what they hold).
    fn ensure_pulled(&mut self) -> R<()> {
        let names: Vec<String> = self
            .p
            .project
            .systems
            .values()
            .filter(|s| s.mode != Mode::Off)
            .map(|s| s.name.clone())
            .collect();
        for n in names {
            let pulled: i64 = st(
                self.p.state.conn.query_row(
                    "SELECT count(*) FROM pulls WHERE system = ?1",
                    [&n],
                    |r| r.get(0),
                ),
                &self.path(),
            )?;
            if pulled == 0 {
                self.pull(Some(&n))?;
            }
        }
        Ok(())
    }

    pub fn pull(&mut self, system: Option<&str>) -> R<polc_provision::PullReport> {
        let r = self.p.pull(system);
        match &r {
            Ok(rep) => {
                if let Err(e) = self.remember_pull(rep) {
                    warn!(error = %e, "cannot record what the pull found");
                }
            }
            Err(_) => {
                self.metrics.connector_errors.fetch_add(1, Relaxed);
            }
        }
        self.count_quarantined();
        r
    }

    /// Keeps what each system's last pull found out of band (the first [`PULL_KEPT`]
    /// holdings that appeared and disappeared, and their counts) in the state's meta
    /// `serve.pull`, by system: the drift page shows it.
    fn remember_pull(&self, rep: &polc_provision::PullReport) -> R<()> {
        let mut all: serde_json::Map<String, Json> = self
            .p
            .state
            .meta(LAST_PULL)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let at = polc_provision::state::now_text();
        for s in &rep.systems {
            let kept = |v: &[polc_provision::pull::Seen]| {
                v.iter().take(PULL_KEPT).cloned().collect::<Vec<_>>()
            };
            all.insert(
                s.system.clone(),
                json!({
                    "pull": s.pull_id, "at": at, "entries": s.entries, "accounts": s.accounts,
                    "appeared": kept(&s.appeared), "appeared_count": s.appeared.len(),
                    "disappeared": kept(&s.disappeared), "disappeared_count": s.disappeared.len(),
                    "suspect": s.suspect,
                }),
            );
        }
        polc_provision::state::State::set_meta(
            &self.p.state.conn,
            &self.path(),
            LAST_PULL,
            &Json::Object(all).to_string(),
        )
    }

    fn count_quarantined(&self) {
        if let Ok(n) = self
            .p
            .state
            .conn
            .query_row("SELECT count(*) FROM quarantine", [], |r| {
                r.get::<_, i64>(0)
            })
        {
            self.metrics.quarantined.store(n as u64, Relaxed);
        }
    }

    /// Plans at today's date: `auto` systems are applied (under the guards), the plan of the
    /// `review` systems is queued (the older pending ones are superseded).
    ///
    /// Only the holder of the work lease plans: another replica (which took a snapshot or
    /// a pull) leaves a mark that the holder finds at its next tick.
    pub fn reconcile(&mut self, actor: &str) {
        if !self.holds_work() {
            let path = self.path();
            if let Err(e) =
                polc_provision::state::State::set_meta(&self.p.state.conn, &path, REPLAN, actor)
            {
                warn!(error = %e, "cannot ask the work lease's holder to plan");
            }
            return;
        }
        if let Err(e) = self.try_reconcile(actor) {
            warn!(error = %e, "reconcile stopped");
        }
    }

    /// A replan another replica asked for (see [`Worker::reconcile`]): taken and cleared
    /// in one statement, so that it runs once.
    fn take_replan(&mut self) -> Option<String> {
        self.p
            .state
            .conn
            .query_row(
                "DELETE FROM meta WHERE key = ?1 RETURNING value",
                [REPLAN],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .unwrap_or_else(|e| {
                warn!(error = %e, "cannot read the replan mark");
                None
            })
    }

    fn try_reconcile(&mut self, actor: &str) -> R<()> {
        self.ensure_pulled()?;
        self.auto(actor, None)?;
        self.review_due = None;
        self.review(actor)?;
        self.clear_review_due();
        Ok(())
    }

    /// The review plan is made: no restart needs to make it again.
    fn clear_review_due(&self) {
        self.clear_meta(REVIEW_DUE, "the mark of a review plan due");
    }

    fn clear_meta(&self, key: &str, what: &str) {
        if let Err(e) = self
            .p
            .state
            .conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
        {
            warn!(error = %e, "cannot clear {what}");
        }
    }

    /// The `auto` plan of the people recorded is made (see [`AUTO_DUE`]).
    fn clear_auto_due(&self) {
        self.clear_meta(AUTO_DUE, "the mark of an auto plan due");
    }

    /// Events recorded before a crash (or before this replica took the work over) whose
    /// `auto` plan was not made: made now, as after their batch.
    fn finish_auto_due(&mut self) {
        let due = match self.p.state.meta(AUTO_DUE) {
            Ok(Some(t)) => AutoDue::parse(&t),
            Ok(None) => return,
            Err(e) => {
                warn!(error = %e, "cannot read the mark of an auto plan due");
                return;
            }
        };
        if due.people.is_empty() {
            self.clear_auto_due();
            return;
        }
        info!(
            people = due.people.len(),
            "events were recorded but not planned before the last stop: planning them now"
        );
        self.reconcile_events(&due.by(), &due.people);
    }

    /// After a batch of events: the plan of the people they recorded (`people`) is applied
    /// in the `auto` systems at once; the `review` systems' plan is due (made by
    /// [`Worker::review_if_due`], see [`REVIEW_EVERY`]).
    pub fn reconcile_events(&mut self, actor: &str, people: &BTreeSet<String>) {
        let r = self
            .ensure_pulled()
            .and_then(|()| self.auto(actor, Some(people)));
        if let Err(e) = r {
            warn!(error = %e, "reconcile stopped");
        }
        if !self
            .p
            .project
            .systems
            .values()
            .any(|s| s.mode == Mode::Review)
        {
            return;
        }
        let due = self.review_due.get_or_insert_with(|| ReviewDue {
            by: BTreeSet::new(),
        });
        let fresh = due.by.is_empty();
        due.by.extend(actor.split(", ").map(str::to_string));
        if fresh {
            // a restart after a crash makes it then
            let by = due.by.iter().cloned().collect::<Vec<_>>().join(", ");
            if let Err(e) = polc_provision::state::State::set_meta(
                &self.p.state.conn,
                &self.path(),
                REVIEW_DUE,
                &by,
            ) {
                warn!(error = %e, "cannot record that a review plan is due");
            }
        }
        self.review_if_due(false);
    }

    /// Makes the `review` systems' plan if it is due and the last one is old enough (see
    /// [`REVIEW_EVERY`]), or `now`. The worker's ticks call it, so a plan held back is made
    /// once its time comes, whether events still come or not.
    pub fn review_if_due(&mut self, now: bool) {
        if self.review_due.is_none() {
            return;
        }
        let ready = self.last_review.is_none_or(|(at, took)| {
            took < REVIEW_CHEAP || at.elapsed() >= (took * REVIEW_SHARE).min(REVIEW_EVERY)
        });
        if !(now || ready) {
            return;
        }
        let Some(due) = &self.review_due else {
            return;
        };
        let by = due.by.iter().cloned().collect::<Vec<_>>().join(", ");
        self.review_due = None;
        match self.review(&by) {
            Ok(()) => self.clear_review_due(),
            Err(e) => warn!(error = %e, "planning the review systems failed"),
        }
    }

    /// The `auto` systems' plan (of `people`, or of everyone), applied under the guards.
    fn auto(&mut self, actor: &str, people: Option<&BTreeSet<String>>) -> R<()> {
        let today = today();
        let full = self.p.project.clone();
        if !full.systems.values().any(|s| s.mode == Mode::Auto) {
            return Ok(());
        }
        match self.plan_only(&full, Mode::Review, today, actor, people) {
            Ok(plan) if plan.summary.actions > 0 => {
                let mut opts = ApplyOptions::new(Approval::AutoApprove, today);
                opts.as_name = Some(SERVICE.into());
                let start = Start {
                    by: SERVICE,
                    digest: &plan.digest,
                };
                // (the outcome is logged and recorded by run_apply, but for an apply that
                // could not start)
                if let Err(e) = self.run_apply(&plan.id, "auto", opts, Some(start)) {
                    warn!(plan = %plan.id, error = %e, "the auto plan was not applied");
                }
            }
            // nothing to change: the plan is made
            Ok(_) => self.clear_auto_due(),
            Err(e) => warn!(error = %e, "planning the auto systems failed"),
        }
        Ok(())
    }

    /// The `review` systems' plan of everyone, queued (older pending ones superseded).
    fn review(&mut self, actor: &str) -> R<()> {
        let today = today();
        let full = self.p.project.clone();
        if !full.systems.values().any(|s| s.mode == Mode::Review) {
            return Ok(());
        }
        let started = Instant::now();
        let plan = self.plan_only(&full, Mode::Auto, today, actor, None);
        self.last_review = Some((Instant::now(), started.elapsed()));
        let plan = plan?;
        if plan.summary.actions > 0 {
            let path = self.path();
            let known = self.plan_status(&plan.id)?;
            if known.is_none() {
                self.set_plan(
                    &plan.id,
                    "review",
                    "pending",
                    None,
                    Some(&plan.digest),
                    None,
                )?;
                self.metrics.plans_queued.fetch_add(1, Relaxed);
                info!(plan = %plan.id, actions = plan.summary.actions, "plan queued for review");
            }
            st(
                self.p.state.conn.execute(
                    "UPDATE serve_plans SET status = 'superseded', reason = ?2, updated_at = ?3 WHERE kind = 'review' AND status = 'pending' AND plan_id != ?1",
                    params![plan.id, format!("superseded by {}", plan.id), polc_provision::state::now_text()],
                ),
                &path,
            )?;
        }
        Ok(())
    }

    /// A plan with the systems of mode `without` left out (set to off for this plan only).
    fn plan_only(
        &mut self,
        full: &Project,
        without: Mode,
        at: NaiveDate,
        actor: &str,
        people: Option<&BTreeSet<String>>,
    ) -> R<polc_provision::Plan> {
        let mut part = full.clone();
        for s in part.systems.values_mut() {
            if s.mode == without {
                s.mode = Mode::Off;
            }
        }
        self.p.project = part;
        let old = std::mem::replace(&mut self.p.actor, actor.to_string());
        let r = match people {
            None => self.p.plan(at),
            Some(people) => self.p.plan_for(at, people),
        };
        self.p.actor = old;
        self.p.project = full.clone();
        r
    }

    /// The service's status of a plan, if it has one.
    fn plan_status(&self, id: &str) -> R<Option<String>> {
        st(
            self.p
                .state
                .conn
                .query_row(
                    "SELECT status FROM serve_plans WHERE plan_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional(),
            &self.path(),
        )
    }

    pub fn set_plan(
        &self,
        id: &str,
        kind: &str,
        status: &str,
        by: Option<&str>,
        digest: Option<&str>,
        reason: Option<&str>,
    ) -> R<()> {
        st(
            self.p.state.conn.execute(
                "INSERT INTO serve_plans(plan_id, kind, status, decided_by, digest, reason, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(plan_id) DO UPDATE SET status = ?3, decided_by = coalesce(?4, serve_plans.decided_by), digest = coalesce(?5, serve_plans.digest), reason = ?6, updated_at = ?7",
                params![id, kind, status, by, digest, reason, polc_provision::state::now_text()],
            ),
            &self.path(),
        )
        .map(|_| ())
    }

    /// Applies a plan and records the outcome (`applied`, `incomplete`, `refused`).
    ///
    /// The plan's lease is taken first. With `start`, the plan is then marked `applying`
    /// (by whom, with which digest), so that no other replica sees it `applying` without
    /// a holder and takes it for an orphan; without, it already is (a resumed apply).
    pub fn run_apply(
        &mut self,
        id: &str,
        kind: &str,
        mut opts: ApplyOptions,
        start: Option<Start<'_>>,
    ) -> R<polc_provision::ApplyReport> {
        let name = format!("plan:{id}");
        let fence = match self.leases.take(&self.p.state, &name) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(Error::Refused(format!(
                "plan {id} is being applied by another replica: its result shows once it is done"
            )))
            }
            Err(e) => {
                return Err(Error::State {
                    path: self.path(),
                    message: e.to_string(),
                })
            }
        };
        if let Some(s) = start {
            if let Err(e) = self.set_plan(id, kind, "applying", Some(s.by), Some(s.digest), None) {
                self.leases.give_up(&self.p.state, &name);
                return Err(e);
            }
            if kind == "auto" {
                // from here an interrupted apply is resumed from its journal (by this
                // replica's restart or another's look for orphans): planning the same
                // people again could send their changes twice
                self.clear_auto_due();
            }
        }
        opts.fence = Some(fence);
        let started = Instant::now();
        let r = self.p.apply(id, &opts);
        self.leases.give_up(&self.p.state, &name);
        self.metrics.observe_apply(started.elapsed().as_secs_f64());
        self.count_quarantined();
        match &r {
            Ok(rep) => {
                let s = &rep.summary;
                for (k, v) in [
                    ("done", s.done),
                    ("failed", s.failed),
                    ("stale", s.stale),
                    ("skipped", s.skipped),
                    ("pending", s.pending),
                ] {
                    if v > 0 {
                        self.metrics.action(k, v as u64);
                    }
                }
                self.metrics
                    .connector_errors
                    .fetch_add(s.failed as u64, Relaxed);
                let status = if rep.all_done() {
                    "applied"
                } else {
                    "incomplete"
                };
                self.set_plan(id, kind, status, None, None, None)?;
                info!(plan = %id, done = s.done, failed = s.failed, pending = s.pending, "applied");
            }
            Err(e @ Error::LeaseLost(_)) => {
                // the replica that took it over finishes it and records the outcome
                warn!(plan = %id, error = %e, "apply stopped");
            }
            Err(e) => {
                warn!(plan = %id, error = %e, "apply refused or failed");
                let status = if kind == "review" {
                    "pending"
                } else {
                    "refused"
                };
                self.set_plan(id, kind, status, None, None, Some(&e.to_string()))?;
            }
        }
        r
    }

    /// After a restart: applies that were under way are carried on (the journal knows what
    /// was sent), then stored events are processed.
    pub fn resume(&mut self) {
        self.resume_orphans();
        self.process();
        // a review plan was due when the last run stopped
        if let Ok(Some(by)) = self.p.state.meta(REVIEW_DUE) {
            if self.holds_work() {
                self.review_due = Some(ReviewDue {
                    by: by.split(", ").map(str::to_string).collect(),
                });
                self.review_if_due(true);
            }
        }
    }

    /// At a clean stop: the review plan due is made now.
    pub fn finish(&mut self) {
        if self.review_due.is_some() && self.holds_work() {
            self.review_if_due(true);
        }
    }

    /// Carries on the applies left `applying` whose lease is free: this replica's own
    /// before a restart, or another's that was lost (its lease expired). An apply another
    /// replica is running is left alone.
    pub fn resume_orphans(&mut self) {
        let rows: Vec<Resumable> = match self
            .p
            .state
            .conn
            .prepare(
                "SELECT sp.plan_id, sp.kind, sp.decided_by, sp.digest, p.as_of FROM serve_plans sp JOIN plans p ON p.id = sp.plan_id WHERE sp.status = 'applying'",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                    .collect()
            }) {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "cannot read the applies under way");
                Vec::new()
            }
        };
        for (id, kind, by, digest, as_of) in rows {
            let Ok(at) = NaiveDate::parse_from_str(&as_of, "%Y-%m-%d") else {
                continue;
            };
            let approve = match (kind.as_str(), digest) {
                ("review", Some(d)) => Approval::Digest(d),
                _ => Approval::AutoApprove,
            };
            let mut opts = ApplyOptions::new(approve, at);
            opts.as_name = by.or(Some(SERVICE.into()));
            // running elsewhere: not ours to resume
            if let Ok(Some((holder, _, left))) =
                polc_provision::lease::holder(&self.p.state.conn, &format!("plan:{id}"))
            {
                if left >= 0 && holder != self.leases.holder {
                    continue;
                }
            }
            info!(plan = %id, "resuming an apply interrupted by a stop or a lost replica");
            if let Err(e) = self.run_apply(&id, &kind, opts, None) {
                warn!(plan = %id, error = %e, "the interrupted apply was not resumed");
            }
        }
    }

    /// Pulls everything, then the plan of every system at today's date is the drift.
    pub fn drift_run(&mut self, actor: &str) -> R<Json> {
        let pull = self.pull(None)?;
        let old = std::mem::replace(&mut self.p.actor, actor.to_string());
        let plan = self.p.plan(today());
        self.p.actor = old;
        let plan = plan?;
        let findings = plan.summary.actions + plan.summary.unmanaged;
        self.metrics.drift_findings.store(findings as u64, Relaxed);
        let ran_at = polc_provision::state::now_text();
        let coverage = plan.coverage();
        let out = json!({
            "ran_at": ran_at,
            "as_of": plan.as_of,
            "plan": plan.id,
            "findings": findings,
            "summary": plan.summary,
            "coverage": coverage,
            "systems": plan.systems,
            "actions": plan.actions,
            "pulled": pull.systems.iter().map(|s| json!({"system": s.system, "entries": s.entries})).collect::<Vec<_>>(),
        });
        let path = self.path();
        polc_provision::state::State::set_meta(
            &self.p.state.conn,
            &path,
            "serve.drift",
            &out.to_string(),
        )?;
        // coverage over time: one point per run, the last DRIFT_KEPT runs
        let mut history: Vec<Json> = self
            .p
            .state
            .meta(DRIFT_HISTORY)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        history.push(
            json!({"ran_at": ran_at, "as_of": plan.as_of, "plan": plan.id, "coverage": coverage}),
        );
        if history.len() > DRIFT_KEPT {
            history.drain(..history.len() - DRIFT_KEPT);
        }
        polc_provision::state::State::set_meta(
            &self.p.state.conn,
            &path,
            DRIFT_HISTORY,
            &Json::Array(history).to_string(),
        )?;
        // the plan of everything is the very plan queued for review when nothing else
        // differs (same inputs, same actions, same id): that review stands
        let known = self.plan_status(&plan.id)?;
        if known.is_none() {
            self.set_plan(
                &plan.id,
                "drift",
                "report",
                Some(actor),
                Some(&plan.digest),
                None,
            )?;
        }
        Ok(out)
    }

    /// Loads the project file and the policies again; a project or bundle with errors is
    /// refused and the running one kept (logged, counted, audited).
    pub fn reload(&mut self, actor: &str, why: &str) -> Result<String, String> {
        let attempt = || -> Result<(Provision, Auth), String> {
            let project = Project::load(&self.config).map_err(|e| e.to_string())?;
            let auth = Auth::from_config(&project.server)?;
            let mut np = Provision::open(project, (self.connectors)())
                .map_err(|e| e.to_string())?
                .with_actor(SERVICE);
            np.bundle().map_err(|e| e.to_string())?;
            Ok((np, auth))
        };
        match attempt() {
            Ok((mut np, auth)) => {
                if let Ok(b) = np.bundle() {
                    self.readers.set_bundle(b);
                }
                self.p = np;
                *self.auth.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(auth);
                Metrics::inc(&self.metrics.reloads, "ok");
                let digest = self
                    .p
                    .state
                    .meta("bundle")
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                info!(reason = why, bundle = %digest, "reloaded");
                let _ = self.audit(actor, "reload", json!({"reason": why, "bundle": digest}));
                Ok(digest)
            }
            Err(e) => {
                Metrics::inc(&self.metrics.reloads, "refused");
                warn!(reason = why, error = %e, "reload refused: the running policies and configuration are kept");
                let _ = self.audit(actor, "reload_refused", json!({"reason": why, "error": e}));
                Err(e)
            }
        }
    }

    pub fn last_run(&self, job: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let t: Option<String> = self
            .p
            .state
            .conn
            .query_row(
                "SELECT last_run FROM serve_schedule WHERE job = ?1",
                [job],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    pub fn set_last_run(&self, job: &str, at: chrono::DateTime<chrono::Utc>) {
        if let Err(e) = self.p.state.conn.execute(
            "INSERT INTO serve_schedule(job, last_run) VALUES (?1, ?2) ON CONFLICT(job) DO UPDATE SET last_run = ?2",
            params![job, at.to_rfc3339()],
        ) {
            error!(error = %e, job, "cannot record the schedule's run");
        }
    }

    /// One scheduled job: `pull`, `plan` or `drift`.
    pub fn scheduled(&mut self, job: &str) {
        if !self.holds_work() {
            info!(job, "scheduled run left to the replica holding the work");
            return;
        }
        info!(job, "scheduled run");
        self.metrics.schedule_run(job);
        match job {
            "pull" => {
                if let Err(e) = self.pull_and_plan(SERVICE) {
                    warn!(error = %e, "scheduled pull failed");
                }
            }
            "plan" => {
                self.process();
                self.reconcile(SERVICE);
            }
            "drift" => {
                if let Err(e) = self.drift_run(SERVICE) {
                    warn!(error = %e, "scheduled drift failed");
                }
            }
            _ => self.process(),
        }
        self.set_last_run(job, chrono::Utc::now());
    }

    pub fn mark_ready(&self) {
        self.ready.store(true, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auto_plan_due_reads_back_what_was_written() {
        let mut due = AutoDue::default();
        due.by.extend(["hr".to_string(), "hr-2".to_string()]);
        due.people.extend(["a".to_string(), "b\"c".to_string()]);
        assert_eq!(AutoDue::parse(&due.text()), due);
        assert_eq!(due.by(), "hr, hr-2");
        // what cannot be read is nothing due, not a crash
        assert_eq!(AutoDue::parse("not json"), AutoDue::default());
    }
}
