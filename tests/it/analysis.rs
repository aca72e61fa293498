//! The analysis against the interpreter: on random triggers over a small schema, an
//! "unsatisfiable" answer is never contradicted by a record and a date, and every witness
//! makes the triggers hold; on random small bundles with a conflict, every E0501 witness
//! reproduces the violation, and when none is reported no record reaches the conflict;
//! every E0501 case file's witness reproduces its violation.

use std::sync::Arc;

use chrono::NaiveDate;
use polc::analysis::policies::BundleAnalysis;
use polc::analysis::{conflicts, findings, satisfiable, DateRange, Sat};
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::eval::expr::{CExpr, Env};
use polc::eval::Plan;
use polc::ir::{Bundle, Expr, PolicyId, Value};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const SCHEMA: &str = "schema {\n  user_id: string key\n  status: enum { A, B, C }\n  dept: string?\n  title: string?\n  level: int?\n  start: date?\n  remote: bool?\n  groups: list<string>?\n}\nsystem x { resource role }\n";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn checked(src: &str) -> Arc<Bundle> {
    let text = format!("{SCHEMA}{src}");
    let loaded = Loaded::from_sources(&[("p.pol", text.as_str())]);
    let c = check_bundle(&loaded.db, loaded.workspace);
    // E0501 is the analysis's own finding, not a mistake of the generator.
    let errors: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code != "E0501")
        .collect();
    assert!(errors.is_empty(), "{src}\n{errors:?}");
    c.bundle.clone()
}

/// One random condition, as source text.
fn atom() -> impl Strategy<Value = String> {
    let text = prop::sample::select(vec!["Sales", "sales", "Eng", "Ops"]);
    let glob = prop::sample::select(vec!["S*", "*s", "?ales", "*", "E*g", "Sa?es", "*a*"]);
    let op = prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]);
    let date = prop::sample::select(vec!["2025-10-01", "2025-12-15", "2026-01-03"]);
    let attr = prop::sample::select(vec!["dept", "title"]);
    prop_oneof![
        (
            attr.clone(),
            prop::sample::select(vec!["==", "!="]),
            text.clone()
        )
            .prop_map(|(a, o, v)| format!("{a} {o} \"{v}\"")),
        (attr.clone(), any::<bool>(), text.clone(), text.clone()).prop_map(|(a, n, v, w)| {
            format!("{a} {}in [\"{v}\", \"{w}\"]", if n { "not " } else { "" })
        }),
        (attr.clone(), glob.clone()).prop_map(|(a, g)| format!("{a} matches \"{g}\"")),
        text.clone()
            .prop_map(|v| format!("lower(dept) == \"{}\"", v.to_lowercase())),
        glob.prop_map(|g| format!("lower(title) matches \"{}\"", g.to_lowercase())),
        prop::sample::select(vec![
            "status == \"A\"",
            "status != \"B\"",
            "status in [\"A\", \"C\"]",
            "status not in [\"A\", \"B\"]"
        ])
        .prop_map(String::from),
        (op.clone(), 0i64..6).prop_map(|(o, n)| format!("level {o} {n}")),
        (any::<bool>(), 0i64..4, 0i64..4)
            .prop_map(|(n, a, b)| format!("level {}in [{a}, {b}]", if n { "not " } else { "" })),
        (op.clone(), date.clone()).prop_map(|(o, d)| format!("start {o} {d}")),
        (op.clone(), prop::sample::select(vec![0i64, 30, 90, 100]))
            .prop_map(|(o, n)| format!("days_since(start) {o} {n}")),
        op.clone().prop_map(|o| format!("start {o} today")),
        (op, date).prop_map(|(o, d)| format!("today {o} {d}")),
        prop::sample::select(vec![
            "has(dept)",
            "has(level)",
            "has(start)",
            "remote",
            "remote == false",
            "contains(groups, \"a\")",
            "\"b\" in groups",
            "\"a\" not in groups",
        ])
        .prop_map(String::from),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|x| format!("not ({x})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) or ({b})")),
        ]
    })
}

const FIELDS: [&str; 8] = [
    "user_id", "status", "dept", "title", "level", "start", "remote", "groups",
];

/// A random record: each optional attribute absent or one of a few values that hit the
/// generated conditions' edges.
fn record() -> impl Strategy<Value = Vec<Option<Value>>> {
    let s = |v: &[&'static str]| {
        let vals: Vec<Option<Value>> = std::iter::once(None)
            .chain(v.iter().map(|x| Some(Value::Str(x.to_string()))))
            .collect();
        prop::sample::select(vals)
    };
    let dates: Vec<Option<Value>> = std::iter::once(None)
        .chain(
            [
                "2025-09-01",
                "2025-09-25",
                "2025-10-01",
                "2025-10-02",
                "2025-12-01",
                "2025-12-15",
                "2025-12-16",
                "2026-01-01",
                "2026-01-03",
                "2026-01-04",
                "2026-01-09",
            ]
            .iter()
            .map(|d| Some(Value::Date(day(d)))),
        )
        .collect();
    let level: Vec<Option<Value>> = std::iter::once(None)
        .chain((-3..8).map(|n| Some(Value::Int(n))))
        .collect();
    let groups: Vec<Option<Value>> = vec![
        None,
        Some(Value::List(vec![])),
        Some(Value::List(vec![Value::Str("a".into())])),
        Some(Value::List(vec![Value::Str("b".into())])),
        Some(Value::List(vec![
            Value::Str("a".into()),
            Value::Str("b".into()),
        ])),
    ];
    (
        prop::sample::select(vec!["A", "B", "C"]),
        s(&[
            "Sales", "sales", "SALES", "Eng", "Ops", "Sx", "s", "Salts", "Eng-ng", "x",
        ]),
        s(&["Sales", "sales", "Eng", "Ops", "Ea", "x"]),
        prop::sample::select(level),
        prop::sample::select(dates),
        prop::sample::select(vec![
            None,
            Some(Value::Bool(true)),
            Some(Value::Bool(false)),
        ]),
        prop::sample::select(groups),
    )
        .prop_map(|(st, d, t, l, sd, r, g)| {
            vec![
                Some(Value::Str("r".into())),
                Some(Value::Str(st.into())),
                d,
                t,
                l,
                sd,
                r,
                g,
            ]
        })
}

fn holds(exprs: &[&Expr], values: &[Option<Value>], today: NaiveDate) -> bool {
    let slot = |a: &str| FIELDS.iter().position(|f| *f == a);
    exprs
        .iter()
        .all(|e| Env { values, today }.test(&CExpr::compile(e, &slot)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn answers_agree_with_the_interpreter(
        whens in prop::collection::vec(condition(), 1..5),
        span in 0i64..6,
        records in prop::collection::vec(record(), 150),
    ) {
        let src = format!(
            "policy \"P\" {{\n{}\n  grant x:role:a\n}}\n",
            whens.iter().map(|w| format!("  when {w}\n")).collect::<String>()
        );
        let b = checked(&src);
        let exprs: Vec<&Expr> = b.policies.iter().next().unwrap().triggers.iter().collect();
        let from = day("2026-01-01");
        let range = DateRange::new(from, from + chrono::Duration::days(span));
        match satisfiable(&exprs, b.schema.as_ref(), range) {
            Sat::Sat { witness } => {
                prop_assert!(witness.date >= range.from && witness.date <= range.to);
                let fields: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
                let values = witness.record(&fields);
                prop_assert!(values[0].is_some() && values[1].is_some(), "required fields: {witness}");
                let schema = b.schema.as_ref().unwrap();
                for (name, v) in &witness.values {
                    let ty = &schema.field(name).expect("a schema field").ty;
                    prop_assert!(polc::check::exprs::value_fits(v, ty).is_ok(), "{name} = {v} in {witness}");
                }
                prop_assert!(holds(&exprs, &values, witness.date), "{src}\nwitness {witness} fails");
            }
            Sat::Unsat { clash, .. } => {
                for r in &records {
                    for d in 0..=span {
                        let today = from + chrono::Duration::days(d);
                        if holds(&exprs, r, today) {
                            return Err(TestCaseError::fail(format!(
                                "{src}\nsaid unsatisfiable ({clash}) but {r:?} on {today} satisfies it"
                            )));
                        }
                    }
                }
            }
            Sat::Unknown => {
                // Allowed, but the conditions generated here are all modelled.
                return Err(TestCaseError::fail(format!("{src}\nunknown")));
            }
        }
    }

    #[test]
    fn conflict_witnesses_reproduce_and_silence_is_earned(
        policies in prop::collection::vec(
            (
                condition(),
                prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
                prop::option::of(prop::sample::select(vec!["a", "b"])),
                any::<bool>(),
                prop::sample::select(vec!["", "effective 2026-01-03", "expires 2026-01-03", "expires 2025-06-01"]),
            ),
            2..5,
        ),
        template in (prop::option::of(prop::sample::select(vec!["a", "b"])), prop::option::of(prop::sample::select(vec!["a", "b"]))),
        records in prop::collection::vec(record(), 150),
    ) {
        // A template that some policies inherit, with a grant and a deny of its own.
        let mut src = String::from("template \"T\" {\n");
        if let Some(g) = template.0 {
            src.push_str(&format!("  grant x:role:{g}\n"));
        }
        if let Some(d) = template.1 {
            src.push_str(&format!("  deny x:role:{d}\n"));
        }
        src.push_str("}\n");
        for (i, (when, grants, deny, inherits, window)) in policies.iter().enumerate() {
            src.push_str(&format!("policy \"P{i}\" {{\n  {window}\n  when {when}\n"));
            if *inherits {
                src.push_str("  inherits \"T\"\n");
            }
            for g in grants {
                src.push_str(&format!("  grant x:role:{g}\n"));
            }
            if let Some(d) = deny {
                src.push_str(&format!("  deny x:role:{d}\n"));
            }
            src.push_str("}\n");
        }
        src.push_str("conflict \"AB\" { x:role:a, x:role:b }\n");
        let b = checked(&src);
        let today = day("2026-01-01");
        let mut ba = BundleAnalysis::new(&b, today);
        let found = conflicts::reachable(&mut ba);
        let fields: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
        if let Some(r) = found.first() {
            let plan = Plan::new(b.clone(), &fields, r.witness.date);
            let values = r.witness.record(&fields);
            let e = plan.evaluate("w", &values);
            prop_assert!(e.violations.iter().any(|v| v.conflict == 0), "{src}\nwitness {} does not reproduce", r.witness);
        } else {
            for d in [0i64, 2, 3, 8, 400] {
                let at = today + chrono::Duration::days(d);
                let plan = Plan::new(b.clone(), &fields, at);
                for rec in &records {
                    let e = plan.evaluate("r", rec);
                    prop_assert!(e.violations.is_empty(), "{src}\nno E0501, but {rec:?} on {at} violates the conflict");
                }
            }
        }
    }

    #[test]
    fn warnings_hold_on_random_records(
        policies in prop::collection::vec(
            (
                condition(),
                prop::collection::vec(prop::sample::select(vec!["a", "b"]), 0..3),
                prop::option::of(prop::sample::select(vec!["a", "x:role:*"])),
                any::<bool>(),
                prop::sample::select(vec!["", "", "effective 2026-01-03", "expires 2026-01-04"]),
            ),
            2..5,
        ),
        require in prop::option::of(atom()),
        records in prop::collection::vec(record(), 120),
    ) {
        let mut src = String::from("template \"T\" {\n  grant x:role:b\n}\n");
        if let Some(r) = &require {
            src.push_str(&format!("require {r}\n"));
        }
        for (i, (when, grants, deny, inherits, window)) in policies.iter().enumerate() {
            src.push_str(&format!("policy \"P{i}\" {{\n  {window}\n  when {when}\n"));
            if *inherits {
                src.push_str("  inherits \"T\"\n");
            }
            for g in grants {
                src.push_str(&format!("  grant x:role:{g}\n"));
            }
            if let Some(d) = deny {
                let pat = if d.contains(':') { d.to_string() } else { format!("x:role:{d}") };
                src.push_str(&format!("  deny {pat}\n"));
            }
            src.push_str("}\n");
        }
        let b = checked(&src);
        let today = day("2026-01-01");
        let mut ba = BundleAnalysis::new(&b, today);
        let never = findings::never_applies(&mut ba);
        let shadowed = findings::shadowed(&mut ba);
        let denied = findings::always_denied(&mut ba);
        let fields: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
        for d in [0i64, 1, 2, 3, 5, 40] {
            let at = today + chrono::Duration::days(d);
            let plan = Plan::new(b.clone(), &fields, at);
            for rec in &records {
                let e = plan.evaluate("r", rec);
                let applies = |p: PolicyId| e.policies.contains(&p);
                for n in &never {
                    prop_assert!(!applies(n.policy), "{src}\nW0102 {} ({}) but {rec:?} on {at}", u32::from(n.policy), n.clash);
                }
                for s in &shadowed {
                    prop_assert!(!applies(s.policy) || applies(s.by), "{src}\nW0301 {} by {} but {rec:?} on {at}", u32::from(s.policy), u32::from(s.by));
                }
                for w in &denied {
                    let ent = &b.policy(w.policy).grants[w.grant].entitlement;
                    let kept = e.grants.iter().filter(|g| plan.ents[g.ent] == *ent).any(|g| {
                        g.sources.iter().any(|src| match src.kind {
                            polc::eval::SourceKind::Path(p) => plan.path(p).last() == Some(&w.policy),
                            polc::eval::SourceKind::Exception(_) => false,
                        })
                    });
                    prop_assert!(!kept, "{src}\nW0104 on P{} grant {} but {rec:?} on {at} keeps it", u32::from(w.policy), w.grant);
                }
            }
        }
    }
}

/// Every E0501 case file, and the explanation's example: the witness in the diagnostic's
/// analysis reproduces the violation on the whole bundle (exceptions included).
#[test]
fn e0501_case_witnesses_reproduce() {
    let dir = std::path::Path::new(root!()).join("tests/diagnostics");
    let mut sources: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("E0501")
        })
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    sources.push(
        polc::diagnostics::explain::example("E0501", "Wrong")
            .unwrap()
            .to_string(),
    );
    assert!(sources.len() >= 3);
    for src in sources {
        let loaded = Loaded::from_sources(&[("case.pol", src.as_str())]);
        let b = check_bundle(&loaded.db, loaded.workspace).bundle.clone();
        let mut ba = BundleAnalysis::new(&b, day("2026-01-01"));
        let found = conflicts::reachable(&mut ba);
        assert!(!found.is_empty(), "{src}");
        let fields = ba.record_fields();
        for r in found {
            let plan = Plan::new(b.clone(), &fields, r.witness.date);
            let id = match r.witness.get("user_id") {
                Some(Value::Str(s)) => s.clone(),
                _ => "w".into(),
            };
            let e = plan.evaluate(&id, &r.witness.record(&fields));
            assert!(
                e.violations.iter().any(|v| v.conflict == r.conflict),
                "{src}\n{} does not reproduce",
                r.witness
            );
        }
    }
}
