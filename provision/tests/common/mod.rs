#![allow(dead_code)]
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polc_provision::testing::{MemConnectors, MemSystem};
use polc_provision::{init, Project, Provision};

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Where a test's state lives: each test of the state's suite runs on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

/// Runs `f` with fixtures on `b` (each test runs on a thread of its own).
pub fn with_backend(b: Backend, f: impl FnOnce()) {
    BACKEND.with(|c| c.set(b));
    f()
}

pub fn backend() -> Backend {
    BACKEND.with(|c| c.get())
}

/// `on_both! { fn name() { … } }`: the test `name::sqlite` and the test `name::postgres`,
/// the same body, fixtures on each back end.
#[macro_export]
macro_rules! on_both {
    ($(fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body() $body
            #[test]
            fn sqlite() {
                $crate::common::with_backend($crate::common::Backend::Sqlite, body)
            }
            #[test]
            fn postgres() {
                $crate::common::with_backend($crate::common::Backend::Postgres, body)
            }
        }
    )*};
}

/// `polc init` in `dir`, its state on the test's back end (a new PostgreSQL database).
pub fn init_project(dir: &Path) {
    init(dir).unwrap();
    if backend() == Backend::Postgres {
        let file = dir.join("polc.toml");
        let toml = std::fs::read_to_string(&file).unwrap();
        let url = polc_provision::pgtest::shared().database();
        assert!(toml.contains("[state]\n"));
        let toml = toml.replacen("[state]\n", &format!("[state]\nurl = \"{url}\"\n"), 1);
        std::fs::write(&file, toml).unwrap();
    }
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
        init_project(dir.path());
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
