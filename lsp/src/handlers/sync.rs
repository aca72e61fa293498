//! Documents in and diagnostics out: the client's folders on `initialize`, `didClose`,
//! settings, and publishing every document's diagnostics.

use std::sync::Arc;

use tower_lsp_server::ls_types::*;
use tower_lsp_server::Client;

use crate::line_index::LineIndex;
use crate::server::Backend;
use crate::Analysis;

/// Hands the client's folders to the analysis (and the users file setting). The folders
/// are the workspace folders, else the root URI, else the (deprecated) root path; with
/// none, each opened document brings its own surroundings (the analysis decides which).
pub async fn initialize<A: Analysis>(b: &Backend<A>, params: InitializeParams) {
    if let Some(opts) = &params.initialization_options {
        configuration(b, opts);
    }
    let roots = roots(&params);
    let analysis = b.analysis.clone();
    let _ = tokio::task::spawn_blocking(move || analysis.set_roots(roots)).await;
}

#[allow(deprecated)] // root_uri and root_path: what older clients send
fn roots(params: &InitializeParams) -> Vec<std::path::PathBuf> {
    let folders: Vec<std::path::PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned()))
        .collect();
    if !folders.is_empty() {
        return folders;
    }
    if let Some(p) = params.root_uri.as_ref().and_then(|u| u.to_file_path()) {
        return vec![p.into_owned()];
    }
    params
        .root_path
        .iter()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .collect()
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
