//! hover, definition, references, rename.

use std::collections::HashMap;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::{blocking, offset};
use crate::line_index::LineIndex;
use crate::server::Backend;
use crate::{convert, Analysis};

pub async fn hover<A: Analysis>(b: &Backend<A>, p: HoverParams) -> Result<Option<Hover>> {
    let doc = p.text_document_position_params;
    let Some(off) = offset(&*b.analysis, &doc.text_document.uri, doc.position) else {
        return Ok(None);
    };
    let uri = doc.text_document.uri.as_str().to_string();
    let u2 = uri.clone();
    let h = blocking(&b.analysis, move |a| a.hover(&u2, off)).await?;
    let Some(h) = h else { return Ok(None) };
    let range = b
        .analysis
        .text(&uri)
        .map(|t| LineIndex::new(&t).range(&h.range));
    Ok(Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: h.markdown,
        }),
        range,
    }))
}

pub async fn definition<A: Analysis>(
    b: &Backend<A>,
    p: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>> {
    let doc = p.text_document_position_params;
    let Some(off) = offset(&*b.analysis, &doc.text_document.uri, doc.position) else {
        return Ok(None);
    };
    let uri = doc.text_document.uri.as_str().to_string();
    let locs = blocking(&b.analysis, move |a| a.definition(&uri, off)).await?;
    let out: Vec<Location> = locs
        .iter()
        .filter_map(|l| convert::location(&*b.analysis, l))
        .collect();
    Ok((!out.is_empty()).then_some(GotoDefinitionResponse::Array(out)))
}

pub async fn references<A: Analysis>(
    b: &Backend<A>,
    p: ReferenceParams,
) -> Result<Option<Vec<Location>>> {
    let doc = p.text_document_position;
    let Some(off) = offset(&*b.analysis, &doc.text_document.uri, doc.position) else {
        return Ok(None);
    };
    let uri = doc.text_document.uri.as_str().to_string();
    let include = p.context.include_declaration;
    let locs = blocking(&b.analysis, move |a| a.references(&uri, off, include)).await?;
    Ok(Some(
        locs.iter()
            .filter_map(|l| convert::location(&*b.analysis, l))
            .collect(),
    ))
}

pub async fn rename<A: Analysis>(b: &Backend<A>, p: RenameParams) -> Result<Option<WorkspaceEdit>> {
    let doc = p.text_document_position;
    let Some(off) = offset(&*b.analysis, &doc.text_document.uri, doc.position) else {
        return Ok(None);
    };
    let uri = doc.text_document.uri.as_str().to_string();
    let name = p.new_name;
    let edits = blocking(&b.analysis, move |a| a.rename(&uri, off, &name)).await?;
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for e in edits {
        let (Some(u), Some(text)) = (convert::uri(&e.uri), b.analysis.text(&e.uri)) else {
            continue;
        };
        changes.entry(u).or_default().push(TextEdit {
            range: LineIndex::new(&text).range(&e.range),
            new_text: e.text,
        });
    }
    Ok(Some(WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    }))
}
