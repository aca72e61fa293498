//! `polc` end to end on the hardening issue's inputs: imports that try to leave the bundle,
//! nesting errors that must not hide the rest of a file, durations and dates outside the
//! calendar, confusable text. Each runs the binary as CI would.

use std::path::Path;
use std::process::{Command, Output};

fn polc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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
