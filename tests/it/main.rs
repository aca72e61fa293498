//! polc's integration tests: one binary for the whole workspace (build once, link once).
//! Each module is one area; `support` holds what they share.

/// The workspace root (where `examples/`, `tests/` and `docs/` live), as a string literal,
/// so that `concat!(root!(), "/examples/seed")` works.
macro_rules! root {
    () => {
        concat!(env!("CARGO_MANIFEST_DIR"), "/..")
    };
}

mod support;

mod access_formats;
mod analysis;
mod architecture;
mod cli_analyze;
mod cli_bundle;
mod cli_check;
mod cli_eval;
mod cli_fmt;
mod cli_impact;
mod cli_mine;
mod demo;
mod diagnostics;
mod docs_diagnostics;
mod editor_nvim;
mod eval_semantics;
mod explain_examples;
mod fmt;
mod fuzz_corpus;
mod hardening_cli;
mod hardening_input;
mod hardening_lang;
mod hr_mapping;
mod incremental;
mod lsp;
mod properties;
mod provision_cli;
mod provision_scim;
mod review;
mod review_browser;
mod seed_story;
mod serve;
mod serve_replicas;
