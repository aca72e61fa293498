//! HRIS events as the HR system sends them (docs/commands.md, `event`): `employee.hired`,
//! `employee.updated` (with `changes`), `employee.terminated`; one JSON object or JSONL.
//! Parsing checks shapes and dates; applying them to the directory is [`super::apply`].

use chrono::NaiveDate;
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Hired,
    Updated,
    Terminated,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Hired => "employee.hired",
            EventKind::Updated => "employee.updated",
            EventKind::Terminated => "employee.terminated",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub user_id: String,
    /// 1-based line in the input (the object's first line for a JSON file).
    pub line: usize,
    /// When it takes effect: both sides of the delta are evaluated on this date.
    pub effective: NaiveDate,
    /// Hired: the new record's attributes (everything but `event` and `effective_date`).
    pub attributes: Map<String, Json>,
    /// Updated: `(attribute, old, new)` in the order given.
    pub changes: Vec<(String, Option<Json>, Json)>,
}

/// A problem with one event: names the input, the event's line and the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

fn date_field(
    obj: &Map<String, Json>,
    field: &str,
    at: &str,
) -> Result<Option<NaiveDate>, EventError> {
    match obj.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => crate::dates::parse(s).map(Some).ok_or_else(|| {
            EventError(format!(
                "{at}: field `{field}`: \"{s}\" is not a date (YYYY-MM-DD)"
            ))
        }),
        Some(other) => Err(EventError(format!(
            "{at}: field `{field}`: expected a date string, found {other}"
        ))),
    }
}

/// Parses one event object. `default_date` is used for an update that names no date.
pub fn parse_event(
    obj: &Map<String, Json>,
    line: usize,
    name: &str,
    default_date: NaiveDate,
) -> Result<Event, EventError> {
    let at = format!("{name}:{line}");
    let kind = match obj.get("event").and_then(Json::as_str) {
        Some("employee.hired") => EventKind::Hired,
        Some("employee.updated") => EventKind::Updated,
        Some("employee.terminated") => EventKind::Terminated,
        Some(other) => {
            return Err(EventError(format!(
                "{at}: field `event`: unknown event \"{other}\" (expected employee.hired, employee.updated or employee.terminated)"
            )))
        }
        None => return Err(EventError(format!("{at}: field `event`: missing (employee.hired, employee.updated or employee.terminated)"))),
    };
    let user_id = match obj.get("user_id") {
        Some(Json::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(EventError(format!(
                "{at}: field `user_id`: missing or not a string"
            )))
        }
    };
    let at = format!("{at} ({} {user_id})", kind.name());
    let mut ev = Event {
        kind,
        user_id,
        line,
        effective: default_date,
        attributes: Map::new(),
        changes: Vec::new(),
    };
    match kind {
        EventKind::Hired => {
            let eff = date_field(obj, "effective_date", &at)?;
            let start = date_field(obj, "start_date", &at)?;
            ev.effective = eff.or(start).ok_or_else(|| {
                EventError(format!(
                    "{at}: field `effective_date`: a hire needs `effective_date` or `start_date`"
                ))
            })?;
            ev.attributes = obj
                .iter()
                .filter(|(k, _)| *k != "event" && *k != "effective_date")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        EventKind::Updated => {
            let changes = match obj.get("changes") {
                Some(Json::Object(c)) => c,
                _ => return Err(EventError(format!("{at}: field `changes`: expected an object of {{\"attribute\": {{\"old\": …, \"new\": …}}}}"))),
            };
            let eff = date_field(obj, "effective_date", &at)?.or(date_field(
                changes,
                "effective_date",
                &at,
            )?);
            ev.effective = eff.unwrap_or(default_date);
            for (attr, change) in changes {
                if attr == "effective_date" {
                    continue;
                }
                let field = format!("changes.{attr}");
                let (old, new) = match change {
                    Json::Object(c) if c.contains_key("new") => {
                        (c.get("old").cloned(), c["new"].clone())
                    }
                    // a bare value is the new value
                    other if !other.is_object() => (None, other.clone()),
                    _ => {
                        return Err(EventError(format!(
                            "{at}: field `{field}`: expected {{\"old\": …, \"new\": …}}"
                        )))
                    }
                };
                ev.changes.push((attr.clone(), old, new));
            }
            if ev.changes.is_empty() {
                return Err(EventError(format!(
                    "{at}: field `changes`: no attribute changes"
                )));
            }
        }
        EventKind::Terminated => {
            let last = date_field(obj, "last_day", &at)?;
            let term = date_field(obj, "termination_date", &at)?;
            let eff = date_field(obj, "effective_date", &at)?;
            ev.effective = last.or(term).or(eff).ok_or_else(|| {
                EventError(format!(
                    "{at}: field `last_day`: a termination needs `last_day` or `termination_date`"
                ))
            })?;
        }
    }
    Ok(ev)
}

/// Refuses a key given twice in one object of `text` (serde_json would keep the last one
/// silently: `employment_status` twice). `line_offset`: the line before `text`'s first.
fn unique_keys(text: &str, name: &str, line_offset: usize) -> Result<(), EventError> {
    crate::input::check_unique_keys(text).map_err(|e| {
        let full = e.to_string();
        let msg = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m);
        let line = e.line() + line_offset;
        EventError(match e.classify() {
            serde_json::error::Category::Data => format!("{name}:{line}:{}: {msg}", e.column()),
            _ => format!("{name}:{line}:{}: invalid JSON: {msg}", e.column()),
        })
    })
}

/// Parses a file of events: one JSON object, a JSON array of objects, or JSONL.
pub fn parse_events(
    text: &str,
    name: &str,
    default_date: NaiveDate,
) -> Result<Vec<Event>, EventError> {
    let trimmed = text.trim_start();
    // One object (possibly spread over several lines) or an array: parse as JSON.
    if let Ok(v) = serde_json::from_str::<Json>(text) {
        unique_keys(text, name, 0)?;
        let first_line = text[..text.len() - trimmed.len()].matches('\n').count() + 1;
        return match v {
            Json::Object(obj) => Ok(vec![parse_event(&obj, first_line, name, default_date)?]),
            Json::Array(items) => {
                let lines = crate::input::record_lines(text);
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Json::Object(obj) => {
                            let line = lines.get(i).copied().unwrap_or(first_line);
                            parse_event(obj, line, name, default_date)
                        }
                        _ => Err(EventError(format!(
                            "{name}: event {}: expected an object",
                            i + 1
                        ))),
                    })
                    .collect()
            }
            _ => Err(EventError(format!(
                "{name}:{first_line}: expected an event object"
            ))),
        };
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line).map_err(|e| {
            EventError(format!(
                "{name}:{}:{}: invalid JSON: {e}",
                i + 1,
                e.column()
            ))
        })?;
        unique_keys(line, name, i)?;
        match v {
            Json::Object(obj) => out.push(parse_event(&obj, i + 1, name, default_date)?),
            _ => {
                return Err(EventError(format!(
                    "{name}:{}: expected an event object",
                    i + 1
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(EventError(format!("{name}: no events")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_seed_lifecycle_parses() {
        let text = include_str!("../../examples/seed/events/lifecycle.jsonl");
        let evs = parse_events(text, "lifecycle.jsonl", d("2000-01-01")).unwrap();
        let got: Vec<(EventKind, NaiveDate, usize)> =
            evs.iter().map(|e| (e.kind, e.effective, e.line)).collect();
        assert_eq!(
            got,
            vec![
                (EventKind::Hired, d("2024-11-24"), 1),
                (EventKind::Updated, d("2025-05-24"), 2),
                (EventKind::Updated, d("2026-05-24"), 3),
                (EventKind::Terminated, d("2027-03-15"), 4)
            ]
        );
        assert_eq!(evs[2].changes.len(), 2);
        assert!(!evs[0].attributes.contains_key("event"));
    }

    #[test]
    fn a_single_object_over_several_lines() {
        let text = include_str!("../../examples/seed/events/03-transferred.json");
        let evs = parse_events(text, "t.json", d("2000-01-01")).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].effective, d("2026-05-24"));
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad =
            "{\"event\": \"employee.hired\", \"user_id\": \"a\", \"start_date\": \"2025-02-30\"}\n";
        let e = parse_events(&format!("\n{bad}"), "e.jsonl", d("2000-01-01")).unwrap_err();
        assert!(
            e.0.contains("e.jsonl:2") && e.0.contains("start_date"),
            "{}",
            e.0
        );
        let e = parse_events(
            "{\"event\": \"employee.fired\", \"user_id\": \"a\"}\n{}",
            "e.jsonl",
            d("2000-01-01"),
        )
        .unwrap_err();
        assert!(
            e.0.contains("e.jsonl:1") && e.0.contains("`event`"),
            "{}",
            e.0
        );
        let e = parse_events(
            "{\"event\": \"employee.terminated\", \"user_id\": \"a\"}",
            "e.json",
            d("2000-01-01"),
        )
        .unwrap_err();
        assert!(e.0.contains("last_day"), "{}", e.0);
    }

    #[test]
    fn a_key_given_twice_is_refused_with_the_line_and_the_key() {
        let twice = "given twice in one object (which value holds would be a guess)";
        let first =
            "{\"event\": \"employee.hired\", \"user_id\": \"a\", \"start_date\": \"2025-01-01\"}";
        let e = parse_events(
            &format!("{first}\n{{\"event\": \"employee.updated\", \"user_id\": \"a\", \"changes\": {{\"employment_status\": \"Inactive\", \"employment_status\": \"Active\"}}}}\n"),
            "e.jsonl",
            d("2025-06-01"),
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            format!("e.jsonl:2:110: key \"employment_status\" {twice}")
        );
        // one object over several lines, and an array of them
        let e = parse_events(
            "{\"event\": \"employee.terminated\",\n \"user_id\": \"a\",\n \"user_id\": \"b\", \"last_day\": \"2025-01-01\"}",
            "e.json",
            d("2025-06-01"),
        )
        .unwrap_err();
        assert_eq!(e.0, format!("e.json:3:10: key \"user_id\" {twice}"));
        let e = parse_events(
            &format!("[{first},\n {{\"event\": \"employee.updated\", \"user_id\": \"a\", \"changes\": {{\"x\": {{\"old\": 1, \"new\": 2, \"new\": 3}}}}}}]"),
            "e.json",
            d("2025-06-01"),
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("e.json:2:") && e.0.contains("key \"new\" given twice"),
            "{}",
            e.0
        );
    }

    #[test]
    fn events_of_a_json_array_have_their_own_lines() {
        let a =
            "{\"event\": \"employee.hired\", \"user_id\": \"a\", \"start_date\": \"2025-01-01\"}";
        let b = "{\"event\": \"employee.terminated\", \"user_id\": \"a\", \"last_day\": \"2025-03-01\"}";
        let evs = parse_events(&format!("[\n{a},\n\n{b}\n]"), "e.json", d("2025-06-01")).unwrap();
        let lines: Vec<usize> = evs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4]);
    }
}
