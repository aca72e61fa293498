//! The receive path of webhooks: a thread with a connection of its own to the state stores
//! each verified delivery (committed, so durable, before the `202`) without waiting behind
//! the worker's processing, then tells the worker there is work. Deliveries that queued up
//! meanwhile are stored in one transaction (one commit, one fsync, for all of them).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use polc_provision::db::{params, Db};
use polc_provision::state::State;
use polc_provision::Error;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::worker::{Incoming, Job, StoreError, Worker};

/// Deliveries stored in one transaction at most.
pub const GROUP: usize = 256;

/// One verified delivery, and where its answer goes: `Ok(None)` is a redelivery.
pub struct Delivery {
    pub webhook_id: String,
    pub events: Vec<Incoming>,
    pub by: String,
    pub reply: oneshot::Sender<Result<Option<usize>, StoreError>>,
}

/// Tells the worker stored events wait: one processing job queued at a time. It does not
/// keep the worker's queue open (the worker holds one too): once the service stops, what
/// is stored is processed at the next start.
#[derive(Clone)]
pub struct Wake {
    jobs: mpsc::WeakSender<Job>,
    queued: Arc<AtomicBool>,
}

impl Wake {
    pub fn new(jobs: &mpsc::Sender<Job>) -> Wake {
        Wake {
            jobs: jobs.downgrade(),
            queued: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues a processing job unless one is queued already. A full queue leaves the
    /// events to the worker's next tick.
    pub fn wake(&self) {
        let Some(jobs) = self.jobs.upgrade() else {
            return;
        };
        if self.queued.swap(true, Relaxed) {
            return;
        }
        let queued = self.queued.clone();
        let job: Job = Box::new(move |w: &mut Worker| {
            // events stored from now on queue another job
            queued.store(false, Relaxed);
            w.process();
        });
        if jobs.try_send(job).is_err() {
            self.queued.store(false, Relaxed);
        }
    }
}

/// The last effective date recorded for a person (snapshots and events).
pub fn last_effective(conn: &Db, user: &str) -> polc_provision::db::DbResult<Option<String>> {
    conn.query_row(
        "SELECT max(effective) FROM directory WHERE user_id = ?1",
        [user],
        |r| r.get::<_, Option<String>>(0),
    )
}

/// Stores one delivery in the open transaction `tx`.
fn store(tx: &Db, d: &Delivery, now: &str) -> Result<Option<usize>, polc_provision::db::DbError> {
    let seen: i64 = tx.query_row(
        "SELECT count(*) FROM serve_events WHERE webhook_id = ?1",
        [&d.webhook_id],
        |r| r.get(0),
    )?;
    if seen > 0 {
        return Ok(None);
    }
    for (i, e) in d.events.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO serve_events(webhook_id, idx, event, user_id, effective, body, status, received_at, received_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', ?7, ?8)",
        )?
        .execute(params![d.webhook_id, i as i64, e.event, e.user_id, e.effective.to_string(), e.body, now, d.by])?;
    }
    Ok(Some(d.events.len()))
}

/// A redelivery (`Some(None)`), or an event dated before what is already applied for
/// that person (`Some(Some(reason))`).
fn refused(conn: &Db, d: &Delivery) -> Result<Option<Option<String>>, polc_provision::db::DbError> {
    let seen: i64 = conn.query_row(
        "SELECT count(*) FROM serve_events WHERE webhook_id = ?1",
        [&d.webhook_id],
        |r| r.get(0),
    )?;
    if seen > 0 {
        return Ok(Some(None));
    }
    for e in &d.events {
        if let Some(last) = last_effective(conn, &e.user_id)? {
            if e.effective.to_string() < last {
                return Ok(Some(Some(format!(
                    "{} for `{}` is effective {}, before what is already applied for that person (effective {last}): events are applied in effective-date order; send a snapshot or an event dated {last} or later",
                    e.event, e.user_id, e.effective
                ))));
            }
        }
    }
    Ok(None)
}

/// Stores deliveries until every sender is gone (the server stopped), then returns.
pub fn run(state: State, mut rx: mpsc::Receiver<Delivery>, metrics: Arc<Metrics>, wake: Wake) {
    let path = state.path.clone();
    let fail = |e: &dyn std::fmt::Display| {
        StoreError::Failed(Error::State {
            path: path.clone(),
            message: e.to_string(),
        })
    };
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match rx.try_recv() {
                Ok(d) => group.push(d),
                Err(_) => break,
            }
        }
        // redeliveries and refusals are answered at once; the others are stored together
        let mut keep = Vec::with_capacity(group.len());
        for d in group {
            match refused(&state.conn, &d) {
                Ok(Some(None)) => {
                    metrics.events_duplicate.fetch_add(1, Relaxed);
                    info!(webhook_id = %d.webhook_id, "redelivery: acknowledged, not stored again");
                    let _ = d.reply.send(Ok(None));
                }
                Ok(Some(Some(m))) => {
                    let _ = d.reply.send(Err(StoreError::OutOfOrder(m)));
                }
                Ok(None) => keep.push(d),
                Err(e) => {
                    let _ = d.reply.send(Err(fail(&e)));
                }
            }
        }
        if keep.is_empty() {
            continue;
        }
        let now = polc_provision::state::now_text();
        let stored = (|| {
            let tx = state.conn.transaction()?;
            let mut out = Vec::with_capacity(keep.len());
            for d in &keep {
                out.push(store(&tx, d, &now)?);
            }
            tx.commit()?;
            Ok::<_, polc_provision::db::DbError>(out)
        })();
        match stored {
            Ok(outcomes) => {
                let mut events = 0;
                for (d, o) in keep.into_iter().zip(outcomes) {
                    match o {
                        Some(n) => events += n,
                        None => {
                            metrics.events_duplicate.fetch_add(1, Relaxed);
                            info!(webhook_id = %d.webhook_id, "redelivery: acknowledged, not stored again");
                        }
                    }
                    let _ = d.reply.send(Ok(o));
                }
                metrics.events_received.fetch_add(events as u64, Relaxed);
                if events > 0 {
                    wake.wake();
                }
            }
            Err(e) => {
                warn!(error = %e, deliveries = keep.len(), "cannot store webhook deliveries");
                for d in keep {
                    let _ = d.reply.send(Err(fail(&e)));
                }
            }
        }
    }
    info!("receiver stopped: no more deliveries");
}
