//! Runs the generated LALRPOP parser over the lexer's tokens, with error recovery, and
//! turns every lexical and syntax error into a [`SyntaxError`] (E0001 / E0002).

use lalrpop_util::{lalrpop_mod, ErrorRecovery, ParseError};

use super::ast::File;
use super::lexer::{self, Comment, LexError, Token};
use super::span::Span;

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused)]
    grammar,
    "/pol.rs"
);

/// One problem found while reading a file, before any name is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// `E0001` (syntax) or `E0002` (invalid token).
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
}

/// The result of parsing one file: always an AST (with error nodes where input was skipped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub file: File,
    pub comments: Vec<Comment>,
    pub errors: Vec<SyntaxError>,
    /// Warnings about the text itself (W0001: confusable or hidden characters); they do
    /// not stop formatting or checking.
    pub warnings: Vec<SyntaxError>,
}

/// Parses one file. Never panics; a file so broken that nothing can be recovered still
/// gives an (empty) AST and its errors. Recovery is per item at worst: an error in one item
/// (even nesting past the limit) leaves the others in the AST.
pub fn parse(src: &str) -> Parsed {
    let lexed = lexer::lex(src);
    let warnings = super::confusables::scan(src, &lexed);
    let mut errors: Vec<SyntaxError> = lexed.errors.iter().map(lex_error).collect();
    // A too deep expression or list is one malformed literal by now (a too deep item is
    // gone): the rest of the file parses, resolves and reports as usual.
    for &span in &lexed.too_deep_all {
        errors.push(SyntaxError {
            code: "E0001",
            message: format!("nesting deeper than {} levels", lexer::MAX_NESTING),
            span,
            label: "too deeply nested".into(),
            help: Some("split the expression or list into smaller parts".into()),
        });
    }
    let eof = src.len();
    let mut recovered: Vec<ErrorRecovery<usize, Token<'_>, LexError>> = Vec::new();
    let tokens = lexed.tokens.into_iter().map(Ok::<_, LexError>);
    let file = match grammar::FileParser::new().parse(&mut recovered, tokens) {
        Ok(f) => f,
        Err(e) => {
            errors.push(parse_error(e, eof));
            File::default()
        }
    };
    for r in recovered {
        errors.push(parse_error(r.error, eof));
    }
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    Parsed {
        file,
        comments: lexed.comments,
        errors,
        warnings,
    }
}

fn lex_error(e: &LexError) -> SyntaxError {
    use lexer::LexErrorKind as K;
    let help = match e.kind {
        K::UnterminatedString | K::NewlineInString => {
            "close the string with `\"` on the same line (write a newline as `\\n`)"
        }
        K::UnterminatedComment => "close the comment with `*/` (block comments nest)",
        K::BadEscape => "the escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{…}`",
        K::BadDate => "dates are ISO calendar dates, `YYYY-MM-DD`, and must exist",
        K::IntTooLarge => "integers must fit in 64 bits",
        K::UnexpectedChar => "this character is not part of Pol's syntax",
        K::SingleEquals => "compare with `==`",
    };
    SyntaxError {
        code: "E0002",
        message: e.kind.message().to_string(),
        span: e.span,
        label: e.kind.message().to_string(),
        help: Some(help.to_string()),
    }
}

fn describe_expected(expected: &[String]) -> String {
    let has = |t: &str| expected.iter().any(|e| e == t);
    // Summaries for the common sets, instead of thirty alternatives.
    if has("StrTok") && has("IntTok") && has("Ident") && has("\"(\"") {
        return "a value or an attribute".to_string();
    }
    if has("\"when\"") && has("\"grant\"") && has("\"}\"") {
        return "a clause (`when`, `grant`, `inherits`, `deny`, …) or `}`".to_string();
    }
    if has("\"import\"") && has("\"policy\"") {
        return "an item (`policy`, `template`, `system`, `schema`, `exception`, …)".to_string();
    }
    let mut names: Vec<String> = expected
        .iter()
        .map(|e| match e.as_str() {
            "Ident" => "a name".to_string(),
            "RefTok" => "a grant reference (`system:type:name`)".to_string(),
            "StrTok" => "a string".to_string(),
            "IntTok" => "an integer".to_string(),
            "DateTok" => "a date".to_string(),
            "DurTok" => "a duration (`30d`)".to_string(),
            "BadLit" => String::new(),
            other => format!("`{}`", other.trim_matches('"')),
        })
        .filter(|s| !s.is_empty())
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => "nothing more".to_string(),
        1 => names.remove(0),
        n if n > 8 => format!("{}, … ({} possibilities)", names[..6].join(", "), n),
        _ => {
            let last = names.pop().unwrap_or_default();
            format!("{} or {}", names.join(", "), last)
        }
    }
}

fn parse_error(e: ParseError<usize, Token<'_>, LexError>, eof: usize) -> SyntaxError {
    match e {
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => SyntaxError {
            code: "E0001",
            message: format!(
                "expected {}, found {}",
                describe_expected(&expected),
                tok.describe()
            ),
            span: Span::new(l, r),
            label: format!("unexpected {}", tok.describe()),
            help: hint_for(&tok, &expected),
        },
        ParseError::UnrecognizedEof { location, expected } => SyntaxError {
            code: "E0001",
            message: if expected.iter().any(|e| e == "\"}\"") {
                "unexpected end of file: a `{` block is not closed".to_string()
            } else {
                format!(
                    "expected {}, found end of file",
                    describe_expected(&expected)
                )
            },
            span: Span::new(location.min(eof), location.min(eof)),
            label: "the file ends here".into(),
            help: expected
                .iter()
                .any(|e| e == "\"}\"")
                .then(|| "close the block with `}`".to_string()),
        },
        ParseError::ExtraToken { token: (l, tok, r) } => SyntaxError {
            code: "E0001",
            message: format!("unexpected {}", tok.describe()),
            span: Span::new(l, r),
            label: "not expected here".into(),
            help: None,
        },
        ParseError::InvalidToken { location } => SyntaxError {
            code: "E0002",
            message: "invalid token".into(),
            span: Span::new(location, location + 1),
            label: "invalid token".into(),
            help: None,
        },
        ParseError::User { error } => lex_error(&error),
    }
}

fn hint_for(tok: &Token<'_>, expected: &[String]) -> Option<String> {
    if expected.len() == 1 && expected[0] == "RefTok" {
        return Some(
            "name the entitlement: `grant system:type[:name]`, e.g. `grant slack:channel:#sales`"
                .into(),
        );
    }
    if matches!(tok, Token::Ident(_)) && expected.iter().any(|e| e == "RefTok") {
        return Some("a grant names a system and a resource type: `system:type[:name]`".into());
    }
    if let Token::Ident(s) = tok {
        if expected.iter().any(|e| e == "StrTok") {
            return Some(format!("names of policies are strings: write \"{s}\""));
        }
    }
    if describe_expected(expected) == "a value or an attribute" {
        return Some("an operator needs an operand on each side: `department == \"Sales\"`".into());
    }
    if tok.is_keyword() {
        return Some(format!(
            "`{}` is a keyword here",
            tok.text().unwrap_or_default()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let p = parse(
            r#"import "std/hris"
require employment_status == "Active"
/// Everyone gets this.
policy "Base" { when employment_status == "Active" grant google:workspace-account }
policy "SE" {
  version "1.0"
  effective 2025-01-01
  when job_title == "Sales Engineer" and not (level > 3 or x in ["a", "b"])
  inherits "Base", "Sales"
  grant gitlab:group:customer-solutions (reporter)
  grant salesforce:profile:sales-engineer grace 30d
  deny salesforce:*
}"#,
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.file.items.len(), 4);
    }

    #[test]
    fn recovers_and_reports_several_errors() {
        let p = parse("policy \"A\" { when a == grant x:y }\npolicy \"B\" { when == }\npolicy \"C\" { when a == 1 }");
        assert!(p.errors.len() >= 2, "{:?}", p.errors);
        assert!(p
            .file
            .items
            .iter()
            .any(|i| matches!(i, crate::syntax::ast::Item::Policy(p) if p.name.node == "C")));
    }

    #[test]
    fn soft_keywords_as_attribute_names() {
        let p = parse("policy \"A\" { when user == \"x\" and owner != \"y\" owner \"me\" }");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
    }
}

#[cfg(test)]
mod nesting_recovery_tests {
    use super::*;
    use crate::syntax::ast::{Clause, ExprKind, Item};
    use crate::syntax::lexer::MAX_NESTING;

    fn deep_parens(inner: &str) -> String {
        format!(
            "{}{inner}{}",
            "(".repeat(MAX_NESTING + 50),
            ")".repeat(MAX_NESTING + 50)
        )
    }

    fn nesting_errors(p: &Parsed) -> usize {
        p.errors
            .iter()
            .filter(|e| e.message.starts_with("nesting deeper"))
            .count()
    }

    fn policy_names(p: &Parsed) -> Vec<&str> {
        p.file
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Policy(p) => Some(p.name.node.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_too_deep_expression_becomes_one_error_and_its_item_stays() {
        let src = format!(
            "import \"std/hris\"\npolicy \"A\" {{ when {} grant a:b }}\npolicy \"B\" {{ when x == 1 }}\n",
            deep_parens("x == 1")
        );
        let p = parse(&src);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert_eq!(nesting_errors(&p), 1);
        assert_eq!(policy_names(&p), ["A", "B"]);
        let Item::Policy(a) = &p.file.items[1] else {
            panic!("{:?}", p.file.items[1])
        };
        assert!(matches!(&a.clauses[0], Clause::When(e, _) if e.kind == ExprKind::Error));
        assert!(matches!(&a.clauses[1], Clause::Grant(_)));
    }

    #[test]
    fn every_shape_of_deep_nesting_recovers() {
        let nots = "not ".repeat(MAX_NESTING + 5);
        let list = format!(
            "{}\"a\"{}",
            "[".repeat(MAX_NESTING + 5),
            "]".repeat(MAX_NESTING + 5)
        );
        let cases = [
            format!("require {}", deep_parens("a")),
            format!("require {nots}a == 1"),
            format!("policy \"P\" {{ when x == 1 and {nots} y == 2 grant a:b }}"),
            // inside brackets that the deep part does not own
            format!("policy \"P\" {{ when (x == 1 and {nots} y) and z == 2 }}"),
            format!("policy \"P\" {{ when x in {list} }}"),
            format!(
                "policy \"P\" {{ when days_since({}) > 3 }}",
                deep_parens("d")
            ),
            format!("test \"T\" {{ given {{ a: {list}, b: 1 }} expect grant a:b }}"),
            // never closed: the item's closing brace ends it
            format!("policy \"P\" {{ when {} }}", "(".repeat(MAX_NESTING + 5)),
            format!("policy \"P\" {}", "{".repeat(MAX_NESTING + 5)),
        ];
        for case in cases {
            let src = format!("{case}\npolicy \"After\" {{ when y == 2 grant c:d }}\n");
            let p = parse(&src);
            let short = &case[..case.len().min(60)];
            assert_eq!(nesting_errors(&p), 1, "{short}: {:?}", p.errors);
            assert!(
                policy_names(&p).contains(&"After"),
                "{short}: {:?}",
                p.file.items
            );
            // Only the nesting error, unless the case is broken anyway (never closed).
            if !short.ends_with("(((") && !short.ends_with("{{{") {
                assert_eq!(p.errors.len(), 1, "{short}: {:?}", p.errors);
            }
        }
    }

    #[test]
    fn each_too_deep_item_is_reported() {
        let src = format!(
            "policy \"A\" {{ when {} }}\npolicy \"B\" {{ when {} }}\npolicy \"C\" {{ when c == 1 }}",
            deep_parens("a"),
            deep_parens("b")
        );
        let p = parse(&src);
        assert_eq!(nesting_errors(&p), 2, "{:?}", p.errors);
        assert_eq!(policy_names(&p), ["A", "B", "C"]);
    }

    #[test]
    fn the_rest_of_the_file_still_resolves_and_reports() {
        let src = format!(
            "import \"std/hris\"\nimport \"std/saas\"\n\
             policy \"Deep\" {{ when {} grant slack:workspace-member }}\n\
             policy \"Typo\" {{ when departmnt == \"x\" inherits \"Deep\" }}\n",
            deep_parens("department == \"x\"")
        );
        let loaded = crate::db::Loaded::from_sources(&[("f.pol", &src)]);
        let checked = crate::check::check_bundle(&loaded.db, loaded.workspace);
        let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
        // The nesting error, the other policy's own error; no note that std/hris is missing,
        // no unknown policy for the deep one.
        assert_eq!(codes, ["E0001", "E0201"], "{:?}", checked.diagnostics);
    }
}
