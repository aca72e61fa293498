//! `polc explain`: why a user has each grant (the derivation chain, each trigger with the
//! user's actual values, the `require`s) and why they do not have one (which policies would
//! give it and which of their triggers failed on which values, which deny removed it, or
//! that the exception expired).

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::expr::{CExpr, Env};
use super::{EntId, Evaluation, Plan, Source, SourceKind};
use crate::ir::{self, Expr, PolicyId, Value};

#[derive(Serialize, Debug)]
pub struct Condition {
    pub expr: String,
    pub holds: bool,
    /// The attributes it reads, with the user's values (`null`: absent).
    pub values: Map<String, Json>,
}

#[derive(Serialize, Debug)]
pub struct PolicyWhy {
    pub policy: String,
    pub in_force: bool,
    pub template: bool,
    pub triggers: Vec<Condition>,
}

#[derive(Serialize, Debug)]
pub struct SourceWhy {
    /// `A > B > C`, or `exception "NAME"`.
    pub source: String,
    pub level: Option<String>,
    /// The policy that applies and why (its triggers), for a policy path.
    pub applies: Option<PolicyWhy>,
    pub exception: Option<ExceptionWhy>,
}

#[derive(Serialize, Debug)]
pub struct ExceptionWhy {
    pub name: Option<String>,
    pub justification: String,
    pub approved_by: String,
    pub expires: String,
    pub in_force: bool,
}

#[derive(Serialize, Debug)]
pub struct GrantWhy {
    pub grant: String,
    pub level: Option<String>,
    pub held: bool,
    pub sources: Vec<SourceWhy>,
    /// When not held: every reason, in words.
    pub why_not: Vec<String>,
    /// When not held: the policies that would give it, and their triggers on this user.
    pub candidates: Vec<PolicyWhy>,
}

#[derive(Serialize, Debug)]
pub struct Explanation {
    pub user_id: String,
    pub as_of: String,
    pub requires: Vec<Condition>,
    pub policies: Vec<String>,
    pub grants: Vec<GrantWhy>,
}

fn json_value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => Json::from(*n),
        Value::Date(d) => Json::String(d.to_string()),
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(json_value).collect()),
    }
}

fn attrs(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Attr(a) => {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        Expr::Lit(_) | Expr::Today => {}
        Expr::Call(_, v) | Expr::And(v) | Expr::Or(v) | Expr::List(v) => {
            v.iter().for_each(|x| attrs(x, out))
        }
        Expr::Not(x) => attrs(x, out),
        Expr::Cmp(_, a, b) | Expr::Matches(a, b) | Expr::In { lhs: a, rhs: b, .. } => {
            attrs(a, out);
            attrs(b, out);
        }
    }
}

impl Plan {
    fn condition(&self, e: &Expr, c: &CExpr, values: &[Option<Value>]) -> Condition {
        let env = Env {
            values,
            today: self.at,
        };
        let mut names = Vec::new();
        attrs(e, &mut names);
        let mut map = Map::new();
        for n in names {
            let v = self
                .fields
                .iter()
                .position(|f| *f == n)
                .and_then(|i| values.get(i).cloned().flatten());
            map.insert(n, v.as_ref().map_or(Json::Null, json_value));
        }
        Condition {
            expr: e.to_string(),
            holds: env.test(c),
            values: map,
        }
    }

    fn policy_why(&self, pid: PolicyId, values: &[Option<Value>]) -> PolicyWhy {
        let p = &self.bundle.policy(pid);
        PolicyWhy {
            policy: p.name.clone(),
            in_force: p.in_force(self.at),
            template: p.template,
            triggers: p
                .triggers
                .iter()
                .zip(self.triggers.get(pid).into_iter().flatten())
                .map(|(e, c)| self.condition(e, c, values))
                .collect(),
        }
    }

    fn source_why(&self, s: &Source, ent: EntId, values: &[Option<Value>]) -> SourceWhy {
        let level = self.level_name(ent, s.level).map(str::to_string);
        match s.kind {
            SourceKind::Path(p) => SourceWhy {
                source: self.path_text(p).to_string(),
                level,
                applies: self
                    .path(p)
                    .first()
                    .map(|&root| self.policy_why(root, values)),
                exception: None,
            },
            SourceKind::Exception(x) => SourceWhy {
                source: self.source_text(s),
                level,
                applies: None,
                exception: self.exception_why(x),
            },
        }
    }

    fn exception_why(&self, x: usize) -> Option<ExceptionWhy> {
        let e = self.bundle.exceptions.get(x)?;
        Some(ExceptionWhy {
            name: e.name.clone(),
            justification: e.justification.clone(),
            approved_by: e.approved_by.clone(),
            expires: e.expires.to_string(),
            in_force: e.in_force(self.at),
        })
    }

    /// Explains a user's evaluation; with `only`, just that entitlement (held or not).
    pub fn explain(
        &self,
        id: &str,
        values: &[Option<Value>],
        e: &Evaluation,
        only: Option<(EntId, Option<u8>)>,
    ) -> Explanation {
        let env = Env {
            values,
            today: self.at,
        };
        let _ = env;
        let requires = self
            .bundle
            .requires
            .iter()
            .zip(&self.requires)
            .map(|(e, c)| self.condition(e, c, values))
            .collect::<Vec<_>>();
        let mut grants = Vec::new();
        for g in &e.grants {
            if only.is_some_and(|(ent, _)| ent != g.ent) {
                continue;
            }
            let mut why = GrantWhy {
                grant: self.ent_text(g.ent).to_string(),
                level: self.level_name(g.ent, g.level).map(str::to_string),
                held: true,
                sources: g
                    .sources
                    .iter()
                    .map(|s| self.source_why(s, g.ent, values))
                    .collect(),
                why_not: Vec::new(),
                candidates: Vec::new(),
            };
            if let Some((_, Some(want))) = only {
                if g.level != Some(want) {
                    why.why_not.push(format!(
                        "held at `{}`, not at `{}`",
                        why.level.clone().unwrap_or_default(),
                        self.level_name(g.ent, Some(want)).unwrap_or("?")
                    ));
                }
            }
            grants.push(why);
        }
        if let Some((ent, level)) = only {
            if e.grant(ent).is_none() {
                grants.push(self.why_not(id, values, e, ent, level));
            }
        }
        Explanation {
            user_id: id.to_string(),
            as_of: self.at.to_string(),
            requires,
            policies: e
                .policies
                .iter()
                .map(|&p| self.bundle.policy(p).name.clone())
                .collect(),
            grants,
        }
    }

    fn why_not(
        &self,
        id: &str,
        values: &[Option<Value>],
        e: &Evaluation,
        ent: EntId,
        level: Option<u8>,
    ) -> GrantWhy {
        let b = &*self.bundle;
        let mut why = GrantWhy {
            grant: self.ent_text(ent).to_string(),
            level: self.level_name(ent, level).map(str::to_string),
            held: false,
            sources: Vec::new(),
            why_not: Vec::new(),
            candidates: Vec::new(),
        };
        if let Some(r) = e.failed_require.and_then(|i| b.requires.get(i)) {
            why.why_not.push(format!(
                "the user fails `require {r}`, so no policy applies and no exception is in force"
            ));
        }
        if let Some(d) = e.denied.iter().find(|d| d.ent == ent) {
            let pattern = &self.deny(d.deny).1.text;
            why.why_not.push(format!(
                "removed by `deny {pattern}` of {}",
                self.path_text(d.by)
            ));
            why.sources = d
                .sources
                .iter()
                .map(|s| self.source_why(s, ent, values))
                .collect();
        }
        // Policies whose closure grants it (in force on this date or not).
        let mut givers: Vec<PolicyId> = Vec::new();
        for (pid, p) in b.policies.iter_enumerated() {
            if p.template {
                continue;
            }
            let reach = b.closure(pid);
            if reach.iter().any(|&q| {
                b.policy(q)
                    .grants
                    .iter()
                    .any(|g| self.ent_id(&g.entitlement) == Some(ent))
            }) {
                givers.push(pid);
            }
        }
        for pid in givers {
            let applied = e.policies.contains(&pid);
            let pw = self.policy_why(pid, values);
            if applied {
                continue;
            }
            if !pw.in_force {
                why.why_not.push(format!(
                    "`{}` would give it, but it is not in force on {}",
                    pw.policy, self.at
                ));
            } else {
                let failed: Vec<String> = pw
                    .triggers
                    .iter()
                    .filter(|c| !c.holds)
                    .map(|c| {
                        let vals: Vec<String> = c
                            .values
                            .iter()
                            .map(|(k, v)| {
                                format!(
                                    "{k} = {}",
                                    if v.is_null() {
                                        "absent".into()
                                    } else {
                                        v.to_string()
                                    }
                                )
                            })
                            .collect();
                        format!("`{}` ({})", c.expr, vals.join(", "))
                    })
                    .collect();
                why.why_not.push(format!(
                    "`{}` would give it, but {} does not hold",
                    pw.policy,
                    failed.join(" and ")
                ));
            }
            why.candidates.push(pw);
        }
        for &x in self.exceptions_by_user.get(id).into_iter().flatten() {
            // `exception_grants` is parallel to the bundle's exceptions.
            let (Some(grants), Some(ex)) = (self.exception_grants.get(x), b.exceptions.get(x))
            else {
                continue;
            };
            if grants.iter().any(|(g, _)| *g == ent) && !ex.in_force(self.at) {
                let when = if self.at >= ex.expires {
                    format!("expired on {}", ex.expires)
                } else {
                    format!(
                        "is not in force before {}",
                        ex.effective.map(|d| d.to_string()).unwrap_or_default()
                    )
                };
                why.why_not.push(format!("{} {when}", ex.source_label()));
            }
        }
        if why.why_not.is_empty() {
            why.why_not
                .push("no policy and no exception gives it".to_string());
        }
        why
    }

    /// Resolves `system:type[:name]` written by a user (e.g. `--grant`) to an entitlement.
    pub fn resolve_ref(&mut self, text: &str) -> Result<(EntId, Option<u8>), RefError> {
        let (text, level) = match text
            .trim()
            .strip_suffix(')')
            .and_then(|t| t.rsplit_once('('))
        {
            Some((r, l)) => (r.trim(), Some(l.trim().to_lowercase())),
            None => (text.trim(), None),
        };
        let r = crate::notation::RefParts::split(text);
        let b = self.bundle.clone();
        let (sid, system) = b
            .systems
            .iter_enumerated()
            .find(|(_, s)| s.name == r.system)
            .ok_or_else(|| RefError::UnknownSystem {
                system: r.system.clone(),
                text: text.to_string(),
            })?;
        let (tid, ty) = system
            .types
            .iter_enumerated()
            .find(|(_, t)| t.name == r.rtype)
            .ok_or_else(|| RefError::UnknownType {
                system: r.system.clone(),
                rtype: r.rtype.clone(),
                text: text.to_string(),
            })?;
        let rank = match level {
            None => None,
            Some(l) => Some(ty.levels.iter().position(|x| *x == l).ok_or_else(|| {
                RefError::UnknownLevel {
                    system: r.system.clone(),
                    rtype: r.rtype.clone(),
                    levels: ty.levels.clone(),
                    level: l,
                }
            })? as u8),
        };
        let ent = ir::Entitlement {
            system: sid,
            rtype: tid,
            name: r.name,
        };
        Ok((self.intern(&ent), rank))
    }
}

/// Why a grant reference written by a user (`--grant`, an access export's entry) names no
/// entitlement of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("unknown system `{system}` in `{text}`")]
    UnknownSystem { system: String, text: String },
    #[error("unknown resource type `{system}:{rtype}` in `{text}`")]
    UnknownType {
        system: String,
        rtype: String,
        text: String,
    },
    #[error("unknown level `{level}` for `{system}:{rtype}` (levels: {})", levels.join(" < "))]
    UnknownLevel {
        system: String,
        rtype: String,
        level: String,
        levels: Vec<String>,
    },
}

/// The explanation as text for a terminal.
pub fn human(x: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} as of {}",
        crate::text::terminal(&x.user_id),
        x.as_of
    );
    for r in &x.requires {
        let _ = writeln!(
            out,
            "  require {}  {}  {}",
            r.expr,
            mark(r.holds),
            values(&r.values)
        );
    }
    let _ = writeln!(
        out,
        "  policies that apply: {}",
        if x.policies.is_empty() {
            "(none)".into()
        } else {
            x.policies.join(", ")
        }
    );
    for g in &x.grants {
        let lvl = g
            .level
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}{lvl}: {}",
            g.grant,
            if g.held { "held" } else { "NOT held" }
        );
        for s in &g.sources {
            let slvl = s
                .level
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  from {}{slvl}", s.source);
            if let Some(p) = &s.applies {
                for t in &p.triggers {
                    let _ = writeln!(
                        out,
                        "    `{}` applies: when {}  {}  {}",
                        p.policy,
                        t.expr,
                        mark(t.holds),
                        values(&t.values)
                    );
                }
            }
            if let Some(e) = &s.exception {
                let _ = writeln!(
                    out,
                    "    justification: {}; approved by {}; expires {}",
                    e.justification, e.approved_by, e.expires
                );
            }
        }
        for w in &g.why_not {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}

fn mark(b: bool) -> &'static str {
    if b {
        "✓"
    } else {
        "✗"
    }
}

fn values(m: &Map<String, Json>) -> String {
    if m.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} = {}",
                if v.is_null() {
                    "absent".to_string()
                } else {
                    v.to_string()
                }
            )
        })
        .collect();
    format!("({})", parts.join(", "))
}
