//! The frame every page shares (header, navigation, who is signed in, sign-out), the
//! sign-in page and sign-out, the error page, and small pieces the pages reuse.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use tracing::warn;

use super::session::{self, Flash, Signed};
use super::{PageError, WebState};
use crate::auth::{Auth, Role};

/// The sections of the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Review,
    People,
    Drift,
    Audit,
    None,
}

/// A whole page: the frame around `body`, with the heading `title`.
pub fn page(
    title: &str,
    me: Option<&Signed>,
    nav: Nav,
    flash: Option<&Flash>,
    body: Markup,
) -> Markup {
    let link = |href: &str, label: &str, this: Nav| {
        html! {
            li { a href=(href) aria-current=[(nav == this).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · polc" }
                link rel="stylesheet" href="/review.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/" { "polc" }
                    @if let Some(me) = me {
                        nav aria-label="Sections" {
                            ul {
                                (link("/", "Review", Nav::Review))
                                (link("/people", "People", Nav::People))
                                (link("/drift", "Drift", Nav::Drift))
                                (link("/audit", "Audit", Nav::Audit))
                            }
                        }
                        form class="who" method="post" action="/sign-out" {
                            (csrf(me))
                            span { "Signed in as " strong { (me.caller.name) } " (" (me.caller.role.name()) ")" }
                            " "
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    @if let Some(f) = flash {
                        p class=(if f.ok { "flash ok" } else { "flash bad" }) role="status" { (f.text) }
                    }
                    (body)
                }
            }
        }
    }
}

/// The session's CSRF token as a hidden field (in every form that changes something).
pub fn csrf(me: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(me.csrf); }
}

/// A status as a badge.
pub fn badge(status: &str) -> Markup {
    let class = match status {
        "pending" | "waiting" | "received" | "sent" => "badge warn",
        "applied" | "done" | "processed" | "report" | "intact" | "in force" => "badge ok",
        "rejected" | "refused" | "failed" | "incomplete" | "stale" | "broken" | "expired" => {
            "badge bad"
        }
        _ => "badge",
    };
    html! { span class=(class) { (status) } }
}

/// A table in a box that scrolls sideways on a narrow screen (focusable, so that a
/// keyboard can scroll it), with a caption.
pub fn table(caption: &str, head: &[&str], rows: Markup) -> Markup {
    html! {
        div class="scroll" tabindex="0" role="region" aria-label=(caption) {
            table {
                caption { (caption) }
                thead { tr { @for h in head { th scope="col" { (h) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// A time as stored (RFC 3339, UTC) shown to the second.
pub fn time(t: &str) -> Markup {
    let shown = t
        .get(..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| t.to_string());
    html! { time datetime=(t) { (shown) " UTC" } }
}

/// The error page.
pub fn error_page(e: &PageError) -> Markup {
    page(
        &e.title,
        None,
        Nav::None,
        None,
        html! {
            p class="flash bad" role="alert" { (e.message) }
            p {
                @if let Some(b) = &e.back { a href=(b) { "Back" } " · " }
                a href="/" { "The review queue" } " · " a href="/sign-in" { "Sign in" }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn sign_in_form(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        Nav::None,
        None,
        html! {
            @if let Some(e) = error {
                p class="flash bad" role="alert" { (e) }
            }
            p { "Sign in with your token from " code { "[server.tokens]" } " (a viewer, reviewer or operator token). The page keeps a session for 8 hours; the token is not stored." }
            form class="signin" method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="token" { "Token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A sign-in page, with the cookie its form's CSRF token must match.
fn sign_in_response(
    st: &WebState,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> Response {
    let token = session::random_hex();
    let mut resp = (status, sign_in_form(&token, next, error)).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::SIGNIN_COOKIE, &token, "/sign-in", 3600, st.secure),
    );
    resp
}

pub async fn sign_in_page(State(st): State<WebState>, Query(q): Query<NextQuery>) -> Response {
    sign_in_response(
        &st,
        StatusCode::OK,
        &session::local_path(q.next.as_deref()),
        None,
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn sign_in(
    State(st): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let next = session::local_path(f.next.as_deref());
    let expected = session::cookie(&headers, session::SIGNIN_COOKIE).unwrap_or_default();
    if f.csrf.is_empty() || expected.is_empty() || !session::same(&f.csrf, expected) {
        return sign_in_response(
            &st,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form was stale or not sent from this page (its security token did not match): try again."),
        );
    }
    let auth = st
        .app
        .auth
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let token = f.token.trim();
    match auth.check(token) {
        None => {
            warn!("page sign-in refused: not a configured token");
            sign_in_response(
                &st,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That token is not one of [server.tokens]."),
            )
        }
        Some(c) if c.role == Role::Hris => {
            warn!(caller = %c.name, "page sign-in refused: the hris role");
            sign_in_response(
                &st,
                StatusCode::FORBIDDEN,
                &next,
                Some("The hris role only posts HRIS events and snapshots: it cannot sign in to the review page."),
            )
        }
        Some(c) => {
            tracing::info!(caller = %c.name, role = c.role.name(), "page sign-in");
            let id = st.sessions.create(Auth::hash(token));
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                session::set_cookie(session::COOKIE, &id, "/", session::TTL.as_secs(), st.secure),
            );
            h.append(
                header::SET_COOKIE,
                session::set_cookie(session::SIGNIN_COOKIE, "", "/sign-in", 0, st.secure),
            );
            resp
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: Option<String>,
}

pub async fn sign_out(
    State(st): State<WebState>,
    Extension(me): Extension<Signed>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    super::check_csrf(&me, f.csrf.as_deref())?;
    st.sessions.end(&me);
    tracing::info!(caller = %me.caller.name, "page sign-out");
    let mut resp = Redirect::to("/sign-in").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, "", "/", 0, st.secure),
    );
    Ok(resp)
}

/// Text of a JSON value (strings without quotes; `null` as nothing).
pub fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A tick or a cross for a condition that holds or not.
pub fn holds(ok: bool) -> Markup {
    if ok {
        html! { span class="yes" { (PreEscaped("&#x2713;")) span class="sr" { " holds" } } }
    } else {
        html! { span class="no" { (PreEscaped("&#x2717;")) span class="sr" { " does not hold" } } }
    }
}
