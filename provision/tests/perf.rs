//! Rough timings (ignored by default): `cargo test -p polc-provision --release --test perf -- --ignored --nocapture`.
//! POLC_PERF_USERS sets the directory's size (default 20,000).

mod common;
use std::time::Instant;

use common::*;
use polc_provision::{ApplyOptions, Approval};

#[test]
#[ignore]
fn plan_and_apply_timings() {
    let n: usize = std::env::var("POLC_PERF_USERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let f = Fixture::new(
        "[systems.gitlab]\nconnector = \"file\"\npath = \"g.json\"\nmode = \"auto\"\n",
    );
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
            r#"{{"user_id":"u{i}","email":"u{i}@x.com","first_name":"U","last_name":"N","job_title":"{}","department":"{}","employment_type":"FTE","employment_status":"Active","start_date":"2020-01-01"}}"#,
            titles[i % 3],
            depts[i % 3]
        );
    }
    users.push(']');
    let file = f.write("hris/big.json", &users);
    let mut p = f.open();
    let at = d("2025-06-01");
    let t = Instant::now();
    p.hris_import(&file, at, None).unwrap();
    eprintln!("import {n} users: {:?}", t.elapsed());
    p.pull(None).unwrap();
    let t = Instant::now();
    let plan = p.plan(at).unwrap();
    eprintln!(
        "plan {n} users, {} actions: {:?}",
        plan.actions.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let mut o = ApplyOptions::new(Approval::AutoApprove, at);
    o.fail_at = None;
    o.force = Some("perf".into());
    let rep = p.apply(&plan.id, &o).unwrap();
    let dt = t.elapsed();
    assert!(rep.all_done());
    eprintln!(
        "apply {} actions (in-memory system): {:?}, {:.0} actions/s",
        rep.summary.done,
        dt,
        rep.summary.done as f64 / dt.as_secs_f64()
    );
    // the observed access now holds everything: plan again from the state
    p.pull(None).unwrap();
    let t = Instant::now();
    let again = p.plan(at).unwrap();
    eprintln!(
        "plan again, {} entries observed, {} actions: {:?}",
        rep.summary.done,
        again.actions.len(),
        t.elapsed()
    );
}
