//! Pol from mined access (docs/commands.md, `mine --emit`): one policy per group granting its
//! baseline and candidates, the access every group shares factored into a template, and a
//! header file declaring what the drafts need (imports, `require`s, schema, systems), so that
//! the drafts are a bundle of their own that `polc check` accepts without a warning.
//!
//! Systems the access export names but the standard library does not declare are inferred
//! from the export ([`Inferred`]): their resource types as seen, and each type's levels in
//! the order first seen (the export cannot say which is higher; the header asks the reviewer
//! to order them). Everything is printed through the canonical formatter.

#![allow(
    clippy::indexing_slicing,
    reason = "user, entry, group and plan ids index the tables built with them; to become typed vectors"
)]

use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::groups::{value_text, GroupReport, Level, Share, Thresholds};
use crate::check::check_bundle;
use crate::db::Loaded;
use crate::diagnostics::{render, Severity};
use crate::ir::{self, Value};
use crate::reconcile::access::{AccessError, EntryProblem};
use crate::syntax::ast::{quote, RefAst};

/// The bundle `polc mine` mines against when no policies are given: the standard schema and
/// systems, and the standard `require` that only active employees get access (so leavers'
/// leftovers are not mined into policy).
pub const DEFAULT_BUNDLE: &str =
    "import \"std/hris\"\nimport \"std/saas\"\n\nrequire employment_status == \"Active\"\n";

/// The file name of the header in an emitted directory.
pub const HEADER_FILE: &str = "mined.pol";
/// The file name of the common template in an emitted directory.
pub const COMMON_FILE: &str = "common.pol";
/// The name of the template every draft inherits.
pub const COMMON_TEMPLATE: &str = "Common Access";

use crate::syntax::names::is_bare_name;
pub use crate::syntax::names::is_ident;

/// An inferred resource type: its name and its levels in first-seen order.
pub type InferredType = (String, Vec<String>);

/// The systems of an access export that the bundle does not declare, as first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inferred {
    /// `(system, types)`, systems and types in first-seen order.
    pub systems: Vec<(String, Vec<InferredType>)>,
}

impl Inferred {
    /// Notes one access entry (as [`crate::reconcile::access::read_entries`] gives it). An entry naming
    /// a system of `known` is left alone (resolving it reports what is wrong with it).
    pub fn see(
        &mut self,
        known: &ir::Bundle,
        user: &str,
        grant: &str,
        level: Option<&str>,
        at: &dyn std::fmt::Display,
    ) -> Result<(), AccessError> {
        let text = match level {
            Some(l) if !l.trim().is_empty() && !grant.trim_end().ends_with(')') => {
                format!("{grant} ({l})")
            }
            _ => grant.to_string(),
        };
        let (target, level) = match text
            .trim()
            .strip_suffix(')')
            .and_then(|t| t.rsplit_once('('))
        {
            Some((r, l)) => (r.trim(), Some(l.trim().to_lowercase())),
            None => (text.trim(), None),
        };
        let r = RefAst::parse(target, crate::syntax::Span::default());
        if known.systems.iter().any(|s| s.name == r.system) {
            return Ok(());
        }
        let bad = |what: &'static str, v: &str| {
            let value = v.to_string();
            Err(AccessError::entry(
                at,
                user,
                &text,
                EntryProblem::NotAName { what, value },
            ))
        };
        if r.rtype.is_empty() {
            return Err(AccessError::entry(
                at,
                user,
                &text,
                EntryProblem::NotAReference,
            ));
        }
        if !is_ident(&r.system) {
            return bad("system name", &r.system);
        }
        if !is_ident(&r.rtype) {
            return bad("resource type", &r.rtype);
        }
        if let Some(l) = &level {
            if !is_ident(l) {
                return bad("level", l);
            }
        }
        let si = match self.systems.iter().position(|(s, _)| *s == r.system) {
            Some(i) => i,
            None => {
                self.systems.push((r.system.clone(), Vec::new()));
                self.systems.len() - 1
            }
        };
        let types = &mut self.systems[si].1;
        let ti = match types.iter().position(|(t, _)| *t == r.rtype) {
            Some(i) => i,
            None => {
                types.push((r.rtype.clone(), Vec::new()));
                types.len() - 1
            }
        };
        if let Some(l) = level {
            if !types[ti].1.contains(&l) {
                types[ti].1.push(l);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.systems.is_empty()
    }

    /// Pol declarations of the inferred systems.
    pub fn declare(&self, export: &str) -> String {
        let mut out = String::new();
        for (s, types) in &self.systems {
            out.push_str(&format!(
                "/// Not in the standard library: inferred by `polc mine` from {export}.\n\
                 /// Levels are in the order first seen there: put them in order, lowest first.\n\
                 system {s} {{\n"
            ));
            for (t, levels) in types {
                if levels.is_empty() {
                    out.push_str(&format!("  resource {t}\n"));
                } else {
                    out.push_str(&format!(
                        "  resource {t} {{ levels {} }}\n",
                        levels.join(" < ")
                    ));
                }
            }
            out.push_str("}\n\n");
        }
        out
    }
}

/// Sources that do not check clean: every error and warning, rendered as `polc check`
/// prints them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rendered}")]
pub struct SourcesError {
    pub rendered: String,
}

/// Checks in-memory sources as one bundle: its IR, or every error and warning rendered.
pub fn check_sources(files: &[(String, String)]) -> Result<Arc<ir::Bundle>, SourcesError> {
    let sources: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let loaded = Loaded::from_sources(&sources);
    let checked = check_bundle(&loaded.db, loaded.workspace);
    let reported: Vec<_> = checked
        .diagnostics
        .iter()
        // W0001 flags confusable text that came from the HR data itself (a value the drafts
        // must match exactly): the user sees it when checking the drafts, it is not a bug.
        .filter(|d| d.severity != Severity::Note && d.code != "W0001")
        .cloned()
        .collect();
    if reported.is_empty() {
        Ok(checked.bundle.clone())
    } else {
        Err(SourcesError {
            rendered: render::render_plain(&loaded.db, &reported),
        })
    }
}

/// The standard schema and systems alone (`import "std/hris"`, `import "std/saas"`).
pub fn std_bundle() -> Arc<ir::Bundle> {
    check_sources(&[(
        "<std>".to_string(),
        "import \"std/hris\"\nimport \"std/saas\"\n".to_string(),
    )])
    .expect("the standard library checks clean")
}

fn type_text(t: &ir::Type) -> String {
    match t {
        ir::Type::Enum(members) => {
            let m: Vec<String> = members
                .iter()
                .map(|x| if is_bare_name(x) { x.clone() } else { quote(x) })
                .collect();
            format!("enum {{ {} }}", m.join(", "))
        }
        ir::Type::List(t) => format!("list<{}>", type_text(t)),
        other => other.to_string(),
    }
}

fn duration_text(d: ir::Duration) -> String {
    use crate::ir::DurationUnit;
    let unit = match d.unit {
        DurationUnit::Hours => "h",
        DurationUnit::Days => "d",
        DurationUnit::Weeks => "w",
    };
    format!("{}{unit}", d.amount)
}

fn same_system(a: &ir::System, b: &ir::System) -> bool {
    a.name == b.name && a.display == b.display && a.grace == b.grace && a.types == b.types
}

fn system_text(s: &ir::System) -> String {
    let mut out = String::new();
    if let Some(d) = &s.doc {
        for line in d.lines() {
            out.push_str(&format!("/// {line}\n"));
        }
    }
    out.push_str(&format!("system {}", s.name));
    if let Some(d) = &s.display {
        out.push_str(&format!(" {}", quote(d)));
    }
    out.push_str(" {\n");
    if let Some(g) = s.grace {
        out.push_str(&format!("  grace {}\n", duration_text(g)));
    }
    for t in &s.types {
        let mut clauses = Vec::new();
        if !t.levels.is_empty() {
            clauses.push(format!("levels {}", t.levels.join(" < ")));
        }
        if let Some(d) = t.default.filter(|&d| d != 0) {
            clauses.push(format!("default {}", t.levels[usize::from(d)]));
        }
        if let Some(g) = t.grace {
            clauses.push(format!("grace {}", duration_text(g)));
        }
        if clauses.is_empty() {
            out.push_str(&format!("  resource {}\n", t.name));
        } else {
            out.push_str(&format!(
                "  resource {} {{ {} }}\n",
                t.name,
                clauses.join("  ")
            ));
        }
    }
    out.push_str("}\n\n");
    out
}

/// The header of the drafts: what they need of `bundle` (the bundle mined against) to be a
/// bundle of their own. The standard modules are imported when `bundle` has all of them;
/// its `require`s are repeated; the schema fields and systems the standard library does not
/// declare are declared again.
pub fn header(bundle: &ir::Bundle, std: &ir::Bundle) -> String {
    let mut out = String::from(
        "// Drafted by `polc mine` from current access: review every file before use.\n",
    );
    let std_schema = std.schema.as_ref().expect("std/hris declares a schema");
    let std_hris = bundle.schema.as_ref().is_some_and(|s| {
        s.key == std_schema.key
            && std_schema.fields.iter().all(|f| {
                s.field(&f.name)
                    .is_some_and(|g| g.ty == f.ty && g.optional == f.optional)
            })
    });
    let std_saas = std
        .systems
        .iter()
        .all(|s| bundle.systems.iter().any(|b| same_system(s, b)));
    if std_hris {
        out.push_str("import \"std/hris\"\n");
    }
    if std_saas {
        out.push_str("import \"std/saas\"\n");
    }
    out.push('\n');
    for r in &bundle.requires {
        out.push_str(&format!("require {r}\n"));
    }
    out.push('\n');
    if let Some(s) = &bundle.schema {
        let fields: Vec<&ir::Field> = s
            .fields
            .iter()
            .filter(|f| !(std_hris && std_schema.field(&f.name).is_some()))
            .collect();
        if !fields.is_empty() {
            out.push_str("schema {\n");
            for f in fields {
                let key = if f.name == s.key && !std_hris {
                    " key"
                } else {
                    ""
                };
                let opt = if f.optional { "?" } else { "" };
                out.push_str(&format!("  {}: {}{opt}{key}\n", f.name, type_text(&f.ty)));
            }
            out.push_str("}\n\n");
        }
    }
    for s in &bundle.systems {
        if std_saas && std.systems.iter().any(|t| same_system(s, t)) {
            continue;
        }
        out.push_str(&system_text(s));
    }
    out
}

/// `job_title` → `Job Title`.
pub fn pretty_attr(attr: &str) -> String {
    attr.split(['_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A file name stem from group values: lower-case letters and digits, other runs as `-`.
pub fn slug(values: &[String]) -> String {
    let mut out = String::new();
    for c in values.join(" ").chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("group");
    }
    out
}

/// `name`, or `name (2)`, `name (3)`… : the first not in `taken`, which it joins.
fn unique(
    taken: &mut FxHashSet<String>,
    name: String,
    suffix: impl Fn(&str, usize) -> String,
) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = suffix(&name, n);
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// The drafted policy of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub policy: String,
    pub file: String,
}

/// The emitted bundle: files `(name, formatted text)` (the header first) and each group's
/// draft, aligned with the groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drafts {
    pub files: Vec<(String, String)>,
    pub drafts: Vec<Draft>,
}

fn trigger(attr: &str, v: Option<&Value>) -> String {
    match v {
        Some(v) => format!("when {attr} == {v}"),
        None => format!("when not has({attr})"),
    }
}

fn grant_line(s: &Share, members: usize, commented: bool) -> String {
    let level = s
        .level
        .as_ref()
        .map(|l| format!(" ({})", l.name))
        .unwrap_or_default();
    let mut notes = Vec::new();
    if s.holders.len() < members {
        notes.push(format!("{} of {members} members", s.holders.len()));
    }
    if !s.levels.is_empty() {
        notes.push(format!("levels held: {}", s.levels_held()));
    }
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(" // {}", notes.join("; "))
    };
    let lead = if commented { "// " } else { "" };
    format!("  {lead}grant {}{level}{note}\n", s.grant)
}

/// A share as a percentage: `90%`, `66.7%`.
pub fn percent(t: f64) -> String {
    let p = (t * 1000.0).round() / 10.0;
    if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A drafted file that does not parse: polc's bug (every draft is built from parts that
/// parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the drafted {file} does not parse ({}):\n{text}", errors.join("; "))]
pub struct DraftError {
    pub file: String,
    pub errors: Vec<String>,
    pub text: String,
}

fn format(name: &str, text: &str) -> Result<String, DraftError> {
    crate::fmt::format_source(text).map_err(|errors| DraftError {
        file: name.to_string(),
        errors: errors.iter().map(|e| e.message.clone()).collect(),
        text: text.to_string(),
    })
}

/// The drafts of the mined groups: `header` (see [`header`]) in [`HEADER_FILE`], the
/// access in `common` in the template [`COMMON_TEMPLATE`] in [`COMMON_FILE`], and one file
/// per group with its policy, named after the `by` attributes and the group's values.
pub fn drafts(
    by: &[String],
    header: &str,
    groups: &[GroupReport],
    common: &[(String, Option<Level>)],
    t: &Thresholds,
) -> Result<Drafts, DraftError> {
    let mut files = vec![(HEADER_FILE.to_string(), format(HEADER_FILE, header)?)];
    let mut names: FxHashSet<String> = FxHashSet::default();
    let mut stems: FxHashSet<String> = ["mined", "common"].iter().map(|s| s.to_string()).collect();
    let template = if common.is_empty() {
        None
    } else {
        let name = unique(&mut names, COMMON_TEMPLATE.to_string(), |n, i| {
            format!("{n} ({i})")
        });
        let mut text = format!(
            "/// The access every mined group holds: inherited by every drafted policy.\n\
             template {} {{\n",
            quote(&name)
        );
        for (grant, level) in common {
            let level = level
                .as_ref()
                .map(|l| format!(" ({})", l.name))
                .unwrap_or_default();
            text.push_str(&format!("  grant {grant}{level}\n"));
        }
        text.push_str("}\n");
        files.push((COMMON_FILE.to_string(), format(COMMON_FILE, &text)?));
        Some(name)
    };
    let in_common = |s: &Share| common.iter().any(|(g, l)| *g == s.grant && *l == s.level);
    let mut out = Vec::new();
    for g in groups {
        let values: Vec<String> = g.key.iter().map(|v| value_text(v.as_ref())).collect();
        let label: Vec<String> = by
            .iter()
            .zip(&values)
            .map(|(a, v)| format!("{} {v}", pretty_attr(a)))
            .collect();
        let policy = unique(
            &mut names,
            format!("{} Access", label.join(", ")),
            |n, i| format!("{n} ({i})"),
        );
        let stem = unique(&mut stems, slug(&values), |n, i| format!("{n}-{i}"));
        let file = format!("{stem}.pol");
        let n = g.members.len();
        let who: Vec<String> = by
            .iter()
            .zip(&g.key)
            .map(|(a, v)| match v {
                Some(v) => format!("{a} = {v}"),
                None => format!("no {a}"),
            })
            .collect();
        let mut text = format!(
            "/// Drafted by `polc mine` from the access of {n} member{} with\n\
             /// {}.\n\
             policy {} {{\n",
            if n == 1 { "" } else { "s" },
            who.join(", "),
            quote(&policy)
        );
        for (a, v) in by.iter().zip(&g.key) {
            text.push_str(&format!("  {}\n", trigger(a, v.as_ref())));
        }
        if let Some(tpl) = &template {
            text.push_str(&format!("  inherits {}\n", quote(tpl)));
        }
        let baseline: Vec<&Share> = g.baseline.iter().filter(|s| !in_common(s)).collect();
        if !baseline.is_empty() {
            let what = if t.baseline >= 1.0 {
                "every member".to_string()
            } else {
                format!("at least {} of the members", percent(t.baseline))
            };
            text.push_str(&format!("\n  // Baseline: held by {what}.\n"));
            for s in baseline {
                text.push_str(&grant_line(s, n, false));
            }
        }
        if !g.candidates.is_empty() {
            text.push_str(&format!(
                "\n  // Candidates: held by at least {} of the members.\n",
                percent(t.candidate)
            ));
            for s in &g.candidates {
                text.push_str(&grant_line(s, n, false));
            }
        }
        if !g.review.is_empty() {
            text.push_str(&format!(
                "\n  // To review: held by at least {} of the members, not granted.\n",
                percent(t.review)
            ));
            for s in &g.review {
                text.push_str(&grant_line(s, n, true));
            }
        }
        text.push_str("}\n");
        files.push((file.clone(), format(&file, &text)?));
        out.push(Draft { policy, file });
    }
    Ok(Drafts { files, drafts: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An enum value that is a keyword (`test`) is quoted, so the drafted schema parses.
    #[test]
    fn enum_members_that_are_keywords_are_quoted() {
        let t = type_text(&ir::Type::Enum(vec!["test".into(), "Active".into()]));
        assert_eq!(t, "enum { \"test\", Active }");
        let src = format!("schema {{\n  user_id: string key\n  stage: {t}\n}}\n");
        let parsed = crate::syntax::parse(&src);
        assert!(parsed.errors.is_empty(), "{src}: {:?}", parsed.errors);
    }

    #[test]
    fn names_and_slugs() {
        assert_eq!(pretty_attr("job_title"), "Job Title");
        assert_eq!(pretty_attr("cost-center"), "Cost Center");
        assert_eq!(slug(&["Sales Engineer".into()]), "sales-engineer");
        assert_eq!(
            slug(&["Sales".into(), "Sales Engineer".into()]),
            "sales-sales-engineer"
        );
        assert_eq!(slug(&["(none)".into()]), "none");
        assert_eq!(slug(&["R&D / Ops".into()]), "r-d-ops");
        assert_eq!(slug(&["***".into()]), "group");
        assert!(is_ident("deploy") && is_ident("_x-1") && !is_ident("1x") && !is_ident("a b"));
    }

    #[test]
    fn inferred_systems_keep_first_seen_order_and_refuse_bad_names() {
        let std = std_bundle();
        let mut inf = Inferred::default();
        for (g, l) in [
            ("deploy:environment:staging (Deployer)", None),
            ("deploy:environment:production", Some("viewer")),
            ("deploy:environment:dev (deployer)", None),
            ("deploy:key", None),
            ("google:workspace-account", None),
            ("vpn:profile:x (admin)", None),
        ] {
            inf.see(&std, "u", g, l, &"access.json").unwrap();
        }
        assert_eq!(
            inf.declare("access.json")
                .lines()
                .filter(|l| !l.starts_with("///"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end(),
            "system deploy {\n  resource environment { levels deployer < viewer }\n  resource key\n}\n\nsystem vpn {\n  resource profile { levels admin }\n}\n"
                .trim_end()
        );
        let err = inf
            .see(&std, "u", "my system:x", None, &"a.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`my system` is not a valid system name"),
            "{err}"
        );
        let err = inf
            .see(&std, "u", "nocolon", None, &"a.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a grant reference"), "{err}");
        let err = inf
            .see(&std, "u", "vpn:profile:x (read only)", None, &"a.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`read only` is not a valid level"), "{err}");
    }

    fn report(key: &str, baseline: &[(&str, Option<(u8, &str)>)], members: usize) -> GroupReport {
        let m: Vec<String> = (0..members).map(|i| format!("{key}{i}")).collect();
        let share = |(g, l): &(&str, Option<(u8, &str)>)| Share {
            grant: g.to_string(),
            level: l.map(|(rank, name)| Level {
                rank,
                name: name.into(),
            }),
            levels: vec![],
            holders: m.clone(),
            lacking: vec![],
            share: 1.0,
        };
        GroupReport {
            key: vec![Some(Value::Str(key.to_string()))],
            members: m.clone(),
            baseline: baseline.iter().map(share).collect(),
            candidates: vec![],
            review: vec![],
            outliers: vec![],
            without_access: vec![],
        }
    }

    #[test]
    fn drafts_check_clean_and_factor_common_access() {
        let std = std_bundle();
        let groups = vec![
            report(
                "Sales",
                &[
                    ("google:workspace-account", None),
                    ("slack:channel:#sales", Some((1, "member"))),
                ],
                2,
            ),
            report(
                "Engineering",
                &[
                    ("google:workspace-account", None),
                    ("github:org:engineering", Some((0, "member"))),
                ],
                3,
            ),
        ];
        let common = crate::reconcile::mining::groups::common(&groups);
        let d = drafts(
            &["department".to_string()],
            &header(&std, &std),
            &groups,
            &common,
            &Thresholds::default(),
        )
        .unwrap();
        let names: Vec<&str> = d.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["mined.pol", "common.pol", "sales.pol", "engineering.pol"]
        );
        assert_eq!(d.drafts[0].policy, "Department Sales Access");
        let sales = &d.files[2].1;
        assert!(sales.contains("when department == \"Sales\""), "{sales}");
        assert!(sales.contains("inherits \"Common Access\""), "{sales}");
        assert!(!sales.contains("grant google:workspace-account"), "{sales}");
        assert!(d.files[1].1.contains("grant google:workspace-account"));
        check_sources(&d.files).unwrap();
    }

    #[test]
    fn file_and_policy_names_never_collide() {
        let std = std_bundle();
        let groups = vec![
            report("Sales Engineer", &[("zoom:account", None)], 1),
            report("mined", &[("zoom:account", None)], 1),
            report("sales-engineer", &[("zoom:account", None)], 1),
            report("common", &[("slack:workspace-member", None)], 1),
        ];
        let d = drafts(
            &["job_title".to_string()],
            &header(&std, &std),
            &groups,
            &[],
            &Thresholds::default(),
        )
        .unwrap();
        let files: Vec<&str> = d.drafts.iter().map(|x| x.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "sales-engineer.pol",
                "mined-2.pol",
                "sales-engineer-2.pol",
                "common-2.pol"
            ]
        );
        let policies: Vec<&str> = d.drafts.iter().map(|x| x.policy.as_str()).collect();
        assert_eq!(
            policies,
            [
                "Job Title Sales Engineer Access",
                "Job Title mined Access",
                "Job Title sales-engineer Access",
                "Job Title common Access"
            ]
        );
        check_sources(&d.files).unwrap();
    }

    #[test]
    fn header_repeats_what_the_bundle_adds_to_the_standard_library() {
        let std = std_bundle();
        let b = check_sources(&[(
            "b.pol".into(),
            "import \"std/hris\"\nimport \"std/saas\"\nrequire employment_status == \"Active\"\n\
             schema { region: enum { EMEA, \"North America\" }? }\n\
             system deploy \"Deploy\" { grace 2w resource env { levels viewer < admin default admin grace 3d } }\n"
                .into(),
        )])
        .unwrap();
        let h = header(&b, &std);
        assert!(
            h.contains("import \"std/hris\"\nimport \"std/saas\""),
            "{h}"
        );
        assert!(h.contains("require employment_status == \"Active\""), "{h}");
        assert!(
            h.contains("region: enum { EMEA, \"North America\" }?"),
            "{h}"
        );
        assert!(
            h.contains("resource env { levels viewer < admin  default admin  grace 3d }"),
            "{h}"
        );
        assert!(!h.contains("system google"), "{h}");
        let again = check_sources(&[("h.pol".into(), h.clone())]).unwrap();
        assert_eq!(again.schema, b.schema);
        assert_eq!(again.systems.len(), b.systems.len());
        // A bundle of its own: everything declared, nothing imported.
        let own = check_sources(&[(
            "own.pol".into(),
            "schema { id: string key\n team: string? }\nsystem vpn { resource profile }\n".into(),
        )])
        .unwrap();
        let h = header(&own, &std);
        assert!(!h.contains("import"), "{h}");
        assert!(h.contains("id: string key"), "{h}");
        check_sources(&[("h.pol".into(), h)]).unwrap();
    }
}
