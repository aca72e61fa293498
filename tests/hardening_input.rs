//! Bad inputs end to end (issue 11, "Hardening"): every one is refused with exit code 2 and
//! a message naming the file (and the line, record or key), never a panic, a hang, a silent
//! skip or lost data. Size limits, mapping date formats, repeated JSON keys, lifecycle events.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn polc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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
    let users_copy = write(dir.path(), "users.json", &std::fs::read(USERS).unwrap());
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
