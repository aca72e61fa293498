//! `pull`: reads what each system holds into the state's observed access, and reports what
//! changed out of band since the last pull. Actions an interrupted apply left `sent` are
//! confirmed first, so a pull also finishes what a crash cut short.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::db::{Db, OptionalExt};
use polc_connectors::Listing;
use serde::Serialize;
use serde_json::json;

use crate::config::Mode;
use crate::error::{Error, Result, StateContext};
use crate::state::now_text;
use crate::{audit, Provision};
use polc_connectors::Connector;

/// One account's holdings, as stored: `(grant, level)` sorted.
pub type Holdings = Vec<(String, Option<String>)>;

/// An observed row.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub holdings: Holdings,
    pub active: Option<bool>,
    pub version: i64,
}

/// A holding that appeared or disappeared out of band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub user_id: String,
    pub grant: String,
    pub level: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemPull {
    pub system: String,
    pub pull_id: i64,
    pub entries: usize,
    pub accounts: usize,
    /// Actions an interrupted apply left `sent`, confirmed now.
    pub recovered: usize,
    /// Held now but not at the last pull (nor granted by polc since). Empty after a failed
    /// listing (`suspect`): nothing of it is recorded.
    pub appeared: Vec<Seen>,
    /// Held at the last pull but not now (nor revoked by polc since).
    pub disappeared: Vec<Seen>,
    /// Why the listing is not trusted for revocations (empty, or far shorter than before).
    pub suspect: Option<String>,
    /// The system was quarantined and this pull released it.
    pub released: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullReport {
    pub systems: Vec<SystemPull>,
}

impl PullReport {
    pub fn human(&self) -> String {
        let mut s = String::new();
        for p in &self.systems {
            if p.suspect.is_some() {
                s += &format!(
                    "{}: {} entries, {} accounts listed; not recorded\n",
                    p.system, p.entries, p.accounts
                );
            } else {
                s += &format!(
                    "{}: {} entries, {} accounts; out of band since the last pull: {} appeared, {} disappeared\n",
                    p.system,
                    p.entries,
                    p.accounts,
                    p.appeared.len(),
                    p.disappeared.len()
                );
            }
            if p.released {
                s += "  released from quarantine: it answered\n";
            }
            if p.recovered > 0 {
                s += &format!(
                    "  confirmed {} action(s) an interrupted apply had sent\n",
                    p.recovered
                );
            }
            for x in p.appeared.iter().take(20) {
                s += &format!("  + {} {}{}\n", x.user_id, x.grant, lvl(&x.level));
            }
            for x in p.disappeared.iter().take(20) {
                s += &format!("  - {} {}{}\n", x.user_id, x.grant, lvl(&x.level));
            }
            if let Some(w) = &p.suspect {
                s += &format!(
                    "  WARNING: failed listing: {w}: the last good observation is kept, and no revocation will be planned until a good pull\n"
                );
            }
        }
        s
    }
}

fn lvl(l: &Option<String>) -> String {
    l.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
}

/// Every observed row of a system.
pub fn load_observed(
    conn: &Db,
    path: &std::path::Path,
    system: &str,
) -> Result<HashMap<String, Observed>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id, holdings, active, version FROM observed WHERE system = ?1")
        .state(path)?;
    let rows = stmt
        .query_map([system], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<bool>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .state(path)?;
    let mut out = HashMap::new();
    for row in rows {
        let (user, h, active, version) = row.state(path)?;
        let holdings: Holdings = serde_json::from_str(&h).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: format!("observed access of `{user}` in `{system}` is damaged: {e}"),
        })?;
        out.insert(
            user,
            Observed {
                holdings,
                active,
                version,
            },
        );
    }
    Ok(out)
}

/// [`load_observed`] of some people only.
pub fn load_observed_of(
    conn: &Db,
    path: &std::path::Path,
    system: &str,
    people: &BTreeSet<String>,
) -> Result<HashMap<String, Observed>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT holdings, active, version FROM observed WHERE system = ?1 AND user_id = ?2",
        )
        .state(path)?;
    let mut out = HashMap::new();
    for user in people {
        let row = stmt
            .query_row([system, user.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<bool>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()
            .state(path)?;
        let Some((h, active, version)) = row else {
            continue;
        };
        let holdings: Holdings = serde_json::from_str(&h).map_err(|e| Error::State {
            path: path.to_path_buf(),
            message: format!("observed access of `{user}` in `{system}` is damaged: {e}"),
        })?;
        out.insert(
            user.clone(),
            Observed {
                holdings,
                active,
                version,
            },
        );
    }
    Ok(out)
}

/// Writes one observed row, bumping its version.
pub fn store_observed(
    conn: &Db,
    path: &std::path::Path,
    system: &str,
    user: &str,
    holdings: &Holdings,
    active: Option<bool>,
    changed_by: &str,
) -> Result<i64> {
    let text = serde_json::to_string(holdings).map_err(|e| Error::Bug(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO observed(system, user_id, holdings, active, version, changed_by) VALUES (?1, ?2, ?3, ?4, 1, ?5)
         ON CONFLICT(system, user_id) DO UPDATE SET holdings = excluded.holdings, active = excluded.active, version = observed.version + 1, changed_by = excluded.changed_by
         RETURNING version",
    )
    .state(path)?
    .query_row(crate::db::params![system, user, text, active, changed_by], |r| r.get(0))
    .state(path)
}

/// A listing grouped by account.
fn group(listing: &Listing) -> BTreeMap<String, (Holdings, Option<bool>)> {
    let mut out: BTreeMap<String, (Holdings, Option<bool>)> = BTreeMap::new();
    for h in &listing.holdings {
        out.entry(h.user_id.clone())
            .or_default()
            .0
            .push((h.grant.clone(), h.level.clone()));
    }
    for a in &listing.accounts {
        out.entry(a.user_id.clone()).or_default().1 = Some(a.active);
    }
    for v in out.values_mut() {
        v.0.sort();
        v.0.dedup();
    }
    out
}

impl Provision {
    /// `pull [SYSTEM]`: every provisioned system (mode not off), or one.
    pub fn pull(&mut self, system: Option<&str>) -> Result<PullReport> {
        self.bundle()?;
        let names: Vec<String> = match system {
            Some(s) => match self.project.systems.get(s) {
                Some(_) => vec![s.to_string()],
                None => {
                    return Err(Error::Input(format!(
                        "no system `{s}` in {}: the systems are {}",
                        self.project.file.display(),
                        self.project
                            .systems
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            },
            None => self
                .project
                .systems
                .values()
                .filter(|s| s.mode != Mode::Off)
                .map(|s| s.name.clone())
                .collect(),
        };
        let mut out = Vec::new();
        let total = names.len() as u64;
        for (i, name) in names.into_iter().enumerate() {
            self.show_progress(&format!("reading {name}"), i as u64, total);
            out.push(self.pull_one(&name)?);
            self.show_progress(&format!("read {name}"), i as u64 + 1, total);
            // a quarantined system named on its own, that answered: released
            if system.is_some() && self.quarantined(&name)?.is_some() {
                self.release(&name)?;
                if let Some(last) = out.last_mut() {
                    last.released = true;
                }
            }
        }
        Ok(PullReport { systems: out })
    }

    fn pull_one(&mut self, system: &str) -> Result<SystemPull> {
        let _lock = self.state.lock_system(system, true)?;
        let mut conn = self.open_connector(system, crate::today())?;
        let recovered = crate::apply::recover(self, system, &mut conn)?;
        let listing = match conn.list() {
            Ok(l) => l,
            Err(e) => {
                if conn.is_quarantined() && self.quarantined(system)?.is_none() {
                    self.quarantine(system, &format!("pull: {e}"))?;
                }
                self.audit(
                    None,
                    "pull_failed",
                    json!({"system": system, "error": e.to_string()}),
                )?;
                return Err(Error::Connector {
                    system: system.into(),
                    source: e,
                });
            }
        };
        let path = self.state.path.clone();
        let old = load_observed(&self.state.conn, &path, system)?;
        let new = group(&listing);
        let before: usize = old.values().map(|o| o.holdings.len()).sum();
        let entries: usize = new.values().map(|v| v.0.len()).sum();
        let suspect = if before > 0 && entries == 0 {
            Some(format!(
                "the listing is empty, the last one had {before} entries"
            ))
        } else if before > 0 && entries * 2 < before {
            Some(format!(
                "the listing has {entries} entries, less than half of the {before} observed before"
            ))
        } else {
            None
        };
        let tx = self.tx()?;
        let pull_id: i64 = tx.query_row(
            "INSERT INTO pulls(system, at, entries, accounts, suspect) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            crate::db::params![
                system,
                now_text(),
                entries as i64,
                listing.accounts.len() as i64,
                suspect
            ],
            |r| r.get(0),
        )
        .state(&path)?;
        let by = format!("pull:{pull_id}");
        let mut appeared = Vec::new();
        let mut disappeared = Vec::new();
        let empty = Observed::default();
        // a failed listing is recorded and reported, never taken for what the system holds:
        // the last good observation stays (a plan grants nothing again from it, and revokes
        // nothing until a good pull)
        let users: BTreeSet<&String> = if suspect.is_some() {
            BTreeSet::new()
        } else {
            old.keys().chain(new.keys()).collect()
        };
        for u in users {
            let o = old.get(u).unwrap_or(&empty);
            let (nh, na) = new.get(u).cloned().unwrap_or_default();
            if o.holdings == nh && o.active == na && old.contains_key(u) {
                continue;
            }
            let os: BTreeSet<&(String, Option<String>)> = o.holdings.iter().collect();
            let ns: BTreeSet<&(String, Option<String>)> = nh.iter().collect();
            for (g, l) in ns.difference(&os) {
                appeared.push(Seen {
                    user_id: u.clone(),
                    grant: g.clone(),
                    level: l.clone(),
                });
            }
            for (g, l) in os.difference(&ns) {
                disappeared.push(Seen {
                    user_id: u.clone(),
                    grant: g.clone(),
                    level: l.clone(),
                });
            }
            store_observed(&tx, &path, system, u, &nh, na, &by)?;
        }
        {
            let mut w = audit::Writer::new(&tx, &path, &self.actor)?;
            w.append(
                None,
                "pull",
                json!({"system": system, "pull": pull_id, "entries": entries, "accounts": listing.accounts.len(),
                       "appeared": appeared.len(), "disappeared": disappeared.len(), "recovered": recovered, "suspect": suspect}),
            )?;
        }
        self.commit(tx)?;
        Ok(SystemPull {
            system: system.into(),
            pull_id,
            entries,
            accounts: listing.accounts.len(),
            recovered,
            appeared,
            disappeared,
            suspect,
            released: false,
        })
    }
}
