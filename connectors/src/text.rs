//! Untrusted text (a server's body, a program's stderr) made safe to put in an error.

/// At most `max` characters of `raw`, control characters (ANSI escapes, newlines, NULs)
/// replaced by a space and runs of spaces squeezed; `…` marks a cut.
pub(crate) fn clip(raw: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for ch in raw.chars() {
        let ch = if ch.is_control() { ' ' } else { ch };
        if ch == ' ' && last_space {
            continue;
        }
        last_space = ch == ' ';
        if count == max {
            out.push('…');
            return out.trim_end().to_string();
        }
        out.push(ch);
        count += 1;
    }
    out.trim_end().to_string()
}

/// [`clip`] of bytes that may not be UTF-8.
pub(crate) fn clip_bytes(raw: &[u8], max: usize) -> String {
    clip(&String::from_utf8_lossy(raw), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_removed_and_long_text_cut() {
        assert_eq!(clip("a\u{1b}[31mred\n\n b\0", 100), "a [31mred b");
        assert_eq!(clip(&"x".repeat(500), 10), format!("{}…", "x".repeat(10)));
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip_bytes(b"ok\xff\xfe", 10), "ok\u{fffd}\u{fffd}");
    }
}
