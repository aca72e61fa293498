//! `polc mine --by department` over the drift benchmark's files: the generated org, 100,000
//! users and an access export of about 25 entries a user (`pipeline::access_json`). Parse
//! the users, read the export, group and analyse, draft and check the policies, and measure
//! the drafts' coverage on the same export (`pipeline::polc_mine`; rendering the report is
//! not included).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use polc_benches::pipeline;
use polc_benches::{bundle, users_json, OrgShape};

const N: usize = 100_000;

fn mine(c: &mut Criterion) {
    let shape = OrgShape::eval_benchmark();
    let bundle = pipeline::load_bundle(&bundle(shape));
    let users = users_json(shape, N);
    let (access, st) = pipeline::access_json(&bundle, &users);
    let by = vec!["department".to_string()];
    let m = pipeline::polc_mine(&bundle, &users, &access, &by);
    let members: usize = m.groups.iter().map(|g| g.members.len()).sum();
    eprintln!(
        "mined {} entries: {} groups, {members} members, {} excluded by `require`, {} orphaned accounts, {} draft files; drafts cover {:.1}% of the export",
        st.entries,
        m.groups.len(),
        m.excluded.len(),
        m.orphans.len(),
        m.drafts.files.len(),
        m.coverage.coverage_percent
    );
    // every user is either grouped or excluded, and every orphan planted is found
    assert_eq!(members + m.excluded.len(), N);
    assert_eq!(m.orphans.len(), 500);
    assert_eq!(m.coverage.current_entries, st.entries);

    let mut group = c.benchmark_group("mine");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("mine_100k_users_by_department", |b| {
        b.iter(|| {
            let m = pipeline::polc_mine(&bundle, &users, &access, &by);
            black_box(m.coverage.covered)
        })
    });
    group.finish();
}

criterion_group!(benches, mine);
criterion_main!(benches);
