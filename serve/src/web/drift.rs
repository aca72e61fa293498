//! Drift (`/drift`): the last drift run's findings by kind and system, coverage now and over
//! the drift runs (a chart drawn as SVG on the server, with the same numbers in a table),
//! and what the last pull of each system found changed out of band. An operator can run
//! drift from here.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use polc_provision::plan::{Action, ActionKind, SystemCoverage, SystemPlan};
use serde::Deserialize;
use serde_json::Value as Json;

use super::layout::{csrf, page, table, text, time, CsrfForm, Nav};
use super::plan::derivation;
use super::session::Signed;
use super::{check_csrf, check_role, encode, may_operate, on_worker, PageResult, WebState};
use crate::api;
use crate::auth::Access;
use crate::worker::{DRIFT_HISTORY, LAST_PULL};

/// Findings listed at most.
const FINDINGS: usize = 500;

/// What a drift finding is.
fn kind(a: &Action) -> &'static str {
    match a.action {
        ActionKind::Grant => "missing",
        ActionKind::SetLevel => "level mismatch",
        ActionKind::Revoke if a.reason.starts_with("orphan") => "orphan's access",
        ActionKind::Revoke | ActionKind::Deprovision if a.leaver => "leaver's access",
        ActionKind::Revoke => "excess",
        ActionKind::Deprovision => "leaver's account",
        ActionKind::Reactivate => "rehire",
    }
}

const KINDS: [&str; 7] = [
    "missing",
    "level mismatch",
    "excess",
    "orphan's access",
    "leaver's access",
    "leaver's account",
    "rehire",
];

/// The last drift run, as [`api::drift_latest`] gives it.
#[derive(Deserialize)]
struct Run {
    ran_at: String,
    as_of: String,
    plan: String,
    findings: usize,
    #[serde(default)]
    coverage: Vec<SystemCoverage>,
    systems: Vec<SystemPlan>,
    actions: Vec<Action>,
}

/// One point of coverage over time.
#[derive(Deserialize)]
struct Point {
    as_of: String,
    ran_at: String,
    coverage: Vec<SystemCoverage>,
}

fn by_kind(run: &Run) -> Markup {
    let mut counts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for a in &run.actions {
        *counts
            .entry(a.system.as_str())
            .or_default()
            .entry(kind(a))
            .or_default() += 1;
    }
    let mut head = vec!["system"];
    head.extend(KINDS);
    head.extend(["unmanaged entries", "orphan accounts", "total"]);
    table(
        "Findings by kind and system",
        &head,
        html! {
            @for s in run.systems.iter().filter(|s| s.provisioned) {
                @let c = counts.get(s.system.as_str()).cloned().unwrap_or_default();
                tr {
                    th scope="row" { (s.system) }
                    @for k in KINDS { td class="n" { (c.get(k).copied().unwrap_or(0)) } }
                    td class="n" { (s.unmanaged_count) }
                    td class="n" { (s.orphans.len()) }
                    td class="n" { (c.values().sum::<usize>() + s.unmanaged_count) }
                }
            }
        },
    )
}

fn coverage_now(c: &[SystemCoverage]) -> Markup {
    table(
        "Coverage now",
        &[
            "system",
            "entries held",
            "covered",
            "coverage",
            "missing",
            "excess",
            "level mismatch",
            "unmanaged",
        ],
        html! {
            @for s in c {
                tr {
                    th scope="row" { (s.system) }
                    td class="n" { (s.entries) } td class="n" { (s.covered) }
                    td class="n" { strong { (format!("{:.1}%", s.percent)) } }
                    td class="n" { (s.missing) } td class="n" { (s.excess) } td class="n" { (s.level_mismatch) } td class="n" { (s.unmanaged) }
                }
            }
        },
    )
}

/// Coverage over the drift runs as an SVG line chart, one line per system.
fn chart(points: &[Point]) -> Markup {
    let (w, h, left, top) = (590.0, 200.0, 44.0, 12.0);
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            left + w / 2.0
        } else {
            left + i as f64 * w / (n - 1) as f64
        }
    };
    let y = |p: f64| top + (100.0 - p.clamp(0.0, 100.0)) / 100.0 * h;
    let mut lines: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        for c in &p.coverage {
            lines
                .entry(c.system.as_str())
                .or_default()
                .push((i, c.percent));
        }
    }
    let f = |v: f64| format!("{v:.1}");
    html! {
        figure class="chart" {
            svg viewBox="0 0 650 250" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg" {
                title id="chart-title" { "Coverage over time" }
                desc id="chart-desc" { "Coverage of each system at each of the last " (n) " drift runs, in percent; the table below has the same numbers." }
                @for g in [0.0, 25.0, 50.0, 75.0, 100.0] {
                    line class="grid" x1=(f(left)) x2=(f(left + w)) y1=(f(y(g))) y2=(f(y(g))) {}
                    text class="axis" x=(f(left - 6.0)) y=(f(y(g) + 4.0)) text-anchor="end" { (g) "%" }
                }
                @if let (Some(first), Some(last)) = (points.first(), points.last()) {
                    text class="axis" x=(f(left)) y="240" text-anchor="start" { (first.as_of) }
                    @if n > 1 { text class="axis" x=(f(left + w)) y="240" text-anchor="end" { (last.as_of) } }
                }
                @for (i, (system, pts)) in lines.iter().enumerate() {
                    g class=(format!("series s{}", i % 6)) {
                        @if pts.len() > 1 {
                            polyline fill="none" points=(pts.iter().map(|(j, p)| format!("{},{}", f(x(*j)), f(y(*p)))).collect::<Vec<_>>().join(" ")) {}
                        }
                        @for (j, p) in pts {
                            circle cx=(f(x(*j))) cy=(f(y(*p))) r="3.5" { title { (system) ", " (points[*j].as_of) ": " (f(*p)) "%" } }
                        }
                    }
                }
            }
            figcaption {
                "Coverage over the last " (n) " drift run(s). "
                @for (i, system) in lines.keys().enumerate() {
                    span class=(format!("key s{}", i % 6)) { (system) } " "
                }
            }
        }
    }
}

fn history_table(points: &[Point]) -> Markup {
    html! {
        details {
            summary { "The chart's numbers" }
            (table("Coverage per drift run", &["run", "as of", "system", "entries", "covered", "coverage"], html! {
                @for p in points.iter().rev() {
                    @for c in &p.coverage {
                        tr {
                            td { (time(&p.ran_at)) } td { (p.as_of) } td { (c.system) }
                            td class="n" { (c.entries) } td class="n" { (c.covered) } td class="n" { (format!("{:.1}%", c.percent)) }
                        }
                    }
                }
            }))
        }
    }
}

fn seen(list: &Json) -> String {
    list.as_array()
        .map(|v| {
            v.iter()
                .map(|s| {
                    let l = text(&s["level"]);
                    let lv = if l.is_empty() {
                        String::new()
                    } else {
                        format!(" ({l})")
                    };
                    format!("{} {}{lv}", text(&s["user_id"]), text(&s["grant"]))
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

fn last_pulls(p: &serde_json::Map<String, Json>) -> Markup {
    table(
        "Out-of-band changes the last pull found",
        &[
            "system",
            "pull",
            "at",
            "entries",
            "appeared",
            "disappeared",
            "note",
        ],
        html! {
            @for (system, v) in p {
                tr {
                    th scope="row" { (system) }
                    td class="n" { (text(&v["pull"])) }
                    td { (time(&text(&v["at"]))) }
                    td class="n" { (text(&v["entries"])) }
                    td { strong { (text(&v["appeared_count"])) } @if v["appeared_count"] != 0 { ": " (seen(&v["appeared"])) } }
                    td { strong { (text(&v["disappeared_count"])) } @if v["disappeared_count"] != 0 { ": " (seen(&v["disappeared"])) } }
                    td { (text(&v["suspect"])) }
                }
            }
        },
    )
}

fn findings(run: &Run) -> Markup {
    html! {
        (table(&format!("Findings ({} of {})", run.actions.len().min(FINDINGS), run.actions.len()), &["kind", "system", "person", "entitlement", "why"], html! {
            @for a in run.actions.iter().take(FINDINGS) {
                tr {
                    td { (kind(a)) }
                    td { (a.system) }
                    td { a href=(format!("/people/{}", encode(&a.user_id))) { (a.user_id) } }
                    td { code { (a.grant.as_deref().unwrap_or("(account)")) } @if let Some(l) = &a.level { " (" (l) ")" } }
                    td { (derivation(a)) }
                }
            }
        }))
    }
}

/// `GET /drift`.
pub async fn drift_page(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
) -> PageResult<Markup> {
    let flash = st.sessions.take_flash(&me);
    let (run, points, pulls) = on_worker(&st, |w| {
        let run = match api::drift_latest(w) {
            Ok(v) => Some(v),
            Err(e) if e.status == StatusCode::NOT_FOUND => None,
            Err(e) => return Err(e),
        };
        let points = w.p.state.meta(DRIFT_HISTORY)?;
        let pulls = w.p.state.meta(LAST_PULL)?;
        Ok((run, points, pulls))
    })
    .await?;
    let run: Option<Run> = run.and_then(|v| serde_json::from_value(v).ok());
    let points: Vec<Point> = points
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let pulls: serde_json::Map<String, Json> = pulls
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let body = html! {
        @if may_operate(&me) {
            form class="inline" method="post" action="/drift/run" {
                (csrf(&me))
                button type="submit" { "Run drift now" }
                " " span class="muted" { "(pulls every system, then plans everything at today's date; nothing is applied)" }
            }
        }
        @match &run {
            None => p class="muted" { "No drift run yet: the schedule runs it (" code { "[schedule] drift" } "), or an operator runs it from here." },
            Some(r) => {
                p {
                    "Last run " (time(&r.ran_at)) ", as of " (r.as_of) ": " strong { (r.findings) " finding(s)" }
                    " (plan " a href=(format!("/plans/{}", encode(&r.plan))) { (r.plan) } ")."
                }
                (by_kind(r))
                h2 { "Coverage" }
                p class="muted" { "Of the entries each system holds, those the policies expect at that level (not to be revoked, not at another level, not unmanaged)." }
                (coverage_now(&r.coverage))
            }
        }
        @if !points.is_empty() {
            (chart(&points))
            (history_table(&points))
        }
        @if let Some(r) = &run { h2 { "Findings" } (findings(r)) }
        h2 { "Out of band" }
        @if pulls.is_empty() { p class="muted" { "No pull yet." } } @else { (last_pulls(&pulls)) }
    };
    Ok(page("Drift", Some(&me), Nav::Drift, flash.as_ref(), body))
}

/// `POST /drift/run` (operator).
pub async fn run(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Form(f): Form<CsrfForm>,
) -> PageResult<Response> {
    check_csrf(&me, f.csrf.as_deref())?;
    check_role(&me, Access::Operate, "run drift")?;
    let name = me.caller.name.clone();
    let out = on_worker(&st, move |w| Ok(w.drift_run(&name)?)).await?;
    st.sessions.set_flash(
        &me,
        true,
        format!("Drift ran: {} finding(s).", out["findings"]),
    );
    Ok(Redirect::to("/drift").into_response())
}
