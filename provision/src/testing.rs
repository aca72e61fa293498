//! An in-memory system for tests: what it holds, the accounts, and every call made to it,
//! so a test can say that nothing was sent. Fail rules make a call fail or stop the
//! process at a chosen point.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use polc_connectors::{
    AccountState, Applied, Change, Connector, ConnectorError, Holding, LeaverMode, Listing, Person,
    ReadBack,
};

use crate::config::SystemConfig;
use crate::{Connectors, Result};

/// One call made to a [`MemSystem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    List,
    Apply {
        user_id: String,
        change: Change,
    },
    ReadBack {
        user_id: String,
        grant: Option<String>,
    },
}

#[derive(Default)]
pub struct Inner {
    pub holdings: BTreeSet<Holding>,
    /// Accounts and whether they are active (systems with accounts).
    pub accounts: BTreeMap<String, bool>,
    pub calls: Vec<Call>,
    /// Applies whose user id is here fail permanently.
    pub fail_users: BTreeSet<String>,
    /// The next `list` answers this instead (a failed listing).
    pub list_override: Option<Listing>,
    /// The next `list` fails with this (permanent) error.
    pub list_error: Option<String>,
    /// Track accounts (a SCIM-like system) or not (a file).
    pub with_accounts: bool,
}

/// A shared in-memory system: clones see the same state.
#[derive(Clone, Default)]
pub struct MemSystem(pub Arc<Mutex<Inner>>);

impl MemSystem {
    pub fn new() -> MemSystem {
        MemSystem::default()
    }

    pub fn with_accounts() -> MemSystem {
        let m = MemSystem::default();
        m.lock().with_accounts = true;
        m
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn hold(&self, user: &str, grant: &str, level: Option<&str>) {
        let mut g = self.lock();
        g.holdings.insert(Holding {
            user_id: user.into(),
            grant: grant.into(),
            level: level.map(str::to_string),
        });
        if g.with_accounts {
            g.accounts.entry(user.into()).or_insert(true);
        }
    }

    pub fn holdings(&self) -> BTreeSet<Holding> {
        self.lock().holdings.clone()
    }

    /// The changes sent (apply calls), in order.
    pub fn applied(&self) -> Vec<(String, Change)> {
        self.lock()
            .calls
            .iter()
            .filter_map(|c| match c {
                Call::Apply { user_id, change } => Some((user_id.clone(), change.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }
}

impl Connector for MemSystem {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        let mut g = self.lock();
        g.calls.push(Call::List);
        if let Some(e) = g.list_error.take() {
            return Err(ConnectorError::Permanent(e));
        }
        if let Some(l) = g.list_override.take() {
            return Ok(l);
        }
        Ok(Listing {
            holdings: g.holdings.iter().cloned().collect(),
            accounts: g
                .accounts
                .iter()
                .map(|(u, a)| AccountState {
                    user_id: u.clone(),
                    active: *a,
                })
                .collect(),
        })
    }

    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        let mut g = self.lock();
        g.calls.push(Call::Apply {
            user_id: person.user_id.clone(),
            change: change.clone(),
        });
        if g.fail_users.contains(&person.user_id) {
            return Err(ConnectorError::Permanent(format!(
                "refused for {}",
                person.user_id
            )));
        }
        let user = person.user_id.as_str();
        match change {
            Change::Deprovision { mode } => {
                if !g.with_accounts {
                    return Ok(Applied::AlreadyAbsent);
                }
                match (mode, g.accounts.get(user).copied()) {
                    (_, None) => Ok(Applied::AlreadyAbsent),
                    (LeaverMode::Keep, _) => Ok(Applied::AlreadyPresent),
                    (LeaverMode::Deactivate, Some(false)) => Ok(Applied::AlreadyAbsent),
                    (LeaverMode::Deactivate, Some(true)) => {
                        g.accounts.insert(user.into(), false);
                        Ok(Applied::Done)
                    }
                    (LeaverMode::Delete, Some(_)) => {
                        g.accounts.remove(user);
                        g.holdings.retain(|h| h.user_id != user);
                        Ok(Applied::Done)
                    }
                }
            }
            Change::Reactivate => match g.accounts.get(user).copied() {
                Some(false) => {
                    g.accounts.insert(user.into(), true);
                    Ok(Applied::Done)
                }
                _ => Ok(Applied::AlreadyPresent),
            },
            other => {
                if g.with_accounts && matches!(other, Change::Grant { .. }) {
                    g.accounts.entry(user.into()).or_insert(true);
                }
                Ok(apply_to_set(&mut g.holdings, user, other))
            }
        }
    }

    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        let mut g = self.lock();
        g.calls.push(Call::ReadBack {
            user_id: person.user_id.clone(),
            grant: grant.map(str::to_string),
        });
        let active = if g.with_accounts {
            g.accounts.get(&person.user_id).copied()
        } else {
            None
        };
        Ok(read_from_set(&g.holdings, &person.user_id, grant, active))
    }
}

/// Connectors that open in-memory systems by name (unknown names: an empty new one).
#[derive(Clone, Default)]
pub struct MemConnectors(pub Arc<Mutex<HashMap<String, MemSystem>>>);

impl MemConnectors {
    pub fn new() -> MemConnectors {
        MemConnectors::default()
    }

    pub fn add(&self, name: &str, sys: MemSystem) -> MemSystem {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.into(), sys.clone());
        }
        sys
    }

    pub fn get(&self, name: &str) -> MemSystem {
        match self.0.lock() {
            Ok(mut m) => m.entry(name.into()).or_default().clone(),
            Err(_) => MemSystem::default(),
        }
    }
}

impl Connectors for MemConnectors {
    fn open(&self, system: &SystemConfig) -> Result<Box<dyn Connector>> {
        Ok(Box::new(self.get(&system.name)))
    }
}
/// A change applied to a set of holdings (accounts are not tracked here).
fn apply_to_set(set: &mut BTreeSet<Holding>, user: &str, change: &Change) -> Applied {
    let held = |set: &BTreeSet<Holding>, g: &str| -> Vec<Holding> {
        set.range(range_start(user, g)..)
            .take_while(|h| h.user_id == user && h.grant == g)
            .cloned()
            .collect()
    };
    match change {
        Change::Grant { grant, level } => {
            let h = Holding {
                user_id: user.into(),
                grant: grant.clone(),
                level: level.clone(),
            };
            if set.insert(h) {
                Applied::Done
            } else {
                Applied::AlreadyPresent
            }
        }
        Change::Revoke { grant } => {
            let old = held(set, grant);
            if old.is_empty() {
                return Applied::AlreadyAbsent;
            }
            for h in old {
                set.remove(&h);
            }
            Applied::Done
        }
        Change::SetLevel { grant, from, to } => {
            let new = Holding {
                user_id: user.into(),
                grant: grant.clone(),
                level: to.clone(),
            };
            let added = set.insert(new);
            let old = Holding {
                user_id: user.into(),
                grant: grant.clone(),
                level: from.clone(),
            };
            let removed = from != to && set.remove(&old);
            if added || removed {
                Applied::Done
            } else {
                Applied::AlreadyPresent
            }
        }
        Change::Deprovision { .. } | Change::Reactivate => Applied::AlreadyAbsent,
    }
}

fn read_from_set(
    set: &BTreeSet<Holding>,
    user: &str,
    grant: Option<&str>,
    active: Option<bool>,
) -> ReadBack {
    ReadBack {
        levels: match grant {
            Some(g) => set
                .range(range_start(user, g)..)
                .take_while(|h| h.user_id == user && h.grant == g)
                .map(|h| h.level.clone())
                .collect(),
            None => Vec::new(),
        },
        active,
    }
}

/// The first holding of `user` and `grant` in the set's order (`None` sorts first).
fn range_start(user: &str, grant: &str) -> Holding {
    Holding {
        user_id: user.into(),
        grant: grant.into(),
        level: None,
    }
}
