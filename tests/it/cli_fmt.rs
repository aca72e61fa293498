//! `polc fmt` end to end: rewrite, `--check`, stdin, and files it must refuse.

use crate::support::POLC;
use std::io::Write;
use std::process::{Command, Stdio};

fn polc() -> Command {
    Command::new(POLC)
}

#[test]
fn rewrites_checks_and_refuses_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.pol");
    std::fs::write(&f, "policy   \"A\"{when x==1 // why\ngrant a:b}\n").unwrap();
    let o = polc()
        .args(["fmt", "--check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("a.pol"));
    let o = polc().args(["fmt", f.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = std::fs::read_to_string(&f).unwrap();
    assert_eq!(
        out,
        "policy \"A\" {\n  when x == 1 // why\n  grant a:b\n}\n"
    );
    let o = polc()
        .args(["fmt", "--check", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "formatting is idempotent");

    let g = dir.path().join("broken.pol");
    std::fs::write(&g, "policy \"A\" { when }").unwrap();
    let o = polc().args(["fmt", g.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken.pol"));
    assert_eq!(
        std::fs::read_to_string(&g).unwrap(),
        "policy \"A\" { when }",
        "a broken file is left alone"
    );
}

#[test]
fn formats_stdin_to_stdout() {
    let mut child = polc()
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"import \"std/hris\"\n\n\n\nrequire   employment_status==\"Active\"")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "import \"std/hris\"\n\nrequire employment_status == \"Active\"\n"
    );
}

#[test]
fn the_stdlib_and_seed_policies_are_formatted() {
    let root = root!();
    let o = polc()
        .current_dir(root)
        .args([
            "fmt",
            "--check",
            "stdlib",
            "examples/seed/policies/base.pol",
            "examples/seed/policies/sales.pol",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "not formatted: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}
