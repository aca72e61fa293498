//! `polc test`: runs the bundle's `test` items; the last line is `N passed, N failed`.

use clap::{Args, ValueEnum};

use super::common::{at_or_today, load_bundle, BundleArgs};
use super::{parse_date, Exit, InputError};
use crate::eval::testing;

#[derive(Clone, Copy, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    #[arg(long, value_enum, default_value = "human")]
    format: TestFormat,
    /// The date of tests that name none with `at` (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
}

pub fn run(a: TestArgs) -> Result<Exit, InputError> {
    let bundle = load_bundle(&a.bundle)?;
    let report = testing::run_tests(&bundle, at_or_today(a.at));
    match a.format {
        TestFormat::Human => print!("{}", testing::human(&report)),
        TestFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.failed > 0 { 1 } else { 0 })
}
