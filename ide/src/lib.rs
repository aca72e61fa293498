//! The editor's view of Pol, on the same salsa database and queries as `polc check`: the
//! [`Host`] keeps the documents as inputs and answers the language server's questions
//! (`polc_lsp::Analysis`) with our own types. Reads run on database snapshots and give
//! up (`Cancelled`) when an edit arrives, so typing is never blocked by a long answer.

mod complete;
pub mod discover;
mod fixes;
mod hover;
pub mod locate;
mod navigate;
mod outline;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use polc_lsp::{Analysis, Refused};
use salsa::Setter;

use polc::check::{check_bundle, parse_file, Checked};
use polc::db::{Database, SourceFile, Workspace};
use polc::diagnostics::{Diagnostic, Severity};
use polc::index_vec::IndexVec;
use polc::input::Users;
use polc::ir::PolicyId;

/// Per policy id, how many people a policy applies to; and how many people there are.
pub type PolicyCounts = (IndexVec<PolicyId, usize>, usize);

struct Inner {
    db: Database,
    ws: Workspace,
    /// The workspace's own documents, by URI (the SourceFile's path is its URI).
    files: BTreeMap<String, SourceFile>,
    /// Standard modules and the URI each is shown under (a read-only copy on disk).
    std: Vec<(SourceFile, String)>,
    users_file: Option<PathBuf>,
    users: Option<(PathBuf, std::time::SystemTime, Arc<Users>)>,
    /// The folders whose files were read from disk: the client's roots and the bundle
    /// folders of files opened by themselves (each read once).
    folders: Vec<PathBuf>,
}

/// A consistent view for one request.
pub struct Snapshot {
    pub db: Database,
    pub ws: Workspace,
    files: Vec<(String, SourceFile)>,
    std: Vec<(SourceFile, String)>,
    users_file: Option<PathBuf>,
}

impl Snapshot {
    /// The URI a source file is shown under.
    pub fn uri(&self, f: SourceFile) -> String {
        if let Some((_, u)) = self.std.iter().find(|(s, _)| *s == f) {
            return u.clone();
        }
        f.path(&self.db).clone()
    }

    pub fn file(&self, uri: &str) -> Option<SourceFile> {
        self.files
            .iter()
            .find(|(u, _)| u == uri)
            .map(|(_, f)| *f)
            .or_else(|| self.std.iter().find(|(_, u)| u == uri).map(|(f, _)| *f))
    }

    /// The workspace's own documents.
    pub fn own_files(&self) -> impl Iterator<Item = (&str, SourceFile)> {
        self.files.iter().map(|(u, f)| (u.as_str(), *f))
    }

    pub fn checked(&self) -> &Checked {
        check_bundle(&self.db, self.ws)
    }

    pub fn parsed(&self, f: SourceFile) -> &polc::syntax::Parsed {
        parse_file(&self.db, f)
    }

    pub fn text(&self, f: SourceFile) -> &str {
        f.text(&self.db)
    }

    pub fn env(&self) -> &polc::check::Env {
        polc::check::bundle_env(&self.db, self.ws)
    }

    pub fn std_uri(&self, module: &str) -> Option<String> {
        let path = polc::stdlib::display_path(module);
        self.std
            .iter()
            .find(|(f, _)| *f.path(&self.db) == path)
            .map(|(_, u)| u.clone())
    }
}

/// The language host: documents in, answers out.
pub struct Host {
    inner: Mutex<Inner>,
    users_cache: Mutex<Option<(PathBuf, std::time::SystemTime, Arc<Users>)>>,
    /// The last "applies to N people" counts, for the bundle, users and day they count.
    counts_cache: Mutex<Option<CountsCache>>,
    /// Today's date. A server runs for days: every request compares it with the
    /// database's `today` and moves that on when the date changed (after midnight), so that
    /// diagnostics (expired exceptions) and lenses agree on the day.
    clock: Box<dyn Fn() -> chrono::NaiveDate + Send + Sync + std::panic::RefUnwindSafe>,
}

struct CountsCache {
    bundle: Arc<polc::ir::Bundle>,
    users: Arc<Users>,
    day: chrono::NaiveDate,
    counts: Arc<PolicyCounts>,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

/// Writes the standard modules to a read-only folder so that editors can open them.
fn std_uris(db: &Database, ws: Workspace) -> Vec<(SourceFile, String)> {
    let dir = std::env::temp_dir().join(format!("polc-std-{}", env!("CARGO_PKG_VERSION")));
    let _ = std::fs::create_dir_all(&dir);
    ws.stdlib(db)
        .iter()
        .map(|(name, f)| {
            let path = dir.join(format!("{name}.pol"));
            if std::fs::read_to_string(&path).ok().as_deref() != Some(f.text(db).as_str()) {
                let _ = std::fs::remove_file(&path);
                if std::fs::write(&path, f.text(db)).is_ok() {
                    if let Ok(meta) = std::fs::metadata(&path) {
                        let mut perm = meta.permissions();
                        perm.set_readonly(true);
                        let _ = std::fs::set_permissions(&path, perm);
                    }
                }
            }
            (*f, file_uri(&path))
        })
        .collect()
}

/// `file://` URI of an absolute path (percent-encoding what a URI cannot hold).
pub fn file_uri(path: &std::path::Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Host {
    /// A host on the system clock (UTC).
    pub fn new() -> Host {
        Host::with_clock(polc::db::today_utc)
    }

    /// A host whose "today" comes from `clock` (tests move it across midnight).
    pub fn with_clock(
        clock: impl Fn() -> chrono::NaiveDate + Send + Sync + std::panic::RefUnwindSafe + 'static,
    ) -> Host {
        let loaded = polc::db::Loaded::from_sources(&[]);
        let std = std_uris(&loaded.db, loaded.workspace);
        let host = Host {
            inner: Mutex::new(Inner {
                db: loaded.db,
                ws: loaded.workspace,
                files: BTreeMap::new(),
                std,
                users_file: None,
                users: None,
                folders: Vec::new(),
            }),
            users_cache: Mutex::new(None),
            counts_cache: Mutex::new(None),
            clock: Box::new(clock),
        };
        host.snapshot(); // sets today from the clock
        host
    }

    /// The URIs of the workspace's own documents (opened, or read from disk).
    pub fn uris(&self) -> Vec<String> {
        self.lock().files.keys().cloned().collect()
    }

    /// Reads every Pol file of `folder` (and what they import) into the workspace, except
    /// the documents it already has (an open document's text wins over the disk's).
    /// Each folder is read once.
    fn add_folder(&self, folder: PathBuf) {
        {
            let mut g = self.lock();
            if g.folders.contains(&folder) {
                return;
            }
            g.folders.push(folder.clone());
        }
        let found = discover::read_folder(&folder); // outside the lock: disk reads
        let mut g = self.lock();
        let mut added = false;
        for (path, text) in found {
            let uri = file_uri(&polc::db::lexical_normalize(&folder.join(path)));
            if g.files.contains_key(&uri) {
                continue;
            }
            let f = SourceFile::new(&g.db, uri.clone(), text);
            g.files.insert(uri, f);
            added = true;
        }
        if added {
            Host::sync_files(&mut g);
        }
    }

    /// A document opened outside every folder read so far brings its bundle along: the
    /// folder of [`discover::bundle_folder`], read as `polc check` reads a folder.
    fn add_bundle_of(&self, uri: &str) {
        let Some(path) = discover::uri_path(uri) else {
            return;
        };
        if self.lock().folders.iter().any(|f| path.starts_with(f)) {
            return;
        }
        if let Some(folder) = discover::bundle_folder(&path) {
            self.add_folder(folder);
        }
    }

    /// Per policy id, how many of the users file's people it applies to today, and how
    /// many people there are: computed once per bundle, users file and day (code lenses
    /// are asked for on every edit and scroll).
    pub fn applies_counts(
        &self,
        bundle: &Arc<polc::ir::Bundle>,
        users: &Arc<Users>,
        day: chrono::NaiveDate,
    ) -> Arc<PolicyCounts> {
        let mut cache = self.counts_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.as_ref() {
            let same_bundle = Arc::ptr_eq(&c.bundle, bundle) || *c.bundle == **bundle;
            if same_bundle && Arc::ptr_eq(&c.users, users) && c.day == day {
                return c.counts.clone();
            }
        }
        let plan = polc::eval::Plan::new(bundle.clone(), &users.fields, day);
        let mut counts = IndexVec::from_elem_n(0usize, bundle.policies.len());
        for r in &users.records {
            for p in plan.applying(&r.values).unwrap_or_default() {
                counts[p] += 1;
            }
        }
        let counts = Arc::new((counts, users.records.len()));
        *cache = Some(CountsCache {
            bundle: bundle.clone(),
            users: users.clone(),
            day,
            counts: counts.clone(),
        });
        counts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A consistent view for one request, on today's date (the database's `today` is set
    /// only when the clock's date differs from it: a setter cancels every running read).
    pub fn snapshot(&self) -> Snapshot {
        let now = (self.clock)();
        let mut g = self.lock();
        if g.ws.today(&g.db) != now {
            let ws = g.ws;
            ws.set_today(&mut g.db).to(now);
        }
        Snapshot {
            db: g.db.clone(),
            ws: g.ws,
            files: g.files.iter().map(|(u, f)| (u.clone(), *f)).collect(),
            std: g.std.clone(),
            users_file: g.users_file.clone(),
        }
    }

    /// Runs `f` on a snapshot; an edit meanwhile cancels it.
    fn read<T>(
        &self,
        f: impl FnOnce(&Snapshot) -> T + std::panic::UnwindSafe,
    ) -> Result<T, Refused> {
        let snap = self.snapshot();
        salsa::Cancelled::catch(std::panic::AssertUnwindSafe(|| f(&snap)))
            .map_err(|_| Refused::Cancelled)
    }

    /// The users file's records, re-read when the file changes.
    pub fn users(&self, snap: &Snapshot, bundle: &polc::ir::Bundle) -> Option<Arc<Users>> {
        let path = snap.users_file.clone()?;
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        let mut cache = self.users_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((p, t, u)) = cache.as_ref() {
            if *p == path
                && *t == mtime
                && u.fields.len()
                    == bundle
                        .schema
                        .as_ref()
                        .map_or(u.fields.len(), |s| s.fields.len())
            {
                return Some(u.clone());
            }
        }
        let users = Arc::new(polc::input::load_users(&path, bundle.schema.as_ref(), None).ok()?);
        *cache = Some((path, mtime, users.clone()));
        Some(users)
    }

    fn sync_files(g: &mut Inner) {
        let files: Vec<SourceFile> = g.files.values().copied().collect();
        g.ws.set_files(&mut g.db).to(files);
    }
}

fn severity(s: Severity) -> polc_lsp::Severity {
    match s {
        Severity::Error => polc_lsp::Severity::Error,
        Severity::Warning => polc_lsp::Severity::Warning,
        Severity::Note => polc_lsp::Severity::Note,
    }
}

/// Our diagnostic as the server's: the help line goes into the message.
pub fn to_lsp(snap: &Snapshot, d: &Diagnostic) -> polc_lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    polc_lsp::Diagnostic {
        range: d.primary.span.range(),
        severity: severity(d.severity),
        code: d.code.to_string(),
        message,
        related: d
            .labels
            .iter()
            .map(|l| {
                (
                    polc_lsp::Location {
                        uri: snap.uri(l.file),
                        range: l.span.range(),
                    },
                    l.message.clone(),
                )
            })
            .collect(),
    }
}

impl Analysis for Host {
    fn set_roots(&self, roots: Vec<PathBuf>) {
        for root in roots {
            self.add_folder(root);
        }
    }

    fn set_file(&self, uri: &str, text: String) {
        {
            let mut g = self.lock();
            if g.std.iter().any(|(_, u)| u == uri) {
                return; // the standard library is read-only
            }
            if let Some(f) = g.files.get(uri).copied() {
                if *f.text(&g.db) != text {
                    f.set_text(&mut g.db).to(text);
                }
                return;
            }
            let f = SourceFile::new(&g.db, uri.to_string(), text);
            g.files.insert(uri.to_string(), f);
            Host::sync_files(&mut g);
        }
        self.add_bundle_of(uri);
    }

    fn remove_file(&self, uri: &str) {
        let mut g = self.lock();
        if g.files.remove(uri).is_some() {
            Host::sync_files(&mut g);
        }
    }

    fn set_users_file(&self, path: Option<PathBuf>) {
        let mut g = self.lock();
        g.users_file = path;
        g.users = None;
    }

    fn text(&self, uri: &str) -> Option<String> {
        let g = self.lock();
        let f = g
            .files
            .get(uri)
            .copied()
            .or_else(|| g.std.iter().find(|(_, u)| u == uri).map(|(f, _)| *f))?;
        Some(f.text(&g.db).clone())
    }

    fn diagnostics(&self) -> Result<Vec<(String, Vec<polc_lsp::Diagnostic>)>, Refused> {
        self.read(|snap| {
            let checked = snap.checked();
            let mut out: Vec<(String, Vec<polc_lsp::Diagnostic>)> = snap
                .own_files()
                .map(|(u, _)| (u.to_string(), Vec::new()))
                .collect();
            for d in &checked.diagnostics {
                let uri = snap.uri(d.primary.file);
                match out.iter_mut().find(|(u, _)| *u == uri) {
                    Some((_, v)) => v.push(to_lsp(snap, d)),
                    None => out.push((uri, vec![to_lsp(snap, d)])),
                }
            }
            out
        })
    }

    fn hover(&self, uri: &str, offset: usize) -> Result<Option<polc_lsp::Hover>, Refused> {
        self.read(|snap| hover::hover(self, snap, uri, offset))
    }

    fn definition(&self, uri: &str, offset: usize) -> Result<Vec<polc_lsp::Location>, Refused> {
        self.read(|snap| navigate::definition(snap, uri, offset))
    }

    fn references(
        &self,
        uri: &str,
        offset: usize,
        include_declaration: bool,
    ) -> Result<Vec<polc_lsp::Location>, Refused> {
        self.read(|snap| navigate::references(snap, uri, offset, include_declaration))
    }

    fn rename(
        &self,
        uri: &str,
        offset: usize,
        new_name: &str,
    ) -> Result<Vec<polc_lsp::Edit>, Refused> {
        self.read(|snap| navigate::rename(snap, uri, offset, new_name))?
    }

    fn completion(&self, uri: &str, offset: usize) -> Result<Vec<polc_lsp::Completion>, Refused> {
        self.read(|snap| complete::completion(snap, uri, offset))
    }

    fn document_symbols(&self, uri: &str) -> Result<Vec<polc_lsp::Symbol>, Refused> {
        self.read(|snap| {
            snap.file(uri)
                .map(|f| outline::symbols(snap, f))
                .unwrap_or_default()
        })
    }

    fn workspace_symbols(&self, query: &str) -> Result<Vec<(String, polc_lsp::Symbol)>, Refused> {
        self.read(|snap| outline::workspace_symbols(snap, query))
    }

    fn format(&self, uri: &str) -> Result<Option<String>, Refused> {
        self.read(|snap| {
            snap.file(uri)
                .and_then(|f| polc::fmt::format_source(snap.text(f)).ok())
        })
    }

    fn code_actions(
        &self,
        uri: &str,
        range: polc_lsp::Range,
    ) -> Result<Vec<polc_lsp::CodeAction>, Refused> {
        self.read(|snap| fixes::code_actions(snap, uri, range))
    }

    fn semantic_tokens(&self, uri: &str) -> Result<Vec<polc_lsp::SemanticToken>, Refused> {
        self.read(|snap| {
            snap.file(uri)
                .map(|f| outline::semantic_tokens(snap, f))
                .unwrap_or_default()
        })
    }

    fn code_lenses(&self, uri: &str) -> Result<Vec<polc_lsp::Lens>, Refused> {
        self.read(|snap| outline::lenses(self, snap, uri))
    }
}

#[cfg(test)]
mod tests;
