//! A plan's section, shared by the review queue and a plan's own page: what the plan is,
//! its actions per system, the guards' verdict, every action with its reason and derivation
//! (and its result once applied), and the approve and reject forms; the filters; and the
//! plan's data, loaded through the API's [`api::plan_detail`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::StatusCode;
use maud::{html, Markup};
use polc_provision::plan::{Action, ActionKind};
use polc_provision::{GuardVerdict, Plan};
use serde::Deserialize;

use super::encode;
use super::layout::{badge, csrf, table, time};
use super::may_review;
use super::session::Signed;
use crate::api::{self, ApiResult};
use crate::worker::Worker;

/// A plan's row as [`api::plan_rows`] gives it.
#[derive(Clone, Debug, Deserialize)]
pub struct PlanRow {
    pub id: String,
    pub as_of: String,
    pub created_at: String,
    pub created_by: String,
    pub kind: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub actions: i64,
    pub done: i64,
}

/// An action's journal entry.
#[derive(Clone, Debug, Deserialize)]
pub struct Journal {
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
}

/// Everything a plan's section shows.
pub struct PlanView {
    pub row: PlanRow,
    pub plan: Plan,
    pub journal: HashMap<String, Journal>,
    pub verdict: Option<GuardVerdict>,
}

pub(super) fn bug(e: serde_json::Error) -> api::ApiError {
    api::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bug", e.to_string())
}

/// A plan through [`api::plan_detail`], with the guards' verdict while it is pending.
pub(super) fn load_plan(w: &mut Worker, id: &str) -> ApiResult<PlanView> {
    let v = api::plan_detail(w, id)?;
    let row: PlanRow = serde_json::from_value(v["review"].clone()).map_err(bug)?;
    let plan: Plan = serde_json::from_value(v["plan"].clone()).map_err(bug)?;
    #[derive(Deserialize)]
    struct J {
        id: String,
        #[serde(flatten)]
        j: Journal,
    }
    let journal: Vec<J> = serde_json::from_value(v["journal"].clone()).map_err(bug)?;
    let verdict = if open(&row) {
        w.p.guard_verdict(id)?
    } else {
        None
    };
    Ok(PlanView {
        row,
        plan,
        journal: journal.into_iter().map(|j| (j.id, j.j)).collect(),
        verdict,
    })
}

/// The filters of the queue and of a plan's page (empty: any).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    system: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
}

impl Filters {
    fn keeps(&self, a: &Action) -> bool {
        (self.system.is_empty() || a.system == self.system)
            && (self.user.is_empty() || a.user_id.contains(self.user.trim()))
            && (self.action.is_empty() || a.action.name() == self.action)
    }

    fn any(&self) -> bool {
        !(self.system.is_empty() && self.user.is_empty() && self.action.is_empty())
    }
}

const KINDS: [ActionKind; 5] = [
    ActionKind::Grant,
    ActionKind::SetLevel,
    ActionKind::Revoke,
    ActionKind::Deprovision,
    ActionKind::Reactivate,
];

fn kind_label(k: ActionKind) -> &'static str {
    match k {
        ActionKind::Grant => "grant",
        ActionKind::SetLevel => "change level",
        ActionKind::Revoke => "revoke",
        ActionKind::Deprovision => "deprovision",
        ActionKind::Reactivate => "reactivate",
    }
}

/// Why an action: its reason, with the policy paths that expect it ("expected by Sales
/// Engineer Access > Sales Team Access"), or the holds and leavers' reasons as they are.
pub fn derivation(a: &Action) -> String {
    match a.reason.strip_prefix("expected by policy") {
        Some(rest) if !a.sources.is_empty() => {
            format!("expected by {}{rest}", a.sources.join(", "))
        }
        _ => a.reason.clone(),
    }
}

pub(super) fn filters_form(action: &str, f: &Filters, systems: &BTreeSet<String>) -> Markup {
    html! {
        form class="filters" method="get" action=(action) role="search" aria-label="Filter the actions" {
            div {
                label for="f-system" { "System" }
                select id="f-system" name="system" {
                    option value="" { "any" }
                    @for s in systems {
                        option value=(s) selected[f.system == *s] { (s) }
                    }
                }
            }
            div {
                label for="f-user" { "Person (id contains)" }
                input id="f-user" name="user" type="search" value=(f.user);
            }
            div {
                label for="f-action" { "Action" }
                select id="f-action" name="action" {
                    option value="" { "any" }
                    @for k in KINDS {
                        option value=(k.name()) selected[f.action == k.name()] { (kind_label(k)) }
                    }
                }
            }
            div class="buttons" {
                button type="submit" { "Filter" }
                @if f.any() { " " a href=(action) { "Clear the filters" } }
            }
        }
    }
}

fn counts(v: &PlanView) -> Markup {
    let mut by: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for a in &v.plan.actions {
        let i = KINDS.iter().position(|k| *k == a.action).unwrap_or(0);
        by.entry(a.system.as_str()).or_default()[i] += 1;
    }
    let rows = html! {
        @for sp in v.plan.systems.iter().filter(|s| s.provisioned) {
            @let c = by.get(sp.system.as_str()).copied().unwrap_or_default();
            tr {
                th scope="row" { (sp.system) }
                td { (sp.mode.map(|m| format!("{m:?}").to_lowercase()).unwrap_or_default()) }
                td class="n" { (c[0]) } td class="n" { (c[1]) } td class="n" { (c[2]) } td class="n" { (c[3]) } td class="n" { (c[4]) }
                td class="n" { (sp.review) }
                td class="n" { (sp.managed_entries) }
                td class="n" { (sp.unmanaged_count) }
                td class="n" { (sp.orphans.len()) }
                td { @if let Some(w) = &sp.failed_listing { "failed listing: " (w) "; no revocation planned" } }
            }
        }
    };
    table(
        "Actions per system",
        &[
            "system",
            "mode",
            "grants",
            "level changes",
            "revocations",
            "deprovisions",
            "reactivations",
            "for review",
            "managed entries",
            "unmanaged",
            "orphan accounts",
            "note",
        ],
        rows,
    )
}

fn guards(v: &GuardVerdict) -> Markup {
    html! {
        section class="guard" aria-label="The guards' verdict" {
            h3 { "Guards" }
            @if let Some(why) = &v.stale {
                p class="flash bad" { strong { "Stale: " } (why) ". Approving it is refused; the next event or scheduled plan makes a new one." }
            }
            @if v.tripped {
                p class="flash bad" { strong { "Revocation guard tripped: " } "approving is refused while a system is over its limits ([guard] in polc.toml)." }
            } @else if v.stale.is_none() {
                p class="flash ok" { "Within the guards' limits: approving applies it." }
            }
            @if v.revocations.is_empty() {
                p class="muted" { "No revocation in this plan: the revocation guard has nothing to count." }
            } @else {
                ul {
                    @for l in &v.revocations {
                        li class=[l.over.then_some("bad")] { (l.message) }
                    }
                }
            }
        }
    }
}

fn what(a: &Action) -> Markup {
    html! {
        @match (&a.grant, a.action) {
            (Some(g), ActionKind::SetLevel) => {
                code { (g) } " " (a.from_level.as_deref().unwrap_or("(none)")) " → " (a.level.as_deref().unwrap_or("(none)"))
            }
            (Some(g), _) => {
                code { (g) } @if let Some(l) = &a.level { " (" (l) ")" }
            }
            (None, _) => {
                "the account" @if let Some(m) = a.mode { " (" (format!("{m:?}").to_lowercase()) ")" }
            }
        }
    }
}

fn actions(v: &PlanView, f: &Filters, cap: usize) -> Markup {
    let ran = v.journal.values().any(|j| j.status != "pending")
        || matches!(v.row.status.as_str(), "applied" | "applying" | "incomplete");
    let kept: Vec<&Action> = v.plan.actions.iter().filter(|a| f.keeps(a)).collect();
    let mut head = vec!["action", "id", "system", "person", "entitlement", "why"];
    if ran {
        head.push("result");
    }
    let rows = html! {
        @for a in kept.iter().take(cap) {
            tr {
                td {
                    (kind_label(a.action))
                    @if a.review { " " span class="tag" title="needs a person's approval" { "review" } }
                    @if a.leaver { " " span class="tag" { "leaver" } }
                    @if a.protected { " " span class="tag bad" title="a protected id: skipped, never sent" { "protected" } }
                }
                td { code { (a.id) } }
                td { (a.system) }
                td { a href=(format!("/people/{}", encode(&a.user_id))) { (a.user_id) } }
                td { (what(a)) }
                td { (derivation(a)) }
                @if ran {
                    td {
                        @if let Some(j) = v.journal.get(&a.id) {
                            (badge(&j.status))
                            @if j.attempts > 1 { " " (j.attempts) " attempts" }
                            @if let Some(e) = &j.error { " " span class="error" { (e) } }
                        }
                    }
                }
            }
        }
    };
    html! {
        @if kept.is_empty() {
            p class="muted" { @if f.any() { "No action matches the filters." } @else { "No action." } }
        } @else {
            (table(&format!("Actions ({} of {})", kept.len().min(cap), v.plan.actions.len()), &head, rows))
            @if kept.len() > cap {
                p class="muted" { (kept.len() - cap) " more: filter, or open the plan's page." }
            }
        }
    }
}

/// A plan a reviewer may still approve or reject: pending, or applied in part.
fn open(r: &PlanRow) -> bool {
    matches!(r.status.as_str(), "pending" | "incomplete")
}

fn decide(me: &Signed, v: &PlanView) -> Markup {
    let id = &v.row.id;
    let href = encode(id);
    html! {
        @if !open(&v.row) {
        } @else if may_review(me) {
            div class="decide" {
                form class="approve" method="post" action=(format!("/plans/{href}/approve")) {
                    (csrf(me))
                    input type="hidden" name="digest" value=(v.plan.digest);
                    @if v.row.status == "incomplete" {
                        p { "Some actions were not done. Approve this plan again, digest " code class="digest" { (v.plan.digest) } ", to try them again now as " strong { (me.caller.name) } "." }
                        button type="submit" class="primary" { "Approve again" }
                    } @else {
                        p { "Approve exactly this plan, digest " code class="digest" { (v.plan.digest) } ", and apply it now as " strong { (me.caller.name) } "." }
                        button type="submit" class="primary" { "Approve and apply" }
                    }
                }
                form class="reject" method="post" action=(format!("/plans/{href}/reject")) {
                    (csrf(me))
                    label for=(format!("reason-{id}")) { "Reason for rejecting (required)" }
                    textarea id=(format!("reason-{id}")) name="reason" rows="2" required {}
                    button type="submit" { "Reject" }
                }
            }
        } @else {
            p class="muted" { "You are signed in as a " (me.caller.role.name()) ": approving and rejecting need the reviewer or operator role." }
        }
    }
}

pub(super) fn section(
    me: &Signed,
    v: &PlanView,
    f: &Filters,
    cap: usize,
    own_page: bool,
) -> Markup {
    let r = &v.row;
    html! {
        section class="plan" aria-labelledby=(format!("h-{}", r.id)) {
            @if own_page {
                h2 id=(format!("h-{}", r.id)) { "Status " (badge(&r.status)) }
            } @else {
                h2 id=(format!("h-{}", r.id)) {
                    a href=(format!("/plans/{}", encode(&r.id))) { "Plan " (r.id) } " " (badge(&r.status))
                }
            }
            dl class="facts" {
                dt { "As of" } dd { (r.as_of) }
                dt { "Made" } dd { (time(&r.created_at)) " by " (r.created_by) }
                dt { "Digest" } dd { code class="digest" { (v.plan.digest) } }
                dt { "Actions" } dd { (r.actions) " (" (r.done) " done)" }
                @if let Some(by) = &r.decided_by { dt { "Decided by" } dd { (by) } }
                @if let Some(why) = &r.reason { dt { "Reason" } dd { (why) } }
            }
            (counts(v))
            @if let Some(g) = &v.verdict { (guards(g)) }
            (actions(v, f, cap))
            (decide(me, v))
        }
    }
}

pub(super) fn systems_of<'a>(views: impl Iterator<Item = &'a PlanView>) -> BTreeSet<String> {
    views
        .flat_map(|v| v.plan.actions.iter().map(|a| a.system.clone()))
        .collect()
}
