//! Which policies can apply to one person together. Each policy gets *keys*: for each
//! text attribute that every case of its triggers pins to a finite set of values
//! (`department == "Sales"`, `job_title in [...]`), that set. Two policies with disjoint
//! sets on one attribute are disjoint without solving anything; an index on the
//! attribute that splits the policies best finds, for each policy, the few that are not.
//! On top of it, [`overlaps`] (`polc analyze --overlaps`): every pair of policies that can
//! apply to one person, solved, each with a witness, for review.

use rustc_hash::{FxHashMap, FxHashSet};

use super::atoms::AttrId;
use super::normal::{key_values, Analyzer, Dnf};
use super::policies::BundleAnalysis;
use super::solve::Outcome;
use super::Witness;
use crate::ir::{PolicyId, Value};

/// A policy's keys, by attribute (sorted), each a sorted set of values.
pub type Keys = Vec<(AttrId, Vec<Value>)>;

/// The index: its attribute, the policies by value, and the policies without that key.
pub type Index = (AttrId, FxHashMap<Value, Vec<PolicyId>>, Vec<PolicyId>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub a: PolicyId,
    pub b: PolicyId,
    pub witness: Witness,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlaps {
    /// In declaration order of `a`, then `b`.
    pub pairs: Vec<Overlap>,
    /// Pairs the procedure could not decide.
    pub unknown: Vec<(PolicyId, PolicyId)>,
    /// Pairs solved (the others were excluded by the index).
    pub examined: usize,
}

/// Every pair of policies (not templates) in force together on some day of the horizon
/// whose triggers, with the `require`s, can hold for one record.
pub fn overlaps(ba: &mut BundleAnalysis<'_>) -> Overlaps {
    let mut out = Overlaps::default();
    let ids: Vec<PolicyId> = ba.policies().collect();
    for a in ids {
        for b in ba.candidates(a) {
            if b <= a {
                continue;
            }
            let Some(range) = ba.window(&[a, b]) else {
                continue;
            };
            out.examined += 1;
            match ba.query(&[a, b], &[], range) {
                Outcome::Sat(m) => out.pairs.push(Overlap {
                    a,
                    b,
                    witness: ba.az.witness(&m),
                }),
                Outcome::Unsat(_) => {}
                Outcome::Unknown => out.unknown.push((a, b)),
            }
        }
    }
    out
}

impl BundleAnalysis<'_> {
    /// Whether the keys of two policies already exclude each other.
    pub fn disjoint(&self, a: PolicyId, b: PolicyId) -> bool {
        // Both are sorted by attribute: walk them together.
        let (mut ka, mut kb) = (
            self.keys(a).iter().peekable(),
            self.keys(b).iter().peekable(),
        );
        while let (Some((xa, va)), Some((xb, vb))) = (ka.peek(), kb.peek()) {
            match xa.cmp(xb) {
                std::cmp::Ordering::Less => {
                    ka.next();
                }
                std::cmp::Ordering::Greater => {
                    kb.next();
                }
                std::cmp::Ordering::Equal => {
                    if !va.iter().any(|v| vb.binary_search(v).is_ok()) {
                        return true;
                    }
                    ka.next();
                    kb.next();
                }
            }
        }
        false
    }

    /// A policy's keys.
    fn keys(&self, p: PolicyId) -> &[(AttrId, Vec<Value>)] {
        self.keys.get(p).map_or(&[], Vec::as_slice)
    }

    /// Indexes the policies on the key attribute that splits them best.
    pub(super) fn build_index(&mut self) {
        let n = self.keys.len();
        let mut by_attr: FxHashMap<AttrId, FxHashMap<&Value, usize>> = FxHashMap::default();
        let mut keyed: FxHashMap<AttrId, usize> = FxHashMap::default();
        for k in &self.keys {
            for (a, vs) in k {
                *keyed.entry(*a).or_default() += 1;
                for v in vs {
                    *by_attr.entry(*a).or_default().entry(v).or_default() += 1;
                }
            }
        }
        let cost = |a: &AttrId| {
            let buckets: usize = by_attr
                .get(a)
                .map_or(0, |m| m.values().map(|c| c * c).sum());
            buckets + (n - keyed.get(a).copied().unwrap_or(0)) * n
        };
        let Some(attr) = by_attr.keys().copied().min_by_key(|a| (cost(a), *a)) else {
            return;
        };
        let mut map: FxHashMap<Value, Vec<PolicyId>> = FxHashMap::default();
        let mut rest = Vec::new();
        for (p, k) in self.keys.iter_enumerated() {
            if self.bundle.policy(p).template {
                continue;
            }
            match k.iter().find(|(a, _)| *a == attr) {
                Some((_, vs)) => {
                    for v in vs {
                        map.entry(v.clone()).or_default().push(p);
                    }
                }
                None => rest.push(p),
            }
        }
        self.index = Some((attr, map, rest));
    }

    /// The other policies (not templates) that may apply to one person with `p`: those the
    /// keys do not exclude, in declaration order.
    pub fn candidates(&self, p: PolicyId) -> Vec<PolicyId> {
        let mut out: Vec<PolicyId> = match &self.index {
            Some((attr, map, rest)) => match self.keys(p).iter().find(|(a, _)| a == attr) {
                Some((_, vs)) => {
                    let mut v: Vec<PolicyId> = rest.clone();
                    for x in vs {
                        if let Some(list) = map.get(x) {
                            v.extend_from_slice(list);
                        }
                    }
                    v
                }
                None => self.policies().collect(),
            },
            None => self.policies().collect(),
        };
        out.sort_unstable();
        out.dedup();
        out.retain(|&q| q != p && !self.disjoint(p, q));
        out
    }
}

/// The keys of a policy whose triggers have the normal form `d`.
pub(super) fn keys_of(az: &Analyzer, d: &Dnf) -> Keys {
    let mut out: Option<FxHashMap<AttrId, Vec<Value>>> = None;
    for conj in d {
        let mut here: FxHashMap<AttrId, Vec<Value>> = FxHashMap::default();
        for &l in conj {
            if let Some((a, vs)) = key_values(az, l) {
                match here.entry(a) {
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(vs);
                    }
                    // Intersected through a set: a long `in [...]` list stays linear.
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        let set: FxHashSet<&Value> = vs.iter().collect();
                        e.get_mut().retain(|v| set.contains(v));
                    }
                }
            }
        }
        out = Some(match out {
            None => here,
            Some(mut prev) => {
                prev.retain(|a, vs| match here.get(a) {
                    Some(more) => {
                        vs.extend(more.iter().cloned());
                        true
                    }
                    None => false,
                });
                prev
            }
        });
    }
    let mut keys: Keys = out
        .unwrap_or_default()
        .into_iter()
        .map(|(a, mut vs)| {
            vs.sort();
            vs.dedup();
            (a, vs)
        })
        .collect();
    keys.sort_by_key(|(a, _)| *a);
    keys
}

#[cfg(test)]
mod long_list_tests {
    use super::*;

    /// Policies on `in` and `not in` lists of 100,000 values: `polc check` (W0102 and the
    /// other lints) and `analyze --overlaps` tried each member against each other list by a
    /// scan (60 s); both go through sets now.
    #[test]
    fn long_in_lists_are_checked_and_analysed_in_linear_time() {
        let n = 100_000;
        let items: Vec<String> = (0..n).map(|i| format!("\"d{i}\"")).collect();
        let list = items.join(", ");
        let src = format!(
            "import \"std/hris\"\nimport \"std/saas\"\n\
             policy \"A\" {{ when department in [{list}] grant slack:workspace-member }}\n\
             policy \"B\" {{ when department not in [{list}] grant zoom:account }}\n\
             policy \"C\" {{ when department in [{list}] and department in [{list}] grant okta:account }}\n"
        );
        let loaded = crate::db::Loaded::from_sources(&[("long.pol", &src)]);
        let checked = crate::check::check_bundle(&loaded.db, loaded.workspace);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let today = crate::dates::parse("2025-06-01").unwrap();
        let mut ba = BundleAnalysis::new(&checked.bundle, today);
        let found = overlaps(&mut ba);
        let names = |p: PolicyId| checked.bundle.policy(p).name.as_str();
        let mut pairs: Vec<(&str, &str)> = found
            .pairs
            .iter()
            .map(|o| (names(o.a), names(o.b)))
            .collect();
        pairs.sort();
        // A and C apply together; B never does with either.
        assert_eq!(pairs, [("A", "C")], "{found:?}");
    }
}
