//! One function per request: convert positions, ask the analysis off the async runtime,
//! convert the answer. A `Cancelled` analysis answer becomes `ContentModified`, so the
//! client asks again instead of waiting.

pub mod editing;
pub mod navigation;
pub mod symbols;
pub mod sync;

use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{Position, Uri};

use crate::line_index::LineIndex;
use crate::{Analysis, Refused};

/// Runs an analysis call on the blocking pool.
pub async fn blocking<A: Analysis, T: Send + 'static>(
    analysis: &Arc<A>,
    f: impl FnOnce(&A) -> std::result::Result<T, Refused> + Send + 'static,
) -> Result<T> {
    let a = analysis.clone();
    match tokio::task::spawn_blocking(move || f(&a)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Refused::Cancelled)) => Err(Error::content_modified()),
        Ok(Err(Refused::Invalid(m))) => Err(Error::invalid_params(m)),
        Err(_) => Err(Error::internal_error()),
    }
}

/// The byte offset of a position in a document the analysis knows.
pub fn offset<A: Analysis>(a: &A, uri: &Uri, p: Position) -> Option<usize> {
    let text = a.text(uri.as_str())?;
    Some(LineIndex::new(&text).offset(p))
}
