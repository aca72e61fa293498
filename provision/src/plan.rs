//! `plan`: what to change in each system at a date, from the directory, the holds, the
//! policies and the observed access (docs/provisioning.md "Plans").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use polc::eval::{EntId, Plan as EvalPlan, SourceKind};
use polc::ir;
use polc_connectors::{Change, LeaverMode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Manage, Mode, SystemConfig};
use crate::db::OptionalExt;
use crate::directory;
use crate::error::{Error, Result, StateContext};
use crate::pull::{load_observed, load_observed_of, Observed};
use crate::state::now_text;
use crate::{audit, canon, Provision};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Reactivate,
    Grant,
    SetLevel,
    Revoke,
    Deprovision,
}

impl ActionKind {
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Reactivate => "reactivate",
            ActionKind::Grant => "grant",
            ActionKind::SetLevel => "set_level",
            ActionKind::Revoke => "revoke",
            ActionKind::Deprovision => "deprovision",
        }
    }

    /// Takes access away (what the revocation guard counts).
    pub fn is_revocation(self) -> bool {
        matches!(self, ActionKind::Revoke | ActionKind::Deprovision)
    }
}

/// One action of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub action: ActionKind,
    pub user_id: String,
    pub system: String,
    pub grant: Option<String>,
    pub level: Option<String>,
    pub from_level: Option<String>,
    pub reason: String,
    pub sources: Vec<String>,
    /// Needs a person's approval (apply with the digest), never auto-approved.
    pub review: bool,
    /// A leaver's revocation or deprovisioning.
    pub leaver: bool,
    /// A protected id: the action is skipped, never sent.
    pub protected: bool,
    /// For deprovision: what happens to the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<LeaverMode>,
}

impl Action {
    /// The change a connector makes.
    pub fn change(&self) -> Change {
        let grant = self.grant.clone().unwrap_or_default();
        match self.action {
            ActionKind::Grant => Change::Grant {
                grant,
                level: self.level.clone(),
            },
            ActionKind::Revoke => Change::Revoke { grant },
            ActionKind::SetLevel => Change::SetLevel {
                grant,
                from: self.from_level.clone(),
                to: self.level.clone(),
            },
            ActionKind::Deprovision => Change::Deprovision {
                mode: self.mode.unwrap_or(LeaverMode::Deactivate),
            },
            ActionKind::Reactivate => Change::Reactivate,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// The bundle's digest (`sha256:…`).
    pub bundle: String,
    /// SHA-256 of the directory at `as_of`.
    pub directory: String,
    /// SHA-256 of the observed access of every system.
    pub observed: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub actions: usize,
    pub grants: usize,
    pub revokes: usize,
    pub set_levels: usize,
    pub deprovisions: usize,
    pub reactivations: usize,
    pub review: usize,
    pub protected: usize,
    pub leavers: usize,
    pub orphans: usize,
    pub unmanaged: usize,
}

/// An entry a system holds that polc does not manage (reported, never revoked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub user_id: String,
    pub grant: String,
    pub level: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPlan {
    pub system: String,
    /// `false`: named by the policies but not configured, or mode off (report only).
    pub provisioned: bool,
    pub mode: Option<Mode>,
    pub actions: usize,
    pub review: usize,
    /// Observed entries polc manages (the base of the revocation guard's percentage).
    pub managed_entries: usize,
    pub unmanaged_count: usize,
    /// The first 1,000 unmanaged entries.
    pub unmanaged: Vec<Unmanaged>,
    pub orphans: Vec<String>,
    /// The last listing was not trusted: no revocation planned from it.
    pub failed_listing: Option<String>,
}

/// A plan, as stored in the state and written to a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub version: u32,
    pub id: String,
    pub as_of: NaiveDate,
    pub digest: String,
    pub inputs: Inputs,
    pub summary: Summary,
    pub systems: Vec<SystemPlan>,
    pub actions: Vec<Action>,
    /// A plan of some people only ([`Provision::plan_for`]): their ids. Orphan accounts,
    /// and everyone else, are left to a plan of everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

/// How much of what a system holds the policies explain, from a plan of everything (a
/// drift run): of the entries held (`managed_entries + unmanaged_count`), those neither to
/// be revoked, nor at the wrong level, nor unmanaged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemCoverage {
    pub system: String,
    /// Entries the system holds.
    pub entries: usize,
    /// Held and expected at that level.
    pub covered: usize,
    /// Expected and not held (grants to make).
    pub missing: usize,
    /// Held and not expected (revocations, a leaver's and an orphan's included).
    pub excess: usize,
    /// Held at another level than expected.
    pub level_mismatch: usize,
    /// Held, of entitlements polc does not manage.
    pub unmanaged: usize,
    /// `covered` of `entries`, in percent, one decimal (100 when nothing is held).
    pub percent: f64,
}

impl Plan {
    /// The coverage of each provisioned system (see [`SystemCoverage`]).
    pub fn coverage(&self) -> Vec<SystemCoverage> {
        self.systems
            .iter()
            .filter(|s| s.provisioned)
            .map(|s| {
                let count = |k: ActionKind| {
                    self.actions
                        .iter()
                        .filter(|a| a.system == s.system && a.action == k)
                        .count()
                };
                let (missing, excess, level_mismatch) = (
                    count(ActionKind::Grant),
                    count(ActionKind::Revoke),
                    count(ActionKind::SetLevel),
                );
                let entries = s.managed_entries + s.unmanaged_count;
                let covered = s.managed_entries.saturating_sub(excess + level_mismatch);
                SystemCoverage {
                    system: s.system.clone(),
                    entries,
                    covered,
                    missing,
                    excess,
                    level_mismatch,
                    unmanaged: s.unmanaged_count,
                    percent: if entries == 0 {
                        100.0
                    } else {
                        (covered as f64 * 1000.0 / entries as f64).round() / 10.0
                    },
                }
            })
            .collect()
    }
}

impl Plan {
    /// The digest: SHA-256 of the canonical JSON of `{as_of, inputs, actions}`.
    pub fn compute_digest(as_of: NaiveDate, inputs: &Inputs, actions: &[Action]) -> Result<String> {
        canon::digest(&json!({"as_of": as_of, "inputs": inputs, "actions": actions}))
    }

    pub fn human(&self) -> String {
        let mut s = format!(
            "plan {} at {} (digest {})\n{} action(s): {} grant, {} set_level, {} revoke, {} deprovision, {} reactivate; {} need review, {} protected (skipped)\n",
            self.id, self.as_of, self.digest, self.summary.actions, self.summary.grants, self.summary.set_levels,
            self.summary.revokes, self.summary.deprovisions, self.summary.reactivations, self.summary.review, self.summary.protected
        );
        if let Some(people) = &self.scope {
            s += &format!(
                "a plan of {} person(s) only: everyone else, and orphan accounts, are left to a plan of everyone\n",
                people.len()
            );
        }
        for sp in &self.systems {
            if !sp.provisioned {
                s += &format!("  {}: not provisioned (report only)\n", sp.system);
                continue;
            }
            s +=
                &format!(
                "  {}: {} action(s), {} for review, {} unmanaged entries, {} orphan account(s)\n",
                sp.system, sp.actions, sp.review, sp.unmanaged_count, sp.orphans.len()
            );
            if let Some(w) = &sp.failed_listing {
                s += &format!("    failed listing ({w}): no revocation planned\n");
            }
        }
        for a in self.actions.iter().take(200) {
            let g = a.grant.as_deref().unwrap_or("(account)");
            let l = match (&a.from_level, &a.level) {
                (Some(f), Some(t)) => format!(" {f} -> {t}"),
                (None, Some(l)) => format!(" ({l})"),
                _ => String::new(),
            };
            s += &format!(
                "  {} {} {} {}{g}{l}: {}{}\n",
                a.id,
                a.action.name(),
                a.system,
                format_args!("{} ", a.user_id),
                a.reason,
                if a.protected {
                    " [protected: skipped]"
                } else if a.review {
                    " [review]"
                } else {
                    ""
                }
            );
        }
        if self.actions.len() > 200 {
            s += &format!(
                "  … and {} more (see the plan's JSON)\n",
                self.actions.len() - 200
            );
        }
        s
    }
}

/// The systems some grant of the bundle names (policies, templates, exceptions).
pub fn named_systems(b: &ir::Bundle) -> HashSet<&str> {
    let mut out = HashSet::new();
    for p in &b.policies {
        for g in &p.grants {
            out.insert(b.system(g.entitlement.system).name.as_str());
        }
    }
    for e in &b.exceptions {
        for g in &e.grants {
            out.insert(b.system(g.entitlement.system).name.as_str());
        }
    }
    out
}

/// Entitlement texts the rollout (every policy, or the named ones and what they inherit)
/// names, whatever their dates.
fn managed_by_policy(b: &ir::Bundle, rollout: Option<&HashSet<u32>>) -> HashSet<String> {
    let mut out = HashSet::new();
    for (i, p) in b.policies.iter().enumerate() {
        if rollout.is_none_or(|r| r.contains(&(i as u32))) {
            for g in &p.grants {
                out.insert(b.entitlement_text(&g.entitlement));
            }
        }
    }
    if rollout.is_none() {
        for e in &b.exceptions {
            for g in &e.grants {
                out.insert(b.entitlement_text(&g.entitlement));
            }
        }
    }
    out
}

/// The rollout's policies and everything they inherit, transitively.
fn rollout_closure(b: &ir::Bundle, names: &[String]) -> std::result::Result<HashSet<u32>, String> {
    let mut out = HashSet::new();
    let mut stack = Vec::new();
    for n in names {
        match b.policy_id(n) {
            Some(id) => stack.push(id),
            None => return Err(n.clone()),
        }
    }
    while let Some(p) = stack.pop() {
        if out.insert(p) {
            stack.extend(b.policies[p as usize].inherits.iter().copied());
        }
    }
    Ok(out)
}

/// An open hold: grant, level, until, policy.
type OpenHold = (String, Option<String>, String, String);
/// A row of an open hold: user, grant, level, until, policy.
type HoldRow = (String, String, Option<String>, String, String);
/// An entitlement resolved against the bundle, with its level's rank.
type Resolved = Option<(EntId, Option<u8>)>;

struct Held<'a> {
    grant: &'a str,
    level: Option<&'a str>,
    ent: Option<(EntId, Option<u8>)>,
}

struct Desired {
    ent: EntId,
    level: Option<u8>,
    sources: Vec<String>,
    reason: String,
}

/// Why someone is a leaver.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gone {
    No,
    /// Fails a `require` (a status change in a snapshot, say): never deleted.
    Require,
    /// Terminated by an HRIS event.
    Event,
    /// Absent from a snapshot (missing = terminate): always reviewed.
    Absence,
}

impl Provision {
    /// `plan [--at D]`: computes, stores and returns the plan at `at`. The same inputs give
    /// the same plan (same id and digest).
    pub fn plan(&mut self, at: NaiveDate) -> Result<Plan> {
        self.plan_in(at, None)
    }

    /// The plan of some people only (the service's plan after HRIS events: the people they
    /// recorded), computed and stored as [`Provision::plan`] does. It reads only their
    /// records, observed accounts and holds, so its cost does not grow with the directory;
    /// orphan accounts and everyone else are left to a plan of everyone. The revocation
    /// guard still counts against every managed entry of a system.
    pub fn plan_for(&mut self, at: NaiveDate, people: &BTreeSet<String>) -> Result<Plan> {
        self.plan_in(at, Some(people))
    }

    fn plan_in(&mut self, at: NaiveDate, scope: Option<&BTreeSet<String>>) -> Result<Plan> {
        let b = self.bundle()?;
        let bundle = b.bundle.clone();
        let path = self.state.path.clone();
        let conn = &self.state.conn;
        let project = &self.project;

        let stored = match scope {
            None => directory::load_at(conn, &path, at)?,
            Some(people) => {
                let mut v = Vec::with_capacity(people.len());
                for u in people {
                    v.extend(directory::load_user(conn, &path, u, at)?);
                }
                v
            }
        };
        if stored.is_empty() {
            return Err(Error::Refused(match scope {
                None => format!(
                    "the directory is empty at {at}: import a snapshot first (`hris import`)"
                ),
                Some(_) => format!("none of these people is in the directory at {at}"),
            }));
        }
        let users = directory::to_users(&stored, bundle.schema.as_ref())?;
        let dir_digest = directory::digest(&stored);
        let cause: HashMap<&str, &str> = stored
            .iter()
            .map(|s| (s.user_id.as_str(), s.cause.as_str()))
            .collect();
        let record_digest: HashMap<&str, &str> = stored
            .iter()
            .map(|s| (s.user_id.as_str(), s.digest.as_str()))
            .collect();

        let rollout = match &project.rollout.policies {
            Some(names) => Some(rollout_closure(&bundle, names).map_err(|n| {
                let known: Vec<&str> = bundle.policies.iter().map(|p| p.name.as_str()).collect();
                project.rollout_error(&n, &known)
            })?),
            None => None,
        };
        let rollout_roots: Option<HashSet<u32>> = project
            .rollout
            .policies
            .as_ref()
            .map(|ns| ns.iter().filter_map(|n| bundle.policy_id(n)).collect());
        let policy_managed = managed_by_policy(&bundle, rollout.as_ref());

        // the systems: provisioned ones need a pull
        let named = named_systems(&bundle);
        let mut provisioned: Vec<&SystemConfig> = Vec::new();
        let mut sys_plans: Vec<SystemPlan> = Vec::new();
        let mut named_sorted: Vec<&str> = named.iter().copied().collect();
        named_sorted.sort_unstable();
        for name in named_sorted {
            match project.systems.get(name) {
                Some(s) if s.mode != Mode::Off => provisioned.push(s),
                other => sys_plans.push(SystemPlan {
                    system: name.into(),
                    provisioned: false,
                    mode: other.map(|s| s.mode),
                    actions: 0,
                    review: 0,
                    managed_entries: 0,
                    unmanaged_count: 0,
                    unmanaged: Vec::new(),
                    orphans: Vec::new(),
                    failed_listing: None,
                }),
            }
        }
        let mut last_pull: HashMap<String, Option<String>> = HashMap::new();
        for s in &provisioned {
            let row: Option<Option<String>> = conn
                .query_row(
                    "SELECT suspect FROM pulls WHERE system = ?1 ORDER BY id DESC LIMIT 1",
                    [&s.name],
                    |r| r.get(0),
                )
                .ok();
            match row {
                Some(sus) => {
                    last_pull.insert(s.name.clone(), sus);
                }
                None => {
                    return Err(Error::Refused(format!(
                        "system `{}` was never pulled: run `pull {}` first, so the plan knows what it holds",
                        s.name, s.name
                    )))
                }
            }
        }

        // observed access, and its digest
        let mut observed: BTreeMap<String, HashMap<String, Observed>> = BTreeMap::new();
        let mut obs_hash = sha2::Sha256::default();
        {
            use sha2::Digest;
            let mut hash = |s: &str, u: &str, h: &str, a: i64| {
                for part in [
                    s.as_bytes(),
                    u.as_bytes(),
                    h.as_bytes(),
                    a.to_string().as_bytes(),
                ] {
                    obs_hash.update(part);
                    obs_hash.update([0]);
                }
            };
            match scope {
                None => {
                    let mut stmt = conn
                        .prepare("SELECT system, user_id, holdings, coalesce(active, -1) FROM observed ORDER BY system, user_id")
                        .state(&path)?;
                    let mut rows = stmt.query([]).state(&path)?;
                    while let Some(r) = rows.next().state(&path)? {
                        let s: String = r.get(0).state(&path)?;
                        let u: String = r.get(1).state(&path)?;
                        let h: String = r.get(2).state(&path)?;
                        let a: i64 = r.get(3).state(&path)?;
                        hash(&s, &u, &h, a);
                    }
                }
                // the people's rows of the systems provisioned, in the same order (system,
                // user), each found by its key
                Some(people) => {
                    let mut names: Vec<&str> =
                        provisioned.iter().map(|s| s.name.as_str()).collect();
                    names.sort_unstable();
                    let mut stmt = conn
                        .prepare_cached("SELECT holdings, coalesce(active, -1) FROM observed WHERE system = ?1 AND user_id = ?2")
                        .state(&path)?;
                    for s in names {
                        for u in people {
                            let row: Option<(String, i64)> = stmt
                                .query_row([s, u.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                                .optional()
                                .state(&path)?;
                            if let Some((h, a)) = row {
                                hash(s, u, &h, a);
                            }
                        }
                    }
                }
            }
        }
        let obs_digest = {
            use sha2::Digest;
            hex::encode(obs_hash.finalize())
        };
        for s in &provisioned {
            let o = match scope {
                None => load_observed(conn, &path, &s.name)?,
                Some(people) => load_observed_of(conn, &path, &s.name, people)?,
            };
            observed.insert(s.name.clone(), o);
        }
        let mut granted_before: HashMap<String, HashSet<String>> = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT system, grant_ref FROM granted")
                .state(&path)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .state(&path)?;
            for r in rows {
                let (s, g) = r.state(&path)?;
                granted_before.entry(s).or_default().insert(g);
            }
        }
        // open holds on `at`
        let mut holds: HashMap<String, Vec<OpenHold>> = HashMap::new();
        {
            let mut add = |rows: Vec<HoldRow>| {
                for (u, g, l, until, p) in rows {
                    holds.entry(u).or_default().push((g, l, until, p));
                }
            };
            let row = |r: &crate::db::Row<'_>| -> crate::db::DbResult<HoldRow> {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            };
            match scope {
                None => {
                    let mut stmt = conn
                        .prepare("SELECT user_id, grant_ref, level, until, policy FROM holds WHERE closed_at IS NULL AND until > ?1")
                        .state(&path)?;
                    let rows = stmt.query_map([at.to_string()], row).state(&path)?;
                    add(rows.collect::<std::result::Result<_, _>>().state(&path)?);
                }
                Some(people) => {
                    let mut stmt = conn
                        .prepare_cached("SELECT user_id, grant_ref, level, until, policy FROM holds WHERE closed_at IS NULL AND until > ?1 AND user_id = ?2")
                        .state(&path)?;
                    for u in people {
                        let rows = stmt
                            .query_map(crate::db::params![at.to_string(), u], row)
                            .state(&path)?;
                        add(rows.collect::<std::result::Result<_, _>>().state(&path)?);
                    }
                }
            }
        }

        let mut eplan = EvalPlan::new(bundle.clone(), &users.fields, at);
        // system id -> index into `provisioned`
        let sys_index: Vec<Option<usize>> = bundle
            .systems
            .iter()
            .map(|s| provisioned.iter().position(|p| p.name == s.name))
            .collect();
        let mut resolved: HashMap<(String, Option<String>), Resolved> = HashMap::new();
        let mut resolve =
            |ep: &mut EvalPlan, g: &str, l: Option<&str>| -> Option<(EntId, Option<u8>)> {
                let key = (g.to_string(), l.map(str::to_string));
                if let Some(r) = resolved.get(&key) {
                    return *r;
                }
                let text = match l {
                    Some(l) => format!("{g} ({l})"),
                    None => g.to_string(),
                };
                let r = ep.resolve_ref(&text).ok().map(|(e, rank)| {
                    let rank = rank.or(ep.bundle.rtype(&ep.ents[e as usize]).default);
                    (e, rank)
                });
                resolved.insert(key, r);
                r
            };

        let mut actions: Vec<Action> = Vec::new();
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        let mut unmanaged: Vec<Vec<Unmanaged>> = vec![Vec::new(); provisioned.len()];
        let mut orphans: Vec<Vec<String>> = vec![Vec::new(); provisioned.len()];
        let mut managed_entries = vec![0usize; provisioned.len()];
        let mut leavers = 0usize;
        let dir_ids: HashSet<&str> = users.records.iter().map(|r| r.id.as_str()).collect();
        let empty = Observed::default();

        let is_managed = |sys: &SystemConfig, text: &str| -> bool {
            sys.manage == Manage::All
                || policy_managed.contains(text)
                || (rollout.is_none()
                    && granted_before
                        .get(&sys.name)
                        .is_some_and(|g| g.contains(text)))
        };

        // everyone in the directory
        for rec in &users.records {
            let ev = eplan.evaluate(&rec.id, &rec.values);
            let gone = if ev.failed_require.is_none() {
                Gone::No
            } else {
                match cause.get(rec.id.as_str()).copied() {
                    Some("employee.terminated") => Gone::Event,
                    Some("absence") => Gone::Absence,
                    _ => Gone::Require,
                }
            };
            if gone != Gone::No {
                leavers += 1;
            }
            let mut desired: Vec<Vec<Desired>> =
                (0..provisioned.len()).map(|_| Vec::new()).collect();
            // what policies outside the rollout grant: neither granted nor revoked
            let mut outside: Vec<Vec<EntId>> = (0..provisioned.len()).map(|_| Vec::new()).collect();
            if gone == Gone::No {
                for g in &ev.grants {
                    let Some(si) = sys_index[eplan.ents[g.ent as usize].system as usize] else {
                        continue;
                    };
                    let sources: Vec<String> = g
                        .sources
                        .iter()
                        .filter(|s| match (&rollout_roots, &s.kind) {
                            (None, _) => true,
                            (Some(r), SourceKind::Path(p)) => {
                                eplan.paths[*p as usize].iter().any(|x| r.contains(x))
                            }
                            (Some(_), SourceKind::Exception(_)) => false,
                        })
                        .map(|s| eplan.source_text(s))
                        .collect();
                    if sources.is_empty() {
                        outside[si].push(g.ent);
                        continue;
                    }
                    desired[si].push(Desired {
                        ent: g.ent,
                        level: g.level,
                        sources,
                        reason: "expected by policy".into(),
                    });
                }
                if let Some(hs) = holds.get(&rec.id) {
                    for (g, l, until, p) in hs {
                        let Some((ent, rank)) = resolve(&mut eplan, g, l.as_deref()) else {
                            continue;
                        };
                        let Some(si) = sys_index[eplan.ents[ent as usize].system as usize] else {
                            continue;
                        };
                        if ev.denied.iter().any(|d| d.ent == ent) {
                            continue;
                        }
                        if let Some(d) = desired[si].iter_mut().find(|d| d.ent == ent) {
                            if d.level < rank {
                                d.level = rank;
                                d.reason = format!("held until {until} (grace of {p})");
                            }
                            continue;
                        }
                        desired[si].push(Desired {
                            ent,
                            level: rank,
                            sources: vec![p.clone()],
                            reason: format!("held until {until} (grace of {p})"),
                        });
                    }
                }
            }
            for (si, sys) in provisioned.iter().enumerate() {
                let obs = observed
                    .get(&sys.name)
                    .and_then(|m| m.get(&rec.id))
                    .unwrap_or(&empty);
                let suspect = last_pull.get(&sys.name).cloned().flatten().is_some();
                let n0 = actions.len();
                diff_user(
                    &mut DiffCx {
                        project,
                        sys,
                        eplan: &mut eplan,
                        resolve: &mut resolve,
                        is_managed: &is_managed,
                        actions: &mut actions,
                        unmanaged: &mut unmanaged[si],
                        managed_entries: &mut managed_entries[si],
                        suspect,
                    },
                    &rec.id,
                    &desired[si],
                    &outside[si],
                    obs,
                    gone,
                    false,
                );
                if actions.len() > n0 {
                    touched.insert((sys.name.clone(), rec.id.clone()));
                }
            }
        }
        // orphan accounts: in a system, in no HRIS record (a plan of some people leaves
        // them to a plan of everyone)
        for (si, sys) in provisioned.iter().enumerate().filter(|_| scope.is_none()) {
            let suspect = last_pull.get(&sys.name).cloned().flatten().is_some();
            let Some(obs) = observed.get(&sys.name) else {
                continue;
            };
            let mut ids: Vec<&String> = obs
                .keys()
                .filter(|u| !dir_ids.contains(u.as_str()))
                .collect();
            ids.sort();
            for u in ids {
                let o = &obs[u];
                if o.holdings.is_empty() && o.active != Some(true) {
                    continue;
                }
                orphans[si].push(u.clone());
                let n0 = actions.len();
                diff_user(
                    &mut DiffCx {
                        project,
                        sys,
                        eplan: &mut eplan,
                        resolve: &mut resolve,
                        is_managed: &is_managed,
                        actions: &mut actions,
                        unmanaged: &mut unmanaged[si],
                        managed_entries: &mut managed_entries[si],
                        suspect,
                    },
                    u,
                    &[],
                    &[],
                    o,
                    Gone::No,
                    true,
                );
                if actions.len() > n0 {
                    touched.insert((sys.name.clone(), u.clone()));
                }
            }
        }

        actions.sort_by(|a, b| {
            (&a.system, a.action, &a.user_id, &a.grant, &a.from_level).cmp(&(
                &b.system,
                b.action,
                &b.user_id,
                &b.grant,
                &b.from_level,
            ))
        });
        for (i, a) in actions.iter_mut().enumerate() {
            a.id = format!("a{}", i + 1);
        }
        // a plan of some people: the revocation guard's base is still every managed
        // entry of the system (counted only when the plan revokes there)
        if scope.is_some() {
            for (si, sys) in provisioned.iter().enumerate() {
                if !actions
                    .iter()
                    .any(|a| a.system == sys.name && a.action.is_revocation())
                {
                    continue;
                }
                let mut n = 0;
                for o in load_observed(conn, &path, &sys.name)?.values() {
                    for (g, l) in &o.holdings {
                        let text = match resolve(&mut eplan, g, l.as_deref()) {
                            Some((e, _)) => eplan.ent_text[e as usize].clone(),
                            None => g.clone(),
                        };
                        n += is_managed(sys, &text) as usize;
                    }
                }
                managed_entries[si] = n;
            }
        }
        let mut summary = Summary {
            actions: actions.len(),
            leavers,
            ..Summary::default()
        };
        for a in &actions {
            match a.action {
                ActionKind::Grant => summary.grants += 1,
                ActionKind::Revoke => summary.revokes += 1,
                ActionKind::SetLevel => summary.set_levels += 1,
                ActionKind::Deprovision => summary.deprovisions += 1,
                ActionKind::Reactivate => summary.reactivations += 1,
            }
            summary.review += a.review as usize;
            summary.protected += a.protected as usize;
        }
        for (si, sys) in provisioned.iter().enumerate() {
            let n_unmanaged = unmanaged[si].len();
            let mut um = std::mem::take(&mut unmanaged[si]);
            um.truncate(1000);
            summary.unmanaged += n_unmanaged;
            summary.orphans += orphans[si].len();
            sys_plans.push(SystemPlan {
                system: sys.name.clone(),
                provisioned: true,
                mode: Some(sys.mode),
                actions: actions.iter().filter(|a| a.system == sys.name).count(),
                review: actions
                    .iter()
                    .filter(|a| a.system == sys.name && a.review)
                    .count(),
                managed_entries: managed_entries[si],
                unmanaged_count: n_unmanaged,
                unmanaged: um,
                orphans: std::mem::take(&mut orphans[si]),
                failed_listing: last_pull.get(&sys.name).cloned().flatten(),
            });
        }
        sys_plans.sort_by(|a, b| a.system.cmp(&b.system));
        let inputs = Inputs {
            bundle: b.digest.clone(),
            directory: dir_digest,
            observed: obs_digest,
        };
        let digest = Plan::compute_digest(at, &inputs, &actions)?;
        let id = format!("plan-{}-{}", at.format("%Y%m%d"), &digest[..12]);
        let plan = Plan {
            format: "polc-plan".into(),
            version: 1,
            id: id.clone(),
            as_of: at,
            digest: digest.clone(),
            inputs,
            summary,
            systems: sys_plans,
            actions,
            scope: scope.map(|p| p.iter().cloned().collect()),
        };

        // store (once: the same inputs make the same plan)
        let exists: bool = conn
            .query_row("SELECT count(*) FROM plans WHERE id = ?1", [&id], |r| {
                r.get::<_, i64>(0)
            })
            .state(&path)?
            > 0;
        if exists {
            return Ok(plan);
        }
        let document = serde_json::to_string(&plan).map_err(|e| Error::Bug(e.to_string()))?;
        let tx = self.tx()?;
        let now = now_text();
        tx.execute(
            "INSERT INTO plans(id, as_of, digest, bundle, created_at, created_by, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            crate::db::params![id, at.to_string(), digest, plan.inputs.bundle, now, self.actor, document],
        )
        .state(&path)?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT INTO actions(plan_id, idx, id, system, user_id, action, change, review, leaver, protected, status, planned_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?11)",
                )
                .state(&path)?;
            for (i, a) in plan.actions.iter().enumerate() {
                let change =
                    serde_json::to_string(&a.change()).map_err(|e| Error::Bug(e.to_string()))?;
                ins.execute(crate::db::params![
                    id,
                    i as i64,
                    a.id,
                    a.system,
                    a.user_id,
                    a.action.name(),
                    change,
                    a.review,
                    a.leaver,
                    a.protected,
                    now
                ])
                .state(&path)?;
            }
            let mut pu = tx
                .prepare("INSERT INTO plan_users(plan_id, system, user_id, version, record) VALUES (?1, ?2, ?3, ?4, ?5)")
                .state(&path)?;
            for (s, u) in &touched {
                let v = observed
                    .get(s)
                    .and_then(|m| m.get(u))
                    .map_or(0, |o| o.version);
                let rd = record_digest.get(u.as_str()).copied().unwrap_or("");
                pu.execute(crate::db::params![id, s, u, v, rd])
                    .state(&path)?;
            }
            let mut w = audit::Writer::new(&tx, &path, &self.actor)?;
            let mut details = json!({"plan": id, "digest": digest, "actions": plan.summary.actions, "review": plan.summary.review,
                       "revokes": plan.summary.revokes, "grants": plan.summary.grants, "inputs": plan.inputs});
            if let Some(people) = &plan.scope {
                details["people"] = json!(people.len());
            }
            w.append(Some(&at.to_string()), "plan", details)?;
        }
        self.commit(tx)?;
        Ok(plan)
    }

    /// The id of the plan made last, if any.
    pub fn latest_plan(&self) -> Result<Option<String>> {
        use crate::db::OptionalExt;
        self.state
            .conn
            .query_row(
                "SELECT id FROM plans ORDER BY rowid DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .state(&self.state.path)
    }

    /// A stored plan by id.
    pub fn stored_plan(&self, id: &str) -> Result<Option<(Plan, String)>> {
        use crate::db::OptionalExt;
        let row: Option<(String, String)> = self
            .state
            .conn
            .query_row(
                "SELECT document, created_by FROM plans WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .state(&self.state.path)?;
        match row {
            None => Ok(None),
            Some((doc, by)) => {
                let p: Plan = serde_json::from_str(&doc).map_err(|e| Error::State {
                    path: self.state.path.clone(),
                    message: format!("plan {id} is damaged: {e}"),
                })?;
                Ok(Some((p, by)))
            }
        }
    }
}

type Resolver<'r> =
    dyn FnMut(&mut EvalPlan, &str, Option<&str>) -> Option<(EntId, Option<u8>)> + 'r;

struct DiffCx<'a, 'r> {
    project: &'a crate::Project,
    sys: &'a SystemConfig,
    eplan: &'a mut EvalPlan,
    resolve: &'a mut Resolver<'r>,
    is_managed: &'a dyn Fn(&SystemConfig, &str) -> bool,
    actions: &'a mut Vec<Action>,
    unmanaged: &'a mut Vec<Unmanaged>,
    managed_entries: &'a mut usize,
    suspect: bool,
}

fn level_name(ep: &EvalPlan, ent: EntId, level: Option<u8>) -> Option<String> {
    ep.level_name(ent, level).map(str::to_string)
}

/// The actions for one person in one system. `outside`: what policies outside the
/// `[rollout]` grant the person, left alone when held.
fn diff_user(
    cx: &mut DiffCx<'_, '_>,
    user: &str,
    desired: &[Desired],
    outside: &[EntId],
    obs: &Observed,
    gone: Gone,
    orphan: bool,
) {
    let sys = cx.sys;
    let protected = cx.project.is_protected(user);
    let review_mode = sys.mode == Mode::Review;
    let held: Vec<Held<'_>> = obs
        .holdings
        .iter()
        .map(|(g, l)| Held {
            grant: g,
            level: l.as_deref(),
            ent: (cx.resolve)(cx.eplan, g, l.as_deref()),
        })
        .collect();
    let mut push = |a: Action| cx.actions.push(a);
    let base = |kind: ActionKind, grant: Option<String>| Action {
        id: String::new(),
        action: kind,
        user_id: user.to_string(),
        system: sys.name.clone(),
        grant,
        level: None,
        from_level: None,
        reason: String::new(),
        sources: Vec::new(),
        review: review_mode,
        leaver: false,
        protected: false,
        mode: None,
    };
    // a rehire (or anyone expected to have access) whose account is inactive
    if gone == Gone::No && !orphan && obs.active == Some(false) && !desired.is_empty() {
        let mut a = base(ActionKind::Reactivate, None);
        a.reason = "rehired: the account is inactive".into();
        push(a);
    }
    for d in desired {
        let same: Vec<&Held<'_>> = held
            .iter()
            .filter(|h| h.ent.is_some_and(|(e, _)| e == d.ent))
            .collect();
        let text = cx.eplan.ent_text[d.ent as usize].clone();
        let lname = level_name(cx.eplan, d.ent, d.level);
        if same.is_empty() {
            let mut a = base(ActionKind::Grant, Some(text));
            a.level = lname;
            a.reason = d.reason.clone();
            a.sources = d.sources.clone();
            push(a);
        } else if !same
            .iter()
            .any(|h| h.ent.is_some_and(|(_, r)| r == d.level))
        {
            if cx.suspect {
                continue;
            }
            // the highest level held moves to the expected one
            let from = same
                .iter()
                .max_by_key(|h| h.ent.map(|(_, r)| r))
                .and_then(|h| h.level.map(str::to_string));
            let mut a = base(ActionKind::SetLevel, Some(same[0].grant.to_string()));
            a.level = lname;
            a.from_level = from;
            a.reason = format!(
                "{}: policy expects level {}",
                d.reason,
                a.level.as_deref().unwrap_or("(none)")
            );
            a.sources = d.sources.clone();
            push(a);
        }
    }
    // what is held and not desired
    let leaver = gone != Gone::No;
    let always_review = orphan || gone == Gone::Absence;
    let mut revoked: BTreeSet<&str> = BTreeSet::new();
    for h in &held {
        let text = match h.ent {
            Some((e, _)) => cx.eplan.ent_text[e as usize].clone(),
            None => h.grant.to_string(),
        };
        let managed = (cx.is_managed)(sys, &text);
        if managed {
            *cx.managed_entries += 1;
        }
        if h.ent
            .is_some_and(|(e, _)| desired.iter().any(|d| d.ent == e) || outside.contains(&e))
        {
            continue;
        }
        if !managed {
            cx.unmanaged.push(Unmanaged {
                user_id: user.into(),
                grant: h.grant.into(),
                level: h.level.map(str::to_string),
            });
            continue;
        }
        if cx.suspect || !revoked.insert(h.grant) {
            continue;
        }
        let mut a = base(ActionKind::Revoke, Some(h.grant.to_string()));
        a.level = h.level.map(str::to_string);
        a.leaver = leaver;
        a.protected = protected;
        a.reason = match (orphan, gone) {
            (true, _) => "orphan account: no HRIS record".into(),
            (_, Gone::Event) => "leaver: terminated".into(),
            (_, Gone::Absence) => "leaver: absent from the HRIS snapshot".into(),
            (_, Gone::Require) => "leaver: no longer passes every `require`".into(),
            (_, Gone::No) => "not expected by policy (nor held, nor excepted)".into(),
        };
        a.review = if always_review {
            true
        } else if leaver {
            review_mode && sys.review_leavers
        } else {
            review_mode
        };
        push(a);
    }
    // the leaver's account
    if leaver && !cx.suspect && obs.active.is_some() && sys.leaver != LeaverMode::Keep {
        let delete_ok = matches!(gone, Gone::Event | Gone::Absence);
        let mode = match sys.leaver {
            LeaverMode::Delete if delete_ok => LeaverMode::Delete,
            _ => LeaverMode::Deactivate,
        };
        if mode == LeaverMode::Delete || obs.active == Some(true) {
            let mut a = base(ActionKind::Deprovision, None);
            a.mode = Some(mode);
            a.leaver = true;
            a.protected = protected;
            a.reason = format!(
                "leaver: account {}",
                if mode == LeaverMode::Delete {
                    "deleted"
                } else {
                    "deactivated"
                }
            );
            a.review =
                mode == LeaverMode::Delete || always_review || (review_mode && sys.review_leavers);
            push(a);
        }
    }
}
