//! `polc apply [PLAN] (--approve DIGEST | --auto-approve)`: carries out a reviewed plan.
//! Exit 0: every action done; 1: some failed (run it again to finish); 2: refused
//! (nothing sent).

use clap::{ArgGroup, Args};
use polc_provision::{ApplyOptions, Approval};

use super::project::{fail, print, with_progress, Format, ProjectArgs};
use super::{parse_date, Exit, InputError};

#[derive(Args)]
#[command(group(ArgGroup::new("approval").required(true).args(["approve", "auto_approve"])))]
pub struct ApplyArgs {
    /// The plan: its id, or a plan file written by `polc plan -o FILE` (default: the latest plan)
    #[arg(value_name = "PLAN_ID|FILE")]
    plan: Option<String>,
    /// Approve exactly this plan: its digest, as `polc plan` printed it
    #[arg(long, value_name = "DIGEST")]
    approve: Option<String>,
    /// Apply without a person's approval: refused if an action needs review (a leaver's
    /// revocations excepted)
    #[arg(long)]
    auto_approve: bool,
    /// The date of the apply; the plan must be dated so (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Apply although a guard trips (needs --reason, which is audited)
    #[arg(long, requires = "reason")]
    force: bool,
    /// Why --force is needed (written to the audit log)
    #[arg(long, requires = "force", value_name = "TEXT")]
    reason: Option<String>,
    /// Who approves (default: the OS user); with four_eyes, not who made the plan
    #[arg(long = "as", value_name = "NAME")]
    as_name: Option<String>,
    /// Wait for another polc process that holds a system's lock instead of stopping
    #[arg(long)]
    wait: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: ApplyArgs) -> Result<Exit, InputError> {
    let mut p = match a.project.open() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let plan = match a.plan.clone() {
        Some(x) => x,
        None => match p.latest_plan() {
            Ok(Some(id)) => id,
            Ok(None) => {
                return fail(polc_provision::Error::Input(
                    "no plan in the state: make one with `polc plan`".into(),
                ))
            }
            Err(e) => return fail(e),
        },
    };
    let approve = match a.approve {
        Some(d) => Approval::Digest(d),
        None => Approval::AutoApprove,
    };
    let mut opts = ApplyOptions::new(approve, a.at.unwrap_or_else(polc_provision::today));
    opts.force = a.force.then(|| a.reason.clone().unwrap_or_default());
    opts.as_name = a.as_name;
    opts.wait = a.wait;
    match with_progress(&mut p, &format!("applying {plan}"), |p| {
        p.apply(&plan, &opts)
    }) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(if r.all_done() { 0 } else { 1 })
        }
        Err(e) => fail(e),
    }
}
