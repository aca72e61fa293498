//! `polc status`: the state at a glance.

use clap::Args;

use super::project::{fail, print, Format, ProjectArgs};
use super::{parse_date, Exit, InputError};

#[derive(Args)]
pub struct StatusArgs {
    /// The date to report on (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: StatusArgs) -> Result<Exit, InputError> {
    let p = match a.project.open_for_reading() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    match p.status(a.at.unwrap_or_else(polc_provision::today)) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(0)
        }
        Err(e) => fail(e),
    }
}
