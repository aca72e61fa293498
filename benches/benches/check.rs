//! `polc check` of a generated 10,000-policy bundle (~150,000 lines over 100 files), cold:
//! a fresh database each iteration, so nothing is reused.

use criterion::{criterion_group, criterion_main, Criterion};
use polc_benches::{bundle, OrgShape};

fn check_cold(c: &mut Criterion) {
    let files = bundle(OrgShape::check_benchmark());
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    eprintln!("bundle: {} files, {} lines", files.len(), lines);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    // the bundle must be clean, or the benchmark measures error paths
    polc_benches::pipeline::load_bundle(&files);
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("cold_10k_policies", |b| {
        b.iter(|| {
            let loaded = polc::db::Loaded::from_sources(&refs);
            let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
            std::hint::black_box(checked.diagnostics.len());
        })
    });
    group.finish();
}

criterion_group!(benches, check_cold);
criterion_main!(benches);
