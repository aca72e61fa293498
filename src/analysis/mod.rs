//! Static analysis of triggers (docs/language.md §10, docs/analysis.md): a decision procedure
//! that says whether a set of trigger expressions can hold together for some user record
//! that passes the schema, on some date of a range, and if so gives a witness.
//!
//! The procedure works on the checked IR only. Conditions are put in negation normal
//! form over atoms ([`atoms`], [`normal`]), then in disjunctive normal form with a cap;
//! each conjunction is solved attribute by attribute ([`solve`]): presence, text values
//! ([`strings`]), integers and dates with `today` ([`numeric`]). Absent attributes follow
//! the interpreter exactly: a comparison that reads one is false, `not` of it is true.
//!
//! The answers are never wrong: "unsatisfiable" only comes from reasoning that is exact
//! for what it covers (what it does not cover is left out, which can only make a clash
//! harder to find), and "satisfiable" only once the interpreter has evaluated the
//! witness and agreed. Anything else is [`Sat::Unknown`].
//!
//! On top of it, per bundle: [`policies`] (conditions per policy, in-force windows, an
//! index of the pairs of policies that can co-occur), [`findings`] (the facts behind
//! W0102, W0104, W0301), [`conflicts`] (E0501, witnesses double-checked by evaluating the
//! whole bundle) and [`overlaps`] (`polc analyze --overlaps`).

pub mod atoms;
pub mod cases;
pub mod conflicts;
pub mod findings;
pub mod linear;
pub mod normal;
pub mod numeric;
pub mod overlaps;
pub mod policies;
pub mod solve;
pub mod strings;
pub mod witness;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_solvers;

use chrono::NaiveDate;

use crate::ir::{Expr, Schema};
use cases::lits_of;
use normal::{Analyzer, Dnf, Lit, Nnf};
use solve::Outcome;

pub use witness::Witness;

/// How far ahead the analysis looks by default: triggers are decided for the dates from
/// today to today plus this many years.
pub const HORIZON_YEARS: u32 = 5;

/// The evaluation dates a question is about, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> DateRange {
        DateRange { from, to }
    }

    /// One day.
    pub fn day(d: NaiveDate) -> DateRange {
        DateRange { from: d, to: d }
    }

    /// From `today` to `today` plus `years` years.
    pub fn horizon(today: NaiveDate, years: u32) -> DateRange {
        let to = crate::dates::add_months(today, years.saturating_mul(12));
        DateRange { from: today, to }
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days()
    }
}

/// The answer of the decision procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sat {
    /// No record and date make the triggers hold. `clash` says which conditions
    /// contradict each other; `involved` are the indices of the triggers they come from.
    Unsat { clash: String, involved: Vec<usize> },
    /// A record and date that make them hold (checked with the interpreter).
    Sat { witness: Witness },
    /// Beyond what the procedure decides (too many cases, or conditions it does not
    /// model whose truth the witness it tried did not have).
    Unknown,
}

/// Whether `triggers` can all hold for some record valid under `schema` on some date of
/// `dates`.
pub fn satisfiable(triggers: &[&Expr], schema: Option<&Schema>, dates: DateRange) -> Sat {
    if dates.from > dates.to {
        return Sat::Unsat {
            clash: format!("there is no day from {} to {}", dates.from, dates.to),
            involved: Vec::new(),
        };
    }
    let mut az = Analyzer::new(schema);
    let nnfs: Vec<Nnf> = triggers.iter().map(|e| az.nnf(e, true)).collect();
    let mut dnfs: Vec<Dnf> = Vec::new();
    for (i, (n, t)) in nnfs.iter().zip(triggers).enumerate() {
        match normal::dnf(n, normal::DNF_CAP) {
            Some(d) if d.is_empty() => {
                return Sat::Unsat {
                    clash: format!("`{t}` never holds"),
                    involved: vec![i],
                }
            }
            Some(d) => dnfs.push(d),
            None => return Sat::Unknown,
        }
    }
    let compiled: Vec<_> = triggers.iter().map(|e| az.compile(e)).collect();
    let parts: Vec<&Dnf> = dnfs.iter().collect();
    let mut verify = |az: &Analyzer, m: &solve::Model| compiled.iter().all(|c| az.holds(c, m));
    match az.solve_parts(&parts, dates, &mut verify) {
        Outcome::Sat(m) => Sat::Sat {
            witness: az.witness(&m),
        },
        Outcome::Unsat(cores) => {
            let lits: Vec<Vec<Lit>> = nnfs.iter().map(lits_of).collect();
            let mut involved: Vec<usize> = lits
                .iter()
                .enumerate()
                .filter(|(_, lits)| {
                    cores
                        .iter()
                        .any(|c| c.lits.iter().any(|l| lits.contains(l)))
                })
                .map(|(i, _)| i)
                .collect();
            if involved.is_empty() {
                involved = (0..triggers.len()).collect();
            }
            Sat::Unsat {
                clash: az.clash_text(&cores, dates),
                involved,
            }
        }
        Outcome::Unknown => Sat::Unknown,
    }
}
