//! The review page in a real browser: Debian's `chromium`, headless, driven through
//! WebDriver (`chromedriver`, from `chromium-driver`) with fantoccini. A reviewer signs in,
//! opens the pending plan of the seed's hire, is refused when the form's CSRF token is
//! taken out, approves it, and sees each action done and the real SCIM server
//! (`scim2-server` from target/test-venv) changed; Sarah's page answers "why does Sarah
//! have Salesforce?"; the pages fit a phone's width; a viewer finds no way to approve.
//! Each page is saved as a screenshot in target/review-screenshots/ for a person to look at.
//!
//! Without chromedriver the test fails and says how to install it (`bash .ci/deps`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::review::hire_sarah;
use crate::serve::{
    add_slack, hire, now, pending, project, scim_get, scim_slack, today, token, Server, SCIM_TOKEN,
    SCIM_TOKEN_ENV, SECRET,
};

type R<T> = Result<T, Box<dyn std::error::Error>>;

/// An executable from the environment variable `var`, else the first of `names` found in
/// the PATH or in `also`.
fn find(var: &str, names: &[&str], also: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .chain(also.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

const INSTALL: &str = "the browser test drives Debian's chromium through chromedriver: install both with `apt-get install -y chromium chromium-driver` (what `bash .ci/deps` does), or point POLC_CHROMIUM and POLC_CHROMEDRIVER at them";

/// chromedriver, listening on a port of its own until dropped.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let exe = find(
            "POLC_CHROMEDRIVER",
            &["chromedriver"],
            &["/usr/lib/chromium/chromedriver"],
        )
        .unwrap_or_else(|| panic!("chromedriver is not installed: {INSTALL}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}: {INSTALL}", exe.display()));
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            port,
            profile: tempfile::tempdir().unwrap(),
        }
    }

    async fn browser(&self) -> Client {
        let chromium = find("POLC_CHROMIUM", &["chromium", "chromium-browser"], &[])
            .unwrap_or_else(|| panic!("chromium is not installed: {INSTALL}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--hide-scrollbars",
                         format!("--user-data-dir={}", self.profile.path().display())],
            }),
        );
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps);
        b.connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|e| panic!("no browser session from chromedriver: {e}: {INSTALL}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shots() -> PathBuf {
    let d = Path::new(root!()).join("target/review-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Saves the whole page as `target/review-screenshots/NAME.png` (the window is made as
/// tall as the page for it, then put back).
async fn shot(c: &Client, name: &str) -> R<()> {
    let (w, h) = c.get_window_size().await?;
    let tall = c
        .execute("return document.documentElement.scrollHeight", vec![])
        .await?
        .as_u64()
        .unwrap_or(h)
        .clamp(h, 8000);
    // the window's frame: what it adds to the page's height
    let frame = c
        .execute("return window.outerHeight - window.innerHeight", vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    c.set_window_size(w as u32, (tall + frame) as u32).await?;
    let png = c.screenshot().await;
    c.set_window_size(w as u32, h as u32).await?;
    let png = png?;
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(shots().join(format!("{name}.png")), png)?;
    Ok(())
}

/// Waits until the browser is on `path` (and the page has loaded).
async fn on(c: &Client, path: &str) -> R<()> {
    let start = Instant::now();
    loop {
        let url = c.current_url().await?;
        let here = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let ready = c
            .execute("return document.readyState", vec![])
            .await
            .ok()
            .is_some_and(|v| v == "complete");
        if here == path && ready {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("the browser is on {here}, not {path}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's text, once it has a body. A page being replaced has none for a moment, and
/// a body found just before a form's answer arrives is stale by the time it is read: both
/// are asked again.
async fn text(c: &Client) -> R<String> {
    let start = Instant::now();
    loop {
        let read = match c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await,
            Err(e) => Err(e),
        };
        match read {
            Ok(t) => return Ok(t),
            Err(e) if start.elapsed() > Duration::from_secs(30) => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn sign_in(c: &Client, base: &str, role: &str) -> R<()> {
    c.goto(&format!("{base}/")).await?;
    on(c, "/sign-in").await?;
    c.find(Locator::Id("token"))
        .await?
        .send_keys(token(role))
        .await?;
    c.find(Locator::Css("form.signin button"))
        .await?
        .click()
        .await?;
    on(c, "/").await?;
    Ok(())
}

/// Blocking work (the service's API, the SCIM server) from inside the browser's runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Sarah's SCIM user and the groups she is a member of.
fn sarah_in_scim(port: u16) -> Option<(Value, Vec<String>)> {
    let users = scim_get(port, "/slack/v2/Users?count=1000")["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let u = users.into_iter().find(|u| u["userName"] == "sarah.chen")?;
    let id = u["id"].as_str().unwrap_or_default().to_string();
    let groups = scim_get(port, "/slack/v2/Groups?count=1000")["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|g| {
            g["members"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["value"] == id.as_str())
        })
        .map(|g| g["displayName"].as_str().unwrap_or_default().to_string())
        .collect();
    Some((u, groups))
}

async fn story(c: &Client, s: &Server, scim: u16) -> R<()> {
    let base = s.base.clone();
    let (id, digest) = blocking(|| {
        let p = pending(s);
        (
            p[0]["id"].as_str().unwrap().to_string(),
            p[0]["digest"].as_str().unwrap().to_string(),
        )
    });
    // sign in as a reviewer: the queue
    c.goto(&format!("{base}/")).await?;
    on(c, "/sign-in").await?;
    shot(c, "01-sign-in").await?;
    sign_in(c, &base, "reviewer").await?;
    let queue = text(c).await?;
    assert!(queue.contains("Signed in as rita (reviewer)"), "{queue}");
    assert!(
        queue.contains("expected by Sales Engineer Access > Sales Team Access"),
        "{queue}"
    );
    shot(c, "02-review-queue").await?;
    // the keyboard: the first Tab reaches the skip link
    {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E004}' })
            .then(KeyAction::Up { value: '\u{E004}' });
        c.perform_actions(tab).await?;
    }
    let first = c.active_element().await?.text().await?;
    assert_eq!(first, "Skip to content");
    // the plan of the seed's hire, its digest shown and sent
    c.find(Locator::Css(&format!("h2 a[href='/plans/{id}']")))
        .await?
        .click()
        .await?;
    on(c, &format!("/plans/{id}")).await?;
    let page = text(c).await?;
    assert!(page.contains(&digest), "{page}");
    let sent = c
        .find(Locator::Css("form.approve input[name=digest]"))
        .await?
        .attr("value")
        .await?;
    assert_eq!(sent.as_deref(), Some(digest.as_str()));
    shot(c, "03-plan-pending").await?;
    // a form without its CSRF token is refused, and nothing happens
    c.execute(
        "document.querySelector('form.approve input[name=csrf]').remove()",
        vec![],
    )
    .await?;
    c.find(Locator::Css("form.approve button"))
        .await?
        .click()
        .await?;
    on(c, &format!("/plans/{id}/approve")).await?;
    let refused = text(c).await?;
    assert!(refused.contains("security token (CSRF)"), "{refused}");
    assert_eq!(c.title().await?, "Refused · polc");
    shot(c, "04-csrf-refused").await?;
    assert_eq!(blocking(|| pending(s)).len(), 1, "still pending");
    assert!(
        blocking(|| sarah_in_scim(scim)).is_none(),
        "nothing applied"
    );
    // approve: each action done, SCIM changed
    c.goto(&format!("{base}/plans/{id}")).await?;
    c.find(Locator::Css("form.approve button"))
        .await?
        .click()
        .await?;
    // the same address before and after: wait for the answer's message
    let start = Instant::now();
    let applied = loop {
        on(c, &format!("/plans/{id}")).await?;
        let t = text(c).await?;
        if t.contains("Approved ") || start.elapsed() > Duration::from_secs(60) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        applied.contains(&format!("Approved {digest} as rita")),
        "{applied}"
    );
    assert!(applied.contains("0 failed"), "{applied}");
    let results = c.find_all(Locator::Css("table td .badge")).await?;
    let mut done = 0;
    for r in &results {
        let t = r.text().await?;
        assert_eq!(t, "done", "every action done: {applied}");
        done += 1;
    }
    let (_, v) = blocking(|| s.get(&format!("/v1/plans/{id}"), "viewer"));
    assert_eq!(done, v["plan"]["actions"].as_array().unwrap().len(), "{v}");
    assert_eq!(v["review"]["status"], "applied", "{v}");
    shot(c, "05-plan-applied").await?;
    let (user, groups) = blocking(|| sarah_in_scim(scim)).expect("sarah.chen in SCIM");
    assert_ne!(user["active"], false, "{user}");
    assert!(groups.iter().any(|g| g == "workspace-member"), "{groups:?}");
    assert!(
        groups.iter().any(|g| g.contains("sales-team")),
        "{groups:?}"
    );
    // why does Sarah have Salesforce?
    c.goto(&format!("{base}/people/sarah.chen")).await?;
    let why = c
        .find(Locator::XPath(
            "//li[code[normalize-space(text())='salesforce:user-license']]",
        ))
        .await?
        .text()
        .await?;
    for part in [
        "from Sales Engineer Access > Sales Team Access",
        "Sales Engineer Access applies: when job_title == \"Sales Engineer\"",
        "(job_title = \"Sales Engineer\")",
        "from Sales Team Access",
        "Sales Team Access applies: when department == \"Sales\"",
        "(department = \"Sales\")",
    ] {
        assert!(why.contains(part), "{part:?} in {why}");
    }
    shot(c, "06-person-sarah").await?;
    // the other pages
    c.goto(&format!("{base}/people")).await?;
    c.find(Locator::Id("q")).await?.send_keys("chen").await?;
    c.find(Locator::Css("form.filters button"))
        .await?
        .click()
        .await?;
    on(c, "/people?q=chen").await?;
    assert!(text(c).await?.contains("1 of 1 people match"));
    shot(c, "07-people").await?;
    let (st, v) = blocking(|| s.post("/v1/drift/run", "operator", &json!({})));
    assert_eq!(st, 200, "{v}");
    c.goto(&format!("{base}/drift")).await?;
    let drift = text(c).await?;
    assert!(drift.contains("Coverage now"), "{drift}");
    assert!(
        drift.contains("1 finding(s)"),
        "the intern's group: {drift}"
    );
    assert_eq!(
        c.find_all(Locator::Css("figure.chart polyline"))
            .await?
            .len(),
        3,
        "a line a system over two runs"
    );
    assert!(c.find(Locator::Css("figure.chart svg")).await.is_ok());
    shot(c, "08-drift").await?;
    c.goto(&format!("{base}/audit")).await?;
    let audit = text(c).await?;
    assert!(audit.contains("intact"), "{audit}");
    assert!(audit.contains("approval"), "{audit}");
    shot(c, "09-audit").await?;
    // a phone: nothing wider than the screen (wide tables scroll in their own box)
    c.set_window_size(390, 844).await?;
    for (path, name) in [
        ("/".to_string(), "10-phone-review-queue"),
        (format!("/plans/{id}"), "11-phone-plan"),
        ("/people/sarah.chen".to_string(), "12-phone-person"),
        ("/drift".to_string(), "13-phone-drift"),
    ] {
        c.goto(&format!("{base}{path}")).await?;
        let fits = c
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1",
                vec![],
            )
            .await?;
        assert_eq!(fits, json!(true), "{path} is wider than a phone");
        shot(c, name).await?;
    }
    c.set_window_size(1280, 1000).await?;
    // sign out, and a viewer finds no way to approve a new pending plan
    c.goto(&format!("{base}/")).await?;
    c.find(Locator::Css("form.who button"))
        .await?
        .click()
        .await?;
    on(c, "/sign-in").await?;
    let next = blocking(|| {
        let body = hire("new.person", "Sales", today()).to_string();
        let (st, v) = s.webhook("msg_browser_hire", &body, now(), SECRET);
        assert_eq!(st, 202, "{v}");
        s.wait_for("a new pending plan", || {
            pending(s).first().is_some_and(|p| p["id"] != id.as_str())
        });
        pending(s)[0]["id"].as_str().unwrap().to_string()
    });
    sign_in(c, &base, "viewer").await?;
    for (path, name) in [
        ("/".to_string(), "14-viewer-review-queue"),
        (format!("/plans/{next}"), "15-viewer-plan"),
    ] {
        c.goto(&format!("{base}{path}")).await?;
        let body = text(c).await?;
        assert!(body.contains("Signed in as vera (viewer)"), "{body}");
        assert!(
            body.contains("need the reviewer or operator role"),
            "{body}"
        );
        assert!(c
            .find_all(Locator::Css("form.approve, form.reject"))
            .await?
            .is_empty());
        assert!(
            c.find_all(Locator::Css(
                "form[action*='approve'], form[action*='reject']"
            ))
            .await?
            .is_empty(),
            "{path}"
        );
        for b in c.find_all(Locator::Css("button")).await? {
            let t = b.text().await?;
            assert!(
                !t.contains("Approve") && !t.contains("Reject"),
                "{path}: {t}"
            );
        }
        shot(c, name).await?;
    }
    Ok(())
}

#[test]
fn a_reviewer_approves_the_seeds_hire_in_a_real_browser() {
    let driver = Driver::start();
    let scim = scim_slack();
    let dir = project();
    add_slack(
        dir.path(),
        &scim,
        "review",
        "\n[schedule]\npull = \"off\"\nplan = \"off\"\ndrift = \"off\"\n",
    );
    let s = Server::start(dir.path(), &[(SCIM_TOKEN_ENV, SCIM_TOKEN)]);
    hire_sarah(&s);
    assert!(
        sarah_in_scim(scim.port).is_none(),
        "not before the approval"
    );
    // someone gave an intern, in no HRIS record, a gitlab group by hand; drift finds it
    std::fs::write(
        dir.path().join("systems/gitlab.json"),
        r#"[{"user_id": "old.intern", "grant": "gitlab:group:engineering-docs", "level": "reporter"}]"#,
    )
    .unwrap();
    let (st, v) = s.post("/v1/drift/run", "operator", &json!({}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["findings"], 7,
        "Sarah's 6 grants and the intern's group: {v}"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        let c = driver.browser().await;
        let r = story(&c, &s, scim.port).await;
        if r.is_err() {
            let _ = shot(&c, "99-failed").await;
        }
        let _ = c.close().await;
        r.map_err(|e| e.to_string())
    });
    if let Err(e) = r {
        panic!("{e}\nservice logs:\n{}", s.logs());
    }
    assert_eq!(s.term().code(), Some(0));
}
