//! A connector over a JSON file of `[{"user_id", "grant", "level"}]` (the `file`
//! connector's format). The connectors crate brings the real one; this one lets the
//! provisioning library run end to end meanwhile, and is what its tests use for files.
//! Every change rewrites the file atomically (a temporary file, then a rename).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polc_connectors::{
    Applied, Change, Connector, ConnectorError, Holding, Listing, Person, ReadBack,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Entry {
    user_id: String,
    grant: String,
    #[serde(default)]
    level: Option<String>,
}

pub struct JsonFile {
    path: PathBuf,
    cache: Option<BTreeSet<Holding>>,
}

impl JsonFile {
    pub fn new(path: &Path) -> JsonFile {
        JsonFile {
            path: path.to_path_buf(),
            cache: None,
        }
    }

    fn load(&mut self) -> Result<&mut BTreeSet<Holding>, ConnectorError> {
        if self.cache.is_none() {
            let set = match std::fs::read_to_string(&self.path) {
                Ok(t) if t.trim().is_empty() => BTreeSet::new(),
                Ok(t) => {
                    let entries: Vec<Entry> = serde_json::from_str(&t).map_err(|e| {
                        ConnectorError::Permanent(format!(
                            "{}: not a list of {{user_id, grant, level}}: {e}",
                            self.path.display()
                        ))
                    })?;
                    entries
                        .into_iter()
                        .map(|e| Holding {
                            user_id: e.user_id,
                            grant: e.grant,
                            level: e.level,
                        })
                        .collect()
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
                Err(e) => {
                    return Err(ConnectorError::Transient(format!(
                        "{}: {e}",
                        self.path.display()
                    )))
                }
            };
            self.cache = Some(set);
        }
        self.cache
            .as_mut()
            .ok_or_else(|| ConnectorError::Permanent("file connector cache".into()))
    }

    fn save(&mut self) -> Result<(), ConnectorError> {
        let Some(set) = &self.cache else {
            return Ok(());
        };
        let entries: Vec<Entry> = set
            .iter()
            .map(|h| Entry {
                user_id: h.user_id.clone(),
                grant: h.grant.clone(),
                level: h.level.clone(),
            })
            .collect();
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| ConnectorError::Permanent(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        if let Some(d) = self.path.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        std::fs::write(&tmp, text)
            .map_err(|e| ConnectorError::Transient(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| ConnectorError::Transient(format!("{}: {e}", self.path.display())))
    }
}

impl Connector for JsonFile {
    fn list(&mut self) -> Result<Listing, ConnectorError> {
        self.cache = None;
        Ok(Listing {
            holdings: self.load()?.iter().cloned().collect(),
            accounts: Vec::new(),
        })
    }

    fn apply(&mut self, person: &Person, change: &Change) -> Result<Applied, ConnectorError> {
        let set = self.load()?;
        let out = apply_to_set(set, &person.user_id, change);
        if out == Applied::Done {
            self.save()?;
        }
        Ok(out)
    }

    fn read_back(
        &mut self,
        person: &Person,
        grant: Option<&str>,
    ) -> Result<ReadBack, ConnectorError> {
        self.cache = None;
        let set = self.load()?;
        Ok(read_from_set(set, &person.user_id, grant, None))
    }
}

/// A change applied to a set of holdings (accounts are not tracked here).
pub(crate) fn apply_to_set(set: &mut BTreeSet<Holding>, user: &str, change: &Change) -> Applied {
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

pub(crate) fn read_from_set(
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
