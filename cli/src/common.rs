//! What several commands share: reading a bundle (sources or a compiled file) and dates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::InputError;
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::{render, Diagnostic};
use polc::ir;

/// Where the policies come from: source paths, or a compiled bundle.
#[derive(Args, Clone, Default)]
pub struct BundleArgs {
    /// Files or directories (walked recursively for *.pol); default: the `[policies]` of the nearest polc.toml, else `.`
    pub paths: Vec<PathBuf>,
    /// A compiled bundle (`polc build`) instead of sources
    #[arg(long, conflicts_with = "paths")]
    pub bundle: Option<PathBuf>,
    /// Refuse the bundle unless it is signed by this key (`polc keygen`'s KEY.pub); only
    /// with --bundle
    #[arg(long, value_name = "KEY")]
    pub verify_key: Option<PathBuf>,
}

impl BundleArgs {
    /// With neither PATHS nor `--bundle`: the project's policies (`polc.toml`), else `.`.
    pub fn resolved(&self) -> Result<BundleArgs, InputError> {
        let mut r = self.clone();
        if r.paths.is_empty() && r.bundle.is_none() {
            match super::project_policies()? {
                super::ProjectPolicies::Paths(p) => r.paths = p,
                super::ProjectPolicies::Bundle(b) => r.bundle = Some(b),
            }
        }
        Ok(r)
    }

    /// A key is only enforced on a compiled bundle: with sources (or the default bundle) it
    /// would be silently ignored, so it is an error. (clap's `requires = "bundle"` does not
    /// do this: it is not checked when PATHS, which conflicts with `--bundle`, is given.)
    pub fn check_verify_key(&self) -> Result<(), InputError> {
        if self.verify_key.is_some() && self.bundle.is_none() {
            return Err(InputError(
                "--verify-key checks the signature of a compiled bundle and needs --bundle FILE: \
                 policy sources carry no signature (build and sign them with \
                 `polc build --sign-key`, or leave out --verify-key)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Checks the sources and returns the IR; a bundle with errors is refused (exit 2) after
/// its diagnostics are printed. A reachable conflict (E0501) is not a reason to refuse:
/// evaluation reports it as violations (`polc check` and `polc build` still fail on it).
pub fn load_bundle(args: &BundleArgs) -> Result<Arc<ir::Bundle>, InputError> {
    let args = &args.resolved()?;
    args.check_verify_key()?;
    if let Some(file) = &args.bundle {
        return Ok(polc::bundle::load_for_eval(
            file,
            args.verify_key.as_deref(),
        )?);
    }
    let loaded = Loaded::from_paths(&args.paths)?;
    checked_bundle(&loaded, "the policies")
}

/// The checked IR of loaded sources; with errors, prints them and refuses (exit 2).
/// `what` names the sources in the message ("the policies", "NEW `dir`").
pub fn checked_bundle(loaded: &Loaded, what: &str) -> Result<Arc<ir::Bundle>, InputError> {
    let checked = check_bundle(&loaded.db, loaded.workspace);
    let errors: Vec<Diagnostic> = checked.blocking_errors().cloned().collect();
    if !errors.is_empty() {
        render::emit_stderr(&loaded.db, &errors);
        return Err(InputError(format!(
            "{what} have {} error(s): fix them first (`polc check`)",
            errors.len()
        )));
    }
    Ok(checked.bundle.clone())
}

/// `--at`, or today (UTC).
pub fn at_or_today(at: Option<chrono::NaiveDate>) -> chrono::NaiveDate {
    at.unwrap_or_else(polc::db::today_utc)
}

/// Where a path leads: canonical when it exists; for a file not written yet, its canonical
/// folder joined with its name (so `out.json`, `./out.json` and `dir/../out.json` are one).
fn canonical_target(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// The files a command reads, so that no output it writes replaces one of them.
#[derive(Default)]
pub struct Inputs {
    files: Vec<(PathBuf, String)>,
}

impl Inputs {
    /// Records an input (`what` names it in the error: "the users file"); one that cannot be
    /// resolved (stdin, a built-in module) is left out.
    pub fn add(&mut self, path: &Path, what: &str) {
        if path.as_os_str() == "-" {
            return;
        }
        if let Some(c) = canonical_target(path) {
            self.files.push((c, format!("{what} {}", path.display())));
        }
    }

    /// Records the bundle's inputs: every `.pol` source (imports included) or the compiled
    /// bundle file, and the verify key.
    pub fn add_bundle(&mut self, sources: &[PathBuf], args: &BundleArgs) {
        for s in sources {
            self.add(s, "the policies");
        }
        if let Some(b) = &args.bundle {
            self.add(b, "the bundle");
        }
        if let Some(k) = &args.verify_key {
            self.add(k, "the verify key");
        }
    }

    /// Refuses (exit 2) to write `out` (given as `flag`) when it is one of the inputs.
    pub fn check_output(&self, flag: &str, out: &Path) -> Result<(), InputError> {
        let Some(target) = canonical_target(out) else {
            return Ok(());
        };
        match self.files.iter().find(|(c, _)| *c == target) {
            Some((_, what)) => Err(InputError(format!(
                "{flag} {}: that is {what}, an input of this command: refusing to overwrite it \
                 (write the output somewhere else)",
                out.display()
            ))),
            None => Ok(()),
        }
    }
}

/// The `.pol` files loaded sources were read from (imports included; built-in modules left out).
pub fn source_paths(loaded: &Loaded) -> Vec<PathBuf> {
    loaded
        .workspace
        .files(&loaded.db)
        .iter()
        .map(|f| PathBuf::from(f.path(&loaded.db)))
        .collect()
}

/// [`load_bundle`], with the files it read: the sources, or the compiled bundle.
pub fn load_bundle_and_sources(
    args: &BundleArgs,
) -> Result<(Arc<ir::Bundle>, Vec<PathBuf>), InputError> {
    let args = &args.resolved()?;
    if let Some(b) = &args.bundle {
        return Ok((load_bundle(args)?, vec![b.clone()]));
    }
    args.check_verify_key()?;
    let loaded = Loaded::from_paths(&args.paths)?;
    let bundle = checked_bundle(&loaded, "the policies")?;
    Ok((bundle, source_paths(&loaded)))
}
