//! Checking: the tracked salsa queries that take a bundle's files to its diagnostics and its
//! checked IR. Each query says what invalidates it.
//!
//! - [`parse_file`]: one file's text.
//! - [`bundle_files`]: the workspace's file list and every file's imports.
//! - [`bundle_env`]: the declarations of every file of the bundle (names, schema, systems),
//!   compared by value: unchanged declarations re-check no other file.
//! - [`check_file`]: one file's AST and the environment (not other files' bodies).
//! - [`check_bundle`]: every file check; cross-file analyses (cycles, lints) and the IR.

pub mod env;
pub mod exprs;
pub mod graph;
pub mod items;
pub mod lints;
pub mod refs;
pub mod semantic;
#[cfg(test)]
mod semantic_tests;

use std::sync::Arc;

use crate::db::{Db, SourceFile, Workspace};
use crate::diagnostics::Diagnostic;
use crate::index_vec::IndexVec;
use crate::ir;
use crate::syntax::{self, Parsed};

pub use env::Env;
pub use items::FileCheck;

/// What the lowering functions share: the environment, the file, the diagnostics so far.
pub struct Ctx<'e> {
    pub env: &'e Env,
    pub file: SourceFile,
    pub diags: Vec<Diagnostic>,
    quiet: bool,
}

impl<'e> Ctx<'e> {
    pub fn new(env: &'e Env, file: SourceFile) -> Ctx<'e> {
        Ctx {
            env,
            file,
            diags: Vec::new(),
            quiet: false,
        }
    }
    /// A context that computes the same results but reports nothing (for re-checks).
    pub fn quiet(&self) -> Ctx<'e> {
        Ctx {
            env: self.env,
            file: self.file,
            diags: Vec::new(),
            quiet: true,
        }
    }
    pub fn push(&mut self, d: Diagnostic) {
        if !self.quiet {
            self.diags.push(d);
        }
    }
}

/// Parses one file. Invalidated by its text only.
#[salsa::tracked(returns(ref))]
pub fn parse_file(db: &dyn Db, file: SourceFile) -> Parsed {
    syntax::parse(file.text(db))
}

/// The files of the bundle: the workspace's own, then each standard module some file
/// imports (flag `true`), in the order first imported.
#[salsa::tracked(returns(ref))]
pub fn bundle_files(db: &dyn Db, ws: Workspace) -> Vec<(SourceFile, bool)> {
    let own = ws.files(db);
    let mut out: Vec<(SourceFile, bool)> = own.iter().map(|f| (*f, false)).collect();
    let mut i = 0;
    while let Some(&(f, _)) = out.get(i) {
        i += 1;
        for item in &parse_file(db, f).file.items {
            if let syntax::ast::Item::Import(imp) = item {
                if let Some(module) = imp.path.node.strip_prefix("std/") {
                    if let Some((_, sf)) = ws.stdlib(db).iter().find(|(n, _)| n == module) {
                        if !out.iter().any(|(g, _)| g == sf) {
                            out.push((*sf, true));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The declarations of the bundle, with what is declared twice. Re-runs when any file
/// changes; see [`bundle_env`] for what other queries read.
#[salsa::tracked(returns(ref))]
fn full_env(db: &dyn Db, ws: Workspace) -> Env {
    let files = bundle_files(db, ws);
    // Standard modules first: a user's redeclaration is the one reported, in the user's file.
    let ordered = files
        .iter()
        .filter(|(_, std)| *std)
        .chain(files.iter().filter(|(_, std)| !*std));
    let inputs: Vec<(SourceFile, &Parsed, &str, bool)> = ordered
        .map(|(f, std)| (*f, parse_file(db, *f), f.text(db).as_str(), *std))
        .collect();
    env::build(&inputs)
}

/// The declarations without their diagnostics: this is what other queries read, so that an
/// edit that moves a span but declares the same things re-checks nothing else.
#[salsa::tracked(returns(ref))]
pub fn bundle_env(db: &dyn Db, ws: Workspace) -> Env {
    let mut env = full_env(db, ws).clone();
    env.diagnostics.clear();
    env
}

/// Names, fields, systems, types or levels declared twice.
#[salsa::tracked(returns(ref))]
pub fn declaration_diagnostics(db: &dyn Db, ws: Workspace) -> Vec<Diagnostic> {
    full_env(db, ws).diagnostics.clone()
}

/// One file's items lowered against the environment, with their diagnostics.
#[salsa::tracked(returns(ref))]
pub fn check_file(db: &dyn Db, ws: Workspace, file: SourceFile) -> FileCheck {
    let env = bundle_env(db, ws);
    let std_modules: Vec<&str> = crate::stdlib::MODULES.iter().map(|(n, _)| *n).collect();
    let file_paths: Vec<String> = ws.files(db).iter().map(|f| f.path(db).clone()).collect();
    let decl_span = |d: &env::PolicyDecl| d.name_span(&parse_file(db, d.file).file);
    let targets = items::ImportTargets {
        std_modules: &std_modules,
        file_paths: &file_paths,
        refused: ws.refused(db),
        decl_span: &decl_span,
    };
    items::check_items(
        env,
        file,
        file.path(db),
        &parse_file(db, file).file,
        &targets,
    )
}

/// The result of checking a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Sorted by file (bundle order), position, code.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked IR. Complete only when there is no error.
    pub bundle: Arc<ir::Bundle>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors that leave the IR incomplete: every error but E0501, which is a finding
    /// about complete policies (a conflict some user can reach) that evaluation reports as
    /// violations. Commands that evaluate refuse a bundle for these only.
    pub fn blocking_errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.is_error() && d.code != "E0501")
    }
}

pub fn syntax_diagnostic(file: SourceFile, e: &syntax::SyntaxError) -> Diagnostic {
    Diagnostic::new(e.code, e.message.clone(), file, e.span, e.label.clone())
        .with_help_opt(e.help.clone())
}

/// Everything about the bundle: every file's diagnostics, the cross-file analyses, the IR.
#[salsa::tracked(returns(ref))]
pub fn check_bundle(db: &dyn Db, ws: Workspace) -> Checked {
    let files = bundle_files(db, ws);
    let env = bundle_env(db, ws);
    let mut diags: Vec<Diagnostic> = Vec::new();
    for (f, _) in files {
        let parsed = parse_file(db, *f);
        diags.extend(
            parsed
                .errors
                .iter()
                .chain(&parsed.warnings)
                .map(|e| syntax_diagnostic(*f, e)),
        );
    }
    diags.extend(declaration_diagnostics(db, ws).iter().cloned());
    let checks: Vec<(SourceFile, &FileCheck)> = files
        .iter()
        .map(|(f, _)| (*f, check_file(db, ws, *f)))
        .collect();
    for (_, c) in &checks {
        diags.extend(c.diagnostics.iter().cloned());
    }
    let lowered = assemble(env, &checks);
    diags.extend(graph::cycles(&lowered));
    diags.extend(lints::run(&lowered, ws.today(db)));
    // The decision procedure needs triggers lowered as written: not after an error.
    if !diags.iter().any(Diagnostic::is_error) {
        diags.extend(semantic::run(&lowered, ws.today(db)));
    }
    if env.schema.is_none() {
        if let Some((first, _)) = files.iter().find(|(_, std)| !std) {
            diags.push(
                Diagnostic::new("N0001", "the bundle has no schema: attributes are untyped and nothing is type-checked", *first, syntax::Span::new(0, 0), "no `schema` and no `import \"std/hris\"`")
                    .with_help("add `import \"std/hris\"` or a `schema { … }` block to check attribute names and types"),
            );
        }
    }
    let order: Vec<SourceFile> = files.iter().map(|(f, _)| *f).collect();
    diags.sort_by_key(|d| {
        (
            order.iter().position(|f| *f == d.primary.file),
            d.primary.span.start,
            d.primary.span.end,
            d.code,
        )
    });
    diags.dedup();
    Checked {
        diagnostics: diags,
        bundle: Arc::new(lowered.bundle),
    }
}

/// The bundle's IR with the spans the cross-file analyses point at.
pub struct Lowered<'a> {
    pub bundle: ir::Bundle,
    /// Per policy id: the policy as lowered (`None` for a declaration not lowered).
    pub policies: IndexVec<ir::PolicyId, Option<&'a items::LoweredPolicy>>,
    pub exceptions: Vec<&'a items::LoweredException>,
    /// Parallel to `bundle.requires`: where each is written.
    pub requires: Vec<(SourceFile, syntax::Span)>,
    /// Parallel to `bundle.conflicts`: the file, the name's span, each pattern's span.
    pub conflicts: Vec<(SourceFile, syntax::Span, Vec<syntax::Span>)>,
    pub env: &'a Env,
}

impl<'a> Lowered<'a> {
    /// The policy of an id as lowered; `None` for a declaration not lowered (after errors).
    pub fn lowered(&self, p: ir::PolicyId) -> Option<&'a items::LoweredPolicy> {
        self.policies.get(p).copied().flatten()
    }
}

fn assemble<'a>(env: &'a Env, checks: &[(SourceFile, &'a FileCheck)]) -> Lowered<'a> {
    let mut bundle = ir::Bundle {
        schema: env.schema.as_ref().map(|s| ir::Schema {
            fields: s
                .fields
                .iter()
                .map(|f| ir::Field {
                    name: f.name.clone(),
                    ty: f.ty.clone(),
                    optional: f.optional,
                    doc: f.doc.clone(),
                })
                .collect(),
            key: s.key.clone(),
        }),
        systems: env
            .systems
            .iter()
            .map(|s| ir::System {
                name: s.name.clone(),
                display: s.display.clone(),
                grace: s.grace,
                doc: s.doc.clone(),
                types: s
                    .types
                    .iter()
                    .map(|t| ir::ResourceType {
                        name: t.name.clone(),
                        levels: t.levels.clone(),
                        default: t.default,
                        grace: t.grace,
                    })
                    .collect(),
            })
            .collect(),
        ..Default::default()
    };
    let mut policies: IndexVec<ir::PolicyId, Option<&items::LoweredPolicy>> =
        IndexVec::from_elem_n(None, env.policies.len());
    let mut exceptions = Vec::new();
    let mut requires = Vec::new();
    let mut conflicts = Vec::new();
    for &(file, c) in checks {
        bundle
            .requires
            .extend(c.requires.iter().map(|(e, _)| e.clone()));
        requires.extend(c.requires.iter().map(|(_, s)| (file, *s)));
        conflicts.extend(
            c.conflict_spans
                .iter()
                .map(|(n, ps)| (file, *n, ps.clone())),
        );
        for p in &c.policies {
            // The id is the declaration's: there is a place for it.
            if let Some(slot) = policies.get_mut(p.id) {
                *slot = Some(p);
            }
        }
        for e in &c.exceptions {
            bundle.exceptions.push(e.exception.clone());
            exceptions.push(e);
        }
        bundle
            .conflicts
            .extend(c.conflicts.iter().map(|(c, _)| c.clone()));
        bundle.tests.extend(c.tests.iter().cloned());
    }
    bundle.policies = env
        .policies
        .iter()
        .zip(&policies)
        .map(|(decl, lp)| match lp {
            Some(lp) => lp.policy.clone(),
            // Declared but not lowered (only after errors): an inert placeholder.
            None => ir::Policy::named(decl.name.clone(), true, None),
        })
        .collect();
    Lowered {
        bundle,
        policies,
        exceptions,
        requires,
        conflicts,
        env,
    }
}
