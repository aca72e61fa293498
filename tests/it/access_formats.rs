//! Access exports (docs/commands.md, "Common ground"): the four formats read the same entries, duplicates
//! merge at the highest level, users keep file order, and every malformed export is refused
//! with a message naming the file and the entry.

use polc::check::check_bundle;
use polc::db::Loaded;
use polc::eval::Plan;
use polc::reconcile::access::{parse_access, Access};

fn plan() -> Plan {
    let src = "import \"std/hris\"\nimport \"std/saas\"\npolicy \"P\" { when department == \"Eng\" grant gitlab:group:web (reporter) }\n";
    let loaded = Loaded::from_sources(&[("t.pol", src)]);
    let checked = check_bundle(&loaded.db, loaded.workspace);
    assert!(!checked.has_errors());
    let fields = vec!["user_id".to_string(), "department".to_string()];
    Plan::new(
        checked.bundle.clone(),
        &fields,
        chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
    )
}

/// `user: grant (level)` per entry, in `entries` order, and the users in order.
fn read(text: &str, format: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut plan = plan();
    let a: Access =
        parse_access(text, &format!("a.{format}"), format, &mut plan).map_err(|e| e.to_string())?;
    let entries = a
        .entries
        .iter()
        .map(|e| {
            let g = &plan.ent_text[e.ent];
            match plan.level_name(e.ent, e.level) {
                Some(l) => format!("{}: {g} ({l})", a.user_id(e)),
                None => format!("{}: {g}", a.user_id(e)),
            }
        })
        .collect();
    // held() agrees with entries
    for (u, _) in a.users.iter().enumerate() {
        assert!(a.held(u as u32).all(|e| e.user == u as u32));
    }
    Ok((entries, a.users.clone()))
}

#[test]
fn the_four_formats_read_the_same_entries_in_file_order() {
    let object = r#"{
        "zed": ["gitlab:group:web (reporter)", "zoom:account", "gitlab:group:web (maintainer)"],
        "a\u006dy": ["slack:channel:#eng"]
    }"#;
    let array = r#"[
        {"user_id": "zed", "grant": "gitlab:group:web", "level": "reporter", "source": "gitlab"},
        {"user_id": "zed", "grant": "zoom:account", "level": null},
        {"user_id": "amy", "grant": "slack:channel:#eng"},
        {"user_id": "zed", "grant": "gitlab:group:web (maintainer)"}
    ]"#;
    let jsonl = "{\"user_id\": \"zed\", \"grant\": \"gitlab:group:web\", \"level\": \"reporter\"}\n\n{\"user_id\": \"zed\", \"grant\": \"zoom:account\"}\n{\"user_id\": \"amy\", \"grant\": \"slack:channel:#eng\"}\n{\"user_id\": \"zed\", \"grant\": \"gitlab:group:web\", \"level\": \"maintainer\"}\n";
    let csv = "user_id,grant,level\nzed,gitlab:group:web,reporter\nzed,zoom:account,\namy,slack:channel:#eng,\nzed,gitlab:group:web,maintainer\n";
    let expected = (
        vec![
            "zed: gitlab:group:web (maintainer)".to_string(),
            "zed: zoom:account".to_string(),
            "amy: slack:channel:#eng (member)".to_string(),
        ],
        vec!["zed".to_string(), "amy".to_string()],
    );
    assert_eq!(read(object, "json").unwrap(), expected, "object");
    assert_eq!(read(array, "json").unwrap(), expected, "array");
    assert_eq!(read(jsonl, "jsonl").unwrap(), expected, "jsonl");
    assert_eq!(read(csv, "csv").unwrap(), expected, "csv");
}

#[test]
fn a_grant_listed_twice_keeps_its_first_place_at_the_highest_level() {
    let (entries, _) = read(
        r#"{"u": ["gitlab:group:a (maintainer)", "zoom:account", "gitlab:group:a (guest)", "gitlab:group:a", "gitlab:group:b"]}"#,
        "json",
    )
    .unwrap();
    assert_eq!(
        entries,
        vec![
            "u: gitlab:group:a (maintainer)",
            "u: zoom:account",
            "u: gitlab:group:b (guest)"
        ]
    );
}

#[test]
fn a_user_listed_twice_in_an_object_export_keeps_both_lists() {
    // A JSON object with a repeated key: nothing is dropped (a generic JSON reader keeps
    // only the last list).
    let (entries, users) = read(
        r#"{"u": ["zoom:account"], "v": [], "u": ["gitlab:group:a (maintainer)"]}"#,
        "json",
    )
    .unwrap();
    assert_eq!(
        entries,
        vec!["u: zoom:account", "u: gitlab:group:a (maintainer)"]
    );
    assert_eq!(users, vec!["u"]);
}

#[test]
fn malformed_exports_name_the_file_and_the_entry() {
    let cases: &[(&str, &str, &str)] = &[
        ("{\"u\": [\"zoom:account\"", "json", "a.json:1:21: invalid JSON: EOF while parsing a list"),
        ("{} x", "json", "a.json:1:4: invalid JSON: trailing characters"),
        ("5", "json", "a.json:1:1: invalid type: integer `5`, expected an object (user → grants) or an array of entries"),
        (r#"{"u": "zoom:account"}"#, "json", "a.json:1:20: user `u`: invalid type: string \"zoom:account\", expected a list of grants"),
        (r#"{"u": ["zoom:account", 1]}"#, "json", "a.json:1:24: user `u`, entry 2: invalid type: integer `1`, expected a string such as \"gitlab:group:x (reporter)\""),
        (r#"{"u": ["zoom:account", "zz:thing"]}"#, "json", "a.json: entry 2 of `u`: user `u`, entry `zz:thing`: unknown system `zz`"),
        (r#"[{"grant": "zoom:account"}]"#, "json", "a.json: entry 1: an entry without a string `user_id`"),
        (r#"[{"user_id": "u"}]"#, "json", "a.json: entry 1: user `u`: an entry without a string `grant`"),
        (r#"[{"user_id": 5, "grant": "zoom:account"}]"#, "json", "a.json:1:14: entry 1, field `user_id`: invalid type: integer `5`, expected a string"),
        (r#"[{"user_id": "u", "grant": "gitlab:group:a", "level": 3}]"#, "json", "a.json:1:55: entry 1, field `level`: invalid type: integer `3`, expected a level name (a string) or null"),
        (r#"[{"user_id": "u", "grant": "zoom:account"}, 7]"#, "json", "a.json:1:45: entry 2: invalid type: integer `7`, expected an object with user_id, grant, level"),
        ("{\"user_id\": \"u\", \"grant\": \"zoom:account\"}\n\n[1]\n", "jsonl", "a.jsonl:3:1: invalid type: sequence, expected an object with user_id, grant, level"),
        ("{\"user_id\": \"u\", \"grant\": \"zoom:account\"} 1\n", "jsonl", "a.jsonl:1:43: invalid JSON: trailing characters"),
        ("{\"user_id\": \"u\", \"grant\": \"gitlab:group:a (boss)\"}\n", "jsonl", "a.jsonl:1: user `u`, entry `gitlab:group:a (boss)`: unknown level `boss`"),
        ("user_id,grant\nu,zoom:account\n,zoom:account\n", "csv", "a.csv:3: empty user_id"),
        ("{}", "xml", "a.xml: unknown access format `.xml`"),
    ];
    let mut wrong = Vec::new();
    for (text, format, expected) in cases {
        let err = read(text, format).expect_err(text);
        if !err.starts_with(expected) {
            wrong.push(format!(
                "{text}\n  got:      {err}\n  expected: {expected}…"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
