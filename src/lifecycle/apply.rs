//! Applies HRIS events to the user directory, each user's in date order, and computes each
//! one's delta: both sides are evaluated on the event's effective date, so only the event,
//! not the calendar, makes the delta. A leaver loses everything they hold: what the
//! before-state gives, and what an earlier event's grace period still lets them keep.

#![allow(
    clippy::indexing_slicing,
    reason = "record slots and plan ids index the directory and the plan they come from; to become typed vectors"
)]

use std::sync::Arc;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::delta::{delta, Action, Change};
use super::events::{Event, EventError, EventKind};
use crate::eval::{Evaluation, Granted, Plan};
use crate::input::{self, Users};
use crate::ir::{self, Type, Value};

/// What an event makes of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A hire, or a rehire (someone inactive, or failing a `require`, made active again):
    /// everything they get is an `add`.
    Joiner,
    /// Still passing every `require`: removals wait for grace.
    Mover,
    /// Terminated, made `Inactive`, or no longer passing a `require`: loses everything at once.
    Leaver,
}

impl Kind {
    /// `joiner`, `mover`, `leaver`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Joiner => "joiner",
            Kind::Mover => "mover",
            Kind::Leaver => "leaver",
        }
    }
}

/// One event's outcome.
pub struct Outcome {
    pub event: Event,
    pub before: Option<Evaluation>,
    pub after: Evaluation,
    /// No longer passes every `require`, or terminated: everything goes at once.
    pub leaver: bool,
    pub kind: Kind,
    /// For a rehire, its before-state is not counted: everything is added.
    pub rehire: bool,
    pub changes: Vec<Change>,
    /// How the event was applied, when that is not plain from the file: out of file order.
    pub notes: Vec<String>,
}

/// Evaluation plans by date, compiled once each (a JSONL of events touches few dates).
pub struct Plans {
    bundle: Arc<ir::Bundle>,
    fields: Vec<String>,
    plans: Vec<(NaiveDate, Plan)>,
}

impl Plans {
    pub fn new(bundle: Arc<ir::Bundle>, fields: &[String]) -> Plans {
        Plans {
            bundle,
            fields: fields.to_vec(),
            plans: Vec::new(),
        }
    }

    pub fn at(&mut self, d: NaiveDate) -> &mut Plan {
        let i = match self.plans.iter().position(|(x, _)| *x == d) {
            Some(i) => i,
            None => {
                self.plans
                    .push((d, Plan::new(self.bundle.clone(), &self.fields, d)));
                self.plans.len() - 1
            }
        };
        &mut self.plans[i].1
    }

    /// Records gained a column (untyped bundles): plans must be recompiled.
    fn set_fields(&mut self, fields: &[String]) {
        if self.fields != fields {
            self.fields = fields.to_vec();
            self.plans.clear();
        }
    }
}

fn field_type<'a>(schema: Option<&'a ir::Schema>, name: &str) -> Option<&'a Type> {
    schema.and_then(|s| s.field(name)).map(|f| &f.ty)
}

/// Untyped bundles: a new attribute becomes a new column of every record.
fn ensure_field(users: &mut Users, name: &str) -> usize {
    if let Some(i) = users.fields.iter().position(|f| f == name) {
        return i;
    }
    users.fields.push(name.to_string());
    for r in &mut users.records {
        r.values.push(None);
    }
    users.fields.len() - 1
}

/// One record's values, by column.
type Values = Vec<Option<Value>>;

/// The value the termination sets, and that makes a leaver of whoever has it.
const INACTIVE: &str = "Inactive";

fn is_inactive(users: &Users, values: &[Option<Value>]) -> bool {
    users
        .slot("employment_status")
        .and_then(|i| values.get(i))
        .is_some_and(|v| matches!(v, Some(Value::Str(s)) if s == INACTIVE))
}

/// Whether a change's `old` is the record's current value. Untyped bundles compare texts
/// too: a users CSV holds `"3"` where an event says `3`.
fn same_value(old: &Option<Value>, current: &Option<Value>, untyped: bool) -> bool {
    old == current
        || (untyped && old.as_ref().map(Value::to_string) == current.as_ref().map(Value::to_string))
}

/// Applies `ev` to the directory and returns the user's values before (none for a hire)
/// and after.
fn apply_to_directory(
    users: &mut Users,
    schema: Option<&ir::Schema>,
    ev: &Event,
    at: &str,
) -> Result<(Option<Values>, Values), EventError> {
    let pos = users.records.iter().position(|r| r.id == ev.user_id);
    match ev.kind {
        EventKind::Hired => {
            if let Some(i) = pos {
                let hint = if is_inactive(users, &users.records[i].values) {
                    " (they are inactive: a rehire is an employee.updated of employment_status to \"Active\")"
                } else {
                    ""
                };
                return Err(EventError(format!("{at}: field `user_id`: `{}` is already in the directory: a hire needs a new id{hint}", ev.user_id)));
            }
            if schema.is_none() {
                for k in ev.attributes.keys() {
                    ensure_field(users, k);
                }
            }
            let rec = input::record_from_json(
                &ev.attributes,
                &users.fields,
                schema,
                users.records.len(),
                ev.line,
            )
            .map_err(|e| EventError(format!("{at}: {}", e.message)))?;
            let after = rec.values.clone();
            users.records.push(rec);
            Ok((None, after))
        }
        EventKind::Updated => {
            let Some(i) = pos else {
                return Err(EventError(format!(
                    "{at}: field `user_id`: no user `{}` in the directory to update",
                    ev.user_id
                )));
            };
            let before = users.records[i].values.clone();
            let mut after = before.clone();
            for (attr, old, new) in &ev.changes {
                let ty = match (schema, field_type(schema, attr)) {
                    (Some(_), None) => {
                        let help = schema
                            .and_then(|s| {
                                crate::diagnostics::did_you_mean(
                                    attr,
                                    s.fields.iter().map(|f| f.name.as_str()),
                                )
                            })
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        return Err(EventError(format!(
                            "{at}: field `changes.{attr}`: not an attribute of the schema{help}"
                        )));
                    }
                    (Some(_), Some(t)) => t.clone(),
                    (None, _) => Type::Any,
                };
                if schema.is_some_and(|s| s.key == *attr) {
                    return Err(EventError(format!(
                        "{at}: field `changes.{attr}`: the user id cannot change"
                    )));
                }
                if let Some(old) = old {
                    let current = users
                        .slot(attr)
                        .and_then(|i| before.get(i).cloned().flatten());
                    let typed = input::typed_value(old, &ty);
                    if !typed
                        .as_ref()
                        .is_ok_and(|o| same_value(o, &current, schema.is_none()))
                    {
                        let said = match typed {
                            Ok(Some(v)) => v.to_string(),
                            Ok(None) => "null".to_string(),
                            Err(_) => old.to_string(),
                        };
                        let has = current.map_or("no value".to_string(), |v| v.to_string());
                        return Err(EventError(format!(
                            "{at}: field `changes.{attr}.old`: the event says the value was {said}, but the directory has {has}: the event does not follow the record (check the users file and the order of the events)"
                        )));
                    }
                }
                let v = input::typed_value(new, &ty)
                    .map_err(|m| EventError(format!("{at}: field `changes.{attr}`: {m}")))?;
                if v.is_none()
                    && schema
                        .and_then(|s| s.field(attr))
                        .is_some_and(|f| !f.optional)
                {
                    return Err(EventError(format!(
                        "{at}: field `changes.{attr}`: a required attribute cannot become null"
                    )));
                }
                let slot = ensure_field(users, attr);
                if after.len() < users.fields.len() {
                    after.resize(users.fields.len(), None);
                }
                after[slot] = v;
            }
            let mut before = before;
            before.resize(users.fields.len(), None);
            users.records[i].values = after.clone();
            Ok((Some(before), after))
        }
        EventKind::Terminated => {
            let Some(i) = pos else {
                return Err(EventError(format!(
                    "{at}: field `user_id`: no user `{}` in the directory to terminate",
                    ev.user_id
                )));
            };
            let before = users.records[i].values.clone();
            let mut after = before.clone();
            let slot = ensure_field(users, "employment_status");
            after.resize(users.fields.len(), None);
            after[slot] = Some(Value::Str(INACTIVE.into()));
            users.records[i].values = after.clone();
            let mut before = before;
            before.resize(users.fields.len(), None);
            Ok((Some(before), after))
        }
    }
}

/// What the run has done to one user that their record does not show: the removals a grace
/// period still delays (they hold that access until then), and the event that made them
/// inactive.
#[derive(Default)]
struct Held {
    /// Entitlement, its level, the day its delayed removal takes it away, and the line of the
    /// event that delayed it.
    pending: Vec<(ir::Entitlement, Option<u8>, NaiveDate, usize)>,
    /// The line of the event of this run that made the user inactive.
    inactive_since: Option<usize>,
}

impl Held {
    /// Forgets the delayed removals done by `day`.
    fn prune(&mut self, day: NaiveDate) {
        self.pending.retain(|(_, _, until, _)| *until > day);
    }

    /// Everything a leaver holds on the event's day: the before-state's grants, and what a
    /// grace period still lets them keep.
    fn holding(&self, plan: &mut Plan, before: Option<&Evaluation>) -> Evaluation {
        let mut grants: Vec<Granted> = before.map_or_else(Vec::new, |b| b.grants.clone());
        for (e, level, _, _) in &self.pending {
            let ent = plan.intern(e);
            if !grants.iter().any(|g| g.ent == ent) {
                grants.push(Granted {
                    ent,
                    level: *level,
                    sources: Vec::new(),
                });
            }
        }
        Evaluation {
            grants,
            ..Evaluation::default()
        }
    }

    /// Takes the event (at `line`) in: a delayed removal is pending until its day; an
    /// entitlement given again is no longer pending, and a note says the removal an earlier
    /// event scheduled no longer holds.
    fn apply(
        &mut self,
        plan: &Plan,
        changes: &[Change],
        day: NaiveDate,
        line: usize,
        name: &str,
    ) -> Vec<String> {
        let mut notes = Vec::new();
        for c in changes {
            let e = plan.ent(c.ent);
            if let Some(i) = self.pending.iter().position(|(x, ..)| x == e) {
                let (_, _, until, by) = self.pending.remove(i);
                if c.action != Action::Remove {
                    notes.push(format!(
                        "{} is given again: its removal on {until}, which {name}:{by} scheduled, no longer holds",
                        plan.ent_text(c.ent)
                    ));
                }
            }
            if let (Action::Remove, Some(d)) = (c.action, c.not_before) {
                if d > day {
                    self.pending.push((e.clone(), c.level, d, line));
                }
            }
        }
        notes
    }
}

/// Each user's events in date order (stable: equal dates keep the file's order), in the
/// places of the file that user's events hold; other users' events do not move. With each
/// event, a note when it now comes before an event the file gives first.
fn date_order(events: Vec<Event>, name: &str) -> Vec<(Event, Vec<String>)> {
    let mut by_user: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    for (i, e) in events.iter().enumerate() {
        by_user.entry(e.user_id.as_str()).or_default().push(i);
    }
    let mut order: Vec<usize> = (0..events.len()).collect();
    let mut notes: Vec<Vec<String>> = vec![Vec::new(); events.len()];
    for places in by_user.values() {
        let mut sorted = places.clone();
        sorted.sort_by_key(|&i| events[i].effective);
        for (k, &i) in sorted.iter().enumerate() {
            order[places[k]] = i;
            // the first event the file gives before this one but that takes effect later
            if let Some(&j) = places
                .iter()
                .take_while(|&&j| j < i)
                .find(|&&j| events[j].effective > events[i].effective)
            {
                let f = &events[j];
                notes[i].push(format!(
                    "applied before {name}:{} ({}, effective {}), which the file gives first but takes effect later: each user's events apply in date order",
                    f.line,
                    f.kind.name(),
                    f.effective
                ));
            }
        }
    }
    let mut slots: Vec<Option<(Event, Vec<String>)>> =
        events.into_iter().zip(notes).map(Some).collect();
    order
        .into_iter()
        .map(|i| slots[i].take().expect("each event is placed once"))
        .collect()
}

/// Refuses what the directory and the run's state make impossible before applying `ev`: a
/// second termination, and an update or termination of a user hired only later.
fn check_state(
    users: &Users,
    ev: &Event,
    held: Option<&Held>,
    later_hire: Option<&Event>,
    at: &str,
    name: &str,
) -> Result<(), EventError> {
    let Some(rec) = users.find(&ev.user_id) else {
        if let (EventKind::Updated | EventKind::Terminated, Some(h)) = (ev.kind, later_hire) {
            let verb = if ev.kind == EventKind::Updated {
                "update"
            } else {
                "terminate"
            };
            return Err(EventError(format!(
                "{at}: field `user_id`: no user `{}` in the directory to {verb} on {}: their {} ({name}:{}) takes effect later, on {}",
                ev.user_id,
                ev.effective,
                h.kind.name(),
                h.line,
                h.effective
            )));
        }
        return Ok(());
    };
    if ev.kind == EventKind::Terminated && is_inactive(users, &rec.values) {
        let since = match held.and_then(|h| h.inactive_since) {
            Some(line) => format!("since {name}:{line}"),
            None => "in the users file".to_string(),
        };
        return Err(EventError(format!(
            "{at}: field `event`: `{}` is already terminated (employment_status is \"{INACTIVE}\" {since}): a second termination is refused",
            ev.user_id
        )));
    }
    Ok(())
}

/// Applies the events, each user's in date order; the first bad event stops the run (exit 2).
pub fn run_events(
    bundle: &Arc<ir::Bundle>,
    users: &mut Users,
    events: Vec<Event>,
    name: &str,
) -> Result<(Plans, Vec<Outcome>), EventError> {
    let schema = bundle.schema.clone();
    let mut plans = Plans::new(bundle.clone(), &users.fields);
    let hires: FxHashMap<String, Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Hired)
        .map(|e| (e.user_id.clone(), e.clone()))
        .collect();
    let mut held: FxHashMap<String, Held> = FxHashMap::default();
    let mut out = Vec::new();
    for (ev, notes) in date_order(events, name) {
        let at = format!("{name}:{} ({} {})", ev.line, ev.kind.name(), ev.user_id);
        let later_hire = hires
            .get(&ev.user_id)
            .filter(|h| h.effective > ev.effective);
        check_state(users, &ev, held.get(&ev.user_id), later_hire, &at, name)?;
        let (before_vals, after_vals) = apply_to_directory(users, schema.as_ref(), &ev, &at)?;
        plans.set_fields(&users.fields);
        let plan = plans.at(ev.effective);
        let before = before_vals.as_ref().map(|v| plan.evaluate(&ev.user_id, v));
        let after = plan.evaluate(&ev.user_id, &after_vals);
        let leaver = ev.kind == EventKind::Terminated
            || after.failed_require.is_some()
            || is_inactive(users, &after_vals);
        let was_out = before.as_ref().is_some_and(|b| b.failed_require.is_some())
            || before_vals.as_ref().is_some_and(|v| is_inactive(users, v));
        let rehire = before.is_some() && was_out && !leaver;
        let kind = if before.is_none() || rehire {
            Kind::Joiner
        } else if leaver {
            Kind::Leaver
        } else {
            Kind::Mover
        };
        let state = held.entry(ev.user_id.clone()).or_default();
        state.prune(ev.effective);
        let changes = match kind {
            Kind::Joiner => delta(plan, None, &after, ev.effective, false),
            Kind::Mover => delta(plan, before.as_ref(), &after, ev.effective, false),
            Kind::Leaver => {
                let holding = state.holding(plan, before.as_ref());
                delta(
                    plan,
                    Some(&holding),
                    &Evaluation::default(),
                    ev.effective,
                    true,
                )
            }
        };
        let mut notes = notes;
        notes.extend(state.apply(plan, &changes, ev.effective, ev.line, name));
        if is_inactive(users, &after_vals) {
            if !before_vals.as_ref().is_some_and(|v| is_inactive(users, v)) {
                state.inactive_since = Some(ev.line);
            }
        } else {
            state.inactive_since = None;
        }
        out.push(Outcome {
            event: ev,
            before,
            after,
            leaver,
            kind,
            rehire,
            changes,
            notes,
        });
    }
    Ok((plans, out))
}
