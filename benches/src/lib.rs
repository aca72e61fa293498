//! Generators of synthetic organisations for the benchmarks: a Pol bundle of any size
//! (policies with triggers, templates and inheritance over many systems), the same policy
//! set written as idiomatic Rego (for the comparison with regorus), HRIS users that match
//! it, and an access export for drift. Deterministic: the same parameters give the same text.
//!
//! There are two Rego renderings: [`rego`], one set of rules per policy (how a policy
//! author writes Rego at first, and what the first comparison measured), and
//! [`rego_indexed`], the policies as data indexed by the values they test, evaluated by
//! one generic module (how a Rego expert writes it for speed).
//!
//! [`org`] builds a model of the organisation once; [`bundle`] and [`rego`] render that one
//! model, so the Pol and the Rego say the same thing by construction (and
//! [`pipeline::check_equivalence`] checks that they answer the same).

pub mod pipeline;

/// Shape of a generated organisation.
#[derive(Clone, Copy, Debug)]
pub struct OrgShape {
    pub policies: usize,
    pub files: usize,
    pub systems: usize,
    pub departments: usize,
    pub titles: usize,
    /// The interpreter's org (see [`OrgShape::eval_benchmark`]): a bundle-wide `require`,
    /// a base policy, department and title policies, template-to-template and
    /// policy-to-policy inheritance, expired templates, and groups that several policies
    /// grant at different levels. Off, the bundle is the check benchmark's (unchanged, so
    /// its numbers stay comparable).
    pub rich: bool,
}

impl OrgShape {
    /// The language-core benchmark: 10,000 policies over 100 files (~150,000 lines).
    pub fn check_benchmark() -> OrgShape {
        OrgShape {
            policies: 10_000,
            files: 100,
            systems: 20,
            departments: 40,
            titles: 400,
            rich: false,
        }
    }
    /// The interpreter benchmark: 2,000 policies (400 of them templates) over 20 systems;
    /// an active user (19 in 20) meets about 4.6 policies and gets about 24 grants.
    pub fn eval_benchmark() -> OrgShape {
        OrgShape {
            policies: 2_000,
            files: 20,
            systems: 20,
            departments: 40,
            titles: 400,
            rich: true,
        }
    }
}

/// A small deterministic generator (xorshift), so benchmarks need no `rand`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The levels of every generated `group` type, lowest first.
pub const LEVELS: &[&str] = &["viewer", "member", "admin"];

/// The evaluation date of every benchmark.
pub const AT: &str = "2025-06-01";

/// One `when` clause.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// `attr == "value"`
    Eq(&'static str, String),
    /// `attr in ["a", "b"]`
    In(&'static str, Vec<String>),
    /// `attr >= n` (an optional int: absent is false in both languages)
    Ge(&'static str, i64),
}

/// One grant: `sysS:group:NAME (LEVEL) grace 30d` or `sysS:role:NAME`.
#[derive(Clone, Debug)]
pub struct GrantDef {
    pub system: usize,
    pub name: String,
    /// `Some(rank in LEVELS)` for a group, `None` for a role.
    pub level: Option<usize>,
}

impl GrantDef {
    /// The canonical text of the entitlement, as polc prints it.
    pub fn ent(&self) -> String {
        match self.level {
            Some(_) => format!("sys{}:group:{}", self.system, self.name),
            None => format!("sys{}:role:{}", self.system, self.name),
        }
    }
}

/// One policy or template of the model.
#[derive(Clone, Debug)]
pub struct PolicyDef {
    pub index: usize,
    pub template: bool,
    pub effective: Option<&'static str>,
    pub expires: Option<&'static str>,
    pub triggers: Vec<Trigger>,
    /// Indices of the inherited policies and templates (always earlier ones: no cycles).
    pub inherits: Vec<usize>,
    pub grants: Vec<GrantDef>,
}

impl PolicyDef {
    pub fn name(&self) -> String {
        format!("P{}", self.index)
    }
    /// In force on `at` (ISO dates compare as text).
    pub fn in_force(&self, at: &str) -> bool {
        self.effective.is_none_or(|e| e <= at) && self.expires.is_none_or(|x| at < x)
    }
}

/// The organisation's policy set.
#[derive(Clone, Debug)]
pub struct Org {
    pub shape: OrgShape,
    /// `require employment_status == "Active"` (rich shapes only).
    pub require_active: bool,
    pub policies: Vec<PolicyDef>,
}

/// The model of the organisation of `shape`.
pub fn org(shape: OrgShape) -> Org {
    if shape.rich {
        rich_org(shape)
    } else {
        plain_org(shape)
    }
}

/// The check benchmark's org: every fifth policy a template; every policy triggers on a
/// department and two titles (and sometimes a level) and inherits an earlier template.
fn plain_org(shape: OrgShape) -> Org {
    let mut rng = Rng::new(42);
    let mut policies = Vec::with_capacity(shape.policies);
    for i in 0..shape.policies {
        let template = i % 5 == 0;
        let mut p = PolicyDef {
            index: i,
            template,
            effective: None,
            expires: None,
            triggers: Vec::new(),
            inherits: Vec::new(),
            grants: Vec::new(),
        };
        if !template {
            p.effective = Some("2024-01-01");
            let dept = rng.below(shape.departments);
            let t1 = rng.below(shape.titles);
            let t2 = rng.below(shape.titles);
            p.triggers
                .push(Trigger::Eq("department", format!("Dept {dept}")));
            p.triggers.push(Trigger::In(
                "job_title",
                vec![format!("Title {t1}"), format!("Title {t2}")],
            ));
            if rng.below(4) == 0 {
                p.triggers.push(Trigger::Ge("level", rng.below(5) as i64));
            }
            // inherit an earlier template (i/5*5 is a template index at or below i)
            if i >= 5 {
                p.inherits.push(rng.below(i / 5) * 5);
            }
        }
        let grants = 4 + rng.below(4);
        p.grants
            .extend(random_grants(&mut rng, shape.systems, i, grants));
        policies.push(p);
    }
    Org {
        shape,
        require_active: false,
        policies,
    }
}

/// The interpreter's org. Policy `P1` is the base policy (every active employee); every
/// 40th policy (`P21`, `P61`, …) is a department's; the others are job titles', some also
/// gated by `level >= n` or the employment type. Every fifth is a template; a third of the
/// templates inherit an earlier one, and every 20th template expired on 2025-01-01. Every
/// policy inherits an earlier template, one in eight also an earlier policy. Each grants
/// 1–3 entitlements of its own, and a third of them also one of ten shared groups, at a
/// random level (so levels merge).
fn rich_org(shape: OrgShape) -> Org {
    let mut rng = Rng::new(42);
    let mut policies = Vec::with_capacity(shape.policies);
    for i in 0..shape.policies {
        let template = i % 5 == 0;
        let mut p = PolicyDef {
            index: i,
            template,
            effective: None,
            expires: None,
            triggers: Vec::new(),
            inherits: Vec::new(),
            grants: Vec::new(),
        };
        if template {
            if i % 100 == 50 {
                p.expires = Some("2025-01-01");
            }
            if i >= 10 && rng.below(3) == 0 {
                p.inherits.push(rng.below(i / 5) * 5);
            }
        } else {
            p.effective = Some("2024-01-01");
            if i == 1 {
                p.triggers
                    .push(Trigger::Eq("employment_status", "Active".into()));
            } else if i % 40 == 21 {
                let dept = (i / 40) % shape.departments;
                p.triggers
                    .push(Trigger::Eq("department", format!("Dept {dept}")));
            } else {
                let t = rng.below(shape.titles);
                p.triggers
                    .push(Trigger::Eq("job_title", format!("Title {t}")));
                match rng.below(4) {
                    0 => {}
                    1 => p
                        .triggers
                        .push(Trigger::Ge("level", 2 + rng.below(3) as i64)),
                    2 => p.triggers.push(Trigger::In(
                        "employment_type",
                        vec!["FTE".into(), "Contractor".into()],
                    )),
                    _ => p
                        .triggers
                        .push(Trigger::Eq("employment_type", "Contractor".into())),
                }
            }
            if i >= 5 {
                p.inherits.push(rng.below(i / 5) * 5);
                if rng.below(8) == 0 {
                    let j = rng.below(i);
                    if j % 5 != 0 && j != 1 {
                        p.inherits.push(j);
                    }
                }
            }
        }
        let grants = 1 + rng.below(3);
        p.grants
            .extend(random_grants(&mut rng, shape.systems, i, grants));
        if rng.below(3) == 0 {
            let k = rng.below(10);
            p.grants.push(GrantDef {
                system: k % shape.systems,
                name: format!("shared-{k}"),
                level: Some(rng.below(LEVELS.len())),
            });
        }
        policies.push(p);
    }
    Org {
        shape,
        require_active: true,
        policies,
    }
}

/// `count` grants of policy `i`: every third a levelless role shared among policies
/// (`r0`–`r199`), the others a group of its own at a random level.
fn random_grants(rng: &mut Rng, systems: usize, i: usize, count: usize) -> Vec<GrantDef> {
    (0..count)
        .map(|g| {
            let system = rng.below(systems);
            if g % 3 == 2 {
                GrantDef {
                    system,
                    name: format!("r{}", rng.below(200)),
                    level: None,
                }
            } else {
                GrantDef {
                    system,
                    name: format!("g{i}-{g}"),
                    level: Some(rng.below(LEVELS.len())),
                }
            }
        })
        .collect()
}

fn quoted(vs: &[String]) -> String {
    vs.iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Org {
    /// `(path, text)` of every file of the bundle. One file declares the systems (and the
    /// `require`); policies are spread over the others.
    pub fn pol_files(&self) -> Vec<(String, String)> {
        let shape = self.shape;
        let mut files: Vec<(String, String)> = Vec::new();
        let mut systems = String::from("import \"std/hris\"\nimport \"std/saas\"\n\nschema {\n  level: int?\n  region: string?\n}\n\n");
        if self.require_active {
            systems.push_str("require employment_status == \"Active\"\n\n");
        }
        for s in 0..shape.systems {
            systems.push_str(&format!(
                "/// System {s}.\nsystem sys{s} \"System {s}\" {{\n  grace 7d\n  resource group {{ levels viewer < member < admin }}\n  resource role\n}}\n\n"
            ));
        }
        files.push(("systems.pol".to_string(), systems));
        let per_file = shape.policies.div_ceil(shape.files.max(1));
        let mut text = String::new();
        for p in &self.policies {
            let i = p.index;
            let kind = if p.template { "template" } else { "policy" };
            text.push_str(&format!("/// Access for group {i}.\n{kind} \"P{i}\" {{\n"));
            text.push_str(&format!("  owner \"team{}@company.com\"\n", i % 50));
            if let Some(d) = p.effective {
                text.push_str(&format!("  effective {d}\n"));
            }
            if let Some(d) = p.expires {
                text.push_str(&format!("  expires {d}\n"));
            }
            for t in &p.triggers {
                match t {
                    Trigger::Eq(a, v) => text.push_str(&format!("  when {a} == \"{v}\"\n")),
                    Trigger::In(a, vs) => {
                        text.push_str(&format!("  when {a} in [{}]\n", quoted(vs)))
                    }
                    Trigger::Ge(a, n) => text.push_str(&format!("  when {a} >= {n}\n")),
                }
            }
            if !p.inherits.is_empty() {
                let names: Vec<String> = p.inherits.iter().map(|j| format!("\"P{j}\"")).collect();
                text.push_str(&format!("  inherits {}\n", names.join(", ")));
            }
            for g in &p.grants {
                match g.level {
                    Some(l) => text.push_str(&format!(
                        "  grant sys{}:group:{} ({}) grace 30d\n",
                        g.system, g.name, LEVELS[l]
                    )),
                    None => text.push_str(&format!("  grant sys{}:role:{}\n", g.system, g.name)),
                }
            }
            text.push_str("}\n\n");
            if (i + 1) % per_file == 0 || i + 1 == shape.policies {
                files.push((
                    format!("policies/p{:03}.pol", files.len()),
                    std::mem::take(&mut text),
                ));
            }
        }
        files
    }

    /// The same policy set as idiomatic Rego v1: `(path, text)` of modules of one package,
    /// `polc` (as the Pol bundle, the policies are spread over files: regorus refuses a
    /// module of more than 20,000 lines). Input: one HRIS record, as in the users file;
    /// data: `{"at": "YYYY-MM-DD"}`. `data.polc.access` is the user's final grant set: an
    /// object from the entitlement's canonical text to its level name (`null` for types
    /// without levels).
    ///
    /// Per policy `Pi`: `applies_Pi` (the `require` gate, its dates and its triggers) and
    /// `grants_Pi` (a set of `{"grant", "level"}` objects: its own grants, plus by rule
    /// composition the `grants_Pj` of every `Pj` it inherits that is in force). `grants`
    /// is the union over the applying policies; `access` merges levels to the highest.
    pub fn rego(&self) -> Vec<(String, String)> {
        const HEADER: &str = "package polc\n\nimport rego.v1\n\n";
        let mut common = String::from(HEADER);
        common.push_str("# The bundle-wide gate (`require`).\n");
        if self.require_active {
            common.push_str("allowed if input.employment_status == \"Active\"\n\n");
        } else {
            common.push_str("allowed := true\n\n");
        }
        common.push_str(
            "level_names := [\"viewer\", \"member\", \"admin\"]\n\n\
             level_name(rank) := level_names[rank]\n\n\
             level_name(rank) := null if rank == null\n\n\
             # Every entitlement once, at the highest level any applying policy gives it.\n\
             access[ent] := name if {\n\
             \tsome g in grants\n\
             \tent := g.grant\n\
             \trank := max({h.level | some h in grants; h.grant == ent})\n\
             \tname := level_name(rank)\n\
             }\n",
        );
        let mut files = vec![("common.rego".to_string(), common)];
        let per_file = self.shape.policies.div_ceil(self.shape.files.max(1));
        let mut out = String::from(HEADER);
        for p in &self.policies {
            let name = p.name();
            if p.effective.is_some() || p.expires.is_some() {
                out.push_str(&format!("in_force_{name} if {{\n"));
                if let Some(d) = p.effective {
                    out.push_str(&format!("\t\"{d}\" <= data.at\n"));
                }
                if let Some(d) = p.expires {
                    out.push_str(&format!("\tdata.at < \"{d}\"\n"));
                }
                out.push_str("}\n\n");
            }
            if !p.template {
                out.push_str(&format!("applies_{name} if {{\n\tallowed\n"));
                if p.effective.is_some() || p.expires.is_some() {
                    out.push_str(&format!("\tin_force_{name}\n"));
                }
                for t in &p.triggers {
                    match t {
                        Trigger::Eq(a, v) => out.push_str(&format!("\tinput.{a} == \"{v}\"\n")),
                        Trigger::In(a, vs) => {
                            out.push_str(&format!("\tinput.{a} in {{{}}}\n", quoted(vs)))
                        }
                        Trigger::Ge(a, n) => out.push_str(&format!("\tinput.{a} >= {n}\n")),
                    }
                }
                out.push_str("}\n\n");
                out.push_str(&format!(
                    "grants contains g if {{\n\tapplies_{name}\n\tsome g in grants_{name}\n}}\n\n"
                ));
            }
            for g in &p.grants {
                let level = match g.level {
                    Some(l) => l.to_string(),
                    None => "null".to_string(),
                };
                out.push_str(&format!(
                    "grants_{name} contains {{\"grant\": \"{}\", \"level\": {level}}}\n",
                    g.ent()
                ));
            }
            for &j in &p.inherits {
                let parent = &self.policies[j];
                let pj = parent.name();
                if parent.effective.is_some() || parent.expires.is_some() {
                    out.push_str(&format!(
                        "grants_{name} contains g if {{\n\tin_force_{pj}\n\tsome g in grants_{pj}\n}}\n"
                    ));
                } else {
                    out.push_str(&format!(
                        "grants_{name} contains g if some g in grants_{pj}\n"
                    ));
                }
            }
            out.push('\n');
            if (p.index + 1) % per_file == 0 || p.index + 1 == self.shape.policies {
                files.push((
                    format!("policies/p{:03}.rego", files.len()),
                    std::mem::replace(&mut out, String::from(HEADER)),
                ));
            }
        }
        files
    }
}

impl Org {
    /// The same policy set as a Rego expert writes it for speed: the policies are data
    /// (`data.policies`), indexed by the value their first trigger tests
    /// (`data.index.ATTR[VALUE]`: the policies whose first trigger is `ATTR == VALUE` or
    /// `ATTR in [… VALUE …]`), and one generic module evaluates them. A user's candidate
    /// policies are found by key lookups on their own attribute values, so only those
    /// few are looked at (the per-policy Rego of [`Org::rego`] evaluates every policy's
    /// rule for every user). Inheritance is a graph (`data.inherits`) walked with
    /// `graph.reachable`: first everything the applying policies inherit, then the same
    /// walk cut at the policies out of force on `data.at` (what they inherit counts only
    /// through another path, as in Pol).
    ///
    /// Returns the modules (one, `indexed.rego`, of `package polc`: the entry point is
    /// `data.polc.access`, as in [`Org::rego`]) and the data document (JSON, with `at`).
    pub fn rego_indexed(&self) -> (Vec<(String, String)>, String) {
        use serde_json::{json, Map, Value};
        let mut index: Map<String, Value> = Map::new();
        let mut unindexed: Vec<String> = Vec::new();
        let mut policies = Map::new();
        let mut inherits = Map::new();
        for p in &self.policies {
            let name = p.name();
            if !p.template {
                let mut keyed = |attr: &str, v: &str| {
                    let by_value = index
                        .entry(attr.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    let list = by_value
                        .as_object_mut()
                        .unwrap()
                        .entry(v.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    list.as_array_mut().unwrap().push(Value::from(name.clone()));
                };
                match p.triggers.first() {
                    Some(Trigger::Eq(a, v)) => keyed(a, v),
                    Some(Trigger::In(a, vs)) => vs.iter().for_each(|v| keyed(a, v)),
                    _ => unindexed.push(name.clone()),
                }
            }
            let when: Vec<Value> = p
                .triggers
                .iter()
                .map(|t| match t {
                    Trigger::Eq(a, v) => json!({"attr": a, "op": "==", "value": v}),
                    Trigger::In(a, vs) => json!({"attr": a, "op": "in", "values": vs}),
                    Trigger::Ge(a, n) => json!({"attr": a, "op": ">=", "value": n}),
                })
                .collect();
            let grants: Vec<Value> = p
                .grants
                .iter()
                .map(|g| json!({"grant": g.ent(), "level": g.level}))
                .collect();
            let mut def = Map::new();
            if let Some(d) = p.effective {
                def.insert("effective".into(), d.into());
            }
            if let Some(d) = p.expires {
                def.insert("expires".into(), d.into());
            }
            def.insert("when".into(), when.into());
            def.insert("grants".into(), grants.into());
            policies.insert(name.clone(), Value::Object(def));
            let parents: Vec<String> = p.inherits.iter().map(|&j| format!("P{j}")).collect();
            inherits.insert(name, parents.into());
        }
        let data = json!({
            "at": AT,
            "index": index,
            "unindexed": unindexed,
            "policies": policies,
            "inherits": inherits,
        });
        let gate = if self.require_active {
            "allowed if input.employment_status == \"Active\""
        } else {
            "allowed := true"
        };
        let module = format!(
            r#"package polc

import rego.v1

# The bundle-wide gate (`require`).
{gate}

# The policies whose first trigger the user's own values meet, by key lookup.
candidates contains p if {{
	some attr, by_value in data.index
	some p in by_value[input[attr]]
}}

candidates contains p if some p in data.unindexed

applies contains p if {{
	allowed
	some p in candidates
	pol := data.policies[p]
	in_force(pol)
	every t in pol.when {{
		holds(t)
	}}
}}

in_force(pol) if {{
	object.get(pol, "effective", "") <= data.at
	data.at < object.get(pol, "expires", "9999-12-31")
}}

holds(t) if {{
	t.op == "=="
	input[t.attr] == t.value
}}

holds(t) if {{
	t.op == "in"
	input[t.attr] in t.values
}}

holds(t) if {{
	t.op == ">="
	input[t.attr] >= t.value
}}

# What the applying policies inherit, transitively (a handful of policies per user)...
inherited := graph.reachable(data.inherits, applies)

# ...and the same graph without the edges into policies out of force on `data.at`.
live[p] := [j | some j in data.inherits[p]; in_force(data.policies[j])] if some p in inherited

reached := graph.reachable(live, applies)

grants contains g if {{
	some p in reached
	some g in data.policies[p].grants
}}

level_names := ["viewer", "member", "admin"]

level_name(rank) := level_names[rank]

level_name(rank) := null if rank == null

# Every entitlement once, at the highest level any applying policy gives it.
access[ent] := name if {{
	some g in grants
	ent := g.grant
	rank := max({{h.level | some h in grants; h.grant == ent}})
	name := level_name(rank)
}}
"#
        );
        (vec![("indexed.rego".to_string(), module)], data.to_string())
    }
}

/// `(path, text)` of every file of the bundle.
pub fn bundle(shape: OrgShape) -> Vec<(String, String)> {
    org(shape).pol_files()
}

/// The same policy set as idiomatic Rego modules (see [`Org::rego`]).
pub fn rego(shape: OrgShape) -> Vec<(String, String)> {
    org(shape).rego()
}

/// The same policy set as indexed Rego and its data document (see [`Org::rego_indexed`]).
pub fn rego_indexed(shape: OrgShape) -> (Vec<(String, String)>, String) {
    org(shape).rego_indexed()
}

/// `n` HRIS users as a JSON array, matching the departments and titles of [`bundle`].
pub fn users_json(shape: OrgShape, n: usize) -> String {
    let mut rng = Rng::new(7);
    let mut out = String::with_capacity(n * 200);
    out.push('[');
    for i in 0..n {
        if i > 0 {
            out.push_str(",\n");
        }
        let status = if rng.below(20) == 0 {
            "Inactive"
        } else {
            "Active"
        };
        let ty = ["FTE", "FTE", "FTE", "Contractor", "Intern"][rng.below(5)];
        out.push_str(&format!(
            "{{\"user_id\": \"u{i}\", \"email\": \"u{i}@company.com\", \"job_title\": \"Title {}\", \"department\": \"Dept {}\", \"employment_status\": \"{status}\", \"employment_type\": \"{ty}\", \"start_date\": \"20{:02}-0{}-1{}\", \"level\": {}}}",
            rng.below(shape.titles),
            rng.below(shape.departments),
            10 + rng.below(15),
            1 + rng.below(9),
            rng.below(10),
            rng.below(6)
        ));
    }
    out.push(']');
    out
}

/// The CPU time this process has used (user and system), from `/proc/self/stat` (Linux;
/// zero elsewhere). On a shared machine the wall time of a single-threaded step depends on
/// the other work running; its CPU time much less, so benchmarks print both.
pub fn cpu_time() -> std::time::Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return std::time::Duration::ZERO;
    };
    // the fields after the command name (which is in parentheses and may hold spaces)
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return std::time::Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // clock ticks: 100 a second on Linux (USER_HZ)
    std::time::Duration::from_millis(ticks * 10)
}
