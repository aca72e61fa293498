//! `polc serve` as a process: signed HRIS webhooks (signed by the `standardwebhooks` PyPI
//! package, a client nobody here wrote), a hire provisioned in an `auto` system and queued
//! for review in a `review` one, approval through the API, every role against every route,
//! secrets never in the logs, SIGTERM and kill -9 then a restart that finishes the work.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::POLC;

pub(crate) const SECRET: &str = "whsec_c2VydmUtdGVzdC1zZWNyZXQtb2YtdGhpcnR5LXR3by1ieXRlcw==";
pub(crate) const SECRET_VAR: &str = "POLC_TEST_WEBHOOK_SECRET";
pub(crate) const TOKENS: &[(&str, &str, &str)] = &[
    ("vera", "viewer", "tok-viewer-5b1e0c7d9a"),
    ("rita", "reviewer", "tok-reviewer-8f2a6b3c1d"),
    ("otto", "operator", "tok-operator-4c9d2e7f0a"),
    ("hr", "hris", "tok-hris-1a7b3c9e5f"),
];

/// The token of a role of `TOKENS`; anything else is taken as a token itself.
pub(crate) fn token(role: &str) -> &str {
    TOKENS
        .iter()
        .find(|t| t.1 == role)
        .map(|t| t.2)
        .unwrap_or(role)
}

pub(crate) fn python() -> PathBuf {
    Path::new(root!()).join("target/test-venv/bin/python")
}

/// A project from the seed: `github` provisioned automatically, `gitlab` under review.
pub(crate) fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    polc_provision::init(dir.path()).unwrap();
    std::fs::write(dir.path().join("systems/github.json"), "[]\n").unwrap();
    let mut toml = std::fs::read_to_string(dir.path().join("polc.toml")).unwrap();
    toml += "\n[systems.github]\nconnector = \"file\"\npath = \"systems/github.json\"\nmode = \"auto\"\n";
    toml += &format!("\n[server]\nwebhook_secret_env = \"{SECRET_VAR}\"\nfour_eyes = true\n");
    for (name, role, tok) in TOKENS {
        let sha = hex::encode(Sha256::digest(tok.as_bytes()));
        toml += &format!("\n[server.tokens.{name}]\nrole = \"{role}\"\nsha256 = \"{sha}\"\n");
    }
    std::fs::write(dir.path().join("polc.toml"), toml).unwrap();
    dir
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    logs: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(dir, env, &[])
    }

    /// With more arguments; with `--tls-cert` the base is `https://` and readiness is left
    /// to the test.
    pub(crate) fn start_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let tls = args.contains(&"--tls-cert");
        let mut cmd = Command::new(POLC);
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--config",
        ])
        .arg(dir.join("polc.toml"))
        .args(args)
        .env(SECRET_VAR, SECRET)
        .env_remove("POLC_FAILPOINT")
        .env_remove("POLC_FAILPOINT_KILL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("\"serving\"") {
                    let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                    let _ = tx.send(v["listen"].as_str().unwrap_or_default().to_string());
                }
                let mut g = l.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("the service did not start:\n{}", logs.lock().unwrap());
            }
        };
        let s = Server {
            child,
            base: format!("{}://{addr}", if tls { "https" } else { "http" }),
            logs,
        };
        // ready: the worker has resumed what a previous run left
        if !tls {
            s.wait_for("ready", || s.get("/readyz", "viewer").0 == 200);
        }
        s
    }

    /// `host:port`.
    pub(crate) fn addr(&self) -> &str {
        self.base.split_once("://").unwrap().1
    }

    /// A metric's value (`name` with its labels, as printed), if printed.
    pub(crate) fn metric(&self, name: &str) -> Option<f64> {
        let (_, m) = self.send("GET", "/metrics", Some("viewer"), &[], None);
        let m = m.as_str().unwrap_or_default().to_string();
        m.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// Sends SIGHUP.
    fn hup(&self) {
        let _ = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status();
    }

    pub(crate) fn audit(&self) -> Vec<Value> {
        let (st, v) = self.get("/v1/audit?after=0&limit=5000", "viewer");
        assert_eq!(st, 200, "{v}");
        v["entries"].as_array().unwrap().clone()
    }

    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub(crate) fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into()
    }

    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        role: Option<&str>,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let agent = Server::agent();
        let url = format!("{}{path}", self.base);
        let auth = role.map(|r| format!("Bearer {}", token(r)));
        let mut resp = match method {
            "GET" => {
                let mut rq = agent.get(&url);
                if let Some(a) = &auth {
                    rq = rq.header("authorization", a);
                }
                rq.call()
            }
            _ => {
                let mut rq = agent.post(&url).header("content-type", "application/json");
                if let Some(a) = &auth {
                    rq = rq.header("authorization", a);
                }
                for (k, v) in headers {
                    rq = rq.header(*k, v);
                }
                rq.send(body.unwrap_or(b"{}"))
            }
        }
        .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub(crate) fn get(&self, path: &str, role: &str) -> (u16, Value) {
        self.send("GET", path, Some(role), &[], None)
    }

    pub(crate) fn post(&self, path: &str, role: &str, body: &Value) -> (u16, Value) {
        self.send(
            "POST",
            path,
            Some(role),
            &[],
            Some(body.to_string().as_bytes()),
        )
    }

    /// Posts a body signed by the reference library.
    pub(crate) fn webhook(&self, id: &str, body: &str, ts: i64, secret: &str) -> (u16, Value) {
        let sig = sign(secret, id, ts, body);
        self.webhook_raw(id, ts, &sig, body)
    }

    pub(crate) fn webhook_raw(&self, id: &str, ts: i64, sig: &str, body: &str) -> (u16, Value) {
        self.webhook_as("hris", id, ts, sig, body)
    }

    pub(crate) fn webhook_as(
        &self,
        who: &str,
        id: &str,
        ts: i64,
        sig: &str,
        body: &str,
    ) -> (u16, Value) {
        self.send(
            "POST",
            "/v1/hris/events",
            Some(who),
            &[
                ("webhook-id", id.into()),
                ("webhook-timestamp", ts.to_string()),
                ("webhook-signature", sig.into()),
            ],
            Some(body.as_bytes()),
        )
    }

    pub(crate) fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            if start.elapsed() > Duration::from_secs(60) {
                panic!("timed out waiting for {what}; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to `secs` for the process to die by itself (a fail point's SIGKILL).
    pub(crate) fn wait_killed(&mut self, secs: u64) {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "not killed:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn term(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no exit after SIGTERM:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `webhook-signature` as the `standardwebhooks` package computes it.
pub(crate) fn sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    let mut p = Command::new(python())
        .args([
            "-c",
            "import sys, datetime\nfrom standardwebhooks import Webhook\n\
             body = sys.stdin.read()\n\
             ts = datetime.datetime.fromtimestamp(int(sys.argv[3]), tz=datetime.timezone.utc)\n\
             print(Webhook(sys.argv[1]).sign(sys.argv[2], ts, body))",
            secret,
            id,
            &ts.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("target/test-venv: run `bash .ci/deps`");
    p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub(crate) fn hire(user: &str, department: &str, start: chrono::NaiveDate) -> Value {
    json!({"event": "employee.hired", "user_id": user, "email": format!("{user}@company.com"),
        "first_name": "New", "last_name": "Person", "job_title": "Software Engineer",
        "department": department, "team": "Platform", "employment_type": "FTE",
        "employment_status": "Active", "start_date": start.to_string(),
        "manager": "john.doe@company.com", "location": "Berlin", "cost_center": "CC-9"})
}

pub(crate) fn snapshot(s: &Server, dir: &Path) {
    let users = std::fs::read(dir.join("hris/users.json")).unwrap();
    let (st, v) = s.send("POST", "/v1/hris/snapshot", Some("hris"), &[], Some(&users));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["baseline"], true, "{v}");
}

pub(crate) fn holds(dir: &Path, system: &str, user: &str) -> usize {
    let text =
        std::fs::read_to_string(dir.join(format!("systems/{system}.json"))).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| a.iter().filter(|e| e["user_id"] == user).count())
        .unwrap_or(0)
}

pub(crate) fn pending(s: &Server) -> Vec<Value> {
    let (st, v) = s.get("/v1/plans?status=pending", "viewer");
    assert_eq!(st, 200, "{v}");
    v["plans"].as_array().unwrap().clone()
}

#[test]
fn a_hire_by_webhook_is_provisioned_in_auto_and_approved_through_the_api_in_review() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let body = hire("new.person", "Engineering", today()).to_string();
    let (st, v) = s.webhook("msg_hire_1", &body, now(), SECRET);
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["duplicate"], false);
    // auto: applied at once
    s.wait_for("github to hold new.person", || {
        holds(dir.path(), "github", "new.person") > 0
    });
    // review: queued, not applied (the snapshot's own review plan may be pending first,
    // until the plan with the hire supersedes it)
    s.wait_for("a pending plan with the hire", || {
        pending(&s).iter().any(|p| {
            let id = p["id"].as_str().unwrap_or_default();
            s.get(&format!("/v1/plans/{id}"), "viewer").1["plan"]["actions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["user_id"] == "new.person"))
        })
    });
    assert_eq!(holds(dir.path(), "gitlab", "new.person"), 0);
    let plans = pending(&s);
    assert_eq!(plans.len(), 1, "{plans:?}");
    let id = plans[0]["id"].as_str().unwrap().to_string();
    let digest = plans[0]["digest"].as_str().unwrap().to_string();
    let (st, plan) = s.get(&format!("/v1/plans/{id}"), "viewer");
    assert_eq!(st, 200);
    let actions = plan["plan"]["actions"].as_array().unwrap();
    assert!(actions.iter().all(|a| a["system"] == "gitlab"), "{plan}");
    assert!(
        actions.iter().any(|a| a["user_id"] == "new.person"),
        "{plan}"
    );
    // a viewer may not approve; a wrong digest is refused; the reviewer's approval applies
    assert_eq!(
        s.post(
            &format!("/v1/plans/{id}/approve"),
            "viewer",
            &json!({"digest": digest})
        )
        .0,
        403
    );
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "reviewer",
        &json!({"digest": "sha256:0"}),
    );
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"]["code"], "refused");
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "reviewer",
        &json!({"digest": digest}),
    );
    assert_eq!(st, 200, "{v}");
    assert!(holds(dir.path(), "gitlab", "new.person") > 0);
    let (_, v) = s.get(&format!("/v1/plans/{id}"), "viewer");
    assert_eq!(v["review"]["status"], "applied", "{v}");
    assert_eq!(v["review"]["decided_by"], "rita", "{v}");
    // the approver audited is the token's name
    let (_, audit) = s.get("/v1/audit?after=0&limit=5000", "viewer");
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "approval" && e["details"]["approver"] == "rita"),
        "{audit}"
    );
    // the person's view
    let (st, u) = s.get("/v1/users/new.person", "viewer");
    assert_eq!(st, 200, "{u}");
    assert_eq!(u["record"]["department"], "Engineering");
    assert!(
        u["observed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["system"] == "github"),
        "{u}"
    );
    let (st, x) = s.get(
        "/v1/users/new.person/explain?grant=github:org:engineering",
        "viewer",
    );
    assert_eq!(st, 200, "{x}");
    let (st, _) = s.get("/v1/users/nobody", "viewer");
    assert_eq!(st, 404);
    let (st, e) = s.post("/v1/evaluate", "viewer", &json!({"record": hire("what.if", "Sales", today()).as_object().unwrap().iter().filter(|(k, _)| *k != "event").map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>()}));
    assert_eq!(st, 200, "{e}");
    let (_, m) = s.send("GET", "/metrics", Some("operator"), &[], None);
    let m = m.as_str().unwrap_or_default().to_string();
    assert!(m.contains("polc_events_received_total 1"), "{m}");
    assert!(m.contains("polc_actions_total{status=\"done\"}"), "{m}");
    assert_eq!(s.term().code(), Some(0));
}

/// Deliveries sent back to back are stored at once and processed in batches: each event
/// once, each person's in order; the plan after them covers the people they recorded
/// (applied in `auto`), and the `review` plan of everyone is queued once they stop.
#[test]
fn deliveries_back_to_back_are_processed_once_each_in_order_per_person() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let day = today().to_string();
    let moved = |id: &str, from: &str, to: &str| {
        json!({"event": "employee.updated", "user_id": id, "effective_date": day,
            "changes": {"department": {"old": from, "new": to}}})
    };
    let mut sent = vec![
        hire("mover.one", "Engineering", today()),
        moved("mover.one", "Engineering", "Sales"),
        moved("mover.one", "Sales", "Engineering"),
    ];
    sent.extend((0..30).map(|i| hire(&format!("burst.{i:02}"), "Engineering", today())));
    let answers: Vec<u16> = sent
        .iter()
        .enumerate()
        .map(|(i, e)| {
            s.webhook(&format!("msg_burst_{i}"), &e.to_string(), now(), SECRET)
                .0
        })
        .collect();
    assert!(answers.iter().all(|a| *a == 202), "{answers:?}");
    s.wait_for("every event processed", || {
        s.metric("polc_events_processed_total{outcome=\"processed\"}") == Some(sent.len() as f64)
    });
    s.wait_for("every hire in github", || {
        (0..30).all(|i| holds(dir.path(), "github", &format!("burst.{i:02}")) > 0)
    });
    let audit = s.audit();
    let events: Vec<&Value> = audit
        .iter()
        .filter(|e| e["kind"] == "event" && e["details"]["user_id"] == "mover.one")
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["details"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["joiner", "mover", "mover"], "{events:?}");
    for i in 0..30 {
        let n = audit
            .iter()
            .filter(|e| e["kind"] == "event" && e["details"]["user_id"] == format!("burst.{i:02}"))
            .count();
        assert_eq!(n, 1, "burst.{i:02}");
    }
    let (_, u) = s.get("/v1/users/mover.one", "viewer");
    assert_eq!(u["record"]["department"], "Engineering", "{u}");
    assert!(holds(dir.path(), "github", "mover.one") > 0);
    // the auto plans after events are plans of the people the events recorded
    let (_, plans) = s.get("/v1/plans", "viewer");
    let auto: Vec<&Value> = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "auto")
        .collect();
    assert!(!auto.is_empty(), "{plans}");
    for p in &auto[..auto.len() - 1] {
        let (_, v) = s.get(
            &format!("/v1/plans/{}", p["id"].as_str().unwrap()),
            "viewer",
        );
        assert!(v["plan"]["scope"].is_array(), "{v}");
    }
    // the review plan of everyone, once the events stopped
    s.wait_for("a pending review plan with every hire", || {
        pending(&s).iter().any(|p| {
            let (_, v) = s.get(
                &format!("/v1/plans/{}", p["id"].as_str().unwrap()),
                "viewer",
            );
            let actions = v["plan"]["actions"].as_array().unwrap();
            (0..30).all(|i| {
                actions
                    .iter()
                    .any(|a| a["system"] == "gitlab" && a["user_id"] == format!("burst.{i:02}"))
            })
        })
    });
    assert_eq!(pending(&s).len(), 1);
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn webhook_signatures_timestamps_replays_and_order() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let body = json!({"event": "employee.updated", "user_id": "sarah.chen", "effective_date": today().to_string(),
        "changes": {"job_title": {"old": "Sales Engineer", "new": "Solutions Architect"}}})
    .to_string();
    // tampered body: signed one, sent another
    let sig = sign(SECRET, "msg_1", now(), &body);
    let (st, v) = s.webhook_raw(
        "msg_1",
        now(),
        &sig,
        &body.replace("Architect", "Architekt"),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("bad_signature")),
        "{v}"
    );
    // wrong secret
    let (st, v) = s.webhook(
        "msg_1",
        &body,
        now(),
        "whsec_d3Jvbmctc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM=",
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("bad_signature")),
        "{v}"
    );
    // stale and future timestamps
    let (st, v) = s.webhook("msg_1", &body, now() - 600, SECRET);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("stale_timestamp")),
        "{v}"
    );
    let (st, _) = s.webhook("msg_1", &body, now() + 600, SECRET);
    assert_eq!(st, 401);
    // no signature at all
    let (st, _) = s.send(
        "POST",
        "/v1/hris/events",
        Some("hris"),
        &[],
        Some(body.as_bytes()),
    );
    assert_eq!(st, 400);
    // valid; several signatures, one good
    let ts = now();
    let good = sign(SECRET, "msg_1", ts, &body);
    let (st, v) = s.webhook_raw("msg_1", ts, &format!("v1,Zm9vYmFy {good}"), &body);
    assert_eq!(st, 202, "{v}");
    // replayed: acknowledged, not processed again
    let (st, v) = s.webhook("msg_1", &body, now(), SECRET);
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["duplicate"], true, "{v}");
    s.wait_for("the update", || {
        s.get("/v1/users/sarah.chen", "viewer").1["record"]["job_title"] == "Solutions Architect"
    });
    let (_, audit) = s.get("/v1/audit?after=0&limit=5000", "viewer");
    let events = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "event" && e["details"]["user_id"] == "sarah.chen")
        .count();
    assert_eq!(events, 1, "{audit}");
    // an event dated before what is applied for that person: refused with the reason
    let yesterday = today().pred_opt().unwrap();
    let late = json!({"event": "employee.updated", "user_id": "sarah.chen", "effective_date": yesterday.to_string(),
        "changes": {"department": {"old": "Sales", "new": "Engineering"}}})
    .to_string();
    let (st, v) = s.webhook("msg_2", &late, now(), SECRET);
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("out_of_order")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("effective"),
        "{v}"
    );
    // one delivery out of order within itself is applied in effective-date order; a hire
    // dated tomorrow waits for its day
    let tomorrow = today().succ_opt().unwrap();
    let batch = json!([
        hire("later.person", "Engineering", tomorrow),
        hire("now.person", "Sales", today())
    ])
    .to_string();
    let (st, v) = s.webhook("msg_3", &batch, now(), SECRET);
    assert_eq!((st, &v["events"]), (202, &json!(2)), "{v}");
    s.wait_for("now.person", || {
        s.get("/v1/users/now.person", "viewer").0 == 200
    });
    assert_eq!(s.get("/v1/users/later.person", "viewer").0, 404);
    // not JSON events
    let (st, v) = s.webhook(
        "msg_4",
        "{\"event\": \"employee.fired\", \"user_id\": \"x\"}",
        now(),
        SECRET,
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_event")),
        "{v}"
    );
}

/// Each route of the OpenAPI document with a request that passes authentication.
fn probe(path: &str) -> (String, Option<Value>) {
    let p = path.replace("{id}", "nobody");
    let p = if p.ends_with("/explain") {
        format!("{p}?grant=github:org:engineering")
    } else {
        p
    };
    let body = match path {
        "/v1/evaluate" => Some(json!({"record": {}})),
        "/v1/plans/{id}/approve" => Some(json!({"digest": "sha256:0"})),
        "/v1/plans/{id}/reject" => Some(json!({"reason": "no"})),
        _ => None,
    };
    (p, body)
}

#[test]
fn every_role_against_every_route() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    every_role_against_every_route_of(&s);
}

/// The same on a PostgreSQL state, with people, plans and an audit log to list, and every
/// filter of the lists (each query must be one PostgreSQL can type).
#[test]
fn every_role_against_every_route_on_postgresql() {
    let dir = project();
    let url = polc_provision::pgtest::shared().database();
    let s = Server::start_with(dir.path(), &[], &["--state-url", &url]);
    snapshot(&s, dir.path());
    let (st, v) = s.webhook(
        "msg_pg_routes_1",
        &hire("pg.person", "Engineering", today()).to_string(),
        now(),
        SECRET,
    );
    assert_eq!(st, 202, "{v}");
    s.wait_for("github to hold pg.person", || {
        holds(dir.path(), "github", "pg.person") > 0
    });
    every_role_against_every_route_of(&s);
    let plans = s.get("/v1/plans", "viewer").1["plans"].clone();
    let id = plans[0]["id"].as_str().expect("a plan").to_string();
    for path in [
        "/v1/plans?status=pending".to_string(),
        format!("/v1/plans/{id}"),
        "/v1/audit?after=0&kind=event&actor=hr&limit=10".to_string(),
        "/v1/audit?kind=confirmed&actor=polc-serve".to_string(),
        "/v1/users/pg.person".to_string(),
        "/v1/users/pg.person/explain?grant=github:org:engineering".to_string(),
        "/v1/drift".to_string(),
    ] {
        let (st, v) = s.get(&path, "viewer");
        assert!(st == 200 || st == 404, "GET {path}: {st} {v}");
        assert_ne!(v["error"]["code"], "state", "GET {path}: {v}");
    }
    let (_, v) = s.get("/v1/audit?after=0&kind=event&actor=hr", "viewer");
    let entries = v["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "{v}");
    assert!(
        entries
            .iter()
            .all(|e| e["kind"] == "event" && e["actor"] == "hr"),
        "{v}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["details"]["user_id"] == "pg.person")
            .count(),
        1,
        "{v}"
    );
}

/// Every route of the OpenAPI document with every role: 401 without a token, 403 for a
/// role without the right, and for the others an answer of the route itself, never a 5xx.
fn every_role_against_every_route_of(s: &Server) {
    let doc: Value = serde_json::from_str(polc_serve::api::OPENAPI).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let allowed: Vec<&str> = op["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            let (p, body) = probe(path);
            let body = body.map(|b| b.to_string());
            // no token: 401, except the one public route
            let (st, v) = s.send(&method, &p, None, &[], body.as_deref().map(str::as_bytes));
            if allowed.is_empty() {
                assert_eq!(st, 200, "{method} {path}: {v}");
            } else {
                assert_eq!(st, 401, "{method} {path} without a token: {v}");
                let (st, _) = s.send(
                    &method,
                    &p,
                    None,
                    &[("authorization", "Bearer wrong".into())],
                    body.as_deref().map(str::as_bytes),
                );
                assert_eq!(st, 401, "{method} {path} with a wrong token");
            }
            for (_, role, _) in TOKENS {
                let (st, v) = s.send(
                    &method,
                    &p,
                    Some(role),
                    &[],
                    body.as_deref().map(str::as_bytes),
                );
                if allowed.is_empty() || allowed.contains(role) {
                    assert!(st != 401 && st != 403, "{role} {method} {path}: {st} {v}");
                    assert!(st < 500, "{role} {method} {path}: {st} {v}");
                    // the route exists: not the router's fallback
                    assert_ne!(v["error"]["code"], "not_found_route", "{method} {path}");
                    assert!(
                        !(st == 404
                            && v["error"]["message"]
                                .as_str()
                                .unwrap_or("")
                                .contains("no such route")),
                        "{method} {path} is not served"
                    );
                } else {
                    assert_eq!(st, 403, "{role} {method} {path}: {v}");
                    assert_eq!(v["error"]["code"], "forbidden");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 19 * 4, "{checked}");
    let (st, v) = s.get("/v1/nothing", "viewer");
    assert_eq!((st, v["error"]["code"].as_str()), (404, Some("not_found")));
}

#[test]
fn secrets_never_reach_the_logs() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let body = hire("log.person", "Engineering", today()).to_string();
    assert_eq!(s.webhook("msg_log", &body, now(), SECRET).0, 202);
    assert_eq!(
        s.webhook(
            "msg_bad",
            &body,
            now(),
            "whsec_d3Jvbmctc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM="
        )
        .0,
        401
    );
    for (_, role, _) in TOKENS {
        s.get("/v1/plans", role);
    }
    s.send(
        "GET",
        "/v1/plans",
        None,
        &[(
            "authorization",
            format!("Bearer {}", "tok-not-configured-123"),
        )],
        None,
    );
    s.wait_for("log.person", || {
        holds(dir.path(), "github", "log.person") > 0
    });
    assert_eq!(s.post("/v1/reload", "operator", &json!({})).0, 200);
    let logs = s.logs();
    drop(s);
    assert!(logs.lines().count() > 10, "{logs}");
    assert!(
        logs.lines().all(|l| l.starts_with('{')),
        "JSON lines:\n{logs}"
    );
    let secret_b64 = SECRET.trim_start_matches("whsec_");
    for needle in TOKENS
        .iter()
        .map(|t| t.2)
        .chain([SECRET, secret_b64, "tok-not-configured-123"])
    {
        assert!(!logs.contains(needle), "`{needle}` is in the logs:\n{logs}");
    }
    // and the names are, so the logs still say who did what
    assert!(logs.contains("\"caller\":\"rita\""), "{logs}");
}

#[test]
fn sigterm_mid_work_exits_0_and_a_restart_finishes() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let batch: Vec<Value> = (0..20)
        .map(|i| hire(&format!("p{i:02}"), "Engineering", today()))
        .collect();
    let body = Value::Array(batch).to_string();
    assert_eq!(s.webhook("msg_many", &body, now(), SECRET).0, 202);
    let status = s.term();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    let s = Server::start(dir.path(), &[]);
    s.wait_for("every hire in github", || {
        (0..20).all(|i| holds(dir.path(), "github", &format!("p{i:02}")) > 0)
    });
    // nothing twice: one entry per grant per person
    let gh = std::fs::read_to_string(dir.path().join("systems/github.json")).unwrap();
    let v: Vec<Value> = serde_json::from_str(&gh).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for e in &v {
        assert!(
            seen.insert((e["user_id"].to_string(), e["grant"].to_string())),
            "twice: {e}"
        );
    }
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn kill_9_mid_apply_then_a_restart_resumes_from_the_journal() {
    let dir = project();
    // the first apply is killed (SIGKILL) after its first change is sent
    let s = Server::start(
        dir.path(),
        &[("POLC_FAILPOINT", "sent:1"), ("POLC_FAILPOINT_KILL", "1")],
    );
    let users = std::fs::read(dir.path().join("hris/users.json")).unwrap();
    let _ = s.send("POST", "/v1/hris/snapshot", Some("hris"), &[], Some(&users));
    let mut s = s;
    s.wait_killed(60);
    let s = Server::start(dir.path(), &[]);
    s.wait_for("the auto plan applied", || {
        s.get("/v1/plans", "viewer").1["plans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "auto" && p["status"] == "applied")
    });
    let gh = std::fs::read_to_string(dir.path().join("systems/github.json")).unwrap();
    let v: Vec<Value> = serde_json::from_str(&gh).unwrap();
    assert!(!v.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for e in &v {
        assert!(
            seen.insert((e["user_id"].to_string(), e["grant"].to_string())),
            "twice: {e}"
        );
    }
}

#[test]
fn kill_9_between_recording_events_and_their_plan_then_a_restart_plans_them() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    assert_eq!(s.term().code(), Some(0));
    // killed (SIGKILL) once the hire is in the directory, before its plan is made
    let mut s = Server::start(
        dir.path(),
        &[
            ("POLC_FAILPOINT", "serve:recorded"),
            ("POLC_FAILPOINT_KILL", "1"),
        ],
    );
    let body = hire("late.person", "Engineering", today()).to_string();
    let (st, v) = s.webhook("msg_late_1", &body, now(), SECRET);
    assert_eq!(st, 202, "{v}");
    s.wait_killed(60);
    assert_eq!(holds(dir.path(), "github", "late.person"), 0);
    // the restart finds the event processed, and makes the plan it had no time for
    let s = Server::start(dir.path(), &[]);
    s.wait_for("github to hold late.person", || {
        holds(dir.path(), "github", "late.person") > 0
    });
    s.wait_for("the review plan of the hire", || {
        pending(&s).iter().any(|p| {
            let id = p["id"].as_str().unwrap_or_default();
            s.get(&format!("/v1/plans/{id}"), "viewer").1["plan"]["actions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["user_id"] == "late.person"))
        })
    });
    let events = s
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "event" && e["details"]["user_id"] == "late.person")
        .count();
    assert_eq!(events, 1, "the event is recorded once");
    assert_eq!(holds(dir.path(), "github", "late.person"), 1);
}

// ---------------------------------------------------------------------------------------
// The schedule, TLS, reload, errors, four eyes, SCIM, evidence.

/// Appends to the project file.
pub(crate) fn append(dir: &Path, text: &str) {
    let mut toml = std::fs::read_to_string(dir.join("polc.toml")).unwrap();
    toml += text;
    std::fs::write(dir.join("polc.toml"), toml).unwrap();
}

fn entries(dir: &Path, system: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format!("systems/{system}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn write_entries(dir: &Path, system: &str, v: &[Value]) {
    let text = serde_json::to_string_pretty(v).unwrap();
    std::fs::write(dir.join(format!("systems/{system}.json")), text).unwrap();
}

#[test]
fn the_schedule_pulls_and_revokes_or_queues_what_was_granted_out_of_band() {
    let dir = project();
    let toml = std::fs::read_to_string(dir.path().join("polc.toml")).unwrap();
    std::fs::write(
        dir.path().join("polc.toml"),
        toml.replace("max_revoke_percent = 10", "max_revoke_percent = 100"),
    )
    .unwrap();
    // every 2 seconds
    append(
        dir.path(),
        "\n[schedule]\npull = \"*/2 * * * * *\"\nplan = \"off\"\ndrift = \"off\"\n",
    );
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    s.wait_for("github to hold priya.nair", || {
        holds(dir.path(), "github", "priya.nair") > 0
    });
    // omar.haddad is inactive: he holds nothing. Somebody grants him access by hand.
    let mut gh = entries(dir.path(), "github");
    let mut extra = gh[0].clone();
    extra["user_id"] = json!("omar.haddad");
    let grant = extra["grant"].as_str().unwrap().to_string();
    gh.push(extra);
    write_entries(dir.path(), "github", &gh);
    let gitlab_grant = grant
        .replace("github:org:engineering", "gitlab:group:engineering-docs")
        .replace("org:engineering", "group:engineering-docs");
    write_entries(
        dir.path(),
        "gitlab",
        &[json!({"user_id": "omar.haddad", "grant": gitlab_grant, "level": "reporter"})],
    );
    // auto: the schedule's pull finds it and the revocation is applied
    s.wait_for("the out-of-band github grant revoked", || {
        holds(dir.path(), "github", "omar.haddad") == 0
    });
    assert!(holds(dir.path(), "github", "priya.nair") > 0);
    // review: its revocation is queued, made by the service (the schedule), not applied
    s.wait_for("a pending plan revoking omar.haddad in gitlab", || {
        pending(&s).iter().any(|p| {
            let id = p["id"].as_str().unwrap();
            let (_, v) = s.get(&format!("/v1/plans/{id}"), "viewer");
            v["plan"]["actions"].as_array().unwrap().iter().any(|a| {
                a["system"] == "gitlab" && a["user_id"] == "omar.haddad" && a["action"] == "revoke"
            })
        })
    });
    let p = pending(&s);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["created_by"], "polc-serve", "{p:?}");
    assert_eq!(holds(dir.path(), "gitlab", "omar.haddad"), 1);
    assert!(s.metric("polc_schedule_runs_total{job=\"pull\"}").unwrap() >= 1.0);
    assert_eq!(s.term().code(), Some(0));
}

/// Waits for the schedule of `job` to be armed (after its run at start, if any).
fn armed(s: &Server, job: &str) {
    s.wait_for("the schedule armed", || {
        s.logs()
            .lines()
            .any(|l| l.contains("next scheduled run") && l.contains(&format!("\"job\":\"{job}\"")))
    });
}

#[test]
fn a_run_missed_while_stopped_runs_once_at_start() {
    let dir = project();
    // once a year: while the test runs, only a missed run can run
    append(
        dir.path(),
        "\n[schedule]\npull = \"0 0 0 1 1 *\"\nplan = \"off\"\ndrift = \"off\"\n",
    );
    let s = Server::start(dir.path(), &[]);
    armed(&s, "pull");
    // the first start only records the start of the schedule
    assert_eq!(s.metric("polc_schedule_runs_total{job=\"pull\"}"), None);
    assert_eq!(s.term().code(), Some(0));
    // stopped for three years: three runs missed
    {
        let project = polc_provision::config::Project::load(&dir.path().join("polc.toml")).unwrap();
        let p =
            polc_provision::Provision::open(project, Box::new(polc_provision::DefaultConnectors))
                .unwrap();
        let then = (chrono::Utc::now() - chrono::Duration::days(3 * 366)).to_rfc3339();
        let n = p
            .state
            .conn
            .execute(
                &format!("UPDATE serve_schedule SET last_run = '{then}' WHERE job = 'pull'"),
                [],
            )
            .unwrap();
        assert_eq!(n, 1, "the last run of `pull` is in the state");
    }
    let s = Server::start(dir.path(), &[]);
    armed(&s, "pull");
    assert_eq!(
        s.metric("polc_schedule_runs_total{job=\"pull\"}"),
        Some(1.0),
        "{}",
        s.logs()
    );
    assert_eq!(s.logs().matches("running it once now").count(), 1);
    assert_eq!(s.term().code(), Some(0));
    // that run's time was kept: the next start has nothing to catch up
    let s = Server::start(dir.path(), &[]);
    armed(&s, "pull");
    assert_eq!(s.metric("polc_schedule_runs_total{job=\"pull\"}"), None);
    assert!(!s.logs().contains("running it once now"));
    assert_eq!(s.term().code(), Some(0));
}

pub(crate) fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `curl` with the test's CA: (exit code, body, status).
pub(crate) fn curl(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn tls_with_a_certificate_of_the_tests_own_ca() {
    let dir = project();
    let d = dir.path();
    // a CA, and a certificate for 127.0.0.1 and localhost signed by it
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=polc test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let s = Server::start_with(
        d,
        &[],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let ca = d.join("ca.pem");
    let ca = ca.to_str().unwrap();
    let auth = format!("Authorization: Bearer {}", token("viewer"));
    let url = format!("{}/readyz", s.base);
    s.wait_for("ready over HTTPS", || {
        let (code, out) = curl(&["--cacert", ca, "-H", &auth, &url]);
        code == Some(0) && out.contains("\"ready\"")
    });
    let (code, out) = curl(&["--cacert", ca, "-H", &auth, "-w", "\n%{http_code}", &url]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with("\n200"), "{out}");
    // the certificate is checked: without the CA, curl refuses it
    let (code, out) = curl(&["-H", &auth, &url]);
    assert_ne!(code, Some(0), "{out}");
    // plain HTTP to the TLS port gets no HTTP answer
    let plain = format!("http://{}/healthz", s.addr());
    let (code, out) = curl(&["-w", "\n%{http_code}", &plain]);
    assert!(code != Some(0) || !out.ends_with("\n200"), "{out}");
    let agent = Server::agent();
    let r = agent.get(&plain).call();
    assert!(r.map(|r| r.status().as_u16() != 200).unwrap_or(true));
    // and the service still answers HTTPS afterwards
    let (code, out) = curl(&["--cacert", ca, &format!("{}/healthz", s.base)]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn sighup_with_broken_policies_is_refused_and_the_old_bundle_serves_on() {
    let dir = project();
    // no watching: only SIGHUP reloads here
    let s = Server::start_with(dir.path(), &[], &["--watch-interval", "0"]);
    snapshot(&s, dir.path());
    let (_, ready) = s.get("/readyz", "viewer");
    let bundle = ready["bundle"].clone();
    assert!(bundle.is_string(), "{ready}");
    let base = dir.path().join("policies/base.pol");
    let good = std::fs::read_to_string(&base).unwrap();
    std::fs::write(&base, format!("{good}\npolicy \"Broken\" {{\n  grant\n")).unwrap();
    s.hup();
    s.wait_for("the refusal in the audit log", || {
        s.audit()
            .iter()
            .any(|e| e["kind"] == "reload_refused" && e["details"]["reason"] == "SIGHUP")
    });
    assert_eq!(
        s.metric("polc_reloads_total{result=\"refused\"}"),
        Some(1.0)
    );
    assert_eq!(s.metric("polc_reloads_total{result=\"ok\"}"), None);
    let refusal = s
        .audit()
        .into_iter()
        .find(|e| e["kind"] == "reload_refused")
        .unwrap();
    assert!(
        refusal["details"]["error"]
            .as_str()
            .unwrap()
            .contains("error"),
        "{refusal}"
    );
    // the old bundle still evaluates
    assert_eq!(s.get("/readyz", "viewer").1["bundle"], bundle);
    let (st, u) = s.get("/v1/users/priya.nair", "viewer");
    assert_eq!(st, 200, "{u}");
    assert!(u["evaluation"].is_object(), "{u}");
    // fixed: the next SIGHUP reloads
    std::fs::write(&base, &good).unwrap();
    s.hup();
    s.wait_for("the reload in the audit log", || {
        s.audit()
            .iter()
            .any(|e| e["kind"] == "reload" && e["details"]["reason"] == "SIGHUP")
    });
    assert_eq!(s.metric("polc_reloads_total{result=\"ok\"}"), Some(1.0));
    assert_eq!(
        s.metric("polc_reloads_total{result=\"refused\"}"),
        Some(1.0)
    );
    assert_eq!(s.get("/readyz", "viewer").0, 200);
    assert_eq!(s.term().code(), Some(0));
}

/// One request over a raw connection: the head is sent, then `body` from another thread
/// (the answer may come before the body is all sent), `pause` kept open before closing
/// the writing side. Answers the status, the head and the body.
pub(crate) fn raw(addr: &str, head: &str, body: Vec<u8>, pause: Duration) -> (u16, String, String) {
    use std::io::Read;
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c.write_all(head.as_bytes()).unwrap();
    let mut w = c.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = w.write_all(&body);
        std::thread::sleep(pause);
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// The JSON object of a body (chunked or not).
pub(crate) fn json_in(body: &str) -> Value {
    let (a, b) = (body.find('{'), body.rfind('}'));
    match (a, b) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

#[test]
fn errors_are_json_everywhere_and_a_full_queue_is_503_with_retry_after() {
    let dir = project();
    let s = Server::start_with(dir.path(), &[], &["--queue", "1", "--request-timeout", "2"]);
    snapshot(&s, dir.path());
    let auth = format!("Authorization: Bearer {}", token("operator"));
    // over the 1 MiB limit
    let big = vec![b' '; 2 << 20];
    let head = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    let (st, h, body) = raw(s.addr(), &head, big, Duration::from_millis(0));
    assert_eq!(st, 413, "{h}{body}");
    assert!(h.contains("content-type: application/json"), "{h}");
    let v = json_in(&body);
    assert_eq!(v["error"]["code"], "too_large", "{body}");
    assert!(v["error"]["message"].is_string(), "{body}");
    // a body that never comes: the time limit answers
    let head = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{"
    );
    let started = Instant::now();
    let (st, h, body) = raw(s.addr(), &head, Vec::new(), Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(st, 503, "{h}{body}");
    assert!(h.contains("content-type: application/json"), "{h}");
    assert_eq!(json_in(&body)["error"]["code"], "timeout", "{body}");
    // axum's other rejections: a query that does not parse, a method the route does not take
    let (st, v) = s.get("/v1/audit?after=abc", "viewer");
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
    let (st, v) = s.get("/v1/pull", "operator");
    assert_eq!(st, 405, "{v}");
    assert_eq!(v["error"]["code"], "method_not_allowed", "{v}");
    // a burst on a queue of one
    let n = 24;
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let url = format!("{}/v1/drift/run", s.base);
    let answers: Vec<(u16, Option<String>, String)> = (0..n)
        .map(|_| {
            let (b, url) = (barrier.clone(), url.clone());
            std::thread::spawn(move || {
                b.wait();
                let mut r = Server::agent()
                    .post(&url)
                    .header("authorization", &format!("Bearer {}", token("operator")))
                    .send(b"{}")
                    .unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_string());
                (
                    r.status().as_u16(),
                    retry,
                    r.body_mut().read_to_string().unwrap_or_default(),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert!(!busy.is_empty(), "no 503 in the burst: {answers:?}");
    assert!(answers.iter().any(|a| a.0 == 200), "{answers:?}");
    for (_, retry, body) in &busy {
        assert_eq!(retry.as_deref(), Some("5"), "{body}");
        assert_eq!(json_in(body)["error"]["code"], "busy", "{body}");
    }
    // (readiness polls at start may have met the schedule's first jobs too)
    assert!(s.metric("polc_queue_full_total").unwrap() >= busy.len() as f64);
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn four_eyes_the_person_whose_request_made_a_plan_cannot_approve_it() {
    let dir = project();
    // rita reviews, and also holds the HRIS token of a small integration
    let rita_hr = "tok-rita-hris-77a1c4e2";
    append(
        dir.path(),
        &format!(
            "\n[server.tokens.rita-hr]\nrole = \"hris\"\nperson = \"rita\"\nsha256 = \"{}\"\n",
            hex::encode(Sha256::digest(rita_hr.as_bytes()))
        ),
    );
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let body = hire("new.person", "Engineering", today()).to_string();
    let ts = now();
    let sig = sign(SECRET, "msg_4eyes", ts, &body);
    let (st, v) = s.webhook_as(rita_hr, "msg_4eyes", ts, &sig, &body);
    assert_eq!(st, 202, "{v}");
    s.wait_for("the plan of the hire", || {
        pending(&s).iter().any(|p| p["created_by"] == "rita-hr")
    });
    let plans = pending(&s);
    assert_eq!(plans.len(), 1, "{plans:?}");
    let (id, digest) = (
        plans[0]["id"].as_str().unwrap().to_string(),
        plans[0]["digest"].as_str().unwrap().to_string(),
    );
    // the same person: refused, and nothing applied
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "reviewer",
        &json!({"digest": digest}),
    );
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"]["code"], "four_eyes", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("rita-hr") && msg.contains("another reviewer"),
        "{msg}"
    );
    assert_eq!(holds(dir.path(), "gitlab", "new.person"), 0);
    assert_eq!(pending(&s).len(), 1);
    assert!(s.audit().iter().any(|e| e["kind"] == "refusal"
        && e["actor"] == "rita"
        && e["details"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("four eyes")));
    // another person: applied
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "operator",
        &json!({"digest": digest}),
    );
    assert_eq!(st, 200, "{v}");
    assert!(holds(dir.path(), "gitlab", "new.person") > 0);
    // an operator's pull makes a plan that operator may not approve
    write_entries(
        dir.path(),
        "gitlab",
        &[entries(dir.path(), "gitlab"), vec![json!({"user_id": "omar.haddad", "grant": "gitlab:group:engineering-docs", "level": "reporter"})]].concat(),
    );
    let (st, v) = s.post("/v1/pull", "operator", &json!({}));
    assert_eq!(st, 200, "{v}");
    let plans = pending(&s);
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0]["created_by"], "otto", "{plans:?}");
    let (id, digest) = (
        plans[0]["id"].as_str().unwrap().to_string(),
        plans[0]["digest"].as_str().unwrap().to_string(),
    );
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "operator",
        &json!({"digest": digest}),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("four_eyes")),
        "{v}"
    );
    let (st, v) = s.post(
        &format!("/v1/plans/{id}/approve"),
        "reviewer",
        &json!({"digest": digest}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(holds(dir.path(), "gitlab", "omar.haddad"), 0);
    assert_eq!(s.term().code(), Some(0));
}

pub(crate) const SCIM_TOKEN: &str = "polc-serve-scim-token-5e2d";
pub(crate) const SCIM_TOKEN_ENV: &str = "POLC_TEST_SERVE_SCIM_TOKEN";

/// GET over plain HTTP from the SCIM server (no connector involved).
pub(crate) fn scim_get(port: u16, path: &str) -> Value {
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SCIM_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let (st, _, body) = raw(
        &format!("127.0.0.1:{port}"),
        &head,
        Vec::new(),
        Duration::ZERO,
    );
    assert_eq!(st, 200, "GET {path}: {body}");
    json_in(&body)
}

/// A real `scim2-server` with a `slack` tenant (`target/test-venv`, or `POLC_TEST_VENV`).
pub(crate) fn scim_slack() -> polc_connectors::testing::Scim2Server {
    polc_connectors::testing::Scim2Server::start(
        &match std::env::var_os("POLC_TEST_VENV") {
            Some(d) => PathBuf::from(d),
            None => Path::new(root!()).join("target/test-venv"),
        },
        SCIM_TOKEN,
        &["slack"],
    )
}

/// Adds the `slack` system on `scim` in `mode` to the project, and `more` after it.
pub(crate) fn add_slack(
    dir: &Path,
    scim: &polc_connectors::testing::Scim2Server,
    mode: &str,
    more: &str,
) {
    append(
        dir,
        &format!(
            "\n[systems.slack]\nconnector = \"scim\"\nbase_url = \"{}\"\ntoken_env = \"{SCIM_TOKEN_ENV}\"\nmode = \"{mode}\"\nread_back_seconds = 3\n{more}",
            scim.url("slack")
        ),
    );
}

#[test]
fn a_hire_by_webhook_is_provisioned_on_a_real_scim_server() {
    let scim = scim_slack();
    let dir = project();
    add_slack(dir.path(), &scim, "auto", "");
    let s = Server::start(dir.path(), &[(SCIM_TOKEN_ENV, SCIM_TOKEN)]);
    let body = hire("scim.person", "Engineering", today()).to_string();
    let (st, v) = s.webhook("msg_scim", &body, now(), SECRET);
    assert_eq!(st, 202, "{v}");
    let users = || {
        scim_get(scim.port, "/slack/v2/Users?count=1000")["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    s.wait_for("scim.person in SCIM", || {
        users().iter().any(|u| u["userName"] == "scim.person")
    });
    let u = users()
        .into_iter()
        .find(|u| u["userName"] == "scim.person")
        .unwrap();
    let uid = u["id"].as_str().unwrap().to_string();
    assert_ne!(u["active"], false, "{u}");
    s.wait_for("the membership in SCIM", || {
        scim_get(scim.port, "/slack/v2/Groups?count=1000")["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| {
                g["displayName"] == "workspace-member"
                    && g["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|m| m["value"] == uid.as_str())
            })
    });
    // the service's own view agrees
    let (st, v) = s.get("/v1/plans", "viewer");
    assert_eq!(st, 200);
    assert!(
        v["plans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "auto" && p["status"] == "applied"),
        "{v}"
    );
    let logs = s.logs();
    assert_eq!(s.term().code(), Some(0));
    assert!(!logs.contains(SCIM_TOKEN), "the SCIM token is in the logs");
}

/// A `scim` system in `auto` mode: SIGKILL mid-apply, then SIGTERM right after a batch of
/// hires, each followed by a restart; what the real server holds, read back over HTTP, is
/// exactly the plans': every hire once, every membership once, no apply left unfinished.
#[test]
fn kill_9_and_sigterm_mid_apply_on_a_real_scim_server_then_restarts_converge() {
    use crate::serve_replicas::{provisioned_once, scim_users};
    let scim = scim_slack();
    let dir = project();
    add_slack(dir.path(), &scim, "auto", "");
    let batch = |names: &[String]| -> String {
        Value::Array(
            names
                .iter()
                .map(|n| hire(n, "Engineering", today()))
                .collect(),
        )
        .to_string()
    };
    let first: Vec<String> = (0..10).map(|i| format!("sk{i:02}.person")).collect();
    let second: Vec<String> = (0..10).map(|i| format!("st{i:02}.person")).collect();
    // killed after the third change it sends
    let mut s = Server::start(
        dir.path(),
        &[
            (SCIM_TOKEN_ENV, SCIM_TOKEN),
            ("POLC_FAILPOINT", "sent:3"),
            ("POLC_FAILPOINT_KILL", "1"),
        ],
    );
    let (st, v) = s.webhook("msg_scim_kill", &batch(&first), now(), SECRET);
    assert_eq!(st, 202, "{v}");
    s.wait_killed(120);
    // a restart, stopped (SIGTERM) as soon as the next batch is stored
    let s = Server::start(dir.path(), &[(SCIM_TOKEN_ENV, SCIM_TOKEN)]);
    let (st, v) = s.webhook("msg_scim_term", &batch(&second), now(), SECRET);
    assert_eq!(st, 202, "{v}");
    assert_eq!(s.term().code(), Some(0), "SIGTERM exits 0");
    // the last restart finishes whatever is left
    let s = Server::start(dir.path(), &[(SCIM_TOKEN_ENV, SCIM_TOKEN)]);
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    s.wait_for("every hire in SCIM", || {
        let users = scim_users(scim.port);
        all.iter()
            .all(|n| users.iter().any(|u| u["userName"] == n.as_str()))
    });
    s.wait_for("no apply left unfinished", || {
        let plans = s.get("/v1/plans", "viewer").1["plans"].clone();
        plans.as_array().is_some_and(|p| {
            p.iter().all(|p| p["status"] != "applying")
                && p.iter()
                    .any(|p| p["kind"] == "auto" && p["status"] == "applied")
        })
    });
    provisioned_once(scim.port, &all);
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn the_evidence_pack_in_each_format() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    snapshot(&s, dir.path());
    let body = hire("ev.person", "Engineering", today()).to_string();
    assert_eq!(s.webhook("msg_ev", &body, now(), SECRET).0, 202);
    s.wait_for("ev.person in github", || {
        holds(dir.path(), "github", "ev.person") > 0
    });
    let from = today() - chrono::Days::new(30);
    let to = today();
    for (format, ctype) in [
        ("html", "text/html"),
        ("markdown", "text/markdown"),
        ("csv", "text/csv"),
        ("json", "application/json"),
    ] {
        let url = format!("{}/v1/evidence?from={from}&to={to}&format={format}", s.base);
        let mut r = Server::agent()
            .get(&url)
            .header("authorization", &format!("Bearer {}", token("viewer")))
            .call()
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{format}: {text}");
        let ct = r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(ct.starts_with(ctype), "{format}: {ct}");
        assert!(!text.is_empty());
        match format {
            "json" => {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert!(v.is_object(), "{v}");
                assert!(text.contains("ev.person"), "{text}");
            }
            "html" => assert!(
                text.contains("<html") || text.contains("<!DOCTYPE"),
                "{text}"
            ),
            _ => {}
        }
    }
    // the period is required; a format it does not know, and the HRIS token, are refused
    let (st, v) = s.get("/v1/evidence", "viewer");
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
    let (st, v) = s.get(
        &format!("/v1/evidence?from={from}&to={to}&format=pdf"),
        "viewer",
    );
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.get(&format!("/v1/evidence?from=yesterday&to={to}"), "viewer");
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
    let (st, _) = s.get(&format!("/v1/evidence?from={from}&to={to}"), "hris");
    assert_eq!(st, 403);
    assert_eq!(s.term().code(), Some(0));
}
