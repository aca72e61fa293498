//! Documents in and diagnostics out: the workspace scan on `initialize`, `didClose`,
//! settings, and publishing every document's diagnostics.

use std::sync::Arc;

use tower_lsp_server::ls_types::*;
use tower_lsp_server::Client;

use crate::line_index::LineIndex;
use crate::server::Backend;
use crate::Analysis;

/// Reads every `.pol` file of the workspace folders (and the users file setting).
pub async fn initialize<A: Analysis>(b: &Backend<A>, params: InitializeParams) {
    if let Some(opts) = &params.initialization_options {
        configuration(b, opts);
    }
    let mut roots: Vec<std::path::PathBuf> = Vec::new();
    for f in params.workspace_folders.unwrap_or_default() {
        if let Some(p) = f.uri.to_file_path() {
            roots.push(p.into_owned());
        }
    }
    let analysis = b.analysis.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for root in roots {
            let walk = walkdir(&root);
            for path in walk {
                if let (Ok(text), Some(uri)) =
                    (std::fs::read_to_string(&path), Uri::from_file_path(&path))
                {
                    analysis.set_file(uri.as_str(), text);
                }
            }
        }
    })
    .await;
}

fn walkdir(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pol") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `{"usersFile": "…"}` (initialization options) or `{"pol": {"usersFile": "…"}}` (settings).
pub fn configuration<A: Analysis>(b: &Backend<A>, settings: &serde_json::Value) {
    let v = settings.get("pol").unwrap_or(settings);
    if let Some(u) = v.get("usersFile") {
        let path = u
            .as_str()
            .filter(|s| !s.is_empty())
            .map(std::path::PathBuf::from);
        b.analysis.set_users_file(path);
    }
}

/// A closed document goes back to its text on disk, or leaves the workspace.
pub async fn did_close<A: Analysis>(b: &Backend<A>, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    match uri
        .to_file_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        Some(text) => b.analysis.set_file(uri.as_str(), text),
        None => b.analysis.remove_file(uri.as_str()),
    }
}

pub async fn publish<A: Analysis>(client: &Client, analysis: Arc<A>) {
    let a = analysis.clone();
    let Ok(Ok(all)) = tokio::task::spawn_blocking(move || a.diagnostics()).await else {
        return;
    };
    for (uri_s, diags) in all {
        let Some(uri) = crate::convert::uri(&uri_s) else {
            continue;
        };
        let Some(text) = analysis.text(&uri_s) else {
            continue;
        };
        let ix = LineIndex::new(&text);
        let converted = diags
            .iter()
            .map(|d| crate::convert::diagnostic(&*analysis, &ix, d))
            .collect();
        client.publish_diagnostics(uri, converted, None).await;
    }
}
