//! A real editor as the client: headless Neovim (installed by `.ci/run` from Debian) opens a
//! file of a workspace through `polc lsp`, receives the diagnostics, and answers hover and
//! definition. Skipped, with a note, where Neovim is absent, except in CI, where it fails.

use crate::support::POLC;
use std::process::Command;

#[test]
fn neovim_gets_diagnostics_hover_and_definition() {
    if Command::new("nvim").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install neovim (see .ci/run)"
        );
        eprintln!("note: nvim not installed; skipping the Neovim end-to-end test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.pol"),
        "import \"std/hris\"\nimport \"std/saas\"\n\n/// Everyone gets this.\npolicy \"Base\" {\n  when employment_status == \"Active\"\n  grant slack:workspace-member\n}\n",
    )
    .unwrap();
    let main = dir.path().join("main.pol");
    std::fs::write(&main, "policy \"Sales\" {\n  when department == \"Sales\"\n  inherits \"Base\"\n  grant gitlabb:group:crm\n}\n").unwrap();
    let out = dir.path().join("out.json");
    let script = concat!(root!(), "/tests/editors/nvim_e2e.lua");
    let status = Command::new("nvim")
        .args([
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-c",
            &format!("luafile {script}"),
        ])
        .env("POLC", POLC)
        .env("POL_FILE", &main)
        .env("OUT", &out)
        .env("HOVER_LINE", "2")
        .env("HOVER_COL", "13")
        .env("DEF_LINE", "2")
        .env("DEF_COL", "13")
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("nvim wrote its results"))
            .unwrap();
    let diags = v["diagnostics"].as_array().expect("diagnostics received");
    assert!(
        diags.iter().any(|d| d["code"] == "E0301"
            && d["message"]
                .as_str()
                .unwrap()
                .contains("did you mean `gitlab`?")),
        "{v}"
    );
    let hover = v["hover"]["contents"]["value"].as_str().expect("a hover");
    assert!(
        hover.contains("**policy** `Base`") && hover.contains("Everyone gets this."),
        "{hover}"
    );
    let def = &v["definition"][0];
    assert!(def["uri"].as_str().unwrap().ends_with("/base.pol"), "{v}");
    assert_eq!(def["range"]["start"]["line"], 4);
}
