//! The command line (CLI.md): one module per command, all on the shared analysis layer.
//! Exit codes: 0 success, 1 the command found what should fail CI, 2 bad usage or input.

mod analyze;
mod build;
mod check;
mod common;
mod drift;
mod eval;
mod event;
mod fmt;
mod impact;
mod inspect;
mod keygen;
mod mine;
mod progress;
mod serve;
mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The exit code of a command and what to print.
pub type Exit = i32;

/// Input the user must fix: printed as `error: …` with exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl<T: std::fmt::Display> From<T> for InputError {
    fn from(e: T) -> InputError {
        InputError(e.to_string())
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
    /// The remediation plan for drift: grants, revocations, level fixes, kept exceptions
    Plan(drift::PlanArgs),
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
    /// Static analysis for review: `--overlaps` lists the pairs of policies that can apply to one person
    Analyze(analyze::AnalyzeArgs),
    /// Run the service: HRIS webhooks, the JSON API, the schedule (docs/serve.md)
    Serve(serve::ServeArgs),
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
        Command::Plan(a) => drift::plan(a),
        Command::Impact(a) => impact::run(a),
        Command::Explain(a) => {
            let code = a
                .paths
                .first()
                .and_then(|p| p.to_str())
                .filter(|s| is_code(s))
                .map(str::to_string);
            match code {
                Some(code) if a.paths.len() == 1 && a.users.is_none() => explain_code(&code),
                _ => eval::explain(a),
            }
        }
        Command::Build(a) => build::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(code) => code,
        Err(InputError(msg)) => {
            eprintln!("error: {msg}");
            2
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

/// Default `PATH…`: the current directory.
pub(crate) fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

/// Parses an ISO date argument.
pub(crate) fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date (expected YYYY-MM-DD)"))
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
