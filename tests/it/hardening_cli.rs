//! Hardening of the command line (issue 11): a key that cannot be enforced is refused, data
//! from inputs cannot inject into CSV, terminal or Markdown outputs, outputs never replace
//! inputs, help describes every option, a project file names the default bundle, and SARIF
//! validates with Microsoft's SARIF Multitool.

use crate::support::{polc_in, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(root!()), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn seed(rel: &str) -> String {
    format!("{}/examples/seed/{rel}", root!())
}

/// Builds the seed into `dir/name`, signed with `key` if given.
fn build_seed(dir: &Path, name: &str, key: Option<&Path>) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "build",
        "examples/seed/policies",
        "-o",
        s(&out),
        "--today",
        "2024-11-24",
    ];
    if let Some(k) = key {
        args.extend(["--sign-key", s(k)]);
    }
    let o = polc(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let o = polc(&["keygen", "-o", s(&key)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    key
}

fn assert_exit2(o: &Output, what: &str, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    assert!(stderr(o).contains(needle), "{what}: {}", stderr(o));
}

// Item 2: --verify-key is never a silent no-op.

/// Every command that reads policies, with sources (or, for `mine` and `analyze`, none):
/// a key there cannot be enforced, so it is an error, whatever the position of PATHS.
#[test]
fn a_verify_key_without_a_bundle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k");
    let pubkey = format!("{}.pub", s(&key));
    let (pol, users, access) = (seed("policies"), seed("users.json"), seed("access.json"));
    let event = seed("events/01-hired.json");
    let commands: Vec<Vec<&str>> = vec![
        vec!["eval", &pol, "--users", &users],
        vec!["eval", "--users", &users],
        vec!["test", &pol],
        vec!["explain", &pol, "--users", &users, "--user", "sarah.chen"],
        vec!["explain", "E0101"],
        vec!["drift", &pol, "--users", &users, "--access", &access],
        vec!["plan", &pol, "--users", &users, "--access", &access],
        vec!["event", &pol, "--users", &users, "--event", &event],
        vec![
            "mine",
            &pol,
            "--users",
            &users,
            "--access",
            &access,
            "--by",
            "department",
        ],
        vec![
            "mine",
            "--users",
            &users,
            "--access",
            &access,
            "--by",
            "department",
        ],
        vec!["analyze", "--overlaps", &pol],
        vec!["impact", &pol, &pol, "--users", &users],
    ];
    for mut args in commands {
        let what = args.join(" ");
        args.extend(["--verify-key", &pubkey]);
        let o = polc(&args);
        assert_exit2(&o, &what, "--verify-key");
        assert!(
            stderr(&o).contains("no signature"),
            "{what}: {}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{what}: {}", stdout(&o));
    }
}

/// `impact --verify-key` checks both sides: signed by the key, both are compared; an
/// unsigned bundle, one signed by another key, or sources on either side are refused.
#[test]
fn impact_verifies_both_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k");
    let other = keygen(dir.path(), "other");
    let pubkey = format!("{}.pub", s(&key));
    let signed = build_seed(dir.path(), "signed.polb", Some(&key));
    let by_other = build_seed(dir.path(), "other.polb", Some(&other));
    let unsigned = build_seed(dir.path(), "unsigned.polb", None);
    let users = seed("users.json");
    let impact = |old: &Path, new: &str| {
        polc(&[
            "impact",
            s(old),
            new,
            "--users",
            &users,
            "--at",
            "2024-11-24",
            "--verify-key",
            &pubkey,
        ])
    };
    let o = impact(&signed, s(&signed));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("No change"), "{}", stdout(&o));
    for (old, new) in [
        (&signed, &unsigned),
        (&unsigned, &signed),
        (&signed, &by_other),
    ] {
        let o = impact(old, s(new));
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
    let o = impact(&signed, &seed("policies"));
    assert_exit2(&o, "NEW sources", "NEW `");
    assert!(stderr(&o).contains("no signature"), "{}", stderr(&o));
}
