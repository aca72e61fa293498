//! The evaluation plan: a checked bundle compiled once for one date and one record layout.
//! Entitlements are interned, each policy's inheritance closure (with its derivation paths)
//! is computed once, deny and conflict patterns are matched against every entitlement up
//! front, and triggers are indexed so that a user meets only the policies that can apply.

use std::sync::Arc;

use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};

use super::expr::CExpr;
use crate::index_vec::{self, IndexVec};
use crate::ir::{self, CmpOp, Duration, Expr, PolicyId, Value};

index_vec::define_id! {
    /// An entitlement the plan interned: its place in [`Plan::ents`] and [`Plan::ent_text`].
    pub struct EntId;
}
index_vec::define_id! {
    /// A derivation path of the plan: its place in [`Plan::paths`] and [`Plan::path_text`].
    pub struct PathId;
}
index_vec::define_id! {
    /// A deny of the plan (every policy's, in policy order): its place in [`Plan::denies`].
    pub struct DenyId;
}

/// How many derivation paths one applying policy may list before the plan keeps only the
/// first path to each policy it reaches (pathological diamonds would explode otherwise).
const MAX_PATHS_PER_ROOT: usize = 4096;

/// One grant reachable from an applying policy, with the path that reaches it.
#[derive(Debug, Clone)]
pub struct Contribution {
    pub ent: EntId,
    pub level: Option<u8>,
    pub path: PathId,
    /// The grace that applies when a mover loses this source (grant, type, system).
    pub grace: Option<Duration>,
}

/// What a policy brings when it applies: its closure's grants and denies, in force only.
#[derive(Debug, Clone, Default)]
pub struct Root {
    pub contributions: Vec<Contribution>,
    /// `(deny id, path to the policy holding the deny)`.
    pub denies: Vec<(DenyId, PathId)>,
}

pub struct Plan {
    pub bundle: Arc<ir::Bundle>,
    pub at: NaiveDate,
    pub fields: Vec<String>,
    pub requires: Vec<CExpr>,
    /// Per policy id: compiled `when` clauses.
    pub triggers: IndexVec<PolicyId, Vec<CExpr>>,
    /// Per policy id: `Some` when it is a policy (not a template) in force on `at`.
    pub roots: IndexVec<PolicyId, Option<Root>>,
    pub ents: IndexVec<EntId, ir::Entitlement>,
    pub ent_text: IndexVec<EntId, String>,
    ent_index: FxHashMap<ir::Entitlement, EntId>,
    /// Derivation paths as policy ids, root first, and their text `A > B > C`.
    pub paths: IndexVec<PathId, Vec<PolicyId>>,
    pub path_text: IndexVec<PathId, String>,
    /// Per deny id: the holder policy, the pattern, and the entitlements it matches.
    pub denies: IndexVec<DenyId, (PolicyId, ir::Pattern, FxHashSet<EntId>)>,
    /// Per conflict, per pattern: the entitlements it matches.
    pub conflicts: Vec<Vec<FxHashSet<EntId>>>,
    /// Per exception: its grants as `(entitlement, level)`.
    pub exception_grants: Vec<Vec<(EntId, Option<u8>)>>,
    pub exceptions_by_user: FxHashMap<String, Vec<usize>>,
    /// Per exception: how sources name it (`exception "NAME"`).
    pub exception_labels: Vec<String>,
    index: FxHashMap<(usize, Value), Vec<PolicyId>>,
    index_slots: Vec<usize>,
    unindexed: Vec<PolicyId>,
    /// Per entitlement interned while the plan was built: its place in the order of
    /// `ent_text` (later ones compare by text, see [`Plan::cmp_ents`]).
    ent_rank: IndexVec<EntId, u32>,
    /// Per policy id: its place in the order of names.
    policy_rank: IndexVec<PolicyId, u32>,
    /// Per path, then per exception: its place in the order of the texts that name
    /// sources (`A > B`, `exception "X"`); equal texts share a place.
    path_rank: IndexVec<PathId, u32>,
    exception_rank: Vec<u32>,
    /// Set once the patterns have been matched: later interned entitlements are matched as
    /// they come.
    matched: bool,
}

impl Plan {
    /// The entitlement of an id.
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "entitlement ids are handed out by this plan's interning, never removed"
    )]
    pub fn ent(&self, id: EntId) -> &ir::Entitlement {
        &self.ents[id]
    }

    /// The canonical text of an entitlement (`system:type:name`).
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "entitlement ids are handed out by this plan's interning, never removed"
    )]
    pub fn ent_text(&self, id: EntId) -> &str {
        &self.ent_text[id]
    }

    /// A derivation path: policy ids, the applying policy first.
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "path ids are handed out by this plan's interning, never removed"
    )]
    pub fn path(&self, id: PathId) -> &[PolicyId] {
        &self.paths[id]
    }

    /// The text of a derivation path (`A > B > C`).
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "path ids are handed out by this plan's interning, never removed"
    )]
    pub fn path_text(&self, id: PathId) -> &str {
        &self.path_text[id]
    }

    /// A deny: the policy holding it, its pattern, and the entitlements it matches.
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "deny ids are handed out when the plan is built, one per deny of the bundle"
    )]
    pub fn deny(&self, id: DenyId) -> &(PolicyId, ir::Pattern, FxHashSet<EntId>) {
        &self.denies[id]
    }

    /// Compiles `bundle` for records whose columns are `fields`, evaluated on `at`.
    pub fn new(bundle: Arc<ir::Bundle>, fields: &[String], at: NaiveDate) -> Plan {
        let slot_of: FxHashMap<&str, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), i))
            .collect();
        let slot = |a: &str| slot_of.get(a).copied();
        let b = &*bundle;
        let mut plan = Plan {
            bundle: bundle.clone(),
            at,
            fields: fields.to_vec(),
            requires: b
                .requires
                .iter()
                .map(|e| CExpr::compile(e, &slot))
                .collect(),
            triggers: b
                .policies
                .iter()
                .map(|p| {
                    p.triggers
                        .iter()
                        .map(|e| CExpr::compile(e, &slot))
                        .collect()
                })
                .collect(),
            roots: IndexVec::new(),
            ents: IndexVec::new(),
            ent_text: IndexVec::new(),
            ent_index: FxHashMap::default(),
            paths: IndexVec::new(),
            path_text: IndexVec::new(),
            denies: IndexVec::new(),
            conflicts: Vec::new(),
            exception_grants: Vec::new(),
            exceptions_by_user: FxHashMap::default(),
            exception_labels: b.exceptions.iter().map(|e| e.source_label()).collect(),
            index: FxHashMap::default(),
            index_slots: Vec::new(),
            unindexed: Vec::new(),
            ent_rank: IndexVec::new(),
            policy_rank: IndexVec::new(),
            path_rank: IndexVec::new(),
            exception_rank: Vec::new(),
            matched: false,
        };
        // Deny ids, in policy order.
        let deny_ids: IndexVec<PolicyId, Vec<DenyId>> = b
            .policies
            .iter_enumerated()
            .map(|(pid, p)| {
                p.denies
                    .iter()
                    .map(|d| plan.denies.push((pid, d.clone(), FxHashSet::default())))
                    .collect()
            })
            .collect();
        let in_force: IndexVec<PolicyId, bool> =
            b.policies.iter().map(|p| p.in_force(at)).collect();
        let mut roots = IndexVec::with_capacity(b.policies.len());
        for ((pid, p), &live) in b.policies.iter_enumerated().zip(&in_force) {
            if p.template || !live {
                roots.push(None);
                continue;
            }
            roots.push(Some(plan.root(pid, &in_force, &deny_ids)));
        }
        plan.roots = roots;
        for (i, e) in b.exceptions.iter().enumerate() {
            let grants = e
                .grants
                .iter()
                .map(|g| (plan.intern(&g.entitlement), g.level))
                .collect();
            plan.exception_grants.push(grants);
            plan.exceptions_by_user
                .entry(e.user.clone())
                .or_default()
                .push(i);
        }
        for t in &b.tests {
            for g in &t.expect_grants {
                plan.intern(&g.entitlement);
            }
        }
        plan.match_patterns();
        plan.build_index(&slot);
        plan.rank();
        plan
    }

    /// The sort orders evaluation needs, as integers: sorting a user's grants, policies and
    /// sources then compares numbers, not texts.
    fn rank(&mut self) {
        self.ent_rank = ranks(self.ent_text.iter().map(String::as_str)).into();
        self.policy_rank = ranks(self.bundle.policies.iter().map(|p| p.name.as_str())).into();
        let texts = self.path_text.iter().chain(&self.exception_labels);
        let mut all = ranks(texts.map(String::as_str));
        self.exception_rank = all.split_off(self.path_text.len());
        self.path_rank = all.into();
    }

    /// Entitlements in the order of their texts.
    #[inline]
    pub fn cmp_ents(&self, a: EntId, b: EntId) -> std::cmp::Ordering {
        match (self.ent_rank.get(a), self.ent_rank.get(b)) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => self.ent_text(a).cmp(self.ent_text(b)),
        }
    }

    /// Policies in the order of their names.
    #[inline]
    pub fn cmp_policies(&self, a: PolicyId, b: PolicyId) -> std::cmp::Ordering {
        // Every policy has its place (`rank` runs when the plan is built).
        self.policy_rank.get(a).cmp(&self.policy_rank.get(b))
    }

    /// A source's place in the order of the texts that name sources.
    #[inline]
    pub fn source_rank(&self, kind: &super::SourceKind) -> u32 {
        // Every path and exception has its place (`rank` runs when the plan is built).
        let place = match *kind {
            super::SourceKind::Path(p) => self.path_rank.get(p),
            super::SourceKind::Exception(x) => self.exception_rank.get(x),
        };
        place.copied().unwrap_or(u32::MAX)
    }

    /// The id of an entitlement, interning it (and matching it against the patterns when
    /// the plan is already built).
    pub fn intern(&mut self, e: &ir::Entitlement) -> EntId {
        if let Some(&id) = self.ent_index.get(e) {
            return id;
        }
        // `ents` and `ent_text` grow together: the id is the same in both.
        self.ent_text.push(self.bundle.entitlement_text(e));
        let id = self.ents.push(e.clone());
        self.ent_index.insert(e.clone(), id);
        if self.matched {
            self.match_one(id);
        }
        id
    }

    pub fn ent_id(&self, e: &ir::Entitlement) -> Option<EntId> {
        self.ent_index.get(e).copied()
    }

    fn intern_path(&mut self, path: Vec<PolicyId>) -> PathId {
        let text = path
            .iter()
            .map(|&p| self.bundle.policy(p).name.as_str())
            .collect::<Vec<_>>()
            .join(" > ");
        // `paths` and `path_text` grow together: the id is the same in both.
        self.path_text.push(text);
        self.paths.push(path)
    }

    /// Every derivation path from `root` through policies in force, and what each brings.
    fn root(
        &mut self,
        root: PolicyId,
        in_force: &IndexVec<PolicyId, bool>,
        deny_ids: &IndexVec<PolicyId, Vec<DenyId>>,
    ) -> Root {
        let bundle = self.bundle.clone();
        let mut out = Root::default();
        let mut stack: Vec<Vec<PolicyId>> = vec![vec![root]];
        let mut count = 0usize;
        let mut visited: FxHashSet<PolicyId> = FxHashSet::default();
        while let Some(path) = stack.pop() {
            let node = *path.last().expect("paths are never empty");
            count += 1;
            // Past the limit, each policy is reached once (its grants are the same anyway).
            if count > MAX_PATHS_PER_ROOT && !visited.insert(node) {
                continue;
            }
            visited.insert(node);
            let p = &bundle.policy(node);
            let children: Vec<PolicyId> = p
                .inherits
                .iter()
                .rev()
                .copied()
                .filter(|&w| in_force.get(w) == Some(&true) && !path.contains(&w))
                .collect();
            let pid = self.intern_path(path.clone());
            for g in &p.grants {
                let ent = self.intern(&g.entitlement);
                out.contributions.push(Contribution {
                    ent,
                    level: g.level,
                    path: pid,
                    grace: bundle.grace_of(g),
                });
            }
            for &d in deny_ids.get(node).into_iter().flatten() {
                out.denies.push((d, pid));
            }
            for w in children {
                let mut next = path.clone();
                next.push(w);
                stack.push(next);
            }
        }
        out
    }

    fn match_one(&mut self, id: EntId) {
        let Some(e) = self.ents.get(id) else {
            return; // ids come from `intern`: always there
        };
        for d in &mut self.denies {
            if self.bundle.pattern_matches(&d.1, e) {
                d.2.insert(id);
            }
        }
        // `conflicts` is parallel to the bundle's, each with a set per pattern.
        for (c, sets) in self.bundle.conflicts.iter().zip(&mut self.conflicts) {
            for (p, set) in c.patterns.iter().zip(sets) {
                if self.bundle.pattern_matches(p, e) {
                    set.insert(id);
                }
            }
        }
    }

    fn match_patterns(&mut self) {
        self.conflicts = self
            .bundle
            .conflicts
            .iter()
            .map(|c| vec![FxHashSet::default(); c.patterns.len()])
            .collect();
        for id in self.ents.indices() {
            self.match_one(id);
        }
        self.matched = true;
    }

    /// Indexes each policy under one `attribute == literal` (or `in [literals]`) conjunct of
    /// its triggers; the others are tried for every user.
    fn build_index(&mut self, slot: &dyn Fn(&str) -> Option<usize>) {
        let b = self.bundle.clone();
        let mut slots: FxHashSet<usize> = FxHashSet::default();
        for ((pid, p), root) in b.policies.iter_enumerated().zip(&self.roots) {
            if root.is_none() {
                continue;
            }
            // Untyped records may hold `5` where a trigger says "5": no exact-match index then.
            let key = if b.schema.is_some() {
                conjuncts(&p.triggers)
                    .into_iter()
                    .find_map(|e| index_key(e, slot))
            } else {
                None
            };
            match key {
                Some((s, values)) => {
                    slots.insert(s);
                    for v in values {
                        let list = self.index.entry((s, v)).or_default();
                        if list.last() != Some(&pid) {
                            list.push(pid);
                        }
                    }
                }
                None => self.unindexed.push(pid),
            }
        }
        self.index_slots = slots.into_iter().collect();
        self.index_slots.sort_unstable();
    }

    /// The policies that may apply to a record: indexed candidates and the unindexed rest,
    /// in policy order.
    pub fn candidates(&self, values: &[Option<Value>]) -> Vec<PolicyId> {
        let mut out = self.unindexed.clone();
        for &s in &self.index_slots {
            if let Some(Some(v)) = values.get(s) {
                if let Some(list) = self.index.get(&(s, v.clone())) {
                    out.extend_from_slice(list);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Each text's place in the sorted order of all of them; equal texts share a place.
fn ranks<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<u32> {
    // Each text with its position, sorted by text (stable: equal texts keep their order).
    let mut order: Vec<(&str, usize)> = texts.enumerate().map(|(i, t)| (t, i)).collect();
    order.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = vec![0; order.len()];
    let mut place = 0u32;
    let mut previous: Option<&str> = None;
    for (i, &(text, at)) in order.iter().enumerate() {
        if previous.is_some_and(|p| p != text) {
            place = i as u32;
        }
        previous = Some(text);
        if let Some(o) = out.get_mut(at) {
            *o = place;
        }
    }
    out
}

fn conjuncts(triggers: &[Expr]) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack: Vec<&Expr> = triggers.iter().rev().collect();
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(items) => stack.extend(items.iter().rev()),
            other => out.push(other),
        }
    }
    out
}

/// `attr == "x"` / `"x" == attr` / `attr in ["x", "y"]` on a record column: the slot and
/// the values a record must hold for the conjunct to be true. Only text values are
/// indexed: records compare them exactly (numbers and dates may be written as text in
/// untyped records, which an exact lookup would miss).
fn index_key(e: &Expr, slot: &dyn Fn(&str) -> Option<usize>) -> Option<(usize, Vec<Value>)> {
    match e {
        Expr::Cmp(CmpOp::Eq, a, b) => match (&**a, &**b) {
            (Expr::Attr(a), Expr::Lit(v @ Value::Str(_)))
            | (Expr::Lit(v @ Value::Str(_)), Expr::Attr(a)) => Some((slot(a)?, vec![v.clone()])),
            _ => None,
        },
        Expr::In {
            lhs,
            rhs,
            negated: false,
        } => match (&**lhs, &**rhs) {
            (Expr::Attr(a), Expr::Lit(Value::List(vs)))
                if vs.iter().all(|v| matches!(v, Value::Str(_))) =>
            {
                Some((slot(a)?, vs.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}
