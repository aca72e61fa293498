//! Lowers the items of one file to IR against the bundle's declarations: imports (E0003,
//! E0004), requires, policies and templates (E0101, E0104, E0105), exceptions (E0401, W0202),
//! conflicts and tests. Cross-file properties (cycles, lints) are in `graph` and `lints`.

use chrono::NaiveDate;

use super::env::Env;
use super::exprs::{self, check_condition};
use super::refs::{check_duration, resolve, resolve_grant, resolve_pattern};
use super::Ctx;
use crate::db::SourceFile;
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::ir;
use crate::syntax::ast::{self, Clause, ExceptionClause, Item, MetaKey, PolicyKind, TestClause};
use crate::syntax::{Sp, Span};

/// A policy or template lowered to IR, with the spans later checks point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoweredPolicy {
    pub id: ir::PolicyId,
    pub policy: ir::Policy,
    pub file: SourceFile,
    pub name_span: Span,
    /// Parallel to `policy.inherits`.
    pub inherit_spans: Vec<Span>,
    /// Parallel to `policy.grants`.
    pub grant_spans: Vec<Span>,
    /// Parallel to `policy.denies`.
    pub deny_spans: Vec<Span>,
    pub when_spans: Vec<Span>,
    pub effective_span: Option<Span>,
    pub expires_span: Option<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoweredException {
    pub exception: ir::Exception,
    pub file: SourceFile,
    pub head: Span,
    pub expires_span: Span,
}

/// Everything one file contributes to the bundle, and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileCheck {
    pub diagnostics: Vec<Diagnostic>,
    pub requires: Vec<(ir::Expr, Span)>,
    pub policies: Vec<LoweredPolicy>,
    pub exceptions: Vec<LoweredException>,
    pub conflicts: Vec<(ir::Conflict, Span)>,
    /// Parallel to `conflicts`: the name's span and each pattern's.
    pub conflict_spans: Vec<(Span, Vec<Span>)>,
    pub tests: Vec<ir::Test>,
}

/// Where a file's imports point: std modules, or files the loader found (by display path).
pub struct ImportTargets<'a> {
    pub std_modules: &'a [&'a str],
    pub file_paths: &'a [String],
    /// The imports the loader refused to follow.
    pub refused: &'a [crate::db::RefusedImport],
    /// The span of a policy declaration's name (in whatever file it is).
    pub decl_span: &'a dyn Fn(&super::env::PolicyDecl) -> Span,
}

pub fn check_items(
    env: &Env,
    file: SourceFile,
    path: &str,
    ast: &ast::File,
    imports: &ImportTargets<'_>,
) -> FileCheck {
    let mut cx = Ctx::new(env, file);
    let mut out = FileCheck::default();
    for (item_index, item) in ast.items.iter().enumerate() {
        match item {
            Item::Import(i) => check_import(&mut cx, path, i, imports),
            Item::Require(r) => {
                let e = check_condition(&mut cx, &r.expr);
                out.requires.push((e, r.span));
            }
            Item::Policy(p) => {
                if let Some(lp) = lower_policy(&mut cx, p, item_index as u32, imports) {
                    out.policies.push(lp);
                }
            }
            Item::Exception(e) => {
                if let Some(le) = lower_exception(&mut cx, e) {
                    out.exceptions.push(le);
                }
            }
            Item::Conflict(c) => {
                let patterns: Vec<ir::Pattern> = c
                    .patterns
                    .iter()
                    .map(|p| resolve_pattern(&mut cx, p))
                    .collect();
                if patterns.len() < 2 {
                    cx.push(
                        Diagnostic::new(
                            "E0001",
                            format!("conflict `{}` needs at least two patterns", c.name.node),
                            file,
                            c.name.span,
                            "fewer than two patterns",
                        )
                        .with_help(
                            "list the grants that must not be held together: `a:role:x, a:role:y`",
                        ),
                    );
                }
                out.conflict_spans
                    .push((c.name.span, c.patterns.iter().map(|p| p.span).collect()));
                out.conflicts.push((
                    ir::Conflict {
                        name: c.name.node.clone(),
                        patterns,
                        reason: c.reason.as_ref().map(|r| r.node.clone()),
                    },
                    c.span,
                ));
            }
            Item::Test(t) => out.tests.push(lower_test(&mut cx, t, imports)),
            Item::System(s) => {
                for c in &s.clauses {
                    match c {
                        ast::SystemClause::Grace(d) => {
                            check_duration(&mut cx, d.node, d.span, true)
                        }
                        ast::SystemClause::Resource(r) => {
                            for rc in &r.clauses {
                                if let ast::ResourceClause::Grace(d) = rc {
                                    check_duration(&mut cx, d.node, d.span, true);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Item::Schema(_) | Item::Error(_) => {}
        }
    }
    out.diagnostics = cx.diags;
    out
}

fn check_import(cx: &mut Ctx<'_>, path: &str, i: &ast::Import, targets: &ImportTargets<'_>) {
    let target = &i.path.node;
    if let Some(module) = target.strip_prefix("std/") {
        if !targets.std_modules.contains(&module) {
            let help = did_you_mean(module, targets.std_modules.iter().copied())
                .map(|m| format!("did you mean \"std/{m}\"?"))
                .unwrap_or_else(|| {
                    format!(
                        "the standard modules are: {}",
                        targets
                            .std_modules
                            .iter()
                            .map(|m| format!("std/{m}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            cx.push(
                Diagnostic::new(
                    "E0003",
                    format!("unknown module \"{target}\""),
                    cx.file,
                    i.path.span,
                    "no such standard module",
                )
                .with_help(help),
            );
        }
        return;
    }
    let refused = crate::db::import_path_problem(target)
        .map(str::to_string)
        .or_else(|| {
            targets
                .refused
                .iter()
                .find(|r| r.from == path && r.target == *target)
                .map(|r| r.reason.clone())
        });
    if let Some(reason) = refused {
        // Only the path is shown: the target was never read.
        cx.push(
            Diagnostic::new(
                "E0004",
                format!("import \"{target}\" is not a file of this bundle"),
                cx.file,
                i.path.span,
                reason,
            )
            .with_help(
                "import a standard module (\"std/saas\") or a .pol file inside the bundle's folders (the folders given to polc, or the folder of the file given)",
            ),
        );
        return;
    }
    let resolved = crate::db::lexical_normalize(&crate::db::resolve_import(path, target));
    if !targets
        .file_paths
        .iter()
        .any(|p| crate::db::lexical_normalize(std::path::Path::new(p)) == resolved)
    {
        let resolved = resolved.display();
        cx.push(
            Diagnostic::new(
                "E0003",
                format!("cannot read \"{target}\""),
                cx.file,
                i.path.span,
                format!("no readable file at `{resolved}`"),
            )
            .with_help(
                "imports name a standard module (\"std/saas\") or a .pol file relative to this one",
            ),
        );
    }
}

fn once<T>(cx: &mut Ctx<'_>, slot: &mut Option<(T, Span)>, value: T, span: Span, what: &str) {
    if let Some((_, prev)) = slot {
        let prev = *prev;
        cx.push(
            Diagnostic::new(
                "E0105",
                format!("`{what}` is given twice"),
                cx.file,
                span,
                "given again here",
            )
            .with_label(cx.file, prev, "first given here")
            .with_help(format!("keep one `{what}`")),
        );
    } else {
        *slot = Some((value, span));
    }
}

fn lower_policy(
    cx: &mut Ctx<'_>,
    p: &ast::Policy,
    item: u32,
    targets: &ImportTargets<'_>,
) -> Option<LoweredPolicy> {
    let env = cx.env;
    let (id, decl) = env.policy(&p.name.node)?;
    // A duplicate declaration (E0103) is checked for its own errors but not lowered.
    let is_decl = decl.file == cx.file && decl.item == item;
    let mut lp = LoweredPolicy {
        id,
        policy: ir::Policy::named(
            p.name.node.clone(),
            p.kind == PolicyKind::Template,
            decl.doc.clone(),
        ),
        file: cx.file,
        name_span: p.name.span,
        inherit_spans: Vec::new(),
        grant_spans: Vec::new(),
        deny_spans: Vec::new(),
        when_spans: Vec::new(),
        effective_span: None,
        expires_span: None,
    };
    let mut metas: [Option<(String, Span)>; 3] = [None, None, None];
    let mut effective: Option<(Option<NaiveDate>, Span)> = None;
    let mut expires: Option<(Option<NaiveDate>, Span)> = None;
    for c in &p.clauses {
        match c {
            Clause::When(e, span) => {
                let ir = check_condition(cx, e);
                lp.policy.triggers.push(ir);
                lp.when_spans.push(*span);
            }
            Clause::Inherits(names, _) => {
                for n in names {
                    if let Some(target) = resolve_policy_name(cx, n, "policy or template", targets)
                    {
                        lp.policy.inherits.push(target);
                        lp.inherit_spans.push(n.span);
                    }
                }
            }
            Clause::Grant(g) => {
                if let Some(ir) = resolve_grant(cx, g) {
                    lp.policy.grants.push(ir);
                    lp.grant_spans.push(g.span);
                }
            }
            Clause::Deny(r, span) => {
                lp.policy.denies.push(resolve_pattern(cx, r));
                lp.deny_spans.push(*span);
            }
            Clause::Meta(key, v, span) => {
                let [version, owner, description] = &mut metas;
                let slot = match key {
                    MetaKey::Version => version,
                    MetaKey::Owner => owner,
                    MetaKey::Description => description,
                };
                once(cx, slot, v.node.clone(), *span, key.keyword());
            }
            Clause::Effective(d, span) => once(cx, &mut effective, d.node, *span, "effective"),
            Clause::Expires(d, span) => once(cx, &mut expires, d.node, *span, "expires"),
            Clause::Error(_) => {}
        }
    }
    let [version, owner, description] = metas;
    lp.policy.version = version.map(|v| v.0);
    lp.policy.owner = owner.map(|v| v.0);
    lp.policy.description = description.map(|v| v.0);
    lp.policy.effective = effective.and_then(|e| e.0);
    lp.effective_span = effective.map(|e| e.1);
    lp.policy.expires = expires.and_then(|e| e.0);
    lp.expires_span = expires.map(|e| e.1);
    // A clause the parser could not read may have been the `when`: say nothing then.
    let broken = p.clauses.iter().any(|c| matches!(c, Clause::Error(_)));
    match p.kind {
        PolicyKind::Policy if lp.when_spans.is_empty() && !broken => cx.push(
            Diagnostic::new("E0104", format!("policy `{}` has no `when` clause", p.name.node), cx.file, p.name.span, "applies to no one as written")
                .with_help("add a trigger such as `when department == \"Sales\"`, or make it a `template` that others inherit"),
        ),
        PolicyKind::Template if !lp.when_spans.is_empty() => {
            let mut d = Diagnostic::new(
                "E0104",
                format!("template `{}` has a `when` clause", p.name.node),
                cx.file,
                lp.when_spans.first().copied().unwrap_or_default(),
                "templates apply only through `inherits`",
            )
            .with_label(cx.file, p.name.span, "declared as a template here");
            d = d.with_help("remove the `when`, or declare it as a `policy`");
            cx.push(d);
        }
        _ => {}
    }
    is_decl.then_some(lp)
}

fn resolve_policy_name(
    cx: &mut Ctx<'_>,
    n: &Sp<String>,
    what: &str,
    targets: &ImportTargets<'_>,
) -> Option<ir::PolicyId> {
    if n.node.is_empty() {
        return None;
    }
    if let Some((id, _)) = cx.env.policy(&n.node) {
        return Some(id);
    }
    let env = cx.env;
    let suggestion = did_you_mean(&n.node, env.policies.iter().map(|p| p.name.as_str()));
    let mut d = Diagnostic::new(
        "E0101",
        format!("unknown policy `{}`", n.node),
        cx.file,
        n.span,
        format!("no {what} has this name"),
    );
    if let Some(s) = &suggestion {
        let (_, decl) = env.policy(s)?;
        d = d
            .with_label(
                decl.file,
                (targets.decl_span)(decl),
                format!("`{s}` is declared here"),
            )
            .with_help(format!("did you mean `{s}`?"))
            .with_fix(n.span, crate::syntax::ast::quote(s));
    } else {
        d = d.with_help("declare it, or check that its file is part of the bundle");
    }
    cx.push(d);
    None
}

fn lower_exception(cx: &mut Ctx<'_>, e: &ast::Exception) -> Option<LoweredException> {
    let mut user: Option<(String, Span)> = None;
    let mut justification: Option<(String, Span)> = None;
    let mut approved_by: Option<(String, Span)> = None;
    let mut expires: Option<(Option<NaiveDate>, Span)> = None;
    let mut effective: Option<(Option<NaiveDate>, Span)> = None;
    let mut grants = Vec::new();
    let mut grant_seen = false;
    let mut meta = Vec::new();
    for c in &e.clauses {
        match c {
            ExceptionClause::User(v, s) => once(cx, &mut user, v.node.clone(), *s, "user"),
            ExceptionClause::Justification(v, s) => {
                once(cx, &mut justification, v.node.clone(), *s, "justification")
            }
            ExceptionClause::ApprovedBy(v, s) => {
                once(cx, &mut approved_by, v.node.clone(), *s, "approved_by")
            }
            ExceptionClause::Expires(d, s) => once(cx, &mut expires, d.node, *s, "expires"),
            ExceptionClause::Effective(d, s) => once(cx, &mut effective, d.node, *s, "effective"),
            ExceptionClause::Grant(g) => {
                grant_seen = true;
                if let Some(ir) = resolve_grant(cx, g) {
                    grants.push(ir);
                }
            }
            ExceptionClause::Other(k, v, _) => {
                const KNOWN: &[&str] = &["ticket", "owner", "description", "reason"];
                if !KNOWN.contains(&k.node.as_str()) {
                    let help = did_you_mean(&k.node, KNOWN.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "kept as metadata; the known fields are `ticket`, `owner`, `description`".into());
                    cx.push(
                        Diagnostic::new(
                            "W0202",
                            format!("unknown exception field `{}`", k.node),
                            cx.file,
                            k.span,
                            "not a field of exceptions",
                        )
                        .with_help(help),
                    );
                }
                meta.push((k.node.clone(), v.node.clone()));
            }
            ExceptionClause::Error(_) => {}
        }
    }
    let mut missing = Vec::new();
    if user.as_ref().is_none_or(|u| u.0.is_empty()) {
        missing.push("user");
    }
    if !grant_seen {
        missing.push("grant");
    }
    if justification.as_ref().is_none_or(|j| j.0.trim().is_empty()) {
        missing.push("justification");
    }
    if approved_by.as_ref().is_none_or(|a| a.0.trim().is_empty()) {
        missing.push("approved_by");
    }
    if expires.is_none() {
        missing.push("expires");
    }
    if !missing.is_empty() {
        let name = e.name.as_ref().map_or("this exception".to_string(), |n| {
            format!("exception `{}`", n.node)
        });
        let list = missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ");
        cx.push(
            Diagnostic::new("E0401", format!("{name} is missing {list}"), cx.file, e.head, format!("missing {list}"))
                .with_help("every exception names its `user`, `grant`, `justification`, `approved_by` and `expires`: access outside policy must be accountable and temporary"),
        );
        return None;
    }
    let (expires_date, expires_span) = expires?;
    Some(LoweredException {
        exception: ir::Exception {
            name: e.name.as_ref().map(|n| n.node.clone()),
            user: user?.0,
            grants,
            justification: justification?.0,
            approved_by: approved_by?.0,
            expires: expires_date?,
            effective: effective.and_then(|e| e.0),
            meta,
        },
        file: cx.file,
        head: e.head,
        expires_span,
    })
}

fn lower_test(cx: &mut Ctx<'_>, t: &ast::Test, targets: &ImportTargets<'_>) -> ir::Test {
    let mut test = ir::Test {
        name: t.name.node.clone(),
        given: Vec::new(),
        at: None,
        expect_policies: None,
        expect_grants: Vec::new(),
    };
    for c in &t.clauses {
        match c {
            TestClause::Given(fields, _) => {
                for (name, value) in fields {
                    let Some(v) = exprs::literal(value) else {
                        cx.push(
                            Diagnostic::new("E0202", format!("the value of `{}` must be a literal", name.node), cx.file, value.span, "not a literal")
                                .with_help("test records hold values: strings, integers, dates, booleans or lists"),
                        );
                        continue;
                    };
                    if let Some(schema) = &cx.env.schema {
                        match schema
                            .index
                            .get(&name.node)
                            .and_then(|&i| schema.fields.get(i))
                        {
                            None => {
                                let help = did_you_mean(
                                    &name.node,
                                    schema.fields.iter().map(|f| f.name.as_str()),
                                )
                                .map(|s| format!("did you mean `{s}`?"))
                                .unwrap_or_else(|| "declare it in a `schema { … }` block".into());
                                cx.push(
                                    Diagnostic::new(
                                        "E0201",
                                        format!("unknown attribute `{}`", name.node),
                                        cx.file,
                                        name.span,
                                        "not a field of the schema",
                                    )
                                    .with_help(help),
                                );
                            }
                            Some(f) => {
                                if let Err(why) = exprs::value_fits(&v, &f.ty) {
                                    let code = if matches!(f.ty, ir::Type::Enum(_))
                                        && matches!(v, ir::Value::Str(_))
                                    {
                                        "E0203"
                                    } else {
                                        "E0202"
                                    };
                                    cx.push(Diagnostic::new(
                                        code,
                                        format!("`{}`: {why}", name.node),
                                        cx.file,
                                        value.span,
                                        format!("`{}` is a `{}`", name.node, f.ty),
                                    ));
                                }
                            }
                        }
                    }
                    test.given.push((name.node.clone(), v));
                }
            }
            TestClause::At(d, _) => test.at = d.node,
            TestClause::ExpectPolicies(names, _) => {
                for n in names {
                    resolve_policy_name(cx, n, "policy", targets);
                }
                test.expect_policies = Some(names.iter().map(|n| n.node.clone()).collect());
            }
            TestClause::ExpectGrant {
                target,
                level,
                negated,
                ..
            } => {
                if let Some((entitlement, default_rank)) = resolve(cx, target, level.as_ref()) {
                    let level = if level.is_some() { default_rank } else { None };
                    test.expect_grants.push(ir::ExpectGrant {
                        entitlement,
                        level,
                        negated: *negated,
                        text: target.canonical(),
                    });
                }
            }
            TestClause::Error(_) => {}
        }
    }
    test
}
