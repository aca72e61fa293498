//! The command line (docs/commands.md): one module per command, all on the shared analysis layer.
//! Exit codes: 0 success, 1 the command found what should fail CI, 2 bad usage or input.

mod analyze;
mod apply;
mod audit;
mod build;
mod check;
mod common;
mod demo;
mod drift;
mod eval;
mod event;
mod fmt;
mod hris;
mod impact;
mod init;
mod inspect;
mod keygen;
mod mine;
mod plan;
mod progress;
mod project;
mod pull;
mod serve;
mod status;
mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The exit code of a command and what to print.
pub type Exit = i32;

/// Why a command stopped. The exit code of each kind is decided here, in one place
/// ([`CliError::exit_code`]); `main` prints the message as `error: …`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Input the user must fix (a file, a flag, a record): exit 2.
    #[error("{0}")]
    Input(String),
    /// The output could not be written (a full disk, a closed terminal): exit 2.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// polc itself is wrong (a report it made does not serialize): exit 70, and the message
    /// says so.
    #[error("this is a bug in polc, please report it: {0}")]
    Bug(String),
}

impl CliError {
    /// The process exit code: 2 for what the user or the machine must fix, 70 (EX_SOFTWARE)
    /// for a bug.
    pub fn exit_code(&self) -> Exit {
        match self {
            CliError::Input(_) | CliError::Output(_) => 2,
            CliError::Bug(_) => 70,
        }
    }
}

/// Commands name their error type by what it usually is.
pub type InputError = CliError;

/// An input error with this message (exit 2).
#[allow(non_snake_case)]
pub fn InputError(message: String) -> CliError {
    CliError::Input(message)
}

impl From<polc::db::LoadError> for CliError {
    fn from(e: polc::db::LoadError) -> CliError {
        CliError::Input(e.to_string())
    }
}

impl From<polc::bundle::BundleError> for CliError {
    fn from(e: polc::bundle::BundleError) -> CliError {
        CliError::Input(e.to_string())
    }
}

impl From<polc::bundle::KeyError> for CliError {
    fn from(e: polc::bundle::KeyError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// A grant reference the user wrote (`--grant`) that names nothing in the bundle.
impl From<polc::eval::RefError> for CliError {
    fn from(e: polc::eval::RefError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// `polc mine`'s thresholds, as the user gave them.
impl From<polc::reconcile::mining::groups::ThresholdError> for CliError {
    fn from(e: polc::reconcile::mining::groups::ThresholdError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// An access export that cannot be read, or an entry of it that names nothing.
impl From<polc::reconcile::access::AccessError> for CliError {
    fn from(e: polc::reconcile::access::AccessError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// An input file named on the command line that cannot be read.
impl From<polc::input::limits::NamedReadError> for CliError {
    fn from(e: polc::input::limits::NamedReadError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// The project file (`polc.toml`) the command found.
impl From<polc::project::ProjectError> for CliError {
    fn from(e: polc::project::ProjectError) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// A key polc could not make (no random source): the machine's to fix.
impl From<polc::bundle::KeyProblem> for CliError {
    fn from(e: polc::bundle::KeyProblem) -> CliError {
        CliError::Input(e.to_string())
    }
}

/// A bundle file `polc build` could not write so that it reads back: polc's bug.
impl From<polc::bundle::WriteError> for CliError {
    fn from(e: polc::bundle::WriteError) -> CliError {
        CliError::Bug(e.to_string())
    }
}

/// polc serializes only its own reports: a failure there is a bug, never the user's input.
impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> CliError {
        CliError::Bug(format!("a report did not serialize: {e}"))
    }
}

#[derive(Parser)]
#[command(
    name = "polc",
    version,
    about = "Compiler, interpreter and language server of Pol, the policy language for policy-first access governance"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve, type-check and analyse a bundle; print diagnostics
    Check(check::CheckArgs),
    /// Rewrite files in the one canonical layout, keeping comments
    Fmt(fmt::FmtArgs),
    /// Run the bundle's `test` items; last line `N passed, N failed`
    Test(test::TestArgs),
    /// Each user's policies and grant set
    Eval(eval::EvalArgs),
    /// Compare expected access with current access
    Drift(drift::DriftArgs),
    /// Find each group's access patterns in current access and draft policies from them
    Mine(mine::MineArgs),
    /// A plan of changes: from the project's state (stored, to approve by its digest), or
    /// offline with --users and --access (the remediation plan for drift)
    Plan(plan::PlanArgs),
    /// What a policy change does to people: who gains, loses or changes access (OLD → NEW)
    Impact(impact::ImpactArgs),
    /// Apply HRIS events (hired, updated, terminated) and print each lifecycle delta
    Event(event::EventArgs),
    /// Why a user has (or lacks) each grant; or what a diagnostic code means (`polc explain E0101`)
    Explain(eval::ExplainArgs),
    /// The language server (LSP on stdin/stdout), for editors
    Lsp,
    /// Check a bundle and compile it to a bundle file (digested, optionally signed)
    Build(build::BuildArgs),
    /// Show a bundle file's metadata and contents
    Inspect(inspect::InspectArgs),
    /// Make an ed25519 key pair for signing bundles (`KEY` and `KEY.pub`)
    Keygen(keygen::KeygenArgs),
    /// Write a new provisioning project (polc.toml, the seed's policies and people, a file system)
    Init(init::InitArgs),
    /// The directory of people: import a snapshot, or apply events
    Hris(hris::HrisArgs),
    /// Read what the systems hold into the state; report what changed out of band
    Pull(pull::PullArgs),
    /// Carry out a plan: approved by its digest, or auto-approved (exit 1 if some action failed, 2 if refused)
    Apply(apply::ApplyArgs),
    /// The project's state: directory, systems, plans, holds, quarantines, overdue leavers
    Status(status::StatusArgs),
    /// The audit log: `polc audit verify [--head HASH]`
    Audit(audit::AuditArgs),
    /// Static analysis for review: `--overlaps` lists the pairs of policies that can apply to one person
    Analyze(analyze::AnalyzeArgs),
    /// Run the service: HRIS webhooks, the JSON API, the review page, the schedule (docs/serve.md)
    Serve(serve::ServeArgs),
    /// The seed story end to end on a temporary project: hire, promotion, transfer with grace, an out-of-band grant found by pull, termination, the evidence pack
    Demo(demo::DemoArgs),
}

/// Parses `std::env::args` and runs the command; returns the process exit code.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Test(a) => test::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Lsp => polc_lsp::run_stdio(polc_ide::Host::new())
            .map(|()| 0)
            .map_err(|e| InputError(format!("the language server stopped: {e}"))),
        Command::Event(a) => event::run(a),
        Command::Drift(a) => drift::run(a),
        Command::Mine(a) => mine::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Init(a) => init::run(a),
        Command::Hris(a) => hris::run(a),
        Command::Pull(a) => pull::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Status(a) => status::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Impact(a) => impact::run(a),
        Command::Explain(a) => {
            let code = a
                .paths
                .first()
                .and_then(|p| p.to_str())
                .filter(|s| is_code(s))
                .map(str::to_string);
            match code {
                Some(code) if a.paths.len() == 1 && a.users.is_none() => a
                    .bundle_args()
                    .check_verify_key()
                    .and_then(|()| explain_code(&code)),
                _ => eval::explain(a),
            }
        }
        Command::Build(a) => build::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", polc::text::terminal_lines(&e.to_string()));
            e.exit_code()
        }
    }
}

/// `E0101`, `W0201`, `N0001`: the shape of a diagnostic code.
fn is_code(s: &str) -> bool {
    s.len() == 5
        && s.as_bytes()[0].is_ascii_alphabetic()
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn explain_code(code: &str) -> Result<Exit, InputError> {
    match polc::diagnostics::explain::explain(code) {
        Some(text) => {
            print!("{text}");
            Ok(0)
        }
        None => Err(InputError(format!(
            "no diagnostic code `{code}`; the codes are listed in docs/diagnostics.md (e.g. `polc explain E0101`)"
        ))),
    }
}

/// Where the policies are when no PATH (and no `--bundle`) is given: the `[policies]` table
/// of the nearest `polc.toml` in the working directory or a parent, else `.`.
pub(crate) enum ProjectPolicies {
    Paths(Vec<PathBuf>),
    Bundle(PathBuf),
}

pub(crate) fn project_policies() -> Result<ProjectPolicies, InputError> {
    let cwd = std::env::current_dir()
        .map_err(|e| InputError(format!("cannot read the working directory: {e}")))?;
    let Some(section) = polc::project::find_policies(&cwd)? else {
        return Ok(ProjectPolicies::Paths(vec![PathBuf::from(".")]));
    };
    // Paths under the working directory are shown relative to it, as if typed.
    let shown = |p: PathBuf| match p.strip_prefix(&cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => p,
    };
    Ok(match section.bundle {
        Some(b) => ProjectPolicies::Bundle(shown(b)),
        None => ProjectPolicies::Paths(section.paths.into_iter().map(shown).collect()),
    })
}

/// `PATH…` of a command that reads sources: as given, else the project's (`polc.toml`), else
/// `.`. A project that names a compiled bundle gives no sources: an error.
pub(crate) fn default_paths(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, InputError> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    match project_policies()? {
        ProjectPolicies::Paths(p) => Ok(p),
        ProjectPolicies::Bundle(b) => Err(InputError(format!(
            "{} names a compiled bundle ({}): this command reads policy sources: give their PATHS",
            polc::project::FILE,
            b.display()
        ))),
    }
}

/// Parses an ISO date argument.
pub(crate) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    // Only ISO dates with a four-digit year (0001-9999): `+10000-01-01` or `0000-01-01`
    // would print as non-ISO dates everywhere after.
    polc::dates::parse(s).ok_or_else(|| {
        format!("`{s}` is not a date (expected YYYY-MM-DD, a year from 0001 to 9999)")
    })
}

/// Writes command output to stdout; a closed pipe (`polc inspect F | head`) ends the
/// output quietly instead of panicking.
/// Writes `value` as pretty JSON and a newline to stdout, streamed (no string of the whole
/// answer is built); a closed pipe (`| head`) is not an error.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), InputError> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let r = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(InputError(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints a human or table report: whatever a value from an input holds, no control
/// character other than its line breaks reaches the terminal ([`polc::text::terminal_lines`];
/// the renderers also escape user ids and values, so that they cannot forge a line).
pub(crate) fn print_human(text: &str) -> Result<(), InputError> {
    print_stdout(&polc::text::terminal_lines(text))
}

pub(crate) fn print_stdout(text: &str) -> Result<(), InputError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(InputError(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `--help` describes every option and argument of every command; PATHS says its default.
    #[test]
    fn every_option_has_a_description() {
        let cli = super::Cli::command();
        let mut missing = Vec::new();
        for cmd in cli.get_subcommands() {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" {
                    continue;
                }
                match arg.get_help() {
                    None => missing.push(format!("polc {} {id}", cmd.get_name())),
                    Some(h) if id == "paths" && !h.to_string().contains("default") => {
                        missing.push(format!("polc {} PATHS: no default", cmd.get_name()))
                    }
                    Some(_) => {}
                }
            }
        }
        assert!(missing.is_empty(), "undescribed:\n{}", missing.join("\n"));
    }

    /// Exit codes are decided by the kind of error: input and output 2, a bug 70 (and says so).
    #[test]
    fn exit_codes_by_kind() {
        use super::CliError;
        assert_eq!(super::InputError("x".into()).exit_code(), 2);
        let io = std::io::Error::other("disk full");
        assert_eq!(CliError::from(io).exit_code(), 2);
        let bad = serde_json::from_str::<u8>("x").unwrap_err();
        let bug = CliError::from(bad);
        assert_eq!(bug.exit_code(), 70);
        assert!(bug.to_string().contains("bug in polc"));
    }

    /// `--at` takes ISO dates with a four-digit year only.
    #[test]
    fn dates_outside_the_calendar_are_refused() {
        assert!(super::parse_date("2025-06-01").is_ok());
        for bad in [
            "+10000-01-01",
            "0000-01-01",
            "10000-01-01",
            "2025-6-1x",
            "2025-02-30",
        ] {
            assert!(super::parse_date(bad).is_err(), "{bad}");
        }
    }

    /// One name for the evaluation date: `--at` (`--today` still works where it did).
    #[test]
    fn the_date_is_at() {
        let cli = super::Cli::command();
        for cmd in cli.get_subcommands() {
            for arg in cmd.get_arguments() {
                assert_ne!(arg.get_long(), Some("today"), "polc {}", cmd.get_name());
            }
        }
    }
}
