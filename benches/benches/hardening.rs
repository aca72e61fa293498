//! The inputs of the hardening issue that used to take quadratic time, one benchmark each:
//! a CSV header of 200,000 columns, `impact` over 40,000 policies, one `in [...]` list of
//! 200,000 elements (check, eval, analyze), and `matches` globs on a 200,000-character
//! text. Before the fix: 52 s, 10 s, 60 s and 25 s.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use polc::eval::Plan;
use polc::input::{parse_users, Format, Users};
use polc::ir;
use polc::reconcile::impact::{compare, Side};

const N: usize = 200_000;

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn csv_header(c: &mut Criterion) {
    let mut header = String::from("user_id,employment_status");
    let mut row = String::from("a,Active");
    for i in 0..N {
        header.push_str(&format!(",c{i}"));
        row.push(',');
    }
    let text = format!("{header}\n{row}\n");
    let mut g = c.benchmark_group("hardening");
    g.sample_size(10);
    g.bench_function("csv_header_200k_columns", |b| {
        b.iter(|| {
            let u = parse_users(&text, "u.csv", Format::Csv, None, None).unwrap();
            std::hint::black_box(u.records.len())
        })
    });
    g.finish();
}

fn impact(c: &mut Criterion) {
    let n = 40_000;
    let side = |order: &mut dyn Iterator<Item = usize>, changed: Option<usize>| {
        let mut b = ir::Bundle::default();
        for i in order {
            let mut p = ir::Policy::named(format!("P{i}"), true, None);
            if Some(i) == changed {
                p.version = Some("2".into());
            }
            b.policies.push(p);
        }
        Arc::new(b)
    };
    let old = Plan::new(side(&mut (0..n), None), &[], day());
    let new = Plan::new(side(&mut (0..n).rev(), Some(7)), &[], day());
    let users = Users::default();
    let mut g = c.benchmark_group("hardening");
    g.sample_size(10);
    g.bench_function("impact_40k_policies", |b| {
        b.iter(|| {
            let side = |plan| Side {
                plan,
                users: &users,
                access: None,
            };
            let x = compare(&side(&old), &side(&new), false);
            assert_eq!(x.policies.len(), 1);
        })
    });
    g.finish();
}

fn in_list(c: &mut Criterion) {
    let list: Vec<String> = (0..N).map(|i| format!("\"d{i}\"")).collect();
    let src = format!(
        "import \"std/hris\"\nimport \"std/saas\"\n\
         policy \"A\" {{ when department in [{0}] grant slack:workspace-member }}\n\
         policy \"B\" {{ when department not in [{0}] grant zoom:account }}\n",
        list.join(", ")
    );
    let check = || {
        let loaded = polc::db::Loaded::from_sources(&[("long.pol", &src)]);
        let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
        assert!(!checked.has_errors());
        checked.bundle.clone()
    };
    let bundle = check();
    let users: String = (0..1000)
        .map(|i| {
            format!(
                "{{\"user_id\": \"u{i}\", \"employment_status\": \"Active\", \"department\": \"d{}\"}}\n",
                i * 397
            )
        })
        .collect();
    let users = parse_users(
        &users,
        "u.jsonl",
        Format::Jsonl,
        bundle.schema.as_ref(),
        None,
    )
    .unwrap();
    let mut g = c.benchmark_group("hardening");
    g.sample_size(10);
    g.bench_function("in_list_200k_check", |b| {
        b.iter(|| std::hint::black_box(check()))
    });
    g.bench_function("in_list_200k_eval_1k_users", |b| {
        b.iter(|| {
            let plan = Plan::new(bundle.clone(), &users.fields, day());
            let n: usize = users
                .records
                .iter()
                .map(|r| plan.evaluate(&r.id, &r.values).policies.len())
                .sum();
            std::hint::black_box(n)
        })
    });
    g.bench_function("in_list_200k_analyze_overlaps", |b| {
        b.iter(|| {
            let mut ba = polc::analysis::policies::BundleAnalysis::new(&bundle, day());
            std::hint::black_box(polc::analysis::overlaps::overlaps(&mut ba).pairs.len())
        })
    });
    g.finish();
}

fn glob(c: &mut Criterion) {
    let text = "a".repeat(N);
    let near = format!("*{}b*", "a".repeat(5_000));
    let with_any = format!("*{}?b*", "a".repeat(5_000));
    let many = "*a".repeat(5_000);
    let mut g = c.benchmark_group("hardening");
    g.sample_size(10);
    g.bench_function("glob_200k_text_5k_segment", |b| {
        b.iter(|| {
            assert!(!ir::glob_match(&near, &text));
            assert!(!ir::glob_match(&with_any, &text));
            assert!(ir::glob_match(&many, &text));
        })
    });
    g.finish();
}

criterion_group!(benches, csv_header, impact, in_list, glob);
criterion_main!(benches);
