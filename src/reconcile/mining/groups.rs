//! Mining (docs/commands.md, `mine`): the access patterns of groups of users, as the first step from
//! an access export to policy. Users are grouped by the values of one or more attributes;
//! for each group and each entitlement any member holds, the share of members holding it
//! (at any level) sorts it into `baseline`, `candidates`, `review` or `outliers`.
//!
//! Pure functions over plain data: the command (`cli/src/mine.rs`) loads the files, and
//! [`super::emit`] turns the result into Pol.

#![allow(
    clippy::indexing_slicing,
    reason = "user, entry, group and plan ids index the tables built with them; to become typed vectors"
)]

use std::cmp::Ordering;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::ir::Value;

/// Where a share falls. A share is compared with each threshold in turn: at or above
/// `baseline` is baseline, else at or above `candidate` a candidate, else at or above
/// `review` to review, else an outlier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub baseline: f64,
    pub candidate: f64,
    pub review: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            baseline: 1.0,
            candidate: 0.9,
            review: 0.5,
        }
    }
}

/// Thresholds the user gave that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("{name} {value}: a threshold is a share of the members, above 0 and at most 1")]
    OutOfRange { name: &'static str, value: f64 },
    #[error(
        "thresholds out of order: need --review ({review}) <= --candidate ({candidate}) <= --baseline ({baseline})"
    )]
    OutOfOrder {
        review: f64,
        candidate: f64,
        baseline: f64,
    },
}

impl Thresholds {
    /// `0 < review <= candidate <= baseline <= 1`.
    pub fn validate(&self) -> Result<(), ThresholdError> {
        let ok = |x: f64| x.is_finite() && x > 0.0 && x <= 1.0;
        for (name, value) in [
            ("--baseline", self.baseline),
            ("--candidate", self.candidate),
            ("--review", self.review),
        ] {
            if !ok(value) {
                return Err(ThresholdError::OutOfRange { name, value });
            }
        }
        if !(self.review <= self.candidate && self.candidate <= self.baseline) {
            return Err(ThresholdError::OutOfOrder {
                review: self.review,
                candidate: self.candidate,
                baseline: self.baseline,
            });
        }
        Ok(())
    }

    /// Whether `holders` of `members` reach the share `t` (exactly, without float noise:
    /// 9 of 10 reach 0.9).
    fn reaches(holders: usize, members: usize, t: f64) -> bool {
        holders as f64 + 1e-9 >= t * members as f64
    }

    pub fn bucket(&self, holders: usize, members: usize) -> Bucket {
        if Self::reaches(holders, members, self.baseline) {
            Bucket::Baseline
        } else if Self::reaches(holders, members, self.candidate) {
            Bucket::Candidate
        } else if Self::reaches(holders, members, self.review) {
            Bucket::Review
        } else {
            Bucket::Outlier
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Baseline,
    Candidate,
    Review,
    Outlier,
}

/// A level as held: its rank among its type's levels (lowest 0) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level {
    pub rank: u8,
    /// Shared: a large export holds the same few level names millions of times.
    pub name: Arc<str>,
}

/// One entitlement a user holds: its canonical text and level (`None`: a type without
/// levels). A user holds each entitlement once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Shared with every holder of the entitlement.
    pub grant: Arc<str>,
    pub level: Option<Level>,
}

/// The values of the `--by` attributes that define a group; `None`: the attribute is absent.
pub type GroupKey = Vec<Option<Value>>;

/// The users who share a [`GroupKey`], in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: GroupKey,
    pub members: Vec<String>,
}

/// Orders keys value by value, an absent value after every present one.
pub fn cmp_keys(a: &GroupKey, b: &GroupKey) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Groups users by key: groups sorted by key ([`cmp_keys`]), members in input order.
pub fn group_users<'a>(users: impl IntoIterator<Item = (&'a str, GroupKey)>) -> Vec<Group> {
    let mut index: FxHashMap<GroupKey, usize> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for (id, key) in users {
        match index.get(&key) {
            Some(&i) => groups[i].members.push(id.to_string()),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    key,
                    members: vec![id.to_string()],
                });
            }
        }
    }
    groups.sort_by(|a, b| cmp_keys(&a.key, &b.key));
    groups
}

/// One entitlement in one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Canonical text `system:type[:name]`.
    pub grant: String,
    /// The level most holders hold (a tie goes to the lowest: least privilege); `None` for
    /// a type without levels.
    pub level: Option<Level>,
    /// When the holders do not all hold the same level: each level and how many hold it,
    /// lowest first. Empty when every holder holds `level`.
    pub levels: Vec<(Level, usize)>,
    /// The members holding it (at any level), in member order.
    pub holders: Vec<String>,
    /// Baseline and candidates: the members not holding it, in member order (empty in the
    /// other buckets, where it would be most of the group).
    pub lacking: Vec<String>,
    /// `holders / members`, unrounded.
    pub share: f64,
}

impl Share {
    /// The levels its holders hold, as reported: `reporter 3, maintainer 1`.
    pub fn levels_held(&self) -> String {
        let ls: Vec<String> = self
            .levels
            .iter()
            .map(|(l, n)| format!("{} {n}", l.name))
            .collect();
        ls.join(", ")
    }
}

/// What one group holds, sorted by share into the four buckets; each bucket sorted by
/// grant text.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    pub key: GroupKey,
    pub members: Vec<String>,
    pub baseline: Vec<Share>,
    pub candidates: Vec<Share>,
    pub review: Vec<Share>,
    pub outliers: Vec<Share>,
    /// Members who hold nothing at all, in member order.
    pub without_access: Vec<String>,
}

impl GroupReport {
    /// What a draft policy for the group grants: baseline, then candidates.
    pub fn granted(&self) -> impl Iterator<Item = &Share> {
        self.baseline.iter().chain(&self.candidates)
    }
}

/// The shares of one group. `held(user)` is what a user holds (each entitlement once).
pub fn analyse<'h>(
    group: &Group,
    held: impl Fn(&str) -> &'h [Holding],
    t: &Thresholds,
) -> GroupReport {
    struct Acc {
        holders: Vec<usize>,
        levels: Vec<(Option<Level>, usize)>,
    }
    let mut by_grant: FxHashMap<&'h str, Acc> = FxHashMap::default();
    let mut without_access = Vec::new();
    for (m, user) in group.members.iter().enumerate() {
        let holdings = held(user);
        if holdings.is_empty() {
            without_access.push(user.clone());
        }
        for h in holdings {
            let acc = by_grant.entry(&*h.grant).or_insert_with(|| Acc {
                holders: Vec::new(),
                levels: Vec::new(),
            });
            // Each entitlement once per user: a repeat is ignored.
            if acc.holders.last() == Some(&m) {
                continue;
            }
            acc.holders.push(m);
            match acc.levels.iter_mut().find(|(l, _)| *l == h.level) {
                Some((_, n)) => *n += 1,
                None => acc.levels.push((h.level.clone(), 1)),
            }
        }
    }
    let n = group.members.len();
    let mut report = GroupReport {
        key: group.key.clone(),
        members: group.members.clone(),
        baseline: Vec::new(),
        candidates: Vec::new(),
        review: Vec::new(),
        outliers: Vec::new(),
        without_access,
    };
    let mut grants: Vec<(&str, Acc)> = by_grant.into_iter().collect();
    grants.sort_by(|a, b| a.0.cmp(b.0));
    for (grant, mut acc) in grants {
        // Lowest level first; the most common wins, the lowest of equals (stable sort).
        acc.levels.sort_by(|a, b| a.0.cmp(&b.0));
        let top = acc
            .levels
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| a.1.cmp(&b.1).then(j.cmp(i)))
            .map(|(_, (l, _))| l.clone())
            .unwrap_or(None);
        let levels = if acc.levels.len() > 1 {
            acc.levels
                .iter()
                .filter_map(|(l, c)| l.clone().map(|l| (l, *c)))
                .collect()
        } else {
            Vec::new()
        };
        let bucket = t.bucket(acc.holders.len(), n);
        // Who lacks it, only where that is a short list (granted to all, held by most).
        let lacking = if matches!(bucket, Bucket::Baseline | Bucket::Candidate) {
            let mut is_holder = vec![false; n];
            for &m in &acc.holders {
                is_holder[m] = true;
            }
            (0..n)
                .filter(|&m| !is_holder[m])
                .map(|m| group.members[m].clone())
                .collect()
        } else {
            Vec::new()
        };
        let share = Share {
            grant: grant.to_string(),
            level: top,
            levels,
            holders: acc
                .holders
                .iter()
                .map(|&m| group.members[m].clone())
                .collect(),
            lacking,
            share: acc.holders.len() as f64 / n as f64,
        };
        match bucket {
            Bucket::Baseline => report.baseline.push(share),
            Bucket::Candidate => report.candidates.push(share),
            Bucket::Review => report.review.push(share),
            Bucket::Outlier => report.outliers.push(share),
        }
    }
    report
}

/// The access every group has in its baseline, at the same level, sorted by grant text;
/// empty with fewer than two groups (a template shared by one policy factors nothing).
pub fn common(groups: &[GroupReport]) -> Vec<(String, Option<Level>)> {
    let Some((first, rest)) = groups.split_first() else {
        return Vec::new();
    };
    if rest.is_empty() {
        return Vec::new();
    }
    first
        .baseline
        .iter()
        .filter(|s| {
            rest.iter().all(|g| {
                g.baseline
                    .iter()
                    .any(|o| o.grant == s.grant && o.level == s.level)
            })
        })
        .map(|s| (s.grant.clone(), s.level.clone()))
        .collect()
}

/// A share rounded to 3 decimals, as reported.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// How a group value reads in reports and names: a string as itself, other values as Pol
/// writes them, an absent value as `(none)`.
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        None => "(none)".to_string(),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(rank: u8, name: &str) -> Option<Level> {
        Some(Level {
            rank,
            name: name.into(),
        })
    }

    fn h(grant: &str, level: Option<Level>) -> Holding {
        Holding {
            grant: grant.into(),
            level,
        }
    }

    fn key(v: &str) -> GroupKey {
        vec![Some(Value::Str(v.into()))]
    }

    fn grants(v: &[Share]) -> Vec<&str> {
        v.iter().map(|s| s.grant.as_str()).collect()
    }

    #[test]
    fn groups_sorted_by_value_with_the_absent_last_and_members_in_input_order() {
        let g = group_users([
            ("u1", key("Sales")),
            ("u2", vec![None]),
            ("u3", key("Engineering")),
            ("u4", key("Sales")),
        ]);
        let keys: Vec<String> = g.iter().map(|g| value_text(g.key[0].as_ref())).collect();
        assert_eq!(keys, ["Engineering", "Sales", "(none)"]);
        assert_eq!(g[1].members, ["u1", "u4"]);
        assert_eq!(g[2].members, ["u2"]);
    }

    #[test]
    fn groups_by_several_attributes_and_ints_sort_as_numbers() {
        let k = |d: &str, n: i64| vec![Some(Value::Str(d.into())), Some(Value::Int(n))];
        let g = group_users([
            ("a", k("Sales", 10)),
            ("b", k("Sales", 9)),
            ("c", k("Eng", 10)),
            ("d", k("Sales", 10)),
            ("e", vec![Some(Value::Str("Sales".into())), None]),
        ]);
        let keys: Vec<Vec<String>> = g
            .iter()
            .map(|g| g.key.iter().map(|v| value_text(v.as_ref())).collect())
            .collect();
        assert_eq!(
            keys,
            [
                vec!["Eng", "10"],
                vec!["Sales", "9"],
                vec!["Sales", "10"],
                vec!["Sales", "(none)"]
            ]
        );
        assert_eq!(g[2].members, ["a", "d"]);
    }

    #[test]
    fn thresholds_are_inclusive_and_exact() {
        let t = Thresholds::default();
        assert_eq!(t.bucket(10, 10), Bucket::Baseline);
        assert_eq!(t.bucket(9, 10), Bucket::Candidate); // exactly 90%
        assert_eq!(t.bucket(89, 100), Bucket::Review);
        assert_eq!(t.bucket(5, 10), Bucket::Review); // exactly 50%
        assert_eq!(t.bucket(49, 100), Bucket::Outlier);
        assert_eq!(t.bucket(1, 3), Bucket::Outlier);
        let loose = Thresholds {
            baseline: 0.8,
            candidate: 0.6,
            review: 0.3,
        };
        assert_eq!(loose.bucket(4, 5), Bucket::Baseline);
        assert_eq!(loose.bucket(3, 5), Bucket::Candidate);
        assert_eq!(loose.bucket(1, 3), Bucket::Review);
    }

    #[test]
    fn thresholds_validate() {
        assert!(Thresholds::default().validate().is_ok());
        let bad = |b, c, r| {
            Thresholds {
                baseline: b,
                candidate: c,
                review: r,
            }
            .validate()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(1.0, 0.4, 0.5).contains("out of order"));
        assert!(bad(1.5, 0.9, 0.5).contains("--baseline 1.5"));
        assert!(bad(1.0, 0.9, 0.0).contains("--review 0"));
        assert!(bad(1.0, f64::NAN, 0.5).contains("--candidate"));
    }

    #[test]
    fn shares_buckets_holders_and_levels() {
        let members: Vec<String> = (1..=10).map(|i| format!("u{i}")).collect();
        let group = Group {
            key: key("Sales"),
            members: members.clone(),
        };
        let mut held: FxHashMap<String, Vec<Holding>> = FxHashMap::default();
        for (i, m) in members.iter().enumerate() {
            let mut v = vec![h("google:workspace-account", None)];
            if i < 9 {
                v.push(h("slack:channel:#sales", lvl(1, "member")));
            }
            if i < 6 {
                let l = if i < 4 {
                    lvl(1, "reporter")
                } else {
                    lvl(2, "developer")
                };
                v.push(h("gitlab:group:sales", l));
            }
            if i == 9 {
                v.push(h("gitlab:group:finance", lvl(2, "developer")));
            }
            held.insert(m.clone(), v);
        }
        let empty: Vec<Holding> = Vec::new();
        let r = analyse(
            &group,
            |u| held.get(u).map_or(empty.as_slice(), Vec::as_slice),
            &Thresholds::default(),
        );
        assert_eq!(grants(&r.baseline), ["google:workspace-account"]);
        assert_eq!(r.baseline[0].share, 1.0);
        assert_eq!(r.baseline[0].level, None);
        assert_eq!(grants(&r.candidates), ["slack:channel:#sales"]);
        assert_eq!(r.candidates[0].lacking, ["u10"]);
        assert_eq!(r.candidates[0].share, 0.9);
        assert!(r.candidates[0].levels.is_empty());
        assert_eq!(grants(&r.review), ["gitlab:group:sales"]);
        let sales = &r.review[0];
        assert_eq!(sales.level, lvl(1, "reporter")); // 4 reporters, 2 developers
        assert_eq!(
            sales.levels,
            [
                (lvl(1, "reporter").unwrap(), 4),
                (lvl(2, "developer").unwrap(), 2)
            ]
        );
        assert_eq!(round3(sales.share), 0.6);
        assert_eq!(grants(&r.outliers), ["gitlab:group:finance"]);
        assert_eq!(r.outliers[0].holders, ["u10"]);
        assert!(r.without_access.is_empty());
    }

    #[test]
    fn a_level_tie_goes_to_the_lowest_and_members_without_access_count() {
        let group = Group {
            key: key("SE"),
            members: vec!["a".into(), "b".into(), "c".into()],
        };
        let a = [h("gitlab:group:cs", lvl(2, "developer"))];
        let b = [h("gitlab:group:cs", lvl(1, "reporter"))];
        let r = analyse(
            &group,
            |u| match u {
                "a" => &a[..],
                "b" => &b[..],
                _ => &[],
            },
            &Thresholds::default(),
        );
        assert_eq!(r.without_access, ["c"]);
        assert_eq!(grants(&r.review), ["gitlab:group:cs"]);
        assert_eq!(r.review[0].level, lvl(1, "reporter"));
        assert_eq!(round3(r.review[0].share), 0.667);
        assert_eq!(r.review[0].holders, ["a", "b"]);
    }

    #[test]
    fn common_is_the_baseline_of_every_group_at_the_same_level() {
        let report = |k: &str, base: &[(&str, Option<Level>)]| GroupReport {
            key: key(k),
            members: vec!["x".into()],
            baseline: base
                .iter()
                .map(|(g, l)| Share {
                    grant: g.to_string(),
                    level: l.clone(),
                    levels: vec![],
                    holders: vec!["x".into()],
                    lacking: vec![],
                    share: 1.0,
                })
                .collect(),
            candidates: vec![],
            review: vec![],
            outliers: vec![],
            without_access: vec![],
        };
        let a = report(
            "a",
            &[
                ("google:workspace-account", None),
                ("notion:space:handbook", lvl(0, "read")),
                ("slack:workspace-member", None),
            ],
        );
        let b = report(
            "b",
            &[
                ("google:workspace-account", None),
                ("notion:space:handbook", lvl(2, "edit")),
                ("slack:workspace-member", None),
            ],
        );
        let c = report(
            "c",
            &[("slack:workspace-member", None), ("zoom:account", None)],
        );
        let names = |v: Vec<(String, Option<Level>)>| -> Vec<String> {
            v.into_iter().map(|(g, _)| g).collect()
        };
        assert_eq!(
            names(common(&[a.clone(), b.clone()])),
            ["google:workspace-account", "slack:workspace-member"]
        );
        assert_eq!(
            names(common(&[a.clone(), b, c])),
            ["slack:workspace-member"]
        );
        assert!(common(&[a]).is_empty());
        assert!(common(&[]).is_empty());
    }

    #[test]
    fn shares_round_to_three_decimals_and_values_read_plainly() {
        assert_eq!(round3(2.0 / 23.0), 0.087);
        assert_eq!(round3(21.0 / 23.0), 0.913);
        assert_eq!(value_text(Some(&Value::Str("Sales".into()))), "Sales");
        assert_eq!(value_text(Some(&Value::Int(3))), "3");
        assert_eq!(value_text(None), "(none)");
    }
}
