//! The analysis's plain types to the protocol's, with positions converted per document.

use tower_lsp_server::ls_types as lsp;

use crate::line_index::LineIndex;
use crate::{Analysis, CompletionKind, Severity, SymbolKind, TokenKind};

pub fn uri(s: &str) -> Option<lsp::Uri> {
    s.parse().ok()
}

/// A location in any document the analysis knows.
pub fn location(a: &dyn Analysis, l: &crate::Location) -> Option<lsp::Location> {
    let text = a.text(&l.uri)?;
    Some(lsp::Location {
        uri: uri(&l.uri)?,
        range: LineIndex::new(&text).range(&l.range),
    })
}

pub fn diagnostic(a: &dyn Analysis, ix: &LineIndex<'_>, d: &crate::Diagnostic) -> lsp::Diagnostic {
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|(l, m)| {
            Some(lsp::DiagnosticRelatedInformation {
                location: location(a, l)?,
                message: m.clone(),
            })
        })
        .collect();
    lsp::Diagnostic {
        range: ix.range(&d.range),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Note => lsp::DiagnosticSeverity::INFORMATION,
        }),
        code: Some(lsp::NumberOrString::String(d.code.clone())),
        source: Some("polc".into()),
        message: d.message.clone(),
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

pub fn completion_kind(k: CompletionKind) -> lsp::CompletionItemKind {
    match k {
        CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
        CompletionKind::Policy | CompletionKind::Template => lsp::CompletionItemKind::CLASS,
        CompletionKind::Attribute => lsp::CompletionItemKind::FIELD,
        CompletionKind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
        CompletionKind::System => lsp::CompletionItemKind::MODULE,
        CompletionKind::ResourceType => lsp::CompletionItemKind::STRUCT,
        CompletionKind::Level => lsp::CompletionItemKind::CONSTANT,
        CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::Module => lsp::CompletionItemKind::FILE,
    }
}

pub fn symbol_kind(k: SymbolKind) -> lsp::SymbolKind {
    match k {
        SymbolKind::Policy => lsp::SymbolKind::CLASS,
        SymbolKind::Template => lsp::SymbolKind::INTERFACE,
        SymbolKind::System => lsp::SymbolKind::MODULE,
        SymbolKind::Resource => lsp::SymbolKind::STRUCT,
        SymbolKind::Schema => lsp::SymbolKind::OBJECT,
        SymbolKind::Field => lsp::SymbolKind::FIELD,
        SymbolKind::Exception => lsp::SymbolKind::EVENT,
        SymbolKind::Conflict => lsp::SymbolKind::OPERATOR,
        SymbolKind::Test => lsp::SymbolKind::METHOD,
    }
}

#[allow(deprecated)]
pub fn document_symbol(ix: &LineIndex<'_>, s: &crate::Symbol) -> lsp::DocumentSymbol {
    lsp::DocumentSymbol {
        name: s.name.clone(),
        detail: s.detail.clone(),
        kind: symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        range: ix.range(&s.range),
        selection_range: ix.range(&s.selection),
        children: (!s.children.is_empty())
            .then(|| s.children.iter().map(|c| document_symbol(ix, c)).collect()),
    }
}

pub fn token_types() -> Vec<lsp::SemanticTokenType> {
    TokenKind::ALL
        .iter()
        .map(|k| match k {
            TokenKind::Keyword => lsp::SemanticTokenType::KEYWORD,
            TokenKind::Comment => lsp::SemanticTokenType::COMMENT,
            TokenKind::String => lsp::SemanticTokenType::STRING,
            TokenKind::Number => lsp::SemanticTokenType::NUMBER,
            TokenKind::Operator => lsp::SemanticTokenType::OPERATOR,
            TokenKind::Policy => lsp::SemanticTokenType::CLASS,
            TokenKind::Attribute => lsp::SemanticTokenType::PROPERTY,
            TokenKind::System => lsp::SemanticTokenType::NAMESPACE,
            TokenKind::Type => lsp::SemanticTokenType::TYPE,
            TokenKind::Level => lsp::SemanticTokenType::ENUM_MEMBER,
            TokenKind::Function => lsp::SemanticTokenType::FUNCTION,
        })
        .collect()
}

/// Tokens in LSP's relative encoding; a token spanning lines is cut at line ends.
pub fn semantic_tokens(text: &str, tokens: &[crate::SemanticToken]) -> Vec<lsp::SemanticToken> {
    let ix = LineIndex::new(text);
    let mut out = Vec::new();
    let (mut prev_line, mut prev_start) = (0u32, 0u32);
    let mut sorted = tokens.to_vec();
    sorted.sort_by_key(|t| t.range.0);
    for t in sorted {
        let kind = TokenKind::ALL
            .iter()
            .position(|k| *k == t.kind)
            .unwrap_or(0) as u32;
        let mut start = t.range.0;
        while start < t.range.1 {
            let line_end = text[start..t.range.1]
                .find('\n')
                .map_or(t.range.1, |i| start + i);
            let p = ix.position(start);
            let len = text[start..line_end].encode_utf16().count() as u32;
            if len > 0 {
                let delta_line = p.line - prev_line;
                let delta_start = if delta_line == 0 {
                    p.character - prev_start
                } else {
                    p.character
                };
                out.push(lsp::SemanticToken {
                    delta_line,
                    delta_start,
                    length: len,
                    token_type: kind,
                    token_modifiers_bitset: 0,
                });
                prev_line = p.line;
                prev_start = p.character;
            }
            start = line_end + 1;
        }
    }
    out
}
