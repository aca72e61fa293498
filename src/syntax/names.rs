//! What may be written as a bare name: the one rule the formatter, the policy drafts of
//! `polc mine --emit` and the editor share.

/// Keywords the grammar never accepts as a name (every other keyword is a soft keyword,
/// usable as an attribute, field or level name). `key` is accepted as a level name only.
pub const HARD_KEYWORDS: &[&str] = &[
    "import",
    "require",
    "schema",
    "key",
    "enum",
    "system",
    "policy",
    "template",
    "when",
    "inherits",
    "grant",
    "deny",
    "exception",
    "conflict",
    "test",
    "and",
    "or",
    "not",
    "in",
    "matches",
    "true",
    "false",
    "today",
];

/// `[A-Za-z_][A-Za-z0-9_-]*`: the shape of an identifier token.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `s` may be written bare where the grammar takes a name (an enum member).
pub fn is_bare_name(s: &str) -> bool {
    is_ident(s) && !HARD_KEYWORDS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_keywords_are_keyword_tokens() {
        for k in HARD_KEYWORDS {
            let lexed = crate::syntax::lexer::lex(k);
            assert!(
                lexed.tokens.first().is_some_and(|t| t.1.is_keyword()),
                "{k} does not lex as a keyword"
            );
        }
        assert!(is_bare_name("Active") && !is_bare_name("test") && !is_bare_name("a b"));
    }
}
