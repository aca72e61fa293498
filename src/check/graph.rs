//! The inheritance graph: cycles (E0102, reported once per cycle with every member
//! labelled) and the transitive closure the lints and the interpreter use. Iterative
//! throughout, so a 5,000-deep chain cannot overflow the stack.

use std::collections::VecDeque;

use super::Lowered;
use crate::diagnostics::Diagnostic;
use crate::index_vec::IndexVec;
use crate::ir::{Bundle, PolicyId};

/// Strongly connected components of the inheritance graph (Tarjan, iterative).
#[allow(
    clippy::indexing_slicing,
    reason = "policy ids come from the bundle (checked when it was lowered or read); `index`, `low` and `on_stack` have a place for each of its policies"
)]
pub fn sccs(bundle: &Bundle) -> Vec<Vec<PolicyId>> {
    let n = bundle.policies.len();
    let mut index: IndexVec<PolicyId, u32> = IndexVec::from_elem_n(u32::MAX, n);
    let mut low: IndexVec<PolicyId, u32> = IndexVec::from_elem_n(0, n);
    let mut on_stack: IndexVec<PolicyId, bool> = IndexVec::from_elem_n(false, n);
    let mut stack: Vec<PolicyId> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    for root in bundle.policies.indices() {
        if index[root] != u32::MAX {
            continue;
        }
        // (node, next edge to visit)
        let mut work: Vec<(PolicyId, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            let edges = &bundle.policy(v).inherits;
            if let Some(&w) = edges.get(*ei) {
                *ei += 1;
                if index[w] == u32::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// One E0102 per cycle.
pub fn cycles(l: &Lowered<'_>) -> Vec<Diagnostic> {
    let b = &l.bundle;
    let mut out = Vec::new();
    for comp in sccs(b) {
        let Some(&first) = comp.first() else {
            continue;
        };
        let self_loop = b.policy(first).inherits.contains(&first);
        if comp.len() == 1 && !self_loop {
            continue;
        }
        let in_comp = |p: PolicyId| comp.binary_search(&p).is_ok();
        let path = shortest_cycle(b, first, &in_comp);
        let names: Vec<String> = path
            .iter()
            .map(|&p| format!("`{}`", b.policy(p).name))
            .collect();
        let Some(lp) = l.lowered(first) else {
            continue;
        };
        let edge = |p: PolicyId| -> Option<(crate::db::SourceFile, crate::syntax::Span, PolicyId)> {
            let lp = l.lowered(p)?;
            let (&w, &span) = lp
                .policy
                .inherits
                .iter()
                .zip(&lp.inherit_spans)
                .find(|(&w, _)| in_comp(w))?;
            Some((lp.file, span, w))
        };
        let Some((file, span, target)) = edge(first) else {
            continue;
        };
        let mut d = Diagnostic::new(
            "E0102",
            format!(
                "inheritance cycle: {} → {}",
                names.join(" → "),
                names.first().map_or("", String::as_str)
            ),
            file,
            span,
            format!("`{}` inherits `{}`", lp.policy.name, b.policy(target).name),
        );
        for &p in comp.iter().skip(1) {
            if let Some((f, s, t)) = edge(p) {
                d = d.with_label(
                    f,
                    s,
                    format!("`{}` inherits `{}`", b.policy(p).name, b.policy(t).name),
                );
            }
        }
        d = d.with_help("a policy cannot inherit itself, even through others: remove one `inherits` on the cycle");
        out.push(d);
    }
    out
}

fn shortest_cycle(
    b: &Bundle,
    start: PolicyId,
    in_comp: &dyn Fn(PolicyId) -> bool,
) -> Vec<PolicyId> {
    let mut prev: std::collections::HashMap<PolicyId, PolicyId> = std::collections::HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &b.policy(v).inherits {
            if !in_comp(w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                // Every policy queued after `start` has its predecessor.
                while cur != start {
                    let Some(&p) = prev.get(&cur) else { break };
                    cur = p;
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}
