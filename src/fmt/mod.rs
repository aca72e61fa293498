//! The canonical formatter (`polc fmt`): one layout for every Pol file, printed from the
//! AST, with every comment re-attached by byte offset.
//!
//! Layout decisions:
//! - Items are separated by one blank line, except that consecutive `import`s stay together,
//!   as do consecutive `require`s.
//! - Blocks (`{ … }`) hold one clause per line, indented by two spaces. Clauses keep the
//!   author's order. A blank line the author left between two clauses, fields or comments
//!   is kept (several collapse into one), so that related clauses can stay grouped; blank
//!   lines right after `{` or before `}` are dropped. Between grouped imports/requires an
//!   author's blank line is kept the same way; none is ever added there.
//! - One-line forms: `policy "Name" {`, `inherits "A", "B"`,
//!   `grant sys:type:name (level) grace 30d` (levels in lower case, references in canonical
//!   text), `expect policies ["A", "B"]`, `when` and `require` expressions (never broken).
//! - `given { a: "x", b: 2 }` and `resource group { levels a < b  default a }` (two spaces
//!   between resource clauses) stay on one line when it fits in [`MAX_WIDTH`] columns and
//!   no comment is inside their braces; otherwise one field or clause per line.
//! - Lists of a block (conflict patterns, `given` fields broken over lines) put commas
//!   between elements, none after the last. Empty blocks print as `{}`.
//! - Names: levels in grants print in lower case (unless that would make a reserved word:
//!   `(Policy)` stays), levels declared in a system print as written, enum members are bare
//!   unless they need quotes, reference names are quoted only when they must be.
//! - Expressions keep the author's parentheses and add none (the parser already made the
//!   tree match the precedence `or` < `and` < `not` < comparison). Strings are re-quoted
//!   with [`crate::syntax::ast::quote`], dates are ISO, durations as written (`30d`).
//! - Comments stay in order: leading comments on their own lines, trailing comments at the
//!   end of their line, and comments inside a construct printed on one line (an
//!   expression, a list) moved to their own lines just above it; comments inside a block's
//!   header go to the top of the block, so that nothing comes between a doc comment and its
//!   item. Plain comments right under an item with a blank line after them stay with that
//!   item instead of moving to the next one. Trailing whitespace in comments is dropped and
//!   line endings become `\n`.

mod layout;
mod printer;
mod text;
mod verify;

pub use printer::{normalize_comment, MAX_WIDTH};
pub use verify::{verify, VerifyError};

use crate::syntax::{parse, SyntaxError};

/// Formats one file in the canonical layout. Refuses, with the file's syntax errors, a file
/// that does not parse cleanly: the formatter never guesses at broken input.
pub fn format_source(src: &str) -> Result<String, Vec<SyntaxError>> {
    let parsed = parse(src);
    if !parsed.errors.is_empty() {
        return Err(parsed.errors);
    }
    let mut p = printer::Printer::new(src, &parsed.comments);
    p.file(&parsed.file);
    Ok(p.finish())
}

#[cfg(test)]
mod tests;
