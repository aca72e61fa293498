//! `polc audit verify [--head HASH]`: the audit log's hash chain.

use clap::{Args, Subcommand};

use super::project::{fail, print, Format, ProjectArgs};
use super::{Exit, InputError};

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain; exit 1 if it is broken
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// A head hash recorded earlier: it must still be in the chain (detects a cut tail or a
    /// recomputed chain)
    #[arg(long, value_name = "HASH")]
    head: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: AuditArgs) -> Result<Exit, InputError> {
    let AuditCommand::Verify(a) = a.command;
    let p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    match p.audit_verify(a.head.as_deref()) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(if r.intact { 0 } else { 1 })
        }
        Err(e) => fail(e),
    }
}
