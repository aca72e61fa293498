//! A load generator for `polc serve` (docs/PERFORMANCE.md, "polc serve under load").
//!
//! Open loop: requests are scheduled by the clock at the target rate, whatever the server
//! answers; latency is measured from each request's *scheduled* send time (a request that
//! waits for a free connection counts its wait: no coordinated omission). At most
//! `--concurrency` requests are in flight; the rest wait, and their wait counts.
//!
//! Modes:
//! - `webhooks`: signed Standard Webhooks deliveries of HRIS events (each a hire of a new
//!   person into Engineering, who gets `github:org:engineering` in the `auto` system) to
//!   `POST /v1/hris/events`; then waits until every event is processed, and reads the audit
//!   log: each event's time from its scheduled send to the `confirmed` entry of its apply
//!   (end to end), and whether every event sent is accounted for (sent = processed =
//!   confirmed).
//! - `reads`: `GET /v1/users/{id}` of people of the baseline, with a viewer token.
//! - `mixed`: both at once (`--rate` webhooks, `--read-rate` reads).
//!
//! Without `--url` it starts `polc serve` itself on a new project in a temporary folder:
//! the seed policies (`polc init`), `github` on the `file` connector in `auto` mode,
//! `gitlab` in `review` mode (as `tests/it/serve.rs` `project()`; `--no-review` turns it
//! off), a baseline snapshot of `--people` synthetic people, tokens and a webhook secret of
//! its own. `--serve-arg ARG` passes ARG on to `polc serve`; the service's RSS is sampled
//! every `--rss-every` seconds. With `--url`, give the tokens and secret of that service.
//!
//! Several replicas: `--replicas N` starts N `polc serve` on the one project and state
//! (`--postgres` starts a throwaway PostgreSQL cluster of the machine's own PostgreSQL,
//! with its default durability, and puts the state there; `--state-url URL` uses a database
//! of yours); requests go round-robin to the replicas (`--url` may be repeated for services
//! started elsewhere), and the processed counter is summed over them.
//!
//! `cargo build --release --bin polc && cargo run -p polc-benches --release --bin polc-load --
//! --mode webhooks --rate 200 --duration 60`

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Parser, ValueEnum};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Webhooks,
    Reads,
    Mixed,
}

#[derive(Parser, Debug)]
#[command(
    name = "polc-load",
    about = "Open-loop load generator for `polc serve`"
)]
struct Args {
    /// What to send.
    #[arg(long, value_enum, default_value = "webhooks")]
    mode: Mode,
    /// Requests a second: webhook deliveries (webhooks, mixed) or reads (reads).
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Reads a second in `mixed` mode.
    #[arg(long, default_value_t = 1000.0)]
    read_rate: f64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Requests in flight at most (one connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events in one webhook delivery.
    #[arg(long, default_value_t = 1)]
    events_per_delivery: usize,
    /// A running service instead of starting one (repeat for several replicas of one
    /// service: requests go round-robin).
    #[arg(long)]
    url: Vec<String>,
    /// Replicas of `polc serve` to start on the project (more than one needs a
    /// PostgreSQL state: --postgres or --state-url).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Start a throwaway PostgreSQL cluster (the machine's PostgreSQL, its default
    /// durability: fsync and synchronous commit on) and keep the state there, over plain
    /// TCP on loopback.
    #[arg(long)]
    postgres: bool,
    /// With --postgres: connect over TLS (`sslmode=verify-full` with the cluster's own CA).
    #[arg(long)]
    postgres_tls: bool,
    /// Keep the started project's state in this PostgreSQL database (`postgres://…`).
    #[arg(long)]
    state_url: Option<String>,
    /// With --url: the hris token.
    #[arg(long)]
    hris_token: Option<String>,
    /// With --url: a viewer token.
    #[arg(long)]
    viewer_token: Option<String>,
    /// With --url: the `whsec_…` webhook secret.
    #[arg(long)]
    secret: Option<String>,
    /// With --url: user ids to read (comma-separated); default: the baseline's ids.
    #[arg(long)]
    read_ids: Option<String>,
    /// The `polc` binary to start (default: target/release/polc of this workspace).
    #[arg(long)]
    polc: Option<PathBuf>,
    /// An argument passed on to `polc serve` (repeat for several).
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// People in the baseline snapshot of the project it starts.
    #[arg(long, default_value_t = 1000)]
    people: usize,
    /// The started project has no `review` system (only `github` in `auto`).
    #[arg(long)]
    no_review: bool,
    /// Keep the started project's folder (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Sample the started service's RSS every this many seconds.
    #[arg(long, default_value_t = 5.0)]
    rss_every: f64,
    /// Seconds to wait, after sending, for every event to be processed.
    #[arg(long, default_value_t = 300.0)]
    drain_timeout: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

const SECRET_VAR: &str = "POLC_LOAD_WEBHOOK_SECRET";

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_idle_connections(1024)
        .max_idle_connections_per_host(1024)
        .build()
        .into()
}

// ---- the service under test ----

struct Service {
    bases: Vec<String>,
    hris: String,
    viewer: String,
    secret: String,
    children: Vec<Child>,
    dir: Option<tempfile::TempDir>,
    keep: bool,
    ids: Vec<String>,
}

impl Drop for Service {
    fn drop(&mut self) {
        for c in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        for c in &mut self.children {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            if self.keep {
                let p = d.keep();
                eprintln!("project kept in {}", p.display());
            }
        }
    }
}

impl Service {
    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.id()).collect()
    }
}

fn person(id: &str, department: &str, title: &str, start: &str) -> Value {
    json!({"user_id": id, "email": format!("{id}@company.com"), "first_name": "Load", "last_name": "Person",
        "job_title": title, "department": department, "team": "Platform", "employment_type": "FTE",
        "employment_status": "Active", "start_date": start, "manager": "john.doe@company.com",
        "location": "Berlin", "cost_center": "CC-9"})
}

/// The baseline: the seed's five people and `n` synthetic ones (a third in Engineering).
fn baseline(seed: &str, n: usize) -> (String, Vec<String>) {
    let mut people: Vec<Value> = serde_json::from_str(seed).expect("the seed users");
    for i in 0..n {
        let (dept, title) = match i % 3 {
            0 => ("Engineering", "Software Engineer"),
            1 => ("Sales", "Account Executive"),
            _ => ("Sales", "Sales Engineer"),
        };
        people.push(person(&format!("base.{i:06}"), dept, title, "2024-01-15"));
    }
    let ids = people
        .iter()
        .filter_map(|p| p["user_id"].as_str().map(str::to_string))
        .collect();
    (Value::Array(people).to_string(), ids)
}

fn start_service(a: &Args) -> Service {
    let polc = a
        .polc
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/polc"));
    assert!(
        polc.exists(),
        "{}: build it first (`cargo build --release --bin polc`) or give --polc",
        polc.display()
    );
    let dir = tempfile::Builder::new()
        .prefix("polc-load-")
        .tempdir()
        .expect("a temporary folder");
    let root = dir.path();
    polc_provision::init(root).expect("polc init");
    std::fs::write(root.join("systems/github.json"), "[]\n").unwrap();
    let seed = std::fs::read_to_string(root.join("hris/users.json")).unwrap();
    let (users, ids) = baseline(&seed, a.people);
    std::fs::write(root.join("hris/users.json"), &users).unwrap();
    let hris = "load-hris-token-3f9a1c".to_string();
    let viewer = "load-viewer-token-8b2e4d".to_string();
    let secret = format!(
        "whsec_{}",
        STANDARD.encode(b"polc-load-generator-secret-32byt")
    );
    let mut toml = std::fs::read_to_string(root.join("polc.toml")).unwrap();
    if a.no_review {
        toml = toml.replace("mode = \"review\"", "mode = \"off\"");
    }
    toml += "\n[systems.github]\nconnector = \"file\"\npath = \"systems/github.json\"\nmode = \"auto\"\n";
    toml += &format!("\n[server]\nwebhook_secret_env = \"{SECRET_VAR}\"\nfour_eyes = true\n");
    for (name, role, tok) in [("hr", "hris", &hris), ("vera", "viewer", &viewer)] {
        let sha = hex::encode(Sha256::digest(tok.as_bytes()));
        toml += &format!("\n[server.tokens.{name}]\nrole = \"{role}\"\nsha256 = \"{sha}\"\n");
    }
    std::fs::write(root.join("polc.toml"), toml).unwrap();
    let state_url = match (&a.state_url, a.postgres) {
        (Some(u), _) => Some(u.clone()),
        (None, true) => {
            let pg = polc_provision::pgtest::PgCluster::start_own(
                polc_provision::pgtest::Durability::Full,
            )
            .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
            eprintln!("PostgreSQL cluster on port {} (fsync on)", pg.port);
            let url = if a.postgres_tls {
                format!(
                    "{}?sslmode=verify-full&sslrootcert={}",
                    pg.database(),
                    pg.ca_file().display()
                )
            } else {
                format!("{}?sslmode=disable", pg.database())
            };
            // the cluster is stopped and removed when this process exits
            std::mem::forget(pg);
            Some(url)
        }
        (None, false) => None,
    };
    assert!(
        a.replicas <= 1 || state_url.is_some(),
        "several replicas share a PostgreSQL state: --postgres or --state-url"
    );
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for k in 0..a.replicas.max(1) {
        let (child, addr) = start_replica(a, &polc, root, k, state_url.as_deref(), &secret);
        children.push(child);
        bases.push(format!("http://{addr}"));
    }
    let svc = Service {
        bases,
        hris,
        viewer,
        secret,
        children,
        dir: Some(dir),
        keep: a.keep,
        ids,
    };
    let ag = agent(Duration::from_secs(600));
    let auth = |t: &str| format!("Bearer {t}");
    let ready = Instant::now();
    for base in &svc.bases {
        loop {
            let r = ag
                .get(format!("{base}/readyz"))
                .header("authorization", auth(&svc.viewer))
                .call();
            if r.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(ready.elapsed() < Duration::from_secs(120), "not ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let t = Instant::now();
    let mut r = ag
        .post(format!("{}/v1/hris/snapshot", svc.bases[0]))
        .header("authorization", auth(&svc.hris))
        .header("content-type", "application/json")
        .send(users.as_bytes())
        .expect("the snapshot");
    let body = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(r.status(), 200, "the baseline snapshot: {body}");
    // the worker reconciles after the snapshot: readyz waits behind it
    let _ = ag
        .get(format!("{}/readyz", svc.bases[0]))
        .header("authorization", auth(&svc.viewer))
        .call();
    eprintln!(
        "service {} on {} ({} people in the baseline, imported and reconciled in {:.1} s)",
        svc.bases.join(" "),
        svc.dir.as_ref().unwrap().path().display(),
        svc.ids.len(),
        t.elapsed().as_secs_f64()
    );
    svc
}

/// Starts replica `k` of `polc serve` on the project at `root`: the child and the address
/// it listens on. Its log goes to `serve.log` (the first) or `serve-K.log`.
fn start_replica(
    a: &Args,
    polc: &Path,
    root: &Path,
    k: usize,
    state_url: Option<&str>,
    secret: &str,
) -> (Child, String) {
    let name = if k == 0 {
        "serve.log".to_string()
    } else {
        format!("serve-{k}.log")
    };
    let log = std::fs::File::create(root.join(&name)).unwrap();
    let mut cmd = Command::new(polc);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--config",
    ])
    .arg(root.join("polc.toml"));
    if let Some(u) = state_url {
        cmd.args(["--state-url", u]);
    }
    let mut child = cmd
        .args(&a.serve_args)
        .env(SECRET_VAR, secret)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("polc serve starts");
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = std::io::BufWriter::new(log);
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("\"serving\"") {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                let _ = tx.send(v["listen"].as_str().unwrap_or_default().to_string());
            }
            let _ = writeln!(log, "{line}");
        }
        let _ = log.flush();
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("polc serve did not start: see {name} (--keep)"));
    (child, addr)
}

// ---- signing ----

fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(
            secret
                .trim()
                .strip_prefix("whsec_")
                .unwrap_or(secret.trim()),
        )
        .expect("the secret is whsec_ and base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---- the open loop ----

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Kind {
    Webhook,
    Read,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Webhook => "webhooks",
            Kind::Read => "reads",
        }
    }
}

struct Job {
    kind: Kind,
    n: u64,
    at: Instant,
}

/// One request's outcome: kind, latency from its scheduled time (µs), status (0: no answer).
struct Done {
    kind: Kind,
    n: u64,
    latency_us: u64,
    status: u16,
}

struct Shared {
    /// The replicas' addresses: request `n` goes to `bases[n % len]`.
    bases: Vec<String>,
    hris: String,
    viewer: String,
    secret: String,
    run: String,
    events_per_delivery: usize,
    ids: Vec<String>,
    today: String,
}

impl Shared {
    fn webhook_users(&self, n: u64) -> Vec<String> {
        (0..self.events_per_delivery)
            .map(|k| format!("load.{}.{n}.{k}", self.run))
            .collect()
    }

    fn base(&self, n: u64) -> &str {
        &self.bases[(n as usize) % self.bases.len()]
    }

    fn send(&self, ag: &ureq::Agent, job: &Job) -> u16 {
        let base = self.base(job.n);
        let r = match job.kind {
            Kind::Webhook => {
                let events: Vec<Value> = self
                    .webhook_users(job.n)
                    .iter()
                    .map(|u| {
                        let mut p = person(u, "Engineering", "Software Engineer", &self.today);
                        p["event"] = json!("employee.hired");
                        p
                    })
                    .collect();
                let body = if events.len() == 1 {
                    events[0].to_string()
                } else {
                    Value::Array(events).to_string()
                };
                let id = format!("load_{}_{}", self.run, job.n);
                let ts = chrono::Utc::now().timestamp();
                let sig = sign(&self.secret, &id, ts, body.as_bytes());
                ag.post(format!("{base}/v1/hris/events"))
                    .header("authorization", format!("Bearer {}", self.hris))
                    .header("content-type", "application/json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .send(body.as_bytes())
            }
            Kind::Read => {
                let id = &self.ids[(job.n as usize * 7919) % self.ids.len()];
                ag.get(format!("{base}/v1/users/{id}"))
                    .header("authorization", format!("Bearer {}", self.viewer))
                    .call()
            }
        };
        match r {
            Ok(mut resp) => {
                let _ = resp.body_mut().read_to_vec();
                resp.status().as_u16()
            }
            Err(_) => 0,
        }
    }
}

/// Schedules `kind` at `rate` a second for `duration` from `start` into `tx`.
fn schedule(
    kind: Kind,
    rate: f64,
    duration: Duration,
    start: Instant,
    tx: mpsc::Sender<Job>,
    late: Arc<AtomicU64>,
) {
    let total = (rate * duration.as_secs_f64()).round() as u64;
    for n in 0..total {
        let at = start + Duration::from_secs_f64(n as f64 / rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        } else if now - at > Duration::from_millis(5) {
            late.fetch_add(1, Ordering::Relaxed);
        }
        if tx.send(Job { kind, n, at }).is_err() {
            return;
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn summary_ms(mut v: Vec<u64>) -> Value {
    v.sort_unstable();
    json!({
        "count": v.len(),
        "p50_ms": percentile(&v, 50.0),
        "p90_ms": percentile(&v, 90.0),
        "p99_ms": percentile(&v, 99.0),
        "p999_ms": percentile(&v, 99.9),
        "max_ms": v.last().map(|m| *m as f64 / 1000.0).unwrap_or(0.0),
    })
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A counter of `/metrics` (labels as printed), summed over the lines that start with it
/// and over the replicas; `None` unless every replica answered.
fn metric(ag: &ureq::Agent, s: &Shared, name: &str) -> Option<f64> {
    let mut total = None;
    for base in &s.bases {
        let mut r = ag
            .get(format!("{base}/metrics"))
            .header("authorization", format!("Bearer {}", s.viewer))
            .call()
            .ok()?;
        let text = r.body_mut().read_to_string().ok()?;
        *total.get_or_insert(0.0) += sum_metric(&text, name);
    }
    total
}

/// The sum of the values of the lines of a Prometheus text that start with `name`.
fn sum_metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.rsplit_once(' '))
                .and_then(|(_, v)| v.parse::<f64>().ok())
        })
        .sum()
}

fn rfc3339_ms(t: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_millis() as f64)
}

fn main() {
    let a = Args::parse();
    let svc = match a.url.first() {
        Some(_) => {
            let need = |o: &Option<String>, what: &str| {
                o.clone().unwrap_or_else(|| panic!("--url needs {what}"))
            };
            let (hris, secret) = if a.mode == Mode::Reads {
                (
                    a.hris_token.clone().unwrap_or_default(),
                    a.secret.clone().unwrap_or_default(),
                )
            } else {
                (
                    need(&a.hris_token, "--hris-token"),
                    need(&a.secret, "--secret"),
                )
            };
            Service {
                bases: a
                    .url
                    .iter()
                    .map(|u| u.trim_end_matches('/').to_string())
                    .collect(),
                hris,
                viewer: need(&a.viewer_token, "--viewer-token"),
                secret,
                children: Vec::new(),
                dir: None,
                keep: false,
                ids: a
                    .read_ids
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            }
        }
        None => start_service(&a),
    };
    if a.mode != Mode::Webhooks {
        assert!(!svc.ids.is_empty(), "reads need ids: --read-ids");
    }
    let run = format!("{:x}", (unix_ms() as u64) & 0xff_ffff);
    let shared = Arc::new(Shared {
        bases: svc.bases.clone(),
        hris: svc.hris.clone(),
        viewer: svc.viewer.clone(),
        secret: svc.secret.clone(),
        run,
        events_per_delivery: a.events_per_delivery.max(1),
        ids: svc.ids.clone(),
        today: chrono::Utc::now().date_naive().to_string(),
    });
    let control = agent(Duration::from_secs(600));
    let processed_metric = "polc_events_processed_total{outcome=";
    let processed_before = metric(&control, &shared, processed_metric).unwrap_or(0.0);

    // RSS and the processed counter over time
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let sampler = {
        let (stop, shared, pids) = (stop.clone(), shared.clone(), svc.pids());
        let every = Duration::from_secs_f64(a.rss_every.max(0.1));
        std::thread::spawn(move || {
            let ag = agent(Duration::from_secs(30));
            let mut out = Vec::new();
            loop {
                // the replicas' resident memory, together
                let rss: Option<u64> = if pids.is_empty() {
                    None
                } else {
                    pids.iter().map(|p| rss_kb(*p)).sum()
                };
                let processed = metric(&ag, &shared, processed_metric);
                out.push(json!({"t_s": (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0, "rss_kb": rss, "processed": processed}));
                let wake = Instant::now() + every;
                while Instant::now() < wake {
                    if stop.load(Ordering::Relaxed) {
                        return out;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
    };

    // workers: one connection each
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let mut workers = Vec::new();
    for _ in 0..a.concurrency.max(1) {
        let (rx, done_tx, shared) = (rx.clone(), done_tx.clone(), shared.clone());
        workers.push(std::thread::spawn(move || {
            let ag = agent(Duration::from_secs(120));
            loop {
                let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                    Ok(j) => j,
                    Err(_) => return,
                };
                let status = shared.send(&ag, &job);
                let latency_us = job.at.elapsed().as_micros() as u64;
                let _ = done_tx.send(Done {
                    kind: job.kind,
                    n: job.n,
                    latency_us,
                    status,
                });
            }
        }));
    }
    drop(done_tx);
    let duration = Duration::from_secs_f64(a.duration);
    let start = Instant::now() + Duration::from_millis(100);
    let start_wall_ms = unix_ms() + 100.0;
    let late = Arc::new(AtomicU64::new(0));
    let mut streams = Vec::new();
    let plan: Vec<(Kind, f64)> = match a.mode {
        Mode::Webhooks => vec![(Kind::Webhook, a.rate)],
        Mode::Reads => vec![(Kind::Read, a.rate)],
        Mode::Mixed => vec![(Kind::Webhook, a.rate), (Kind::Read, a.read_rate)],
    };
    for (kind, rate) in plan.clone() {
        let (tx, late) = (tx.clone(), late.clone());
        streams.push(std::thread::spawn(move || {
            schedule(kind, rate, duration, start, tx, late)
        }));
    }
    drop(tx);
    for s in streams {
        let _ = s.join();
    }
    let sent_s = start.elapsed().as_secs_f64();
    for w in workers {
        let _ = w.join();
    }
    let answered_s = start.elapsed().as_secs_f64();
    let mut lat: BTreeMap<Kind, Vec<u64>> = BTreeMap::new();
    let mut statuses: BTreeMap<Kind, BTreeMap<u16, u64>> = BTreeMap::new();
    let mut accepted: Vec<u64> = Vec::new();
    for d in done_rx.iter() {
        lat.entry(d.kind).or_default().push(d.latency_us);
        *statuses
            .entry(d.kind)
            .or_default()
            .entry(d.status)
            .or_default() += 1;
        if d.kind == Kind::Webhook && d.status == 202 {
            accepted.push(d.n);
        }
    }
    let mut report = json!({
        "mode": format!("{:?}", a.mode).to_lowercase(),
        "url": svc.bases.join(" "),
        "replicas": svc.bases.len(),
        "state": match (a.postgres, a.postgres_tls, &a.state_url) {
            (true, true, None) => "postgresql (TLS)",
            (true, false, None) => "postgresql (plain TCP)",
            (_, _, Some(_)) => "postgresql (--state-url)",
            _ if a.url.is_empty() => "sqlite",
            _ => "given",
        },
        "duration_s": a.duration,
        "concurrency": a.concurrency,
        "scheduled_late": late.load(Ordering::Relaxed),
        "send_phase_s": sent_s,
        "answered_s": answered_s,
        "people_baseline": svc.ids.len(),
        "events_per_delivery": shared.events_per_delivery,
        "serve_args": a.serve_args,
        "review_system": a.url.is_empty() && !a.no_review,
    });
    for (kind, rate) in &plan {
        let v = lat.remove(kind).unwrap_or_default();
        let st = statuses.remove(kind).unwrap_or_default();
        let ok = st
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum::<u64>();
        let errors: BTreeMap<String, u64> = st
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| {
                (
                    if *s == 0 {
                        "no_answer".to_string()
                    } else {
                        s.to_string()
                    },
                    *n,
                )
            })
            .collect();
        let n = v.len();
        report[kind.name()] = json!({
            "target_rate": rate,
            "sent": n,
            "ok": ok,
            "throughput_per_s": ok as f64 / answered_s,
            "errors": errors,
            "latency": summary_ms(v),
        });
    }

    // webhooks: wait until processed, then the end-to-end times from the audit log
    if a.mode != Mode::Reads {
        let events = accepted.len() * shared.events_per_delivery;
        let want = processed_before + events as f64;
        let wait = Instant::now();
        let mut last = processed_before;
        while wait.elapsed() < Duration::from_secs_f64(a.drain_timeout) {
            last = metric(&control, &shared, processed_metric).unwrap_or(last);
            if last >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let drained_s = start.elapsed().as_secs_f64();
        // when each of our people's event was recorded, and their grant confirmed
        let prefix = format!("load.{}.", shared.run);
        let mut recorded: HashMap<String, f64> = HashMap::new();
        let mut confirmed: HashMap<String, f64> = HashMap::new();
        let mut after = 0i64;
        loop {
            let mut tries = 0;
            let text = loop {
                let mut r = control
                    .get(format!(
                        "{}/v1/audit?after={after}&limit=2000",
                        shared.bases[0]
                    ))
                    .header("authorization", format!("Bearer {}", shared.viewer))
                    .call()
                    .expect("the audit log");
                let busy = r.status() == 503;
                let text = r
                    .body_mut()
                    .with_config()
                    .limit(1 << 30)
                    .read_to_string()
                    .expect("the audit log's page");
                tries += 1;
                if !busy || tries > 60 {
                    break text;
                }
                std::thread::sleep(Duration::from_secs(1));
            };
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert!(v["entries"].is_array(), "GET /v1/audit: {text}");
            let entries = v["entries"].as_array().cloned().unwrap_or_default();
            if entries.is_empty() {
                break;
            }
            for e in &entries {
                let user = e["details"]["user_id"].as_str().unwrap_or_default();
                if !user.starts_with(&prefix) {
                    continue;
                }
                let Some(t) = e["time"].as_str().and_then(rfc3339_ms) else {
                    continue;
                };
                match e["kind"].as_str() {
                    Some("event") => {
                        recorded.entry(user.to_string()).or_insert(t);
                    }
                    Some("confirmed") if e["details"]["system"] == "github" => {
                        confirmed.entry(user.to_string()).or_insert(t);
                    }
                    _ => {}
                }
            }
            after = v["next_after"].as_i64().unwrap_or(after);
        }
        let interval_ms = 1000.0 / a.rate;
        let mut e2e = Vec::new();
        let mut recorded_lat = Vec::new();
        let mut missing_event = 0usize;
        let mut missing_confirm = 0usize;
        let mut last_confirm = 0f64;
        for n in &accepted {
            let scheduled = start_wall_ms + *n as f64 * interval_ms;
            for u in shared.webhook_users(*n) {
                match recorded.get(&u) {
                    Some(t) => recorded_lat.push(((t - scheduled).max(0.0) * 1000.0) as u64),
                    None => missing_event += 1,
                }
                match confirmed.get(&u) {
                    Some(t) => {
                        e2e.push(((t - scheduled).max(0.0) * 1000.0) as u64);
                        last_confirm = last_confirm.max(*t);
                    }
                    None => missing_confirm += 1,
                }
            }
        }
        let span_s = (last_confirm - start_wall_ms) / 1000.0;
        report["processing"] = json!({
            "events_sent": events,
            "processed_counter_delta": last - processed_before,
            "audit_events": recorded.len(),
            "audit_confirmed_github": confirmed.len(),
            "events_missing_in_audit": missing_event,
            "grants_not_confirmed": missing_confirm,
            "accounted": missing_event == 0 && missing_confirm == 0 && recorded.len() == events,
            "drained_after_s": drained_s,
            "events_confirmed_per_s": if span_s > 0.0 { confirmed.len() as f64 / span_s } else { 0.0 },
            "request_to_recorded": summary_ms(recorded_lat),
            "request_to_confirmed_apply": summary_ms(e2e),
        });
    }
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap_or_default();
    let rss: Vec<u64> = samples
        .iter()
        .filter_map(|s| s["rss_kb"].as_u64())
        .collect();
    if !rss.is_empty() {
        report["rss_kb"] = json!({
            "first": rss.first(),
            "last": rss.last(),
            "min": rss.iter().min(),
            "max": rss.iter().max(),
        });
    }
    report["samples"] = Value::Array(samples);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    } else {
        print_human(&report);
    }
    drop(svc);
}

fn print_human(r: &Value) {
    let l = |v: &Value| {
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
            v["p50_ms"].as_f64().unwrap_or(0.0),
            v["p90_ms"].as_f64().unwrap_or(0.0),
            v["p99_ms"].as_f64().unwrap_or(0.0),
            v["max_ms"].as_f64().unwrap_or(0.0),
            v["count"]
        )
    };
    println!(
        "{} for {} s against {} ({} replica(s), state {}; concurrency {}, {} people in the baseline)",
        r["mode"].as_str().unwrap_or(""),
        r["duration_s"],
        r["url"].as_str().unwrap_or(""),
        r["replicas"],
        r["state"].as_str().unwrap_or(""),
        r["concurrency"],
        r["people_baseline"]
    );
    for k in ["webhooks", "reads"] {
        let v = &r[k];
        if v.is_null() {
            continue;
        }
        println!(
            "{k}: target {}/s, {} sent, {} ok, {:.1}/s; errors {}",
            v["target_rate"],
            v["sent"],
            v["ok"],
            v["throughput_per_s"].as_f64().unwrap_or(0.0),
            v["errors"]
        );
        println!("  response latency: {}", l(&v["latency"]));
    }
    let p = &r["processing"];
    if !p.is_null() {
        println!(
            "processing: {} events sent, {} recorded and {} confirmed in the audit log (accounted: {}), {:.1} confirmed/s, drained after {:.1} s",
            p["events_sent"],
            p["audit_events"],
            p["audit_confirmed_github"],
            p["accounted"],
            p["events_confirmed_per_s"].as_f64().unwrap_or(0.0),
            p["drained_after_s"].as_f64().unwrap_or(0.0)
        );
        println!("  request to recorded: {}", l(&p["request_to_recorded"]));
        println!(
            "  request to confirmed apply: {}",
            l(&p["request_to_confirmed_apply"])
        );
    }
    if !r["rss_kb"].is_null() {
        println!("serve RSS (KB): {}", r["rss_kb"]);
    }
    if r["scheduled_late"].as_u64().unwrap_or(0) > 0 {
        println!(
            "warning: {} requests were scheduled more than 5 ms late (the generator was starved)",
            r["scheduled_late"]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference libraries' example.
    #[test]
    fn signs_as_the_reference_libraries() {
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn counters_are_summed_over_labels() {
        let text = "# TYPE polc_events_processed_total counter\npolc_events_processed_total{outcome=\"ok\"} 12\npolc_events_processed_total{outcome=\"rejected\"} 3\npolc_events_received_total 99\n";
        assert_eq!(
            sum_metric(text, "polc_events_processed_total{outcome="),
            15.0
        );
        assert_eq!(sum_metric(text, "polc_nothing"), 0.0);
    }

    #[test]
    fn requests_go_round_robin_to_the_replicas() {
        let s = Shared {
            bases: vec!["http://a".into(), "http://b".into()],
            hris: String::new(),
            viewer: String::new(),
            secret: String::new(),
            run: "r".into(),
            events_per_delivery: 1,
            ids: Vec::new(),
            today: String::new(),
        };
        let got: Vec<&str> = (0..4).map(|n| s.base(n)).collect();
        assert_eq!(got, ["http://a", "http://b", "http://a", "http://b"]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
