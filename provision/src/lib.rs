//! polc's provisioning: from policy to real access, safely.
//!
//! A [`Provision`] ties a project file ([`config::Project`]), its state database
//! ([`state::State`]) and the connectors to the systems together. Its methods are the
//! library functions behind the commands: [`Provision::hris_import`],
//! [`Provision::hris_event`], [`Provision::pull`], [`Provision::plan`],
//! [`Provision::apply`], [`Provision::status`], [`Provision::audit_verify`]; [`init`]
//! writes a new project. Each returns a typed report that serializes to JSON and renders
//! a human text. docs/provisioning.md is the user's guide.

pub mod apply;
pub mod audit;
pub mod canon;
pub mod config;
pub mod directory;
pub mod error;
pub mod evidence;
pub mod file;
pub mod hris;
pub mod init;
pub mod plan;
pub mod pull;
pub mod state;
pub mod status;
pub mod testing;

use std::path::Path;
use std::sync::Arc;

use polc::ir;
use polc_connectors::Connector;

pub use apply::{ApplyOptions, ApplyReport, Approval};
pub use audit::VerifyReport;
pub use config::Project;
pub use error::{Error, Result};
pub use evidence::{Evidence, Format};
pub use hris::{EventReport, ImportReport};
pub use init::{init, InitReport};
pub use plan::Plan;
pub use pull::PullReport;
pub use status::StatusReport;

/// Opens a connector for a system of the project.
pub trait Connectors {
    fn open(&self, system: &config::SystemConfig) -> Result<Box<dyn Connector>>;
}

/// The connectors of this build: `file` (a JSON file of `[{"user_id", "grant", "level"}]`);
/// `scim` and `exec` come with the connectors crate.
pub struct DefaultConnectors;

impl Connectors for DefaultConnectors {
    fn open(&self, system: &config::SystemConfig) -> Result<Box<dyn Connector>> {
        match &system.connector {
            config::ConnectorConfig::File { path } => Ok(Box::new(file::JsonFile::new(path))),
            other => Err(Error::Connector {
                system: system.name.clone(),
                source: polc_connectors::ConnectorError::Config(format!(
                    "the {} connector is not available in this build",
                    other.kind()
                )),
            }),
        }
    }
}

/// A checked bundle and its digest (`sha256:…` of its canonical content).
#[derive(Clone)]
pub struct LoadedBundle {
    pub bundle: Arc<ir::Bundle>,
    pub digest: String,
}

/// A project, its state and its connectors.
pub struct Provision {
    pub project: Project,
    pub state: state::State,
    connectors: Box<dyn Connectors>,
    /// Who runs the commands (audited as the actor).
    pub actor: String,
    bundle: Option<LoadedBundle>,
}

impl Provision {
    /// Opens a project's state (created on first use) with the given connectors.
    pub fn open(project: Project, connectors: Box<dyn Connectors>) -> Result<Provision> {
        let state = state::State::open(&project.state.path)?;
        let actor = std::env::var("USER").unwrap_or_else(|_| "polc".into());
        Ok(Provision {
            project,
            state,
            connectors,
            actor,
            bundle: None,
        })
    }

    /// Sets who is acting (the audit log's actor).
    pub fn with_actor(mut self, actor: &str) -> Provision {
        self.actor = actor.to_string();
        self
    }

    /// The project's policies, checked (once per `Provision`); a bundle whose digest the
    /// audit log has not seen yet is recorded as a `bundle` entry.
    pub fn bundle(&mut self) -> Result<LoadedBundle> {
        if let Some(b) = &self.bundle {
            return Ok(b.clone());
        }
        let p = &self.project.policies;
        let loaded = match &p.bundle {
            Some(file) => {
                let (header, b) = polc::bundle::load(file, p.verify_key.as_deref())
                    .map_err(|e| Error::Input(e.to_string()))?;
                LoadedBundle {
                    bundle: Arc::new(b),
                    digest: header.digest,
                }
            }
            None => {
                let loaded = polc::db::Loaded::from_paths(&p.paths)
                    .map_err(|e| Error::Input(e.to_string()))?;
                let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
                let errors: Vec<_> = checked.blocking_errors().collect();
                if let Some(first) = errors.first() {
                    return Err(Error::Input(format!(
                        "the policies have {} error(s), the first: {} {}: fix them first (`polc check`)",
                        errors.len(),
                        first.code,
                        first.message
                    )));
                }
                let content = serde_json::to_vec(&polc::bundle::from_ir(&checked.bundle))
                    .map_err(|e| Error::Bug(format!("cannot serialize the bundle: {e}")))?;
                LoadedBundle {
                    bundle: checked.bundle.clone(),
                    digest: polc::bundle::file::digest_of(&content),
                }
            }
        };
        self.check_systems(&loaded.bundle)?;
        if self.state.meta("bundle")?.as_deref() != Some(loaded.digest.as_str()) {
            let tx = self.tx()?;
            let mut w = audit::Writer::new(&tx, &self.state.path, &self.actor)?;
            w.append(
                None,
                "bundle",
                serde_json::json!({"digest": loaded.digest, "policies": loaded.bundle.policies.len()}),
            )?;
            state::State::set_meta(&tx, &self.state.path, "bundle", &loaded.digest)?;
            drop(w);
            self.commit(tx)?;
        }
        self.bundle = Some(loaded.clone());
        Ok(loaded)
    }

    /// Every system table must name a system some grant of the policies names.
    fn check_systems(&self, b: &ir::Bundle) -> Result<()> {
        let named = plan::named_systems(b);
        for name in self.project.systems.keys() {
            if !named.contains(name.as_str()) {
                let mut known: Vec<&str> = named.iter().copied().collect();
                known.sort_unstable();
                return Err(self.project.system_error(
                    name,
                    format!(
                        "[systems.{name}]: no policy, template or exception grants anything in `{name}`: remove the table or fix the name (the policies name: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn tx(&self) -> Result<rusqlite::Transaction<'_>> {
        use error::StateContext;
        // SAFETY of the cast: `unchecked_transaction` works on `&Connection`; every write
        // goes through one transaction at a time on this connection.
        self.state
            .conn
            .unchecked_transaction()
            .state(&self.state.path)
    }

    pub(crate) fn commit(&self, tx: rusqlite::Transaction<'_>) -> Result<()> {
        use error::StateContext;
        tx.commit().state(&self.state.path)
    }

    pub(crate) fn open_connector(&self, system: &str) -> Result<Box<dyn Connector>> {
        let cfg = self
            .project
            .systems
            .get(system)
            .ok_or_else(|| Error::Bug(format!("no system `{system}` in the project")))?;
        self.connectors.open(cfg)
    }

    /// `audit verify [--head HASH]`.
    pub fn audit_verify(&self, head: Option<&str>) -> Result<VerifyReport> {
        audit::verify(&self.state.conn, &self.state.path, head)
    }

    /// Appends one audit entry in its own transaction.
    pub(crate) fn audit(
        &self,
        as_of: Option<&str>,
        kind: &str,
        details: serde_json::Value,
    ) -> Result<String> {
        let tx = self.tx()?;
        let h = {
            let mut w = audit::Writer::new(&tx, &self.state.path, &self.actor)?;
            w.append(as_of, kind, details)?
        };
        self.commit(tx)?;
        Ok(h)
    }
}

/// Today, UTC.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A path for messages: relative to the project's folder when inside it.
pub(crate) fn shown(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
