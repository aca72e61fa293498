//! `polc eval`: each user's policies and grant set, as JSON (docs/commands.md) or a table; and
//! `polc explain --users … --user ID [--grant REF]`: why, or why not.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::common::{at_or_today, load_bundle, BundleArgs};
use super::{parse_date, Exit, InputError};
use polc::eval::{explain, render, Plan};
use polc::input::{self, Users};
use polc::ir;

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum EvalFormat {
    Json,
    Table,
}

/// The users file and how to read it.
#[derive(Args, Clone)]
pub struct UsersArgs {
    /// HRIS records: .json, .jsonl or .csv; `-` reads JSON from stdin
    #[arg(long)]
    pub users: PathBuf,
    /// A TOML mapping from an HR export's columns and values to the schema's attributes
    #[arg(long)]
    pub mapping: Option<PathBuf>,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    #[command(flatten)]
    users: UsersArgs,
    /// Only this user
    #[arg(long)]
    user: Option<String>,
    /// The evaluation date (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// The output format
    #[arg(long, value_enum, default_value = "json")]
    format: EvalFormat,
}

/// Loads the users file against the bundle's schema.
pub fn load_users(bundle: &ir::Bundle, a: &UsersArgs) -> Result<Users, InputError> {
    let mapping = match &a.mapping {
        Some(p) => Some(input::Mapping::load(p).map_err(|e| InputError(e.0))?),
        None => None,
    };
    input::load_users(&a.users, bundle.schema.as_ref(), mapping.as_ref())
        .map_err(|e| InputError(e.0))
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    user_id: Option<&'a str>,
    line: usize,
    field: Option<&'a str>,
    message: String,
}

fn error_json(e: &input::RecordError) -> ErrorJson<'_> {
    ErrorJson {
        user_id: e.user_id.as_deref(),
        line: e.line,
        field: e.field.as_deref(),
        message: e.message.clone(),
    }
}

fn pick<'u>(
    users: &'u Users,
    only: Option<&str>,
) -> Result<Vec<&'u input::UserRecord>, InputError> {
    match only {
        None => Ok(users.records.iter().collect()),
        Some(id) => match users.records.iter().find(|r| r.id == id) {
            Some(r) => Ok(vec![r]),
            None => match users
                .errors
                .iter()
                .find(|e| e.user_id.as_deref() == Some(id))
            {
                Some(e) => Err(InputError(format!(
                    "user `{id}`: line {}: {}",
                    e.line,
                    polc::text::terminal(&e.message)
                ))),
                None => Err(InputError(format!("no user `{id}` in the users file"))),
            },
        },
    }
}

pub fn run(a: EvalArgs) -> Result<Exit, InputError> {
    let bundle = load_bundle(&a.bundle)?;
    let users = load_users(&bundle, &a.users)?;
    let at = at_or_today(a.at);
    let plan = Plan::new(Arc::clone(&bundle), &users.fields, at);
    let selected = pick(&users, a.user.as_deref())?;
    let progress = super::progress::bar(selected.len() as u64, "evaluating");
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    match a.format {
        EvalFormat::Json => {
            // On a terminal, the same document pretty-printed (piped, it streams compact).
            let pretty = std::io::stdout().is_terminal();
            let mut buf = Vec::new();
            let w: &mut dyn Write = if pretty { &mut buf } else { &mut w };
            write!(w, "{{\"as_of\":\"{at}\",\"users\":[")?;
            for (i, rec) in selected.iter().enumerate() {
                let e = plan.evaluate(&rec.id, &rec.values);
                if i > 0 {
                    w.write_all(b",")?;
                }
                serde_json::to_writer(&mut *w, &render::user_json(&plan, &rec.id, &e))?;
                progress.inc(1);
            }
            w.write_all(b"],\"errors\":")?;
            let errors: Vec<ErrorJson> = if a.user.is_some() {
                Vec::new()
            } else {
                users.errors.iter().map(error_json).collect()
            };
            serde_json::to_writer(&mut *w, &errors)?;
            w.write_all(b"}\n")?;
            if pretty {
                let doc: serde_json::Value = serde_json::from_slice(&buf)?;
                super::print_json(&doc)?;
            }
        }
        EvalFormat::Table => {
            writeln!(w, "as of {at}")?;
            for rec in &selected {
                let e = plan.evaluate(&rec.id, &rec.values);
                writeln!(w)?;
                let table = render::user_table(&plan, &rec.id, &e);
                w.write_all(polc::text::terminal_lines(&table).as_bytes())?;
                progress.inc(1);
            }
            if a.user.is_none() {
                for e in &users.errors {
                    writeln!(
                        w,
                        "\nerror: line {}: {}",
                        e.line,
                        polc::text::terminal(&e.message)
                    )?;
                }
            }
        }
    }
    w.flush()?;
    progress.finish_and_clear();
    if a.user.is_none() {
        for e in &users.errors {
            eprintln!(
                "error: {}: line {}: {}",
                a.users.users.display(),
                e.line,
                polc::text::terminal(&e.message)
            );
        }
    }
    Ok(0)
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExplainFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Files or directories of policies (default: the `[policies]` of the nearest polc.toml,
    /// else `.`); or a diagnostic code such as E0101
    pub paths: Vec<PathBuf>,
    /// A compiled bundle (`polc build`) instead of sources
    #[arg(long, conflicts_with = "paths")]
    pub bundle: Option<PathBuf>,
    /// Refuse the bundle unless it is signed by this key (`KEY.pub`); only with --bundle
    #[arg(long, value_name = "KEY")]
    pub verify_key: Option<PathBuf>,
    /// HRIS records: .json, .jsonl or .csv; `-` reads JSON from stdin
    #[arg(long)]
    pub users: Option<PathBuf>,
    /// A TOML mapping from an HR export's columns and values to the schema's attributes
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// The user to explain
    #[arg(long)]
    pub user: Option<String>,
    /// Explain only this entitlement, held or not: `system:type[:name] [(level)]`
    #[arg(long)]
    pub grant: Option<String>,
    /// The evaluation date (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    pub at: Option<chrono::NaiveDate>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: ExplainFormat,
}

impl ExplainArgs {
    /// Where the policies come from.
    pub fn bundle_args(&self) -> BundleArgs {
        BundleArgs {
            paths: self.paths.clone(),
            bundle: self.bundle.clone(),
            verify_key: self.verify_key.clone(),
        }
    }
}

pub fn explain(a: ExplainArgs) -> Result<Exit, InputError> {
    let (Some(users_path), Some(user)) = (a.users.clone(), a.user.clone()) else {
        return Err(InputError("`polc explain` needs `--users FILE --user ID` (or a diagnostic code: `polc explain E0101`)".into()));
    };
    let bundle = load_bundle(&a.bundle_args())?;
    let users = load_users(
        &bundle,
        &UsersArgs {
            users: users_path,
            mapping: a.mapping.clone(),
        },
    )?;
    let rec = pick(&users, Some(&user))?[0];
    let mut plan = Plan::new(Arc::clone(&bundle), &users.fields, at_or_today(a.at));
    let only = match &a.grant {
        Some(g) => Some(plan.resolve_ref(g)?),
        None => None,
    };
    let e = plan.evaluate(&rec.id, &rec.values);
    let x = plan.explain(&rec.id, &rec.values, &e, only);
    match a.format {
        ExplainFormat::Human => super::print_human(&explain::human(&x))?,
        ExplainFormat::Json => println!("{}", serde_json::to_string_pretty(&x)?),
    }
    Ok(0)
}
