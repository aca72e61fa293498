//! Questions as products of normal forms: a question is the conjunction of several
//! parts (the `require`s, a policy's triggers, the negation of another's), each in
//! disjunctive normal form; its cases are every combination of one case per part, solved
//! until one holds and the interpreter agrees with its model. What clashes in every case
//! is put in words here.

#![allow(
    clippy::indexing_slicing,
    reason = "attribute, atom, clause and policy ids index the tables built with them in this analysis; to become typed vectors"
)]

use super::normal::{merge, negate, positive, Analyzer, Conj, Dnf, Lit, Nnf};
use super::solve::{Core, Model, Outcome};
use super::DateRange;

/// How many cases one question may solve before the answer is "unknown".
const MAX_CASES: usize = 4096;

/// Every literal of a normal form.
pub fn lits_of(n: &Nnf) -> Vec<Lit> {
    match n {
        Nnf::Lit(l) => vec![*l],
        Nnf::And(v) | Nnf::Or(v) => v.iter().flat_map(lits_of).collect(),
        Nnf::True | Nnf::False => Vec::new(),
    }
}

impl Analyzer {
    /// Solves the conjunction of one case of each part, for every combination, until one
    /// holds (and `verify` accepts its model).
    pub fn solve_parts(
        &mut self,
        parts: &[&Dnf],
        range: DateRange,
        verify: &mut dyn FnMut(&Analyzer, &Model) -> bool,
    ) -> Outcome {
        if parts.iter().any(|d| d.is_empty()) {
            return Outcome::Unsat(Vec::new());
        }
        let total = parts
            .iter()
            .try_fold(1usize, |acc, d| acc.checked_mul(d.len()));
        if total.is_none_or(|t| t > MAX_CASES) {
            return Outcome::Unknown;
        }
        let mut idx = vec![0usize; parts.len()];
        let mut cores: Vec<Core> = Vec::new();
        let mut unknown = false;
        loop {
            let mut conj: Conj = Vec::new();
            let mut clash = None;
            for (d, &i) in parts.iter().zip(&idx) {
                match merge(&conj, &d[i]) {
                    Some(c) => conj = c,
                    None => {
                        let l = d[i]
                            .iter()
                            .copied()
                            .find(|&l| conj.binary_search(&negate(l)).is_ok())
                            .unwrap_or(d[i][0]);
                        let mut lits = vec![l, negate(l)];
                        lits.sort_unstable();
                        clash = Some(Core { lits, range: false });
                        break;
                    }
                }
            }
            let result = match clash {
                Some(core) => Outcome::Unsat(vec![core]),
                None => self.solve_conj(&conj, range),
            };
            match result {
                Outcome::Sat(m) => {
                    if verify(self, &m) {
                        return Outcome::Sat(m);
                    }
                    unknown = true;
                }
                Outcome::Unsat(cs) => {
                    for c in cs {
                        if !cores.contains(&c) {
                            cores.push(c);
                        }
                    }
                }
                Outcome::Unknown => unknown = true,
            }
            // next combination
            let mut k = 0;
            loop {
                if k == idx.len() {
                    return if unknown {
                        Outcome::Unknown
                    } else {
                        Outcome::Unsat(cores)
                    };
                }
                idx[k] += 1;
                if idx[k] < parts[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    /// What clashes, in words: `` `a == "x"` and `a == "y"` cannot both hold ``.
    pub fn clash_text(&self, cores: &[Core], dates: DateRange) -> String {
        let one = |c: &Core| {
            let mut lits = c.lits.clone();
            // Positive literals first: they read better.
            lits.sort_by_key(|&l| (!positive(l), l));
            let texts: Vec<String> = lits
                .iter()
                .map(|&l| format!("`{}`", self.lit_text(l)))
                .collect();
            let mut s = match texts.len() {
                0 => "its conditions never hold".to_string(),
                1 => format!("{} never holds", texts[0]),
                2 => format!("{} and {} cannot both hold", texts[0], texts[1]),
                n => format!(
                    "{} and {} cannot all hold",
                    texts[..n - 1].join(", "),
                    texts[n - 1]
                ),
            };
            if c.range {
                if dates.from == dates.to {
                    s.push_str(&format!(" on {}", dates.from));
                } else {
                    s.push_str(&format!(" on any day from {} to {}", dates.from, dates.to));
                }
            }
            s
        };
        match cores {
            [] => "its conditions never hold".to_string(),
            [c] => one(c),
            many => {
                let shown: Vec<String> = many.iter().take(3).map(one).collect();
                format!(
                    "none of its {} cases can hold: {}{}",
                    many.len(),
                    shown.join("; "),
                    if many.len() > 3 { "; …" } else { "" }
                )
            }
        }
    }
}
