//! `polc analyze --overlaps`: the pairs of policies that can apply to one person, each
//! with a witness, for review. Only the pairs the index lets through are solved; the
//! others are disjoint by their keys.

use super::policies::BundleAnalysis;
use super::solve::Outcome;
use super::Witness;
use crate::ir::PolicyId;

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
