//! Tests of typing: conversions by schema type, record errors (wrong type, enum member,
//! required field, key, duplicate), the untyped mode and `record_from_json`.

use super::tests::{date, error_of, json, s, schema, value_of, A};
use super::*;
use crate::ir::Value;

#[test]
fn typed_conversions() {
    let v = |extra: &str, f: &str| value_of(&format!("{{{A}, {extra}}}"), f);
    assert_eq!(v(r#""job_title": "SE""#, "job_title"), Some(s("SE")));
    assert_eq!(v(r#""job_title": 42"#, "job_title"), Some(s("42")));
    assert_eq!(v(r#""level": 7"#, "level"), Some(Value::Int(7)));
    assert_eq!(v(r#""level": "-7""#, "level"), Some(Value::Int(-7)));
    assert_eq!(v(r#""remote": false"#, "remote"), Some(Value::Bool(false)));
    assert_eq!(
        v(r#""remote": "False""#, "remote"),
        Some(Value::Bool(false))
    );
    assert_eq!(v(r#""remote": "true""#, "remote"), Some(Value::Bool(true)));
    assert_eq!(
        v(r#""start_date": "2024-02-29""#, "start_date"),
        Some(date(2024, 2, 29))
    );
    assert_eq!(
        v(r#""employment_type": "Temp""#, "employment_type"),
        Some(s("Temp"))
    );
    assert_eq!(
        v(r#""groups": ["a", "b"]"#, "groups"),
        Some(Value::List(vec![s("a"), s("b")]))
    );
    assert_eq!(v(r#""groups": []"#, "groups"), Some(Value::List(vec![])));
    // null or absent optional fields: None.
    assert_eq!(v(r#""level": null"#, "level"), None);
    assert_eq!(v(r#""other": 1"#, "level"), None);
}

#[test]
fn wrong_types() {
    let e = |extra: &str| error_of(&format!("{{{A}, {extra}}}")).message;
    let e0 = error_of(&format!("{{{A}, \"start_date\": \"soon\"}}"));
    assert_eq!(
        e0.message,
        "field `start_date`: expected a date, found \"soon\""
    );
    assert_eq!(
        (
            e0.user_id.as_deref(),
            e0.field.as_deref(),
            e0.line,
            e0.index
        ),
        (Some("a"), Some("start_date"), 1, 0)
    );
    assert_eq!(
        e0.to_string(),
        "line 1 (user `a`): field `start_date`: expected a date, found \"soon\""
    );
    assert_eq!(
        e(r#""start_date": "2023-02-29""#),
        "field `start_date`: expected a date, found \"2023-02-29\""
    );
    assert_eq!(
        e(r#""start_date": 20240101"#),
        "field `start_date`: expected a date, found 20240101"
    );
    assert_eq!(
        e(r#""level": "three""#),
        "field `level`: expected an integer, found \"three\""
    );
    assert_eq!(
        e(r#""level": 2.5"#),
        "field `level`: expected an integer, found 2.5"
    );
    assert_eq!(
        e(r#""remote": "yes""#),
        "field `remote`: expected true or false, found \"yes\""
    );
    assert_eq!(
        e(r#""job_title": true"#),
        "field `job_title`: expected a string, found true"
    );
    assert_eq!(
        e(r#""job_title": {"a": 1}"#),
        "field `job_title`: expected a string, found an object"
    );
    assert_eq!(
        e(r#""groups": "a""#),
        "field `groups`: expected a list (list<string>), found \"a\""
    );
    assert_eq!(
        e(r#""groups": ["a", null]"#),
        "field `groups`: list element 2: null"
    );
    assert_eq!(
        e(r#""groups": ["a", [1]]"#),
        "field `groups`: list element 2: expected a string, found a list"
    );
}

#[test]
fn enum_members() {
    let e = error_of(r#"{"user_id": "a", "employment_status": "active"}"#);
    assert_eq!(e.message, "field `employment_status`: expected one of Active, Inactive, Leave, found \"active\" (did you mean \"Active\"?)");
    let e = error_of(r#"{"user_id": "a", "employment_status": "Retired"}"#);
    assert_eq!(
        e.message,
        "field `employment_status`: expected one of Active, Inactive, Leave, found \"Retired\""
    );
}

#[test]
fn required_fields() {
    let e = error_of(r#"{"user_id": "a"}"#);
    assert_eq!(
        (e.field.as_deref(), e.message.as_str()),
        (
            Some("employment_status"),
            "field `employment_status`: required, but missing"
        )
    );
    let e = error_of(r#"{"user_id": "a", "employment_status": null}"#);
    assert_eq!(e.message, "field `employment_status`: required, but null");
    let csv = "user_id,employment_status\na,\n";
    let users = parse_users(csv, "u.csv", Format::Csv, Some(&schema()), None).unwrap();
    assert_eq!(
        users.errors[0].message,
        "field `employment_status`: required, but missing"
    );
}

#[test]
fn key_errors() {
    let e = error_of(r#"{"employment_status": "Active"}"#);
    assert_eq!(
        (e.user_id.as_deref(), e.field.as_deref()),
        (None, Some("user_id"))
    );
    assert_eq!(
        e.message,
        "field `user_id`: missing: every record needs its key (the user id)"
    );
    assert_eq!(
        e.to_string(),
        "line 1 (record 1): field `user_id`: missing: every record needs its key (the user id)"
    );
    let e = error_of(r#"{"user_id": "  ", "employment_status": "Active"}"#);
    assert_eq!(
        e.message,
        "field `user_id`: empty: every record needs its key (the user id)"
    );
    let e = error_of(r#"{"user_id": 12, "employment_status": "Active"}"#);
    assert_eq!(
        e.message,
        "field `user_id`: the key must be a string, found 12"
    );
    let e = error_of(r#"{"user_id": null, "employment_status": "Active"}"#);
    assert_eq!(
        e.message,
        "field `user_id`: null: every record needs its key (the user id)"
    );
}

#[test]
fn duplicates_and_bad_records_do_not_stop_the_others() {
    let text = format!(
        "[{{{A}}},\n{{\"user_id\": \"b\", \"employment_status\": \"Active\", \"level\": \"x\"}},\n{{{A}, \"level\": 2}},\n{{\"user_id\": \"b\", \"employment_status\": \"Active\"}},\n{{\"user_id\": \"c\", \"employment_status\": \"Leave\"}}]"
    );
    let users = json(&text);
    let ids: Vec<_> = users
        .records
        .iter()
        .map(|r| (r.id.as_str(), r.index))
        .collect();
    assert_eq!(ids, [("a", 0), ("c", 4)]);
    let errs: Vec<_> = users
        .errors
        .iter()
        .map(|e| (e.index, e.line, e.user_id.as_deref().unwrap()))
        .collect();
    assert_eq!(errs, [(1, 2, "b"), (2, 3, "a"), (3, 4, "b")]);
    assert_eq!(
        users.errors[1].message,
        "field `user_id`: duplicate user id \"a\" (its first record is at line 1)"
    );
    // The first record of `b` was bad; the second is still a duplicate of it.
    assert!(users.errors[2]
        .message
        .contains("duplicate user id \"b\" (its first record is at line 2)"));
    // The kept record is the first one.
    assert_eq!(users.get(&users.records[0], "level"), None);
}

#[test]
fn untyped_keeps_json_types() {
    let text = r#"[{"user_id": "a", "dept": "Sales", "level": 3, "remote": true, "groups": ["x", "y"], "start": "2024-11-24"},
                   {"user_id": "b", "dept": "Eng", "team": "Platform", "score": 1.5, "level": null}]"#;
    let users = parse_users(text, "u.json", Format::Json, None, None).unwrap();
    assert!(users.errors.is_empty(), "{:?}", users.errors);
    assert_eq!(users.key, "user_id");
    assert_eq!(
        users.fields,
        ["user_id", "dept", "level", "remote", "groups", "start", "team", "score"]
    );
    let (a, b) = (&users.records[0], &users.records[1]);
    assert_eq!(a.values.len(), 8);
    assert_eq!(users.get(a, "level"), Some(&Value::Int(3)));
    assert_eq!(users.get(a, "remote"), Some(&Value::Bool(true)));
    assert_eq!(
        users.get(a, "groups"),
        Some(&Value::List(vec![s("x"), s("y")]))
    );
    assert_eq!(users.get(a, "start"), Some(&s("2024-11-24")));
    assert_eq!(users.get(a, "team"), None);
    assert_eq!(users.get(b, "team"), Some(&s("Platform")));
    assert_eq!(users.get(b, "score"), Some(&s("1.5")));
    assert_eq!(users.get(b, "level"), None);
    let bad = parse_users(
        r#"[{"user_id": "a", "x": {"y": 1}}, {"dept": "Sales"}]"#,
        "u.json",
        Format::Json,
        None,
        None,
    )
    .unwrap();
    let msgs: Vec<_> = bad.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "field `x`: expected a string, number, true/false or list, found an object",
            "field `user_id`: missing: every record needs its key (the user id)"
        ]
    );
}

#[test]
fn untyped_csv_is_text() {
    let users = parse_users(
        "dept,user_id,level\nSales,a,3\n,b,\n",
        "u.csv",
        Format::Csv,
        None,
        None,
    )
    .unwrap();
    assert_eq!(users.fields, ["dept", "user_id", "level"]);
    assert_eq!(
        users.records[0].values,
        [Some(s("Sales")), Some(s("a")), Some(s("3"))]
    );
    assert_eq!(users.records[1].values, [None, Some(s("b")), None]);
}

#[test]
fn record_from_json_typed_and_untyped() {
    let v: serde_json::Value = serde_json::from_str(r#"{"event": "employee.hired", "user_id": "n", "employment_status": "Active", "start_date": "2025-01-02", "level": 2}"#).unwrap();
    let obj = v.as_object().unwrap();
    let sch = schema();
    let fields: Vec<String> = sch.fields.iter().map(|f| f.name.clone()).collect();
    let r = record_from_json(obj, &fields, Some(&sch), 7, 3).unwrap();
    assert_eq!((r.id.as_str(), r.index, r.line), ("n", 7, 3));
    assert_eq!(r.values[4], Some(date(2025, 1, 2)));
    assert_eq!(r.values[5], Some(Value::Int(2)));
    let fields = vec!["user_id".to_string(), "level".to_string()];
    let r = record_from_json(obj, &fields, None, 0, 1).unwrap();
    assert_eq!(r.values, [Some(s("n")), Some(Value::Int(2))]);
    let v: serde_json::Value =
        serde_json::from_str(r#"{"user_id": "n", "employment_status": "Gone"}"#).unwrap();
    let e = record_from_json(
        v.as_object().unwrap(),
        &sch.fields
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>(),
        Some(&sch),
        0,
        9,
    )
    .unwrap_err();
    assert_eq!(
        (e.user_id.as_deref(), e.line, e.field.as_deref()),
        (Some("n"), 9, Some("employment_status"))
    );
}
