//! Audit (`/audit`): the log, newest first, a page at a time, filtered by kind, actor and a
//! text in the details; whether the hash chain verifies; and the evidence pack of a chosen
//! period to download (`/audit/evidence`), the API's own pack.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value as Json;

use super::layout::{badge, page, table, text, time, Nav};
use super::session::Signed;
use super::{encode, on_worker, PageError, PageResult, WebState};
use crate::api::{self, state_err, AuditFilter};
use crate::worker::today;

/// Entries per page.
const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    before: Option<i64>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    contains: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The details of an entry in one line, cut at `max` characters.
fn short(d: &Json, max: usize) -> String {
    let t = match d {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => text(other),
    };
    if t.chars().count() > max {
        format!("{}…", t.chars().take(max).collect::<String>())
    } else {
        t
    }
}

/// `GET /audit`.
pub async fn audit_page(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Query(q): Query<AuditQuery>,
) -> PageResult<Markup> {
    let f = AuditFilter {
        before: q.before,
        kind: some(&q.kind),
        actor: some(&q.actor),
        contains: some(&q.contains),
        limit: PAGE as i64 + 1,
        ..AuditFilter::default()
    };
    let (mut rows, verify, kinds) = on_worker(&st, move |w| {
        let rows = api::audit_rows(w, &f).map_err(state_err)?;
        let verify = w.p.audit_verify(None)?;
        let kinds: Vec<String> =
            w.p.state
                .conn
                .prepare("SELECT DISTINCT kind FROM audit ORDER BY kind")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(state_err)?;
        Ok((rows, verify, kinds))
    })
    .await?;
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    let filters = format!(
        "kind={}&actor={}&contains={}",
        encode(q.kind.trim()),
        encode(q.actor.trim()),
        encode(q.contains.trim())
    );
    let from = today() - chrono::Days::new(30);
    let body = html! {
        section aria-labelledby="h-chain" {
            h2 id="h-chain" { "The chain" }
            @if verify.intact {
                p class="flash ok" { (badge("intact")) " All " (verify.entries) " entries verify: each one's hash covers it and the one before, from the first. Head " code class="digest" { (verify.head) } "." }
            } @else {
                p class="flash bad" role="alert" {
                    (badge("broken")) " The chain is broken at entry " (verify.first_bad.map(|s| s.to_string()).unwrap_or_default()) ": " (verify.problem.as_deref().unwrap_or("")) ". Entries from there on cannot be trusted."
                }
            }
        }
        section aria-labelledby="h-log" {
            h2 id="h-log" { "The log" }
            form class="filters" method="get" action="/audit" role="search" aria-label="Filter the log" {
                div {
                    label for="a-kind" { "Kind" }
                    select id="a-kind" name="kind" {
                        option value="" { "any" }
                        @for k in &kinds { option value=(k) selected[q.kind == *k] { (k) } }
                    }
                }
                div { label for="a-actor" { "Actor" } input id="a-actor" name="actor" type="search" value=(q.actor); }
                div { label for="a-contains" { "Details contain" } input id="a-contains" name="contains" type="search" value=(q.contains); }
                div class="buttons" {
                    button type="submit" { "Filter" }
                    @if some(&q.kind).is_some() || some(&q.actor).is_some() || some(&q.contains).is_some() { " " a href="/audit" { "Clear the filters" } }
                }
            }
            @if rows.is_empty() {
                p class="muted" { "No entry matches." }
            } @else {
                (table("Audit entries, newest first", &["#", "time", "as of", "actor", "kind", "details"], html! {
                    @for r in &rows {
                        tr {
                            td class="n" { (text(&r["seq"])) }
                            td { (time(&text(&r["time"]))) }
                            td { (text(&r["as_of"])) }
                            td { (text(&r["actor"])) }
                            td { (text(&r["kind"])) }
                            td {
                                details {
                                    summary { (short(&r["details"], 140)) }
                                    pre { (serde_json::to_string_pretty(&r["details"]).unwrap_or_default()) }
                                    p class="muted" { "hash " code { (text(&r["hash"])) } }
                                }
                            }
                        }
                    }
                }))
            }
            nav class="pager" aria-label="Pages of the log" {
                @if q.before.is_some() { a href=(format!("/audit?{filters}")) { "Newest entries" } " " }
                @if more {
                    @if let Some(last) = rows.last().and_then(|r| r["seq"].as_i64()) {
                        a href=(format!("/audit?before={last}&{filters}")) { "Older entries" }
                    }
                }
            }
        }
        section aria-labelledby="h-evidence" {
            h2 id="h-evidence" { "Evidence pack" }
            p { "The pack of a period (policies, joiners, movers, leavers, exceptions, separation of duties, drift, reviews, open items, integrity), as " code { "polc audit export" } " makes it." }
            form class="filters" method="get" action="/audit/evidence" {
                div { label for="e-from" { "From (included)" } input id="e-from" name="from" type="date" value=(from) required; }
                div { label for="e-to" { "To (included)" } input id="e-to" name="to" type="date" value=(today()) required; }
                div {
                    label for="e-format" { "Format" }
                    select id="e-format" name="format" {
                        option value="html" { "HTML" }
                        option value="markdown" { "Markdown" }
                        option value="csv" { "CSV" }
                        option value="json" { "JSON" }
                    }
                }
                div class="buttons" { button type="submit" { "Download" } }
            }
        }
    };
    Ok(page("Audit", Some(&me), Nav::Audit, None, body))
}

#[derive(Deserialize)]
pub struct EvidenceQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// `GET /audit/evidence?from&to&format`: the pack, as a download.
pub async fn evidence(
    State(st): State<WebState>,
    Query(q): Query<EvidenceQuery>,
) -> PageResult<Response> {
    let date = |s: &Option<String>, what: &str| -> PageResult<Option<chrono::NaiveDate>> {
        match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    PageError::new(
                        StatusCode::BAD_REQUEST,
                        "Not accepted",
                        format!("{what} `{d}` is not a date (YYYY-MM-DD)"),
                    )
                    .back("/audit")
                }),
        }
    };
    let (from, to) = (date(&q.from, "from")?, date(&q.to, "to")?);
    api::evidence_file(&st.app, from, to, q.format.as_deref(), "attachment")
        .await
        .map_err(|e| PageError::from(e).back("/audit"))
}
