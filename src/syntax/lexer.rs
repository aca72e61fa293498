//! The Pol lexer: source text to tokens (logos), comments kept aside as trivia.
//!
//! The parser never sees comments: [`lex`] returns the significant tokens for LALRPOP and,
//! separately, every comment with its span (doc comments attach to items, the formatter
//! keeps all of them). Recoverable lexical errors (a bad date, an unterminated string, a
//! stray character) become diagnostics and a placeholder token, so one run reports them all.

#![allow(
    clippy::indexing_slicing,
    reason = "byte positions and nesting levels are bounded by the lengths and depths checked before them"
)]

use chrono::NaiveDate;
use logos::Logos;

use super::span::Span;

/// Deepest nesting of `( [ {` a file may have; deeper input is refused with a diagnostic
/// instead of risking the stack of later recursive passes.
pub const MAX_NESTING: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LexErrorKind {
    #[default]
    UnexpectedChar,
    UnterminatedString,
    UnterminatedComment,
    BadEscape,
    BadDate,
    IntTooLarge,
    NewlineInString,
    SingleEquals,
}

impl LexErrorKind {
    pub fn message(self) -> &'static str {
        match self {
            LexErrorKind::UnexpectedChar => "invalid character",
            LexErrorKind::UnterminatedString => "unterminated string",
            LexErrorKind::UnterminatedComment => "unterminated block comment",
            LexErrorKind::BadEscape => "invalid escape sequence in string",
            LexErrorKind::BadDate => "invalid date",
            LexErrorKind::IntTooLarge => "integer too large",
            LexErrorKind::NewlineInString => "unterminated string",
            LexErrorKind::SingleEquals => "`=` is not an operator",
        }
    }
}

pub use crate::notation::{Duration, DurationUnit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentKind {
    Line,
    Doc,
    Block,
}

fn line_comment<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> CommentKind {
    let s = lex.slice();
    if s.starts_with("///") && !s.starts_with("////") {
        CommentKind::Doc
    } else {
        CommentKind::Line
    }
}

fn block_comment<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<CommentKind, LexErrorKind> {
    let rest = lex.remainder().as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i < rest.len() {
        if rest[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if rest[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                lex.bump(i);
                return Ok(CommentKind::Block);
            }
        } else {
            i += 1;
        }
    }
    lex.bump(rest.len());
    Err(LexErrorKind::UnterminatedComment)
}

/// Scans a string body after the opening quote; returns the unescaped value.
fn string<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<String, LexErrorKind> {
    let rest = lex.remainder();
    match scan_string(rest) {
        Ok((value, len)) => {
            lex.bump(len);
            Ok(value)
        }
        Err((kind, len)) => {
            lex.bump(len);
            Err(kind)
        }
    }
}

/// Unescapes a string body (after the opening quote). Returns the value and the number of
/// bytes consumed including the closing quote, or the error and how far to skip.
pub fn scan_string(rest: &str) -> Result<(String, usize), (LexErrorKind, usize)> {
    use crate::notation::StringError;
    crate::notation::scan_string(rest).map_err(|(e, len)| {
        let kind = match e {
            StringError::Unterminated => LexErrorKind::UnterminatedString,
            StringError::BadEscape => LexErrorKind::BadEscape,
            StringError::Newline => LexErrorKind::NewlineInString,
        };
        (kind, len)
    })
}

fn date<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<NaiveDate, LexErrorKind> {
    crate::dates::parse(lex.slice()).ok_or(LexErrorKind::BadDate)
}

fn duration<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<Duration, LexErrorKind> {
    let s = lex.slice();
    let (n, u) = s.split_at(s.len() - 1);
    let amount = n.parse().map_err(|_| LexErrorKind::IntTooLarge)?;
    let unit = match u {
        "h" => DurationUnit::Hours,
        "w" => DurationUnit::Weeks,
        _ => DurationUnit::Days,
    };
    Ok(Duration { amount, unit })
}

fn grant_ref<'s>(lex: &mut logos::Lexer<'s, Token<'s>>) -> Result<&'s str, LexErrorKind> {
    let s = lex.slice();
    if let Some(q) = s.find('"') {
        scan_string(&s[q + 1..]).map_err(|(k, _)| k)?;
    }
    Ok(s)
}

/// Every token of Pol, trivia included. The parser sees [`Token`]s minus comments.
#[derive(Logos, Debug, Clone, PartialEq)]
#[logos(error = LexErrorKind)]
#[logos(skip r"[ \t\r\n\f\u{feff}]+")]
pub enum Token<'s> {
    #[regex(r"//[^\n]*", line_comment, allow_greedy = true)]
    Comment(CommentKind),
    #[token("/*", block_comment)]
    BlockComment(CommentKind),

    #[token("import")]
    Import,
    #[token("require")]
    Require,
    #[token("schema")]
    Schema,
    #[token("key")]
    Key,
    #[token("string")]
    TString,
    #[token("int")]
    TInt,
    #[token("bool")]
    TBool,
    #[token("date")]
    TDate,
    #[token("enum")]
    Enum,
    #[token("list")]
    List,
    #[token("system")]
    System,
    #[token("resource")]
    Resource,
    #[token("levels")]
    Levels,
    #[token("default")]
    Default,
    #[token("grace")]
    Grace,
    #[token("policy")]
    Policy,
    #[token("template")]
    Template,
    #[token("when")]
    When,
    #[token("inherits")]
    Inherits,
    #[token("grant")]
    Grant,
    #[token("deny")]
    Deny,
    #[token("exception")]
    Exception,
    #[token("user")]
    User,
    #[token("justification")]
    Justification,
    #[token("approved_by")]
    ApprovedBy,
    #[token("expires")]
    Expires,
    #[token("effective")]
    Effective,
    #[token("version")]
    Version,
    #[token("owner")]
    Owner,
    #[token("description")]
    Description,
    #[token("conflict")]
    Conflict,
    #[token("reason")]
    Reason,
    #[token("test")]
    Test,
    #[token("given")]
    Given,
    #[token("at")]
    At,
    #[token("expect")]
    Expect,
    #[token("no")]
    No,
    #[token("policies")]
    Policies,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("in")]
    In,
    #[token("matches")]
    Matches,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("today")]
    Today,

    #[regex(r"[A-Za-z_][A-Za-z0-9_-]*")]
    Ident(&'s str),
    /// A grant reference or pattern: `gitlab:group:customer-solutions`, `salesforce:*`,
    /// `aws:role:"arn:..."`. Never contains whitespace; the level is separate tokens.
    #[regex(
        r#"[A-Za-z_][A-Za-z0-9_-]*\*?:(\*|[A-Za-z_][A-Za-z0-9_-]*\*?)(:([A-Za-z0-9_.@#/+*-]+|"([^"\\\n]|\\.)*"))?"#,
        grant_ref
    )]
    Ref(&'s str),
    #[token("\"", string)]
    Str(String),
    #[regex(r"[0-9]+", |lex| lex.slice().parse::<i64>().map_err(|_| LexErrorKind::IntTooLarge))]
    Int(i64),
    #[regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date)]
    Date(NaiveDate),
    #[regex(r"[0-9]+[dwh]", duration)]
    Duration(Duration),

    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("?")]
    Question,
    #[token("==")]
    EqEq,
    /// A lone `=`: reported, then read as `==` so that parsing goes on.
    #[token("=")]
    SingleEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    /// Placeholder the lexer emits where a token was malformed (its diagnostic is already
    /// recorded); the grammar accepts it wherever a literal may stand.
    BadLiteral,
}

impl Token<'_> {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(s) => format!("identifier `{s}`"),
            Token::Ref(s) => format!("grant reference `{s}`"),
            Token::Str(s) => format!("string {s:?}"),
            Token::Int(n) => format!("integer `{n}`"),
            Token::Date(d) => format!("date `{d}`"),
            Token::Duration(d) => format!("duration `{d}`"),
            Token::BadLiteral => "malformed literal".to_string(),
            Token::Comment(_) | Token::BlockComment(_) => "comment".to_string(),
            other => format!("`{}`", other.text().unwrap_or("?")),
        }
    }

    /// The fixed text of keywords and punctuation.
    pub fn text(&self) -> Option<&'static str> {
        Some(match self {
            Token::Import => "import",
            Token::Require => "require",
            Token::Schema => "schema",
            Token::Key => "key",
            Token::TString => "string",
            Token::TInt => "int",
            Token::TBool => "bool",
            Token::TDate => "date",
            Token::Enum => "enum",
            Token::List => "list",
            Token::System => "system",
            Token::Resource => "resource",
            Token::Levels => "levels",
            Token::Default => "default",
            Token::Grace => "grace",
            Token::Policy => "policy",
            Token::Template => "template",
            Token::When => "when",
            Token::Inherits => "inherits",
            Token::Grant => "grant",
            Token::Deny => "deny",
            Token::Exception => "exception",
            Token::User => "user",
            Token::Justification => "justification",
            Token::ApprovedBy => "approved_by",
            Token::Expires => "expires",
            Token::Effective => "effective",
            Token::Version => "version",
            Token::Owner => "owner",
            Token::Description => "description",
            Token::Conflict => "conflict",
            Token::Reason => "reason",
            Token::Test => "test",
            Token::Given => "given",
            Token::At => "at",
            Token::Expect => "expect",
            Token::No => "no",
            Token::Policies => "policies",
            Token::And => "and",
            Token::Or => "or",
            Token::Not => "not",
            Token::In => "in",
            Token::Matches => "matches",
            Token::True => "true",
            Token::False => "false",
            Token::Today => "today",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::Comma => ",",
            Token::Colon => ":",
            Token::Question => "?",
            Token::EqEq => "==",
            Token::NotEq => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            _ => return None,
        })
    }

    /// Keywords that may also stand where a name is expected (attribute, level, field).
    pub fn is_keyword(&self) -> bool {
        self.text()
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
    }
}

/// A comment kept aside for doc attachment and formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub kind: CommentKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub kind: LexErrorKind,
    pub span: Span,
}

/// The parser's view of one file: significant tokens with byte offsets.
pub struct Lexed<'s> {
    pub tokens: Vec<(usize, Token<'s>, usize)>,
    pub comments: Vec<Comment>,
    pub errors: Vec<LexError>,
    /// The first place where nesting went past [`MAX_NESTING`].
    pub too_deep: Option<Span>,
    /// Every place where nesting went past [`MAX_NESTING`]. Each too deep expression or
    /// list is replaced by one [`Token::BadLiteral`] (so its clause, its item and the rest
    /// of the file still parse); too deep braces drop their item.
    pub too_deep_all: Vec<Span>,
}

#[derive(Clone, Copy, PartialEq)]
enum BraceCtx {
    Schema,
    Given,
    Other,
}

/// The nesting the AST will have, as the tokens go by: one level per open bracket, plus
/// the `not`s still open at each bracket level (a `not` chain ends at `and`, `or`, `,` or
/// a new clause).
#[derive(Clone)]
struct Nesting {
    nots: Vec<usize>,
    depth: usize,
    braces: Vec<BraceCtx>,
    /// The depth inside each open brace: the level clauses start at.
    bases: Vec<usize>,
}

impl Nesting {
    fn new() -> Nesting {
        Nesting {
            nots: vec![0],
            depth: 0,
            braces: Vec::new(),
            bases: Vec::new(),
        }
    }

    fn base(&self) -> usize {
        self.bases.last().copied().unwrap_or(0)
    }

    /// Accounts for one token; `prev` is the token before it.
    fn step(&mut self, tok: &Token<'_>, prev: Option<&Token<'_>>) {
        let level = self.nots.len() - 1;
        match tok {
            Token::Not => {
                self.nots[level] += 1;
                self.depth += 1;
            }
            Token::And | Token::Or | Token::Comma => {
                self.depth -= self.nots[level];
                self.nots[level] = 0;
            }
            Token::LParen | Token::LBracket | Token::LBrace => {
                self.nots.push(0);
                self.depth += 1;
                if *tok == Token::LBrace {
                    let ctx = match prev {
                        Some(Token::Schema) => BraceCtx::Schema,
                        Some(Token::Given) => BraceCtx::Given,
                        _ => BraceCtx::Other,
                    };
                    self.braces.push(ctx);
                    self.bases.push(self.depth);
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                // the closing bracket ends the operand of the `not`s before its opening one
                if self.nots.len() > 1 {
                    self.depth -= self.nots.pop().unwrap_or(0) + 1;
                }
                if *tok == Token::RBrace {
                    self.braces.pop();
                    self.bases.pop();
                }
            }
            t if t.is_keyword()
                && !matches!(
                    t,
                    Token::In | Token::Matches | Token::True | Token::False | Token::Today
                ) =>
            {
                self.depth -= self.nots[level];
                self.nots[level] = 0;
            }
            _ => {}
        }
    }
}

/// Keywords that start an item and never stand inside one.
fn starts_item(t: &Token<'_>) -> bool {
    matches!(
        t,
        Token::Import
            | Token::Require
            | Token::Schema
            | Token::System
            | Token::Policy
            | Token::Template
            | Token::Exception
            | Token::Conflict
            | Token::Test
    )
}

/// How the lexer goes on after nesting went too deep.
enum Skip {
    /// Tokens of the too deep expression are dropped until the nesting is back to what it
    /// was before it (`saved`), or a brace or an item keyword ends it early.
    Expression { saved: Nesting },
    /// Tokens of the item whose braces are too deep are dropped until the next item.
    Item,
}

/// Lexes a whole file. Never fails: problems are collected in [`Lexed::errors`].
pub fn lex(src: &str) -> Lexed<'_> {
    let mut out = Lexed {
        tokens: Vec::new(),
        comments: Vec::new(),
        errors: Vec::new(),
        too_deep: None,
        too_deep_all: Vec::new(),
    };
    let mut lexer = Token::lexer(src);
    let mut nest = Nesting::new();
    // Where the current expression that went deeper than its clause's level starts (an
    // index into `out.tokens`), with the nesting before it.
    let mut excursion: Option<(usize, Nesting)> = None;
    // Where the current item starts (an index into `out.tokens`).
    let mut item_start = 0usize;
    let mut skip: Option<Skip> = None;
    while let Some(res) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(range.start, range.end);
        let tok = match res {
            Ok(Token::Comment(kind)) | Ok(Token::BlockComment(kind)) => {
                out.comments.push(Comment { kind, span });
                continue;
            }
            Ok(Token::SingleEq) => {
                out.errors.push(LexError {
                    kind: LexErrorKind::SingleEquals,
                    span,
                });
                Token::EqEq
            }
            Ok(t) => t,
            Err(kind) => {
                out.errors.push(LexError { kind, span });
                match kind {
                    LexErrorKind::UnexpectedChar => continue,
                    LexErrorKind::UnterminatedComment => {
                        out.comments.push(Comment {
                            kind: CommentKind::Block,
                            span,
                        });
                        continue;
                    }
                    _ => Token::BadLiteral,
                }
            }
        };
        match skip.take() {
            Some(Skip::Item) => {
                if !starts_item(&tok) {
                    skip = Some(Skip::Item);
                    continue;
                }
                nest = Nesting::new();
            }
            Some(Skip::Expression { saved }) => {
                // A bracket opened before the dropped expression closes here.
                let closes_outer = matches!(tok, Token::RParen | Token::RBracket)
                    && nest.nots.len() <= saved.nots.len();
                if closes_outer || matches!(tok, Token::LBrace | Token::RBrace) || starts_item(&tok)
                {
                    // The dropped expression ends here (or was never closed): what follows
                    // belongs to the clause or the item again.
                    nest = saved;
                } else {
                    nest.step(&tok, None);
                    if nest.depth > saved.depth {
                        skip = Some(Skip::Expression { saved });
                        continue;
                    }
                    nest = saved;
                    if matches!(tok, Token::RParen | Token::RBracket) {
                        continue; // it closes the dropped expression
                    }
                }
            }
            None => {}
        }
        if nest.braces.is_empty() && starts_item(&tok) {
            item_start = out.tokens.len();
            excursion = None;
        }
        let before = nest.clone();
        nest.step(&tok, out.tokens.last().map(|(_, t, _)| t));
        let base = nest.base();
        if nest.depth <= base || matches!(tok, Token::LBrace | Token::RBrace) {
            excursion = None;
        } else if excursion.is_none() && before.depth <= before.base() {
            excursion = Some((out.tokens.len(), before));
        }
        if nest.depth > MAX_NESTING {
            out.too_deep.get_or_insert(span);
            out.too_deep_all.push(span);
            match excursion.take() {
                Some((start, saved)) => {
                    // A call's name goes with its parentheses.
                    let start = match (
                        start.checked_sub(1).map(|i| &out.tokens[i].1),
                        &out.tokens.get(start),
                    ) {
                        (Some(Token::Ident(_)), Some((_, Token::LParen, _))) => start - 1,
                        _ => start,
                    };
                    let from = out.tokens.get(start).map_or(range.start, |t| t.0);
                    out.tokens.truncate(start);
                    out.tokens.push((from, Token::BadLiteral, range.end));
                    skip = Some(Skip::Expression { saved });
                }
                None => {
                    out.tokens.truncate(item_start);
                    skip = Some(Skip::Item);
                }
            }
            continue;
        }
        // Inside `schema { … }` and `given { … }`, `name:type` written without a space is a
        // field, not a grant reference: split it back into name, colon and value.
        if let Token::Ref(text) = tok {
            if matches!(nest.braces.last(), Some(BraceCtx::Schema | BraceCtx::Given)) {
                if let Some(parts) = split_field(text, range.start) {
                    out.tokens.extend(parts);
                    continue;
                }
            }
        }
        out.tokens.push((range.start, tok, range.end));
    }
    out
}

fn single(s: &str) -> Option<Token<'_>> {
    let mut l = Token::lexer(s);
    let t = l.next()?.ok()?;
    (l.span().end == s.len()).then_some(t)
}

fn split_field(text: &str, base: usize) -> Option<Vec<(usize, Token<'_>, usize)>> {
    let (name, value) = text.split_once(':')?;
    if value.contains([':', '*', '"']) {
        return None;
    }
    let name_tok = single(name)?;
    let value_tok = single(value)?;
    let colon = base + name.len();
    Some(vec![
        (base, name_tok, colon),
        (colon, Token::Colon, colon + 1),
        (colon + 1, value_tok, base + text.len()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        lex(src).tokens.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn grant_references_are_one_token() {
        assert_eq!(
            kinds("grant gitlab:group:customer-solutions (reporter)"),
            vec![
                Token::Grant,
                Token::Ref("gitlab:group:customer-solutions"),
                Token::LParen,
                Token::Ident("reporter"),
                Token::RParen
            ]
        );
        assert_eq!(
            kinds("slack:channel:#sales-team")[0],
            Token::Ref("slack:channel:#sales-team")
        );
        assert_eq!(
            kinds("google:group:sales@company.com")[0],
            Token::Ref("google:group:sales@company.com")
        );
        assert_eq!(
            kinds(r#"aws:role:"arn:aws:iam::1:role/R""#)[0],
            Token::Ref(r#"aws:role:"arn:aws:iam::1:role/R""#)
        );
        assert_eq!(kinds("salesforce:*")[0], Token::Ref("salesforce:*"));
        assert_eq!(
            kinds("github:org:acme-*")[0],
            Token::Ref("github:org:acme-*")
        );
    }

    #[test]
    fn nested_block_comments_and_doc_comments() {
        let l = lex("/* a /* b */ c */ policy /// doc\n//// not doc\n// plain");
        assert_eq!(l.tokens.len(), 1);
        let kinds: Vec<_> = l.comments.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![
                CommentKind::Block,
                CommentKind::Doc,
                CommentKind::Line,
                CommentKind::Line
            ]
        );
    }

    #[test]
    fn bad_inputs_become_errors_not_panics() {
        let l = lex("\"abc");
        assert_eq!(l.errors[0].kind, LexErrorKind::UnterminatedString);
        let l = lex("2025-02-30");
        assert_eq!(l.errors[0].kind, LexErrorKind::BadDate);
        let l = lex("/* never closed");
        assert_eq!(l.errors[0].kind, LexErrorKind::UnterminatedComment);
        let l = lex("\"bad \\q escape\"");
        assert_eq!(l.errors[0].kind, LexErrorKind::BadEscape);
        let l = lex("a = b");
        assert_eq!(l.errors[0].kind, LexErrorKind::SingleEquals);
        let l = lex("a ~ b");
        assert_eq!(l.errors[0].kind, LexErrorKind::UnexpectedChar);
        let l = lex("99999999999999999999999");
        assert_eq!(l.errors[0].kind, LexErrorKind::IntTooLarge);
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\u{1F600}""#),
            vec![Token::Str("a\"b\\c\n\u{1F600}".into())]
        );
    }

    #[test]
    fn dates_durations_ints() {
        assert_eq!(
            kinds("2025-01-31 30d 2w 12h 42"),
            vec![
                Token::Date(NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()),
                Token::Duration(Duration {
                    amount: 30,
                    unit: DurationUnit::Days
                }),
                Token::Duration(Duration {
                    amount: 2,
                    unit: DurationUnit::Weeks
                }),
                Token::Duration(Duration {
                    amount: 12,
                    unit: DurationUnit::Hours
                }),
                Token::Int(42)
            ]
        );
    }

    #[test]
    fn schema_fields_without_space_are_split() {
        assert_eq!(
            kinds("schema { a:string }"),
            vec![
                Token::Schema,
                Token::LBrace,
                Token::Ident("a"),
                Token::Colon,
                Token::TString,
                Token::RBrace
            ]
        );
    }

    #[test]
    fn nesting_is_limited() {
        let src = "(".repeat(MAX_NESTING + 10);
        assert!(lex(&src).too_deep.is_some());
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn nots_inside_brackets_count_towards_the_nesting_limit() {
        let deep = format!(
            "policy \"A\" {{ when {}x == 1{} }}",
            "(not ".repeat(200),
            ")".repeat(200)
        );
        assert!(lex(&deep).too_deep.is_some());
        let fine = format!(
            "policy \"A\" {{ when {}x == 1{} }}",
            "(not ".repeat(100),
            ")".repeat(100)
        );
        assert!(lex(&fine).too_deep.is_none());
        // siblings do not nest
        let flat = format!(
            "policy \"A\" {{ when {} }}",
            (0..2000)
                .map(|i| format!("not x == {i}"))
                .collect::<Vec<_>>()
                .join(" and ")
        );
        assert!(lex(&flat).too_deep.is_none());
        let nots = format!("policy \"A\" {{ when {}x }}", "not ".repeat(300));
        assert!(lex(&nots).too_deep.is_some());
    }
}
