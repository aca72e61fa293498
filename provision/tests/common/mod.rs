#![allow(dead_code)]
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polc_provision::testing::{MemConnectors, MemSystem};
use polc_provision::{init, Project, Provision};

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A seed project in a temporary folder; `extra` is appended to polc.toml (before the
/// systems are replaced by `systems`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub conns: MemConnectors,
}

impl Fixture {
    pub fn new(systems: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let toml = std::fs::read_to_string(dir.path().join("polc.toml")).unwrap();
        let head = toml.split("[systems.gitlab]").next().unwrap().to_string();
        std::fs::write(dir.path().join("polc.toml"), format!("{head}{systems}")).unwrap();
        Fixture {
            dir,
            conns: MemConnectors::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn open(&self) -> Provision {
        let project = Project::load(&self.path("polc.toml")).unwrap();
        Provision::open(project, Box::new(self.conns.clone()))
            .unwrap()
            .with_actor("tester")
    }

    pub fn sys(&self, name: &str) -> MemSystem {
        self.conns.get(name)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

pub fn users_json(dir: &Path) -> PathBuf {
    dir.join("hris/users.json")
}
