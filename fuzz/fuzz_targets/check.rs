//! The whole front end (parse, resolve, type-check, lint) on arbitrary text: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        let loaded = polc::db::Loaded::from_sources(&[("fuzz.pol", src)]);
        let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
        let _ = polc::diagnostics::render::render_plain(&loaded.db, &checked.diagnostics);
    }
});
