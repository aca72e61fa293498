//! `polc plan` from the state, and `apply` through in-memory systems, for the generated org
//! (`OrgShape::eval_benchmark`: 2,000 policies, 20 systems) with POLC_BENCH_USERS users
//! (default 100,000) whose systems hold the access export of `pipeline::access_json`
//! (about 25 entries a user: mostly the expected grants, with missing, level mismatches,
//! excess, leavers' leftovers and 500 orphans).
//!
//! Setup (once, timed and printed): write the project, `hris import`, `pull` every system.
//! Then, printed: the first `plan` (computed and stored), and one `apply` of it (every
//! action journalled `pending → sent → done` with read-back) in actions/s. Criterion then
//! measures `plan` again on the same state (computed; the stored plan is found, not
//! written twice). Plans are also timed three times with their CPU time (a shared
//! machine's wall time depends on what else runs). With POLC_BENCH_KEEP set, the project is
//! kept as planned (no apply) and its folder printed, to time `polc plan` on it as a
//! process of its own.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use polc_benches::{bundle, pipeline, users_json, OrgShape};
use polc_provision::testing::MemConnectors;
use polc_provision::{ApplyOptions, Approval, Project, Provision};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project of the generated org in a fresh folder, its systems filled from the export.
fn project(n: usize) -> (PathBuf, MemConnectors) {
    let shape = OrgShape::eval_benchmark();
    let files = bundle(shape);
    let b = pipeline::load_bundle(&files);
    let users = users_json(shape, n);
    let (access, st) = pipeline::access_json(&b, &users);
    eprintln!(
        "{} users, {} entries in the systems ({:.1} a user)",
        st.users,
        st.entries,
        st.entries as f64 / st.users.max(1) as f64
    );
    let dir = std::env::temp_dir().join(format!("polc-bench-provision-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (name, text) in &files {
        write(&dir.join("policies").join(name), text);
    }
    write(&dir.join("hris/users.json"), &users);
    let mut toml = String::from(
        "[policies]\npaths = [\"policies\"]\n[hris]\nusers = \"hris/users.json\"\n[state]\npath = \".polc/state.db\"\n\
         [guard]\nmax_revoke_percent = 100\nmax_revoke_count = 100000000\nmax_missing_percent = 100\n",
    );
    let mut systems: Vec<&str> = polc_provision::plan::named_systems(&b)
        .into_iter()
        .collect();
    systems.sort_unstable();
    for s in &systems {
        toml += &format!(
            "[systems.{s}]\nconnector = \"file\"\npath = \"systems/{s}.json\"\nmode = \"auto\"\n"
        );
    }
    write(&dir.join("polc.toml"), &toml);
    let conns = MemConnectors::new();
    let access: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&access).unwrap();
    for (user, grants) in access {
        for g in grants.as_array().unwrap() {
            let g = g.as_str().unwrap();
            let (grant, level) = match g.split_once(" (") {
                Some((gr, l)) => (gr, Some(l.trim_end_matches(')'))),
                None => (g, None),
            };
            let system = grant.split(':').next().unwrap();
            conns.get(system).hold(&user, grant, level);
        }
    }
    (dir, conns)
}

fn open(dir: &Path, conns: &MemConnectors) -> Provision {
    let project = Project::load(&dir.join("polc.toml")).unwrap();
    Provision::open(project, Box::new(conns.clone()))
        .unwrap()
        .with_actor("bench")
}

fn provision(c: &mut Criterion) {
    let n: usize = std::env::var("POLC_BENCH_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let at = pipeline::at();
    let (dir, conns) = project(n);
    let mut p = open(&dir, &conns);
    let t = Instant::now();
    p.hris_import(&dir.join("hris/users.json"), at, None)
        .unwrap();
    eprintln!("hris import (baseline): {:?}", t.elapsed());
    let t = Instant::now();
    p.pull(None).unwrap();
    eprintln!("pull (every system): {:?}", t.elapsed());
    let (t, cpu) = (Instant::now(), polc_benches::cpu_time());
    let plan = p.plan(at).unwrap();
    eprintln!(
        "first plan (computed and stored): {:?} ({:?} CPU), {} actions ({} review), digest {}",
        t.elapsed(),
        polc_benches::cpu_time() - cpu,
        plan.summary.actions,
        plan.summary.review,
        plan.digest
    );
    // the same, three times, with the CPU time it took (the wall time of a shared machine
    // depends on what else runs)
    for _ in 0..3 {
        let (t, cpu) = (Instant::now(), polc_benches::cpu_time());
        let again = p.plan(at).unwrap();
        assert_eq!(again.digest, plan.digest);
        eprintln!(
            "plan from the state: {:?} ({:?} CPU)",
            t.elapsed(),
            polc_benches::cpu_time() - cpu
        );
    }

    let mut g = c.benchmark_group("provision");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(format!("plan from the state, {n} users"), |b| {
        b.iter(|| black_box(p.plan(at).unwrap().summary.actions))
    });
    g.finish();

    // POLC_BENCH_KEEP: the project stays as it is now, to time `polc plan` on it as a
    // process of its own (`/usr/bin/time -v polc plan --at DATE`, in the folder); no apply
    if std::env::var_os("POLC_BENCH_KEEP").is_some() {
        eprintln!("kept: {} (plan --at {at})", dir.display());
        return;
    }
    // one apply of the whole plan (it cannot be repeated on the same state)
    let mut o = ApplyOptions::new(Approval::Digest(plan.digest.clone()), at);
    o.fail_at = None;
    o.as_name = Some("reviewer".into());
    o.force = Some("benchmark".into());
    let (t, cpu) = (Instant::now(), polc_benches::cpu_time());
    let rep = p.apply(&plan.id, &o).unwrap();
    let dt = t.elapsed();
    eprintln!(
        "apply: {} done, {} failed, {} skipped in {:?} ({:?} CPU): {:.0} actions/s (batch {})",
        rep.summary.done,
        rep.summary.failed,
        rep.summary.skipped,
        dt,
        polc_benches::cpu_time() - cpu,
        rep.summary.done as f64 / dt.as_secs_f64(),
        o.batch
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, provision);
criterion_main!(benches);
