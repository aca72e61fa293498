//! The canonical layout of items and clauses: which constructs are one line, which are
//! blocks with one clause per line, and where blank lines go. Comments are handled by the
//! [`Printer`]; this file only says which source range each printed line stands for.

use super::printer::Printer;
use super::text;
use crate::syntax::ast::*;
use crate::syntax::Span;

fn pos(n: u32) -> usize {
    n as usize
}

/// Where consecutive items of one kind stay together without a blank line between them.
fn grouped(prev: &Item, item: &Item) -> bool {
    matches!(
        (prev, item),
        (Item::Import(_), Item::Import(_)) | (Item::Require(_), Item::Require(_))
    )
}

/// Lines of a list broken over lines: commas between elements, none after the last.
fn with_commas(lines: &mut [(Span, String)]) {
    let n = lines.len();
    for line in lines.iter_mut().take(n.saturating_sub(1)) {
        line.1.push(',');
    }
}

/// The header of a block: `text {`, from `start` to `head_end` (the end of its last token
/// before `{`), the block ending at `end` (after `}`).
struct Head {
    text: String,
    start: usize,
    head_end: usize,
    end: usize,
}

impl Head {
    fn new(text: impl Into<String>, start: usize, head_end: usize, end: usize) -> Head {
        Head {
            text: text.into(),
            start,
            head_end,
            end,
        }
    }
}

impl Printer<'_> {
    pub(super) fn file(&mut self, file: &File) {
        let mut prev: Option<&Item> = None;
        for item in &file.items {
            if let Some(p) = prev {
                self.comments_under_item(pos(item.span().start));
                if !grouped(p, item) {
                    self.want_blank();
                }
            }
            self.item(item);
            prev = Some(item);
        }
    }

    /// Where an element of a block really starts: the next token after the previous
    /// element (`prev_end`), which may be a keyword outside the element's own span.
    fn elem_start(&self, prev_end: usize, span_start: u32) -> usize {
        self.skip_trivia(prev_end).min(pos(span_start))
    }

    /// The offsets just after a block's `{` and of its `}`.
    fn braces(&self, head_end: usize, end: usize) -> (usize, usize) {
        let open = self.skip_trivia(head_end);
        let open_end = if self.byte(open) == Some(b'{') {
            open + 1
        } else {
            head_end
        };
        let close = if end > 0 && self.byte(end - 1) == Some(b'}') {
            end - 1
        } else {
            end
        };
        (open_end, close.max(open_end))
    }

    /// `head {` … `}`, with the elements printed by `body` (given the offset after `{`) one
    /// level deeper; `head {}` when there is nothing inside, not even a comment.
    ///
    /// Comments inside the header (`policy /* x */ "A" {`) go to the top of the block, not
    /// above the item, where they would come between the item and its doc comment; a
    /// comment after the `{` then goes there too, to keep the order.
    fn block(&mut self, head: Head, empty: bool, body: impl FnOnce(&mut Self, usize)) {
        let Head {
            text,
            start,
            head_end,
            end,
        } = head;
        let (open_end, close) = self.braces(head_end, end);
        self.comments_before(start, true);
        if self.blank_before(start) {
            self.want_blank();
        }
        if empty && !self.has_comments_in(start, close) {
            self.line(&format!("{text} {{}}"), end);
            return;
        }
        if self.has_comments_in(start, open_end.saturating_sub(1)) {
            self.bare_line(&format!("{text} {{"));
        } else {
            self.line(&format!("{text} {{"), open_end);
        }
        self.opened();
        self.indent();
        body(self, open_end);
        self.comments_before(close, true);
        self.dedent();
        self.line("}", end);
    }

    /// A block whose elements are one line each.
    fn block_of_lines(&mut self, head: Head, lines: Vec<(Span, String)>) {
        self.block(head, lines.is_empty(), |p, prev| p.lines(prev, lines));
    }

    /// Prints the elements of a block, one line each: its source span and its text.
    fn lines(&mut self, mut prev: usize, lines: Vec<(Span, String)>) {
        for (span, text) in lines {
            self.unit(self.elem_start(prev, span.start), pos(span.end), &text);
            prev = pos(span.end);
        }
    }

    fn item(&mut self, item: &Item) {
        let span = item.span();
        let (start, end) = (pos(span.start), pos(span.end));
        match item {
            Item::Import(i) => self.unit(start, end, &format!("import {}", quote(&i.path.node))),
            Item::Require(r) => self.unit(start, end, &format!("require {}", text::expr(&r.expr))),
            Item::Schema(s) => {
                let head = Head::new("schema", start, start + "schema".len(), end);
                self.block_of_lines(
                    head,
                    s.fields.iter().map(|f| (f.span, text::field(f))).collect(),
                );
            }
            Item::System(s) => self.system(s),
            Item::Policy(x) => {
                let head = Head::new(
                    format!("{} {}", x.kind.keyword(), quote(&x.name.node)),
                    start,
                    pos(x.name.span.end),
                    end,
                );
                let lines = x
                    .clauses
                    .iter()
                    .map(|c| (c.span(), self.clause(c)))
                    .collect();
                self.block_of_lines(head, lines);
            }
            Item::Exception(x) => {
                let text = match &x.name {
                    Some(n) => format!("exception {}", quote(&n.node)),
                    None => "exception".to_string(),
                };
                let lines = x
                    .clauses
                    .iter()
                    .map(|c| (c.span(), self.exception_clause(c)))
                    .collect();
                self.block_of_lines(Head::new(text, start, pos(x.head.end), end), lines);
            }
            Item::Conflict(c) => {
                let head = Head::new(
                    format!("conflict {}", quote(&c.name.node)),
                    start,
                    pos(c.name.span.end),
                    end,
                );
                let mut lines: Vec<(Span, String)> = c
                    .patterns
                    .iter()
                    .map(|r| (r.span, text::reference(r)))
                    .collect();
                with_commas(&mut lines);
                if let Some(r) = &c.reason {
                    lines.push((r.span, format!("reason {}", quote(&r.node))));
                }
                self.block_of_lines(head, lines);
            }
            Item::Test(t) => {
                let head = Head::new(
                    format!("test {}", quote(&t.name.node)),
                    start,
                    pos(t.name.span.end),
                    end,
                );
                self.block(head, t.clauses.is_empty(), |p, mut prev| {
                    for c in &t.clauses {
                        p.test_clause(c, p.elem_start(prev, c.span().start));
                        prev = pos(c.span().end);
                    }
                });
            }
            Item::Error(_) => self.unit(start, end, &self.source(start, end)),
        }
    }

    // ------------------------------------------------------------------ systems

    fn system(&mut self, s: &System) {
        let mut text = format!("system {}", s.name.node);
        let mut head_end = pos(s.name.span.end);
        if let Some(d) = &s.display {
            text = format!("{text} {}", quote(&d.node));
            head_end = pos(d.span.end);
        }
        let head = Head::new(text, pos(s.span.start), head_end, pos(s.span.end));
        self.block(head, s.clauses.is_empty(), |p, mut prev| {
            for c in &s.clauses {
                let span = match c {
                    SystemClause::Grace(d) => d.span,
                    SystemClause::Resource(r) => r.span,
                    SystemClause::Error(e) => *e,
                };
                let (start, end) = (p.elem_start(prev, span.start), pos(span.end));
                match c {
                    SystemClause::Grace(d) => p.unit(start, end, &format!("grace {}", d.node)),
                    SystemClause::Resource(r) => p.resource(r, start),
                    SystemClause::Error(_) => p.unit(start, end, &p.source(start, end)),
                }
                prev = end;
            }
        });
    }

    /// `resource T`, or `resource T { levels a < b  default a }` when that fits and holds no
    /// comment, else a block with one clause per line.
    fn resource(&mut self, r: &Resource, start: usize) {
        let end = pos(r.span.end);
        let text = format!("resource {}", r.name.node);
        if r.clauses.is_empty() {
            return self.unit(start, end, &text);
        }
        let lines: Vec<(Span, String)> = r
            .clauses
            .iter()
            .map(|c| match c {
                ResourceClause::Levels(v, s) => {
                    let names: Vec<&str> = v.iter().map(|n| n.node.as_str()).collect();
                    (*s, format!("levels {}", names.join(" < ")))
                }
                ResourceClause::Default(n, s) => (*s, format!("default {}", n.node)),
                ResourceClause::Grace(d) => (d.span, format!("grace {}", d.node)),
                ResourceClause::Error(s) => (*s, self.source(pos(s.start), pos(s.end))),
            })
            .collect();
        let head = Head::new(text, start, pos(r.name.span.end), end);
        let texts: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
        let one = format!("{} {{ {} }}", head.text, texts.join("  "));
        if self.one_line_fits(&head, &one) {
            return self.unit(start, end, &one);
        }
        self.block_of_lines(head, lines);
    }

    /// Whether a block may be printed as the one line `one`: it fits, and no comment is
    /// inside its braces.
    fn one_line_fits(&self, head: &Head, one: &str) -> bool {
        let (open_end, close) = self.braces(head.head_end, head.end);
        !self.has_comments_in(open_end, close) && self.fits(one)
    }

    // ------------------------------------------------------------------ policies

    fn clause(&self, c: &Clause) -> String {
        match c {
            Clause::When(e, _) => format!("when {}", text::expr(e)),
            Clause::Inherits(names, _) => format!("inherits {}", text::strings(names)),
            Clause::Grant(g) => text::grant(g),
            Clause::Deny(r, _) => format!("deny {}", text::reference(r)),
            Clause::Meta(k, v, _) => format!("{} {}", k.keyword(), quote(&v.node)),
            Clause::Effective(d, _) => format!("effective {}", text::date(&d.node)),
            Clause::Expires(d, _) => format!("expires {}", text::date(&d.node)),
            Clause::Error(s) => self.source(pos(s.start), pos(s.end)),
        }
    }

    fn exception_clause(&self, c: &ExceptionClause) -> String {
        match c {
            ExceptionClause::User(v, _) => format!("user {}", quote(&v.node)),
            ExceptionClause::Grant(g) => text::grant(g),
            ExceptionClause::Justification(v, _) => format!("justification {}", quote(&v.node)),
            ExceptionClause::ApprovedBy(v, _) => format!("approved_by {}", quote(&v.node)),
            ExceptionClause::Expires(d, _) => format!("expires {}", text::date(&d.node)),
            ExceptionClause::Effective(d, _) => format!("effective {}", text::date(&d.node)),
            ExceptionClause::Other(k, v, _) => format!("{} {}", k.node, quote(&v.node)),
            ExceptionClause::Error(s) => self.source(pos(s.start), pos(s.end)),
        }
    }

    // ------------------------------------------------------------------ tests

    fn test_clause(&mut self, c: &TestClause, start: usize) {
        let end = pos(c.span().end);
        let line = match c {
            TestClause::Given(fields, span) => return self.given(fields, *span, start),
            TestClause::At(d, _) => format!("at {}", text::date(&d.node)),
            TestClause::ExpectPolicies(names, _) => {
                format!("expect policies [{}]", text::strings(names))
            }
            TestClause::ExpectGrant {
                target,
                level,
                negated,
                ..
            } => {
                let no = if *negated { "no " } else { "" };
                format!("expect {no}grant {}", text::target(target, level))
            }
            TestClause::Error(s) => self.source(pos(s.start), pos(s.end)),
        };
        self.unit(start, end, &line);
    }

    /// `given { a: "x", b: 2 }` when that fits and holds no comment, else one field a line.
    fn given(&mut self, fields: &[(Name, Expr)], span: Span, start: usize) {
        let head = Head::new(
            "given",
            start,
            pos(span.start) + "given".len(),
            pos(span.end),
        );
        let mut lines: Vec<(Span, String)> = fields
            .iter()
            .map(|(n, e)| {
                (
                    n.span.to(e.span),
                    format!("{}: {}", n.node, text::primary(e)),
                )
            })
            .collect();
        let texts: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
        let one = if texts.is_empty() {
            "given {}".to_string()
        } else {
            format!("given {{ {} }}", texts.join(", "))
        };
        if self.one_line_fits(&head, &one) {
            return self.unit(start, head.end, &one);
        }
        with_commas(&mut lines);
        self.block_of_lines(head, lines);
    }
}
