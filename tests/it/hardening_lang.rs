//! `polc` end to end on the hardening issue's inputs: imports that try to leave the bundle,
//! nesting errors that must not hide the rest of a file, durations and dates outside the
//! calendar, confusable text. Each runs the binary as CI would.

use std::path::Path;
use std::process::{Command, Output};

fn polc(args: &[&str]) -> Output {
    Command::new(crate::support::POLC)
        .args(args)
        .current_dir(root!())
        .env("POLC_TEST_SECRET", "hunter2-in-the-environment")
        .output()
        .expect("run polc")
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(path: &Path, text: &str) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

fn codes(o: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn imports_cannot_read_files_outside_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "policy \"x\" { when SECRET_hunter2_FILE == }\n";
    write(&dir.path().join("outside.pol"), secret);
    write(&dir.path().join("secret.env"), secret);
    let root = dir.path().join("bundle");
    let main = write(
        &root.join("main.pol"),
        "import \"std/hris\"\nimport \"std/saas\"\nimport \"/proc/self/environ\"\nimport \"../outside.pol\"\n\
         import \"../secret.env\"\nimport \"link.pol\"\n\
         policy \"A\" { when department == \"x\" grant google:workspace-account }\n",
    );
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("outside.pol"), root.join("link.pol")).unwrap();
    let root = root.display().to_string();
    for target in [&root, &main] {
        for format in ["human", "json", "sarif"] {
            let o = polc(&["check", target, "--format", format]);
            let text = out(&o);
            assert_eq!(o.status.code(), Some(1), "{text}");
            assert!(text.contains("E0004"), "{text}");
            assert!(!text.contains("hunter2"), "{format}: {text}");
        }
        let o = polc(&["check", target, "--format", "json"]);
        let n = if cfg!(unix) { 4 } else { 3 };
        let found = codes(&o);
        assert_eq!(
            found.iter().filter(|c| *c == "E0004").count(),
            n,
            "{found:?}"
        );
        // Nothing is compiled from them either.
        let bundle = dir.path().join("out.polb");
        let o = polc(&["build", target, "-o", &bundle.display().to_string()]);
        assert_eq!(o.status.code(), Some(1), "{}", out(&o));
        assert!(!bundle.exists());
    }
}

/// Every date-looking text in a string: a four-digit year, or a signed or longer one.
fn non_iso_years(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    for (i, w) in b.windows(6).enumerate() {
        // `-MM-DD` preceded by a year that is not exactly four digits
        if w[0] == b'-'
            && w[1..3].iter().all(u8::is_ascii_digit)
            && w[3] == b'-'
            && w[4..6].iter().all(u8::is_ascii_digit)
        {
            let digits = b[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let signed = i > digits && b[i - digits - 1] == b'+';
            if digits > 4 || signed || (digits == 4 && &b[i - 4..i] == b"0000") {
                found.push(String::from_utf8_lossy(&b[i - digits..i + 6]).into_owned());
            }
        }
    }
    found
}

#[test]
fn a_grace_past_the_calendar_is_an_error_and_never_becomes_remove_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let policies = |grace: &str| {
        format!(
            "import \"std/hris\"\nimport \"std/saas\"\n\
             policy \"Sales\" {{ when department == \"Sales\" grant salesforce:user-license grace {grace} }}\n\
             policy \"Eng\" {{ when department == \"Engineering\" grant github:org:engineering }}\n"
        )
    };
    let long = write(&dir.path().join("long/p.pol"), &policies("9999999w"));
    let o = polc(&["check", &long, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(codes(&o).contains(&"E0005".to_string()), "{}", out(&o));

    // The longest grace there is, from a date near the end of the calendar.
    let ok = write(&dir.path().join("ok/p.pol"), &policies("36525d"));
    let users = write(&dir.path().join("users.json"), "[]");
    let events = write(
        &dir.path().join("events.jsonl"),
        "{\"event\": \"employee.hired\", \"user_id\": \"s\", \"employment_status\": \"Active\", \"department\": \"Sales\", \"start_date\": \"9990-01-01\", \"effective_date\": \"9990-01-01\"}\n\
         {\"event\": \"employee.updated\", \"user_id\": \"s\", \"changes\": {\"department\": {\"old\": \"Sales\", \"new\": \"Engineering\"}, \"effective_date\": \"9990-06-01\"}}\n",
    );
    for format in ["human", "json"] {
        let o = polc(&[
            "event", &ok, "--users", &users, "--event", &events, "--format", format,
        ]);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(0), "{text}");
        assert!(text.contains("9999-12-31"), "{format}: {text}");
        assert!(
            non_iso_years(&text).is_empty(),
            "{format}: {:?}\n{text}",
            non_iso_years(&text)
        );
    }
}

#[test]
fn inputs_with_years_outside_0001_to_9999_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "examples/seed/policies";
    for bad in ["+10055-06-01", "10055-06-01", "0000-01-01"] {
        let users = write(
            &dir.path().join("users.json"),
            &format!("[{{\"user_id\": \"a\", \"employment_status\": \"Active\", \"start_date\": \"{bad}\"}}]"),
        );
        let o = polc(&["eval", bundle, "--users", &users, "--at", "2025-01-01"]);
        let text = out(&o);
        assert!(text.contains("start_date"), "{bad}: {text}");
        // Only the bad input itself, quoted back.
        let echo = bad.trim_start_matches('+');
        assert!(
            non_iso_years(&text).iter().all(|y| y == echo),
            "{bad}: {text}"
        );
        let csv = write(
            &dir.path().join("users.csv"),
            &format!("user_id,employment_status,start_date\na,Active,{bad}\n"),
        );
        let o = polc(&["eval", bundle, "--users", &csv, "--at", "2025-01-01"]);
        assert!(out(&o).contains("start_date"), "{bad}: {}", out(&o));
        let events = write(
            &dir.path().join("e.jsonl"),
            &format!("{{\"event\": \"employee.hired\", \"user_id\": \"a\", \"employment_status\": \"Active\", \"effective_date\": \"{bad}\"}}\n"),
        );
        let o = polc(&[
            "event",
            bundle,
            "--users",
            "examples/seed/empty-users.json",
            "--event",
            &events,
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", out(&o));
        assert!(out(&o).contains("effective_date"), "{bad}: {}", out(&o));
    }
}

#[test]
fn a_nesting_error_leaves_the_other_items_of_the_file_checked() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "import \"std/hris\"\nimport \"std/saas\"\n\
         policy \"Deep\" {{ when {}department == \"x\"{} grant slack:workspace-member }}\n\
         policy \"Other\" {{ when departmnt == \"y\" inherits \"Deep\" grant zoom:acount }}\n",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let f = write(&dir.path().join("deep.pol"), &src);
    let o = polc(&["check", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let found = codes(&o);
    // The nesting error, then the other policy's own errors; no note about a missing schema.
    assert_eq!(found, ["E0001", "E0201", "E0302"], "{}", out(&o));
}

#[test]
fn confusable_text_is_a_warning_and_never_printed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        &dir.path().join("p.pol"),
        "import \"std/hris\"\nimport \"std/saas\"\n\
         /* admin only \u{202E} } \u{2066} */\n\
         policy \"S\u{430}les\" { when department == \"Sales\" grant slack:workspace-member }\n\
         policy \"Eng\u{200B}\" { when department == \"E\u{202E}ng\" grant zoom:account }\n",
    );
    let o = polc(&["check", &f]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("warning[W0001]").count(), 4, "{text}");
    // The terminal never gets a control that would reorder what it shows.
    for c in ['\u{202E}', '\u{2066}', '\u{200B}'] {
        assert!(!text.contains(c), "{c:?} printed raw:\n{text}");
    }
    let o = polc(&["check", &f, "--deny-warnings"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let o = polc(&["check", &f, "--format", "json"]);
    assert_eq!(codes(&o), ["W0001"; 4], "{}", out(&o));
    // Formatting is not refused for it.
    let o = polc(&["fmt", "--check", &f]);
    assert_ne!(o.status.code(), Some(2), "{}", out(&o));
}
