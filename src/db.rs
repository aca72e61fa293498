//! The incremental analysis database (salsa 0.28) that `polc check` and the language server
//! share. Inputs are only file texts and the bundle's file set; everything else is a
//! tracked query in [`crate::check`], recomputed when (and only when) what it read changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::stdlib;

/// One `.pol` file: its display path (as given on the command line or by the editor) and
/// its text. Changing the text invalidates this file's parse and whatever read it.
#[salsa::input(debug)]
pub struct SourceFile {
    #[returns(ref)]
    pub path: String,
    #[returns(ref)]
    pub text: String,
}

/// The bundle being analysed: its own files and every standard module (only those that
/// some file imports become part of the bundle).
#[salsa::input(debug)]
pub struct Workspace {
    #[returns(ref)]
    pub files: Vec<SourceFile>,
    #[returns(ref)]
    pub stdlib: Vec<(String, SourceFile)>,
    /// The date "now" for checks that depend on it (expired exceptions): `--today`.
    #[returns(copy)]
    pub today: chrono::NaiveDate,
}

/// Today's date, UTC.
pub fn today_utc() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

#[salsa::db]
pub trait Db: salsa::Database {}

#[salsa::db]
#[derive(Default, Clone)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

/// The queries a database executed, for tests of incrementality.
pub type QueryLog = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

impl Database {
    /// A database that records the name of every query it executes (not those it reuses).
    pub fn logging() -> (Database, QueryLog) {
        let log: QueryLog = Default::default();
        let sink = log.clone();
        let storage = salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind {
                if let Ok(mut l) = sink.lock() {
                    l.push(format!("{database_key:?}"));
                }
            }
        })));
        (Database { storage }, log)
    }
}

#[salsa::db]
impl Db for Database {}

/// Problems reading a bundle from disk: the message names the path. Exit code 2.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A loaded bundle: the database and its workspace input.
pub struct Loaded {
    pub db: Database,
    pub workspace: Workspace,
}

impl Loaded {
    /// A workspace of in-memory files `(path, text)`, for tests, the language server and
    /// `polc test`'s own checks.
    pub fn from_sources(sources: &[(&str, &str)]) -> Loaded {
        Loaded::from_sources_in(Database::default(), sources)
    }

    /// Like [`Loaded::from_sources`], in a given database (e.g. [`Database::logging`]).
    pub fn from_sources_in(db: Database, sources: &[(&str, &str)]) -> Loaded {
        let files: Vec<SourceFile> = sources
            .iter()
            .map(|(p, t)| SourceFile::new(&db, p.to_string(), t.to_string()))
            .collect();
        let std = stdlib_inputs(&db);
        let workspace = Workspace::new(&db, files, std, today_utc());
        Loaded { db, workspace }
    }

    /// Reads `.pol` files from paths (files, or directories walked recursively), then every
    /// file that an `import "relative/path.pol"` names, transitively.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
        let db = Database::default();
        let mut files = Vec::new();
        let mut seen: HashMap<PathBuf, ()> = HashMap::new();
        for p in collect_pol_files(paths)? {
            load_file(&db, &p, &mut files, &mut seen)?;
        }
        // Follow file imports (std modules are built in).
        let mut i = 0;
        while i < files.len() {
            let f: SourceFile = files[i];
            i += 1;
            let parsed = crate::syntax::parse(f.text(&db));
            for item in &parsed.file.items {
                if let crate::syntax::ast::Item::Import(imp) = item {
                    if imp.path.node.starts_with("std/") {
                        continue;
                    }
                    let target = resolve_import(f.path(&db), &imp.path.node);
                    if target.is_file() && !seen.contains_key(&normalize(&target)) {
                        load_file(&db, &target, &mut files, &mut seen)?;
                    }
                }
            }
        }
        let std = stdlib_inputs(&db);
        let workspace = Workspace::new(&db, files, std, today_utc());
        Ok(Loaded { db, workspace })
    }
}

/// The path an `import "x.pol"` in `from` refers to: relative to the importing file.
pub fn resolve_import(from: &str, target: &str) -> PathBuf {
    let base = Path::new(from).parent().unwrap_or(Path::new(""));
    base.join(target)
}

/// `a/./b/../c` → `a/c`, without touching the disk (analysis queries do no IO).
pub fn lexical_normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn normalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn stdlib_inputs(db: &Database) -> Vec<(String, SourceFile)> {
    stdlib::MODULES
        .iter()
        .map(|(name, text)| {
            (
                name.to_string(),
                SourceFile::new(db, stdlib::display_path(name), text.to_string()),
            )
        })
        .collect()
}

fn load_file(
    db: &Database,
    p: &Path,
    files: &mut Vec<SourceFile>,
    seen: &mut HashMap<PathBuf, ()>,
) -> Result<(), LoadError> {
    if seen.insert(normalize(p), ()).is_some() {
        return Ok(());
    }
    let bytes = std::fs::read(p)
        .map_err(|e| LoadError(crate::text::cannot_read(&p.display().to_string(), &e)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let ok = &e.as_bytes()[..at];
        let line = ok.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = ok.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        LoadError(format!("{}:{line}:{col}: not UTF-8 text (invalid byte at offset {at}); Pol source files must be UTF-8", p.display()))
    })?;
    files.push(SourceFile::new(db, p.display().to_string(), text));
    Ok(())
}

/// Every `.pol` file under the given paths, in a stable order. A named file is taken
/// whatever its extension; a missing path is an error.
pub fn collect_pol_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| LoadError(crate::text::cannot_read(&p.display().to_string(), &e)))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            let walk = walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    // build output, dependencies and hidden folders are never part of a bundle
                    let name = e.file_name().to_string_lossy();
                    e.depth() == 0
                        || !(name.starts_with('.') || name == "target" || name == "node_modules")
                });
            for entry in walk {
                let entry = entry.map_err(|e| LoadError(format!("{}: {e}", p.display())))?;
                if entry.file_type().is_file()
                    && entry.path().extension().is_some_and(|e| e == "pol")
                {
                    found.push(entry.into_path());
                }
            }
            if found.is_empty() {
                return Err(LoadError(format!(
                    "{}: no .pol files in this directory",
                    p.display()
                )));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
