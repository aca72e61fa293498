//! Which files on disk belong to the editor's workspace. The client names folders (its
//! workspace folders, else its root); a file opened by itself brings the bundle it belongs
//! to: the nearest folder above it holding a `polc.toml`, else its own folder. A folder is
//! read as `polc check FOLDER` reads it (the library's walker, which also follows relative
//! imports), so the editor and the command line see the same bundle.

use std::path::{Path, PathBuf};

/// The file that marks a bundle's root folder.
pub const MANIFEST: &str = "polc.toml";

/// The folder whose bundle a lone `.pol` file belongs to. The nearest ancestor holding a
/// [`MANIFEST`] decides: when its `[policies] paths` name a folder holding the file, that
/// folder (as the command line reads the project); when it names none, the manifest's own
/// folder; when it names others, or there is no manifest, the file's own folder.
pub fn bundle_folder(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    let Some(root) = dir.ancestors().find(|d| d.join(MANIFEST).is_file()) else {
        return Some(dir.to_path_buf());
    };
    match polc::project::find_policies(root) {
        Ok(Some(section)) if !section.paths.is_empty() => Some(
            section
                .paths
                .iter()
                .find(|p| file.starts_with(p))
                .cloned()
                .unwrap_or_else(|| dir.to_path_buf()),
        ),
        _ => Some(root.to_path_buf()),
    }
}

/// Every `.pol` file of a folder (walked recursively, as the CLI walks it) and the files
/// they import, with their texts. A file that cannot be read is left out, not the folder.
pub fn read_folder(folder: &Path) -> Vec<(PathBuf, String)> {
    match polc::db::Loaded::from_paths(&[folder.to_path_buf()]) {
        Ok(loaded) => loaded
            .workspace
            .files(&loaded.db)
            .iter()
            .map(|f| {
                (
                    PathBuf::from(f.path(&loaded.db)),
                    f.text(&loaded.db).clone(),
                )
            })
            .collect(),
        // One unreadable file fails the whole load: read the others one by one.
        Err(_) => polc::db::collect_pol_files(&[folder.to_path_buf()])
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
            .collect(),
    }
}

/// The path of a `file://` URI (percent-decoded); `None` for other schemes.
pub fn uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://localhost/x` and `file:///x` name the same file.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_decode_to_paths() {
        assert_eq!(
            uri_path("file:///a/b%20c/d.pol"),
            Some(PathBuf::from("/a/b c/d.pol"))
        );
        assert_eq!(
            uri_path("file://localhost/x.pol"),
            Some(PathBuf::from("/x.pol"))
        );
        assert_eq!(uri_path("untitled:1"), None);
        assert_eq!(uri_path("file:///a%2"), Some(PathBuf::from("/a%2")));
        let p = Path::new("/tmp/a b/ü.pol");
        assert_eq!(uri_path(&crate::file_uri(p)).as_deref(), Some(p));
    }

    #[test]
    fn a_manifest_marks_the_bundle_folder() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("policies/sales");
        std::fs::create_dir_all(&deep).unwrap();
        let file = deep.join("sales.pol");
        assert_eq!(bundle_folder(&file), Some(deep.clone()));
        std::fs::write(dir.path().join(MANIFEST), "").unwrap();
        assert_eq!(bundle_folder(&file), Some(dir.path().to_path_buf()));
        // A project that names its policies: the named folder holding the file.
        std::fs::write(
            dir.path().join(MANIFEST),
            "[policies]\npaths = [\"policies\"]\n",
        )
        .unwrap();
        assert_eq!(bundle_folder(&file), Some(dir.path().join("policies")));
        let elsewhere = dir.path().join("tools/x.pol");
        assert_eq!(bundle_folder(&elsewhere), Some(dir.path().join("tools")));
    }
}
