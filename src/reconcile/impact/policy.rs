//! The policies and the rest of the bundle compared by name: added, removed, changed, and
//! the other differences (requires, conflicts, exceptions, schema).

use super::*;

pub(super) fn grant_text(b: &ir::Bundle, g: &ir::Grant) -> (String, Option<String>) {
    (
        b.entitlement_text(&g.entitlement),
        b.level_name(&g.entitlement, g.level).map(str::to_string),
    )
}

pub(super) fn with_level(text: &str, level: Option<&str>) -> String {
    match level {
        Some(l) => format!("{text} ({l})"),
        None => text.to_string(),
    }
}

pub(super) fn triggers_text(p: &ir::Policy) -> String {
    if p.triggers.is_empty() {
        return "(none)".into();
    }
    p.triggers
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

pub(super) fn opt_date(d: Option<chrono::NaiveDate>) -> String {
    d.map_or_else(|| "-".to_string(), |d| d.to_string())
}

/// The differences of two same-name policies: `(short summary items, detail lines)`.
pub(super) fn diff_policy(
    ob: &ir::Bundle,
    op: &ir::Policy,
    nb: &ir::Bundle,
    np: &ir::Policy,
) -> (Vec<String>, Vec<String>) {
    let mut short = Vec::new();
    let mut details = Vec::new();
    if op.template != np.template {
        let k = |t: bool| if t { "template" } else { "policy" };
        short.push(format!("now a {}", k(np.template)));
        details.push(format!("{} → {}", k(op.template), k(np.template)));
    }
    if op.triggers != np.triggers {
        short.push("triggers changed".into());
        details.push(format!(
            "when: {} → {}",
            triggers_text(op),
            triggers_text(np)
        ));
    }
    let names = |b: &ir::Bundle, p: &ir::Policy| -> Vec<String> {
        p.inherits
            .iter()
            .map(|&i| b.policy(i).name.clone())
            .collect()
    };
    let (oi, ni) = (names(ob, op), names(nb, np));
    let inh_added = only_in(&ni, &oi);
    let inh_removed = only_in(&oi, &ni);
    if !inh_added.is_empty() {
        short.push(format!("+{} inherited", inh_added.len()));
    }
    if !inh_removed.is_empty() {
        short.push(format!("-{} inherited", inh_removed.len()));
    }
    details.extend(inh_added.iter().map(|n| format!("+inherits \"{n}\"")));
    details.extend(inh_removed.iter().map(|n| format!("-inherits \"{n}\"")));

    let grants = |b: &ir::Bundle, p: &ir::Policy| -> BTreeMap<String, (Option<String>, String)> {
        p.grants
            .iter()
            .map(|g| {
                let (t, l) = grant_text(b, g);
                let grace = g.grace.map(|d| d.to_string()).unwrap_or_default();
                (t, (l, grace))
            })
            .collect()
    };
    let (og, ng) = (grants(ob, op), grants(nb, np));
    let mut added = 0;
    let mut removed = 0;
    let mut levels = 0;
    let mut graces = 0;
    for (t, (l, _)) in &ng {
        if !og.contains_key(t) {
            added += 1;
            details.push(format!("+grant {}", with_level(t, l.as_deref())));
        }
    }
    for (t, (l, _)) in &og {
        if !ng.contains_key(t) {
            removed += 1;
            details.push(format!("-grant {}", with_level(t, l.as_deref())));
        }
    }
    for (t, (nl, ngr)) in &ng {
        if let Some((ol, ogr)) = og.get(t) {
            if ol != nl {
                levels += 1;
                details.push(format!(
                    "grant {t}: {} → {}",
                    ol.as_deref().unwrap_or("-"),
                    nl.as_deref().unwrap_or("-")
                ));
            }
            if ogr != ngr {
                graces += 1;
                let g = |s: &str| {
                    if s.is_empty() {
                        "none".to_string()
                    } else {
                        s.to_string()
                    }
                };
                details.push(format!("grant {t}: grace {} → {}", g(ogr), g(ngr)));
            }
        }
    }
    if added > 0 {
        short.push(format!("+{}", plural(added, "grant", "grants")));
    }
    if removed > 0 {
        short.push(format!("-{}", plural(removed, "grant", "grants")));
    }
    if levels > 0 {
        short.push(plural(levels, "level changed", "levels changed"));
    }
    if graces > 0 {
        short.push(plural(graces, "grace changed", "graces changed"));
    }

    let pats =
        |p: &ir::Policy| -> Vec<String> { p.denies.iter().map(|d| d.text.clone()).collect() };
    let (od, nd) = (pats(op), pats(np));
    let d_added = only_in(&nd, &od);
    let d_removed = only_in(&od, &nd);
    if !d_added.is_empty() {
        short.push(format!("+{}", plural(d_added.len(), "deny", "denies")));
    }
    if !d_removed.is_empty() {
        short.push(format!("-{}", plural(d_removed.len(), "deny", "denies")));
    }
    details.extend(d_added.iter().map(|d| format!("+deny {d}")));
    details.extend(d_removed.iter().map(|d| format!("-deny {d}")));

    if (op.effective, op.expires) != (np.effective, np.expires) {
        short.push("dates changed".into());
        details.push(format!(
            "in force: effective {} expires {} → effective {} expires {}",
            opt_date(op.effective),
            opt_date(op.expires),
            opt_date(np.effective),
            opt_date(np.expires)
        ));
    }
    let meta = |p: &ir::Policy| {
        (
            p.version.clone(),
            p.owner.clone(),
            p.description.clone(),
            p.doc.clone(),
        )
    };
    if meta(op) != meta(np) {
        short.push("metadata changed".into());
        if op.version != np.version {
            details.push(format!(
                "version {} → {}",
                op.version.as_deref().unwrap_or("-"),
                np.version.as_deref().unwrap_or("-")
            ));
        }
        if op.owner != np.owner {
            details.push(format!(
                "owner {} → {}",
                op.owner.as_deref().unwrap_or("-"),
                np.owner.as_deref().unwrap_or("-")
            ));
        }
    }
    (short, details)
}

pub(super) fn kind(p: &ir::Policy) -> &'static str {
    if p.template {
        "template"
    } else {
        "policy"
    }
}

pub(super) fn policy_details(b: &ir::Bundle, p: &ir::Policy, sign: char) -> Vec<String> {
    let mut out = Vec::new();
    if !p.template {
        out.push(format!("when: {}", triggers_text(p)));
    }
    for &i in &p.inherits {
        out.push(format!("{sign}inherits \"{}\"", b.policy(i).name));
    }
    for g in &p.grants {
        let (t, l) = grant_text(b, g);
        out.push(format!("{sign}grant {}", with_level(&t, l.as_deref())));
    }
    for d in &p.denies {
        out.push(format!("{sign}deny {}", d.text));
    }
    out
}

/// Policies by name: added, removed, changed, or unchanged but reaching other people.
pub(super) fn compare_policies(
    old: &Plan,
    new: &Plan,
    count_old: &FxHashMap<&str, usize>,
    count_new: &FxHashMap<&str, usize>,
) -> Vec<PolicyImpact> {
    let (ob, nb) = (&*old.bundle, &*new.bundle);
    let mut names: BTreeSet<&str> = BTreeSet::new();
    names.extend(ob.policies.iter().map(|p| p.name.as_str()));
    names.extend(nb.policies.iter().map(|p| p.name.as_str()));
    // By name through a map: looking each up by a scan was quadratic in the policies.
    fn by_name(b: &ir::Bundle) -> FxHashMap<&str, &ir::Policy> {
        let mut m = FxHashMap::default();
        for p in &b.policies {
            m.entry(p.name.as_str()).or_insert(p);
        }
        m
    }
    let (obn, nbn) = (by_name(ob), by_name(nb));
    let mut out = Vec::new();
    for name in names {
        let op = obn.get(name).copied();
        let np = nbn.get(name).copied();
        let users_before = count_old.get(name).copied().unwrap_or(0);
        let users_after = count_new.get(name).copied().unwrap_or(0);
        let (status, kind, short, details) = match (op, np) {
            (None, Some(p)) => (
                Status::Added,
                kind(p),
                Vec::new(),
                policy_details(nb, p, '+'),
            ),
            (Some(p), None) => (
                Status::Removed,
                kind(p),
                Vec::new(),
                policy_details(ob, p, '-'),
            ),
            (Some(o), Some(n)) => {
                let (short, details) = diff_policy(ob, o, nb, n);
                let status = if short.is_empty() {
                    Status::Unchanged
                } else {
                    Status::Changed
                };
                (status, kind(n), short, details)
            }
            (None, None) => unreachable!("a name from one of the bundles"),
        };
        if status == Status::Unchanged && users_before == users_after {
            continue;
        }
        let summary = match status {
            Status::Added => format!("new {kind}"),
            Status::Removed => format!("{kind} removed"),
            Status::Changed => short.join(", "),
            Status::Unchanged => "reach changed".into(),
        };
        out.push(PolicyImpact {
            name: name.to_string(),
            kind,
            status,
            summary,
            details,
            users_before,
            users_after,
        });
    }
    out
}

/// Differences outside policies: `require`s, conflicts, exceptions, the schema.
pub(super) fn compare_bundles(old: &Plan, new: &Plan) -> Vec<String> {
    let (ob, nb) = (&*old.bundle, &*new.bundle);
    let mut out = Vec::new();
    if ob.requires != nb.requires {
        let text = |b: &ir::Bundle| {
            if b.requires.is_empty() {
                "(none)".to_string()
            } else {
                b.requires
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            }
        };
        out.push(format!("require: {} → {}", text(ob), text(nb)));
    }
    fn conflicts(b: &ir::Bundle) -> FxHashMap<&str, &ir::Conflict> {
        let mut m = FxHashMap::default();
        for c in &b.conflicts {
            m.entry(c.name.as_str()).or_insert(c);
        }
        m
    }
    let (oc, nc) = (conflicts(ob), conflicts(nb));
    let conflict =
        |m: &FxHashMap<&str, &ir::Conflict>, name: &str| m.get(name).map(|c| (*c).clone());
    let mut cnames: BTreeSet<&str> = ob.conflicts.iter().map(|c| c.name.as_str()).collect();
    cnames.extend(nb.conflicts.iter().map(|c| c.name.as_str()));
    for name in cnames {
        match (conflict(&oc, name), conflict(&nc, name)) {
            (None, Some(_)) => out.push(format!("+conflict \"{name}\"")),
            (Some(_), None) => out.push(format!("-conflict \"{name}\"")),
            (Some(a), Some(b)) => {
                let pats = |c: &ir::Conflict| {
                    c.patterns
                        .iter()
                        .map(|p| p.text.clone())
                        .collect::<Vec<_>>()
                };
                if pats(&a) != pats(&b) {
                    out.push(format!(
                        "conflict \"{name}\": {} → {}",
                        pats(&a).join(", "),
                        pats(&b).join(", ")
                    ));
                }
            }
            (None, None) => {}
        }
    }
    // Exceptions by label and user; the same one with other grants or dates is "changed".
    let exc = |b: &ir::Bundle| -> BTreeMap<(String, String), ir::Exception> {
        b.exceptions
            .iter()
            .map(|e| ((e.source_label(), e.user.clone()), e.clone()))
            .collect()
    };
    let (oe, ne) = (exc(ob), exc(nb));
    let grants = |b: &ir::Bundle, e: &ir::Exception| -> Vec<(String, Option<String>)> {
        e.grants.iter().map(|g| grant_text(b, g)).collect()
    };
    let mut keys: BTreeSet<&(String, String)> = oe.keys().collect();
    keys.extend(ne.keys());
    for key @ (label, user) in keys {
        match (oe.get(key), ne.get(key)) {
            (None, Some(_)) => out.push(format!("+{label} (user {user})")),
            (Some(_), None) => out.push(format!("-{label} (user {user})")),
            (Some(a), Some(b))
                if grants(ob, a) != grants(nb, b)
                    || (a.effective, a.expires) != (b.effective, b.expires) =>
            {
                out.push(format!("{label} (user {user}) changed"))
            }
            _ => {}
        }
    }
    if ob.schema != nb.schema {
        out.push("schema changed".into());
    }
    out
}
