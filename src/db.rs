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
    /// The file imports the loader refused to read (outside the bundle's folders), for
    /// the checks to report (E0004).
    #[returns(ref)]
    pub refused: Vec<RefusedImport>,
}

/// An `import` the loader did not follow because its target is not a `.pol` file inside
/// the bundle's folders: only its path was looked at, never its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefusedImport {
    /// The importing file's display path.
    pub from: String,
    /// The import's path as written.
    pub target: String,
    /// Why, for the diagnostic's label ("outside the bundle's folders", …).
    pub reason: String,
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
        let workspace = Workspace::new(&db, files, std, today_utc(), Vec::new());
        Loaded { db, workspace }
    }

    /// Reads `.pol` files from paths (files, or directories walked recursively), then every
    /// file that an `import "relative/path.pol"` names, transitively. Imports are followed
    /// only to `.pol` files inside the bundle's folders (each directory given, or the folder
    /// of each file given), after symlinks and `..` are resolved; any other import is
    /// recorded in [`Workspace::refused`] without its target being read.
    pub fn from_paths(paths: &[PathBuf]) -> Result<Loaded, LoadError> {
        let db = Database::default();
        let mut files = Vec::new();
        let mut seen: HashMap<PathBuf, ()> = HashMap::new();
        let roots = bundle_roots(paths);
        for p in collect_pol_files(paths)? {
            load_file(&db, &p, &mut files, &mut seen)?;
        }
        // Follow file imports (std modules are built in).
        let mut refused = Vec::new();
        let mut i = 0;
        while i < files.len() {
            let Some(&f) = files.get(i) else { break };
            i += 1;
            let parsed = crate::syntax::parse(f.text(&db));
            for item in &parsed.file.items {
                if let crate::syntax::ast::Item::Import(imp) = item {
                    if imp.path.node.starts_with("std/") {
                        continue;
                    }
                    match import_target(&roots, f.path(&db), &imp.path.node) {
                        ImportTarget::File(shown, canonical) => {
                            if !seen.contains_key(&canonical) {
                                load_file_as(&db, &shown, &canonical, &mut files, &mut seen)?;
                            }
                        }
                        ImportTarget::Missing => {}
                        ImportTarget::Refused(reason) => refused.push(RefusedImport {
                            from: f.path(&db).clone(),
                            target: imp.path.node.clone(),
                            reason,
                        }),
                    }
                }
            }
        }
        let std = stdlib_inputs(&db);
        let workspace = Workspace::new(&db, files, std, today_utc(), refused);
        Ok(Loaded { db, workspace })
    }
}

/// The folders a bundle's imports must stay in: each directory given, or the folder of
/// each file given, canonicalized (symlinks and `..` resolved).
fn bundle_roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter_map(|p| {
            let dir = if p.is_dir() {
                p.as_path()
            } else {
                match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                }
            };
            std::fs::canonicalize(dir).ok()
        })
        .collect()
}

/// What an import of a file points at, decided from its path alone (nothing is read).
enum ImportTarget {
    /// A `.pol` file inside the bundle's folders: the path as the import names it (the
    /// file's display path) and the canonical one (what is read).
    File(PathBuf, PathBuf),
    /// Nothing there: reported as unreadable by the checks (E0003).
    Missing,
    /// Not to be followed, and why.
    Refused(String),
}

/// Why an import's path, as written, can never name a file of the bundle: an absolute
/// path, or a file that is not a `.pol` file. `None` when it may.
pub fn import_path_problem(target: &str) -> Option<&'static str> {
    let b = target.as_bytes();
    let windows_drive = matches!(b, [d, b':', ..] if d.is_ascii_alphabetic());
    if target.starts_with(['/', '\\']) || windows_drive || Path::new(target).is_absolute() {
        Some("an absolute path: imports are relative to the importing file")
    } else if Path::new(target).extension().is_none_or(|e| e != "pol") {
        Some("not a `.pol` file")
    } else {
        None
    }
}

fn import_target(roots: &[PathBuf], from: &str, target: &str) -> ImportTarget {
    if let Some(problem) = import_path_problem(target) {
        return ImportTarget::Refused(problem.to_string());
    }
    // Resolves `..` and every symlink on the way; only the path is looked at.
    let resolved = resolve_import(from, target);
    let Ok(canonical) = std::fs::canonicalize(&resolved) else {
        return ImportTarget::Missing;
    };
    if !roots.iter().any(|r| canonical.starts_with(r)) {
        return ImportTarget::Refused("outside the bundle's folders".to_string());
    }
    if canonical.extension().is_none_or(|e| e != "pol") {
        // A symlink named `x.pol` to some other file.
        return ImportTarget::Refused("a link to a file that is not a `.pol` file".to_string());
    }
    if !canonical.is_file() {
        return ImportTarget::Missing;
    }
    ImportTarget::File(resolved, canonical)
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
    load_file_as(db, p, p, files, seen)
}

/// Reads `read` (once per canonical path) into a file displayed as `p`.
fn load_file_as(
    db: &Database,
    p: &Path,
    read: &Path,
    files: &mut Vec<SourceFile>,
    seen: &mut HashMap<PathBuf, ()>,
) -> Result<(), LoadError> {
    if seen.insert(normalize(read), ()).is_some() {
        return Ok(());
    }
    use crate::input::limits::{self, ReadError};
    let text = limits::read_text(p, limits::Kind::PolicySource).map_err(|e| {
        let mut msg = e.describe(&p.display().to_string());
        if matches!(e, ReadError::NotUtf8 { .. }) {
            msg.push_str("; Pol source files must be UTF-8");
        }
        LoadError(msg)
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "policy \"leak\" { when TOKEN_hunter2 == }\n";

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The bundle's files and the codes and texts of its diagnostics.
    fn check(paths: &[PathBuf]) -> (Vec<String>, Vec<&'static str>, String) {
        let loaded = Loaded::from_paths(paths).unwrap();
        let names = loaded
            .workspace
            .files(&loaded.db)
            .iter()
            .map(|f| f.path(&loaded.db).clone())
            .collect();
        let checked = crate::check::check_bundle(&loaded.db, loaded.workspace);
        let codes = checked.diagnostics.iter().map(|d| d.code).collect();
        let text = format!(
            "{}{}{}",
            crate::diagnostics::render::render_plain(&loaded.db, &checked.diagnostics),
            crate::diagnostics::render::check_json(&loaded.db, &checked.diagnostics),
            crate::diagnostics::render::sarif(&loaded.db, &checked.diagnostics)
        );
        (names, codes, text)
    }

    #[test]
    fn imports_outside_the_bundle_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bundle");
        write(&dir.path().join("outside.pol"), SECRET);
        write(&dir.path().join("outside.txt"), SECRET);
        write(&root.join("notes.txt"), SECRET);
        write(&root.join("lib/common.pol"), "template \"Common\" { }\n");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside.pol"), root.join("link.pol"))
                .unwrap();
            std::os::unix::fs::symlink(root.join("notes.txt"), root.join("lib/notes.pol")).unwrap();
            std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        }
        let main = root.join("main.pol");
        let imports = [
            "/proc/self/environ",
            "../outside.pol",
            "lib/../../outside.pol",
            "../outside.txt",
            "notes.txt",
            "link.pol",
            "lib/notes.pol",
            "up/outside.pol",
            "lib/common.pol",
            "lib/./../lib/common.pol",
        ];
        let text: String = imports
            .iter()
            .map(|i| format!("import \"{i}\"\n"))
            .collect();
        write(&main, &text);
        let outside_count = if cfg!(unix) { 8 } else { 5 };
        for given in [root.clone(), main.clone()] {
            let (files, codes, out) = check(std::slice::from_ref(&given));
            assert!(!out.contains("hunter2"), "{out}");
            assert_eq!(
                codes.iter().filter(|c| **c == "E0004").count(),
                outside_count,
                "{given:?}: {codes:?}\n{out}"
            );
            // The bundle's own files only, the common library once.
            assert!(files.iter().all(|f| !f.contains("outside")), "{files:?}");
            assert_eq!(
                files.iter().filter(|f| f.ends_with("common.pol")).count(),
                1,
                "{files:?}"
            );
        }
    }

    #[test]
    fn imports_inside_the_bundle_are_followed_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("b");
        write(&root.join("sub/main.pol"), "import \"../lib/common.pol\"\n");
        write(&root.join("lib/common.pol"), "template \"Common\" { }\n");
        let (files, codes, out) = check(&[root.join("sub"), root.join("lib")]);
        assert!(!codes.contains(&"E0004"), "{out}");
        assert_eq!(files.len(), 2, "{files:?}");
        // A file named alone: its folder is the bundle's, so a sibling folder is outside.
        let (files, codes, _) = check(&[root.join("sub/main.pol")]);
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(codes.contains(&"E0004"), "{codes:?}");
        // Named by the whole tree, the import is inside.
        let (files, codes, out) = check(std::slice::from_ref(&root));
        assert!(!codes.contains(&"E0004"), "{out}");
        assert_eq!(files.len(), 2, "{files:?}");
    }

    #[test]
    fn import_paths_that_can_never_be_bundle_files() {
        for bad in [
            "/etc/passwd",
            "\\\\server\\share\\x.pol",
            "C:\\x.pol",
            "x.txt",
            "x",
        ] {
            assert!(import_path_problem(bad).is_some(), "{bad}");
        }
        for good in ["x.pol", "../x.pol", "a/b.pol", "./a.pol"] {
            assert_eq!(import_path_problem(good), None, "{good}");
        }
    }
}
