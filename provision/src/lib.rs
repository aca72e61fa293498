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
pub mod db;
pub mod directory;
pub mod error;
pub mod evidence;
pub mod hris;
pub mod init;
pub mod lease;
pub mod pgtest;
pub mod plan;
pub mod pull;
pub mod state;
pub mod status;
pub mod testing;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use polc::ir;
use polc_connectors::{
    Connector, ConnectorError, ExecConfig, ExecConnector, FileConfig, FileConnector, RetryConfig,
    Retrying, ScimConfig, ScimConnector, Secret,
};

pub use apply::{ApplyOptions, ApplyReport, Approval, GuardLine, GuardVerdict};
pub use audit::VerifyReport;
pub use config::Project;
pub use error::{Error, Result};
pub use evidence::{Evidence, Format};
pub use hris::{EventReport, ImportReport};
pub use init::{init, InitReport};
pub use plan::Plan;
pub use pull::PullReport;
pub use status::StatusReport;

/// What a connector may need to know of the policies: the system's declared types and
/// their levels (`channel` → `[]`, `workspace` → `["member", "admin"]`).
pub type SystemTypes = BTreeMap<String, Vec<String>>;

/// Opens a connector for a system of the project. [`Provision`] wraps what it opens in
/// [`Retrying`] (retries, rate limit, quarantine, read-back confirmation) as the system's
/// table says.
pub trait Connectors {
    fn open(&self, system: &config::SystemConfig) -> Result<Box<dyn Connector>>;

    /// [`Connectors::open`] with the system's declared types (the SCIM connector maps
    /// group names back to entitlements with them). The default ignores them.
    fn open_with_types(
        &self,
        system: &config::SystemConfig,
        _types: &SystemTypes,
    ) -> Result<Box<dyn Connector>> {
        self.open(system)
    }
}

/// The connectors of this build, from `polc-connectors`: `file` ([`FileConnector`]),
/// `exec` ([`ExecConnector`]) and `scim` ([`ScimConnector`], its token read from the
/// variable `token_env` names, at the last moment, into a [`Secret`]).
pub struct DefaultConnectors;

impl Connectors for DefaultConnectors {
    fn open(&self, system: &config::SystemConfig) -> Result<Box<dyn Connector>> {
        self.open_with_types(system, &SystemTypes::new())
    }

    fn open_with_types(
        &self,
        system: &config::SystemConfig,
        types: &SystemTypes,
    ) -> Result<Box<dyn Connector>> {
        let err = |source: ConnectorError| Error::Connector {
            system: system.name.clone(),
            source,
        };
        let timeout = Duration::from_secs(system.timeout_seconds);
        match &system.connector {
            config::ConnectorConfig::File { path } => Ok(Box::new(
                FileConnector::new(FileConfig { path: path.clone() }).map_err(err)?,
            )),
            config::ConnectorConfig::Exec { command } => {
                let mut c = ExecConfig::new(command.clone());
                c.timeout = timeout;
                Ok(Box::new(ExecConnector::new(c).map_err(err)?))
            }
            config::ConnectorConfig::Scim {
                base_url,
                token_env,
                user_name,
                group,
                level_group,
            } => {
                let token = std::env::var(token_env).map_err(|_| {
                    err(ConnectorError::Config(format!(
                        "the environment variable `{token_env}` (token_env) is not set: export it with the system's SCIM token"
                    )))
                })?;
                let mut c = ScimConfig::new(
                    system.name.clone(),
                    base_url.clone(),
                    Secret::new(token),
                    types.clone(),
                );
                c.user_name = user_name.clone();
                c.group = group.clone();
                c.level_group = level_group.clone();
                c.timeout = timeout;
                Ok(Box::new(ScimConnector::new(c).map_err(err)?))
            }
        }
    }
}

/// The retry policy of a system's table.
pub fn retry_config(system: &config::SystemConfig) -> RetryConfig {
    RetryConfig {
        max_attempts: system.max_attempts,
        rate_per_second: (system.rate_per_second > 0).then_some(system.rate_per_second as f64),
        quarantine_after: system.quarantine_after,
        read_back: Duration::from_secs(system.read_back_seconds),
        ..RetryConfig::default()
    }
}

/// A system's connector as provisioning uses it.
pub type SystemConnector = Retrying<Box<dyn Connector>>;

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
    /// A lease every write of the directory is fenced by (`polc serve`'s work lease while it
    /// applies HRIS events): checked in the write's transaction, lost, the write is not
    /// made ([`Error::LeaseLost`]).
    pub fence: Option<lease::Fence>,
    /// Where long runs say how far they are ([`Provision::set_progress`]).
    progress: Option<Box<dyn Progress + Send>>,
}

/// How far a long run (`pull`, `apply`) is: `done` of `total` units of `what` (`total` 0:
/// not known). The CLI draws it on a terminal; the library only reports.
pub trait Progress {
    fn report(&self, what: &str, done: u64, total: u64);
}

impl Provision {
    /// Opens a project's state (created on first use) with the given connectors.
    pub fn open(project: Project, connectors: Box<dyn Connectors>) -> Result<Provision> {
        let state = state::State::open_config(&project.state)?;
        let actor = std::env::var("USER").unwrap_or_else(|_| "polc".into());
        Ok(Provision {
            project,
            state,
            connectors,
            actor,
            bundle: None,
            fence: None,
            progress: None,
        })
    }

    /// Where `hris import`, `pull` and `apply` report how far they are (`None`: nowhere).
    pub fn set_progress(&mut self, progress: Option<Box<dyn Progress + Send>>) {
        self.progress = progress;
    }

    pub(crate) fn show_progress(&self, what: &str, done: u64, total: u64) {
        if let Some(p) = &self.progress {
            p.report(what, done, total);
        }
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
        self.check_rollout(&loaded.bundle)?;
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

    /// Every name of `[rollout] policies` must be a policy (or template) of the bundle.
    fn check_rollout(&self, b: &ir::Bundle) -> Result<()> {
        let Some(names) = &self.project.rollout.policies else {
            return Ok(());
        };
        match names.iter().find(|n| b.policy_id(n).is_none()) {
            None => Ok(()),
            Some(n) => {
                let known: Vec<&str> = b.policies.iter().map(|p| p.name.as_str()).collect();
                Err(self.project.rollout_error(n, &known))
            }
        }
    }

    pub(crate) fn tx(&self) -> Result<crate::db::Tx<'_>> {
        use error::StateContext;
        // every write goes through one transaction at a time on this connection
        self.state.conn.transaction().state(&self.state.path)
    }

    pub(crate) fn commit(&self, tx: crate::db::Tx<'_>) -> Result<()> {
        use error::StateContext;
        if let Some(f) = &self.fence {
            if !lease::check(&tx, f).state(&self.state.path)? {
                return Err(Error::LeaseLost(format!(
                    "`{}` was taken over by another process: this one writes nothing more",
                    f.name
                )));
            }
        }
        tx.commit().state(&self.state.path)
    }

    /// Opens a system's connector, wrapped in [`Retrying`] as its table says, and tells it
    /// who the directory's people are at `at` (so that accounts named from attributes map
    /// back to user ids).
    pub(crate) fn open_connector(
        &mut self,
        system: &str,
        at: chrono::NaiveDate,
    ) -> Result<SystemConnector> {
        let b = self.bundle()?;
        let cfg = self
            .project
            .systems
            .get(system)
            .ok_or_else(|| Error::Bug(format!("no system `{system}` in the project")))?;
        let types: SystemTypes = b
            .bundle
            .systems
            .iter()
            .filter(|s| s.name == system)
            .flat_map(|s| s.types.iter().map(|t| (t.name.clone(), t.levels.clone())))
            .collect();
        let inner = self.connectors.open_with_types(cfg, &types)?;
        let mut conn = Retrying::new(inner, retry_config(cfg));
        if !matches!(cfg.connector, config::ConnectorConfig::File { .. }) {
            let people: Vec<polc_connectors::Person> =
                directory::load_at(&self.state.conn, &self.state.path, at)?
                    .into_iter()
                    .map(|s| polc_connectors::Person {
                        attributes: directory::attributes(&s.record),
                        user_id: s.user_id,
                    })
                    .collect();
            conn.set_directory(&people);
        }
        Ok(conn)
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
