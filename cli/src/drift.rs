//! `polc drift` (expected against current access) and `polc plan` (the remediation plan).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::common::{at_or_today, load_bundle_and_sources, BundleArgs, Inputs};
use super::eval::{load_users, UsersArgs};
use super::{parse_date, Exit, InputError};
use polc::eval::Plan;
use polc::reconcile::{access, drift, remediate, report};

#[derive(Clone, Copy, ValueEnum)]
pub enum DriftFormat {
    Human,
    Json,
    Csv,
}

/// What `drift` and `plan` both read: policy, people, their current access, the date.
#[derive(Args)]
pub struct CurrentAccessArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    #[command(flatten)]
    users: UsersArgs,
    /// What people hold today: .json, .jsonl or .csv
    #[arg(long)]
    access: PathBuf,
    /// The evaluation date (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
}

#[derive(Args)]
pub struct DriftArgs {
    #[command(flatten)]
    current: CurrentAccessArgs,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: DriftFormat,
    /// Exit 1 when there is excess, missing access or a level mismatch
    #[arg(long)]
    fail_on_drift: bool,
}

/// The plan, the drift report, and the files they were read from.
fn compute(a: &CurrentAccessArgs) -> Result<(Plan, drift::DriftReport, Inputs), InputError> {
    let (bundle, sources) = load_bundle_and_sources(&a.bundle)?;
    let mut inputs = Inputs::default();
    inputs.add_bundle(&sources, &a.bundle);
    inputs.add(&a.users.users, "the users file");
    if let Some(m) = &a.users.mapping {
        inputs.add(m, "the mapping");
    }
    inputs.add(&a.access, "the access file");
    let name = a.users.users.display().to_string();
    let users = load_users(&bundle, &a.users)?;
    for e in &users.errors {
        eprintln!(
            "error: {name}: line {}: {} (left out of the report)",
            e.line,
            polc::text::terminal(&e.message)
        );
    }
    let mut plan = Plan::new(Arc::clone(&bundle), &users.fields, at_or_today(a.at));
    let access = access::load_access(&a.access, &mut plan).map_err(InputError)?;
    let report = drift::drift(&plan, &users, &access);
    Ok((plan, report, inputs))
}

pub fn run(a: DriftArgs) -> Result<Exit, InputError> {
    let (plan, r, _) = compute(&a.current)?;
    match a.format {
        DriftFormat::Human => super::print_human(&report::human(&plan, &r))?,
        DriftFormat::Json => super::print_json(&report::json(&plan, &r))?,
        DriftFormat::Csv => print!("{}", report::csv(&plan, &r)),
    }
    Ok(if a.fail_on_drift && r.has_drift() {
        1
    } else {
        0
    })
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    current: CurrentAccessArgs,
    /// Write the plan (JSON) here; the review summary goes to stdout
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: PlanFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
}

pub fn plan(a: PlanArgs) -> Result<Exit, InputError> {
    let (plan, r, inputs) = compute(&a.current)?;
    if let Some(out) = &a.output {
        inputs.check_output("-o", out)?;
    }
    let p = remediate::remediate(&plan, &r);
    let json = serde_json::to_string_pretty(&p)?;
    if let Some(out) = &a.output {
        std::fs::write(out, format!("{json}\n"))
            .map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
        eprintln!("wrote {} ({} actions)", out.display(), p.summary.actions);
    }
    match a.format {
        PlanFormat::Human => super::print_human(&remediate::human(&p))?,
        PlanFormat::Json if a.output.is_none() => println!("{json}"),
        PlanFormat::Json => {}
    }
    Ok(0)
}
