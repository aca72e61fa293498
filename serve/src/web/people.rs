//! People (`/people`, `/people/{id}`): search by id or name; a person's attributes,
//! policies, grants and why (the `explain` chain with the attribute values that matched),
//! holds with their day, exceptions with their expiry, what each system holds, and their
//! history (events, directory records, plans and what was applied).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::Extension;
use maud::{html, Markup};
use polc_provision::directory;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::layout::{badge, holds, page, table, text, time, Nav};
use super::session::Signed;
use super::{encode, on_worker, PageResult, WebState};
use crate::api::{self, state_err, ApiResult, Why};
use crate::worker::{today, Worker};

/// People listed at most by a search.
const FOUND: usize = 500;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A record's display name: `display_name`, `name`, or first and last name.
fn name_of(a: &BTreeMap<String, String>) -> String {
    if let Some(n) = a.get("display_name").or_else(|| a.get("name")) {
        return n.clone();
    }
    [a.get("first_name"), a.get("last_name")]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /people?q=`: the directory today, found by id, name or email.
pub async fn search(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Query(q): Query<SearchQuery>,
) -> PageResult<Markup> {
    let needle = q.q.trim().to_lowercase();
    let n = needle.clone();
    let (found, total) = on_worker(&st, move |w| -> ApiResult<_> {
        let all = directory::load_at(&w.p.state.conn, &w.p.state.path, today())?;
        let total = all.len();
        let found: Vec<(String, BTreeMap<String, String>)> = all
            .into_iter()
            .map(|s| (s.user_id, directory::attributes(&s.record)))
            .filter(|(id, a)| {
                n.is_empty()
                    || id.to_lowercase().contains(&n)
                    || name_of(a).to_lowercase().contains(&n)
                    || a.get("email")
                        .is_some_and(|e| e.to_lowercase().contains(&n))
            })
            .collect();
        Ok((found, total))
    })
    .await?;
    let attr = |a: &BTreeMap<String, String>, k: &str| a.get(k).cloned().unwrap_or_default();
    let body = html! {
        form class="filters" method="get" action="/people" role="search" {
            div {
                label for="q" { "Id, name or email" }
                input id="q" name="q" type="search" value=(q.q);
            }
            div class="buttons" { button type="submit" { "Search" } }
        }
        p {
            @if needle.is_empty() { (total) " people in the directory today." }
            @else { (found.len()) " of " (total) " people match " q { (q.q.trim()) } "." }
        }
        @if !found.is_empty() {
            (table("People", &["id", "name", "job title", "department", "status"], html! {
                @for (id, a) in found.iter().take(FOUND) {
                    tr {
                        td { a href=(format!("/people/{}", encode(id))) { (id) } }
                        td { (name_of(a)) }
                        td { (attr(a, "job_title")) }
                        td { (attr(a, "department")) }
                        td { (attr(a, "employment_status")) }
                    }
                }
            }))
            @if found.len() > FOUND { p class="muted" { (found.len() - FOUND) " more: narrow the search." } }
        }
    };
    Ok(page("People", Some(&me), Nav::People, None, body))
}

/// A person's history: HRIS events, directory records, and each planned action with its
/// plan and outcome, newest first.
fn history(w: &Worker, id: &str) -> ApiResult<Json> {
    let conn = &w.p.state.conn;
    let events: Vec<Json> = conn
        .prepare("SELECT seq, event, effective, status, reason, received_at, received_by FROM serve_events WHERE user_id = ?1 ORDER BY seq DESC LIMIT 200")
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(json!({"seq": r.get::<_, i64>(0)?, "event": r.get::<_, String>(1)?, "effective": r.get::<_, String>(2)?,
                    "status": r.get::<_, String>(3)?, "reason": r.get::<_, Option<String>>(4)?,
                    "received_at": r.get::<_, String>(5)?, "received_by": r.get::<_, String>(6)?}))
            })?
            .collect()
        })
        .map_err(state_err)?;
    let records: Vec<Json> = conn
        .prepare("SELECT effective, cause, recorded_at FROM directory WHERE user_id = ?1 ORDER BY seq DESC LIMIT 200")
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(json!({"effective": r.get::<_, String>(0)?, "cause": r.get::<_, String>(1)?, "recorded_at": r.get::<_, String>(2)?}))
            })?
            .collect()
        })
        .map_err(state_err)?;
    let actions: Vec<Json> = conn
        .prepare(
            "SELECT a.plan_id, p.created_at, coalesce(sp.status, 'unmanaged'), a.id, a.system, a.action,
                    json_extract(a.change, '$.grant'), a.status, a.updated_at, a.last_error
             FROM actions a JOIN plans p ON p.id = a.plan_id LEFT JOIN serve_plans sp ON sp.plan_id = a.plan_id
             WHERE a.user_id = ?1 ORDER BY p.created_at DESC, a.plan_id, a.idx LIMIT 500",
        )
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(json!({"plan": r.get::<_, String>(0)?, "planned_at": r.get::<_, String>(1)?, "plan_status": r.get::<_, String>(2)?,
                    "id": r.get::<_, String>(3)?, "system": r.get::<_, String>(4)?, "action": r.get::<_, String>(5)?,
                    "grant": r.get::<_, Option<String>>(6)?, "status": r.get::<_, String>(7)?,
                    "updated_at": r.get::<_, String>(8)?, "error": r.get::<_, Option<String>>(9)?}))
            })?
            .collect()
        })
        .map_err(state_err)?;
    Ok(json!({"events": events, "records": records, "actions": actions}))
}

fn arr(v: &Json) -> &[Json] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A condition with the values it read: `job_title == "Sales Engineer" ✓ (job_title =
/// "Sales Engineer")`.
fn condition(c: &Json) -> Markup {
    let values: Vec<String> = c["values"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k} = {v}")).collect())
        .unwrap_or_default();
    html! {
        code { (text(&c["expr"])) } " " (holds(c["holds"] == true))
        @if !values.is_empty() { " " span class="values" { "(" (values.join(", ")) ")" } }
    }
}

fn grant_why(g: &Json) -> Markup {
    html! {
        li class="grant" {
            code class="ent" { (text(&g["grant"])) }
            @if !g["level"].is_null() { " (" (text(&g["level"])) ")" }
            ul {
                @for s in arr(&g["sources"]) {
                    li {
                        "from " strong { (text(&s["source"])) }
                        @if !s["level"].is_null() { " (" (text(&s["level"])) ")" }
                        @if let Some(p) = s["applies"].as_object() {
                            ul {
                                @for t in arr(&p["triggers"]) {
                                    li { code { (p["policy"].as_str().unwrap_or_default()) } " applies: when " (condition(t)) }
                                }
                                @if p["in_force"] == false { li class="bad" { "not in force today" } }
                            }
                        }
                        @if let Some(x) = s["exception"].as_object() {
                            ul {
                                li { "justification: " (text(&x["justification"])) }
                                li { "approved by " (text(&x["approved_by"])) "; expires " (text(&x["expires"])) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /people/{id}`: a person today, why they have what they have, and their history.
pub async fn person(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    let (v, h) = on_worker(&st, move |w| {
        let b = w.p.bundle()?;
        let v = api::user_view(&w.p.state, &b, &id, Why::Everything)?;
        let h = history(w, &id)?;
        Ok((v, h))
    })
    .await?;
    let id = text(&v["user_id"]);
    let record = v["record"].as_object().cloned().unwrap_or_default();
    let attrs: BTreeMap<String, String> =
        record.iter().map(|(k, v)| (k.clone(), text(v))).collect();
    let name = name_of(&attrs);
    let ev = &v["evaluation"];
    let x = &v["explanation"];
    let title = if name.is_empty() {
        id.clone()
    } else {
        format!("{name} ({id})")
    };
    let body = html! {
        p { a href="/people" { "← People" } }
        section aria-labelledby="h-attributes" {
            h2 id="h-attributes" { "Attributes" }
            p class="muted" { "The directory's record as of " (text(&v["as_of"])) " (" (text(&v["cause"])) ")." }
            dl class="facts" {
                @for (k, val) in &attrs { dt { (k) } dd { (val) } }
            }
        }
        section aria-labelledby="h-policies" {
            h2 id="h-policies" { "Policies" }
            @for r in arr(&x["requires"]) { p { "require " (condition(r)) } }
            @if arr(&ev["policies"]).is_empty() { p class="muted" { "No policy applies." } }
            @else { ul { @for p in arr(&ev["policies"]) { li { (text(p)) } } } }
        }
        section aria-labelledby="h-grants" {
            h2 id="h-grants" { "Grants and why" }
            @if arr(&x["grants"]).is_empty() { p class="muted" { "No grant." } }
            @else { ul class="why" { @for g in arr(&x["grants"]) { (grant_why(g)) } } }
            @if !arr(&ev["denied"]).is_empty() {
                h3 { "Denied" }
                ul { @for d in arr(&ev["denied"]) { li { code { (text(&d["grant"])) } " denied by " (text(&d["by"])) } } }
            }
            @if !arr(&ev["violations"]).is_empty() {
                h3 { "Separation-of-duties violations" }
                ul { @for d in arr(&ev["violations"]) { li { (text(&d["conflict"])) ": " (arr(&d["grants"]).iter().map(text).collect::<Vec<_>>().join(", ")) } } }
            }
        }
        section aria-labelledby="h-holds" {
            h2 id="h-holds" { "Holds" }
            @if arr(&v["holds"]).is_empty() { p class="muted" { "No grace hold." } }
            @else {
                (table("Holds", &["grant", "level", "held until (not on)", "policy", "since"], html! {
                    @for hd in arr(&v["holds"]) {
                        tr { td { code { (text(&hd["grant"])) } } td { (text(&hd["level"])) } td { (text(&hd["until"])) } td { (text(&hd["policy"])) } td { (time(&text(&hd["created_at"]))) } }
                    }
                }))
            }
        }
        section aria-labelledby="h-exceptions" {
            h2 id="h-exceptions" { "Exceptions" }
            @if arr(&v["exceptions"]).is_empty() { p class="muted" { "No exception names this person." } }
            @else {
                (table("Exceptions naming this person", &["exception", "grants", "justification", "approved by", "from", "expires (not on)", "now"], html! {
                    @for e in arr(&v["exceptions"]) {
                        tr {
                            td { (text(&e["name"])) }
                            td { (arr(&e["grants"]).iter().map(text).collect::<Vec<_>>().join(", ")) }
                            td { (text(&e["justification"])) }
                            td { (text(&e["approved_by"])) }
                            td { (text(&e["effective"])) }
                            td { (text(&e["expires"])) }
                            td {
                                @if e["in_force"] == true { (badge("in force")) }
                                @else if text(&e["expires"]) <= text(&v["as_of"]) { (badge("expired")) }
                                @else { (badge("not yet")) }
                            }
                        }
                    }
                }))
            }
        }
        section aria-labelledby="h-observed" {
            h2 id="h-observed" { "Held in the systems" }
            @if arr(&v["observed"]).is_empty() { p class="muted" { "No system holds anything for this person (as of the last pull or apply)." } }
            @else {
                (table("What each system holds", &["system", "account", "holdings"], html! {
                    @for o in arr(&v["observed"]) {
                        tr {
                            td { (text(&o["system"])) }
                            td { @match o["active"].as_bool() { Some(true) => "active", Some(false) => "inactive", None => "" } }
                            td { (arr(&o["holdings"]).iter().map(|h| {
                                let l = text(&h[1]);
                                if l.is_empty() { text(&h[0]) } else { format!("{} ({l})", text(&h[0])) }
                            }).collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }))
            }
        }
        section aria-labelledby="h-history" {
            h2 id="h-history" { "History" }
            h3 { "HRIS events" }
            @if arr(&h["events"]).is_empty() { p class="muted" { "No event received by the service." } }
            @else {
                (table("HRIS events", &["event", "effective", "status", "received", "by"], html! {
                    @for e in arr(&h["events"]) {
                        tr {
                            td { (text(&e["event"])) }
                            td { (text(&e["effective"])) }
                            td { (badge(&text(&e["status"]))) @if !e["reason"].is_null() { " " (text(&e["reason"])) } }
                            td { (time(&text(&e["received_at"]))) }
                            td { (text(&e["received_by"])) }
                        }
                    }
                }))
            }
            h3 { "Directory records" }
            (table("Directory records", &["effective", "cause", "recorded"], html! {
                @for r in arr(&h["records"]) {
                    tr { td { (text(&r["effective"])) } td { (text(&r["cause"])) } td { (time(&text(&r["recorded_at"]))) } }
                }
            }))
            h3 { "Plans and applies" }
            @if arr(&h["actions"]).is_empty() { p class="muted" { "No action was planned for this person." } }
            @else {
                (table("Planned actions", &["plan", "plan status", "action", "system", "grant", "result", "updated"], html! {
                    @for a in arr(&h["actions"]) {
                        tr {
                            td { a href=(format!("/plans/{}", encode(&text(&a["plan"])))) { (text(&a["plan"])) } }
                            td { (badge(&text(&a["plan_status"]))) }
                            td { (text(&a["action"])) }
                            td { (text(&a["system"])) }
                            td { code { (text(&a["grant"])) } }
                            td { (badge(&text(&a["status"]))) @if !a["error"].is_null() { " " span class="error" { (text(&a["error"])) } } }
                            td { (time(&text(&a["updated_at"]))) }
                        }
                    }
                }))
            }
        }
    };
    Ok(page(&title, Some(&me), Nav::People, None, body))
}
