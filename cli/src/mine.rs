//! `polc mine`: the access patterns of each group of users (docs/commands.md, `mine`), and with
//! `--emit DIR` the draft policies that would give each group its common access.
//!
//! Without `PATH…` or `--bundle`, users are read with the standard schema and access with
//! the standard systems (`reconcile::emit::DEFAULT_BUNDLE`); systems the export names that
//! the standard library lacks are inferred from the export. Drafts are checked before
//! anything is reported (a draft `polc check` would not accept is a polc bug: exit 1), and
//! evaluated on the users to report the coverage they would reach on today's access.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use rustc_hash::FxHashSet;
use serde::Serialize;
use serde_json::{json, Value as Json};

use super::common::{load_bundle_and_sources, BundleArgs, Inputs};
use super::eval::{load_users, UsersArgs};
use super::{print_json, Exit, InputError};
use polc::ir::{self, Value};
use polc::reconcile::drift;
use polc::reconcile::mining::emit::{self, Drafts, Inferred};
use polc::reconcile::mining::groups::{self as mine, GroupReport, Share, Thresholds};
use polc::reconcile::mining::{self, Excluded, Export, MineError};
use polc::text::terminal;

#[derive(Clone, Copy, ValueEnum)]
pub enum MineFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct MineArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    #[command(flatten)]
    users: UsersArgs,
    /// What people hold today: .json, .jsonl or .csv
    #[arg(long)]
    access: PathBuf,
    /// The attributes to group users by: `job_title`, or several: `department,job_title`
    #[arg(long, value_delimiter = ',', required = true)]
    by: Vec<String>,
    /// Write draft policies (one file per group) to this directory, then check them
    #[arg(long)]
    emit: Option<PathBuf>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: MineFormat,
    /// The share of members from which an entitlement is baseline
    #[arg(long, default_value_t = 1.0)]
    baseline: f64,
    /// The share from which it is a candidate for the group's policy
    #[arg(long, default_value_t = 0.9)]
    candidate: f64,
    /// The share from which it is worth a review; below, it is an outlier
    #[arg(long, default_value_t = 0.5)]
    review: f64,
    /// The date users and the drafts' coverage are evaluated on (default: today, UTC)
    #[arg(long, value_parser = super::parse_date)]
    at: Option<chrono::NaiveDate>,
}

/// Everything the report shows.
struct Mined {
    by: Vec<String>,
    thresholds: Thresholds,
    groups: Vec<GroupReport>,
    drafts: Drafts,
    excluded: Vec<Excluded>,
    orphans: Vec<String>,
    inferred: Inferred,
    coverage: drift::Summary,
    emitted: Option<PathBuf>,
}

/// The bundle to mine against, the systems inferred from the export (default only), and
/// the source files read. The export is read through once here, as a stream: a file that
/// cannot be read is refused first.
fn mining_bundle(
    a: &MineArgs,
    export: &Export,
) -> Result<(Arc<ir::Bundle>, Inferred, Vec<PathBuf>), InputError> {
    let name = a.access.display().to_string();
    if !a.bundle.paths.is_empty() || a.bundle.bundle.is_some() {
        export.check_readable()?;
        let (bundle, sources) = load_bundle_and_sources(&a.bundle)?;
        return Ok((bundle, Inferred::default(), sources));
    }
    let mut sources = vec![("<mine>".to_string(), emit::DEFAULT_BUNDLE.to_string())];
    let base = emit::check_sources(&sources).expect("the default bundle checks clean");
    let mut inferred = Inferred::default();
    export.entries(&mut |user, grant, level, at| inferred.see(&base, user, grant, level, at))?;
    if inferred.is_empty() {
        return Ok((base, inferred, Vec::new()));
    }
    sources.push(("<inferred>".to_string(), inferred.declare(&name)));
    let bundle = emit::check_sources(&sources).map_err(|d| {
        InputError(format!(
            "{name}: the systems it names beyond the standard library cannot be declared in Pol:\n{d}"
        ))
    })?;
    Ok((bundle, inferred, Vec::new()))
}

/// Checks `--by` against the schema: every attribute must be a field (not a list).
fn check_by(by: &[String], bundle: &ir::Bundle) -> Result<(), InputError> {
    let mut seen = FxHashSet::default();
    for attr in by {
        if attr.is_empty() {
            return Err(InputError("--by: an empty attribute name".into()));
        }
        if !seen.insert(attr) {
            return Err(InputError(format!("--by: `{attr}` is named twice")));
        }
        match &bundle.schema {
            Some(s) => match s.field(attr) {
                None => {
                    let hint = polc::diagnostics::did_you_mean(
                        attr,
                        s.fields.iter().map(|f| f.name.as_str()),
                    )
                    .map(|m| format!(" (did you mean `{m}`?)"))
                    .unwrap_or_default();
                    return Err(InputError(format!(
                        "--by: `{attr}` is not an attribute of the schema{hint}"
                    )));
                }
                Some(f) if matches!(f.ty, ir::Type::List(_)) => {
                    return Err(InputError(format!(
                        "--by: `{attr}` is a list ({}): users are grouped by single values",
                        f.ty
                    )))
                }
                Some(_) => {}
            },
            None if !emit::is_ident(attr) => {
                return Err(InputError(format!(
                    "--by: `{attr}` is not an attribute name (letters, digits, `_` and `-`)"
                )))
            }
            None => {}
        }
    }
    Ok(())
}

/// Reported as a polc bug: exit 1.
fn bug(msg: &str) -> Result<Exit, InputError> {
    eprintln!("error: polc bug: {msg}");
    Ok(1)
}

pub fn run(a: MineArgs) -> Result<Exit, InputError> {
    a.bundle.check_verify_key()?;
    let thresholds = Thresholds {
        baseline: a.baseline,
        candidate: a.candidate,
        review: a.review,
    };
    thresholds.validate()?;
    // read as a stream at each pass (inference, mining, the drafts' coverage), never whole
    let export = Export::File(&a.access);
    let (bundle, inferred, sources) = mining_bundle(&a, &export)?;
    check_by(&a.by, &bundle)?;
    if let Some(dir) = &a.emit {
        if dir.exists() && !dir.is_dir() {
            return Err(InputError(format!("{}: not a directory", dir.display())));
        }
        if dir.exists() && polc::db::collect_pol_files(std::slice::from_ref(dir)).is_ok() {
            return Err(InputError(format!(
                "{}: already holds .pol files: emit into a new or empty directory",
                dir.display()
            )));
        }
    }
    let users_name = a.users.users.display().to_string();
    let users = load_users(&bundle, &a.users)?;
    for e in &users.errors {
        eprintln!(
            "error: {users_name}: line {}: {} (not mined)",
            e.line,
            polc::text::terminal(&e.message)
        );
    }
    let mining = mining::mine(
        &bundle,
        &users,
        &export,
        &a.by,
        &thresholds,
        super::common::at_or_today(a.at),
    );
    let mining::Mining {
        groups: reports,
        drafts,
        excluded,
        orphans,
        coverage,
    } = match mining {
        Ok(m) => m,
        Err(MineError::Access(e)) => return Err(e.into()),
        Err(MineError::Users(e)) => return Err(InputError(format!("{users_name}: {e}"))),
        Err(MineError::Bug(e)) => return bug(&e),
    };

    if let Some(dir) = &a.emit {
        let mut inputs = Inputs::default();
        inputs.add_bundle(&sources, &a.bundle);
        inputs.add(&a.users.users, "the users file");
        if let Some(m) = &a.users.mapping {
            inputs.add(m, "the mapping");
        }
        inputs.add(&a.access, "the access file");
        for (name, _) in &drafts.files {
            inputs.check_output("--emit", &dir.join(name))?;
        }
        if let Err(e) = write_drafts(dir, &drafts) {
            return Err(InputError(e));
        }
        if let Some(code) = check_emitted(dir) {
            return Ok(code);
        }
    }

    let m = Mined {
        by: a.by.clone(),
        thresholds,
        groups: reports,
        drafts,
        excluded,
        orphans,
        inferred,
        coverage,
        emitted: a.emit.clone(),
    };
    match a.format {
        MineFormat::Human => super::print_human(&human(&m))?,
        MineFormat::Json => print_json(&json(&m))?,
    }
    Ok(0)
}

fn write_drafts(dir: &Path, drafts: &Drafts) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    for (name, text) in &drafts.files {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
    }
    eprintln!("wrote {} files to {}", drafts.files.len(), dir.display());
    Ok(())
}

/// Checks the emitted directory as `polc check` would: anything reported is a polc bug.
fn check_emitted(dir: &Path) -> Option<Exit> {
    let loaded = match polc::db::Loaded::from_paths(&[dir.to_path_buf()]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: polc bug: cannot read the emitted drafts back: {e}");
            return Some(1);
        }
    };
    let checked = polc::check::check_bundle(&loaded.db, loaded.workspace);
    let reported: Vec<_> = checked
        .diagnostics
        .iter()
        // W0001 (confusable text) comes from the HR data the drafts must match: not a bug.
        .filter(|d| d.severity != polc::diagnostics::Severity::Note && d.code != "W0001")
        .cloned()
        .collect();
    if reported.is_empty() {
        return None;
    }
    polc::diagnostics::render::emit_stderr(&loaded.db, &reported);
    eprintln!(
        "error: polc bug: the drafts in {} do not check clean ({} problems)",
        dir.display(),
        reported.len()
    );
    Some(1)
}

fn value_json(v: Option<&Value>) -> Json {
    match v {
        None => Json::Null,
        Some(Value::Str(s)) => Json::String(s.clone()),
        Some(Value::Int(n)) => json!(n),
        Some(Value::Bool(b)) => json!(b),
        Some(Value::Date(d)) => Json::String(d.to_string()),
        Some(other) => Json::String(other.to_string()),
    }
}

#[derive(Serialize)]
struct LevelCount<'a> {
    level: &'a str,
    holders: usize,
}

#[derive(Serialize)]
struct ShareJson<'a> {
    grant: &'a str,
    level: Option<&'a str>,
    share: f64,
    /// When the holders hold different levels: how many hold each, lowest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    levels: Vec<LevelCount<'a>>,
    /// Baseline and candidates: the members who do not hold it (left out when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    lacking: Option<&'a [String]>,
    /// Outliers: the members who hold it.
    #[serde(skip_serializing_if = "Option::is_none")]
    holders: Option<&'a [String]>,
}

fn share_json(s: &Share, lacking: bool, holders: bool) -> ShareJson<'_> {
    ShareJson {
        grant: &s.grant,
        level: s.level.as_ref().map(|l| &*l.name),
        share: mine::round3(s.share),
        levels: s
            .levels
            .iter()
            .map(|(l, n)| LevelCount {
                level: &l.name,
                holders: *n,
            })
            .collect(),
        lacking: (lacking && !s.lacking.is_empty()).then_some(s.lacking.as_slice()),
        holders: holders.then_some(s.holders.as_slice()),
    }
}

#[derive(Serialize)]
struct GroupJson<'a> {
    /// The attribute's value (`null`: absent); with several attributes, an array of them.
    value: Json,
    members: usize,
    baseline: Vec<ShareJson<'a>>,
    candidates: Vec<ShareJson<'a>>,
    review: Vec<ShareJson<'a>>,
    outliers: Vec<ShareJson<'a>>,
    without_access: &'a [String],
    /// The drafted policy and its file.
    policy: &'a str,
    file: &'a str,
}

#[derive(Serialize)]
struct ExcludedJson<'a> {
    user_id: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct TypeJson<'a> {
    #[serde(rename = "type")]
    rtype: &'a str,
    levels: &'a [String],
}

#[derive(Serialize)]
struct InferredJson<'a> {
    system: &'a str,
    types: Vec<TypeJson<'a>>,
}

#[derive(Serialize)]
struct CoverageJson {
    covered: usize,
    entries: usize,
    percent: f64,
}

#[derive(Serialize)]
struct EmittedJson<'a> {
    dir: String,
    files: Vec<&'a str>,
}

#[derive(Serialize)]
struct MineJson<'a> {
    by: Json,
    thresholds: &'a Thresholds,
    groups: Vec<GroupJson<'a>>,
    excluded: Vec<ExcludedJson<'a>>,
    orphans: &'a [String],
    inferred_systems: Vec<InferredJson<'a>>,
    coverage: CoverageJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    emitted: Option<EmittedJson<'a>>,
}

fn shares(v: &[Share], lacking: bool, holders: bool) -> Vec<ShareJson<'_>> {
    v.iter().map(|s| share_json(s, lacking, holders)).collect()
}

fn json(m: &Mined) -> MineJson<'_> {
    let one = m.by.len() == 1;
    MineJson {
        by: if one { json!(m.by[0]) } else { json!(m.by) },
        thresholds: &m.thresholds,
        groups: m
            .groups
            .iter()
            .zip(&m.drafts.drafts)
            .map(|(g, d)| GroupJson {
                value: if one {
                    value_json(g.key[0].as_ref())
                } else {
                    g.key.iter().map(|v| value_json(v.as_ref())).collect()
                },
                members: g.members.len(),
                baseline: shares(&g.baseline, true, false),
                candidates: shares(&g.candidates, true, false),
                review: shares(&g.review, false, false),
                outliers: shares(&g.outliers, false, true),
                without_access: &g.without_access,
                policy: &d.policy,
                file: &d.file,
            })
            .collect(),
        excluded: m
            .excluded
            .iter()
            .map(|e| ExcludedJson {
                user_id: &e.user_id,
                reason: &e.reason,
            })
            .collect(),
        orphans: &m.orphans,
        inferred_systems: m
            .inferred
            .systems
            .iter()
            .map(|(s, types)| InferredJson {
                system: s,
                types: types
                    .iter()
                    .map(|(t, l)| TypeJson {
                        rtype: t,
                        levels: l,
                    })
                    .collect(),
            })
            .collect(),
        coverage: CoverageJson {
            covered: m.coverage.covered,
            entries: m.coverage.current_entries,
            percent: m.coverage.coverage_percent,
        },
        emitted: m.emitted.as_ref().map(|dir| EmittedJson {
            dir: dir.display().to_string(),
            files: m.drafts.files.iter().map(|(n, _)| n.as_str()).collect(),
        }),
    }
}

/// At most `max` names (user ids, escaped for a terminal), then how many more.
fn names(v: &[String], max: usize) -> String {
    let shown: Vec<_> = v.iter().take(max).map(|n| terminal(n)).collect();
    if v.len() <= max {
        shown.join(", ")
    } else {
        format!("{}, … and {} more", shown.join(", "), v.len() - max)
    }
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `who`: a label and the members it names (holders of an outlier, members lacking a
/// candidate), left out when empty.
type Who<'s> = Option<(&'static str, &'s [String])>;

fn share_line(out: &mut String, s: &Share, who: Who<'_>) {
    let level = s
        .level
        .as_ref()
        .map(|l| format!(" ({})", l.name))
        .unwrap_or_default();
    let _ = write!(
        out,
        "    {:>6}  {}{level}",
        pct(s.share),
        terminal(&s.grant)
    );
    if !s.levels.is_empty() {
        let _ = write!(out, "  [levels held: {}]", s.levels_held());
    }
    if let Some((label, who)) = who.filter(|(_, w)| !w.is_empty()) {
        let _ = write!(out, "  {label}: {}", names(who, 8));
    }
    out.push('\n');
}

fn bucket<'s>(
    out: &mut String,
    title: &str,
    shares: &'s [Share],
    who: impl Fn(&'s Share) -> Who<'s>,
) {
    if shares.is_empty() {
        let _ = writeln!(out, "  {title}: none");
        return;
    }
    let _ = writeln!(out, "  {title} ({})", shares.len());
    for s in shares {
        share_line(out, s, who(s));
    }
}

fn human(m: &Mined) -> String {
    let mut out = String::new();
    let t = &m.thresholds;
    let mined: usize = m.groups.iter().map(|g| g.members.len()).sum();
    let _ = writeln!(
        out,
        "Access mined by {}: {} group{} of {mined} user{}",
        m.by.join(", "),
        m.groups.len(),
        if m.groups.len() == 1 { "" } else { "s" },
        if mined == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "Shares of members: baseline >= {}, candidates >= {}, review >= {}, outliers below",
        emit::percent(t.baseline),
        emit::percent(t.candidate),
        emit::percent(t.review)
    );
    for (g, d) in m.groups.iter().zip(&m.drafts.drafts) {
        let what: Vec<String> =
            m.by.iter()
                .zip(&g.key)
                .map(|(a, v)| format!("{a} = {}", terminal(&mine::value_text(v.as_ref()))))
                .collect();
        let n = g.members.len();
        let _ = writeln!(
            out,
            "\n{}: {n} member{} ({})",
            what.join(", "),
            if n == 1 { "" } else { "s" },
            names(&g.members, 10)
        );
        bucket(&mut out, "Baseline", &g.baseline, |s| {
            Some(("lacking", &s.lacking))
        });
        bucket(&mut out, "Candidates", &g.candidates, |s| {
            Some(("lacking", &s.lacking))
        });
        bucket(&mut out, "Review", &g.review, |_| None);
        bucket(&mut out, "Outliers", &g.outliers, |s| {
            Some(("held by", &s.holders))
        });
        if !g.without_access.is_empty() {
            let _ = writeln!(
                out,
                "  Without any access: {}",
                names(&g.without_access, 10)
            );
        }
        let _ = writeln!(
            out,
            "  Draft: policy \"{}\" ({})",
            terminal(&d.policy),
            terminal(&d.file)
        );
    }
    if !m.excluded.is_empty() || !m.orphans.is_empty() {
        let _ = writeln!(out, "\nNot mined");
        for e in &m.excluded {
            let _ = writeln!(out, "  {}: {}", terminal(&e.user_id), terminal(&e.reason));
        }
        for o in &m.orphans {
            let _ = writeln!(
                out,
                "  {}: in the access export, in no HRIS record (orphaned)",
                terminal(o)
            );
        }
    }
    if !m.inferred.is_empty() {
        let _ = writeln!(
            out,
            "\nSystems not in the standard library, inferred from the access export"
        );
        for (s, types) in &m.inferred.systems {
            let ts: Vec<String> = types
                .iter()
                .map(|(t, l)| {
                    if l.is_empty() {
                        t.clone()
                    } else {
                        format!("{t} (levels as first seen: {})", l.join(", "))
                    }
                })
                .collect();
            let _ = writeln!(out, "  {}: {}", terminal(s), terminal(&ts.join("; ")));
        }
    }
    let c = &m.coverage;
    let _ = writeln!(
        out,
        "\nThe drafts would cover {} of {} current entries ({:.1}%)",
        c.covered, c.current_entries, c.coverage_percent
    );
    if let Some(dir) = &m.emitted {
        let _ = writeln!(
            out,
            "Drafts written to {}: review them, then `polc check {0}` and `polc drift {0} --users … --access …`",
            dir.display()
        );
    }
    out
}
