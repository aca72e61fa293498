//! Go to definition, find references and rename (policies and templates, across files).

use super::locate::{self, Target};
use super::Snapshot;
use polc::syntax::ast::{quote, Clause, Item, TestClause};
use polc::syntax::Span;
use polc_lsp::{Edit, Location, Refused};

fn loc(snap: &Snapshot, f: polc::db::SourceFile, span: Span) -> Location {
    Location {
        uri: snap.uri(f),
        range: span.range(),
    }
}

fn policy_decl(snap: &Snapshot, name: &str) -> Option<Location> {
    let (_, d) = snap.env().policy(name)?;
    Some(loc(snap, d.file, d.name_span(&snap.parsed(d.file).file)))
}

pub fn definition(snap: &Snapshot, uri: &str, offset: usize) -> Vec<Location> {
    let Some(f) = snap.file(uri) else {
        return Vec::new();
    };
    let Some(target) = locate::at(snap.parsed(f), snap.text(f), offset) else {
        return Vec::new();
    };
    let env = snap.env();
    let found = match target {
        Target::PolicyDecl { name, .. } | Target::PolicyUse { name, .. } => {
            policy_decl(snap, &name)
        }
        Target::System { system, .. }
        | Target::Entitlement {
            r: polc::syntax::ast::RefAst { system, .. },
            ..
        } => env.system(&system).map(|(_, s)| loc(snap, s.file, s.span)),
        Target::ResourceType { system, rtype, .. } | Target::Level { system, rtype, .. } => env
            .system(&system)
            .and_then(|(_, s)| s.rtype(&rtype).map(|(_, t)| loc(snap, s.file, t.span))),
        Target::Attribute { name, .. } => env.field(&name).map(|fe| loc(snap, fe.file, fe.span)),
        Target::Import { path, .. } => match path.strip_prefix("std/") {
            Some(m) => snap.std_uri(m).map(|uri| Location { uri, range: 0..0 }),
            None => {
                let target = polc::db::lexical_normalize(&polc::db::resolve_import(uri, &path));
                snap.own_files()
                    .find(|(u, _)| polc::db::lexical_normalize(std::path::Path::new(u)) == target)
                    .map(|(u, _)| Location {
                        uri: u.to_string(),
                        range: 0..0,
                    })
            }
        },
        Target::Function { .. } | Target::Keyword { .. } => None,
    };
    found.into_iter().collect()
}

/// The name of the policy at the offset (its declaration or a use).
fn policy_at(snap: &Snapshot, uri: &str, offset: usize) -> Option<String> {
    let f = snap.file(uri)?;
    match locate::at(snap.parsed(f), snap.text(f), offset)? {
        Target::PolicyDecl { name, .. } | Target::PolicyUse { name, .. } => Some(name),
        _ => None,
    }
}

/// Every use of a policy name in the workspace (`inherits`, `expect policies`).
fn uses(snap: &Snapshot, name: &str) -> Vec<Location> {
    let mut out = Vec::new();
    for (_, f) in snap.own_files() {
        for item in &snap.parsed(f).file.items {
            match item {
                Item::Policy(p) => {
                    for c in &p.clauses {
                        if let Clause::Inherits(names, _) = c {
                            out.extend(
                                names
                                    .iter()
                                    .filter(|n| n.node == name)
                                    .map(|n| loc(snap, f, n.span)),
                            );
                        }
                    }
                }
                Item::Test(t) => {
                    for c in &t.clauses {
                        if let TestClause::ExpectPolicies(names, _) = c {
                            out.extend(
                                names
                                    .iter()
                                    .filter(|n| n.node == name)
                                    .map(|n| loc(snap, f, n.span)),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

pub fn references(
    snap: &Snapshot,
    uri: &str,
    offset: usize,
    include_declaration: bool,
) -> Vec<Location> {
    let Some(name) = policy_at(snap, uri, offset) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if include_declaration {
        out.extend(policy_decl(snap, &name));
    }
    out.extend(uses(snap, &name));
    out
}

pub fn rename(
    snap: &Snapshot,
    uri: &str,
    offset: usize,
    new_name: &str,
) -> Result<Vec<Edit>, Refused> {
    let name = policy_at(snap, uri, offset)
        .ok_or_else(|| Refused::Invalid("only policies and templates can be renamed".into()))?;
    if new_name.trim().is_empty() {
        return Err(Refused::Invalid("a policy needs a name".into()));
    }
    if new_name != name && snap.env().policy(new_name).is_some() {
        return Err(Refused::Invalid(format!(
            "a policy or template named `{new_name}` already exists"
        )));
    }
    let decl = policy_decl(snap, &name)
        .ok_or_else(|| Refused::Invalid(format!("`{name}` is not declared")))?;
    if !snap.own_files().any(|(u, _)| u == decl.uri) {
        return Err(Refused::Invalid(
            "the standard library cannot be renamed".into(),
        ));
    }
    let text = quote(new_name);
    Ok(std::iter::once(decl)
        .chain(uses(snap, &name))
        .map(|l| Edit {
            uri: l.uri,
            range: l.range,
            text: text.clone(),
        })
        .collect())
}
