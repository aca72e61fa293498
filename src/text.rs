//! Text from inputs (user ids, attribute values, names from an export or a pull request)
//! placed in outputs that are not JSON (JSON is escaped by serde): escaped for where it goes,
//! so that it cannot drive a terminal ([`terminal`]), forge lines of a report, run as a
//! formula in a spreadsheet ([`csv_cell`]) or inject links and markup into a pull-request
//! comment ([`markdown`], [`html`], [`code`]).
//!
//! Escapes are shown the way Rust writes them: `\n`, `\r`, `\t`, `\x1b` (other control
//! characters) and `\u{202e}` (bidirectional-text controls, line separators).

use std::borrow::Cow;

/// Bidirectional-text controls (which reorder what a terminal or browser shows, "Trojan
/// Source") and the Unicode line and paragraph separators.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Whether `c` is shown escaped: control characters (C0, DEL, C1) and [`is_bidi_control`].
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value from an input, for a terminal: control characters (newlines included) and
/// bidirectional controls escaped, so it stays on its line and cannot send escape sequences.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape_where(s, |_| false)
}

/// A whole report for a terminal: as [`terminal`], but its line breaks are kept. A last line
/// of defence for human outputs (values should also go through [`terminal`], so that a
/// newline in a value cannot forge a line).
pub fn terminal_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c == '\n')
}

/// One CSV cell, neutralised per OWASP's CSV-injection rule: a cell starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'` (a spreadsheet then reads it as
/// text, not a formula); control and bidirectional characters are escaped as in
/// [`terminal`] (so a cell is one line); a cell with `,` or `"` is quoted.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let body = terminal(s);
    let body = if formula {
        Cow::Owned(format!("'{body}"))
    } else {
        body
    };
    if body.contains([',', '"']) {
        Cow::Owned(format!("\"{}\"", body.replace('"', "\"\"")))
    } else {
        body
    }
}

/// Text in Markdown, a table cell included: shown as written, never as markup. Control
/// characters are escaped as in [`terminal`] (no raw newline), `&`, `<` and `>` become HTML
/// entities (no tags), and Markdown's specials are backslash-escaped (no links, emphasis,
/// headings, code or table cells).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside HTML (such as `<summary>`): control characters escaped as in [`terminal`],
/// `& < > "` as entities, and Markdown's specials as numeric entities too, so that the text
/// is not markup whether or not a renderer reads Markdown there.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' => {
                out.push_str(&format!("&#{};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Inline code in Markdown: control characters escaped as in [`terminal`] (a code span is one
/// line), delimited by more backticks than the text holds in a row. In a table cell, `|`
/// must still be written `\|`: see [`code_cell`].
pub fn code(s: &str) -> String {
    let s = terminal(s);
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// [`code`] for a Markdown table cell: its `|` escaped, as GitHub's tables require.
pub fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// The one wording of a file that cannot be read: `PATH: no such file or directory` when it
/// is missing, else `PATH: cannot read: ERROR`.
pub fn cannot_read(path: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{path}: no such file or directory")
    } else {
        format!("{path}: cannot read: {e}")
    }
}

/// `1 grant`, `3 grants`: a count with the word that goes with it.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_controls_and_bidi() {
        assert_eq!(terminal("alice"), "alice");
        assert!(matches!(terminal("josé"), Cow::Borrowed(_)));
        assert_eq!(terminal("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(terminal("\u{1b}[31mred"), "\\x1b[31mred");
        assert_eq!(terminal("\u{7f}\u{9b}"), "\\x7f\\x9b");
        assert_eq!(terminal("ab\u{202e}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        for c in ['\u{202a}', '\u{202d}', '\u{2069}', '\u{200f}', '\u{2028}'] {
            assert!(!terminal(&format!("x{c}")).contains(c));
        }
        assert_eq!(terminal_lines("a\u{1b}]8;;\nb\r"), "a\\x1b]8;;\nb\\r");
    }

    #[test]
    fn csv_cells_cannot_be_formulas() {
        assert_eq!(csv_cell("alice"), "alice");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\t=1"), "'\\t=1");
        assert_eq!(csv_cell("\r=1"), "'\\r=1");
        assert_eq!(csv_cell("a\nb"), "a\\nb");
        assert_eq!(csv_cell("a\u{1b}b"), "a\\x1bb");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn markdown_shows_text_not_markup() {
        assert_eq!(markdown("alice"), "alice");
        assert_eq!(
            markdown("[x](https://evil) <img src=x> a&b"),
            "\\[x\\]\\(https://evil\\) &lt;img src=x&gt; a&amp;b"
        );
        assert_eq!(
            markdown("*a* _b_ `c` #d |e| \\"),
            "\\*a\\* \\_b\\_ \\`c\\` \\#d \\|e\\| \\\\"
        );
        assert_eq!(markdown("a\nb"), "a\\\\nb");
        assert!(!markdown("a\n\n| x |").contains('\n'));
        assert_eq!(
            html("<b>\"x\" & y\n"),
            "&lt;b&gt;&quot;x&quot; &amp; y&#92;n"
        );
        assert_eq!(html("[a](b) *c*"), "&#91;a&#93;&#40;b&#41; &#42;c&#42;");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code("github:repo"), "`github:repo`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code("a\nb"), "`a\\nb`");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
    }
}
