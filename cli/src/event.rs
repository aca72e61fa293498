//! `polc event`: applies HRIS events to the user directory and prints each lifecycle delta.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{at_or_today, load_bundle, BundleArgs};
use super::eval::{load_users, UsersArgs};
use super::{parse_date, Exit, InputError};
use polc::input::limits::Kind;
use polc::lifecycle::{apply, events, render};

#[derive(Clone, Copy, ValueEnum)]
pub enum EventFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct EventArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    #[command(flatten)]
    users: UsersArgs,
    /// One event (JSON) or several (JSONL; each user's applied in date order)
    #[arg(long)]
    event: PathBuf,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: EventFormat,
    /// The effective date of an update that names none (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
}

pub fn run(a: EventArgs) -> Result<Exit, InputError> {
    let bundle = load_bundle(&a.bundle)?;
    let mut users = load_users(&bundle, &a.users)?;
    let name = a.event.display().to_string();
    let text = polc::input::limits::read_text_or_message(&a.event, Kind::Events)?;
    let single = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).is_ok();
    let evs = events::parse_events(&text, &name, at_or_today(a.at)).map_err(|e| InputError(e.0))?;
    let (mut plans, outcomes) =
        apply::run_events(&bundle, &mut users, evs, &name).map_err(|e| InputError(e.0))?;
    match a.format {
        EventFormat::Json => {
            let docs: Vec<_> = outcomes
                .iter()
                .map(|o| render::event_json(plans.at(o.event.effective), o))
                .collect();
            if single {
                println!("{}", serde_json::to_string_pretty(&docs[0])?);
            } else {
                println!("{}", serde_json::to_string_pretty(&docs)?);
            }
        }
        EventFormat::Human => {
            for (i, o) in outcomes.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                super::print_human(&render::human(plans.at(o.event.effective), o))?;
            }
        }
    }
    Ok(0)
}
