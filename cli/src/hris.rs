//! `polc hris import [FILE]` and `polc hris event FILE`: the directory of people.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::project::{fail, print, with_progress, Format, ProjectArgs};
use super::{parse_date, Exit, InputError};

#[derive(Args)]
pub struct HrisArgs {
    #[command(subcommand)]
    command: HrisCommand,
}

#[derive(Subcommand)]
enum HrisCommand {
    /// Record an HRIS snapshot (JSON, JSONL or CSV) and print the events it derives
    Import(ImportArgs),
    /// Apply HRIS events (employee.hired, .updated, .terminated) and print what they change
    Event(EventArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// The snapshot (default: `[hris] users` of the project file)
    file: Option<PathBuf>,
    /// The date the snapshot takes effect (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Import although the snapshot drops or changes more than max_missing_percent of the
    /// directory, or loses a column (audited with --reason)
    #[arg(long)]
    force: bool,
    /// Why --force is needed (written to the audit log)
    #[arg(long, requires = "force")]
    reason: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

#[derive(Args)]
struct EventArgs {
    /// The events: one JSON object, an array, or JSONL
    file: PathBuf,
    /// Apply the events as of this date (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: HrisArgs) -> Result<Exit, InputError> {
    match a.command {
        HrisCommand::Import(a) => import(a),
        HrisCommand::Event(a) => event(a),
    }
}

fn import(a: ImportArgs) -> Result<Exit, InputError> {
    let mut p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let file = a.file.unwrap_or_else(|| p.project.hris.users.clone());
    let at = a.at.unwrap_or_else(polc_provision::today);
    let reason = a
        .force
        .then(|| a.reason.clone().unwrap_or_else(|| "--force".into()));
    match with_progress(&mut p, "importing the snapshot", |p| {
        p.hris_import(&file, at, reason.as_deref())
    }) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(0)
        }
        Err(e) => fail(e),
    }
}

fn event(a: EventArgs) -> Result<Exit, InputError> {
    let mut p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let at = a.at.unwrap_or_else(polc_provision::today);
    match p.hris_event(&a.file, at) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(0)
        }
        Err(e) => fail(e),
    }
}
