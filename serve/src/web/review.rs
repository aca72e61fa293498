//! The review queue (`/`) and a plan's page (`/plans/{id}`): each pending plan with its
//! per-system counts, the guards' verdict and every action with its reason and derivation,
//! filters by system, person and action; approve (the digest shown is the digest sent) or
//! reject with a reason; once applied, the result of each action. The handlers; a plan's
//! section is [`super::plan`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{badge, page, table, time, Nav};
use super::plan::{bug, filters_form, load_plan, section, systems_of, Filters, PlanRow};
use super::session::Signed;
use super::{check_csrf, check_role, encode, on_worker, PageError, PageResult, WebState};
use crate::api;
use crate::auth::Access;

/// Actions shown per plan on the queue (the plan's own page shows up to [`PLAN_ROWS`]).
const QUEUE_ROWS: usize = 200;
const PLAN_ROWS: usize = 5000;
/// Decided plans listed under the queue.
const RECENT: usize = 20;

/// `GET /`: the review queue.
pub async fn queue(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Query(f): Query<Filters>,
) -> PageResult<Markup> {
    let flash = st.sessions.take_flash(&me);
    let (pending, recent) = on_worker(&st, |w| {
        let rows = api::plan_rows(w, None).map_err(api::state_err)?;
        let mut pending = Vec::new();
        let mut recent = Vec::new();
        for r in rows {
            let row: PlanRow = serde_json::from_value(r).map_err(bug)?;
            if row.status == "pending" {
                pending.push(load_plan(w, &row.id)?);
            } else if recent.len() < RECENT && row.actions > 0 {
                // (plans without an action decide nothing: left out)
                recent.push(row);
            }
        }
        Ok((pending, recent))
    })
    .await?;
    let systems = systems_of(pending.iter());
    let body = html! {
        @if pending.is_empty() {
            p class="flash ok" { "Nothing waits for review." }
        } @else {
            p { (pending.len()) " plan(s) wait for review. Each lists what it would change, why, and what the guards say; approving applies it at once." }
            (filters_form("/", &f, &systems))
            @for v in &pending { (section(&me, v, &f, QUEUE_ROWS, false)) }
        }
        h2 { "Recently decided" }
        @if recent.is_empty() {
            p class="muted" { "No plan yet." }
        } @else {
            (table("Recent plans", &["plan", "kind", "status", "as of", "made", "decided by", "actions"], html! {
                @for r in &recent {
                    tr {
                        td { a href=(format!("/plans/{}", encode(&r.id))) { (r.id) } }
                        td { (r.kind) }
                        td { (badge(&r.status)) }
                        td { (r.as_of) }
                        td { (time(&r.created_at)) " by " (r.created_by) }
                        td { (r.decided_by.as_deref().unwrap_or("")) }
                        td class="n" { (r.done) " / " (r.actions) " done" }
                    }
                }
            }))
        }
    };
    Ok(page(
        "Review queue",
        Some(&me),
        Nav::Review,
        flash.as_ref(),
        body,
    ))
}

/// `GET /plans/{id}`: one plan, whatever its status, with each action's result once applied.
pub async fn plan(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> PageResult<Markup> {
    let flash = st.sessions.take_flash(&me);
    let v = on_worker(&st, move |w| load_plan(w, &id)).await?;
    let systems = systems_of(std::iter::once(&v));
    let action = format!("/plans/{}", encode(&v.row.id));
    let body = html! {
        p { a href="/" { "← The review queue" } }
        (filters_form(&action, &f, &systems))
        (section(&me, &v, &f, PLAN_ROWS, true))
    };
    Ok(page(
        &format!("Plan {}", v.row.id),
        Some(&me),
        Nav::Review,
        flash.as_ref(),
        body,
    ))
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    digest: String,
}

/// `POST /plans/{id}/approve`: the API's approval of the digest the page showed.
pub async fn approve(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Path(id): Path<String>,
    Form(f): Form<ApproveForm>,
) -> PageResult<Response> {
    let back = format!("/plans/{}", encode(&id));
    check_csrf(&me, f.csrf.as_deref()).map_err(|e| e.back(&back))?;
    check_role(&me, Access::Review, "approve plans").map_err(|e| e.back(&back))?;
    if f.digest.trim().is_empty() {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Not accepted",
            "The approval names no digest: approve from the plan's page.",
        )
        .back(&back));
    }
    let caller = me.caller.clone();
    let digest = f.digest.clone();
    let rep = on_worker(&st, move |w| api::approve(w, &id, &digest, &caller))
        .await
        .map_err(|e| e.back(&back))?;
    let s = &rep.summary;
    st.sessions.set_flash(
        &me,
        rep.all_done(),
        format!(
            "Approved {} as {}: {} done, {} failed, {} stale, {} skipped, {} pending.",
            rep.digest, me.caller.name, s.done, s.failed, s.stale, s.skipped, s.pending
        ),
    );
    Ok(Redirect::to(&back).into_response())
}

#[derive(Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
}

/// `POST /plans/{id}/reject`: the API's rejection, with its required reason.
pub async fn reject(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Path(id): Path<String>,
    Form(f): Form<RejectForm>,
) -> PageResult<Response> {
    let back = format!("/plans/{}", encode(&id));
    check_csrf(&me, f.csrf.as_deref()).map_err(|e| e.back(&back))?;
    check_role(&me, Access::Review, "reject plans").map_err(|e| e.back(&back))?;
    let caller = me.caller.clone();
    let reason = f.reason.clone();
    on_worker(&st, move |w| api::reject(w, &id, &reason, &caller))
        .await
        .map_err(|e| e.back(&back))?;
    st.sessions.set_flash(
        &me,
        true,
        format!("Rejected by {}: {}", me.caller.name, f.reason.trim()),
    );
    Ok(Redirect::to(&back).into_response())
}
