//! The bundle's interchange schema: serde structs that mirror [`ir::Bundle`] field for field
//! but are not the IR types (the IR has no serde derives, so it can change freely; this
//! schema changes only with the format version). [`from_ir`] and [`Content::to_ir`] convert
//! both ways and round-trip exactly; `to_ir` (in [`super::validate`]) checks every index
//! (policy, system, type, level rank) and every date, duration, operator and function name,
//! and reports the first bad one with where it is, never panicking.
//!
//! Entitlements are indices, as in the IR: `{"system": 2, "type": 0, "name": "eng"}`.
//! Expressions, values and types are in [`super::expr`].

use serde::{Deserialize, Serialize};

use super::expr::{opt_date, opt_duration, Expr, Type, Value};
use crate::ir;

/// Everything a bundle file carries besides its header: the checked IR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    pub schema: Option<Schema>,
    pub systems: Vec<System>,
    pub requires: Vec<Expr>,
    pub policies: Vec<Policy>,
    pub exceptions: Vec<Exception>,
    pub conflicts: Vec<Conflict>,
    pub tests: Vec<Test>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub fields: Vec<Field>,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    pub optional: bool,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub name: String,
    pub display: Option<String>,
    pub grace: Option<String>,
    pub types: Vec<ResourceType>,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceType {
    pub name: String,
    pub levels: Vec<String>,
    pub default: Option<u8>,
    pub grace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    pub system: u32,
    #[serde(rename = "type")]
    pub rtype: u32,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub entitlement: Entitlement,
    pub level: Option<u8>,
    pub grace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    pub system: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub template: bool,
    pub doc: Option<String>,
    pub triggers: Vec<Expr>,
    pub inherits: Vec<u32>,
    pub grants: Vec<Grant>,
    pub denies: Vec<Pattern>,
    pub effective: Option<String>,
    pub expires: Option<String>,
    pub version: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub name: Option<String>,
    pub user: String,
    pub grants: Vec<Grant>,
    pub justification: String,
    pub approved_by: String,
    pub expires: String,
    pub effective: Option<String>,
    pub meta: Vec<Meta>,
}

/// One free-form `key "value"` line of an exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conflict {
    pub name: String,
    pub patterns: Vec<Pattern>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Test {
    pub name: String,
    pub given: Vec<Given>,
    pub at: Option<String>,
    pub expect_policies: Option<Vec<String>>,
    pub expect_grants: Vec<ExpectGrant>,
}

/// One attribute of a test's `given` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Given {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectGrant {
    pub entitlement: Entitlement,
    pub level: Option<u8>,
    pub negated: bool,
    pub text: String,
}

/// The interchange form of a checked bundle.
pub fn from_ir(b: &ir::Bundle) -> Content {
    let ent = |e: &ir::Entitlement| Entitlement {
        system: e.system.into(),
        rtype: e.rtype.into(),
        name: e.name.clone(),
    };
    let grant = |g: &ir::Grant| Grant {
        entitlement: ent(&g.entitlement),
        level: g.level,
        grace: opt_duration(g.grace),
    };
    let pattern = |p: &ir::Pattern| Pattern {
        system: p.system.clone(),
        rtype: p.rtype.clone(),
        name: p.name.clone(),
        text: p.text.clone(),
    };
    Content {
        schema: b.schema.as_ref().map(|s| Schema {
            fields: s
                .fields
                .iter()
                .map(|f| Field {
                    name: f.name.clone(),
                    ty: Type::from_ir(&f.ty),
                    optional: f.optional,
                    doc: f.doc.clone(),
                })
                .collect(),
            key: s.key.clone(),
        }),
        systems: b
            .systems
            .iter()
            .map(|s| System {
                name: s.name.clone(),
                display: s.display.clone(),
                grace: opt_duration(s.grace),
                types: s
                    .types
                    .iter()
                    .map(|t| ResourceType {
                        name: t.name.clone(),
                        levels: t.levels.clone(),
                        default: t.default,
                        grace: opt_duration(t.grace),
                    })
                    .collect(),
                doc: s.doc.clone(),
            })
            .collect(),
        requires: b.requires.iter().map(Expr::from_ir).collect(),
        policies: b
            .policies
            .iter()
            .map(|p| Policy {
                name: p.name.clone(),
                template: p.template,
                doc: p.doc.clone(),
                triggers: p.triggers.iter().map(Expr::from_ir).collect(),
                inherits: p.inherits.iter().map(|&w| u32::from(w)).collect(),
                grants: p.grants.iter().map(grant).collect(),
                denies: p.denies.iter().map(pattern).collect(),
                effective: opt_date(p.effective),
                expires: opt_date(p.expires),
                version: p.version.clone(),
                owner: p.owner.clone(),
                description: p.description.clone(),
            })
            .collect(),
        exceptions: b
            .exceptions
            .iter()
            .map(|e| Exception {
                name: e.name.clone(),
                user: e.user.clone(),
                grants: e.grants.iter().map(grant).collect(),
                justification: e.justification.clone(),
                approved_by: e.approved_by.clone(),
                expires: super::expr::date_text(e.expires),
                effective: opt_date(e.effective),
                meta: e
                    .meta
                    .iter()
                    .map(|(k, v)| Meta {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            })
            .collect(),
        conflicts: b
            .conflicts
            .iter()
            .map(|c| Conflict {
                name: c.name.clone(),
                patterns: c.patterns.iter().map(pattern).collect(),
                reason: c.reason.clone(),
            })
            .collect(),
        tests: b
            .tests
            .iter()
            .map(|t| Test {
                name: t.name.clone(),
                given: t
                    .given
                    .iter()
                    .map(|(n, v)| Given {
                        name: n.clone(),
                        value: Value::from_ir(v),
                    })
                    .collect(),
                at: opt_date(t.at),
                expect_policies: t.expect_policies.clone(),
                expect_grants: t
                    .expect_grants
                    .iter()
                    .map(|g| ExpectGrant {
                        entitlement: ent(&g.entitlement),
                        level: g.level,
                        negated: g.negated,
                        text: g.text.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}
