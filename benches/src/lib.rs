//! Generators of synthetic organisations for the benchmarks: a Pol bundle of any size
//! (policies with triggers, templates and inheritance over many systems) and HRIS users
//! that match it. Deterministic: the same parameters give the same text.

/// Shape of a generated organisation.
#[derive(Clone, Copy, Debug)]
pub struct OrgShape {
    pub policies: usize,
    pub files: usize,
    pub systems: usize,
    pub departments: usize,
    pub titles: usize,
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
        }
    }
    /// The interpreter benchmark: ~2,000 policies over 20 systems.
    pub fn eval_benchmark() -> OrgShape {
        OrgShape {
            policies: 2_000,
            files: 20,
            systems: 20,
            departments: 40,
            titles: 400,
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

const LEVELS: &[&str] = &["viewer", "member", "admin"];

/// `(path, text)` of every file of the bundle. One file declares the systems; policies
/// are spread over the others. Every fifth policy is a template; most policies inherit one.
pub fn bundle(shape: OrgShape) -> Vec<(String, String)> {
    let mut rng = Rng::new(42);
    let mut files: Vec<(String, String)> = Vec::new();
    let mut systems = String::from("import \"std/hris\"\nimport \"std/saas\"\n\nschema {\n  level: int?\n  region: string?\n}\n\n");
    for s in 0..shape.systems {
        systems.push_str(&format!(
            "/// System {s}.\nsystem sys{s} \"System {s}\" {{\n  grace 7d\n  resource group {{ levels viewer < member < admin }}\n  resource role\n}}\n\n"
        ));
    }
    files.push(("systems.pol".to_string(), systems));
    let per_file = shape.policies.div_ceil(shape.files.max(1));
    let mut text = String::new();
    for i in 0..shape.policies {
        let template = i % 5 == 0;
        let kind = if template { "template" } else { "policy" };
        text.push_str(&format!("/// Access for group {i}.\n{kind} \"P{i}\" {{\n"));
        text.push_str(&format!("  owner \"team{}@company.com\"\n", i % 50));
        if !template {
            text.push_str("  effective 2024-01-01\n");
            let dept = rng.below(shape.departments);
            let t1 = rng.below(shape.titles);
            let t2 = rng.below(shape.titles);
            text.push_str(&format!("  when department == \"Dept {dept}\"\n"));
            text.push_str(&format!(
                "  when job_title in [\"Title {t1}\", \"Title {t2}\"]\n"
            ));
            if rng.below(4) == 0 {
                text.push_str(&format!("  when level >= {}\n", rng.below(5)));
            }
            // inherit an earlier template (i/5*5 is a template index at or below i)
            if i >= 5 {
                let t = (rng.below(i / 5)) * 5;
                text.push_str(&format!("  inherits \"P{t}\"\n"));
            }
        }
        let grants = 4 + rng.below(4);
        for g in 0..grants {
            let s = rng.below(shape.systems);
            if g % 3 == 2 {
                text.push_str(&format!("  grant sys{s}:role:r{}\n", rng.below(200)));
            } else {
                let lvl = LEVELS[rng.below(LEVELS.len())];
                text.push_str(&format!(
                    "  grant sys{s}:group:g{}-{g} ({lvl}) grace 30d\n",
                    i
                ));
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
