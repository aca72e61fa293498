//! The interpreter: `polc eval` of the generated org (2,000 policies, 400 of them
//! templates, 20 systems; `OrgShape::eval_benchmark()`) for 100,000 users, in users per
//! second, against two references measured in the same run:
//!
//! - regorus (the Rust Rego interpreter) evaluating the same policy set written as
//!   idiomatic Rego (`polc_benches::rego`), on the first 100 users (polc is timed on the
//!   same 100 too): regorus needs 45–65 ms a user here (22–32 µs per policy), so 1,000
//!   users would take about a minute an iteration. (Its bytecode VM, RVM, refuses this
//!   policy set: the program exceeds its 65,535-instruction limit.)
//! - regorus on the indexed Rego (`polc_benches::rego_indexed`: the policies as data,
//!   indexed by the values their first trigger tests, one generic module, inheritance by
//!   `graph.reachable`), as a Rego expert writes it for speed, on the same 100 users and on
//!   1,000.
//! - the "I/O only" floor: parse the users into `serde_json::Value` and write polc's own
//!   answers, precomputed, in the same envelope (`pipeline::floor_eval`).
//!
//! The setup asserts that both Regos on regorus and polc give the same `(entitlement, level)`
//! set to each of the first 200 users.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use polc_benches::pipeline;
use polc_benches::{org, users_json, OrgShape};

const N: usize = 100_000;
const REGO_N: usize = 100;
const INDEXED_N: usize = 1_000;
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
    let (indexed, indexed_data) = org.rego_indexed();
    let t = Instant::now();
    let indexed_policy = pipeline::regorus_policy_with(&indexed, &indexed_data);
    eprintln!(
        "indexed rego: {} lines and {} bytes of data, compiled by regorus in {:.2?}",
        indexed
            .iter()
            .map(|(_, t)| t.lines().count())
            .sum::<usize>(),
        indexed_data.len(),
        t.elapsed()
    );
    let sample_1k = pipeline::first_users(&users, INDEXED_N);

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
    let eq_indexed = pipeline::check_equivalence_indexed(shape, &users, EQUIV_N)
        .unwrap_or_else(|e| panic!("polc and the indexed Rego disagree: {e}"));
    assert_eq!(eq_indexed.grants, eq.grants);
    eprintln!("equivalence, indexed Rego: the same for the same {EQUIV_N} users");

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
    group.bench_function("regorus_indexed_100_users", |b| {
        b.iter(|| {
            rego_out.clear();
            pipeline::regorus_eval(&indexed_policy, &sample, &mut rego_out);
            black_box(rego_out.len())
        })
    });
    group.throughput(Throughput::Elements(INDEXED_N as u64));
    group.bench_function("polc_1000_users", |b| {
        b.iter(|| {
            out.clear();
            pipeline::polc_eval(&bundle, &sample_1k, &mut out);
            black_box(out.len())
        })
    });
    group.bench_function("regorus_indexed_1000_users", |b| {
        b.iter(|| {
            rego_out.clear();
            pipeline::regorus_eval(&indexed_policy, &sample_1k, &mut rego_out);
            black_box(rego_out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, eval);
criterion_main!(benches);
