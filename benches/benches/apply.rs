//! `apply` through the real `file` connector, journalled: every action `pending → sent →
//! done` in the state, the file rewritten atomically under its lock, the change confirmed by
//! listing the file, observed access and the audit log written.
//!
//! The project is `polc init`'s seed (its policies) with one `file` system, `gitlab`, in
//! `auto` mode, and POLC_BENCH_USERS generated people (default 100,000; each is a Sales
//! Engineer, a Solutions Architect or a Senior Sales Engineer: two grants in gitlab each).
//! Each run starts from a fresh project: `hris import`, `pull` (an empty file), `plan`
//! (untimed), then the timed `apply` of the whole plan. POLC_BENCH_RUNS runs (default 3),
//! each printed, then the best and the median.
//!
//! With POLC_BENCH_HELD=M the file starts holding M entries of other accounts (unmanaged:
//! never revoked), to show how the size of the system weighs on each batch's rewrite.
//!
//! `cargo bench -p polc-benches --bench apply`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polc_provision::{ApplyOptions, Approval, DefaultConnectors, Project, Provision};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A fresh seed project in `dir` with `n` people and a `file` system holding `held`
/// entries of other accounts.
fn project(dir: &Path, n: usize, held: usize) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    polc_provision::init(dir).expect("polc init");
    let file = dir.join("polc.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    let head = toml.split("[systems.gitlab]").next().unwrap().to_string();
    let toml = head
        .replace("max_revoke_percent = 10", "max_revoke_percent = 100")
        .replace("max_missing_percent = 5", "max_missing_percent = 100")
        + "[systems.gitlab]\nconnector = \"file\"\npath = \"systems/gitlab.json\"\nmode = \"auto\"\nmanage = \"policy\"\n";
    std::fs::write(&file, toml).unwrap();
    let titles = [
        "Sales Engineer",
        "Solutions Architect",
        "Senior Sales Engineer",
    ];
    let depts = ["Sales", "Engineering", "Sales"];
    let mut users = String::from("[");
    for i in 0..n {
        if i > 0 {
            users.push(',');
        }
        users += &format!(
            r#"{{"user_id":"u{i:07}","email":"u{i}@x.com","first_name":"U","last_name":"N","job_title":"{}","department":"{}","employment_type":"FTE","employment_status":"Active","start_date":"2020-01-01"}}"#,
            titles[i % 3],
            depts[i % 3]
        );
    }
    users.push(']');
    let users_file = dir.join("hris/bench.json");
    std::fs::write(&users_file, users).unwrap();
    let mut system = String::from("[");
    for i in 0..held {
        if i > 0 {
            system.push(',');
        }
        system += &format!(
            "\n  {{\"user_id\":\"other{i:07}\",\"grant\":\"gitlab:group:elsewhere\",\"level\":null}}"
        );
    }
    system += "\n]\n";
    std::fs::write(dir.join("systems/gitlab.json"), system).unwrap();
    users_file
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not this bench's name skips it
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "apply")
    {
        return;
    }
    let n = env("POLC_BENCH_USERS", 100_000);
    let runs = env("POLC_BENCH_RUNS", 3).max(1);
    let held = env("POLC_BENCH_HELD", 0);
    let at = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let dir = std::env::temp_dir().join(format!("polc-bench-apply-{}", std::process::id()));
    let mut rates = Vec::new();
    for run in 1..=runs {
        let users = project(&dir, n, held);
        let project = Project::load(&dir.join("polc.toml")).unwrap();
        let mut p = Provision::open(project, Box::new(DefaultConnectors))
            .unwrap()
            .with_actor("bench");
        p.hris_import(&users, at, None).unwrap();
        p.pull(None).unwrap();
        let plan = p.plan(at).unwrap();
        let mut o = ApplyOptions::new(Approval::AutoApprove, at);
        o.fail_at = None;
        o.force = Some("benchmark".into());
        let (t, cpu) = (Instant::now(), polc_benches::cpu_time());
        let rep = p.apply(&plan.id, &o).unwrap();
        let dt = t.elapsed();
        let cpu = polc_benches::cpu_time() - cpu;
        assert!(rep.all_done(), "{:?}", rep.summary);
        let rate = rep.summary.done as f64 / dt.as_secs_f64();
        eprintln!(
            "run {run}: {n} users, {} actions applied through the file connector ({held} other entries held): {:.2} s, {rate:.0} actions/s; {:.2} s CPU, {:.0} actions a CPU second",
            rep.summary.done,
            dt.as_secs_f64(),
            cpu.as_secs_f64(),
            rep.summary.done as f64 / cpu.as_secs_f64().max(0.01),
        );
        rates.push((rate, dt));
        drop(p);
    }
    let _ = std::fs::remove_dir_all(&dir);
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let best = rates.last().unwrap();
    let median = rates[rates.len() / 2];
    eprintln!(
        "apply, file connector: best {:.0} actions/s ({:.2} s), median {:.0} actions/s ({:.2} s) of {runs} run(s)",
        best.0,
        secs(best.1),
        median.0,
        secs(median.1)
    );
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
