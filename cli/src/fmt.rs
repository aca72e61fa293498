//! `polc fmt`: rewrites files in the one canonical layout (comments kept). `--check` lists
//! the files that would change and exits 1; `-` formats stdin to stdout.

use std::path::PathBuf;

use clap::Args;

use super::{default_paths, Exit, InputError};
use polc::db::{collect_pol_files, Loaded, SourceFile};
use polc::diagnostics::render;
use polc::input::limits::{read_stdin_text, read_text, Kind};

#[derive(Args)]
pub struct FmtArgs {
    /// Files or directories (walked recursively for *.pol); `-` reads stdin, writes stdout;
    /// default: the `[policies]` of the nearest polc.toml, else `.`
    paths: Vec<PathBuf>,
    /// Do not write: list the files that are not formatted and exit 1 if any
    #[arg(long)]
    check: bool,
}

enum Outcome {
    Unchanged,
    Changed(String),
    Broken,
}

fn format_one(path: &str, text: &str) -> Outcome {
    match polc::fmt::format_source(text) {
        Ok(out) => {
            // Never write a file that would parse differently or lose a comment.
            if let Err(why) = polc::fmt::verify(text, &out) {
                eprintln!("error: {path}: the formatter would change its meaning ({why}); left as it is: please report this");
                return Outcome::Broken;
            }
            if out == text {
                Outcome::Unchanged
            } else {
                Outcome::Changed(out)
            }
        }
        Err(errors) => {
            let loaded = Loaded::from_sources(&[(path, text)]);
            let file: SourceFile = loaded.workspace.files(&loaded.db)[0];
            let diags: Vec<_> = errors
                .iter()
                .map(|e| polc::check::syntax_diagnostic(file, e))
                .collect();
            render::emit_stderr(&loaded.db, &diags);
            eprintln!("error: {path}: not formatted: it has syntax errors");
            Outcome::Broken
        }
    }
}

pub fn run(a: FmtArgs) -> Result<Exit, InputError> {
    if a.paths.len() == 1 && a.paths[0].as_os_str() == "-" {
        let text =
            read_stdin_text(Kind::PolicySource).map_err(|e| InputError(e.describe("<stdin>")))?;
        return Ok(match format_one("<stdin>", &text) {
            Outcome::Unchanged => {
                print!("{text}");
                0
            }
            Outcome::Changed(out) => {
                print!("{out}");
                if a.check {
                    1
                } else {
                    0
                }
            }
            Outcome::Broken => 2,
        });
    }
    let files = collect_pol_files(&default_paths(a.paths)?)?;
    let (mut changed, mut broken) = (0, 0);
    for path in &files {
        let shown = path.display().to_string();
        let text =
            read_text(path, Kind::PolicySource).map_err(|e| InputError(e.describe(&shown)))?;
        match format_one(&shown, &text) {
            Outcome::Unchanged => {}
            Outcome::Changed(out) => {
                changed += 1;
                if a.check {
                    println!("{shown}");
                } else {
                    std::fs::write(path, out)
                        .map_err(|e| InputError(format!("{shown}: cannot write: {e}")))?;
                    eprintln!("formatted {shown}");
                }
            }
            Outcome::Broken => broken += 1,
        }
    }
    if broken > 0 {
        return Ok(2);
    }
    Ok(if a.check && changed > 0 { 1 } else { 0 })
}
