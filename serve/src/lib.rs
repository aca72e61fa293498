//! `polc serve`: a long-running service on one project (docs/serve.md).
//!
//! Layout: an axum server (optionally TLS through rustls), the JSON API ([`api`]) and the
//! web review page ([`web`]), whose handlers send jobs to one
//! worker thread owning the blocking [`polc_provision::Provision`] through a bounded queue
//! ([`worker`]); the schedule ([`schedule`]) and the policy watcher send it jobs too.
//! Webhook deliveries go to the receiver ([`receiver`]), a thread with a connection of its
//! own that stores them and wakes the worker, which records them in batches.
//! SIGHUP reloads, SIGTERM stops accepting, lets in-flight requests and the current job
//! finish, and exits 0; what was stored but not done is done at the next start.

pub mod api;
pub mod auth;
pub mod metrics;
pub mod reads;
pub mod receiver;
pub mod replicas;
pub mod schedule;
pub mod tls;
pub mod web;
pub mod webhook;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use polc_provision::config::Project;
use polc_provision::{Connectors, DefaultConnectors, Provision};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::worker::{ConnectorsFactory, Job, Worker, SERVICE};

/// How the service runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The project file (`polc.toml`).
    pub config: PathBuf,
    /// Overrides `[server] listen`.
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Logs as JSON lines instead of text.
    pub log_json: bool,
    /// Jobs waiting for the worker before requests get 503.
    pub queue: usize,
    /// A request's time limit.
    pub request_timeout: Duration,
    /// How often the policies and the project file are checked for changes (zero: never;
    /// SIGHUP and `POST /v1/reload` still reload).
    pub watch_interval: Duration,
}

impl Options {
    pub fn new(config: PathBuf) -> Options {
        Options {
            config,
            listen: None,
            tls_cert: None,
            tls_key: None,
            log_json: false,
            queue: 64,
            request_timeout: Duration::from_secs(60),
            watch_interval: Duration::from_secs(2),
        }
    }
}

/// Logs to stderr: text, or JSON lines. `RUST_LOG` filters (default `info`).
pub fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if json {
        b.json().flatten_event(true).try_init()
    } else {
        b.try_init()
    };
}

/// Runs the service until SIGTERM or SIGINT. `Err`: it could not start (a message for
/// the user).
pub fn run(opts: Options) -> Result<(), String> {
    run_with(
        opts,
        Arc::new(|| Box::new(DefaultConnectors) as Box<dyn Connectors>),
    )
}

/// [`run`] with given connectors.
pub fn run_with(opts: Options, connectors: ConnectorsFactory) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("polc-serve")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(serve(opts, connectors))
}

async fn serve(opts: Options, connectors: ConnectorsFactory) -> Result<(), String> {
    let project = Project::load(&opts.config).map_err(|e| e.to_string())?;
    let auth = Auth::from_config(&project.server)?;
    if auth.is_empty() {
        warn!("[server.tokens] is empty: every request but /healthz will be refused");
    }
    let secret = match &project.server.webhook_secret_env {
        None => {
            warn!("[server] webhook_secret_env is not set: POST /v1/hris/events answers 503");
            None
        }
        Some(var) => {
            let v = std::env::var(var).map_err(|_| {
                format!("[server] webhook_secret_env names `{var}`, which is not set: export it (the `whsec_` secret the HRIS signs with)")
            })?;
            Some(webhook::Secret::parse(&v).map_err(|e| format!("${var}: {e}"))?)
        }
    };
    let schedules = schedule::parse(&project.schedule)?;
    let listen = opts
        .listen
        .clone()
        .unwrap_or_else(|| project.server.listen.clone());
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let watched = watched_paths(&project);
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let auth = Arc::new(RwLock::new(Arc::new(auth)));
    let (jobs_tx, mut jobs_rx) = mpsc::channel::<Job>(opts.queue.max(1));
    // the Provision (SQLite, connectors) lives on the worker thread: it is opened there
    let (opened_tx, opened_rx) = std::sync::mpsc::channel::<Result<String, String>>();
    let (config, m, r, a) = (
        opts.config.clone(),
        metrics.clone(),
        ready.clone(),
        auth.clone(),
    );
    let leases = Arc::new(replicas::Leases::new(std::time::Duration::from_secs(
        project.state.lease_seconds,
    )));
    let wake = receiver::Wake::new(&jobs_tx);
    let worker_wake = wake.clone();
    let worker_leases = leases.clone();
    let worker_schedules = schedules.clone();
    let state_config = project.state.clone();
    let readers = Arc::new(reads::Readers::new(project.state.clone()));
    let worker_readers = readers.clone();
    let worker_thread = std::thread::Builder::new()
        .name("polc-worker".into())
        .spawn(move || {
            // the heartbeat renews this process's leases on a connection of its own
            let beat = match polc_provision::state::State::open_config(&project.state) {
                Ok(st) => st,
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let hb = worker_leases.clone();
            if let Err(e) = std::thread::Builder::new()
                .name("polc-leases".into())
                .spawn(move || hb.heartbeat(beat))
            {
                let _ = opened_tx.send(Err(format!("cannot start the lease heartbeat: {e}")));
                return;
            }
            let opened = Provision::open(project, connectors())
                .map(|p| p.with_actor(SERVICE))
                .and_then(|mut p| p.bundle().map(|b| (p, b)));
            let p = match opened {
                Ok((p, b)) => {
                    let digest = b.digest.clone();
                    worker_readers.set_bundle(b);
                    let _ = opened_tx.send(Ok(digest));
                    p
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let mut worker = Worker {
                p,
                config,
                metrics: m,
                ready: r,
                auth: a,
                connectors,
                leases: worker_leases,
                schedules: worker_schedules,
                ticks: 0,
                wake: worker_wake,
                review_due: None,
                last_review: None,
                readers: worker_readers,
            };
            worker.resume();
            worker.mark_ready();
            while let Some(job) = jobs_rx.blocking_recv() {
                job(&mut worker);
            }
            worker.finish();
            worker.leases.give_up_all(&worker.p.state);
            info!("worker stopped: the queue is drained");
        })
        .map_err(|e| format!("cannot start the worker: {e}"))?;
    let digest = tokio::task::spawn_blocking(move || opened_rx.recv())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the worker stopped while opening the state".to_string())??;
    info!(bundle = %digest, config = %opts.config.display(), "policies loaded");

    // the receiver stores webhooks on a connection of its own (opened once the worker has
    // migrated the state)
    // migrated the state), opened on that thread: PostgreSQL's client runs a runtime of
    // its own, which cannot start inside this one
    let (deliveries_tx, deliveries_rx) = mpsc::channel(opts.queue.max(1));
    let receiver_metrics = metrics.clone();
    let (receiver_tx, receiver_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("polc-receiver".into())
        .spawn(
            move || match polc_provision::state::State::open_config(&state_config) {
                Ok(st) => {
                    let _ = receiver_tx.send(Ok(()));
                    receiver::run(st, deliveries_rx, receiver_metrics, wake)
                }
                Err(e) => {
                    let _ = receiver_tx.send(Err(e.to_string()));
                }
            },
        )
        .map_err(|e| format!("cannot start the receiver: {e}"))?;
    tokio::task::spawn_blocking(move || receiver_rx.recv())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the receiver stopped while opening the state".to_string())??;
    let state = api::AppState::new(
        jobs_tx.clone(),
        deliveries_tx,
        readers,
        auth,
        secret,
        metrics.clone(),
        ready,
        opts.request_timeout,
    );
    // the review pages (`/`, HTML) beside the API (`/v1/…`, JSON); cookies are `Secure` under TLS
    let pages = web::WebState::new(state.clone(), tls.is_some());
    let app = web::router(pages).merge(api::router(state));
    let (stop_tx, stop_rx) = watch::channel(false);
    for (job, sched) in schedules {
        tokio::spawn(schedule::run(job, sched, jobs_tx.clone(), stop_rx.clone()));
    }
    tokio::spawn(schedule::midnight(jobs_tx.clone(), stop_rx.clone()));
    tokio::spawn(schedule::ticks(jobs_tx.clone(), stop_rx.clone()));
    if !opts.watch_interval.is_zero() {
        tokio::spawn(watch_policies(
            watched,
            opts.watch_interval,
            jobs_tx.clone(),
            stop_rx.clone(),
        ));
    }
    tokio::spawn(signals(jobs_tx.clone(), stop_tx));
    drop(jobs_tx);

    let tcp = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
    info!(listen = %addr, tls = tls.is_some(), "serving");
    let mut stop = stop_rx.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
        info!("stopping: no new connections; in-flight requests finish");
    };
    let r = match tls {
        Some(acc) => {
            axum::serve(tls::TlsListener::new(tcp, acc), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => axum::serve(tcp, app).with_graceful_shutdown(shutdown).await,
    };
    if let Err(e) = r {
        error!(error = %e, "the server failed");
    }
    // every sender is gone once the background tasks have seen the stop: the worker
    // finishes the jobs already queued and ends
    let _ = tokio::task::spawn_blocking(move || worker_thread.join()).await;
    info!("stopped");
    Ok(())
}

/// SIGHUP: reload. SIGTERM, SIGINT: stop.
async fn signals(jobs: mpsc::Sender<Job>, stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot install the signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                info!("SIGHUP: reloading");
                let job: Job = Box::new(|w: &mut Worker| { let _ = w.reload(SERVICE, "SIGHUP"); });
                if jobs.send(job).await.is_err() { return; }
            }
            _ = term.recv() => { info!("SIGTERM"); break; }
            _ = int.recv() => { info!("SIGINT"); break; }
        }
    }
    let _ = stop.send(true);
}

/// The files whose change means a reload: the project file, the policies or the bundle.
fn watched_paths(p: &Project) -> Vec<PathBuf> {
    let mut v = vec![p.file.clone()];
    v.extend(p.policies.paths.iter().cloned());
    v.extend(p.policies.bundle.iter().cloned());
    v
}

fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    fn walk(p: &Path, out: &mut Vec<(PathBuf, u64, Option<std::time::SystemTime>)>) {
        let Ok(md) = std::fs::metadata(p) else {
            out.push((p.to_path_buf(), u64::MAX, None));
            return;
        };
        if md.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        } else {
            out.push((p.to_path_buf(), md.len(), md.modified().ok()));
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

/// Reloads when the project file, the policy folder or the bundle changes.
async fn watch_policies(
    paths: Vec<PathBuf>,
    every: Duration,
    jobs: mpsc::Sender<Job>,
    mut stop: watch::Receiver<bool>,
) {
    let fp = |p: Vec<PathBuf>| async move {
        tokio::task::spawn_blocking(move || fingerprint(&p))
            .await
            .unwrap_or_default()
    };
    let mut last = fp(paths.clone()).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = fp(paths.clone()).await;
        if now != last {
            last = now;
            info!("the policies or the project file changed: reloading");
            let job: Job = Box::new(|w: &mut Worker| {
                let _ = w.reload(SERVICE, "changed on disk");
            });
            if jobs.send(job).await.is_err() {
                return;
            }
        }
    }
}
