//! The interpreter: `polc eval` of the generated org (2,000 policies, 400 of them
//! templates, 20 systems; `OrgShape::eval_benchmark()`) for 100,000 users, in users per
//! second, against two references measured in the same run:
//!
//! - regorus (the Rust Rego interpreter) evaluating the same policy set written as
//!   idiomatic Rego (`polc_benches::rego`), on the first 100 users (polc is timed on the
//!   same 100 too): regorus needs 45–65 ms a user here (22–32 µs per policy), so 1,000
//!   users would take about a minute an iteration. (Its bytecode VM, RVM, refuses this
//!   policy set: the program exceeds its 65,535-instruction limit.)
//! - the "I/O only" floor: parse the users into `serde_json::Value` and write polc's own
//!   answers, precomputed, in the same envelope (`pipeline::floor_eval`).
//!
//! The setup asserts that regorus and polc give the same `(entitlement, level)` set to each
//! of the first 200 users.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use polc_benches::pipeline;
use polc_benches::{org, users_json, OrgShape};

const N: usize = 100_000;
const REGO_N: usize = 100;
const EQUIV_N: usize = 200;

fn eval(c: &mut Criterion) {
    let shape = OrgShape::eval_benchmark();
    let org = org(shape);
    let files = org.pol_files();
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    let bundle = pipeline::load_bundle(&files);
    let users = users_json(shape, N);
    let sample = pipeline::first_users(&users, REGO_N);
    let rego = org.rego();
    let t = Instant::now();
    let policy = pipeline::regorus_policy(&rego);
    eprintln!(
        "bundle: {} policies ({} templates), {} files, {} lines; rego: {} lines, compiled by regorus in {:.2?}",
        org.policies.len(),
        org.policies.iter().filter(|p| p.template).count(),
        files.len(),
        lines,
        rego.iter().map(|(_, t)| t.lines().count()).sum::<usize>(),
        t.elapsed()
    );
    eprintln!("users: {N}, {} bytes of JSON", users.len());

    let eq = pipeline::check_equivalence(shape, &users, EQUIV_N)
        .unwrap_or_else(|e| panic!("polc and regorus disagree: {e}"));
    assert_eq!(eq.users, EQUIV_N);
    assert!(
        eq.merged_levels > 0,
        "the sample never merges levels: {eq:?}"
    );
    eprintln!(
        "equivalence: {} users, {} with grants, {} grants, {} users with an entitlement given at two levels: same (entitlement, level) sets in polc and regorus",
        eq.users, eq.users_with_grants, eq.grants, eq.merged_levels
    );

    let mut out = Vec::new();
    pipeline::polc_eval(&bundle, &users, &mut out);
    let grants: usize = pipeline::polc_grants(&bundle, &users)
        .iter()
        .map(|(_, g)| g.len())
        .sum();
    eprintln!(
        "polc answer: {} bytes ({} per user), {:.1} grants per user",
        out.len(),
        out.len() / N,
        grants as f64 / N as f64
    );
    let answers = pipeline::answers(&bundle, &users);
    let mut floor_out = Vec::new();
    pipeline::floor_eval(&users, &answers, &mut floor_out);
    eprintln!("floor answer: {} bytes", floor_out.len());
    let mut rego_out = Vec::new();
    pipeline::regorus_eval(&policy, &sample, &mut rego_out);
    eprintln!("regorus answer ({REGO_N} users): {} bytes", rego_out.len());

    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("polc_100k_users", |b| {
        b.iter(|| {
            out.clear();
            pipeline::polc_eval(&bundle, &users, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("floor_100k_users", |b| {
        b.iter(|| {
            floor_out.clear();
            pipeline::floor_eval(&users, &answers, &mut floor_out);
            black_box(floor_out.len())
        })
    });
    group.throughput(Throughput::Elements(REGO_N as u64));
    group.bench_function("polc_100_users", |b| {
        b.iter(|| {
            out.clear();
            pipeline::polc_eval(&bundle, &sample, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("regorus_100_users", |b| {
        b.iter(|| {
            rego_out.clear();
            pipeline::regorus_eval(&policy, &sample, &mut rego_out);
            black_box(rego_out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, eval);
criterion_main!(benches);
