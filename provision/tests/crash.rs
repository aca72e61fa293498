//! Crash safety: a real child process runs apply and kills itself (SIGKILL) at a fail
//! point; the next apply finishes the plan, and every change reached the system at most
//! once (a change already shown by the system is confirmed by reading back, not resent).

mod common;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use common::*;
use polc_connectors::{Applied, Change, Connector, ConnectorError, Listing, Person, ReadBack};
use polc_connectors::{FileConfig, FileConnector};
use polc_provision::config::{ConnectorConfig, SystemConfig};
use polc_provision::{ApplyOptions, Approval, Connectors, Project, Provision};

/// The file connector, logging every change it makes to a file (appended, flushed).
struct Logged {
    inner: FileConnector,
    log: PathBuf,
}

impl Connector for Logged {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        self.inner.list()
    }
    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        let r = self.inner.apply(person, change)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(
            f,
            "{} {}",
            person.user_id,
            serde_json::to_string(change).unwrap()
        )
        .unwrap();
        f.sync_all().unwrap();
        Ok(r)
    }
    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        self.inner.read_back(person, grant)
    }
}

struct LoggedConnectors(PathBuf);

impl Connectors for LoggedConnectors {
    fn open(&self, s: &SystemConfig) -> polc_provision::Result<Box<dyn Connector>> {
        let ConnectorConfig::File { path } = &s.connector else {
            panic!("file systems only")
        };
        Ok(Box::new(Logged {
            inner: FileConnector::new(FileConfig { path: path.clone() }).unwrap(),
            log: self.0.clone(),
        }))
    }
}

fn open(dir: &Path) -> Provision {
    let project = Project::load(&dir.join("polc.toml")).unwrap();
    Provision::open(project, Box::new(LoggedConnectors(dir.join("changes.log")))).unwrap()
}

/// Runs in the child process: apply with a fail point, from the environment.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("CRASH_DIR") else {
        return;
    };
    let mut p = open(Path::new(&dir));
    let id = std::env::var("CRASH_PLAN").unwrap();
    let digest = std::env::var("CRASH_DIGEST").unwrap();
    let mut opts = ApplyOptions::new(Approval::Digest(digest), d("2025-06-01"));
    opts.batch = 2;
    assert!(opts.fail_kill && opts.fail_at.is_some());
    p.apply(&id, &opts).unwrap();
    // reaching here means the fail point was never hit
    std::process::exit(3);
}

fn crash_at(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    init_project(dir.path());
    let at = d("2025-06-01");
    let mut p = open(dir.path());
    p.hris_import(&dir.path().join("hris/users.json"), at, None)
        .unwrap();
    p.pull(None).unwrap();
    let plan = p.plan(at).unwrap();
    assert!(plan.actions.len() >= 5, "{}", plan.human());
    drop(p);

    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("CRASH_DIR", dir.path())
        .env("CRASH_PLAN", &plan.id)
        .env("CRASH_DIGEST", &plan.digest)
        .env("POLC_FAILPOINT", point)
        .env("POLC_FAILPOINT_KILL", "1")
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was not killed at {point}: {status:?}"
    );

    // the next apply finishes it
    let mut p = open(dir.path());
    let rep = p
        .apply(
            &plan.id,
            &ApplyOptions {
                fail_at: None,
                fail_kill: false,
                ..ApplyOptions::new(Approval::Digest(plan.digest.clone()), at)
            },
        )
        .unwrap();
    assert!(rep.all_done(), "after a crash at {point}: {}", rep.human());
    assert_eq!(rep.summary.done, plan.actions.len());

    // the system holds exactly what the plan granted
    let held = std::fs::read_to_string(dir.path().join("systems/gitlab.json")).unwrap();
    let held: Vec<serde_json::Value> = serde_json::from_str(&held).unwrap();
    assert_eq!(held.len(), plan.summary.grants, "after a crash at {point}");
    // each change sent at most once
    let log = std::fs::read_to_string(dir.path().join("changes.log")).unwrap_or_default();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for l in log.lines() {
        *counts.entry(l).or_default() += 1;
    }
    assert_eq!(
        counts.len(),
        plan.actions.len(),
        "after a crash at {point}: {log}"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "after a crash at {point}, a change was sent twice: {counts:?}"
    );
    assert!(p.audit_verify(None).unwrap().intact);
    // and a pull afterwards sees nothing out of band
    let pull = p.pull(None).unwrap();
    assert!(pull.systems[0].appeared.is_empty() && pull.systems[0].disappeared.is_empty());
}

on_both! {
    fn crash_after_journalling_before_sending() {
        crash_at("journalled");
    }
}

on_both! {
    fn crash_after_sending_before_reading_back() {
        crash_at("sent:1");
    }
}

on_both! {
    fn crash_mid_batch_after_read_back_before_confirming() {
        crash_at("read:2");
    }
}

on_both! {
    fn crash_after_a_batch_is_confirmed() {
        crash_at("confirmed");
    }
}

on_both! {
    fn a_pull_finishes_what_a_crash_left_sent() {
        let dir = tempfile::tempdir().unwrap();
        init_project(dir.path());
        let at = d("2025-06-01");
        let mut p = open(dir.path());
        p.hris_import(&dir.path().join("hris/users.json"), at, None)
            .unwrap();
        p.pull(None).unwrap();
        let plan = p.plan(at).unwrap();
        drop(p);
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture"])
            .env("CRASH_DIR", dir.path())
            .env("CRASH_PLAN", &plan.id)
            .env("CRASH_DIGEST", &plan.digest)
            .env("POLC_FAILPOINT", "sent:2")
            .env("POLC_FAILPOINT_KILL", "1")
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9));
        let mut p = open(dir.path());
        let pull = p.pull(None).unwrap();
        // the batch of two was sent, never confirmed: the pull reads both back
        assert_eq!(pull.systems[0].recovered, 2, "{}", pull.human());
        assert!(pull.systems[0].appeared.is_empty(), "{}", pull.human());
        let rep = p
            .apply(
                &plan.id,
                &ApplyOptions {
                    fail_at: None,
                    fail_kill: false,
                    ..ApplyOptions::new(Approval::Digest(plan.digest.clone()), at)
                },
            )
            .unwrap();
        assert!(rep.all_done(), "{}", rep.human());
    }
}
