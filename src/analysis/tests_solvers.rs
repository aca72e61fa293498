//! Unit tests of the two solvers on their own: text ([`super::strings`]) and integers
//! and dates ([`super::numeric`]).

use super::atoms::Test;
use super::normal::Lit;
use super::numeric::{Edge, NumOutcome, Pref, Problem, Why};
use super::strings::{solve, StrCon, StrOutcome};
use crate::ir::{glob_match, Value};

fn c(lower: bool, test: &Test, want: bool) -> StrCon<'_> {
    StrCon { lower, test, want }
}
fn s(x: &str) -> Value {
    Value::Str(x.into())
}

#[test]
fn finite_sets_intersect() {
    let a = Test::In(vec![s("A"), s("B")]);
    let b = Test::Eq(s("B"));
    let not_b = Test::Eq(s("B"));
    assert_eq!(
        solve(None, &[c(false, &a, true), c(false, &b, true)]),
        StrOutcome::Sat(s("B"))
    );
    assert_eq!(
        solve(None, &[c(false, &b, true), c(false, &not_b, false)]),
        StrOutcome::Unsat
    );
}

#[test]
fn globs_need_the_search() {
    let g1 = Test::Glob("Sales*".into());
    let g2 = Test::Glob("*Engineer".into());
    let r = solve(None, &[c(false, &g1, true), c(false, &g2, true)]);
    let StrOutcome::Sat(Value::Str(w)) = r else {
        panic!("{r:?}")
    };
    assert!(
        glob_match("Sales*", &w) && glob_match("*Engineer", &w),
        "{w}"
    );
    // a glob against an equality it cannot match
    let eq = Test::Eq(s("Finance"));
    assert_eq!(
        solve(None, &[c(false, &g1, true), c(false, &eq, true)]),
        StrOutcome::Unsat
    );
    // "a?" and "not a*": impossible
    let q = Test::Glob("a?".into());
    let star = Test::Glob("a*".into());
    assert_eq!(
        solve(None, &[c(false, &q, true), c(false, &star, false)]),
        StrOutcome::Unsat
    );
}

#[test]
fn lower_case_tests() {
    let low = Test::Eq(s("sales"));
    let raw = Test::Eq(s("sales"));
    let upper = Test::Eq(s("Sales"));
    let r = solve(None, &[c(true, &low, true), c(false, &raw, false)]);
    let StrOutcome::Sat(Value::Str(w)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(w.to_lowercase(), "sales");
    assert_ne!(w, "sales");
    // lower(a) == "Sales" never holds
    assert_eq!(solve(None, &[c(true, &upper, true)]), StrOutcome::Unsat);
}

#[test]
fn enums_are_finite() {
    let dom = [s("A"), s("B")];
    let a = Test::Eq(s("A"));
    let b = Test::Eq(s("B"));
    assert_eq!(
        solve(Some(&dom), &[c(false, &a, false), c(false, &b, false)]),
        StrOutcome::Unsat
    );
}

fn problem(n: usize, edges: &[(usize, usize, i128)]) -> Problem {
    let mut p = Problem {
        n,
        prefer: vec![Pref::At(0); n],
        order: (1..n).collect(),
        ..Default::default()
    };
    for (i, &(x, y, c)) in edges.iter().enumerate() {
        p.edges.push(Edge {
            x,
            y,
            c,
            why: Why::Lit(i as Lit * 2),
        });
    }
    p
}

#[test]
fn intervals_and_cycles() {
    // 3 <= x <= 5
    let p = problem(2, &[(1, 0, 5), (0, 1, -3)]);
    assert_eq!(p.solve(), NumOutcome::Sat(vec![0, 3]));
    // x <= 2 and x >= 3
    let p = problem(2, &[(1, 0, 2), (0, 1, -3)]);
    assert_eq!(p.solve(), NumOutcome::Unsat(vec![0, 2], false));
}

#[test]
fn disequalities_split() {
    // 1 <= x <= 2, x != 1, x != 2
    let mut p = problem(2, &[(1, 0, 2), (0, 1, -1)]);
    p.diseqs = vec![(1, 0, 1, 10), (1, 0, 2, 12)];
    assert!(matches!(p.solve(), NumOutcome::Unsat(..)));
    p.diseqs.pop();
    assert_eq!(p.solve(), NumOutcome::Sat(vec![0, 2]));
}

#[test]
fn choices_branch() {
    // x in {1, 5}, x >= 3
    let mut p = problem(2, &[(0, 1, -3)]);
    p.choices = vec![(1, 0, vec![1, 5], 20)];
    assert_eq!(p.solve(), NumOutcome::Sat(vec![0, 5]));
}
