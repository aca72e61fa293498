//! completion, formatting, code actions.

use std::collections::HashMap;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::{blocking, offset};
use crate::line_index::LineIndex;
use crate::server::Backend;
use crate::{convert, Analysis};

pub async fn completion<A: Analysis>(
    b: &Backend<A>,
    p: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    let doc = p.text_document_position;
    let Some(off) = offset(&*b.analysis, &doc.text_document.uri, doc.position) else {
        return Ok(None);
    };
    let uri = doc.text_document.uri.as_str().to_string();
    let items = blocking(&b.analysis, move |a| a.completion(&uri, off)).await?;
    let items = items
        .into_iter()
        .map(|c| CompletionItem {
            label: c.label,
            kind: Some(convert::completion_kind(c.kind)),
            detail: c.detail,
            insert_text: c.insert,
            ..Default::default()
        })
        .collect();
    Ok(Some(CompletionResponse::Array(items)))
}

pub async fn formatting<A: Analysis>(
    b: &Backend<A>,
    p: DocumentFormattingParams,
) -> Result<Option<Vec<TextEdit>>> {
    let uri = p.text_document.uri.as_str().to_string();
    let Some(old) = b.analysis.text(&uri) else {
        return Ok(None);
    };
    let u2 = uri.clone();
    let new = blocking(&b.analysis, move |a| a.format(&u2)).await?;
    Ok(new.filter(|n| *n != old).map(|n| {
        let ix = LineIndex::new(&old);
        vec![TextEdit {
            range: ix.range(&(0..old.len())),
            new_text: n,
        }]
    }))
}

pub async fn code_action<A: Analysis>(
    b: &Backend<A>,
    p: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = p.text_document.uri.as_str().to_string();
    let Some(text) = b.analysis.text(&uri) else {
        return Ok(None);
    };
    let ix = LineIndex::new(&text);
    let range = ix.offset(p.range.start)..ix.offset(p.range.end);
    let actions = blocking(&b.analysis, move |a| a.code_actions(&uri, range)).await?;
    let mut out = Vec::new();
    for act in actions {
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for e in act.edits {
            let (Some(u), Some(t)) = (convert::uri(&e.uri), b.analysis.text(&e.uri)) else {
                continue;
            };
            changes.entry(u).or_default().push(TextEdit {
                range: LineIndex::new(&t).range(&e.range),
                new_text: e.text,
            });
        }
        let diagnostics: Vec<Diagnostic> = p
            .context
            .diagnostics
            .iter()
            .filter(|d| {
                act.fixes
                    .as_deref()
                    .is_some_and(|c| d.code == Some(NumberOrString::String(c.to_string())))
            })
            .cloned()
            .collect();
        out.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: act.title,
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: (!diagnostics.is_empty()).then_some(diagnostics),
            edit: Some(WorkspaceEdit {
                changes: Some(changes),
                ..Default::default()
            }),
            is_preferred: Some(act.preferred),
            ..Default::default()
        }));
    }
    Ok(Some(out))
}
