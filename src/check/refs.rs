//! Resolves grant references and patterns against the declared systems (docs/language.md §5, §6):
//! E0301 unknown system, E0302 unknown type, E0303 unknown level, E0304 level on a type
//! without levels, E0306 a pattern where one entitlement is needed.

use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::ir::{self, Entitlement};
use crate::syntax::ast::{GrantClause, Name, RefAst};
use crate::syntax::lexer::Duration;
use crate::syntax::Span;

use super::Ctx;

/// Standard systems, to suggest the missing `import "std/saas"`.
const STD_SAAS: &[&str] = &[
    "google",
    "okta",
    "slack",
    "gitlab",
    "github",
    "salesforce",
    "notion",
    "aws",
    "jira",
    "confluence",
    "zoom",
    "onepassword",
];

fn system_span(r: &RefAst) -> Span {
    Span {
        start: r.span.start,
        end: r.span.start + r.system.len() as u32,
    }
}

fn type_span(r: &RefAst) -> Span {
    let start = r.span.start + r.system.len() as u32 + 1;
    Span {
        start,
        end: start + r.rtype.len() as u32,
    }
}

/// Resolves `system:type[:name]` and an optional level to an entitlement and level rank.
/// Reports what does not resolve and returns `None` for it.
pub fn resolve(
    cx: &mut Ctx<'_>,
    r: &RefAst,
    level: Option<&Name>,
) -> Option<(Entitlement, Option<u8>)> {
    if r.is_pattern() {
        cx.push(
            Diagnostic::new(
                "E0306",
                format!("`{}` is a pattern, not one entitlement", r.canonical()),
                cx.file,
                r.span,
                "contains `*`",
            )
            .with_help("patterns belong in `deny` and `conflict`; a grant names one entitlement"),
        );
        return None;
    }
    let (sid, sys) = lookup_system(cx, r)?;
    let Some((tid, ty)) = sys.rtype(&r.rtype) else {
        let names: Vec<&str> = sys.types.iter().map(|t| t.name.as_str()).collect();
        let help = match did_you_mean(&r.rtype, names.iter().copied()) {
            Some(s) => format!("did you mean `{}:{s}`?", r.system),
            None => format!("`{}` has the types: {}", r.system, names.join(", ")),
        };
        cx.push(
            Diagnostic::new(
                "E0302",
                format!(
                    "unknown resource type `{}` for system `{}`",
                    r.rtype, r.system
                ),
                cx.file,
                type_span(r),
                "no such type",
            )
            .with_label(
                sys.file,
                sys.span,
                format!("`{}` is declared here", r.system),
            )
            .with_help(help),
        );
        return None;
    };
    let ent = Entitlement {
        system: sid,
        rtype: tid,
        name: r.name.clone(),
    };
    let rank = match level {
        None => ty.default,
        Some(l) if ty.levels.is_empty() => {
            cx.push(
                Diagnostic::new(
                    "E0304",
                    format!(
                        "`{}:{}` has no levels, so it takes no level",
                        r.system, r.rtype
                    ),
                    cx.file,
                    l.span,
                    "a level on a type without levels",
                )
                .with_label(sys.file, ty.span, "declared without `levels`")
                .with_help(format!("remove `({})`", l.node)),
            );
            return None;
        }
        Some(l) => match ty.levels.iter().position(|x| *x == l.node.to_lowercase()) {
            Some(i) => Some(i as u8),
            None => {
                let help = match did_you_mean(&l.node, ty.levels.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the levels of `{}:{}` are: {}",
                        r.system,
                        r.rtype,
                        ty.levels.join(" < ")
                    ),
                };
                cx.push(
                    Diagnostic::new(
                        "E0303",
                        format!("unknown level `{}` for `{}:{}`", l.node, r.system, r.rtype),
                        cx.file,
                        l.span,
                        "no such level",
                    )
                    .with_label(
                        sys.file,
                        ty.span,
                        format!("levels: {}", ty.levels.join(" < ")),
                    )
                    .with_help(help),
                );
                return None;
            }
        },
    };
    Some((ent, rank))
}

fn lookup_system<'e>(
    cx: &mut Ctx<'e>,
    r: &RefAst,
) -> Option<(ir::SystemId, &'e super::env::SystemEnv)> {
    if let Some(found) = cx.env.system(&r.system) {
        return Some(found);
    }
    let help = match did_you_mean(&r.system, cx.env.systems.iter().map(|s| s.name.as_str())) {
        Some(s) => format!("did you mean `{s}`?"),
        None if STD_SAAS.contains(&r.system.as_str()) => {
            format!(
                "`{}` is declared in the standard library: add `import \"std/saas\"`",
                r.system
            )
        }
        None => format!(
            "declare it: `system {} {{ resource {} }}`",
            r.system, r.rtype
        ),
    };
    cx.push(
        Diagnostic::new(
            "E0301",
            format!("unknown system `{}`", r.system),
            cx.file,
            system_span(r),
            "no such system",
        )
        .with_help(help),
    );
    None
}

/// E0005 for a duration longer than [`crate::dates::MAX_DURATION_DAYS`]: a grace that
/// long would push a removal past the end of the calendar. `grace`: the duration is one.
pub fn check_duration(cx: &mut Ctx<'_>, d: Duration, span: Span, grace: bool) {
    let days = d.days_ceil().max(0) as u64;
    if days > crate::dates::MAX_DURATION_DAYS {
        cx.push(
            Diagnostic::new(
                "E0005",
                format!("duration `{d}` is longer than 100 years"),
                cx.file,
                span,
                format!(
                    "{days} days; at most {} days",
                    crate::dates::MAX_DURATION_DAYS
                ),
            )
            .with_help(format!(
                "write at most 100 years (`{}d`){}",
                crate::dates::MAX_DURATION_DAYS,
                if grace {
                    "; access that must stay needs a policy that still applies, not a grace"
                } else {
                    ""
                }
            )),
        );
    }
}

pub fn resolve_grant(cx: &mut Ctx<'_>, g: &GrantClause) -> Option<ir::Grant> {
    if let Some(d) = &g.grace {
        check_duration(cx, d.node, d.span, true);
    }
    let (entitlement, level) = resolve(cx, &g.target, g.level.as_ref())?;
    Some(ir::Grant {
        entitlement,
        level,
        grace: g.grace.as_ref().map(|d| d.node),
    })
}

/// A `deny` or `conflict` pattern: segments without `*` must name declared systems and types.
pub fn resolve_pattern(cx: &mut Ctx<'_>, r: &RefAst) -> ir::Pattern {
    let pattern = ir::Pattern {
        system: r.system.clone(),
        rtype: r.rtype.clone(),
        name: r.name.clone(),
        text: r.canonical(),
    };
    if !r.system.contains('*') {
        if let Some((_, sys)) = lookup_system(cx, r) {
            if !r.rtype.contains('*') && sys.rtype(&r.rtype).is_none() {
                let help = did_you_mean(&r.rtype, sys.types.iter().map(|t| t.name.as_str()))
                    .map(|s| format!("did you mean `{}:{s}`?", r.system))
                    .unwrap_or_else(|| format!("use `{}:*` to match every type", r.system));
                cx.push(
                    Diagnostic::new(
                        "E0302",
                        format!(
                            "unknown resource type `{}` for system `{}`",
                            r.rtype, r.system
                        ),
                        cx.file,
                        type_span(r),
                        "no such type",
                    )
                    .with_help(help),
                );
            }
        }
    }
    pattern
}
