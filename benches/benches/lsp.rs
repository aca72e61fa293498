//! The language server's analysis on a 2,000-policy workspace (20 files): re-diagnosis after
//! a one-line edit (goal < 50 ms) and completion (goal < 20 ms), on the warm database.

use criterion::{criterion_group, criterion_main, Criterion};
use polc_benches::{bundle, OrgShape};
use polc_ide::Host;
use polc_lsp::Analysis;

fn lsp(c: &mut Criterion) {
    let files = bundle(OrgShape::eval_benchmark());
    let host = Host::new();
    for (path, text) in &files {
        host.set_file(&format!("file:///ws/{path}"), text.clone());
    }
    let first = host.diagnostics().expect("diagnostics");
    assert!(first
        .iter()
        .all(|(_, d)| d.iter().all(|d| d.severity != polc_lsp::Severity::Error)));
    let (path, text) = &files[5];
    let uri = format!("file:///ws/{path}");
    // A one-line edit inside a policy body: a grant's level changes back and forth.
    let line = text
        .lines()
        .find(|l| l.contains("(viewer)"))
        .expect("a grant with a level")
        .to_string();
    let edited = text.replacen(&line, &line.replace("(viewer)", "(member)"), 1);
    let mut flip = false;
    let mut group = c.benchmark_group("lsp");
    group.sample_size(20);
    group.bench_function("rediagnose_after_one_line_edit_2k_policies", |b| {
        b.iter(|| {
            flip = !flip;
            host.set_file(&uri, if flip { edited.clone() } else { text.clone() });
            std::hint::black_box(host.diagnostics().expect("diagnostics").len());
        })
    });
    // Completion of systems after `grant ` at the end of a policy.
    let at = text.find("  grant ").expect("a grant") + "  grant ".len();
    group.bench_function("completion_grant_systems_2k_policies", |b| {
        b.iter(|| std::hint::black_box(host.completion(&uri, at).expect("completion").len()))
    });
    let at_attr = text.find("when ").expect("a when") + "when ".len();
    group.bench_function("completion_attributes_2k_policies", |b| {
        b.iter(|| std::hint::black_box(host.completion(&uri, at_attr).expect("completion").len()))
    });
    // The worst case: the last condition of the file (completion lexes the text before
    // the cursor).
    let at_last = text.rfind("when ").expect("a when") + "when ".len();
    eprintln!(
        "completion at the end: {} bytes, {} lines before the cursor",
        at_last,
        text[..at_last].lines().count()
    );
    group.bench_function("completion_last_condition_of_the_file", |b| {
        b.iter(|| std::hint::black_box(host.completion(&uri, at_last).expect("completion").len()))
    });
    group.finish();
}

criterion_group!(benches, lsp);
criterion_main!(benches);
