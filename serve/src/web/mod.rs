//! The web review page at `/` (docs/review.md): the review queue, people, drift and the
//! audit log, as server-rendered HTML from maud templates (checked when compiled), with no
//! JavaScript. Every page gets its data from the same functions as the JSON API
//! ([`crate::api`]), on the worker; approving from the page is the API's approval, with
//! the digest the page showed.
//!
//! Security: sign-in with a token of `[server.tokens]` then a session cookie
//! ([`session`]); a CSRF token in every form that changes something; roles as in the API
//! (a `viewer` sees no approve button and is refused `403` when posting the form anyway; the
//! `hris` role cannot sign in); every answer has a strict Content-Security-Policy (no
//! script at all), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, and pages
//! `Cache-Control: no-store`.

mod audit;
mod drift;
mod layout;
mod people;
mod plan;
mod review;
pub mod session;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::info;

use crate::api::{self, ApiError, AppState};
use crate::auth::{Access, Role};
use session::{Sessions, Signed};

/// The stylesheet, served at `/review.css`.
pub const CSS: &str = include_str!("review.css");

/// Form bodies are small.
pub const FORM_LIMIT: usize = 64 << 10;

/// The pages' state: the API's, the sessions, and whether cookies are `Secure` (TLS).
#[derive(Clone)]
pub struct WebState {
    pub app: AppState,
    pub sessions: Arc<Sessions>,
    pub secure: bool,
}

impl WebState {
    pub fn new(app: AppState, secure: bool) -> WebState {
        WebState {
            app,
            sessions: Arc::new(Sessions::default()),
            secure,
        }
    }
}

/// The pages' routes (merged beside the API's in [`crate::lib`]'s app).
pub fn router(st: WebState) -> Router {
    let signed = Router::new()
        .route("/", get(review::queue))
        .route("/plans/{id}", get(review::plan))
        .route("/plans/{id}/approve", post(review::approve))
        .route("/plans/{id}/reject", post(review::reject))
        .route("/people", get(people::search))
        .route("/people/{id}", get(people::person))
        .route("/drift", get(drift::drift_page))
        .route("/drift/run", post(drift::run))
        .route("/audit", get(audit::audit_page))
        .route("/audit/evidence", get(audit::evidence))
        .route("/sign-out", post(layout::sign_out))
        .route_layer(middleware::from_fn_with_state(st.clone(), require_session));
    Router::new()
        .merge(signed)
        .route("/sign-in", get(layout::sign_in_page).post(layout::sign_in))
        .route("/review.css", get(css))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn_with_state(
            st.app.clone(),
            api::time_limit,
        ))
        .layer(middleware::from_fn_with_state(st.clone(), headers))
        .with_state(st)
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

/// The security headers of every page (HSTS under TLS), and one log line per request.
async fn headers(State(st): State<WebState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if st.secure {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    let who = resp
        .extensions()
        .get::<LogName>()
        .map(|c| c.0.clone())
        .unwrap_or_else(|| "-".into());
    info!(
        method = %method,
        route = %route,
        status = resp.status().as_u16(),
        caller = %who,
        ms = started.elapsed().as_millis() as u64,
        "page"
    );
    resp
}

/// The caller's name, for the log line.
#[derive(Clone)]
struct LogName(String);

/// Pages need a session: without one a `GET` goes to the sign-in page (and back after),
/// anything else is `401`.
async fn require_session(State(st): State<WebState>, mut req: Request, next: Next) -> Response {
    let auth = st
        .app
        .auth
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let signed =
        session::cookie(req.headers(), session::COOKIE).and_then(|id| st.sessions.get(id, &auth));
    let Some(s) = signed else {
        if req.method() == Method::GET {
            let next = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let to = if next == "/" {
                "/sign-in".to_string()
            } else {
                format!("/sign-in?next={}", encode(next))
            };
            return Redirect::to(&to).into_response();
        }
        return PageError::new(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "Sign in first: your session ended or was never started.",
        )
        .into_response();
    };
    let name = s.caller.name.clone();
    req.extensions_mut().insert(s);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(LogName(name));
    resp
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A form's CSRF token against the session's: `403` when missing or wrong.
pub(crate) fn check_csrf(s: &Signed, sent: Option<&str>) -> Result<(), PageError> {
    match sent {
        Some(t) if !t.is_empty() && session::same(t, &s.csrf) => Ok(()),
        _ => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Refused",
            "This form did not carry this session's security token (CSRF): it is stale or was not sent from this site. Reload the page and try again.",
        )),
    }
}

/// The caller's role may do `access`: else `403`.
pub(crate) fn check_role(s: &Signed, access: Access, what: &str) -> Result<(), PageError> {
    if access.allows(s.caller.role) {
        return Ok(());
    }
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "Not allowed",
        format!(
            "The {} role may not {what} (it needs {}).",
            s.caller.role.name(),
            access.roles().join(" or ")
        ),
    ))
}

/// May the caller approve and reject?
pub(crate) fn may_review(s: &Signed) -> bool {
    Access::Review.allows(s.caller.role)
}

/// May the caller run drift?
pub(crate) fn may_operate(s: &Signed) -> bool {
    s.caller.role == Role::Operator
}

/// An error as a page, with its status.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    /// The page to go back to.
    pub back: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: impl Into<String>) -> PageError {
        PageError {
            status,
            title: title.to_string(),
            message: message.into(),
            back: None,
        }
    }

    pub fn back(mut self, href: &str) -> PageError {
        self.back = Some(href.to_string());
        self
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        let title = match e.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Refused",
            StatusCode::BAD_REQUEST => "Not accepted",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::SERVICE_UNAVAILABLE => "Busy",
            _ => "Error",
        };
        PageError::new(e.status, title, e.message)
    }
}

impl From<polc_provision::Error> for PageError {
    fn from(e: polc_provision::Error) -> PageError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.status, layout::error_page(&self)).into_response()
    }
}

pub(crate) type PageResult<T> = Result<T, PageError>;

/// Runs `f` on the worker (as the API does).
pub(crate) async fn on_worker<T: Send + 'static>(
    st: &WebState,
    f: impl FnOnce(&mut crate::worker::Worker) -> api::ApiResult<T> + Send + 'static,
) -> PageResult<T> {
    Ok(api::call(&st.app, f).await??)
}
