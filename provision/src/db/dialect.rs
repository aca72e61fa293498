//! The common SQL rewritten for PostgreSQL: numbered parameters `?N` become `$N`, and
//! `json_extract(expr, '$.a.b')` becomes `(expr::jsonb #>> '{a,b}')` (the value as text:
//! numbers and booleans are converted back when read, see [`super::FromValue`]). Quoted
//! strings and identifiers are copied as they are.

/// `sql` in PostgreSQL's words.
pub fn to_postgres(sql: &str) -> String {
    let params = parameters(sql);
    json_extract(&params)
}

/// Copies `sql`, handing each stretch outside quotes to `f`.
fn outside_quotes(sql: &str, mut f: impl FnMut(&str, &mut String)) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(i) = rest.find(['\'', '"']) {
        f(&rest[..i], &mut out);
        let q = rest.as_bytes()[i] as char;
        // the quoted part, a doubled quote being an escaped one
        let body = &rest[i + 1..];
        let mut end = body.len();
        let mut j = 0;
        while let Some(k) = body[j..].find(q) {
            let at = j + k;
            if body[at + 1..].starts_with(q) {
                j = at + 2;
                continue;
            }
            end = at + 1;
            break;
        }
        out.push(q);
        out.push_str(&body[..end.min(body.len())]);
        rest = &body[end.min(body.len())..];
    }
    f(rest, &mut out);
    out
}

fn parameters(sql: &str) -> String {
    let mut next = 1;
    outside_quotes(sql, |part, out| {
        let mut chars = part.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c != '?' {
                out.push(c);
                continue;
            }
            out.push('$');
            let mut digits = String::new();
            while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            if digits.is_empty() {
                // a bare `?`: the next in order
                out.push_str(&next.to_string());
                next += 1;
            } else {
                out.push_str(&digits);
            }
        }
    })
}

/// `json_extract(ARG, '$.a.b')` → `(ARG::jsonb #>> '{a,b}')`, where ARG has no parentheses
/// of its own (a column, `t.column`) and the path only names keys.
fn json_extract(sql: &str) -> String {
    const F: &str = "json_extract(";
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    loop {
        let Some(i) = find_ci(rest, F) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + F.len()..];
        match parse_call(after) {
            Some((arg, path, used)) => {
                let keys: Vec<&str> = path.split('.').collect();
                out.push_str(&format!("({arg}::jsonb #>> '{{{}}}')", keys.join(",")));
                rest = &after[used..];
            }
            None => {
                out.push_str(&rest[i..i + F.len()]);
                rest = after;
            }
        }
    }
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(needle)
}

/// `ARG, '$.path')` → (ARG, path, bytes used).
fn parse_call(s: &str) -> Option<(&str, &str, usize)> {
    let comma = s.find(',')?;
    let arg = s[..comma].trim();
    if arg.is_empty() || arg.contains(['(', ')', '\'']) {
        return None;
    }
    let after = &s[comma + 1..];
    let lead = after.len() - after.trim_start().len();
    let lit = after.trim_start().strip_prefix("'$.")?;
    let close = lit.find('\'')?;
    let path = &lit[..close];
    if path.is_empty()
        || !path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    let tail = &lit[close + 1..];
    let paren = tail.find(')')?;
    if !tail[..paren].trim().is_empty() {
        return None;
    }
    let used = comma + 1 + lead + 3 + close + 1 + paren + 1;
    Some((arg, path, used))
}

#[cfg(test)]
mod tests {
    use super::to_postgres;

    #[test]
    fn numbered_and_bare_parameters() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1"
        );
        assert_eq!(to_postgres("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn quotes_are_left_alone() {
        assert_eq!(
            to_postgres("SELECT '?1 it''s ?', \"odd?\" FROM t WHERE x = ?1"),
            "SELECT '?1 it''s ?', \"odd?\" FROM t WHERE x = $1"
        );
    }

    #[test]
    fn json_paths() {
        assert_eq!(
            to_postgres("SELECT json_extract(a.change, '$.grant'), json_extract(document, '$.summary.actions') FROM actions a WHERE json_extract(details, '$.plan') = ?2"),
            "SELECT (a.change::jsonb #>> '{grant}'), (document::jsonb #>> '{summary,actions}') FROM actions a WHERE (details::jsonb #>> '{plan}') = $2"
        );
    }

    #[test]
    fn unknown_shapes_pass_through() {
        assert_eq!(
            to_postgres("SELECT json_extract(f(x), '$.a') FROM t"),
            "SELECT json_extract(f(x), '$.a') FROM t"
        );
    }
}
