//! Hover: a policy's doc comment, triggers and resolved grants (inherited ones with where
//! each comes from, and how many people it applies to); a system's types; a type's levels;
//! an attribute's type; a keyword's meaning.

use std::fmt::Write;

use super::locate::{self, Target};
use super::{Host, Snapshot};
use polc::ir::{self, PolicyId};

const KEYWORDS: &[(&str, &str)] = &[
    ("import", "`import \"std/NAME\"` brings a standard module (or a `.pol` file) into the bundle."),
    ("require", "`require EXPR`: a condition every policy of the bundle needs on top of its own triggers; a user who fails it gets nothing."),
    ("schema", "`schema { attr: type … }`: the attributes of user records. Blocks merge; `?` marks an optional field, `key` the user id."),
    ("system", "`system NAME [\"Display\"] { resource … }`: a target system and its entitlement types."),
    ("resource", "`resource TYPE { levels a < b  default a  grace 30d }`: an entitlement type of a system."),
    ("levels", "`levels a < b < c`: the ordered levels of a resource type, lowest first; several sources merge to the highest."),
    ("default", "`default LEVEL`: the level a grant without one gets (else the lowest)."),
    ("grace", "`grace DURATION`: how long a mover keeps a grant they lose (grant, else type, else system). Leavers get no grace."),
    ("policy", "`policy \"NAME\" { when … grant … }`: grants that apply to users whose attributes satisfy all its `when` clauses."),
    ("template", "`template \"NAME\" { grant … }`: like a policy but without `when`: applies only through `inherits`."),
    ("when", "`when EXPR`: a trigger; several are ANDed; a policy needs at least one."),
    ("inherits", "`inherits \"A\", \"B\"`: when this policy applies, A's and B's grants (transitively) apply too, whatever their own triggers say."),
    ("grant", "`grant system:type[:name] [(level)] [grace DURATION]`: an entitlement this policy gives."),
    ("deny", "`deny PATTERN`: removes every matching grant from users this policy applies to, whatever its source, exceptions included."),
    ("exception", "`exception \"NAME\" { user grant justification approved_by expires }`: a per-user grant outside policy, tracked apart."),
    ("conflict", "`conflict \"NAME\" { PATTERN, PATTERN reason \"…\" }`: separation of duties: no user may hold grants matching two of the patterns."),
    ("test", "`test \"NAME\" { given { … } at DATE expect … }`: an evaluation test run by `polc test`."),
    ("effective", "`effective DATE`: in force from this day on (inclusive)."),
    ("expires", "`expires DATE`: in force before this day (exclusive)."),
    ("given", "`given { attr: value, … }`: the user record of a test."),
    ("expect", "`expect policies [...]`, `expect grant REF`, `expect no grant REF`: what a test checks."),
    ("matches", "`X matches \"glob*\"`: `*` matches any run, `?` one character."),
    ("today", "`today`: the evaluation date (`--at`)."),
    ("in", "`X in [ … ]`: membership; false when X is absent."),
    ("not", "`not EXPR`: true when EXPR is false, including when it reads an absent attribute."),
];

pub fn hover(host: &Host, snap: &Snapshot, uri: &str, offset: usize) -> Option<polc_lsp::Hover> {
    let f = snap.file(uri)?;
    let target = locate::at(snap.parsed(f), snap.text(f), offset)?;
    let (markdown, span) = match &target {
        Target::PolicyDecl { name, span } | Target::PolicyUse { name, span } => {
            (policy(host, snap, name)?, *span)
        }
        Target::System { system, span } => (system_md(snap, system)?, *span),
        Target::ResourceType {
            system,
            rtype,
            span,
        }
        | Target::Level {
            system,
            rtype,
            span,
            ..
        } => (rtype_md(snap, system, rtype)?, *span),
        Target::Entitlement { r, span } => (entitlement_md(snap, r)?, *span),
        Target::Attribute { name, span } => (attribute_md(snap, name)?, *span),
        Target::Function { name, span } => (function_md(name)?, *span),
        Target::Import { path, span } => (import_md(path), *span),
        Target::Keyword { word, span } => (
            KEYWORDS.iter().find(|(k, _)| k == word)?.1.to_string(),
            *span,
        ),
    };
    Some(polc_lsp::Hover {
        markdown,
        range: span.range(),
    })
}

/// Every grant a policy brings, own and inherited, with the path it comes through.
pub fn resolved_grants(
    b: &ir::Bundle,
    pid: PolicyId,
) -> Vec<(String, Option<String>, Vec<String>)> {
    let mut out: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
    let mut stack: Vec<Vec<PolicyId>> = vec![vec![pid]];
    let mut seen = 0usize;
    while let Some(path) = stack.pop() {
        seen += 1;
        if seen > 2000 {
            break;
        }
        let node = *path.last().expect("non-empty");
        let p = b.policy(node);
        for g in &p.grants {
            let text = b.entitlement_text(&g.entitlement);
            let lvl = b.level_name(&g.entitlement, g.level).map(str::to_string);
            let via = path[1..]
                .iter()
                .map(|&q| b.policy(q).name.clone())
                .collect::<Vec<_>>()
                .join(" > ");
            match out.iter_mut().find(|(t, _, _)| *t == text) {
                Some(e) => {
                    if lvl_rank(b, &g.entitlement, &lvl) > lvl_rank(b, &g.entitlement, &e.1) {
                        e.1 = lvl;
                    }
                    e.2.push(via);
                }
                None => out.push((text, lvl, vec![via])),
            }
        }
        for &w in p.inherits.iter().rev() {
            if !path.contains(&w) {
                let mut next = path.clone();
                next.push(w);
                stack.push(next);
            }
        }
    }
    out.sort();
    out
}

fn lvl_rank(b: &ir::Bundle, e: &ir::Entitlement, l: &Option<String>) -> Option<usize> {
    l.as_ref()
        .and_then(|l| b.rtype(e).levels.iter().position(|x| x == l))
}

fn policy(host: &Host, snap: &Snapshot, name: &str) -> Option<String> {
    let b = &snap.checked().bundle;
    let pid = b.policy_id(name)?;
    let p = b.policy(pid);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "**{}** `{}`\n",
        if p.template { "template" } else { "policy" },
        p.name
    );
    if let Some(doc) = &p.doc {
        let _ = writeln!(md, "{doc}\n");
    }
    let mut meta = Vec::new();
    if let Some(o) = &p.owner {
        meta.push(format!("owner {o}"));
    }
    if let Some(v) = &p.version {
        meta.push(format!("version {v}"));
    }
    match (p.effective, p.expires) {
        (Some(e), Some(x)) => meta.push(format!("in force {e} to {x}")),
        (Some(e), None) => meta.push(format!("in force from {e}")),
        (None, Some(x)) => meta.push(format!("in force until {x}")),
        _ => {}
    }
    if !meta.is_empty() {
        let _ = writeln!(md, "_{}_\n", meta.join(" · "));
    }
    if let Some(d) = &p.description {
        let _ = writeln!(md, "{d}\n");
    }
    for t in &p.triggers {
        let _ = writeln!(md, "**when** `{t}`  ");
    }
    if !p.inherits.is_empty() {
        let names: Vec<&str> = p
            .inherits
            .iter()
            .map(|&i| b.policy(i).name.as_str())
            .collect();
        let _ = writeln!(md, "**inherits** {}  ", names.join(", "));
    }
    let grants = resolved_grants(b, pid);
    if !grants.is_empty() {
        let _ = writeln!(md, "\n**grants** ({}):", grants.len());
        for (text, lvl, vias) in grants.iter().take(60) {
            let lvl = lvl.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
            let from: Vec<&str> = vias
                .iter()
                .filter(|v| !v.is_empty())
                .map(String::as_str)
                .collect();
            let from = if from.is_empty() {
                String::new()
            } else {
                format!(" — from {}", from.join("; "))
            };
            let _ = writeln!(md, "- `{text}`{lvl}{from}");
        }
        if grants.len() > 60 {
            let _ = writeln!(md, "- … {} more", grants.len() - 60);
        }
    }
    for d in &p.denies {
        let _ = writeln!(md, "\n**deny** `{}`", d.text);
    }
    if !p.template {
        if let Some(n) = applies_to(host, snap, pid) {
            let _ = writeln!(md, "\nApplies to **{}** of {} people today.", n.0, n.1);
        }
    }
    Some(md)
}

/// `(people the policy applies to directly, people in the users file)`.
pub fn applies_to(host: &Host, snap: &Snapshot, pid: PolicyId) -> Option<(usize, usize)> {
    let counts = super::outline::applies_counts(host, snap)?;
    Some((counts.0.get(pid).copied().unwrap_or(0), counts.1))
}

fn system_md(snap: &Snapshot, name: &str) -> Option<String> {
    let (_, s) = snap.env().system(name)?;
    let mut md = format!(
        "**system** `{}`{}\n\n",
        s.name,
        s.display
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    if let Some(doc) = &s.doc {
        let _ = writeln!(md, "{doc}\n");
    }
    if let Some(g) = s.grace {
        let _ = writeln!(md, "grace {g}\n");
    }
    for t in &s.types {
        let levels = if t.levels.is_empty() {
            "no levels".to_string()
        } else {
            t.levels.join(" < ")
        };
        let _ = writeln!(md, "- `{}:{}`: {levels}", s.name, t.name);
    }
    Some(md)
}

fn rtype_md(snap: &Snapshot, system: &str, rtype: &str) -> Option<String> {
    let (_, s) = snap.env().system(system)?;
    let (_, t) = s.rtype(rtype)?;
    let mut md = format!("**resource** `{system}:{rtype}`\n\n");
    if t.levels.is_empty() {
        let _ = writeln!(md, "No levels: grants name no level.");
    } else {
        let _ = writeln!(md, "levels: {}  ", t.levels.join(" < "));
        if let Some(d) = t.default {
            let _ = writeln!(md, "default: {}  ", t.levels[usize::from(d)]);
        }
    }
    if let Some(g) = t.grace.or(s.grace) {
        let _ = writeln!(md, "grace: {g}");
    }
    Some(md)
}

fn entitlement_md(snap: &Snapshot, r: &polc::syntax::ast::RefAst) -> Option<String> {
    let b = &snap.checked().bundle;
    let mut md = format!("**entitlement** `{}`\n\n", r.canonical());
    if let Some(t) = rtype_md(snap, &r.system, &r.rtype) {
        md.push_str(&t);
    }
    let givers: Vec<&str> = b
        .policies
        .iter()
        .filter(|p| {
            p.grants
                .iter()
                .any(|g| b.entitlement_text(&g.entitlement) == r.canonical())
        })
        .map(|p| p.name.as_str())
        .collect();
    if !givers.is_empty() {
        let _ = writeln!(md, "\ngranted by: {}", givers.join(", "));
    }
    Some(md)
}

fn attribute_md(snap: &Snapshot, name: &str) -> Option<String> {
    let Some(f) = snap.env().field(name) else {
        return Some(format!(
            "**attribute** `{name}` (untyped: the bundle has no schema)"
        ));
    };
    let mut md = format!(
        "**attribute** `{name}`: `{}`{}{}\n",
        f.ty,
        if f.optional { " (optional)" } else { "" },
        if f.key { " — the user id" } else { "" }
    );
    if let Some(doc) = &f.doc {
        let _ = writeln!(md, "\n{doc}");
    }
    Some(md)
}

fn function_md(name: &str) -> Option<String> {
    Some(
        match name {
            "days_since" => "`days_since(date) -> int`: days from the date to the evaluation date (negative before it).",
            "lower" => "`lower(string) -> string`: the text in lower case.",
            "has" => "`has(attr) -> bool`: the attribute is present and not null.",
            "contains" => "`contains(list<string>, string) -> bool`: the list holds the text.",
            _ => return None,
        }
        .to_string(),
    )
}

fn import_md(path: &str) -> String {
    match path.strip_prefix("std/") {
        Some("hris") => "**std/hris**: the standard HRIS schema (`user_id` key, `employment_status`, `job_title`, `department`, …).".into(),
        Some("saas") => "**std/saas**: the standard systems (google, okta, slack, gitlab, github, salesforce, notion, aws, jira, confluence, zoom, onepassword).".into(),
        Some(other) => format!("unknown standard module `std/{other}`"),
        None => format!("the file `{path}`, relative to this one"),
    }
}
