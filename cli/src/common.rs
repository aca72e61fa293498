//! What several commands share: reading a bundle (sources or a compiled file) and dates.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{default_paths, InputError};
use polc::check::check_bundle;
use polc::db::Loaded;
use polc::diagnostics::{render, Diagnostic};
use polc::ir;

/// Where the policies come from: source paths, or a compiled bundle.
#[derive(Args, Clone, Default)]
pub struct BundleArgs {
    /// Files or directories (walked recursively for *.pol)
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
    args.check_verify_key()?;
    if let Some(file) = &args.bundle {
        return Ok(polc::bundle::load_for_eval(
            file,
            args.verify_key.as_deref(),
        )?);
    }
    let loaded = Loaded::from_paths(&default_paths(args.paths.clone()))?;
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
