//! The Pol language server: LSP over stdio (tower-lsp-server), kept thin. It knows the
//! protocol, documents and positions; it knows nothing of Pol. Everything about the
//! language comes from an [`Analysis`] (implemented by `polc::ide` on the same salsa
//! database `polc check` uses), which speaks in byte offsets and its own plain types.

mod convert;
mod handlers;
pub mod line_index;
mod server;

pub use server::{run_stdio, serve, Backend};

/// A byte range in one document.
pub type Range = std::ops::Range<usize>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// A place in a document (by URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub uri: String,
    pub range: Range,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub range: Range,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    /// Secondary labels, possibly in other documents.
    pub related: Vec<(Location, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    pub markdown: String,
    pub range: Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Policy,
    Template,
    Attribute,
    Value,
    System,
    ResourceType,
    Level,
    Function,
    Module,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// Text to insert when it differs from the label (e.g. quoted names).
    pub insert: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Policy,
    Template,
    System,
    Resource,
    Schema,
    Field,
    Exception,
    Conflict,
    Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    pub detail: Option<String>,
    pub range: Range,
    pub selection: Range,
    pub children: Vec<Symbol>,
}

/// A text replacement in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub uri: String,
    pub range: Range,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAction {
    pub title: String,
    /// The diagnostic code it fixes, if any.
    pub fixes: Option<String>,
    pub edits: Vec<Edit>,
    pub preferred: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Keyword,
    Comment,
    String,
    Number,
    Operator,
    Policy,
    Attribute,
    System,
    Type,
    Level,
    Function,
}

impl TokenKind {
    pub const ALL: [TokenKind; 11] = [
        TokenKind::Keyword,
        TokenKind::Comment,
        TokenKind::String,
        TokenKind::Number,
        TokenKind::Operator,
        TokenKind::Policy,
        TokenKind::Attribute,
        TokenKind::System,
        TokenKind::Type,
        TokenKind::Level,
        TokenKind::Function,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemanticToken {
    pub range: (usize, usize),
    pub kind: TokenKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lens {
    pub range: Range,
    pub title: String,
}

/// Why a request could not be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The document changed while the answer was computed: the client asks again.
    Cancelled,
    /// The request makes no sense here (e.g. rename of something that is not a policy).
    Invalid(String),
}

/// The language, as the server sees it. Every method is synchronous and may be called from
/// several threads at once; reads must not block edits for long (answer `Cancelled`).
pub trait Analysis: Send + Sync + 'static {
    /// The folders the client opened (its workspace folders, else its root URI or path),
    /// on `initialize`: the analysis reads the files in them that belong to the workspace.
    fn set_roots(&self, roots: Vec<std::path::PathBuf>);
    /// A document's text (opened or changed). A document the analysis did not know may
    /// bring the files it belongs with along (a file opened by itself, with no root).
    fn set_file(&self, uri: &str, text: String);
    /// A document that is no longer part of the workspace.
    fn remove_file(&self, uri: &str);
    /// The HRIS users file that "applies to N people" is computed on (`pol.usersFile`).
    fn set_users_file(&self, path: Option<std::path::PathBuf>);
    /// The text of a document the analysis knows (including read-only ones such as the
    /// standard library's modules), for position conversions.
    fn text(&self, uri: &str) -> Option<String>;
    /// Every document with its diagnostics (documents without any included, to clear them).
    fn diagnostics(&self) -> Result<Vec<(String, Vec<Diagnostic>)>, Refused>;
    fn hover(&self, uri: &str, offset: usize) -> Result<Option<Hover>, Refused>;
    fn definition(&self, uri: &str, offset: usize) -> Result<Vec<Location>, Refused>;
    fn references(
        &self,
        uri: &str,
        offset: usize,
        include_declaration: bool,
    ) -> Result<Vec<Location>, Refused>;
    fn rename(&self, uri: &str, offset: usize, new_name: &str) -> Result<Vec<Edit>, Refused>;
    fn completion(&self, uri: &str, offset: usize) -> Result<Vec<Completion>, Refused>;
    fn document_symbols(&self, uri: &str) -> Result<Vec<Symbol>, Refused>;
    fn workspace_symbols(&self, query: &str) -> Result<Vec<(String, Symbol)>, Refused>;
    /// The whole document, formatted; `None` when it cannot be (syntax errors).
    fn format(&self, uri: &str) -> Result<Option<String>, Refused>;
    fn code_actions(&self, uri: &str, range: Range) -> Result<Vec<CodeAction>, Refused>;
    fn semantic_tokens(&self, uri: &str) -> Result<Vec<SemanticToken>, Refused>;
    fn code_lenses(&self, uri: &str) -> Result<Vec<Lens>, Refused>;
}
