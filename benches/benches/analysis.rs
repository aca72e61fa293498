//! The static analysis (`polc::analysis`) of the generated ~2,000-policy bundle: what
//! `polc check` runs (W0102, W0104, W0301, E0501 over every policy, the pairs through the
//! index) and `polc analyze --overlaps` (every pair of policies that can co-occur,
//! solved, with witnesses). The generated bundle gets a few conflicts and denies so that
//! E0501 and W0104 have work to do. The IR is built once, outside the measurement.

use criterion::{criterion_group, criterion_main, Criterion};
use polc::analysis::policies::BundleAnalysis;
use polc::analysis::{conflicts, findings, overlaps};
use polc_benches::{bundle, OrgShape};

/// Conflicts and denies on top of the generated policies.
const EXTRA: &str = r#"
policy "Contractor Restrictions" {
  when employment_type == "Contractor"
  deny sys0:role:*
  deny sys1:group:*
}

policy "Senior Restrictions" {
  when level >= 4 and department == "Dept 3"
  deny sys2:role:*
}

conflict "Roles 0 and 1" { sys0:role:r1*, sys1:role:r1* }
conflict "Roles 2 and groups 3" { sys2:role:*, sys3:group:* }
conflict "Nobody" { sys4:role:never, sys5:role:never }
"#;

fn ir() -> polc::ir::Bundle {
    let mut files = bundle(OrgShape::eval_benchmark());
    files.push(("policies/extra.pol".to_string(), EXTRA.to_string()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let loaded = polc::db::Loaded::from_sources(&refs);
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code != "E0501")
        .take(3)
        .collect();
    assert!(errors.is_empty(), "generated bundle has errors: {errors:?}");
    (*checked.bundle).clone()
}

fn analysis(c: &mut Criterion) {
    let b = ir();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let policies = b.policies.iter().filter(|p| !p.template).count();
    // One pass, phase by phase, to show where the time goes.
    let t = std::time::Instant::now();
    let mut ba = BundleAnalysis::new(&b, today);
    let t_new = t.elapsed();
    let never = findings::never_applies(&mut ba).len();
    let t_never = t.elapsed();
    let denied = findings::always_denied(&mut ba).len();
    let t_denied = t.elapsed();
    let shadowed = findings::shadowed(&mut ba).len();
    let t_shadowed = t.elapsed();
    let reach = conflicts::reachable(&mut ba).len();
    let t_reach = t.elapsed();
    let o = overlaps::overlaps(&mut ba);
    eprintln!(
        "one pass: prepare {t_new:?}, W0102 at {t_never:?}, W0104 at {t_denied:?}, W0301 at {t_shadowed:?}, E0501 at {t_reach:?}"
    );
    eprintln!(
        "{} policies and templates ({policies} policies): W0102 {never}, W0104 {denied}, W0301 {shadowed}, E0501 {reach}; overlaps {} of {} pairs examined, {} undecided",
        b.policies.len(),
        o.pairs.len(),
        o.examined,
        o.unknown.len()
    );
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    group.bench_function("check_lints_2k_policies", |bench| {
        bench.iter(|| {
            let mut ba = BundleAnalysis::new(&b, today);
            let n = findings::never_applies(&mut ba).len()
                + findings::always_denied(&mut ba).len()
                + findings::shadowed(&mut ba).len()
                + conflicts::reachable(&mut ba).len();
            std::hint::black_box(n);
        })
    });
    group.bench_function("overlaps_2k_policies", |bench| {
        bench.iter(|| {
            let mut ba = BundleAnalysis::new(&b, today);
            std::hint::black_box(overlaps::overlaps(&mut ba).pairs.len());
        })
    });
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
