//! Tests of mapping files: columns, values, rules, date formats, validation.

use super::tests::{date, s, schema};
use super::*;
use crate::ir::Value;

const HR: &str = r#"
date_format = "%m/%d/%Y"
[columns]
user_id = "UserID"
employment_status = "WorkerStatus"
employment_type = "WorkerType"
job_title = "JobTitle"
start_date = "HireDate"
[values.employment_type]
Employee = "FTE"
Casual = "Temp"
[[rules]]
when = { OnLeave = "True", WorkerStatus = "Active" }
set = { employment_status = "Leave" }
[[rules]]
when = { JobTitle = ["Intern", "Trainee"], Note = "" }
set = { employment_type = "Intern", job_title = "Trainee" }
"#;

const CSV: &str = "UserID,WorkerStatus,WorkerType,JobTitle,HireDate,OnLeave,Note,Salary
E1,Active,Employee,Director,03/09/2017,True,,100
E2,Inactive,Contractor,Intern,12/31/2020,True,x,
E3,Active,Casual,Intern,1/2/2021,False,,
E4,Active,Freelancer,Dev,01/02/2021,False,,
E5,Active,Employee,Dev,2021-01-02,False,,
";

fn mapping(text: &str) -> Mapping {
    Mapping::parse(text, "map.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn hr_users() -> Users {
    parse_users(
        CSV,
        "hr.csv",
        Format::Csv,
        Some(&schema()),
        Some(&mapping(HR)),
    )
    .unwrap()
}

fn err(text: &str) -> String {
    match Mapping::parse(text, "map.toml") {
        Err(e) => e.0,
        Ok(m) => m.validate(Some(&schema())).unwrap_err().0,
    }
}

#[test]
fn parses_in_file_order() {
    let m = mapping(HR);
    assert_eq!(m.date_format.as_deref(), Some("%m/%d/%Y"));
    let attrs: Vec<_> = m
        .columns
        .iter()
        .map(|(k, c)| (k.name.as_str(), k.line, c.as_str()))
        .collect();
    assert_eq!(attrs[0], ("user_id", 4, "UserID"));
    assert_eq!(attrs[4], ("start_date", 8, "HireDate"));
    assert_eq!(m.values[0].0.name, "employment_type");
    assert_eq!(m.values[0].1.len(), 2);
    assert_eq!(m.rules.len(), 2);
    assert_eq!(m.rules[1].when[0].1, ["Intern", "Trainee"]);
    assert_eq!(m.rules[1].when[1].1, [""]);
    m.validate(Some(&schema())).unwrap();
}

#[test]
fn columns_values_rules_dates() {
    let users = hr_users();
    let get = |id: &str, f: &str| {
        users
            .get(users.records.iter().find(|r| r.id == id).unwrap(), f)
            .cloned()
    };
    // Columns renamed, dates converted from %m/%d/%Y, Employee → FTE, on leave → Leave.
    assert_eq!(get("E1", "employment_type"), Some(s("FTE")));
    assert_eq!(get("E1", "employment_status"), Some(s("Leave")));
    assert_eq!(get("E1", "start_date"), Some(date(2017, 3, 9)));
    assert_eq!(get("E1", "job_title"), Some(s("Director")));
    // Not mapped: absent, even though a column has the same meaning.
    assert_eq!(get("E1", "level"), None);
    // Inactive stays Inactive; the second rule needs an empty Note.
    assert_eq!(get("E2", "employment_status"), Some(s("Inactive")));
    assert_eq!(get("E2", "employment_type"), Some(s("Contractor")));
    assert_eq!(get("E2", "job_title"), Some(s("Intern")));
    // A single-digit month and day parse; Casual → Temp, then the rule overrides to Intern.
    assert_eq!(get("E3", "start_date"), Some(date(2021, 1, 2)));
    assert_eq!(get("E3", "employment_type"), Some(s("Intern")));
    assert_eq!(get("E3", "job_title"), Some(s("Trainee")));
    // A value not in [values] passes through, then fails the enum; an ISO date fails %m/%d/%Y.
    let msgs: Vec<_> = users
        .errors
        .iter()
        .map(|e| (e.user_id.as_deref().unwrap(), e.line, e.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        [
            ("E4", 5, "field `employment_type`: expected one of FTE, Contractor, Intern, Temp, found \"Freelancer\""),
            ("E5", 6, "field `start_date`: expected a date written `%m/%d/%Y` (the mapping's date_format), found \"2021-01-02\""),
        ]
    );
    assert_eq!(users.records.len() + users.errors.len(), 5);
}

#[test]
fn mapping_json_input() {
    let text = r#"[{"UserID": "E1", "WorkerStatus": "Active", "WorkerType": "Employee", "OnLeave": true, "HireDate": "1/2/2020", "job_title": "ignored"}]"#;
    let users = parse_users(
        text,
        "hr.json",
        Format::Json,
        Some(&schema()),
        Some(&mapping(HR)),
    )
    .unwrap();
    assert!(users.errors.is_empty(), "{:?}", users.errors);
    let r = &users.records[0];
    // `OnLeave: true` reads as the text "true", not "True": the rule does not hold.
    assert_eq!(users.get(r, "employment_status"), Some(&s("Active")));
    assert_eq!(users.get(r, "employment_type"), Some(&s("FTE")));
    assert_eq!(users.get(r, "start_date"), Some(&date(2020, 1, 2)));
    assert_eq!(users.get(r, "job_title"), None);
}

#[test]
fn mapping_without_schema() {
    let text = "[columns]\nuser_id = \"UserID\"\ndept = \"Department\"\nhired = \"HireDate\"\n[[rules]]\nwhen = { Department = \"R&D\" }\nset = { dept = \"Engineering\", level = 3 }\n";
    let m = mapping(&format!("date_format = \"%d.%m.%Y\"\n{text}"));
    let csv = "HireDate,Department,UserID\n24.11.2024,R&D,a\n,Sales,b\n";
    let users = parse_users(csv, "hr.csv", Format::Csv, None, Some(&m)).unwrap();
    assert_eq!(users.fields, ["user_id", "dept", "hired", "level"]);
    assert_eq!(
        users.records[0].values,
        [
            Some(s("a")),
            Some(s("Engineering")),
            Some(s("2024-11-24")),
            Some(Value::Int(3))
        ]
    );
    assert_eq!(
        users.records[1].values,
        [Some(s("b")), Some(s("Sales")), None, None]
    );
}

#[test]
fn validation_errors() {
    assert_eq!(err("[columns]\nuser_id = \"Id\"\njobtitle = \"Title\"\n"), "map.toml:3:1: [columns]: `jobtitle` is not an attribute of the schema (did you mean `job_title`?)");
    assert_eq!(
        err("[columns]\njob_title = \"Title\"\n"),
        "map.toml: [columns] maps no column to the key `user_id`: add `user_id = \"<column>\"`"
    );
    assert_eq!(
        err("[columns]\nuser_id = \"Id\"\nemployment_type = \"T\"\n[values.employment_type]\nEmployee = \"FTEE\"\n"),
        "map.toml:5:1: [values.employment_type] `Employee`: expected one of FTE, Contractor, Intern, Temp, found \"FTEE\""
    );
    assert_eq!(
        err("[columns]\nuser_id = \"Id\"\n[values.job_title]\nx = \"y\"\n"),
        "map.toml:3:9: [values.job_title]: `job_title` has no column in [columns]"
    );
    assert_eq!(
        err("[columns]\nuser_id = \"Id\"\n[values.titel]\nx = \"y\"\n"),
        "map.toml:3:9: [values.titel]: `titel` is not an attribute of the schema"
    );
    assert_eq!(
        err("[columns]\nuser_id = \"Id\"\n[[rules]]\nwhen = { A = \"1\" }\nset = { start_date = \"soon\" }\n"),
        "map.toml:5:9: rule `set` `start_date`: expected a date, found \"soon\""
    );
    assert_eq!(
        err("[columns]\nuser_id = \"Id\"\n[[rules]]\nwhen = { A = \"1\" }\nset = { mood = \"Leave\" }\n"),
        "map.toml:5:9: rule `set`: `mood` is not an attribute of the schema"
    );
    assert_eq!(
        err("[[rules]]\nwhen = { A = { b = 1 } }\nset = {}\n"),
        "map.toml:2:10: `when`: the value of column `A` must be a string or a list of strings"
    );
    assert_eq!(err("date_format = \"%m/%Y\"\n"), "map.toml:1:15: date_format `%m/%Y` does not write a whole date (it needs the year, month and day, e.g. \"%m/%d/%Y\")");
    // Time and time zone fields are refused with their text, never a panic.
    for (format, field) in [
        ("%Y-%m-%d %H:%M", "%H"),
        ("%T %d/%m/%Y", "%T"),
        ("%Y-%m-%d%z", "%z"),
        ("%Y-%m-%d %::z", "%::z"),
        ("%F %p", "%p"),
        ("%s", "%s"),
        ("%+", "%+"),
        ("%c", "%c"),
        ("%d.%m.%Y %.3f", "%.3f"),
        ("%Y-%m-%d %Z", "%Z"),
        ("%Y-%m-%d %-I", "%-I"),
    ] {
        assert_eq!(
            err(&format!("date_format = \"{format}\"\n")),
            format!("map.toml:1:15: date_format `{format}` has a time or time zone field `{field}`: it must describe a date only (e.g. \"%m/%d/%Y\")"),
        );
    }
    // Every date field still works, with flags.
    for ok in [
        "%F",
        "%-m/%-d/%Y",
        "%d %B %Y",
        "%Y%m%d",
        "%G-W%V-%u",
        "%Y-%j",
        "%v",
        "%D",
        "%e %b %Y %%",
    ] {
        mapping(&format!(
            "date_format = \"{ok}\"\n[columns]\nuser_id = \"U\"\n"
        ));
    }
    assert_eq!(
        err("date_format = \"%Q\"\n"),
        "map.toml:1:15: date_format `%Q` is not a chrono format (e.g. \"%m/%d/%Y\")"
    );
    let e = err("colums = {}\n");
    assert!(
        e.starts_with("map.toml:1:1: unknown field `colums`, expected one of"),
        "{e}"
    );
    let e = err("[columns]\nuser_id = 3\n");
    assert!(
        e.starts_with("map.toml:2:11: invalid type: integer `3`, expected a string"),
        "{e}"
    );
    let e = err("[[rules]]\nset = {}\n");
    assert!(e.starts_with("map.toml:1:1: missing field `when`"), "{e}");
    let e = err("[columns\n");
    assert!(e.starts_with("map.toml:1:"), "{e}");
}

#[test]
fn csv_header_must_have_mapped_columns() {
    let m = mapping("[columns]\nuser_id = \"UserID\"\njob_title = \"JobTitle\"\n[[rules]]\nwhen = { OnLeav = \"True\" }\nset = { employment_status = \"Leave\" }\n");
    let e = parse_users(
        "UserID,JobTitel,OnLeave\n",
        "hr.csv",
        Format::Csv,
        Some(&schema()),
        Some(&m),
    )
    .unwrap_err()
    .0;
    assert_eq!(e, "map.toml:3:1: the column of `job_title`, `JobTitle`, is not a column of hr.csv (did you mean `JobTitel`?)");
    let e = parse_users(
        "UserID,JobTitle,OnLeave\n",
        "hr.csv",
        Format::Csv,
        Some(&schema()),
        Some(&m),
    )
    .unwrap_err()
    .0;
    assert_eq!(e, "map.toml:5:10: a rule's `when`, `OnLeav`, is not a column of hr.csv (did you mean `OnLeave`?)");
}

#[test]
fn load_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, "[columns]\nuser_id = \"Id\"\n").unwrap();
    let m = Mapping::load(&p).unwrap();
    assert_eq!(m.name, p.display().to_string());
    let e = Mapping::load(&dir.path().join("none.toml")).unwrap_err().0;
    assert!(e.contains("none.toml: cannot read the mapping file"), "{e}");
}
