//! `polc pull [--system S]`: what the systems hold, into the state.

use clap::Args;

use super::project::{fail, print, with_progress, Format, ProjectArgs};
use super::{Exit, InputError};

#[derive(Args)]
pub struct PullArgs {
    /// Only this system (a quarantined system that answers is released)
    #[arg(long, value_name = "S")]
    system: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: PullArgs) -> Result<Exit, InputError> {
    let mut p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    match with_progress(&mut p, "reading the systems", |p| {
        p.pull(a.system.as_deref())
    }) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(0)
        }
        Err(e) => fail(e),
    }
}
