//! Source text to AST: the lexer ([`lexer`]), the LALRPOP parser ([`parser`]) and the tree
//! they build ([`ast`]). Nothing here knows about other files, names or types.

pub mod ast;
pub mod confusables;
pub mod lexer;
pub mod names;
pub mod parser;
pub mod span;

pub use parser::{parse, Parsed, SyntaxError};
pub use span::{Sp, Span};
