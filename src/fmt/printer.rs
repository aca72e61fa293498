//! Lines, indentation, blank lines and comments: the machinery under the layout.
//!
//! The layout (`super::layout`) prints the tree as a sequence of *lines*, each standing for
//! a source range `[start, end)`. Comments are not in the tree; they are re-attached by byte
//! offset as the lines go out, with one cursor over the file's comments, in order:
//! - a comment that starts before a line's `start` is a *leading* comment, printed on its own
//!   line above it;
//! - a comment inside `[start, end)` (in an expression, a list, a header) cannot stay there
//!   when the line is rebuilt: it moves to its own line above it, after the leading ones;
//! - a comment after `end` on the same source line, separated only by spaces or commas, is a
//!   *trailing* comment and stays at the end of the line.
//!
//! Every comment is printed exactly once and in source order, so none can be lost.

use crate::syntax::lexer::{Comment, CommentKind};

/// Lines longer than this are broken where the layout knows how (`given`, resources).
pub const MAX_WIDTH: usize = 100;

const INDENT: &str = "  ";

/// A comment's byte range.
#[derive(Clone, Copy)]
struct Trivia {
    start: usize,
    end: usize,
    doc: bool,
}

pub(super) struct Printer<'s> {
    src: &'s str,
    comments: Vec<Trivia>,
    /// The first comment not printed yet.
    next: usize,
    out: String,
    depth: usize,
    /// A blank line is due before the next line.
    blank: bool,
    /// The last line printed opens a block: no blank line may follow it.
    after_open: bool,
}

/// The whitespace the lexer skips.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{c}' | '\u{feff}')
}

/// A comment's text as the formatter prints it: line endings normalized to `\n` and
/// trailing whitespace removed from every line. Nothing else of a comment ever changes.
pub fn normalize_comment(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    lines.join("\n")
}

impl<'s> Printer<'s> {
    pub(super) fn new(src: &'s str, comments: &[Comment]) -> Printer<'s> {
        let mut comments: Vec<Trivia> = comments
            .iter()
            .map(|c| Trivia {
                start: c.span.start as usize,
                end: c.span.end as usize,
                doc: c.kind == CommentKind::Doc,
            })
            .collect();
        comments.sort_by_key(|c| c.start);
        Printer {
            src,
            comments,
            next: 0,
            out: String::new(),
            depth: 0,
            blank: false,
            after_open: false,
        }
    }

    /// The output, ending with one newline (empty for a file with nothing in it).
    pub(super) fn finish(mut self) -> String {
        self.comments_before(usize::MAX, true);
        let len = self.out.trim_end_matches('\n').len();
        self.out.truncate(len);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    pub(super) fn indent(&mut self) {
        self.depth += 1;
    }

    pub(super) fn dedent(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Asks for a blank line before the next line (dropped at the top of a block or file).
    pub(super) fn want_blank(&mut self) {
        self.blank = true;
    }

    /// Whether `text` fits on one line at the current indentation.
    pub(super) fn fits(&self, text: &str) -> bool {
        self.depth * INDENT.len() + text.chars().count() <= MAX_WIDTH
    }

    fn comment_text(&self, c: Trivia) -> String {
        normalize_comment(self.src.get(c.start..c.end).unwrap_or_default())
    }

    /// Source text of a range (used only for error nodes, which are never formatted).
    pub(super) fn source(&self, start: usize, end: usize) -> String {
        self.src
            .get(start..end)
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    pub(super) fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Did the author leave a blank line right before `pos`?
    pub(super) fn blank_before(&self, pos: usize) -> bool {
        let before = self.src.get(..pos).unwrap_or_default();
        before
            .chars()
            .rev()
            .take_while(|c| is_space(*c))
            .filter(|c| *c == '\n')
            .count()
            >= 2
    }

    /// The offset of the next token at or after `pos`, past whitespace, comments and commas.
    /// Used to find where a construct really starts (a `grace` keyword is outside the span
    /// of its duration) and where a block's `{` is.
    pub(super) fn skip_trivia(&self, mut pos: usize) -> usize {
        loop {
            let Some(rest) = self.src.get(pos..) else {
                return pos;
            };
            pos += rest
                .chars()
                .take_while(|c| is_space(*c) || *c == ',')
                .map(char::len_utf8)
                .sum::<usize>();
            match self.comments.binary_search_by_key(&pos, |c| c.start) {
                Ok(i) => match self.comments.get(i) {
                    Some(c) => pos = c.end.max(pos + 1),
                    None => return pos,
                },
                Err(_) => return pos,
            }
        }
    }

    /// Is there a comment starting in `[start, end)`?
    pub(super) fn has_comments_in(&self, start: usize, end: usize) -> bool {
        self.comments
            .iter()
            .any(|c| start <= c.start && c.start < end)
    }

    fn start_line(&mut self) {
        if std::mem::take(&mut self.blank)
            && !self.out.is_empty()
            && !self.after_open
            && !self.out.ends_with("\n\n")
        {
            self.out.push('\n');
        }
        self.after_open = false;
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Prints every comment that starts before `pos` on its own line. With `keep_blanks`, a
    /// blank line the author left before a comment is kept.
    pub(super) fn comments_before(&mut self, pos: usize, keep_blanks: bool) {
        while let Some(c) = self.comments.get(self.next).copied() {
            if c.start >= pos {
                break;
            }
            if keep_blanks && self.blank_before(c.start) {
                self.blank = true;
            }
            self.start_line();
            let text = self.comment_text(c);
            self.out.push_str(&text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    /// Prints the plain comments right under the previous item (no blank line between it
    /// and them) when a blank line separates them from what follows, before `limit`: they
    /// close the previous item rather than introduce the next one, and stay where they are.
    /// Doc comments always introduce what follows them.
    pub(super) fn comments_under_item(&mut self, limit: usize) {
        let mut k = self.next;
        while self
            .comments
            .get(k)
            .is_some_and(|c| c.start < limit && !c.doc && !self.blank_before(c.start))
        {
            k += 1;
        }
        let follower = self.comments.get(k).map_or(limit, |c| c.start.min(limit));
        if k > self.next && self.blank_before(follower) {
            self.comments_before(follower, false);
        }
    }

    /// Appends the trailing comments of a line whose source ends at `end`.
    fn trailing(&mut self, end: usize) {
        let mut pos = end;
        while let Some(c) = self.comments.get(self.next).copied() {
            let same_line = c.start >= pos
                && self
                    .src
                    .get(pos..c.start)
                    .is_some_and(|gap| gap.chars().all(|ch| matches!(ch, ' ' | '\t' | ',')));
            if !same_line {
                break;
            }
            let text = self.comment_text(c);
            self.out.push(' ');
            self.out.push_str(&text);
            pos = c.end;
            self.next += 1;
        }
    }

    /// Prints `text` as a line without trailing comments.
    pub(super) fn bare_line(&mut self, text: &str) {
        self.start_line();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Prints `text` as a line whose source ends at `end`, with its trailing comments.
    pub(super) fn line(&mut self, text: &str, end: usize) {
        self.start_line();
        self.out.push_str(text);
        self.trailing(end);
        self.out.push('\n');
    }

    /// Prints the line `text` that stands for the source range `[start, end)`: its leading
    /// comments, the comments inside the range (moved above it), then the line itself with
    /// its trailing comments. A blank line the author left before `start` is kept.
    pub(super) fn unit(&mut self, start: usize, end: usize, text: &str) {
        self.comments_before(start, true);
        if self.blank_before(start) {
            self.blank = true;
        }
        self.comments_before(end, false);
        self.line(text, end);
    }

    /// Marks the line just printed as the opening line of a block.
    pub(super) fn opened(&mut self) {
        self.after_open = true;
    }
}
