//! `polc build`: check a bundle's sources and, when they have no error, compile them to a
//! bundle file (docs/bundles.md), signed with `--sign-key`.

use std::path::PathBuf;

use clap::Args;
use salsa::Setter;

use super::common::{source_paths, Inputs};
use super::{default_paths, parse_date, Exit, InputError};
use polc::bundle::{self, SecretKey};
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::{count, render};

#[derive(Args)]
pub struct BuildArgs {
    /// Files or directories (walked recursively for *.pol); default: the `[policies]` of the nearest polc.toml, else `.`
    paths: Vec<PathBuf>,
    /// The bundle file to write
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Sign the bundle with this secret key (from `polc keygen`)
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,
    /// The date expiry warnings are judged against (default: today, UTC)
    #[arg(long, visible_alias = "today", value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
}

pub fn run(a: BuildArgs) -> Result<Exit, InputError> {
    // The key first: a bad key is found before any work.
    let key = a.sign_key.as_deref().map(SecretKey::read).transpose()?;
    let mut loaded = Loaded::from_paths(&default_paths(a.paths)?)?;
    if let Some(t) = a.at {
        loaded.workspace.set_today(&mut loaded.db).to(t);
    }
    let db = &loaded.db;
    let checked = check_bundle(db, loaded.workspace);
    render::emit_stderr(db, &checked.diagnostics);
    let (errors, warnings) = count(&checked.diagnostics);
    if errors > 0 {
        eprintln!(
            "build failed: {errors} error{}, {warnings} warning{}; no bundle written",
            plural(errors),
            plural(warnings)
        );
        return Ok(1);
    }
    let mut inputs = Inputs::default();
    inputs.add_bundle(&source_paths(&loaded), &Default::default());
    if let Some(k) = &a.sign_key {
        inputs.add(k, "the signing key");
    }
    inputs.check_output("-o", &a.output)?;
    let b = &*checked.bundle;
    let created_from: Vec<String> = loaded
        .workspace
        .files(db)
        .iter()
        .map(|f| f.path(db).clone())
        .collect();
    let (header, bytes) = bundle::file::encode(b, created_from, key.as_ref())?;
    // Never write a file this polc could not read back as the same bundle.
    bundle::verify_round_trip(&bytes, b)?;
    bundle::file::write_atomic(&a.output, &bytes)
        .map_err(|e| InputError(format!("{}: cannot write: {e}", a.output.display())))?;
    let templates = b.policies.iter().filter(|p| p.template).count();
    let signed = match &key {
        Some(k) => format!(", signed (key id {})", k.public().id()),
        None => String::new(),
    };
    eprintln!(
        "built {}: {} polic{}, {templates} template{}, {} system{}, {} exception{}, {} test{}; {}{signed}",
        a.output.display(),
        b.policies.len() - templates,
        if b.policies.len() - templates == 1 { "y" } else { "ies" },
        plural(templates),
        b.systems.len(),
        plural(b.systems.len()),
        b.exceptions.len(),
        plural(b.exceptions.len()),
        b.tests.len(),
        plural(b.tests.len()),
        header.digest,
    );
    Ok(0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
