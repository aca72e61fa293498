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
pub fn find_policies(cwd: &Path) -> Result<Option<PoliciesSection>, String> {
    match find_file(cwd) {
        None => Ok(None),
        Some(file) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            parse_policies(&text, &file)
        }
    }
}

/// Reads the `[policies]` table of project-file text; paths are resolved against `file`'s
/// folder.
pub fn parse_policies(text: &str, file: &Path) -> Result<Option<PoliciesSection>, String> {
    let at = |msg: String| format!("{}: {msg}", file.display());
    let table: toml::Table = text
        .parse()
        .map_err(|e| at(format!("not valid TOML: {e}")))?;
    let Some(policies) = table.get("policies") else {
        return Ok(None);
    };
    let policies = policies
        .as_table()
        .ok_or_else(|| at("`policies` must be a table (`[policies]`)".into()))?;
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
            return Err(at(format!(
                "[policies]: unknown key `{key}` (expected `paths` or `bundle`)"
            )));
        }
    }
    let paths = match policies.get("paths") {
        None => Vec::new(),
        Some(v) => {
            let list = v
                .as_array()
                .ok_or_else(|| at("[policies] paths: expected a list of strings".into()))?;
            let mut out = Vec::new();
            for p in list {
                let p = p
                    .as_str()
                    .ok_or_else(|| at("[policies] paths: expected a list of strings".into()))?;
                out.push(resolve(p));
            }
            if out.is_empty() {
                return Err(at("[policies] paths: the list is empty".into()));
            }
            out
        }
    };
    let bundle = match policies.get("bundle") {
        None => None,
        Some(v) => Some(resolve(v.as_str().ok_or_else(|| {
            at("[policies] bundle: expected a string (a bundle file)".into())
        })?)),
    };
    match (paths.is_empty(), &bundle) {
        (false, Some(_)) => Err(at(
            "[policies]: give `paths` (sources) or `bundle` (a compiled bundle), not both".into(),
        )),
        (true, None) => Err(at(
            "[policies]: expected `paths = [\"…\"]` or `bundle = \"…\"`".into(),
        )),
        _ => Ok(Some(PoliciesSection {
            file: file.to_path_buf(),
            paths,
            bundle,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<PoliciesSection>, String> {
        parse_policies(text, Path::new("/p/polc.toml"))
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
