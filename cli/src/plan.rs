//! `polc plan`: with `--users` and `--access`, the offline remediation plan of
//! `drift.rs` (unchanged); without them, a plan from the project's state (stored, with an
//! id and a digest to approve).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches};

use super::project::{fail, print, Format, ProjectArgs};
use super::{parse_date, Exit, InputError};

#[derive(Args)]
pub struct PlanArgs {
    /// Offline plan only: policy files or directories (walked recursively for *.pol); default: the `[policies]` of the nearest polc.toml, else `.`
    paths: Vec<PathBuf>,
    /// Offline plan only: a compiled bundle (`polc build`) instead of sources
    #[arg(long, conflicts_with = "paths")]
    bundle: Option<PathBuf>,
    /// Offline plan only: refuse the bundle unless it is signed by this key
    #[arg(long, requires = "bundle")]
    verify_key: Option<PathBuf>,
    /// Offline plan: HRIS records (.json, .jsonl or .csv; `-` reads JSON from stdin); with
    /// --access, plans from files instead of the project's state
    #[arg(long)]
    users: Option<PathBuf>,
    /// Offline plan only: a TOML mapping from an HR export's columns to the schema
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Offline plan: what people hold today (.json, .jsonl or .csv)
    #[arg(long)]
    access: Option<PathBuf>,
    /// The plan's date (default: today, UTC); an apply must be dated the same
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Write the plan (JSON, with its id and digest) here; the review summary goes to stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: PlanArgs) -> Result<Exit, InputError> {
    if a.users.is_some() || a.access.is_some() {
        return offline();
    }
    let mut p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let plan = match p.plan(a.at.unwrap_or_else(polc_provision::today)) {
        Ok(plan) => plan,
        Err(e) => return fail(e),
    };
    if let Some(out) = &a.output {
        let json = serde_json::to_string_pretty(&plan)?;
        std::fs::write(out, format!("{json}\n"))
            .map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
        eprintln!("wrote {} ({} actions)", out.display(), plan.actions.len());
    }
    if a.format == Format::Json && a.output.is_some() {
        return Ok(0);
    }
    print(a.format, &plan, |p| p.human())?;
    Ok(0)
}

/// The offline plan, parsed again with its own arguments (so that it behaves exactly as
/// it always did).
fn offline() -> Result<Exit, InputError> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let at = args.iter().position(|a| a == "plan").unwrap_or(0);
    let rest = args.split_off(at + 1);
    let cmd = super::drift::PlanArgs::augment_args(clap::Command::new("polc plan"));
    let parsed = cmd
        .try_get_matches_from(std::iter::once(OsString::from("polc plan")).chain(rest))
        .and_then(|m| super::drift::PlanArgs::from_arg_matches(&m));
    match parsed {
        Ok(a) => super::drift::plan(a),
        Err(e) => {
            let _ = e.print();
            Ok(2)
        }
    }
}
