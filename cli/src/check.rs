//! `polc check`: diagnostics for a bundle, as text, JSON or SARIF.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use salsa::Setter;

use super::{default_paths, parse_date, Exit, InputError};
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::{count, render};

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    Sarif,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories (walked recursively for *.pol); default: the `[policies]` of the nearest polc.toml, else `.`
    paths: Vec<PathBuf>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: CheckFormat,
    /// Exit 1 on warnings too
    #[arg(long)]
    deny_warnings: bool,
    /// The date expiry warnings are judged against (default: today, UTC)
    #[arg(long, visible_alias = "today", value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
}

pub fn run(a: CheckArgs) -> Result<Exit, InputError> {
    for p in &a.paths {
        if p.is_file() && p.extension().is_none_or(|e| e != "pol") {
            return Err(InputError(format!(
                "{}: not a .pol file: `polc check` reads Pol sources (a compiled bundle is shown by `polc inspect`)",
                p.display()
            )));
        }
    }
    let mut loaded = Loaded::from_paths(&default_paths(a.paths)?)?;
    if let Some(t) = a.at {
        loaded.workspace.set_today(&mut loaded.db).to(t);
    }
    let db = &loaded.db;
    let checked = check_bundle(db, loaded.workspace);
    let diags = &checked.diagnostics;
    let (errors, warnings) = count(diags);
    match a.format {
        CheckFormat::Human => {
            render::emit_stderr(db, diags);
            let files = loaded.workspace.files(db).len();
            if errors + warnings == 0 {
                eprintln!(
                    "checked {files} file{}: no problems",
                    if files == 1 { "" } else { "s" }
                );
            } else {
                eprintln!(
                    "checked {files} file{}: {errors} error{}, {warnings} warning{}",
                    plural(files),
                    plural(errors),
                    plural(warnings)
                );
            }
        }
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::check_json(db, diags))?
        ),
        CheckFormat::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&render::sarif(db, diags))?
        ),
    }
    Ok(if errors > 0 || (a.deny_warnings && warnings > 0) {
        1
    } else {
        0
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
