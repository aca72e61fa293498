//! polc: the compiler, interpreter and language server of Pol.
//!
//! Data flows one way: source text ([`syntax`]) → AST → checked IR ([`check`], on the salsa
//! database of [`db`]) → evaluation → plans. Diagnostics ([`diagnostics`]) carry facts;
//! rendering happens in one place.

pub mod analysis;
pub mod bundle;
pub mod check;
pub mod dates;
pub mod db;
pub mod diagnostics;
pub mod eval;
pub mod fmt;
pub mod index_vec;
pub mod input;
pub mod ir;
pub mod lifecycle;
pub mod notation;
pub mod project;
pub mod reconcile;
pub mod stdlib;
pub mod syntax;
pub mod text;
