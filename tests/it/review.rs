//! The web review page of `polc serve` over HTTP (docs/review.md): sign-in and the session
//! cookie's flags (`Secure` under TLS), CSRF refusals, a viewer refused when posting the
//! approve form, hostile names escaped, reject with a reason, and a snapshot of each page
//! of the seed state. The browser test is `review_browser.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::serve::{append, curl, hire, now, openssl, pending, project, token, Server, SECRET};

pub(crate) const SEED: &str = concat!(root!(), "/examples/seed");

/// An answer: status, headers (lower-case names), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A client of the pages that keeps cookies and follows no redirect.
pub(crate) struct Web {
    base: String,
    pub(crate) cookies: BTreeMap<String, String>,
    agent: ureq::Agent,
}

/// `application/x-www-form-urlencoded`.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the first hidden field `name` in a page.
pub(crate) fn hidden(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &body[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Web {
    pub(crate) fn new(s: &Server) -> Web {
        Web {
            base: s.base.clone(),
            cookies: BTreeMap::new(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn answer(&mut self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut r = r.unwrap();
        let headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie" {
                let (nv, _) = v.split_once(';').unwrap_or((v, ""));
                let (n, val) = nv.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(n);
                } else {
                    self.cookies.insert(n.to_string(), val.to_string());
                }
            }
        }
        Answer {
            status: r.status().as_u16(),
            headers,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Answer {
        let r = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("cookie", &self.cookie_header())
            .call();
        self.answer(r)
    }

    pub(crate) fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("cookie", &self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .send(form(fields).as_bytes());
        self.answer(r)
    }

    /// Signs in with the token of `role` (of `TOKENS`); the answer to the form.
    pub(crate) fn sign_in(&mut self, role: &str) -> Answer {
        let page = self.get("/sign-in");
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = hidden(&page.body, "csrf").expect("the sign-in form's CSRF token");
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("token", token(role)), ("next", "/")],
        )
    }

    /// The session's CSRF token, from a page.
    pub(crate) fn csrf(&mut self) -> String {
        let a = self.get("/people");
        assert_eq!(a.status, 200, "{}", a.body);
        hidden(&a.body, "csrf").expect("a CSRF token on the page")
    }
}

/// The seed's records, without Sarah (she is hired by the seed's event).
fn users_but_sarah() -> Vec<u8> {
    let all: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{SEED}/users.json")).unwrap())
            .unwrap();
    serde_json::to_vec(
        &all.into_iter()
            .filter(|u| u["user_id"] != "sarah.chen")
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// A file system's entries from the seed's access export (`gitlab`, `slack`), without Sarah's.
fn seed_entries(system: &str) -> String {
    let all: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(format!("{SEED}/access.json")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for (user, grants) in all.iter().filter(|(u, _)| *u != "sarah.chen") {
        for g in grants
            .iter()
            .filter(|g| g.starts_with(&format!("{system}:")))
        {
            let (grant, level) = match g.split_once(" (") {
                Some((g, l)) => (g, Some(l.trim_end_matches(')'))),
                None => (g.as_str(), None),
            };
            out.push(json!({"user_id": user, "grant": grant, "level": level}));
        }
    }
    // drift the export does not have: John kept a group of Sarah's old exception
    if system == "gitlab" {
        out.push(json!({"user_id": "john.doe", "grant": "gitlab:group:platform-engineering", "level": "developer"}));
    }
    serde_json::to_string_pretty(&out).unwrap()
}

/// The seed's project for the pages: `github` (auto), `gitlab` and `slack` (review, files
/// holding what the seed's access export gives everyone but Sarah), no schedule.
pub(crate) fn seed_project() -> tempfile::TempDir {
    let dir = project();
    let d = dir.path();
    std::fs::write(d.join("systems/gitlab.json"), seed_entries("gitlab")).unwrap();
    std::fs::write(d.join("systems/slack.json"), seed_entries("slack")).unwrap();
    append(
        d,
        "\n[systems.slack]\nconnector = \"file\"\npath = \"systems/slack.json\"\nmode = \"review\"\n\n[schedule]\npull = \"off\"\nplan = \"off\"\ndrift = \"off\"\n",
    );
    dir
}

/// The seed's hire (examples/seed/events/01-hired.json) as a webhook.
pub(crate) fn hire_sarah(s: &Server) {
    let body = std::fs::read_to_string(format!("{SEED}/events/01-hired.json")).unwrap();
    let (st, v) = s.webhook("msg_seed_hire", &body, now(), SECRET);
    assert_eq!(st, 202, "{v}");
    s.wait_for("the pending plan of Sarah's hire", || {
        pending(s).iter().any(|p| {
            let (_, v) = s.get(
                &format!("/v1/plans/{}", p["id"].as_str().unwrap()),
                "viewer",
            );
            v["plan"]["actions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["user_id"] == "sarah.chen"))
        })
    });
}

/// The seed state: the snapshot of everyone but Sarah (the baseline), a drift run, Sarah's
/// hire, a grant made by hand in slack (Priya's `#sales-leadership`), a drift run again.
/// One plan is pending (gitlab and slack); github's were applied. The pending plan's id.
pub(crate) fn seed_state(s: &Server, dir: &Path) -> String {
    let (st, v) = s.send(
        "POST",
        "/v1/hris/snapshot",
        Some("hris"),
        &[],
        Some(&users_but_sarah()),
    );
    assert_eq!(st, 200, "{v}");
    s.wait_for("the baseline's pending plan", || !pending(s).is_empty());
    let (st, v) = s.post("/v1/drift/run", "operator", &json!({}));
    assert_eq!(st, 200, "{v}");
    hire_sarah(s);
    let file = dir.join("systems/slack.json");
    let mut held: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    held.push(
        json!({"user_id": "priya.nair", "grant": "slack:channel:#sales-leadership", "level": null}),
    );
    std::fs::write(&file, serde_json::to_string_pretty(&held).unwrap()).unwrap();
    let (st, v) = s.post("/v1/drift/run", "operator", &json!({}));
    assert_eq!(st, 200, "{v}");
    let p = pending(s);
    assert_eq!(p.len(), 1, "{p:?}");
    p[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn sign_in_gives_a_strict_session_cookie_and_sign_out_ends_it() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    let mut w = Web::new(&s);
    // a page without a session goes to the sign-in page, and back after
    let a = w.get("/people?q=a");
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location"), Some("/sign-in?next=/people%3Fq%3Da"));
    let a = w.get("/");
    assert_eq!((a.status, a.header("location")), (303, Some("/sign-in")));
    // a POST without a session is refused
    assert_eq!(w.post("/plans/x/approve", &[("digest", "d")]).status, 401);
    // the sign-in form's token must match its cookie
    let page = w.get("/sign-in");
    assert_eq!(page.status, 200);
    let c = page.cookies();
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].starts_with("polc_signin=")
            && c[0].contains("HttpOnly")
            && c[0].contains("SameSite=Strict")
            && !c[0].contains("Secure"),
        "{c:?}"
    );
    for (k, v) in [
        ("content-security-policy", "script-src 'none'"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("content-type", "text/html"),
    ] {
        assert!(
            page.header("strict-transport-security").is_none(),
            "no TLS here"
        );
        assert!(
            page.header(k).is_some_and(|h| h.contains(v)),
            "{k}: {:?}",
            page.header(k)
        );
    }
    let csrf = hidden(&page.body, "csrf").unwrap();
    let a = w.post("/sign-in", &[("csrf", "0000"), ("token", token("viewer"))]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("security token"), "{}", a.body);
    assert!(!w.cookies.contains_key("polc_session"));
    // a wrong token, and the hris role, do not sign in
    let csrf2 = hidden(&a.body, "csrf").unwrap();
    let a = w.post("/sign-in", &[("csrf", &csrf2), ("token", "not-a-token")]);
    assert_eq!(a.status, 401, "{}", a.body);
    let csrf3 = hidden(&a.body, "csrf").unwrap();
    let a = w.post("/sign-in", &[("csrf", &csrf3), ("token", token("hris"))]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("hris role"), "{}", a.body);
    assert!(!w.cookies.contains_key("polc_session"));
    // an old form's token no longer matches the cookie
    let a = w.post("/sign-in", &[("csrf", &csrf), ("token", token("viewer"))]);
    assert_eq!(a.status, 403, "{}", a.body);
    // a viewer signs in: the session cookie, back to where they were going
    let page = w.get("/sign-in?next=/drift");
    let csrf = hidden(&page.body, "csrf").unwrap();
    let a = w.post(
        "/sign-in",
        &[
            ("csrf", &csrf),
            ("token", token("viewer")),
            ("next", "/drift"),
        ],
    );
    assert_eq!((a.status, a.header("location")), (303, Some("/drift")));
    let session = a
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("polc_session="))
        .unwrap()
        .to_string();
    let id = &session["polc_session=".len()..session.find(';').unwrap()];
    assert_eq!(id.len(), 64, "{session}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{session}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    assert!(!session.contains("Secure"), "no TLS here: {session}");
    assert!(!session.contains(token("viewer")), "{session}");
    let a = w.get("/");
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body
            .contains("Signed in as <strong>vera</strong> (viewer)"),
        "{}",
        a.body
    );
    // another site's `next` is not followed
    let mut other = Web::new(&s);
    let page = other.get("/sign-in?next=//evil.example/x");
    let csrf = hidden(&page.body, "csrf").unwrap();
    let a = other.post(
        "/sign-in",
        &[
            ("csrf", &csrf),
            ("token", token("reviewer")),
            ("next", "https://evil.example"),
        ],
    );
    assert_eq!((a.status, a.header("location")), (303, Some("/")));
    // sign-out needs the session's CSRF token, then ends the session for good
    let old = w.cookies.clone();
    assert_eq!(w.post("/sign-out", &[]).status, 403);
    let csrf = w.csrf();
    let a = w.post("/sign-out", &[("csrf", &csrf)]);
    assert_eq!((a.status, a.header("location")), (303, Some("/sign-in")));
    assert!(a
        .cookies()
        .iter()
        .any(|c| c.starts_with("polc_session=;") && c.contains("Max-Age=0")));
    w.cookies = old;
    assert_eq!(w.get("/").status, 303, "the old cookie is dead");
    // the API still wants its bearer token: a session cookie is not one
    let mut api = Web::new(&s);
    api.cookies = other.cookies.clone();
    assert_eq!(api.get("/v1/plans").status, 401);
    // one log line per page, with the token's name; never a token, session id or CSRF token
    s.wait_for("the pages' log lines", || {
        let l = s.logs();
        l.contains("\"message\":\"page\"") && l.contains("\"caller\":\"vera\"")
    });
    let logs = s.logs();
    for secret in [
        token("viewer"),
        token("reviewer"),
        token("hris"),
        id,
        csrf.as_str(),
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn under_tls_the_cookies_are_secure() {
    let dir = project();
    let d = dir.path();
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
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
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
    let jar = d.join("cookies.txt");
    let jar = jar.to_str().unwrap();
    let url = format!("{}/sign-in", s.base);
    let mut page = String::new();
    s.wait_for("the sign-in page over HTTPS", || {
        let (code, out) = curl(&["-k", "-i", "-c", jar, &url]);
        page = out;
        code == Some(0) && page.contains("200")
    });
    let signin = page
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: polc_signin=")
        })
        .unwrap_or_else(|| panic!("{page}"));
    assert!(signin.contains("; Secure"), "{signin}");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{page}"
    );
    let csrf = hidden(&page, "csrf").unwrap();
    let body = form(&[("csrf", &csrf), ("token", token("reviewer"))]);
    let (code, out) = curl(&["-k", "-i", "-b", jar, "-c", jar, "--data", &body, &url]);
    assert_eq!(code, Some(0), "{out}");
    let session = out
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: polc_session=")
        })
        .unwrap_or_else(|| panic!("{out}"));
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    let (code, out) = curl(&["-k", "-i", "-b", jar, &format!("{}/", s.base)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Signed in as <strong>rita</strong>"), "{out}");
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn a_viewer_cannot_approve_and_forms_without_their_csrf_token_are_refused() {
    let dir = seed_project();
    let s = Server::start(dir.path(), &[]);
    let id = seed_state(&s, dir.path());
    let digest = pending(&s)[0]["digest"].as_str().unwrap().to_string();
    let approve = format!("/plans/{id}/approve");
    let reject = format!("/plans/{id}/reject");
    // the viewer sees the plan, no approve or reject form, and is refused when posting one
    let mut viewer = Web::new(&s);
    assert_eq!(viewer.sign_in("viewer").status, 303);
    for page in ["/".to_string(), format!("/plans/{id}")] {
        let a = viewer.get(&page);
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains(&digest), "{page}: the digest is shown");
        assert!(!a.body.contains("/approve"), "{page}: {}", a.body);
        assert!(!a.body.contains("/reject"), "{page}: {}", a.body);
        assert!(!a.body.contains("Approve and apply"), "{page}");
        assert!(a
            .body
            .contains("approving and rejecting need the reviewer or operator role"));
    }
    let csrf = viewer.csrf();
    let a = viewer.post(&approve, &[("csrf", &csrf), ("digest", &digest)]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body.contains("The viewer role may not approve plans"),
        "{}",
        a.body
    );
    let a = viewer.post(&reject, &[("csrf", &csrf), ("reason", "no")]);
    assert_eq!(a.status, 403, "{}", a.body);
    // an operator's drift button is not the viewer's either
    assert_eq!(viewer.post("/drift/run", &[("csrf", &csrf)]).status, 403);
    assert!(!viewer.get("/drift").body.contains("/drift/run"));
    // a reviewer without the form's CSRF token, or with another session's, is refused
    let mut rita = Web::new(&s);
    assert_eq!(rita.sign_in("reviewer").status, 303);
    let queue = rita.get("/");
    assert!(
        queue.body.contains(&format!("action=\"{approve}\"")),
        "{}",
        queue.body
    );
    let a = rita.post(&approve, &[("digest", &digest)]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("security token (CSRF)"), "{}", a.body);
    let a = rita.post(&approve, &[("csrf", &csrf), ("digest", &digest)]);
    assert_eq!(
        a.status, 403,
        "the viewer's token is not the reviewer's: {}",
        a.body
    );
    assert_eq!(rita.post(&reject, &[("reason", "no")]).status, 403);
    // nothing was decided
    assert_eq!(pending(&s).len(), 1);
    // a rejection needs a reason; a digest other than the plan's is refused by the apply
    let mine = rita.csrf();
    let a = rita.post(&reject, &[("csrf", &mine), ("reason", "  ")]);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("a rejection needs a reason"), "{}", a.body);
    let a = rita.post(&approve, &[("csrf", &mine), ("digest", "sha256:0")]);
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("is not the plan"), "{}", a.body);
    assert_eq!(pending(&s).len(), 1);
    // with a reason, the rejection is recorded and audited under the reviewer's name
    let a = rita.post(
        &reject,
        &[
            ("csrf", &mine),
            ("reason", "Lee is a contractor: check with HR"),
        ],
    );
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some(format!("/plans/{id}").as_str()))
    );
    let a = rita.get(&format!("/plans/{id}"));
    assert!(
        a.body
            .contains("Rejected by rita: Lee is a contractor: check with HR"),
        "{}",
        a.body
    );
    assert!(pending(&s).is_empty());
    let audit = s.audit();
    assert!(
        audit
            .iter()
            .any(|e| e["kind"] == "plan_rejected" && e["actor"] == "rita"),
        "{audit:?}"
    );
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    let mut h = hire("evil.person", "Engineering", crate::serve::today());
    h["first_name"] = json!("<script>alert(1)</script>");
    h["last_name"] = json!("\"><img src=x onerror=alert(2)>");
    h["job_title"] = json!("<b>Boss</b> & co");
    let (st, v) = s.webhook("msg_evil", &h.to_string(), now(), SECRET);
    assert_eq!(st, 202, "{v}");
    s.wait_for("a pending plan", || !pending(&s).is_empty());
    let mut w = Web::new(&s);
    assert_eq!(w.sign_in("reviewer").status, 303);
    for page in [
        "/people".to_string(),
        "/people?q=%3Cscript%3E".to_string(),
        "/people/evil.person".to_string(),
        "/".to_string(),
        "/audit".to_string(),
        "/people?q=%22%3E%3Cimg%20src%3Dx%3E".to_string(),
        "/audit?contains=%3Cscript%3E&actor=%22%3E%3Cb%3E".to_string(),
    ] {
        let a = w.get(&page);
        assert_eq!(a.status, 200, "{page}: {}", a.body);
        for raw in ["<script", "<img", "<b>"] {
            assert!(
                !a.body.contains(raw),
                "{page} holds {raw} unescaped:\n{}",
                a.body
            );
        }
    }
    let a = w.get("/people/evil.person");
    assert!(
        a.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains("&lt;b&gt;Boss&lt;/b&gt; &amp; co"),
        "{}",
        a.body
    );
    // an id that is not in the directory is a 404 page, its name escaped too
    let a = w.get("/people/%3Cscript%3Ex");
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(!a.body.contains("<script"), "{}", a.body);
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn a_persons_page_shows_holds_with_their_day_and_the_history() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    crate::serve::snapshot(&s, dir.path());
    s.wait_for("the baseline's pending plan", || !pending(&s).is_empty());
    // Sarah moves to Engineering today: what Sales gave her waits 30 days (grace)
    let today = crate::serve::today();
    let moved = json!({"event": "employee.updated", "user_id": "sarah.chen",
        "changes": {"job_title": {"old": "Sales Engineer", "new": "Solutions Architect"},
                    "department": {"old": "Sales", "new": "Engineering"}},
        "effective_date": today.to_string()});
    let (st, v) = s.webhook("msg_move", &moved.to_string(), now(), SECRET);
    assert_eq!(st, 202, "{v}");
    let until = (today + chrono::Days::new(30)).to_string();
    let mut w = Web::new(&s);
    assert_eq!(w.sign_in("viewer").status, 303);
    s.wait_for("Sarah's holds", || {
        w.get("/people/sarah.chen").body.contains(&until)
    });
    let a = w.get("/people/sarah.chen");
    assert_eq!(a.status, 200);
    for text in [
        "Sarah Chen (sarah.chen)",
        "<dd>Solutions Architect</dd>",
        "<caption>Holds</caption>",
        "<code>salesforce:user-license</code>",
        &format!("<td>{until}</td>"),
        "<td>Sales Engineer Access</td>",
        "<td>employee.updated</td>",
        "<span class=\"badge ok\">processed</span>",
        "<td>import</td>",
        "Planned actions",
    ] {
        assert!(
            a.body.contains(text),
            "Sarah's page lacks {text:?}:\n{}",
            a.body
        );
    }
    // the search finds her by name, the person's page of someone unknown is a 404 page
    let found = w.get("/people?q=CHEN");
    assert!(found.body.contains("1 of 5 people match"), "{}", found.body);
    assert!(found.body.contains("href=\"/people/sarah.chen\""));
    assert_eq!(w.get("/people/nobody").status, 404);
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn the_audit_log_pages_filters_and_verifies() {
    let dir = project();
    let s = Server::start(dir.path(), &[]);
    crate::serve::snapshot(&s, dir.path());
    s.wait_for("the baseline's pending plan", || !pending(&s).is_empty());
    let id = pending(&s)[0]["id"].as_str().unwrap().to_string();
    // 50 approvals of a wrong digest: 50 refusals in the log
    for i in 0..50 {
        let (st, v) = s.post(
            &format!("/v1/plans/{id}/approve"),
            "reviewer",
            &json!({"digest": format!("wrong-{i}")}),
        );
        assert_eq!(st, 409, "{v}");
    }
    let total = s.audit().len();
    assert!(total > 50, "{total}");
    // the API filters by kind and actor
    // (a refused apply is audited by the service, the approver in its details)
    let (_, v) = s.get("/v1/audit?after=0&kind=refusal&actor=polc-serve", "viewer");
    let e = v["entries"].as_array().unwrap();
    assert_eq!(e.len(), 50, "{v}");
    assert!(e
        .iter()
        .all(|e| e["kind"] == "refusal" && e["details"]["actor"] == "rita"));
    let (_, v) = s.get("/v1/audit?after=0&actor=rita", "viewer");
    assert_eq!(v["entries"], json!([]), "{v}");
    let mut w = Web::new(&s);
    assert_eq!(w.sign_in("viewer").status, 303);
    let rows = |body: &str| body.matches("<td class=\"n\">").count();
    let first = w.get("/audit");
    assert!(
        first.body.contains("badge ok\">intact</span> All "),
        "{}",
        first.body
    );
    assert!(first.body.contains(&format!("All {total} entries verify")));
    assert_eq!(rows(&first.body), 50);
    assert!(
        first
            .body
            .contains(&format!("<td class=\"n\">{total}</td>")),
        "newest first"
    );
    let older = format!(
        "/audit?before={}&amp;kind=&amp;actor=&amp;contains=",
        total - 49
    );
    assert!(
        first.body.contains(&format!("href=\"{older}\"")),
        "{}",
        first.body
    );
    let second = w.get(&older.replace("&amp;", "&"));
    assert_eq!(rows(&second.body), total - 50);
    assert!(second.body.contains("<td class=\"n\">1</td>"));
    assert!(second.body.contains(">Newest entries</a>"));
    assert!(!second.body.contains(">Older entries</a>"));
    // filters: kind, actor, a text in the details
    let refusals = w.get("/audit?kind=refusal&actor=polc-serve");
    assert_eq!(rows(&refusals.body), 50);
    assert!(!refusals.body.contains("<td>import</td>"));
    let one = w.get("/audit?contains=wrong-17");
    assert_eq!(rows(&one.body), 1, "{}", one.body);
    assert!(one.body.contains("wrong-17"));
    let none = w.get("/audit?actor=nobody");
    assert!(none.body.contains("No entry matches."));
    // the evidence pack as a download, in each format
    let (from, to) = (
        crate::serve::today() - chrono::Days::new(7),
        crate::serve::today(),
    );
    for (format, ctype, ext) in [
        ("html", "text/html", "html"),
        ("markdown", "text/markdown", "md"),
        ("json", "application/json", "json"),
    ] {
        let a = w.get(&format!(
            "/audit/evidence?from={from}&to={to}&format={format}"
        ));
        assert_eq!(a.status, 200, "{format}: {}", a.body);
        assert!(
            a.header("content-type").unwrap().starts_with(ctype),
            "{format}"
        );
        let d = a.header("content-disposition").unwrap();
        assert_eq!(
            d,
            format!("attachment; filename=\"evidence-{from}-{to}.{ext}\"")
        );
    }
    let a = w.get(&format!("/audit/evidence?from={to}&to={from}&format=html"));
    assert_eq!(
        a.status, 400,
        "a period that ends before it begins: {}",
        a.body
    );
    assert_eq!(s.term().code(), Some(0));
}

#[test]
fn the_guards_verdict_shows_before_anyone_approves() {
    let dir = project();
    let d = dir.path();
    // a guard that trips on any revocation, and an orphan account to revoke
    let toml = std::fs::read_to_string(d.join("polc.toml")).unwrap();
    let toml = toml
        .replace("max_revoke_percent = 10", "max_revoke_percent = 0")
        .replace("max_revoke_count = 50", "max_revoke_count = 0");
    std::fs::write(d.join("polc.toml"), toml).unwrap();
    std::fs::write(
        d.join("systems/gitlab.json"),
        r#"[{"user_id": "old.intern", "grant": "gitlab:group:engineering-docs", "level": "reporter"}]"#,
    )
    .unwrap();
    let s = Server::start(d, &[]);
    crate::serve::snapshot(&s, d);
    s.wait_for("the baseline's pending plan", || !pending(&s).is_empty());
    let id = pending(&s)[0]["id"].as_str().unwrap().to_string();
    let mut w = Web::new(&s);
    assert_eq!(w.sign_in("reviewer").status, 303);
    let q = w.get("/");
    assert!(q.body.contains("Revocation guard tripped"), "{}", q.body);
    assert!(
        q.body.contains("<li class=\"bad\">`gitlab`: 1 revocations within 24 h (1 planned, 0 done) of 1 managed entries (100.0%), above max_revoke_count = 0 and max_revoke_percent = 0%</li>"),
        "{}",
        q.body
    );
    // approving is refused by the apply's own guard, with the same words
    let csrf = w.csrf();
    let digest = pending(&s)[0]["digest"].as_str().unwrap().to_string();
    let a = w.post(
        &format!("/plans/{id}/approve"),
        &[("csrf", &csrf), ("digest", &digest)],
    );
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body
            .contains("guard: `gitlab`: 1 revocations within 24 h"),
        "{}",
        a.body
    );
    assert!(
        a.body.contains(&format!("href=\"/plans/{id}\">Back</a>")),
        "{}",
        a.body
    );
    assert_eq!(pending(&s).len(), 1);
    // what a person of the plan holds changes: the plan is stale
    std::fs::write(
        d.join("systems/gitlab.json"),
        r#"[{"user_id": "old.intern", "grant": "gitlab:group:engineering-docs", "level": "reporter"},
            {"user_id": "sarah.chen", "grant": "gitlab:group:customer-solutions", "level": "developer"}]"#,
    )
    .unwrap();
    let (st, v) = s.post("/v1/drift/run", "operator", &json!({}));
    assert_eq!(st, 200, "{v}");
    let p = w.get(&format!("/plans/{id}"));
    assert!(p.body.contains("<strong>Stale: </strong>"), "{}", p.body);
    assert!(!p.body.contains("Within the guards' limits"), "{}", p.body);
    assert_eq!(s.term().code(), Some(0));
}

/// Every `<form method="post">` of a page carries the session's CSRF token.
fn every_post_form_has_the_token(page: &str, body: &str, csrf: &str) {
    for (i, part) in body.split("<form").skip(1).enumerate() {
        let form = &part[..part.find("</form>").unwrap()];
        if form.contains("method=\"post\"") {
            assert!(
                form.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
                "{page}: form {i} has no CSRF token: {form}"
            );
        }
    }
}

/// Lines to compare: one tag a line, times, digests, hashes, tokens and today's dates
/// replaced.
fn redacted(body: &str) -> String {
    body.replace("><", ">\n<")
}

fn snapshot_settings() -> insta::Settings {
    let today = crate::serve::today();
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r#"name="csrf" value="[0-9a-f]{64}""#,
        r#"name="csrf" value="[csrf]""#,
    );
    s.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[time]");
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[time] UTC");
    s.add_filter(r"snapshot-\d{8}T\d{6}\.\d+Z", "snapshot-[time]");
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[digest]");
    s.add_filter(r"\b[0-9a-f]{64}\b", "[hash]");
    s.add_filter(r"plan-\d{8}-[0-9a-f]{12}", "plan-[id]");
    s.add_filter(&today.format("%Y%m%d").to_string(), "[today]");
    s.add_filter(&today.to_string(), "[today]");
    s.add_filter(
        &(today - chrono::Days::new(30)).to_string(),
        "[30 days ago]",
    );
    s.set_prepend_module_to_snapshot(true);
    s
}

#[test]
fn each_page_of_the_seed_state() {
    let dir = seed_project();
    let s = Server::start(dir.path(), &[]);
    let id = seed_state(&s, dir.path());
    let settings = snapshot_settings();
    let mut w = Web::new(&s);
    let signin = w.get("/sign-in");
    settings.bind(|| insta::assert_snapshot!("sign_in", redacted(&signin.body)));
    assert_eq!(w.sign_in("reviewer").status, 303);
    let csrf = w.csrf();
    let mut pages = vec![
        ("queue", "/".to_string()),
        ("plan_pending", format!("/plans/{id}")),
        (
            "queue_filtered",
            "/?system=slack&action=revoke&user=".to_string(),
        ),
        ("people", "/people".to_string()),
        ("person_sarah", "/people/sarah.chen".to_string()),
        ("drift", "/drift".to_string()),
        ("audit", "/audit".to_string()),
    ];
    for (name, path) in &pages {
        let a = w.get(path);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        every_post_form_has_the_token(path, &a.body, &csrf);
        settings.bind(|| insta::assert_snapshot!(*name, redacted(&a.body)));
    }
    // what the pages must say, beyond the snapshots
    let q = w.get("/");
    for text in [
        "expected by Sales Engineer Access &gt; Sales Team Access",
        "not expected by policy",
        "orphan account: no HRIS record",
        "leaver: no longer passes every `require`",
        "Within the guards' limits",
        "Approve and apply",
    ] {
        assert!(q.body.contains(text), "the queue lacks {text:?}");
    }
    let filtered = w.get("/?system=slack&action=revoke");
    assert!(filtered.body.contains("<td>revoke"), "{}", filtered.body);
    assert!(
        !filtered.body.contains("<td>grant"),
        "only slack revocations"
    );
    assert!(
        !filtered.body.contains("<td>gitlab</td>"),
        "only slack revocations"
    );
    let sarah = w.get("/people/sarah.chen");
    for text in [
        "salesforce:user-license",
        "from <strong>Sales Engineer Access &gt; Sales Team Access</strong>",
        "<code>Sales Engineer Access</code> applies: when <code>job_title == &quot;Sales Engineer&quot;</code>",
        "(job_title = &quot;Sales Engineer&quot;)",
        "<td>Q4 migration</td>",
        "<td>2025-01-31</td>",
        "<span class=\"badge bad\">expired</span>",
    ] {
        assert!(sarah.body.contains(text), "Sarah's page lacks {text:?}");
    }
    // approve from the page: the digest shown is the digest sent; the results show
    let plan = w.get(&format!("/plans/{id}"));
    let digest = hidden(&plan.body, "digest").unwrap();
    assert!(plan
        .body
        .contains(&format!("<code class=\"digest\">{digest}</code>")));
    let a = w.post(
        &format!("/plans/{id}/approve"),
        &[("csrf", &csrf), ("digest", &digest)],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let (_, v) = s.get(&format!("/v1/plans/{id}"), "viewer");
    assert_eq!(v["review"]["status"], "applied", "{v}");
    assert_eq!(v["review"]["decided_by"], "rita", "{v}");
    pages.push(("plan_applied", format!("/plans/{id}")));
    let a = w.get(&format!("/plans/{id}"));
    assert!(
        a.body
            .contains(&format!("Approved {digest} as rita: 17 done, 0 failed")),
        "{}",
        a.body
    );
    assert!(!a.body.contains("Approve and apply"));
    settings.bind(|| insta::assert_snapshot!("plan_applied", redacted(&a.body)));
    // the evidence pack downloads
    let from = crate::serve::today() - chrono::Days::new(30);
    let a = w.get(&format!(
        "/audit/evidence?from={from}&to={}&format=csv",
        crate::serve::today()
    ));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment; filename=\"evidence-")));
    assert!(a
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/csv")));
    assert!(a.body.contains("sarah.chen"), "{}", a.body);
    let a = w.get("/audit/evidence?from=yesterday&to=");
    assert_eq!(a.status, 400, "{}", a.body);
    // the stylesheet is served, and the API is untouched
    let css = w.get("/review.css");
    assert_eq!(css.status, 200);
    assert!(css
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/css")));
    assert_eq!(s.get("/v1/plans", "viewer").0, 200);
    assert_eq!(s.term().code(), Some(0));
}
