//! Two `polc serve` replicas on one PostgreSQL state (a throwaway cluster of the test
//! process) and a real SCIM server: webhooks posted round-robin to both are each processed
//! once; a replica killed mid-apply has its work finished by the other once its lease
//! expires; the audit chain stays one chain.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::serve::{
    hire, now, python, scim_get, today, Server, SCIM_TOKEN, SCIM_TOKEN_ENV, SECRET, SECRET_VAR,
    TOKENS,
};
use crate::support::POLC;

fn venv() -> PathBuf {
    match std::env::var_os("POLC_TEST_VENV") {
        Some(d) => PathBuf::from(d),
        None => Path::new(root!()).join("target/test-venv"),
    }
}

/// A seed project whose state is a new PostgreSQL database, with one SCIM system applied
/// automatically; its URL.
fn project(scim: &polc_connectors::testing::Scim2Server) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    polc_provision::init(dir.path()).unwrap();
    let url = polc_provision::pgtest::shared().database();
    let mut toml = format!(
        "[policies]\npaths = [\"policies\"]\n\n[hris]\nusers = \"hris/users.json\"\n\n\
         [state]\npath = \".polc/state.db\"\nurl = \"{url}\"\nlease_seconds = 5\n\n\
         [guard]\nmax_revoke_percent = 10\nmax_revoke_count = 50\nmax_missing_percent = 5\n\n\
         [systems.slack]\nconnector = \"scim\"\nbase_url = \"{}\"\ntoken_env = \"{SCIM_TOKEN_ENV}\"\n\
         mode = \"auto\"\nread_back_seconds = 3\n\n\
         [server]\nwebhook_secret_env = \"{SECRET_VAR}\"\n",
        scim.url("slack")
    );
    for (name, role, tok) in TOKENS {
        let sha = hex::encode(Sha256::digest(tok.as_bytes()));
        toml += &format!("\n[server.tokens.{name}]\nrole = \"{role}\"\nsha256 = \"{sha}\"\n");
    }
    std::fs::write(dir.path().join("polc.toml"), toml).unwrap();
    (dir, url)
}

/// `webhook-signature` for many deliveries, from one process of the reference library.
fn sign_all(deliveries: &[(String, i64, String)]) -> Vec<String> {
    let mut p = Command::new(python())
        .args([
            "-c",
            "import sys, json, datetime\nfrom standardwebhooks import Webhook\n\
             wh = Webhook(sys.argv[1])\n\
             for line in sys.stdin:\n\
             \x20   d = json.loads(line)\n\
             \x20   ts = datetime.datetime.fromtimestamp(d[1], tz=datetime.timezone.utc)\n\
             \x20   print(wh.sign(d[0], ts, d[2]), flush=True)",
            SECRET,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("target/test-venv: run `bash .ci/deps`");
    let mut input = String::new();
    for (id, ts, body) in deliveries {
        input += &serde_json::to_string(&(id, ts, body)).unwrap();
        input.push('\n');
    }
    let mut stdin = p.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = BufReader::new(p.stdout.take().unwrap())
        .lines()
        .map(|l| l.unwrap())
        .collect::<Vec<_>>();
    writer.join().unwrap();
    assert!(p.wait().unwrap().success());
    assert_eq!(out.len(), deliveries.len());
    out
}

/// A query on the state, straight from the database.
fn count(url: &str, sql: &str) -> i64 {
    let db = polc_provision::db::Db::open_postgres(url).unwrap();
    db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap()
}

pub(crate) fn scim_users(port: u16) -> Vec<Value> {
    scim_get(port, "/slack/v2/Users?count=5000")["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Panics with `what` and the end of each replica's log.
fn fail(servers: &[&Server], what: &str) -> ! {
    let logs: Vec<String> = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let l = s.logs();
            let tail: Vec<&str> = l
                .lines()
                .filter(|l| !l.contains("salsa"))
                .rev()
                .take(120)
                .collect();
            format!(
                "--- replica {i} (the end of its log):\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect();
    panic!("{what}\n{}", logs.join("\n"));
}

/// Waits up to `secs` for `f`, printing the replicas' logs when it does not come.
fn wait(servers: &[&Server], secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(secs) {
            fail(servers, &format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verify_audit(dir: &Path) {
    let out = Command::new(POLC)
        .args(["audit", "verify", "--config"])
        .arg(dir.join("polc.toml"))
        // an auditor has none of the systems' secrets
        .env_remove(SCIM_TOKEN_ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every person of `names` once in SCIM, in the workspace group once.
pub(crate) fn provisioned_once(port: u16, names: &[String]) {
    let users = scim_users(port);
    for n in names {
        let found = users.iter().filter(|u| u["userName"] == n.as_str()).count();
        assert_eq!(found, 1, "{n} is {found} times in SCIM");
    }
    let groups = scim_get(port, "/slack/v2/Groups?count=1000");
    let members: Vec<String> = groups["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["displayName"] == "workspace-member")
        .flat_map(|g| g["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    let unique: std::collections::BTreeSet<&String> = members.iter().collect();
    assert_eq!(unique.len(), members.len(), "a member twice in the group");
    for n in names {
        let id = users.iter().find(|u| u["userName"] == n.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(members.contains(&id), "{n} is not in workspace-member");
    }
}

#[test]
fn two_replicas_share_500_webhook_events_and_process_each_once() {
    let scim = polc_connectors::testing::Scim2Server::start(&venv(), SCIM_TOKEN, &["slack"]);
    let (dir, url) = project(&scim);
    let env = [(SCIM_TOKEN_ENV, SCIM_TOKEN)];
    let a = Server::start(dir.path(), &env);
    let b = Server::start(dir.path(), &env);
    let names: Vec<String> = (0..500).map(|i| format!("r{i:03}.person")).collect();
    let ts = now();
    let deliveries: Vec<(String, i64, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("msg_rep_{i:03}"),
                ts,
                hire(n, "Engineering", today()).to_string(),
            )
        })
        .collect();
    let sigs = sign_all(&deliveries);
    // round-robin, four senders at once
    let servers = [&a, &b];
    let refused: Vec<String> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let (deliveries, sigs, servers) = (&deliveries, &sigs, &servers);
                scope.spawn(move || {
                    let mut refused = Vec::new();
                    for i in (t..deliveries.len()).step_by(4) {
                        let (id, ts, body) = &deliveries[i];
                        // as an HRIS does: a busy answer (503) is retried
                        let mut tries = 0;
                        loop {
                            let (st, v) = servers[i % 2].webhook_raw(id, *ts, &sigs[i], body);
                            if st == 503 && tries < 240 {
                                tries += 1;
                                std::thread::sleep(Duration::from_millis(500));
                                continue;
                            }
                            if st != 202 {
                                refused.push(format!("{id} to replica {}: {st} {v}", i % 2));
                            }
                            break;
                        }
                    }
                    refused
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    if !refused.is_empty() {
        fail(&servers, &format!("deliveries refused: {refused:#?}"));
    }
    // a redelivery to the other replica is recognised as one
    let (id, ts, body) = &deliveries[7];
    let (st, v) = servers[0].webhook_raw(id, *ts, &sigs[7], body);
    assert!(st == 200 || st == 202, "{v}");
    wait(&servers, 600, "every event processed", || {
        count(
            &url,
            "SELECT count(*) FROM serve_events WHERE status = 'processed'",
        ) == 500
    });
    assert_eq!(count(&url, "SELECT count(*) FROM serve_events"), 500);
    // once each: the batches of events recorded hold 500 in all
    assert_eq!(
        count(
            &url,
            "SELECT CAST(sum(records) AS BIGINT) FROM imports WHERE kind = 'event'"
        ),
        500
    );
    wait(&servers, 600, "every hire in SCIM", || {
        let users = scim_users(scim.port);
        names
            .iter()
            .all(|n| users.iter().any(|u| u["userName"] == n.as_str()))
    });
    wait(&servers, 120, "no apply left under way", || {
        count(
            &url,
            "SELECT count(*) FROM serve_plans WHERE status = 'applying'",
        ) == 0
    });
    provisioned_once(scim.port, &names);
    // each hire in the directory's audit once: 500 people, nobody twice
    assert_eq!(
        count(
            &url,
            "SELECT count(DISTINCT json_extract(details, '$.user_id')) FROM audit WHERE kind = 'event' AND json_extract(details, '$.user_id') LIKE 'r%.person'",
        ),
        500
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM (SELECT json_extract(details, '$.user_id') AS u, json_extract(details, '$.event') AS e FROM audit WHERE kind = 'event' GROUP BY u, e HAVING count(*) > 1) AS twice",
        ),
        0
    );
    assert_eq!(a.term().code(), Some(0));
    assert_eq!(b.term().code(), Some(0));
    verify_audit(dir.path());
}

#[test]
fn a_replica_killed_mid_apply_has_its_work_finished_by_the_other() {
    let scim = polc_connectors::testing::Scim2Server::start(&venv(), SCIM_TOKEN, &["slack"]);
    let (dir, url) = project(&scim);
    // a holds the work (it starts first) and dies after the first change it sends
    let mut a = Server::start(
        dir.path(),
        &[
            (SCIM_TOKEN_ENV, SCIM_TOKEN),
            ("POLC_FAILPOINT", "sent:1"),
            ("POLC_FAILPOINT_KILL", "1"),
        ],
    );
    let b = Server::start(dir.path(), &[(SCIM_TOKEN_ENV, SCIM_TOKEN)]);
    let names: Vec<String> = (0..20).map(|i| format!("k{i:02}.person")).collect();
    let batch: Vec<Value> = names
        .iter()
        .map(|n| hire(n, "Engineering", today()))
        .collect();
    let body = Value::Array(batch).to_string();
    let ts = now();
    let sig = sign_all(&[("msg_kill".into(), ts, body.clone())]).remove(0);
    // posted to b, which stores it; a, holding the work, takes it up and is killed
    let (st, v) = b.webhook_raw("msg_kill", ts, &sig, &body);
    assert_eq!(st, 202, "{v}");
    a.wait_killed(120);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM serve_plans WHERE status = 'applying'"
        ),
        1,
        "a died mid-apply"
    );
    // b takes the work and the plan over once a's leases expire (5 s)
    wait(&[&b], 120, "every hire in SCIM", || {
        let users = scim_users(scim.port);
        names
            .iter()
            .all(|n| users.iter().any(|u| u["userName"] == n.as_str()))
    });
    wait(&[&b], 120, "the apply finished", || {
        count(
            &url,
            "SELECT count(*) FROM serve_plans WHERE status = 'applying'",
        ) == 0
            && count(
                &url,
                "SELECT count(*) FROM serve_plans WHERE status = 'applied'",
            ) >= 1
    });
    provisioned_once(scim.port, &names);
    // reads on the replica's own connections to PostgreSQL
    let (st, v) = b.get("/v1/users/k00.person", "viewer");
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["user_id"], "k00.person", "{v}");
    assert!(
        b.logs().contains("resuming an apply"),
        "b did not resume a's apply:\n{}",
        b.logs()
    );
    assert_eq!(b.term().code(), Some(0));
    verify_audit(dir.path());
}

#[test]
fn the_state_url_flag_puts_the_state_in_postgresql_and_never_shows_its_password() {
    let dir = tempfile::tempdir().unwrap();
    polc_provision::init(dir.path()).unwrap();
    let url = polc_provision::pgtest::shared().database();
    let polc = |args: &[&str]| {
        Command::new(POLC)
            .args(args)
            .current_dir(dir.path())
            .env_remove("POLC_STATE_URL")
            .output()
            .unwrap()
    };
    let out = polc(&["hris", "import", "--at", "2025-06-01", "--state-url", &url]);
    assert!(out.status.success(), "{out:?}");
    assert!(count(&url, "SELECT count(*) FROM directory") > 0);
    assert!(
        !dir.path().join(".polc/state.db").exists(),
        "the SQLite state was made"
    );
    // the same through the environment
    let out = Command::new(POLC)
        .args(["status", "--format", "json"])
        .current_dir(dir.path())
        .env("POLC_STATE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // not PostgreSQL: exit 2, said plainly
    let out = polc(&["status", "--state-url", "mysql://root:hunter2@db/x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--state-url") && err.contains("PostgreSQL"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    // unreachable: the password is not in the message
    let out = polc(&[
        "status",
        "--state-url",
        "postgres://polc:hunter2@127.0.0.1:1/polc",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("127.0.0.1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
