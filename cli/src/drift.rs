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

/// The plan, the users, the current access, and the files they were read from.
fn load(
    a: &CurrentAccessArgs,
) -> Result<(Plan, polc::input::Users, access::Access, Inputs), InputError> {
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
    let access = access::load_access(&a.access, &mut plan)?;
    Ok((plan, users, access, inputs))
}

/// Writes to stdout through `f`; a closed pipe (`| head`) ends the output quietly.
fn stream<T>(
    f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<T>,
) -> Result<Option<T>, InputError> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let r = f(&mut out).and_then(|v| out.flush().map(|()| v));
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn run(a: DriftArgs) -> Result<Exit, InputError> {
    // Every format is written user by user: the report of millions of people is never held
    // whole.
    let has_drift = match a.format {
        DriftFormat::Human => {
            let (plan, users, access, _) = load(&a.current)?;
            let summary = stream(|w| report::write_human(&plan, &users, &access, w))?;
            match summary {
                Some(s) => s.has_drift(),
                // the reader went away: the summary is still what --fail-on-drift asks
                None => a.fail_on_drift && drift::summary(&plan, &users, &access).has_drift(),
            }
        }
        DriftFormat::Json => {
            let (plan, users, access, _) = load(&a.current)?;
            let summary = stream(|w| {
                let s = report::write_json(&plan, &users, &access, &mut *w)?;
                w.write_all(b"\n")?;
                Ok(s)
            })?;
            summary.is_some_and(|s| s.has_drift())
        }
        DriftFormat::Csv => {
            let (plan, users, access, _) = load(&a.current)?;
            stream(|w| report::write_csv(&plan, &users, &access, w))?;
            a.fail_on_drift && drift::summary(&plan, &users, &access).has_drift()
        }
    };
    Ok(if a.fail_on_drift && has_drift { 1 } else { 0 })
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

/// The remediation plan, never held whole (nor the drift report): a pass over every user
/// counts its head, then each output (the file, then stdout) is written in a pass of its
/// own, action by action.
pub fn plan(a: PlanArgs) -> Result<Exit, InputError> {
    use std::io::Write;
    let (plan, users, access, inputs) = load(&a.current)?;
    if let Some(out) = &a.output {
        inputs.check_output("-o", out)?;
    }
    let head = remediate::head(&plan, &users, &access);
    if let Some(out) = &a.output {
        let written = std::fs::File::create(out).and_then(|f| {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
            remediate::write_json(&plan, &users, &access, &head, &mut w)?;
            w.write_all(b"\n")?;
            w.flush()
        });
        written.map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
        eprintln!("wrote {} ({} actions)", out.display(), head.summary.actions);
    }
    match a.format {
        PlanFormat::Human => {
            stream(|w| remediate::write_human(&plan, &users, &access, &head, w))?;
        }
        PlanFormat::Json if a.output.is_none() => {
            stream(|w| {
                remediate::write_json(&plan, &users, &access, &head, &mut *w)?;
                w.write_all(b"\n")
            })?;
        }
        PlanFormat::Json => {}
    }
    Ok(0)
}
