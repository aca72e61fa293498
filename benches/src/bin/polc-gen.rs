//! Writes a generated organisation to disk, for timing the `polc` binary end to end:
//! `cargo run -p polc-benches --release --bin polc-gen -- check OUT_DIR` or
//! `… -- eval OUT_DIR USERS`.

use polc_benches::{bundle, users_json, OrgShape};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (kind, out) = match (args.get(1), args.get(2)) {
        (Some(k), Some(o)) => (k.as_str(), std::path::PathBuf::from(o)),
        _ => {
            eprintln!("usage: polc-gen check|eval OUT_DIR [USERS]");
            std::process::exit(2);
        }
    };
    let shape = if kind == "check" {
        OrgShape::check_benchmark()
    } else {
        OrgShape::eval_benchmark()
    };
    for (path, text) in bundle(shape) {
        let p = out.join("policies").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    if let Some(n) = args.get(3) {
        let n: usize = n.parse().expect("USERS is a number");
        std::fs::write(out.join("users.json"), users_json(shape, n)).unwrap();
    }
}
