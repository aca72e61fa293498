//! The `file` connector across processes, and at the pace of a journalled caller.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use polc_connectors::{Applied, Change, Connector, FileConfig, FileConnector, Person};

const CHILD_FILE: &str = "POLC_FILE_CONNECTOR_CHILD_FILE";
const CHILD_NAME: &str = "POLC_FILE_CONNECTOR_CHILD_NAME";

fn person(id: &str) -> Person {
    Person {
        user_id: id.into(),
        ..Person::default()
    }
}

fn grant(grant: &str) -> Change {
    Change::Grant {
        grant: grant.into(),
        level: None,
    }
}

/// The writer the next test starts in other processes (does nothing when run alone).
#[test]
fn child_writer() {
    let (Some(path), Some(name)) = (std::env::var_os(CHILD_FILE), std::env::var(CHILD_NAME).ok())
    else {
        return;
    };
    let mut c = FileConnector::new(FileConfig {
        path: PathBuf::from(path),
    })
    .unwrap();
    for i in 0..100 {
        let result = c.apply(&person(&format!("{name}-{i}")), &grant("f:role:r"));
        assert_eq!(result.unwrap(), Applied::Done);
    }
}

#[test]
fn processes_writing_one_file_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.json");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|n| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads", "1"])
                .env(CHILD_FILE, &path)
                .env(CHILD_NAME, format!("p{n}"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let mut c = FileConnector::new(FileConfig { path }).unwrap();
    assert_eq!(c.list().unwrap().holdings.len(), 300);
}

#[test]
fn twenty_thousand_actions_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = FileConnector::new(FileConfig {
        path: dir.path().join("big.json"),
    })
    .unwrap();
    let items: Vec<(Person, Change)> = (0..20_000)
        .map(|i| {
            (
                person(&format!("user{i:05}")),
                grant(&format!("big:role:r{}", i % 100)),
            )
        })
        .collect();
    // As a caller that journals each batch of 1,000 before and after applying it.
    let start = Instant::now();
    for batch in items.chunks(1_000) {
        assert!(c.apply_batch(batch).iter().all(|r| r.is_ok()));
    }
    let elapsed = start.elapsed();
    let rate = items.len() as f64 / elapsed.as_secs_f64();
    eprintln!(
        "file connector: 20,000 grants in batches of 1,000 in {elapsed:?} ({rate:.0} actions/s)"
    );
    assert_eq!(c.list().unwrap().holdings.len(), 20_000);
}
