//! Tests of the users input layer: the formats, lines, whole-file errors and reading files.
//! Typing is tested in `tests_typing.rs`, mapping files in `tests_mapping.rs`.

use chrono::NaiveDate;

use super::*;
use crate::ir::{Field, Schema, Type, Value};

pub(super) fn field(name: &str, ty: Type, optional: bool) -> Field {
    Field {
        name: name.into(),
        ty,
        optional,
        doc: None,
    }
}

/// The seed's std/hris schema plus a few typed extras.
pub(super) fn schema() -> Schema {
    let e = |m: &[&str]| Type::Enum(m.iter().map(|s| s.to_string()).collect());
    Schema {
        fields: vec![
            field("user_id", Type::String, false),
            field(
                "employment_status",
                e(&["Active", "Inactive", "Leave"]),
                false,
            ),
            field("job_title", Type::String, true),
            field(
                "employment_type",
                e(&["FTE", "Contractor", "Intern", "Temp"]),
                true,
            ),
            field("start_date", Type::Date, true),
            field("level", Type::Int, true),
            field("remote", Type::Bool, true),
            field("groups", Type::List(Box::new(Type::String)), true),
        ],
        key: "user_id".into(),
    }
}

pub(super) fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

pub(super) fn s(x: &str) -> Value {
    Value::Str(x.into())
}

pub(super) fn json(text: &str) -> Users {
    parse_users(text, "u.json", Format::Json, Some(&schema()), None).unwrap()
}

/// The one error of a one-record JSON array.
pub(super) fn error_of(record: &str) -> RecordError {
    let users = json(&format!("[{record}]"));
    assert!(users.records.is_empty(), "{:?}", users.records);
    assert_eq!(users.errors.len(), 1);
    users.errors[0].clone()
}

/// The value of `field` in a one-record JSON array.
pub(super) fn value_of(record: &str, field: &str) -> Option<Value> {
    let users = json(&format!("[{record}]"));
    assert!(users.errors.is_empty(), "{:?}", users.errors);
    users.get(&users.records[0], field).cloned()
}

fn load_err(text: &str, name: &str, format: Format) -> String {
    parse_users(text, name, format, Some(&schema()), None)
        .unwrap_err()
        .0
}

pub(super) const A: &str = r#""user_id": "a", "employment_status": "Active""#;

#[test]
fn json_array_lines_and_order() {
    let text = "[\n  {\"user_id\": \"a\",\n   \"employment_status\": \"Active\"},\n\n  {\"user_id\": \"b\", \"employment_status\": \"Leave\", \"x\": [\"]\", \"{\\\"\"]}\n,{\"user_id\": \"c\", \"employment_status\": \"Inactive\"}]";
    let users = json(text);
    assert!(users.errors.is_empty(), "{:?}", users.errors);
    let got: Vec<_> = users
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.index, r.line))
        .collect();
    assert_eq!(got, [("a", 0, 2), ("b", 1, 5), ("c", 2, 6)]);
    assert_eq!(
        users.fields,
        schema()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(users.key, "user_id");
    assert_eq!(
        users.get(&users.records[1], "employment_status"),
        Some(&s("Leave"))
    );
    assert_eq!(users.slot("job_title"), Some(2));
    assert_eq!(users.get(&users.records[1], "job_title"), None);
}

#[test]
fn json_users_object() {
    let text = "{\"meta\": {\"users\": [1, 2]}, \"count\": [3],\n \"users\": [\n {\"user_id\": \"a\", \"employment_status\": \"Active\"},\n {\"user_id\": \"b\", \"employment_status\": \"Active\"}]}";
    let users = json(text);
    let got: Vec<_> = users
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.line))
        .collect();
    assert_eq!(got, [("a", 3), ("b", 4)]);
    assert!(json("{\"users\": []}").records.is_empty());
}

#[test]
fn jsonl_skips_blank_lines() {
    let text =
        format!("{{{A}}}\n\n   \n{{\"user_id\": \"b\", \"employment_status\": \"Active\"}}\r\n");
    let users = parse_users(&text, "u.jsonl", Format::Jsonl, Some(&schema()), None).unwrap();
    let got: Vec<_> = users
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.index, r.line))
        .collect();
    assert_eq!(got, [("a", 0, 1), ("b", 1, 4)]);
}

#[test]
fn csv_cells() {
    let text = "\u{feff}user_id, employment_status,level,remote,groups,start_date,extra\n a ,Active,3,TRUE,x; y;;z,2024-11-24,zzz\nb,Leave,,,,,\n";
    let users = parse_users(text, "u.csv", Format::Csv, Some(&schema()), None).unwrap();
    assert!(users.errors.is_empty(), "{:?}", users.errors);
    let (a, b) = (&users.records[0], &users.records[1]);
    assert_eq!((a.id.as_str(), a.line, b.line), ("a", 2, 3));
    assert_eq!(users.get(a, "level"), Some(&Value::Int(3)));
    assert_eq!(users.get(a, "remote"), Some(&Value::Bool(true)));
    assert_eq!(
        users.get(a, "groups"),
        Some(&Value::List(vec![s("x"), s("y"), s("z")]))
    );
    assert_eq!(users.get(a, "start_date"), Some(&date(2024, 11, 24)));
    // An empty cell is absent.
    assert_eq!(b.values[4..], [None, None, None, None]);
}

#[test]
fn whole_file_errors() {
    let e = load_err("[\n  {\"user_id\": \"a\",,}\n]", "u.json", Format::Json);
    assert!(e.starts_with("u.json:2:19: invalid JSON: "), "{e}");
    let e = load_err(
        "[\n  {\"user_id\": \"a\"},\n  \"b\"\n]",
        "u.json",
        Format::Json,
    );
    assert_eq!(e, "u.json:3: record 2 is not a JSON object (found \"b\")");
    let e = load_err("\"users\"", "u.json", Format::Json);
    assert!(e.starts_with("u.json:1:7: not a users file: invalid type: string \"users\", expected an array of user records"), "{e}");
    let e = load_err("{\"people\": []}", "u.json", Format::Json);
    assert!(
        e.starts_with("u.json:1: not a users file: an object without a \"users\" key"),
        "{e}"
    );
    let e = load_err("{\"users\": {}}", "u.json", Format::Json);
    assert!(e.contains("expected an array of user records"), "{e}");
    let e = load_err("", "u.json", Format::Json);
    assert!(e.starts_with("u.json:1: invalid JSON: EOF"), "{e}");
    let e = load_err("[] []", "u.json", Format::Json);
    assert!(
        e.starts_with("u.json:1:4: invalid JSON: trailing characters"),
        "{e}"
    );
    let e = load_err(
        &format!("{{{A}}}\n{{\"user_id\": \n"),
        "u.jsonl",
        Format::Jsonl,
    );
    assert!(e.starts_with("u.jsonl:2:"), "{e}");
    let e = load_err(&format!("{{{A}}}\n[1]\n"), "u.jsonl", Format::Jsonl);
    assert_eq!(
        e,
        "u.jsonl:2: expected a user record (a JSON object), found a list"
    );
    let e = load_err(
        "user_id,employment_status\na,Active\nb,Active,extra\n",
        "u.csv",
        Format::Csv,
    );
    assert_eq!(e, "u.csv:3: this row has 3 cells, but the header has 2");
    let e = load_err("user_id,employment_status,user_id\n", "u.csv", Format::Csv);
    assert_eq!(e, "u.csv:1: column `user_id` appears twice in the header");
    let e = load_err("userid,employment_status\n", "u.csv", Format::Csv);
    assert_eq!(
        e,
        "u.csv:1: the header has no column `user_id` (the key) (did you mean `userid`?)"
    );
    let e = load_err("user_id,status\n", "u.csv", Format::Csv);
    assert_eq!(
        e,
        "u.csv:1: the header has no column `employment_status` (a required field)"
    );
}

#[test]
fn formats_from_paths() {
    use std::path::Path;
    assert_eq!(
        Format::from_path(Path::new("a/u.json")).unwrap(),
        Format::Json
    );
    assert_eq!(
        Format::from_path(Path::new("u.JSONL")).unwrap(),
        Format::Jsonl
    );
    assert_eq!(
        Format::from_path(Path::new("u.ndjson")).unwrap(),
        Format::Jsonl
    );
    assert_eq!(Format::from_path(Path::new("u.csv")).unwrap(), Format::Csv);
    let e = Format::from_path(Path::new("u.txt")).unwrap_err().0;
    assert_eq!(
        e,
        "u.txt: unknown users file format `.txt`: use .json, .jsonl, .ndjson or .csv"
    );
    assert!(Format::from_path(Path::new("users"))
        .unwrap_err()
        .0
        .starts_with("users: unknown users file format:"));
}

#[test]
fn load_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u.csv");
    std::fs::write(&p, "user_id,employment_status\na,Active\n").unwrap();
    let users = load_users(&p, Some(&schema()), None).unwrap();
    assert_eq!(users.records[0].id, "a");
    let p = dir.path().join("u.json");
    std::fs::write(&p, b"[{\"user_id\": \"a\xff\"}]").unwrap();
    let e = load_users(&p, None, None).unwrap_err().0;
    assert!(
        e.ends_with("u.json:1:16: not UTF-8 text (invalid byte at offset 15)"),
        "{e}"
    );
    let e = load_users(&dir.path().join("none.json"), None, None)
        .unwrap_err()
        .0;
    assert!(e.contains("none.json: no such file or directory"), "{e}");
    let e = load_users(&dir.path().join("u.xml"), None, None)
        .unwrap_err()
        .0;
    assert!(e.contains("unknown users file format `.xml`"), "{e}");
}

#[test]
fn record_lines_scanner() {
    use super::users::record_lines;
    assert_eq!(record_lines("[]"), Vec::<usize>::new());
    assert_eq!(
        record_lines("[1,\n2 ,\n\n[3, 4], {\"a\": [5]}]"),
        [1, 2, 4, 4]
    );
    assert_eq!(record_lines("[\"]\\\"\",\n {\"users\": [1]}]"), [1, 2]);
    assert_eq!(
        record_lines("{\"x\": \"users\", \"y\": [1],\n \"users\"\n : [ {},\n{} ] }"),
        [3, 4]
    );
}

/// A header of 200,000 columns: checking it for duplicates was quadratic (52 s).
#[test]
fn a_wide_csv_header_is_checked_in_linear_time() {
    let n = 200_000;
    let mut header = String::from("user_id,employment_status");
    let mut row = String::from("a,Active");
    for i in 0..n {
        header.push_str(&format!(",c{i}"));
        row.push(',');
    }
    let text = format!("{header}\n{row}\n");
    let users = parse_users(&text, "u.csv", Format::Csv, Some(&schema()), None).unwrap();
    assert_eq!(users.records.len(), 1);
    let dup = format!("{header},c{}\n{row},\n", n - 1);
    let e = parse_users(&dup, "u.csv", Format::Csv, Some(&schema()), None).unwrap_err();
    assert!(
        e.0.contains(&format!("column `c{}` appears twice", n - 1)),
        "{}",
        e.0
    );
}

#[test]
fn a_key_given_twice_is_refused_with_the_line_and_the_key() {
    let e = |text: &str, format: Format| {
        parse_users(text, "u", format, Some(&schema()), None)
            .unwrap_err()
            .0
    };
    let twice = "given twice in one object (which value holds would be a guess)";
    // the last value used to win silently
    let rec = "{\"user_id\": \"a\", \"employment_status\": \"Inactive\",\n  \"employment_status\": \"Active\"}";
    assert_eq!(
        e(&format!("[\n{rec}]"), Format::Json),
        format!("u:3:21: key \"employment_status\" {twice}")
    );
    assert_eq!(
        e(
            &format!("{{\"user_id\": \"z\"}}\n{}", rec.replace('\n', "")),
            Format::Jsonl
        ),
        format!("u:2:70: key \"employment_status\" {twice}")
    );
    // the records array itself, and a key of an ignored value
    assert_eq!(
        e(
            "{\"users\": [],\n \"users\": [{\"user_id\": \"a\"}]}",
            Format::Json
        ),
        format!("u:2:8: key \"users\" {twice}")
    );
    assert!(e(
        "[{\"user_id\": \"a\", \"x\": {\"k\": 1, \"k\": 2}}]",
        Format::Json
    )
    .contains("key \"k\" given twice"));
    // a wide record (the hashed check) with and without a repeated key
    let wide: String = (0..40).map(|i| format!(", \"c{i}\": {i}")).collect();
    let ok = format!("[{{\"user_id\": \"a\", \"employment_status\": \"Active\"{wide}}}]");
    assert_eq!(json(&ok).records.len(), 1);
    let bad = ok.replace("}]", ", \"c17\": 0}]");
    assert!(e(&bad, Format::Json).contains("key \"c17\" given twice"));
    // an escaped key is the same key
    assert!(e(
        "[{\"user_id\": \"a\", \"user\\u005fid\": \"b\"}]",
        Format::Json
    )
    .contains("key \"user_id\" given twice"));
}
