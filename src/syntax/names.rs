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

/// The keywords that start an item at the top level of a file.
pub const ITEM_KEYWORDS: &[&str] = &[
    "import",
    "require",
    "schema",
    "system",
    "policy",
    "template",
    "exception",
    "conflict",
    "test",
];

/// The keywords that start a clause of a `policy` or a `template`.
pub const POLICY_KEYWORDS: &[&str] = &[
    "when",
    "inherits",
    "grant",
    "deny",
    "version",
    "owner",
    "description",
    "effective",
    "expires",
];

/// The keywords that start a clause of an `exception` (and `ticket`, the usual one of the
/// metadata entries, which may have any name).
pub const EXCEPTION_KEYWORDS: &[&str] = &[
    "user",
    "grant",
    "justification",
    "approved_by",
    "expires",
    "effective",
    "ticket",
];

/// The clauses of a `test`, as written.
pub const TEST_KEYWORDS: &[&str] = &[
    "given",
    "at",
    "expect policies",
    "expect grant",
    "expect no grant",
];

/// The keywords that start a clause of a `system`.
pub const SYSTEM_KEYWORDS: &[&str] = &["resource", "grace"];

/// The keywords that start a clause of a `resource` type.
pub const RESOURCE_KEYWORDS: &[&str] = &["levels", "default", "grace"];

/// The keywords of expressions: operators and literals.
pub const EXPR_KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "matches", "today", "true", "false",
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

    #[test]
    fn clause_keywords_are_keyword_tokens() {
        let lists = [
            ITEM_KEYWORDS,
            POLICY_KEYWORDS,
            EXCEPTION_KEYWORDS,
            TEST_KEYWORDS,
            SYSTEM_KEYWORDS,
            RESOURCE_KEYWORDS,
            EXPR_KEYWORDS,
        ];
        for k in lists.iter().flat_map(|l| l.iter()) {
            // `ticket` is a metadata entry's name, an identifier.
            for word in k.split(' ').filter(|w| *w != "ticket") {
                let lexed = crate::syntax::lexer::lex(word);
                assert!(
                    lexed.tokens.first().is_some_and(|t| t.1.is_keyword()),
                    "{word} (of `{k}`) does not lex as a keyword"
                );
            }
        }
        for k in EXPR_KEYWORDS {
            assert!(HARD_KEYWORDS.contains(k), "{k}");
        }
    }
}
