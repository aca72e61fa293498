//! Writes a generated organisation to disk, for timing the `polc` binary end to end:
//! `cargo run -p polc-benches --release --bin polc-gen -- check OUT_DIR`,
//! `… -- eval OUT_DIR [USERS]` (also writes the same policy set as Rego, in `rego/`, and as
//! indexed Rego with its data document, in `rego-indexed/`) or
//! `… -- drift OUT_DIR USERS` (also writes the access export, `access.json`).

use polc_benches::{org, pipeline, users_json, OrgShape};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (kind, out) = match (args.get(1), args.get(2)) {
        (Some(k), Some(o)) if ["check", "eval", "drift"].contains(&k.as_str()) => {
            (k.as_str(), std::path::PathBuf::from(o))
        }
        _ => {
            eprintln!("usage: polc-gen check|eval|drift OUT_DIR [USERS]");
            std::process::exit(2);
        }
    };
    let shape = if kind == "check" {
        OrgShape::check_benchmark()
    } else {
        OrgShape::eval_benchmark()
    };
    let org = org(shape);
    let files = org.pol_files();
    for (path, text) in &files {
        let p = out.join("policies").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    if kind != "check" {
        for (path, text) in org.rego() {
            let p = out.join("rego").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let (modules, data) = org.rego_indexed();
        let dir = out.join("rego-indexed");
        std::fs::create_dir_all(&dir).unwrap();
        for (path, text) in modules {
            std::fs::write(dir.join(path), text).unwrap();
        }
        std::fs::write(dir.join("data.json"), data).unwrap();
    }
    let users = match args.get(3) {
        Some(n) => {
            let n: usize = n.parse().expect("USERS is a number");
            let users = users_json(shape, n);
            std::fs::write(out.join("users.json"), &users).unwrap();
            users
        }
        None if kind == "drift" => {
            eprintln!("usage: polc-gen drift OUT_DIR USERS");
            std::process::exit(2);
        }
        None => return,
    };
    if kind == "drift" {
        let bundle = pipeline::load_bundle(&files);
        let (access, st) = pipeline::access_json(&bundle, &users);
        std::fs::write(out.join("access.json"), access).unwrap();
        eprintln!("access.json: {st:?}");
    }
}
