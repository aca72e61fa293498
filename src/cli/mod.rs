//! The command line (CLI.md): one module per command, all on the shared analysis layer.
//! Exit codes: 0 success, 1 the command found what should fail CI, 2 bad usage or input.

mod build;
mod check;
mod fmt;
mod inspect;
mod keygen;

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
    /// Check a bundle and compile it to a bundle file (digested, optionally signed)
    Build(build::BuildArgs),
    /// Show a bundle file's metadata and contents
    Inspect(inspect::InspectArgs),
    /// Make an ed25519 key pair for signing bundles (`KEY` and `KEY.pub`)
    Keygen(keygen::KeygenArgs),
    /// Explain a diagnostic code (`polc explain E0101`)
    Explain {
        /// A diagnostic code such as E0101
        code: String,
    },
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
        Command::Build(a) => build::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Keygen(a) => keygen::run(a),
        Command::Explain { code } => explain_code(&code),
    };
    match result {
        Ok(code) => code,
        Err(InputError(msg)) => {
            eprintln!("error: {msg}");
            2
        }
    }
}

fn explain_code(code: &str) -> Result<Exit, InputError> {
    match crate::diagnostics::explain::explain(code) {
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
