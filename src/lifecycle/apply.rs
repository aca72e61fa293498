//! Applies HRIS events, in order, to the user directory and computes each one's delta: both
//! sides are evaluated on the event's effective date, so only the event, not the calendar,
//! makes the delta.

use std::sync::Arc;

use chrono::NaiveDate;

use super::delta::{delta, Change};
use super::events::{Event, EventError, EventKind};
use crate::eval::{Evaluation, Plan};
use crate::input::{self, Users};
use crate::ir::{self, Type, Value};

/// One event's outcome.
pub struct Outcome {
    pub event: Event,
    pub before: Option<Evaluation>,
    pub after: Evaluation,
    /// No longer passes every `require`, or terminated: everything goes at once.
    pub leaver: bool,
    pub changes: Vec<Change>,
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
            if pos.is_some() {
                return Err(EventError(format!("{at}: field `user_id`: `{}` is already in the directory: a hire needs a new id", ev.user_id)));
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
            for (attr, _old, new) in &ev.changes {
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
            after[slot] = Some(Value::Str("Inactive".into()));
            users.records[i].values = after.clone();
            let mut before = before;
            before.resize(users.fields.len(), None);
            Ok((Some(before), after))
        }
    }
}

/// Applies every event in order; the first bad event stops the run (exit 2).
pub fn run_events(
    bundle: &Arc<ir::Bundle>,
    users: &mut Users,
    events: Vec<Event>,
    name: &str,
) -> Result<(Plans, Vec<Outcome>), EventError> {
    let schema = bundle.schema.clone();
    let mut plans = Plans::new(bundle.clone(), &users.fields);
    let mut out = Vec::new();
    for ev in events {
        let at = format!("{name}:{} ({} {})", ev.line, ev.kind.name(), ev.user_id);
        let (before_vals, after_vals) = apply_to_directory(users, schema.as_ref(), &ev, &at)?;
        plans.set_fields(&users.fields);
        let plan = plans.at(ev.effective);
        let before = before_vals.map(|v| plan.evaluate(&ev.user_id, &v));
        let after = plan.evaluate(&ev.user_id, &after_vals);
        let leaver = ev.kind == EventKind::Terminated || after.failed_require.is_some();
        let changes = delta(plan, before.as_ref(), &after, ev.effective, leaver);
        out.push(Outcome {
            event: ev,
            before,
            after,
            leaver,
            changes,
        });
    }
    Ok((plans, out))
}
