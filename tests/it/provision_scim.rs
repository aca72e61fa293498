//! Provisioning through the `polc` binary against a real SCIM 2.0 server (`scim2-server`,
//! installed in `target/test-venv` by `bash .ci/deps`; tenants `slack` and `gitlab`): the
//! seed's lifecycle (hire, promotion, transfer with grace, termination) applied step by
//! step and read back over plain HTTP; faults from a proxy of the test's own; polc killed
//! mid-apply; the token never written anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{stderr, stdout, POLC};

const TOKEN: &str = "polc-it-token-93b1e7d5";
const TOKEN_ENV: &str = "POLC_IT_SCIM_TOKEN";
const SEED: &str = concat!(root!(), "/examples/seed");

// ---------------------------------------------------------------------------------------
// The server (as in connectors/tests/scim.rs).

use polc_connectors::testing::Scim2Server as Server;

fn start_server() -> Server {
    Server::start(
        &match std::env::var_os("POLC_TEST_VENV") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(concat!(root!(), "/target/test-venv")),
        },
        TOKEN,
        &["slack", "gitlab"],
    )
}

/// GET over plain HTTP (no connector involved).
fn get(port: u16, path: &str) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

fn resources(port: u16, tenant: &str, kind: &str) -> Vec<Value> {
    get(port, &format!("/{tenant}/v2/{kind}?count=100000"))["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What a tenant holds as read over HTTP: `userName group` memberships, and each account's
/// active flag. Panics on a duplicate user or group.
fn scim_state(port: u16, tenant: &str) -> (BTreeSet<String>, BTreeMap<String, bool>) {
    let users = resources(port, tenant, "Users");
    let mut names = BTreeMap::new();
    let mut active = BTreeMap::new();
    for u in &users {
        let name = u["userName"].as_str().unwrap().to_string();
        assert!(
            active
                .insert(name.clone(), u["active"].as_bool().unwrap_or(true))
                .is_none(),
            "duplicate user {name} in {tenant}"
        );
        names.insert(u["id"].as_str().unwrap().to_string(), name);
    }
    let mut members = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for g in resources(port, tenant, "Groups") {
        let gname = g["displayName"].as_str().unwrap().to_string();
        assert!(
            groups.insert(gname.clone()),
            "duplicate group {gname} in {tenant}"
        );
        for m in g["members"].as_array().into_iter().flatten() {
            let id = m["value"].as_str().unwrap();
            members.insert(format!("{} {gname}", names[id]));
        }
    }
    (members, active)
}

// ---------------------------------------------------------------------------------------
// A fault-injecting proxy (one request per connection).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Close the connection without forwarding.
    Cut,
    /// Forward, then close without answering.
    CutAfter,
    Error500,
    /// 429 with Retry-After: 1, not forwarded.
    TooMany,
    /// 204 without forwarding: a server that says yes without doing it.
    Lie204,
}

/// A method, its fault, how many times.
type Rule = (&'static str, Fault, usize);

#[derive(Clone, Default)]
struct Proxy {
    rules: Arc<Mutex<Vec<Rule>>>,
    /// Stop forwarding: every connection is cut (a server that went away).
    down: Arc<AtomicBool>,
    port: u16,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Proxy {
            port: listener.local_addr().unwrap().port(),
            ..Proxy::default()
        };
        let me = p.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let me = me.clone();
                std::thread::spawn(move || {
                    let _ = me.serve(client, upstream);
                });
            }
        });
        p
    }

    fn add(&self, method: &'static str, fault: Fault, times: usize) {
        self.rules.lock().unwrap().push((method, fault, times));
    }

    fn take(&self, method: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let r = rules.iter_mut().find(|r| r.2 > 0 && r.0 == method)?;
        r.2 -= 1;
        Some(r.1)
    }

    fn serve(&self, mut client: TcpStream, upstream: u16) -> std::io::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return client.shutdown(Shutdown::Both);
        }
        client.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(client.try_clone()?);
        let mut head = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let end = line == "\r\n";
            head.extend_from_slice(line.as_bytes());
            if end {
                break;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let method = String::from_utf8_lossy(&head)
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let answer = |client: &mut TcpStream, status: &str, extra: &str| {
            let text = format!(
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n"
            );
            client.write_all(text.as_bytes())
        };
        match self.take(&method) {
            Some(Fault::Cut) => return client.shutdown(Shutdown::Both),
            Some(Fault::Error500) => return answer(&mut client, "500 Internal Server Error", ""),
            Some(Fault::TooMany) => {
                return answer(&mut client, "429 Too Many Requests", "Retry-After: 1\r\n")
            }
            Some(Fault::Lie204) => return answer(&mut client, "204 No Content", ""),
            Some(Fault::CutAfter) => {
                forward(upstream, &head, &body)?;
                return client.shutdown(Shutdown::Both);
            }
            None => {}
        }
        let response = forward(upstream, &head, &body)?;
        client.write_all(&response)?;
        client.shutdown(Shutdown::Both)
    }
}

fn forward(upstream: u16, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    // one request per connection: ask the server to close after answering
    let head = String::from_utf8_lossy(head)
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        + "Connection: close\r\n\r\n";
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(head.as_bytes())?;
    server.write_all(body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// The project.

fn project(port: u16, extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for f in ["base.pol", "engineering.pol", "exceptions.pol", "sales.pol"] {
        let to = dir.join("policies").join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(format!("{SEED}/policies/{f}"), to).unwrap();
    }
    let mut toml = String::from(
        "[policies]\npaths = [\"policies\"]\n[hris]\nusers = \"users.json\"\n[guard]\nmax_revoke_count = 1000\nmax_revoke_percent = 100\nmax_missing_percent = 100\n",
    );
    for tenant in ["slack", "gitlab"] {
        toml += &format!(
            "[systems.{tenant}]\nconnector = \"scim\"\nbase_url = \"http://127.0.0.1:{port}/{tenant}/v2\"\ntoken_env = \"{TOKEN_ENV}\"\nmode = \"auto\"\nread_back_seconds = 3\n{extra}\n"
        );
    }
    std::fs::write(dir.join("polc.toml"), toml).unwrap();
    tmp
}

/// Every output of every run, to look for the token in.
static OUTPUTS: Mutex<String> = Mutex::new(String::new());

fn polc(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(POLC)
        .args(args)
        .current_dir(dir)
        .env(TOKEN_ENV, TOKEN)
        .output()
        .expect("run polc");
    let mut all = OUTPUTS.lock().unwrap_or_else(|p| p.into_inner());
    all.push_str(&stdout(&o));
    all.push_str(&stderr(&o));
    o
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = polc(dir, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "polc {args:?}\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// pull, plan at `at`, apply it (auto-approved); answers the plan.
fn converge(dir: &Path, at: &str) -> Value {
    ok(dir, &["pull"]);
    let plan: Value =
        serde_json::from_str(&ok(dir, &["plan", "--at", at, "--format", "json"])).unwrap();
    let o = polc(
        dir,
        &["apply", "--auto-approve", "--at", at, "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    plan
}

/// The memberships polc's plans add up to: `user group`, by the default templates.
fn expect(expected: &mut BTreeMap<String, BTreeSet<String>>, plan: &Value) {
    let group = |a: &Value, level: &Value| -> String {
        let g = a["grant"].as_str().unwrap();
        let ent = g.split_once(':').unwrap().1;
        match level.as_str() {
            Some(l) => format!("{ent}:{l}"),
            None => ent.to_string(),
        }
    };
    for a in plan["actions"].as_array().unwrap() {
        let sys = a["system"].as_str().unwrap().to_string();
        let user = a["user_id"].as_str().unwrap();
        let set = expected.entry(sys).or_default();
        match a["action"].as_str().unwrap() {
            "grant" => {
                set.insert(format!("{user} {}", group(a, &a["level"])));
            }
            "set_level" => {
                set.remove(&format!("{user} {}", group(a, &a["from_level"])));
                set.insert(format!("{user} {}", group(a, &a["level"])));
            }
            "revoke" => {
                let g = a["grant"]
                    .as_str()
                    .unwrap()
                    .split_once(':')
                    .unwrap()
                    .1
                    .to_string();
                set.retain(|m| {
                    let (u, grp) = m.split_once(' ').unwrap();
                    !(u == user && (grp == g || grp.rsplit_once(':').is_some_and(|x| x.0 == g)))
                });
            }
            _ => {}
        }
    }
}

fn check(port: u16, expected: &BTreeMap<String, BTreeSet<String>>, step: &str) {
    for tenant in ["slack", "gitlab"] {
        let (members, _) = scim_state(port, tenant);
        let want = expected.get(tenant).cloned().unwrap_or_default();
        assert_eq!(members, want, "{tenant} after {step}");
    }
}

fn sarah_active(port: u16) -> Vec<bool> {
    ["slack", "gitlab"]
        .iter()
        .filter_map(|t| scim_state(port, t).1.get("sarah.chen").copied())
        .collect()
}

#[test]
fn the_seed_lifecycle_on_scim_read_back_over_http() {
    let server = start_server();
    let tmp = project(server.port, "rate_per_second = 0");
    let dir = tmp.path();
    let mut expected = BTreeMap::new();
    let event = |f: &str, at: &str| {
        ok(
            dir,
            &["hris", "event", &format!("{SEED}/events/{f}"), "--at", at],
        );
    };

    // hire
    event("01-hired.json", "2024-11-24");
    let plan = converge(dir, "2024-11-24");
    expect(&mut expected, &plan);
    assert!(!expected["slack"].is_empty() && !expected["gitlab"].is_empty());
    check(server.port, &expected, "the hire");
    assert_eq!(sarah_active(server.port), vec![true, true]);

    // promotion
    event("02-promoted.json", "2025-05-24");
    let plan = converge(dir, "2025-05-24");
    expect(&mut expected, &plan);
    check(server.port, &expected, "the promotion");

    // transfer: what has a grace is held until 2026-06-23
    event("03-transferred.json", "2026-05-24");
    let plan = converge(dir, "2026-05-24");
    expect(&mut expected, &plan);
    check(server.port, &expected, "the transfer");
    let before = expected.clone();
    let plan = converge(dir, "2026-06-10");
    assert_eq!(
        plan["actions"].as_array().unwrap().len(),
        0,
        "the hold keeps them before its day: {plan}"
    );
    check(server.port, &before, "a plan before the hold's day");
    let plan = converge(dir, "2026-06-23");
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "revoke"),
        "the hold's day revokes: {plan}"
    );
    expect(&mut expected, &plan);
    assert_ne!(before, expected);
    check(server.port, &expected, "the hold's end");

    // termination: every membership gone, the accounts inactive
    event("04-terminated.json", "2027-03-15");
    let plan = converge(dir, "2027-03-15");
    expect(&mut expected, &plan);
    assert!(expected.values().all(|s| s.is_empty()), "{expected:?}");
    check(server.port, &expected, "the termination");
    assert_eq!(sarah_active(server.port), vec![false, false]);

    // the rehire reactivates the accounts
    std::fs::write(
        dir.join("rehire.json"),
        r#"{"event": "employee.hired", "user_id": "sarah.chen", "email": "sarah@company.com", "first_name": "Sarah",
 "last_name": "Chen", "job_title": "Sales Engineer", "department": "Sales", "team": "Enterprise",
 "employment_type": "FTE", "employment_status": "Active", "start_date": "2027-06-01"}"#,
    )
    .unwrap();
    ok(dir, &["hris", "event", "rehire.json", "--at", "2027-06-01"]);
    let plan = converge(dir, "2027-06-01");
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "reactivate"),
        "{plan}"
    );
    expect(&mut expected, &plan);
    check(server.port, &expected, "the rehire");
    assert_eq!(sarah_active(server.port), vec![true, true]);

    // the token is nowhere: outputs, the state, the audit log
    let outputs = OUTPUTS.lock().unwrap().clone();
    assert!(!outputs.contains(TOKEN));
    for entry in walk(&dir.join(".polc")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Hires a few people at once (more actions to cut into).
fn hire_many(dir: &Path, n: usize) {
    let mut lines = String::new();
    for i in 0..n {
        lines += &format!(
            "{{\"event\": \"employee.hired\", \"user_id\": \"se{i}\", \"email\": \"se{i}@company.com\", \"first_name\": \"S\", \"last_name\": \"E{i}\", \"job_title\": \"Sales Engineer\", \"department\": \"Sales\", \"team\": \"Enterprise\", \"employment_type\": \"FTE\", \"employment_status\": \"Active\", \"start_date\": \"2025-01-01\"}}\n"
        );
    }
    std::fs::write(dir.join("hires.jsonl"), lines).unwrap();
    ok(dir, &["hris", "event", "hires.jsonl", "--at", "2025-01-01"]);
}

#[test]
fn faults_converge_on_a_rerun_with_nothing_duplicated() {
    let server = start_server();
    let proxy = Proxy::start(server.port);
    let tmp = project(
        proxy.port,
        "max_attempts = 3\nquarantine_after = 1000\nrate_per_second = 0",
    );
    let dir = tmp.path();
    hire_many(dir, 4);
    ok(dir, &["pull"]);
    let plan: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "--at", "2025-01-01", "--format", "json"],
    ))
    .unwrap();
    let mut expected = BTreeMap::new();
    expect(&mut expected, &plan);
    proxy.add("POST", Fault::Cut, 2);
    proxy.add("PATCH", Fault::CutAfter, 2);
    proxy.add("PATCH", Fault::Error500, 3);
    proxy.add("GET", Fault::TooMany, 2);
    proxy.add("PATCH", Fault::Lie204, 2);
    let apply = [
        "apply",
        "--auto-approve",
        "--at",
        "2025-01-01",
        "--format",
        "json",
    ];
    let first = polc(dir, &apply);
    assert!(
        matches!(first.status.code(), Some(0 | 1)),
        "{}",
        stderr(&first)
    );
    // the server goes away mid-run for a while
    proxy.down.store(true, Ordering::SeqCst);
    let (_, _) = (polc(dir, &apply), ());
    proxy.down.store(false, Ordering::SeqCst);
    // re-runs finish it
    let mut code = None;
    for _ in 0..3 {
        let o = polc(dir, &apply);
        code = o.status.code();
        if code == Some(0) {
            break;
        }
    }
    assert_eq!(code, Some(0));
    check(server.port, &expected, "faults and re-runs");
}

#[test]
fn polc_killed_mid_apply_then_rerun_finishes() {
    let server = start_server();
    let tmp = project(server.port, "rate_per_second = 10");
    let dir = tmp.path();
    hire_many(dir, 6);
    ok(dir, &["pull"]);
    let plan: Value = serde_json::from_str(&ok(
        dir,
        &["plan", "--at", "2025-01-01", "--format", "json"],
    ))
    .unwrap();
    let mut expected = BTreeMap::new();
    expect(&mut expected, &plan);
    let mut child = Command::new(POLC)
        .args(["apply", "--auto-approve", "--at", "2025-01-01"])
        .current_dir(dir)
        .env(TOKEN_ENV, TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // kill it once some memberships show
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (m, _) = scim_state(server.port, "slack");
        if !m.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::KILL,
    );
    let _ = child.wait();
    let o = polc(
        dir,
        &[
            "apply",
            "--auto-approve",
            "--at",
            "2025-01-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    check(server.port, &expected, "a kill and a re-run");
}
