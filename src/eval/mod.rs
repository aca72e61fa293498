//! Evaluation (docs/language.md §14): one user record and a date to the user's policies and grant
//! set, every grant with its derivation paths. Works on the checked IR alone, through a
//! [`Plan`] compiled once per date; nothing here knows the parser or salsa.

pub mod explain;
pub mod expr;
pub mod plan;
pub mod render;
pub mod snapshot;
pub mod testing;

use rustc_hash::FxHashMap;

pub use explain::RefError;
pub use plan::{DenyId, EntId, PathId, Plan};

use crate::ir::{Duration, PolicyId, Value};
use expr::Env;

/// Where a grant comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A derivation path from a policy that applies.
    Path(PathId),
    /// An exception in force (index into the bundle's exceptions).
    Exception(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: SourceKind,
    pub level: Option<u8>,
    pub grace: Option<Duration>,
}

/// One entitlement of the final grant set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub ent: EntId,
    /// The highest level of its sources.
    pub level: Option<u8>,
    pub sources: Vec<Source>,
}

/// An entitlement some source gave and a deny removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub ent: EntId,
    pub level: Option<u8>,
    /// Path to the policy that holds the deny.
    pub by: PathId,
    pub deny: DenyId,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub conflict: usize,
    pub ents: Vec<EntId>,
}

/// Everything evaluation says about one user on one date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evaluation {
    /// Policies that apply directly, by name.
    pub policies: Vec<PolicyId>,
    /// The final grant set, by canonical text.
    pub grants: Vec<Granted>,
    pub denied: Vec<Denied>,
    /// Exceptions in force for the user (indices into the bundle's exceptions).
    pub exceptions: Vec<usize>,
    pub violations: Vec<Violation>,
    /// The first `require` the user fails, if any: then nothing applies.
    pub failed_require: Option<usize>,
}

impl Evaluation {
    pub fn grant(&self, ent: EntId) -> Option<&Granted> {
        self.grants.iter().find(|g| g.ent == ent)
    }
}

impl Plan {
    /// Whether policy `pid` applies to the record (in force, and every `when` holds;
    /// `require`s are checked by the caller).
    pub fn applies(&self, pid: PolicyId, values: &[Option<Value>]) -> bool {
        let env = Env {
            values,
            today: self.at,
        };
        // Both tables have a place for each policy of the bundle.
        matches!(self.roots.get(pid), Some(Some(_)))
            && self
                .triggers
                .get(pid)
                .is_some_and(|ts| ts.iter().all(|t| env.test(t)))
    }

    /// The first `require` a record fails, if any (then nothing applies to it).
    pub fn failed_require(&self, values: &[Option<Value>]) -> Option<usize> {
        let env = Env {
            values,
            today: self.at,
        };
        self.requires.iter().position(|r| !env.test(r))
    }

    /// The policies that apply to a record, by name; `Err(i)` when it fails `require` `i`
    /// (then nothing applies).
    pub fn applying(&self, values: &[Option<Value>]) -> Result<Vec<PolicyId>, usize> {
        if let Some(i) = self.failed_require(values) {
            return Err(i);
        }
        let mut policies: Vec<PolicyId> = self
            .candidates(values)
            .into_iter()
            .filter(|&p| self.applies(p, values))
            .collect();
        policies.sort_by(|&a, &b| self.cmp_policies(a, b));
        Ok(policies)
    }

    /// Evaluates one user: `id` is the record's key (for exceptions), `values` its columns.
    pub fn evaluate(&self, id: &str, values: &[Option<Value>]) -> Evaluation {
        let mut out = Evaluation::default();
        let policies = match self.applying(values) {
            Ok(p) => p,
            Err(i) => {
                out.failed_require = Some(i);
                return out;
            }
        };
        let bundle = &self.bundle;

        let mut acc: FxHashMap<EntId, (Option<u8>, Vec<Source>)> =
            FxHashMap::with_capacity_and_hasher(64, Default::default());
        let mut denies: Vec<(DenyId, PathId)> = Vec::new();
        for &p in &policies {
            let Some(Some(root)) = self.roots.get(p) else {
                continue;
            };
            for c in &root.contributions {
                let e = acc.entry(c.ent).or_insert((c.level, Vec::new()));
                e.0 = e.0.max(c.level);
                e.1.push(Source {
                    kind: SourceKind::Path(c.path),
                    level: c.level,
                    grace: c.grace,
                });
            }
            denies.extend_from_slice(&root.denies);
        }
        if let Some(excs) = self.exceptions_by_user.get(id) {
            for &x in excs {
                // `exception_grants` is parallel to the bundle's exceptions.
                let (Some(exc), Some(grants)) =
                    (bundle.exceptions.get(x), self.exception_grants.get(x))
                else {
                    continue;
                };
                if !exc.in_force(self.at) {
                    continue;
                }
                out.exceptions.push(x);
                for &(ent, level) in grants {
                    let e = acc.entry(ent).or_insert((level, Vec::new()));
                    e.0 = e.0.max(level);
                    e.1.push(Source {
                        kind: SourceKind::Exception(x),
                        level,
                        grace: None,
                    });
                }
            }
        }
        denies.sort_by_key(|d| self.source_rank(&SourceKind::Path(d.1)));
        for (ent, (level, mut sources)) in acc {
            sort_sources(self, &mut sources);
            match denies.iter().find(|&&(d, _)| self.deny(d).2.contains(&ent)) {
                Some(&(deny, by)) => out.denied.push(Denied {
                    ent,
                    level,
                    by,
                    deny,
                    sources,
                }),
                None => out.grants.push(Granted {
                    ent,
                    level,
                    sources,
                }),
            }
        }
        out.grants.sort_by(|a, b| self.cmp_ents(a.ent, b.ent));
        out.denied.sort_by(|a, b| self.cmp_ents(a.ent, b.ent));
        out.policies = policies;
        out.violations = self.violations(&out.grants);
        out
    }

    /// Separation-of-duties conflicts the grant set violates: two different grants
    /// matching two different patterns of one conflict.
    pub fn violations(&self, grants: &[Granted]) -> Vec<Violation> {
        let mut out = Vec::new();
        for (ci, pats) in self.conflicts.iter().enumerate() {
            let hits: Vec<Vec<EntId>> = pats
                .iter()
                .map(|set| {
                    grants
                        .iter()
                        .filter(|g| set.contains(&g.ent))
                        .map(|g| g.ent)
                        .collect()
                })
                .collect();
            let mut violated = false;
            'outer: for (i, a) in hits.iter().enumerate() {
                for b in hits.iter().skip(i + 1) {
                    if a.iter().any(|x| b.iter().any(|y| x != y)) {
                        violated = true;
                        break 'outer;
                    }
                }
            }
            if violated {
                let mut ents: Vec<EntId> = hits.into_iter().flatten().collect();
                ents.sort_by(|&a, &b| self.cmp_ents(a, b));
                ents.dedup();
                out.push(Violation { conflict: ci, ents });
            }
        }
        out
    }

    /// How a source is shown: `A > B`, or `exception "NAME"`.
    pub fn source_text(&self, s: &Source) -> String {
        self.source_str(s).to_string()
    }

    /// [`Plan::source_text`] without an allocation.
    pub fn source_str(&self, s: &Source) -> &str {
        match s.kind {
            SourceKind::Path(p) => self.path_text(p),
            SourceKind::Exception(x) => self.exception_labels.get(x).map_or("", String::as_str),
        }
    }

    /// The level name of a rank for an entitlement.
    pub fn level_name(&self, ent: EntId, level: Option<u8>) -> Option<&str> {
        self.bundle.level_name(self.ent(ent), level)
    }
}

fn sort_sources(plan: &Plan, sources: &mut Vec<Source>) {
    sources.sort_by_key(|s| plan.source_rank(&s.kind));
    sources.dedup_by(|a, b| a.kind == b.kind && a.level == b.level);
}
