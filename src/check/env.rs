//! The bundle's declarations: schema fields, systems with their types and levels, and the
//! names of policies and templates. Built from every file of the bundle; a name declared
//! twice is reported here (E0103, E0205, E0305), and the first declaration wins.

use std::collections::HashMap;

use crate::db::SourceFile;
use crate::diagnostics::Diagnostic;
use crate::index_vec::IndexVec;
use crate::ir::{Duration, PolicyId, SystemId, Type, TypeId};
use crate::syntax::ast::{self, Item, PolicyKind, ResourceClause, SystemClause, TypeExpr};
use crate::syntax::lexer::{Comment, CommentKind};
use crate::syntax::{Sp, Span};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env {
    /// `None` when no file of the bundle declares a schema.
    pub schema: Option<SchemaEnv>,
    pub systems: IndexVec<SystemId, SystemEnv>,
    pub system_index: HashMap<String, SystemId>,
    pub policies: IndexVec<PolicyId, PolicyDecl>,
    pub policy_index: HashMap<String, PolicyId>,
    /// Declarations twice (E0103, E0205, E0305). Taken out by `check::bundle_env` and
    /// served by `check::declaration_diagnostics`, since their spans move with every edit.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaEnv {
    pub fields: Vec<FieldEnv>,
    pub index: HashMap<String, usize>,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEnv {
    pub name: String,
    pub ty: Type,
    pub optional: bool,
    pub key: bool,
    pub file: SourceFile,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemEnv {
    pub name: String,
    pub display: Option<String>,
    pub grace: Option<Duration>,
    pub doc: Option<String>,
    pub file: SourceFile,
    pub span: Span,
    pub types: IndexVec<TypeId, TypeEnv>,
    /// Declared by a standard module.
    pub from_std: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeEnv {
    pub name: String,
    /// Lower-case, lowest first.
    pub levels: Vec<String>,
    pub default: Option<u8>,
    pub grace: Option<Duration>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecl {
    pub name: String,
    pub kind: PolicyKind,
    pub file: SourceFile,
    /// Index of the declaring item in its file. Not its span: a span moves with every edit
    /// above it, and the environment must compare equal across edits that do not change
    /// declarations, so that other files' checks are reused.
    pub item: u32,
    pub doc: Option<String>,
}

impl PolicyDecl {
    /// The span of the declaration's name, read from its file's AST.
    pub fn name_span(&self, ast: &ast::File) -> Span {
        match ast.items.get(self.item as usize) {
            Some(Item::Policy(p)) => p.name.span,
            _ => Span::default(),
        }
    }
}

impl Env {
    pub fn system(&self, name: &str) -> Option<(SystemId, &SystemEnv)> {
        let &i = self.system_index.get(name)?;
        Some((i, self.systems.get(i)?))
    }
    pub fn policy(&self, name: &str) -> Option<(PolicyId, &PolicyDecl)> {
        let &i = self.policy_index.get(name)?;
        Some((i, self.policies.get(i)?))
    }
    pub fn field(&self, name: &str) -> Option<&FieldEnv> {
        let s = self.schema.as_ref()?;
        s.index.get(name).and_then(|&i| s.fields.get(i))
    }
}

impl SystemEnv {
    pub fn rtype(&self, name: &str) -> Option<(TypeId, &TypeEnv)> {
        self.types.iter_enumerated().find(|(_, t)| t.name == name)
    }
}

/// The doc comment (`///` lines) directly above `start`, joined, if any.
pub fn doc_before(text: &str, comments: &[Comment], start: u32) -> Option<String> {
    let idx = comments.partition_point(|c| c.span.end <= start);
    let mut lines = Vec::new();
    let mut next_start = start as usize;
    for c in comments.iter().take(idx).rev() {
        let between = &text[c.span.end as usize..next_start];
        if !between.trim().is_empty() || c.kind != CommentKind::Doc {
            break;
        }
        // a blank line between a doc comment and the item detaches it
        if between.matches('\n').count() > 1 {
            break;
        }
        let line = &text[c.span.range()];
        let body = line.trim_start_matches("///");
        lines.push(
            body.strip_prefix(' ')
                .unwrap_or(body)
                .trim_end()
                .to_string(),
        );
        next_start = c.span.start as usize;
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(lines.join("\n"))
}

pub fn lower_type(t: &Sp<TypeExpr>) -> Type {
    match &t.node {
        TypeExpr::String => Type::String,
        TypeExpr::Int => Type::Int,
        TypeExpr::Bool => Type::Bool,
        TypeExpr::Date => Type::Date,
        TypeExpr::Enum(m) => Type::Enum(m.iter().map(|n| n.node.clone()).collect()),
        TypeExpr::List(inner) => Type::List(Box::new(lower_type(inner))),
    }
}

/// Builds the environment from the bundle's parsed files, in order.
pub fn build(files: &[(SourceFile, &crate::syntax::Parsed, &str, bool)]) -> Env {
    let mut env = Env::default();
    let mut name_spans: IndexVec<PolicyId, Span> = IndexVec::new();
    let mut key_field: Option<(SourceFile, Span)> = None;
    for (file, parsed, text, from_std) in files {
        let file = *file;
        for (item_index, item) in parsed.file.items.iter().enumerate() {
            match item {
                Item::Schema(s) => {
                    let schema = env.schema.get_or_insert_with(SchemaEnv::default);
                    for f in &s.fields {
                        declare_field(
                            schema,
                            &mut env.diagnostics,
                            &mut key_field,
                            file,
                            f,
                            text,
                            &parsed.comments,
                        );
                    }
                }
                Item::System(s) => {
                    declare_system(&mut env, file, s, text, &parsed.comments, *from_std)
                }
                Item::Policy(p) => {
                    if p.name.node.is_empty() {
                        continue;
                    }
                    if let Some((prev_id, prev)) = env.policy(&p.name.node) {
                        env.diagnostics.push(
                            Diagnostic::new(
                                "E0103",
                                format!("the name `{}` is declared twice", p.name.node),
                                file,
                                p.name.span,
                                format!("second {} named `{}`", p.kind.keyword(), p.name.node),
                            )
                            .with_label(
                                prev.file,
                                name_spans.get(prev_id).copied().unwrap_or_default(),
                                "first declared here",
                            )
                            .with_help(
                                "policies and templates share one namespace: rename one of them",
                            ),
                        );
                        continue;
                    }
                    env.policy_index
                        .insert(p.name.node.clone(), env.policies.next_id());
                    env.policies.push(PolicyDecl {
                        name: p.name.node.clone(),
                        kind: p.kind,
                        file,
                        item: item_index as u32,
                        doc: doc_before(text, &parsed.comments, p.span.start),
                    });
                    name_spans.push(p.name.span);
                }
                _ => {}
            }
        }
    }
    if let Some(schema) = &mut env.schema {
        schema.key = match schema.fields.iter().find(|f| f.key) {
            Some(f) => f.name.clone(),
            None => "user_id".to_string(),
        };
    }
    env
}

fn declare_field(
    schema: &mut SchemaEnv,
    diags: &mut Vec<Diagnostic>,
    key_field: &mut Option<(SourceFile, Span)>,
    file: SourceFile,
    f: &ast::Field,
    text: &str,
    comments: &[Comment],
) {
    if let Some(prev) = schema
        .index
        .get(&f.name.node)
        .and_then(|&i| schema.fields.get(i))
    {
        diags.push(
            Diagnostic::new(
                "E0205",
                format!("the field `{}` is declared twice", f.name.node),
                file,
                f.name.span,
                "declared again here",
            )
            .with_label(prev.file, prev.span, "first declared here")
            .with_help("schema blocks merge: declare each field once"),
        );
        return;
    }
    let mut key = f.key;
    if f.key {
        if let Some((kf, ks)) = key_field {
            diags.push(
                Diagnostic::new(
                    "E0205",
                    "a second field is marked `key`",
                    file,
                    f.span,
                    "second key",
                )
                .with_label(*kf, *ks, "the key is already this field")
                .with_help("a schema has one key field: the user id"),
            );
            key = false;
        } else {
            *key_field = Some((file, f.span));
        }
        if f.optional {
            diags.push(
                Diagnostic::new(
                    "E0202",
                    "the key field cannot be optional",
                    file,
                    f.span,
                    "optional key",
                )
                .with_help("every user record needs its id: remove the `?`"),
            );
        }
    }
    schema
        .index
        .insert(f.name.node.clone(), schema.fields.len());
    schema.fields.push(FieldEnv {
        name: f.name.node.clone(),
        ty: lower_type(&f.ty),
        optional: f.optional,
        key,
        file,
        span: f.name.span,
        doc: doc_before(text, comments, f.span.start),
    });
}

fn declare_system(
    env: &mut Env,
    file: SourceFile,
    s: &ast::System,
    text: &str,
    comments: &[Comment],
    from_std: bool,
) {
    if let Some((_, prev)) = env.system(&s.name.node) {
        let (pf, ps) = (prev.file, prev.span);
        let from_std = prev.from_std;
        env.diagnostics.push(
            Diagnostic::new(
                "E0305",
                format!("the system `{}` is declared twice", s.name.node),
                file,
                s.name.span,
                "declared again here",
            )
            .with_label(pf, ps, "first declared here")
            .with_help(if from_std {
                "this system comes from the standard library: give yours another name".to_string()
            } else {
                "declare each system once, with all its resource types".to_string()
            }),
        );
        return;
    }
    let mut sys = SystemEnv {
        name: s.name.node.clone(),
        display: s.display.as_ref().map(|d| d.node.clone()),
        grace: None,
        doc: doc_before(text, comments, s.span.start),
        file,
        span: s.name.span,
        types: IndexVec::new(),
        from_std,
    };
    for c in &s.clauses {
        match c {
            SystemClause::Grace(d) => sys.grace = Some(d.node),
            SystemClause::Resource(r) => {
                if let Some((_, prev)) = sys.rtype(&r.name.node) {
                    env.diagnostics.push(
                        Diagnostic::new(
                            "E0305",
                            format!(
                                "the resource type `{}` is declared twice in `{}`",
                                r.name.node, s.name.node
                            ),
                            file,
                            r.name.span,
                            "declared again here",
                        )
                        .with_label(file, prev.span, "first declared here"),
                    );
                    continue;
                }
                sys.types.push(declare_type(&mut env.diagnostics, file, r));
            }
            SystemClause::Error(_) => {}
        }
    }
    env.system_index
        .insert(sys.name.clone(), env.systems.next_id());
    env.systems.push(sys);
}

fn declare_type(diags: &mut Vec<Diagnostic>, file: SourceFile, r: &ast::Resource) -> TypeEnv {
    let mut t = TypeEnv {
        name: r.name.node.clone(),
        levels: Vec::new(),
        default: None,
        grace: None,
        span: r.name.span,
    };
    let mut default: Option<&Sp<String>> = None;
    for c in &r.clauses {
        match c {
            ResourceClause::Levels(levels, _) => {
                for l in levels {
                    let lower = l.node.to_lowercase();
                    if t.levels.contains(&lower) {
                        diags.push(
                            Diagnostic::new("E0305", format!("the level `{}` is declared twice", l.node), file, l.span, "declared again here")
                                .with_help("levels are ordered lowest first and each appears once (levels compare case-insensitively)"),
                        );
                    } else {
                        t.levels.push(lower);
                    }
                }
            }
            ResourceClause::Default(d, _) => default = Some(d),
            ResourceClause::Grace(d) => t.grace = Some(d.node),
            ResourceClause::Error(_) => {}
        }
    }
    if !t.levels.is_empty() {
        t.default = Some(0);
    }
    if let Some(d) = default {
        match t.levels.iter().position(|l| *l == d.node.to_lowercase()) {
            Some(i) => t.default = Some(i as u8),
            None if t.levels.is_empty() => diags.push(
                Diagnostic::new(
                    "E0304",
                    format!(
                        "`{}` has no levels, so it has no default level",
                        r.name.node
                    ),
                    file,
                    d.span,
                    "no levels to choose from",
                )
                .with_help("declare `levels a < b < …` first, or remove `default`"),
            ),
            None => diags.push(
                Diagnostic::new(
                    "E0303",
                    format!("unknown level `{}` for `{}`", d.node, r.name.node),
                    file,
                    d.span,
                    "not one of its levels",
                )
                .with_help_opt(
                    crate::diagnostics::did_you_mean(&d.node, t.levels.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?")),
                )
                .with_note(format!("its levels are: {}", t.levels.join(" < "))),
            ),
        }
    }
    if t.levels.len() > 200 {
        diags.push(Diagnostic::new(
            "E0305",
            "a resource type may declare at most 200 levels",
            file,
            r.name.span,
            "too many levels",
        ));
        t.levels.truncate(200);
    }
    t
}
