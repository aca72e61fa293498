//! The `scim` connector against a real SCIM 2.0 server (`scim2-server`, installed in
//! `target/test-venv` by `bash .ci/deps`), each test with its own server on a free port,
//! every result checked over plain HTTP; and through a fault-injecting proxy of the
//! test's own.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polc_connectors::{
    Applied, Change, Connector, ConnectorError, Holding, LeaverMode, Person, RetryConfig, Retrying,
    ScimConfig, ScimConnector, Secret,
};
use serde_json::{json, Value};

const TOKEN: &str = "polc-test-token-7f3a9c";

// ---------------------------------------------------------------------------------------
// The server.

/// A `scim2-server` process, killed (SIGKILL, by its own pid) when dropped.
fn venv() -> PathBuf {
    match std::env::var_os("POLC_TEST_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv"),
    }
}

use polc_connectors::testing::Scim2Server as Server;

fn start_server() -> Server {
    Server::start(&venv(), TOKEN, &["slack", "gitlab"])
}

// ---------------------------------------------------------------------------------------
// Plain HTTP, to check what the connector did without the connector.

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn http(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Content-Type", "application/scim+json");
    let mut response = match body {
        Some(body) => agent().run(request.body(body.to_string()).unwrap()),
        None => agent().run(request.body(()).unwrap()),
    }
    .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every resource of `kind` (`Users`, `Groups`) over plain HTTP.
fn all(base: &str, kind: &str) -> Vec<Value> {
    let (status, body) = http("GET", &format!("{base}/{kind}?count=100000"), None);
    assert_eq!(status, 200, "{body}");
    body["Resources"].as_array().cloned().unwrap_or_default()
}

fn user(base: &str, user_name: &str) -> Option<Value> {
    let filter = encode(&format!("userName eq \"{user_name}\""));
    let (_, body) = http("GET", &format!("{base}/Users?filter={filter}"), None);
    let found = body["Resources"].as_array().cloned().unwrap_or_default();
    assert!(found.len() <= 1, "one account per user name: {found:?}");
    found.into_iter().next()
}

fn group(base: &str, name: &str) -> Option<Value> {
    let filter = encode(&format!("displayName eq \"{name}\""));
    let (_, body) = http("GET", &format!("{base}/Groups?filter={filter}"), None);
    let found = body["Resources"].as_array().cloned().unwrap_or_default();
    assert!(found.len() <= 1, "one group per name: {found:?}");
    found.into_iter().next()
}

/// The userNames of the members of group `name` (empty when there is no group).
fn members(base: &str, name: &str) -> Vec<String> {
    let Some(group) = group(base, name) else {
        return Vec::new();
    };
    let users: BTreeMap<String, String> = all(base, "Users")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_string(),
                u["userName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut names: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| users.get(m["value"].as_str()?).cloned())
        .collect();
    names.sort();
    names
}

fn create_group(base: &str, name: &str, member_ids: &[&str]) -> String {
    let members: Vec<Value> = member_ids.iter().map(|id| json!({"value": id})).collect();
    let (status, body) = http(
        "POST",
        &format!("{base}/Groups"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members,
        })),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------
// The connector.

fn slack_types() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        ("channel".to_string(), vec![]),
        (
            "workspace".to_string(),
            vec!["admin".to_string(), "member".to_string()],
        ),
    ])
}

fn config(base: &str) -> ScimConfig {
    let mut config = ScimConfig::new("slack", base, Secret::new(TOKEN), slack_types());
    config.timeout = Duration::from_secs(10);
    config
}

fn person(id: &str) -> Person {
    Person {
        user_id: id.into(),
        ..Person::default()
    }
}

fn grant(grant: &str, level: Option<&str>) -> Change {
    Change::Grant {
        grant: grant.into(),
        level: level.map(String::from),
    }
}

fn fast_retries() -> RetryConfig {
    RetryConfig {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        read_back: Duration::from_secs(2),
        read_back_interval: Duration::from_millis(20),
        ..RetryConfig::default()
    }
}

#[test]
fn grant_revoke_set_level_deprovision_and_reactivate_as_read_over_http() {
    let server = start_server();
    let base = server.url("slack");
    let mut c = Retrying::new(ScimConnector::new(config(&base)).unwrap(), fast_retries());
    let ann = person("ann");
    let sales = "slack:channel:#sales";
    let main = "slack:workspace:main";

    // The first grant makes the account and the group.
    assert!(user(&base, "ann").is_none());
    assert_eq!(
        c.apply_confirmed(&ann, &grant(sales, None)).unwrap(),
        Applied::Done
    );
    let account = user(&base, "ann").expect("the account was made");
    assert_eq!(account["active"], json!(true));
    assert_eq!(members(&base, "channel:#sales"), vec!["ann"]);
    // Idempotent.
    assert_eq!(
        c.apply_confirmed(&ann, &grant(sales, None)).unwrap(),
        Applied::AlreadyPresent
    );

    // Levels: one group per level; set level adds the new before removing the old.
    assert_eq!(
        c.apply_confirmed(&ann, &grant(main, Some("admin")))
            .unwrap(),
        Applied::Done
    );
    assert_eq!(members(&base, "workspace:main:admin"), vec!["ann"]);
    let set = Change::SetLevel {
        grant: main.into(),
        from: Some("admin".into()),
        to: Some("member".into()),
    };
    assert_eq!(c.apply_confirmed(&ann, &set).unwrap(), Applied::Done);
    assert_eq!(
        c.apply_confirmed(&ann, &set).unwrap(),
        Applied::AlreadyPresent
    );
    assert!(members(&base, "workspace:main:admin").is_empty());
    assert_eq!(members(&base, "workspace:main:member"), vec!["ann"]);

    // A revoke takes every level away, also one added behind polc's back.
    let admin_group = group(&base, "workspace:main:admin").unwrap();
    let ann_id = account["id"].as_str().unwrap();
    let (status, _) = http(
        "PATCH",
        &format!("{base}/Groups/{}", admin_group["id"].as_str().unwrap()),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ann_id}]}],
        })),
    );
    assert_eq!(status, 204);
    let seen = c.read_back(&ann, Some(main)).unwrap();
    assert_eq!(
        seen.levels,
        vec![Some("admin".to_string()), Some("member".to_string())]
    );
    let revoke = Change::Revoke { grant: main.into() };
    assert_eq!(c.apply_confirmed(&ann, &revoke).unwrap(), Applied::Done);
    assert_eq!(
        c.apply_confirmed(&ann, &revoke).unwrap(),
        Applied::AlreadyAbsent
    );
    assert!(members(&base, "workspace:main:admin").is_empty());
    assert!(members(&base, "workspace:main:member").is_empty());
    assert_eq!(members(&base, "channel:#sales"), vec!["ann"]);

    // Deactivate, reactivate, delete.
    let deactivate = Change::Deprovision {
        mode: LeaverMode::Deactivate,
    };
    assert_eq!(c.apply_confirmed(&ann, &deactivate).unwrap(), Applied::Done);
    assert_eq!(user(&base, "ann").unwrap()["active"], json!(false));
    assert_eq!(
        c.apply_confirmed(&ann, &deactivate).unwrap(),
        Applied::AlreadyAbsent
    );
    assert_eq!(
        c.apply_confirmed(&ann, &Change::Reactivate).unwrap(),
        Applied::Done
    );
    assert_eq!(user(&base, "ann").unwrap()["active"], json!(true));
    assert_eq!(
        c.apply_confirmed(&ann, &Change::Reactivate).unwrap(),
        Applied::AlreadyPresent
    );
    let keep = Change::Deprovision {
        mode: LeaverMode::Keep,
    };
    assert_eq!(
        c.apply_confirmed(&ann, &keep).unwrap(),
        Applied::AlreadyPresent
    );
    let delete = Change::Deprovision {
        mode: LeaverMode::Delete,
    };
    assert_eq!(c.apply_confirmed(&ann, &delete).unwrap(), Applied::Done);
    assert!(user(&base, "ann").is_none());
    assert_eq!(
        c.apply_confirmed(&ann, &delete).unwrap(),
        Applied::AlreadyAbsent
    );
    // Nobody to revoke from, nobody to reactivate.
    assert_eq!(
        c.apply(
            &ann,
            &Change::Revoke {
                grant: sales.into()
            }
        )
        .unwrap(),
        Applied::AlreadyAbsent
    );
    assert_eq!(
        c.apply(&ann, &Change::Reactivate).unwrap(),
        Applied::AlreadyAbsent
    );

    // A grant that does not fit the declared types fails before any request.
    let err = c
        .apply(&ann, &grant("slack:workspace:main", Some("owner")))
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    let err = c.apply(&ann, &grant("gitlab:group:x", None)).unwrap_err();
    assert!(
        err.to_string().contains("not a grant of the system slack"),
        "{err}"
    );
}

#[test]
fn listing_pages_maps_names_back_and_ignores_foreign_groups() {
    let server = start_server();
    let base = server.url("slack");
    let mut cfg = config(&base);
    cfg.user_name = "{email}".into();
    cfg.page_size = 100;
    let mut c = ScimConnector::new(cfg).unwrap();
    let people: Vec<Person> = (0..3)
        .map(|i| Person {
            user_id: format!("u{i}"),
            attributes: BTreeMap::from([("email".to_string(), format!("U{i}@example.org"))]),
        })
        .collect();
    for p in &people {
        c.apply(p, &grant("slack:channel:#general", None)).unwrap();
    }
    c.apply(&people[0], &grant("slack:workspace:main", Some("admin")))
        .unwrap();
    let u1 = user(&base, "U1@example.org").unwrap();
    let u1_id = u1["id"].as_str().unwrap();
    // 250 more channel groups (u1 in each) and groups that do not map back.
    for i in 0..250 {
        create_group(&base, &format!("channel:#c{i:03}"), &[u1_id]);
    }
    for foreign in [
        "engineering",
        "project:x",
        "workspace:main:owner",
        "workspace:main",
        "channel:",
    ] {
        create_group(&base, foreign, &[u1_id]);
    }
    // An account nobody in the directory has: its memberships are not mapped.
    let (status, stranger) = http(
        "POST",
        &format!("{base}/Users"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "stranger@example.org",
        })),
    );
    assert_eq!(status, 201);
    create_group(
        &base,
        "channel:#strangers",
        &[stranger["id"].as_str().unwrap()],
    );

    // A fresh connector knows the people only through the directory.
    let mut cfg = config(&base);
    cfg.user_name = "{email}".into();
    cfg.page_size = 100;
    let mut fresh = ScimConnector::new(cfg).unwrap();
    fresh.set_directory(&people);
    let before = fresh.requests_sent();
    let listing = fresh.list().unwrap();
    // Users: one page; groups: 258 in pages of 100.
    assert_eq!(fresh.requests_sent() - before, 1 + 3);
    assert_eq!(listing.holdings.len(), 3 + 1 + 250);
    assert!(listing.holdings.contains(&Holding {
        user_id: "u0".into(),
        grant: "slack:workspace:main".into(),
        level: Some("admin".into()),
    }));
    assert!(listing.holdings.contains(&Holding {
        user_id: "u1".into(),
        grant: "slack:channel:#c249".into(),
        level: None,
    }));
    assert!(listing
        .holdings
        .iter()
        .all(|h| h.grant.starts_with("slack:channel:#") || h.grant == "slack:workspace:main"));
    assert!(!listing
        .holdings
        .iter()
        .any(|h| h.grant == "slack:channel:#strangers"));
    let accounts: Vec<(&str, bool)> = listing
        .accounts
        .iter()
        .map(|a| (a.user_id.as_str(), a.active))
        .collect();
    assert_eq!(accounts, vec![("u0", true), ("u1", true), ("u2", true)]);

    // The listing filled the caches: a grant to a listed group and user sends no lookup.
    let before = fresh.requests_sent();
    assert_eq!(
        fresh
            .apply(&people[2], &grant("slack:channel:#c000", None))
            .unwrap(),
        Applied::Done
    );
    // The ServiceProviderConfig once, what u2 holds, the group's version, the PATCH.
    assert_eq!(fresh.requests_sent() - before, 4);
    let before = fresh.requests_sent();
    fresh
        .apply(&people[2], &grant("slack:channel:#c001", None))
        .unwrap();
    assert_eq!(fresh.requests_sent() - before, 3);
}

#[test]
fn the_token_never_appears_in_errors_or_debug_output() {
    let server = start_server();
    let base = server.url("slack");
    let mut texts = vec![format!("{:?}", config(&base))];
    // A refused token (the wrong one, which is our secret here).
    let mut cfg = config(&base);
    cfg.token = Secret::new("wrong-token-also-secret");
    let mut refused = ScimConnector::new(cfg).unwrap();
    let err = refused.apply(&person("a"), &grant("slack:channel:#x", None));
    let err = err.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    texts.push(format!("{err} {err:?} {refused:?}"));
    // A tenant that does not exist, a server that is gone.
    let mut c = ScimConnector::new(config(&server.url("nope"))).unwrap();
    let err = c.list().unwrap_err();
    texts.push(format!("{err} {err:?} {c:?}"));
    let mut good = Retrying::new(ScimConnector::new(config(&base)).unwrap(), fast_retries());
    good.apply(&person("a"), &grant("slack:channel:#x", None))
        .unwrap();
    texts.push(format!("{good:?}"));
    drop(server);
    let err = good
        .apply(&person("b"), &grant("slack:channel:#x", None))
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    texts.push(format!("{err} {err:?} {good:?}"));
    for text in texts {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains("wrong-token-also-secret"), "{text}");
    }
}

#[test]
fn a_group_changed_by_someone_else_is_read_again_after_a_412() {
    let server = start_server();
    let base = server.url("gitlab");
    let types = BTreeMap::from([("group".to_string(), vec![])]);
    let mut c = Retrying::new(
        ScimConnector::new(ScimConfig::new("gitlab", &base, Secret::new(TOKEN), types)).unwrap(),
        fast_retries(),
    );
    let cs = grant("gitlab:group:cs", None);
    c.apply_confirmed(&person("ann"), &cs).unwrap();
    // Someone else adds a member: the version the connector has is stale.
    let (_, other) = http(
        "POST",
        &format!("{base}/Users"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "other",
        })),
    );
    let group_id = group(&base, "group:cs").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = http(
        "PATCH",
        &format!("{base}/Groups/{group_id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": other["id"]}]}],
        })),
    );
    assert_eq!(status, 204);
    // The stale If-Match gets a 412; the retry reads the version again and goes through.
    let err = c
        .inner_mut()
        .apply(&person("bob"), &cs)
        .expect_err("the stale version is refused");
    assert!(matches!(err, ConnectorError::Conflict(_)), "{err:?}");
    assert_eq!(
        c.apply_confirmed(&person("bob"), &cs).unwrap(),
        Applied::Done
    );
    assert_eq!(members(&base, "group:cs"), vec!["ann", "bob", "other"]);
}

#[test]
fn requests_per_action_and_actions_per_second() {
    let server = start_server();
    let base = server.url("slack");
    let mut c = ScimConnector::new(config(&base)).unwrap();
    let people: Vec<Person> = (0..50).map(|i| person(&format!("p{i:02}"))).collect();
    // Joiners: the account, then the first grant.
    let start = Instant::now();
    for p in &people {
        c.apply(p, &grant("slack:channel:#all", None)).unwrap();
    }
    let joiners = start.elapsed();
    let joiner_requests = c.requests_sent();
    // Known people, known groups: what one more grant costs.
    let before = c.requests_sent();
    let start = Instant::now();
    for p in &people {
        c.apply(p, &grant("slack:workspace:main", Some("member")))
            .unwrap();
    }
    let grants = start.elapsed();
    let per_grant = (c.requests_sent() - before) as f64 / people.len() as f64;
    let rate = people.len() as f64 / grants.as_secs_f64();
    eprintln!("scim: 50 first grants (joiners) in {joiners:?}, {joiner_requests} requests");
    eprintln!("scim: 50 more grants in {grants:?}, {per_grant} requests each, {rate:.0}/s");
    // Lookup of the user's groups and the PATCH; the group's version once.
    assert!(per_grant <= 2.1, "{per_grant}");
    assert!(joiner_requests <= 50 * 4 + 4, "{joiner_requests}");
}

#[test]
fn a_batch_is_read_back_with_one_read_of_each_group() {
    let server = start_server();
    let base = server.url("slack");
    let mut c = ScimConnector::new(config(&base)).unwrap();
    let people: Vec<Person> = (0..20).map(|i| person(&format!("b{i:02}"))).collect();
    let level = |i: usize| if i % 2 == 0 { "member" } else { "admin" };
    for (i, p) in people.iter().enumerate() {
        c.apply(p, &grant("slack:workspace:main", Some(level(i))))
            .unwrap();
        if i < 15 {
            c.apply(p, &grant("slack:channel:#batch", None)).unwrap();
        }
    }
    let mut items: Vec<(Person, String)> = people
        .iter()
        .flat_map(|p| {
            [
                (p.clone(), "slack:workspace:main".to_string()),
                (p.clone(), "slack:channel:#batch".to_string()),
            ]
        })
        .collect();
    items.push((person("nobody"), "slack:channel:#batch".into()));
    let before = c.requests_sent();
    let read = c
        .read_back_batch(&items)
        .expect("the SCIM connector reads a batch back");
    // the groups of workspace:main (admin, member) and of channel:#batch once each, and
    // the account that does not exist looked up once
    assert_eq!(c.requests_sent() - before, 4);
    assert_eq!(read.len(), items.len());
    for (i, _) in people.iter().enumerate() {
        assert_eq!(
            read[2 * i].as_ref().unwrap(),
            &vec![Some(level(i).to_string())]
        );
        let channel: Vec<Option<String>> = if i < 15 { vec![None] } else { vec![] };
        assert_eq!(read[2 * i + 1].as_ref().unwrap(), &channel);
    }
    assert!(read.last().unwrap().as_ref().unwrap().is_empty());
    // what it says is what reading back one by one says
    for ((p, g), r) in items.iter().zip(&read) {
        assert_eq!(
            &c.read_back(p, Some(g)).unwrap().levels,
            r.as_ref().unwrap()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Faults: a proxy of the test's own between the connector and the server.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Close the connection without forwarding or answering.
    CutBefore,
    /// Forward the request, then close the connection without the answer.
    CutAfter,
    /// Answer 500 without forwarding.
    Error500,
    /// Answer 429 with `Retry-After: 1` without forwarding.
    TooMany,
    /// Answer 204 without forwarding: a server that says yes without doing it.
    Lie204,
    /// Answer 400 without forwarding: a server that does not support the request.
    Refuse400,
}

struct Rule {
    method: &'static str,
    path: &'static str,
    fault: Fault,
    times: usize,
}

#[derive(Clone, Default)]
struct Faults {
    rules: Arc<Mutex<Vec<Rule>>>,
    applied: Arc<Mutex<Vec<(Fault, String)>>>,
}

impl Faults {
    fn add(&self, method: &'static str, path: &'static str, fault: Fault, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            method,
            path,
            fault,
            times,
        });
    }
    fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }
    fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.times > 0 && r.method == method && path.contains(r.path))?;
        rule.times -= 1;
        self.applied
            .lock()
            .unwrap()
            .push((rule.fault, format!("{method} {path}")));
        Some(rule.fault)
    }
}

/// Starts the proxy to `upstream`; answers its port.
fn proxy(upstream: u16, faults: Faults) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let faults = faults.clone();
            std::thread::spawn(move || {
                let _ = serve(client, upstream, &faults);
            });
        }
    });
    port
}

/// One request of `client` (the proxy answers with `Connection: close`).
fn serve(mut client: TcpStream, upstream: u16, faults: &Faults) -> std::io::Result<()> {
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
    let first = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let answer = |client: &mut TcpStream, status: &str, extra: &str| {
        let text =
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n");
        client.write_all(text.as_bytes())
    };
    match faults.take(&method, &path) {
        Some(Fault::CutBefore) => return client.shutdown(Shutdown::Both),
        Some(Fault::Error500) => return answer(&mut client, "500 Internal Server Error", ""),
        Some(Fault::TooMany) => {
            return answer(&mut client, "429 Too Many Requests", "Retry-After: 1\r\n")
        }
        Some(Fault::Lie204) => return answer(&mut client, "204 No Content", ""),
        Some(Fault::Refuse400) => return answer(&mut client, "400 Bad Request", ""),
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

/// Sends the request upstream (the server closes after its answer: HTTP/1.0).
fn forward(upstream: u16, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(head)?;
    server.write_all(body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    Ok(response)
}

/// A server that cannot filter groups by member (400): what an account holds is read from
/// each group of the grant, and says the same as the filter; a group that answers an
/// error is an error, never "not a member".
#[test]
fn a_server_without_the_member_filter_is_read_group_by_group() {
    let server = start_server();
    let faults = Faults::default();
    let port = proxy(server.port, faults.clone());
    let mut direct = ScimConnector::new(config(&server.url("slack"))).unwrap();
    let ann = person("ann");
    direct
        .apply(&ann, &grant("slack:workspace:main", Some("admin")))
        .unwrap();
    direct
        .apply(&ann, &grant("slack:channel:#sales", None))
        .unwrap();
    let mut c = ScimConnector::new(config(&format!("http://127.0.0.1:{port}/slack/v2"))).unwrap();
    faults.add("GET", "members.value", Fault::Refuse400, 1000);
    for (g, want) in [
        ("slack:workspace:main", vec![Some("admin".to_string())]),
        ("slack:channel:#sales", vec![None]),
        ("slack:channel:#other", vec![]),
    ] {
        let read = c.read_back(&ann, Some(g)).unwrap().levels;
        assert_eq!(read, want, "{g}");
        assert_eq!(direct.read_back(&ann, Some(g)).unwrap().levels, want, "{g}");
    }
    assert!(
        faults
            .applied
            .lock()
            .unwrap()
            .iter()
            .any(|(f, _)| *f == Fault::Refuse400),
        "the member filter was never refused"
    );
    // a group read that fails is an error
    faults.add("GET", "attributes=members", Fault::Refuse400, 1000);
    assert!(c.read_back(&ann, Some("slack:channel:#sales")).is_err());
}

#[test]
fn faults_are_retried_and_nothing_is_duplicated_or_lost() {
    let server = start_server();
    let faults = Faults::default();
    let port = proxy(server.port, faults.clone());
    let through_proxy = format!("http://127.0.0.1:{port}/slack/v2");
    let direct = server.url("slack");
    let mut c = Retrying::new(
        ScimConnector::new(config(&through_proxy)).unwrap(),
        fast_retries(),
    );
    // Creations whose answers are lost (the server did them), cut requests, 500s and 429s.
    faults.add("POST", "/Users", Fault::CutAfter, 2);
    faults.add("POST", "/Groups", Fault::CutAfter, 2);
    faults.add("PATCH", "/Groups/", Fault::CutAfter, 1);
    faults.add("PATCH", "/Groups/", Fault::CutBefore, 1);
    faults.add("PATCH", "/Groups/", Fault::Error500, 2);
    faults.add("GET", "/Users", Fault::TooMany, 1);
    faults.add("GET", "/Groups", Fault::Error500, 1);
    let people: Vec<Person> = ["ann", "bob", "cy"].iter().map(|p| person(p)).collect();
    let start = Instant::now();
    for p in &people {
        c.apply_confirmed(p, &grant("slack:channel:#sales", None))
            .unwrap();
        c.apply_confirmed(p, &grant("slack:workspace:main", Some("member")))
            .unwrap();
    }
    c.apply_confirmed(
        &people[0],
        &Change::SetLevel {
            grant: "slack:workspace:main".into(),
            from: Some("member".into()),
            to: Some("admin".into()),
        },
    )
    .unwrap();
    let injected = faults.applied.lock().unwrap().len();
    assert_eq!(injected, 10, "{:?}", faults.applied.lock().unwrap());
    // The 429 asked for a second.
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert!(!c.is_quarantined());

    // Exactly what was asked, read directly from the server: one account per person,
    // one group per name, each member once.
    let users: Vec<String> = all(&direct, "Users")
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users.len(), 3, "{users:?}");
    let mut names: Vec<String> = all(&direct, "Groups")
        .iter()
        .map(|g| g["displayName"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "channel:#sales",
            "workspace:main:admin",
            "workspace:main:member"
        ]
    );
    assert_eq!(members(&direct, "channel:#sales"), vec!["ann", "bob", "cy"]);
    assert_eq!(members(&direct, "workspace:main:member"), vec!["bob", "cy"]);
    assert_eq!(members(&direct, "workspace:main:admin"), vec!["ann"]);
    for g in all(&direct, "Groups") {
        let ids: Vec<&str> = g["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "{g}");
    }
}

#[test]
fn a_server_that_says_yes_without_doing_it_fails_the_action() {
    let server = start_server();
    let faults = Faults::default();
    let port = proxy(server.port, faults.clone());
    let through_proxy = format!("http://127.0.0.1:{port}/slack/v2");
    let direct = server.url("slack");
    let mut c = Retrying::new(
        ScimConnector::new(config(&through_proxy)).unwrap(),
        fast_retries(),
    );
    let ann = person("ann");
    faults.add("PATCH", "/", Fault::Lie204, 1000);
    let sales = grant("slack:channel:#sales", None);
    // The connector believes it (the PATCH said 204) …
    let start = Instant::now();
    let err = c.apply_confirmed(&ann, &sales).unwrap_err();
    // … but reading back for `read_back_seconds` never shows it.
    assert!(matches!(err, ConnectorError::NotConfirmed(_)), "{err:?}");
    assert!(
        err.to_string().contains("read back shows not held"),
        "{err}"
    );
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert!(members(&direct, "channel:#sales").is_empty());
    let deactivate = Change::Deprovision {
        mode: LeaverMode::Deactivate,
    };
    let err = c.apply_confirmed(&ann, &deactivate).unwrap_err();
    assert!(matches!(err, ConnectorError::NotConfirmed(_)), "{err:?}");
    assert_eq!(user(&direct, "ann").unwrap()["active"], json!(true));

    // Once the server is honest again, the same actions go through.
    faults.clear();
    assert_eq!(c.apply_confirmed(&ann, &sales).unwrap(), Applied::Done);
    assert_eq!(c.apply_confirmed(&ann, &deactivate).unwrap(), Applied::Done);
    assert_eq!(members(&direct, "channel:#sales"), vec!["ann"]);
    assert_eq!(user(&direct, "ann").unwrap()["active"], json!(false));
}

#[test]
fn a_system_that_keeps_failing_is_quarantined() {
    let server = start_server();
    let faults = Faults::default();
    let port = proxy(server.port, faults.clone());
    let mut c = Retrying::new(
        ScimConnector::new(config(&format!("http://127.0.0.1:{port}/slack/v2"))).unwrap(),
        RetryConfig {
            max_attempts: 3,
            quarantine_after: 5,
            ..fast_retries()
        },
    );
    faults.add("GET", "/", Fault::Error500, 1000);
    let mut queue: VecDeque<&str> = VecDeque::from(["a", "b", "c"]);
    let mut errors = Vec::new();
    while let Some(p) = queue.pop_front() {
        errors.push(
            c.apply(&person(p), &grant("slack:channel:#x", None))
                .unwrap_err(),
        );
    }
    assert!(matches!(errors[0], ConnectorError::Transient(_)));
    assert!(
        matches!(errors[1], ConnectorError::Quarantined { .. }),
        "{:?}",
        errors[1]
    );
    assert!(matches!(errors[2], ConnectorError::Quarantined { .. }));
    assert!(c.is_quarantined());
    // 3 + 2 calls reached the system; none after the quarantine.
    assert_eq!(faults.applied.lock().unwrap().len(), 5);
    assert!(errors[2].to_string().contains("HTTP 500"), "{}", errors[2]);
}
