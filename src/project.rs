//! The project file, `polc.toml`: where a project's policies are, so that commands given no
//! PATH use them. Only the `[policies]` table is read here (other tables are left to their
//! readers):
//!
//! ```toml
//! [policies]
//! paths = ["policies"]        # folders or .pol files, relative to this file's folder
//! # or: bundle = "dist/policies.polb"   (a compiled bundle)
//! ```

use std::path::{Path, PathBuf};

/// The project file's name.
pub const FILE: &str = "polc.toml";

/// The `[policies]` table of a project file, its paths resolved against the file's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoliciesSection {
    /// The project file it was read from.
    pub file: PathBuf,
    /// Policy sources (folders or `.pol` files); empty when `bundle` is given.
    pub paths: Vec<PathBuf>,
    /// A compiled bundle instead of sources.
    pub bundle: Option<PathBuf>,
}

/// The nearest `polc.toml` in `cwd` or a parent folder.
pub fn find_file(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors().map(|d| d.join(FILE)).find(|f| f.is_file())
}

/// The `[policies]` table of the nearest `polc.toml` in `cwd` or a parent: `Ok(None)` when
/// there is no project file or it has no `[policies]` table; an error (naming the file) when
/// it cannot be read or the table is malformed.
pub fn find_policies(cwd: &Path) -> Result<Option<PoliciesSection>, ProjectError> {
    match find_file(cwd) {
        None => Ok(None),
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|e| ProjectError {
                file: file.clone(),
                problem: Problem::Read(e.to_string()),
            })?;
            parse_policies(&text, &file)
        }
    }
}

/// Reads the `[policies]` table of project-file text; paths are resolved against `file`'s
/// folder.
pub fn parse_policies(text: &str, file: &Path) -> Result<Option<PoliciesSection>, ProjectError> {
    let at = |problem: Problem| ProjectError {
        file: file.to_path_buf(),
        problem,
    };
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| at(Problem::Toml(e.to_string())))?;
    let Some(policies) = table.get("policies") else {
        return Ok(None);
    };
    let policies = policies.as_table().ok_or_else(|| at(Problem::NotATable))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| {
        if base.as_os_str().is_empty() {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    for key in policies.keys() {
        if key != "paths" && key != "bundle" {
            return Err(at(Problem::UnknownKey(key.clone())));
        }
    }
    let paths = match policies.get("paths") {
        None => Vec::new(),
        Some(v) => {
            let list = v.as_array().ok_or_else(|| at(Problem::PathsNotStrings))?;
            let mut out = Vec::new();
            for p in list {
                let p = p.as_str().ok_or_else(|| at(Problem::PathsNotStrings))?;
                out.push(resolve(p));
            }
            if out.is_empty() {
                return Err(at(Problem::NoPaths));
            }
            out
        }
    };
    let bundle = match policies.get("bundle") {
        None => None,
        Some(v) => Some(resolve(
            v.as_str().ok_or_else(|| at(Problem::BundleNotAString))?,
        )),
    };
    match (paths.is_empty(), &bundle) {
        (false, Some(_)) => Err(at(Problem::PathsAndBundle)),
        (true, None) => Err(at(Problem::Neither)),
        _ => Ok(Some(PoliciesSection {
            file: file.to_path_buf(),
            paths,
            bundle,
        })),
    }
}

/// A project file that cannot be used; shown as `FILE: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", file.display())]
pub struct ProjectError {
    pub file: PathBuf,
    pub problem: Problem,
}

/// What is wrong with a project file's `[policies]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("cannot read: {0}")]
    Read(String),
    #[error("not valid TOML: {0}")]
    Toml(String),
    #[error("`policies` must be a table (`[policies]`)")]
    NotATable,
    #[error("[policies]: unknown key `{0}` (expected `paths` or `bundle`)")]
    UnknownKey(String),
    #[error("[policies] paths: expected a list of strings")]
    PathsNotStrings,
    #[error("[policies] paths: the list is empty")]
    NoPaths,
    #[error("[policies] bundle: expected a string (a bundle file)")]
    BundleNotAString,
    #[error("[policies]: give `paths` (sources) or `bundle` (a compiled bundle), not both")]
    PathsAndBundle,
    #[error("[policies]: expected `paths = [\"…\"]` or `bundle = \"…\"`")]
    Neither,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<PoliciesSection>, String> {
        parse_policies(text, Path::new("/p/polc.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn paths_and_bundle_resolve_against_the_file() {
        let s = parse("[policies]\npaths = [\"a\", \"b/c.pol\"]\n[other]\nx = 1\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            s.paths,
            [PathBuf::from("/p/a"), PathBuf::from("/p/b/c.pol")]
        );
        assert_eq!(s.bundle, None);
        let s = parse("[policies]\nbundle = \"dist/x.polb\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(s.bundle, Some(PathBuf::from("/p/dist/x.polb")));
        assert!(s.paths.is_empty());
    }

    #[test]
    fn other_tables_alone_are_no_policies() {
        assert_eq!(parse("[provision]\nx = 1\n").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn malformed_tables_are_errors_naming_the_file() {
        for bad in [
            "[policies",
            "policies = 1",
            "[policies]\npaths = \"a\"",
            "[policies]\npaths = [1]",
            "[policies]\npaths = []",
            "[policies]\nbundle = 3",
            "[policies]\npaths = [\"a\"]\nbundle = \"b\"",
            "[policies]\npath = [\"a\"]",
            "[policies]\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with("/p/polc.toml: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_nearest_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(find_policies(&inner).unwrap(), None);
        std::fs::write(dir.path().join(FILE), "[policies]\npaths = [\"top\"]\n").unwrap();
        let s = find_policies(&inner).unwrap().unwrap();
        assert_eq!(s.paths, [dir.path().join("top")]);
        std::fs::write(
            dir.path().join("a").join(FILE),
            "[policies]\npaths = [\"mid\"]\n",
        )
        .unwrap();
        let s = find_policies(&inner).unwrap().unwrap();
        assert_eq!(s.paths, [dir.path().join("a/mid")]);
    }
}
