//! `apply` against a real SCIM 2.0 server (`scim2-server`, PyPI, in `target/test-venv` or
//! POLC_TEST_VENV), against a plain HTTP client sending the same PATCH requests to the same
//! server in the same run.
//!
//! The server is started with three tenants. polc's project is `polc init`'s seed with
//! POLC_BENCH_USERS generated people (default 1,000) and one `scim` system, `slack`, in
//! `auto` mode, on the tenant `slack`. The people's accounts are made first over plain
//! HTTP (so that what is timed is membership changes, not account creation), then polc
//! imports, pulls and plans (untimed), and the apply of the plan's grants is timed: each
//! grant is one `PATCH /Groups/{id}` adding a member, with everything else polc does
//! around it (finding ids, reading back, the journal). The plain client (the `ureq` agent
//! the connector uses, one request after the other on a kept-alive connection) makes the
//! same accounts and groups in the tenants `plain1` and `plain2` and sends the same
//! memberships as PATCH requests, once before polc's apply and once after. Printed: PATCH
//! requests a second for each, and polc's rate as a fraction of the plain client's mean.
//!
//! `cargo bench -p polc-benches --bench scim`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use polc_connectors::testing::Scim2Server;
use polc_provision::plan::ActionKind;
use polc_provision::{ApplyOptions, Approval, DefaultConnectors, Project, Provision};
use serde_json::{json, Value};

const TOKEN: &str = "polc-bench-scim-token-5c1f";
const TOKEN_ENV: &str = "POLC_BENCH_SCIM_TOKEN";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A plain SCIM client on one tenant.
struct Plain {
    agent: ureq::Agent,
    base: String,
}

impl Plain {
    fn send(&self, method: &str, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "POST" => self.agent.post(&url),
            "PATCH" => self.agent.patch(&url),
            other => panic!("no {other} here"),
        };
        let mut reply = req
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .send(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = reply.status().as_u16();
        let text = reply.body_mut().read_to_string().unwrap_or_default();
        assert!(
            (200..300).contains(&status),
            "{method} {url}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn user(&self, name: &str) -> String {
        let v = self.send(
            "POST",
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "externalId": name, "active": true}),
        );
        v["id"].as_str().expect("a user id").to_string()
    }

    fn group(&self, name: &str) -> String {
        let v = self.send(
            "POST",
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}),
        );
        v["id"].as_str().expect("a group id").to_string()
    }

    fn add(&self, group: &str, user: &str) {
        self.send(
            "PATCH",
            &format!("/Groups/{group}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]}),
        );
    }

    /// Makes the accounts and groups, then times the PATCH requests of `memberships`
    /// (user, group): PATCH requests a second.
    fn run(&self, users: &[String], memberships: &[(String, String)]) -> (f64, Duration) {
        let ids: std::collections::HashMap<&str, String> =
            users.iter().map(|u| (u.as_str(), self.user(u))).collect();
        let mut groups: std::collections::HashMap<&str, String> = Default::default();
        for (_, g) in memberships {
            if !groups.contains_key(g.as_str()) {
                groups.insert(g, self.group(g));
            }
        }
        let t = Instant::now();
        for (u, g) in memberships {
            self.add(&groups[g.as_str()], &ids[u.as_str()]);
        }
        let dt = t.elapsed();
        (memberships.len() as f64 / dt.as_secs_f64(), dt)
    }
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "scim")
    {
        return;
    }
    let n: usize = std::env::var("POLC_BENCH_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let venv = match std::env::var_os("POLC_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-venv")),
    };
    let server = Scim2Server::start(&venv, TOKEN, &["slack", "plain1", "plain2"]);
    let plain = |tenant: &str| Plain {
        agent: agent(),
        base: server.url(tenant),
    };

    // polc's project: the seed's policies, one scim system
    let dir = std::env::temp_dir().join(format!("polc-bench-scim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    polc_provision::init(&dir).expect("polc init");
    let file = dir.join("polc.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    let head = toml.split("[systems.gitlab]").next().unwrap().to_string();
    std::fs::write(
        &file,
        head.replace("max_missing_percent = 5", "max_missing_percent = 100")
            + &format!(
                "[systems.slack]\nconnector = \"scim\"\nbase_url = \"{}\"\ntoken_env = \"{TOKEN_ENV}\"\nmode = \"auto\"\nrate_per_second = 0\n",
                server.url("slack")
            ),
    )
    .unwrap();
    std::env::set_var(TOKEN_ENV, TOKEN);
    let titles = [
        "Sales Engineer",
        "Solutions Architect",
        "Senior Sales Engineer",
    ];
    let depts = ["Sales", "Engineering", "Sales"];
    let people: Vec<String> = (0..n).map(|i| format!("u{i:06}")).collect();
    let users: Vec<Value> = people
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"user_id": id, "email": format!("{id}@x.com"), "first_name": "U", "last_name": "N",
                   "job_title": titles[i % 3], "department": depts[i % 3], "employment_type": "FTE",
                   "employment_status": "Active", "start_date": "2020-01-01"})
        })
        .collect();
    let users_file = dir.join("hris/bench.json");
    std::fs::write(&users_file, Value::Array(users).to_string()).unwrap();

    // the accounts, made over plain HTTP
    let slack = plain("slack");
    for id in &people {
        slack.user(id);
    }
    let at = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let project = Project::load(&file).unwrap();
    let mut p = Provision::open(project, Box::new(DefaultConnectors))
        .unwrap()
        .with_actor("bench");
    p.hris_import(&users_file, at, None).unwrap();
    p.pull(None).unwrap();
    let plan = p.plan(at).unwrap();
    // the memberships the plan makes: (user, group) with the default group templates
    let memberships: Vec<(String, String)> = plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Grant)
        .map(|a| {
            let ent = a.grant.as_deref().unwrap_or_default();
            let ent = ent.split_once(':').map_or(ent, |(_, rest)| rest);
            let group = match &a.level {
                Some(l) => format!("{ent}:{l}"),
                None => ent.to_string(),
            };
            (a.user_id.clone(), group)
        })
        .collect();
    assert_eq!(
        memberships.len(),
        plan.actions.len(),
        "the plan has only grants"
    );
    let groups: std::collections::BTreeSet<&str> =
        memberships.iter().map(|(_, g)| g.as_str()).collect();
    eprintln!(
        "{n} people, {} grants in {} groups",
        memberships.len(),
        groups.len()
    );

    let (before, t_before) = plain("plain1").run(&people, &memberships);
    eprintln!(
        "plain client, before: {} PATCH in {:.2} s: {before:.0}/s",
        memberships.len(),
        t_before.as_secs_f64()
    );

    let mut o = ApplyOptions::new(Approval::AutoApprove, at);
    o.fail_at = None;
    let t = Instant::now();
    let rep = p.apply(&plan.id, &o).unwrap();
    let dt = t.elapsed();
    assert!(rep.all_done(), "{:?}", rep.summary);
    let polc = rep.summary.done as f64 / dt.as_secs_f64();
    eprintln!(
        "polc apply: {} grants (one PATCH each) in {:.2} s: {polc:.0}/s",
        rep.summary.done,
        dt.as_secs_f64()
    );

    let (after, t_after) = plain("plain2").run(&people, &memberships);
    eprintln!(
        "plain client, after: {} PATCH in {:.2} s: {after:.0}/s",
        memberships.len(),
        t_after.as_secs_f64()
    );
    let mean = (before + after) / 2.0;
    eprintln!(
        "polc / plain client: {:.2} (goal: at least 0.33)",
        polc / mean
    );
    drop(p);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
