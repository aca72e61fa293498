//! Drift (docs/commands.md, `drift`): current access held against policy alone. Each current entry is
//! exactly one of covered, level_mismatch, excepted or excess; `missing` are the
//! policy-expected entitlements the user does not hold at all. Exceptions are not expected
//! access: they only excuse it, and a deny that applies to the user voids them.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::access::{Access, AccessEntry};
use crate::eval::{EntId, Evaluation, Plan, SourceKind};
use crate::input::Users;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Covered {
        ent: EntId,
        level: Option<u8>,
    },
    /// `sources`: the policy paths that expect it.
    LevelMismatch {
        ent: EntId,
        current: Option<u8>,
        expected: Option<u8>,
        sources: Vec<String>,
    },
    Excepted {
        ent: EntId,
        level: Option<u8>,
        exception: usize,
    },
    Excess {
        ent: EntId,
        level: Option<u8>,
    },
    Missing {
        ent: EntId,
        level: Option<u8>,
        sources: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct UserDrift {
    pub user_id: String,
    /// In no HRIS record: every entry is excess.
    pub orphaned: bool,
    pub findings: Vec<Finding>,
}

impl UserDrift {
    pub fn has_findings(&self) -> bool {
        self.findings
            .iter()
            .any(|f| !matches!(f, Finding::Covered { .. }))
    }
}

/// Declared in alphabetical order: the JSON report lists keys sorted.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub coverage_percent: f64,
    pub covered: usize,
    pub current_entries: usize,
    pub excepted: usize,
    pub excess: usize,
    pub level_mismatch: usize,
    pub missing: usize,
    pub orphaned_users: usize,
    pub users: usize,
}

impl Summary {
    /// Whether anything should fail a CI job: excess, missing or a level mismatch.
    pub fn has_drift(&self) -> bool {
        self.excess + self.missing + self.level_mismatch > 0
    }
}

#[derive(Debug, Clone)]
pub struct DriftReport {
    pub as_of: chrono::NaiveDate,
    pub summary: Summary,
    /// Users file order, then users only in the access export (orphaned), in its order.
    pub users: Vec<UserDrift>,
}

impl DriftReport {
    /// Whether anything should fail a CI job: excess, missing or a level mismatch.
    pub fn has_drift(&self) -> bool {
        self.summary.has_drift()
    }
}

/// `covered / entries × 100`, rounded half up to one decimal; 100.0 with no entries.
pub fn coverage_percent(covered: usize, entries: usize) -> f64 {
    if entries == 0 {
        return 100.0;
    }
    let tenths = (2 * covered as u128 * 1000 + entries as u128) / (2 * entries as u128);
    tenths as f64 / 10.0
}

/// Policy-expected levels (sources that are policy paths only) and the exceptions that
/// excuse an entitlement (in force, not denied).
pub fn expected(e: &Evaluation) -> (FxHashMap<EntId, Option<u8>>, FxHashMap<EntId, usize>) {
    let mut exp: FxHashMap<EntId, Option<u8>> = FxHashMap::default();
    let mut excused = FxHashMap::default();
    for g in &e.grants {
        let mut level: Option<Option<u8>> = None;
        for s in &g.sources {
            match s.kind {
                SourceKind::Path(_) => level = Some(level.map_or(s.level, |l| l.max(s.level))),
                SourceKind::Exception(x) => {
                    excused.entry(g.ent).or_insert(x);
                }
            }
        }
        if let Some(l) = level {
            exp.insert(g.ent, l);
        }
    }
    (exp, excused)
}

fn policy_sources(plan: &Plan, e: &Evaluation, ent: EntId) -> Vec<String> {
    e.grant(ent)
        .map(|g| {
            g.sources
                .iter()
                .filter(|s| matches!(s.kind, SourceKind::Path(_)))
                .map(|s| plan.source_text(s))
                .collect()
        })
        .unwrap_or_default()
}

fn classify(plan: &Plan, e: &Evaluation, held: &[&AccessEntry]) -> Vec<Finding> {
    let (exp, excused) = expected(e);
    let mut out = Vec::with_capacity(held.len() + exp.len());
    for a in held {
        out.push(match exp.get(&a.ent) {
            Some(&l) if l == a.level => Finding::Covered {
                ent: a.ent,
                level: a.level,
            },
            Some(&l) => Finding::LevelMismatch {
                ent: a.ent,
                current: a.level,
                expected: l,
                sources: policy_sources(plan, e, a.ent),
            },
            None => match excused.get(&a.ent) {
                Some(&x) => Finding::Excepted {
                    ent: a.ent,
                    level: a.level,
                    exception: x,
                },
                None => Finding::Excess {
                    ent: a.ent,
                    level: a.level,
                },
            },
        });
    }
    let held_set: rustc_hash::FxHashSet<EntId> = held.iter().map(|a| a.ent).collect();
    let mut missing: Vec<(EntId, Option<u8>)> = exp
        .iter()
        .filter(|(ent, _)| !held_set.contains(*ent))
        .map(|(e, l)| (*e, *l))
        .collect();
    missing.sort_by(|a, b| plan.cmp_ents(a.0, b.0));
    out.extend(missing.into_iter().map(|(ent, level)| Finding::Missing {
        ent,
        level,
        sources: policy_sources(plan, e, ent),
    }));
    out
}

/// Compares expected with current access for every user of both files.
pub fn drift(plan: &Plan, users: &Users, access: &Access) -> DriftReport {
    let mut report = DriftReport {
        as_of: plan.at,
        summary: Summary::default(),
        users: Vec::new(),
    };
    each_user(plan, users, access, |u| {
        count(&mut report.summary, &u);
        report.users.push(u);
    });
    finish(&mut report.summary);
    report
}

/// [`drift`]'s summary alone, without keeping every user's findings.
pub fn summary(plan: &Plan, users: &Users, access: &Access) -> Summary {
    let mut s = Summary::default();
    each_user(plan, users, access, |u| count(&mut s, &u));
    finish(&mut s);
    s
}

/// Each user's drift, one at a time (nothing kept): the users file's users in order, then
/// the export's orphans in its order. Streaming outputs call it after [`summary`].
pub fn for_each_user(plan: &Plan, users: &Users, access: &Access, f: impl FnMut(UserDrift)) {
    each_user(plan, users, access, f)
}

/// [`for_each_user`], counting the [`summary`] on the way: one pass for both.
pub fn each_user_counted(
    plan: &Plan,
    users: &Users,
    access: &Access,
    mut f: impl FnMut(&UserDrift),
) -> Summary {
    let mut s = Summary::default();
    each_user(plan, users, access, |u| {
        count(&mut s, &u);
        f(&u);
    });
    finish(&mut s);
    s
}

fn each_user(plan: &Plan, users: &Users, access: &Access, mut f: impl FnMut(UserDrift)) {
    let mut known: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    for rec in &users.records {
        known.insert(rec.id.as_str());
        let e = plan.evaluate(&rec.id, &rec.values);
        let held = access.held_by(&rec.id);
        f(UserDrift {
            user_id: rec.id.clone(),
            orphaned: false,
            findings: classify(plan, &e, &held),
        });
    }
    // Records that failed to load are reported as errors, not as orphans.
    for err in &users.errors {
        if let Some(id) = &err.user_id {
            known.insert(id.as_str());
        }
    }
    for (i, u) in access.users.iter().enumerate() {
        if known.contains(u.as_str()) {
            continue;
        }
        let findings = access
            .held(i as u32)
            .map(|a| Finding::Excess {
                ent: a.ent,
                level: a.level,
            })
            .collect();
        f(UserDrift {
            user_id: u.clone(),
            orphaned: true,
            findings,
        });
    }
}

fn count(s: &mut Summary, u: &UserDrift) {
    s.users += 1;
    s.orphaned_users += usize::from(u.orphaned);
    for f in &u.findings {
        match f {
            Finding::Covered { .. } => s.covered += 1,
            Finding::LevelMismatch { .. } => s.level_mismatch += 1,
            Finding::Excepted { .. } => s.excepted += 1,
            Finding::Excess { .. } => s.excess += 1,
            Finding::Missing { .. } => s.missing += 1,
        }
    }
}

fn finish(s: &mut Summary) {
    s.current_entries = s.covered + s.level_mismatch + s.excepted + s.excess;
    s.coverage_percent = coverage_percent(s.covered, s.current_entries);
}

#[cfg(test)]
mod tests {
    use super::coverage_percent;

    #[test]
    fn coverage_rounds_half_up_to_one_decimal() {
        assert_eq!(coverage_percent(43, 51), 84.3);
        assert_eq!(coverage_percent(0, 0), 100.0);
        assert_eq!(coverage_percent(1, 8), 12.5);
        assert_eq!(coverage_percent(1, 16), 6.3); // 6.25 → 6.3
        assert_eq!(coverage_percent(2, 3), 66.7);
    }
}
