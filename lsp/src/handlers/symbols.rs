//! document and workspace symbols, semantic tokens, code lenses.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::blocking;
use crate::line_index::LineIndex;
use crate::server::Backend;
use crate::{convert, Analysis};

pub async fn document_symbol<A: Analysis>(
    b: &Backend<A>,
    p: DocumentSymbolParams,
) -> Result<Option<DocumentSymbolResponse>> {
    let uri = p.text_document.uri.as_str().to_string();
    let Some(text) = b.analysis.text(&uri) else {
        return Ok(None);
    };
    let syms = blocking(&b.analysis, move |a| a.document_symbols(&uri)).await?;
    let ix = LineIndex::new(&text);
    Ok(Some(DocumentSymbolResponse::Nested(
        syms.iter()
            .map(|s| convert::document_symbol(&ix, s))
            .collect(),
    )))
}

#[allow(deprecated)]
pub async fn workspace_symbol<A: Analysis>(
    b: &Backend<A>,
    p: WorkspaceSymbolParams,
) -> Result<Option<WorkspaceSymbolResponse>> {
    let q = p.query;
    let syms = blocking(&b.analysis, move |a| a.workspace_symbols(&q)).await?;
    let out = syms
        .into_iter()
        .filter_map(|(uri, s)| {
            let location = convert::location(
                &*b.analysis,
                &crate::Location {
                    uri,
                    range: s.selection.clone(),
                },
            )?;
            Some(SymbolInformation {
                name: s.name,
                kind: convert::symbol_kind(s.kind),
                tags: None,
                deprecated: None,
                location,
                container_name: s.detail,
            })
        })
        .collect();
    Ok(Some(WorkspaceSymbolResponse::Flat(out)))
}

pub async fn semantic_tokens<A: Analysis>(
    b: &Backend<A>,
    p: SemanticTokensParams,
) -> Result<Option<SemanticTokensResult>> {
    let uri = p.text_document.uri.as_str().to_string();
    let Some(text) = b.analysis.text(&uri) else {
        return Ok(None);
    };
    let toks = blocking(&b.analysis, move |a| a.semantic_tokens(&uri)).await?;
    Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
        result_id: None,
        data: convert::semantic_tokens(&text, &toks),
    })))
}

pub async fn code_lens<A: Analysis>(
    b: &Backend<A>,
    p: CodeLensParams,
) -> Result<Option<Vec<CodeLens>>> {
    let uri = p.text_document.uri.as_str().to_string();
    let Some(text) = b.analysis.text(&uri) else {
        return Ok(None);
    };
    let lenses = blocking(&b.analysis, move |a| a.code_lenses(&uri)).await?;
    let ix = LineIndex::new(&text);
    Ok(Some(
        lenses
            .into_iter()
            .map(|l| CodeLens {
                range: ix.range(&l.range),
                command: Some(Command {
                    title: l.title,
                    command: String::new(),
                    arguments: None,
                }),
                data: None,
            })
            .collect(),
    ))
}
