//! Reading a mapping file (`--mapping`) and applying it: the bytes before the first NUL are
//! the mapping (TOML), the bytes after it a users file, read as CSV, JSON and JSONL through
//! the mapping, against a schema with every attribute type and without a schema. Never
//! panics (a `date_format` with a time field once did); every refusal is a message.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use polc::input::{parse_users, Format, Mapping};

fn schema() -> &'static Option<polc::ir::Schema> {
    static S: OnceLock<Option<polc::ir::Schema>> = OnceLock::new();
    S.get_or_init(|| {
        let src = concat!(
            "import \"std/hris\"\n",
            "schema {\n  level: int?\n  remote: bool?\n  groups: list<string>?\n  review: date?\n}\n",
        );
        let loaded = polc::db::Loaded::from_sources(&[("t.pol", src)]);
        polc::check::check_bundle(&loaded.db, loaded.workspace)
            .bundle
            .schema
            .clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let (mapping, users) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(mapping), Ok(users)) = (std::str::from_utf8(mapping), std::str::from_utf8(users))
    else {
        return;
    };
    let Ok(m) = Mapping::parse(mapping, "m.toml") else {
        return;
    };
    for schema in [schema().as_ref(), None] {
        if m.validate(schema).is_err() {
            continue;
        }
        for format in [Format::Csv, Format::Json, Format::Jsonl] {
            let _ = parse_users(users, "u", format, schema, Some(&m));
        }
    }
});
