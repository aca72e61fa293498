//! Prometheus counters, gauges and the apply latency histogram (text format 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Default)]
pub struct Metrics {
    pub events_received: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    /// By outcome: processed, rejected, failed.
    pub events_processed: Mutex<BTreeMap<&'static str, u64>>,
    /// Actions by status after an apply: done, failed, stale, skipped, pending.
    pub actions: Mutex<BTreeMap<String, u64>>,
    apply: Mutex<(Vec<u64>, f64, u64)>,
    pub drift_findings: AtomicU64,
    pub connector_errors: AtomicU64,
    pub quarantined: AtomicU64,
    pub reloads: Mutex<BTreeMap<&'static str, u64>>,
    pub queue_full: AtomicU64,
    pub plans_queued: AtomicU64,
    pub schedule_runs: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    pub fn inc(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
        Metrics::add(map, key, 1);
    }

    pub fn add(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str, n: u64) {
        *map.lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += n;
    }

    pub fn action(&self, status: &str, n: u64) {
        *self
            .actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status.to_string())
            .or_default() += n;
    }

    pub fn schedule_run(&self, job: &str) {
        *self
            .schedule_runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(job.to_string())
            .or_default() += 1;
    }

    pub fn observe_apply(&self, seconds: f64) {
        let mut h = self.apply.lock().unwrap_or_else(|e| e.into_inner());
        if h.0.is_empty() {
            h.0 = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.0[i] += 1;
            }
        }
        h.1 += seconds;
        h.2 += 1;
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut s,
            "polc_events_received_total",
            "HRIS events stored from webhooks (each event of a delivery).",
            self.events_received.load(Relaxed),
        );
        counter(&mut s, "polc_events_duplicate_total", "Webhook deliveries whose webhook-id was seen before (acknowledged, not processed again).", self.events_duplicate.load(Relaxed));
        counter(
            &mut s,
            "polc_webhooks_rejected_total",
            "Webhook deliveries refused (signature, timestamp, shape, order).",
            self.webhooks_rejected.load(Relaxed),
        );
        let labelled = |s: &mut String,
                        name: &str,
                        kind: &str,
                        help: &str,
                        label: &str,
                        m: &BTreeMap<String, u64>| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (k, v) in m {
                let _ = writeln!(s, "{name}{{{label}=\"{k}\"}} {v}");
            }
        };
        let owned = |m: &Mutex<BTreeMap<&'static str, u64>>| -> BTreeMap<String, u64> {
            m.lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect()
        };
        labelled(
            &mut s,
            "polc_events_processed_total",
            "counter",
            "Stored HRIS events by outcome.",
            "outcome",
            &owned(&self.events_processed),
        );
        labelled(
            &mut s,
            "polc_actions_total",
            "counter",
            "Plan actions by their status after an apply.",
            "status",
            &self
                .actions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        {
            let h = self.apply.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(s, "# HELP polc_apply_duration_seconds How long an apply took.\n# TYPE polc_apply_duration_seconds histogram");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "polc_apply_duration_seconds_bucket{{le=\"{b}\"}} {}",
                    h.0.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(s, "polc_apply_duration_seconds_bucket{{le=\"+Inf\"}} {}\npolc_apply_duration_seconds_sum {}\npolc_apply_duration_seconds_count {}", h.2, h.1, h.2);
        }
        let _ = writeln!(s, "# HELP polc_drift_findings Findings of the last drift run (actions to take and unmanaged entries).\n# TYPE polc_drift_findings gauge\npolc_drift_findings {}", self.drift_findings.load(Relaxed));
        counter(
            &mut s,
            "polc_connector_errors_total",
            "Connector failures (failed actions, failed pulls).",
            self.connector_errors.load(Relaxed),
        );
        let _ = writeln!(s, "# HELP polc_quarantined_systems Systems quarantined now.\n# TYPE polc_quarantined_systems gauge\npolc_quarantined_systems {}", self.quarantined.load(Relaxed));
        labelled(&mut s, "polc_reloads_total", "counter", "Policy and configuration reloads by result (refused: the new one had errors, the old one is kept).", "result", &owned(&self.reloads));
        counter(
            &mut s,
            "polc_queue_full_total",
            "Requests answered 503 because the work queue was full.",
            self.queue_full.load(Relaxed),
        );
        counter(
            &mut s,
            "polc_plans_queued_total",
            "Plans queued for review.",
            self.plans_queued.load(Relaxed),
        );
        labelled(
            &mut s,
            "polc_schedule_runs_total",
            "counter",
            "Scheduled runs by job.",
            "job",
            &self
                .schedule_runs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        );
        s
    }
}
