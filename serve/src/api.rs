//! The HTTP API: the route table (method, path, who may call it, handler), the
//! authentication middleware, errors as `{"error": {"code", "message"}}`, and the handlers.
//! Every handler that touches the state sends a job to the worker (never blocking the
//! runtime); a full queue is `503` with `Retry-After`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use polc_provision::db::OptionalExt;
use polc_provision::{ApplyOptions, Approval, Error};
use serde::Deserialize;
use serde_json::{json, Value as Json_};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::auth::{Access, Auth, Caller};
use crate::metrics::Metrics;
use crate::reads::Readers;
use crate::receiver::Delivery;
use crate::webhook::{self, Secret};
use crate::worker::{today, Incoming, Job, Start, StoreError, Worker};

/// Body limits.
pub const EVENTS_LIMIT: usize = 1 << 20;
pub const SNAPSHOT_LIMIT: usize = 64 << 20;
pub const DEFAULT_LIMIT: usize = 1 << 20;

#[derive(Clone)]
pub struct AppState {
    pub jobs: mpsc::Sender<Job>,
    /// Verified webhook deliveries, to the receiver (stored there, not on the worker).
    pub deliveries: mpsc::Sender<Delivery>,
    /// Reads on connections of their own.
    pub readers: Arc<Readers>,
    pub auth: Arc<RwLock<Arc<Auth>>>,
    pub secret: Option<Secret>,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub timeout: Duration,
    access: Arc<HashMap<(Method, &'static str), Access>>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        jobs: mpsc::Sender<Job>,
        deliveries: mpsc::Sender<Delivery>,
        readers: Arc<Readers>,
        auth: Arc<RwLock<Arc<Auth>>>,
        secret: Option<Secret>,
        metrics: Arc<Metrics>,
        ready: Arc<AtomicBool>,
        timeout: Duration,
    ) -> AppState {
        let access = routes()
            .into_iter()
            .map(|r| ((r.method, r.path), r.access))
            .collect();
        AppState {
            jobs,
            deliveries,
            readers,
            auth,
            secret,
            metrics,
            ready,
            timeout,
            access: Arc::new(access),
        }
    }
}

/// One route of the API.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<AppState>,
}

/// Every route the router serves (the OpenAPI document lists the same; a test checks).
pub fn routes() -> Vec<Route> {
    use Access::*;
    let r = |method: Method,
             path: &'static str,
             access: Access,
             handler: MethodRouter<AppState>| Route {
        method,
        path,
        access,
        handler,
    };
    vec![
        r(Method::GET, "/healthz", Public, get(healthz)),
        r(Method::GET, "/readyz", Read, get(readyz)),
        r(Method::GET, "/metrics", Read, get(metrics)),
        r(Method::GET, "/v1/openapi.json", Read, get(openapi)),
        r(
            Method::POST,
            "/v1/hris/events",
            Hris,
            post(hris_events).layer(DefaultBodyLimit::max(EVENTS_LIMIT)),
        ),
        r(
            Method::POST,
            "/v1/hris/snapshot",
            Hris,
            post(hris_snapshot).layer(DefaultBodyLimit::max(SNAPSHOT_LIMIT)),
        ),
        r(Method::GET, "/v1/users/{id}", Read, get(user_get)),
        r(
            Method::GET,
            "/v1/users/{id}/explain",
            Read,
            get(user_explain),
        ),
        r(Method::POST, "/v1/evaluate", Read, post(evaluate)),
        r(Method::GET, "/v1/plans", Read, get(plans_list)),
        r(Method::GET, "/v1/plans/{id}", Read, get(plan_get)),
        r(
            Method::POST,
            "/v1/plans/{id}/approve",
            Review,
            post(plan_approve),
        ),
        r(
            Method::POST,
            "/v1/plans/{id}/reject",
            Review,
            post(plan_reject),
        ),
        r(Method::GET, "/v1/drift", Read, get(drift_get)),
        r(Method::POST, "/v1/drift/run", Operate, post(drift_run)),
        r(Method::POST, "/v1/pull", Operate, post(pull)),
        r(Method::POST, "/v1/reload", Operate, post(reload)),
        r(Method::GET, "/v1/audit", Read, get(audit)),
        r(Method::GET, "/v1/evidence", Read, get(evidence)),
    ]
}

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for rt in routes() {
        r = r.route(rt.path, rt.handler);
    }
    r.route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(DEFAULT_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}

// ---- errors ----

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn busy(message: &str) -> ApiError {
        ApiError {
            retry_after: Some(5),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let (status, code) = match &e {
            Error::Refused(_) => (StatusCode::CONFLICT, "refused"),
            Error::Locked { .. } => (StatusCode::CONFLICT, "locked"),
            Error::LeaseLost(_) => (StatusCode::CONFLICT, "lease_lost"),
            Error::Input(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            Error::Connector { .. } => (StatusCode::BAD_GATEWAY, "connector"),
            Error::Config { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "config"),
            Error::State { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "state"),
            Error::Bug(_) => (StatusCode::INTERNAL_SERVER_ERROR, "bug"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

pub(crate) fn state_err(e: polc_provision::db::DbError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "state", e.to_string())
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Runs `f` on the worker; a full queue is `503 busy`.
pub(crate) async fn call<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&mut Worker) -> T + Send + 'static,
) -> ApiResult<T> {
    let (tx, rx) = oneshot::channel();
    send(
        st,
        Box::new(move |w: &mut Worker| {
            let _ = tx.send(f(w));
        }),
    )?;
    rx.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the service is stopping: retry",
        )
    })
}

fn send(st: &AppState, job: Job) -> ApiResult<()> {
    match st.jobs.try_send(job) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Full(_)) => {
            st.metrics.queue_full.fetch_add(1, Relaxed);
            Err(ApiError::busy("the work queue is full: retry later"))
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            Err(ApiError::busy("the service is stopping: retry"))
        }
    }
}

// ---- middleware ----

async fn authenticate(
    State(st): State<AppState>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = matched.as_str().to_string();
    let access = st
        .access
        .get(&(method.clone(), matched.as_str()))
        .copied()
        // HEAD and others fall back to the strictest read rule
        .unwrap_or(Access::Read);
    let mut who = String::from("-");
    let resp = if access == Access::Public {
        next.run(req).await
    } else {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let auth = st.auth.read().unwrap_or_else(|e| e.into_inner()).clone();
        match token.and_then(|t| auth.check(t)) {
            None => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a bearer token from [server.tokens] is required (Authorization: Bearer TOKEN)",
            )
            .into_response(),
            Some(c) if !access.allows(c.role) => {
                who = c.name.clone();
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "the {} role may not call {method} {path} (it needs {})",
                        c.role.name(),
                        access.roles().join(" or ")
                    ),
                )
                .into_response()
            }
            Some(c) => {
                who = c.name.clone();
                req.extensions_mut().insert(c);
                next.run(req).await
            }
        }
    };
    info!(
        method = %method,
        route = %path,
        status = resp.status().as_u16(),
        caller = %who,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

pub(crate) async fn time_limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(st.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; what was stored stays stored: check its outcome before retrying",
            )
        }
        .into_response(),
    }
}

/// Every error in the JSON shape: axum's own rejections (a body over its limit, a query
/// that does not parse, a method the route does not take) answer plain text; they are
/// rewritten here, keeping their status and headers (`Allow`, `Retry-After`).
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too_large",
            format!("the body is larger than this route takes (events and other requests 1 MiB, snapshots 64 MiB): {text}"),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method: GET /v1/openapi.json lists them".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        StatusCode::REQUEST_TIMEOUT => ("timeout", text),
        s if s.is_client_error() => ("invalid_input", text),
        _ => ("internal", text),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route: GET /v1/openapi.json lists them",
    )
}

// ---- operations ----

async fn healthz() -> Json<Json_> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> ApiResult<Json<Json_>> {
    if !st.ready.load(Relaxed) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "starting: the bundle or the state is not loaded yet",
        ));
    }
    let bundle = call(&st, |w| w.p.state.meta("bundle")).await??;
    Ok(Json(json!({"status": "ready", "bundle": bundle})))
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
}

pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

// ---- HRIS ----

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> ApiResult<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_webhook_headers",
            format!("the `{name}` header is missing (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)"),
        )
    })
}

/// Reads a delivery: one event object or an array of them, in the shapes of `hris event`.
pub fn parse_delivery(
    body: &[u8],
    id: &str,
    at: chrono::NaiveDate,
) -> Result<Vec<Incoming>, String> {
    let v: Json_ =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let items = match v {
        Json_::Array(a) => a,
        o @ Json_::Object(_) => vec![o],
        _ => return Err("the body is neither an event object nor an array of events".into()),
    };
    if items.is_empty() {
        return Err("the array holds no event".into());
    }
    let mut out = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        let name = format!("webhook {id} event {i}");
        let text = item.to_string();
        let mut evs = polc::lifecycle::events::parse_events(&text, &name, at).map_err(|e| e.0)?;
        let Some(ev) = evs.pop().filter(|_| evs.is_empty()) else {
            return Err(format!("{name}: expected one event object"));
        };
        // an update that names no date is dated today, once and for all
        if let Json_::Object(o) = &mut item {
            if ev.kind == polc::lifecycle::events::EventKind::Updated
                && !o.contains_key("effective_date")
            {
                let in_changes = o
                    .get("changes")
                    .and_then(|c| c.get("effective_date"))
                    .is_some();
                if !in_changes {
                    o.insert(
                        "effective_date".into(),
                        Json_::String(ev.effective.to_string()),
                    );
                }
            }
        }
        out.push(Incoming {
            event: ev.kind.name().to_string(),
            user_id: ev.user_id.clone(),
            effective: ev.effective,
            body: item.to_string(),
        });
    }
    Ok(out)
}

async fn hris_events(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let reject = |e: ApiError| {
        st.metrics.webhooks_rejected.fetch_add(1, Relaxed);
        warn!(code = e.code, caller = %caller.name, "webhook refused: {}", e.message);
        e
    };
    let Some(secret) = &st.secret else {
        return Err(reject(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks_not_configured",
            "no webhook secret: set [server] webhook_secret_env to the name of a variable holding the `whsec_` secret",
        )));
    };
    let id = header_str(&headers, "webhook-id")
        .map_err(reject)?
        .to_string();
    let ts = header_str(&headers, "webhook-timestamp").map_err(reject)?;
    let sig = header_str(&headers, "webhook-signature").map_err(reject)?;
    webhook::verify(secret, &id, ts, sig, &body, chrono::Utc::now().timestamp()).map_err(|r| {
        reject(ApiError::new(
            StatusCode::UNAUTHORIZED,
            r.code(),
            r.message(),
        ))
    })?;
    let events = parse_delivery(&body, &id, today())
        .map_err(|m| reject(ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", m)))?;
    // stored (and committed) by the receiver before the answer; processed later
    let (tx, rx) = oneshot::channel();
    let delivery = Delivery {
        webhook_id: id.clone(),
        events,
        by: caller.name.clone(),
        reply: tx,
    };
    match st.deliveries.try_send(delivery) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            st.metrics.queue_full.fetch_add(1, Relaxed);
            return Err(ApiError::busy("the webhook queue is full: retry later"));
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            return Err(ApiError::busy("the service is stopping: retry"));
        }
    }
    let r = rx
        .await
        .map_err(|_| ApiError::busy("the service is stopping: retry"))?;
    match r {
        Ok(Some(n)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"webhook_id": id, "events": n, "duplicate": false})),
        )
            .into_response()),
        Ok(None) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"webhook_id": id, "events": 0, "duplicate": true})),
        )
            .into_response()),
        Err(StoreError::OutOfOrder(m)) => Err(reject(ApiError::new(
            StatusCode::CONFLICT,
            "out_of_order",
            m,
        ))),
        Err(StoreError::Failed(e)) => Err(e.into()),
    }
}

async fn hris_snapshot(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let (tx, rx) = oneshot::channel();
    send(
        &st,
        Box::new(move |w: &mut Worker| {
            let dir = w.inbox();
            let file = dir.join(format!(
                "snapshot-{}.{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                if csv { "csv" } else { "json" }
            ));
            let r = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&file, &body))
                .map_err(|e| Error::Input(format!("{}: cannot write: {e}", file.display())))
                .and_then(|()| {
                    let old = std::mem::replace(&mut w.p.actor, caller.name.clone());
                    let r = w.p.hris_import(&file, today(), None);
                    w.p.actor = old;
                    r
                });
            let ok = r.as_ref().is_ok_and(|r| !r.unchanged);
            let _ = tx.send(r);
            if ok {
                w.process();
                w.reconcile(&caller.name);
            }
        }),
    )?;
    let rep = rx
        .await
        .map_err(|_| ApiError::busy("the service is stopping: retry"))??;
    Ok((StatusCode::OK, Json(json!(rep))).into_response())
}

// ---- users ----

/// How much of a person's evaluation [`user_view`] explains.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Why<'a> {
    /// Nothing: the record, evaluation, holds and observed access (`GET /v1/users/{id}`).
    Nothing,
    /// Only why (or why not) this grant (`GET /v1/users/{id}/explain?grant=REF`).
    Grant(&'a str),
    /// Everything of `Nothing`, and `"explanation"`: why each grant (the person's page).
    Everything,
}

/// A person today: `GET /v1/users/{id}`, its `explain` (on a reader's connection, not the
/// worker's), and the person's page.
pub(crate) fn user_view(
    st: &polc_provision::state::State,
    b: &polc_provision::LoadedBundle,
    id: &str,
    why: Why<'_>,
) -> ApiResult<Json_> {
    let at = today();
    let path = st.path.clone();
    let stored =
        polc_provision::directory::load_user(&st.conn, &path, id, at)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no user `{id}` in the directory at {at}"),
            )
        })?;
    let users = polc_provision::directory::to_users(
        std::slice::from_ref(&stored),
        b.bundle.schema.as_ref(),
    )?;
    let rec = users.records.first().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "state",
            "the stored record does not read",
        )
    })?;
    let mut plan = polc::eval::Plan::new(b.bundle.clone(), &users.fields, at);
    let e = plan.evaluate(&rec.id, &rec.values);
    if let Why::Grant(g) = why {
        let only = plan
            .resolve_ref(g)
            .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_grant", m.to_string()))?;
        let x = plan.explain(&rec.id, &rec.values, &e, Some(only));
        return Ok(json!({"user_id": id, "as_of": at, "explanation": x}));
    }
    let evaluation = serde_json::to_value(polc::eval::render::user_json(&plan, &rec.id, &e))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bug", e.to_string()))?;
    let conn = &st.conn;
    let holds: Vec<Json_> = conn
        .prepare("SELECT grant_ref, level, until, policy, created_at FROM holds WHERE user_id = ?1 AND closed_at IS NULL ORDER BY until, grant_ref")
        .and_then(|mut s| {
            s.query_map([id], |r| {
                Ok(json!({"grant": r.get::<_, String>(0)?, "level": r.get::<_, Option<String>>(1)?, "until": r.get::<_, String>(2)?, "policy": r.get::<_, String>(3)?, "created_at": r.get::<_, String>(4)?}))
            })?
            .collect()
        })
        .map_err(state_err)?;
    let observed: Vec<Json_> = conn
        .prepare("SELECT system, holdings, active FROM observed WHERE user_id = ?1 ORDER BY system")
        .and_then(|mut s| {
            s.query_map([id], |r| {
                let h: String = r.get(1)?;
                Ok(json!({"system": r.get::<_, String>(0)?, "holdings": serde_json::from_str::<Json_>(&h).unwrap_or(Json_::Null), "active": r.get::<_, Option<bool>>(2)?}))
            })?
            .collect()
        })
        .map_err(state_err)?;
    let record: Json_ = serde_json::from_str(&stored.record).unwrap_or(Json_::Null);
    let mut out = json!({"user_id": id, "as_of": at, "record": record, "cause": stored.cause, "evaluation": evaluation, "holds": holds, "observed": observed});
    if let Why::Everything = why {
        let x = plan.explain(&rec.id, &rec.values, &e, None);
        out["explanation"] = serde_json::to_value(x)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bug", e.to_string()))?;
        // every exception naming the person, in force or not (the evaluation lists those in force)
        let exceptions: Vec<Json_> = plan
            .bundle
            .exceptions
            .iter()
            .enumerate()
            .filter(|(_, x)| x.user == id)
            .map(|(i, x)| {
                let grants: Vec<String> = plan.exception_grants[i]
                    .iter()
                    .map(|&(ent, level)| match plan.level_name(ent, level) {
                        Some(l) => format!("{} ({l})", plan.ent_text(ent)),
                        None => plan.ent_text(ent).to_string(),
                    })
                    .collect();
                json!({"name": x.name, "grants": grants, "justification": x.justification,
                    "approved_by": x.approved_by, "effective": x.effective, "expires": x.expires,
                    "in_force": x.in_force(at)})
            })
            .collect();
        out["exceptions"] = Json_::Array(exceptions);
    }
    Ok(out)
}

/// Runs a read on the readers' connections.
async fn read<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce(&polc_provision::state::State, &polc_provision::LoadedBundle) -> ApiResult<T>
        + Send
        + 'static,
) -> ApiResult<T> {
    match st.readers.run(f).await {
        Ok(Some(r)) => r,
        Ok(None) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "starting: the bundle or the state is not loaded yet",
        )),
        Err(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "state", e)),
    }
}

async fn user_get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Json_>> {
    Ok(Json(
        read(&st, move |s, b| user_view(s, b, &id, Why::Nothing)).await?,
    ))
}

#[derive(Deserialize)]
struct GrantQuery {
    grant: String,
}

async fn user_explain(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<GrantQuery>,
) -> ApiResult<Json<Json_>> {
    Ok(Json(
        read(&st, move |s, b| user_view(s, b, &id, Why::Grant(&q.grant))).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhatIf {
    record: serde_json::Map<String, Json_>,
    #[serde(default)]
    as_of: Option<chrono::NaiveDate>,
}

async fn evaluate(State(st): State<AppState>, body: Bytes) -> ApiResult<Json<Json_>> {
    let q: WhatIf = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("expected {{\"record\": {{…}}, \"as_of\"?: \"YYYY-MM-DD\"}}: {e}"),
        )
    })?;
    let out = call(&st, move |w| -> ApiResult<Json_> {
        let b = w.p.bundle()?;
        let at = q.as_of.unwrap_or_else(today);
        let text = serde_json::to_string(&[Json_::Object(q.record)]).unwrap_or_default();
        let users = polc::input::parse_users(
            &text,
            "record",
            polc::input::Format::Json,
            b.bundle.schema.as_ref(),
            None,
        )
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_record", e.0))?;
        if let Some(e) = users.errors.first() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_record",
                e.to_string(),
            ));
        }
        let rec = users
            .records
            .first()
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_record", "no record"))?;
        let plan = polc::eval::Plan::new(b.bundle.clone(), &users.fields, at);
        let e = plan.evaluate(&rec.id, &rec.values);
        let v = serde_json::to_value(polc::eval::render::user_json(&plan, &rec.id, &e))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bug", e.to_string()))?;
        Ok(json!({"as_of": at, "evaluation": v}))
    })
    .await??;
    Ok(Json(out))
}

// ---- plans ----

#[derive(Deserialize)]
struct PlansQuery {
    status: Option<String>,
}

/// The plans, newest first (at most 500), each with the service's decision on it; `one`:
/// just that plan.
pub(crate) fn plan_rows(
    w: &Worker,
    one: Option<&str>,
) -> Result<Vec<Json_>, polc_provision::db::DbError> {
    let sql = "SELECT p.id, p.as_of, p.digest, p.created_at, p.created_by, sp.kind, sp.status, sp.decided_by, sp.reason,
        (SELECT count(*) FROM actions a WHERE a.plan_id = p.id),
        (SELECT count(*) FROM actions a WHERE a.plan_id = p.id AND a.status = 'done')
        FROM plans p LEFT JOIN serve_plans sp ON sp.plan_id = p.id
        WHERE CAST(?1 AS TEXT) IS NULL OR p.id = ?1 ORDER BY p.rowid DESC LIMIT 500";
    let mut s = w.p.state.conn.prepare(sql)?;
    let rows = s.query_map([one], |r| {
        Ok(json!({
            "id": r.get::<_, String>(0)?, "as_of": r.get::<_, String>(1)?, "digest": r.get::<_, String>(2)?,
            "created_at": r.get::<_, String>(3)?, "created_by": r.get::<_, String>(4)?,
            "kind": r.get::<_, Option<String>>(5)?.unwrap_or_else(|| "cli".into()),
            "status": r.get::<_, Option<String>>(6)?.unwrap_or_else(|| "unmanaged".into()),
            "decided_by": r.get::<_, Option<String>>(7)?, "reason": r.get::<_, Option<String>>(8)?,
            "actions": r.get::<_, i64>(9)?, "done": r.get::<_, i64>(10)?,
        }))
    })?;
    rows.collect()
}

async fn plans_list(
    State(st): State<AppState>,
    Query(q): Query<PlansQuery>,
) -> ApiResult<Json<Json_>> {
    let rows = call(&st, |w| plan_rows(w, None))
        .await?
        .map_err(state_err)?;
    let rows: Vec<Json_> = rows
        .into_iter()
        .filter(|r| q.status.as_deref().is_none_or(|s| r["status"] == s))
        .collect();
    Ok(Json(json!({"plans": rows})))
}

async fn plan_get(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Json_>> {
    Ok(Json(call(&st, move |w| plan_detail(w, &id)).await??))
}

/// A plan: `{"review": its row of [`plan_rows`], "plan": the document, "journal": each
/// action's status, attempts and error}`.
pub(crate) fn plan_detail(w: &mut Worker, id: &str) -> ApiResult<Json_> {
    let Some((plan, _)) = w.p.stored_plan(id)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no plan `{id}`"),
        ));
    };
    let meta = plan_rows(w, Some(id))
        .map_err(state_err)?
        .pop()
        .unwrap_or(Json_::Null);
    let statuses: Vec<Json_> = w
        .p
        .state
        .conn
        .prepare("SELECT id, status, attempts, last_error FROM actions WHERE plan_id = ?1 ORDER BY idx")
        .and_then(|mut s| {
            s.query_map([id], |r| Ok(json!({"id": r.get::<_, String>(0)?, "status": r.get::<_, String>(1)?, "attempts": r.get::<_, i64>(2)?, "error": r.get::<_, Option<String>>(3)?})))?
                .collect()
        })
        .map_err(state_err)?;
    Ok(json!({"review": meta, "plan": plan, "journal": statuses}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("expected {shape}: {e}"),
        )
    })
}

fn open_status(w: &Worker, id: &str) -> ApiResult<Option<String>> {
    w.p.state
        .conn
        .query_row(
            "SELECT status FROM serve_plans WHERE plan_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()
        .map_err(state_err)
}

async fn plan_approve(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Json_>> {
    let b: ApproveBody = json_body(&body, "{\"digest\": \"sha256:…\"}")?;
    let rep = call(&st, move |w| approve(w, &id, &b.digest, &caller)).await??;
    Ok(Json(json!(rep)))
}

/// Approves exactly `digest` of the pending plan `id` as `caller` and applies it now (four
/// eyes, the guards, the digest and the date are checked by the apply): the API's
/// `POST /v1/plans/{id}/approve` and the review page's approve button.
pub(crate) fn approve(
    w: &mut Worker,
    id: &str,
    digest: &str,
    caller: &Caller,
) -> ApiResult<polc_provision::ApplyReport> {
    if w.p.stored_plan(id)?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no plan `{id}`"),
        ));
    }
    if let Some(s @ ("rejected" | "superseded" | "applied" | "applying" | "report")) =
        open_status(w, id)?.as_deref()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_pending",
            format!("plan {id} is {s}: only a pending plan can be approved"),
        ));
    }
    four_eyes(w, id, caller)?;
    let mut opts = ApplyOptions::new(Approval::Digest(digest.to_string()), today());
    opts.as_name = Some(caller.name.clone());
    let start = Start {
        by: &caller.name,
        digest,
    };
    Ok(w.run_apply(id, "review", opts, Some(start))?)
}

/// With `four_eyes`, the person whose request made a plan (the HRIS token of the events, the
/// operator of a pull) may not approve it. A plan the service made on its own (the
/// schedule) is `polc-serve`'s: any reviewer may approve it. Refused approvals are audited.
fn four_eyes(w: &Worker, id: &str, caller: &Caller) -> ApiResult<()> {
    if !w.p.project.server.four_eyes {
        return Ok(());
    }
    let created_by = w.p.stored_plan(id)?.map(|x| x.1).unwrap_or_default();
    let auth = w.auth.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(by) = created_by
        .split(", ")
        .find(|n| *n == caller.name || *n == caller.person || auth.person_of(n) == caller.person)
    else {
        return Ok(());
    };
    let reason = format!(
        "four eyes: plan {id} was made by a request of `{by}`, and `{}` is the same person ({}): another reviewer must approve it",
        caller.name, caller.person
    );
    w.audit(
        &caller.name,
        "refusal",
        json!({"command": "approve", "plan": id, "reason": reason, "actor": caller.name}),
    )?;
    warn!(plan = %id, caller = %caller.name, "{reason}");
    Err(ApiError::new(StatusCode::CONFLICT, "four_eyes", reason))
}

async fn plan_reject(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Json_>> {
    let b: RejectBody = json_body(&body, "{\"reason\": \"…\"}")?;
    Ok(Json(
        call(&st, move |w| reject(w, &id, &b.reason, &caller)).await??,
    ))
}

/// Rejects the plan `id` as `caller`, for `reason` (required), audited: the API's
/// `POST /v1/plans/{id}/reject` and the review page's reject form.
pub(crate) fn reject(w: &mut Worker, id: &str, reason: &str, caller: &Caller) -> ApiResult<Json_> {
    if reason.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "a rejection needs a reason",
        ));
    }
    if w.p.stored_plan(id)?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no plan `{id}`"),
        ));
    }
    if let Some(s @ ("applied" | "applying")) = open_status(w, id)?.as_deref() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_pending",
            format!("plan {id} is {s}"),
        ));
    }
    w.set_plan(
        id,
        "review",
        "rejected",
        Some(&caller.name),
        None,
        Some(reason),
    )?;
    w.audit(
        &caller.name,
        "plan_rejected",
        json!({"plan": id, "reason": reason}),
    )?;
    Ok(json!({"plan": id, "status": "rejected", "by": caller.name}))
}

// ---- drift, pull, reload ----

async fn drift_get(State(st): State<AppState>) -> ApiResult<Json<Json_>> {
    Ok(Json(call(&st, |w| drift_latest(w)).await??))
}

/// The last drift run (`404 no_drift_run` before the first).
pub(crate) fn drift_latest(w: &Worker) -> ApiResult<Json_> {
    match w.p.state.meta("serve.drift")? {
        Some(t) => Ok(serde_json::from_str(&t).unwrap_or(Json_::Null)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_drift_run",
            "no drift run yet: POST /v1/drift/run (operator) or wait for the schedule",
        )),
    }
}

async fn drift_run(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Json_>> {
    Ok(Json(call(&st, move |w| w.drift_run(&caller.name)).await??))
}

async fn pull(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Json_>> {
    let rep = call(&st, move |w| w.pull_and_plan(&caller.name)).await??;
    Ok(Json(json!(rep)))
}

async fn reload(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Json_>> {
    match call(&st, move |w| w.reload(&caller.name, "api")).await? {
        Ok(d) => Ok(Json(json!({"reloaded": true, "bundle": d}))),
        Err(m) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "reload_refused",
            format!("{m} (the running policies and configuration are kept)"),
        )),
    }
}

// ---- audit, evidence ----

#[derive(Deserialize)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
    kind: Option<String>,
    actor: Option<String>,
}

async fn audit(State(st): State<AppState>, Query(q): Query<AuditQuery>) -> ApiResult<Json<Json_>> {
    let f = AuditFilter {
        after: Some(q.after.unwrap_or(0)),
        limit: q.limit.unwrap_or(500).clamp(1, 5000),
        kind: q.kind.filter(|k| !k.is_empty()),
        actor: q.actor.filter(|a| !a.is_empty()),
        ..AuditFilter::default()
    };
    let rows = call(&st, move |w| audit_rows(w, &f))
        .await?
        .map_err(state_err)?;
    let next = rows.last().and_then(|r| r["seq"].as_i64());
    Ok(Json(json!({"entries": rows, "next_after": next})))
}

/// Which audit entries: those after `after` oldest first, or else those before `before`
/// (or the last ones) newest first; of one kind, by one actor, whose details contain a text.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditFilter {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub contains: Option<String>,
    pub limit: i64,
}

/// Audit entries as the API returns them (`seq`, `time`, `as_of`, `actor`, `kind`,
/// `details`, `prev`, `hash`).
pub(crate) fn audit_rows(
    w: &Worker,
    f: &AuditFilter,
) -> Result<Vec<Json_>, polc_provision::db::DbError> {
    let (lo, hi, order) = match (f.after, f.before) {
        (Some(a), _) => (a, i64::MAX, "ASC"),
        (None, b) => (0, b.unwrap_or(i64::MAX), "DESC"),
    };
    let like = f.contains.as_ref().map(|t| {
        let esc: String = t
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("%{esc}%")
    });
    let mut s = w.p.state.conn.prepare(&format!(
        "SELECT seq, time, as_of, actor, kind, details, prev, hash FROM audit
         WHERE seq > ?1 AND seq < ?2 AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3) AND (CAST(?4 AS TEXT) IS NULL OR actor = ?4)
           AND (CAST(?5 AS TEXT) IS NULL OR details LIKE ?5 ESCAPE '\\')
         ORDER BY seq {order} LIMIT ?6"
    ))?;
    let it = s.query_map(
        polc_provision::db::params![lo, hi, f.kind, f.actor, like, f.limit.max(1)],
        |r| {
            let d: String = r.get(5)?;
            Ok(json!({"seq": r.get::<_, i64>(0)?, "time": r.get::<_, String>(1)?, "as_of": r.get::<_, Option<String>>(2)?,
                "actor": r.get::<_, String>(3)?, "kind": r.get::<_, String>(4)?,
                "details": serde_json::from_str::<Json_>(&d).unwrap_or(Json_::Null),
                "prev": r.get::<_, String>(6)?, "hash": r.get::<_, String>(7)?}))
        },
    )?;
    it.collect()
}

#[derive(Deserialize)]
struct EvidenceQuery {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: Option<String>,
}

/// The evidence pack of `from..=to` (dates, both required) as html, markdown, csv or json
/// (the default), with its content type.
async fn evidence(
    State(st): State<AppState>,
    Query(q): Query<EvidenceQuery>,
) -> ApiResult<Response> {
    evidence_file(&st, q.from, q.to, q.format.as_deref(), "inline").await
}

/// The evidence pack of a period as a response (its content type, and a
/// `Content-Disposition` of `disposition`, `inline` or `attachment`, naming the file):
/// `GET /v1/evidence` and the audit page's download.
pub(crate) async fn evidence_file(
    st: &AppState,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: Option<&str>,
    disposition: &str,
) -> ApiResult<Response> {
    use polc_provision::evidence::Format;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "the period is required: ?from=YYYY-MM-DD&to=YYYY-MM-DD (both included), and format=html|markdown|csv|json (default json)",
        ));
    };
    let name = format.unwrap_or("json");
    let format = Format::parse(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("format={name}: expected html, markdown, csv or json"),
        )
    })?;
    let pack = call(st, move |w| w.p.evidence(from, to, format, None)).await??;
    let content_type = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json => "application/json",
    };
    let disposition = format!(
        "{disposition}; filename=\"evidence-{from}-{to}.{}\"",
        format.extension()
    );
    let mut resp = (StatusCode::OK, pack.bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The OpenAPI document lists exactly the routes the router serves, with their roles.
    #[test]
    fn the_openapi_document_matches_the_routes() {
        let doc: Json_ = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let roles: Vec<String> = op["x-roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect();
                documented.insert((method.to_uppercase(), path.clone(), roles));
            }
        }
        let served: BTreeSet<_> = routes()
            .into_iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.path.to_string(),
                    r.access.roles().iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn a_delivery_is_one_event_or_an_array() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let one = br#"{"event": "employee.terminated", "user_id": "a", "last_day": "2025-06-30"}"#;
        let v = parse_delivery(one, "m", d).unwrap();
        assert_eq!(
            (v.len(), v[0].effective.to_string()),
            (1, "2025-06-30".into())
        );
        let upd = br#"[{"event": "employee.updated", "user_id": "a", "changes": {"team": {"old": "x", "new": "y"}}}]"#;
        let v = parse_delivery(upd, "m", d).unwrap();
        assert!(
            v[0].body.contains("\"effective_date\":\"2025-06-01\""),
            "{}",
            v[0].body
        );
        assert!(parse_delivery(b"[]", "m", d).is_err());
        assert!(parse_delivery(b"3", "m", d).is_err());
        assert!(parse_delivery(br#"{"event": "employee.fired", "user_id": "a"}"#, "m", d).is_err());
    }
}
