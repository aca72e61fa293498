//! `polc inspect FILE`: a bundle's metadata (format, versions, digest, signature and
//! whether it was verified, sources) and contents, human or JSON. Both are rendered from
//! one [`Report`]; its lists are sorted: named things by name, grants by canonical text
//! (expressions and patterns stay in source order, levels lowest first).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{print_stdout, Exit, InputError};
use polc::bundle::{self, expr::opt_date, expr::opt_duration, Header};
use polc::ir;

mod human;

#[derive(Clone, Copy, ValueEnum)]
pub enum InspectFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct InspectArgs {
    /// A bundle file from `polc build`
    file: PathBuf,
    /// Refuse the bundle unless this public key (`KEY.pub`) signed it
    #[arg(long, value_name = "KEY")]
    verify_key: Option<PathBuf>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: InspectFormat,
}

pub fn run(a: InspectArgs) -> Result<Exit, InputError> {
    let (header, b) = bundle::load(&a.file, a.verify_key.as_deref())?;
    let report = Report::new(
        &a.file.display().to_string(),
        &header,
        a.verify_key.is_some(),
        &b,
    );
    match a.format {
        InspectFormat::Json => print_stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?,
        InspectFormat::Human => super::print_human(&report.human())?,
    }
    Ok(0)
}

#[derive(Serialize)]
pub struct Report {
    file: String,
    magic: String,
    format_version: u64,
    compiler_version: String,
    digest: String,
    signed: bool,
    key_id: Option<String>,
    /// Whether the signature was checked against `--verify-key` (and so is valid).
    verified: bool,
    created_from: Vec<String>,
    counts: Counts,
    schema: Option<SchemaOut>,
    systems: Vec<SystemOut>,
    requires: Vec<String>,
    policies: Vec<PolicyOut>,
    exceptions: Vec<ExceptionOut>,
    conflicts: Vec<ConflictOut>,
    tests: Vec<TestOut>,
}

#[derive(Serialize)]
struct Counts {
    policies: usize,
    templates: usize,
    systems: usize,
    resource_types: usize,
    requires: usize,
    exceptions: usize,
    conflicts: usize,
    tests: usize,
}

#[derive(Serialize)]
struct SchemaOut {
    key: String,
    fields: Vec<FieldOut>,
}

#[derive(Serialize)]
struct FieldOut {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    optional: bool,
}

#[derive(Serialize)]
struct SystemOut {
    name: String,
    display: Option<String>,
    grace: Option<String>,
    types: Vec<TypeOut>,
}

#[derive(Serialize)]
struct TypeOut {
    name: String,
    levels: Vec<String>,
    default: Option<String>,
    grace: Option<String>,
}

#[derive(Serialize)]
struct GrantOut {
    grant: String,
    level: Option<String>,
    grace: Option<String>,
}

#[derive(Serialize)]
struct PolicyOut {
    name: String,
    template: bool,
    triggers: Vec<String>,
    inherits: Vec<String>,
    grants: Vec<GrantOut>,
    denies: Vec<String>,
    effective: Option<String>,
    expires: Option<String>,
    version: Option<String>,
    owner: Option<String>,
    description: Option<String>,
}

#[derive(Serialize)]
struct ExceptionOut {
    name: Option<String>,
    user: String,
    grants: Vec<GrantOut>,
    justification: String,
    approved_by: String,
    effective: Option<String>,
    expires: String,
    /// Free-form lines such as `ticket "SEC-1234"`, in source order.
    meta: Vec<MetaOut>,
}

#[derive(Serialize)]
struct MetaOut {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct ConflictOut {
    name: String,
    patterns: Vec<String>,
    reason: Option<String>,
}

#[derive(Serialize)]
struct TestOut {
    name: String,
    at: Option<String>,
    expect_policies: Option<Vec<String>>,
    /// `grant REF [(level)]` or `no grant REF`, as written.
    expect_grants: Vec<String>,
}

fn grants(b: &ir::Bundle, gs: &[ir::Grant]) -> Vec<GrantOut> {
    let mut out: Vec<GrantOut> = gs
        .iter()
        .map(|g| GrantOut {
            grant: b.entitlement_text(&g.entitlement),
            level: b.level_name(&g.entitlement, g.level).map(String::from),
            grace: opt_duration(g.grace),
        })
        .collect();
    out.sort_by(|x, y| (&x.grant, &x.level).cmp(&(&y.grant, &y.level)));
    out
}

impl Report {
    pub fn new(file: &str, h: &Header, verified: bool, b: &ir::Bundle) -> Report {
        let mut systems: Vec<SystemOut> = b
            .systems
            .iter()
            .map(|s| {
                let mut types: Vec<TypeOut> = s
                    .types
                    .iter()
                    .map(|t| TypeOut {
                        name: t.name.clone(),
                        levels: t.levels.clone(),
                        default: t
                            .default
                            .and_then(|d| t.levels.get(usize::from(d)))
                            .cloned(),
                        grace: opt_duration(t.grace),
                    })
                    .collect();
                types.sort_by(|x, y| x.name.cmp(&y.name));
                SystemOut {
                    name: s.name.clone(),
                    display: s.display.clone(),
                    grace: opt_duration(s.grace),
                    types,
                }
            })
            .collect();
        systems.sort_by(|x, y| x.name.cmp(&y.name));
        let mut policies: Vec<PolicyOut> = b
            .policies
            .iter()
            .map(|p| {
                let mut inherits: Vec<String> = p
                    .inherits
                    .iter()
                    .map(|&i| b.policy(i).name.clone())
                    .collect();
                inherits.sort();
                PolicyOut {
                    name: p.name.clone(),
                    template: p.template,
                    triggers: p.triggers.iter().map(ToString::to_string).collect(),
                    inherits,
                    grants: grants(b, &p.grants),
                    denies: p.denies.iter().map(|d| d.text.clone()).collect(),
                    effective: opt_date(p.effective),
                    expires: opt_date(p.expires),
                    version: p.version.clone(),
                    owner: p.owner.clone(),
                    description: p.description.clone(),
                }
            })
            .collect();
        policies.sort_by(|x, y| x.name.cmp(&y.name));
        let mut exceptions: Vec<ExceptionOut> = b
            .exceptions
            .iter()
            .map(|e| ExceptionOut {
                name: e.name.clone(),
                user: e.user.clone(),
                grants: grants(b, &e.grants),
                justification: e.justification.clone(),
                approved_by: e.approved_by.clone(),
                effective: opt_date(e.effective),
                expires: bundle::expr::date_text(e.expires),
                meta: e
                    .meta
                    .iter()
                    .map(|(key, value)| MetaOut {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            })
            .collect();
        exceptions.sort_by(|x, y| (&x.name, &x.user).cmp(&(&y.name, &y.user)));
        let mut conflicts: Vec<ConflictOut> = b
            .conflicts
            .iter()
            .map(|c| ConflictOut {
                name: c.name.clone(),
                patterns: c.patterns.iter().map(|p| p.text.clone()).collect(),
                reason: c.reason.clone(),
            })
            .collect();
        conflicts.sort_by(|x, y| x.name.cmp(&y.name));
        let mut tests: Vec<TestOut> = b
            .tests
            .iter()
            .map(|t| TestOut {
                name: t.name.clone(),
                at: opt_date(t.at),
                expect_policies: t.expect_policies.clone(),
                expect_grants: t.expect_grants.iter().map(|g| expect_text(b, g)).collect(),
            })
            .collect();
        tests.sort_by(|x, y| x.name.cmp(&y.name));
        let templates = b.policies.iter().filter(|p| p.template).count();
        Report {
            file: file.to_string(),
            magic: h.magic.clone(),
            format_version: h.format_version,
            compiler_version: h.compiler_version.clone(),
            digest: h.digest.clone(),
            signed: h.signature.is_some(),
            key_id: h.key_id.clone(),
            verified,
            created_from: h.created_from.clone(),
            counts: Counts {
                policies: b.policies.len() - templates,
                templates,
                systems: b.systems.len(),
                resource_types: b.systems.iter().map(|s| s.types.len()).sum(),
                requires: b.requires.len(),
                exceptions: b.exceptions.len(),
                conflicts: b.conflicts.len(),
                tests: b.tests.len(),
            },
            schema: b.schema.as_ref().map(|s| SchemaOut {
                key: s.key.clone(),
                fields: s
                    .fields
                    .iter()
                    .map(|f| FieldOut {
                        name: f.name.clone(),
                        ty: f.ty.to_string(),
                        optional: f.optional,
                    })
                    .collect(),
            }),
            systems,
            requires: b.requires.iter().map(ToString::to_string).collect(),
            policies,
            exceptions,
            conflicts,
            tests,
        }
    }
}

fn expect_text(b: &ir::Bundle, g: &ir::ExpectGrant) -> String {
    let no = if g.negated { "no " } else { "" };
    match b.level_name(&g.entitlement, g.level) {
        Some(l) => format!("{no}grant {} ({l})", b.entitlement_text(&g.entitlement)),
        None => format!("{no}grant {}", b.entitlement_text(&g.entitlement)),
    }
}
