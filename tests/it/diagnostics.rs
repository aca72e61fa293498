//! One case per file under `tests/diagnostics/`: each snapshot holds the source, the
//! diagnostics as the terminal renders them, and the JSON of `polc check --format json`.
//! A case may hold several files: a line `//- file: NAME` starts the next one.

use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::render::{check_json, render_plain};
use salsa::Setter;

fn split_files(name: &str, src: &str) -> Vec<(String, String)> {
    let mut files = vec![(name.to_string(), String::new())];
    for line in src.split_inclusive('\n') {
        if let Some(next) = line.strip_prefix("//- file: ") {
            files.push((next.trim().to_string(), String::new()));
        } else if let Some(last) = files.last_mut() {
            last.1.push_str(line);
        }
    }
    files
}

#[test]
fn diagnostics() {
    insta::glob!(concat!(root!(), "/tests/diagnostics"), "*.pol", |path| {
        let src = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let files = split_files(&name, &src);
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let mut loaded = Loaded::from_sources(&refs);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        loaded.workspace.set_today(&mut loaded.db).to(today);
        let checked = check_bundle(&loaded.db, loaded.workspace);
        let rendered = render_plain(&loaded.db, &checked.diagnostics);
        let json =
            serde_json::to_string_pretty(&check_json(&loaded.db, &checked.diagnostics)).unwrap();
        // The code a case is named after must be among its diagnostics.
        let code = &name[..5];
        assert!(
            checked.diagnostics.iter().any(|d| d.code == code),
            "{name}: expected a {code} diagnostic, got:\n{rendered}"
        );
        insta::assert_snapshot!(format!("{src}\n---------------- rendered (polc check, --today 2026-01-01)\n{rendered}\n---------------- json\n{json}\n"));
    });
}
