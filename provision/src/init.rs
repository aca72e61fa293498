//! `init DIR`: a new project from the seed scenario (examples/seed/), so that import,
//! pull, plan and apply work at once on a `file` system.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

const SEED: &[(&str, &str)] = &[
    (
        "policies/base.pol",
        include_str!("../../examples/seed/policies/base.pol"),
    ),
    (
        "policies/engineering.pol",
        include_str!("../../examples/seed/policies/engineering.pol"),
    ),
    (
        "policies/exceptions.pol",
        include_str!("../../examples/seed/policies/exceptions.pol"),
    ),
    (
        "policies/sales.pol",
        include_str!("../../examples/seed/policies/sales.pol"),
    ),
    (
        "policies/tests.pol",
        include_str!("../../examples/seed/policies/tests.pol"),
    ),
    (
        "hris/users.json",
        include_str!("../../examples/seed/users.json"),
    ),
    ("systems/gitlab.json", "[]\n"),
];

/// The project file `init` writes.
pub const PROJECT_FILE: &str = r#"# polc project: docs/provisioning.md describes every key.
[policies]
paths = ["policies"]

[hris]
users = "hris/users.json"     # what `hris import` reads by default
# mapping = "hris/mapping.toml"
# missing = "ignore"          # or "terminate": people absent from a snapshot leave

[state]
path = ".polc/state.db"

[guard]
max_revoke_percent = 10
max_revoke_count = 50
max_missing_percent = 5
protected = []

[systems.gitlab]
connector = "file"
path = "systems/gitlab.json"
mode = "review"
"#;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitReport {
    pub dir: PathBuf,
    pub files: Vec<String>,
}

impl InitReport {
    pub fn human(&self) -> String {
        let mut s = format!("new polc project in {}:\n", self.dir.display());
        for f in &self.files {
            s += &format!("  {f}\n");
        }
        s += "next: hris import, pull, plan, apply (docs/provisioning.md)\n";
        s
    }
}

/// Writes a project into `dir` (created if needed); refuses to overwrite an existing one.
pub fn init(dir: &Path) -> Result<InitReport> {
    let io = |p: &Path, e: std::io::Error| Error::Input(format!("{}: {e}", p.display()));
    let project = dir.join(crate::config::FILE_NAME);
    if project.exists() {
        return Err(Error::Refused(format!(
            "{} exists: init writes only new projects",
            project.display()
        )));
    }
    let mut files = vec![crate::config::FILE_NAME.to_string()];
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (rel, _) in SEED {
        let p = dir.join(rel);
        if p.exists() {
            return Err(Error::Refused(format!(
                "{} exists: init writes only new projects",
                p.display()
            )));
        }
    }
    for (rel, text) in SEED {
        let p = dir.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
        files.push(rel.to_string());
    }
    std::fs::write(&project, PROJECT_FILE).map_err(|e| io(&project, e))?;
    Ok(InitReport {
        dir: dir.to_path_buf(),
        files,
    })
}
