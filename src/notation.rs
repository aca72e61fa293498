//! Pol's notation that every layer shares: durations (`30d`), comparison operators, string
//! literals (quoting and unquoting) and grant references split into their parts
//! (`system:type[:name]`). The lexer and the AST build on it; the IR, bundles and
//! evaluation use it without knowing the parser.

/// A duration literal: `30d`, `2w`, `12h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration {
    pub amount: u32,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DurationUnit {
    Hours,
    Days,
    Weeks,
}

impl Duration {
    /// The length in hours.
    pub fn hours(self) -> u64 {
        let n = u64::from(self.amount);
        match self.unit {
            DurationUnit::Hours => n,
            DurationUnit::Days => n * 24,
            DurationUnit::Weeks => n * 24 * 7,
        }
    }
    /// The length in whole days, rounded up (a grace of `12h` delays by one day).
    pub fn days_ceil(self) -> i64 {
        self.hours().div_ceil(24) as i64
    }
}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = match self.unit {
            DurationUnit::Hours => 'h',
            DurationUnit::Days => 'd',
            DurationUnit::Weeks => 'w',
        };
        write!(f, "{}{}", self.amount, u)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Whether `c` may appear in an unquoted name of a grant reference.
pub fn is_bare_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.@#/+-".contains(c)
}

/// Pol string literal syntax for `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What is wrong with a string literal's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringError {
    Unterminated,
    BadEscape,
    Newline,
}

/// Unescapes a string body (after the opening quote). Returns the value and the number of
/// bytes consumed including the closing quote, or the error and how far to skip.
pub fn scan_string(rest: &str) -> Result<(String, usize), (StringError, usize)> {
    let mut out = String::new();
    let mut chars = rest.char_indices();
    let mut bad_escape = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                return if bad_escape {
                    Err((StringError::BadEscape, i + 1))
                } else {
                    Ok((out, i + 1))
                };
            }
            '\n' => return Err((StringError::Newline, i)),
            '\\' => match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'u')) => {
                    let tail = rest.get(i + 2..).unwrap_or_default();
                    match parse_unicode_escape(tail) {
                        Some((c, len)) => {
                            out.push(c);
                            for _ in 0..len {
                                chars.next();
                            }
                        }
                        None => bad_escape = true,
                    }
                }
                Some((_, '\n')) | None => return Err((StringError::Unterminated, rest.len())),
                Some(_) => bad_escape = true,
            },
            c => out.push(c),
        }
    }
    Err((StringError::Unterminated, rest.len()))
}

/// `{1F600}` after `\u`: the char and the number of chars consumed.
fn parse_unicode_escape(tail: &str) -> Option<(char, usize)> {
    let body = tail.strip_prefix('{')?;
    let end = body.find('}')?;
    let hex = body.get(..end)?;
    if hex.is_empty() || hex.len() > 6 {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some((c, end + 2))
}

/// A grant reference or pattern split into its parts: `system:type[:name]`, the name
/// unquoted when it was written as a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefParts {
    pub system: String,
    pub rtype: String,
    pub name: Option<String>,
    /// The name was written as a quoted string.
    pub quoted: bool,
}

impl RefParts {
    /// Splits `system:type[:name]` (a quoted name is unescaped; a bad one reads as empty).
    pub fn split(text: &str) -> RefParts {
        let (system, rest) = text.split_once(':').unwrap_or((text, ""));
        let (rtype, name) = match rest.split_once(':') {
            Some((t, n)) => (t, Some(n)),
            None => (rest, None),
        };
        let (name, quoted) = match name {
            Some(n) => match n.strip_prefix('"') {
                Some(body) => (
                    Some(scan_string(body).map(|(v, _)| v).unwrap_or_default()),
                    true,
                ),
                None => (Some(n.to_string()), false),
            },
            None => (None, false),
        };
        RefParts {
            system: system.to_string(),
            rtype: rtype.to_string(),
            name,
            quoted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_parts() {
        let r = RefParts::split(r#"okta:group:"a\"b""#);
        assert_eq!(
            (
                r.system.as_str(),
                r.rtype.as_str(),
                r.name.as_deref(),
                r.quoted
            ),
            ("okta", "group", Some("a\"b"), true)
        );
        let r = RefParts::split("slack:workspace");
        assert_eq!((r.name, r.quoted), (None, false));
    }

    #[test]
    fn strings_round_trip_through_quote() {
        for s in ["", "plain", "a\"b\\c", "tab\tnew\nline", "\u{1}"] {
            let q = quote(s);
            assert_eq!(scan_string(&q[1..]), Ok((s.to_string(), q.len() - 1)));
        }
    }
}
