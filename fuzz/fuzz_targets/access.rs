//! Reading an access export (`polc drift`, `plan`, `mine`, `impact`) from arbitrary text in
//! each format, against the seed's bundle: never panics; an error is a message.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

fn bundle() -> &'static Arc<polc::ir::Bundle> {
    static B: OnceLock<Arc<polc::ir::Bundle>> = OnceLock::new();
    B.get_or_init(|| {
        let src = concat!(
            "import \"std/hris\"\nimport \"std/saas\"\n",
            "policy \"P\" { when department == \"Eng\" grant gitlab:group:web (reporter) }\n"
        );
        let loaded = polc::db::Loaded::from_sources(&[("t.pol", src)]);
        polc::check::check_bundle(&loaded.db, loaded.workspace).bundle.clone()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fields = vec!["user_id".to_string(), "department".to_string()];
    let at = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    for format in ["json", "jsonl", "csv"] {
        let mut plan = polc::eval::Plan::new(Arc::clone(bundle()), &fields, at);
        let _ = polc::reconcile::access::parse_access(text, "a", format, &mut plan);
    }
});
