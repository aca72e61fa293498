//! Bad inputs end to end (issue 11, "Hardening"): every one is refused with exit code 2 and
//! a message naming the file (and the line, record or key), never a panic, a hang, a silent
//! skip or lost data. Size limits, mapping date formats, repeated JSON keys, lifecycle events.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn polc(args: &[&str]) -> Output {
    Command::new(crate::support::POLC)
        .args(args)
        .current_dir(root!())
        .stdin(Stdio::null())
        .output()
        .expect("run polc")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// Exit code 2, no panic, and stderr holds every piece.
#[track_caller]
fn refused(o: &Output, pieces: &[&str]) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stderr: {e}\nstdout: {}",
        stdout(o)
    );
    assert!(!e.contains("panicked"), "{e}");
    for p in pieces {
        assert!(e.contains(p), "`{p}` not in: {e}");
    }
}

const SEED: &str = "examples/seed/policies";
const USERS: &str = "examples/seed/users.json";

// ---- size limits (docs/inputs.md, "Size limits") ----

#[test]
fn a_key_file_of_dev_zero_is_refused_at_its_limit() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.polb").display().to_string();
    let o = polc(&["build", SEED, "-o", &out, "--sign-key", "/dev/zero"]);
    refused(&o, &["/dev/zero", "64 KiB", "the limit for a key file"]);
    assert!(!Path::new(&out).exists(), "nothing written");
    let o = polc(&["build", SEED, "-o", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = polc(&["inspect", &out, "--verify-key", "/dev/zero"]);
    refused(&o, &["/dev/zero", "64 KiB"]);
}

#[test]
fn a_mapping_events_or_access_file_of_dev_zero_is_refused() {
    if !Path::new("/dev/zero").exists() {
        return;
    }
    let o = polc(&["eval", SEED, "--users", USERS, "--mapping", "/dev/zero"]);
    refused(&o, &["/dev/zero", "1 MiB", "the limit for a mapping file"]);
    let o = polc(&[
        "event",
        SEED,
        "--users",
        "examples/seed/empty-users.json",
        "--event",
        "/dev/zero",
    ]);
    refused(
        &o,
        &["/dev/zero", "256 MiB", "the limit for an events file"],
    );
}

#[test]
fn a_fifo_that_never_ends_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("key.pub");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo here
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let chunk = [b'a'; 4096];
            // until polc stops reading
            while f.write_all(&chunk).is_ok() {}
        })
    };
    let bundle = dir.path().join("b.polb").display().to_string();
    let o = polc(&["build", SEED, "-o", &bundle]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = polc(&[
        "inspect",
        &bundle,
        "--verify-key",
        &fifo.display().to_string(),
    ]);
    refused(&o, &["key.pub", "64 KiB"]);
    writer.join().unwrap();
}

#[test]
fn a_policy_source_over_its_limit_is_refused_by_check_and_fmt() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = b"// a comment line that makes the file large\n".repeat(400_000);
    big.extend_from_slice(b"policy \"A\" { grant google:workspace-account }\n");
    assert!(big.len() > 16 << 20);
    let f = write(dir.path(), "big.pol", &big);
    refused(
        &polc(&["check", &f]),
        &["big.pol", "16 MiB", "policy source"],
    );
    refused(
        &polc(&["fmt", "--check", &f]),
        &["big.pol", "16 MiB", "policy source"],
    );
}

#[test]
fn binary_users_and_access_files_are_refused_at_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let users = write(dir.path(), "u.json", b"[{\"user_id\": \"a\"},\n\xff\xfe]");
    refused(
        &polc(&["eval", SEED, "--users", &users]),
        &["u.json:2:1: not UTF-8 text"],
    );
    let access = write(dir.path(), "a.json", b"{\"a\": [\"x\xc3\"]}");
    refused(
        &polc(&["drift", SEED, "--users", USERS, "--access", &access]),
        &["a.json:1:10: not UTF-8 text"],
    );
}

#[test]
fn jsonl_and_csv_exports_read_as_streams_are_refused_as_when_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    // A bad entry, then, further than one read of the stream, a bad byte: the export is
    // refused as not text, as when it was read whole before its entries.
    let pad = "x".repeat(70_000);
    let jsonl = format!(
        "{{\"user_id\": \"sarah.chen\", \"grant\": \"nosuch:thing\"}}\n{{\"user_id\": \"{pad}\", \"grant\": \"slack:workspace\"}}\n"
    );
    let csv = format!("user_id,grant\nsarah.chen,nosuch:thing\n{pad},slack:workspace\n");
    for (name, text, entry, bad) in [("a.jsonl", &jsonl, 1, 3), ("a.csv", &csv, 2, 4)] {
        let mut bytes = text.clone().into_bytes();
        let f = write(dir.path(), name, &bytes);
        // alone, the bad entry is the error, with its line
        refused(
            &polc(&["drift", SEED, "--users", USERS, "--access", &f]),
            &[&format!("{name}:{entry}: user `sarah.chen`"), "nosuch"],
        );
        bytes.extend_from_slice(b"zed,\xff\n");
        let f = write(dir.path(), name, &bytes);
        for cmd in ["drift", "plan"] {
            refused(
                &polc(&[cmd, SEED, "--users", USERS, "--access", &f]),
                &[&format!("{name}:{bad}:5: not UTF-8 text")],
            );
        }
    }
}

#[test]
fn json_exports_and_users_files_read_in_pieces_are_refused_as_when_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 accounts, one a line (700 KB: several pieces of the stream)
    let n = 20_000;
    let account = |i: usize| format!("  \"u{i}\": [\"slack:workspace-member\"]");
    let export = |i: usize, last: &str| {
        let mut lines: Vec<String> = (0..n).map(account).collect();
        lines[i] = last.to_string();
        format!("{{\n{}\n}}\n", lines.join(",\n"))
    };
    let drift = |f: &str| polc(&["drift", SEED, "--users", USERS, "--access", f]);
    // an entry that names nothing, late: named by its user and its place in their list
    let f = write(
        dir.path(),
        "a.json",
        export(
            19_990,
            "  \"u19990\": [\"slack:workspace-member\", \"nosuch:thing\"]",
        )
        .as_bytes(),
    );
    refused(
        &drift(&f),
        &["a.json: entry 2 of `u19990`: user `u19990`, entry `nosuch:thing`: unknown system `nosuch`"],
    );
    // JSON of the wrong type, late: its line and column in the file
    let wrong = "  \"u19000\": [\"slack:workspace-member\", 5]";
    let f = write(dir.path(), "a.json", export(19_000, wrong).as_bytes());
    refused(
        &drift(&f),
        &[&format!(
            "a.json:{}:{}: user `u19000`, entry 2: invalid type: integer `5`",
            19_000 + 2,
            wrong.len() - 1
        )],
    );
    // a bad entry early, a bad byte a piece later: refused as not text, as when read whole
    let mut bytes = export(10, "  \"u10\": [\"nosuch:thing\"]").into_bytes();
    let last = bytes.len() - 3;
    bytes[last] = 0xff;
    let f = write(dir.path(), "a.json", &bytes);
    for cmd in ["drift", "plan"] {
        refused(
            &polc(&[cmd, SEED, "--users", USERS, "--access", &f]),
            &[&format!("a.json:{}: not UTF-8 text", place(&bytes, last))],
        );
    }

    // users: 20,000 records, one a line, and one that is not an object, late
    let record = |i: usize| format!("{{\"user_id\": \"u{i}\", \"employment_status\": \"Active\"}}");
    let users = |i: usize, last: &str| {
        let mut lines: Vec<String> = (0..n).map(record).collect();
        lines[i] = last.to_string();
        format!("[\n{}\n]\n", lines.join(",\n"))
    };
    let eval = |f: &str| polc(&["eval", SEED, "--users", f, "--user", "u1"]);
    let f = write(dir.path(), "u.json", users(19_500, "5").as_bytes());
    refused(
        &eval(&f),
        &[&format!(
            "u.json:{}: record 19501 is not a JSON object (found 5)",
            19_500 + 2
        )],
    );
    let f = write(
        dir.path(),
        "u.json",
        users(19_400, "{\"user_id\" \"u\"}").as_bytes(),
    );
    refused(
        &eval(&f),
        &[&format!(
            "u.json:{}:12: invalid JSON: expected `:`",
            19_400 + 2
        )],
    );
    let mut bytes = users(10, "[]").into_bytes();
    let last = bytes.len() - 4;
    bytes[last] = 0xff;
    let f = write(dir.path(), "u.json", &bytes);
    refused(
        &eval(&f),
        &[&format!("u.json:{}: not UTF-8 text", place(&bytes, last))],
    );
}

/// `line:column` of a byte, 1-based (ASCII text).
fn place(bytes: &[u8], at: usize) -> String {
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    format!("{line}:{}", at - start + 1)
}

// ---- mapping date formats ----

#[test]
fn a_date_format_with_a_time_field_is_refused_by_every_command_that_takes_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(
        dir.path(),
        "map.toml",
        b"# the export's dates\n\ndate_format = \"%Y-%m-%d %H:%M\"\n[columns]\nuser_id = \"user_id\"\n",
    );
    let access = "examples/seed/access.json";
    let events = "examples/seed/events/lifecycle.jsonl";
    let empty = "examples/seed/empty-users.json";
    let users_copy = write(
        dir.path(),
        "users.json",
        &std::fs::read(std::path::Path::new(root!()).join(USERS)).unwrap(),
    );
    let runs: Vec<Vec<&str>> = vec![
        vec!["eval", SEED, "--users", USERS],
        vec!["explain", SEED, "--users", USERS, "--user", "sarah.chen"],
        vec!["drift", SEED, "--users", USERS, "--access", access],
        vec!["plan", SEED, "--users", USERS, "--access", access],
        vec![
            "mine",
            SEED,
            "--users",
            USERS,
            "--access",
            access,
            "--by",
            "department",
        ],
        vec!["event", SEED, "--users", empty, "--event", events],
        vec!["impact", SEED, SEED, "--users", USERS],
        vec!["test", SEED, "--snapshot", &users_copy],
    ];
    for mut args in runs {
        args.extend(["--mapping", &m]);
        let o = polc(&args);
        refused(
            &o,
            &["map.toml:3:15: date_format `%Y-%m-%d %H:%M` has a time or time zone field `%H`"],
        );
    }
    assert!(!Path::new(&format!("{users_copy}.snap")).exists());
}

// ---- keys given twice ----

const TWICE: &str = "given twice in one object (which value holds would be a guess)";

#[test]
fn a_key_given_twice_in_a_users_access_events_or_mapping_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // The second `employment_status` used to win silently: a leaver evaluated as active.
    let users = write(
        dir.path(),
        "users.json",
        b"[{\"user_id\": \"lee.park\", \"job_title\": \"Account Executive\", \"department\": \"Sales\",\n  \"employment_status\": \"Inactive\", \"employment_type\": \"FTE\",\n  \"employment_status\": \"Active\"}]",
    );
    let o = polc(&["eval", SEED, "--users", &users, "--at", "2025-06-01"]);
    refused(
        &o,
        &[&format!(
            "users.json:3:21: key \"employment_status\" {TWICE}"
        )],
    );
    let access = write(
        dir.path(),
        "access.json",
        b"[{\"user_id\": \"sarah.chen\", \"grant\": \"slack:workspace-member\"},\n {\"user_id\": \"sarah.chen\", \"grant\": \"zoom:account\", \"user_id\": \"lee.park\"}]",
    );
    let o = polc(&["drift", SEED, "--users", USERS, "--access", &access]);
    refused(
        &o,
        &[&format!(
            "access.json:2:61: entry 2: key \"user_id\" {TWICE}"
        )],
    );
    let events = write(
        dir.path(),
        "events.jsonl",
        b"{\"event\": \"employee.terminated\", \"user_id\": \"sarah.chen\", \"last_day\": \"2025-03-01\", \"last_day\": \"2027-03-15\"}\n",
    );
    let o = polc(&["event", SEED, "--users", USERS, "--event", &events]);
    refused(
        &o,
        &[&format!("events.jsonl:1:94: key \"last_day\" {TWICE}")],
    );
    let mapping = write(
        dir.path(),
        "map.toml",
        b"[columns]\nuser_id = \"id\"\nuser_id = \"UserID\"\n",
    );
    let o = polc(&["eval", SEED, "--users", USERS, "--mapping", &mapping]);
    refused(&o, &["map.toml:3:1", "duplicate key"]);
}

// ---- lifecycle events ----

/// The seed's lifecycle, its lines in another order.
fn seed_events(order: &[usize]) -> Vec<u8> {
    let text =
        std::fs::read_to_string(concat!(root!(), "/examples/seed/events/lifecycle.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<&str> = order.iter().map(|&i| lines[i]).collect();
    out.push("");
    out.join("\n").into_bytes()
}

fn event_json(events: &str) -> (Output, serde_json::Value) {
    let o = polc(&[
        "event",
        SEED,
        "--users",
        "examples/seed/empty-users.json",
        "--event",
        events,
        "--format",
        "json",
    ]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o, v)
}

#[test]
fn events_out_of_date_order_apply_in_date_order_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let in_order = write(dir.path(), "in.jsonl", &seed_events(&[0, 1, 2, 3]));
    // the termination given before the transfer and the promotion
    let swapped = write(dir.path(), "out.jsonl", &seed_events(&[0, 3, 1, 2]));
    let (o1, a) = event_json(&in_order);
    let (o2, b) = event_json(&swapped);
    assert_eq!(o1.status.code(), Some(0), "{}", stderr(&o1));
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));
    let dates = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["effective_date"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        dates(&b),
        ["2024-11-24", "2025-05-24", "2026-05-24", "2027-03-15"]
    );
    for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
        assert_eq!(x["changes"], y["changes"]);
        assert_eq!(x["kind"], y["kind"]);
    }
    // the leaver loses all 13, as in file order
    assert_eq!(b[3]["changes"].as_array().unwrap().len(), 13);
    assert!(a[1].get("notes").is_none(), "no notes for a file in order");
    assert!(b[1]["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("applied before "));
    let human = polc(&[
        "event",
        SEED,
        "--users",
        "examples/seed/empty-users.json",
        "--event",
        &swapped,
    ]);
    assert!(
        stdout(&human).contains("Note: applied before "),
        "{}",
        stdout(&human)
    );
}

#[test]
fn lifecycle_details_are_refused_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, lines: &[&str]| write(dir.path(), name, lines.join("\n").as_bytes());
    let hire = r#"{"event": "employee.hired", "user_id": "sarah.chen", "job_title": "Sales Engineer", "department": "Sales", "employment_type": "FTE", "employment_status": "Active", "start_date": "2024-11-24"}"#;
    let term =
        r#"{"event": "employee.terminated", "user_id": "sarah.chen", "last_day": "2025-03-15"}"#;
    // `old` is not the record's value
    let stale = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"job_title": {"old": "Account Executive", "new": "Senior Sales Engineer"}}, "effective_date": "2025-01-10"}"#;
    let (o, _) = event_json(&file("stale.jsonl", &[hire, stale]));
    refused(
        &o,
        &[
            "stale.jsonl:2 (employee.updated sarah.chen): field `changes.job_title.old`",
            "\"Account Executive\", but the directory has \"Sales Engineer\"",
        ],
    );
    // a second termination
    let again = term.replace("2025-03-15", "2025-04-01");
    let (o, _) = event_json(&file("twice.jsonl", &[hire, term, &again]));
    refused(
        &o,
        &[
            "twice.jsonl:3 (employee.terminated sarah.chen)",
            "already terminated",
            "since",
        ],
    );
    // a termination dated before the hire
    let early = term.replace("2025-03-15", "2024-10-01");
    let (o, _) = event_json(&file("early.jsonl", &[hire, &early]));
    refused(&o, &["early.jsonl:2", "takes effect later, on 2024-11-24"]);
    // a reactivation is a rehire: a joiner whose access is all added
    let back = r#"{"event": "employee.updated", "user_id": "sarah.chen", "changes": {"employment_status": {"old": "Inactive", "new": "Active"}}, "effective_date": "2025-06-01"}"#;
    let (o, v) = event_json(&file("rehire.jsonl", &[hire, term, back]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(v[2]["kind"], "joiner");
    assert_eq!(v[2]["rehire"], true);
    assert!(v[2]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["action"] == "add"));
}

#[test]
fn an_unreadable_snapshot_is_an_error_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let users = write(
        dir.path(),
        "users.json",
        &std::fs::read(std::path::Path::new(root!()).join(USERS)).unwrap(),
    );
    let snap = write(dir.path(), "users.json.snap", b"# reviewed\n\xff\xfe\n");
    let o = polc(&["test", SEED, "--snapshot", &users]);
    refused(&o, &["users.json.snap:2:1: not UTF-8 text"]);
    assert_eq!(std::fs::read(&snap).unwrap(), b"# reviewed\n\xff\xfe\n");
    // a missing one is written, as before
    std::fs::remove_file(&snap).unwrap();
    let o = polc(&["test", SEED, "--snapshot", &users]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(Path::new(&snap).exists());
}
