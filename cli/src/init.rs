//! `polc init [DIR]`: a new provisioning project.

use std::path::PathBuf;

use clap::Args;

use super::project::{fail, print, Format};
use super::{Exit, InputError};

#[derive(Args)]
pub struct InitArgs {
    /// The folder to write the project into (created if needed; default: the working directory)
    dir: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(a: InitArgs) -> Result<Exit, InputError> {
    let dir = a.dir.unwrap_or_else(|| PathBuf::from("."));
    match polc_provision::init(&dir) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(0)
        }
        Err(e) => fail(e),
    }
}
