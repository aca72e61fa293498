//! The directory's inputs: HRIS snapshots (`hris import`) and HRIS events (`hris event`).
//! Both record effective-dated records in the state and derive lifecycle events (joiners,
//! movers with holds for what they lose with grace, leavers) with the library's
//! evaluation and lifecycle delta.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::db::Db;
use chrono::NaiveDate;
use polc::eval::{Evaluation, Plan as EvalPlan, SourceKind};
use polc::input::{self, Users};
use polc::ir::Value;
use polc::lifecycle::{apply as lapply, delta, events};
use serde::Serialize;
use serde_json::json;

use crate::config::Missing;
use crate::directory::{self, Stored};
use crate::error::{Error, Result, StateContext};
use crate::state::now_text;
use crate::{audit, Provision};

/// One entitlement change of a derived event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivedChange {
    pub action: delta::Action,
    pub grant: String,
    pub level: Option<String>,
    pub from_level: Option<String>,
    /// For a removal: the first day it may be taken away (a hold keeps it until then).
    pub not_before: Option<NaiveDate>,
}

/// A joiner, mover or leaver the directory's change makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivedEvent {
    /// `joiner` (a new id or a rehire), `mover` or `leaver`.
    pub kind: String,
    pub user_id: String,
    pub effective: NaiveDate,
    /// What recorded it: `import`, `absence`, or the HRIS event's name.
    pub cause: String,
    pub changes: Vec<DerivedChange>,
    pub holds_created: usize,
    pub holds_closed: usize,
}

/// What `hris import` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub at: NaiveDate,
    /// The first import records everyone and derives nothing.
    pub baseline: bool,
    /// The snapshot matched the directory: nothing was recorded.
    pub unchanged: bool,
    pub import_id: Option<i64>,
    pub records: usize,
    pub new: usize,
    pub changed: usize,
    pub absent: usize,
    /// Records that could not be read (left out, not taken as absent).
    pub errors: Vec<String>,
    pub events: Vec<DerivedEvent>,
    pub forced: Option<String>,
}

impl ImportReport {
    pub fn human(&self) -> String {
        let mut s = String::new();
        if self.unchanged {
            s += &format!(
                "{}: the directory already holds this snapshot at {}: nothing recorded\n",
                self.file, self.at
            );
        } else if self.baseline {
            s += &format!(
                "{}: baseline of {} records at {} (no events derived)\n",
                self.file, self.records, self.at
            );
        } else {
            s += &format!(
                "{}: {} records at {}: {} new, {} changed, {} absent\n",
                self.file, self.records, self.at, self.new, self.changed, self.absent
            );
        }
        for e in &self.errors {
            s += &format!("  left out: {e}\n");
        }
        s += &events_human(&self.events);
        if let Some(r) = &self.forced {
            s += &format!("forced: {r}\n");
        }
        s
    }
}

/// What `hris event` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventReport {
    pub file: String,
    pub import_id: i64,
    pub events: Vec<DerivedEvent>,
}

impl EventReport {
    pub fn human(&self) -> String {
        format!(
            "{}: {} event(s)\n{}",
            self.file,
            self.events.len(),
            events_human(&self.events)
        )
    }
}

fn events_human(events: &[DerivedEvent]) -> String {
    let mut s = String::new();
    for e in events {
        s += &format!(
            "{} {} on {} ({})\n",
            e.kind, e.user_id, e.effective, e.cause
        );
        for c in &e.changes {
            if c.action == delta::Action::Keep {
                continue;
            }
            let lvl = c
                .level
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            let extra = match (&c.from_level, c.not_before) {
                (Some(f), _) => format!(" from {f}"),
                (None, Some(d)) if d > e.effective => format!(" not before {d} (held)"),
                _ => String::new(),
            };
            s += &format!("  {:?} {}{lvl}{extra}\n", c.action, c.grant)
                .to_lowercase()
                .replacen(&c.grant.to_lowercase(), &c.grant, 1);
        }
    }
    s
}

/// The columns that hold a value in at least one record.
fn columns(users: &Users) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, f) in users.fields.iter().enumerate() {
        if users
            .records
            .iter()
            .any(|r| r.values.get(i).is_some_and(Option::is_some))
        {
            out.insert(f.clone());
        }
    }
    out
}

/// Values of a record re-aligned to other fields.
fn align(
    fields_from: &[String],
    values: &[Option<Value>],
    fields_to: &[String],
) -> Vec<Option<Value>> {
    fields_to
        .iter()
        .map(|f| {
            fields_from
                .iter()
                .position(|x| x == f)
                .and_then(|i| values.get(i).cloned().flatten())
        })
        .collect()
}

struct Recorder<'a> {
    conn: &'a Db,
    path: &'a Path,
    source: i64,
}

impl Recorder<'_> {
    fn record(
        &self,
        user: &str,
        effective: NaiveDate,
        record: &str,
        digest: &str,
        cause: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO directory(user_id, effective, record, digest, cause, source, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .state(self.path)?
            .execute(crate::db::params![user, effective.to_string(), record, digest, cause, self.source, now_text()])
            .state(self.path)?;
        Ok(())
    }

    /// Derives one event from a before/after evaluation; records holds (movers) or closes
    /// them (leavers).
    #[allow(clippy::too_many_arguments)]
    fn derive(
        &self,
        w: &mut audit::Writer<'_>,
        plan: &EvalPlan,
        user: &str,
        before: Option<&Evaluation>,
        after: &Evaluation,
        effective: NaiveDate,
        cause: &str,
        terminated: bool,
    ) -> Result<DerivedEvent> {
        let leaver = terminated || after.failed_require.is_some();
        let was_leaver = before.is_none_or(|b| b.failed_require.is_some());
        let kind = if leaver {
            "leaver"
        } else if was_leaver {
            "joiner"
        } else {
            "mover"
        };
        let changes = delta::delta(plan, before, after, effective, leaver);
        let mut out = DerivedEvent {
            kind: kind.into(),
            user_id: user.into(),
            effective,
            cause: cause.into(),
            changes: Vec::new(),
            holds_created: 0,
            holds_closed: 0,
        };
        let name = |ent, level| plan.level_name(ent, level).map(str::to_string);
        for c in &changes {
            out.changes.push(DerivedChange {
                action: c.action,
                grant: plan.ent_text(c.ent).to_string(),
                level: name(c.ent, c.level),
                from_level: c.from.and_then(|f| name(c.ent, Some(f))),
                not_before: c.not_before,
            });
            if kind == "mover" && c.action == delta::Action::Remove {
                if let Some(until) = c.not_before.filter(|d| *d > effective) {
                    let policy = before
                        .and_then(|b| b.grant(c.ent))
                        .map(|g| {
                            g.sources
                                .iter()
                                .filter(|s| {
                                    matches!(s.kind, SourceKind::Path(_)) && s.grace.is_some()
                                })
                                .map(|s| plan.source_text(s))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    let grant = plan.ent_text(c.ent);
                    let level = name(c.ent, c.level);
                    self.conn
                        .prepare_cached(
                            "INSERT INTO holds(user_id, grant_ref, level, until, policy, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )
                        .state(self.path)?
                        .execute(crate::db::params![user, grant, level, until.to_string(), policy, self.source, now_text()])
                        .state(self.path)?;
                    w.append(
                        Some(&effective.to_string()),
                        "hold",
                        json!({"user_id": user, "grant": grant, "level": level, "until": until.to_string(), "policy": policy, "source": self.source}),
                    )?;
                    out.holds_created += 1;
                }
            }
        }
        if leaver {
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE holds SET closed_at = ?2, closed_reason = 'leaver' WHERE user_id = ?1 AND closed_at IS NULL",
                )
                .state(self.path)?
                .execute(crate::db::params![user, now_text()])
                .state(self.path)?;
            if n > 0 {
                w.append(
                    Some(&effective.to_string()),
                    "hold_closed",
                    json!({"user_id": user, "holds": n, "reason": "leaver"}),
                )?;
            }
            out.holds_closed = n;
        }
        Ok(out)
    }
}

impl Provision {
    /// `hris import FILE [--at D] [--force REASON]`: records a snapshot of the HRIS.
    pub fn hris_import(
        &mut self,
        file: &Path,
        at: NaiveDate,
        force: Option<&str>,
    ) -> Result<ImportReport> {
        let b = self.bundle()?;
        let schema = b.bundle.schema.as_ref();
        let shown = crate::shown(&self.project.root, file);
        let mapping = match &self.project.hris.mapping {
            Some(m) => Some(input::Mapping::load(m).map_err(|e| Error::Input(e.0))?),
            None => None,
        };
        self.show_progress(&format!("reading {shown}"), 0, 0);
        let file_digest = crate::canon::sha256_file(file)
            .map_err(|e| Error::Input(format!("{shown}: cannot read: {e}")))?;
        let users =
            input::load_users(file, schema, mapping.as_ref()).map_err(|e| Error::Input(e.0))?;
        let errors: Vec<String> = users.errors.iter().map(|e| e.to_string()).collect();
        if users.records.is_empty() {
            return Err(Error::Input(format!(
                "{shown}: no record could be read{}: nothing imported",
                errors
                    .first()
                    .map(|e| format!(" (first problem: {e})"))
                    .unwrap_or_default()
            )));
        }
        self.show_progress("comparing with the directory", 0, 0);
        let path = self.state.path.clone();
        let current = directory::load_at(&self.state.conn, &path, at)?;
        let baseline = current.is_empty();
        let by_id: HashMap<&str, &Stored> =
            current.iter().map(|s| (s.user_id.as_str(), s)).collect();
        let errored: BTreeSet<&str> = users
            .errors
            .iter()
            .filter_map(|e| e.user_id.as_deref())
            .collect();

        // the snapshot's records, canonical
        let mut snap = Vec::with_capacity(users.records.len());
        for r in &users.records {
            let obj = directory::record_json(&users.fields, &r.values);
            let (text, digest) = directory::canonical_record(&obj)?;
            snap.push((r, text, digest));
        }
        let in_snap: BTreeSet<&str> = users.records.iter().map(|r| r.id.as_str()).collect();
        let new: Vec<usize> = (0..snap.len())
            .filter(|&i| !by_id.contains_key(snap[i].0.id.as_str()))
            .collect();
        let changed: Vec<usize> = (0..snap.len())
            .filter(|&i| {
                by_id
                    .get(snap[i].0.id.as_str())
                    .is_some_and(|s| s.digest != snap[i].2)
            })
            .collect();

        // who is absent (and not already gone)
        let cur_users = directory::to_users(&current, schema)?;
        let plan = EvalPlan::new(b.bundle.clone(), &cur_users.fields, at);
        let absent: Vec<&input::UserRecord> = cur_users
            .records
            .iter()
            .filter(|r| !in_snap.contains(r.id.as_str()) && !errored.contains(r.id.as_str()))
            .filter(|r| plan.failed_require(&r.values).is_none())
            .collect();

        let mut reasons = Vec::new();
        if !baseline {
            let dropped = changed.len() + absent.len();
            let pct = dropped as f64 * 100.0 / current.len() as f64;
            if pct > self.project.guard.max_missing_percent {
                reasons.push(format!(
                    "the snapshot drops or changes {dropped} of {} people in the directory ({pct:.1}%), more than max_missing_percent = {}%",
                    current.len(),
                    self.project.guard.max_missing_percent
                ));
            }
            let last: Option<String> = self
                .state
                .conn
                .query_row(
                    "SELECT columns FROM imports WHERE kind = 'import' ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .ok();
            if let Some(last) = last {
                let last: BTreeSet<String> = serde_json::from_str(&last).unwrap_or_default();
                let now = columns(&users);
                let lost: Vec<&String> = last.difference(&now).collect();
                if !lost.is_empty() {
                    reasons.push(format!(
                        "the snapshot lost column(s) the last one had: {}",
                        lost.iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        let terminate_absent = self.project.hris.missing == Missing::Terminate;
        let nothing = !baseline
            && new.is_empty()
            && changed.is_empty()
            && (absent.is_empty() || !terminate_absent);
        if nothing {
            return Ok(ImportReport {
                file: shown,
                at,
                baseline,
                unchanged: true,
                import_id: None,
                records: users.records.len(),
                new: 0,
                changed: 0,
                absent: absent.len(),
                errors,
                events: Vec::new(),
                forced: None,
            });
        }
        if !reasons.is_empty() {
            match force {
                Some(reason) => {
                    self.audit(
                        Some(&at.to_string()),
                        "force",
                        json!({"command": "hris import", "file": shown, "guards": reasons, "reason": reason}),
                    )?;
                }
                None => {
                    let why = reasons.join("; ");
                    self.audit(
                        Some(&at.to_string()),
                        "refusal",
                        json!({"command": "hris import", "file": shown, "reason": why}),
                    )?;
                    return Err(Error::Refused(format!(
                        "{shown}: {why}: check the export, or pass --force with a reason"
                    )));
                }
            }
        }

        // record
        let tx = self.tx()?;
        let mut report = ImportReport {
            file: shown.clone(),
            at,
            baseline,
            unchanged: false,
            import_id: None,
            records: users.records.len(),
            new: if baseline { 0 } else { new.len() },
            changed: changed.len(),
            absent: absent.len(),
            errors,
            events: Vec::new(),
            forced: force.filter(|_| !reasons.is_empty()).map(str::to_string),
        };
        {
            let cols =
                serde_json::to_string(&columns(&users)).map_err(|e| Error::Bug(e.to_string()))?;
            let source: i64 = tx.query_row(
                "INSERT INTO imports(kind, at, recorded_at, file, digest, columns, records, actor) VALUES ('import', ?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                crate::db::params![at.to_string(), now_text(), shown, file_digest, cols, users.records.len() as i64, self.actor],
                |r| r.get(0),
            )
            .state(&path)?;
            report.import_id = Some(source);
            let rec = Recorder {
                conn: &tx,
                path: &path,
                source,
            };
            let mut w = audit::Writer::new(&tx, &path, &self.actor)?;
            // progress: the records to write, and how many are written
            let total = if baseline {
                snap.len()
            } else {
                new.len() + changed.len() + if terminate_absent { absent.len() } else { 0 }
            } as u64;
            let mut done = 0u64;
            let step = |done: &mut u64| {
                *done += 1;
                if *done % 256 == 0 || *done == total {
                    self.show_progress("recording", *done, total);
                }
            };
            self.show_progress("recording", 0, total);
            if baseline {
                for (r, text, digest) in &snap {
                    rec.record(&r.id, at, text, digest, "import")?;
                    step(&mut done);
                }
            } else {
                // evaluate both sides on one plan
                let mut fields = cur_users.fields.clone();
                for f in &users.fields {
                    if !fields.contains(f) {
                        fields.push(f.clone());
                    }
                }
                let plan = EvalPlan::new(b.bundle.clone(), &fields, at);
                let cur_by_id: HashMap<&str, &input::UserRecord> = cur_users
                    .records
                    .iter()
                    .map(|r| (r.id.as_str(), r))
                    .collect();
                for &i in new.iter().chain(&changed) {
                    let (r, text, digest) = &snap[i];
                    rec.record(&r.id, at, text, digest, "import")?;
                    let after = plan.evaluate(&r.id, &align(&users.fields, &r.values, &fields));
                    let before = cur_by_id.get(r.id.as_str()).map(|c| {
                        plan.evaluate(&c.id, &align(&cur_users.fields, &c.values, &fields))
                    });
                    report.events.push(rec.derive(
                        &mut w,
                        &plan,
                        &r.id,
                        before.as_ref(),
                        &after,
                        at,
                        "import",
                        false,
                    )?);
                    step(&mut done);
                }
                if terminate_absent {
                    let status = cur_users.slot("employment_status");
                    for r in &absent {
                        let mut values = r.values.clone();
                        match status {
                            Some(s) => values[s] = Some(Value::Str("Inactive".into())),
                            None => {
                                return Err(Error::Input(
                                    "missing = \"terminate\" needs an `employment_status` attribute in the records".into(),
                                ))
                            }
                        }
                        let obj = directory::record_json(&cur_users.fields, &values);
                        let (text, digest) = directory::canonical_record(&obj)?;
                        rec.record(&r.id, at, &text, &digest, "absence")?;
                        let aligned = |v: &[Option<Value>]| align(&cur_users.fields, v, &fields);
                        let before = plan.evaluate(&r.id, &aligned(&r.values));
                        let after = plan.evaluate(&r.id, &aligned(&values));
                        report.events.push(rec.derive(
                            &mut w,
                            &plan,
                            &r.id,
                            Some(&before),
                            &after,
                            at,
                            "absence",
                            true,
                        )?);
                        step(&mut done);
                    }
                }
            }
            let count = |k: &str| report.events.iter().filter(|e| e.kind == k).count();
            w.append(
                Some(&at.to_string()),
                "import",
                json!({
                    "file": shown, "digest": file_digest, "import": source, "records": report.records,
                    "baseline": baseline, "new": report.new, "changed": report.changed, "absent": report.absent,
                    "joiners": count("joiner"), "movers": count("mover"), "leavers": count("leaver"),
                    "forced": report.forced,
                }),
            )?;
        }
        self.commit(tx)?;
        Ok(report)
    }

    /// `hris event FILE [--at D]`: HRIS events (one JSON object, an array or JSONL), in
    /// order of effective date per person; `at` is the date of an update that names none.
    pub fn hris_event(&mut self, file: &Path, at: NaiveDate) -> Result<EventReport> {
        let shown = crate::shown(&self.project.root, file);
        let bytes =
            std::fs::read(file).map_err(|e| Error::Input(format!("{shown}: cannot read: {e}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Input(format!("{shown}: not UTF-8 text")))?;
        self.hris_events_text(&text, &shown, at, |_| Ok(()))
    }

    /// [`Provision::hris_event`] of events already in memory (the service's stored
    /// events): `name` is what the import row and the audit entries call their source, and
    /// `inside` runs in the same transaction, after the events are recorded and before the
    /// commit (the service marks its events processed there: recorded and marked together,
    /// or neither).
    pub fn hris_events_text(
        &mut self,
        text: &str,
        name: &str,
        at: NaiveDate,
        inside: impl FnOnce(&Db) -> Result<()>,
    ) -> Result<EventReport> {
        let b = self.bundle()?;
        let schema = b.bundle.schema.clone();
        let shown = name.to_string();
        let mut evs = events::parse_events(text, &shown, at).map_err(|e| Error::Input(e.0))?;
        // stable: each person's events keep their order within a date
        evs.sort_by_key(|e| e.effective);
        let path = self.state.path.clone();
        let tx = self.tx()?;
        let source: i64 = tx.query_row(
            "INSERT INTO imports(kind, at, recorded_at, file, digest, columns, records, actor) VALUES ('event', ?1, ?2, ?3, ?4, '[]', ?5, ?6) RETURNING id",
            crate::db::params![at.to_string(), now_text(), shown, crate::canon::sha256_hex(text.as_bytes()), evs.len() as i64, self.actor],
            |r| r.get(0),
        )
        .state(&path)?;
        let rec = Recorder {
            conn: &tx,
            path: &path,
            source,
        };
        let mut w = audit::Writer::new(&tx, &path, &self.actor)?;
        let mut out = Vec::new();
        for ev in evs {
            let effective = ev.effective;
            let user = ev.user_id.clone();
            let stored = directory::load_user(&tx, &path, &user, effective)?;
            let mut users = match &stored {
                Some(s) => directory::to_users(std::slice::from_ref(s), schema.as_ref())?,
                None => directory::to_users(&[], schema.as_ref())?,
            };
            let terminated = ev.kind == events::EventKind::Terminated;
            let kind_name = ev.kind.name();
            // a rehire: the old record of someone gone does not block the hire
            let mut before_values = None;
            if ev.kind == events::EventKind::Hired {
                if let Some(r) = users.records.first() {
                    let plan = EvalPlan::new(b.bundle.clone(), &users.fields, effective);
                    if plan.failed_require(&r.values).is_some() {
                        before_values = Some((users.fields.clone(), r.values.clone()));
                        users.records.clear();
                    }
                }
            }
            let (mut plans, outcomes) = lapply::run_events(&b.bundle, &mut users, vec![ev], &shown)
                .map_err(|e| Error::Input(e.0))?;
            let Some(o) = outcomes.into_iter().next() else {
                return Err(Error::Bug("an event without an outcome".into()));
            };
            let Some(r) = users.find(&user) else {
                return Err(Error::Bug(format!("event for `{user}` left no record")));
            };
            let obj = directory::record_json(&users.fields, &r.values);
            let (text, digest) = directory::canonical_record(&obj)?;
            rec.record(&user, effective, &text, &digest, kind_name)?;
            let plan = plans.at(effective);
            let before = match (&o.before, before_values) {
                (Some(bv), _) => Some(bv.clone()),
                (None, Some((f, v))) => Some(plan.evaluate(&user, &align(&f, &v, &users.fields))),
                (None, None) => None,
            };
            let d = rec.derive(
                &mut w,
                plan,
                &user,
                before.as_ref(),
                &o.after,
                effective,
                kind_name,
                terminated,
            )?;
            w.append(
                Some(&effective.to_string()),
                "event",
                json!({"event": kind_name, "user_id": user, "effective": effective.to_string(), "kind": d.kind, "file": shown, "import": source}),
            )?;
            out.push(d);
        }
        drop(w);
        inside(&tx)?;
        self.commit(tx)?;
        Ok(EventReport {
            file: shown,
            import_id: source,
            events: out,
        })
    }
}
