//! Replays the `mapping` fuzz target's corpus (`fuzz/corpus/mapping/`, see docs/fuzzing.md)
//! in `cargo test`: each file is a mapping, a NUL byte, then a users file; loading it must
//! never panic (a `date_format` with a time field once did, in every command that takes
//! `--mapping`), and every refusal is a message naming the mapping file.

use super::*;

fn schema() -> Option<ir::Schema> {
    let src = concat!(
        "import \"std/hris\"\n",
        "schema {\n  level: int?\n  remote: bool?\n  groups: list<string>?\n  review: date?\n}\n",
    );
    let loaded = crate::db::Loaded::from_sources(&[("t.pol", src)]);
    crate::check::check_bundle(&loaded.db, loaded.workspace)
        .bundle
        .schema
        .clone()
}

#[test]
fn mapping_corpus_never_panics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/mapping");
    let schema = schema();
    assert!(schema.is_some());
    let (mut files, mut mapped, mut refused) = (0, 0, 0);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        files += 1;
        let (m, u) = match data.iter().position(|&b| b == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (&data[..], &[][..]),
        };
        let (Ok(m), Ok(u)) = (std::str::from_utf8(m), std::str::from_utf8(u)) else {
            continue;
        };
        let m = match Mapping::parse(m, "m.toml") {
            Ok(m) => m,
            Err(e) => {
                assert!(e.0.starts_with("m.toml:"), "{}: {e}", path.display());
                refused += 1;
                continue;
            }
        };
        for schema in [schema.as_ref(), None] {
            if let Err(e) = m.validate(schema) {
                assert!(e.0.starts_with("m.toml"), "{}: {e}", path.display());
                continue;
            }
            for format in [Format::Csv, Format::Json, Format::Jsonl] {
                if let Ok(users) = parse_users(u, "u", format, schema, Some(&m)) {
                    mapped += usize::from(!users.records.is_empty());
                }
            }
        }
    }
    assert!(files >= 10, "the corpus holds its seeds, found {files}");
    assert!(refused >= 5, "the time-field formats are refused");
    assert!(mapped >= 5, "the seeds map users in their own format");
}
