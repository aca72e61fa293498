//! The project file, `polc.toml`: where the policies, the HRIS snapshot and the state are,
//! the guards, and one table per provisioned system. Every mistake is an [`Error::Config`]
//! naming the file, the key with its line and column, and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polc_connectors::LeaverMode;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

/// The file name looked for in the working directory and its parents.
pub const FILE_NAME: &str = "polc.toml";

/// How a system is provisioned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every action waits for a person to approve the plan's digest (leavers' revocations
    /// excepted unless `review_leavers`).
    Review,
    /// Plans may be applied with auto-approve.
    Auto,
    /// Not provisioned: reported only.
    Off,
}

/// Which entitlements polc may revoke in a system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Manage {
    /// Those some policy, template or exception names, or that polc granted before.
    Policy,
    /// Everything the system holds.
    All,
}

/// What happens to people absent from a later snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    Ignore,
    Terminate,
}

/// How polc reaches a system, with the connector's own keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "connector", rename_all = "snake_case")]
pub enum ConnectorConfig {
    Scim {
        base_url: String,
        /// The name of the environment variable holding the token (never the token).
        token_env: String,
        user_name: String,
        group: String,
        level_group: String,
    },
    File {
        /// Absolute (resolved against the project's folder).
        path: PathBuf,
    },
    Exec {
        command: Vec<String>,
    },
}

impl ConnectorConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Scim { .. } => "scim",
            ConnectorConfig::File { .. } => "file",
            ConnectorConfig::Exec { .. } => "exec",
        }
    }
}

/// One `[systems.NAME]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemConfig {
    pub name: String,
    pub connector: ConnectorConfig,
    pub mode: Mode,
    pub manage: Manage,
    pub leaver: LeaverMode,
    pub review_leavers: bool,
    /// Calls per second; 0: no limit (the default of the `file` connector, 20 otherwise).
    pub rate_per_second: u32,
    pub max_attempts: u32,
    /// Failed calls in a row before the system is quarantined.
    pub quarantine_after: u32,
    /// How long one call may take (SCIM requests, exec answers).
    pub timeout_seconds: u64,
    /// How long a change may take to show when read back.
    pub read_back_seconds: u64,
    /// Where the table is, for messages: 1-based line and column.
    #[serde(skip)]
    pub at: (usize, usize),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Policies {
    pub paths: Vec<PathBuf>,
    pub bundle: Option<PathBuf>,
    pub verify_key: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hris {
    pub users: PathBuf,
    pub mapping: Option<PathBuf>,
    pub missing: Missing,
    pub timezone: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateConfig {
    /// The SQLite file (or, with `url`, where it would be: its folder holds what stays per
    /// machine).
    pub path: PathBuf,
    /// A PostgreSQL URL: the state lives there (never shown: it may hold a password).
    #[serde(skip)]
    pub url: Option<String>,
    pub lease_seconds: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Guard {
    pub max_revoke_percent: f64,
    pub max_revoke_count: u64,
    pub max_missing_percent: f64,
    pub protected: Vec<String>,
}

impl Default for Guard {
    fn default() -> Guard {
        Guard {
            max_revoke_percent: 10.0,
            max_revoke_count: 50,
            max_missing_percent: 5.0,
            protected: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// `None`: every policy is provisioned.
    pub policies: Option<Vec<String>>,
    /// Where `policies` is written, for messages: 1-based line and column.
    #[serde(skip)]
    pub at: Option<(usize, usize)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Evidence {
    pub leaver_sla_hours: u64,
}

impl Default for Evidence {
    fn default() -> Evidence {
        Evidence {
            leaver_sla_hours: 24,
        }
    }
}

/// `[server]`: kept for the service; polc itself does not listen yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    pub webhook_secret_env: Option<String>,
    /// The person who made a plan may not approve it.
    pub four_eyes: bool,
    /// API tokens by name: a role and the SHA-256 of the token (never the token).
    pub tokens: BTreeMap<String, ServerToken>,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            listen: "127.0.0.1:8080".into(),
            webhook_secret_env: None,
            four_eyes: false,
            tokens: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerToken {
    pub role: String,
    pub sha256: String,
    /// The person who holds the token (default: the token's name). Four eyes compares
    /// persons: one person's HRIS token and reviewer token are the same person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
}

/// `[schedule]`: cron strings (seconds first) for the service; daily at 02:00 by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    pub pull: String,
    pub plan: String,
    pub drift: String,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            pull: "0 0 2 * * *".into(),
            plan: "0 0 2 * * *".into(),
            drift: "0 0 2 * * *".into(),
        }
    }
}

/// A loaded project file, every path resolved against its folder.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Project {
    /// The `polc.toml` read.
    pub file: PathBuf,
    /// Its folder: relative paths are resolved against it.
    pub root: PathBuf,
    pub policies: Policies,
    pub hris: Hris,
    pub state: StateConfig,
    pub guard: Guard,
    pub rollout: Rollout,
    pub systems: BTreeMap<String, SystemConfig>,
    pub evidence: Evidence,
    pub server: Server,
    pub schedule: Schedule,
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    policies: Option<Spanned<RawPolicies>>,
    hris: Option<RawHris>,
    state: Option<RawState>,
    guard: Option<RawGuard>,
    rollout: Option<RawRollout>,
    #[serde(default)]
    systems: BTreeMap<String, Spanned<RawSystem>>,
    evidence: Option<Evidence>,
    server: Option<Server>,
    schedule: Option<Schedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicies {
    paths: Option<Vec<String>>,
    bundle: Option<Spanned<String>>,
    verify_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHris {
    users: Option<String>,
    mapping: Option<String>,
    missing: Option<Spanned<String>>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    path: Option<String>,
    url: Option<Spanned<String>>,
    lease_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    max_revoke_percent: Option<Spanned<f64>>,
    max_revoke_count: Option<u64>,
    max_missing_percent: Option<Spanned<f64>>,
    protected: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollout {
    policies: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSystem {
    connector: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    manage: Option<Spanned<String>>,
    leaver: Option<Spanned<String>>,
    review_leavers: Option<bool>,
    rate_per_second: Option<u32>,
    max_attempts: Option<u32>,
    read_back_seconds: Option<u64>,
    quarantine_after: Option<u32>,
    timeout_seconds: Option<u64>,
    // scim
    base_url: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
    user_name: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    level_group: Option<Spanned<String>>,
    // file
    path: Option<Spanned<String>>,
    // exec
    command: Option<Spanned<Vec<String>>>,
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.to_path_buf(),
            at: span.map(|s| line_col(self.text, s.start)),
            message: message.into(),
        }
    }

    fn choice<T: Copy>(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Result<T> {
        let Some(v) = v else { return Ok(default) };
        match options.iter().find(|(n, _)| *n == v.get_ref()) {
            Some((_, t)) => Ok(*t),
            None => Err(self.err(
                Some(v.span()),
                format!(
                    "`{key}` is \"{}\": expected {}",
                    v.get_ref(),
                    options
                        .iter()
                        .map(|(n, _)| format!("\"{n}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// The environment variable that overrides `[state] url` (see [`Project::load`]).
pub const STATE_URL_ENV: &str = "POLC_STATE_URL";

/// A state URL, trimmed, when it is a valid PostgreSQL URL; else what is wrong, the URL
/// itself never shown (it may hold a password). `what` names where it came from.
pub fn check_state_url(url: &str, what: &str) -> std::result::Result<String, String> {
    let text = url.trim();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(format!(
            "{what} must be a PostgreSQL URL (`postgres://user@host:5432/database`); for SQLite use `[state] path`"
        ));
    }
    if let Err(e) = crate::db::pg_config(text) {
        return Err(format!("{what} is not a valid PostgreSQL URL: {e}"));
    }
    Ok(text.to_string())
}

impl Project {
    /// Finds `polc.toml` in `start` or its parents and loads it.
    pub fn discover(start: &Path) -> Result<Project> {
        Project::load(&Project::find(start)?)
    }

    /// The project file in `start` or its parents.
    pub fn find(start: &Path) -> Result<PathBuf> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let f = d.join(FILE_NAME);
            if f.is_file() {
                return Ok(f);
            }
            dir = d.parent();
        }
        Err(Error::Input(format!(
            "no {FILE_NAME} in {} or its parents: run `polc init` or pass the project file",
            start.display()
        )))
    }

    /// Loads a project file.
    ///
    /// `POLC_STATE_URL`, when set and not empty, puts the state in that PostgreSQL
    /// database whatever `[state] url` says (`--state-url` sets it): the password need
    /// not be written in the project file.
    pub fn load(file: &Path) -> Result<Project> {
        Project::load_with(file, &|k| std::env::var_os(k).is_some())
    }

    /// [`Project::load`] for a command that reads only the state (`status`, `audit`): the
    /// systems' secrets need not be in the environment (an auditor has none).
    pub fn load_for_reading(file: &Path) -> Result<Project> {
        Project::load_with(file, &|_| true)
    }

    fn load_with(file: &Path, env_set: &dyn Fn(&str) -> bool) -> Result<Project> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Error::Input(format!("{}: cannot read: {e}", file.display())))?;
        let mut p = Project::parse_with_env(&text, file, env_set)?;
        if let Some(u) = std::env::var_os(STATE_URL_ENV).filter(|u| !u.is_empty()) {
            let u = u
                .to_str()
                .ok_or_else(|| Error::Input(format!("{STATE_URL_ENV} is not UTF-8 text")))?;
            let what = format!("the state URL (--state-url or {STATE_URL_ENV})");
            p.state.url = Some(check_state_url(u, &what).map_err(Error::Input)?);
        }
        Ok(p)
    }

    /// Parses the text of a project file; `file` names it in messages and its folder is
    /// the root of relative paths. Environment variables are checked (`token_env`).
    pub fn parse(text: &str, file: &Path) -> Result<Project> {
        Project::parse_with_env(text, file, &|k| std::env::var_os(k).is_some())
    }

    /// [`Project::parse`] with a given test of whether an environment variable is set.
    pub fn parse_with_env(
        text: &str,
        file: &Path,
        env_set: &dyn Fn(&str) -> bool,
    ) -> Result<Project> {
        let cx = Ctx { file, text };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            let fix = if msg.starts_with("unknown field") {
                " (remove it or check its spelling: docs/provisioning.md lists every key)"
            } else {
                ""
            };
            cx.err(e.span(), format!("{msg}{fix}"))
        })?;
        let root = file
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let abs = |p: &str| root.join(p);

        let policies = match raw.policies {
            None => Policies {
                paths: vec![abs("policies")],
                bundle: None,
                verify_key: None,
            },
            Some(p) => {
                let span = p.span();
                let p = p.into_inner();
                if p.paths.is_some() && p.bundle.is_some() {
                    return Err(cx.err(
                        Some(span),
                        "[policies] has both `paths` and `bundle`: keep one (sources or a compiled bundle)",
                    ));
                }
                if p.verify_key.is_some() && p.bundle.is_none() {
                    return Err(cx.err(
                        Some(span),
                        "[policies] `verify_key` needs `bundle` (only compiled bundles are signed)",
                    ));
                }
                Policies {
                    paths: match (&p.paths, &p.bundle) {
                        (Some(ps), _) => ps.iter().map(|s| abs(s)).collect(),
                        (None, Some(_)) => Vec::new(),
                        (None, None) => vec![abs("policies")],
                    },
                    bundle: p.bundle.map(|b| abs(b.get_ref())),
                    verify_key: p.verify_key.map(|k| abs(&k)),
                }
            }
        };

        let rh = raw.hris;
        let hris = Hris {
            users: abs(rh
                .as_ref()
                .and_then(|h| h.users.as_deref())
                .unwrap_or("hris/users.csv")),
            mapping: rh.as_ref().and_then(|h| h.mapping.as_deref()).map(abs),
            missing: cx.choice(
                &rh.as_ref().and_then(|h| h.missing.clone()),
                "missing",
                &[
                    ("ignore", Missing::Ignore),
                    ("terminate", Missing::Terminate),
                ],
                Missing::Ignore,
            )?,
            timezone: rh
                .as_ref()
                .and_then(|h| h.timezone.clone())
                .unwrap_or_else(|| "UTC".into()),
        };
        if hris.timezone != "UTC" {
            return Err(cx.err(
                None,
                format!(
                    "[hris] `timezone` is \"{}\": only \"UTC\" is supported yet",
                    hris.timezone
                ),
            ));
        }

        let state = match raw.state {
            None => StateConfig {
                path: abs(".polc/state.db"),
                url: None,
                lease_seconds: 30,
            },
            Some(s) => {
                let url = match &s.url {
                    None => None,
                    Some(u) => Some(
                        check_state_url(u.get_ref(), "[state] `url`")
                            .map_err(|m| cx.err(Some(u.span()), m))?,
                    ),
                };
                if let Some(l) = s.lease_seconds {
                    if !(5..=3600).contains(&l) {
                        return Err(cx.err(
                            None,
                            format!("[state] `lease_seconds` is {l}: use 5 to 3600 seconds"),
                        ));
                    }
                }
                StateConfig {
                    path: abs(s.path.as_deref().unwrap_or(".polc/state.db")),
                    url,
                    lease_seconds: s.lease_seconds.unwrap_or(30),
                }
            }
        };

        let mut guard = Guard::default();
        if let Some(g) = raw.guard {
            for (v, key) in [
                (&g.max_revoke_percent, "max_revoke_percent"),
                (&g.max_missing_percent, "max_missing_percent"),
            ] {
                if let Some(v) = v {
                    if !(0.0..=100.0).contains(v.get_ref()) {
                        return Err(cx.err(
                            Some(v.span()),
                            format!("[guard] `{key}` must be a percentage between 0 and 100"),
                        ));
                    }
                }
            }
            if let Some(v) = g.max_revoke_percent {
                guard.max_revoke_percent = v.into_inner();
            }
            if let Some(v) = g.max_missing_percent {
                guard.max_missing_percent = v.into_inner();
            }
            if let Some(v) = g.max_revoke_count {
                guard.max_revoke_count = v;
            }
            if let Some(v) = g.protected {
                guard.protected = v;
            }
        }

        let rollout = match raw.rollout.and_then(|r| r.policies) {
            Some(p) if p.get_ref().is_empty() => {
                return Err(cx.err(
                    Some(p.span()),
                    "[rollout] `policies` is empty: name at least one policy, or remove the key to provision every policy",
                ))
            }
            Some(p) => Rollout {
                at: Some(line_col(text, p.span().start)),
                policies: Some(p.into_inner()),
            },
            None => Rollout::default(),
        };

        let mut systems = BTreeMap::new();
        for (name, sys) in raw.systems {
            let span = sys.span();
            let s = sys.into_inner();
            let at = line_col(text, span.start);
            let table = format!("[systems.{name}]");
            let connector = match &s.connector {
                None => {
                    return Err(cx.err(
                        Some(span),
                        format!("{table} has no `connector`: add connector = \"scim\", \"file\" or \"exec\""),
                    ))
                }
                Some(c) => c,
            };
            // keys that belong to other connectors
            let foreign: Vec<(&str, Option<std::ops::Range<usize>>)> = match connector.get_ref().as_str() {
                "scim" => vec![
                    ("path", s.path.as_ref().map(|v| v.span())),
                    ("command", s.command.as_ref().map(|v| v.span())),
                ],
                "file" => vec![
                    ("base_url", s.base_url.as_ref().map(|v| v.span())),
                    ("token_env", s.token_env.as_ref().map(|v| v.span())),
                    ("user_name", s.user_name.as_ref().map(|v| v.span())),
                    ("group", s.group.as_ref().map(|v| v.span())),
                    ("level_group", s.level_group.as_ref().map(|v| v.span())),
                    ("command", s.command.as_ref().map(|v| v.span())),
                ],
                "exec" => vec![
                    ("base_url", s.base_url.as_ref().map(|v| v.span())),
                    ("token_env", s.token_env.as_ref().map(|v| v.span())),
                    ("user_name", s.user_name.as_ref().map(|v| v.span())),
                    ("group", s.group.as_ref().map(|v| v.span())),
                    ("level_group", s.level_group.as_ref().map(|v| v.span())),
                    ("path", s.path.as_ref().map(|v| v.span())),
                ],
                other => {
                    return Err(cx.err(
                        Some(connector.span()),
                        format!("{table} `connector` is \"{other}\": expected \"scim\", \"file\" or \"exec\""),
                    ))
                }
            };
            if let Some((key, sp)) = foreign.into_iter().find(|(_, sp)| sp.is_some()) {
                return Err(cx.err(
                    sp,
                    format!(
                        "{table} `{key}` is not a key of the {} connector: remove it",
                        connector.get_ref()
                    ),
                ));
            }
            let need = |v: &Option<Spanned<String>>, key: &str, example: &str| -> Result<String> {
                match v {
                    Some(v) if !v.get_ref().trim().is_empty() => Ok(v.get_ref().clone()),
                    Some(v) => Err(cx.err(
                        Some(v.span()),
                        format!("{table} `{key}` is empty: {example}"),
                    )),
                    None => Err(cx.err(
                        Some(connector.span()),
                        format!(
                            "{table} uses the {} connector, which needs `{key}`: add {example}",
                            connector.get_ref()
                        ),
                    )),
                }
            };
            let mode = cx.choice(
                &s.mode,
                "mode",
                &[
                    ("review", Mode::Review),
                    ("auto", Mode::Auto),
                    ("off", Mode::Off),
                ],
                Mode::Review,
            )?;
            let cfg = match connector.get_ref().as_str() {
                "scim" => {
                    let base_url = need(&s.base_url, "base_url", "base_url = \"https://…/scim/v2\"")?;
                    let token_env = need(&s.token_env, "token_env", "token_env = \"NAME_OF_THE_VARIABLE\"")?;
                    if mode != Mode::Off && !env_set(&token_env) {
                        let sp = s.token_env.as_ref().map(|v| v.span());
                        return Err(cx.err(
                            sp,
                            format!("{table} `token_env`: the environment variable `{token_env}` is not set: export it with the system's SCIM token"),
                        ));
                    }
                    ConnectorConfig::Scim {
                        base_url,
                        token_env,
                        user_name: s.user_name.as_ref().map_or("{user_id}".into(), |v| v.get_ref().clone()),
                        group: s.group.as_ref().map_or("{entitlement}".into(), |v| v.get_ref().clone()),
                        level_group: s
                            .level_group
                            .as_ref()
                            .map_or("{entitlement}:{level}".into(), |v| v.get_ref().clone()),
                    }
                }
                "file" => ConnectorConfig::File {
                    path: abs(&need(&s.path, "path", "path = \"systems/NAME.json\"")?),
                },
                _ => match &s.command {
                    Some(c) if !c.get_ref().is_empty() => ConnectorConfig::Exec {
                        command: c.get_ref().clone(),
                    },
                    Some(c) => {
                        return Err(cx.err(Some(c.span()), format!("{table} `command` is empty: command = [\"program\", \"arg\"]")))
                    }
                    None => {
                        return Err(cx.err(
                            Some(connector.span()),
                            format!("{table} uses the exec connector, which needs `command`: add command = [\"program\", \"arg\"]"),
                        ))
                    }
                },
            };
            let default_rate = if matches!(cfg, ConnectorConfig::File { .. }) {
                0
            } else {
                20
            };
            let manage = cx.choice(
                &s.manage,
                "manage",
                &[("policy", Manage::Policy), ("all", Manage::All)],
                Manage::Policy,
            )?;
            let leaver = cx.choice(
                &s.leaver,
                "leaver",
                &[
                    ("deactivate", LeaverMode::Deactivate),
                    ("delete", LeaverMode::Delete),
                    ("keep", LeaverMode::Keep),
                ],
                LeaverMode::Deactivate,
            )?;
            systems.insert(
                name.clone(),
                SystemConfig {
                    name,
                    connector: cfg,
                    mode,
                    manage,
                    leaver,
                    review_leavers: s.review_leavers.unwrap_or(false),
                    rate_per_second: s.rate_per_second.unwrap_or(default_rate),
                    max_attempts: s.max_attempts.unwrap_or(6).max(1),
                    quarantine_after: s.quarantine_after.unwrap_or(20).max(1),
                    timeout_seconds: s.timeout_seconds.unwrap_or(30).max(1),
                    read_back_seconds: s.read_back_seconds.unwrap_or(60),
                    at,
                },
            );
        }

        Ok(Project {
            file: file.to_path_buf(),
            root,
            policies,
            hris,
            state,
            guard,
            rollout,
            systems,
            evidence: raw.evidence.unwrap_or_default(),
            server: raw.server.unwrap_or_default(),
            schedule: raw.schedule.unwrap_or_default(),
        })
    }

    /// The error for a system table the policies never name.
    pub(crate) fn system_error(&self, name: &str, message: String) -> Error {
        Error::Config {
            file: self.file.clone(),
            at: self.systems.get(name).map(|s| s.at),
            message,
        }
    }

    /// The error for a `[rollout] policies` name that is no policy of the bundle (whose
    /// policies and templates are `known`).
    pub(crate) fn rollout_error(&self, name: &str, known: &[&str]) -> Error {
        const SHOWN: usize = 20;
        let mut list: Vec<String> = known
            .iter()
            .take(SHOWN)
            .map(|n| format!("\"{n}\""))
            .collect();
        if known.len() > SHOWN {
            list.push(format!("… {} more", known.len() - SHOWN));
        }
        Error::Config {
            file: self.file.clone(),
            at: self.rollout.at,
            message: format!(
                "[rollout] `policies` names \"{name}\", which is no policy of the bundle: fix the name or remove it (the policies are {})",
                list.join(", ")
            ),
        }
    }

    /// Whether an id or account name is protected.
    pub fn is_protected(&self, id: &str) -> bool {
        self.guard.protected.iter().any(|p| p == id)
    }
}
