//! `polc test`: runs the bundle's `test` items and, with `--snapshot USERS`, compares
//! everyone's access with a reviewed snapshot. The last line is `N passed, N failed`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::common::{at_or_today, load_bundle_and_sources, BundleArgs, Inputs};
use super::eval::{load_users, UsersArgs};
use super::{parse_date, Exit, InputError};
use polc::eval::{snapshot, testing, Plan};
use polc::input::limits;

#[derive(Clone, Copy, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct TestArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: TestFormat,
    /// The date of tests that name none with `at` (default: today, UTC); for a snapshot,
    /// the date it is taken on (default: the date the existing snapshot records)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Also compare everyone's access in this users file with its snapshot
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// Where the snapshot lives (default: USERS with `.snap` appended)
    #[arg(long, requires = "snapshot")]
    snapshot_file: Option<PathBuf>,
    /// Write the snapshot (accept the changes) instead of comparing
    #[arg(long, requires = "snapshot")]
    update: bool,
    /// A TOML mapping from the snapshot users file's columns and values to the schema's
    /// attributes
    #[arg(long, requires = "snapshot")]
    mapping: Option<PathBuf>,
}

struct SnapshotOutcome {
    name: String,
    passed: bool,
    detail: String,
}

fn run_snapshot(
    a: &TestArgs,
    bundle: &Arc<polc::ir::Bundle>,
    sources: &[PathBuf],
    users_path: &std::path::Path,
) -> Result<SnapshotOutcome, InputError> {
    let users = load_users(
        bundle,
        &UsersArgs {
            users: users_path.to_path_buf(),
            mapping: a.mapping.clone(),
        },
    )?;
    let file = a
        .snapshot_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.snap", users_path.display())));
    let shown = file.display().to_string();
    // The snapshot is written on `--update` (or when missing): it is never one of the inputs.
    let mut inputs = Inputs::default();
    inputs.add_bundle(sources, &a.bundle);
    inputs.add(users_path, "the users file");
    if let Some(m) = &a.mapping {
        inputs.add(m, "the mapping");
    }
    inputs.check_output("the snapshot", &file)?;
    // Only a missing snapshot is written afresh: one that cannot be read is an error, never
    // overwritten.
    let existing = match limits::read_text(&file, limits::Kind::Snapshot) {
        Ok(text) => Some(text),
        Err(limits::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(InputError(e.describe(&shown))),
    };
    let at =
        a.at.or_else(|| existing.as_deref().and_then(snapshot::date_of))
            .unwrap_or_else(|| at_or_today(None));
    let plan = Plan::new(Arc::clone(bundle), &users.fields, at);
    let source = users_path.file_name().map_or_else(
        || users_path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = snapshot::render(&plan, &users, &source);
    let name = format!("access snapshot {shown}");
    if a.update || existing.is_none() {
        std::fs::write(&file, &text)
            .map_err(|e| InputError(format!("{shown}: cannot write: {e}")))?;
        let what = if existing.is_none() {
            "written"
        } else {
            "updated"
        };
        return Ok(SnapshotOutcome {
            name,
            passed: true,
            detail: format!("{what} ({} users, as of {at})", users.records.len()),
        });
    }
    let old = existing.unwrap_or_default();
    let d = snapshot::diff(&old, &text);
    if d.is_empty() && snapshot::date_of(&old) == Some(at) {
        Ok(SnapshotOutcome {
            name,
            passed: true,
            detail: String::new(),
        })
    } else {
        let mut detail = d;
        if snapshot::date_of(&old) != Some(at) {
            detail.push_str(&format!(
                "the snapshot is as of {:?}, this run as of {at}\n",
                snapshot::date_of(&old)
            ));
        }
        detail.push_str(&format!(
            "review the changes, then accept them: polc test --snapshot {} --update\n",
            users_path.display()
        ));
        Ok(SnapshotOutcome {
            name,
            passed: false,
            detail,
        })
    }
}

pub fn run(a: TestArgs) -> Result<Exit, InputError> {
    let (bundle, sources) = load_bundle_and_sources(&a.bundle)?;
    let mut report = testing::run_tests(&bundle, at_or_today(a.at));
    let snap = match &a.snapshot {
        Some(p) => Some(run_snapshot(&a, &bundle, &sources, p)?),
        None => None,
    };
    if let Some(s) = &snap {
        report.tests.push(testing::TestOutcome {
            name: s.name.clone(),
            passed: s.passed,
            failures: if s.passed {
                Vec::new()
            } else {
                vec![s.detail.clone()]
            },
        });
        if s.passed {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
    }
    match a.format {
        TestFormat::Human => {
            if let Some(s) = snap.as_ref().filter(|s| s.passed && !s.detail.is_empty()) {
                eprintln!("{}: {}", s.name, polc::text::terminal_lines(&s.detail));
            }
            super::print_human(&testing::human(&report))?;
        }
        TestFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if report.failed > 0 { 1 } else { 0 })
}
