//! `plan`: what to change in each system at a date, from the directory, the holds, the
//! policies and the observed access (docs/provisioning.md "Plans").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use polc::eval::{EntId, Granted, Plan as EvalPlan, Source, SourceKind};
use polc::index_vec::IndexVec;
use polc::ir;
use polc_connectors::{Change, LeaverMode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Manage, Mode, SystemConfig};
use crate::db::OptionalExt;
use crate::directory;
use crate::error::{Error, Result, StateContext};
use crate::pull::load_observed;
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
    /// The SHA-256 of the canonical JSON (RFC 8785) of
    /// `{"as_of": …, "inputs": …, "actions": […]}`, hashed piece by piece: a canonical
    /// object is its members in key order (`actions`, `as_of`, `inputs`), each value
    /// canonical on its own, so no tree of every action is built.
    pub fn compute_digest(as_of: NaiveDate, inputs: &Inputs, actions: &[Action]) -> Result<String> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"{\"actions\":[");
        for (i, a) in actions.iter().enumerate() {
            if i > 0 {
                h.update(b",");
            }
            h.update(canon::canonical(a)?.as_bytes());
        }
        h.update(b"],\"as_of\":");
        h.update(canon::canonical(&as_of)?.as_bytes());
        h.update(b",\"inputs\":");
        h.update(canon::canonical(inputs)?.as_bytes());
        h.update(b"}");
        Ok(hex::encode(h.finalize()))
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
fn managed_by_policy(b: &ir::Bundle, rollout: Option<&HashSet<ir::PolicyId>>) -> HashSet<String> {
    let mut out = HashSet::new();
    for (i, p) in b.policies.iter_enumerated() {
        if rollout.is_none_or(|r| r.contains(&i)) {
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
fn rollout_closure(
    b: &ir::Bundle,
    names: &[String],
) -> std::result::Result<HashSet<ir::PolicyId>, String> {
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
            stack.extend(b.policy(p).inherits.iter().copied());
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

/// A holding `(grant, level)` of some account, interned: resolved against the bundle once
/// however many accounts hold it (millions of entries are a few thousand kinds).
struct Kind {
    grant: String,
    level: Option<String>,
    ent: Resolved,
}

/// Strings side by side in one buffer, by position.
struct IdTable {
    text: String,
    /// Where each string ends in `text`.
    ends: Vec<usize>,
}

impl IdTable {
    fn new<'a>(ids: impl Iterator<Item = &'a str>) -> IdTable {
        let mut t = IdTable {
            text: String::new(),
            ends: Vec::new(),
        };
        for id in ids {
            t.text.push_str(id);
            t.ends.push(t.text.len());
        }
        t
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The string at `i` (`i < len()`).
    fn id(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.text[start..self.ends[i]]
    }
}

/// Interned holdings, found by grant then level.
#[derive(Default)]
struct Kinds {
    list: Vec<Kind>,
    index: rustc_hash::FxHashMap<String, Vec<(Option<String>, u32)>>,
}

impl Kinds {
    /// The id of `(grant, level)`, interned and resolved when first seen.
    fn id(&mut self, ep: &mut EvalPlan, grant: &str, level: Option<&str>) -> u32 {
        if let Some(levels) = self.index.get(grant) {
            if let Some((_, k)) = levels.iter().find(|(l, _)| l.as_deref() == level) {
                return *k;
            }
        }
        let text = match level {
            Some(l) => format!("{grant} ({l})"),
            None => grant.to_string(),
        };
        let ent = ep.resolve_ref(&text).ok().map(|(e, rank)| {
            let rank = rank.or(ep.bundle.rtype(ep.ent(e)).default);
            (e, rank)
        });
        let k = self.list.len() as u32;
        self.list.push(Kind {
            grant: grant.to_string(),
            level: level.map(str::to_string),
            ent,
        });
        self.index
            .entry(grant.to_string())
            .or_default()
            .push((level.map(str::to_string), k));
        k
    }

    fn get(&self, k: u32) -> &Kind {
        &self.list[k as usize]
    }

    /// Whether `sys` manages kind `k` (see [`ManageCx`]), remembered per system in `cache`
    /// (0: not yet known, 1: unmanaged, 2: managed).
    fn managed(&self, m: &ManageCx<'_>, sys: &SystemConfig, cache: &mut Vec<u8>, k: u32) -> bool {
        let i = k as usize;
        if cache.len() <= i {
            cache.resize(self.list.len().max(i + 1), 0);
        }
        if cache[i] == 0 {
            // the manage rules know an entitlement by its canonical text, or by the grant
            // as held when it names nothing of the bundle
            let kind = self.get(k);
            let text = match kind.ent {
                Some((e, _)) => m.ent_text[e].as_str(),
                None => kind.grant.as_str(),
            };
            cache[i] = 1 + (m.is_managed)(sys, text) as u8;
        }
        cache[i] == 2
    }
}

/// What the manage rules need: the entitlements' texts and the rule itself.
struct ManageCx<'a> {
    ent_text: &'a IndexVec<EntId, String>,
    is_managed: &'a dyn Fn(&SystemConfig, &str) -> bool,
}

/// One account's observed row: its holdings (a range of [`SysObserved::kinds`], in the
/// stored order), whether the account is active, and the row's version.
#[derive(Clone, Copy)]
struct ObsRow {
    start: u32,
    len: u32,
    active: Option<bool>,
    version: i64,
}

/// What one provisioned system holds, as observed: rows by directory record, and the
/// accounts of no record by user id.
struct SysObserved {
    kinds: Vec<u32>,
    /// Holdings texts already read, and their range in `kinds`: most people of a system
    /// hold one of a few combinations, read and interned once and shared by their rows
    /// (at most [`SysObserved::SHARED`] texts are remembered).
    shared: rustc_hash::FxHashMap<Box<str>, (u32, u32)>,
    rows: Vec<ObsRow>,
    /// Per directory record (index into the users), its row (`u32::MAX`: none).
    slot: Vec<u32>,
    /// Accounts of no directory record, by user id, and their rows.
    others: BTreeMap<String, u32>,
}

impl SysObserved {
    /// How many distinct holdings texts a system's rows share at most.
    const SHARED: usize = 4096;

    fn new(records: usize) -> SysObserved {
        SysObserved {
            kinds: Vec::new(),
            shared: Default::default(),
            rows: Vec::new(),
            slot: vec![u32::MAX; records],
            others: BTreeMap::new(),
        }
    }

    /// Adds the row of `user` (directory record `record`, if any): `holdings` as stored
    /// (JSON `[[grant, level], …]`), `active` as `coalesce(active, -1)`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        kinds: &mut Kinds,
        ep: &mut EvalPlan,
        record: Option<u32>,
        user: &str,
        holdings: &str,
        active: i64,
        version: i64,
    ) -> std::result::Result<(), serde_json::Error> {
        let (start, len) = match self.shared.get(holdings) {
            Some(&range) => range,
            None => {
                let start = self.kinds.len();
                // borrowed when the text has no escapes (nearly always), else owned
                match serde_json::from_str::<Vec<(&str, Option<&str>)>>(holdings) {
                    Ok(list) => {
                        for (g, l) in list {
                            self.kinds.push(kinds.id(ep, g, l));
                        }
                    }
                    Err(_) => {
                        let list: crate::pull::Holdings = serde_json::from_str(holdings)?;
                        for (g, l) in &list {
                            self.kinds.push(kinds.id(ep, g, l.as_deref()));
                        }
                    }
                }
                let range = (start as u32, (self.kinds.len() - start) as u32);
                if self.shared.len() < Self::SHARED {
                    self.shared.insert(holdings.into(), range);
                }
                range
            }
        };
        let row = ObsRow {
            start,
            len,
            active: match active {
                -1 => None,
                0 => Some(false),
                _ => Some(true),
            },
            version,
        };
        let r = self.rows.len() as u32;
        self.rows.push(row);
        match record {
            Some(i) => self.slot[i as usize] = r,
            None => {
                self.others.insert(user.to_string(), r);
            }
        }
        Ok(())
    }

    /// A row's holdings, active flag and version.
    fn row(&self, r: u32) -> (&[u32], Option<bool>, i64) {
        let o = self.rows[r as usize];
        let start = o.start as usize;
        (
            &self.kinds[start..start + o.len as usize],
            o.active,
            o.version,
        )
    }

    /// The row of directory record `i`: nothing held, no account, version 0 without one.
    fn of(&self, i: usize) -> (&[u32], Option<bool>, i64) {
        match self.slot[i] {
            u32::MAX => (&[], None, 0),
            r => self.row(r),
        }
    }
}

/// Where a desired entitlement comes from: a grant of the person's evaluation (its
/// index), or a hold.
#[derive(Clone, Copy)]
enum Origin<'h> {
    Grant(usize),
    Hold(&'h OpenHold),
}

struct Desired<'h> {
    ent: EntId,
    level: Option<u8>,
    origin: Origin<'h>,
    /// The hold that sets the level, if any (the reason says so).
    held: Option<&'h OpenHold>,
}

impl Desired<'_> {
    fn reason(&self) -> String {
        match self.held {
            Some((_, _, until, p)) => format!("held until {until} (grace of {p})"),
            None => "expected by policy".into(),
        }
    }
}

/// Whether a source of a grant is inside the `[rollout]` (every source without one).
fn in_rollout(ep: &EvalPlan, roots: Option<&HashSet<ir::PolicyId>>, s: &Source) -> bool {
    match (roots, &s.kind) {
        (None, _) => true,
        (Some(r), SourceKind::Path(p)) => ep.path(*p).iter().any(|x| r.contains(x)),
        (Some(_), SourceKind::Exception(_)) => false,
    }
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
        let rollout_roots: Option<HashSet<ir::PolicyId>> = project
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

        // the entitlements, and each directory record's index
        let mut eplan = EvalPlan::new(bundle.clone(), &users.fields, at);
        let dir_index: HashMap<&str, u32> = users
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i as u32))
            .collect();
        let sys_pos: HashMap<&str, usize> = provisioned
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();

        // observed access, read once: its digest (every row, in (system, user) order) and
        // the provisioned systems' rows, their holdings interned
        let mut kinds = Kinds::default();
        let mut observed: Vec<SysObserved> = provisioned
            .iter()
            .map(|_| SysObserved::new(users.records.len()))
            .collect();
        let mut obs_hash = sha2::Sha256::default();
        {
            use sha2::Digest;
            // Rows come in (system, user id) order and the directory in user id order (both
            // bytewise), so a row's record is found by walking the directory alongside,
            // not by hashing its id (millions of lookups of scattered keys); should the
            // orders ever disagree, the lookup falls back to the index.
            // the ids side by side in one buffer: a walk reads them in order from memory
            // that holds nothing else (each record's own id is far from the next one's)
            let records = IdTable::new(users.records.iter().map(|r| r.id.as_str()));
            let mut in_order = (1..records.len()).all(|i| records.id(i - 1) < records.id(i));
            let mut walk: (Option<usize>, usize) = (None, 0);
            let mut last: Option<(String, Option<usize>)> = None;
            let mut add = |s: &str, u: &str, h: &str, a: i64, v: i64| -> Result<()> {
                for part in [s.as_bytes(), u.as_bytes(), h.as_bytes()] {
                    obs_hash.update(part);
                    obs_hash.update([0]);
                }
                match a {
                    -1 => obs_hash.update(b"-1"),
                    0 => obs_hash.update(b"0"),
                    1 => obs_hash.update(b"1"),
                    a => obs_hash.update(a.to_string().as_bytes()),
                }
                obs_hash.update([0]);
                let si = match &last {
                    Some((name, si)) if name == s => *si,
                    _ => {
                        let si = sys_pos.get(s).copied();
                        last = Some((s.to_string(), si));
                        si
                    }
                };
                let Some(si) = si else {
                    return Ok(());
                };
                let record = if in_order {
                    if walk.0 != Some(si) {
                        walk = (Some(si), 0);
                    }
                    let pos = &mut walk.1;
                    // nearly every row is the next record's: an equal id is the record,
                    // whatever the order
                    if *pos < records.len() && records.id(*pos) == u {
                        *pos += 1;
                        Some((*pos - 1) as u32)
                    } else if *pos > 0 && records.id(*pos - 1) >= u {
                        // not in the expected order: the index from here on
                        in_order = false;
                        dir_index.get(u).copied()
                    } else {
                        while *pos < records.len() && records.id(*pos) < u {
                            *pos += 1;
                        }
                        if *pos < records.len() && records.id(*pos) == u {
                            *pos += 1;
                            Some((*pos - 1) as u32)
                        } else {
                            None
                        }
                    }
                } else {
                    dir_index.get(u).copied()
                };
                observed[si]
                    .add(&mut kinds, &mut eplan, record, u, h, a, v)
                    .map_err(|e| Error::State {
                        path: path.clone(),
                        message: format!("observed access of `{u}` in `{s}` is damaged: {e}"),
                    })
            };
            match scope {
                None => {
                    let mut stmt = conn
                        .prepare("SELECT system, user_id, holdings, coalesce(active, -1), version FROM observed ORDER BY system, user_id")
                        .state(&path)?;
                    let mut rows = stmt.query([]).state(&path)?;
                    while let Some(r) = rows.next().state(&path)? {
                        add(
                            r.text(0).state(&path)?,
                            r.text(1).state(&path)?,
                            r.text(2).state(&path)?,
                            r.get(3).state(&path)?,
                            r.get(4).state(&path)?,
                        )?;
                    }
                }
                // the people's rows of the systems provisioned, in the same order (system,
                // user), each found by its key
                Some(people) => {
                    let mut names: Vec<&str> =
                        provisioned.iter().map(|s| s.name.as_str()).collect();
                    names.sort_unstable();
                    let mut stmt = conn
                        .prepare_cached("SELECT holdings, coalesce(active, -1), version FROM observed WHERE system = ?1 AND user_id = ?2")
                        .state(&path)?;
                    for s in names {
                        for u in people {
                            let row: Option<(String, i64, i64)> = stmt
                                .query_row([s, u.as_str()], |r| {
                                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                                })
                                .optional()
                                .state(&path)?;
                            if let Some((h, a, v)) = row {
                                add(s, u, &h, a, v)?;
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

        // system id -> index into `provisioned`
        let sys_index: IndexVec<ir::SystemId, Option<usize>> = bundle
            .systems
            .iter()
            .map(|s| provisioned.iter().position(|p| p.name == s.name))
            .collect();
        let suspect: Vec<bool> = provisioned
            .iter()
            .map(|s| last_pull.get(&s.name).cloned().flatten().is_some())
            .collect();

        let mut actions: Vec<Action> = Vec::new();
        // (system, user) of every action, and the observed row's version
        let mut touched: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut unmanaged: Vec<Vec<Unmanaged>> = vec![Vec::new(); provisioned.len()];
        let mut unmanaged_count = vec![0usize; provisioned.len()];
        let mut orphans: Vec<Vec<String>> = vec![Vec::new(); provisioned.len()];
        let mut managed_entries = vec![0usize; provisioned.len()];
        let mut managed_cache: Vec<Vec<u8>> = vec![Vec::new(); provisioned.len()];
        let mut leavers = 0usize;

        let is_managed = |sys: &SystemConfig, text: &str| -> bool {
            sys.manage == Manage::All
                || policy_managed.contains(text)
                || (rollout.is_none()
                    && granted_before
                        .get(&sys.name)
                        .is_some_and(|g| g.contains(text)))
        };

        // everyone in the directory (the per-system lists are reused from one person to
        // the next)
        let mut desired: Vec<Vec<Desired<'_>>> =
            (0..provisioned.len()).map(|_| Vec::new()).collect();
        // what policies outside the rollout grant: neither granted nor revoked
        let mut outside: Vec<Vec<EntId>> = (0..provisioned.len()).map(|_| Vec::new()).collect();
        for (ui, rec) in users.records.iter().enumerate() {
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
            desired.iter_mut().for_each(Vec::clear);
            outside.iter_mut().for_each(Vec::clear);
            if gone == Gone::No {
                for (gi, g) in ev.grants.iter().enumerate() {
                    let Some(si) = sys_index[eplan.ent(g.ent).system] else {
                        continue;
                    };
                    if !g
                        .sources
                        .iter()
                        .any(|s| in_rollout(&eplan, rollout_roots.as_ref(), s))
                    {
                        outside[si].push(g.ent);
                        continue;
                    }
                    desired[si].push(Desired {
                        ent: g.ent,
                        level: g.level,
                        origin: Origin::Grant(gi),
                        held: None,
                    });
                }
                if let Some(hs) = holds.get(&rec.id) {
                    for h in hs {
                        let k = kinds.id(&mut eplan, &h.0, h.1.as_deref());
                        let Some((ent, rank)) = kinds.get(k).ent else {
                            continue;
                        };
                        let Some(si) = sys_index[eplan.ent(ent).system] else {
                            continue;
                        };
                        if ev.denied.iter().any(|d| d.ent == ent) {
                            continue;
                        }
                        if let Some(d) = desired[si].iter_mut().find(|d| d.ent == ent) {
                            if d.level < rank {
                                d.level = rank;
                                d.held = Some(h);
                            }
                            continue;
                        }
                        desired[si].push(Desired {
                            ent,
                            level: rank,
                            origin: Origin::Hold(h),
                            held: Some(h),
                        });
                    }
                }
            }
            let manage = ManageCx {
                ent_text: &eplan.ent_text,
                is_managed: &is_managed,
            };
            for (si, sys) in provisioned.iter().enumerate() {
                let (held, active, version) = observed[si].of(ui);
                let n0 = actions.len();
                diff_user(
                    &mut DiffCx {
                        project,
                        sys,
                        eplan: &eplan,
                        kinds: &kinds,
                        manage: &manage,
                        managed: &mut managed_cache[si],
                        grants: &ev.grants,
                        rollout: rollout_roots.as_ref(),
                        actions: &mut actions,
                        unmanaged: &mut unmanaged[si],
                        unmanaged_count: &mut unmanaged_count[si],
                        managed_entries: &mut managed_entries[si],
                        suspect: suspect[si],
                    },
                    &rec.id,
                    &desired[si],
                    &outside[si],
                    held,
                    active,
                    gone,
                    false,
                );
                if actions.len() > n0 {
                    touched.insert((sys.name.clone(), rec.id.clone()), version);
                }
            }
        }
        // orphan accounts: in a system, in no HRIS record (a plan of some people leaves
        // them to a plan of everyone)
        let manage = ManageCx {
            ent_text: &eplan.ent_text,
            is_managed: &is_managed,
        };
        for (si, sys) in provisioned.iter().enumerate().filter(|_| scope.is_none()) {
            let so = &observed[si];
            for (u, &r) in &so.others {
                let (held, active, version) = so.row(r);
                if held.is_empty() && active != Some(true) {
                    continue;
                }
                orphans[si].push(u.clone());
                let n0 = actions.len();
                diff_user(
                    &mut DiffCx {
                        project,
                        sys,
                        eplan: &eplan,
                        kinds: &kinds,
                        manage: &manage,
                        managed: &mut managed_cache[si],
                        grants: &[],
                        rollout: rollout_roots.as_ref(),
                        actions: &mut actions,
                        unmanaged: &mut unmanaged[si],
                        unmanaged_count: &mut unmanaged_count[si],
                        managed_entries: &mut managed_entries[si],
                        suspect: suspect[si],
                    },
                    u,
                    &[],
                    &[],
                    held,
                    active,
                    Gone::No,
                    true,
                );
                if actions.len() > n0 {
                    touched.insert((sys.name.clone(), u.clone()), version);
                }
            }
        }
        drop(observed);

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
                        let k = kinds.id(&mut eplan, g, l.as_deref());
                        let manage = ManageCx {
                            ent_text: &eplan.ent_text,
                            is_managed: &is_managed,
                        };
                        n += kinds.managed(&manage, sys, &mut managed_cache[si], k) as usize;
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
            let n_unmanaged = unmanaged_count[si];
            let um = std::mem::take(&mut unmanaged[si]);
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
            for ((s, u), v) in &touched {
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

struct DiffCx<'a, 'h> {
    project: &'a crate::Project,
    sys: &'a SystemConfig,
    eplan: &'a EvalPlan,
    kinds: &'a Kinds,
    manage: &'a ManageCx<'a>,
    /// The system's cache of [`Kinds::managed`].
    managed: &'a mut Vec<u8>,
    /// The person's evaluated grants (where [`Origin::Grant`] points).
    grants: &'a [Granted],
    rollout: Option<&'h HashSet<ir::PolicyId>>,
    actions: &'a mut Vec<Action>,
    /// The first 1,000 unmanaged entries, and how many there are.
    unmanaged: &'a mut Vec<Unmanaged>,
    unmanaged_count: &'a mut usize,
    managed_entries: &'a mut usize,
    suspect: bool,
}

impl DiffCx<'_, '_> {
    /// The sources of a desired entitlement, as the plan shows them.
    fn sources(&self, d: &Desired<'_>) -> Vec<String> {
        match d.origin {
            Origin::Grant(gi) => self.grants[gi]
                .sources
                .iter()
                .filter(|s| in_rollout(self.eplan, self.rollout, s))
                .map(|s| self.eplan.source_text(s))
                .collect(),
            Origin::Hold((_, _, _, p)) => vec![p.clone()],
        }
    }
}

fn level_name(ep: &EvalPlan, ent: EntId, level: Option<u8>) -> Option<String> {
    ep.level_name(ent, level).map(str::to_string)
}

/// The actions for one person in one system. `outside`: what policies outside the
/// `[rollout]` grant the person, left alone when held. `held`: the account's holdings
/// (kinds), `active`: its state.
#[allow(clippy::too_many_arguments)]
fn diff_user(
    cx: &mut DiffCx<'_, '_>,
    user: &str,
    desired: &[Desired<'_>],
    outside: &[EntId],
    held: &[u32],
    active: Option<bool>,
    gone: Gone,
    orphan: bool,
) {
    let sys = cx.sys;
    let kinds = cx.kinds;
    let ep = cx.eplan;
    let protected = cx.project.is_protected(user);
    let review_mode = sys.mode == Mode::Review;
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
    if gone == Gone::No && !orphan && active == Some(false) && !desired.is_empty() {
        let mut a = base(ActionKind::Reactivate, None);
        a.reason = "rehired: the account is inactive".into();
        cx.actions.push(a);
    }
    for d in desired {
        // what is held of the same entitlement, at any level
        let same = || {
            held.iter()
                .map(|&k| kinds.get(k))
                .filter(|h| h.ent.is_some_and(|(e, _)| e == d.ent))
        };
        let Some(first) = same().next() else {
            let mut a = base(ActionKind::Grant, Some(ep.ent_text(d.ent).to_string()));
            a.level = level_name(ep, d.ent, d.level);
            a.reason = d.reason();
            a.sources = cx.sources(d);
            cx.actions.push(a);
            continue;
        };
        if same().any(|h| h.ent.is_some_and(|(_, r)| r == d.level)) || cx.suspect {
            continue;
        }
        // the highest level held moves to the expected one
        let from = same()
            .max_by_key(|h| h.ent.map(|(_, r)| r))
            .and_then(|h| h.level.clone());
        let mut a = base(ActionKind::SetLevel, Some(first.grant.clone()));
        a.level = level_name(ep, d.ent, d.level);
        a.from_level = from;
        a.reason = format!(
            "{}: policy expects level {}",
            d.reason(),
            a.level.as_deref().unwrap_or("(none)")
        );
        a.sources = cx.sources(d);
        cx.actions.push(a);
    }
    // what is held and not desired
    let leaver = gone != Gone::No;
    let always_review = orphan || gone == Gone::Absence;
    let mut revoked: BTreeSet<&str> = BTreeSet::new();
    for &k in held {
        let h = kinds.get(k);
        let managed = kinds.managed(cx.manage, sys, cx.managed, k);
        if managed {
            *cx.managed_entries += 1;
        }
        if h.ent
            .is_some_and(|(e, _)| desired.iter().any(|d| d.ent == e) || outside.contains(&e))
        {
            continue;
        }
        if !managed {
            *cx.unmanaged_count += 1;
            if cx.unmanaged.len() < 1000 {
                cx.unmanaged.push(Unmanaged {
                    user_id: user.into(),
                    grant: h.grant.clone(),
                    level: h.level.clone(),
                });
            }
            continue;
        }
        if cx.suspect || !revoked.insert(h.grant.as_str()) {
            continue;
        }
        let mut a = base(ActionKind::Revoke, Some(h.grant.clone()));
        a.level = h.level.clone();
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
        cx.actions.push(a);
    }
    // the leaver's account
    if leaver && !cx.suspect && active.is_some() && sys.leaver != LeaverMode::Keep {
        let delete_ok = matches!(gone, Gone::Event | Gone::Absence);
        let mode = match sys.leaver {
            LeaverMode::Delete if delete_ok => LeaverMode::Delete,
            _ => LeaverMode::Deactivate,
        };
        if mode == LeaverMode::Delete || active == Some(true) {
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
            cx.actions.push(a);
        }
    }
}
