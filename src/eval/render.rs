//! Evaluations as the `eval` JSON of docs/commands.md (streamed, borrowed, sorted) and as a readable table.

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use super::{Evaluation, Plan};

/// A JSON array written straight from an iterator: no vector is built per user or grant.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

#[derive(Serialize)]
struct GrantJson<'a, T> {
    grant: &'a str,
    level: Option<&'a str>,
    sources: T,
}

#[derive(Serialize)]
struct DeniedJson<'a> {
    grant: &'a str,
    level: Option<&'a str>,
    by: &'a str,
}

#[derive(Serialize)]
struct ExceptionJson<'a> {
    name: Option<&'a str>,
    grant: &'a str,
    level: Option<&'a str>,
    expires: String,
}

#[derive(Serialize)]
struct ViolationJson<'a, T> {
    conflict: &'a str,
    grants: T,
}

/// One user's evaluation in the JSON of `polc eval` (docs/commands.md): `user_id`, `policies`,
/// `grants` (each with its `sources`), `denied`, `exceptions`, `violations`. It borrows the
/// plan and the evaluation and is written as it is serialized.
pub struct UserJson<'a> {
    plan: &'a Plan,
    user_id: &'a str,
    e: &'a Evaluation,
}

/// One user's evaluation in the JSON of `polc eval`.
pub fn user_json<'a>(plan: &'a Plan, user_id: &'a str, e: &'a Evaluation) -> UserJson<'a> {
    UserJson { plan, user_id, e }
}

impl UserJson<'_> {
    /// The exceptions in force, one entry per grant, by name then grant (rare: built).
    fn exceptions(&self) -> Vec<ExceptionJson<'_>> {
        let plan = self.plan;
        let mut out = Vec::new();
        for &x in &self.e.exceptions {
            // `exception_grants` is parallel to the bundle's exceptions.
            let (Some(exc), Some(grants)) =
                (plan.bundle.exceptions.get(x), plan.exception_grants.get(x))
            else {
                continue;
            };
            for &(ent, level) in grants {
                out.push(ExceptionJson {
                    name: exc.name.as_deref(),
                    grant: plan.ent_text(ent),
                    level: plan.level_name(ent, level),
                    expires: exc.expires.to_string(),
                });
            }
        }
        out.sort_by(|a, b| (a.name, a.grant).cmp(&(b.name, b.grant)));
        out
    }
}

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (plan, e) = (self.plan, self.e);
        let b = &*plan.bundle;
        let mut m = s.serialize_struct("UserJson", 6)?;
        m.serialize_field("user_id", self.user_id)?;
        m.serialize_field(
            "policies",
            &Seq(|| e.policies.iter().map(|&p| b.policy(p).name.as_str())),
        )?;
        m.serialize_field(
            "grants",
            &Seq(|| {
                e.grants.iter().map(|g| GrantJson {
                    grant: plan.ent_text(g.ent),
                    level: plan.level_name(g.ent, g.level),
                    sources: Seq(|| g.sources.iter().map(|src| plan.source_str(src))),
                })
            }),
        )?;
        m.serialize_field(
            "denied",
            &Seq(|| {
                e.denied.iter().map(|d| DeniedJson {
                    grant: plan.ent_text(d.ent),
                    level: plan.level_name(d.ent, d.level),
                    by: plan.path_text(d.by),
                })
            }),
        )?;
        m.serialize_field("exceptions", &self.exceptions())?;
        m.serialize_field(
            "violations",
            &Seq(|| {
                e.violations.iter().map(|v| ViolationJson {
                    conflict: b.conflicts.get(v.conflict).map_or("", |c| c.name.as_str()),
                    grants: Seq(|| v.ents.iter().map(|&x| plan.ent_text(x))),
                })
            }),
        )?;
        m.end()
    }
}

/// One user's evaluation as a readable block.
pub fn user_table(plan: &Plan, user_id: &str, e: &Evaluation) -> String {
    use std::fmt::Write;
    let b = &*plan.bundle;
    let mut out = String::new();
    let _ = writeln!(out, "{}", crate::text::terminal(user_id));
    if let Some(i) = e.failed_require {
        let r = b
            .requires
            .get(i)
            .map(ToString::to_string)
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  fails `require {r}`: no policy applies, no exception is in force"
        );
        return out;
    }
    let names: Vec<&str> = e
        .policies
        .iter()
        .map(|&p| b.policy(p).name.as_str())
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
            .map(|g| plan.ent_text(g.ent).chars().count())
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
                plan.ent_text(g.ent),
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
            plan.ent_text(d.ent),
            plan.path_text(d.by)
        );
    }
    for v in &e.violations {
        let grants: Vec<&str> = v.ents.iter().map(|&x| plan.ent_text(x)).collect();
        let _ = writeln!(
            out,
            "  VIOLATION {}: {}",
            b.conflicts.get(v.conflict).map_or("", |c| c.name.as_str()),
            grants.join(", ")
        );
    }
    out
}
