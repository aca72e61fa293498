//! Text that does not read as what it is (W0001): bidirectional controls that reorder what
//! an editor or a terminal shows (the "Trojan Source" attack), invisible characters, spaces
//! that are not U+0020, and names that mix scripts (`Sаles` with a Cyrillic `а`) or are
//! written wholly in letters that look Latin. Two policy names that print the same but are
//! different strings, or a comment that hides code, pass review unseen.
//!
//! Strings (names, values, quoted entitlement names) are checked for all of it, comments
//! for controls and invisible characters only (they are prose in any language). The script
//! of a letter comes from a hand-written table of Unicode ranges: enough to tell the
//! scripts apart whose letters are confused with Latin ones.

use std::borrow::Cow;

use super::lexer::{scan_string, Lexed, Token};
use super::parser::SyntaxError;
use super::span::Span;

/// What is wrong with one character, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Reorders the text around it when displayed.
    Bidi,
    /// Shows as nothing, or joins or splits what is around it.
    Invisible,
    /// Shows as a space but is not U+0020.
    Space,
}

/// The class of a character that does not show as what it is.
pub fn hidden(c: char) -> Option<Hidden> {
    match c {
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some(Hidden::Bidi),
        '\u{00AD}'
        | '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}' => Some(Hidden::Invisible),
        '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Some(Hidden::Space),
        _ => None,
    }
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE`: the code point, and its name for the common ones.
pub fn describe(c: char) -> String {
    let name = match c {
        '\u{00A0}' => "NO-BREAK SPACE",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{202F}' => "NARROW NO-BREAK SPACE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (byte order mark)",
        _ => "",
    };
    if name.is_empty() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} {name}", c as u32)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Cherokee,
    Hebrew,
    Arabic,
    Han,
    Hiragana,
    Katakana,
    Hangul,
    /// Any other script, told apart by the 128-code-point block it is in.
    Other(u32),
}

impl Script {
    fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Greek => "Greek",
            Script::Cyrillic => "Cyrillic",
            Script::Armenian => "Armenian",
            Script::Cherokee => "Cherokee",
            Script::Hebrew => "Hebrew",
            Script::Arabic => "Arabic",
            Script::Han => "Han",
            Script::Hiragana => "Hiragana",
            Script::Katakana => "Katakana",
            Script::Hangul => "Hangul",
            Script::Other(_) => "another script's",
        }
    }
}

/// The script of a letter; `None` for what is not a letter (digits, punctuation, marks).
pub fn script(c: char) -> Option<Script> {
    if !c.is_alphabetic() {
        return None;
    }
    let u = c as u32;
    Some(match u {
        0x41..=0x5A | 0x61..=0x7A | 0xAA | 0xBA | 0xC0..=0x24F | 0x250..=0x2AF => Script::Latin,
        0x1D00..=0x1D7F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF => Script::Latin,
        0xAB30..=0xAB6F | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x530..=0x58F | 0xFB13..=0xFB17 => Script::Armenian,
        0x13A0..=0x13FF | 0xAB70..=0xABBF => Script::Cherokee,
        0x590..=0x5FF | 0xFB1D..=0xFB4F => Script::Hebrew,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Script::Arabic
        }
        0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF => Script::Han,
        0xF900..=0xFAFF | 0x20000..=0x3FFFF => Script::Han,
        0x3040..=0x309F => Script::Hiragana,
        0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Katakana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        _ => Script::Other(u >> 7),
    })
}

/// Letters of these scripts that read as Latin ones.
fn looks_latin(c: char) -> bool {
    const LOOKALIKES: &str = concat!(
        "АВЕЅІЈКМНОРСТХУҮӀԚԜаеѕіјорсухһӏԁԛԝү", // Cyrillic
        "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϳοινρυακ",              // Greek
        "ՕՍօոսհզ",                             // Armenian
    );
    LOOKALIKES.contains(c) || script(c) == Some(Script::Cherokee)
}

/// Scripts that are written together within one word.
fn compatible(scripts: &[Script]) -> bool {
    use Script::*;
    scripts.len() <= 1
        || scripts
            .iter()
            .all(|s| matches!(s, Latin | Han | Hiragana | Katakana))
        || scripts.iter().all(|s| matches!(s, Latin | Han | Hangul))
}

/// What is confusing in a string's value, as a message and a label.
pub fn check_text(value: &str) -> Option<(String, String)> {
    if let Some(c) = value.chars().find(|c| hidden(*c).is_some()) {
        let what = match hidden(c) {
            Some(Hidden::Bidi) => "a bidirectional control character",
            Some(Hidden::Invisible) => "an invisible character",
            _ => "a space that is not a plain space",
        };
        return Some((
            format!("string contains {what}: \"{}\"", escape(value)),
            describe(c),
        ));
    }
    let words: Vec<&str> = value
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    for w in &words {
        let mut scripts: Vec<Script> = w.chars().filter_map(script).collect();
        scripts.sort();
        scripts.dedup();
        if !compatible(&scripts) {
            let names: Vec<&str> = scripts.iter().map(|s| s.name()).collect();
            return Some((
                format!(
                    "`{w}` mixes scripts in one word: \"{}\"",
                    escape_non_ascii(w)
                ),
                format!("{} letters in one word", names.join(" and ")),
            ));
        }
    }
    // A word wholly in letters that look Latin, beside Latin words or among words that
    // all do: `Ѕаlеѕ Team`, `Ѕаlеѕ Ассеѕѕ`.
    let lookalike = |w: &&str| {
        let s = w.chars().find_map(script);
        matches!(
            s,
            Some(Script::Cyrillic | Script::Greek | Script::Armenian | Script::Cherokee)
        ) && w.chars().all(looks_latin)
    };
    let has_latin = value.chars().any(|c| script(c) == Some(Script::Latin));
    if let Some(w) = words.iter().find(|w| lookalike(w)) {
        if has_latin || words.iter().all(lookalike) {
            let s = w.chars().find_map(script).map_or("", Script::name);
            return Some((
                format!(
                    "`{w}` is written in {s} letters that look like Latin ones: \"{}\"",
                    escape_non_ascii(w)
                ),
                format!("{s}, not Latin"),
            ));
        }
    }
    None
}

/// The text with every hidden character written as an escape (`\u{202E}`), for messages.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c).is_some() {
            out.push_str(&format!("\\u{{{:X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text with every non-ASCII character as an escape, to show which letters differ.
fn escape_non_ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\u{{{:X}}}", c as u32)
            }
        })
        .collect()
}

/// The text with each hidden character replaced by a visible one of the same length in
/// bytes (`�` and spaces), so that excerpts show where they are and keep every offset.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if hidden(c).is_some() {
            match c.len_utf8() {
                2 => out.push('¤'),
                n => {
                    out.push('\u{FFFD}');
                    out.extend(std::iter::repeat_n(' ', n - 3));
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn warning(span: Span, message: String, label: String) -> SyntaxError {
    SyntaxError {
        code: "W0001",
        message,
        span,
        label,
        help: Some(
            "write names and values in one script, with plain spaces and no invisible or direction-changing characters; check that the text is what it looks like".into(),
        ),
    }
}

/// The W0001 warnings of one lexed file: its strings, quoted names and comments, and a
/// byte order mark anywhere but at the start.
pub fn scan(src: &str, lexed: &Lexed<'_>) -> Vec<SyntaxError> {
    let mut out = Vec::new();
    for (start, tok, end) in &lexed.tokens {
        let span = Span::new(*start, *end);
        let value: Cow<'_, str> = match tok {
            Token::Str(v) => Cow::Borrowed(v.as_str()),
            Token::Ref(text) => match text.find('"') {
                Some(q) => match scan_string(&text[q + 1..]) {
                    Ok((v, _)) => Cow::Owned(v),
                    Err(_) => continue,
                },
                None => continue,
            },
            _ => continue,
        };
        if let Some((message, label)) = check_text(&value) {
            out.push(warning(span, message, label));
        }
    }
    for c in &lexed.comments {
        let text = src.get(c.span.range()).unwrap_or_default();
        if let Some((i, ch)) = text
            .char_indices()
            .find(|(_, ch)| matches!(hidden(*ch), Some(Hidden::Bidi | Hidden::Invisible)))
        {
            let at = c.span.range().start + i;
            out.push(warning(
                Span::new(at, at + ch.len_utf8()),
                format!(
                    "comment contains {}",
                    if hidden(ch) == Some(Hidden::Bidi) {
                        "a bidirectional control character: the code around it may not be what it shows"
                    } else {
                        "an invisible character"
                    }
                ),
                describe(ch),
            ));
        }
    }
    // Between tokens the lexer skips a byte order mark as whitespace: only the first
    // character of a file may be one.
    let mut spans: Vec<(usize, usize)> = lexed
        .tokens
        .iter()
        .map(|(s, _, e)| (*s, *e))
        .chain(
            lexed
                .comments
                .iter()
                .map(|c| (c.span.range().start, c.span.range().end)),
        )
        .collect();
    spans.sort_unstable();
    let covered = |at: usize| {
        let i = spans.partition_point(|(s, _)| *s <= at);
        i.checked_sub(1)
            .and_then(|j| spans.get(j))
            .is_some_and(|s| at < s.1)
    };
    for (i, _) in src.match_indices('\u{FEFF}').filter(|(i, _)| *i > 0) {
        if !covered(i) {
            out.push(warning(
                Span::new(i, i + 3),
                "invisible character between tokens".into(),
                describe('\u{FEFF}'),
            ));
        }
    }
    out.sort_by_key(|e| (e.span.start, e.span.end));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warns(src: &str) -> Vec<String> {
        let lexed = super::super::lexer::lex(src);
        scan(src, &lexed)
            .into_iter()
            .map(|e| format!("{} | {}", e.message, e.label))
            .collect()
    }

    #[test]
    fn plain_text_in_any_one_script_is_fine() {
        for s in [
            "Sales Team Access",
            "Café crème – naïve Ørsted",
            "Доступ к системе",
            "Πρόσβαση",
            "営業チームのアクセス",
            "iPhone版 アプリ",
            "영업팀 접근",
            "قسم المبيعات",
            "emoji 🎉 and #sales-team @x.com",
            "",
        ] {
            assert!(warns(&format!("policy \"{s}\" {{ }}")).is_empty(), "{s}");
            assert!(warns(&format!("// {s}\n/* {s} */")).is_empty(), "{s}");
        }
    }

    #[test]
    fn mixed_scripts_and_lookalike_words_are_reported() {
        // Cyrillic а (U+0430) in a Latin word
        let w = warns("policy \"S\u{430}les Team Access\" { }");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("Latin and Cyrillic"), "{w:?}");
        assert!(w[0].contains("S\\u{430}les"), "{w:?}");
        // Greek ο in a quoted entitlement name
        assert_eq!(warns("deny aws:role:\"ad\u{3BF}min\"").len(), 1);
        // wholly Cyrillic lookalikes beside Latin, or alone
        let w = warns("inherits \"\u{405}\u{430}\u{4CF}\u{435}\u{455} Team\"");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("look like Latin"), "{w:?}");
        let all = warns("policy \"\u{420}\u{41E}\u{421}\" { }");
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].contains("Cyrillic, not Latin"), "{all:?}");
        // in a test's values too
        assert_eq!(warns("given { department: \"\u{405}ales\" }").len(), 1);
    }

    #[test]
    fn controls_invisible_characters_and_odd_spaces_are_reported() {
        let controls = [
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{2060}',
            '\u{200E}',
            '\u{200F}',
            '\u{061C}',
            '\u{00AD}',
            '\u{E0041}',
        ];
        for c in controls {
            let w = warns(&format!("policy \"Sales{c}Access\" {{ }}"));
            assert_eq!(w.len(), 1, "{c:?}");
            assert!(w[0].contains(&format!("U+{:04X}", c as u32)), "{w:?}");
            // Trojan Source: in a comment
            let w = warns(&format!("// ok {c} \"\ngrant a:b /* x{c} */"));
            assert_eq!(w.len(), 2, "{c:?}: {w:?}");
            // written as an escape, it is still in the name
            let w = warns(&format!(
                "policy \"Sales\\u{{{:X}}}Access\" {{ }}",
                c as u32
            ));
            assert_eq!(w.len(), 1, "{c:?}");
        }
        let w = warns("policy \"Sales\u{A0}Access\" { }");
        assert!(
            w[0].contains("not a plain space") && w[0].contains("U+00A0"),
            "{w:?}"
        );
        // a byte order mark is fine first, not later
        assert!(warns("\u{FEFF}policy \"A\" { }").is_empty());
        assert_eq!(warns("policy \"A\" {\u{FEFF} }").len(), 1);
    }

    #[test]
    fn visible_keeps_offsets_and_escape_shows_code_points() {
        let s = "a\u{202E}b\u{61C}c\u{E0041}d\u{200B}";
        let v = visible(s);
        assert_eq!(v.len(), s.len());
        assert!(v.chars().all(|c| hidden(c).is_none()));
        for (i, _) in s.char_indices() {
            assert!(v.is_char_boundary(i));
        }
        assert_eq!(escape("x\u{202E}y"), "x\\u{202E}y");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
    }
}
