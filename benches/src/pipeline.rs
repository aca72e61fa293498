//! The pipelines the benchmarks time, shared with `benches/tests/`: polc's `eval` (as
//! `polc eval` runs it, into a `Vec<u8>`), the same policy set on regorus, the "I/O only"
//! floor, `drift`, the access export that drift reads, and the equivalence check between
//! polc and regorus.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

use polc::eval::{render, Plan};
use polc::input::{parse_users, Format, Users};
use polc::reconcile::{access, drift};

use crate::{Rng, LEVELS};

/// `(entitlement, level)`: a user's grant, as text.
pub type GrantPair = (String, Option<String>);

/// The evaluation date of the benchmarks as a date.
pub fn at() -> chrono::NaiveDate {
    crate::AT.parse().expect("AT is an ISO date")
}

/// Checks generated sources; panics on errors (a benchmark of error paths measures nothing).
pub fn load_bundle(files: &[(String, String)]) -> Arc<polc::ir::Bundle> {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let loaded = polc::db::Loaded::from_sources(&refs);
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .take(3)
        .collect();
    assert!(errors.is_empty(), "generated bundle has errors: {errors:?}");
    checked.bundle.clone()
}

/// Parses a users JSON text against the bundle's schema.
pub fn users(bundle: &polc::ir::Bundle, text: &str) -> Users {
    parse_users(
        text,
        "users.json",
        Format::Json,
        bundle.schema.as_ref(),
        None,
    )
    .expect("generated users parse")
}

/// The whole `polc eval --format json` pipeline, as `cli/src/eval.rs` runs it: parse the
/// users text, build the plan, evaluate every user, write the JSON answer into `out`.
pub fn polc_eval(bundle: &Arc<polc::ir::Bundle>, users_text: &str, out: &mut Vec<u8>) {
    let users = users(bundle, users_text);
    let at = at();
    let plan = Plan::new(Arc::clone(bundle), &users.fields, at);
    let w = out;
    write!(w, "{{\"as_of\":\"{at}\",\"users\":[").unwrap();
    for (i, rec) in users.records.iter().enumerate() {
        let e = plan.evaluate(&rec.id, &rec.values);
        if i > 0 {
            w.write_all(b",").unwrap();
        }
        serde_json::to_writer(&mut *w, &render::user_json(&plan, &rec.id, &e)).unwrap();
    }
    w.write_all(b"],\"errors\":").unwrap();
    let errors: Vec<serde_json::Value> = users
        .errors
        .iter()
        .map(|e| {
            serde_json::json!({"user_id": e.user_id, "line": e.line, "field": e.field, "message": e.message})
        })
        .collect();
    serde_json::to_writer(&mut *w, &errors).unwrap();
    w.write_all(b"}\n").unwrap();
}

/// Each user's final grant set according to polc, in input order.
pub fn polc_grants(
    bundle: &Arc<polc::ir::Bundle>,
    users_text: &str,
) -> Vec<(String, BTreeSet<GrantPair>)> {
    let users = users(bundle, users_text);
    let plan = Plan::new(Arc::clone(bundle), &users.fields, at());
    assert!(users.errors.is_empty(), "generated users have errors");
    users
        .records
        .iter()
        .map(|rec| {
            let e = plan.evaluate(&rec.id, &rec.values);
            let set = e
                .grants
                .iter()
                .map(|g| {
                    (
                        plan.ent_text(g.ent).to_string(),
                        plan.level_name(g.ent, g.level).map(str::to_string),
                    )
                })
                .collect();
            (rec.id.clone(), set)
        })
        .collect()
}

/// The Rego modules compiled once by regorus, entry point `data.polc.access`, with
/// `data.at` set to the evaluation date.
pub fn regorus_policy(rego: &[(String, String)]) -> regorus::CompiledPolicy {
    regorus_policy_with(rego, &format!("{{\"at\": \"{}\"}}", crate::AT))
}

/// The Rego modules compiled once by regorus with a data document (JSON, holding `at`),
/// entry point `data.polc.access`: for the indexed Rego, whose policies are data.
pub fn regorus_policy_with(rego: &[(String, String)], data_json: &str) -> regorus::CompiledPolicy {
    let data = regorus::Value::from_json_str(data_json).expect("data is JSON");
    let modules: Vec<regorus::PolicyModule> = rego
        .iter()
        .map(|(path, text)| regorus::PolicyModule {
            id: path.as_str().into(),
            content: text.as_str().into(),
        })
        .collect();
    regorus::compile_policy_with_entrypoint(data, &modules, "data.polc.access".into())
        .expect("the generated Rego compiles")
}

/// The regorus pipeline, the same steps as [`polc_eval`]: parse the users text (into
/// regorus values), evaluate `data.polc.access` for every user, write a JSON answer
/// (`{"users":[{"user_id": …, "access": {entitlement: level}}…]}`) into `out`. The policy is
/// compiled beforehand ([`regorus_policy`]), which favours regorus.
pub fn regorus_eval(policy: &regorus::CompiledPolicy, users_text: &str, out: &mut Vec<u8>) {
    let users = regorus::Value::from_json_str(users_text).expect("users are JSON");
    let w = out;
    write!(w, "{{\"as_of\":\"{}\",\"users\":[", crate::AT).unwrap();
    for (i, u) in users.as_array().expect("an array").iter().enumerate() {
        let access = policy.eval_with_input(u.clone()).expect("evaluates");
        if i > 0 {
            w.write_all(b",").unwrap();
        }
        w.write_all(b"{\"user_id\":").unwrap();
        serde_json::to_writer(&mut *w, &u["user_id"]).unwrap();
        w.write_all(b",\"access\":").unwrap();
        serde_json::to_writer(&mut *w, &access).unwrap();
        w.write_all(b"}").unwrap();
    }
    w.write_all(b"]}\n").unwrap();
}

/// Each user's final grant set according to regorus, in input order.
pub fn regorus_grants(
    policy: &regorus::CompiledPolicy,
    users_text: &str,
) -> Vec<(String, BTreeSet<GrantPair>)> {
    let users = regorus::Value::from_json_str(users_text).expect("users are JSON");
    users
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| {
            let id = u["user_id"].as_string().expect("a user id").to_string();
            let access = policy.eval_with_input(u.clone()).expect("evaluates");
            let set = match &access {
                // no applying policy: `access` is an empty object
                regorus::Value::Undefined => BTreeSet::new(),
                v => v
                    .as_object()
                    .expect("access is an object")
                    .iter()
                    .map(|(k, l)| {
                        let level = match l {
                            regorus::Value::Null => None,
                            other => Some(other.as_string().expect("a level name").to_string()),
                        };
                        (k.as_string().expect("an entitlement").to_string(), level)
                    })
                    .collect(),
            };
            (id, set)
        })
        .collect()
}

/// The first `n` users of a JSON array of users, as a JSON array.
pub fn first_users(users_text: &str, n: usize) -> String {
    let all: Vec<serde_json::Value> = serde_json::from_str(users_text).expect("users are JSON");
    serde_json::to_string(&all[..n.min(all.len())]).expect("serializes")
}

/// What the equivalence check saw.
#[derive(Debug, Default)]
pub struct Equivalence {
    pub users: usize,
    pub users_with_grants: usize,
    pub grants: usize,
    /// Users holding an entitlement that two applying sources give at different levels.
    pub merged_levels: usize,
}

/// Evaluates the first `n` users with polc and with regorus and compares each user's
/// `(entitlement, level)` set; `Err` names the first user that differs and how.
pub fn check_equivalence(
    shape: crate::OrgShape,
    users_text: &str,
    n: usize,
) -> Result<Equivalence, String> {
    let org = crate::org(shape);
    compare(&org.pol_files(), &org.rego(), users_text, n)
}

/// [`check_equivalence`] for the indexed Rego ([`crate::Org::rego_indexed`]).
pub fn check_equivalence_indexed(
    shape: crate::OrgShape,
    users_text: &str,
    n: usize,
) -> Result<Equivalence, String> {
    let org = crate::org(shape);
    let (rego, data) = org.rego_indexed();
    compare_with(&org.pol_files(), &rego, &data, users_text, n)
}

/// [`check_equivalence`] of any Pol bundle and Rego modules (data: only `at`).
pub fn compare(
    pol: &[(String, String)],
    rego: &[(String, String)],
    users_text: &str,
    n: usize,
) -> Result<Equivalence, String> {
    let data = format!("{{\"at\": \"{}\"}}", crate::AT);
    compare_with(pol, rego, &data, users_text, n)
}

/// [`compare`] with the Rego's data document.
pub fn compare_with(
    pol: &[(String, String)],
    rego: &[(String, String)],
    data_json: &str,
    users_text: &str,
    n: usize,
) -> Result<Equivalence, String> {
    let bundle = load_bundle(pol);
    let sample = first_users(users_text, n);
    let policy = regorus_policy_with(rego, data_json);
    let ours = polc_grants(&bundle, &sample);
    let theirs = regorus_grants(&policy, &sample);
    if ours.len() != theirs.len() {
        return Err(format!("{} users vs {}", ours.len(), theirs.len()));
    }
    let mut eq = Equivalence::default();
    for ((id, a), (id2, b)) in ours.iter().zip(&theirs) {
        if id != id2 {
            return Err(format!("users out of order: {id} vs {id2}"));
        }
        if a != b {
            let only_polc: Vec<_> = a.difference(b).collect();
            let only_rego: Vec<_> = b.difference(a).collect();
            return Err(format!(
                "user {id}: only polc: {only_polc:?}; only regorus: {only_rego:?}"
            ));
        }
        eq.users += 1;
        eq.users_with_grants += usize::from(!a.is_empty());
        eq.grants += a.len();
    }
    // that the sample exercises merging: an entitlement given at two levels
    let plan_users = users(&bundle, &sample);
    let plan = Plan::new(Arc::clone(&bundle), &plan_users.fields, at());
    for rec in &plan_users.records {
        let e = plan.evaluate(&rec.id, &rec.values);
        if e.grants.iter().any(|g| {
            g.sources
                .iter()
                .any(|s| s.level.is_some() && s.level != g.level)
        }) {
            eq.merged_levels += 1;
        }
    }
    Ok(eq)
}

/// The "I/O only" floor: what any `eval` must do without deciding anything. Parse the users
/// text into `serde_json::Value`s (a generic tree: no schema, no typing) and, for each user,
/// serialize a precomputed answer (`answers[i]`, polc's own answer for that user parsed
/// back into a `serde_json::Value`, so the same bytes to write) into `out`, in the same
/// envelope as `polc eval`. Evaluation is replaced by an index lookup.
pub fn floor_eval(users_text: &str, answers: &[serde_json::Value], out: &mut Vec<u8>) {
    let users: Vec<serde_json::Value> = serde_json::from_str(users_text).expect("users are JSON");
    let w = out;
    write!(w, "{{\"as_of\":\"{}\",\"users\":[", crate::AT).unwrap();
    for (i, u) in users.iter().enumerate() {
        std::hint::black_box(&u["user_id"]);
        if i > 0 {
            w.write_all(b",").unwrap();
        }
        serde_json::to_writer(&mut *w, &answers[i]).unwrap();
    }
    w.write_all(b"],\"errors\":[]}\n").unwrap();
}

/// polc's per-user answers (the `users` of `polc eval`'s JSON), for [`floor_eval`].
pub fn answers(bundle: &Arc<polc::ir::Bundle>, users_text: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    polc_eval(bundle, users_text, &mut out);
    let mut v: serde_json::Value = serde_json::from_slice(&out).expect("polc writes JSON");
    match v["users"].take() {
        serde_json::Value::Array(a) => a,
        _ => panic!("no users"),
    }
}

/// What the access export holds.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccessStats {
    pub users: usize,
    pub entries: usize,
    pub dropped: usize,
    pub mismatched: usize,
    pub excess: usize,
}

/// A current-access export (`{"user": ["grant (level)", …]}`) for drift: each active
/// user holds their policy-expected grants, except that one in ten misses one, one in ten
/// holds one group at another level, one in ten holds one or two grants nothing gives
/// (`legacy-*` groups, unexpected roles); an inactive user (a leaver) still holds 20
/// `legacy-*` grants. 500 accounts belong to no HRIS record (orphans).
pub fn access_json(bundle: &Arc<polc::ir::Bundle>, users_text: &str) -> (String, AccessStats) {
    let users = users(bundle, users_text);
    let plan = Plan::new(Arc::clone(bundle), &users.fields, at());
    let mut rng = Rng::new(11);
    let mut st = AccessStats::default();
    let mut map: BTreeMap<usize, (String, Vec<String>)> = BTreeMap::new();
    let legacy = |rng: &mut Rng| {
        let s = rng.below(20);
        if rng.below(2) == 0 {
            // one level per name: the same entitlement is never listed twice
            let k = rng.below(500);
            format!("sys{s}:group:legacy-{k} ({})", LEVELS[k % 3])
        } else {
            format!("sys{s}:role:legacy-r{}", rng.below(500))
        }
    };
    for (i, rec) in users.records.iter().enumerate() {
        let e = plan.evaluate(&rec.id, &rec.values);
        let mut held: Vec<String> = Vec::with_capacity(e.grants.len() + 2);
        if e.failed_require.is_some() {
            while held.len() < 20 {
                let g = legacy(&mut rng);
                if !held.contains(&g) {
                    held.push(g);
                    st.excess += 1;
                }
            }
        } else {
            let drop = if rng.below(10) == 0 && !e.grants.is_empty() {
                Some(rng.below(e.grants.len()))
            } else {
                None
            };
            let mismatch = if rng.below(10) == 0 {
                e.grants.iter().position(|g| g.level.is_some())
            } else {
                None
            };
            for (k, g) in e.grants.iter().enumerate() {
                if Some(k) == drop {
                    st.dropped += 1;
                    continue;
                }
                let text = plan.ent_text(g.ent);
                let level = if Some(k) == mismatch {
                    st.mismatched += 1;
                    g.level.map(|l| (l + 1) % 3)
                } else {
                    g.level
                };
                match plan.level_name(g.ent, level) {
                    Some(l) => held.push(format!("{text} ({l})")),
                    None => held.push(text.to_string()),
                }
            }
            if rng.below(10) == 0 {
                for _ in 0..1 + rng.below(2) {
                    let g = legacy(&mut rng);
                    if !held.contains(&g) {
                        held.push(g);
                        st.excess += 1;
                    }
                }
            }
        }
        // an export lists a user's entries in no particular order
        for k in (1..held.len()).rev() {
            held.swap(k, rng.below(k + 1));
        }
        st.entries += held.len();
        map.insert(i, (rec.id.clone(), held));
    }
    st.users = users.records.len();
    let n = map.len();
    for o in 0..500 {
        let mut held: Vec<String> = Vec::new();
        while held.len() < 5 {
            let g = legacy(&mut rng);
            if !held.contains(&g) {
                held.push(g);
            }
        }
        st.excess += held.len();
        st.entries += held.len();
        map.insert(n + o, (format!("orphan{o}"), held));
    }
    let mut out = String::with_capacity(st.entries * 32);
    out.push('{');
    for (k, (id, held)) in map.values().enumerate() {
        if k > 0 {
            out.push_str(",\n");
        }
        out.push_str(&serde_json::to_string(id).unwrap());
        out.push(':');
        out.push_str(&serde_json::to_string(held).unwrap());
    }
    out.push_str("}\n");
    (out, st)
}

/// `polc drift` without rendering: parse the users, build the plan, parse the access
/// export, evaluate and classify every user.
pub fn polc_drift(
    bundle: &Arc<polc::ir::Bundle>,
    users_text: &str,
    access_text: &str,
) -> (Plan, drift::DriftReport) {
    let users = users(bundle, users_text);
    let mut plan = Plan::new(Arc::clone(bundle), &users.fields, at());
    let access = access::parse_access(access_text, "access.json", "json", &mut plan)
        .expect("generated access parses");
    let report = drift::drift(&plan, &users, &access);
    (plan, report)
}

/// `polc drift --format json` into `out`: [`polc_drift`], then the JSON report as the CLI
/// prints it (`to_writer_pretty` of `report::json`).
pub fn polc_drift_json(
    bundle: &Arc<polc::ir::Bundle>,
    users_text: &str,
    access_text: &str,
    out: &mut Vec<u8>,
) {
    let (plan, r) = polc_drift(bundle, users_text, access_text);
    serde_json::to_writer_pretty(&mut *out, &polc::reconcile::report::json(&plan, &r)).unwrap();
    out.push(b'\n');
}

/// `polc mine --by ATTRS` without rendering: parse the users, then the whole mining
/// pipeline (`polc::reconcile::mining::mine`): read the export against the bundle, group
/// and analyse, draft and check the policies, and measure the drafts' coverage (a second
/// read of the export and a drift of every user).
pub fn polc_mine(
    bundle: &Arc<polc::ir::Bundle>,
    users_text: &str,
    access_text: &str,
    by: &[String],
) -> polc::reconcile::mining::Mining {
    let users = users(bundle, users_text);
    let export = polc::reconcile::mining::Export::Text {
        text: access_text,
        name: "access.json",
        format: "json",
    };
    polc::reconcile::mining::mine(
        bundle,
        &users,
        &export,
        by,
        &polc::reconcile::mining::groups::Thresholds::default(),
        at(),
    )
    .expect("generated access mines")
}
