//! Loading 100,000 users (`polc::input`): JSON typed by std/hris, JSON untyped, and CSV
//! through a mapping.

use criterion::{criterion_group, criterion_main, Criterion};
use polc::input::{parse_users, Format, Mapping};
use polc_benches::{users_json, OrgShape};

const N: usize = 100_000;

fn hris_schema() -> polc::ir::Schema {
    let loaded = polc::db::Loaded::from_sources(&[("b.pol", "import \"std/hris\"\n")]);
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    checked
        .bundle
        .schema
        .clone()
        .expect("std/hris declares a schema")
}

/// The same users as an HR export: other column names, US dates, leave in its own column.
fn users_csv(n: usize) -> String {
    let mut out = String::from("WorkerID,Status,Type,Title,Dept,Hired,OnLeave,Email\n");
    for i in 0..n {
        let status = if i % 20 == 0 { "Inactive" } else { "Active" };
        let ty = ["Employee", "Employee", "Contractor", "Intern"][i % 4];
        out.push_str(&format!(
            "u{i},{status},{ty},Title {},Dept {},{:02}/1{}/20{},{},u{i}@company.com\n",
            i % 400,
            i % 40,
            1 + i % 12,
            i % 10,
            10 + i % 15,
            if i % 7 == 0 { "True" } else { "False" }
        ));
    }
    out
}

const MAPPING: &str = r#"
date_format = "%m/%d/%Y"
[columns]
user_id = "WorkerID"
employment_status = "Status"
employment_type = "Type"
job_title = "Title"
department = "Dept"
start_date = "Hired"
email = "Email"
[values.employment_type]
Employee = "FTE"
[[rules]]
when = { OnLeave = "True", Status = "Active" }
set = { employment_status = "Leave" }
"#;

fn load(c: &mut Criterion) {
    let schema = hris_schema();
    let json = users_json(OrgShape::eval_benchmark(), N);
    let csv = users_csv(N);
    let mapping = Mapping::parse(MAPPING, "bench.toml").unwrap();
    for (name, text, format, schema, mapping) in [
        ("json", &json, Format::Json, Some(&schema), None),
        (
            "csv_mapped",
            &csv,
            Format::Csv,
            Some(&schema),
            Some(&mapping),
        ),
    ] {
        let users = parse_users(text, name, format, schema, mapping).unwrap();
        assert_eq!((users.records.len(), users.errors.len()), (N, 0), "{name}");
    }
    let mut group = c.benchmark_group("users");
    group.sample_size(10);
    group.bench_function("json_100k_typed", |b| {
        b.iter(|| {
            parse_users(&json, "u.json", Format::Json, Some(&schema), None)
                .unwrap()
                .records
                .len()
        })
    });
    group.bench_function("json_100k_untyped", |b| {
        b.iter(|| {
            parse_users(&json, "u.json", Format::Json, None, None)
                .unwrap()
                .records
                .len()
        })
    });
    group.bench_function("csv_100k_mapped", |b| {
        b.iter(|| {
            parse_users(&csv, "u.csv", Format::Csv, Some(&schema), Some(&mapping))
                .unwrap()
                .records
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
