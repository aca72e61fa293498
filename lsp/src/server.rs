//! The `LanguageServer` implementation: capabilities, document sync with debounced
//! diagnostics, and one delegating method per request (the work is in `handlers`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::handlers;
use crate::Analysis;

/// How long after the last keystroke diagnostics are published.
const DEBOUNCE: Duration = Duration::from_millis(150);

pub struct Backend<A: Analysis> {
    pub(crate) client: Client,
    pub(crate) analysis: Arc<A>,
    /// Bumped by every change; a scheduled publish runs only if it is still the latest.
    generation: Arc<AtomicU64>,
}

impl<A: Analysis> Backend<A> {
    pub fn new(client: Client, analysis: Arc<A>) -> Backend<A> {
        Backend {
            client,
            analysis,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Publishes every document's diagnostics after the debounce delay, unless another
    /// change came in meanwhile.
    fn schedule_diagnostics(&self, delay: Duration) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let latest = self.generation.clone();
        let client = self.client.clone();
        let analysis = self.analysis.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if latest.load(Ordering::SeqCst) != generation {
                return;
            }
            handlers::sync::publish(&client, analysis).await;
        });
    }
}

/// Serves the language server on stdin/stdout until the client exits.
pub async fn serve<A: Analysis>(analysis: Arc<A>) {
    let (service, socket) = LspService::new(move |client| Backend::new(client, analysis));
    Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
        .serve(service)
        .await;
}

impl<A: Analysis> LanguageServer for Backend<A> {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        handlers::sync::initialize(self, params).await;
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "polc".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Kind(
                    TextDocumentSyncKind::FULL,
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Left(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![":".into(), "\"".into(), "(".into()]),
                    ..Default::default()
                }),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                semantic_tokens_provider: Some(
                    SemanticTokensServerCapabilities::SemanticTokensOptions(
                        SemanticTokensOptions {
                            legend: SemanticTokensLegend {
                                token_types: crate::convert::token_types(),
                                token_modifiers: vec![],
                            },
                            full: Some(SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            ..Default::default()
                        },
                    ),
                ),
                ..ServerCapabilities::default()
            },
            ..Default::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.schedule_diagnostics(Duration::ZERO);
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        self.analysis
            .set_file(params.text_document.uri.as_str(), params.text_document.text);
        self.schedule_diagnostics(Duration::ZERO);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        // Full sync: the last change holds the whole text.
        if let Some(change) = params.content_changes.into_iter().last() {
            self.analysis
                .set_file(params.text_document.uri.as_str(), change.text);
        }
        self.schedule_diagnostics(DEBOUNCE);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        handlers::sync::did_close(self, params).await;
        self.schedule_diagnostics(Duration::ZERO);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        handlers::sync::configuration(self, &params.settings);
        self.schedule_diagnostics(Duration::ZERO);
        // Ask the client to re-read lenses; never wait for its answer here (a client that
        // does not answer must not block configuration changes).
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.code_lens_refresh().await;
        });
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        handlers::navigation::hover(self, params).await
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        handlers::navigation::definition(self, params).await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        handlers::navigation::references(self, params).await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        handlers::navigation::rename(self, params).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        handlers::editing::completion(self, params).await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        handlers::editing::formatting(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        handlers::editing::code_action(self, params).await
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        handlers::symbols::document_symbol(self, params).await
    }

    async fn symbol(
        &self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>> {
        handlers::symbols::workspace_symbol(self, params).await
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        handlers::symbols::semantic_tokens(self, params).await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        handlers::symbols::code_lens(self, params).await
    }
}

/// Runs the server on stdin/stdout on its own runtime until the client exits.
pub fn run_stdio<A: Analysis>(analysis: A) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(Arc::new(analysis)));
    Ok(())
}
