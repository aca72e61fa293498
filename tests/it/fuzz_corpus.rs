//! Replays the fuzz corpus (`fuzz/corpus/*`, kept in the repository, grown by local
//! `cargo fuzz run` sessions and by every crash found): `parse/` through the whole front
//! end, `access/` through the access-export reader in every format, so a regression on any
//! input the fuzzer ever found shows up in `cargo test`.

use std::sync::Arc;

fn corpus(dir: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let root = std::path::Path::new(root!()).join("fuzz/corpus").join(dir);
    walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

#[test]
fn access_corpus_never_panics() {
    let src = "import \"std/hris\"\nimport \"std/saas\"\npolicy \"P\" { when department == \"Eng\" grant gitlab:group:web (reporter) }\n";
    let loaded = polc::db::Loaded::from_sources(&[("t.pol", src)]);
    let bundle = polc::check::check_bundle(&loaded.db, loaded.workspace)
        .bundle
        .clone();
    let fields = vec!["user_id".to_string(), "department".to_string()];
    let at = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let files = corpus("access");
    let mut read = 0;
    for (path, bytes) in &files {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        for format in ["json", "jsonl", "csv"] {
            let mut plan = polc::eval::Plan::new(Arc::clone(&bundle), &fields, at);
            match polc::reconcile::access::parse_access(text, "a", format, &mut plan) {
                Ok(a) => read += usize::from(!a.entries.is_empty()),
                Err(e) => assert!(
                    !e.to_string().is_empty(),
                    "{}: an empty message",
                    path.display()
                ),
            }
        }
    }
    assert!(files.len() >= 4, "the access corpus holds its seeds");
    assert!(
        read >= 3,
        "the seeds read without error in their own format"
    );
}

#[test]
fn corpus_never_panics() {
    let mut n = 0;
    for (path, bytes) in corpus("parse") {
        let Ok(src) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let parsed = polc::syntax::parse(src);
        for e in &parsed.errors {
            assert!(
                e.span.end as usize <= src.len(),
                "{}: span out of range",
                path.display()
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
