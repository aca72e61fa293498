//! The `exec` connector against real programs: the example connector script of
//! `examples/connectors/`, and small scripts that hang, die, or answer garbage.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use polc_connectors::{
    Applied, Change, Connector, ConnectorError, ExecConfig, ExecConnector, LeaverMode, Person,
    ReadBack, RetryConfig, Retrying,
};

fn example_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/connectors/json-store.py")
}

fn python(script: &Path, args: &[&str]) -> ExecConfig {
    let mut command = vec!["python3".to_string(), script.display().to_string()];
    command.extend(args.iter().map(|a| a.to_string()));
    ExecConfig::new(command)
}

fn person(id: &str) -> Person {
    Person {
        user_id: id.into(),
        ..Person::default()
    }
}

fn grant(grant: &str, level: Option<&str>) -> Change {
    Change::Grant {
        grant: grant.into(),
        level: level.map(String::from),
    }
}

/// Writes a script into `dir` and answers its path.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_example_script_does_every_change_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.json");
    let mut c = ExecConnector::new(python(&example_script(), &[store.to_str().unwrap()])).unwrap();
    let ann = person("ann");
    let g = "gitlab:group:cs";
    assert_eq!(
        c.apply(&ann, &grant(g, Some("developer"))).unwrap(),
        Applied::Done
    );
    assert_eq!(
        c.apply(&ann, &grant(g, Some("developer"))).unwrap(),
        Applied::AlreadyPresent
    );
    let set = Change::SetLevel {
        grant: g.into(),
        from: Some("developer".into()),
        to: Some("owner".into()),
    };
    assert_eq!(c.apply(&ann, &set).unwrap(), Applied::Done);
    assert_eq!(c.apply(&ann, &set).unwrap(), Applied::AlreadyPresent);
    assert_eq!(
        c.read_back(&ann, Some(g)).unwrap(),
        ReadBack {
            levels: vec![Some("owner".into())],
            active: Some(true)
        }
    );
    let listing = c.list().unwrap();
    assert_eq!(listing.holdings.len(), 1);
    assert_eq!(listing.accounts.len(), 1);
    let revoke = Change::Revoke { grant: g.into() };
    assert_eq!(c.apply(&ann, &revoke).unwrap(), Applied::Done);
    assert_eq!(c.apply(&ann, &revoke).unwrap(), Applied::AlreadyAbsent);
    let deactivate = Change::Deprovision {
        mode: LeaverMode::Deactivate,
    };
    assert_eq!(c.apply(&ann, &deactivate).unwrap(), Applied::Done);
    assert_eq!(c.apply(&ann, &deactivate).unwrap(), Applied::AlreadyAbsent);
    assert!(deactivate.is_shown_by(&c.read_back(&ann, None).unwrap()));
    assert_eq!(c.apply(&ann, &Change::Reactivate).unwrap(), Applied::Done);
    assert_eq!(
        c.apply(&ann, &Change::Reactivate).unwrap(),
        Applied::AlreadyPresent
    );
    // One program served every call.
    let pid = c.pid();
    assert!(pid.is_some());
    c.list().unwrap();
    assert_eq!(c.pid(), pid);
}

#[test]
fn a_program_that_hangs_is_killed_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "hang.py",
        r#"
import json, sys, time
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "grant" and request["grant"] == "x:r:slow":
        print("about to sleep", file=sys.stderr, flush=True)
        time.sleep(60)
    print(json.dumps({"ok": True}), flush=True)
"#,
    );
    let mut config = python(&path, &[]);
    config.timeout = Duration::from_millis(700);
    let mut c = ExecConnector::new(config).unwrap();
    assert_eq!(
        c.apply(&person("a"), &grant("x:r:fast", None)).unwrap(),
        Applied::Done
    );
    let first = c.pid();
    let start = Instant::now();
    let err = c.apply(&person("a"), &grant("x:r:slow", None)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("did not answer within 0.7 s"), "{text}");
    assert!(text.contains("about to sleep"), "{text}");
    assert_eq!(c.pid(), None);
    // The next call starts the program again.
    assert_eq!(
        c.apply(&person("a"), &grant("x:r:fast", None)).unwrap(),
        Applied::Done
    );
    assert_ne!(c.pid(), first);
}

#[test]
fn a_program_that_dies_fails_the_call_with_its_last_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "die.py",
        r#"
import json, sys
for line in sys.stdin:
    if json.loads(line)["op"] == "revoke":
        print("Traceback: the API said \x1b[31mno\x1b[0m", file=sys.stderr, flush=True)
        sys.exit(3)
    print(json.dumps({"ok": True}), flush=True)
"#,
    );
    let mut c = ExecConnector::new(python(&path, &[])).unwrap();
    let revoke = Change::Revoke {
        grant: "x:r:1".into(),
    };
    let err = c.apply(&person("a"), &revoke).unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("exited without answering"), "{text}");
    assert!(text.contains("exit status 3"), "{text}");
    assert!(text.contains("the API said"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "control characters are removed: {text:?}"
    );
    // A program that is not there at all.
    let mut c = ExecConnector::new(ExecConfig::new(vec![dir
        .path()
        .join("missing")
        .display()
        .to_string()]))
    .unwrap();
    let err = c.list().unwrap_err();
    assert!(err.to_string().contains("cannot start"), "{err}");
}

#[test]
fn garbage_refusals_and_long_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "odd.py",
        r#"
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    grant = request.get("grant") or ""
    if grant.endswith("garbage"):
        print("<html>500 Internal Server Error</html>", flush=True)
    elif grant.endswith("array"):
        print("[1, 2]", flush=True)
    elif grant.endswith("huge"):
        sys.stdout.write("x" * 100000 + "\n"); sys.stdout.flush()
    elif grant.endswith("refused"):
        print(json.dumps({"ok": False, "error": "no such channel", "retry": False}), flush=True)
    elif grant.endswith("busy"):
        print(json.dumps({"ok": False, "error": "busy", "retry": True}), flush=True)
    elif request["op"] == "read":
        print(json.dumps({"ok": False, "unsupported": True}), flush=True)
    elif request["op"] == "list":
        print(json.dumps({"grants": [{"user_id": "a", "grant": "x:r:1", "level": None}]}), flush=True)
    else:
        print(json.dumps({"ok": True, "already": "present"}), flush=True)
"#,
    );
    let mut config = python(&path, &[]);
    config.max_line_bytes = 4096;
    let mut c = ExecConnector::new(config).unwrap();
    let a = person("a");
    let err = c.apply(&a, &grant("x:r:garbage", None)).unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("not a JSON object"), "{err}");
    let err = c.apply(&a, &grant("x:r:array", None)).unwrap_err();
    assert!(err.to_string().contains("not a JSON object"), "{err}");
    let err = c.apply(&a, &grant("x:r:huge", None)).unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("longer than 4096 bytes"), "{err}");
    let err = c.apply(&a, &grant("x:r:refused", None)).unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("no such channel"), "{err}");
    let err = c.apply(&a, &grant("x:r:busy", None)).unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(
        c.apply(&a, &grant("x:r:1", None)).unwrap(),
        Applied::AlreadyPresent
    );
    // Read back through `list` when the program does not know `read`.
    assert_eq!(
        c.read_back(&a, Some("x:r:1")).unwrap(),
        ReadBack {
            levels: vec![None],
            active: None
        }
    );
}

#[test]
fn the_retrying_wrapper_gets_through_a_program_that_dies_once() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("died-once");
    let path = script(
        dir.path(),
        "flaky.py",
        r#"
import json, os, sys
flag = sys.argv[1]
for line in sys.stdin:
    if not os.path.exists(flag):
        open(flag, "w").close()
        sys.exit(1)
    print(json.dumps({"ok": True}), flush=True)
"#,
    );
    let c = ExecConnector::new(python(&path, &[flag.to_str().unwrap()])).unwrap();
    let mut r = Retrying::new(
        c,
        RetryConfig {
            base_delay: Duration::from_millis(1),
            ..RetryConfig::default()
        },
    );
    assert_eq!(
        r.apply(&person("a"), &grant("x:r:1", None)).unwrap(),
        Applied::Done
    );
    assert_eq!(r.failures_in_a_row(), 0);
}
