//! A hand-built bundle with every variant of every IR enum (expressions, values, types,
//! functions, operators) and every optional field both set and unset, for the round-trip
//! and validation tests.

use chrono::NaiveDate;

use crate::ir::{self, CmpOp, Duration, Expr, Func, Value};
use crate::syntax::lexer::DurationUnit;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dur(amount: u32, unit: DurationUnit) -> Duration {
    Duration { amount, unit }
}

pub fn every_variant() -> ir::Bundle {
    let lit = |v: Value| Expr::Lit(v);
    let attr = |s: &str| Expr::Attr(s.into());
    let cmp = |op, a, b| Expr::Cmp(op, Box::new(a), Box::new(b));
    let ent = |system: u32, rtype: u32, name: Option<&str>| ir::Entitlement {
        system: system.into(),
        rtype: rtype.into(),
        name: name.map(String::from),
    };
    let pattern = |s: &str, t: &str, n: Option<&str>, text: &str| ir::Pattern {
        system: s.into(),
        rtype: t.into(),
        name: n.map(String::from),
        text: text.into(),
    };
    let requires = vec![
        lit(Value::Bool(true)),
        cmp(CmpOp::Eq, attr("a"), lit(Value::Int(i64::MIN))),
        cmp(CmpOp::Ne, attr("a"), lit(Value::Int(i64::MAX))),
        cmp(CmpOp::Lt, Expr::Today, lit(Value::Date(date("2024-02-29")))),
        cmp(CmpOp::Le, attr("d"), lit(Value::Date(date("0001-01-01")))),
        cmp(CmpOp::Gt, attr("d"), lit(Value::Date(date("9999-12-31")))),
        cmp(
            CmpOp::Ge,
            attr("s"),
            lit(Value::Str("q\"u\\o\n\u{7f}é".into())),
        ),
        Expr::Not(Box::new(Expr::And(vec![
            attr("x"),
            Expr::Or(vec![attr("y"), attr("z")]),
        ]))),
        Expr::And(vec![]),
        Expr::Or(vec![]),
        Expr::In {
            lhs: Box::new(attr("a")),
            rhs: Box::new(lit(Value::List(vec![
                Value::Str("x".into()),
                Value::List(vec![Value::Int(1), Value::Bool(false)]),
                Value::List(vec![]),
            ]))),
            negated: false,
        },
        Expr::In {
            lhs: Box::new(attr("a")),
            rhs: Box::new(Expr::List(vec![attr("b"), lit(Value::Str("c".into()))])),
            negated: true,
        },
        Expr::Matches(Box::new(attr("t")), Box::new(lit(Value::Str("a*?".into())))),
        Expr::Call(Func::DaysSince, vec![attr("start")]),
        Expr::Call(Func::Lower, vec![attr("t")]),
        Expr::Call(Func::Has, vec![attr("m")]),
        Expr::Call(
            Func::Contains,
            vec![attr("tags"), lit(Value::Str("e".into()))],
        ),
        Expr::List(vec![]),
    ];
    let types = [
        ir::Type::String,
        ir::Type::Int,
        ir::Type::Bool,
        ir::Type::Date,
        ir::Type::Duration,
        ir::Type::Enum(vec!["A".into(), "b c".into()]),
        ir::Type::List(Box::new(ir::Type::List(Box::new(ir::Type::Enum(vec![]))))),
        ir::Type::Any,
    ];
    let fields = types
        .iter()
        .enumerate()
        .map(|(i, ty)| ir::Field {
            name: format!("f{i}"),
            ty: ty.clone(),
            optional: i % 2 == 0,
            doc: (i == 0).then(|| "the doc".into()),
        })
        .collect();
    let full_type = ir::ResourceType {
        name: "group".into(),
        levels: vec!["low".into(), "mid".into(), "high".into()],
        default: Some(2),
        grace: Some(dur(12, DurationUnit::Hours)),
    };
    let bare_type = ir::ResourceType {
        name: "license".into(),
        levels: vec![],
        default: None,
        grace: None,
    };
    ir::Bundle {
        schema: Some(ir::Schema {
            fields,
            key: "f0".into(),
        }),
        systems: vec![
            ir::System {
                name: "gitlab".into(),
                display: Some("GitLab".into()),
                grace: Some(dur(u32::MAX, DurationUnit::Days)),
                types: vec![full_type, bare_type].into(),
                doc: Some("doc".into()),
            },
            ir::System {
                name: "empty".into(),
                display: None,
                grace: Some(dur(0, DurationUnit::Weeks)),
                types: vec![].into(),
                doc: None,
            },
        ]
        .into(),
        requires,
        policies: vec![
            ir::Policy {
                name: "A".into(),
                template: false,
                doc: Some("d".into()),
                triggers: vec![attr("x"), Expr::Today],
                inherits: vec![ir::PolicyId::from(1), ir::PolicyId::from(1)],
                grants: vec![
                    ir::Grant {
                        entitlement: ent(0, 0, Some("eng")),
                        level: Some(0),
                        grace: Some(dur(3, DurationUnit::Days)),
                    },
                    ir::Grant {
                        entitlement: ent(0, 1, None),
                        level: None,
                        grace: None,
                    },
                ],
                denies: vec![
                    pattern("a*", "b", None, "a*:b"),
                    pattern("*", "*", Some("c?"), "*:*:c?"),
                ],
                effective: Some(date("2024-01-01")),
                expires: Some(date("2026-01-01")),
                version: Some("1.0".into()),
                owner: Some("o".into()),
                description: Some("desc".into()),
            },
            ir::Policy {
                name: "T".into(),
                template: true,
                doc: None,
                triggers: vec![],
                inherits: vec![],
                grants: vec![],
                denies: vec![],
                effective: None,
                expires: None,
                version: None,
                owner: None,
                description: None,
            },
        ]
        .into(),
        exceptions: vec![
            ir::Exception {
                name: Some("E".into()),
                user: "u".into(),
                grants: vec![ir::Grant {
                    entitlement: ent(0, 0, Some("x y")),
                    level: Some(2),
                    grace: None,
                }],
                justification: "j".into(),
                approved_by: "a".into(),
                expires: date("2025-01-31"),
                effective: Some(date("2024-12-01")),
                meta: vec![
                    ("ticket".into(), "SEC-1".into()),
                    ("ticket".into(), "2".into()),
                ],
            },
            ir::Exception {
                name: None,
                user: "v".into(),
                grants: vec![],
                justification: String::new(),
                approved_by: String::new(),
                expires: date("2025-01-31"),
                effective: None,
                meta: vec![],
            },
        ],
        conflicts: vec![
            ir::Conflict {
                name: "SoD".into(),
                patterns: vec![pattern("gitlab", "group", Some("a"), "gitlab:group:a")],
                reason: Some("r".into()),
            },
            ir::Conflict {
                name: "Empty".into(),
                patterns: vec![],
                reason: None,
            },
        ],
        tests: vec![
            ir::Test {
                name: "t".into(),
                given: vec![
                    ("f0".into(), Value::Str("u".into())),
                    ("f3".into(), Value::Date(date("2024-01-02"))),
                    ("f6".into(), Value::List(vec![Value::Str("a".into())])),
                ],
                at: Some(date("2024-06-01")),
                expect_policies: Some(vec!["A".into()]),
                expect_grants: vec![
                    ir::ExpectGrant {
                        entitlement: ent(0, 0, Some("eng")),
                        level: Some(1),
                        negated: false,
                        text: "gitlab:group:eng".into(),
                    },
                    ir::ExpectGrant {
                        entitlement: ent(0, 1, None),
                        level: None,
                        negated: true,
                        text: "gitlab:license".into(),
                    },
                ],
            },
            ir::Test {
                name: "empty".into(),
                given: vec![],
                at: None,
                expect_policies: Some(vec![]),
                expect_grants: vec![],
            },
            ir::Test {
                name: "none".into(),
                given: vec![],
                at: None,
                expect_policies: None,
                expect_grants: vec![],
            },
        ],
    }
}
