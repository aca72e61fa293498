//! `polc drift` of the generated org for 100,000 users against an access export of about
//! 25 entries a user (`pipeline::access_json`: mostly the expected grants, with missing,
//! level mismatches, excess, leavers' leftovers and orphaned accounts), end to end: parse
//! the users and the export, build the plan, evaluate and classify every user; and the same
//! plus the JSON report as `polc drift --format json` prints it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use polc_benches::pipeline;
use polc_benches::{bundle, users_json, OrgShape};

const N: usize = 100_000;

fn reconcile(c: &mut Criterion) {
    let shape = OrgShape::eval_benchmark();
    let bundle = pipeline::load_bundle(&bundle(shape));
    let users = users_json(shape, N);
    let (access, st) = pipeline::access_json(&bundle, &users);
    eprintln!(
        "access export: {} bytes, {} users + 500 orphans, {} entries ({:.1} per user): {} expected ones left out, {} at another level, {} excess",
        access.len(),
        st.users,
        st.entries,
        st.entries as f64 / (st.users + 500) as f64,
        st.dropped,
        st.mismatched,
        st.excess
    );
    // the report finds exactly what the generator planted
    let (_, r) = pipeline::polc_drift(&bundle, &users, &access);
    let s = &r.summary;
    eprintln!("drift summary: {s:?}");
    assert_eq!(s.current_entries, st.entries);
    assert_eq!(s.missing, st.dropped);
    assert_eq!(s.level_mismatch, st.mismatched);
    assert_eq!(s.orphaned_users, 500);
    let mut out = Vec::new();
    pipeline::polc_drift_json(&bundle, &users, &access, &mut out);
    eprintln!("drift JSON report: {} bytes", out.len());

    let mut group = c.benchmark_group("drift");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("drift_100k_users", |b| {
        b.iter(|| {
            let (_, r) = pipeline::polc_drift(&bundle, &users, &access);
            black_box(r.summary.covered)
        })
    });
    group.bench_function("drift_100k_users_json", |b| {
        b.iter(|| {
            out.clear();
            pipeline::polc_drift_json(&bundle, &users, &access, &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, reconcile);
criterion_main!(benches);
