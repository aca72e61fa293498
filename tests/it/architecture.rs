//! The layers of ARCHITECTURE.md, enforced: a crate never depends on a crate above it, and
//! inside the language library a module never imports from a layer above its own. A change
//! that breaks a rule fails here, with the file and the import to move.

use std::collections::BTreeSet;
use std::path::Path;

/// What each workspace crate must never depend on (normal dependencies; tests and benches
/// may use anything).
const CRATE_RULES: &[(&str, &[&str])] = &[
    // The language library: no command line, no async runtime, no protocol, no HTTP, no
    // SQL, and nothing of the crates built on it.
    (
        ".",
        &[
            "clap",
            "tokio",
            "tower-lsp-server",
            "indicatif",
            "rusqlite",
            "postgres",
            "tokio-postgres",
            "ureq",
            "reqwest",
            "hyper",
            "axum",
            "polc-lsp",
            "polc-ide",
            "polc-cli",
            "polc-connectors",
            "polc-provision",
            "polc-serve",
        ],
    ),
    // The protocol layer knows nothing of Pol.
    (
        "lsp",
        &["polc", "polc-ide", "polc-cli", "polc-provision", "clap"],
    ),
    // The editor analysis: the library and the protocol's types, no command line.
    (
        "ide",
        &["clap", "tokio", "polc-cli", "polc-provision", "rusqlite"],
    ),
    // Connectors know how to talk to systems, not what Pol means.
    (
        "connectors",
        &[
            "polc",
            "polc-ide",
            "polc-lsp",
            "polc-cli",
            "polc-provision",
            "clap",
        ],
    ),
    // Provisioning sits on the library and the connectors, below the command line.
    ("provision", &["clap", "polc-cli", "polc-ide", "polc-lsp"]),
    // The service sits on provisioning, below the command line: no argument parsing here.
    ("serve", &["clap", "polc-cli", "polc-ide", "polc-lsp"]),
];

/// Inside the language library: the modules each module may import from (`crate::NAME`).
/// Modules not listed here are the top of the library and may import anything below.
const MODULE_RULES: &[(&str, &[&str])] = &[
    ("stdlib", &[]),
    ("dates", &[]),
    ("text", &[]),
    ("notation", &[]),
    ("index_vec", &[]),
    ("syntax", &[]),
    ("ir", &[]),
    ("input", &["ir", "diagnostics"]),
    ("eval", &["ir", "input"]),
    ("analysis", &["ir", "eval"]),
    ("bundle", &["ir", "input"]),
    ("fmt", &["syntax"]),
];

/// The base: small modules with no imports of their own (ISO dates, text escaping, Pol's
/// shared notation, typed indices) that every layer may use.
const BASE: &[&str] = &["dates", "text", "notation", "index_vec"];

/// Imports that break a module rule today and are scheduled to move (file, module). The
/// list may only shrink: an import that is fixed must be removed from it.
const KNOWN: &[(&str, &str)] = &[];

/// Library files that allow unchecked indexing in the whole module (`#![allow(
/// clippy::indexing_slicing, reason = "...")]`) instead of `get`, iterators, typed vectors or
/// a reasoned allow where an index is proven in bounds. The list may only shrink.
const MODULE_WIDE_INDEXING: &[&str] = &[
    "src/analysis/cases.rs",
    "src/analysis/numeric.rs",
    "src/analysis/solve.rs",
    "src/analysis/strings.rs",
    "src/input/limits.rs",
    "src/input/mapping.rs",
    "src/input/record.rs",
    "src/input/typing.rs",
    "src/input/unique.rs",
    "src/input/users.rs",
    "src/ir/glob.rs",
    "src/lifecycle/apply.rs",
    "src/reconcile/access.rs",
    "src/reconcile/mining/emit.rs",
    "src/reconcile/mining/groups.rs",
    "src/reconcile/mining/mod.rs",
    "src/syntax/lexer.rs",
];

fn root() -> &'static Path {
    Path::new(root!())
}

fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn crates_never_depend_on_a_layer_above() {
    let mut broken = Vec::new();
    for (dir, forbidden) in CRATE_RULES {
        let manifest = root().join(dir).join("Cargo.toml");
        if !manifest.exists() {
            continue; // a crate of a later layer that does not exist yet
        }
        for dep in dependencies(&manifest) {
            if forbidden.contains(&dep.as_str()) {
                broken.push(format!("{dir}/Cargo.toml depends on `{dep}`"));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// The `crate::MODULE` paths a file names in code (comments and the test module at the end
/// of a file are left out).
fn imported_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start() == "#[cfg(test)]" {
            break;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn library_modules_never_import_from_a_layer_above() {
    let src = root().join("src");
    let mut found = BTreeSet::new();
    for (module, allowed) in MODULE_RULES {
        let dir = src.join(module);
        let files: Vec<_> = if dir.is_dir() {
            walkdir::WalkDir::new(&dir)
                .into_iter()
                .filter_map(Result::ok)
                .map(|e| e.into_path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect()
        } else {
            let file = src.join(format!("{module}.rs"));
            if !file.exists() {
                continue;
            }
            vec![file]
        };
        for file in files {
            // Unit tests may build their fixtures with any layer.
            let in_tests = file
                .strip_prefix(&dir)
                .unwrap_or(&file)
                .components()
                .any(|c| {
                    let c = c.as_os_str().to_string_lossy();
                    c.starts_with("tests") || c.ends_with("_tests.rs")
                });
            if in_tests {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let rel = file
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            for m in imported_modules(&text) {
                if m != *module && !allowed.contains(&m.as_str()) && !BASE.contains(&m.as_str()) {
                    found.insert((rel.clone(), m));
                }
            }
        }
    }
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(f, m)| (f.to_string(), m.to_string()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "imports from a layer above (move the shared part down, see ARCHITECTURE.md): {new:?}"
    );
    assert!(
        fixed.is_empty(),
        "these imports are gone: remove them from KNOWN in tests/it/architecture.rs: {fixed:?}"
    );
}

#[test]
fn library_modules_allow_unchecked_indexing_only_where_listed() {
    let src = root().join("src");
    let mut found = BTreeSet::new();
    for entry in walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let head: String = text
            .lines()
            .take_while(|l| {
                !l.starts_with("use ") && !l.starts_with("mod ") && !l.starts_with("pub ")
            })
            .collect();
        if head.contains("#![allow(") && head.contains("clippy::indexing_slicing") {
            let rel = path
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            found.insert(rel);
        }
    }
    let known: BTreeSet<String> = MODULE_WIDE_INDEXING.iter().map(|f| f.to_string()).collect();
    let new: Vec<_> = found.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "new module-wide allows of unchecked indexing (use `get`, iterators, a typed vector, or a reasoned allow on the one expression): {new:?}"
    );
    assert!(
        fixed.is_empty(),
        "these modules no longer allow unchecked indexing: remove them from MODULE_WIDE_INDEXING in tests/it/architecture.rs: {fixed:?}"
    );
    // A lint attribute of a `mod.rs` covers every module under it: such a module is not
    // checked either, whatever its own head says, so it must be listed too.
    let mut covered = Vec::new();
    for m in found.iter().filter(|f| f.ends_with("/mod.rs")) {
        let dir = root().join(m);
        let dir = dir.parent().unwrap();
        for entry in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            let rel = entry
                .path()
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.ends_with(".rs") && !rel.contains("/tests") && !found.contains(&rel) {
                covered.push(rel);
            }
        }
    }
    assert!(
        covered.is_empty(),
        "these modules are under a mod.rs that allows unchecked indexing, so clippy does not check them either: narrow the mod.rs's allow: {covered:?}"
    );
}

#[test]
fn the_scanner_sees_imports_and_skips_comments() {
    let text = "use crate::eval::Plan;\n// crate::check is only mentioned\nlet x = crate::ir::X; // crate::db\n#[cfg(test)]\nuse crate::db::Loaded;\n";
    let got: Vec<_> = imported_modules(text).into_iter().collect();
    assert_eq!(got, ["eval", "ir"]);
}
