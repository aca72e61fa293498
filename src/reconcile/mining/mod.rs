//! The mining pipeline behind `polc mine`: an access export and the users, grouped by the
//! `--by` attributes, to each group's shares ([`groups`]), draft policies
//! ([`emit`]) checked clean, and the coverage those drafts would reach on the same
//! export. It reads no file and prints nothing: the command does both.

#![allow(
    clippy::indexing_slicing,
    reason = "user, entry, group and plan ids index the tables built with them; to become typed vectors"
)]

use std::sync::Arc;

use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};

pub mod emit;
pub mod groups;

use super::{access, drift};
use crate::eval::{EntId, Plan};
use crate::index_vec::IndexVec;
use crate::input::Users;
use crate::ir::{self, Value};
use emit::Drafts;
use groups::{GroupReport, Holding, Level, Thresholds};

/// An access export to mine: read at each pass, a file as a stream.
pub use super::access::Source as Export;

/// A user who is in the users file but not mined, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    pub user_id: String,
    pub reason: String,
}

/// What mining found.
#[derive(Debug, Clone)]
pub struct Mining {
    /// One report per group, sorted by key.
    pub groups: Vec<GroupReport>,
    pub drafts: Drafts,
    pub excluded: Vec<Excluded>,
    /// Accounts of the export in no HRIS record (nor among the records that failed to
    /// load), in export order.
    pub orphans: Vec<String>,
    /// The drift summary of the export against the drafts alone.
    pub coverage: drift::Summary,
}

#[derive(Debug)]
pub enum MineError {
    /// The export is wrong (the message names it and the entry).
    Access(access::AccessError),
    /// A user record cannot be grouped (the message names the line and the user, not
    /// the file).
    Users(String),
    /// polc made drafts it cannot read back: a bug.
    Bug(String),
}

/// Mines `export` for the users of `users`, grouped by the attributes `by` (checked by
/// the caller to be fields of the bundle's schema).
pub fn mine(
    bundle: &Arc<ir::Bundle>,
    users: &Users,
    export: &Export,
    by: &[String],
    thresholds: &Thresholds,
    today: NaiveDate,
) -> Result<Mining, MineError> {
    let mut plan = Plan::new(Arc::clone(bundle), &users.fields, today);
    let current = export.load(&mut plan).map_err(MineError::Access)?;
    let held = holdings(&plan, &current);

    // Group the users who pass the bundle's `require`s.
    let slots: Vec<Option<usize>> = by.iter().map(|b| users.slot(b)).collect();
    let mut keyed = Vec::new();
    let mut excluded = Vec::new();
    for rec in &users.records {
        if let Some(i) = plan.failed_require(&rec.values) {
            excluded.push(Excluded {
                user_id: rec.id.clone(),
                reason: format!("fails `require {}`", bundle.requires[i]),
            });
            continue;
        }
        let mut key = Vec::with_capacity(slots.len());
        for (attr, slot) in by.iter().zip(&slots) {
            let v = slot.and_then(|s| rec.values[s].clone());
            if let Some(Value::List(_)) = v {
                return Err(MineError::Users(format!(
                    "line {}: user `{}`: `{attr}` holds a list; users are grouped by single values",
                    rec.line, rec.id
                )));
            }
            key.push(v);
        }
        keyed.push((rec.id.as_str(), key));
    }
    let empty: Vec<Holding> = Vec::new();
    let groups: Vec<GroupReport> = groups::group_users(keyed)
        .iter()
        .map(|g| {
            groups::analyse(
                g,
                |u| {
                    current
                        .user(u)
                        .map_or(empty.as_slice(), |i| held[i as usize].as_slice())
                },
                thresholds,
            )
        })
        .collect();
    let orphans = orphans(users, &current);
    // what follows reads the export again: this reading is no longer needed
    drop(held);
    drop(current);

    // Draft, check, and measure the drafts on today's access.
    let common = groups::common(&groups);
    let header = emit::header(bundle, &emit::std_bundle());
    let drafts = emit::drafts(by, &header, &groups, &common, thresholds)
        .map_err(|e| MineError::Bug(e.to_string()))?;
    let drafted = emit::check_sources(&drafts.files)
        .map_err(|d| MineError::Bug(format!("the drafts do not check clean:\n{d}")))?;
    let mut draft_plan = Plan::new(drafted, &users.fields, today);
    let again = export.load(&mut draft_plan).map_err(|e| match e {
        // read again, the file may fail as any file does
        e @ access::AccessError::Read(_) => MineError::Access(e),
        e => MineError::Bug(format!(
            "the drafts do not declare what the access names: {e}"
        )),
    })?;
    let coverage = drift::summary(&draft_plan, users, &again);
    Ok(Mining {
        groups,
        drafts,
        excluded,
        orphans,
        coverage,
    })
}
/// What each user of the export holds (indexed like [`access::Access::users`]); every
/// holder of an entitlement shares one copy of its text and level name.
fn holdings(plan: &Plan, access: &access::Access) -> Vec<Vec<Holding>> {
    // Entitlement ids are dense: one shared text each.
    let texts: IndexVec<EntId, Arc<str>> = plan
        .ent_text
        .iter()
        .map(|t| Arc::from(t.as_str()))
        .collect();
    let mut levels: FxHashMap<(EntId, u8), Option<Level>> = FxHashMap::default();
    (0..access.users.len() as u32)
        .map(|u| {
            access
                .held(u)
                .map(|e| Holding {
                    grant: texts[e.ent].clone(),
                    level: e.level.and_then(|r| {
                        levels
                            .entry((e.ent, r))
                            .or_insert_with(|| {
                                plan.level_name(e.ent, Some(r)).map(|n| Level {
                                    rank: r,
                                    name: n.into(),
                                })
                            })
                            .clone()
                    }),
                })
                .collect()
        })
        .collect()
}

fn orphans(users: &Users, access: &access::Access) -> Vec<String> {
    let known: FxHashSet<&str> = users
        .records
        .iter()
        .map(|r| r.id.as_str())
        .chain(users.errors.iter().filter_map(|e| e.user_id.as_deref()))
        .collect();
    access
        .users
        .iter()
        .filter(|u| !known.contains(u.as_str()))
        .cloned()
        .collect()
}
