//! The numeric solver: integers and dates (as day numbers) under difference constraints
//! `x - y <= c`, with `today` one of the variables and bounded by the dates asked about.
//! `x < c`, `days_since(d) >= n` (that is `today - d >= n`), `start_date < today` are
//! all of that form. A set of such constraints is consistent exactly when its graph has
//! no negative cycle (the cycle is the clash); all-pairs shortest paths then give each
//! variable's interval given the others, and values are fixed one at a time.
//!
//! Disequalities (`x != c`, `not in`) and `in` sets are not difference constraints: they
//! are decided by splitting (`x <= c - 1` or `x >= c + 1`; one branch per member), lazily,
//! only when the values chosen so far violate one. A budget on the branches keeps this
//! bounded; past it the answer is "unknown".

#![allow(
    clippy::indexing_slicing,
    reason = "attribute, atom, clause and policy ids index the tables built with them in this analysis; to become typed vectors"
)]

use super::normal::Lit;

/// No edge.
const INF: i128 = i128::MAX / 4;

/// How many branches one problem may explore.
const BUDGET: u32 = 256;

/// Why an edge is there: a literal, the dates asked about (bounds of `today`), or the
/// domain of a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Lit(Lit),
    Range,
    Domain,
}

/// `vars[x] - vars[y] <= c`.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub x: usize,
    pub y: usize,
    pub c: i128,
    pub why: Why,
}

/// A problem over variables `0..n` (0 is the constant zero).
#[derive(Debug, Clone, Default)]
pub struct Problem {
    pub n: usize,
    pub edges: Vec<Edge>,
    /// `x - y != c`.
    pub diseqs: Vec<(usize, usize, i128, Lit)>,
    /// `x - y` in the set.
    pub choices: Vec<(usize, usize, Vec<i128>, Lit)>,
    /// The preferred value of each variable (closest wins), and the order they are fixed in.
    pub prefer: Vec<Pref>,
    pub order: Vec<usize>,
}

/// Where a variable's value should be: at a constant, or at another variable's value.
#[derive(Debug, Clone, Copy)]
pub enum Pref {
    At(i128),
    Like(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumOutcome {
    Sat(Vec<i128>),
    /// The literals of a clash, and whether the dates asked about take part in it.
    Unsat(Vec<Lit>, bool),
    Unknown,
}

struct Closure {
    d: Vec<Vec<i128>>,
}

impl Closure {
    /// All-pairs shortest paths (Floyd–Warshall); `Err(cycle edges)` on a negative cycle.
    fn new(n: usize, edges: &[Edge]) -> Result<Closure, Vec<Why>> {
        let mut d = vec![vec![INF; n]; n];
        for (i, row) in d.iter_mut().enumerate() {
            row[i] = 0;
        }
        // edge y -> x with weight c
        for e in edges {
            if e.c < d[e.y][e.x] {
                d[e.y][e.x] = e.c;
            }
        }
        for k in 0..n {
            for i in 0..n {
                if d[i][k] >= INF {
                    continue;
                }
                for j in 0..n {
                    let via = d[i][k] + d[k][j];
                    if d[k][j] < INF && via < d[i][j] {
                        d[i][j] = via;
                    }
                }
            }
        }
        if (0..n).any(|i| d[i][i] < 0) {
            return Err(negative_cycle(n, edges));
        }
        Ok(Closure { d })
    }

    /// Fixes `v` to `val` (within its interval, so no cycle can appear).
    fn fix(&mut self, v: usize, val: i128) {
        self.add(0, v, val);
        self.add(v, 0, -val);
    }

    /// Adds the edge `from -> to` of weight `w` and updates every distance.
    fn add(&mut self, from: usize, to: usize, w: i128) {
        let n = self.d.len();
        if w >= self.d[from][to] {
            return;
        }
        for i in 0..n {
            if self.d[i][from] >= INF {
                continue;
            }
            for j in 0..n {
                if self.d[to][j] >= INF {
                    continue;
                }
                let via = self.d[i][from] + w + self.d[to][j];
                if via < self.d[i][j] {
                    self.d[i][j] = via;
                }
            }
        }
    }

    /// The interval of `v - zero`.
    fn interval(&self, v: usize) -> (i128, i128) {
        (-self.d[v][0], self.d[0][v])
    }
}

/// The edges of a negative cycle (Bellman–Ford from a virtual source).
fn negative_cycle(n: usize, edges: &[Edge]) -> Vec<Why> {
    let mut dist = vec![0i128; n];
    let mut pred: Vec<Option<usize>> = vec![None; n];
    let mut last = None;
    for _ in 0..=n {
        last = None;
        for (k, e) in edges.iter().enumerate() {
            if dist[e.y] + e.c < dist[e.x] {
                dist[e.x] = dist[e.y] + e.c;
                pred[e.x] = Some(k);
                last = Some(e.x);
            }
        }
        if last.is_none() {
            return Vec::new();
        }
    }
    let Some(mut v) = last else {
        return Vec::new();
    };
    for _ in 0..n {
        v = edges[pred[v].expect("relaxed")].y;
    }
    let start = v;
    let mut out = Vec::new();
    loop {
        let e = edges[pred[v].expect("on the cycle")];
        out.push(e.why);
        v = e.y;
        if v == start {
            break;
        }
    }
    out
}

impl Problem {
    pub fn solve(&self) -> NumOutcome {
        let mut budget = BUDGET;
        self.search(self.edges.clone(), 0, self.diseqs.clone(), &mut budget)
    }

    fn search(
        &self,
        edges: Vec<Edge>,
        choice: usize,
        diseqs: Vec<(usize, usize, i128, Lit)>,
        budget: &mut u32,
    ) -> NumOutcome {
        if *budget == 0 {
            return NumOutcome::Unknown;
        }
        *budget -= 1;
        let closure = match Closure::new(self.n, &edges) {
            Ok(c) => c,
            Err(cycle) => {
                let mut lits: Vec<Lit> = cycle
                    .iter()
                    .filter_map(|w| match w {
                        Why::Lit(l) => Some(*l),
                        _ => None,
                    })
                    .collect();
                lits.sort_unstable();
                lits.dedup();
                return NumOutcome::Unsat(lits, cycle.contains(&Why::Range));
            }
        };
        if let Some((x, y, set, lit)) = self.choices.get(choice) {
            // One branch per member of the set.
            let mut core: Vec<Lit> = vec![*lit];
            let mut range = false;
            let mut unknown = false;
            for &c in set {
                let mut e = edges.clone();
                e.push(Edge {
                    x: *x,
                    y: *y,
                    c,
                    why: Why::Lit(*lit),
                });
                e.push(Edge {
                    x: *y,
                    y: *x,
                    c: -c,
                    why: Why::Lit(*lit),
                });
                match self.search(e, choice + 1, diseqs.clone(), budget) {
                    NumOutcome::Sat(v) => return NumOutcome::Sat(v),
                    NumOutcome::Unsat(c, r) => {
                        core.extend(c);
                        range |= r;
                    }
                    NumOutcome::Unknown => unknown = true,
                }
            }
            if unknown {
                return NumOutcome::Unknown;
            }
            core.sort_unstable();
            core.dedup();
            return NumOutcome::Unsat(core, range);
        }
        match self.assign(closure, &diseqs) {
            Ok(values) => NumOutcome::Sat(values),
            Err(k) => {
                // Split the disequality that blocked: x - y <= c - 1, or x - y >= c + 1.
                let (x, y, c, lit) = diseqs[k];
                let rest: Vec<_> = diseqs
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(_, d)| *d)
                    .collect();
                let mut core = vec![lit];
                let mut range = false;
                let below = Edge {
                    x,
                    y,
                    c: c - 1,
                    why: Why::Lit(lit),
                };
                let above = Edge {
                    x: y,
                    y: x,
                    c: -c - 1,
                    why: Why::Lit(lit),
                };
                for e in [below, above] {
                    let mut es = edges.clone();
                    es.push(e);
                    match self.search(es, choice, rest.clone(), budget) {
                        NumOutcome::Sat(v) => return NumOutcome::Sat(v),
                        NumOutcome::Unsat(c, r) => {
                            core.extend(c);
                            range |= r;
                        }
                        NumOutcome::Unknown => return NumOutcome::Unknown,
                    }
                }
                core.sort_unstable();
                core.dedup();
                NumOutcome::Unsat(core, range)
            }
        }
    }

    /// Fixes every variable in turn at the allowed value closest to its preference;
    /// `Err(i)`: disequality `i` left no value.
    fn assign(
        &self,
        mut cl: Closure,
        diseqs: &[(usize, usize, i128, Lit)],
    ) -> Result<Vec<i128>, usize> {
        let mut val: Vec<Option<i128>> = vec![None; self.n];
        val[0] = Some(0);
        for &v in &self.order {
            let (lo, hi) = cl.interval(v);
            let want = match self.prefer[v] {
                Pref::At(p) => p,
                Pref::Like(w) => val[w].unwrap_or(0),
            };
            let forbidden: Vec<(i128, usize)> = diseqs
                .iter()
                .enumerate()
                .filter_map(|(i, &(x, y, c, _))| {
                    if x == v && y != v {
                        val[y].map(|vy| (vy + c, i))
                    } else if y == v && x != v {
                        val[x].map(|vx| (vx - c, i))
                    } else {
                        None
                    }
                })
                .collect();
            let ok = |p: i128| p >= lo && p <= hi && !forbidden.iter().any(|f| f.0 == p);
            let start = want.clamp(lo, hi);
            let pick = (0..=forbidden.len() as i128 + 1)
                .flat_map(|k| [start + k, start - k])
                .find(|&p| ok(p));
            match pick {
                Some(p) => {
                    val[v] = Some(p);
                    cl.fix(v, p);
                }
                None => {
                    return Err(forbidden
                        .iter()
                        .find(|f| f.0 >= lo && f.0 <= hi)
                        .or(forbidden.first())
                        .map(|f| f.1)
                        .unwrap_or(0));
                }
            }
        }
        // A disequality between two variables fixed in the wrong order is caught here.
        let vals: Vec<i128> = val.iter().map(|v| v.unwrap_or(0)).collect();
        match diseqs
            .iter()
            .position(|&(x, y, c, _)| vals[x] - vals[y] == c)
        {
            Some(i) => Err(i),
            None => Ok(vals),
        }
    }
}
