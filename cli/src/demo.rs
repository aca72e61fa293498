//! `polc demo [--keep DIR]`: the seed story end to end on a new project whose systems are
//! JSON files: the baseline import reviewed and applied, Sarah's hire, promotion, transfer
//! (with its grace period), an access granted out of band and found by `pull`, her
//! termination, and the evidence pack. Every step goes through the same library calls as
//! `polc hris event`, `pull`, `plan` and `apply`.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use clap::Args;
use polc_provision::{ApplyOptions, Approval, DefaultConnectors, Project, Provision};

use super::project::fail;
use super::{Exit, InputError};

#[derive(Args)]
pub struct DemoArgs {
    /// Keep the demo project in this folder (created; must not hold a project) instead of a
    /// temporary one
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

const EVENTS: &[(&str, &str, &str)] = &[
    (
        "01-hired.json",
        "2024-11-24",
        include_str!("../../examples/seed/events/01-hired.json"),
    ),
    (
        "02-promoted.json",
        "2025-05-24",
        include_str!("../../examples/seed/events/02-promoted.json"),
    ),
    (
        "03-transferred.json",
        "2026-05-24",
        include_str!("../../examples/seed/events/03-transferred.json"),
    ),
    (
        "04-terminated.json",
        "2027-03-15",
        include_str!("../../examples/seed/events/04-terminated.json"),
    ),
];

/// The reviewer who approves each plan in the demo (recorded in the audit log).
const REVIEWER: &str = "it.reviewer";

fn date(s: &str) -> NaiveDate {
    polc::dates::parse(s).unwrap_or_default()
}

fn err(e: impl std::fmt::Display) -> InputError {
    InputError(format!("the demo failed: {e}"))
}

pub fn run(a: DemoArgs) -> Result<Exit, InputError> {
    let tmp;
    let dir: PathBuf = match &a.keep {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("polc-demo-")
                .tempdir()
                .map_err(err)?;
            tmp.path().to_path_buf()
        }
    };
    match story(&dir) {
        Ok(code) => {
            if a.keep.is_none() {
                // The temporary project goes away with `tmp`; the pack is copied out first.
                let pack = dir.join("evidence.html");
                let out = std::env::temp_dir().join("polc-demo-evidence.html");
                std::fs::copy(&pack, &out).map_err(err)?;
                println!("\nThe evidence pack: {}", out.display());
            } else {
                println!("\nThe project is kept in {}", dir.display());
            }
            Ok(code)
        }
        Err(e) => fail(e),
    }
}

fn heading(n: usize, text: &str) {
    println!("\n== {n}. {text}");
}

fn indent(text: &str) {
    for line in text.lines() {
        println!("   {}", polc::text::terminal(line));
    }
}

/// Plans at `at`, shows the plan, approves its digest as the reviewer, applies it.
fn review_and_apply(p: &mut Provision, at: NaiveDate) -> polc_provision::Result<usize> {
    let plan = p.plan(at)?;
    let n = plan.actions.len();
    if n == 0 {
        println!("   nothing to do: the systems already hold what the policies say");
        return Ok(0);
    }
    indent(&plan.human());
    println!(
        "   {REVIEWER} reviews the plan and approves digest {}",
        plan.digest
    );
    let mut opts = ApplyOptions::new(Approval::Digest(plan.digest.clone()), at);
    opts.as_name = Some(REVIEWER.to_string());
    let report = p.apply(&plan.id, &opts)?;
    indent(&report.human());
    Ok(n)
}

fn story(dir: &Path) -> polc_provision::Result<Exit> {
    let e = |m: String| polc_provision::Error::Input(m);
    heading(
        1,
        "A new project from the seed: policies, people, systems as JSON files",
    );
    polc_provision::init(dir)?;
    // Every system the policies name is a `file` system reviewed before each change; GitLab
    // is managed wholly by policy, so access granted by hand there is revoked.
    let loaded =
        polc::db::Loaded::from_paths(&[dir.join("policies")]).map_err(|x| e(x.to_string()))?;
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    let mut systems: Vec<String> = polc_provision::plan::named_systems(&checked.bundle)
        .into_iter()
        .map(str::to_string)
        .collect();
    systems.sort();
    let mut toml = String::from(
        "# The demo project: docs/provisioning.md describes every key.\n[policies]\npaths = [\"policies\"]\n\n[hris]\nusers = \"hris/users.json\"\n\n[state]\npath = \".polc/state.db\"\n\n[guard]\nmax_revoke_percent = 100\nmax_revoke_count = 1000\n",
    );
    for s in &systems {
        let manage = if s == "gitlab" { "all" } else { "policy" };
        toml += &format!(
            "\n[systems.{s}]\nconnector = \"file\"\npath = \"systems/{s}.json\"\nmode = \"review\"\nmanage = \"{manage}\"\n"
        );
        std::fs::write(dir.join(format!("systems/{s}.json")), "[]\n")
            .map_err(|x| e(x.to_string()))?;
    }
    std::fs::write(dir.join("polc.toml"), toml).map_err(|x| e(x.to_string()))?;
    // The directory before Sarah joins: the seed's people without her.
    let users_path = dir.join("hris/users.json");
    let users: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&users_path).map_err(|x| e(x.to_string()))?)
            .map_err(|x| e(x.to_string()))?;
    let before: Vec<_> = users
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["user_id"] != "sarah.chen")
        .cloned()
        .collect();
    std::fs::write(
        &users_path,
        serde_json::to_string_pretty(&before).map_err(|x| e(x.to_string()))?,
    )
    .map_err(|x| e(x.to_string()))?;
    println!(
        "   {} with {} systems: {}",
        dir.display(),
        systems.len(),
        systems.join(", ")
    );

    let project = Project::load(&dir.join("polc.toml"))?;
    let mut p = Provision::open(project, Box::new(DefaultConnectors))?.with_actor("polc-demo");

    let start = date("2024-11-20");
    heading(2, "The HR directory's first import (a baseline: no events)");
    indent(&p.hris_import(&users_path, start, None)?.human());
    heading(
        3,
        "What the systems hold today (pull), and the pilot plan, reviewed",
    );
    indent(&p.pull(None)?.human());
    review_and_apply(&mut p, start)?;

    let titles = [
        "Sarah is hired as a Sales Engineer",
        "Sarah is promoted to Senior Sales Engineer",
        "Sarah transfers to Engineering: what she no longer needs waits for its grace period",
        "Sarah leaves: everything goes on her last day",
    ];
    let mut step = 4;
    for (i, (name, day, text)) in EVENTS.iter().enumerate() {
        let at = date(day);
        if i == 3 {
            // Before she leaves: the transfer's grace ends, then someone grants her access
            // by hand.
            let grace_end = date("2026-06-23");
            heading(step, "The transfer's grace period ends (2026-06-23)");
            review_and_apply(&mut p, grace_end)?;
            step += 1;
            heading(
                step,
                "Someone grants Sarah GitLab finance access by hand; the daily pull finds it",
            );
            let file = dir.join("systems/gitlab.json");
            let mut held: Vec<serde_json::Value> = serde_json::from_str(
                &std::fs::read_to_string(&file).map_err(|x| e(x.to_string()))?,
            )
            .map_err(|x| e(x.to_string()))?;
            held.push(serde_json::json!({"user_id": "sarah.chen", "grant": "gitlab:group:finance", "level": "maintainer"}));
            std::fs::write(
                &file,
                serde_json::to_string_pretty(&held).map_err(|x| e(x.to_string()))?,
            )
            .map_err(|x| e(x.to_string()))?;
            indent(&p.pull(None)?.human());
            review_and_apply(&mut p, grace_end)?;
            step += 1;
        }
        heading(step, &format!("{} ({day})", titles[i]));
        let event_file = dir.join("hris").join(name);
        std::fs::write(&event_file, text).map_err(|x| e(x.to_string()))?;
        indent(&p.hris_event(&event_file, at)?.human());
        review_and_apply(&mut p, at)?;
        step += 1;
    }

    heading(step, "The audit log and the evidence pack");
    let verify = p.audit_verify(None)?;
    indent(&verify.human());
    let pack = p.evidence(
        date("2024-11-01"),
        date("2027-03-31"),
        polc_provision::Format::Html,
        None,
    )?;
    std::fs::write(dir.join("evidence.html"), &pack.bytes).map_err(|x| e(x.to_string()))?;
    Ok(if verify.intact { 0 } else { 1 })
}
