//! Replays the fuzz corpus (`fuzz/corpus/*`, kept in the repository, grown by local
//! `cargo fuzz run` sessions and by every crash found) through the whole front end, so a
//! regression on any input the fuzzer ever found shows up in `cargo test`.

#[test]
fn corpus_never_panics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut n = 0;
    for entry in walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let bytes = std::fs::read(entry.path()).unwrap();
        let Ok(src) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let parsed = polc::syntax::parse(src);
        for e in &parsed.errors {
            assert!(
                e.span.end as usize <= src.len(),
                "{}: span out of range",
                entry.path().display()
            );
        }
        let loaded = polc::db::Loaded::from_sources(&[("corpus.pol", src)]);
        let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
        let _ = polc::diagnostics::render::render_plain(&loaded.db, &checked.diagnostics);
        n += 1;
    }
    assert!(
        n >= 10,
        "the corpus should hold at least the seed files, found {n}"
    );
}
