//! Evaluations as CLI.md's `eval` JSON (streamed, borrowed, sorted) and as a readable table.

use serde::Serialize;

use super::{Evaluation, Plan};

#[derive(Serialize)]
pub struct GrantJson<'a> {
    pub grant: &'a str,
    pub level: Option<&'a str>,
    pub sources: Vec<&'a str>,
}

#[derive(Serialize)]
pub struct DeniedJson<'a> {
    pub grant: &'a str,
    pub level: Option<&'a str>,
    pub by: &'a str,
}

#[derive(Serialize)]
pub struct ExceptionJson<'a> {
    pub name: Option<&'a str>,
    pub grant: &'a str,
    pub level: Option<&'a str>,
    pub expires: String,
}

#[derive(Serialize)]
pub struct ViolationJson<'a> {
    pub conflict: &'a str,
    pub grants: Vec<&'a str>,
}

#[derive(Serialize)]
pub struct UserJson<'a> {
    pub user_id: &'a str,
    pub policies: Vec<&'a str>,
    pub grants: Vec<GrantJson<'a>>,
    pub denied: Vec<DeniedJson<'a>>,
    pub exceptions: Vec<ExceptionJson<'a>>,
    pub violations: Vec<ViolationJson<'a>>,
}

/// One user's evaluation in the JSON of `polc eval`.
pub fn user_json<'a>(plan: &'a Plan, user_id: &'a str, e: &'a Evaluation) -> UserJson<'a> {
    let b = &*plan.bundle;
    let mut exceptions = Vec::new();
    for &x in &e.exceptions {
        let exc = &b.exceptions[x];
        for &(ent, level) in &plan.exception_grants[x] {
            exceptions.push(ExceptionJson {
                name: exc.name.as_deref(),
                grant: &plan.ent_text[ent as usize],
                level: plan.level_name(ent, level),
                expires: exc.expires.to_string(),
            });
        }
    }
    exceptions.sort_by(|a, b| (a.name, a.grant).cmp(&(b.name, b.grant)));
    UserJson {
        user_id,
        policies: e
            .policies
            .iter()
            .map(|&p| b.policies[p as usize].name.as_str())
            .collect(),
        grants: e
            .grants
            .iter()
            .map(|g| GrantJson {
                grant: &plan.ent_text[g.ent as usize],
                level: plan.level_name(g.ent, g.level),
                sources: g.sources.iter().map(|s| plan.source_str(s)).collect(),
            })
            .collect(),
        denied: e
            .denied
            .iter()
            .map(|d| DeniedJson {
                grant: &plan.ent_text[d.ent as usize],
                level: plan.level_name(d.ent, d.level),
                by: &plan.path_text[d.by as usize],
            })
            .collect(),
        exceptions,
        violations: e
            .violations
            .iter()
            .map(|v| ViolationJson {
                conflict: &b.conflicts[v.conflict].name,
                grants: v
                    .ents
                    .iter()
                    .map(|&x| plan.ent_text[x as usize].as_str())
                    .collect(),
            })
            .collect(),
    }
}

/// One user's evaluation as a readable block.
pub fn user_table(plan: &Plan, user_id: &str, e: &Evaluation) -> String {
    use std::fmt::Write;
    let b = &*plan.bundle;
    let mut out = String::new();
    let _ = writeln!(out, "{user_id}");
    if let Some(i) = e.failed_require {
        let _ = writeln!(
            out,
            "  fails `require {}`: no policy applies, no exception is in force",
            b.requires[i]
        );
        return out;
    }
    let names: Vec<&str> = e
        .policies
        .iter()
        .map(|&p| b.policies[p as usize].name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "  policies: {}",
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    );
    if e.grants.is_empty() {
        let _ = writeln!(out, "  grants: (none)");
    } else {
        let w = e
            .grants
            .iter()
            .map(|g| plan.ent_text[g.ent as usize].chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let lw = e
            .grants
            .iter()
            .filter_map(|g| plan.level_name(g.ent, g.level))
            .map(str::len)
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = writeln!(out, "  {:<w$}  {:<lw$}  SOURCES", "GRANT", "LEVEL");
        for g in &e.grants {
            let sources: Vec<String> = g.sources.iter().map(|s| plan.source_text(s)).collect();
            let _ = writeln!(
                out,
                "  {:<w$}  {:<lw$}  {}",
                plan.ent_text[g.ent as usize],
                plan.level_name(g.ent, g.level).unwrap_or("-"),
                sources.join("; ")
            );
        }
    }
    for d in &e.denied {
        let lvl = plan
            .level_name(d.ent, d.level)
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  denied: {}{lvl} by {}",
            plan.ent_text[d.ent as usize], plan.path_text[d.by as usize]
        );
    }
    for v in &e.violations {
        let grants: Vec<&str> = v
            .ents
            .iter()
            .map(|&x| plan.ent_text[x as usize].as_str())
            .collect();
        let _ = writeln!(
            out,
            "  VIOLATION {}: {}",
            b.conflicts[v.conflict].name,
            grants.join(", ")
        );
    }
    out
}
