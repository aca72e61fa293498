//! The `[schedule]`: cron expressions (UTC, seconds first) for `pull`, `plan` and `drift`.
//! The last run of each is kept in the state; a run missed while the service was down runs
//! once at start (not once per missed occurrence).

use std::str::FromStr;

use chrono::Utc;
use cron::Schedule;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::worker::{Job, Worker};

pub fn parse(
    s: &polc_provision::config::Schedule,
) -> Result<Vec<(&'static str, Schedule)>, String> {
    let mut out = Vec::new();
    for (job, expr) in [("pull", &s.pull), ("plan", &s.plan), ("drift", &s.drift)] {
        if expr.trim().is_empty() || expr.trim() == "off" {
            continue;
        }
        let sched = Schedule::from_str(expr).map_err(|e| {
            format!("[schedule] {job} = \"{expr}\": not a cron expression ({e}); expected seconds first, e.g. \"0 0 2 * * *\" for 02:00 UTC daily, or \"off\"")
        })?;
        out.push((job, sched));
    }
    Ok(out)
}

/// Runs a job on the worker and waits for it to finish.
async fn run_job(jobs: &mpsc::Sender<Job>, f: impl FnOnce(&mut Worker) + Send + 'static) -> bool {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |w: &mut Worker| {
        f(w);
        let _ = tx.send(());
    });
    if jobs.send(job).await.is_err() {
        return false;
    }
    rx.await.is_ok()
}

pub async fn run(
    job: &'static str,
    sched: Schedule,
    jobs: mpsc::Sender<Job>,
    mut stop: watch::Receiver<bool>,
) {
    // a run missed while down runs once now
    let (tx, rx) = oneshot::channel();
    let ask: Job = Box::new(move |w: &mut Worker| {
        let _ = tx.send(w.last_run(job));
    });
    if jobs.send(ask).await.is_err() {
        return;
    }
    let last = rx.await.ok().flatten();
    match last {
        None => {
            // first start: the schedule starts now
            run_job(&jobs, move |w| w.set_last_run(job, Utc::now())).await;
        }
        Some(t) => {
            if sched.after(&t).next().is_some_and(|n| n <= Utc::now()) {
                info!(job, last = %t, "a scheduled run was missed while stopped: running it once now");
                if !run_job(&jobs, move |w| w.scheduled(job)).await {
                    return;
                }
            }
        }
    }
    loop {
        let Some(next) = sched.upcoming(Utc).next() else {
            warn!(job, "the schedule has no next run");
            return;
        };
        info!(job, next = %next, "next scheduled run");
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !run_job(&jobs, move |w| w.scheduled(job)).await {
            return;
        }
    }
}

/// Just after midnight UTC: events dated today stop waiting.
pub async fn midnight(jobs: mpsc::Sender<Job>, stop: watch::Receiver<bool>) {
    if let Ok(s) = Schedule::from_str("5 0 0 * * *") {
        run("events", s, jobs, stop).await;
    }
}

/// Every [`crate::worker::TICK`]: the worker looks for work other replicas left. A tick
/// finding the queue full, or the last tick still queued, is skipped (the worker is busy
/// anyway: ticks do not fill the queue that requests need).
pub async fn ticks(jobs: mpsc::Sender<Job>, mut stop: watch::Receiver<bool>) {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let mut every = tokio::time::interval(crate::worker::TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let queued = std::sync::Arc::new(AtomicBool::new(false));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if queued.swap(true, Relaxed) {
            continue;
        }
        let q = queued.clone();
        match jobs.try_send(Box::new(move |w: &mut Worker| {
            q.store(false, Relaxed);
            w.tick()
        })) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => queued.store(false, Relaxed),
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}
