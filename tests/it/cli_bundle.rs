//! `polc build`, `polc inspect` and `polc keygen` end to end: the seed builds and inspects
//! (human and JSON); a bundle with errors is not written; tampered, truncated and
//! re-versioned files are refused with exit 2 and a message naming the file; signed bundles
//! verify, and verification is fail-closed.

use crate::support::{polc_in, stderr, stdout};
use std::path::Path;
use std::process::Output;

fn polc(args: &[&str]) -> Output {
    polc_in(Path::new(root!()), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Builds the seed into `dir/name`, signed with `key` if given.
fn build_seed(dir: &Path, name: &str, key: Option<&Path>) -> std::path::PathBuf {
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

#[test]
fn the_seed_builds_and_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let out = build_seed(dir.path(), "seed.polb", None);
    let o = polc(&[
        "build",
        "examples/seed/policies",
        "-o",
        s(&dir.path().join("again.polb")),
        "--today",
        "2024-11-24",
    ]);
    let summary = stderr(&o);
    assert!(
        summary.contains("7 policies, 1 template, 13 systems, 1 exception, 4 tests; sha256:"),
        "{summary}"
    );
    // Reproducible: the same sources give the same bytes.
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.path().join("again.polb")).unwrap()
    );

    let o = polc(&["inspect", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "polc-bundle format 1, built by polc",
        "signature     none (unsigned)",
        "examples/seed/policies/base.pol",
        "template \"Engineering Tools Reader\"",
        "policy \"Sales Engineer Access\"",
        "when job_title == \"Sales Engineer\"",
        "inherits \"Base Employee Access\", \"Engineering Tools Reader\", \"Sales Team Access\"",
        "grant salesforce:profile:sales-engineer grace 30d",
        "grant gitlab:group:customer-solutions (reporter)",
        "resource group  levels guest < reporter < developer < maintainer < owner  default guest",
        "exception \"Q4 migration\" for \"sarah.chen\"",
        "tests (4)",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }

    let o = polc(&["inspect", s(&out), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["magic"], "polc-bundle");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["compiler_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["signed"], false);
    assert_eq!(v["verified"], false);
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["created_from"].as_array().unwrap().len(), 5);
    assert_eq!(v["counts"]["policies"], 7);
    assert_eq!(v["counts"]["templates"], 1);
    assert_eq!(v["counts"]["tests"], 4);
    let names: Vec<&str> = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let se = v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Sales Engineer Access")
        .unwrap();
    assert_eq!(se["triggers"][0], "job_title == \"Sales Engineer\"");
    let grants: Vec<&str> = se["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["grant"].as_str().unwrap())
        .collect();
    let mut sorted = grants.clone();
    sorted.sort();
    assert_eq!(grants, sorted);
    assert!(se["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["grant"] == "gitlab:group:customer-solutions" && g["level"] == "reporter"));
    // Stable: the same file gives the same JSON.
    assert_eq!(
        polc(&["inspect", s(&out), "--format", "json"]).stdout,
        o.stdout
    );
}

#[test]
fn a_bundle_with_errors_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bad.pol");
    std::fs::write(&src, "import \"std/hris\"\npolicy \"X\" {\n  when department == \"a\"\n  grant nosuch:thing\n}\n").unwrap();
    let out = dir.path().join("bad.polb");
    let o = polc(&["build", s(&src), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("E0301"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no bundle written"), "{}", stderr(&o));
    assert!(!out.exists());
    // Missing sources are input errors.
    let o = polc(&["build", s(&dir.path().join("none")), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn damaged_bundles_are_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = build_seed(dir.path(), "seed.polb", None);
    let bytes = std::fs::read(&out).unwrap();
    let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let text = String::from_utf8(bytes.clone()).unwrap();
    let mut flipped = bytes.clone();
    flipped[start + 100] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped.polb",
            flipped,
            "content does not match its digest: the bundle was modified or corrupted",
        ),
        (
            "v2.polb",
            text.replacen("\"format_version\":1", "\"format_version\":2", 1)
                .into_bytes(),
            "format version 2, this polc reads 1: rebuild it with `polc build`",
        ),
        (
            "short.polb",
            bytes[..bytes.len() / 2].to_vec(),
            "truncated bundle",
        ),
        (
            "header.polb",
            bytes[..start / 2].to_vec(),
            "truncated bundle",
        ),
        (
            "other.polb",
            b"{\"users\": []}\n".to_vec(),
            "not a polc bundle",
        ),
        ("empty.polb", Vec::new(), "not a polc bundle"),
    ];
    for (name, data, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        for format in ["human", "json"] {
            let o = polc(&["inspect", s(&p), "--format", format]);
            assert_eq!(o.status.code(), Some(2), "{name}");
            let e = stderr(&o);
            assert!(e.starts_with(&format!("error: {}: ", p.display())), "{e}");
            assert!(e.contains(want), "{name}: {e}");
            assert!(!e.contains("panicked"), "{e}");
            assert!(o.stdout.is_empty());
        }
    }
    let o = polc(&["inspect", "examples/seed/policies/base.pol"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("base.pol: not a polc bundle"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn signed_bundles_verify_and_verification_is_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (dir.path().join("k1"), dir.path().join("k2"));
    for k in [&k1, &k2] {
        let o = polc(&["keygen", "-o", s(k)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).contains("key id"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&k1).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // keygen does not overwrite a key.
    let o = polc(&["keygen", "-o", s(&k1)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"));

    let (p1, p2) = (dir.path().join("k1.pub"), dir.path().join("k2.pub"));
    let signed = build_seed(dir.path(), "signed.polb", Some(&k1));
    let o = polc(&["inspect", s(&signed), "--verify-key", s(&p1)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(": verified"), "{}", stdout(&o));
    let o = polc(&[
        "inspect",
        s(&signed),
        "--verify-key",
        s(&p1),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["signed"].clone(), v["verified"].clone()),
        (true.into(), true.into())
    );
    // Without a key: shown as signed, not verified.
    let o = polc(&["inspect", s(&signed)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("not verified"));

    // Another key: refused.
    let o = polc(&["inspect", s(&signed), "--verify-key", s(&p2)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("signed by another key"),
        "{}",
        stderr(&o)
    );
    // Unsigned with a key: refused.
    let unsigned = build_seed(dir.path(), "unsigned.polb", None);
    let o = polc(&["inspect", s(&unsigned), "--verify-key", s(&p1)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not signed"), "{}", stderr(&o));
    // A signed bundle whose header was edited: refused.
    let text = std::fs::read_to_string(&signed).unwrap();
    let edited = dir.path().join("edited.polb");
    std::fs::write(&edited, text.replacen("tests.pol", "other.pol", 1)).unwrap();
    let o = polc(&["inspect", s(&edited), "--verify-key", s(&p1)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad signature"), "{}", stderr(&o));

    // Keys of the wrong kind or malformed: clear errors, exit 2, nothing written.
    let o = polc(&["inspect", s(&signed), "--verify-key", s(&k1)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("this is a secret key"),
        "{}",
        stderr(&o)
    );
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    let out = dir.path().join("x.polb");
    let o = polc(&[
        "build",
        "examples/seed/policies",
        "-o",
        s(&out),
        "--sign-key",
        s(&bad),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.key: not a polc key file"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let o = polc(&[
        "build",
        "examples/seed/policies",
        "-o",
        s(&out),
        "--sign-key",
        s(&p1),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("this is a public key"),
        "{}",
        stderr(&o)
    );
}
