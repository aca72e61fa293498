//! Content → IR: [`Content::to_ir`] rebuilds the [`ir::Bundle`] a bundle's content
//! describes, checking every index against what it indexes (policy ids against the
//! policies, system and type ids against the systems, level ranks against the type's
//! levels, default ranks) and every piece of text that has a syntax (dates, durations,
//! operators, function names). The first problem is reported with where it is
//! (`policy 3 "Sales": grant 1: system id 7 out of range (2 systems)`); nothing panics.

use super::expr::{parse_date, parse_opt_date, parse_opt_duration, Expr};
use super::format::{Content, Entitlement, Exception, Grant, Pattern, Policy, System, Test};
use super::ContentError;
use crate::index_vec::IndexVec;
use crate::ir;

/// Says where an error was found: `policy 3 "Sales": grant 1: …`.
fn at<T>(r: Result<T, ContentError>, place: impl FnOnce() -> String) -> Result<T, ContentError> {
    r.map_err(|e| e.at(place()))
}

fn exprs(v: &[Expr]) -> Result<Vec<ir::Expr>, ContentError> {
    v.iter()
        .enumerate()
        .map(|(i, e)| at(e.to_ir(), || format!("expression {i}")))
        .collect()
}

impl Content {
    /// The IR this content describes, after checking every index and every piece of text
    /// that has a syntax (dates, durations, operators, function names).
    pub fn to_ir(&self) -> Result<ir::Bundle, ContentError> {
        let systems = self
            .systems
            .iter()
            .enumerate()
            .map(|(i, s)| at(s.to_ir(), || format!("system {i} `{}`", s.name)))
            .collect::<Result<IndexVec<_, _>, _>>()?;
        let v = Validator {
            systems: &systems,
            policies: self.policies.len(),
        };
        let mut policies = IndexVec::with_capacity(self.policies.len());
        for (i, p) in self.policies.iter().enumerate() {
            policies.push(at(v.policy(p), || format!("policy {i} \"{}\"", p.name))?);
        }
        let mut exceptions = Vec::with_capacity(self.exceptions.len());
        for (i, e) in self.exceptions.iter().enumerate() {
            exceptions.push(at(v.exception(e), || format!("exception {i}"))?);
        }
        let mut tests = Vec::with_capacity(self.tests.len());
        for (i, t) in self.tests.iter().enumerate() {
            tests.push(at(v.test(t), || format!("test {i} \"{}\"", t.name))?);
        }
        Ok(ir::Bundle {
            schema: self.schema.as_ref().map(|s| ir::Schema {
                fields: s
                    .fields
                    .iter()
                    .map(|f| ir::Field {
                        name: f.name.clone(),
                        ty: f.ty.to_ir(),
                        optional: f.optional,
                        doc: f.doc.clone(),
                    })
                    .collect(),
                key: s.key.clone(),
            }),
            requires: at(exprs(&self.requires), || "require".to_string())?,
            policies,
            exceptions,
            conflicts: self
                .conflicts
                .iter()
                .map(|c| ir::Conflict {
                    name: c.name.clone(),
                    patterns: c.patterns.iter().map(Pattern::to_ir).collect(),
                    reason: c.reason.clone(),
                })
                .collect(),
            tests,
            systems,
        })
    }
}

impl System {
    fn to_ir(&self) -> Result<ir::System, ContentError> {
        let mut types = IndexVec::with_capacity(self.types.len());
        for (i, t) in self.types.iter().enumerate() {
            let place = || format!("type {i} `{}`", t.name);
            if let Some(d) = t.default {
                if usize::from(d) >= t.levels.len() {
                    let levels = t.levels.len();
                    return Err(ContentError::DefaultLevel { rank: d, levels }.at(place()));
                }
            }
            if t.levels.len() > usize::from(u8::MAX) + 1 {
                return Err(ContentError::TooManyLevels.at(place()));
            }
            types.push(ir::ResourceType {
                name: t.name.clone(),
                levels: t.levels.clone(),
                default: t.default,
                grace: at(parse_opt_duration(&t.grace), place)?,
            });
        }
        Ok(ir::System {
            name: self.name.clone(),
            display: self.display.clone(),
            grace: parse_opt_duration(&self.grace)?,
            types,
            doc: self.doc.clone(),
        })
    }
}

impl Pattern {
    fn to_ir(&self) -> ir::Pattern {
        ir::Pattern {
            system: self.system.clone(),
            rtype: self.rtype.clone(),
            name: self.name.clone(),
            text: self.text.clone(),
        }
    }
}

/// Checks indices against the systems and the number of policies.
struct Validator<'a> {
    systems: &'a IndexVec<ir::SystemId, ir::System>,
    policies: usize,
}

impl Validator<'_> {
    fn entitlement(&self, e: &Entitlement) -> Result<(ir::Entitlement, usize), ContentError> {
        let (system, rtype) = (ir::SystemId::from(e.system), ir::TypeId::from(e.rtype));
        let sys = self.systems.get(system).ok_or(ContentError::SystemId {
            id: e.system,
            count: self.systems.len(),
        })?;
        let ty = sys.types.get(rtype).ok_or_else(|| ContentError::TypeId {
            id: e.rtype,
            system: sys.name.clone(),
            count: sys.types.len(),
        })?;
        let ent = ir::Entitlement {
            system,
            rtype,
            name: e.name.clone(),
        };
        Ok((ent, ty.levels.len()))
    }

    fn level(&self, level: Option<u8>, levels: usize) -> Result<Option<u8>, ContentError> {
        match level {
            Some(rank) if usize::from(rank) >= levels => Err(ContentError::Level { rank, levels }),
            l => Ok(l),
        }
    }

    fn grants(&self, gs: &[Grant]) -> Result<Vec<ir::Grant>, ContentError> {
        let mut out = Vec::with_capacity(gs.len());
        for (i, g) in gs.iter().enumerate() {
            let place = || format!("grant {i}");
            let (entitlement, levels) = at(self.entitlement(&g.entitlement), place)?;
            out.push(ir::Grant {
                entitlement,
                level: at(self.level(g.level, levels), place)?,
                grace: at(parse_opt_duration(&g.grace), place)?,
            });
        }
        Ok(out)
    }

    fn policy(&self, p: &Policy) -> Result<ir::Policy, ContentError> {
        for &id in &p.inherits {
            if !usize::try_from(id).is_ok_and(|i| i < self.policies) {
                return Err(ContentError::PolicyId {
                    id,
                    count: self.policies,
                });
            }
        }
        Ok(ir::Policy {
            name: p.name.clone(),
            template: p.template,
            doc: p.doc.clone(),
            triggers: at(exprs(&p.triggers), || "when".to_string())?,
            inherits: p.inherits.iter().map(|&w| ir::PolicyId::from(w)).collect(),
            grants: self.grants(&p.grants)?,
            denies: p.denies.iter().map(Pattern::to_ir).collect(),
            effective: at(parse_opt_date(&p.effective), || "effective".to_string())?,
            expires: at(parse_opt_date(&p.expires), || "expires".to_string())?,
            version: p.version.clone(),
            owner: p.owner.clone(),
            description: p.description.clone(),
        })
    }

    fn exception(&self, e: &Exception) -> Result<ir::Exception, ContentError> {
        Ok(ir::Exception {
            name: e.name.clone(),
            user: e.user.clone(),
            grants: self.grants(&e.grants)?,
            justification: e.justification.clone(),
            approved_by: e.approved_by.clone(),
            expires: at(parse_date(&e.expires), || "expires".to_string())?,
            effective: at(parse_opt_date(&e.effective), || "effective".to_string())?,
            meta: e
                .meta
                .iter()
                .map(|m| (m.key.clone(), m.value.clone()))
                .collect(),
        })
    }

    fn test(&self, t: &Test) -> Result<ir::Test, ContentError> {
        let mut given = Vec::with_capacity(t.given.len());
        for g in &t.given {
            given.push((g.name.clone(), at(g.value.to_ir(), || g.name.clone())?));
        }
        let mut expect_grants = Vec::with_capacity(t.expect_grants.len());
        for (i, g) in t.expect_grants.iter().enumerate() {
            let place = || format!("expect grant {i}");
            let (entitlement, levels) = at(self.entitlement(&g.entitlement), place)?;
            expect_grants.push(ir::ExpectGrant {
                entitlement,
                level: at(self.level(g.level, levels), place)?,
                negated: g.negated,
                text: g.text.clone(),
            });
        }
        Ok(ir::Test {
            name: t.name.clone(),
            given,
            at: at(parse_opt_date(&t.at), || "at".to_string())?,
            expect_policies: t.expect_policies.clone(),
            expect_grants,
        })
    }
}
