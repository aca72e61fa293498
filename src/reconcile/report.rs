//! Drift as the JSON of docs/commands.md, as the seed's "Drift Report" for people, and as CSV for auditors.

use serde::Serialize;

use super::drift::{DriftReport, Finding, Summary};
use crate::eval::{EntId, Plan};

// Fields are declared in alphabetical order: the JSON lists keys sorted, as it always has.

#[derive(Serialize)]
struct Entry<'a> {
    grant: &'a str,
    level: Option<&'a str>,
}

#[derive(Serialize)]
struct Mismatch<'a> {
    current: Option<&'a str>,
    expected: Option<&'a str>,
    grant: &'a str,
}

#[derive(Serialize)]
struct Excepted<'a> {
    exception: String,
    grant: &'a str,
    level: Option<&'a str>,
}

#[derive(Serialize)]
struct UserJson<'a> {
    excepted: Vec<Excepted<'a>>,
    excess: Vec<Entry<'a>>,
    level_mismatch: Vec<Mismatch<'a>>,
    missing: Vec<Entry<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    orphaned: bool,
    user_id: &'a str,
}

/// The drift report as the JSON of docs/commands.md: serialize it (it borrows the plan and the report).
#[derive(Serialize)]
pub struct ReportJson<'a> {
    as_of: String,
    summary: &'a Summary,
    users: Vec<UserJson<'a>>,
}

fn by_text<T>(v: &mut [T], key: impl Fn(&T) -> &str) {
    v.sort_by(|a, b| key(a).cmp(key(b)));
}

/// One user's findings as JSON; `None` for a user without findings (left out).
fn user_json<'a>(plan: &'a Plan, u: &'a super::drift::UserDrift) -> Option<UserJson<'a>> {
    if !u.has_findings() {
        return None;
    }
    let b = &*plan.bundle;
    let lvl = |ent: EntId, l: Option<u8>| plan.level_name(ent, l);
    let txt = |ent: EntId| plan.ent_text(ent);
    let mut j = UserJson {
        user_id: &u.user_id,
        orphaned: u.orphaned,
        excess: vec![],
        missing: vec![],
        level_mismatch: vec![],
        excepted: vec![],
    };
    for f in &u.findings {
        match f {
            Finding::Covered { .. } => {}
            Finding::Excess { ent, level } => j.excess.push(Entry {
                grant: txt(*ent),
                level: lvl(*ent, *level),
            }),
            Finding::Missing { ent, level, .. } => j.missing.push(Entry {
                grant: txt(*ent),
                level: lvl(*ent, *level),
            }),
            Finding::LevelMismatch {
                ent,
                current,
                expected,
                ..
            } => j.level_mismatch.push(Mismatch {
                grant: txt(*ent),
                current: lvl(*ent, *current),
                expected: lvl(*ent, *expected),
            }),
            Finding::Excepted {
                ent,
                level,
                exception,
            } => j.excepted.push(Excepted {
                grant: txt(*ent),
                level: lvl(*ent, *level),
                exception: b
                    .exceptions
                    .get(*exception)
                    .map(|x| x.name.clone().unwrap_or_else(|| x.source_label()))
                    .unwrap_or_default(),
            }),
        }
    }
    by_text(&mut j.excess, |e| e.grant);
    by_text(&mut j.missing, |e| e.grant);
    by_text(&mut j.level_mismatch, |e| e.grant);
    by_text(&mut j.excepted, |e| e.grant);
    Some(j)
}

pub fn json<'a>(plan: &'a Plan, r: &'a DriftReport) -> ReportJson<'a> {
    ReportJson {
        as_of: r.as_of.to_string(),
        summary: &r.summary,
        users: r.users.iter().filter_map(|u| user_json(plan, u)).collect(),
    }
}

/// `value` pretty-printed as serde_json prints it at `depth` inside a document (two spaces
/// a level): the lines after the first are indented.
pub(super) fn pretty_at(value: &impl Serialize, depth: usize) -> std::io::Result<String> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    let pad = "  ".repeat(depth);
    Ok(text.replace('\n', &format!("\n{pad}")))
}

/// The JSON report written user by user, byte for byte as [`json`] pretty-printed, holding
/// one user's findings at a time: a first pass counts the summary, a second writes the
/// users (for exports of millions of people, whose whole report would not fit in memory).
pub fn write_json<W: std::io::Write + ?Sized>(
    plan: &Plan,
    users: &crate::input::Users,
    access: &super::access::Access,
    w: &mut W,
) -> std::io::Result<Summary> {
    let summary = super::drift::summary(plan, users, access);
    write!(
        w,
        "{{\n  \"as_of\": {},\n  \"summary\": {},\n  \"users\": [",
        serde_json::to_string(&plan.at.to_string()).map_err(std::io::Error::other)?,
        pretty_at(&summary, 1)?
    )?;
    let mut first = true;
    let mut result = Ok(());
    super::drift::for_each_user(plan, users, access, |u| {
        if result.is_err() {
            return;
        }
        if let Some(j) = user_json(plan, &u) {
            let sep = if first { "\n    " } else { ",\n    " };
            first = false;
            result = pretty_at(&j, 2).and_then(|t| write!(w, "{sep}{t}"));
        }
    });
    result?;
    if first {
        write!(w, "]\n}}")?;
    } else {
        write!(w, "\n  ]\n}}")?;
    }
    Ok(summary)
}

/// The report as a person reads it.
pub fn human(plan: &Plan, r: &DriftReport) -> String {
    let mut out = String::new();
    human_header(r.as_of, &r.summary, &mut out);
    for u in &r.users {
        human_user(plan, u, &mut out);
    }
    out
}

/// The human report written user by user, byte for byte as [`human`] through
/// [`crate::text::terminal_lines`], holding one user's findings at a time: a first pass
/// counts the summary (the header comes first), a second writes each user's lines.
pub fn write_human<W: std::io::Write + ?Sized>(
    plan: &Plan,
    users: &crate::input::Users,
    access: &super::access::Access,
    w: &mut W,
) -> std::io::Result<Summary> {
    let summary = super::drift::summary(plan, users, access);
    let mut chunk = String::new();
    human_header(plan.at, &summary, &mut chunk);
    w.write_all(crate::text::terminal_lines(&chunk).as_bytes())?;
    let mut result = Ok(());
    super::drift::for_each_user(plan, users, access, |u| {
        if result.is_ok() {
            chunk.clear();
            human_user(plan, &u, &mut chunk);
            result = w.write_all(crate::text::terminal_lines(&chunk).as_bytes());
        }
    });
    result.map(|()| summary)
}

/// The title and the counts.
fn human_header(as_of: chrono::NaiveDate, s: &Summary, out: &mut String) {
    use std::fmt::Write;
    let title = format!("Drift Report (as of {as_of})");
    let _ = writeln!(out, "{title}\n{}", "=".repeat(title.chars().count()));
    let _ = writeln!(
        out,
        "Users: {}    Current entries: {}    Covered: {} ({:.1}%)",
        s.users, s.current_entries, s.covered, s.coverage_percent
    );
    let _ = writeln!(
        out,
        "Excess: {}    Missing: {}    Level mismatch: {}    Excepted: {}    Orphaned accounts: {}",
        s.excess, s.missing, s.level_mismatch, s.excepted, s.orphaned_users
    );
}

/// One user's section (nothing for a user without findings).
fn human_user(plan: &Plan, u: &super::drift::UserDrift, out: &mut String) {
    use std::fmt::Write;
    if !u.has_findings() {
        return;
    }
    let b = &*plan.bundle;
    let lvl = |ent: EntId, l: Option<u8>| {
        plan.level_name(ent, l)
            .map(|x| format!(" ({x})"))
            .unwrap_or_default()
    };
    let tag = if u.orphaned {
        " (orphaned: in no HRIS record)"
    } else {
        ""
    };
    let _ = writeln!(out, "\n{}{tag}", crate::text::terminal(&u.user_id));
    let mut lines: Vec<(u8, String)> = Vec::new();
    for f in &u.findings {
        match f {
            Finding::Covered { .. } => {}
            Finding::Excess { ent, level } => lines.push((
                0,
                format!("  EXCESS     {}{}", plan.ent_text(*ent), lvl(*ent, *level)),
            )),
            Finding::LevelMismatch {
                ent,
                current,
                expected,
                ..
            } => lines.push((
                1,
                format!(
                    "  LEVEL      {} is {}, policy says {}",
                    plan.ent_text(*ent),
                    plan.level_name(*ent, *current).unwrap_or("-"),
                    plan.level_name(*ent, *expected).unwrap_or("-")
                ),
            )),
            Finding::Missing { ent, level, .. } => lines.push((
                2,
                format!("  MISSING    {}{}", plan.ent_text(*ent), lvl(*ent, *level)),
            )),
            Finding::Excepted {
                ent,
                level,
                exception,
            } => {
                let Some(x) = b.exceptions.get(*exception) else {
                    continue;
                };
                lines.push((
                    3,
                    format!(
                        "  EXCEPTED   {}{} ({} until {})",
                        plan.ent_text(*ent),
                        lvl(*ent, *level),
                        x.source_label(),
                        x.expires
                    ),
                ))
            }
        }
    }
    lines.sort();
    for (_, l) in lines {
        let _ = writeln!(out, "{l}");
    }
}

/// One row per current entry and per missing entitlement: the auditors' view. Every cell
/// goes through [`crate::text::csv_cell`]: no formula, no control character.
pub fn csv(plan: &Plan, r: &DriftReport) -> String {
    let mut out = String::from(CSV_HEADER);
    for u in &r.users {
        csv_rows(plan, u, &mut out);
    }
    out
}

const CSV_HEADER: &str = "user_id,status,grant,level,expected_level,detail\n";

/// The CSV report written user by user (one user's rows held at a time), as [`csv`].
pub fn write_csv<W: std::io::Write + ?Sized>(
    plan: &Plan,
    users: &crate::input::Users,
    access: &super::access::Access,
    w: &mut W,
) -> std::io::Result<()> {
    w.write_all(CSV_HEADER.as_bytes())?;
    let mut result = Ok(());
    let mut rows = String::new();
    super::drift::for_each_user(plan, users, access, |u| {
        if result.is_ok() {
            rows.clear();
            csv_rows(plan, &u, &mut rows);
            result = w.write_all(rows.as_bytes());
        }
    });
    result
}

/// One user's rows.
fn csv_rows(plan: &Plan, u: &super::drift::UserDrift, out: &mut String) {
    let b = &*plan.bundle;
    let lvl = |ent: EntId, l: Option<u8>| plan.level_name(ent, l).unwrap_or("").to_string();
    {
        for f in &u.findings {
            let (status, ent, level, expected, detail) = match f {
                Finding::Covered { ent, level } => (
                    "covered",
                    *ent,
                    lvl(*ent, *level),
                    lvl(*ent, *level),
                    String::new(),
                ),
                Finding::Excess { ent, level } => (
                    "excess",
                    *ent,
                    lvl(*ent, *level),
                    String::new(),
                    if u.orphaned {
                        "orphaned account".into()
                    } else {
                        String::new()
                    },
                ),
                Finding::Missing {
                    ent,
                    level,
                    sources,
                } => (
                    "missing",
                    *ent,
                    String::new(),
                    lvl(*ent, *level),
                    sources.join("; "),
                ),
                Finding::LevelMismatch {
                    ent,
                    current,
                    expected,
                    sources,
                } => (
                    "level_mismatch",
                    *ent,
                    lvl(*ent, *current),
                    lvl(*ent, *expected),
                    sources.join("; "),
                ),
                Finding::Excepted {
                    ent,
                    level,
                    exception,
                } => {
                    let Some(x) = b.exceptions.get(*exception) else {
                        continue;
                    };
                    (
                        "excepted",
                        *ent,
                        lvl(*ent, *level),
                        String::new(),
                        format!(
                            "{} until {}, approved by {}",
                            x.source_label(),
                            x.expires,
                            x.approved_by
                        ),
                    )
                }
            };
            let row = [
                u.user_id.as_str(),
                status,
                plan.ent_text(ent),
                &level,
                &expected,
                &detail,
            ];
            out.push_str(
                &row.iter()
                    .map(|f| crate::text::csv_cell(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
    }
}
