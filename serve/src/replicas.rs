//! Several `polc serve` on one state (docs/serve.md, "Several replicas"). Work is claimed
//! with leases (provision's `lease` module) so that each piece happens once:
//!
//! - `work`: the one replica that processes stored HRIS events, plans, and runs the
//!   schedule. Every replica receives webhooks and stores them; the holder picks them up
//!   within a tick.
//! - `plan:ID`: the replica applying plan ID. A replica killed mid-apply leaves the plan
//!   `applying` with an expired lease: another takes it over and finishes from the journal.
//!
//! A heartbeat thread, on a connection of its own, renews the leases this process holds
//! every third of their length; a lease it cannot renew is dropped (the work stops at the
//! next fence check). With one replica (SQLite) the same code runs and always wins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use polc_provision::lease::{self, Fence};
use polc_provision::state::State;
use tracing::{info, warn};

/// The leases this process holds, shared by the worker and the heartbeat.
pub struct Leases {
    /// `host:pid:random`: who we are in the lease table.
    pub holder: String,
    pub ttl_ms: i64,
    held: Mutex<HashMap<String, i64>>,
    stop: AtomicBool,
}

impl Leases {
    pub fn new(ttl: Duration) -> Leases {
        let host = polc_provision::state::hostname();
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Leases {
            holder: format!("{host}:{}:{nonce:08x}", std::process::id()),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(30_000),
            held: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn fence(&self, name: &str) -> Option<Fence> {
        self.map().get(name).map(|&token| Fence {
            name: name.to_string(),
            holder: self.holder.clone(),
            token,
        })
    }

    /// Holds `name` now (already held, or taken if free): its fence; `Ok(None)` when
    /// another process holds it.
    pub fn take(&self, st: &State, name: &str) -> polc_provision::db::DbResult<Option<Fence>> {
        if let Some(f) = self.fence(name) {
            return Ok(Some(f));
        }
        match lease::acquire(&st.conn, name, &self.holder, self.ttl_ms)? {
            Some(token) => {
                self.map().insert(name.to_string(), token);
                info!(lease = name, token, holder = %self.holder, "lease taken");
                Ok(Some(Fence {
                    name: name.to_string(),
                    holder: self.holder.clone(),
                    token,
                }))
            }
            None => Ok(None),
        }
    }

    /// Gives `name` up.
    pub fn give_up(&self, st: &State, name: &str) {
        if let Some(f) = self.map().remove(name).map(|token| Fence {
            name: name.to_string(),
            holder: self.holder.clone(),
            token,
        }) {
            if let Err(e) = lease::release(&st.conn, &f) {
                warn!(lease = name, error = %e, "cannot release the lease (it expires by itself)");
            }
        }
    }

    /// Gives every lease up (at a clean stop: another replica need not wait).
    pub fn give_up_all(&self, st: &State) {
        let names: Vec<String> = self.map().keys().cloned().collect();
        for n in names {
            self.give_up(st, &n);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Renews every lease held, every third of their length, on a connection of its own,
    /// until [`Leases::give_up_all`].
    pub fn heartbeat(self: Arc<Leases>, state: State) {
        let every = Duration::from_millis((self.ttl_ms / 3).max(100) as u64);
        while !self.stop.load(Ordering::Relaxed) {
            let held: Vec<(String, i64)> =
                self.map().iter().map(|(k, v)| (k.clone(), *v)).collect();
            for (name, token) in held {
                let f = Fence {
                    name: name.clone(),
                    holder: self.holder.clone(),
                    token,
                };
                match lease::renew(&state.conn, &f, self.ttl_ms) {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!(lease = %name, token, "lease lost: another replica took the work over");
                        let mut m = self.map();
                        if m.get(&name) == Some(&token) {
                            m.remove(&name);
                        }
                    }
                    // the database may be back before the lease ends: keep trying
                    Err(e) => warn!(lease = %name, error = %e, "cannot renew the lease"),
                }
            }
            std::thread::sleep(every);
        }
    }
}
