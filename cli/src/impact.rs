//! `polc impact OLD NEW --users FILE [--access FILE]`: what a policy change does to real
//! people. OLD and NEW are each policy sources (a directory or `.pol` file), a compiled
//! bundle (`.polb`, or any file that starts like one), or `git:REV:PATH` (the sources or
//! bundle at a git revision). The comparison is `reconcile::impact`; this reads the inputs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::common::at_or_today;
use super::eval::UsersArgs;
use super::{parse_date, print_stdout, Exit, InputError};
use polc::bundle::PublicKey;
use polc::db::Loaded;
use polc::eval::Plan;
use polc::input::limits::{read_stdin_text, Kind};
use polc::input::{self, Users};
use polc::ir;
use polc::reconcile::access;
use polc::reconcile::impact::{self, render as impact_render};

#[derive(Clone, Copy, ValueEnum)]
pub enum ImpactFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Args)]
pub struct ImpactArgs {
    /// The policies before the change: a directory or .pol file, a compiled bundle
    /// (`polc build`), or `git:REV:PATH`
    old: String,
    /// The policies after the change (the same forms)
    new: String,
    #[command(flatten)]
    users: UsersArgs,
    /// What people hold today (.json, .jsonl or .csv): what would be provisioned or revoked
    #[arg(long)]
    access: Option<PathBuf>,
    /// The evaluation date of both sides (default: today, UTC)
    #[arg(long, value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// Refuse OLD and NEW unless each is a compiled bundle signed by this key (`KEY.pub`)
    #[arg(long, value_name = "KEY")]
    verify_key: Option<PathBuf>,
    /// The output: for a terminal, JSON, or Markdown for a pull-request comment
    #[arg(long, value_enum, default_value = "human")]
    format: ImpactFormat,
    /// Exit 1 when anyone loses an entitlement or has one lowered
    #[arg(long)]
    fail_on_loss: bool,
    /// Exit 1 when anyone gets a separation-of-duties violation they did not have
    #[arg(long)]
    fail_on_violation: bool,
}

const BUNDLE_START: &[u8] = b"{\"magic\":\"polc-bundle\"";

fn is_bundle_file(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("polb"))
    {
        return true;
    }
    use std::io::Read;
    let mut head = [0u8; BUNDLE_START.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == BUNDLE_START
}

/// Checks loaded sources; errors are printed and refuse the side.
fn checked(loaded: Loaded, label: &str) -> Result<Arc<ir::Bundle>, InputError> {
    super::common::checked_bundle(&loaded, &format!("{label}: the policies"))
}

/// `--verify-key` given where it cannot be enforced: policy sources are not signed.
fn unsigned_sources(label: &str) -> InputError {
    InputError(format!(
        "--verify-key: {label} is policy sources, which carry no signature: \
         compare compiled bundles (`polc build --sign-key`) to verify them, or leave out --verify-key"
    ))
}

/// Loads one side: `which` is `OLD` or `NEW`. With a key, only a compiled bundle that key
/// signed is accepted.
fn load_side(
    which: &str,
    spec: &str,
    key: Option<&PublicKey>,
) -> Result<Arc<ir::Bundle>, InputError> {
    let label = format!("{which} `{spec}`");
    if let Some(rest) = spec.strip_prefix("git:") {
        return load_git(&label, rest, key);
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(InputError(format!("{label}: no such file or directory")));
    }
    if path.is_file() && is_bundle_file(path) {
        let bytes = std::fs::read(path).map_err(|e| {
            InputError(format!(
                "{which}: {}",
                polc::text::cannot_read(&path.display().to_string(), &e)
            ))
        })?;
        return polc::bundle::read(&bytes, key)
            .map(|(_, b)| Arc::new(b))
            .map_err(|mut e| {
                e.file = Some(path.to_path_buf());
                InputError(format!("{which}: {e}"))
            });
    }
    if key.is_some() {
        return Err(unsigned_sources(&label));
    }
    let loaded = Loaded::from_paths(&[path.to_path_buf()])
        .map_err(|e| InputError(format!("{which}: {e}")))?;
    checked(loaded, &label)
}

fn git(args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err
            .trim()
            .lines()
            .next()
            .unwrap_or("git failed")
            .to_string());
    }
    Ok(out.stdout)
}

/// `git:REV:PATH`: the `.pol` files under PATH (relative to the current directory, as git
/// takes it) at revision REV, or a compiled bundle file there; imports of other files at
/// that revision are followed.
fn load_git(
    label: &str,
    rest: &str,
    key: Option<&PublicKey>,
) -> Result<Arc<ir::Bundle>, InputError> {
    let Some((rev, path)) = rest.split_once(':') else {
        return Err(InputError(format!(
            "{label}: expected `git:REV:PATH`, e.g. `git:main:policies`"
        )));
    };
    let path = if path.is_empty() { "." } else { path };
    if rev.is_empty() || rev.starts_with('-') {
        return Err(InputError(format!("{label}: `{rev}` is not a revision")));
    }
    let listing = git(&["ls-tree", "-r", "--name-only", rev, "--", path])
        .map_err(|e| InputError(format!("{label}: {e}")))?;
    let names: Vec<String> = String::from_utf8_lossy(&listing)
        .lines()
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(InputError(format!(
            "{label}: no such file or directory at revision `{rev}`"
        )));
    }
    let show = |name: &str| -> Result<Vec<u8>, InputError> {
        git(&["show", &format!("{rev}:./{name}")])
            .map_err(|e| InputError(format!("{label}: {name}: {e}")))
    };
    // One named file: a bundle, or a source file whatever its extension.
    let single = names.len() == 1
        && polc::db::lexical_normalize(Path::new(&names[0]))
            == polc::db::lexical_normalize(Path::new(path));
    if single {
        let bytes = show(&names[0])?;
        if bytes.starts_with(BUNDLE_START) || names[0].ends_with(".polb") {
            let (_, b) =
                polc::bundle::read(&bytes, key).map_err(|e| InputError(format!("{label}: {e}")))?;
            return Ok(Arc::new(b));
        }
    }
    if key.is_some() {
        return Err(unsigned_sources(label));
    }
    let hidden = |n: &str| {
        Path::new(n).components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            (c.starts_with('.') && c != "." && c != "..") || c == "target" || c == "node_modules"
        })
    };
    let mut files: Vec<(String, String)> = Vec::new();
    for name in &names {
        if !single && (!name.ends_with(".pol") || hidden(name)) {
            continue;
        }
        let bytes = show(name)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| InputError(format!("{label}: {name}: not UTF-8 text")))?;
        files.push((name.clone(), text));
    }
    if files.is_empty() {
        return Err(InputError(format!(
            "{label}: no .pol files at revision `{rev}`"
        )));
    }
    // Follow relative imports, as `Loaded::from_paths` does on disk: only `.pol` files inside
    // the bundle's root at that revision (PATH, or a single file's folder). Anything else is
    // never read; the import's E0004 or unresolved-file error says why.
    let root = polc::db::lexical_normalize(Path::new(path));
    let root = if single {
        root.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        root
    };
    let inside = |target: &Path| {
        let up = target
            .components()
            .next()
            .is_none_or(|c| matches!(c, std::path::Component::ParentDir));
        let everything = root.as_os_str().is_empty() || root == Path::new(".");
        !up && !target.is_absolute() && (everything || target.starts_with(&root))
    };
    let mut i = 0;
    while i < files.len() {
        let parsed = polc::syntax::parse(&files[i].1);
        let from = files[i].0.clone();
        i += 1;
        for item in &parsed.file.items {
            let polc::syntax::ast::Item::Import(imp) = item else {
                continue;
            };
            if imp.path.node.starts_with("std/")
                || polc::db::import_path_problem(&imp.path.node).is_some()
            {
                continue;
            }
            let target =
                polc::db::lexical_normalize(&polc::db::resolve_import(&from, &imp.path.node));
            if !inside(&target) {
                continue;
            }
            let target = target.to_string_lossy().into_owned();
            if files
                .iter()
                .any(|(n, _)| polc::db::lexical_normalize(Path::new(n)).to_string_lossy() == target)
            {
                continue;
            }
            if let Ok(bytes) = git(&["show", &format!("{rev}:./{target}")]) {
                if let Ok(text) = String::from_utf8(bytes) {
                    files.push((target, text));
                }
            }
        }
    }
    // Diagnostics name the files as `REV:path`.
    let shown: Vec<(String, String)> = files
        .into_iter()
        .map(|(n, t)| (format!("{rev}:{n}"), t))
        .collect();
    let refs: Vec<(&str, &str)> = shown
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    checked(Loaded::from_sources(&refs), label)
}

/// Reads the users file under a bundle's schema. Stdin (`-`) is read once by the caller
/// and passed as `stdin`.
fn read_users(
    bundle: &ir::Bundle,
    a: &UsersArgs,
    mapping: Option<&input::Mapping>,
    stdin: Option<&str>,
) -> Result<Users, InputError> {
    let r = match stdin {
        Some(text) => input::parse_users(
            text,
            "<stdin>",
            input::Format::Json,
            bundle.schema.as_ref(),
            mapping,
        ),
        None => input::load_users(&a.users, bundle.schema.as_ref(), mapping),
    };
    r.map_err(|e| InputError(e.0))
}

pub fn run(a: ImpactArgs) -> Result<Exit, InputError> {
    // The key first: a bad key is found before any work.
    let key = a.verify_key.as_deref().map(PublicKey::read).transpose()?;
    let old_bundle = load_side("OLD", &a.old, key.as_ref())?;
    let new_bundle = load_side("NEW", &a.new, key.as_ref())?;
    let mapping = match &a.users.mapping {
        Some(p) => Some(input::Mapping::load(p).map_err(|e| InputError(e.0))?),
        None => None,
    };
    let stdin = if a.users.users.as_os_str() == "-" {
        Some(read_stdin_text(Kind::Users).map_err(|e| InputError(e.describe("<stdin>")))?)
    } else {
        None
    };
    let mut notes = Vec::new();
    let new_users = read_users(&new_bundle, &a.users, mapping.as_ref(), stdin.as_deref())?;
    let schemas_differ = old_bundle.schema != new_bundle.schema;
    let old_owned;
    let old_users = if schemas_differ {
        notes.push(
            "the two bundles' schemas differ: the users file was read under each schema separately"
                .to_string(),
        );
        old_owned = read_users(&old_bundle, &a.users, mapping.as_ref(), stdin.as_deref())?;
        &old_owned
    } else {
        &new_users
    };
    let name = a.users.users.display().to_string();
    for e in &new_users.errors {
        eprintln!(
            "error: {name}: line {}: {} (left out of the report)",
            e.line,
            polc::text::terminal(&e.message)
        );
    }
    let at = at_or_today(a.at);
    let mut old_plan = Plan::new(Arc::clone(&old_bundle), &old_users.fields, at);
    let mut new_plan = Plan::new(Arc::clone(&new_bundle), &new_users.fields, at);
    let (old_access, new_access) = match &a.access {
        None => (None, None),
        Some(p) => {
            let o = access::load_access(p, &mut old_plan);
            let n = access::load_access(p, &mut new_plan);
            match (o, n) {
                (Err(_), Err(e)) => return Err(e.into()),
                (Ok(o), Err(e)) => {
                    notes.push(format!(
                        "the access file does not resolve against NEW ({e}): only OLD's drift coverage is shown"
                    ));
                    (Some(o), None)
                }
                (Err(e), Ok(n)) => {
                    notes.push(format!(
                        "the access file does not resolve against OLD ({e}): only NEW's drift coverage is shown"
                    ));
                    (None, Some(n))
                }
                (Ok(o), Ok(n)) => (Some(o), Some(n)),
            }
        }
    };
    let mut x = impact::compare(
        &impact::Side {
            plan: &old_plan,
            users: old_users,
            access: old_access.as_ref(),
        },
        &impact::Side {
            plan: &new_plan,
            users: &new_users,
            access: new_access.as_ref(),
        },
        a.access.is_some(),
    );
    x.old = a.old.clone();
    x.new = a.new.clone();
    x.notes = notes;
    let text = match a.format {
        ImpactFormat::Human => impact_render::human(&x),
        ImpactFormat::Json => impact_render::json(&x),
        ImpactFormat::Markdown => impact_render::markdown(&x),
    };
    match a.format {
        ImpactFormat::Json => print_stdout(&text)?,
        ImpactFormat::Human | ImpactFormat::Markdown => super::print_human(&text)?,
    }
    let fail = (a.fail_on_loss && x.has_loss()) || (a.fail_on_violation && x.has_new_violation());
    Ok(i32::from(fail))
}
